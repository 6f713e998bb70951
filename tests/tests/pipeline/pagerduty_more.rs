//! PagerDuty's legacy Events API v1 and its Change Events, through the ingest router and the
//! pipeline, with request bodies from PagerDuty's API references.

use super::*;
use klaxon_domain::ids::IntegrationName;

const V1: &str = "/generic/2010-04-15/create_event.json";

fn v1(p: &Pipeline, event_type: &str, extra: Value) -> String {
    let mut body = json!({"service_key": p.key("pd"), "event_type": event_type,
                          "incident_key": "srv01/HTTP"});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    body.to_string()
}

#[tokio::test]
async fn events_api_v1_triggers_acknowledges_and_resolves_in_v1_shapes() {
    let p = Pipeline::new().await;
    let trigger = v1(
        &p,
        "trigger",
        json!({"description": "FAILURE for production/HTTP on machine srv01.acme.com",
               "client": "Sample Monitoring Service", "client_url": "https://monitoring.example.com",
               "details": {"ping time": "1500ms", "load avg": 0.75}}),
    );
    // A byte-order mark in front is accepted, as on every JSON route.
    let (status, body) = post(p.ingest_router(), V1, &[], format!("\u{feff}{trigger}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"status": "success", "message": "Event processed", "incident_key": "srv01/HTTP"})
    );
    p.pump().await;
    assert_eq!(
        only_incident(&p).await.incident.status(),
        IncidentStatus::Triggered
    );
    assert_eq!(p.take_pages().len(), 1, "a v1 trigger pages like any alert");

    let (status, _) = post(p.ingest_router(), V1, &[], v1(&p, "acknowledge", json!({}))).await;
    assert_eq!(status, StatusCode::OK);
    p.pump().await;
    assert_eq!(
        only_incident(&p).await.incident.status(),
        IncidentStatus::Acknowledged
    );
    let (status, _) = post(p.ingest_router(), V1, &[], v1(&p, "resolve", json!({}))).await;
    assert_eq!(status, StatusCode::OK);
    p.pump().await;
    assert_eq!(
        only_incident(&p).await.incident.status(),
        IncidentStatus::Resolved
    );

    // A trigger without an incident key gets one, and is told it.
    let body = json!({"service_key": p.key("pd"), "event_type": "trigger", "description": "x"});
    let (status, answer) = post(p.ingest_router(), V1, &[], body.to_string()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        answer["incident_key"]
            .as_str()
            .is_some_and(|k| !k.is_empty()),
        "{answer}"
    );
}

#[tokio::test]
async fn events_api_v1_bad_events_name_their_fields_and_change_nothing() {
    let p = Pipeline::new().await;
    let cases = [
        (
            json!({"service_key": p.key("pd"), "event_type": "trigger"}),
            "description",
        ),
        (
            json!({"service_key": p.key("pd"), "event_type": "resolve"}),
            "incident_key",
        ),
        (
            json!({"event_type": "trigger", "description": "x"}),
            "service_key",
        ),
        (
            json!({"service_key": p.key("pd"), "event_type": "alarm"}),
            "event_type",
        ),
    ];
    for (body, field) in cases {
        let (status, answer) = post(p.ingest_router(), V1, &[], body.to_string()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert_eq!(answer["status"], "invalid event");
        assert!(
            answer["errors"].to_string().contains(field),
            "{field}: {answer}"
        );
    }
    let body = json!({"service_key": "klx_unknown", "event_type": "trigger", "description": "x"});
    let (status, answer) = post(p.ingest_router(), V1, &[], body.to_string()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["errors"], json!(["Invalid service key"]));
    assert_eq!(p.pump().await, 0);
    assert!(incidents(&p).await.is_empty());
}

#[tokio::test]
async fn a_change_event_is_recorded_on_the_integrations_open_incidents_and_pages_nobody() {
    let p = Pipeline::new().await;
    let trigger = json!({"routing_key": p.key("pd"), "event_action": "trigger",
        "dedup_key": "api-5xx", "payload": {"summary": "api 5xx", "source": "api", "severity": "error"}});
    post(p.ingest_router(), "/v2/enqueue", &[], trigger.to_string()).await;
    p.pump().await;
    p.take_pages();
    let change = json!({"routing_key": p.key("pd"),
        "payload": {"summary": "Build Success: deploy api v1.2", "source": "ci.example.com",
                    "timestamp": "2025-12-31T10:00:00Z", "custom_details": {"build": "12"}},
        "links": [{"href": "https://ci.example.com/builds/12", "text": "Build 12"}]});
    let (status, body) = post(
        p.ingest_router(),
        "/v2/change/enqueue",
        &[],
        change.to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(
        body,
        json!({"status": "success", "message": "Change event processed"})
    );
    assert_eq!(p.pump().await, 0, "a change queues nothing");
    assert!(p.take_pages().is_empty(), "a change pages nobody");

    let incident = only_incident(&p).await;
    let timeline = p
        .repo
        .timeline(incident.incident.id(), None, 100)
        .await
        .unwrap()
        .items;
    let recorded: Vec<_> = timeline
        .iter()
        .filter(|r| r.entry.event_type() == "io.klaxon.change.recorded")
        .collect();
    assert_eq!(recorded.len(), 1, "on the open incident's timeline");
    let json = serde_json::to_value(&recorded[0].entry).unwrap();
    assert_eq!(json["data"]["summary"], "Build Success: deploy api v1.2");

    // Countable for analytics, also when no incident is open.
    let (status, _) = post(
        p.ingest_router(),
        "/v2/change/enqueue",
        &[],
        json!({"routing_key": p.key("pd"), "payload": {"summary": "config push"}}).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let pd = IntegrationName::new("pd").unwrap();
    let from = p.clock.now_instant() - TimeDelta::days(30);
    let to = p.clock.now_instant() + TimeDelta::days(1);
    let changes = p.repo.changes(&pd, from, to).await.unwrap();
    assert_eq!(changes.len(), 2);
    assert_eq!(
        changes[0].summary, "Build Success: deploy api v1.2",
        "ordered by when they happened"
    );
}

#[tokio::test]
async fn a_bad_change_event_is_refused_in_pagerduty_shape() {
    let p = Pipeline::new().await;
    let cases = [
        (
            json!({"routing_key": p.key("pd"), "payload": {}}),
            "payload.summary",
        ),
        (json!({"payload": {"summary": "x"}}), "routing_key"),
    ];
    for (body, field) in cases {
        let (status, answer) = post(
            p.ingest_router(),
            "/v2/change/enqueue",
            &[],
            body.to_string(),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert!(
            answer["errors"].to_string().contains(field),
            "{field}: {answer}"
        );
    }
    let body = json!({"routing_key": "klx_unknown", "payload": {"summary": "x"}});
    let (status, answer) = post(
        p.ingest_router(),
        "/v2/change/enqueue",
        &[],
        body.to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["errors"], json!(["Invalid routing key"]));
    let pd = IntegrationName::new("pd").unwrap();
    let now = p.clock.now_instant();
    assert!(
        p.repo
            .changes(&pd, now - TimeDelta::days(1), now + TimeDelta::days(1))
            .await
            .unwrap()
            .is_empty()
    );
}
