use super::*;
use crate::ingest::alertmanager::tests::{extra_fields, without_raw};
use crate::ingest::test_support::{Fixture, error_fields};
use crate::ingest::{IngestErrorKind, MAX_BODY_BYTES};
use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use serde_json::json;

const TRIGGER: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/ingest/pagerduty-trigger.json"
));
const ACKNOWLEDGE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/ingest/pagerduty-acknowledge.json"
));
const RESOLVE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/ingest/pagerduty-resolve.json"
));
const TRIGGER_NO_KEY: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/ingest/pagerduty-trigger-no-dedup-key.json"
));
const ROUTING_KEY: &str = "8c2f1e5a9b7d4c3e6f0a1b2c3d4e5f60";

fn trigger() -> Value {
    serde_json::from_str(TRIGGER).unwrap()
}

fn parse_value(value: &Value) -> Result<PagerDutyRequest, IngestError> {
    parse_request(value.to_string().as_bytes())
}

fn alert_of(event: AlertEvent) -> Alert {
    match event {
        AlertEvent::Alert(alert) => *alert,
        other => panic!("expected an alert, got {other:?}"),
    }
}

#[test]
fn trigger_exposes_the_routing_key_then_normalises() {
    let request = parse_request(TRIGGER.as_bytes()).unwrap();
    assert_eq!(request.routing_key(), ROUTING_KEY);
    assert_eq!(request.action(), PagerDutyAction::Trigger);
    assert_eq!(
        request.dedup_key().map(DedupKey::as_str),
        Some("db-primary/replication-lag")
    );

    let fixture = Fixture::new();
    let (event, key) = request.into_event(&fixture.ctx());
    assert_eq!(key.as_str(), "db-primary/replication-lag");
    let alert = alert_of(event);
    assert_eq!(alert.integration, fixture.integration);
    assert_eq!(alert.dedup_key, key);
    assert_eq!(alert.status, AlertStatus::Firing);
    assert_eq!(alert.severity, Severity::Error);
    assert_eq!(
        alert.summary,
        "Replication lag 340s on db-primary-2 (threshold 60s)"
    );
    assert_eq!(
        alert.source.as_deref(),
        Some("db-primary-2.prod.example.com")
    );
    assert_eq!(alert.labels["component"], "postgresql");
    assert_eq!(alert.labels["group"], "orders-db");
    assert_eq!(alert.labels["class"], "replication lag");
    assert_eq!(
        alert.labels["team"], "platform",
        "integration default label"
    );
    assert_eq!(alert.annotations["lag seconds"], "340");
    assert_eq!(alert.annotations["replica.zone"], "eu-west-1b");
    let links: Vec<_> = alert
        .links
        .iter()
        .map(|l| (l.text.as_deref().unwrap(), l.kind))
        .collect();
    assert_eq!(
        links,
        [
            ("Runbook: replication lag", LinkKind::Link),
            ("Replication lag, last hour", LinkKind::Image),
            ("Zabbix", LinkKind::Link),
        ]
    );
    assert!(
        alert.links[1]
            .href
            .starts_with("https://grafana.example.com/render/")
    );
    assert_eq!(
        alert.started_at,
        Some(
            Utc.with_ymd_and_hms(2025, 3, 14, 9, 12, 44).unwrap()
                + chrono::Duration::milliseconds(517)
        )
    );
    assert_eq!(alert.received_at, fixture.received_at);
    assert!(
        alert.raw.get("routing_key").is_none(),
        "credential not stored"
    );
    assert_eq!(alert.raw["payload"]["component"], "postgresql");
}

#[test]
fn trigger_without_dedup_key_uses_the_generated_one() {
    let request = parse_request(TRIGGER_NO_KEY.as_bytes()).unwrap();
    assert_eq!(request.dedup_key(), None);
    let fixture = Fixture::new();
    let (event, key) = request.into_event(&fixture.ctx());
    assert_eq!(key, fixture.generated);
    let alert = alert_of(event);
    assert_eq!(alert.dedup_key, fixture.generated);
    assert_eq!(alert.severity, Severity::Critical);
    assert_eq!(alert.annotations["exit code"], "3");
    assert_eq!(alert.started_at, None);
    assert_eq!(
        serde_json::to_value(PagerDutySuccess::new(&key)).unwrap(),
        json!({"status": "success", "message": "Event processed", "dedup_key": fixture.generated.as_str()})
    );
}

#[test]
fn acknowledge_and_resolve_concern_the_triggered_key() {
    let fixture = Fixture::new();
    let (triggered, _) = parse_request(TRIGGER.as_bytes())
        .unwrap()
        .into_event(&fixture.ctx());
    let ack = parse_request(ACKNOWLEDGE.as_bytes()).unwrap();
    assert_eq!(ack.routing_key(), ROUTING_KEY);
    assert_eq!(ack.action(), PagerDutyAction::Acknowledge);
    let (event, key) = ack.into_event(&fixture.ctx());
    assert_eq!(
        event,
        AlertEvent::Acknowledge {
            key: triggered.key(),
            at: fixture.received_at
        }
    );
    assert_eq!(key.as_str(), "db-primary/replication-lag");

    let resolve = parse_request(RESOLVE.as_bytes()).unwrap();
    assert_eq!(resolve.action(), PagerDutyAction::Resolve);
    let (event, _) = resolve.into_event(&fixture.ctx());
    assert_eq!(
        event,
        AlertEvent::Resolve {
            key: triggered.key(),
            at: fixture.received_at
        }
    );
}

fn without(path: &[&str]) -> Value {
    let mut body = trigger();
    let (last, parents) = path.split_last().unwrap();
    let mut target = &mut body;
    for parent in parents {
        target = &mut target[*parent];
    }
    target.as_object_mut().unwrap().remove(*last);
    body
}

#[test]
fn missing_routing_key_is_named() {
    let error = parse_value(&without(&["routing_key"])).unwrap_err();
    assert_eq!(error_fields(&error), ["routing_key"]);
    assert_eq!(
        PagerDutyErrorResponse::from_error(&error).errors,
        ["'routing_key' is required"]
    );
}

#[test]
fn missing_event_action_is_named() {
    let error = parse_value(&without(&["event_action"])).unwrap_err();
    assert_eq!(error_fields(&error), ["event_action"]);
}

#[test]
fn missing_payload_is_named() {
    let error = parse_value(&without(&["payload"])).unwrap_err();
    assert_eq!(error_fields(&error), ["payload"]);
}

#[test]
fn missing_payload_summary_is_named() {
    let error = parse_value(&without(&["payload", "summary"])).unwrap_err();
    assert_eq!(error_fields(&error), ["payload.summary"]);
}

#[test]
fn missing_payload_source_is_named() {
    let error = parse_value(&without(&["payload", "source"])).unwrap_err();
    assert_eq!(error_fields(&error), ["payload.source"]);
}

#[test]
fn missing_payload_severity_is_named() {
    let error = parse_value(&without(&["payload", "severity"])).unwrap_err();
    assert_eq!(error_fields(&error), ["payload.severity"]);
}

#[test]
fn missing_dedup_key_on_acknowledge_is_named() {
    let error = parse_request(br#"{"routing_key":"k","event_action":"acknowledge"}"#).unwrap_err();
    assert_eq!(error_fields(&error), ["dedup_key"]);
    assert_eq!(
        error.errors[0].message,
        "is required when event_action is acknowledge or resolve"
    );
}

#[test]
fn missing_dedup_key_on_resolve_is_named() {
    let error = parse_request(br#"{"routing_key":"k","event_action":"resolve","dedup_key":" "}"#)
        .unwrap_err();
    assert_eq!(error_fields(&error), ["dedup_key"]);
}

#[test]
fn non_ascii_dedup_key_limit_is_255_characters() {
    // 255 three-byte characters: 765 bytes, within PagerDuty's limit of 255 characters.
    let longest = "€".repeat(MAX_DEDUP_KEY_CHARS);
    let mut body = trigger();
    body["dedup_key"] = json!(longest);
    let request = parse_value(&body).unwrap();
    assert_eq!(request.dedup_key().unwrap().as_str(), longest);
    let resolve =
        json!({"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": longest});
    let (event, _) = parse_value(&resolve)
        .unwrap()
        .into_event(&Fixture::new().ctx());
    assert_eq!(event.key().dedup_key.as_str(), longest);

    body["dedup_key"] = json!(format!("{longest}€"));
    let error = parse_value(&body).unwrap_err();
    assert_eq!(error_fields(&error), ["dedup_key"]);
    assert_eq!(
        error.errors[0].message,
        "must be at most 255 characters (got 256)"
    );
}

#[test]
fn every_problem_is_reported_in_pagerduty_shape() {
    let body = json!({
        "routing_key": 12,
        "event_action": "trigger",
        "dedup_key": "k".repeat(256),
        "payload": {"summary": "x".repeat(1025), "severity": "high", "timestamp": "soon", "component": 3},
        "links": [{"text": "no href"}],
        "images": "not an array"
    });
    let error = parse_value(&body).unwrap_err();
    assert_eq!(
        error_fields(&error),
        [
            "routing_key",
            "dedup_key",
            "links[0].href",
            "images",
            "payload.summary",
            "payload.source",
            "payload.severity",
            "payload.timestamp",
            "payload.component",
        ]
    );
    let response = serde_json::to_value(PagerDutyErrorResponse::from_error(&error)).unwrap();
    assert_eq!(response["status"], "invalid event");
    assert_eq!(response["message"], "Event object is invalid");
    assert_eq!(
        response["errors"][0],
        "'routing_key' must be a string (got number)"
    );
    assert_eq!(
        response["errors"][1],
        "'dedup_key' must be at most 255 characters (got 256)"
    );
    assert_eq!(
        response["errors"][4],
        "'payload.summary' must be at most 1024 characters (got 1025)"
    );
    assert_eq!(
        response["errors"][6],
        "'payload.severity' must be one of: critical, error, warning, info"
    );
}

#[test]
fn unknown_event_action_is_named() {
    let mut body = trigger();
    body["event_action"] = json!("snooze");
    let error = parse_value(&body).unwrap_err();
    assert_eq!(error_fields(&error), ["event_action"]);
}

#[test]
fn non_web_links_are_dropped_like_pagerduty_accepts_them() {
    let mut body = trigger();
    body["links"] = json!([{"href": "javascript:alert(1)"}, {"href": "https://ok.example.com"}]);
    let (event, _) = parse_value(&body)
        .unwrap()
        .into_event(&Fixture::new().ctx());
    let alert = alert_of(event);
    assert!(alert.links.iter().all(|l| l.href.starts_with("https://")));
    assert!(
        alert
            .links
            .iter()
            .any(|l| l.href == "https://ok.example.com")
    );
}

#[test]
fn scalar_custom_details_become_one_annotation() {
    let mut body = trigger();
    body["payload"]["custom_details"] = json!("disk is full");
    let (event, _) = parse_value(&body)
        .unwrap()
        .into_event(&Fixture::new().ctx());
    assert_eq!(
        alert_of(event).annotations["custom_details"],
        "disk is full"
    );
}

#[test]
fn unparseable_bodies_answer_like_pagerduty() {
    for body in [&b""[..], b"routing_key=abc"] {
        let error = parse_request(body).unwrap_err();
        assert!(matches!(
            error.kind,
            IngestErrorKind::EmptyBody | IngestErrorKind::NotJson
        ));
        assert_eq!(
            serde_json::to_value(PagerDutyErrorResponse::from_error(&error)).unwrap(),
            json!({"status": "Unrecognized object", "message": "Event object format is unrecognized", "errors": ["JSON parse error"]})
        );
    }
    let error = parse_request(b"[]").unwrap_err();
    assert_eq!(error_fields(&error), ["$"]);
}

#[test]
fn two_megabyte_body_is_too_large() {
    let mut body = trigger();
    body["payload"]["custom_details"] = json!({"blob": "x".repeat(2 * 1024 * 1024)});
    let bytes = body.to_string().into_bytes();
    assert!(bytes.len() > MAX_BODY_BYTES);
    let error = parse_request(&bytes).unwrap_err();
    assert_eq!(error.kind, IngestErrorKind::TooLarge);
    assert_eq!(error.code(), "too_large");
}

proptest! {
    #[test]
    fn unknown_fields_anywhere_parse_identically(
        root_extra in extra_fields(),
        payload_extra in extra_fields(),
        link_extra in extra_fields(),
    ) {
        let original = trigger();
        let mut extended = original.clone();
        for (key, value) in &root_extra {
            extended[key.as_str()] = value.clone();
        }
        for (key, value) in &payload_extra {
            extended["payload"][key.as_str()] = value.clone();
        }
        for (key, value) in &link_extra {
            extended["links"][0][key.as_str()] = value.clone();
            extended["images"][0][key.as_str()] = value.clone();
        }
        let fixture = Fixture::new();
        let expected = parse_value(&original).unwrap();
        let actual = parse_value(&extended).unwrap();
        prop_assert_eq!(actual.routing_key(), expected.routing_key());
        let (expected, expected_key) = expected.into_event(&fixture.ctx());
        let (actual, actual_key) = actual.into_event(&fixture.ctx());
        prop_assert_eq!(actual_key, expected_key);
        prop_assert_eq!(without_raw(vec![actual]), without_raw(vec![expected]));
    }
}
