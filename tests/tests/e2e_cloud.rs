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

#[path = "e2e_cloud/cloud.rs"]
mod cloud;
#[path = "e2e_cloud/events.rs"]
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

#[tokio::test]
async fn an_alertmanager_group_pages_escalates_is_acknowledged_by_link_and_resolves() {
    let cloud = Cloud::new().await;
    let sent = main_scenario(&cloud, 1, 0).await;
    let (emails, sms) = comparable(&sent);
    assert!(emails.iter().all(|(to, _)| to == "alice@example.com"));
    assert_eq!(sms.len(), 3);
}

#[tokio::test]
async fn every_message_and_timer_delivered_twice_in_shuffled_order_sends_the_same_pages() {
    let once = Cloud::new().await;
    let expected = comparable(&main_scenario(&once, 1, 0).await);
    for seed in [7, 1234] {
        let twice = Cloud::new().await;
        let sent = comparable(&main_scenario(&twice, 2, seed).await);
        assert_eq!(
            sent, expected,
            "seed {seed}: the same emails and SMS, none extra"
        );
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
    let (code, body) = ingest(&cloud, with_key("ingest-pagerduty-enqueue.json", &key)).await;
    assert_eq!(code, 202, "{body}");
    assert_eq!(
        body,
        json!({"status": "success", "message": "Event processed", "dedup_key": "db-primary/replication-lag"})
    );
    cloud.pump().await;
    assert_eq!(cloud.sent().await.emails.len(), 1, "alice paged");
    let timer = only_schedule(&cloud).await;

    let (code, _) = ingest(&cloud, event("pagerduty-acknowledge.json")).await;
    assert_eq!(code, 202);
    cloud.pump().await;
    assert_eq!(status(&cloud).await, IncidentStatus::Acknowledged);
    assert!(
        cloud.schedule(&timer).await.is_none(),
        "acknowledging deletes the escalation schedule"
    );
    assert_eq!(cloud.sent().await.emails.len(), 2, "alice is told");

    let (code, _) = ingest(&cloud, event("pagerduty-resolve.json")).await;
    assert_eq!(code, 202);
    cloud.pump().await;
    assert_eq!(status(&cloud).await, IncidentStatus::Resolved);
    let sent = cloud.sent().await;
    assert_eq!(sent.emails.len(), 3, "{sent:?}");
    assert!(sent.sms.is_empty(), "bob was never paged");
}

#[tokio::test]
async fn opsgenie_create_acknowledge_and_close_by_alias() {
    let cloud = Cloud::new().await;
    let key = cloud.key("og").to_owned();
    let (code, body) = ingest(&cloud, with_key("ingest-opsgenie-create.json", &key)).await;
    assert_eq!(code, 202, "{body}");
    assert_eq!(body["result"], "Request will be processed");
    cloud.pump().await;
    assert_eq!(cloud.sent().await.emails.len(), 1);
    assert_eq!(status(&cloud).await, IncidentStatus::Triggered);

    let (code, _) = ingest(&cloud, with_key("ingest-opsgenie-acknowledge.json", &key)).await;
    assert_eq!(code, 202);
    cloud.pump().await;
    assert_eq!(status(&cloud).await, IncidentStatus::Acknowledged);
    assert!(cloud.schedule_names().await.is_empty());

    let (code, _) = ingest(&cloud, with_key("ingest-opsgenie-close.json", &key)).await;
    assert_eq!(code, 202);
    cloud.pump().await;
    assert_eq!(status(&cloud).await, IncidentStatus::Resolved);
    assert_eq!(
        cloud.sent().await.emails.len(),
        3,
        "page, ack and resolve notices"
    );
}

#[tokio::test]
async fn cloudwatch_alarms_arrive_over_signed_https_and_as_lambda_sns_events() {
    let cloud = Cloud::new().await;
    let key = cloud.key("cw").to_owned();
    let signed = sign_sns(&text("ingest/cloudwatch-sns-notification.json"));
    let (code, body) = ingest(
        &cloud,
        with_body(with_key("ingest-sns-https.json", &key), &signed),
    )
    .await;
    assert_eq!(code, 202, "{body}");
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
    let (code, body) = ingest(
        &cloud,
        with_body(with_key("ingest-sns-https.json", &key), &confirmation),
    )
    .await;
    assert_eq!(code, 200, "{body}");
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
    assert_eq!(cloud.sent().await.emails.len(), 2);
}

#[tokio::test]
async fn the_api_lists_the_incident_and_who_is_on_call() {
    let cloud = Cloud::new().await;
    ingest(
        &cloud,
        with_key("ingest-native-alert.json", cloud.key("native")),
    )
    .await;
    cloud.pump().await;
    let id = cloud.only_incident().await.incident.id().to_string();
    let replacements = [
        ("klx_EXAMPLE_API_KEY", cloud.api_key.as_str()),
        ("0192f3a1b2c37d4e8f90a1b2c3d4e5f6", id.as_str()),
    ];
    let (code, body) = api(&cloud, request("api-list-incidents.json", &replacements)).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["incidents"][0]["id"], id.as_str(), "{body}");
    let (code, body) = api(&cloud, request("api-get-incident.json", &replacements)).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["incident"]["status"], "triggered", "{body}");
    let (code, body) = api(&cloud, request("api-oncall.json", &replacements)).await;
    assert_eq!(code, 200, "{body}");
    assert!(body.to_string().contains("alice"), "{body}");
    let (code, _) = api(&cloud, request("api-list-incidents.json", &[])).await;
    assert_eq!(code, 401, "the sample's placeholder key is not a key");
}

/// Asserts that nothing was stored or queued by refused ingest requests.
async fn assert_nothing_stored(cloud: &Cloud, what: &str) {
    assert_eq!(
        cloud.visible(QueueName::Alerts).await,
        0,
        "{what}: nothing queued"
    );
    assert!(cloud.incidents().await.is_empty(), "{what}: no incident");
    assert_eq!(
        cloud.items_with_pk_prefix("ALERT#").await,
        0,
        "{what}: no alert record"
    );
}

#[tokio::test]
async fn bad_keys_and_bad_signatures_at_ingest_get_4xx_and_store_nothing() {
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
        let (code, body) = ingest(&cloud, missing).await;
        assert_eq!(code, 401, "{file} without a key: {body}");
        let (code, _) = ingest(&cloud, with_key(file, "klx_not-a-key")).await;
        assert_eq!(code, 401, "{file} with a wrong key");
        let (code, body) = ingest(&cloud, with_key(file, cloud.key("pd"))).await;
        assert_eq!(code, 403, "{file} with another integration's key: {body}");
        let mut api_key = good.clone();
        api_key["headers"]["authorization"] = json!(format!("{scheme} {}", cloud.api_key));
        let (code, _) = ingest(&cloud, api_key).await;
        assert_eq!(code, 403, "{file} with an API key");
    }
    // PagerDuty: the routing key in the body.
    let (code, body) = ingest(
        &cloud,
        with_key("ingest-pagerduty-enqueue.json", "klx_wrong"),
    )
    .await;
    assert_eq!(code, 400, "{body}");
    assert_eq!(body["errors"], json!(["Invalid routing key"]));
    // SNS over HTTPS: a wrong key in the path; an unsigned, a tampered and a foreign-signed
    // message with the right key.
    let (code, _) = ingest(&cloud, with_key("ingest-sns-https.json", "klx_wrong")).await;
    assert_eq!(code, 401);
    let key = cloud.key("cw").to_owned();
    let (code, body) = ingest(&cloud, with_key("ingest-sns-https.json", &key)).await;
    assert_eq!(code, 401, "unsigned sample: {body}");
    let mut tampered: Value =
        serde_json::from_str(&sign_sns(&text("ingest/cloudwatch-sns-notification.json"))).unwrap();
    tampered["Message"] = json!(tampered["Message"].as_str().unwrap().replace("ALARM", "OK"));
    let (code, body) = ingest(
        &cloud,
        with_body(
            with_key("ingest-sns-https.json", &key),
            &tampered.to_string(),
        ),
    )
    .await;
    assert_eq!(code, 401, "tampered: {body}");
    let mut elsewhere: Value =
        serde_json::from_str(&sign_sns(&text("ingest/cloudwatch-sns-notification.json"))).unwrap();
    elsewhere["SigningCertURL"] = json!("https://attacker.example.com/cert.pem");
    let (code, _) = ingest(
        &cloud,
        with_body(
            with_key("ingest-sns-https.json", &key),
            &elsewhere.to_string(),
        ),
    )
    .await;
    assert!((400..500).contains(&code), "certificate off SNS: {code}");
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
        ("ingest-opsgenie-acknowledge.json", "og"),
        ("ingest-opsgenie-close.json", "og"),
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
            // Opsgenie's acknowledge and close bodies are optional and so are all their
            // fields: only a body that is not a JSON object is malformed there.
            let action = matches!(
                file,
                "ingest-opsgenie-acknowledge.json" | "ingest-opsgenie-close.json"
            );
            if action && !matches!(bad, "not json" | "[]") {
                continue;
            }
            let (code, body) = ingest(
                &cloud,
                with_body(with_key(file, cloud.key(integration)), bad),
            )
            .await;
            assert!((400..500).contains(&code), "{file} {bad:?}: {code} {body}");
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
        let (code, _) = ingest(
            &cloud,
            with_body(with_key(file, cloud.key(integration)), &huge),
        )
        .await;
        assert_eq!(code, 413, "{file}");
    }
    // A native alert missing its summary names the field.
    let (code, body) = ingest(
        &cloud,
        with_body(
            with_key("ingest-native-alert.json", cloud.key("native")),
            "{\"dedup_key\": \"x\", \"severity\": \"critical\"}",
        ),
    )
    .await;
    assert_eq!(code, 400);
    assert_eq!(body["error"]["field"], "summary", "{body}");
    assert_nothing_stored(&cloud, "malformed bodies").await;
}

#[tokio::test]
async fn tampered_and_expired_links_and_bad_slack_signatures_change_nothing() {
    let cloud = Cloud::new().await;
    ingest(
        &cloud,
        with_key("ingest-alertmanager.json", cloud.key("am")),
    )
    .await;
    cloud.pump().await;
    let incident = cloud.only_incident().await.incident.id().to_string();
    let schedule = only_schedule(&cloud).await;
    let (_, _, html) = cloud.sent().await.emails.remove(0);
    let query = link_query(&html, PUBLIC_BASE_URL, "ack");

    let unchanged = |what: &'static str| {
        let cloud = &cloud;
        let schedule = &schedule;
        async move {
            assert_eq!(status(cloud).await, IncidentStatus::Triggered, "{what}");
            assert!(cloud.schedule(schedule).await.is_some(), "{what}");
            assert_eq!(
                cloud.visible(QueueName::Notifications).await,
                0,
                "{what}: no notice queued"
            );
        }
    };

    // An altered link: another action, another user, a forged signature.
    for (from, to) in [("a=ack", "a=resolve"), ("u=alice", "u=bob")] {
        let altered = query.replace(from, to);
        assert_ne!(altered, query);
        let (code, _) = ack(&cloud, link_request("ack-link-post.json", &altered)).await;
        assert_eq!(code, 403, "{from} → {to}");
    }
    let forged = format!("{}AAAA", query);
    let (code, _) = ack(&cloud, link_request("ack-link-post.json", &forged)).await;
    assert!((400..500).contains(&code), "forged signature: {code}");
    unchanged("altered links").await;

    // The API without a key, and the sample's own (unsigned) Slack request.
    let (code, _) = ack(
        &cloud,
        request(
            "ack-incident-acknowledge.json",
            &[("0192f3a1b2c37d4e8f90a1b2c3d4e5f6", &incident)],
        ),
    )
    .await;
    assert_eq!(code, 401);
    let (code, _) = ack(&cloud, request("ack-slack-actions.json", &[])).await;
    assert_eq!(code, 401, "the sample's signature is a placeholder");
    let now = cloud.clock.now().timestamp();
    let (code, _) = ack(
        &cloud,
        slack_request(&incident, now, "not-the-slack-signing-secret"),
    )
    .await;
    assert_eq!(code, 401, "signed with another secret");
    let (code, _) = ack(&cloud, slack_request(&incident, now - 3600, SLACK_SECRET)).await;
    assert_eq!(code, 401, "a replayed request an hour old");
    unchanged("refused API and Slack requests").await;

    // The link expires after the configuration's ack_link_lifetime (12h).
    cloud.clock.advance(TimeDelta::hours(13));
    let (code, page) = ack(&cloud, link_request("ack-link-post.json", &query)).await;
    assert_eq!(code, 410, "{page}");
    unchanged("expired link").await;

    // A correctly signed Slack button press does acknowledge.
    let now = cloud.clock.now().timestamp();
    let (code, body) = ack(&cloud, slack_request(&incident, now, SLACK_SECRET)).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(status(&cloud).await, IncidentStatus::Acknowledged);
    assert!(cloud.schedule(&schedule).await.is_none());
}

/// Rotating the deployed link secret (as `klaxon keys rotate-link-secret --secret-id` does: read
/// the secret, rotate, store a new version) keeps links already sent working while their key is
/// retired, and refuses them once the retired key's end has passed, even before they expire.
#[tokio::test]
async fn a_link_sent_before_a_rotation_still_acknowledges_and_a_retired_key_fails_after_its_end() {
    let cloud = Cloud::new().await;
    ingest(
        &cloud,
        with_key("ingest-alertmanager.json", cloud.key("am")),
    )
    .await;
    cloud.pump().await;
    let (_, _, html) = cloud.sent().await.emails.remove(0);
    let ack_query = link_query(&html, PUBLIC_BASE_URL, "ack");
    let resolve_query = link_query(&html, PUBLIC_BASE_URL, "resolve");

    let secrets = SecretStore::from_config(&klaxon_tests::aws_config().await);
    let before = LinkKeys::from_json(&secrets.get(&cloud.link_keys_secret).await.unwrap()).unwrap();
    let old_key = before.signer().unwrap().key_id();
    assert!(ack_query.contains(&format!("k={old_key}")), "{ack_query}");
    let (rotated, rotation) = before
        .rotate(generate_secret(), cloud.clock.now(), TimeDelta::hours(1))
        .unwrap();
    secrets
        .put(&cloud.link_keys_secret, &rotated.to_json())
        .await
        .unwrap();
    assert_eq!(rotation.retired, old_key);
    assert_ne!(rotation.current, old_key);

    // Signed with the old key before the rotation: still acknowledges.
    let (code, page) = ack(&cloud, link_request("ack-link-post.json", &ack_query)).await;
    assert_eq!(code, 200, "{page}");
    assert_eq!(status(&cloud).await, IncidentStatus::Acknowledged);

    // Two hours later the old key's retirement has ended; the resolve link (valid for 12h)
    // is refused and changes nothing.
    cloud.clock.advance(TimeDelta::hours(2));
    let (code, page) = ack(&cloud, link_request("ack-link-post.json", &resolve_query)).await;
    assert_eq!(code, 403, "{page}");
    assert_eq!(status(&cloud).await, IncidentStatus::Acknowledged);
}

/// The recurring sweep (template.yaml's `RecoverySweepSchedule` Input on the timers queue)
/// recovers each kind of lost work exactly once, through the deployed handlers' own wiring: a
/// stored alert whose queue message was lost is grouped, a lost escalation schedule fires, and
/// an incident whose announcement was lost is routed and paged.
#[tokio::test]
async fn the_sweep_recovers_lost_alert_messages_lost_timers_and_lost_incident_events() {
    let cloud = Cloud::new().await;
    let past_grace = SWEEP_GRACE + TimeDelta::minutes(1);

    // Accepted, stored, but its alerts.fifo messages are lost.
    let am = cloud.key("am").to_owned();
    let (code, body) = ingest(&cloud, with_key("ingest-alertmanager.json", &am)).await;
    assert_eq!(code, 202, "{body}");
    assert_eq!(cloud.items_with_pk_prefix("ALERT#").await, 2, "kept");
    assert_eq!(cloud.lose(QueueName::Alerts).await, 2);
    // Within the grace period the message may still be in flight: the sweep leaves it.
    cloud.send_sweep().await;
    cloud.pump().await;
    assert!(cloud.incidents().await.is_empty());
    cloud.clock.advance(past_grace);
    cloud.send_sweep().await;
    cloud.pump().await;
    let incident = cloud.only_incident().await;
    assert_eq!(incident.incident.alerts().linked, 2, "both alerts grouped");
    let sent = cloud.sent().await;
    assert_eq!(sent.emails.len(), 1, "tier 0 emails alice: {sent:?}");

    // The tier-0 schedule is lost (deleted before it fired): the sweep fires it once overdue.
    let tier0 = only_schedule(&cloud).await;
    let (due, _) = cloud.schedule(&tier0).await.unwrap();
    cloud
        .scheduler
        .delete_schedule()
        .name(&tier0)
        .group_name(&cloud.group)
        .send()
        .await
        .unwrap();
    cloud.clock.set(due + past_grace);
    cloud.send_sweep().await;
    cloud.send_sweep().await;
    cloud.pump().await;
    let sent = cloud.sent().await;
    assert_eq!(sent.sms.len(), 1, "tier 1 texts bob once: {sent:?}");
    assert_eq!(sent.emails.len(), 1);
    let tier1 = only_schedule(&cloud).await;
    assert_ne!(tier1, tier0, "tier 1's own schedule is armed");

    // A new incident whose announcement to routing is lost.
    let pd = cloud.key("pd").to_owned();
    let (code, body) = ingest(&cloud, with_key("ingest-pagerduty-enqueue.json", &pd)).await;
    assert_eq!(code, 202, "{body}");
    cloud.pump_only(QueueName::Alerts).await;
    assert_eq!(cloud.lose(QueueName::Incidents).await, 1);
    assert_eq!(cloud.incidents().await.len(), 2);
    cloud.clock.advance(past_grace);
    cloud.send_sweep().await;
    cloud.pump().await;
    let sent = cloud.sent().await;
    assert_eq!(
        sent.emails.len(),
        2,
        "the second incident pages alice: {sent:?}"
    );
    assert!(
        cloud
            .incidents()
            .await
            .iter()
            .all(|stored| stored.incident.escalation().is_some()),
        "both incidents escalate"
    );

    // Nothing left to recover: another sweep sends nothing.
    cloud.send_sweep().await;
    cloud.pump().await;
    assert_eq!(cloud.sent().await, sent);
}

/// An alert resolve whose notice to the responders could not be queued is retried, and the
/// retry still tells them (once: notify sends each responder one resolved notice).
#[tokio::test]
async fn a_retried_alert_resolve_still_tells_the_responders_once() {
    let cloud = Cloud::new().await;
    let key = cloud.key("pd").to_owned();
    let (code, _) = ingest(&cloud, with_key("ingest-pagerduty-enqueue.json", &key)).await;
    assert_eq!(code, 202);
    cloud.pump().await;
    assert_eq!(cloud.sent().await.emails.len(), 1, "alice paged");

    let mut resolve: Value = serde_json::from_str(&text("ingest/pagerduty-resolve.json")).unwrap();
    resolve["routing_key"] = json!(key);
    let event = with_body(
        with_key("ingest-pagerduty-enqueue.json", &key),
        &resolve.to_string(),
    );
    let (code, _) = ingest(&cloud, event).await;
    assert_eq!(code, 202);
    // Grouping resolves the incident, but the notice it queues is lost and the alert message
    // comes back (as when queueing the notice failed and the record was reported failed).
    let alerts = cloud.queue(QueueName::Alerts).clone();
    let messages = cloud.receive(&alerts).await;
    assert_eq!(messages.len(), 1);
    let response = cloud.consume(&alerts, &messages).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(status(&cloud).await, IncidentStatus::Resolved);
    assert_eq!(cloud.lose(QueueName::Notifications).await, 1, "the notice");
    cloud
        .sqs
        .change_message_visibility()
        .queue_url(&alerts.url)
        .receipt_handle(messages[0].receipt_handle.clone().unwrap())
        .visibility_timeout(0)
        .send()
        .await
        .unwrap();
    cloud.pump().await;
    let sent = cloud.sent().await;
    assert_eq!(sent.emails.len(), 2, "alice hears it resolved: {sent:?}");
    assert!(
        sent.emails[1].1.starts_with("Resolved"),
        "{:?}",
        sent.emails[1]
    );

    // Yet another copy of the resolve sends nothing more.
    let _ = cloud
        .sqs
        .send_message()
        .queue_url(&alerts.url)
        .message_body(messages[0].body.clone().unwrap())
        .message_group_id("redelivery")
        .message_deduplication_id("redelivery")
        .send()
        .await
        .unwrap();
    cloud.pump().await;
    assert_eq!(cloud.sent().await.emails.len(), 2, "no second notice");
}
