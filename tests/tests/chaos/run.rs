//! The chaos scenario and what must hold afterwards.
//!
//! Each cycle, every group gets a new incident (two firing alerts through the ingest handler,
//! retried by the sender until answered 2xx); a third of the incidents are acknowledged
//! through the ack handler before the tier-0 timer fires, a third after tier 1 was paged, a
//! third never; every timer is fired once, twice or late (and stale copies of earlier timers
//! arrive later); then the alerts resolve and the clock moves past the grouping window and
//! the sweep's grace, and the recovery sweep runs. All of it with the fault plan on every AWS
//! call the handlers make.

use super::deploy::{Deployment, PUBLIC_BASE_URL};
use super::lambda::{Delivery, Plumbing, PlumbingStats};
use chrono::TimeDelta;
use klaxon_app::usecases::routing::SWEEP_GRACE;
use klaxon_domain::alert::AlertKey;
use klaxon_domain::ids::{DedupKey, IncidentId, IntegrationName};
use klaxon_domain::incident::IncidentStatus;
use klaxon_store::Clock;
use klaxon_tests::chaos::{dead_lettered_incidents, first_round};
use klaxon_tests::faults::{FaultKind, FaultPlan, FaultProxy, FaultRule, FaultStats};
use klaxon_tests::{moto_data, workspace_root};
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
/// that applies, except that email and SMS sends are never failed *after* being applied (SES
/// and SNS take no idempotency key, so a send that happened but looked failed is sent again:
/// a duplicate no client can prevent; `a_send_applied_but_unanswered_is_sent_again` shows it).
pub fn chaos_plan(rate: f64, seed: u64, delay_seconds: f64) -> FaultPlan {
    let not_applied = [
        FaultKind::Throttle,
        FaultKind::Http500,
        FaultKind::Http503,
        FaultKind::ResetBefore,
    ];
    FaultPlan {
        seed,
        delay_seconds,
        rules: vec![
            FaultRule::new("ses", "SendEmail", rate, &not_applied),
            FaultRule::new("sns", "Publish", rate, &not_applied),
            FaultRule::new("*", "*", rate, &FaultKind::ALL),
        ],
    }
}

/// What a sender and a responder did.
#[derive(Debug, Default)]
struct Ledger {
    /// Firing alerts answered 2xx, by (group, cycle).
    accepted: BTreeMap<(usize, usize), Vec<String>>,
    /// Resolves answered 2xx.
    resolved: BTreeSet<String>,
    /// Requests answered non-2xx (and retried).
    refused: u64,
    /// Acknowledged incidents: id, number, and how many emails and SMS had been sent by then.
    acks: Vec<(IncidentId, u64, usize, usize)>,
    /// Incidents acknowledged before their first timer fired.
    acked_early: BTreeSet<String>,
}

/// What a run did and found.
#[derive(Debug)]
pub struct Report {
    /// The size.
    pub size: Size,
    /// Alerts answered 2xx (firing and resolved).
    pub alerts: usize,
    /// Incidents.
    pub incidents: usize,
    /// Emails and SMS sent.
    pub emails: usize,
    /// SMS sent.
    pub sms: usize,
    /// Requests the senders had to repeat.
    pub refused: u64,
    /// What the proxy saw and injected.
    pub faults: FaultStats,
    /// What the plumbing did.
    pub plumbing: PlumbingStats,
    /// Messages found in the dead-letter queues (all redriven), by queue.
    pub dead_letters: Vec<(String, String)>,
    /// Pages and notices sent more than once (must be empty).
    pub duplicated: Vec<String>,
    /// Alerts answered 2xx but not stored or not grouped (must be empty).
    pub lost: Vec<String>,
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
    for _ in 0..tries {
        match d.ingest.handle(request.clone()).await {
            Ok(answer) if (200..300).contains(&status_of(&answer)) => return (true, refused),
            Ok(answer) => assert!(
                status_of(&answer) >= 500,
                "a valid alert was refused: {answer}"
            ),
            Err(_) => {}
        }
        refused += 1;
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

/// Sends the alerts of every group of one cycle, concurrently.
async fn send_all(
    d: &Arc<Deployment>,
    groups: usize,
    cycle: usize,
    status: &str,
) -> Vec<(usize, String, bool, u64)> {
    let mut tasks = tokio::task::JoinSet::new();
    for group in 0..groups {
        for alert in 0..2 {
            let d = Arc::clone(d);
            let body = alert_body(group, cycle, alert, status);
            tasks.spawn(async move {
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

fn alert_key(dedup_key: &str) -> AlertKey {
    AlertKey {
        integration: IntegrationName::new("native").unwrap(),
        dedup_key: DedupKey::new(dedup_key).unwrap(),
    }
}

/// The incident an accepted alert was grouped into.
async fn incident_of(d: &Deployment, dedup_key: &str) -> Option<IncidentId> {
    d.repo
        .alert(&alert_key(dedup_key))
        .await
        .unwrap()
        .and_then(|record| record.incident)
}

/// What notify sent for this deployment, in moto's order: emails as (to, subject) and SMS.
async fn sent(d: &Deployment) -> (Vec<(String, String)>, Vec<String>) {
    let data = moto_data().await;
    let emails = data["ses"]["Message"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["source"] == json!(d.sender))
        .map(|m| {
            let to = m["destinations"]["ToAddresses"][0]
                .as_str()
                .unwrap_or_default();
            (
                to.to_owned(),
                m["subject"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let sms = data["sns"]["SMS"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["phone_number"] == json!(d.phone))
        .map(|m| m["message"].as_str().unwrap_or_default().to_owned())
        .collect();
    (emails, sms)
}

/// Acknowledges the incidents of the groups `chosen` picks, through the ack handler's API
/// route, retried until answered 2xx.
async fn ack_phase(
    d: &Deployment,
    ledger: &mut Ledger,
    cycle: usize,
    groups: usize,
    chosen: impl Fn(usize) -> bool,
    early: bool,
) {
    let mut acked = Vec::new();
    for group in (0..groups).filter(|g| chosen(*g)) {
        let Some(first) = ledger
            .accepted
            .get(&(group, cycle))
            .and_then(|keys| keys.first())
        else {
            continue;
        };
        let Some(id) = incident_of(d, first).await else {
            continue;
        };
        let request = event(
            "ack-incident-acknowledge.json",
            &[
                ("klx_EXAMPLE_API_KEY", &d.api_key),
                ("0192f3a1b2c37d4e8f90a1b2c3d4e5f6", id.as_str()),
            ],
        );
        let mut done = false;
        for _ in 0..12 {
            let answer = d.ack.handle(request.clone()).await;
            match answer {
                Ok(answer) if (200..300).contains(&answer.status_code) => {
                    done = true;
                    break;
                }
                Ok(answer) => assert!(answer.status_code >= 500, "ack refused: {answer:?}"),
                Err(_) => {}
            }
            ledger.refused += 1;
        }
        if done {
            acked.push(id);
        }
    }
    let (emails, sms) = sent(d).await;
    for id in acked {
        let incident = d.repo.incident(&id).await.unwrap().unwrap();
        assert_eq!(
            incident.incident.status(),
            IncidentStatus::Acknowledged,
            "{id}"
        );
        if early {
            ledger.acked_early.insert(id.to_string());
        }
        ledger
            .acks
            .push((id, incident.incident.number(), emails.len(), sms.len()));
    }
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
    for (group, key, ok, refused) in send_all(d, groups, cycle, "firing").await {
        ledger.refused += refused;
        if ok {
            ledger.accepted.entry((group, cycle)).or_default().push(key);
        }
    }
    plumbing.drain().await;
    ack_phase(
        d,
        ledger,
        cycle,
        groups,
        |g| (g + cycle).is_multiple_of(3),
        true,
    )
    .await;
    let start = d.clock.now();
    plumbing.fire_due(start + TimeDelta::minutes(5)).await;
    plumbing.drain().await;
    // The recovery sweep runs every five minutes (template.yaml's RecoverySweepSchedule).
    sweep_now(plumbing).await;
    ack_phase(d, ledger, cycle, groups, |g| (g + cycle) % 3 == 1, false).await;
    plumbing
        .fire_due(d.clock.now() + TimeDelta::minutes(10))
        .await;
    plumbing.drain().await;
    sweep_now(plumbing).await;
    for (_, key, ok, refused) in send_all(d, groups, cycle, "resolved").await {
        ledger.refused += refused;
        if ok {
            ledger.resolved.insert(key);
        }
    }
    plumbing.drain().await;
    sweep(d, plumbing).await;
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
    let delay = super::deploy::CHAOS_ATTEMPT_TIMEOUT.as_secs_f64() + 1.0;
    proxy
        .set_plan(&chaos_plan(size.fault_rate, size.seed, delay))
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
    }
    let faults = proxy.stats().await;
    // The weather clears: whatever is left (dead letters included) must now finish.
    proxy.heal().await;
    sweep(&d, &plumbing).await;
    let dead_letters: Vec<(String, String)> = plumbing
        .redrive()
        .await
        .into_iter()
        .map(|(queue, body)| (queue.as_str().to_owned(), body))
        .collect();
    plumbing.drain().await;
    sweep(&d, &plumbing).await;
    let died_again = plumbing.redrive().await;
    assert!(
        died_again.is_empty(),
        "seed {}: redriven dead letters died again: {died_again:?}",
        size.seed
    );
    check(&d, &ledger, size, faults, plumbing.stats(), dead_letters).await
}

/// The assertions, on what moto holds.
async fn check(
    d: &Deployment,
    ledger: &Ledger,
    size: Size,
    faults: FaultStats,
    plumbing: PlumbingStats,
    dead_letters: Vec<(String, String)>,
) -> Report {
    let seed = size.seed;
    let dead_lettered = dead_lettered_incidents(dead_letters.iter().map(|(_, body)| body.as_str()));
    // Every alert answered 2xx is stored and grouped, one incident per (group, cycle).
    let mut lost = Vec::new();
    let mut incidents: BTreeMap<(usize, usize), IncidentId> = BTreeMap::new();
    for (slot, keys) in &ledger.accepted {
        for key in keys {
            match incident_of(d, key).await {
                None => lost.push(key.clone()),
                Some(id) => {
                    let first = incidents.entry(*slot).or_insert_with(|| id.clone()).clone();
                    if first != id {
                        for other in [&first, &id] {
                            let stored = d.repo.incident(other).await.unwrap().unwrap();
                            let alerts = d.repo.incident_alerts(other).await.unwrap();
                            let timeline = d.repo.timeline(other, None, 100).await;
                            eprintln!(
                                "{other}: #{} {:?} created {} alerts {:?}\n  timeline {timeline:?}",
                                stored.incident.number(),
                                stored.incident.status(),
                                stored.incident.created_at(),
                                alerts
                                    .iter()
                                    .map(|a| (a.dedup_key.as_str(), a.alert_id.as_str()))
                                    .collect::<Vec<_>>()
                            );
                        }
                        eprintln!("record {:?}", d.repo.alert(&alert_key(key)).await.unwrap());
                    }
                    assert_eq!(first, id, "seed {seed}: {key} grouped apart from its group");
                    let linked = d.repo.incident_alerts(&id).await.unwrap();
                    assert!(
                        linked.iter().any(|a| a.dedup_key.as_str() == key),
                        "seed {seed}: {key} not linked to {id}"
                    );
                }
            }
        }
    }
    let distinct: BTreeSet<&IncidentId> = incidents.values().collect();
    assert_eq!(
        distinct.len(),
        incidents.len(),
        "seed {seed}: a later cycle joined an earlier incident"
    );

    let (emails, sms) = sent(d).await;
    // Each page and each notice exactly once.
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

    // Every incident paged at tier 0 (alice by email); tier 1 (bob by SMS) unless acknowledged
    // first; resolved in the end when all its resolves were accepted.
    for (slot, id) in &incidents {
        let stored = d.repo.incident(id).await.unwrap().unwrap();
        let number = format!("#{} ", stored.incident.number());
        // What tiers 0 and 1 owe this incident follows from its timeline (an escalation whose
        // start a fault held up until the sweep may be acknowledged before tier 1 is due); a
        // page or timer of it that sat in a dead-letter queue until the end came too late.
        let late = dead_lettered.contains(id);
        let facts = first_round(&d.repo, id).await;
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
            .filter(|t| t.starts_with("Klaxon [") && t.contains(&number) && t.contains(" Ack: "))
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
        let all_resolved = ledger.accepted[slot]
            .iter()
            .all(|k| ledger.resolved.contains(k));
        if all_resolved {
            assert_eq!(
                stored.incident.status(),
                IncidentStatus::Resolved,
                "seed {seed}: incident {slot:?} {number}"
            );
        }
    }

    // Nothing acknowledged was paged after its ack.
    for (id, number, email_mark, sms_mark) in &ledger.acks {
        let number = format!("#{number} ");
        let late_email = emails[*email_mark..]
            .iter()
            .any(|(_, s)| s.starts_with('[') && s.contains(&number));
        let late_sms = sms[*sms_mark..]
            .iter()
            .any(|t| t.starts_with("Klaxon [") && t.contains(&number) && t.contains(" Ack: "));
        assert!(
            !late_email && !late_sms,
            "seed {seed}: {id} {number} paged after its ack"
        );
    }
    assert!(
        emails.iter().all(|(_, s)| !s.is_empty())
            && sms
                .iter()
                .all(|t| !t.contains(PUBLIC_BASE_URL) || t.contains("https://")),
        "seed {seed}: malformed messages"
    );
    let report = Report {
        size,
        alerts: ledger.accepted.values().map(Vec::len).sum::<usize>() + ledger.resolved.len(),
        incidents: incidents.len(),
        emails: emails.len(),
        sms: sms.len(),
        refused: ledger.refused,
        faults,
        plumbing,
        dead_letters,
        duplicated,
        lost,
    };
    report.print();
    assert!(
        report.lost.is_empty(),
        "seed {seed}: alerts lost: {:?}",
        report.lost
    );
    assert!(
        report.duplicated.is_empty(),
        "seed {seed}: sent twice: {:?}",
        report.duplicated
    );
    report
}

impl Report {
    /// Prints the figures docs/design.md reports.
    pub fn print(&self) {
        let s = &self.size;
        println!(
            "chaos seed {}: {} incidents / {} groups at {:.0}%: {} alerts accepted, {} incidents, \
             {} emails, {} SMS; {} requests refused and retried by the senders",
            s.seed,
            s.incidents,
            s.groups,
            s.fault_rate * 100.0,
            self.alerts,
            self.incidents,
            self.emails,
            self.sms,
            self.refused
        );
        println!(
            "  AWS calls through the proxy: {}, faults injected: {} {:?}",
            self.faults.calls(),
            self.faults.faults(),
            self.faults.by_kind()
        );
        println!("  plumbing: {:?}", self.plumbing);
        println!(
            "  dead letters: {} {:?}; lost: {}; duplicated: {}",
            self.dead_letters.len(),
            self.dead_letters
                .iter()
                .map(|(q, _)| q.as_str())
                .collect::<Vec<_>>(),
            self.lost.len(),
            self.duplicated.len()
        );
    }
}
