//! Alert formats end to end.

use super::*;

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

    // An id that names no alert: accepted as Opsgenie does, and the request status says so.
    let (status, body) = post(
        p.ingest_router(),
        "/v2/alerts/checkout-api-5xx-rate/close?identifierType=id",
        &[("authorization", &genie)],
        "{}",
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let path = format!(
        "/v2/alerts/requests/{}",
        body["requestId"].as_str().unwrap()
    );
    let (status, body) = send(p.ingest_router(), "GET", &path, &genie, "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["isSuccess"], false);
    assert_eq!(body["data"]["status"], "Alert does not exist");
}
