//! Responder actions through the ack Lambda handler with the `events/apigw/ack-incident-*`
//! samples: snooze, escalate now, reassign, add responders, notes, and the acknowledgement
//! timeout; every new timer read back from moto's Scheduler and delivered twice and late.

use super::*;

pub(super) const SAMPLE_INCIDENT: &str = "0192f3a1b2c37d4e8f90a1b2c3d4e5f6";

/// A native alert (critical: the standard policy) with `labels`.
pub(super) fn alert_event(cloud: &Cloud, dedup: &str, labels: Value) -> Value {
    let body = json!({
        "dedup_key": dedup,
        "status": "firing",
        "severity": "critical",
        "summary": format!("{dedup} is failing"),
        "labels": labels,
    });
    with_body(
        with_key("ingest-native-alert.json", cloud.key("native")),
        &body.to_string(),
    )
}

/// The `ack-incident-{route}.json` sample for `incident` with this deployment's API key, its
/// body replaced when `body` is given.
pub(super) fn action(cloud: &Cloud, route: &str, incident: &str, body: Option<Value>) -> Value {
    let event = request(
        &format!("ack-incident-{route}.json"),
        &[
            ("klx_EXAMPLE_API_KEY", cloud.api_key.as_str()),
            (SAMPLE_INCIDENT, incident),
        ],
    );
    match body {
        Some(body) => with_body(event, &body.to_string()),
        None => event,
    }
}

/// A fresh `Idempotency-Key` on an event.
pub(super) fn keyed(mut event: Value, key: &str) -> Value {
    event["headers"]["idempotency-key"] = json!(key);
    event
}

async fn open_incident(cloud: &Cloud, dedup: &str, labels: Value) -> String {
    let (code, body) = ingest(cloud, alert_event(cloud, dedup, labels)).await;
    assert_eq!(code, 202, "{body}");
    cloud.pump().await;
    cloud.only_incident().await.incident.id().to_string()
}

async fn acknowledge(cloud: &Cloud, incident: &str) {
    let (code, body) = ack(cloud, action(cloud, "acknowledge", incident, None)).await;
    assert_eq!(code, 200, "{body}");
    cloud.pump().await;
}

/// The one schedule whose name has `marker` after the incident id (`-s`, `-a`, `-e`, `-r`).
async fn schedule_of_kind(cloud: &Cloud, incident: &str, marker: &str) -> String {
    let names = cloud.schedule_names().await;
    let matching: Vec<_> = names
        .iter()
        .filter(|n| n.starts_with(&format!("{incident}-{marker}")))
        .cloned()
        .collect();
    assert_eq!(matching.len(), 1, "one {marker} schedule: {names:?}");
    matching[0].clone()
}

#[tokio::test]
async fn a_snooze_re_pages_the_tier_it_was_on_exactly_once_at_its_end() {
    let cloud = Cloud::new().await;
    let id = open_incident(&cloud, "snooze-me", json!({})).await;
    assert_eq!(cloud.sent().await.emails.len(), 1, "tier 0 emails alice");

    // Snoozing a triggered incident is refused: nothing changes.
    let before = cloud.only_incident().await;
    let (code, body) = ack(&cloud, action(&cloud, "snooze", &id, None)).await;
    assert_eq!(code, 409, "{body}");
    assert_eq!(body["error"]["code"], "not_acknowledged", "{body}");
    assert_eq!(cloud.only_incident().await, before);

    acknowledge(&cloud, &id).await;
    assert!(cloud.schedule_names().await.is_empty());
    let told = cloud.sent().await;
    assert_eq!(told.emails.len(), 2, "alice is told of the ack");

    // Snooze for 30 minutes (the sample's body), twice with the same Idempotency-Key.
    let snooze = action(&cloud, "snooze", &id, None);
    let (code, first) = ack(&cloud, snooze.clone()).await;
    assert_eq!(code, 200, "{first}");
    assert_eq!(first["changed"], true);
    assert_eq!(first["actor"], "user:alice");
    let (code, again) = ack(&cloud, snooze).await;
    assert_eq!(code, 200, "{again}");
    assert_eq!(again["changed"], false, "a retried request changes nothing");
    let name = schedule_of_kind(&cloud, &id, "s").await;
    assert_eq!(cloud.schedule_names().await.len(), 1);
    let (at, payload) = cloud.schedule(&name).await.unwrap();
    assert_eq!(at, cloud.clock.now() + TimeDelta::minutes(30));
    assert_eq!(payload.kind, klaxon_domain::escalation::TimerKind::Snooze);
    cloud.pump().await;
    assert_eq!(cloud.sent().await, told, "snoozing pages nobody");

    // The end of the snooze, delivered twice: tier 0 (alice) is paged again, once.
    cloud.fire_schedule(&name, 2).await;
    cloud.pump().await;
    assert_eq!(status(&cloud).await, IncidentStatus::Triggered);
    let repaged = cloud.sent().await;
    assert_eq!(repaged.emails.len(), 3, "alice re-paged once: {repaged:?}");
    assert!(repaged.sms.is_empty());
    // A late copy changes nothing; the next tier's timer is armed afresh.
    cloud.send_timer(&payload).await;
    cloud.pump().await;
    assert_eq!(cloud.sent().await, repaged);
    let tier = schedule_of_kind(&cloud, &id, "e").await;
    let (due, _) = cloud.schedule(&tier).await.unwrap();
    assert_eq!(due, cloud.clock.now() + TimeDelta::minutes(5));
    let timeline = cloud
        .repo
        .timeline(
            &klaxon_domain::ids::IncidentId::new(id.clone()).unwrap(),
            None,
            100,
        )
        .await
        .unwrap();
    let kinds: Vec<_> = timeline
        .items
        .iter()
        .map(|r| r.entry.event_type())
        .collect();
    assert!(kinds.contains(&"io.klaxon.incident.snoozed"), "{kinds:?}");
    assert!(
        kinds.contains(&"io.klaxon.incident.retriggered"),
        "{kinds:?}"
    );

    // Resolved, it cannot be snoozed: 409 incident_resolved.
    let (code, _) = ack(&cloud, action(&cloud, "resolve", &id, None)).await;
    assert_eq!(code, 200);
    let resolved = cloud.only_incident().await;
    let (code, body) = ack(&cloud, keyed(action(&cloud, "snooze", &id, None), "k2")).await;
    assert_eq!(code, 409, "{body}");
    assert_eq!(body["error"]["code"], "incident_resolved");
    assert_eq!(cloud.only_incident().await, resolved);
}

#[tokio::test]
async fn escalate_reassign_and_responders_page_exactly_the_new_targets_once() {
    let cloud = Cloud::new().await;
    let id = open_incident(&cloud, "escalate-me", json!({})).await;
    let tier0 = only_schedule(&cloud).await;
    let (_, tier0_timer) = cloud.schedule(&tier0).await.unwrap();

    // Escalate now: bob (tier 1) is texted at once, once, even when the request is retried.
    for _ in 0..2 {
        let (code, body) = ack(&cloud, action(&cloud, "escalate", &id, None)).await;
        assert_eq!(code, 200, "{body}");
    }
    cloud.pump().await;
    let sent = cloud.sent().await;
    assert_eq!((sent.emails.len(), sent.sms.len()), (1, 1), "{sent:?}");
    assert!(
        cloud.schedule(&tier0).await.is_none(),
        "tier 0's timer is cancelled"
    );
    // Tier 0's timer, delivered late, is stale.
    cloud.send_timer(&tier0_timer).await;
    cloud.pump().await;
    assert_eq!(cloud.sent().await, sent);

    // Reassign to the primary schedule (alice): she is paged once more, bob is not.
    let reassign = action(
        &cloud,
        "reassign",
        &id,
        Some(json!({"to": {"schedule": "primary"}})),
    );
    for _ in 0..2 {
        let (code, body) = ack(&cloud, reassign.clone()).await;
        assert_eq!(code, 200, "{body}");
    }
    cloud.pump().await;
    let sent = cloud.sent().await;
    assert_eq!((sent.emails.len(), sent.sms.len()), (2, 1), "{sent:?}");
    let incident = cloud.only_incident().await.incident;
    let state = incident.escalation().unwrap();
    assert_eq!(state.policy().as_str(), "direct");
    let direct = only_schedule(&cloud).await;
    assert!(direct.starts_with(&format!("{id}-e")), "{direct}");

    // Add bob and the primary schedule as responders after an ack: each paged once.
    acknowledge(&cloud, &id).await;
    let told = cloud.sent().await;
    for _ in 0..2 {
        let (code, body) = ack(&cloud, action(&cloud, "responders", &id, None)).await;
        assert_eq!(code, 200, "{body}");
    }
    cloud.pump().await;
    let sent = cloud.sent().await;
    assert_eq!(
        (sent.emails.len(), sent.sms.len()),
        (told.emails.len() + 1, told.sms.len() + 1),
        "{sent:?}"
    );
    assert_eq!(status(&cloud).await, IncidentStatus::Acknowledged);

    // A note, recorded once with its author.
    for _ in 0..2 {
        let (code, body) = ack(&cloud, action(&cloud, "notes", &id, None)).await;
        assert!(code == 201 || code == 200, "{body}");
    }
    let timeline = cloud
        .repo
        .timeline(
            &klaxon_domain::ids::IncidentId::new(id.clone()).unwrap(),
            None,
            100,
        )
        .await
        .unwrap();
    let notes: Vec<_> = timeline
        .items
        .iter()
        .filter(|r| r.entry.event_type() == "io.klaxon.incident.note")
        .collect();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].actor.to_string(), "user:alice");
}

#[tokio::test]
async fn the_acknowledgement_timeout_re_triggers_once() {
    let cloud = Cloud::new().await;
    let id = open_incident(&cloud, "ack-timeout", json!({"team": "patient"})).await;
    acknowledge(&cloud, &id).await;
    let told = cloud.sent().await;
    let name = schedule_of_kind(&cloud, &id, "a").await;
    let (at, payload) = cloud.schedule(&name).await.unwrap();
    assert_eq!(at, cloud.clock.now() + TimeDelta::minutes(30));
    cloud.fire_schedule(&name, 2).await;
    cloud.pump().await;
    assert_eq!(status(&cloud).await, IncidentStatus::Triggered);
    let sent = cloud.sent().await;
    assert_eq!(sent.emails.len(), told.emails.len() + 1, "{sent:?}");
    // Late again: nothing.
    cloud.send_timer(&payload).await;
    cloud.pump().await;
    assert_eq!(cloud.sent().await, sent);
    // Acknowledged again it arms a new timeout (a new timer name).
    acknowledge(&cloud, &id).await;
    let second = schedule_of_kind(&cloud, &id, "a").await;
    assert_ne!(second, name);
}

#[tokio::test]
async fn bad_input_on_every_action_route_is_a_4xx_with_a_code_and_changes_nothing() {
    let cloud = Cloud::new().await;
    let id = open_incident(&cloud, "refusals", json!({})).await;
    let before = cloud.only_incident().await;
    let schedules = cloud.schedule_names().await;
    let cases: Vec<(&str, Value, u16, &str, Option<&str>)> = vec![
        (
            "snooze",
            json!({"duration": "soon"}),
            400,
            "invalid_field",
            Some("duration"),
        ),
        ("snooze", json!({}), 400, "invalid_field", Some("duration")),
        (
            "snooze",
            json!({"duration": "30m", "until": "2026-01-01T00:00:00Z"}),
            400,
            "invalid_field",
            Some("until"),
        ),
        (
            "snooze",
            json!({"duration": "30d"}),
            400,
            "invalid_field",
            Some("duration"),
        ),
        (
            "snooze",
            json!({"duration": "30m", "colour": "red"}),
            400,
            "invalid_field",
            Some("colour"),
        ),
        (
            "escalate",
            json!({"user": "mallory"}),
            400,
            "invalid_field",
            Some("user"),
        ),
        ("reassign", json!({}), 400, "invalid_field", Some("to")),
        (
            "reassign",
            json!({"to": {"user": "mallory"}}),
            400,
            "invalid_field",
            Some("to.user"),
        ),
        (
            "reassign",
            json!({"to": {"policy": "nope"}}),
            400,
            "invalid_field",
            Some("to.policy"),
        ),
        (
            "reassign",
            json!({"to": "bob"}),
            400,
            "invalid_field",
            Some("to"),
        ),
        (
            "responders",
            json!({"targets": []}),
            400,
            "invalid_field",
            Some("targets"),
        ),
        (
            "responders",
            json!({"targets": [{"policy": "standard"}]}),
            400,
            "invalid_field",
            Some("targets[0]"),
        ),
        (
            "responders",
            json!({"targets": [{"schedule": "nope"}]}),
            400,
            "invalid_field",
            Some("targets[0].schedule"),
        ),
        (
            "notes",
            json!({"text": "   "}),
            400,
            "invalid_field",
            Some("text"),
        ),
        (
            "notes",
            json!({"text": 7}),
            400,
            "invalid_field",
            Some("text"),
        ),
        ("notes", json!([1]), 400, "invalid_field", Some("body")),
    ];
    for (route, body, status, code, field) in cases {
        let event = action(&cloud, route, &id, Some(body.clone()));
        let (answer, error) = ack(&cloud, event).await;
        assert_eq!(answer, status, "{route} {body}: {error}");
        assert_eq!(error["error"]["code"], code, "{route} {body}: {error}");
        assert_eq!(
            error["error"]["field"].as_str(),
            field,
            "{route} {body}: {error}"
        );
    }
    // No key, an unknown incident, a malformed body and a bad Idempotency-Key.
    let mut unauthenticated = action(&cloud, "escalate", &id, None);
    unauthenticated["headers"]
        .as_object_mut()
        .unwrap()
        .remove("authorization");
    assert_eq!(ack(&cloud, unauthenticated).await.0, 401);
    let missing = action(&cloud, "escalate", "999", None);
    let (code, body) = ack(&cloud, missing).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let (code, body) = ack(&cloud, with_body(action(&cloud, "notes", &id, None), "{")).await;
    assert_eq!((code, body["error"]["field"].as_str()), (400, Some("body")));
    let long_key = "k".repeat(300);
    let (code, body) = ack(
        &cloud,
        keyed(action(&cloud, "escalate", &id, None), &long_key),
    )
    .await;
    assert_eq!(
        (code, body["error"]["field"].as_str()),
        (400, Some("Idempotency-Key"))
    );
    cloud.pump().await;
    assert_eq!(cloud.only_incident().await, before, "nothing changed");
    assert_eq!(cloud.schedule_names().await, schedules);
    assert_eq!(cloud.sent().await.emails.len(), 1);
}
