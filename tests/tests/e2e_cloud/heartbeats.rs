//! Heartbeats through the ack and routing Lambda handlers with the `events/apigw/ack-heartbeat-*`
//! samples: a ping arms one schedule (read back from moto's Scheduler), the next ping replaces
//! it, a late delivery of the old one and a duplicate of the new one are no-ops, silence opens
//! exactly one incident that pages the heartbeat's policy, and the next ping resolves it.
//! A second test counts the AWS requests of one ping through the fault proxy (no faults).

use super::*;
use klaxon_app::messages::QueueMessage;
use klaxon_domain::heartbeat::HeartbeatTimer;
use klaxon_tests::faults::{FaultPlan, FaultProxy};
use std::collections::HashMap;

fn ping_event(cloud: &Cloud, sample: &str) -> Value {
    with_key(sample, cloud.key("native"))
}

async fn ping(cloud: &Cloud, sample: &str) -> (u16, Value) {
    ack(cloud, ping_event(cloud, sample)).await
}

/// The heartbeat schedules (`hb.…`) in the group.
async fn heartbeat_schedules(cloud: &Cloud) -> Vec<String> {
    let mut names: Vec<String> = cloud
        .schedule_names()
        .await
        .into_iter()
        .filter(|n| n.starts_with("hb."))
        .collect();
    names.sort();
    names
}

/// Reads a heartbeat schedule back: its `at()` time and the timer its target delivers.
async fn heartbeat_schedule(cloud: &Cloud, name: &str) -> (DateTime, HeartbeatTimer) {
    let schedule = cloud
        .scheduler
        .get_schedule()
        .name(name)
        .group_name(&cloud.group)
        .send()
        .await
        .unwrap();
    let expression = schedule.schedule_expression.unwrap();
    let at = expression
        .strip_prefix("at(")
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap();
    let at = chrono::NaiveDateTime::parse_from_str(at, "%Y-%m-%dT%H:%M:%S")
        .unwrap()
        .and_utc();
    let target = schedule.target.unwrap();
    assert_eq!(target.arn, cloud.queue(QueueName::Timers).arn);
    let QueueMessage::HeartbeatTimer(timer) =
        QueueMessage::from_json(target.input.as_deref().unwrap()).unwrap()
    else {
        panic!("the schedule's Input is not a heartbeat timer message");
    };
    (at, timer)
}

type DateTime = chrono::DateTime<chrono::Utc>;

async fn send_heartbeat_timer(cloud: &Cloud, timer: &HeartbeatTimer) {
    cloud
        .sqs
        .send_message()
        .queue_url(&cloud.queue(QueueName::Timers).url)
        .message_body(QueueMessage::HeartbeatTimer(timer.clone()).to_json())
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_silent_heartbeat_opens_one_incident_and_stale_or_duplicate_timers_change_nothing() {
    let cloud = Cloud::new().await;
    // Bad input first: nothing changes.
    let mut wrong = ping_event(&cloud, "ack-heartbeat-ping.json");
    wrong["headers"]["authorization"] = json!(format!("Bearer {}", cloud.key("am")));
    assert_eq!(ack(&cloud, wrong).await.0, 403);
    let unknown = request(
        "ack-heartbeat-ping.json",
        &[
            ("klx_EXAMPLE_INTEGRATION_KEY", cloud.key("native")),
            ("backup", "nightly"),
        ],
    );
    let (code, body) = ack(&cloud, unknown).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (404, Some("heartbeat_not_found")),
        "{body}"
    );
    assert!(heartbeat_schedules(&cloud).await.is_empty());

    let (code, body) = ping(&cloud, "ack-heartbeat-ping.json").await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(heartbeat_schedules(&cloud).await, vec!["hb.backup.1"]);
    let (first_at, first) = heartbeat_schedule(&cloud, "hb.backup.1").await;
    assert!(first_at >= cloud.clock.now() + TimeDelta::minutes(65));

    // Ten minutes later the next ping (Opsgenie's shape) replaces the schedule.
    cloud.clock.advance(TimeDelta::minutes(10));
    let (code, body) = ping(&cloud, "ack-heartbeat-ping-opsgenie.json").await;
    assert_eq!(code, 202, "{body}");
    assert_eq!(body["result"], "PONG - Heartbeat received");
    assert_eq!(heartbeat_schedules(&cloud).await, vec!["hb.backup.2"]);
    let (second_at, second) = heartbeat_schedule(&cloud, "hb.backup.2").await;

    // The old timer delivered late (after its own deadline): a no-op.
    cloud.clock.set(first_at);
    send_heartbeat_timer(&cloud, &first).await;
    cloud.pump().await;
    assert!(cloud.incidents().await.is_empty());

    // The current one fires (the scheduler deletes it: ActionAfterCompletion DELETE), delivered
    // twice: exactly one incident, paged once (tier 0).
    cloud.clock.set(second_at);
    cloud
        .scheduler
        .delete_schedule()
        .name("hb.backup.2")
        .group_name(&cloud.group)
        .send()
        .await
        .unwrap();
    send_heartbeat_timer(&cloud, &second).await;
    send_heartbeat_timer(&cloud, &second).await;
    cloud.pump().await;
    let incident = cloud.only_incident().await.incident;
    assert!(incident.title().contains("Heartbeat backup expired"));
    assert_eq!(
        incident.escalation().map(|e| e.policy().as_str()),
        Some("standard")
    );
    assert_eq!(cloud.sent().await.emails.len(), 1, "tier 0 emails once");
    // Delivered again later still: nothing more.
    send_heartbeat_timer(&cloud, &second).await;
    cloud.pump().await;
    assert_eq!(cloud.incidents().await.len(), 1);
    assert_eq!(cloud.sent().await.emails.len(), 1);

    // The next ping resolves it; the timeline says the alert resolved it.
    cloud.clock.advance(TimeDelta::minutes(3));
    let (code, body) = ping(&cloud, "ack-heartbeat-ping.json").await;
    assert_eq!(
        (code, body["recovered"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
    cloud.pump().await;
    assert_eq!(status(&cloud).await, IncidentStatus::Resolved);
    let timeline = cloud.repo.timeline(incident.id(), None, 100).await.unwrap();
    let kinds: Vec<_> = timeline
        .items
        .iter()
        .map(|r| r.entry.event_type())
        .collect();
    assert!(kinds.contains(&"io.klaxon.alert.resolved"), "{kinds:?}");
    assert!(kinds.contains(&"io.klaxon.incident.resolved"), "{kinds:?}");
    assert_eq!(heartbeat_schedules(&cloud).await, vec!["hb.backup.4"]);
}

/// The ack function's environment for this deployment (what template.yaml gives it).
fn variables(cloud: &Cloud) -> HashMap<String, String> {
    let url = |name: QueueName| cloud.queue(name).url.clone();
    HashMap::from([
        ("TABLE_NAME".to_owned(), cloud.table.clone()),
        ("ALERTS_QUEUE_URL".to_owned(), url(QueueName::Alerts)),
        ("INCIDENTS_QUEUE_URL".to_owned(), url(QueueName::Incidents)),
        ("TIMERS_QUEUE_URL".to_owned(), url(QueueName::Timers)),
        (
            "NOTIFICATIONS_QUEUE_URL".to_owned(),
            url(QueueName::Notifications),
        ),
        (
            "TIMERS_QUEUE_ARN".to_owned(),
            cloud.queue(QueueName::Timers).arn.clone(),
        ),
        (
            "SCHEDULER_ROLE_ARN".to_owned(),
            "arn:aws:iam::123456789012:role/klaxon-SchedulerRole".to_owned(),
        ),
        ("SCHEDULE_GROUP_NAME".to_owned(), cloud.group.clone()),
        (
            "LINK_SIGNING_KEYS_SECRET_ARN".to_owned(),
            cloud.link_keys_secret.clone(),
        ),
        (
            "SLACK_SIGNING_SECRET_ARN".to_owned(),
            cloud.slack_secret.clone(),
        ),
    ])
}

/// The requests of one ping (the second: the configuration and the secrets are cached by then
/// in a warm function), counted by the proxy between the ack handler and moto. The figures are
/// what docs/heartbeats.md (Cost per ping on AWS) prices.
#[tokio::test]
async fn one_ping_costs_three_dynamodb_and_two_scheduler_requests() {
    let cloud = Cloud::new().await;
    let proxy = FaultProxy::start().await;
    let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(proxy.endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "test",
            "test",
            None,
            None,
            "klaxon-tests",
        ))
        .load()
        .await;
    let context = cloud::function_context(
        klaxon_aws::env::Function::Ack,
        &variables(&cloud),
        &aws,
        cloud.clock.clone(),
    )
    .with_secret_refresh(std::time::Duration::from_secs(3600));
    let handler = ack::AckHandler::from_context(&context).await.unwrap();
    let event = ping_event(&cloud, "ack-heartbeat-ping.json");

    let answer = handler.handle(event.clone()).await.unwrap();
    assert_eq!(answer.status_code, 200);
    for minutes in [10, 10] {
        cloud.clock.advance(TimeDelta::minutes(minutes));
        proxy.set_plan(&FaultPlan::default()).await;
        let answer = handler.handle(event.clone()).await.unwrap();
        assert_eq!(answer.status_code, 200);
        let stats = proxy.stats().await;
        let calls = |call: &str| stats.requests.get(call).copied().unwrap_or(0);
        println!("one ping: {:?}", stats.requests);
        // The key lookup and the state read, then the conditional state write.
        assert_eq!(calls("dynamodb:GetItem"), 2, "{:?}", stats.requests);
        assert_eq!(calls("dynamodb:PutItem"), 1, "{:?}", stats.requests);
        // The new timer, and the previous one deleted.
        assert_eq!(calls("scheduler:CreateSchedule"), 1, "{:?}", stats.requests);
        assert_eq!(calls("scheduler:DeleteSchedule"), 1, "{:?}", stats.requests);
        assert_eq!(stats.calls(), 5, "nothing else: {:?}", stats.requests);
    }
}

/// Alertmanager's webhook through the ack handler (`events/apigw/ack-heartbeat-ping-alertmanager-*`,
/// bodies captured from Alertmanager 0.25): a firing notification is a ping; a resolved one is
/// answered 200 "ignored" and changes nothing (no schedule, no state change), so a resolved
/// Watchdog never postpones the page.
#[tokio::test]
async fn a_firing_alertmanager_notification_pings_and_a_resolved_one_changes_nothing() {
    let cloud = Cloud::new().await;
    let backup = klaxon_domain::heartbeat::HeartbeatName::new("backup").unwrap();

    // Resolved before any ping: authenticated, ignored, still inactive (no state, no schedule).
    let (code, body) = ping(&cloud, "ack-heartbeat-ping-alertmanager-resolved.json").await;
    assert_eq!(
        (code, body["status"].as_str(), body["reason"].as_str()),
        (200, Some("ignored"), Some("resolved_notification")),
        "{body}"
    );
    assert!(cloud.repo.heartbeat_state(&backup).await.unwrap().is_none());
    assert!(heartbeat_schedules(&cloud).await.is_empty());
    // A wrong key is refused all the same, resolved or not.
    let mut wrong = ping_event(&cloud, "ack-heartbeat-ping-alertmanager-resolved.json");
    wrong["headers"]["authorization"] = json!(format!("Bearer {}", cloud.key("am")));
    assert_eq!(ack(&cloud, wrong).await.0, 403);

    let (code, body) = ping(&cloud, "ack-heartbeat-ping-alertmanager-firing.json").await;
    assert_eq!((code, body["status"].as_str()), (200, Some("ok")), "{body}");
    let pinged = cloud.repo.heartbeat_state(&backup).await.unwrap().unwrap();
    assert_eq!(heartbeat_schedules(&cloud).await, vec!["hb.backup.1"]);

    cloud.clock.advance(TimeDelta::minutes(5));
    let (code, body) = ping(&cloud, "ack-heartbeat-ping-alertmanager-resolved.json").await;
    assert_eq!(
        (code, body["status"].as_str()),
        (200, Some("ignored")),
        "{body}"
    );
    let after = cloud.repo.heartbeat_state(&backup).await.unwrap().unwrap();
    assert_eq!(after, pinged, "the deadline did not move");
    assert_eq!(heartbeat_schedules(&cloud).await, vec!["hb.backup.1"]);
}

/// A heartbeat schedule that never fires (lost) is expired by the recovery sweep once it is
/// more than the sweep's grace overdue: one incident, paged once, however many sweeps run, and
/// the lost timer turning up after all is a repeat; the next ping resolves it.
#[tokio::test]
async fn a_lost_heartbeat_timer_is_expired_once_by_the_recovery_sweep() {
    let cloud = Cloud::new().await;
    let (code, body) = ping(&cloud, "ack-heartbeat-ping.json").await;
    assert_eq!(code, 200, "{body}");
    let (due, timer) = heartbeat_schedule(&cloud, "hb.backup.1").await;
    cloud
        .scheduler
        .delete_schedule()
        .name("hb.backup.1")
        .group_name(&cloud.group)
        .send()
        .await
        .unwrap();

    // At the deadline the timer may still be on its way: the sweep leaves it.
    cloud.clock.set(due + TimeDelta::seconds(1));
    cloud.send_sweep().await;
    cloud.pump().await;
    assert!(cloud.incidents().await.is_empty());

    cloud.clock.set(due + SWEEP_GRACE + TimeDelta::minutes(1));
    cloud.send_sweep().await;
    cloud.pump().await;
    let incident = cloud.only_incident().await.incident;
    assert!(incident.title().contains("Heartbeat backup expired"));
    assert_eq!(cloud.sent().await.emails.len(), 1, "tier 0 emails once");
    cloud.send_sweep().await;
    send_heartbeat_timer(&cloud, &timer).await;
    cloud.pump().await;
    assert_eq!(cloud.incidents().await.len(), 1, "one incident per silence");
    assert_eq!(cloud.sent().await.emails.len(), 1);

    let (code, body) = ping(&cloud, "ack-heartbeat-ping.json").await;
    assert_eq!(
        (code, body["recovered"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
    cloud.pump().await;
    assert_eq!(status(&cloud).await, IncidentStatus::Resolved);
}
