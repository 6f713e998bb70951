//! The chaos scenario and what must hold afterwards.
//!
//! Each cycle, every group gets a new incident (two firing alerts through the ingest handler,
//! retried by the sender until answered 2xx); a third of the incidents are acknowledged
//! through the ack handler before the tier-0 timer fires, a third after tier 1 was paged, a
//! third never; every timer is fired once, twice or late (and stale copies of earlier timers
//! arrive later); then the alerts resolve and the clock moves past the grouping window and
//! the sweep's grace, and the recovery sweep runs. All of it with the fault plan on every AWS
//! call the handlers make.

use super::check::{Report, check, incident_of, sent};
use super::deploy::Deployment;
use super::lambda::{Delivery, Plumbing};
use chrono::TimeDelta;
use klaxon_app::usecases::routing::SWEEP_GRACE;
use klaxon_domain::ids::IncidentId;
use klaxon_domain::incident::IncidentStatus;
use klaxon_store::Clock;
use klaxon_tests::faults::{FaultKind, FaultPlan, FaultProxy, FaultRule};
use klaxon_tests::workspace_root;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// How big and how hostile a run is.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    /// Incidents in all.
    pub incidents: usize,
    /// Alert groups they are spread over (one open incident per group at a time).
    pub groups: usize,
    /// Share of the handlers' AWS calls that fail.
    pub fault_rate: f64,
    /// Seeds the fault proxy and the plumbing.
    pub seed: u64,
}

/// The default run's seed.
pub const DEFAULT_SEED: u64 = 20_261_203;

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
    /// The default test run's size, overridden by `KLAXON_CHAOS_INCIDENTS`,
    /// `KLAXON_CHAOS_GROUPS`, `KLAXON_CHAOS_FAULT_RATE` and `KLAXON_CHAOS_SEED`.
    pub fn from_env() -> Self {
        Self {
            incidents: env_or("KLAXON_CHAOS_INCIDENTS", 6),
            groups: env_or("KLAXON_CHAOS_GROUPS", 3).max(1),
            fault_rate: env_or("KLAXON_CHAOS_FAULT_RATE", 0.2),
            seed: env_or("KLAXON_CHAOS_SEED", DEFAULT_SEED),
        }
    }
}

/// The fault plan of a chaos run: `rate` of every call fails, each kind as likely as any other
/// that applies, sends of email and SMS included. SES and SNS take no idempotency key, so a
/// send applied but unanswered (a reset after it, an answer held or slower than the attempt
/// timeout) is sent again by the SDK: at least once, never lost (docs/design.md, "Failure
/// model"). The proxy lists every such send (`slow_seconds` is the attempt timeout), and the
/// run counts the extra copies they explain apart from any other duplicate, which must be none.
pub fn chaos_plan(rate: f64, seed: u64, delay_seconds: f64, slow_seconds: f64) -> FaultPlan {
    FaultPlan {
        seed,
        delay_seconds,
        slow_seconds: Some(slow_seconds),
        rules: vec![FaultRule::new("*", "*", rate, &FaultKind::ALL)],
    }
}

/// What a sender and a responder did.
#[derive(Debug, Default)]
pub(super) struct Ledger {
    /// Firing alerts answered 2xx, by (group, cycle).
    pub(super) accepted: BTreeMap<(usize, usize), Vec<String>>,
    /// Resolves answered 2xx.
    pub(super) resolved: BTreeSet<String>,
    /// Requests answered non-2xx (and retried).
    pub(super) refused: u64,
    /// Acknowledged incidents: id, number, and how many emails and SMS had been sent by then.
    pub(super) acks: Vec<(IncidentId, u64, usize, usize)>,
    /// Wall-clock seconds spent sending alerts and acknowledging (senders and responders).
    pub(super) sending_seconds: f64,
    /// Wall-clock seconds spent acknowledging.
    pub(super) acking_seconds: f64,
}

fn event(file: &str, replacements: &[(&str, &str)]) -> Value {
    let path = workspace_root().join("events/apigw").join(file);
    let mut text = std::fs::read_to_string(&path).unwrap();
    for (placeholder, value) in replacements {
        text = text.replace(placeholder, value);
    }
    serde_json::from_str(&text).unwrap()
}

fn status_of(response: &Value) -> u16 {
    response["statusCode"].as_u64().unwrap_or(0) as u16
}

/// Sends one native alert until it is answered 2xx (at most `tries` times).
async fn send_alert(d: &Deployment, body: &Value, tries: usize) -> (bool, u64) {
    let key = d.native_key.clone();
    let mut request = event(
        "ingest-native-alert.json",
        &[("klx_EXAMPLE_INTEGRATION_KEY", &key)],
    );
    request["body"] = json!(body.to_string());
    request["isBase64Encoded"] = json!(false);
    let mut refused = 0;
    for attempt in 0..tries {
        match d.ingest.handle(request.clone()).await {
            Ok(answer) if (200..300).contains(&status_of(&answer)) => return (true, refused),
            Ok(answer) => assert!(
                status_of(&answer) >= 500,
                "a valid alert was refused: {answer}"
            ),
            Err(_) => {}
        }
        refused += 1;
        // As monitoring tools do: back off before sending again (0.25 s doubling to 4 s).
        let wait = std::time::Duration::from_millis(250) * 2u32.pow(attempt.min(4) as u32);
        tokio::time::sleep(wait).await;
    }
    (false, refused)
}

/// Sends one native alert (`status` firing or resolved) with dedup key `key`, retried until
/// answered 2xx; whether it was.
pub async fn send_native_alert(d: &Deployment, key: &str, status: &str) -> bool {
    let body = json!({
        "dedup_key": key,
        "status": status,
        "severity": "critical",
        "summary": format!("regression {key}"),
        "source": "chaos",
    });
    send_alert(d, &body, 12).await.0
}

fn dedup(group: usize, cycle: usize, alert: usize) -> String {
    format!("chaos-g{group}-c{cycle}-a{alert}")
}

fn alert_body(group: usize, cycle: usize, alert: usize, status: &str) -> Value {
    json!({
        "dedup_key": dedup(group, cycle, alert),
        "status": status,
        "severity": "critical",
        "summary": format!("chaos g{group} c{cycle} alert {alert}"),
        "source": "chaos",
        "group": format!("g{group}"),
    })
}

/// How many alerts are sent at once.
const SENDERS: usize = 10;

/// Sends the alerts of every group of one cycle, `SENDERS` at a time.
async fn send_all(
    d: &Arc<Deployment>,
    groups: usize,
    cycle: usize,
    status: &str,
) -> Vec<(usize, String, bool, u64)> {
    // At most this many requests at once, as a few monitoring tools sending in parallel.
    let senders = Arc::new(tokio::sync::Semaphore::new(SENDERS));
    let mut tasks = tokio::task::JoinSet::new();
    for group in 0..groups {
        for alert in 0..2 {
            let d = Arc::clone(d);
            let body = alert_body(group, cycle, alert, status);
            let senders = Arc::clone(&senders);
            tasks.spawn(async move {
                let _turn = senders.acquire_owned().await.unwrap();
                let (ok, refused) = send_alert(&d, &body, 12).await;
                (group, dedup(group, cycle, alert), ok, refused)
            });
        }
    }
    let mut results = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        results.push(joined.unwrap());
    }
    results
}

/// Acknowledges one group's incident of `cycle` through the ack handler's API route, retried
/// until answered 2xx: the incident, if it was, and the requests refused on the way.
async fn ack_one(d: &Deployment, first: String) -> (Option<IncidentId>, u64) {
    let Some(id) = incident_of(d, &first).await else {
        return (None, 0);
    };
    let request = event(
        "ack-incident-acknowledge.json",
        &[
            ("klx_EXAMPLE_API_KEY", &d.api_key),
            ("0192f3a1b2c37d4e8f90a1b2c3d4e5f6", id.as_str()),
        ],
    );
    let mut refused = 0;
    for _ in 0..12 {
        match d.ack.handle(request.clone()).await {
            Ok(answer) if (200..300).contains(&answer.status_code) => return (Some(id), refused),
            Ok(answer) => assert!(answer.status_code >= 500, "ack refused: {answer:?}"),
            Err(_) => {}
        }
        refused += 1;
    }
    (None, refused)
}

/// Acknowledges the incidents of the groups `chosen` picks, through the ack handler's API
/// route, retried until answered 2xx; the responders act at the same time, `SENDERS` at once.
async fn ack_phase(
    d: &Arc<Deployment>,
    ledger: &mut Ledger,
    cycle: usize,
    groups: usize,
    chosen: impl Fn(usize) -> bool,
) {
    let acking = std::time::Instant::now();
    let responders = Arc::new(tokio::sync::Semaphore::new(SENDERS));
    let mut tasks = tokio::task::JoinSet::new();
    for group in (0..groups).filter(|g| chosen(*g)) {
        let Some(first) = ledger
            .accepted
            .get(&(group, cycle))
            .and_then(|keys| keys.first())
            .cloned()
        else {
            continue;
        };
        let (d, responders) = (Arc::clone(d), Arc::clone(&responders));
        tasks.spawn(async move {
            let _turn = responders.acquire_owned().await.unwrap();
            ack_one(&d, first).await
        });
    }
    let mut acked = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (id, refused) = joined.unwrap();
        ledger.refused += refused;
        acked.extend(id);
    }
    acked.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    let (emails, sms) = sent(d).await;
    for id in acked {
        let incident = d.repo.incident(&id).await.unwrap().unwrap();
        assert_eq!(
            incident.incident.status(),
            IncidentStatus::Acknowledged,
            "{id}"
        );
        ledger
            .acks
            .push((id, incident.incident.number(), emails.len(), sms.len()));
    }
    ledger.acking_seconds += acking.elapsed().as_secs_f64();
}

/// Sends the template's sweep message and drains.
async fn sweep_now(plumbing: &Plumbing) {
    plumbing.send(&Deployment::sweep_input()).await;
    plumbing.drain().await;
}

/// Sweeps: moves the clock past the grouping window and the sweep's grace, sends the
/// template's sweep message, and drains.
async fn sweep(d: &Deployment, plumbing: &Plumbing) {
    d.clock
        .advance(TimeDelta::hours(1) + SWEEP_GRACE + TimeDelta::minutes(1));
    plumbing.send(&Deployment::sweep_input()).await;
    plumbing.drain().await;
}

/// One cycle: every group's next incident from trigger to resolve.
async fn cycle(
    d: &Arc<Deployment>,
    plumbing: &Plumbing,
    ledger: &mut Ledger,
    size: &Size,
    cycle: usize,
) {
    let groups = size.groups.min(size.incidents - cycle * size.groups);
    let sending = std::time::Instant::now();
    let firing = send_all(d, groups, cycle, "firing").await;
    ledger.sending_seconds += sending.elapsed().as_secs_f64();
    for (group, key, ok, refused) in firing {
        ledger.refused += refused;
        if ok {
            ledger.accepted.entry((group, cycle)).or_default().push(key);
        }
    }
    plumbing.drain().await;
    ack_phase(d, ledger, cycle, groups, |g| (g + cycle).is_multiple_of(3)).await;
    let start = d.clock.now();
    plumbing.fire_due(start + TimeDelta::minutes(5)).await;
    plumbing.drain().await;
    // The recovery sweep runs every five minutes (template.yaml's RecoverySweepSchedule).
    sweep_now(plumbing).await;
    ack_phase(d, ledger, cycle, groups, |g| (g + cycle) % 3 == 1).await;
    plumbing
        .fire_due(d.clock.now() + TimeDelta::minutes(10))
        .await;
    plumbing.drain().await;
    sweep_now(plumbing).await;
    let sending = std::time::Instant::now();
    let resolving = send_all(d, groups, cycle, "resolved").await;
    ledger.sending_seconds += sending.elapsed().as_secs_f64();
    for (_, key, ok, refused) in resolving {
        ledger.refused += refused;
        if ok {
            ledger.resolved.insert(key);
        }
    }
    plumbing.drain().await;
    sweep(d, plumbing).await;
}

/// Prints, for each incident with a message in a dead-letter queue, its delivery records as
/// they were when the message got there (before the redrive is handled): why a page died.
async fn print_dead_lettered(d: &Deployment, dead_letters: &[(String, String)]) {
    let incidents = klaxon_tests::chaos::dead_lettered_incidents(
        dead_letters.iter().map(|(_, body)| body.as_str()),
    );
    for id in incidents {
        println!(
            "  dead-lettered incident {id}, its deliveries (clock {}):",
            d.clock.now()
        );
        for record in d.repo.deliveries(&id).await.unwrap() {
            println!(
                "    {} {:?} attempt {} claimed {} finished {:?} error {:?}",
                record.key,
                record.status,
                record.attempt,
                record.claimed_at,
                record.finished_at,
                record.error
            );
        }
    }
}

/// Runs the chaos scenario and checks it. Panics (with the seed) when something is lost or
/// paged twice.
pub async fn run(size: Size) -> Report {
    println!(
        "chaos run: {} incidents across {} groups, {:.0}% of AWS calls failing, seed {} \
         (replay with KLAXON_CHAOS_SEED={})",
        size.incidents,
        size.groups,
        size.fault_rate * 100.0,
        size.seed,
        size.seed
    );
    let proxy = FaultProxy::start().await;
    let d = Arc::new(Deployment::new(proxy.endpoint()).await);
    let started = std::time::Instant::now();
    let timeout = super::deploy::CHAOS_ATTEMPT_TIMEOUT.as_secs_f64();
    // A send moto answered within half a second of the attempt timeout may have been given up
    // on by the client (its clock started first): listed, so its resend is not a mystery.
    let slow = timeout - 0.5;
    proxy
        .set_plan(&chaos_plan(size.fault_rate, size.seed, timeout + 1.0, slow))
        .await;
    let delivery = Delivery {
        duplicate: 0.2,
        undeleted: 0.1,
        timer_twice: 0.2,
        timer_late: 0.2,
    };
    let plumbing = Plumbing::new(
        Arc::clone(&d),
        StdRng::seed_from_u64(size.seed.wrapping_add(1)),
        delivery,
    );
    let mut ledger = Ledger::default();
    let cycles = size.incidents.div_ceil(size.groups);
    for c in 0..cycles {
        cycle(&d, &plumbing, &mut ledger, &size, c).await;
        let stats = proxy.stats().await;
        println!(
            "  cycle {}/{cycles} done after {:.0} s: {} alerts accepted ({} requests retried), \
             {} AWS calls, {} faults, moto busy {:.0} s, plumbing {:?}",
            c + 1,
            started.elapsed().as_secs_f64(),
            ledger.accepted.values().map(Vec::len).sum::<usize>() + ledger.resolved.len(),
            ledger.refused,
            stats.calls(),
            stats.faults(),
            stats.upstream_total(),
            plumbing.stats()
        );
        let wall = plumbing.stats().wall;
        println!(
            "    wall so far: sending {:.0} s, acknowledging {:.0} s, handlers {:.0} s, \
             receiving {:.0} s, settling {:.0} s, releasing {:.0} s, schedules {:.0} s",
            ledger.sending_seconds,
            ledger.acking_seconds,
            wall.handling,
            wall.receiving,
            wall.settling,
            wall.releasing,
            wall.scheduling
        );
        for (call, count, seconds) in stats.slowest(6) {
            println!("    moto: {call} {count} calls, {seconds:.1} s");
        }
    }
    let mut faults = proxy.stats().await;
    // The weather clears: whatever is left (dead letters included) must now finish.
    proxy.heal(Some(slow)).await;
    sweep(&d, &plumbing).await;
    let dead_letters: Vec<(String, String)> = plumbing
        .redrive()
        .await
        .into_iter()
        .map(|(queue, body)| (queue.as_str().to_owned(), body))
        .collect();
    print_dead_lettered(&d, &dead_letters).await;
    plumbing.drain().await;
    sweep(&d, &plumbing).await;
    let died_again = plumbing.redrive().await;
    assert!(
        died_again.is_empty(),
        "seed {}: redriven dead letters died again: {died_again:?}",
        size.seed
    );
    // Sends answered too slowly after the faults stopped count too.
    faults.unanswered.extend(proxy.stats().await.unanswered);
    let report = check(&d, &ledger, size, faults, plumbing.stats(), dead_letters).await;
    println!("  wall time {:.0} s", started.elapsed().as_secs_f64());
    report
}
