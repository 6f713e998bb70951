//! The pipeline's use cases end to end in one process: ingest over HTTP (the real router),
//! grouping and routing on the SQLite store, with recording queues, timers and senders.
//! Notify, ack and the API have their own tests (`notify_ack_api.rs`); the same flows against
//! moto and the Lambda handlers are in the end-to-end tests.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use chrono::TimeDelta;
use http_body_util::BodyExt;
use klaxon_app::messages::{AlertAction, QueueMessage, QueueName};
use klaxon_app::ports::Queue;
use klaxon_app::usecases::routing::{RoutingOutcome, SWEEP_BATCH, SWEEP_GRACE};
use klaxon_domain::escalation::{EscalationStatus, Target};
use klaxon_domain::ids::{ScheduleId, UserId};
use klaxon_domain::incident::IncidentStatus;
use klaxon_store::port::Store;
use klaxon_store::repo::StoredIncident;
use klaxon_tests::pipeline::{NowInstant, Pipeline};
use klaxon_tests::workspace_root;
use serde_json::{Value, json};
use tower::ServiceExt;

fn event(name: &str) -> String {
    std::fs::read_to_string(workspace_root().join("events/ingest").join(name)).unwrap()
}

async fn post(
    router: axum::Router,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Body>,
) -> (StatusCode, Value) {
    let mut request = Request::post(path).header("content-type", "application/json");
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = router
        .oneshot(request.body(body.into()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, json)
}

fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

async fn incidents(p: &Pipeline) -> Vec<StoredIncident> {
    p.repo.recent_incidents(None, 100).await.unwrap().items
}

async fn only_incident(p: &Pipeline) -> StoredIncident {
    let mut all = incidents(p).await;
    assert_eq!(all.len(), 1, "expected exactly one incident");
    all.remove(0)
}

#[tokio::test]
async fn an_alertmanager_group_pages_tier_0_escalates_to_tier_1_and_resolves() {
    let p = Pipeline::new().await;
    let auth = bearer(p.key("am"));
    let (status, body) = post(
        p.ingest_router(),
        "/v1/integrations/alertmanager",
        &[("authorization", &auth)],
        event("alertmanager-firing.json"),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["summary"]["new"], 2);
    assert_eq!(p.queue.peek(QueueName::Alerts).len(), 2);

    p.pump().await;
    let incident = only_incident(&p).await;
    assert_eq!(
        incident.incident.alerts().linked,
        2,
        "both alerts of the group join one incident"
    );
    assert_eq!(
        incident.incident.severity(),
        klaxon_domain::alert::Severity::Critical
    );
    let pages = p.take_pages();
    assert_eq!(pages.len(), 1);
    assert_eq!((pages[0].round, pages[0].tier), (0, 0));
    assert_eq!(
        pages[0].targets,
        vec![Target::Schedule(ScheduleId::new("primary").unwrap())]
    );
    let armed = p.timers.armed();
    assert_eq!(armed.len(), 1);
    let timer = armed.values().next().unwrap();
    assert_eq!(timer.due, p.clock.now_instant() + TimeDelta::minutes(5));

    // The same group again: counted, nothing queued, nobody paged.
    let (status, body) = post(
        p.ingest_router(),
        "/v1/integrations/alertmanager",
        &[("authorization", &auth)],
        event("alertmanager-firing.json"),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(body["summary"]["repeats"], 2);
    assert_eq!(p.pump().await, 0, "a repeat queues nothing");
    assert!(p.take_pages().is_empty());

    // Nobody acknowledges: tier 1 (bob) after 5 minutes.
    let fired = p.fire_next_timer().await.unwrap();
    let pages = p.take_pages();
    assert_eq!(pages.len(), 1);
    assert_eq!((pages[0].round, pages[0].tier), (0, 1));
    assert_eq!(
        pages[0].targets,
        vec![Target::User(UserId::new("bob").unwrap())]
    );
    // A duplicate of the fired timer changes nothing.
    let outcome = p.routing.handle(&QueueMessage::Timer(fired)).await.unwrap();
    assert_eq!(outcome, RoutingOutcome::Unchanged);
    assert!(p.take_pages().is_empty());

    // The group resolves: the incident auto-resolves and its pending timer is cancelled.
    let (status, body) = post(
        p.ingest_router(),
        "/v1/integrations/alertmanager",
        &[("authorization", &auth)],
        event("alertmanager-resolved.json"),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(body["summary"]["resolved"], 2);
    p.pump().await;
    let incident = only_incident(&p).await;
    assert_eq!(incident.incident.status(), IncidentStatus::Resolved);
    assert!(
        p.timers.armed().is_empty(),
        "the tier-1 timer was cancelled"
    );
    assert_eq!(p.timers.cancelled().len(), 1);
    // A late copy of the cancelled timer changes nothing.
    let late = incident.incident.escalation().unwrap();
    assert_eq!(late.status(), EscalationStatus::Resolved);
}

#[tokio::test]
async fn every_message_delivered_twice_pages_exactly_once_per_tier() {
    let p = Pipeline::new().await;
    let auth = bearer(p.key("am"));
    post(
        p.ingest_router(),
        "/v1/integrations/alertmanager",
        &[("authorization", &auth)],
        event("alertmanager-firing.json"),
    )
    .await;
    // Deliver every alert message twice, then every incident message twice.
    for message in p.queue.drain(QueueName::Alerts) {
        let QueueMessage::Alert(m) = message else {
            panic!()
        };
        p.grouping.handle(&m).await.unwrap();
        p.grouping.handle(&m).await.unwrap();
    }
    for message in p.queue.drain(QueueName::Incidents) {
        p.routing.handle(&message).await.unwrap();
        p.routing.handle(&message).await.unwrap();
    }
    let incident = only_incident(&p).await;
    assert_eq!(
        incident.incident.alerts().linked,
        2,
        "no alert is linked twice"
    );
    let pages = p.take_pages();
    assert_eq!(
        pages.iter().filter(|pg| pg.tier == 0).count(),
        1,
        "{pages:?}"
    );
    assert_eq!(p.timers.armed().len(), 1);
    let timer = p.timers.take_next().unwrap();
    p.clock.set(timer.due);
    for _ in 0..2 {
        p.routing
            .handle(&QueueMessage::Timer(timer.payload.clone()))
            .await
            .unwrap();
    }
    let pages = p.take_pages();
    assert_eq!(pages.len(), 1, "tier 1 paged once: {pages:?}");
    assert_eq!(pages[0].tier, 1);
}

#[tokio::test]
async fn pagerduty_trigger_acknowledge_and_resolve_by_dedup_key() {
    let p = Pipeline::new().await;
    let with_key = |name: &str| {
        let mut v: Value = serde_json::from_str(&event(name)).unwrap();
        v["routing_key"] = json!(p.key("pd"));
        v.to_string()
    };
    let (status, body) = post(
        p.ingest_router(),
        "/v2/enqueue",
        &[],
        with_key("pagerduty-trigger.json"),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(
        body,
        json!({"status": "success", "message": "Event processed", "dedup_key": "db-primary/replication-lag"})
    );
    p.pump().await;
    assert_eq!(p.take_pages().len(), 1);

    let (status, body) = post(
        p.ingest_router(),
        "/v2/enqueue",
        &[],
        with_key("pagerduty-acknowledge.json"),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    p.pump().await;
    let incident = only_incident(&p).await;
    assert_eq!(incident.incident.status(), IncidentStatus::Acknowledged);
    assert!(
        p.timers.armed().is_empty(),
        "acknowledging cancels the escalation timer"
    );

    let (status, _) = post(
        p.ingest_router(),
        "/v2/enqueue",
        &[],
        with_key("pagerduty-resolve.json"),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    p.pump().await;
    assert_eq!(
        only_incident(&p).await.incident.status(),
        IncidentStatus::Resolved
    );

    // PagerDuty's own error shapes for senders that switch by base URL.
    let (status, body) = post(p.ingest_router(), "/v2/enqueue", &[], "{").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["status"], "Unrecognized object");
    let mut bad: Value = serde_json::from_str(&with_key("pagerduty-trigger.json")).unwrap();
    bad["payload"].as_object_mut().unwrap().remove("summary");
    let (status, body) = post(p.ingest_router(), "/v2/enqueue", &[], bad.to_string()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["status"], "invalid event");
    assert!(
        body["errors"][0]
            .as_str()
            .unwrap()
            .contains("payload.summary"),
        "{body}"
    );
    let mut wrong_key: Value = serde_json::from_str(&with_key("pagerduty-trigger.json")).unwrap();
    wrong_key["routing_key"] = json!("klx_not-a-real-key");
    let (status, body) = post(p.ingest_router(), "/v2/enqueue", &[], wrong_key.to_string()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errors"], json!(["Invalid routing key"]));
}

#[tokio::test]
async fn opsgenie_create_acknowledge_and_close_by_alias() {
    let p = Pipeline::new().await;
    let genie = format!("GenieKey {}", p.key("og"));
    let (status, body) = post(
        p.ingest_router(),
        "/v2/alerts",
        &[("authorization", &genie)],
        event("opsgenie-create.json"),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["result"], "Request will be processed");
    assert!(body["requestId"].as_str().is_some_and(|id| !id.is_empty()));
    p.pump().await;
    assert_eq!(
        only_incident(&p).await.incident.status(),
        IncidentStatus::Triggered
    );

    let (status, _) = post(
        p.ingest_router(),
        "/v2/alerts/checkout-api-5xx-rate/acknowledge?identifierType=alias",
        &[("authorization", &genie)],
        "{}",
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    p.pump().await;
    assert_eq!(
        only_incident(&p).await.incident.status(),
        IncidentStatus::Acknowledged
    );

    let (status, _) = post(
        p.ingest_router(),
        "/v2/alerts/checkout-api-5xx-rate/close?identifierType=alias",
        &[("authorization", &genie)],
        event("opsgenie-close.json"),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    p.pump().await;
    assert_eq!(
        only_incident(&p).await.incident.status(),
        IncidentStatus::Resolved
    );

    // Only aliases identify alerts here.
    let (status, body) = post(
        p.ingest_router(),
        "/v2/alerts/checkout-api-5xx-rate/close?identifierType=id",
        &[("authorization", &genie)],
        "{}",
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}

/// Every ingest route, with bad credentials and with malformed bodies: a 4xx with a reason,
/// and nothing stored or queued.
#[tokio::test]
async fn bad_keys_and_malformed_bodies_are_refused_and_change_nothing() {
    let p = Pipeline::new().await;
    let cases: Vec<(&str, &str, Option<String>)> = vec![
        (
            "/v1/integrations/alertmanager",
            "alertmanager-firing.json",
            Some(bearer(p.key("am"))),
        ),
        (
            "/v1/integrations/grafana",
            "grafana-firing.json",
            Some(bearer(p.key("grafana"))),
        ),
        (
            "/v1/alerts",
            "native-firing.json",
            Some(bearer(p.key("native"))),
        ),
        (
            "/v2/alerts",
            "opsgenie-create.json",
            Some(format!("GenieKey {}", p.key("og"))),
        ),
    ];
    for (path, file, good) in &cases {
        // No key, a wrong key, another integration's key.
        let (status, body) = post(p.ingest_router(), path, &[], event(file)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {body}");
        let (status, _) = post(
            p.ingest_router(),
            path,
            &[("authorization", "Bearer klx_wrong")],
            event(file),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        let other = bearer(p.key("pd"));
        let (status, _) = post(
            p.ingest_router(),
            path,
            &[("authorization", &other)],
            event(file),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{path}: a key of another format"
        );
        // Malformed bodies with a good key.
        let auth = good.clone().unwrap();
        for bad in ["", "not json", "[]", "{\"unexpected\": true}"] {
            let (status, body) =
                post(p.ingest_router(), path, &[("authorization", &auth)], bad).await;
            assert!(status.is_client_error(), "{path} {bad:?}: {status}");
            let code = body["error"]["code"].as_str().or(body["message"].as_str());
            assert!(
                code.is_some_and(|c| !c.is_empty()),
                "{path} {bad:?}: a reason is given: {body}"
            );
        }
        let huge = "x".repeat(2 * 1024 * 1024);
        let (status, _) = post(p.ingest_router(), path, &[("authorization", &auth)], huge).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{path}");
    }
    assert!(
        p.queue.peek(QueueName::Alerts).is_empty(),
        "nothing was queued"
    );
    assert!(incidents(&p).await.is_empty(), "nothing was created");
    let (status, body) = post(
        p.ingest_router(),
        "/v1/integrations/alertmanager",
        &[("authorization", &bearer(p.key("am")))],
        "{}",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "invalid_field");
    assert!(body["error"]["field"].is_string());
}

#[tokio::test]
async fn an_alert_whose_queue_send_failed_is_recovered_by_the_sweep() {
    let p = Pipeline::new().await;
    p.queue.fail_next(1);
    let auth = bearer(p.key("native"));
    let (status, body) = post(
        p.ingest_router(),
        "/v1/alerts",
        &[("authorization", &auth)],
        event("native-firing.json"),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "stored durably, so accepted: {body}"
    );
    assert!(p.queue.peek(QueueName::Alerts).is_empty());
    // Before the grace period nothing is re-queued; after it, the sweep queues the alert.
    let report = p.routing.sweep().await.unwrap();
    assert_eq!(report.requeued_alerts, 0);
    p.clock.advance(SWEEP_GRACE + TimeDelta::seconds(1));
    let report = p.routing.sweep().await.unwrap();
    assert_eq!(report.requeued_alerts, 1);
    p.pump().await;
    only_incident(&p).await;
    assert_eq!(p.take_pages().len(), 1);
    // Once grouped it is not re-queued again.
    p.clock.advance(SWEEP_GRACE);
    assert_eq!(p.routing.sweep().await.unwrap().requeued_alerts, 0);
}

#[tokio::test]
async fn an_alert_that_resolved_before_grouping_saw_it_fire_opens_a_resolved_incident_and_pages_nobody()
 {
    let p = Pipeline::new().await;
    let auth = bearer(p.key("native"));
    // A quick flap: fired and resolved before grouping ran.
    for body in ["native-firing.json", "native-resolved.json"] {
        let (status, answer) = post(
            p.ingest_router(),
            "/v1/alerts",
            &[("authorization", &auth)],
            event(body),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    }
    p.pump().await;
    let incident = only_incident(&p).await;
    assert_eq!(incident.incident.status(), IncidentStatus::Resolved);
    assert_eq!(incident.incident.alerts().linked, 1, "the alert is kept");
    assert!(
        p.take_pages().is_empty(),
        "nobody is paged for a resolved alert"
    );
    assert!(p.timers.take_next().is_none(), "no escalation timer");
}

#[tokio::test]
async fn a_lost_fire_message_whose_resolve_was_dropped_is_recovered_as_resolved() {
    let p = Pipeline::new().await;
    let auth = bearer(p.key("native"));
    p.queue.fail_next(1);
    let (status, _) = post(
        p.ingest_router(),
        "/v1/alerts",
        &[("authorization", &auth)],
        event("native-firing.json"),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, _) = post(
        p.ingest_router(),
        "/v1/alerts",
        &[("authorization", &auth)],
        event("native-resolved.json"),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    // The resolve reaches grouping first: nothing is linked yet, so it changes nothing.
    p.pump().await;
    assert!(incidents(&p).await.is_empty());
    // The sweep re-queues the fire; grouping records it and applies the resolution.
    p.clock.advance(SWEEP_GRACE + TimeDelta::seconds(1));
    assert_eq!(p.routing.sweep().await.unwrap().requeued_alerts, 1);
    let requeued = p.queue.peek(QueueName::Alerts);
    assert!(
        matches!(&requeued[..], [QueueMessage::Alert(m)] if m.action == AlertAction::Fire),
        "{requeued:?}"
    );
    p.pump().await;
    let incident = only_incident(&p).await;
    assert_eq!(incident.incident.status(), IncidentStatus::Resolved);
    assert!(
        p.take_pages().is_empty(),
        "nobody is paged for a resolved alert"
    );
    // A redelivered fire message groups nothing again (no twin of the resolved incident).
    p.queue.send(&requeued[0]).await.unwrap();
    p.pump().await;
    assert_eq!(incidents(&p).await.len(), 1);
    assert!(p.take_pages().is_empty());
}

#[tokio::test]
async fn a_lost_timer_is_fired_by_the_sweep_once() {
    let p = Pipeline::new().await;
    let auth = bearer(p.key("native"));
    post(
        p.ingest_router(),
        "/v1/alerts",
        &[("authorization", &auth)],
        event("native-firing.json"),
    )
    .await;
    p.pump().await;
    assert_eq!(p.take_pages().len(), 1);
    // The scheduler loses the timer.
    let lost = p.timers.take_next().unwrap();
    p.clock.set(lost.due + SWEEP_GRACE - TimeDelta::seconds(1));
    assert_eq!(
        p.routing.sweep().await.unwrap().overdue_timers,
        0,
        "still within the grace period"
    );
    p.clock.set(lost.due + SWEEP_GRACE);
    assert_eq!(p.routing.sweep().await.unwrap().overdue_timers, 1);
    let pages = p.take_pages();
    assert_eq!(pages.len(), 1);
    assert_eq!(pages[0].tier, 1);
    // The real timer shows up late after all: it is stale.
    let outcome = p
        .routing
        .handle(&QueueMessage::Timer(lost.payload))
        .await
        .unwrap();
    assert_eq!(outcome, RoutingOutcome::Unchanged);
    assert!(p.take_pages().is_empty());
}

#[tokio::test]
async fn a_suppress_rule_records_the_incident_and_pages_nobody() {
    let p = Pipeline::new().await;
    let auth = bearer(p.key("native"));
    let body = json!({"dedup_key": "canary-1", "summary": "canary failing", "severity": "critical", "labels": {"canary": "true"}});
    let (status, _) = post(
        p.ingest_router(),
        "/v1/alerts",
        &[("authorization", &auth)],
        body.to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    p.pump().await;
    let incident = only_incident(&p).await;
    assert!(incident.incident.suppressed().is_some());
    assert!(p.take_pages().is_empty());
    assert!(p.timers.armed().is_empty());
    let timeline = p
        .repo
        .timeline(incident.incident.id(), None, 50)
        .await
        .unwrap()
        .items;
    assert!(
        timeline
            .iter()
            .any(|r| r.to_cloud_event().unwrap()["type"] == "io.klaxon.incident.suppressed"),
        "the suppression is on the timeline"
    );
}

#[tokio::test]
async fn a_maintenance_window_records_matching_incidents_without_paging_until_it_ends() {
    // The tests start at 2026-01-01T00:00:00Z; the window covers the first two hours.
    let config = format!(
        "{}\nmaintenance_windows:\n  - id: payments-migration\n    start: \"2025-12-31T23:00:00Z\"\n    end: \"2026-01-01T02:00:00Z\"\n    match:\n      labels: {{ service: payments }}\n    reason: moving the payments queue\n",
        klaxon_tests::pipeline::pipeline_config_text()
    );
    let p = Pipeline::with_config(&config).await;
    let auth = bearer(p.key("native"));
    let fire = |dedup_key: &str, service: &str| {
        json!({"dedup_key": dedup_key, "summary": format!("{service} down"), "severity": "critical", "labels": {"service": service}})
            .to_string()
    };
    for body in [fire("payments-1", "payments"), fire("search-1", "search")] {
        let (status, _) = post(
            p.ingest_router(),
            "/v1/alerts",
            &[("authorization", &auth)],
            body,
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    p.pump().await;
    let all = incidents(&p).await;
    assert_eq!(all.len(), 2, "both are recorded");
    let payments = all
        .iter()
        .find(|i| i.incident.title() == "payments down")
        .unwrap();
    let suppressed = payments.incident.suppressed().expect("inside the window");
    assert_eq!(
        suppressed.reason,
        klaxon_domain::incident::SuppressionReason::MaintenanceWindow {
            window: klaxon_domain::ids::RuleId::new("payments-migration").unwrap()
        }
    );
    let pages = p.take_pages();
    assert_eq!(
        pages.len(),
        1,
        "only the unmatched incident pages: {pages:?}"
    );
    assert_ne!(pages[0].incident, *payments.incident.id());

    // After the window a new payments incident pages as usual.
    p.clock.advance(TimeDelta::hours(3));
    let (status, _) = post(
        p.ingest_router(),
        "/v1/alerts",
        &[("authorization", &auth)],
        fire("payments-2", "payments"),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    p.pump().await;
    assert_eq!(p.take_pages().len(), 1, "the window is over");
}

#[tokio::test]
async fn sns_notifications_are_verified_and_subscriptions_confirmed() {
    let p = Pipeline::new().await;
    let path = format!("/v1/integrations/sns/{}", p.key("cw"));
    // Unsigned sample payloads: the signature does not verify, nothing is stored.
    let (status, body) = post(
        p.ingest_router(),
        &path,
        &[],
        event("cloudwatch-sns-notification.json"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(incidents(&p).await.is_empty());
    assert!(p.queue.peek(QueueName::Alerts).is_empty());

    // Properly signed with the test certificate's key.
    let signed = sign_sns(&event("cloudwatch-sns-notification.json"));
    let (status, body) = post(p.ingest_router(), &path, &[], signed.clone()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    p.pump().await;
    assert_eq!(incidents(&p).await.len(), 1);
    assert!(
        p.http
            .visited
            .lock()
            .unwrap()
            .iter()
            .all(|u| u.starts_with("https://sns."))
    );

    // Tampering with the message after signing breaks the signature.
    let mut tampered: Value = serde_json::from_str(&signed).unwrap();
    tampered["Subject"] = json!("ALARM: something else");
    let (status, _) = post(p.ingest_router(), &path, &[], tampered.to_string()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let confirmation = sign_sns(&event("sns-subscription-confirmation.json"));
    let (status, body) = post(p.ingest_router(), &path, &[], confirmation).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        p.http
            .visited
            .lock()
            .unwrap()
            .iter()
            .any(|u| u.contains("Action=ConfirmSubscription")),
        "the subscription was confirmed"
    );
}

/// Signs an SNS envelope with the test key (SignatureVersion 2) and points it at an SNS
/// certificate URL (served by the test fetcher).
fn sign_sns(text: &str) -> String {
    let mut envelope: Value = serde_json::from_str(text).unwrap();
    envelope["SignatureVersion"] = json!("2");
    envelope["SigningCertURL"] =
        json!("https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-test.pem");
    let parsed = klaxon_domain::ingest::sns::parse_https(envelope.to_string().as_bytes()).unwrap();
    let key = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(
        &std::fs::read(workspace_root().join("shared/app/testdata/sns-test-key.pk8.der")).unwrap(),
    )
    .unwrap();
    let mut signature = vec![0; key.public_modulus_len()];
    key.sign(
        &aws_lc_rs::signature::RSA_PKCS1_SHA256,
        &aws_lc_rs::rand::SystemRandom::new(),
        parsed.string_to_sign().as_bytes(),
        &mut signature,
    )
    .unwrap();
    envelope["Signature"] = json!(base64::engine::general_purpose::STANDARD.encode(signature));
    envelope.to_string()
}

#[tokio::test]
async fn lambda_sns_events_are_attributed_by_topic() {
    let p = Pipeline::new().await;
    let event: Value = serde_json::from_str(&event("sns-lambda-event.json")).unwrap();
    let summary = p.ingest.sns_lambda_event(&event).await.unwrap();
    assert_eq!(summary.new, 1);
    let QueueMessage::Alert(message) = p.queue.peek(QueueName::Alerts).remove(0) else {
        panic!()
    };
    assert_eq!(message.key.integration.as_str(), "cw");
    assert_eq!(message.action, AlertAction::Fire);
    // A topic no integration lists is refused.
    let mut other = event.clone();
    other["Records"][0]["Sns"]["TopicArn"] = json!("arn:aws:sns:eu-west-1:123456789012:elsewhere");
    assert!(p.ingest.sns_lambda_event(&other).await.is_err());
}

#[tokio::test]
async fn unrouted_incidents_are_reannounced_by_the_sweep() {
    let p = Pipeline::new().await;
    let auth = bearer(p.key("native"));
    post(
        p.ingest_router(),
        "/v1/alerts",
        &[("authorization", &auth)],
        event("native-firing.json"),
    )
    .await;
    // Grouping runs, but the triggered event is lost.
    let QueueMessage::Alert(message) = p.queue.pop(QueueName::Alerts).unwrap() else {
        panic!()
    };
    p.grouping.handle(&message).await.unwrap();
    assert_eq!(p.queue.drain(QueueName::Incidents).len(), 1);
    p.clock.advance(SWEEP_GRACE);
    assert_eq!(p.routing.sweep().await.unwrap().reannounced_incidents, 1);
    p.pump().await;
    assert_eq!(p.take_pages().len(), 1);
    assert_eq!(p.routing.sweep().await.unwrap().reannounced_incidents, 0);
}

#[tokio::test]
async fn an_unrouted_incident_behind_a_page_of_open_ones_is_reannounced() {
    let p = Pipeline::new().await;
    let auth = bearer(p.key("native"));
    let fire = |n: usize| {
        json!({
            "dedup_key": format!("disk-{n}"),
            "status": "firing",
            "severity": "critical",
            "summary": format!("disk {n} full"),
            "labels": {"host": format!("db-{n}")},
        })
        .to_string()
    };
    let routed = usize::try_from(SWEEP_BATCH).unwrap() + 5;
    for n in 0..routed {
        let (status, body) = post(
            p.ingest_router(),
            "/v1/alerts",
            &[("authorization", &auth)],
            fire(n),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    }
    p.pump().await;
    assert_eq!(p.take_pages().len(), routed);
    // The newest incident's announcement is lost.
    post(
        p.ingest_router(),
        "/v1/alerts",
        &[("authorization", &auth)],
        fire(routed),
    )
    .await;
    let QueueMessage::Alert(message) = p.queue.pop(QueueName::Alerts).unwrap() else {
        panic!()
    };
    p.grouping.handle(&message).await.unwrap();
    assert_eq!(p.queue.drain(QueueName::Incidents).len(), 1);
    p.clock.advance(SWEEP_GRACE);
    let report = p.routing.sweep().await.unwrap();
    assert_eq!(report.reannounced_incidents, 1);
    p.pump().await;
    assert_eq!(p.take_pages().len(), 1);
}

#[tokio::test]
async fn unknown_paths_get_a_json_404() {
    let p = Pipeline::new().await;
    let router = klaxon_app::http::compose([p.ingest_router()]);
    let (status, body) = post(router, "/v1/nope", &[], "{}").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
}

#[tokio::test]
async fn oversized_labels_are_refused_before_anything_is_stored() {
    let p = Pipeline::new().await;
    let auth = bearer(p.key("native"));
    let body = json!({"alerts": [
        {"dedup_key": "small", "summary": "fine"},
        {"dedup_key": "huge", "summary": "too many labels", "labels": {"blob": "x".repeat(40 * 1024)}}
    ]});
    let (status, body) = post(
        p.ingest_router(),
        "/v1/alerts",
        &[("authorization", &auth)],
        body.to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "alerts[1].labels");
    assert!(
        p.queue.peek(QueueName::Alerts).is_empty(),
        "the valid first alert was not stored either"
    );
    assert!(
        p.repo
            .alert(&klaxon_domain::alert::AlertKey {
                integration: klaxon_domain::ids::IntegrationName::new("native").unwrap(),
                dedup_key: klaxon_domain::ids::DedupKey::new("small").unwrap(),
            })
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn pagerduty_senders_get_pagerduty_shaped_answers_for_limits_and_for_a_dependency_down() {
    let p = Pipeline::new().await;
    let key = p.key("pd").to_owned();
    let mut trigger: Value = serde_json::from_str(&event("pagerduty-trigger.json")).unwrap();
    trigger["routing_key"] = json!(key);

    // Parses, but its labels are over the limit: 400 in PagerDuty's shape, nothing stored.
    let mut huge = trigger.clone();
    huge["payload"]["component"] = json!("x".repeat(40 * 1024));
    let (status, body) = post(p.ingest_router(), "/v2/enqueue", &[], huge.to_string()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["status"], "invalid event");
    assert_eq!(body["message"], "Event object is invalid");
    let error = body["errors"][0].as_str().unwrap();
    assert!(error.starts_with("'labels' labels total"), "{error}");
    let mut long_source = trigger.clone();
    long_source["payload"]["source"] = json!("h".repeat(1025));
    let (status, body) = post(
        p.ingest_router(),
        "/v2/enqueue",
        &[],
        long_source.to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["errors"][0],
        "'source' is 1025 characters; at most 1024 are accepted"
    );
    assert!(p.queue.peek(QueueName::Alerts).is_empty());

    // No configuration applied (the table answers, but there is nothing to route with): 429,
    // which PagerDuty senders retry.
    p.store
        .delete(
            &klaxon_store::key::Key::new(
                klaxon_store::repo::schema::CONFIG,
                klaxon_store::repo::schema::CURRENT,
            ),
            None,
        )
        .await
        .unwrap();
    let (status, body) = post(p.ingest_router(), "/v2/enqueue", &[], trigger.to_string()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["status"], "throttle event");
    assert!(p.queue.peek(QueueName::Alerts).is_empty());
}

#[tokio::test]
async fn opsgenie_senders_get_opsgenie_shaped_rejections_naming_the_field() {
    let p = Pipeline::new().await;
    let genie = format!("GenieKey {}", p.key("og"));
    let cases = [
        (None, "{}".to_owned(), StatusCode::UNAUTHORIZED, "key"),
        (
            Some(genie.as_str()),
            "not json".to_owned(),
            StatusCode::BAD_REQUEST,
            "JSON",
        ),
        (
            Some(genie.as_str()),
            "{}".to_owned(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "message",
        ),
        (
            Some(genie.as_str()),
            json!({"message": "disk", "priority": "P9"}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "priority",
        ),
        (
            Some(genie.as_str()),
            json!({"message": "disk", "tags": ["x".repeat(40 * 1024)]}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "labels",
        ),
    ];
    for (auth, body, expected, mentions) in cases {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("authorization", a)).into_iter().collect();
        let (status, answer) = post(p.ingest_router(), "/v2/alerts", &headers, body.clone()).await;
        assert_eq!(status, expected, "{body}: {answer}");
        let message = answer["message"].as_str().unwrap();
        assert!(message.contains(mentions), "{body}: {message}");
        assert!(answer["requestId"].is_string(), "{answer}");
        assert!(answer["took"].is_number(), "{answer}");
    }
    assert!(p.queue.peek(QueueName::Alerts).is_empty());
    assert!(incidents(&p).await.is_empty());
}
