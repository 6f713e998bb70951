//! What must hold after a chaos run, checked on what moto holds, and the figures it reports.

use super::deploy::{Deployment, PUBLIC_BASE_URL};
use super::lambda::PlumbingStats;
use super::run::{Ledger, Size};
use klaxon_domain::alert::AlertKey;
use klaxon_domain::ids::{DedupKey, IncidentId, IntegrationName};
use klaxon_domain::incident::IncidentStatus;
use klaxon_tests::chaos::{dead_lettered_incidents, duplicates, first_round};
use klaxon_tests::faults::{FaultStats, UnansweredSend};
use klaxon_tests::moto_data;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

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
    /// Email and SMS sends the proxy saw applied but unanswered (injected or slow).
    pub unanswered: Vec<UnansweredSend>,
    /// Extra copies of pages and notices explained by those sends (at least once, by design).
    pub resent: Vec<String>,
    /// Pages and notices sent more than once that nothing explains (must be empty).
    pub duplicated: Vec<String>,
    /// Alerts answered 2xx but not stored or not grouped (must be empty).
    pub lost: Vec<String>,
}

fn alert_key(dedup_key: &str) -> AlertKey {
    AlertKey {
        integration: IntegrationName::new("native").unwrap(),
        dedup_key: DedupKey::new(dedup_key).unwrap(),
    }
}

/// The incident an accepted alert was grouped into.
pub(super) async fn incident_of(d: &Deployment, dedup_key: &str) -> Option<IncidentId> {
    d.repo
        .alert(&alert_key(dedup_key))
        .await
        .unwrap()
        .and_then(|record| record.incident)
}

/// The key a sent email is counted under: recipient and subject.
fn email_key(to: &str, subject: &str) -> String {
    format!("email {to}: {subject}")
}

/// The key a sent SMS is counted under: its headline (the text before its links, which are
/// signed afresh for each page).
fn sms_key(text: &str) -> String {
    format!("sms: {}", text.split(" Ack: ").next().unwrap_or_default())
}

/// The key of a send the proxy saw applied but unanswered.
fn unanswered_key(send: &UnansweredSend) -> String {
    if send.call.starts_with("ses:") {
        email_key(&send.to, &send.text)
    } else {
        sms_key(&send.text)
    }
}

/// What notify sent for this deployment, in moto's order: emails as (to, subject) and SMS.
pub(super) async fn sent(d: &Deployment) -> (Vec<(String, String)>, Vec<String>) {
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

/// How many of `keys` (one per message sent) are extra copies explained by an unanswered send.
fn distinct_resent(keys: &[String], resent_of: &impl Fn(&str) -> usize) -> usize {
    let distinct: BTreeSet<&String> = keys.iter().collect();
    distinct.into_iter().map(|key| resent_of(key)).sum()
}

/// The assertions, on what moto holds.
pub(super) async fn check(
    d: &Deployment,
    ledger: &Ledger,
    size: Size,
    mut faults: FaultStats,
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
    // Each page and each notice exactly once, except for the extra copy of a send applied but
    // unanswered (at least once: SES and SNS take no idempotency key).
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for (to, subject) in &emails {
        *counts.entry(email_key(to, subject)).or_default() += 1;
    }
    for text in &sms {
        *counts.entry(sms_key(text)).or_default() += 1;
    }
    let unanswered: Vec<String> = faults.unanswered.iter().map(unanswered_key).collect();
    let found = duplicates(&counts, unanswered.iter().map(String::as_str));
    let listed = |copies: &BTreeMap<String, usize>| -> Vec<String> {
        copies
            .iter()
            .map(|(what, extra)| format!("{what} +{extra}"))
            .collect()
    };
    let (resent, duplicated) = (listed(&found.resent), listed(&found.unexplained));
    // Copies of one message beyond the first that an unanswered send explains.
    let resent_of = |key: &str| found.resent.get(key).copied().unwrap_or(0);

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
        let paged: Vec<String> = emails
            .iter()
            .filter(|(to, s)| {
                to == "alice@example.com" && s.starts_with('[') && s.contains(&number)
            })
            .map(|(to, subject)| email_key(to, subject))
            .collect();
        let pages = paged.len() - distinct_resent(&paged, &resent_of);
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
        let texted: Vec<String> = sms
            .iter()
            .filter(|t| t.starts_with("Klaxon [") && t.contains(&number) && t.contains(" Ack: "))
            .map(|text| sms_key(text))
            .collect();
        let texts = texted.len() - distinct_resent(&texted, &resent_of);
        if let (Some(acked), Some(due)) = (facts.acknowledged, facts.due) {
            assert!(
                acked >= due || !facts.tier1,
                "seed {seed}: {number} acknowledged before tier 1 was due, yet tier 1 was paged"
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
    let unanswered = std::mem::take(&mut faults.unanswered);
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
        unanswered,
        resent,
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
        "seed {seed}: sent twice, and no send applied but unanswered explains it: {:?}",
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
        let mut unanswered: BTreeMap<(&str, &str), usize> = BTreeMap::new();
        for send in &self.unanswered {
            *unanswered
                .entry((send.call.as_str(), send.kind.as_str()))
                .or_default() += 1;
        }
        println!(
            "  dead letters: {} {:?}; lost: {}; sends applied but unanswered: {} {unanswered:?}; \
             resent after one (at least once): {} {:?}; duplicated otherwise: {} {:?}",
            self.dead_letters.len(),
            self.dead_letters
                .iter()
                .map(|(q, body)| format!("{q}: {}", dead_letter(body)))
                .collect::<Vec<_>>(),
            self.lost.len(),
            self.unanswered.len(),
            self.resent.len(),
            self.resent,
            self.duplicated.len(),
            self.duplicated
        );
    }
}

/// What a dead letter was: its kind and incident (the body itself when it does not parse).
fn dead_letter(body: &str) -> String {
    use klaxon_app::messages::QueueMessage;
    match QueueMessage::from_json(body) {
        Ok(QueueMessage::Page(page)) => {
            format!("page {} r{} t{}", page.incident, page.round, page.tier)
        }
        Ok(QueueMessage::Notice(notice)) => {
            format!("{:?} notice {}", notice.notice, notice.incident)
        }
        Ok(QueueMessage::Timer(timer)) => format!("timer {} t{}", timer.incident, timer.tier),
        Ok(QueueMessage::Incident(message)) => format!("incident {}", message.incident),
        Ok(other) => format!("{other:?}"),
        Err(_) => body.to_owned(),
    }
}
