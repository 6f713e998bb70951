//! The local-mode chaos scenario: the cloud run's cycles (tests/tests/chaos/run.rs) on the
//! adapters `klaxon serve` runs (SQLite store, queue and timers in one file), each wrapped by
//! [`super::faulty`], with the use cases `klaxon serve` wires and the consumer's side of the
//! queue (receive, ack, retry, dead letters) played as its workers do; a share of handled
//! messages is handled twice (a crash after the work, before the ack) and the recovery sweep
//! runs. Afterwards the same checks: nothing accepted is lost, nothing paged twice, nothing
//! paged after its ack, every dead letter redriven and finished.

use super::faulty::{FaultyQueue, FaultyStore, FaultyTimers, LocalFault, LocalFaults};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::TimeDelta;
use klaxon_app::messages::{QueueMessage, QueueName};
use klaxon_app::ports::UuidV7Ids;
use klaxon_app::security::keys::PlainKey;
use klaxon_app::security::links::LinkSigner;
use klaxon_app::security::sns::SnsVerifier;
use klaxon_app::usecases::ack::AckService;
use klaxon_app::usecases::grouping::GroupingService;
use klaxon_app::usecases::ingest::IngestService;
use klaxon_app::usecases::notify::{NotifyService, Senders};
use klaxon_app::usecases::routing::{RoutingService, SWEEP_GRACE};
use klaxon_app::usecases::{ConfigCache, Core};
use klaxon_domain::alert::AlertKey;
use klaxon_domain::config::Config;
use klaxon_domain::ids::{DedupKey, IncidentId, IntegrationName};
use klaxon_domain::incident::IncidentStatus;
use klaxon_domain::timeline::{Actor, EventSource};
use klaxon_local::queue::{QueueOptions, SqliteQueue};
use klaxon_local::store::SqliteStore;
use klaxon_local::timers::SqliteTimers;
use klaxon_store::repo::{KeyKind, KeyRecord, Repository};
use klaxon_store::{Clock, ManualClock};
use klaxon_tests::chaos::{dead_lettered_incidents, first_round};
use klaxon_tests::fakes::RecordingSenders;
use klaxon_tests::pipeline::{TestHttpGet, pipeline_config_text};
use klaxon_tests::test_start;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tower::ServiceExt;

/// How big and how hostile a run is.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    /// Incidents in all.
    pub incidents: usize,
    /// Alert groups (one open incident per group at a time).
    pub groups: usize,
    /// Share of the adapters' calls that fail.
    pub fault_rate: f64,
    /// Share of handled messages handled a second time (a crash before the ack).
    pub redelivered: f64,
    /// Seeds the faults and the consumer.
    pub seed: u64,
}

/// The default run's seed.
pub const DEFAULT_SEED: u64 = 20_261_204;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a valid value")),
        _ => default,
    }
}

impl Size {
    /// The default run, overridden by `KLAXON_CHAOS_INCIDENTS`, `KLAXON_CHAOS_GROUPS`,
    /// `KLAXON_CHAOS_FAULT_RATE` and `KLAXON_CHAOS_SEED` (as the cloud run).
    pub fn from_env() -> Self {
        Self {
            incidents: env_or("KLAXON_CHAOS_INCIDENTS", 30),
            groups: env_or("KLAXON_CHAOS_GROUPS", 5).max(1),
            fault_rate: env_or("KLAXON_CHAOS_FAULT_RATE", 0.1),
            redelivered: 0.2,
            seed: env_or("KLAXON_CHAOS_SEED", DEFAULT_SEED),
        }
    }
}

pub type Store = FaultyStore<SqliteStore>;
pub type Q = FaultyQueue<SqliteQueue>;
pub type T = FaultyTimers<SqliteTimers>;

/// `klaxon serve`'s pieces on one database file, the use cases over the faulty adapters.
pub struct Local {
    _dir: tempfile::TempDir,
    pub clock: Arc<ManualClock>,
    /// The queue itself (the workers' side: receive, ack, retry, dead letters).
    pub queue: SqliteQueue,
    pub timers: SqliteTimers,
    /// Straight on the file, for assertions.
    pub repo: Repository<SqliteStore>,
    pub senders: RecordingSenders,
    pub ingest: Router,
    pub ack: Router,
    pub grouping: GroupingService<Store, Q, T>,
    pub routing: RoutingService<Store, Q, T>,
    pub notify: NotifyService<Store, RecordingSenders, RecordingSenders, RecordingSenders>,
    pub native_key: String,
    pub api_key: String,
}

impl Local {
    /// A fresh database file with the pipeline configuration and keys, the use cases on
    /// `faults`.
    pub async fn new(faults: &Arc<LocalFaults>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("klaxon.db");
        let clock = Arc::new(ManualClock::new(test_start()));
        let store = SqliteStore::open(&path, clock.clone()).unwrap();
        let queue = SqliteQueue::open(&path, clock.clone())
            .unwrap()
            .with_options(QueueOptions::default());
        let timers = SqliteTimers::new(queue.clone());
        let faulty_store = FaultyStore::new(store.clone(), Arc::clone(faults));
        let faulty_queue = FaultyQueue::new(queue.clone(), Arc::clone(faults));
        let faulty_timers = FaultyTimers::new(timers.clone(), Arc::clone(faults));
        let repo = Repository::new(
            store.clone(),
            clock.clone(),
            EventSource::klaxon("cli").unwrap(),
        );
        let config = Config::from_yaml(&pipeline_config_text()).unwrap();
        repo.save_config(
            &config.to_canonical_json().unwrap(),
            &config.fingerprint().unwrap(),
            &Actor::system("chaos"),
        )
        .await
        .unwrap();
        let mut keys = BTreeMap::new();
        for (name, kind) in [("native", KeyKind::Integration), ("local", KeyKind::Api)] {
            let key = PlainKey::generate();
            let record = KeyRecord {
                kind,
                name: name.into(),
                label: None,
                created_at: clock.now(),
            };
            repo.create_key(key.hash().as_str(), &record).await.unwrap();
            keys.insert(name, key.expose().to_string());
        }
        // One configuration cache for every use case, as `klaxon serve` has.
        let cache = Arc::new(ConfigCache::new(Duration::from_secs(5)));
        let core = |component: &str| {
            Core::new(
                Repository::new(
                    faulty_store.clone(),
                    clock.clone(),
                    EventSource::klaxon(component).unwrap(),
                ),
                Arc::clone(&cache),
                clock.clone(),
                Arc::new(UuidV7Ids),
            )
        };
        let links = LinkSigner::new(vec![9u8; 32]).unwrap();
        let senders = RecordingSenders::new();
        let ingest = klaxon_app::http::ingest::routes(Arc::new(IngestService::new(
            core("ingest"),
            faulty_queue.clone(),
            SnsVerifier::new(TestHttpGet::default()),
        )));
        let ack = klaxon_app::http::ack::routes(Arc::new(AckService::new(
            core("ack"),
            faulty_queue.clone(),
            faulty_timers.clone(),
            links.clone(),
            None,
        )));
        Self {
            grouping: GroupingService::new(
                core("grouping"),
                faulty_queue.clone(),
                faulty_timers.clone(),
            ),
            routing: RoutingService::new(core("routing"), faulty_queue.clone(), faulty_timers),
            notify: NotifyService::new(
                core("notify"),
                Senders {
                    email: senders.clone(),
                    sms: senders.clone(),
                    webhook: senders.clone(),
                },
                links,
                "http://127.0.0.1:8080",
                Arc::new(|_: &str| None),
            ),
            ingest,
            ack,
            _dir: dir,
            clock,
            queue,
            timers,
            repo,
            senders,
            native_key: keys["native"].clone(),
            api_key: keys["local"].clone(),
        }
    }

    /// Hands one message to its use case, as the worker of its queue does.
    pub async fn handle(&self, message: &QueueMessage) -> Result<(), String> {
        let result = match message {
            QueueMessage::Alert(alert) => self.grouping.handle(alert).await.map(|_| ()),
            QueueMessage::Incident(_) | QueueMessage::Timer(_) | QueueMessage::Sweep { .. } => {
                self.routing.handle(message).await.map(|_| ())
            }
            _ => self.notify.handle(message).await.map(|_| ()),
        };
        result.map_err(|error| error.to_string())
    }
}

/// The consumers' side and its randomness.
pub struct Workers {
    rng: Mutex<StdRng>,
    redelivered: f64,
    stats: Mutex<WorkerStats>,
}

/// What the workers did.
#[derive(Debug, Default, Clone)]
pub struct WorkerStats {
    /// Messages handled (copies included).
    pub handled: u64,
    /// Handled again because the "process" died before the ack.
    pub redelivered: u64,
    /// Attempts that failed (and were retried).
    pub failed: u64,
}

/// Delivery rounds before a queue that never drains fails the test.
const MAX_ROUNDS: usize = 500;

impl Workers {
    /// Workers that handle `redelivered` of the messages twice.
    pub fn new(seed: u64, redelivered: f64) -> Self {
        Self {
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            redelivered,
            stats: Mutex::default(),
        }
    }

    fn chance(&self, p: f64) -> bool {
        self.rng.lock().unwrap().random_bool(p)
    }

    /// Delivers until no queue has a receivable message.
    pub async fn drain(&self, local: &Local) {
        self.drain_only(local, &QueueName::ALL).await;
    }

    /// Delivers until none of the queues `names` has a receivable message.
    pub async fn drain_only(&self, local: &Local, names: &[QueueName]) {
        for _ in 0..MAX_ROUNDS {
            let mut any = false;
            for name in names.iter().copied() {
                let received = local
                    .queue
                    .receive(name, 10, Duration::from_secs(60))
                    .await
                    .unwrap();
                for message in received {
                    any = true;
                    self.stats.lock().unwrap().handled += 1;
                    match local.handle(&message.message).await {
                        Ok(()) if self.chance(self.redelivered) => {
                            // Died after the work, before the ack: the lease is released at the
                            // next start and the message handled again (the attempt counts).
                            self.stats.lock().unwrap().redelivered += 1;
                            local
                                .queue
                                .retry(message.id, Duration::ZERO, "crashed before the ack")
                                .await
                                .unwrap();
                        }
                        Ok(()) => {
                            local.queue.ack(message.id).await.unwrap();
                        }
                        Err(error) => {
                            self.stats.lock().unwrap().failed += 1;
                            local
                                .queue
                                .retry(message.id, Duration::ZERO, &error)
                                .await
                                .unwrap();
                        }
                    }
                }
            }
            if !any {
                return;
            }
        }
        panic!("the queues did not drain in {MAX_ROUNDS} rounds");
    }

    /// Moves the clock to `until`, fires the timers due by then (the pump) and drains.
    pub async fn fire_due(&self, local: &Local, until: chrono::DateTime<chrono::Utc>) {
        if until > local.clock.now() {
            local.clock.set(until);
        }
        local.timers.fire_due(local.clock.now()).await.unwrap();
        self.drain(local).await;
    }

    /// Queues a sweep (the sweeper task) and drains.
    pub async fn sweep_now(&self, local: &Local) {
        let sweep = QueueMessage::Sweep {
            at: Some(local.clock.now()),
        };
        klaxon_app::ports::Queue::send(&local.queue, &sweep)
            .await
            .unwrap();
        self.drain(local).await;
    }

    /// Moves past the grouping window and the sweep's grace, fires what is due, sweeps.
    async fn sweep_later(&self, local: &Local) {
        let later = local.clock.now() + TimeDelta::hours(1) + SWEEP_GRACE + TimeDelta::minutes(1);
        self.fire_due(local, later).await;
        self.sweep_now(local).await;
    }

    /// Redrives every dead letter; returns (queue, body) of each.
    async fn redrive(&self, local: &Local) -> Vec<(QueueName, String)> {
        let mut moved = Vec::new();
        for name in QueueName::ALL {
            for letter in local.queue.dead_letters(name).await.unwrap() {
                assert!(local.queue.redrive(letter.id).await.unwrap());
                moved.push((name, letter.body));
            }
        }
        moved
    }
}

/// What the senders and responders did.
#[derive(Debug, Default)]
struct Ledger {
    accepted: BTreeMap<(usize, usize), Vec<String>>,
    resolved: BTreeSet<String>,
    refused: u64,
    /// Acknowledged incidents: id, number, emails and SMS sent by then.
    acks: Vec<(IncidentId, u64, usize, usize)>,
    acked_early: BTreeSet<String>,
}

async fn call(router: &Router, path: &str, key: &str, body: &Value) -> StatusCode {
    let request = Request::post(path)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    router.clone().oneshot(request).await.unwrap().status()
}

/// Posts until answered 2xx (at most 12 times); whether it was, and how many were refused.
pub async fn post_until_ok(router: &Router, path: &str, key: &str, body: &Value) -> (bool, u64) {
    let mut refused = 0;
    for _ in 0..12 {
        let status = call(router, path, key, body).await;
        if status.is_success() {
            return (true, refused);
        }
        assert!(status.is_server_error(), "{path} refused: {status}");
        refused += 1;
    }
    (false, refused)
}

fn dedup(group: usize, cycle: usize, alert: usize) -> String {
    format!("local-g{group}-c{cycle}-a{alert}")
}

fn alert_body(key: &str, group: usize, status: &str) -> Value {
    json!({
        "dedup_key": key,
        "status": status,
        "severity": "critical",
        "summary": format!("local chaos {key}"),
        "source": "chaos",
        "group": format!("g{group}"),
    })
}

fn alert_key(dedup_key: &str) -> AlertKey {
    AlertKey {
        integration: IntegrationName::new("native").unwrap(),
        dedup_key: DedupKey::new(dedup_key).unwrap(),
    }
}

async fn incident_of(local: &Local, key: &str) -> Option<IncidentId> {
    local
        .repo
        .alert(&alert_key(key))
        .await
        .unwrap()
        .and_then(|record| record.incident)
}

async fn ack_phase(
    local: &Local,
    ledger: &mut Ledger,
    cycle: usize,
    groups: usize,
    chosen: impl Fn(usize) -> bool,
    early: bool,
) {
    for group in (0..groups).filter(|g| chosen(*g)) {
        let Some(first) = ledger
            .accepted
            .get(&(group, cycle))
            .and_then(|keys| keys.first())
        else {
            continue;
        };
        let Some(id) = incident_of(local, first).await else {
            continue;
        };
        let path = format!("/v1/incidents/{id}/acknowledge");
        let (done, refused) =
            post_until_ok(&local.ack, &path, &local.api_key, &json!({"user": "alice"})).await;
        ledger.refused += refused;
        if !done {
            continue;
        }
        let incident = local.repo.incident(&id).await.unwrap().unwrap();
        assert_eq!(incident.incident.status(), IncidentStatus::Acknowledged);
        let sent = local.senders.sent();
        if early {
            ledger.acked_early.insert(id.to_string());
        }
        ledger.acks.push((
            id,
            incident.incident.number(),
            sent.emails.len(),
            sent.sms.len(),
        ));
    }
}

async fn send_alerts(
    local: &Local,
    ledger: &mut Ledger,
    groups: usize,
    cycle: usize,
    status: &str,
) {
    for group in 0..groups {
        for alert in 0..2 {
            let key = dedup(group, cycle, alert);
            let body = alert_body(&key, group, status);
            let (ok, refused) =
                post_until_ok(&local.ingest, "/v1/alerts", &local.native_key, &body).await;
            ledger.refused += refused;
            if ok && status == "firing" {
                ledger.accepted.entry((group, cycle)).or_default().push(key);
            } else if ok {
                ledger.resolved.insert(key);
            }
        }
    }
}

/// What a run did and found.
#[derive(Debug)]
pub struct Report {
    /// The size.
    pub size: Size,
    /// Alerts answered 2xx.
    pub alerts: usize,
    /// Incidents.
    pub incidents: usize,
    /// Emails and SMS sent.
    pub emails: usize,
    /// SMS sent.
    pub sms: usize,
    /// Calls through the faulty adapters.
    pub calls: u64,
    /// Faults injected, by kind.
    pub faults: BTreeMap<LocalFault, u64>,
    /// What the workers did.
    pub workers: WorkerStats,
    /// Dead letters found (all redriven).
    pub dead_letters: usize,
}

/// Runs the local chaos scenario and checks it.
pub async fn run(size: Size) -> Report {
    println!(
        "local chaos run: {} incidents across {} groups, {:.0}% of store/queue/timer calls \
         failing, seed {} (replay with KLAXON_CHAOS_SEED={})",
        size.incidents,
        size.groups,
        size.fault_rate * 100.0,
        size.seed,
        size.seed
    );
    let faults = LocalFaults::new(size.fault_rate, size.seed);
    let local = Local::new(&faults).await;
    let workers = Workers::new(size.seed.wrapping_add(1), size.redelivered);
    let mut ledger = Ledger::default();
    let cycles = size.incidents.div_ceil(size.groups);
    for cycle in 0..cycles {
        let groups = size.groups.min(size.incidents - cycle * size.groups);
        send_alerts(&local, &mut ledger, groups, cycle, "firing").await;
        workers.drain(&local).await;
        let early = |g: usize| (g + cycle).is_multiple_of(3);
        ack_phase(&local, &mut ledger, cycle, groups, early, true).await;
        let start = local.clock.now();
        workers
            .fire_due(&local, start + TimeDelta::minutes(5))
            .await;
        workers.sweep_now(&local).await;
        let late = |g: usize| (g + cycle) % 3 == 1;
        ack_phase(&local, &mut ledger, cycle, groups, late, false).await;
        workers
            .fire_due(&local, local.clock.now() + TimeDelta::minutes(10))
            .await;
        workers.sweep_now(&local).await;
        send_alerts(&local, &mut ledger, groups, cycle, "resolved").await;
        workers.drain(&local).await;
        workers.sweep_later(&local).await;
    }
    let calls = faults.calls();
    let by_kind = faults.by_kind();
    faults.heal();
    workers.sweep_later(&local).await;
    let dead_letters = workers.redrive(&local).await;
    workers.drain(&local).await;
    workers.sweep_later(&local).await;
    assert!(
        workers.redrive(&local).await.is_empty(),
        "seed {}: redriven dead letters died again",
        size.seed
    );
    let report = check(&local, &ledger, size, &dead_letters).await;
    let report = Report {
        calls,
        faults: by_kind,
        workers: workers.stats.lock().unwrap().clone(),
        dead_letters: dead_letters.len(),
        ..report
    };
    println!(
        "local chaos seed {}: {} incidents / {} groups at {:.0}%: {} alerts accepted, {} \
         incidents, {} emails, {} SMS; {} requests refused and retried",
        size.seed,
        size.incidents,
        size.groups,
        size.fault_rate * 100.0,
        report.alerts,
        report.incidents,
        report.emails,
        report.sms,
        ledger.refused
    );
    println!(
        "  adapter calls: {}, faults injected: {:?}; workers: {:?}; dead letters: {} (all \
         redriven); checks passed: nothing lost, nothing paged twice or after its ack",
        report.calls, report.faults, report.workers, report.dead_letters
    );
    report
}

/// The end checks, on what the database and the senders hold.
async fn check(
    local: &Local,
    ledger: &Ledger,
    size: Size,
    dead_letters: &[(QueueName, String)],
) -> Report {
    let seed = size.seed;
    let dead_lettered = dead_lettered_incidents(dead_letters.iter().map(|(_, body)| body.as_str()));
    let mut lost = Vec::new();
    let mut incidents: BTreeMap<(usize, usize), IncidentId> = BTreeMap::new();
    for (slot, keys) in &ledger.accepted {
        for key in keys {
            match incident_of(local, key).await {
                None => lost.push(key.clone()),
                Some(id) => {
                    let first = incidents.entry(*slot).or_insert_with(|| id.clone());
                    assert_eq!(
                        *first, id,
                        "seed {seed}: {key} grouped apart from its group"
                    );
                    let linked = local.repo.incident_alerts(&id).await.unwrap();
                    assert!(
                        linked.iter().any(|a| a.dedup_key.as_str() == key),
                        "seed {seed}: {key} not linked to {id}"
                    );
                }
            }
        }
    }
    assert!(lost.is_empty(), "seed {seed}: alerts lost: {lost:?}");
    let distinct: BTreeSet<&IncidentId> = incidents.values().collect();
    assert_eq!(
        distinct.len(),
        incidents.len(),
        "seed {seed}: a later cycle joined an earlier incident"
    );

    let sent = local.senders.sent();
    let emails: Vec<(String, String)> = sent
        .emails
        .iter()
        .map(|e| (e.to.clone(), e.subject.clone()))
        .collect();
    let sms: Vec<String> = sent.sms.iter().map(|s| s.text.clone()).collect();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for (to, subject) in &emails {
        *counts.entry(format!("email {to}: {subject}")).or_default() += 1;
    }
    for text in &sms {
        let headline = text.split(" Ack: ").next().unwrap_or_default();
        *counts.entry(format!("sms: {headline}")).or_default() += 1;
    }
    let duplicated: Vec<String> = counts
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(what, n)| format!("{what} ×{n}"))
        .collect();
    assert!(
        duplicated.is_empty(),
        "seed {seed}: sent twice: {duplicated:?}"
    );

    let is_page_sms = |t: &String| t.starts_with("Klaxon [") && t.contains(" Ack: ");
    for (slot, id) in &incidents {
        let stored = local.repo.incident(id).await.unwrap().unwrap();
        let number = format!("#{} ", stored.incident.number());
        // What tiers 0 and 1 owe this incident follows from its timeline (an escalation whose
        // start a fault held up until the sweep may be acknowledged before tier 1 is due); a
        // page or timer of it that sat in a dead-letter queue until the end came too late.
        let late = dead_lettered.contains(id);
        let facts = first_round(&local.repo, id).await;
        let pages = emails
            .iter()
            .filter(|(to, s)| {
                to == "alice@example.com" && s.starts_with('[') && s.contains(&number)
            })
            .count();
        let (tier0, tier1) = match facts.expected_pages() {
            Ok(expected) => expected,
            Err(_) if late => (usize::from(facts.tier0), usize::from(facts.tier1)),
            Err(wrong) => panic!("seed {seed}: incident {slot:?} {number}: {wrong} ({facts:?})"),
        };
        // A dead-lettered page may have come after the incident resolved, and a dead-lettered
        // timer's page may have gone out (queued before a commit that then kept failing).
        let allowed = if late { 0..=1 } else { tier0..=tier0 };
        assert!(
            allowed.contains(&pages),
            "seed {seed}: incident {slot:?} {number}: {pages} tier-0 pages ({facts:?})"
        );
        let texts = sms
            .iter()
            .filter(|t| is_page_sms(t) && t.contains(&number))
            .count();
        if ledger.acked_early.contains(id.as_str()) {
            assert!(
                !facts.tier1,
                "seed {seed}: {number} acked early, yet tier 1 was paged"
            );
        }
        let allowed = if late { 0..=1 } else { tier1..=tier1 };
        assert!(
            allowed.contains(&texts),
            "seed {seed}: incident {slot:?} {number}: {texts} tier-1 pages ({facts:?})"
        );
        if ledger.accepted[slot]
            .iter()
            .all(|k| ledger.resolved.contains(k))
        {
            assert_eq!(
                stored.incident.status(),
                IncidentStatus::Resolved,
                "seed {seed}: incident {slot:?} {number}"
            );
        }
    }
    for (id, number, email_mark, sms_mark) in &ledger.acks {
        let number = format!("#{number} ");
        let late_email = emails[*email_mark..]
            .iter()
            .any(|(_, s)| s.starts_with('[') && s.contains(&number));
        let late_sms = sms[*sms_mark..]
            .iter()
            .any(|t| is_page_sms(t) && t.contains(&number));
        assert!(
            !late_email && !late_sms,
            "seed {seed}: {id} {number} paged after its ack"
        );
    }
    Report {
        size,
        alerts: ledger.accepted.values().map(Vec::len).sum::<usize>() + ledger.resolved.len(),
        incidents: incidents.len(),
        emails: emails.len(),
        sms: sms.len(),
        calls: 0,
        faults: BTreeMap::new(),
        workers: WorkerStats::default(),
        dead_letters: 0,
    }
}
