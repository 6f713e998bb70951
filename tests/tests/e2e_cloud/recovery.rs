//! Recovery by the sweep and retried resolves.

use super::*;

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
