//! Post-mortems and their action items, on both stores: one post-mortem per incident,
//! versioned saves carrying their timeline entries, the open action items listed across
//! incidents by due date (and leaving the list when done), and oversized documents refused.

use super::*;
use chrono::NaiveDate;
use klaxon_domain::analytics::IncidentMetrics;
use klaxon_domain::ids::{ActionItemId, TemplateName};
use klaxon_domain::postmortem::{
    ActionItem, ActionItemEdit, ActionStatus, Postmortem, PostmortemFacts, PostmortemStatus,
    SectionEdit, default_template,
};

repository!(
    a_postmortem_is_created_once_and_saved_only_under_the_version_read,
    open_action_items_are_listed_across_incidents_by_due_date_and_leave_when_done,
    an_oversized_postmortem_is_refused_and_nothing_is_written,
);

fn postmortem(incident: &str, number: u64, now: Instant) -> Postmortem {
    let facts = PostmortemFacts {
        incident: incident_id(incident),
        number,
        title: format!("incident {number}"),
        severity: Severity::Critical,
        opened_at: now - Duration::hours(1),
        acknowledged_at: None,
        resolved_at: Some(now),
        impact_seconds: Some(3600),
        responders: vec![alice()],
        metrics: IncidentMetrics {
            time_to_acknowledge: None,
            time_to_resolve: Some(3600),
            pages: 1,
            acknowledged_by: None,
            tiers_needed: 1,
            off_hours_pages: 0,
        },
        timeline: Vec::new(),
        timeline_truncated: false,
        computed_at: now,
    };
    Postmortem::new(&default_template(), facts, Actor::user(alice()), None, now)
}

fn draft(incident: &str, key: &str, at: Instant, entry: TimelineEntry) -> TimelineDraft {
    TimelineDraft::new(
        incident_id(incident),
        EntryKey::new(key).unwrap(),
        at,
        Actor::user(alice()),
        entry,
    )
}

fn item(id: &str, due: Option<(i32, u32, u32)>, at: Instant) -> ActionItem {
    ActionItem {
        id: ActionItemId::new(id).unwrap(),
        title: format!("do {id}"),
        owner: Some(alice()),
        due: due.and_then(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d)),
        status: ActionStatus::Open,
        created_at: at,
        created_by: Actor::user(alice()),
        done_at: None,
    }
}

fn postmortem_entries(entries: &[TimelineEntry]) -> Vec<&'static str> {
    entries
        .iter()
        .map(TimelineEntry::event_type)
        .filter(|kind| kind.starts_with("io.klaxon.postmortem."))
        .collect()
}

async fn a_postmortem_is_created_once_and_saved_only_under_the_version_read<S: Store>(
    f: Fixture<S>,
) {
    let id = "pm1";
    let pm = postmortem(id, 1, f.now());
    let created = draft(
        id,
        "postmortem.created",
        f.now(),
        TimelineEntry::PostmortemCreated {
            template: TemplateName::shipped_default(),
        },
    );
    assert_eq!(f.repo.postmortem(&incident_id(id)).await.unwrap(), None);
    assert_eq!(
        f.repo
            .create_postmortem(&pm, std::slice::from_ref(&created))
            .await
            .unwrap(),
        1
    );
    match f.repo.create_postmortem(&pm, &[created]).await {
        Err(RepoError::AlreadyExists {
            entity: "postmortem",
            ..
        }) => {}
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    let stored = f.repo.postmortem(&incident_id(id)).await.unwrap().unwrap();
    assert_eq!((stored.version, &stored.postmortem), (1, &pm));
    let raw = f
        .store
        .get(&schema::postmortem_key(id))
        .await
        .unwrap()
        .unwrap();
    println!(
        "post-mortem item (default template, empty draft): {} B",
        item_size(&raw)
    );

    let mut next = pm.clone();
    next.edit_sections(
        &[SectionEdit {
            title: "Summary".into(),
            body: "disk full".into(),
        }],
        f.now(),
    )
    .unwrap();
    next.set_status(PostmortemStatus::InReview, None, f.now())
        .unwrap();
    let moved = draft(
        id,
        "postmortem.v2.status",
        f.now(),
        TimelineEntry::PostmortemStatusChanged {
            from: PostmortemStatus::Draft,
            to: PostmortemStatus::InReview,
        },
    );
    assert_eq!(
        f.repo
            .save_postmortem(&next, 1, &[], std::slice::from_ref(&moved))
            .await
            .unwrap(),
        2
    );
    // A save under the old version lost the race: refused, nothing written twice.
    match f.repo.save_postmortem(&next, 1, &[], &[moved]).await {
        Err(RepoError::Conflict { .. }) => {}
        other => panic!("expected Conflict, got {other:?}"),
    }
    match f
        .repo
        .save_postmortem(&postmortem("nothing", 9, f.now()), 1, &[], &[])
        .await
    {
        Err(RepoError::NotFound { .. }) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
    let stored = f.repo.postmortem(&incident_id(id)).await.unwrap().unwrap();
    assert_eq!(stored.version, 2);
    assert_eq!(stored.postmortem.status, PostmortemStatus::InReview);
    assert_eq!(stored.postmortem.sections[0].body, "disk full");
    assert_eq!(
        postmortem_entries(&all_timeline(&f, &incident_id(id)).await),
        [
            "io.klaxon.postmortem.created",
            "io.klaxon.postmortem.status_changed"
        ]
    );
}

async fn save_with_item<S: Store>(
    f: &Fixture<S>,
    pm: &mut Postmortem,
    version: u64,
    item: ActionItem,
) -> u64 {
    let id = item.id.clone();
    assert!(pm.add_action_item(item, f.now()).unwrap());
    f.repo
        .save_postmortem(pm, version, &[&id], &[])
        .await
        .unwrap()
}

async fn open_action_items_are_listed_across_incidents_by_due_date_and_leave_when_done<S: Store>(
    f: Fixture<S>,
) {
    let mut first = postmortem("pma", 1, f.now());
    let mut second = postmortem("pmb", 2, f.now());
    f.repo.create_postmortem(&first, &[]).await.unwrap();
    f.repo.create_postmortem(&second, &[]).await.unwrap();
    let v = save_with_item(
        &f,
        &mut first,
        1,
        item("ai-late", Some((2026, 6, 1)), f.now()),
    )
    .await;
    f.advance(1);
    let v = save_with_item(&f, &mut first, v, item("ai-undated", None, f.now())).await;
    f.advance(1);
    save_with_item(
        &f,
        &mut second,
        1,
        item("ai-soon", Some((2026, 4, 1)), f.now()),
    )
    .await;

    let ids = |listing: &klaxon_store::repo::Listing<klaxon_store::repo::ListedActionItem>| {
        listing
            .items
            .iter()
            .map(|listed| (listed.number, listed.item.id.to_string()))
            .collect::<Vec<_>>()
    };
    let raw = f
        .store
        .get(&schema::action_item_key("pma", "ai-late"))
        .await
        .unwrap()
        .unwrap();
    println!("action item item: {} B", item_size(&raw));
    let open = f.repo.action_items(true, None, 10).await.unwrap();
    assert_eq!(
        ids(&open),
        [
            (2, "ai-soon".to_owned()),
            (1, "ai-late".to_owned()),
            (1, "ai-undated".to_owned())
        ],
        "soonest due first, undated last, across incidents"
    );
    assert_eq!(open.items[0].incident_title, "incident 2");
    // Pages continue by cursor.
    let page = f.repo.action_items(true, None, 1).await.unwrap();
    let rest = f
        .repo
        .action_items(true, page.next.clone(), 10)
        .await
        .unwrap();
    assert_eq!(ids(&page).len() + ids(&rest).len(), 3);
    assert_eq!(ids(&rest)[0].1, "ai-late");

    // Done: out of the open list, still in the list of all (newest first).
    let late = ActionItemId::new("ai-late").unwrap();
    first
        .edit_action_item(
            &late,
            &ActionItemEdit {
                status: Some(ActionStatus::Done),
                ..ActionItemEdit::default()
            },
            f.now(),
        )
        .unwrap();
    f.repo
        .save_postmortem(&first, v, &[&late], &[])
        .await
        .unwrap();
    let open = f.repo.action_items(true, None, 10).await.unwrap();
    assert_eq!(
        ids(&open),
        [(2, "ai-soon".to_owned()), (1, "ai-undated".to_owned())]
    );
    let all = f.repo.action_items(false, None, 10).await.unwrap();
    assert_eq!(
        ids(&all),
        [
            (2, "ai-soon".to_owned()),
            (1, "ai-undated".to_owned()),
            (1, "ai-late".to_owned())
        ]
    );
    assert_eq!(all.items[2].item.status, ActionStatus::Done);
}

async fn an_oversized_postmortem_is_refused_and_nothing_is_written<S: Store>(f: Fixture<S>) {
    let mut pm = postmortem("pmbig", 3, f.now());
    for section in &mut pm.sections {
        section.body = noise(60 * 1024, 7);
    }
    match f.repo.create_postmortem(&pm, &[]).await {
        Err(RepoError::Invalid { field, .. }) => assert_eq!(field, "postmortem"),
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert_eq!(
        f.repo.postmortem(&incident_id("pmbig")).await.unwrap(),
        None
    );
}
