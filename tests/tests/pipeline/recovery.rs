//! Recovery by the sweep: lost alert, fire and timer messages, and unrouted incidents.

use super::*;

// ---------------------------------------------------------------------------------------------
// Recovery by the sweep
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Recovery by the sweep: unrouted incidents
// ---------------------------------------------------------------------------------------------

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
