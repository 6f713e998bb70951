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
        ack_timeout: None,
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

use alerts::f_pk;
use cost::{Cost, CountingStore};

mod alerts;
mod batch;
mod corruption;
mod cost;
mod data_model;
mod deliveries;
mod incidents;
mod ingest_duplicate;
mod keys_and_config;
mod listing;
mod postmortems;
mod races;
mod resolution;
