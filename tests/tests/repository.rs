//! The repository layer, run against both stores: the SQLite store and the DynamoDB store on a
//! moto server (started by the harness; never skipped).
//!
//! Every test is a generic function over [`Store`]; the `repository!` macro instantiates it once
//! per adapter (`sqlite::name` and `dynamodb::name`). At the end: the measured cost of the
//! duplicate-alert and new-incident flows (a counting store decorator; run
//! `cargo test -p klaxon-tests --test repository cost -- --nocapture` to see the figures, which
//! must be the doc's), the checks that `docs/data-model.md` names exactly the key literals the
//! code uses and that its key templates are what the key builders build, and a duplicate posted
//! through the ingest handler on DynamoDB (one write, nothing queued).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use chrono::{Duration, TimeZone, Utc};
use klaxon_aws::dynamo::DynamoStore;
use klaxon_domain::Instant;
use klaxon_domain::alert::{Alert, AlertKey, AlertStatus, Link, LinkKind, Severity};
use klaxon_domain::duration::HumanDuration;
use klaxon_domain::escalation::{
    Effect, EscalationPolicy, EscalationStatus, OnCallResolver, PageRequest, Target, Tier,
};
use klaxon_domain::ids::{
    AlertId, DedupKey, GroupKey, IncidentId, IntegrationName, PolicyId, ScheduleId, UserId,
};
use klaxon_domain::incident::{AutoResolve, Incident, IncidentStatus, ResolveReason, Urgency};
use klaxon_domain::schedule::Override;
use klaxon_domain::timeline::{Actor, EntryKey, EventSource, TimelineDraft, TimelineEntry};
use klaxon_domain::user::Channel;
use klaxon_local::store::SqliteStore;
use klaxon_store::item::item_size;
use klaxon_store::key::s;
use klaxon_store::repo::schema;
use klaxon_store::repo::{
    AlertLinkState, AlertState, Begin, Claim, Delivery, DeliveryOutcome, DeliveryPurpose,
    DeliveryStatus, Firing, KeyKind, KeyRecord, Linked, RepoError, Resolved, StoredIncident,
};
use klaxon_store::{
    AttributeValue, Clock, Condition, Index, Item, Key, ManualClock, Page, Query, Repository,
    ReturnValues, Store, StoreError, TransactOp, UpdateAction,
};
use klaxon_tests::{dynamo_store, manual_clock, workspace_root};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

// ---------------------------------------------------------------------------------------------
// Fixtures and helpers
// ---------------------------------------------------------------------------------------------

struct Fixture<S: Store> {
    repo: Repository<S>,
    store: S,
    clock: Arc<ManualClock>,
    _dir: Option<tempfile::TempDir>,
}

impl<S: Store> Fixture<S> {
    fn now(&self) -> Instant {
        self.clock.now()
    }

    fn advance(&self, seconds: i64) {
        self.clock.advance(Duration::seconds(seconds));
    }
}

fn source() -> EventSource {
    EventSource::klaxon("tests").unwrap()
}

async fn sqlite_fixture() -> Fixture<SqliteStore> {
    let clock = manual_clock();
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("klaxon.db"), clock.clone()).unwrap();
    Fixture {
        repo: Repository::new(store.clone(), clock.clone(), source()),
        store,
        clock,
        _dir: Some(dir),
    }
}

async fn dynamodb_fixture() -> Fixture<DynamoStore> {
    let clock = manual_clock();
    let store = dynamo_store(clock.clone()).await;
    Fixture {
        repo: Repository::new(store.clone(), clock.clone(), source()),
        store,
        clock,
        _dir: None,
    }
}

macro_rules! repository {
    ($($test:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    super::$test(super::sqlite_fixture().await).await;
                }
            )+
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    super::$test(super::dynamodb_fixture().await).await;
                }
            )+
        }
    };
}

repository!(
    keys_are_created_once_listed_and_revoked,
    config_versions_advance_only_on_change,
    concurrent_config_saves_number_versions_without_gaps,
    large_configs_are_split_and_oversized_ones_refused,
    alert_occurrences_repeat_resolve_and_fire_again,
    concurrent_firings_make_one_occurrence_and_count_every_call,
    a_one_mebibyte_raw_payload_round_trips,
    a_repeat_is_counted_without_compressing_its_payload,
    ungrouped_alerts_are_listed_until_grouped,
    incidents_are_created_joined_and_replaced_per_window,
    concurrent_alerts_of_one_group_make_one_incident,
    a_more_severe_alert_raises_the_incident_severity,
    a_cancelled_creation_writes_nothing,
    save_incident_detects_lost_optimistic_locks,
    indexes_follow_the_incident_state,
    incident_listings_paginate,
    resolved_alerts_auto_resolve_the_incident_once,
    concurrent_alert_resolutions_resolve_the_incident_once,
    timeline_is_in_time_order_across_pages,
    deliveries_are_claimed_once_and_finished_by_their_claimer,
    idempotency_records_expire,
    overrides_are_ordered_by_start_then_creation,
    corrupt_items_are_typed_errors,
    invalid_arguments_are_refused_before_writing,
    an_incident_resolved_while_linking_gets_a_successor,
    an_alert_linking_while_the_last_one_resolves_keeps_the_incident_open,
);

fn t0() -> Instant {
    klaxon_tests::test_start()
}

fn integration(name: &str) -> IntegrationName {
    IntegrationName::new(name).unwrap()
}

fn alert(dedup: &str, severity: Severity, received_at: Instant) -> Alert {
    Alert {
        integration: integration("prom"),
        dedup_key: DedupKey::new(dedup).unwrap(),
        status: AlertStatus::Firing,
        severity,
        summary: format!("{dedup} is broken"),
        source: Some("db-1".into()),
        // An empty label name is valid JSON but not a valid DynamoDB map key: it must survive.
        labels: BTreeMap::from([
            ("service".to_owned(), "db".to_owned()),
            (String::new(), "empty name".to_owned()),
        ]),
        annotations: BTreeMap::from([("runbook".to_owned(), "restart it".to_owned())]),
        links: vec![Link {
            href: "https://example.com/d".into(),
            text: Some("dashboard".into()),
            kind: LinkKind::Link,
        }],
        received_at,
        started_at: Some(received_at - Duration::minutes(1)),
        ended_at: None,
        group_hint: None,
        raw: serde_json::json!({"dedup": dedup, "nested": {"deep": [1, 2.5, null, {"": true}]}}),
    }
}

fn alert_id(n: usize) -> AlertId {
    AlertId::new(format!("a{n:04}")).unwrap()
}

fn incident_id(name: &str) -> IncidentId {
    IncidentId::new(name).unwrap()
}

fn group(name: &str) -> GroupKey {
    GroupKey(name.to_owned())
}

fn prom() -> Actor {
    Actor::integration(integration("prom"))
}

fn alice() -> UserId {
    UserId::new("alice").unwrap()
}

const WINDOW: HumanDuration = HumanDuration::from_secs(3600);

/// Deterministic incompressible bytes (xorshift), as printable text.
fn noise(len: usize, seed: u64) -> String {
    let mut state = seed | 1;
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(alphabet[(state % 64) as usize])
        })
        .collect()
}

async fn all_timeline<S: Store>(f: &Fixture<S>, id: &IncidentId) -> Vec<TimelineEntry> {
    let mut entries = Vec::new();
    let mut cursor = None;
    loop {
        let page = f.repo.timeline(id, cursor, 50).await.unwrap();
        entries.extend(page.items.into_iter().map(|record| record.entry));
        match page.next {
            Some(next) => cursor = Some(next),
            None => return entries,
        }
    }
}

fn types(entries: &[TimelineEntry]) -> Vec<&'static str> {
    entries.iter().map(TimelineEntry::event_type).collect()
}

struct Everyone;
impl OnCallResolver for Everyone {
    fn users_for(&self, _: &Target, _: Instant) -> Vec<UserId> {
        vec![alice()]
    }
}

fn policy() -> EscalationPolicy {
    EscalationPolicy {
        id: PolicyId::new("infra").unwrap(),
        name: "Infra".into(),
        tiers: vec![
            Tier {
                delay: HumanDuration::from_mins(5),
                targets: vec![Target::User(alice())],
            },
            Tier {
                delay: HumanDuration::from_mins(5),
                targets: vec![Target::User(alice())],
            },
        ],
        repeat: 0,
    }
}

/// Creates an incident for `group_key` opened by a fresh alert.
async fn new_incident<S: Store>(
    f: &Fixture<S>,
    group_key: &str,
    id: &str,
    alert_number: usize,
) -> Linked {
    let alert = alert(&format!("d{alert_number}"), Severity::Warning, f.now());
    f.repo
        .find_or_create_incident(
            &group(group_key),
            WINDOW,
            &alert_id(alert_number),
            &alert,
            &incident_id(id),
        )
        .await
        .unwrap()
}

fn draft(incident: &IncidentId, key: &str, at: Instant) -> TimelineDraft {
    TimelineDraft::new(
        incident.clone(),
        EntryKey::new(key).unwrap(),
        at,
        Actor::system("tests"),
        TimelineEntry::IncidentAssigned { user: alice() },
    )
}

// ---------------------------------------------------------------------------------------------
// Keys and configuration
// ---------------------------------------------------------------------------------------------

async fn keys_are_created_once_listed_and_revoked<S: Store>(f: Fixture<S>) {
    let hash = |c: char| c.to_string().repeat(64);
    let record = |kind, name: &str| KeyRecord {
        kind,
        name: name.to_owned(),
        label: Some(format!("{name} key")),
        created_at: t0(),
    };
    let prom = record(KeyKind::Integration, "prom");
    f.repo.create_key(&hash('a'), &prom).await.unwrap();
    f.repo
        .create_key(&hash('b'), &record(KeyKind::Api, "ci"))
        .await
        .unwrap();
    // The hash is taken: refused, the first record stays.
    match f
        .repo
        .create_key(&hash('a'), &record(KeyKind::Api, "other"))
        .await
    {
        Err(RepoError::AlreadyExists { entity: "key", .. }) => {}
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    let found = f.repo.key(&hash('a')).await.unwrap().unwrap();
    assert_eq!(found.hash, hash('a'));
    assert_eq!(found.record, prom);
    assert_eq!(f.repo.key(&hash('c')).await.unwrap(), None);
    let listed: Vec<(KeyKind, String)> = f
        .repo
        .list_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| (k.record.kind, k.record.name))
        .collect();
    assert_eq!(
        listed,
        vec![
            (KeyKind::Api, "ci".to_owned()),
            (KeyKind::Integration, "prom".to_owned())
        ]
    );
    assert!(f.repo.revoke_key(&hash('a')).await.unwrap());
    assert!(!f.repo.revoke_key(&hash('a')).await.unwrap());
    assert_eq!(f.repo.key(&hash('a')).await.unwrap(), None);
    assert_eq!(f.repo.list_keys().await.unwrap().len(), 1);
}

async fn config_versions_advance_only_on_change<S: Store>(f: Fixture<S>) {
    let actor = Actor::system("cli");
    assert_eq!(f.repo.current_config().await.unwrap(), None);
    let first = f
        .repo
        .save_config(r#"{"users":[]}"#, "fp1", &actor)
        .await
        .unwrap();
    assert_eq!((first.version, first.unchanged), (1, false));
    f.advance(60);
    let again = f
        .repo
        .save_config(r#"{"users":[]}"#, "fp1", &actor)
        .await
        .unwrap();
    assert_eq!((again.version, again.unchanged), (1, true));
    let second = f
        .repo
        .save_config(r#"{"users":["alice"]}"#, "fp2", &Actor::system("api"))
        .await
        .unwrap();
    assert_eq!((second.version, second.unchanged), (2, false));
    let current = f.repo.current_config().await.unwrap().unwrap();
    assert_eq!(current.version, 2);
    assert_eq!(current.fingerprint, "fp2");
    assert_eq!(current.json, r#"{"users":["alice"]}"#);
    assert_eq!(current.applied_by, Actor::system("api"));
    assert_eq!(current.applied_at, t0() + Duration::seconds(60));
    let old = f.repo.config_version(1).await.unwrap().unwrap();
    assert_eq!(
        (old.json.as_str(), old.fingerprint.as_str()),
        (r#"{"users":[]}"#, "fp1")
    );
    assert_eq!(old.applied_at, t0());
    assert_eq!(f.repo.config_version(3).await.unwrap(), None);
    // Going back to an old configuration is a change too: a new version.
    let third = f
        .repo
        .save_config(r#"{"users":[]}"#, "fp1", &actor)
        .await
        .unwrap();
    assert_eq!((third.version, third.unchanged), (3, false));
}

async fn concurrent_config_saves_number_versions_without_gaps<S: Store + Clone + 'static>(
    f: Fixture<S>,
) {
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let repo = f.repo.clone();
            tokio::spawn(async move {
                repo.save_config(
                    &format!("{{\"n\":{i}}}"),
                    &format!("fp{i}"),
                    &Actor::system("cli"),
                )
                .await
            })
        })
        .collect();
    let mut versions = Vec::new();
    for task in tasks {
        let saved = task.await.unwrap().unwrap();
        assert!(!saved.unchanged);
        versions.push(saved.version);
    }
    versions.sort_unstable();
    assert_eq!(versions, (1..=8).collect::<Vec<u64>>());
    let mut fingerprints = HashSet::new();
    for version in 1..=8 {
        let config = f.repo.config_version(version).await.unwrap().unwrap();
        let n: serde_json::Value = serde_json::from_str(&config.json).unwrap();
        assert_eq!(config.fingerprint, format!("fp{}", n["n"]));
        fingerprints.insert(config.fingerprint);
    }
    assert_eq!(fingerprints.len(), 8);
    assert_eq!(f.repo.current_config().await.unwrap().unwrap().version, 8);
}

async fn large_configs_are_split_and_oversized_ones_refused<S: Store>(f: Fixture<S>) {
    // ~1 MB of incompressible JSON: three parts of 350 KiB.
    let json = serde_json::json!({ "blob": noise(1_000_000, 7) }).to_string();
    let saved = f
        .repo
        .save_config(&json, "big", &Actor::system("cli"))
        .await
        .unwrap();
    let parts =
        f.store
            .query(
                &Query::table(schema::CONFIG).sort(klaxon_store::SortCondition::BeginsWith(
                    format!("{}{:020}#", schema::VERSION, saved.version),
                )),
            )
            .await
            .unwrap();
    assert!(parts.items.len() >= 2, "split into parts");
    assert_eq!(f.repo.current_config().await.unwrap().unwrap().json, json);
    // Beyond what one transaction can carry: refused, nothing written.
    let huge = serde_json::json!({ "blob": noise(5_000_000, 8) }).to_string();
    match f
        .repo
        .save_config(&huge, "huge", &Actor::system("cli"))
        .await
    {
        Err(RepoError::Invalid { field, .. }) => assert_eq!(field, "config"),
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert_eq!(
        f.repo.current_config().await.unwrap().unwrap().fingerprint,
        "big"
    );
}

// ---------------------------------------------------------------------------------------------
// Alerts
// ---------------------------------------------------------------------------------------------

async fn alert_occurrences_repeat_resolve_and_fire_again<S: Store>(f: Fixture<S>) {
    let first = alert("disk", Severity::Warning, f.now());
    let key = first.key();
    let firing = f
        .repo
        .record_firing(&first, &alert_id(1), &group("g"))
        .await
        .unwrap();
    assert_eq!(
        firing,
        Firing::New {
            alert_id: alert_id(1)
        }
    );
    f.advance(30);
    let repeat = alert("disk", Severity::Critical, f.now());
    match f
        .repo
        .record_firing(&repeat, &alert_id(2), &group("other"))
        .await
        .unwrap()
    {
        Firing::Repeat {
            alert_id: id,
            count,
            incident,
            group_key,
        } => {
            assert_eq!(id, alert_id(1));
            assert_eq!(count, 2);
            assert_eq!(incident, None);
            assert_eq!(group_key, group("g"), "the recorded group key wins");
        }
        other => panic!("expected Repeat, got {other:?}"),
    }
    let record = f.repo.alert(&key).await.unwrap().unwrap();
    assert_eq!(
        record.alert, first,
        "the alert as first received, raw included"
    );
    assert_eq!(record.state, AlertState::Open);
    assert_eq!(record.count, 2);
    assert_eq!(record.first_seen, t0());
    assert_eq!(record.last_seen, t0() + Duration::seconds(30));
    f.repo
        .mark_grouped(&key, &alert_id(1), &incident_id("inc1"))
        .await
        .unwrap();
    // Resolve: once; then already resolved; an unknown alert is unknown.
    match f.repo.record_resolved(&key, f.now()).await.unwrap() {
        Resolved::Resolved {
            alert_id: id,
            group_key,
            incident,
        } => {
            assert_eq!(id, alert_id(1));
            assert_eq!(group_key, group("g"));
            assert_eq!(incident, Some(incident_id("inc1")));
        }
        other => panic!("expected Resolved, got {other:?}"),
    }
    assert_eq!(
        f.repo.record_resolved(&key, f.now()).await.unwrap(),
        Resolved::AlreadyResolved
    );
    let unknown = AlertKey {
        integration: integration("prom"),
        dedup_key: DedupKey::new("nope").unwrap(),
    };
    assert_eq!(
        f.repo.record_resolved(&unknown, f.now()).await.unwrap(),
        Resolved::Unknown
    );
    assert_eq!(f.repo.alert(&unknown).await.unwrap(), None);
    let resolved = f.repo.alert(&key).await.unwrap().unwrap();
    assert_eq!(resolved.state, AlertState::Resolved);
    assert_eq!(resolved.resolved_at, Some(f.now()));
    // Firing again after the resolve: a new occurrence, counted from 1.
    f.advance(60);
    let again = alert("disk", Severity::Error, f.now());
    assert_eq!(
        f.repo
            .record_firing(&again, &alert_id(3), &group("g2"))
            .await
            .unwrap(),
        Firing::New {
            alert_id: alert_id(3)
        }
    );
    let record = f.repo.alert(&key).await.unwrap().unwrap();
    assert_eq!(
        (record.alert_id, record.count, record.state),
        (alert_id(3), 1, AlertState::Open)
    );
    assert_eq!(record.group_key, group("g2"));
    assert_eq!(record.incident, None);
    assert_eq!(record.alert.severity, Severity::Error);
    // A resolved record expires after the retention period; firing after that is new too.
    f.repo.record_resolved(&key, f.now()).await.unwrap();
    f.advance(klaxon_store::repo::ALERT_RETENTION.as_secs() + 1);
    assert_eq!(f.repo.alert(&key).await.unwrap(), None);
    let late = alert("disk", Severity::Info, f.now());
    assert_eq!(
        f.repo
            .record_firing(&late, &alert_id(4), &group("g3"))
            .await
            .unwrap(),
        Firing::New {
            alert_id: alert_id(4)
        }
    );
}

async fn concurrent_firings_make_one_occurrence_and_count_every_call<S: Store + Clone + 'static>(
    f: Fixture<S>,
) {
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let repo = f.repo.clone();
            let alert = alert(
                "flappy",
                Severity::Error,
                t0() + Duration::seconds(i as i64),
            );
            tokio::spawn(async move { repo.record_firing(&alert, &alert_id(i), &group("g")).await })
        })
        .collect();
    let mut new = Vec::new();
    let mut counts = BTreeSet::new();
    for task in tasks {
        match task.await.unwrap().unwrap() {
            Firing::New { alert_id } => new.push(alert_id),
            Firing::Repeat { count, .. } => {
                assert!(counts.insert(count), "count {count} reported twice");
            }
        }
    }
    assert_eq!(new.len(), 1, "exactly one new occurrence");
    assert_eq!(counts, (2..=100).collect::<BTreeSet<u64>>());
    let record = f
        .repo
        .alert(&alert("flappy", Severity::Error, t0()).key())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.count, 100);
    assert_eq!(record.alert_id, new[0]);
    let ungrouped = f
        .repo
        .ungrouped_alerts(f.now() + Duration::days(1), None, 10)
        .await;
    assert_eq!(ungrouped.unwrap().items.len(), 1);
}

async fn a_one_mebibyte_raw_payload_round_trips<S: Store>(f: Fixture<S>) {
    let mut big = alert("huge", Severity::Critical, f.now());
    big.raw = serde_json::json!({ "payload": noise(1024 * 1024, 42) });
    let key = big.key();
    assert_eq!(
        f.repo
            .record_firing(&big, &alert_id(1), &group("g"))
            .await
            .unwrap(),
        Firing::New {
            alert_id: alert_id(1)
        }
    );
    let chunks = |id: AlertId| {
        let pk = f_pk(&key);
        let store = &f.store;
        async move {
            store
                .query(
                    &Query::table(pk).sort(klaxon_store::SortCondition::BeginsWith(format!(
                        "{}{id}#",
                        schema::CHUNK
                    ))),
                )
                .await
                .unwrap()
                .items
                .len()
        }
    };
    assert!(
        chunks(alert_id(1)).await >= 3,
        "1 MiB of noise needs three chunks"
    );
    let record = f.repo.alert(&key).await.unwrap().unwrap();
    assert_eq!(record.alert, big, "nothing accepted is lost");
    // A repeat of the big alert is still one small update.
    assert!(matches!(
        f.repo
            .record_firing(&big, &alert_id(2), &group("g"))
            .await
            .unwrap(),
        Firing::Repeat { count: 2, .. }
    ));
    // Resolved and fired again small: the old chunks go with the old occurrence.
    f.repo.record_resolved(&key, f.now()).await.unwrap();
    let small = alert("huge", Severity::Critical, f.now());
    f.repo
        .record_firing(&small, &alert_id(3), &group("g"))
        .await
        .unwrap();
    assert_eq!(chunks(alert_id(1)).await, 0);
    assert_eq!(f.repo.alert(&key).await.unwrap().unwrap().alert, small);
}

/// A repeat stores nothing of the alert, so its payload is not even compressed: a repeat whose
/// payload grew past what a new occurrence could store is still counted, while storing that
/// payload as a new occurrence is refused.
async fn a_repeat_is_counted_without_compressing_its_payload<S: Store>(f: Fixture<S>) {
    let small = alert("growing", Severity::Error, f.now());
    let key = small.key();
    f.repo
        .record_firing(&small, &alert_id(1), &group("g"))
        .await
        .unwrap();
    // 5 MiB of noise compresses to about 3.75 MiB, over the 3.5 MiB a body may have.
    let mut grown = alert("growing", Severity::Error, f.now());
    grown.raw = serde_json::json!({ "payload": noise(5 * 1024 * 1024, 7) });
    assert_eq!(
        f.repo
            .record_firing(&grown, &alert_id(2), &group("g"))
            .await
            .unwrap(),
        Firing::Repeat {
            alert_id: alert_id(1),
            count: 2,
            incident: None,
            group_key: group("g"),
        }
    );
    assert_eq!(f.repo.alert(&key).await.unwrap().unwrap().alert, small);
    f.repo.record_resolved(&key, f.now()).await.unwrap();
    match f
        .repo
        .record_firing(&grown, &alert_id(3), &group("g"))
        .await
    {
        Err(RepoError::Invalid { field, reason }) => {
            assert_eq!(field, "alert");
            assert!(reason.contains("over the limit"), "{reason}");
        }
        other => panic!("expected the oversized new occurrence refused, got {other:?}"),
    }
    let record = f.repo.alert(&key).await.unwrap().unwrap();
    assert_eq!(
        (record.alert_id, record.state),
        (alert_id(1), AlertState::Resolved)
    );
}

/// The partition of an alert's dedup record.
fn f_pk(key: &AlertKey) -> String {
    schema::alert_record_key(key).pk
}

async fn ungrouped_alerts_are_listed_until_grouped<S: Store>(f: Fixture<S>) {
    for i in 0..5 {
        let a = alert(
            &format!("u{i}"),
            Severity::Info,
            t0() + Duration::seconds(i),
        );
        f.repo
            .record_firing(&a, &alert_id(i as usize), &group("g"))
            .await
            .unwrap();
    }
    let before = t0() + Duration::seconds(4);
    let first = f.repo.ungrouped_alerts(before, None, 3).await.unwrap();
    let second = f
        .repo
        .ungrouped_alerts(before, first.next.clone(), 3)
        .await
        .unwrap();
    let ids: Vec<AlertId> = first
        .items
        .iter()
        .chain(&second.items)
        .map(|u| u.alert_id.clone())
        .collect();
    assert_eq!(
        ids,
        (0..4).map(alert_id).collect::<Vec<_>>(),
        "oldest first"
    );
    assert_eq!(first.items[1].key.dedup_key.as_str(), "u1");
    assert_eq!(first.items[1].received_at, t0() + Duration::seconds(1));
    assert_eq!(first.items[1].group_key, group("g"));
    // Grouping takes them off the list; a stale occurrence id changes nothing.
    let key0 = alert("u0", Severity::Info, t0()).key();
    assert!(
        !f.repo
            .mark_grouped(&key0, &alert_id(99), &incident_id("inc"))
            .await
            .unwrap()
    );
    assert!(
        f.repo
            .mark_grouped(&key0, &alert_id(0), &incident_id("inc"))
            .await
            .unwrap()
    );
    let unknown = alert("never", Severity::Info, t0()).key();
    assert!(
        !f.repo
            .mark_grouped(&unknown, &alert_id(0), &incident_id("inc"))
            .await
            .unwrap()
    );
    let left = f
        .repo
        .ungrouped_alerts(t0() + Duration::days(1), None, 10)
        .await
        .unwrap();
    assert_eq!(
        left.items
            .iter()
            .map(|u| u.alert_id.clone())
            .collect::<Vec<_>>(),
        (1..5).map(alert_id).collect::<Vec<_>>()
    );
    assert_eq!(
        f.repo.alert(&key0).await.unwrap().unwrap().incident,
        Some(incident_id("inc"))
    );
}

// ---------------------------------------------------------------------------------------------
// Incidents
// ---------------------------------------------------------------------------------------------

async fn incidents_are_created_joined_and_replaced_per_window<S: Store>(f: Fixture<S>) {
    let first = new_incident(&f, "g", "inc1", 1).await;
    assert!(first.created && first.newly_linked);
    assert_eq!(first.incident.version, 1);
    let incident = &first.incident.incident;
    assert_eq!(incident.alerts().linked, 1);
    assert_eq!(incident.status(), IncidentStatus::Triggered);
    let number = incident.number();
    // A second alert within the window joins.
    f.advance(600);
    let second = new_incident(&f, "g", "inc2", 2).await;
    assert!(!second.created && second.newly_linked);
    assert_eq!(second.incident.incident.id(), &incident_id("inc1"));
    assert_eq!(second.incident.incident.alerts().linked, 2);
    // The same occurrence again (a redelivered message): nothing changes.
    let again = new_incident(&f, "g", "inc3", 2).await;
    assert!(!again.created && !again.newly_linked);
    assert_eq!(again.incident.incident.id(), &incident_id("inc1"));
    let stored = f
        .repo
        .incident(&incident_id("inc1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.incident.alerts().linked, 2);
    assert_eq!(stored.incident.alerts().open, 2);
    assert_eq!(stored.version, 1, "linking never takes the optimistic lock");
    assert_eq!(
        types(&all_timeline(&f, &incident_id("inc1")).await),
        vec![
            "io.klaxon.incident.triggered",
            "io.klaxon.alert.linked",
            "io.klaxon.alert.linked"
        ]
    );
    let linked = f.repo.incident_alerts(&incident_id("inc1")).await.unwrap();
    assert_eq!(
        linked
            .iter()
            .map(|l| l.alert_id.clone())
            .collect::<Vec<_>>(),
        vec![alert_id(1), alert_id(2)]
    );
    assert!(linked.iter().all(|l| l.state == AlertLinkState::Open));
    assert_eq!(linked[1].summary, "d2 is broken");
    // After the window: a new incident with the next number.
    f.advance(3000);
    let later = new_incident(&f, "g", "inc4", 4).await;
    assert!(later.created);
    assert_eq!(later.incident.incident.number(), number + 1);
    // Within the new window but its incident resolved: another new incident.
    let mut resolved = f
        .repo
        .incident(&incident_id("inc4"))
        .await
        .unwrap()
        .unwrap();
    let effects = resolved
        .incident
        .resolve(Actor::user(alice()), f.now())
        .unwrap();
    let drafts: Vec<TimelineDraft> = effects
        .into_iter()
        .filter_map(|e| match e {
            Effect::Timeline(d) => Some(d),
            _ => None,
        })
        .collect();
    f.repo
        .save_incident(&resolved.incident, resolved.version, &drafts)
        .await
        .unwrap();
    f.advance(10);
    let after_resolve = new_incident(&f, "g", "inc5", 5).await;
    assert!(after_resolve.created);
    assert_eq!(after_resolve.incident.incident.id(), &incident_id("inc5"));
    // Another group is independent.
    let other = new_incident(&f, "h", "inc6", 6).await;
    assert!(other.created);
    assert_eq!(
        f.repo
            .incident_by_number(number)
            .await
            .unwrap()
            .unwrap()
            .incident
            .id(),
        &incident_id("inc1")
    );
    assert_eq!(f.repo.incident_by_number(9999).await.unwrap(), None);
}

async fn concurrent_alerts_of_one_group_make_one_incident<S: Store + Clone + 'static>(
    f: Fixture<S>,
) {
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let repo = f.repo.clone();
            let alert = alert(&format!("c{i}"), Severity::Warning, t0());
            tokio::spawn(async move {
                repo.find_or_create_incident(
                    &group("storm"),
                    WINDOW,
                    &alert_id(i),
                    &alert,
                    &incident_id(&format!("inc{i}")),
                )
                .await
            })
        })
        .collect();
    let mut created = Vec::new();
    let mut incidents = HashSet::new();
    for task in tasks {
        let linked = task.await.unwrap().unwrap();
        assert!(linked.newly_linked);
        if linked.created {
            created.push(linked.incident.incident.id().clone());
        }
        incidents.insert(linked.incident.incident.id().clone());
    }
    assert_eq!(created.len(), 1, "exactly one incident");
    assert_eq!(incidents, HashSet::from([created[0].clone()]));
    let stored = f.repo.incident(&created[0]).await.unwrap().unwrap();
    assert_eq!(stored.incident.alerts().linked, 200);
    assert_eq!(stored.incident.alerts().open, 200);
    assert_eq!(
        f.repo.incident_alerts(&created[0]).await.unwrap().len(),
        200
    );
    let open = f.repo.open_incidents(None, 10).await.unwrap();
    assert_eq!(open.items.len(), 1);
    let entries = all_timeline(&f, &created[0]).await;
    assert_eq!(entries.len(), 201, "one trigger and 200 links");
}

async fn a_more_severe_alert_raises_the_incident_severity<S: Store>(f: Fixture<S>) {
    new_incident(&f, "g", "inc1", 1).await;
    f.advance(5);
    let critical = alert("worse", Severity::Critical, f.now());
    let linked = f
        .repo
        .find_or_create_incident(
            &group("g"),
            WINDOW,
            &alert_id(2),
            &critical,
            &incident_id("x"),
        )
        .await
        .unwrap();
    assert_eq!(linked.incident.incident.severity(), Severity::Critical);
    assert_eq!(linked.incident.incident.alerts().linked, 2);
    assert_eq!(linked.incident.version, 2);
    let stored = f
        .repo
        .incident(&incident_id("inc1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.incident.severity(), Severity::Critical);
    assert_eq!(stored.version, 2);
    assert_eq!(stored.incident.alerts().linked, 2);
    let entries = all_timeline(&f, &incident_id("inc1")).await;
    assert_eq!(
        types(&entries),
        vec![
            "io.klaxon.incident.triggered",
            "io.klaxon.alert.linked",
            "io.klaxon.alert.linked",
            "io.klaxon.incident.severity_changed"
        ]
    );
    // A less severe one links without a save.
    let info = alert("meh", Severity::Info, f.now());
    f.repo
        .find_or_create_incident(&group("g"), WINDOW, &alert_id(3), &info, &incident_id("y"))
        .await
        .unwrap();
    let stored = f
        .repo
        .incident(&incident_id("inc1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (stored.version, stored.incident.severity()),
        (2, Severity::Critical)
    );
    assert_eq!(stored.incident.alerts().linked, 3);
}

async fn a_cancelled_creation_writes_nothing<S: Store>(f: Fixture<S>) {
    new_incident(&f, "g", "inc1", 1).await;
    // A caller reusing an existing incident id for another group: the creation transaction is
    // cancelled as a whole, so neither the pointer, nor the link, nor timeline entries appear.
    let a = alert("d2", Severity::Warning, f.now());
    match f
        .repo
        .find_or_create_incident(&group("h"), WINDOW, &alert_id(2), &a, &incident_id("inc1"))
        .await
    {
        Err(RepoError::AlreadyExists {
            entity: "incident", ..
        }) => {}
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    assert_eq!(
        f.store
            .get(&Key::new(format!("{}h", schema::GROUP), schema::POINTER))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        f.store
            .get(&Key::new(
                format!("{}{}", schema::ALERT_LINK, alert_id(2)),
                schema::LINK
            ))
            .await
            .unwrap(),
        None
    );
    assert_eq!(all_timeline(&f, &incident_id("inc1")).await.len(), 2);
    let stored = f
        .repo
        .incident(&incident_id("inc1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.incident.alerts().linked, 1);
    // The alert can still be grouped properly afterwards.
    let linked = f
        .repo
        .find_or_create_incident(&group("h"), WINDOW, &alert_id(2), &a, &incident_id("inc2"))
        .await
        .unwrap();
    assert!(linked.created);
}

async fn save_incident_detects_lost_optimistic_locks<S: Store>(f: Fixture<S>) {
    let linked = new_incident(&f, "g", "inc1", 1).await;
    let id = incident_id("inc1");
    let StoredIncident { incident, version } = linked.incident;
    f.advance(1);
    let mut first = incident.clone();
    let assigned = first.assign(alice(), Actor::system("tests"), f.now());
    let v2 = f
        .repo
        .save_incident(&first, version, &assigned)
        .await
        .unwrap();
    assert_eq!(v2, version + 1);
    // A writer that read the old version loses, and its timeline entries are not written.
    let mut second = incident.clone();
    let ack = second.acknowledge(Actor::user(alice()), f.now()).unwrap();
    let drafts: Vec<TimelineDraft> = ack
        .into_iter()
        .filter_map(|e| match e {
            Effect::Timeline(d) => Some(d),
            _ => None,
        })
        .collect();
    match f.repo.save_incident(&second, version, &drafts).await {
        Err(RepoError::Conflict {
            entity: "incident", ..
        }) => {}
        other => panic!("expected Conflict, got {other:?}"),
    }
    match f.repo.save_incident(&second, version, &[]).await {
        Err(RepoError::Conflict { .. }) => {}
        other => panic!("expected Conflict, got {other:?}"),
    }
    let stored = f.repo.incident(&id).await.unwrap().unwrap();
    assert_eq!(stored.version, v2);
    assert_eq!(stored.incident.status(), IncidentStatus::Triggered);
    assert_eq!(stored.incident.assignees(), &[alice()]);
    assert_eq!(
        types(&all_timeline(&f, &id).await),
        vec![
            "io.klaxon.incident.triggered",
            "io.klaxon.alert.linked",
            "io.klaxon.incident.assigned"
        ]
    );
    // Re-read, re-apply, save: works.
    let mut third = stored.incident.clone();
    third.acknowledge(Actor::user(alice()), f.now()).unwrap();
    assert_eq!(
        f.repo
            .save_incident(&third, stored.version, &[])
            .await
            .unwrap(),
        v2 + 1
    );
    // Saves never overwrite the counters, whatever the document says.
    let stale_counts = third.clone();
    f.repo
        .find_or_create_incident(
            &group("g"),
            WINDOW,
            &alert_id(2),
            &alert("d2", Severity::Warning, f.now()),
            &incident_id("x"),
        )
        .await
        .unwrap();
    f.repo
        .save_incident(&stale_counts, v2 + 1, &[])
        .await
        .unwrap();
    let stored = f.repo.incident(&id).await.unwrap().unwrap();
    assert_eq!(stored.incident.alerts().linked, 2);
    // Missing incidents are not found; a draft for another incident is refused.
    let (ghost, _) = Incident::open(
        incident_id("ghost"),
        99,
        group("z"),
        alert_id(9),
        &alert("z", Severity::Info, f.now()),
        f.now(),
    )
    .unwrap();
    match f.repo.save_incident(&ghost, 1, &[]).await {
        Err(RepoError::NotFound { .. }) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
    let foreign = draft(&incident_id("other"), "x", f.now());
    match f
        .repo
        .save_incident(&stored.incident, stored.version, &[foreign])
        .await
    {
        Err(RepoError::Invalid { field, .. }) => assert_eq!(field, "timeline[0].subject"),
        other => panic!("expected Invalid, got {other:?}"),
    }
    let too_many: Vec<TimelineDraft> = (0..25)
        .map(|i| draft(&id, &format!("k{i}"), f.now()))
        .collect();
    assert!(matches!(
        f.repo
            .save_incident(&stored.incident, stored.version, &too_many)
            .await,
        Err(RepoError::Invalid { .. })
    ));
}

async fn indexes_follow_the_incident_state<S: Store>(f: Fixture<S>) {
    let id = incident_id("inc1");
    let linked = new_incident(&f, "g", "inc1", 1).await;
    let mut incident = linked.incident.incident;
    let open = f.repo.open_incidents(None, 10).await.unwrap();
    assert_eq!(open.items.len(), 1);
    assert!(
        f.repo
            .due_escalations(f.now() + Duration::days(1), 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Routing starts the escalation: the timer is due in 5 minutes.
    let update = incident
        .start_escalation(&policy(), Urgency::High, &Everyone, f.now())
        .unwrap();
    let drafts: Vec<TimelineDraft> = update
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::Timeline(d) => Some(d.clone()),
            _ => None,
        })
        .collect();
    let v2 = f.repo.save_incident(&incident, 1, &drafts).await.unwrap();
    let due = t0() + Duration::minutes(5);
    assert_eq!(
        incident.escalation().unwrap().status(),
        EscalationStatus::Active
    );
    assert!(
        f.repo
            .due_escalations(due - Duration::seconds(1), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        f.repo.due_escalations(due, 10).await.unwrap(),
        vec![(id.clone(), due)],
        "due_by is inclusive"
    );
    // Acknowledged: off the due list, still open.
    incident.acknowledge(Actor::user(alice()), f.now()).unwrap();
    let v3 = f.repo.save_incident(&incident, v2, &[]).await.unwrap();
    assert!(
        f.repo
            .due_escalations(due + Duration::days(1), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        f.repo.open_incidents(None, 10).await.unwrap().items.len(),
        1
    );
    // Resolved: off the open list, still listed by number.
    incident.resolve(Actor::user(alice()), f.now()).unwrap();
    f.repo.save_incident(&incident, v3, &[]).await.unwrap();
    assert!(
        f.repo
            .open_incidents(None, 10)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let recent = f.repo.recent_incidents(None, 10).await.unwrap();
    assert_eq!(recent.items.len(), 1);
    assert_eq!(recent.items[0].incident.status(), IncidentStatus::Resolved);
}

async fn incident_listings_paginate<S: Store>(f: Fixture<S>) {
    for i in 0..5 {
        new_incident(&f, &format!("g{i}"), &format!("inc{i}"), i).await;
        f.advance(1);
    }
    let mut cursor = None;
    let mut recent = Vec::new();
    loop {
        let page = f.repo.recent_incidents(cursor, 2).await.unwrap();
        assert!(page.items.len() <= 2);
        recent.extend(page.items.into_iter().map(|s| s.incident.number()));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(recent, vec![5, 4, 3, 2, 1], "newest first");
    let mut cursor = None;
    let mut open = Vec::new();
    loop {
        let page = f.repo.open_incidents(cursor, 3).await.unwrap();
        open.extend(page.items.into_iter().map(|s| s.incident.id().to_string()));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(
        open,
        vec!["inc0", "inc1", "inc2", "inc3", "inc4"],
        "oldest first"
    );
    assert!(matches!(
        f.repo.open_incidents(None, 0).await,
        Err(RepoError::Invalid { .. })
    ));
}

async fn resolved_alerts_auto_resolve_the_incident_once<S: Store>(f: Fixture<S>) {
    let id = incident_id("inc1");
    let mut incident = new_incident(&f, "g", "inc1", 1).await.incident.incident;
    incident
        .start_escalation(&policy(), Urgency::High, &Everyone, f.now())
        .unwrap();
    f.repo.save_incident(&incident, 1, &[]).await.unwrap();
    new_incident(&f, "g", "x", 2).await;
    f.advance(60);
    let first = f
        .repo
        .alert_resolved(
            &id,
            &alert_id(1),
            prom(),
            AutoResolve::WhenAllAlertsResolve,
            f.now(),
        )
        .await
        .unwrap();
    assert_eq!(first.incident.incident.status(), IncidentStatus::Triggered);
    assert_eq!(first.incident.incident.alerts().open, 1);
    assert_eq!(first.effects.len(), 1, "only the alert.resolved entry");
    // The last one resolves the incident and stops the escalation (its timer is cancelled).
    let last = f
        .repo
        .alert_resolved(
            &id,
            &alert_id(2),
            prom(),
            AutoResolve::WhenAllAlertsResolve,
            f.now(),
        )
        .await
        .unwrap();
    assert_eq!(last.incident.incident.status(), IncidentStatus::Resolved);
    assert_eq!(
        last.incident.incident.resolved().unwrap().reason,
        ResolveReason::AllAlertsResolved
    );
    assert!(
        last.effects
            .iter()
            .any(|e| matches!(e, Effect::CancelTimer { .. }))
    );
    let stored = f.repo.incident(&id).await.unwrap().unwrap();
    assert_eq!(stored, last.incident);
    assert_eq!(stored.incident.alerts().open, 0);
    assert!(
        f.repo
            .open_incidents(None, 10)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        f.repo
            .due_escalations(f.now() + Duration::days(1), 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Redelivered: nothing happens.
    let again = f
        .repo
        .alert_resolved(
            &id,
            &alert_id(2),
            prom(),
            AutoResolve::WhenAllAlertsResolve,
            f.now(),
        )
        .await
        .unwrap();
    assert!(again.effects.is_empty());
    assert_eq!(again.incident, stored);
    let entries = types(&all_timeline(&f, &id).await);
    assert_eq!(
        entries
            .iter()
            .filter(|t| **t == "io.klaxon.alert.resolved")
            .count(),
        2
    );
    assert_eq!(
        entries
            .iter()
            .filter(|t| **t == "io.klaxon.incident.resolved")
            .count(),
        1
    );
    let links = f.repo.incident_alerts(&id).await.unwrap();
    assert!(links.iter().all(|l| l.state == AlertLinkState::Resolved));
    // Auto-resolve off: the incident stays open after its last alert.
    let other = incident_id("inc9");
    new_incident(&f, "h", "inc9", 9).await;
    let kept = f
        .repo
        .alert_resolved(&other, &alert_id(9), prom(), AutoResolve::Never, f.now())
        .await
        .unwrap();
    assert_eq!(kept.incident.incident.status(), IncidentStatus::Triggered);
    assert_eq!(kept.incident.incident.alerts().open, 0);
    // An alert of another incident is not found here.
    match f
        .repo
        .alert_resolved(&other, &alert_id(1), prom(), AutoResolve::Never, f.now())
        .await
    {
        Err(RepoError::NotFound { .. }) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
}

async fn concurrent_alert_resolutions_resolve_the_incident_once<S: Store + Clone + 'static>(
    f: Fixture<S>,
) {
    let id = incident_id("inc0");
    for i in 0..20 {
        new_incident(&f, "g", &format!("inc{i}"), i).await;
    }
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let repo = f.repo.clone();
            let id = id.clone();
            let at = f.now();
            tokio::spawn(async move {
                repo.alert_resolved(
                    &id,
                    &alert_id(i),
                    prom(),
                    AutoResolve::WhenAllAlertsResolve,
                    at,
                )
                .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let stored = f.repo.incident(&id).await.unwrap().unwrap();
    assert_eq!(stored.incident.status(), IncidentStatus::Resolved);
    assert_eq!(stored.incident.alerts().open, 0);
    assert_eq!(stored.incident.alerts().linked, 20);
    let entries = types(&all_timeline(&f, &id).await);
    assert_eq!(
        entries
            .iter()
            .filter(|t| **t == "io.klaxon.incident.resolved")
            .count(),
        1
    );
    assert_eq!(
        entries
            .iter()
            .filter(|t| **t == "io.klaxon.alert.resolved")
            .count(),
        20
    );
}

async fn timeline_is_in_time_order_across_pages<S: Store>(f: Fixture<S>) {
    let linked = new_incident(&f, "g", "inc1", 1).await;
    let id = incident_id("inc1");
    let mut version = linked.incident.version;
    let incident = linked.incident.incident;
    // Entries written later but dated earlier still sort by time.
    for (i, minutes) in [30i64, 10, 20].into_iter().enumerate() {
        let drafts = vec![
            draft(&id, &format!("b{i}"), t0() + Duration::minutes(minutes)),
            draft(&id, &format!("a{i}"), t0() + Duration::minutes(minutes)),
        ];
        version = f
            .repo
            .save_incident(&incident, version, &drafts)
            .await
            .unwrap();
    }
    let mut cursor = None;
    let mut keys = Vec::new();
    loop {
        let page = f.repo.timeline(&id, cursor, 3).await.unwrap();
        assert!(page.items.len() <= 3);
        for record in &page.items {
            assert_eq!(record.source.as_str(), "/klaxon/tests");
            assert_eq!(record.subject, id);
        }
        keys.extend(page.items.into_iter().map(|r| r.id));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let keys: Vec<&str> = keys.iter().map(|k| k.rsplit('/').next().unwrap()).collect();
    // Same instant: the order the domain produced them (b before a), not alphabetical.
    assert_eq!(
        keys,
        vec![
            "triggered",
            "alert.a0001.linked",
            "b1",
            "a1",
            "b2",
            "a2",
            "b0",
            "a0"
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Races injected between a read and the transaction that depends on it
// ---------------------------------------------------------------------------------------------

type Hook = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// A store that runs a hook (another writer) right before its first transaction: the caller
/// has read what it decides on, and the transaction must see the change.
#[derive(Clone)]
struct RacingStore<S> {
    inner: S,
    hook: Arc<Mutex<Option<Hook>>>,
}

impl<S: Store> Store for RacingStore<S> {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.inner.get(key).await
    }
    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), StoreError> {
        self.inner.put(item, condition).await
    }
    async fn update(
        &self,
        key: &Key,
        actions: Vec<UpdateAction>,
        condition: Option<Condition>,
        return_values: ReturnValues,
    ) -> Result<Option<Item>, StoreError> {
        self.inner
            .update(key, actions, condition, return_values)
            .await
    }
    async fn delete(
        &self,
        key: &Key,
        condition: Option<Condition>,
    ) -> Result<Option<Item>, StoreError> {
        self.inner.delete(key, condition).await
    }
    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        self.inner.query(query).await
    }
    async fn transact(&self, ops: Vec<TransactOp>) -> Result<(), StoreError> {
        let hook = self.hook.lock().unwrap().take();
        if let Some(hook) = hook {
            hook().await;
        }
        self.inner.transact(ops).await
    }
}

fn racing<S: Store + Clone>(f: &Fixture<S>, hook: Hook) -> Repository<RacingStore<S>> {
    let store = RacingStore {
        inner: f.store.clone(),
        hook: Arc::new(Mutex::new(Some(hook))),
    };
    Repository::new(store, f.clock.clone(), source())
}

async fn an_incident_resolved_while_linking_gets_a_successor<S: Store + Clone + 'static>(
    f: Fixture<S>,
) {
    new_incident(&f, "g", "inc1", 1).await;
    let other = f.repo.clone();
    let now = f.now();
    // Someone resolves inc1 after the linker read it open, before its link transaction.
    let repo = racing(
        &f,
        Box::new(move || {
            Box::pin(async move {
                let stored = other.incident(&incident_id("inc1")).await.unwrap().unwrap();
                let mut incident = stored.incident;
                incident.resolve(Actor::user(alice()), now).unwrap();
                other
                    .save_incident(&incident, stored.version, &[])
                    .await
                    .unwrap();
            })
        }),
    );
    let a = alert("d2", Severity::Warning, now);
    let linked = repo
        .find_or_create_incident(&group("g"), WINDOW, &alert_id(2), &a, &incident_id("inc2"))
        .await
        .unwrap();
    assert!(
        linked.created,
        "the link to the resolved incident was refused"
    );
    assert_eq!(linked.incident.incident.id(), &incident_id("inc2"));
    let old = f
        .repo
        .incident(&incident_id("inc1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(old.incident.status(), IncidentStatus::Resolved);
    assert_eq!(
        old.incident.alerts().linked,
        1,
        "the refused link left no count behind"
    );
    assert_eq!(
        f.repo
            .incident_alerts(&incident_id("inc1"))
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn an_alert_linking_while_the_last_one_resolves_keeps_the_incident_open<
    S: Store + Clone + 'static,
>(
    f: Fixture<S>,
) {
    let id = incident_id("inc1");
    new_incident(&f, "g", "inc1", 1).await;
    let other = f.repo.clone();
    let now = f.now();
    // A second alert links after the resolver read "one open alert", before its transaction.
    let repo = racing(
        &f,
        Box::new(move || {
            Box::pin(async move {
                let a = alert("d2", Severity::Warning, now);
                let linked = other
                    .find_or_create_incident(
                        &group("g"),
                        WINDOW,
                        &alert_id(2),
                        &a,
                        &incident_id("x"),
                    )
                    .await
                    .unwrap();
                assert!(linked.newly_linked && !linked.created);
            })
        }),
    );
    let outcome = repo
        .alert_resolved(
            &id,
            &alert_id(1),
            prom(),
            AutoResolve::WhenAllAlertsResolve,
            now,
        )
        .await
        .unwrap();
    assert_eq!(
        outcome.incident.incident.status(),
        IncidentStatus::Triggered
    );
    assert_eq!(outcome.effects.len(), 1, "only the alert.resolved entry");
    let stored = f.repo.incident(&id).await.unwrap().unwrap();
    assert_eq!(stored.incident.status(), IncidentStatus::Triggered);
    assert_eq!(
        (
            stored.incident.alerts().linked,
            stored.incident.alerts().open
        ),
        (2, 1)
    );
    assert_eq!(stored.version, 1);
    // The second alert resolving now closes it.
    let last = f
        .repo
        .alert_resolved(
            &id,
            &alert_id(2),
            prom(),
            AutoResolve::WhenAllAlertsResolve,
            now,
        )
        .await
        .unwrap();
    assert_eq!(last.incident.incident.status(), IncidentStatus::Resolved);
}

// ---------------------------------------------------------------------------------------------
// Deliveries, idempotency, overrides
// ---------------------------------------------------------------------------------------------

async fn deliveries_are_claimed_once_and_finished_by_their_claimer<S: Store>(f: Fixture<S>) {
    let id = incident_id("inc1");
    new_incident(&f, "g", "inc1", 1).await;
    let request = PageRequest {
        incident: id.clone(),
        policy: PolicyId::new("infra").unwrap(),
        round: 0,
        tier: 1,
        targets: vec![Target::User(alice())],
        urgency: Urgency::High,
        resolve_at: f.now(),
    };
    let email = Delivery::page(&request, &alice(), Channel::Email);
    assert_eq!(email.key, format!("{id}/r0/t1/alice/email"));
    let stale = HumanDuration::from_mins(5);
    let delivered = |attempt| {
        TimelineDraft::new(
            id.clone(),
            EntryKey::new(format!("delivery.email.{attempt}")).unwrap(),
            t0(),
            Actor::system("notify"),
            TimelineEntry::NotificationDelivered {
                user: alice(),
                channel: Channel::Email,
                round: 0,
                tier: 1,
                provider_id: Some("m-1".into()),
            },
        )
    };
    assert_eq!(
        f.repo.claim_delivery(&email, stale).await.unwrap(),
        Claim::Claimed { attempt: 1 }
    );
    assert_eq!(
        f.repo.claim_delivery(&email, stale).await.unwrap(),
        Claim::InFlight
    );
    // Only the holder of the current attempt may finish it.
    match f
        .repo
        .finish_delivery(
            &id,
            &email.key,
            2,
            &DeliveryOutcome::Sent { provider_id: None },
            &delivered(2),
        )
        .await
    {
        Err(RepoError::Conflict { .. }) => {}
        other => panic!("expected Conflict, got {other:?}"),
    }
    f.repo
        .finish_delivery(
            &id,
            &email.key,
            1,
            &DeliveryOutcome::Sent {
                provider_id: Some("m-1".into()),
            },
            &delivered(1),
        )
        .await
        .unwrap();
    assert_eq!(
        f.repo.claim_delivery(&email, stale).await.unwrap(),
        Claim::AlreadySent
    );
    // Finishing twice is refused and records nothing.
    assert!(matches!(
        f.repo
            .finish_delivery(
                &id,
                &email.key,
                1,
                &DeliveryOutcome::Sent { provider_id: None },
                &delivered(9)
            )
            .await,
        Err(RepoError::Conflict { .. })
    ));
    // SMS: a transient failure lets the next claim retry; a crashed sender's claim goes stale.
    let sms = Delivery::page(&request, &alice(), Channel::Sms);
    let failed = TimelineDraft::new(
        id.clone(),
        EntryKey::new("delivery.sms.1").unwrap(),
        t0(),
        Actor::system("notify"),
        TimelineEntry::NotificationFailed {
            user: alice(),
            channel: Channel::Sms,
            round: 0,
            tier: 1,
            error: "throttled".into(),
            retrying: true,
        },
    );
    assert_eq!(
        f.repo.claim_delivery(&sms, stale).await.unwrap(),
        Claim::Claimed { attempt: 1 }
    );
    f.repo
        .finish_delivery(
            &id,
            &sms.key,
            1,
            &DeliveryOutcome::Failed {
                permanent: false,
                error: "throttled".into(),
            },
            &failed,
        )
        .await
        .unwrap();
    assert_eq!(
        f.repo.claim_delivery(&sms, stale).await.unwrap(),
        Claim::Claimed { attempt: 2 }
    );
    f.advance(stale.as_secs() - 1);
    assert_eq!(
        f.repo.claim_delivery(&sms, stale).await.unwrap(),
        Claim::InFlight
    );
    f.advance(2);
    assert_eq!(
        f.repo.claim_delivery(&sms, stale).await.unwrap(),
        Claim::Claimed { attempt: 3 }
    );
    // A notice that fails for good is never sent again.
    let notice = Delivery::notice(&id, "acknowledged", &alice(), Channel::Slack);
    assert_eq!(notice.key, format!("{id}/notice/acknowledged/alice/slack"));
    assert_eq!(
        f.repo.claim_delivery(&notice, stale).await.unwrap(),
        Claim::Claimed { attempt: 1 }
    );
    let mut gone = failed.clone();
    gone.key = EntryKey::new("notice.slack").unwrap();
    f.repo
        .finish_delivery(
            &id,
            &notice.key,
            1,
            &DeliveryOutcome::Failed {
                permanent: true,
                error: "channel_not_found".into(),
            },
            &gone,
        )
        .await
        .unwrap();
    assert_eq!(
        f.repo.claim_delivery(&notice, stale).await.unwrap(),
        Claim::FailedPermanently
    );
    let records = f.repo.deliveries(&id).await.unwrap();
    let summary: Vec<(Channel, DeliveryStatus, u32)> = records
        .iter()
        .map(|r| (r.channel, r.status, r.attempt))
        .collect();
    assert_eq!(
        summary,
        vec![
            (Channel::Slack, DeliveryStatus::FailedPermanent, 1),
            (Channel::Email, DeliveryStatus::Sent, 1),
            (Channel::Sms, DeliveryStatus::Claimed, 3),
        ]
    );
    assert_eq!(records[1].provider_id.as_deref(), Some("m-1"));
    assert_eq!(
        records[1].purpose,
        DeliveryPurpose::Page { round: 0, tier: 1 }
    );
    assert_eq!(records[0].error.as_deref(), Some("channel_not_found"));
    let entries = types(&all_timeline(&f, &id).await);
    assert_eq!(
        entries
            .iter()
            .filter(|t| t.starts_with("io.klaxon.notification"))
            .count(),
        3,
        "one entry per finished attempt, none for refused finishes"
    );
}

async fn idempotency_records_expire<S: Store>(f: Fixture<S>) {
    let ttl = HumanDuration::from_mins(10);
    assert_eq!(
        f.repo
            .begin_idempotent("ack-link", "token-1", ttl)
            .await
            .unwrap(),
        Begin::New
    );
    assert_eq!(
        f.repo
            .begin_idempotent("ack-link", "token-1", ttl)
            .await
            .unwrap(),
        Begin::InProgress
    );
    // Another scope or id is independent.
    assert_eq!(
        f.repo
            .begin_idempotent("slack", "token-1", ttl)
            .await
            .unwrap(),
        Begin::New
    );
    f.repo
        .complete_idempotent("ack-link", "token-1", ttl)
        .await
        .unwrap();
    assert_eq!(
        f.repo
            .begin_idempotent("ack-link", "token-1", ttl)
            .await
            .unwrap(),
        Begin::Done
    );
    // Expired (TTL is enforced on read, even where the store deletes late): new again.
    f.advance(ttl.as_secs());
    assert_eq!(
        f.repo
            .begin_idempotent("ack-link", "token-1", ttl)
            .await
            .unwrap(),
        Begin::New
    );
    // An in-progress record of a crashed handler expires too.
    f.advance(ttl.as_secs() - 1);
    assert_eq!(
        f.repo
            .begin_idempotent("ack-link", "token-1", ttl)
            .await
            .unwrap(),
        Begin::InProgress
    );
    f.advance(1);
    assert_eq!(
        f.repo
            .begin_idempotent("ack-link", "token-1", ttl)
            .await
            .unwrap(),
        Begin::New
    );
    let long_id = "x".repeat(2000);
    assert_eq!(
        f.repo
            .begin_idempotent("ack-link", &long_id, ttl)
            .await
            .unwrap(),
        Begin::New
    );
}

async fn overrides_are_ordered_by_start_then_creation<S: Store>(f: Fixture<S>) {
    let schedule = ScheduleId::new("primary").unwrap();
    let hour = |h: i64| t0() + Duration::hours(h);
    let make = |id: &str, user: &str, start: i64, end: i64| Override {
        id: id.to_owned(),
        schedule: schedule.clone(),
        user: UserId::new(user).unwrap(),
        start: hour(start),
        end: hour(end),
    };
    let by = Actor::user(alice());
    // Created out of start order; "late" and "later" start together, "later" created last.
    for o in [
        make("later", "carol", 10, 12),
        make("past", "dave", 0, 2),
        make("early", "bob", 5, 11),
        make("future", "erin", 30, 31),
    ] {
        f.repo.create_override(&o, &by).await.unwrap();
        f.advance(1);
    }
    f.repo
        .create_override(&make("zz-late", "frank", 10, 13), &by)
        .await
        .unwrap();
    let found: Vec<String> = f
        .repo
        .overrides(&schedule, hour(3), hour(24))
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.id)
        .collect();
    assert_eq!(found, vec!["early", "later", "zz-late"]);
    // Boundaries: end is exclusive, start is inclusive.
    let at_end = f.repo.overrides(&schedule, hour(2), hour(5)).await.unwrap();
    assert!(at_end.is_empty(), "{at_end:?}");
    let touching = f.repo.overrides(&schedule, hour(1), hour(5)).await.unwrap();
    assert_eq!(touching.len(), 1);
    assert_eq!(touching[0], make("past", "dave", 0, 2));
    assert!(
        f.repo
            .overrides(&schedule, hour(5), hour(5))
            .await
            .unwrap()
            .is_empty()
    );
    // Ids are unique per schedule.
    match f
        .repo
        .create_override(&make("early", "zed", 40, 41), &by)
        .await
    {
        Err(RepoError::AlreadyExists { .. }) => {}
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    assert!(matches!(
        f.repo.create_override(&make("bad", "zed", 5, 5), &by).await,
        Err(RepoError::Invalid { .. })
    ));
    // Another schedule sees none of them.
    let other = ScheduleId::new("secondary").unwrap();
    assert!(
        f.repo
            .overrides(&other, hour(0), hour(48))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(f.repo.delete_override(&schedule, "early").await.unwrap());
    assert!(!f.repo.delete_override(&schedule, "early").await.unwrap());
    assert!(!f.repo.delete_override(&other, "later").await.unwrap());
    let left: Vec<String> = f
        .repo
        .overrides(&schedule, hour(0), hour(48))
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.id)
        .collect();
    assert_eq!(left, vec!["past", "later", "zz-late", "future"]);
    // The id is free again.
    f.repo
        .create_override(&make("early", "bob", 5, 6), &by)
        .await
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// Corruption and validation
// ---------------------------------------------------------------------------------------------

async fn corrupt_items_are_typed_errors<S: Store>(f: Fixture<S>) {
    new_incident(&f, "g", "inc1", 1).await;
    let key = schema::incident_key("inc1");
    // The document names a status the domain does not know.
    let item = f.store.get(&key).await.unwrap().unwrap();
    let AttributeValue::S(json) = item.get("incident").unwrap().clone() else {
        panic!("incident document is not text");
    };
    let broken = json.replace("\"triggered\"", "\"on-fire\"");
    f.store
        .update(
            &key,
            vec![UpdateAction::set("incident", s(broken))],
            None,
            ReturnValues::None,
        )
        .await
        .unwrap();
    match f.repo.incident(&incident_id("inc1")).await {
        Err(RepoError::Corrupt { attribute, .. }) => assert_eq!(attribute, "incident.status"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    // A counter that is not a number.
    f.store
        .update(
            &key,
            vec![UpdateAction::set("alerts_open", s("many"))],
            None,
            ReturnValues::None,
        )
        .await
        .unwrap();
    match f.repo.open_incidents(None, 10).await {
        Err(RepoError::Corrupt { attribute, .. }) => assert_eq!(attribute, "alerts_open"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    // An alert whose compressed body is not gzip.
    let a = alert("d9", Severity::Info, f.now());
    f.repo
        .record_firing(&a, &alert_id(9), &group("g"))
        .await
        .unwrap();
    let record_key = Key::new(f_pk(&a.key()), schema::OCCURRENCE);
    f.store
        .update(
            &record_key,
            vec![UpdateAction::set(
                "body",
                AttributeValue::B(b"garbage".to_vec()),
            )],
            None,
            ReturnValues::None,
        )
        .await
        .unwrap();
    match f.repo.alert(&a.key()).await {
        Err(RepoError::Corrupt { attribute, .. }) => assert_eq!(attribute, "body"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    // A key record with a kind nobody knows.
    let hash = "f".repeat(64);
    f.repo
        .create_key(
            &hash,
            &KeyRecord {
                kind: KeyKind::Api,
                name: "ci".into(),
                label: None,
                created_at: t0(),
            },
        )
        .await
        .unwrap();
    f.store
        .update(
            &Key::new(format!("{}{hash}", schema::API_KEY), schema::KEY),
            vec![UpdateAction::set("kind", s("root"))],
            None,
            ReturnValues::None,
        )
        .await
        .unwrap();
    match f.repo.key(&hash).await {
        Err(RepoError::Corrupt { attribute, .. }) => assert_eq!(attribute, "kind"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

async fn invalid_arguments_are_refused_before_writing<S: Store>(f: Fixture<S>) {
    let record = KeyRecord {
        kind: KeyKind::Api,
        name: "ci".into(),
        label: None,
        created_at: t0(),
    };
    for bad in ["", "ABC", &"g".repeat(64), &"a".repeat(63)] {
        assert!(
            matches!(
                f.repo.create_key(bad, &record).await,
                Err(RepoError::Invalid { .. })
            ),
            "{bad}"
        );
    }
    let mut resolved = alert("r", Severity::Info, f.now());
    resolved.status = AlertStatus::Resolved;
    match f
        .repo
        .record_firing(&resolved, &alert_id(1), &group("g"))
        .await
    {
        Err(RepoError::Invalid { field, .. }) => assert_eq!(field, "alert.status"),
        other => panic!("expected Invalid, got {other:?}"),
    }
    let firing = alert("r", Severity::Info, f.now());
    assert!(matches!(
        f.repo
            .record_firing(&firing, &alert_id(1), &group(""))
            .await,
        Err(RepoError::Invalid { .. })
    ));
    // A resolved alert cannot open an incident (the domain refuses; nothing is written).
    match f
        .repo
        .find_or_create_incident(
            &group("g"),
            WINDOW,
            &alert_id(1),
            &resolved,
            &incident_id("i"),
        )
        .await
    {
        Err(RepoError::Domain(_)) => {}
        other => panic!("expected a domain error, got {other:?}"),
    }
    assert_eq!(f.repo.incident(&incident_id("i")).await.unwrap(), None);
    assert!(matches!(
        f.repo
            .begin_idempotent("a#b", "x", HumanDuration::from_mins(1))
            .await,
        Err(RepoError::Invalid { .. })
    ));
    let page: Page = f.store.query(&Query::table(schema::COUNTER)).await.unwrap();
    assert!(page.items.is_empty(), "no incident number was taken");
}

// ---------------------------------------------------------------------------------------------
// Measured cost of the two hot flows
// ---------------------------------------------------------------------------------------------

/// Request and capacity-unit counts, by DynamoDB's pricing rules: a write unit per started KB of
/// the larger of the item before and after (at least one, also for a failed condition), doubled
/// inside transactions; a read unit per started 4 KB (strongly consistent; half on an index);
/// and one index write per index partition an item enters, leaves or changes in (two when it
/// moves between partitions).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Cost {
    requests: BTreeMap<&'static str, u32>,
    transaction_items: u32,
    write_units: u32,
    index_write_units: u32,
    read_units_x2: u32,
}

impl Cost {
    fn total_requests(&self) -> u32 {
        self.requests.values().sum()
    }
}

/// A store decorator that counts what the repository asks of the store. It peeks at items
/// before and after each write through the inner store (not counted) to size them.
#[derive(Clone)]
struct CountingStore<S> {
    inner: S,
    cost: Arc<Mutex<Cost>>,
}

fn kb(size: usize, unit: usize) -> u32 {
    u32::try_from(size.div_ceil(unit).max(1)).unwrap()
}

fn index_writes(before: Option<&Item>, after: Option<&Item>) -> u32 {
    let size = before
        .map(item_size)
        .unwrap_or(0)
        .max(after.map(item_size).unwrap_or(0));
    let mut units = 0;
    for index in Index::SECONDARY {
        let old = before.and_then(|i| index.key_of(i));
        let new = after.and_then(|i| index.key_of(i));
        let writes = match (old, new) {
            (None, None) => 0,
            (Some(a), Some(b)) if a == b => u32::from(before != after),
            (Some(_), Some(_)) => 2,
            _ => 1,
        };
        units += writes * kb(size, 1024);
    }
    units
}

impl<S: Store> CountingStore<S> {
    fn record(&self, request: &'static str, f: impl FnOnce(&mut Cost)) {
        let mut cost = self.cost.lock().unwrap();
        *cost.requests.entry(request).or_default() += 1;
        f(&mut cost);
    }

    async fn write_cost(&self, key: &Key, before: Option<Item>, factor: u32) -> (u32, u32) {
        let after = self.inner.get(key).await.unwrap();
        let size = before
            .as_ref()
            .map(item_size)
            .unwrap_or(0)
            .max(after.as_ref().map(item_size).unwrap_or(0));
        (
            kb(size, 1024) * factor,
            index_writes(before.as_ref(), after.as_ref()),
        )
    }

    fn take(&self) -> Cost {
        std::mem::take(&mut *self.cost.lock().unwrap())
    }
}

impl<S: Store> Store for CountingStore<S> {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let result = self.inner.get(key).await;
        let size = result
            .as_ref()
            .ok()
            .and_then(|i| i.as_ref())
            .map_or(0, item_size);
        self.record("GetItem", |c| c.read_units_x2 += 2 * kb(size, 4096));
        result
    }

    async fn put(
        &self,
        item: Item,
        condition: Option<klaxon_store::Condition>,
    ) -> Result<(), StoreError> {
        let key = Key::of_item(&item).unwrap();
        let before = self.inner.get(&key).await.unwrap();
        let result = self.inner.put(item, condition).await;
        let (units, index) = match &result {
            Ok(()) => self.write_cost(&key, before, 1).await,
            Err(_) => (kb(before.as_ref().map_or(0, item_size), 1024), 0),
        };
        self.record("PutItem", |c| {
            c.write_units += units;
            c.index_write_units += index;
        });
        result
    }

    async fn update(
        &self,
        key: &Key,
        actions: Vec<UpdateAction>,
        condition: Option<klaxon_store::Condition>,
        return_values: ReturnValues,
    ) -> Result<Option<Item>, StoreError> {
        let before = self.inner.get(key).await.unwrap();
        let result = self
            .inner
            .update(key, actions, condition, return_values)
            .await;
        let (units, index) = match &result {
            Ok(_) => self.write_cost(key, before, 1).await,
            Err(_) => (kb(before.as_ref().map_or(0, item_size), 1024), 0),
        };
        self.record("UpdateItem", |c| {
            c.write_units += units;
            c.index_write_units += index;
        });
        result
    }

    async fn delete(
        &self,
        key: &Key,
        condition: Option<klaxon_store::Condition>,
    ) -> Result<Option<Item>, StoreError> {
        let before = self.inner.get(key).await.unwrap();
        let result = self.inner.delete(key, condition).await;
        let (units, index) = match &result {
            Ok(_) => self.write_cost(key, before, 1).await,
            Err(_) => (1, 0),
        };
        self.record("DeleteItem", |c| {
            c.write_units += units;
            c.index_write_units += index;
        });
        result
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        let result = self.inner.query(query).await;
        let size: usize = result
            .as_ref()
            .map(|p| p.items.iter().map(item_size).sum())
            .unwrap_or(0);
        let consistent = query.index == Index::Table;
        self.record("Query", |c| {
            c.read_units_x2 += kb(size, 4096) * if consistent { 2 } else { 1 }
        });
        result
    }

    async fn transact(&self, ops: Vec<TransactOp>) -> Result<(), StoreError> {
        let keys: Vec<Key> = ops
            .iter()
            .map(|op| match op {
                TransactOp::Put { item, .. } => Key::of_item(item).unwrap(),
                TransactOp::Update { key, .. }
                | TransactOp::Delete { key, .. }
                | TransactOp::ConditionCheck { key, .. } => key.clone(),
            })
            .collect();
        let mut befores = Vec::new();
        for key in &keys {
            befores.push(self.inner.get(key).await.unwrap());
        }
        let count = u32::try_from(ops.len()).unwrap();
        let result = self.inner.transact(ops).await;
        let mut units = 0;
        let mut index = 0;
        for (key, before) in keys.iter().zip(befores) {
            let (u, i) = match &result {
                Ok(()) => self.write_cost(key, before, 2).await,
                Err(_) => (2 * kb(before.as_ref().map_or(0, item_size), 1024), 0),
            };
            units += u;
            index += i;
        }
        self.record("TransactWriteItems", |c| {
            c.transaction_items += count;
            c.write_units += units;
            c.index_write_units += index;
        });
        result
    }
}

fn report(flow: &str, cost: &Cost) {
    println!(
        "{flow}: {} requests {:?}, {} transaction items, {} write units (transactions doubled), \
         {} index write units, {} read units",
        cost.total_requests(),
        cost.requests,
        cost.transaction_items,
        cost.write_units,
        cost.index_write_units,
        f64::from(cost.read_units_x2) / 2.0
    );
}

async fn measure_cost<S: Store + Clone>(store: S, clock: Arc<ManualClock>) {
    let counting = CountingStore {
        inner: store,
        cost: Arc::default(),
    };
    let repo = Repository::new(counting.clone(), clock.clone(), source());
    let first = alert("disk-full", Severity::Error, clock.now());
    let key = first.key();

    // New incident: ingest records a new occurrence; grouping creates the incident, links the
    // alert and takes it off the ungrouped list.
    let firing = repo
        .record_firing(&first, &alert_id(1), &group("g"))
        .await
        .unwrap();
    assert_eq!(
        firing,
        Firing::New {
            alert_id: alert_id(1)
        }
    );
    let ingest = counting.take();
    report("new alert (ingest)", &ingest);
    let linked = repo
        .find_or_create_incident(
            &group("g"),
            WINDOW,
            &alert_id(1),
            &first,
            &incident_id("inc1"),
        )
        .await
        .unwrap();
    assert!(linked.created);
    repo.mark_grouped(&key, &alert_id(1), &incident_id("inc1"))
        .await
        .unwrap();
    let grouping = counting.take();
    report("new incident (grouping)", &grouping);

    // Duplicate: a repeat of the open alert.
    clock.advance(Duration::seconds(60));
    let repeat = alert("disk-full", Severity::Error, clock.now());
    assert!(matches!(
        repo.record_firing(&repeat, &alert_id(2), &group("g"))
            .await
            .unwrap(),
        Firing::Repeat { count: 2, .. }
    ));
    let duplicate = counting.take();
    report("duplicate alert (ingest)", &duplicate);

    // Another alert of the group joining the open incident.
    let second = alert("disk-slow", Severity::Warning, clock.now());
    repo.record_firing(&second, &alert_id(3), &group("g"))
        .await
        .unwrap();
    counting.take();
    repo.find_or_create_incident(
        &group("g"),
        WINDOW,
        &alert_id(3),
        &second,
        &incident_id("x"),
    )
    .await
    .unwrap();
    repo.mark_grouped(&second.key(), &alert_id(3), &incident_id("inc1"))
        .await
        .unwrap();
    let join = counting.take();
    report("alert joining an open incident (grouping)", &join);

    // Item sizes (DynamoDB's rules) of the items these flows wrote, for the doc's size column.
    let inner = &counting.inner;
    let sized = [
        (
            "alert dedup record",
            Key::new(f_pk(&key), schema::OCCURRENCE),
        ),
        ("incident", schema::incident_key("inc1")),
        (
            "group pointer",
            Key::new(format!("{}g", schema::GROUP), schema::POINTER),
        ),
        (
            "alert link",
            Key::new(
                format!("{}{}", schema::ALERT_LINK, alert_id(1)),
                schema::LINK,
            ),
        ),
        (
            "counter",
            Key::new(schema::COUNTER, schema::INCIDENT_NUMBER),
        ),
    ];
    for (what, key) in sized {
        let item = inner.get(&key).await.unwrap().unwrap();
        println!("size of {what}: {} bytes", item_size(&item));
    }
    let timeline = inner
        .query(&Query::table(schema::incident_partition("inc1")).sort(
            klaxon_store::SortCondition::BeginsWith(schema::TIMELINE.to_owned()),
        ))
        .await
        .unwrap();
    for item in &timeline.items {
        println!("size of timeline entry: {} bytes", item_size(item));
    }

    // The figures docs/data-model.md states.
    assert_eq!(
        duplicate.requests,
        BTreeMap::from([("UpdateItem", 1)]),
        "a duplicate costs exactly one write request"
    );
    assert_eq!(duplicate.write_units, 1);
    assert_eq!(duplicate.index_write_units, 0);
    assert_eq!(
        ingest.requests,
        BTreeMap::from([("PutItem", 1), ("UpdateItem", 1)])
    );
    assert_eq!((ingest.write_units, ingest.index_write_units), (2, 1));
    assert_eq!(
        grouping.requests,
        BTreeMap::from([("GetItem", 1), ("TransactWriteItems", 1), ("UpdateItem", 2)])
    );
    assert_eq!(grouping.transaction_items, 5);
    assert_eq!((grouping.write_units, grouping.index_write_units), (12, 4));
    assert_eq!(
        join.requests,
        BTreeMap::from([("GetItem", 2), ("TransactWriteItems", 1), ("UpdateItem", 1)])
    );
    assert_eq!(join.transaction_items, 3);
    assert_eq!((join.write_units, join.index_write_units), (7, 4));
    assert_eq!(
        [&duplicate, &ingest, &grouping, &join].map(|c| c.read_units_x2),
        [0, 0, 2, 4],
        "read units ×2: a duplicate and a new alert read nothing; grouping reads the pointer \
         (and, to join, the incident) strongly consistently"
    );

    // Every figure of the doc's cost table is the measured one.
    let doc = std::fs::read_to_string(workspace_root().join("docs/data-model.md")).unwrap();
    let table = documented_costs(&doc);
    for (flow, cost) in [
        ("duplicate alert (ingest)", &duplicate),
        ("new alert (ingest)", &ingest),
        ("new incident (grouping)", &grouping),
        ("alert joining an open incident (grouping)", &join),
    ] {
        let documented = table
            .get(flow)
            .unwrap_or_else(|| panic!("docs/data-model.md has no cost row for {flow:?}"));
        let measured = DocumentedCost {
            requests: cost.total_requests(),
            write_units: cost.write_units,
            index_write_units: cost.index_write_units,
            read_units_x2: cost.read_units_x2,
        };
        assert_eq!(
            *documented, measured,
            "docs/data-model.md's cost row for {flow:?}"
        );
    }
}

/// One row of the doc's cost table (read units doubled, to keep halves exact).
#[derive(Debug, PartialEq, Eq)]
struct DocumentedCost {
    requests: u32,
    write_units: u32,
    index_write_units: u32,
    read_units_x2: u32,
}

/// The rows of the table headed `| flow | requests | write units … | index write units | read
/// units |`, by flow (the first cell up to its colon).
fn documented_costs(doc: &str) -> BTreeMap<String, DocumentedCost> {
    let mut rows = BTreeMap::new();
    let mut in_table = false;
    for line in doc.lines().map(str::trim) {
        if !line.starts_with('|') {
            in_table = false;
            continue;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        if cells.first() == Some(&"flow") {
            assert_eq!(
                cells.get(4),
                Some(&"read units"),
                "the cost table's columns changed: {line}"
            );
            in_table = true;
            continue;
        }
        if !in_table || cells.iter().all(|c| c.chars().all(|c| c == '-')) {
            continue;
        }
        let number = |i: usize| -> f64 {
            cells[i]
                .parse()
                .unwrap_or_else(|_| panic!("cost table cell {i} of {line:?} is not a number"))
        };
        let flow = cells[0].split(':').next().unwrap().trim().to_owned();
        rows.insert(
            flow,
            DocumentedCost {
                requests: number(1) as u32,
                write_units: number(2) as u32,
                index_write_units: number(3) as u32,
                read_units_x2: (number(4) * 2.0) as u32,
            },
        );
    }
    rows
}

#[tokio::test]
async fn cost_of_duplicate_alert_and_new_incident_sqlite() {
    let clock = manual_clock();
    let store = SqliteStore::open_in_memory(clock.clone()).unwrap();
    measure_cost(store, clock).await;
}

#[tokio::test]
async fn cost_of_duplicate_alert_and_new_incident_dynamodb() {
    let clock = manual_clock();
    let store = dynamo_store(clock.clone()).await;
    measure_cost(store, clock).await;
}

// ---------------------------------------------------------------------------------------------
// docs/data-model.md stays in step with the code
// ---------------------------------------------------------------------------------------------

/// The key literals written in the key columns (`pk`, `sk`, `index key`) of the access-pattern
/// table: code spans with `<placeholders>` removed, split into `UPPER_CASE#` words.
fn documented_key_literals(doc: &str) -> BTreeSet<String> {
    let mut literals = BTreeSet::new();
    let mut columns: Option<Vec<usize>> = None;
    for line in doc.lines() {
        let line = line.trim();
        if !line.starts_with('|') {
            columns = None;
            continue;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        match &columns {
            None => {
                let wanted: Vec<usize> = cells
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| matches!(**c, "pk" | "sk" | "index key"))
                    .map(|(i, _)| i)
                    .collect();
                if wanted.len() == 3 {
                    columns = Some(wanted);
                }
            }
            Some(wanted) => {
                for &column in wanted {
                    let Some(cell) = cells.get(column) else {
                        continue;
                    };
                    for (i, span) in cell.split('`').enumerate() {
                        if i % 2 == 0 {
                            continue; // outside a code span
                        }
                        let mut text = String::new();
                        let mut depth = 0;
                        for c in span.chars() {
                            match c {
                                '<' => depth += 1,
                                '>' => depth -= 1,
                                _ if depth == 0 => text.push(c),
                                _ => {}
                            }
                        }
                        let mut word = String::new();
                        for c in text.chars().chain(std::iter::once(' ')) {
                            if c.is_ascii_uppercase() || c == '_' {
                                word.push(c);
                            } else {
                                if !word.is_empty() {
                                    if c == '#' {
                                        word.push('#');
                                    }
                                    literals.insert(std::mem::take(&mut word));
                                }
                                word.clear();
                            }
                        }
                    }
                }
            }
        }
    }
    literals
}

#[test]
fn data_model_doc_names_exactly_the_key_literals_the_code_uses() {
    let doc = std::fs::read_to_string(workspace_root().join("docs/data-model.md"))
        .expect("docs/data-model.md exists");
    let documented = documented_key_literals(&doc);
    let code: BTreeSet<String> = schema::ALL.iter().map(|s| (*s).to_owned()).collect();
    let missing: Vec<&String> = code.difference(&documented).collect();
    let unknown: Vec<&String> = documented.difference(&code).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "docs/data-model.md's access-pattern table is out of step with \
         klaxon_store::repo::schema: not documented {missing:?}, not in the code {unknown:?}"
    );
}

#[test]
fn the_doc_check_finds_literals_and_ignores_placeholders() {
    let doc = "| pattern | pk | sk | index key |\n|---|---|---|---|\n\
               | x | `ALERT#<integration>#<sha>` | `OCCURRENCE` | gsi1 `UNGROUPED` / `<time>#<id>` |\n\
               | y | `CONFIG` | `VERSION#<n:020>#PART#<n:03>` | — |\n\n\
               | other | `NOT_A_KEY` |\n";
    let found = documented_key_literals(doc);
    let expected: BTreeSet<String> = [
        "ALERT#",
        "OCCURRENCE",
        "UNGROUPED",
        "CONFIG",
        "VERSION#",
        "PART#",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(found, expected);
}

#[test]
fn incident_keys_are_the_documented_shape() {
    assert_eq!(
        schema::incident_key("0192abcd"),
        Key::new("INCIDENT#0192abcd", "META")
    );
    let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    assert_eq!(schema::sort_time(at), "2026-01-01T00:00:00.000000000Z");
}

// ---------------------------------------------------------------------------------------------
// docs/data-model.md's key templates are what the key builders produce
// ---------------------------------------------------------------------------------------------

/// The key templates of one access-pattern row: `pk`, `sk` and each index key
/// (`gsiN`, partition, optional sort), as the doc writes them.
#[derive(Debug, Default)]
struct DocumentedKeys {
    entity: String,
    pk: Option<String>,
    sk: Option<String>,
    index: Vec<(String, String, Option<String>)>,
}

/// The code spans and the text between them, in order: `(text, false)` / `(code, true)`.
fn spans(cell: &str) -> Vec<(&str, bool)> {
    cell.split('`')
        .enumerate()
        .map(|(i, part)| (part, i % 2 == 1))
        .collect()
}

/// Index keys written as ``gsiN `partition` / `sort` `` (the sort part optional).
fn index_keys(cell: &str) -> Vec<(String, String, Option<String>)> {
    let parts = spans(cell);
    let mut keys = Vec::new();
    let mut i = 0;
    while i + 1 < parts.len() {
        let (text, code) = parts[i];
        let index = text.trim_end().rsplit(' ').next().unwrap_or("");
        if !code && index.starts_with("gsi") && parts[i + 1].1 {
            let partition = parts[i + 1].0.to_owned();
            let sort = match (parts.get(i + 2), parts.get(i + 3)) {
                (Some((slash, false)), Some((sort, true))) if slash.trim() == "/" => {
                    i += 2;
                    Some((*sort).to_owned())
                }
                _ => None,
            };
            keys.push((index.to_owned(), partition, sort));
            i += 2;
        } else {
            i += 1;
        }
    }
    keys
}

/// The access-pattern table's rows by number.
fn documented_keys(doc: &str) -> BTreeMap<u32, DocumentedKeys> {
    let mut rows = BTreeMap::new();
    let mut columns: Option<BTreeMap<&str, usize>> = None;
    for line in doc.lines().map(str::trim) {
        if !line.starts_with('|') {
            columns = None;
            continue;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let Some(wanted) = &columns else {
            let named: BTreeMap<&str, usize> =
                cells.iter().enumerate().map(|(i, c)| (*c, i)).collect();
            if ["#", "entity", "pk", "sk", "index key"]
                .iter()
                .all(|c| named.contains_key(c))
            {
                columns = Some(named);
            }
            continue;
        };
        let Ok(number) = cells[wanted["#"]].parse::<u32>() else {
            continue; // the separator line
        };
        let code = |column: &str| {
            spans(cells[wanted[column]])
                .into_iter()
                .find(|(_, code)| *code)
                .map(|(span, _)| span.to_owned())
        };
        rows.insert(
            number,
            DocumentedKeys {
                entity: cells[wanted["entity"]].to_owned(),
                pk: code("pk"),
                sk: code("sk"),
                index: index_keys(cells[wanted["index key"]]),
            },
        );
    }
    rows
}

/// Fills a template's `<name>` and `<name:0W>` placeholders (the latter a number zero-padded to
/// W digits) from `values`.
fn render(template: &str, values: &BTreeMap<&str, String>) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('>').expect("a closed placeholder") + open;
        let placeholder = &rest[open + 1..close];
        let (name, width) = match placeholder.split_once(':') {
            Some((name, spec)) => {
                let width: usize = spec
                    .strip_prefix('0')
                    .and_then(|w| w.parse().ok())
                    .unwrap_or_else(|| panic!("<{placeholder}>: width must be 0W"));
                (name, Some(width))
            }
            None => (placeholder, None),
        };
        let value = values
            .get(name)
            .unwrap_or_else(|| panic!("no value for <{placeholder}> in {template:?}"));
        match width {
            Some(width) => {
                assert!(value.bytes().all(|b| b.is_ascii_digit()), "{name}: {value}");
                out.push_str(&format!("{value:0>width$}"));
            }
            None => out.push_str(value),
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

fn sha256_hex(text: &str) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What the code builds for one row.
struct Built {
    row: u32,
    entity: &'static str,
    key: Option<Key>,
    index: Vec<(&'static str, String, Option<String>)>,
}

#[test]
fn data_model_doc_key_templates_are_what_the_key_builders_build() {
    let doc = std::fs::read_to_string(workspace_root().join("docs/data-model.md")).unwrap();
    let rows = documented_keys(&doc);
    let at = Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap() + Duration::nanoseconds(5);
    let time = schema::sort_time(at);
    let hash = sha256_hex("secret");
    let alert_key = AlertKey {
        integration: integration("prom"),
        dedup_key: DedupKey::new("disk full on db-1").unwrap(),
    };
    let record = schema::alert_record_key(&alert_key);
    let values: BTreeMap<&str, String> = [
        ("sha256 hex", hash.clone()),
        ("kind", "integration".to_owned()),
        ("name", "prom".to_owned()),
        ("hash", hash.clone()),
        ("n", "7".to_owned()),
        ("i", "2".to_owned()),
        ("integration", "prom".to_owned()),
        ("sha256(dedup key)", sha256_hex("disk full on db-1")),
        ("alert id", "a0001".to_owned()),
        ("received", time.clone()),
        ("group key", "db/disk".to_owned()),
        ("incident id", "inc1".to_owned()),
        ("id", "inc1".to_owned()),
        ("linked", time.clone()),
        ("created", time.clone()),
        ("number", "42".to_owned()),
        ("time", time.clone()),
        ("entry key", "alert.linked-a0001".to_owned()),
        ("due", time.clone()),
        ("delivery key", "inc1/r0/t0/alice/email".to_owned()),
        ("scope", "ack".to_owned()),
        ("sha256(id)", sha256_hex("token-1")),
        ("schedule id", "primary".to_owned()),
        ("end", time.clone()),
    ]
    .into_iter()
    .collect();
    // Where a row's placeholders mean other inputs than `values` gives, they are overridden.
    let with = |overrides: &[(&'static str, &str)]| {
        let mut values = values.clone();
        for (name, value) in overrides {
            values.insert(name, (*value).to_owned());
        }
        values
    };
    let built = [
        Built {
            row: 1,
            entity: "key",
            key: Some(schema::api_key_key(&hash)),
            index: vec![(
                "gsi2",
                schema::KEYS.to_owned(),
                Some(schema::keys_sort("integration", "prom", &hash)),
            )],
        },
        Built {
            row: 4,
            entity: "config pointer",
            key: Some(schema::config_pointer_key()),
            index: vec![],
        },
        Built {
            row: 5,
            entity: "config version",
            key: Some(Key::new(schema::CONFIG, schema::config_version_sort(7))),
            index: vec![],
        },
        Built {
            row: 6,
            entity: "config part",
            key: Some(Key::new(schema::CONFIG, schema::config_part_sort(7, 2))),
            index: vec![],
        },
        Built {
            row: 9,
            entity: "alert record",
            key: Some(record.clone()),
            index: vec![(
                "gsi1",
                schema::UNGROUPED.to_owned(),
                Some(schema::ungrouped_sort(at, "a0001")),
            )],
        },
        Built {
            row: 10,
            entity: "alert chunk",
            key: Some(schema::chunk_key(&record.pk, "a0001", 2)),
            index: vec![],
        },
        Built {
            row: 15,
            entity: "counter",
            key: Some(schema::incident_number_counter_key()),
            index: vec![],
        },
        Built {
            row: 16,
            entity: "group pointer",
            key: Some(schema::group_pointer_key("db/disk")),
            index: vec![],
        },
        Built {
            row: 17,
            entity: "alert link",
            key: Some(schema::alert_link_key("a0001")),
            index: vec![(
                "gsi2",
                schema::incident_alerts_partition("inc1"),
                Some(schema::incident_alerts_sort(at, "a0001")),
            )],
        },
        Built {
            row: 19,
            entity: "incident",
            key: Some(schema::incident_key("inc1")),
            index: vec![
                (
                    "gsi1",
                    schema::OPEN_INCIDENTS.to_owned(),
                    Some(schema::open_incidents_sort(at, "inc1")),
                ),
                (
                    "gsi2",
                    schema::INCIDENTS.to_owned(),
                    Some(schema::incident_number_sort(42)),
                ),
            ],
        },
        Built {
            row: 20,
            entity: "timeline entry",
            key: Some(Key::new(
                schema::incident_partition("inc1"),
                schema::timeline_sort(at, 2, "alert.linked-a0001"),
            )),
            index: vec![],
        },
        Built {
            row: 24,
            entity: "incident",
            key: Some(schema::incident_key("inc1")),
            index: vec![
                ("gsi1", schema::OPEN_INCIDENTS.to_owned(), None),
                (
                    "gsi3",
                    schema::ESCALATION_DUE.to_owned(),
                    Some(schema::escalation_due_sort(at, "inc1")),
                ),
            ],
        },
        Built {
            row: 33,
            entity: "delivery",
            key: Some(schema::delivery_key("inc1", "inc1/r0/t0/alice/email")),
            index: vec![],
        },
        Built {
            row: 36,
            entity: "idempotency record",
            key: Some(schema::idempotency_key("ack", "token-1")),
            index: vec![],
        },
        Built {
            row: 38,
            entity: "override id entry",
            key: Some(schema::override_id_key("primary", "o1")),
            index: vec![],
        },
        Built {
            row: 39,
            entity: "override",
            key: Some(Key::new(
                schema::schedule_partition("primary"),
                schema::override_sort(at, "o1"),
            )),
            index: vec![],
        },
    ];
    for built in built {
        let row = rows
            .get(&built.row)
            .unwrap_or_else(|| panic!("docs/data-model.md has no access pattern {}", built.row));
        assert_eq!(row.entity, built.entity, "access pattern {}", built.row);
        // Overrides ids named `<id>` after the entity of the row.
        let values = match built.row {
            38 | 39 => with(&[("id", "o1")]),
            _ => values.clone(),
        };
        let expand = |template: &Option<String>| template.as_deref().map(|t| render(t, &values));
        let documented_key = expand(&row.pk).zip(expand(&row.sk));
        assert_eq!(
            documented_key,
            built.key.as_ref().map(|k| (k.pk.clone(), k.sk.clone())),
            "access pattern {} ({}): the doc's pk/sk {:?} / {:?} rendered, against the builder's",
            built.row,
            built.entity,
            row.pk,
            row.sk,
        );
        let documented_index: Vec<(String, String, Option<String>)> = row
            .index
            .iter()
            .map(|(index, pk, sk)| (index.clone(), render(pk, &values), expand(sk)))
            .collect();
        let built_index: Vec<(String, String, Option<String>)> = built
            .index
            .into_iter()
            .map(|(index, pk, sk)| (index.to_owned(), pk, sk))
            .collect();
        assert_eq!(
            documented_index, built_index,
            "access pattern {} ({}): the doc's index keys {:?} rendered, against the builder's",
            built.row, built.entity, row.index
        );
    }
}

#[test]
fn rendering_a_template_pads_to_the_documented_width() {
    let values: BTreeMap<&str, String> = [("n", "7".to_owned()), ("id", "x".to_owned())]
        .into_iter()
        .collect();
    assert_eq!(
        render("VERSION#<n:020>#<id>", &values),
        "VERSION#00000000000000000007#x"
    );
    assert_eq!(render("<n:03>", &values), "007");
    assert_eq!(
        index_keys("enters/leaves gsi1 `OPEN_INCIDENTS`, gsi3 `ESCALATION_DUE` / `<due>#<id>`"),
        vec![
            ("gsi1".to_owned(), "OPEN_INCIDENTS".to_owned(), None),
            (
                "gsi3".to_owned(),
                "ESCALATION_DUE".to_owned(),
                Some("<due>#<id>".to_owned())
            ),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// A duplicate through the ingest handler on DynamoDB
// ---------------------------------------------------------------------------------------------

/// Posts `body` to the ingest router with a bearer key; returns the status and JSON answer.
async fn post_alert(
    router: axum::Router,
    key: &str,
    body: &serde_json::Value,
) -> (axum::http::StatusCode, serde_json::Value) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let request = axum::http::Request::post("/v1/alerts")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {key}"))
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    let response = router.oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or_default())
}

/// The write requests (and their write units) among what the store was asked.
fn writes(cost: &Cost) -> BTreeMap<&'static str, u32> {
    cost.requests
        .iter()
        .filter(|(request, _)| !matches!(**request, "GetItem" | "Query"))
        .map(|(request, count)| (*request, *count))
        .collect()
}

/// The whole ingest path (HTTP handler, authentication, configuration, parsing, dedup) on the
/// DynamoDB store: the second post of the same alert is one UpdateItem of one write unit, and
/// nothing is queued for it.
#[tokio::test]
async fn a_duplicate_posted_to_ingest_on_dynamodb_costs_one_write_and_queues_nothing() {
    use klaxon_app::messages::QueueName;
    use klaxon_app::security::keys::PlainKey;
    use klaxon_app::security::sns::SnsVerifier;
    use klaxon_app::usecases::ingest::IngestService;
    use klaxon_app::usecases::{ConfigCache, Core};
    use klaxon_domain::config::Config;
    use klaxon_store::repo::{KeyKind, KeyRecord};
    use klaxon_tests::fakes::{RecordingQueue, SequentialIds};
    use klaxon_tests::pipeline::{TestHttpGet, pipeline_config_text};

    let clock = manual_clock();
    let counting = CountingStore {
        inner: dynamo_store(clock.clone()).await,
        cost: Arc::default(),
    };
    let repo = |component: &str| {
        Repository::new(
            counting.clone(),
            clock.clone(),
            EventSource::klaxon(component).unwrap(),
        )
    };
    let config = Config::from_yaml(&pipeline_config_text()).unwrap();
    let admin = repo("cli");
    admin
        .save_config(
            &config.to_canonical_json().unwrap(),
            &config.fingerprint().unwrap(),
            &Actor::system("test"),
        )
        .await
        .unwrap();
    let key = PlainKey::from_random_bytes([7; 32]);
    admin
        .create_key(
            key.hash().as_str(),
            &KeyRecord {
                kind: KeyKind::Integration,
                name: "native".into(),
                label: None,
                created_at: clock.now(),
            },
        )
        .await
        .unwrap();
    let queue = RecordingQueue::new();
    let ingest = Arc::new(IngestService::new(
        Core::new(
            repo("ingest"),
            ConfigCache::new(std::time::Duration::ZERO),
            clock.clone(),
            Arc::new(SequentialIds::default()),
        ),
        queue.clone(),
        SnsVerifier::new(TestHttpGet::default()),
    ));
    let router = klaxon_app::http::ingest::routes(ingest);
    let alert = serde_json::json!({
        "dedup_key": "payments-queue-backlog",
        "status": "firing",
        "severity": "critical",
        "summary": "Payments queue backlog above 10k messages",
        "labels": {"service": "payments"},
        "details": noise(64 * 1024, 3),
    });

    let (status, answer) = post_alert(router.clone(), key.expose(), &alert).await;
    assert_eq!(status, axum::http::StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["summary"]["new"], 1, "{answer}");
    let queued = queue.drain(QueueName::Alerts);
    let [klaxon_app::messages::QueueMessage::Alert(new)] = queued.as_slice() else {
        panic!("expected one alert message, got {queued:?}");
    };
    counting.take();

    // Before grouping links the alert, its record is on the ungrouped index too, and the
    // update rewrites that index entry; once grouped (as grouping does) only the record.
    for (grouped, index_units) in [(false, 1), (true, 0)] {
        if grouped {
            admin
                .mark_grouped(&new.key, &new.alert_id, &incident_id("inc1"))
                .await
                .unwrap();
            counting.take();
        }
        clock.advance(Duration::seconds(60));
        let (status, answer) = post_alert(router.clone(), key.expose(), &alert).await;
        assert_eq!(status, axum::http::StatusCode::ACCEPTED, "{answer}");
        assert_eq!(
            (&answer["summary"]["new"], &answer["summary"]["repeats"]),
            (&serde_json::json!(0), &serde_json::json!(1)),
            "{answer}"
        );
        let duplicate = counting.take();
        assert_eq!(
            writes(&duplicate),
            BTreeMap::from([("UpdateItem", 1)]),
            "a duplicate is exactly one write request (grouped: {grouped}): {duplicate:?}"
        );
        assert_eq!(
            (duplicate.write_units, duplicate.index_write_units),
            (1, index_units),
            "grouped: {grouped}: {duplicate:?}"
        );
        for name in QueueName::ALL {
            assert!(
                queue.peek(name).is_empty(),
                "the duplicate queued a message on {name:?}"
            );
        }
    }
}
