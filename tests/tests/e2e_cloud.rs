//! End to end against moto, through the Lambda handlers with real event JSON: API Gateway
//! requests from `events/apigw/` into the ingest handler, SQS events built from messages really
//! received from moto's SQS into the grouping and routing handlers, and escalation timers read
//! back from moto's EventBridge Scheduler (`get_schedule`: its `at()` time and Input) and
//! delivered through the timers queue, as the scheduler's SQS target would.
//!
//! Every test has its own table, queues, schedule group, SES sender and phone number, so the
//! tests run concurrently against one moto server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "e2e_cloud/cloud.rs"]
mod cloud;
#[path = "e2e_cloud/events.rs"]
mod events;

use chrono::TimeDelta;
use cloud::{Cloud, seeded};
use events::{response, sign_sns, text, with_body, with_key};
use klaxon_app::messages::QueueName;
use klaxon_domain::escalation::{EscalationStatus, PageRequest, Target, TimerPayload};
use klaxon_domain::ids::{ScheduleId, UserId};
use klaxon_domain::incident::IncidentStatus;
use klaxon_store::Clock;
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// Sends an API Gateway event to the ingest handler and returns the HTTP status and body.
async fn ingest(cloud: &Cloud, event: Value) -> (u16, Value) {
    let answer = cloud.ingest.handle(event).await.unwrap();
    response(&answer)
}

/// What identifies a page for the duplicate-delivery comparison.
fn page_identity(page: &PageRequest) -> (u32, u32, String) {
    (page.round, page.tier, format!("{:?}", page.targets))
}

fn primary() -> Vec<Target> {
    vec![Target::Schedule(ScheduleId::new("primary").unwrap())]
}

fn bob() -> Vec<Target> {
    vec![Target::User(UserId::new("bob").unwrap())]
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

/// Delivers everything queued, once or (shuffled) twice.
async fn pump(cloud: &Cloud, copies: usize, rng: &mut rand::rngs::StdRng) {
    if copies > 1 {
        cloud.pump_twice_shuffled(rng).await;
    } else {
        cloud.pump().await;
    }
}

/// The main flow up to the tier-1 page, with every message and timer delivered `copies` times
/// (shuffled when more than once). Returns the pages and the two timers.
async fn fire_and_escalate(
    cloud: &Cloud,
    copies: usize,
    seed: u64,
) -> (Vec<PageRequest>, TimerPayload, TimerPayload) {
    let mut rng = seeded(seed);
    let (status, body) = ingest(cloud, with_key("ingest-alertmanager.json", cloud.key("am"))).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["summary"]["new"], 2);
    pump(cloud, copies, &mut rng).await;
    let mut pages = cloud.take_pages().await;

    // Tier 0's deadline is five minutes away: a real one-shot schedule, not a direct message.
    let tier0 = only_schedule(cloud).await;
    let (at, _) = cloud.schedule(&tier0).await.unwrap();
    assert_eq!(at, cloud.clock.now() + TimeDelta::minutes(5));
    let first = cloud.fire_schedule(&tier0, copies).await;
    pump(cloud, copies, &mut rng).await;
    pages.extend(cloud.take_pages().await);

    let tier1 = only_schedule(cloud).await;
    let (at, second) = cloud.schedule(&tier1).await.unwrap();
    assert_eq!(at, cloud.clock.now() + TimeDelta::minutes(10));
    assert_eq!((second.round, second.tier), (0, 1));
    (pages, first, second)
}

#[tokio::test]
async fn an_alertmanager_group_pages_escalates_on_its_schedule_and_resolves() {
    let cloud = Cloud::new().await;
    let (pages, tier0_timer, tier1_timer) = fire_and_escalate(&cloud, 1, 0).await;
    // Page requests may repeat (two alerts announce the incident; notify sends each
    // (incident, round, tier, user, channel) once): compare the set.
    assert_eq!(
        pages.iter().map(page_identity).collect::<BTreeSet<_>>(),
        BTreeSet::from([
            (0, 0, format!("{:?}", primary())),
            (0, 1, format!("{:?}", bob()))
        ])
    );
    let incident = cloud.only_incident().await;
    assert_eq!(
        incident.incident.alerts().linked,
        2,
        "one incident for the group"
    );

    // A late copy of the fired tier-0 timer changes nothing.
    cloud.send_timer(&tier0_timer).await;
    cloud.pump().await;
    assert!(cloud.take_pages().await.is_empty());

    // The group resolves: the incident auto-resolves and the tier-1 schedule is deleted.
    let tier1 = tier1_timer.timer_name();
    assert!(cloud.schedule(tier1.as_str()).await.is_some());
    let (status, body) = ingest(
        &cloud,
        with_body(
            with_key("ingest-alertmanager.json", cloud.key("am")),
            &text("ingest/alertmanager-resolved.json"),
        ),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["summary"]["resolved"], 2);
    cloud.pump().await;
    let incident = cloud.only_incident().await;
    assert_eq!(incident.incident.status(), IncidentStatus::Resolved);
    assert_eq!(
        incident.incident.escalation().unwrap().status(),
        EscalationStatus::Resolved
    );
    assert!(
        cloud.schedule(tier1.as_str()).await.is_none(),
        "the pending escalation schedule is gone"
    );
    // A late copy of the cancelled timer changes nothing either.
    cloud.send_timer(&tier1_timer).await;
    cloud.pump().await;
    assert!(cloud.take_pages().await.is_empty());
    assert!(cloud.schedule_names().await.is_empty());
}

#[tokio::test]
async fn every_message_and_timer_delivered_twice_in_shuffled_order_pages_the_same() {
    let once = Cloud::new().await;
    let (expected, _, _) = fire_and_escalate(&once, 1, 0).await;
    let expected: BTreeSet<_> = expected.iter().map(page_identity).collect();
    for seed in [7, 1234] {
        let twice = Cloud::new().await;
        let (pages, _, _) = fire_and_escalate(&twice, 2, seed).await;
        let unique: BTreeSet<_> = pages.iter().map(page_identity).collect();
        assert_eq!(unique, expected, "seed {seed}: the same pages");
        let incident = twice.only_incident().await;
        assert_eq!(incident.incident.alerts().linked, 2, "seed {seed}");
    }
}

#[tokio::test]
async fn pagerduty_trigger_acknowledge_and_resolve_by_dedup_key() {
    let cloud = Cloud::new().await;
    let key = cloud.key("pd").to_owned();
    let event = |name: &str| {
        let mut body: Value = serde_json::from_str(&text(&format!("ingest/{name}"))).unwrap();
        body["routing_key"] = json!(key);
        with_body(
            with_key("ingest-pagerduty-enqueue.json", &key),
            &body.to_string(),
        )
    };
    let (status, body) = ingest(&cloud, with_key("ingest-pagerduty-enqueue.json", &key)).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(
        body,
        json!({"status": "success", "message": "Event processed", "dedup_key": "db-primary/replication-lag"})
    );
    cloud.pump().await;
    assert_eq!(cloud.take_pages().await.len(), 1);
    let timer = only_schedule(&cloud).await;

    let (status, _) = ingest(&cloud, event("pagerduty-acknowledge.json")).await;
    assert_eq!(status, 202);
    cloud.pump().await;
    assert_eq!(
        cloud.only_incident().await.incident.status(),
        IncidentStatus::Acknowledged
    );
    assert!(
        cloud.schedule(&timer).await.is_none(),
        "acknowledging deletes the escalation schedule"
    );

    let (status, _) = ingest(&cloud, event("pagerduty-resolve.json")).await;
    assert_eq!(status, 202);
    cloud.pump().await;
    assert_eq!(
        cloud.only_incident().await.incident.status(),
        IncidentStatus::Resolved
    );
    assert!(cloud.take_pages().await.is_empty(), "nobody paged again");
}

#[tokio::test]
async fn opsgenie_create_acknowledge_and_close_by_alias() {
    let cloud = Cloud::new().await;
    let key = cloud.key("og").to_owned();
    let (status, body) = ingest(&cloud, with_key("ingest-opsgenie-create.json", &key)).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["result"], "Request will be processed");
    cloud.pump().await;
    assert_eq!(cloud.take_pages().await.len(), 1);
    assert_eq!(
        cloud.only_incident().await.incident.status(),
        IncidentStatus::Triggered
    );

    let (status, _) = ingest(&cloud, with_key("ingest-opsgenie-acknowledge.json", &key)).await;
    assert_eq!(status, 202);
    cloud.pump().await;
    assert_eq!(
        cloud.only_incident().await.incident.status(),
        IncidentStatus::Acknowledged
    );
    assert!(cloud.schedule_names().await.is_empty());

    let (status, _) = ingest(&cloud, with_key("ingest-opsgenie-close.json", &key)).await;
    assert_eq!(status, 202);
    cloud.pump().await;
    assert_eq!(
        cloud.only_incident().await.incident.status(),
        IncidentStatus::Resolved
    );
}

#[tokio::test]
async fn cloudwatch_alarms_arrive_over_signed_https_and_as_lambda_sns_events() {
    let cloud = Cloud::new().await;
    let key = cloud.key("cw").to_owned();
    let signed = sign_sns(&text("ingest/cloudwatch-sns-notification.json"));
    let (status, body) = ingest(
        &cloud,
        with_body(with_key("ingest-sns-https.json", &key), &signed),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert!(
        cloud
            .http
            .visited
            .lock()
            .unwrap()
            .iter()
            .all(|url| url.starts_with("https://sns.")),
        "only SNS certificate URLs are fetched"
    );

    let confirmation = sign_sns(&text("ingest/sns-subscription-confirmation.json"));
    let (status, body) = ingest(
        &cloud,
        with_body(with_key("ingest-sns-https.json", &key), &confirmation),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        cloud
            .http
            .visited
            .lock()
            .unwrap()
            .iter()
            .any(|url| url.contains("Action=ConfirmSubscription")),
        "the subscription was confirmed"
    );

    let event: Value = serde_json::from_str(&text("ingest/sns-lambda-event.json")).unwrap();
    let answer = cloud.ingest.handle(event).await.unwrap();
    assert_eq!(answer["summary"]["new"], 1);
    cloud.pump().await;
    assert_eq!(
        cloud.incidents().await.len(),
        2,
        "two alarms, two incidents"
    );
    assert_eq!(cloud.take_pages().await.len(), 2);
}

/// Asserts that nothing was stored or queued.
async fn assert_nothing_stored(cloud: &Cloud, what: &str) {
    assert_eq!(
        cloud.visible(QueueName::Alerts).await,
        0,
        "{what}: nothing queued"
    );
    assert!(cloud.incidents().await.is_empty(), "{what}: no incident");
}

#[tokio::test]
async fn bad_keys_and_bad_signatures_get_4xx_and_store_nothing() {
    let cloud = Cloud::new().await;
    let routes = [
        ("ingest-native-alert.json", "native", "Bearer"),
        ("ingest-alertmanager.json", "am", "Bearer"),
        ("ingest-grafana.json", "grafana", "Bearer"),
        ("ingest-opsgenie-create.json", "og", "GenieKey"),
        ("ingest-opsgenie-acknowledge.json", "og", "GenieKey"),
        ("ingest-opsgenie-close.json", "og", "GenieKey"),
    ];
    for (file, integration, scheme) in routes {
        let good = with_key(file, cloud.key(integration));
        let mut missing = good.clone();
        missing["headers"]
            .as_object_mut()
            .unwrap()
            .remove("authorization");
        let (status, body) = ingest(&cloud, missing).await;
        assert_eq!(status, 401, "{file} without a key: {body}");
        let (status, _) = ingest(&cloud, with_key(file, "klx_not-a-key")).await;
        assert_eq!(status, 401, "{file} with a wrong key");
        let other = if integration == "pd" { "am" } else { "pd" };
        let (status, body) = ingest(&cloud, with_key(file, cloud.key(other))).await;
        assert_eq!(status, 403, "{file} with another integration's key: {body}");
        let mut api = good.clone();
        api["headers"]["authorization"] = json!(format!("{scheme} {}", cloud.api_key));
        let (status, _) = ingest(&cloud, api).await;
        assert_eq!(status, 403, "{file} with an API key");
    }
    // PagerDuty: the routing key in the body.
    let (status, body) = ingest(
        &cloud,
        with_key("ingest-pagerduty-enqueue.json", "klx_wrong"),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"], json!(["Invalid routing key"]));
    // SNS over HTTPS: a wrong key in the path; an unsigned, a tampered and a foreign-signed
    // message with the right key.
    let (status, _) = ingest(&cloud, with_key("ingest-sns-https.json", "klx_wrong")).await;
    assert_eq!(status, 401);
    let key = cloud.key("cw").to_owned();
    let (status, body) = ingest(&cloud, with_key("ingest-sns-https.json", &key)).await;
    assert_eq!(status, 401, "unsigned sample: {body}");
    let mut tampered: Value =
        serde_json::from_str(&sign_sns(&text("ingest/cloudwatch-sns-notification.json"))).unwrap();
    tampered["Message"] = json!(tampered["Message"].as_str().unwrap().replace("ALARM", "OK"));
    let (status, body) = ingest(
        &cloud,
        with_body(
            with_key("ingest-sns-https.json", &key),
            &tampered.to_string(),
        ),
    )
    .await;
    assert_eq!(status, 401, "tampered: {body}");
    let mut elsewhere: Value =
        serde_json::from_str(&sign_sns(&text("ingest/cloudwatch-sns-notification.json"))).unwrap();
    elsewhere["SigningCertURL"] = json!("https://attacker.example.com/cert.pem");
    let (status, _) = ingest(
        &cloud,
        with_body(
            with_key("ingest-sns-https.json", &key),
            &elsewhere.to_string(),
        ),
    )
    .await;
    assert!(
        (400..500).contains(&status),
        "certificate off SNS: {status}"
    );
    // A Lambda SNS event from a topic no integration lists.
    let mut foreign: Value = serde_json::from_str(&text("ingest/sns-lambda-event.json")).unwrap();
    foreign["Records"][0]["Sns"]["TopicArn"] = json!("arn:aws:sns:eu-west-1:123456789012:other");
    assert!(cloud.ingest.handle(foreign).await.is_err());

    assert_nothing_stored(&cloud, "bad credentials").await;
}

#[tokio::test]
async fn malformed_bodies_in_every_format_get_4xx_with_a_reason_and_store_nothing() {
    let cloud = Cloud::new().await;
    let routes = [
        ("ingest-native-alert.json", "native"),
        ("ingest-alertmanager.json", "am"),
        ("ingest-grafana.json", "grafana"),
        ("ingest-pagerduty-enqueue.json", "pd"),
        ("ingest-opsgenie-create.json", "og"),
        ("ingest-sns-https.json", "cw"),
    ];
    let bodies = [
        "",
        "not json",
        "[]",
        "{\"unexpected\": true}",
        "{\"summary\": 5}",
    ];
    for (file, integration) in routes {
        for bad in bodies {
            let (status, body) = ingest(
                &cloud,
                with_body(with_key(file, cloud.key(integration)), bad),
            )
            .await;
            assert!(
                (400..500).contains(&status),
                "{file} {bad:?}: {status} {body}"
            );
            let reason = [
                &body["error"]["message"],
                &body["message"],
                &body["errors"][0],
            ]
            .into_iter()
            .find_map(|v| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned));
            assert!(
                reason.is_some(),
                "{file} {bad:?}: a reason is given: {body}"
            );
        }
        // Too large for any sender.
        let huge = format!("{{\"summary\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
        let (status, _) = ingest(
            &cloud,
            with_body(with_key(file, cloud.key(integration)), &huge),
        )
        .await;
        assert_eq!(status, 413, "{file}");
    }
    // A native alert missing its summary names the field.
    let (status, body) = ingest(
        &cloud,
        with_body(
            with_key("ingest-native-alert.json", cloud.key("native")),
            "{\"dedup_key\": \"x\", \"severity\": \"critical\"}",
        ),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["field"], "summary", "{body}");
    assert_nothing_stored(&cloud, "malformed bodies").await;
}
