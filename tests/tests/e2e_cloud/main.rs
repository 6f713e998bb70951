//! End to end against moto, through the six Lambda handlers with real event JSON: API Gateway
//! requests from `events/apigw/` into the ingest, ack and api handlers; SQS events built from
//! messages really received from moto's SQS into grouping, routing and notify; escalation
//! timers read back from moto's EventBridge Scheduler (`get_schedule`: its `at()` time and
//! Input) and delivered through the timers queue, as the scheduler's SQS target would; pages
//! read back from moto's SES and SNS (`/moto-api/data.json`).
//!
//! Each handler is built from exactly the environment template.yaml gives its function. Every
//! test has its own table, queues, schedule group, SES sender and phone number, so the tests
//! run concurrently against one moto server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cloud;
mod events;

use chrono::TimeDelta;
use cloud::{Cloud, PUBLIC_BASE_URL, SLACK_SECRET, Sent, seeded};
use events::{
    link_query, link_request, request, response, sign_sns, slack_request, text, with_body, with_key,
};
use klaxon_app::messages::QueueName;
use klaxon_app::security::links::{LinkKeys, generate_secret};
use klaxon_app::usecases::routing::SWEEP_GRACE;
use klaxon_aws::SecretStore;
use klaxon_domain::escalation::EscalationStatus;
use klaxon_domain::incident::IncidentStatus;
use klaxon_store::Clock;
use klaxon_tests::test_start;
use rand::rngs::StdRng;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Sends an API Gateway event to the ingest handler and returns the HTTP status and body.
async fn ingest(cloud: &Cloud, event: Value) -> (u16, Value) {
    response(&cloud.ingest.handle(event).await.unwrap())
}

/// Sends an API Gateway event to the ack handler.
async fn ack(cloud: &Cloud, event: Value) -> (u16, Value) {
    let answer = cloud.ack.handle(event).await.unwrap();
    response(&serde_json::to_value(answer).unwrap())
}

/// Sends an API Gateway event to the api handler.
async fn api(cloud: &Cloud, event: Value) -> (u16, Value) {
    let answer = cloud.api.handle(event).await.unwrap();
    response(&serde_json::to_value(answer).unwrap())
}

/// Delivers everything queued: once, or twice each in shuffled order.
async fn pump(cloud: &Cloud, copies: usize, rng: &mut StdRng) {
    if copies > 1 {
        cloud.pump_twice_shuffled(rng).await;
    } else {
        cloud.pump().await;
    }
}

/// The one schedule in the escalation group.
async fn only_schedule(cloud: &Cloud) -> String {
    let names = cloud.schedule_names().await;
    assert_eq!(
        names.len(),
        1,
        "expected one escalation schedule: {names:?}"
    );
    names.into_iter().next().unwrap()
}

async fn status(cloud: &Cloud) -> IncidentStatus {
    cloud.only_incident().await.incident.status()
}

/// The main scenario (Alertmanager → incident → tier-0 email → timer → tier-1 SMS → ack by
/// the SMS link → resolve), with every webhook, queue message, timer and link POST delivered
/// `copies` times (shuffled when more than once). Returns what was sent.
async fn main_scenario(cloud: &Cloud, copies: usize, seed: u64) -> Sent {
    let mut rng = seeded(seed);
    let am = cloud.key("am").to_owned();

    // An Alertmanager firing group: one incident for its two alerts, tier 0 emails alice.
    for attempt in 0..copies {
        let (status, body) = ingest(cloud, with_key("ingest-alertmanager.json", &am)).await;
        assert_eq!(status, 202, "{body}");
        let counter = if attempt == 0 { "new" } else { "repeats" };
        assert_eq!(body["summary"][counter], 2, "{body}");
    }
    pump(cloud, copies, &mut rng).await;
    let incident = cloud.only_incident().await;
    assert_eq!(
        incident.incident.alerts().linked,
        2,
        "one incident for the group"
    );
    assert_eq!(incident.incident.status(), IncidentStatus::Triggered);
    let sent = cloud.sent().await;
    assert_eq!(sent.emails.len(), 1, "tier 0 emails alice once: {sent:?}");
    assert_eq!(sent.emails[0].0, "alice@example.com");
    assert!(sent.sms.is_empty());

    // Tier 0's deadline is five minutes away: a real one-shot schedule, not a direct message.
    let tier0 = only_schedule(cloud).await;
    let (at, tier0_timer) = cloud.schedule(&tier0).await.unwrap();
    assert_eq!(at, test_start() + TimeDelta::minutes(5));
    assert_eq!((tier0_timer.round, tier0_timer.tier), (0, 0));
    cloud.fire_schedule(&tier0, copies).await;
    pump(cloud, copies, &mut rng).await;
    let sent = cloud.sent().await;
    assert_eq!(sent.sms.len(), 1, "tier 1 texts bob once: {sent:?}");
    assert_eq!(sent.emails.len(), 1, "alice is not paged again");
    let tier1 = only_schedule(cloud).await;
    let (at, tier1_timer) = cloud.schedule(&tier1).await.unwrap();
    assert_eq!(at, cloud.clock.now() + TimeDelta::minutes(10));
    assert_eq!((tier1_timer.round, tier1_timer.tier), (0, 1));

    // Bob opens the link from his SMS: GET shows a confirmation page and changes nothing.
    let query = link_query(&sent.sms[0], PUBLIC_BASE_URL, "ack");
    let (code, page) = ack(cloud, link_request("ack-link-get.json", &query)).await;
    assert_eq!(code, 200, "{page}");
    assert!(page.as_str().unwrap().contains("<form method=\"post\">"));
    assert_eq!(status(cloud).await, IncidentStatus::Triggered);
    // The POST acknowledges (a second POST changes nothing).
    for _ in 0..copies {
        let (code, page) = ack(cloud, link_request("ack-link-post.json", &query)).await;
        assert_eq!(code, 200, "{page}");
    }
    assert_eq!(status(cloud).await, IncidentStatus::Acknowledged);
    assert!(
        cloud.schedule(&tier1).await.is_none(),
        "acknowledging deletes the pending escalation schedule"
    );
    pump(cloud, copies, &mut rng).await;
    let acknowledged = cloud.sent().await;
    assert_eq!(
        (acknowledged.emails.len(), acknowledged.sms.len()),
        (2, 2),
        "alice and bob are told once: {acknowledged:?}"
    );

    // Late copies of both timers change nothing.
    for _ in 0..copies {
        cloud.send_timer(&tier0_timer).await;
        cloud.send_timer(&tier1_timer).await;
    }
    pump(cloud, copies, &mut rng).await;
    assert_eq!(cloud.sent().await, acknowledged, "no page after the ack");
    assert!(cloud.schedule_names().await.is_empty());

    // The resolved group resolves the incident and tells both.
    let resolved = with_body(
        with_key("ingest-alertmanager.json", &am),
        &text("ingest/alertmanager-resolved.json"),
    );
    for _ in 0..copies {
        let (code, body) = ingest(cloud, resolved.clone()).await;
        assert_eq!(code, 202, "{body}");
    }
    pump(cloud, copies, &mut rng).await;
    let incident = cloud.only_incident().await;
    assert_eq!(incident.incident.status(), IncidentStatus::Resolved);
    assert_eq!(
        incident.incident.escalation().unwrap().status(),
        EscalationStatus::Resolved
    );
    let sent = cloud.sent().await;
    assert_eq!((sent.emails.len(), sent.sms.len()), (3, 3), "{sent:?}");
    for queue in QueueName::ALL {
        assert_eq!(cloud.visible(queue).await, 0, "{} is empty", queue.as_str());
    }
    sent
}

/// What was sent, without the parts that differ between deployments (signed links, which
/// carry the incident id): recipient and subject of each email, each SMS's text before its
/// link. Sorted, so two runs compare as multisets.
fn comparable(sent: &Sent) -> (Vec<(String, String)>, Vec<String>) {
    let mut emails: Vec<_> = sent
        .emails
        .iter()
        .map(|(to, subject, _)| (to.clone(), subject.clone()))
        .collect();
    emails.sort();
    let mut sms: Vec<_> = sent
        .sms
        .iter()
        .map(|text| text.split("https://").next().unwrap_or_default().to_owned())
        .collect();
    sms.sort();
    (emails, sms)
}

mod console;
mod dead_letters;
mod declare;
mod heartbeats;
mod postmortems;
mod recovery;
mod refusals;
mod responder;
mod scenarios;
