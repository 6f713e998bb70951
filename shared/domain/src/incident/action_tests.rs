//! Responder actions: snooze, acknowledgement timeout, escalate now, reassign, responders,
//! notes; and that every new timer kind ignores duplicate and late deliveries.

use super::*;
use crate::duration::HumanDuration;
use crate::escalation::{
    EscalationPolicy, EscalationStatus, Ignored, OnCallResolver, Target, Tier, TimerKind,
    TimerPayload,
};
use crate::ids::{DedupKey, IntegrationName, PolicyId};
use chrono::TimeZone;
use std::collections::BTreeMap;

fn at(h: u32, m: u32) -> Instant {
    chrono::Utc.with_ymd_and_hms(2026, 1, 5, h, m, 0).unwrap()
}

fn user(name: &str) -> UserId {
    UserId::new(name).unwrap()
}

fn alice() -> Actor {
    Actor::user(user("alice"))
}

fn token(text: &str) -> RequestToken {
    RequestToken::new(text).unwrap()
}

struct Everyone;
impl OnCallResolver for Everyone {
    fn users_for(&self, target: &Target, _: Instant) -> Vec<UserId> {
        match target {
            Target::User(id) => vec![id.clone()],
            Target::Schedule(_) => vec![user("carol")],
        }
    }
}

fn policy() -> EscalationPolicy {
    EscalationPolicy {
        id: PolicyId::new("infra").unwrap(),
        name: "Infra".into(),
        tiers: vec![
            Tier {
                delay: HumanDuration::from_mins(5),
                targets: vec![Target::User(user("alice"))],
            },
            Tier {
                delay: HumanDuration::from_mins(10),
                targets: vec![Target::User(user("bob"))],
            },
        ],
        repeat: 0,
        ack_timeout: None,
    }
}

fn escalating() -> Incident {
    let first = Alert {
        integration: IntegrationName::new("prom").unwrap(),
        dedup_key: DedupKey::new("disk").unwrap(),
        status: AlertStatus::Firing,
        severity: Severity::Error,
        summary: "disk is full".into(),
        source: None,
        labels: BTreeMap::new(),
        annotations: BTreeMap::new(),
        links: vec![],
        received_at: at(9, 0),
        started_at: None,
        ended_at: None,
        group_hint: None,
        raw: serde_json::Value::Null,
    };
    let (mut incident, _) = Incident::open(
        IncidentId::new("0192abcd").unwrap(),
        7,
        GroupKey("g1".into()),
        AlertId::new("a1").unwrap(),
        &first,
        at(9, 0),
    )
    .unwrap();
    incident
        .start_escalation(&policy(), Urgency::High, &Everyone, at(9, 0))
        .unwrap();
    incident
}

fn armed(effects: &[Effect]) -> Vec<TimerPayload> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::ArmTimer { payload, .. } => Some(payload.clone()),
            _ => None,
        })
        .collect()
}

fn pages(effects: &[Effect]) -> Vec<(u32, u32, Vec<String>)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Page(page) => Some((
                page.round,
                page.tier,
                page.targets
                    .iter()
                    .map(|t| match t {
                        Target::User(u) => page.dedup_key(u, crate::user::Channel::Email),
                        Target::Schedule(s) => s.to_string(),
                    })
                    .collect(),
            )),
            _ => None,
        })
        .collect()
}

fn cancelled(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::CancelTimer { name } => Some(name.to_string()),
            _ => None,
        })
        .collect()
}

fn types(effects: &[Effect]) -> Vec<&'static str> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Timeline(d) => Some(d.entry.event_type()),
            _ => None,
        })
        .collect()
}

fn fire(incident: &mut Incident, payload: &TimerPayload, now: Instant) -> EscalationUpdate {
    incident
        .fire_timer(payload, &policy(), &Everyone, now)
        .unwrap()
}

fn acknowledged_and_snoozed() -> (Incident, TimerPayload) {
    let mut incident = escalating();
    incident.acknowledge(alice(), at(9, 2)).unwrap();
    let effects = incident
        .snooze(at(10, 0), &token("s1"), alice(), at(9, 3))
        .unwrap()
        .unwrap();
    let timers = armed(&effects);
    assert_eq!(timers.len(), 1);
    (incident, timers[0].clone())
}

#[test]
fn a_snooze_re_pages_the_tier_it_was_on_once_at_its_end() {
    let (mut incident, snooze) = acknowledged_and_snoozed();
    assert_eq!(snooze.kind, TimerKind::Snooze);
    assert!(incident.escalation().unwrap().is_snoozed());
    assert_eq!(incident.status(), IncidentStatus::Acknowledged);
    let update = fire(&mut incident, &snooze, at(10, 0));
    assert_eq!(update.outcome, Outcome::Applied);
    assert_eq!(incident.status(), IncidentStatus::Triggered);
    assert!(incident.acknowledged().is_none());
    assert_eq!(
        pages(&update.effects),
        vec![(0, 0, vec!["0192abcd/c1/r0/t0/alice/email".to_owned()])],
        "tier 0 again, under a new page key"
    );
    assert!(types(&update.effects).contains(&"io.klaxon.incident.retriggered"));
    let next = armed(&update.effects);
    assert_eq!(next[0].kind, TimerKind::Tier);
    assert_eq!(next[0].cycle, 1);
    assert!(next[0].timer_name().as_str().starts_with("0192abcd-e"));
    // A duplicate or late delivery of the snooze timer changes nothing.
    for when in [at(10, 0), at(11, 0)] {
        let again = fire(&mut incident, &snooze, when);
        assert_eq!(again.outcome, Outcome::Ignored(Ignored::StaleTimer));
        assert!(again.effects.is_empty());
    }
    // The re-triggered tier escalates on as usual.
    let later = fire(&mut incident, &next[0], at(10, 5));
    assert_eq!(
        pages(&later.effects),
        vec![(0, 1, vec!["0192abcd/c1/r0/t1/bob/email".to_owned()])]
    );
}

#[test]
fn snooze_needs_an_acknowledged_incident_and_a_future_end() {
    let mut incident = escalating();
    let before = incident.clone();
    let refused = incident.snooze(at(10, 0), &token("s1"), alice(), at(9, 1));
    assert!(matches!(
        refused,
        Err(IncidentError::Escalation(EscalationError::NotAcknowledged(
            EscalationStatus::Active
        )))
    ));
    assert_eq!(incident, before, "nothing changed");
    incident.acknowledge(alice(), at(9, 2)).unwrap();
    let past = incident.snooze(at(9, 0), &token("s2"), alice(), at(9, 3));
    assert!(matches!(
        past,
        Err(IncidentError::Escalation(EscalationError::BadDeadline {
            field: "until"
        }))
    ));
    incident.resolve(alice(), at(9, 4)).unwrap();
    let resolved = incident.snooze(at(10, 0), &token("s3"), alice(), at(9, 5));
    assert!(matches!(
        resolved,
        Err(IncidentError::AlreadyResolved { .. })
    ));
}

#[test]
fn a_retried_snooze_is_a_no_op() {
    let (mut incident, _) = acknowledged_and_snoozed();
    let before = incident.clone();
    let again = incident
        .snooze(at(11, 0), &token("s1"), alice(), at(9, 4))
        .unwrap();
    assert!(again.is_none());
    assert_eq!(incident, before);
}

#[test]
fn resolving_or_acknowledging_again_cancels_the_snooze() {
    let (mut incident, snooze) = acknowledged_and_snoozed();
    let mut resolved = incident.clone();
    let effects = resolved.resolve(alice(), at(9, 30)).unwrap();
    assert_eq!(cancelled(&effects), vec![snooze.timer_name().to_string()]);
    let late = fire(&mut resolved, &snooze, at(10, 0));
    assert_eq!(late.outcome, Outcome::Ignored(Ignored::StaleTimer));
    assert_eq!(resolved.status(), IncidentStatus::Resolved);

    let effects = incident.acknowledge(alice(), at(9, 30)).unwrap();
    assert_eq!(cancelled(&effects), vec![snooze.timer_name().to_string()]);
    assert!(types(&effects).contains(&"io.klaxon.incident.snooze_cancelled"));
    assert!(!incident.escalation().unwrap().is_snoozed());
    let late = fire(&mut incident, &snooze, at(10, 0));
    assert_eq!(late.outcome, Outcome::Ignored(Ignored::StaleTimer));
    assert_eq!(incident.status(), IncidentStatus::Acknowledged);
    assert!(matches!(
        incident.acknowledge(alice(), at(9, 31)),
        Err(IncidentError::AlreadyAcknowledged { .. })
    ));
}

#[test]
fn the_acknowledgement_timeout_re_triggers_once() {
    let mut incident = escalating();
    let effects = incident
        .acknowledge_with_timeout(alice(), Some(HumanDuration::from_mins(30)), at(9, 2))
        .unwrap();
    let timers = armed(&effects);
    assert_eq!(timers.len(), 1);
    let timeout = timers[0].clone();
    assert_eq!(timeout.kind, TimerKind::AckTimeout);
    assert!(types(&effects).contains(&"io.klaxon.incident.ack_timeout_armed"));
    assert_eq!(incident.escalation().unwrap().next_due(), Some(at(9, 32)));
    // The sweep sees it as any other armed timer.
    assert_eq!(
        incident
            .escalation()
            .unwrap()
            .overdue_timer(incident.id(), at(9, 40)),
        Some(timeout.clone())
    );
    let update = fire(&mut incident, &timeout, at(9, 32));
    assert_eq!(update.outcome, Outcome::Applied);
    assert_eq!(incident.status(), IncidentStatus::Triggered);
    assert_eq!(pages(&update.effects).len(), 1);
    let again = fire(&mut incident, &timeout, at(9, 33));
    assert_eq!(again.outcome, Outcome::Ignored(Ignored::StaleTimer));
    // Acknowledged again (new cycle, new entry key).
    let effects = incident.acknowledge(alice(), at(9, 40)).unwrap();
    let Effect::Timeline(entry) = &effects[0] else {
        panic!("the ack entry comes first")
    };
    assert_eq!(entry.record_id(), "0192abcd/acknowledged.c1");
}

#[test]
fn escalate_now_pages_the_next_tier_and_the_old_timer_goes_stale() {
    let mut incident = escalating();
    let tier0 = incident
        .escalation()
        .unwrap()
        .armed_timer(incident.id())
        .unwrap();
    let update = incident
        .escalate_now(&policy(), &Everyone, &token("e1"), alice(), at(9, 1))
        .unwrap()
        .unwrap();
    assert_eq!(
        pages(&update.effects),
        vec![(0, 1, vec!["0192abcd/r0/t1/bob/email".to_owned()])]
    );
    assert_eq!(
        cancelled(&update.effects),
        vec!["0192abcd-r0-t0".to_owned()]
    );
    assert!(types(&update.effects).contains(&"io.klaxon.escalation.escalated"));
    let late = fire(&mut incident, &tier0, at(9, 5));
    assert_eq!(late.outcome, Outcome::Ignored(Ignored::StaleTimer));
    let retried = incident
        .escalate_now(&policy(), &Everyone, &token("e1"), alice(), at(9, 2))
        .unwrap();
    assert!(retried.is_none(), "a retried request pages nobody");
    // Past the last tier there is nothing to escalate to.
    let exhausted = incident
        .escalate_now(&policy(), &Everyone, &token("e2"), alice(), at(9, 3))
        .unwrap()
        .unwrap();
    assert!(pages(&exhausted.effects).is_empty());
    assert_eq!(
        incident.escalation().unwrap().status(),
        EscalationStatus::Exhausted
    );
    let refused = incident.escalate_now(&policy(), &Everyone, &token("e3"), alice(), at(9, 4));
    assert!(matches!(
        refused,
        Err(IncidentError::Escalation(EscalationError::NotEscalating(_)))
    ));
}

#[test]
fn reassigning_restarts_on_the_new_target_and_re_triggers() {
    let mut incident = escalating();
    incident.acknowledge(alice(), at(9, 2)).unwrap();
    let target = Target::User(user("dave"));
    let direct = EscalationPolicy::direct(target.clone());
    let update = incident
        .reassign(
            &direct,
            Some(target.clone()),
            &Everyone,
            &token("r1"),
            alice(),
            at(9, 3),
        )
        .unwrap()
        .unwrap();
    assert_eq!(
        pages(&update.effects),
        vec![(0, 0, vec!["0192abcd/c1/r0/t0/dave/email".to_owned()])]
    );
    assert_eq!(incident.status(), IncidentStatus::Triggered);
    let state = incident.escalation().unwrap();
    assert_eq!(state.policy().as_str(), "direct");
    assert_eq!(state.assigned(), Some(&target));
    assert!(types(&update.effects).contains(&"io.klaxon.incident.reassigned"));
    // Then to a policy: tier 0 of it, a new cycle again.
    let update = incident
        .reassign(&policy(), None, &Everyone, &token("r2"), alice(), at(9, 4))
        .unwrap()
        .unwrap();
    assert_eq!(
        pages(&update.effects),
        vec![(0, 0, vec!["0192abcd/c2/r0/t0/alice/email".to_owned()])]
    );
    assert_eq!(incident.escalation().unwrap().assigned(), None);
    assert_eq!(
        cancelled(&update.effects).len(),
        1,
        "dave's timer is cancelled"
    );
}

#[test]
fn added_responders_are_paged_once_even_while_acknowledged() {
    let mut incident = escalating();
    incident.acknowledge(alice(), at(9, 2)).unwrap();
    let effects = incident
        .add_responders(
            vec![Target::User(user("erin"))],
            &token("p1"),
            alice(),
            at(9, 3),
        )
        .unwrap()
        .unwrap();
    assert_eq!(
        pages(&effects),
        vec![(0, 0, vec!["0192abcd/add.p1/erin/email".to_owned()])]
    );
    assert_eq!(incident.status(), IncidentStatus::Acknowledged);
    assert!(
        incident
            .add_responders(
                vec![Target::User(user("erin"))],
                &token("p1"),
                alice(),
                at(9, 4)
            )
            .unwrap()
            .is_none()
    );
}

#[test]
fn notes_are_recorded_once_and_empty_ones_refused() {
    let mut incident = escalating();
    let draft = incident
        .add_note(
            "  rolled back the deploy  ",
            &token("n1"),
            alice(),
            at(9, 3),
        )
        .unwrap()
        .unwrap();
    assert_eq!(draft.record_id(), "0192abcd/note.n1");
    assert_eq!(
        draft.entry,
        TimelineEntry::NoteAdded {
            text: "rolled back the deploy".into()
        }
    );
    assert!(
        incident
            .add_note("again", &token("n1"), alice(), at(9, 4))
            .unwrap()
            .is_none()
    );
    let before = incident.clone();
    assert!(matches!(
        incident.add_note("   ", &token("n2"), alice(), at(9, 4)),
        Err(IncidentError::BadNote)
    ));
    assert_eq!(incident, before);
    let long = "x".repeat(MAX_NOTE_LEN + 1);
    assert!(
        incident
            .add_note(&long, &token("n3"), alice(), at(9, 4))
            .is_err()
    );
}
