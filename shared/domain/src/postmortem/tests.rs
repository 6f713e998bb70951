//! Post-mortems: status transitions, section and action item edits, the facts computed from a
//! fixed incident history, the Markdown export, and the template configuration.

use super::*;
use crate::analytics::{IncidentFacts, PageFact, WakingHours};
use crate::ids::{IntegrationName, PolicyId};
use crate::timeline::{EntryKey, EventSource, TimelineDraft, TimelineEntry, TimelineRecord};
use crate::user::Channel;
use crate::vocabulary::{ResolveReason, Target, Urgency};
use chrono::{TimeDelta, TimeZone, Utc};
use proptest::prelude::*;

fn at(h: u32, m: u32, s: u32) -> Instant {
    Utc.with_ymd_and_hms(2026, 3, 14, h, m, s).unwrap()
}

fn user(id: &str) -> UserId {
    UserId::new(id).unwrap()
}

fn incident() -> IncidentId {
    IncidentId::new("inc42").unwrap()
}

/// Opened 09:00:00, acknowledged by anna at 09:04:30, resolved at 10:02:05; anna paged by
/// email at 09:00:10 (tier 0), bob by SMS at 09:03:00 (tier 1).
fn incident_facts(resolved: bool) -> IncidentFacts {
    IncidentFacts {
        id: incident(),
        number: 42,
        title: "Database | primary down".to_owned(),
        severity: crate::alert::Severity::Critical,
        policy: Some(PolicyId::new("infra").unwrap()),
        team: None,
        integration: IntegrationName::new("prometheus").unwrap(),
        source: None,
        alerts: 3,
        opened_at: at(9, 0, 0),
        acknowledged: Some((at(9, 4, 30), Actor::user(user("anna")))),
        resolved_at: resolved.then(|| at(10, 2, 5)),
        pages: vec![
            PageFact {
                user: user("anna"),
                channel: Channel::Email,
                at: at(9, 0, 10),
                round: 0,
                tier: 0,
            },
            PageFact {
                user: user("bob"),
                channel: Channel::Sms,
                at: at(9, 3, 0),
                round: 0,
                tier: 1,
            },
        ],
    }
}

fn record(n: usize, time: Instant, actor: Actor, entry: TimelineEntry) -> TimelineRecord {
    TimelineDraft::new(
        incident(),
        EntryKey::new(format!("k{n}")).unwrap(),
        time,
        actor,
        entry,
    )
    .into_record(EventSource::klaxon("api").unwrap())
}

fn timeline() -> Vec<TimelineRecord> {
    let system = Actor::system("routing");
    vec![
        record(
            0,
            at(9, 0, 0),
            system.clone(),
            TimelineEntry::AlertLinked {
                alert: crate::ids::AlertId::new("a1").unwrap(),
                integration: IntegrationName::new("prometheus").unwrap(),
                dedup_key: crate::ids::DedupKey::new("db").unwrap(),
                summary: "db down".into(),
                severity: crate::alert::Severity::Critical,
            },
        ),
        record(
            1,
            at(9, 0, 1),
            system.clone(),
            TimelineEntry::TierPaged {
                policy: PolicyId::new("infra").unwrap(),
                round: 0,
                tier: 0,
                targets: vec![Target::User(user("anna"))],
                urgency: Urgency::High,
                escalates_at: None,
            },
        ),
        record(
            2,
            at(9, 4, 30),
            Actor::user(user("anna")),
            TimelineEntry::IncidentAcknowledged {},
        ),
        record(
            3,
            at(9, 30, 0),
            Actor::user(user("carol")),
            TimelineEntry::NoteAdded {
                text: "failing over to the replica".into(),
            },
        ),
        record(
            4,
            at(10, 2, 5),
            Actor::user(user("anna")),
            TimelineEntry::IncidentResolved {
                reason: ResolveReason::Manual,
            },
        ),
    ]
}

fn facts(resolved: bool) -> PostmortemFacts {
    let base = incident_facts(resolved);
    let metrics = base.metrics(&|_| None, &WakingHours::default());
    let records = if resolved {
        timeline()
    } else {
        timeline()[..4].to_vec()
    };
    PostmortemFacts::compute(&base, metrics, &[], &records, at(12, 0, 0))
}

fn draft(resolved: bool) -> Postmortem {
    Postmortem::new(
        &default_template(),
        facts(resolved),
        Actor::user(user("anna")),
        None,
        at(12, 0, 0),
    )
}

#[test]
fn facts_hold_the_impact_window_responders_metrics_and_the_chosen_timeline_entries() {
    let facts = facts(true);
    assert_eq!(facts.opened_at, at(9, 0, 0));
    assert_eq!(facts.resolved_at, Some(at(10, 2, 5)));
    assert_eq!(facts.impact_seconds, Some(3725));
    assert_eq!(facts.metrics.time_to_acknowledge, Some(270));
    assert_eq!(facts.metrics.pages, 2);
    assert_eq!(facts.metrics.tiers_needed, 2);
    // Paged (anna, bob) and acted (carol's note), once each, sorted.
    assert_eq!(
        facts.responders,
        vec![user("anna"), user("bob"), user("carol")]
    );
    let kinds: Vec<&str> = facts.timeline.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "escalation.tier_paged",
            "incident.acknowledged",
            "incident.note",
            "incident.resolved"
        ],
        "alert links are left out"
    );
    assert_eq!(
        facts.timeline[2].summary,
        "note: failing over to the replica"
    );
    assert_eq!(facts.timeline[2].actor, "user:carol");
}

#[test]
fn facts_of_a_long_timeline_keep_the_first_entries_and_say_so() {
    let base = incident_facts(true);
    let metrics = base.metrics(&|_| None, &WakingHours::default());
    let notes: Vec<TimelineRecord> = (0..MAX_FACT_ENTRIES + 5)
        .map(|n| {
            record(
                n,
                at(9, 0, 0) + TimeDelta::seconds(i64::try_from(n).unwrap()),
                Actor::user(user("anna")),
                TimelineEntry::NoteAdded {
                    text: format!("note {n}"),
                },
            )
        })
        .collect();
    let facts = PostmortemFacts::compute(&base, metrics, &[], &notes, at(12, 0, 0));
    assert_eq!(facts.timeline.len(), MAX_FACT_ENTRIES);
    assert!(facts.timeline_truncated);
    assert_eq!(facts.timeline[0].summary, "note: note 0");
}

#[test]
fn a_declared_incident_says_by_whom_and_to_which_policy_it_was_declared() {
    let base = incident_facts(true);
    let metrics = base.metrics(&|_| None, &WakingHours::default());
    let declared = record(
        0,
        at(9, 0, 0),
        Actor::user(user("anna")),
        TimelineEntry::IncidentDeclared {
            policy: Some(PolicyId::new("database").unwrap()),
            description: Some("replica lag".into()),
        },
    );
    let facts = PostmortemFacts::compute(&base, metrics, &[], &[declared], at(12, 0, 0));
    assert_eq!(facts.timeline.len(), 1);
    assert_eq!(facts.timeline[0].kind, "incident.declared");
    assert_eq!(
        facts.timeline[0].summary,
        "declared by hand (policy database)"
    );
    assert_eq!(facts.timeline[0].actor, "user:anna");
}

#[test]
fn a_new_post_mortem_is_a_draft_with_the_template_sections() {
    let pm = draft(true);
    assert_eq!(pm.status, PostmortemStatus::Draft);
    assert_eq!(pm.template.as_str(), "default");
    let titles: Vec<&str> = pm.sections.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(titles[0], "Summary");
    assert_eq!(titles.len(), default_template().sections.len());
    assert!(pm.sections.iter().all(|s| s.body.is_empty()));
}

#[test]
fn status_moves_draft_to_review_to_published_and_publishing_twice_is_a_no_op() {
    let mut pm = draft(true);
    assert_eq!(
        pm.set_status(PostmortemStatus::InReview, None, at(13, 0, 0)),
        Ok(true)
    );
    assert_eq!(
        pm.set_status(PostmortemStatus::Published, None, at(14, 0, 0)),
        Ok(true)
    );
    assert_eq!(pm.published_at, Some(at(14, 0, 0)));
    assert_eq!(
        pm.set_status(PostmortemStatus::Published, None, at(15, 0, 0)),
        Ok(false)
    );
    assert_eq!(
        pm.published_at,
        Some(at(14, 0, 0)),
        "the first publication stands"
    );
    assert_eq!(pm.updated_at, at(14, 0, 0));
}

#[test]
fn invalid_transitions_are_refused_and_change_nothing() {
    let mut pm = draft(true);
    let before = pm.clone();
    assert_eq!(
        pm.set_status(PostmortemStatus::Published, None, at(13, 0, 0)),
        Err(PostmortemError::InvalidTransition {
            from: PostmortemStatus::Draft,
            to: PostmortemStatus::Published
        })
    );
    assert_eq!(pm, before);
    pm.set_status(PostmortemStatus::InReview, None, at(13, 0, 0))
        .unwrap();
    pm.set_status(PostmortemStatus::Published, None, at(13, 0, 0))
        .unwrap();
    for to in [PostmortemStatus::Draft, PostmortemStatus::InReview] {
        assert!(matches!(
            pm.set_status(to, None, at(14, 0, 0)),
            Err(PostmortemError::InvalidTransition { .. })
        ));
    }
}

#[test]
fn review_waits_for_the_resolve_and_takes_the_fresh_facts() {
    let mut pm = draft(false);
    assert_eq!(
        pm.set_status(PostmortemStatus::InReview, Some(facts(false)), at(13, 0, 0)),
        Err(PostmortemError::IncidentNotResolved)
    );
    assert_eq!(pm.status, PostmortemStatus::Draft);
    assert_eq!(
        pm.set_status(PostmortemStatus::InReview, Some(facts(true)), at(13, 0, 0)),
        Ok(true)
    );
    assert_eq!(pm.facts.resolved_at, Some(at(10, 2, 5)));
    assert_eq!(pm.facts.timeline.len(), 4);
}

#[test]
fn section_edits_replace_by_title_append_new_titles_and_are_final_once_published() {
    let mut pm = draft(true);
    let edits = [
        SectionEdit {
            title: "Summary".into(),
            body: "The primary ran out of disk.".into(),
        },
        SectionEdit {
            title: "Customer communication".into(),
            body: "Status page at 09:10.".into(),
        },
    ];
    assert_eq!(pm.edit_sections(&edits, at(13, 0, 0)), Ok(true));
    assert_eq!(pm.sections[0].body, "The primary ran out of disk.");
    assert_eq!(pm.sections.last().unwrap().title, "Customer communication");
    let count = pm.sections.len();
    assert_eq!(pm.edit_sections(&edits, at(13, 5, 0)), Ok(false), "a retry");
    assert_eq!(pm.sections.len(), count);
    assert_eq!(pm.updated_at, at(13, 0, 0));
    pm.set_status(PostmortemStatus::InReview, None, at(14, 0, 0))
        .unwrap();
    pm.set_status(PostmortemStatus::Published, None, at(14, 0, 0))
        .unwrap();
    let change = [SectionEdit {
        title: "Summary".into(),
        body: "rewritten".into(),
    }];
    assert_eq!(
        pm.edit_sections(&change, at(15, 0, 0)),
        Err(PostmortemError::Published)
    );
    assert_eq!(pm.sections[0].body, "The primary ran out of disk.");
}

#[test]
fn bad_section_edits_name_the_field_and_change_nothing() {
    let mut pm = draft(true);
    let before = pm.clone();
    let empty = [SectionEdit {
        title: "  ".into(),
        body: "x".into(),
    }];
    let huge = [
        SectionEdit {
            title: "Summary".into(),
            body: "ok".into(),
        },
        SectionEdit {
            title: "Impact".into(),
            body: "x".repeat(MAX_SECTION_BODY_BYTES + 1),
        },
    ];
    let field = |e: PostmortemError| match e {
        PostmortemError::Invalid { field, .. } => field,
        other => panic!("{other}"),
    };
    assert_eq!(
        field(pm.edit_sections(&empty, at(13, 0, 0)).unwrap_err()),
        "sections[0].title"
    );
    assert_eq!(
        field(pm.edit_sections(&huge, at(13, 0, 0)).unwrap_err()),
        "sections[1].body"
    );
    let many: Vec<SectionEdit> = (0..MAX_SECTIONS)
        .map(|n| SectionEdit {
            title: format!("extra {n}"),
            body: String::new(),
        })
        .collect();
    assert_eq!(
        field(pm.edit_sections(&many, at(13, 0, 0)).unwrap_err()),
        "sections"
    );
    assert_eq!(pm, before);
}

fn item(id: &str, title: &str) -> ActionItem {
    ActionItem {
        id: ActionItemId::new(id).unwrap(),
        title: title.to_owned(),
        owner: Some(user("bob")),
        due: NaiveDate::from_ymd_opt(2026, 4, 1),
        status: ActionStatus::Open,
        created_at: at(13, 0, 0),
        created_by: Actor::user(user("anna")),
        done_at: None,
    }
}

#[test]
fn action_items_are_added_once_per_id_and_done_then_reopened() {
    let mut pm = draft(true);
    assert_eq!(
        pm.add_action_item(item("ai-1", "Alert on disk at 80%"), at(13, 0, 0)),
        Ok(true)
    );
    assert_eq!(
        pm.add_action_item(item("ai-1", "Alert on disk at 80%"), at(13, 1, 0)),
        Ok(false)
    );
    assert_eq!(pm.action_items.len(), 1);
    let id = ActionItemId::new("ai-1").unwrap();
    let done = ActionItemEdit {
        status: Some(ActionStatus::Done),
        ..ActionItemEdit::default()
    };
    assert_eq!(pm.edit_action_item(&id, &done, at(14, 0, 0)), Ok(true));
    assert_eq!(pm.action_items[0].done_at, Some(at(14, 0, 0)));
    assert_eq!(
        pm.edit_action_item(&id, &done, at(15, 0, 0)),
        Ok(false),
        "done twice"
    );
    assert_eq!(pm.action_items[0].done_at, Some(at(14, 0, 0)));
    let reopen = ActionItemEdit {
        status: Some(ActionStatus::Open),
        owner: Some(None),
        ..ActionItemEdit::default()
    };
    assert_eq!(pm.edit_action_item(&id, &reopen, at(16, 0, 0)), Ok(true));
    assert_eq!(pm.action_items[0].done_at, None);
    assert_eq!(pm.action_items[0].owner, None);
    let unknown = ActionItemId::new("ai-9").unwrap();
    assert_eq!(
        pm.edit_action_item(&unknown, &done, at(16, 0, 0)),
        Err(PostmortemError::UnknownActionItem(unknown))
    );
}

#[test]
fn action_items_stay_editable_after_publication_but_bad_titles_are_refused() {
    let mut pm = draft(true);
    pm.set_status(PostmortemStatus::InReview, None, at(13, 0, 0))
        .unwrap();
    pm.set_status(PostmortemStatus::Published, None, at(13, 0, 0))
        .unwrap();
    assert_eq!(
        pm.add_action_item(item("ai-1", "Runbook for failover"), at(14, 0, 0)),
        Ok(true)
    );
    assert!(matches!(
        pm.add_action_item(item("ai-2", " "), at(14, 0, 0)),
        Err(PostmortemError::Invalid { field, .. }) if field == "title"
    ));
    assert!(matches!(
        pm.add_action_item(item("ai-3", "two\nlines"), at(14, 0, 0)),
        Err(PostmortemError::Invalid { .. })
    ));
    assert_eq!(pm.action_items.len(), 1);
}

#[test]
fn the_markdown_export_has_facts_timeline_sections_prompts_and_action_items() {
    let mut pm = draft(true);
    pm.edit_sections(
        &[SectionEdit {
            title: "Root cause".into(),
            body: "WAL archiving stopped.\n".into(),
        }],
        at(13, 0, 0),
    )
    .unwrap();
    pm.add_action_item(item("ai-1", "Alert on disk at 80%"), at(13, 0, 0))
        .unwrap();
    let mut done = item("ai-2", "Fix archiving");
    done.status = ActionStatus::Done;
    done.owner = None;
    done.due = None;
    pm.add_action_item(done, at(13, 0, 0)).unwrap();
    let text = to_markdown(&pm);
    for line in [
        "# Post-mortem: incident #42 — Database | primary down",
        "Status: **draft** · Template: default · Created 2026-03-14 12:00:00 UTC by user:anna",
        "| Impact window | 2026-03-14 09:00:00 UTC → 2026-03-14 10:02:05 UTC (1h 02m 05s) |",
        "| Time to acknowledge | 4m 30s |",
        "| Acknowledged by | user:anna |",
        "| Pages | 2 (0 off-hours) |",
        "| Escalation tiers needed | 2 |",
        "| Responders | anna, bob, carol |",
        "| 2026-03-14 09:30:00 | note: failing over to the replica | user:carol |",
        "## Root cause\n\nWAL archiving stopped.\n",
        "## Summary\n\n_What happened, in two or three sentences?_\n",
        "- [ ] Alert on disk at 80% (`ai-1`, owner bob, due 2026-04-01)",
        "- [x] Fix archiving (`ai-2`)",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    assert!(text.ends_with("(`ai-2`)\n"));
    assert_eq!(to_markdown(&pm), text, "rendering is deterministic");
}

#[test]
fn the_markdown_of_an_open_incident_says_the_window_is_still_open() {
    let text = to_markdown(&draft(false));
    assert!(text.contains("| Impact window | 2026-03-14 09:00:00 UTC → not resolved yet |"));
    assert!(text.contains("| Time to resolve | not resolved |"));
    assert!(text.contains("## Action items\n\n_None._\n"));
}

#[test]
fn spans_read_like_durations() {
    assert_eq!(render::span(45), "45s");
    assert_eq!(render::span(180), "3m 00s");
    assert_eq!(render::span(3725), "1h 02m 05s");
    assert_eq!(render::span(-5), "0s");
}

fn status() -> impl Strategy<Value = PostmortemStatus> {
    prop_oneof![
        Just(PostmortemStatus::Draft),
        Just(PostmortemStatus::InReview),
        Just(PostmortemStatus::Published),
    ]
}

proptest! {
    /// Whatever sequence of moves is asked, a post-mortem only ever takes allowed steps, a
    /// refused move changes nothing, and once published it stays published with its first
    /// publication time.
    #[test]
    fn any_sequence_of_moves_follows_the_allowed_transitions(moves in prop::collection::vec(status(), 0..20)) {
        let mut pm = draft(true);
        let mut published_at = None;
        for (n, to) in moves.into_iter().enumerate() {
            let before = pm.clone();
            let now = at(13, 0, 0) + TimeDelta::minutes(i64::try_from(n).unwrap());
            match pm.set_status(to, None, now) {
                Ok(true) => {
                    prop_assert!(before.status.may_become(to));
                    prop_assert_eq!(pm.status, to);
                }
                Ok(false) => {
                    prop_assert_eq!(before.status, to);
                    prop_assert_eq!(&pm, &before);
                }
                Err(_) => prop_assert_eq!(&pm, &before),
            }
            if before.status == PostmortemStatus::Published {
                prop_assert_eq!(pm.status, PostmortemStatus::Published);
                prop_assert_eq!(pm.published_at, published_at);
            }
            if pm.status == PostmortemStatus::Published && published_at.is_none() {
                published_at = pm.published_at;
            }
        }
    }
}
