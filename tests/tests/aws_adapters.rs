//! The AWS adapters against moto server (SQS, EventBridge Scheduler, SES v2, SNS), the Lambda
//! SQS batch driver on the sample events in `events/sqs/`, and checks that `template.yaml`
//! agrees with the workspace (function binaries, environment, queues, routes).
//!
//! Every test creates its own queues, schedule groups and sender identities, so tests run
//! concurrently against one moto server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use chrono::{TimeDelta, Utc};
use klaxon_app::messages::{
    AlertAction, AlertMessage, IncidentEvent, IncidentMessage, QueueMessage, QueueName,
};
use klaxon_app::ports::{Email, EmailSender, Queue, SendError, Sms, SmsSender, Timers};
use klaxon_aws::dynamo::RetryPolicy;
use klaxon_aws::env::{CloudSettings, EnvError, Function};
use klaxon_aws::lambda::{
    Context, LambdaEvent, MessageMeta, Service, SqsBatchResponse, SqsBatchService, SqsEvent,
    process_sqs_batch,
};
use klaxon_aws::scheduler::{SchedulerSettings, SchedulerTimers};
use klaxon_aws::{SesEmail, SnsSms, SqsQueue};
use klaxon_domain::alert::AlertKey;
use klaxon_domain::escalation::{TimerName, TimerPayload};
use klaxon_domain::ids::{AlertId, DedupKey, GroupKey, IncidentId, IntegrationName};
use klaxon_store::{Clock, ManualClock};
use klaxon_tests::{
    aws_config, moto_data, scheduler_client, sesv2_client, sns_client, sqs_client, test_start,
    unique_name, workspace_root,
};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A queue name unique to this test (SQS names: letters, digits, `-`, `_`, at most 80).
fn queue_name(prefix: &str) -> String {
    unique_name(prefix)
}

async fn create_queue(client: &aws_sdk_sqs::Client, name: &str) -> (String, String) {
    let mut request = client.create_queue().queue_name(name);
    if name.ends_with(".fifo") {
        request = request
            .attributes(QueueAttributeName::FifoQueue, "true")
            .attributes(QueueAttributeName::ContentBasedDeduplication, "false");
    }
    let url = request.send().await.unwrap().queue_url.unwrap();
    let arn = client
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()
        .remove(&QueueAttributeName::QueueArn)
        .unwrap();
    (url, arn)
}

/// Every message currently visible on the queue (received and deleted), waiting up to `wait`
/// for the first.
async fn drain(
    client: &aws_sdk_sqs::Client,
    url: &str,
    wait: i32,
) -> Vec<aws_sdk_sqs::types::Message> {
    let mut all = Vec::new();
    let mut wait = wait;
    loop {
        let received = client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(wait)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        if received.is_empty() {
            return all;
        }
        for message in &received {
            client
                .delete_message()
                .queue_url(url)
                .receipt_handle(message.receipt_handle.clone().unwrap())
                .send()
                .await
                .unwrap();
        }
        all.extend(received);
        wait = 0;
    }
}

fn alert_message(alert: &str, action: AlertAction) -> QueueMessage {
    QueueMessage::Alert(AlertMessage {
        alert_id: AlertId::new(alert).unwrap(),
        key: AlertKey {
            integration: IntegrationName::new("prometheus").unwrap(),
            dedup_key: DedupKey::new("HighLatency/api").unwrap(),
        },
        action,
        group_key: GroupKey(format!("group{alert}")),
        at: test_start(),
    })
}

fn incident_message(incident: &str, event: IncidentEvent) -> QueueMessage {
    QueueMessage::Incident(IncidentMessage {
        incident: IncidentId::new(incident).unwrap(),
        event,
    })
}

fn system_attribute(
    message: &aws_sdk_sqs::types::Message,
    name: MessageSystemAttributeName,
) -> Option<String> {
    message.attributes.as_ref()?.get(&name).cloned()
}

/// A retry policy that gives up at once, for tests of failures.
fn no_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 1,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(1),
    }
}

/// SDK configuration for an endpoint nobody listens on, with the SDK's own retries off.
async fn unreachable_config() -> aws_config::SdkConfig {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    aws_config()
        .await
        .into_builder()
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .build()
}

// ---------------------------------------------------------------------------------------------
// SqsQueue
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn fifo_alert_messages_carry_group_and_dedup_ids_and_a_repeat_is_delivered_once() {
    let client = sqs_client().await;
    let (url, _) = create_queue(&client, &format!("{}.fifo", queue_name("alerts"))).await;
    let queue = SqsQueue::new(client.clone()).with_queue(QueueName::Alerts, &url);

    let fire = alert_message("0192aaaa0001", AlertAction::Fire);
    queue.send(&fire).await.unwrap();
    queue.send(&fire).await.unwrap();
    let resolve = alert_message("0192aaaa0001", AlertAction::Resolve);
    queue.send(&resolve).await.unwrap();

    let received = drain(&client, &url, 1).await;
    let bodies: Vec<QueueMessage> = received
        .iter()
        .map(|m| QueueMessage::from_json(m.body.as_deref().unwrap()).unwrap())
        .collect();
    assert_eq!(bodies, vec![fire.clone(), resolve.clone()]);
    // The message group is the alert's group key: one group's alerts are grouped in order.
    assert_eq!(
        system_attribute(&received[0], MessageSystemAttributeName::MessageGroupId),
        Some("group0192aaaa0001".to_owned())
    );
    assert_eq!(
        system_attribute(
            &received[0],
            MessageSystemAttributeName::MessageDeduplicationId
        ),
        Some("0192aaaa0001-fire".to_owned())
    );
}

#[tokio::test]
async fn standard_queue_messages_round_trip_without_fifo_ids() {
    let client = sqs_client().await;
    let (url, _) = create_queue(&client, &queue_name("incidents")).await;
    let queue = SqsQueue::new(client.clone()).with_queue(QueueName::Incidents, &url);

    let message = incident_message("0192bbbb0001", IncidentEvent::Triggered);
    queue.send(&message).await.unwrap();

    let received = drain(&client, &url, 1).await;
    assert_eq!(received.len(), 1);
    assert_eq!(
        QueueMessage::from_json(received[0].body.as_deref().unwrap()).unwrap(),
        message
    );
    assert_eq!(
        system_attribute(&received[0], MessageSystemAttributeName::MessageGroupId),
        None
    );
}

#[tokio::test]
async fn sending_to_an_unconfigured_or_missing_queue_is_an_error_naming_it() {
    let client = sqs_client().await;
    let page_less = SqsQueue::new(client.clone());
    let error = page_less
        .send(&incident_message("0192cccc0001", IncidentEvent::Triggered))
        .await
        .unwrap_err();
    assert_eq!(error.queue, "incidents");
    assert!(error.message.contains("INCIDENTS_QUEUE_URL"), "{error}");

    let missing = format!(
        "{}/123456789012/{}",
        klaxon_tests::moto_endpoint(),
        queue_name("gone")
    );
    let queue = SqsQueue::new(client)
        .with_queue(QueueName::Incidents, missing)
        .with_retry_policy(no_retries());
    let error = queue
        .send(&incident_message("0192cccc0001", IncidentEvent::Triggered))
        .await
        .unwrap_err();
    assert_eq!(error.queue, "incidents");
}

// ---------------------------------------------------------------------------------------------
// SchedulerTimers
// ---------------------------------------------------------------------------------------------

struct TimerFixture {
    timers: SchedulerTimers,
    scheduler: aws_sdk_scheduler::Client,
    sqs: aws_sdk_sqs::Client,
    settings: SchedulerSettings,
    clock: Arc<ManualClock>,
}

async fn timer_fixture() -> TimerFixture {
    let sqs = sqs_client().await;
    let scheduler = scheduler_client().await;
    let group = unique_name("escalation");
    scheduler
        .create_schedule_group()
        .name(&group)
        .send()
        .await
        .unwrap();
    let (url, arn) = create_queue(&sqs, &queue_name("timers")).await;
    let (_, dlq_arn) = create_queue(&sqs, &queue_name("scheduler-dlq")).await;
    let settings = SchedulerSettings {
        group_name: group,
        timers_queue_arn: arn,
        timers_queue_url: url,
        role_arn: "arn:aws:iam::123456789012:role/klaxon-SchedulerRole".to_owned(),
        dead_letter_arn: Some(dlq_arn),
    };
    let clock = Arc::new(ManualClock::new(test_start()));
    let timers = SchedulerTimers::new(
        scheduler.clone(),
        sqs.clone(),
        settings.clone(),
        clock.clone(),
    );
    TimerFixture {
        timers,
        scheduler,
        sqs,
        settings,
        clock,
    }
}

fn payload(incident: &str, tier: u32) -> TimerPayload {
    TimerPayload {
        incident: IncidentId::new(incident).unwrap(),
        round: 0,
        tier,
        version: 7,
    }
}

async fn schedule_names(fixture: &TimerFixture) -> Vec<String> {
    fixture
        .scheduler
        .list_schedules()
        .group_name(&fixture.settings.group_name)
        .send()
        .await
        .unwrap()
        .schedules
        .into_iter()
        .filter_map(|s| s.name)
        .collect()
}

#[tokio::test]
async fn arming_creates_a_one_shot_utc_schedule_that_delivers_the_timer_message() {
    let fixture = timer_fixture().await;
    let payload = payload("0192dddd0001", 1);
    let name = payload.timer_name();
    let due = test_start() + TimeDelta::seconds(10 * 60 + 30);

    fixture.timers.arm(&name, due, &payload).await.unwrap();

    let schedule = fixture
        .scheduler
        .get_schedule()
        .name(name.as_str())
        .group_name(&fixture.settings.group_name)
        .send()
        .await
        .unwrap();
    // Rounded up to the minute: the scheduler's one-minute precision can only make it late.
    assert_eq!(
        schedule.schedule_expression.as_deref(),
        Some("at(2026-01-01T00:11:00)")
    );
    assert_eq!(
        schedule.schedule_expression_timezone.as_deref(),
        Some("UTC")
    );
    assert_eq!(
        schedule.flexible_time_window.unwrap().mode,
        aws_sdk_scheduler::types::FlexibleTimeWindowMode::Off
    );
    assert_eq!(
        schedule.action_after_completion,
        Some(aws_sdk_scheduler::types::ActionAfterCompletion::Delete)
    );
    let target = schedule.target.unwrap();
    assert_eq!(target.arn, fixture.settings.timers_queue_arn);
    assert_eq!(target.role_arn, fixture.settings.role_arn);
    assert_eq!(
        QueueMessage::from_json(target.input.as_deref().unwrap()).unwrap(),
        QueueMessage::Timer(payload.clone())
    );
    let retry = target.retry_policy.unwrap();
    assert_eq!(retry.maximum_retry_attempts, Some(185));
    assert_eq!(retry.maximum_event_age_in_seconds, Some(86_400));
    assert_eq!(
        target.dead_letter_config.unwrap().arn,
        fixture.settings.dead_letter_arn
    );
    // Nothing went to the queue directly.
    assert!(
        drain(&fixture.sqs, &fixture.settings.timers_queue_url, 0)
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn arming_twice_keeps_one_schedule_and_cancelling_is_idempotent() {
    let fixture = timer_fixture().await;
    let payload = payload("0192dddd0002", 0);
    let name = payload.timer_name();
    let due = test_start() + TimeDelta::minutes(15);

    fixture.timers.arm(&name, due, &payload).await.unwrap();
    fixture.timers.arm(&name, due, &payload).await.unwrap();
    assert_eq!(schedule_names(&fixture).await, vec![name.to_string()]);

    fixture.timers.cancel(&name).await.unwrap();
    assert!(schedule_names(&fixture).await.is_empty());
    let gone = fixture
        .scheduler
        .get_schedule()
        .name(name.as_str())
        .group_name(&fixture.settings.group_name)
        .send()
        .await
        .unwrap_err();
    assert!(
        gone.as_service_error()
            .unwrap()
            .is_resource_not_found_exception()
    );

    fixture.timers.cancel(&name).await.unwrap();
    let never_armed = TimerName::new("0192dddd0099-r0-t0").unwrap();
    fixture.timers.cancel(&never_armed).await.unwrap();
}

#[tokio::test]
async fn an_overdue_timer_goes_straight_to_the_timers_queue() {
    let fixture = timer_fixture().await;
    let payload = payload("0192dddd0003", 2);
    let name = payload.timer_name();
    let overdue = fixture.clock.now() - TimeDelta::minutes(5);

    fixture.timers.arm(&name, overdue, &payload).await.unwrap();

    assert!(schedule_names(&fixture).await.is_empty());
    let received = drain(&fixture.sqs, &fixture.settings.timers_queue_url, 1).await;
    assert_eq!(received.len(), 1);
    assert_eq!(
        QueueMessage::from_json(received[0].body.as_deref().unwrap()).unwrap(),
        QueueMessage::Timer(payload)
    );
}

#[tokio::test]
async fn a_timer_due_within_the_minute_is_queued_with_the_remaining_delay() {
    let fixture = timer_fixture().await;
    let payload = payload("0192dddd0004", 1);
    let name = payload.timer_name();
    let due = fixture.clock.now() + TimeDelta::seconds(3);

    fixture.timers.arm(&name, due, &payload).await.unwrap();

    assert!(schedule_names(&fixture).await.is_empty());
    let url = &fixture.settings.timers_queue_url;
    assert!(
        drain(&fixture.sqs, url, 0).await.is_empty(),
        "the message is delayed, not visible at once"
    );
    let received = drain(&fixture.sqs, url, 10).await;
    assert_eq!(received.len(), 1);
    assert_eq!(
        QueueMessage::from_json(received[0].body.as_deref().unwrap()).unwrap(),
        QueueMessage::Timer(payload)
    );
}

// ---------------------------------------------------------------------------------------------
// SesEmail and SnsSms
// ---------------------------------------------------------------------------------------------

fn email(to: &str) -> Email {
    Email {
        to: to.to_owned(),
        subject: "[Klaxon] #42 HighLatency on api (critical)".to_owned(),
        text: "HighLatency on api\nAcknowledge: https://klaxon.example.com/v1/links?t=abc".into(),
        html: "<p>HighLatency on api</p><a href=\"https://klaxon.example.com/v1/links?t=abc\">Acknowledge</a>".into(),
    }
}

#[tokio::test]
async fn ses_sends_from_a_verified_sender_and_moto_keeps_the_message() {
    let client = sesv2_client().await;
    let sender = format!("pager@{}.example.com", unique_name("ses"));
    client
        .create_email_identity()
        .email_identity(&sender)
        .send()
        .await
        .unwrap();
    let ses = SesEmail::new(client, &sender);
    let to = format!("oncall@{}.example.org", unique_name("dest"));
    let email = email(&to);

    let message_id = ses.send_email(&email).await.unwrap();

    let data = moto_data().await;
    let sent = data["ses"]["Message"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == json!(message_id))
        .unwrap_or_else(|| panic!("message {message_id} not in moto's SES messages"));
    assert_eq!(sent["source"], json!(sender));
    assert_eq!(sent["destinations"]["ToAddresses"], json!([to]));
    assert_eq!(sent["subject"], json!(email.subject));
    // moto keeps only the HTML part of Simple content with both bodies.
    assert_eq!(sent["body"], json!(email.html));
}

#[tokio::test]
async fn ses_rejects_an_unverified_sender_permanently() {
    let sender = format!("pager@{}.example.com", unique_name("unverified"));
    let ses = SesEmail::new(sesv2_client().await, &sender);
    match ses.send_email(&email("oncall@example.org")).await {
        Err(SendError::Permanent(reason)) => {
            assert!(reason.contains("MessageRejected"), "{reason}");
            assert!(reason.contains("oncall@example.org"), "{reason}");
        }
        other => panic!("expected a permanent failure, got {other:?}"),
    }
}

#[tokio::test]
async fn sns_publishes_a_transactional_sms_to_the_number() {
    let sns = SnsSms::new(sns_client().await).with_sender_id("Klaxon");
    let nanos = Utc::now().timestamp_subsec_nanos();
    let sms = Sms {
        to: format!("+1555{:07}", nanos % 10_000_000),
        text: "Klaxon #42 critical: HighLatency on api. Ack: https://k.example.com/l/abc".into(),
    };

    let message_id = sns.send_sms(&sms).await.unwrap();

    let data = moto_data().await;
    let sent = data["sns"]["SMS"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["message_id"] == json!(message_id))
        .unwrap_or_else(|| panic!("SMS {message_id} not in moto's SNS data"));
    assert_eq!(sent["phone_number"], json!(sms.to));
    assert_eq!(sent["message"], json!(sms.text));
}

#[tokio::test]
async fn an_unreachable_provider_is_a_transient_failure() {
    let config = unreachable_config().await;
    let sns = SnsSms::new(aws_sdk_sns::Client::new(&config)).with_retry_policy(no_retries());
    let sms = Sms {
        to: "+15555550100".into(),
        text: "x".into(),
    };
    assert!(
        matches!(sns.send_sms(&sms).await, Err(SendError::Transient(_))),
        "SNS"
    );
    let ses = SesEmail::new(aws_sdk_sesv2::Client::new(&config), "pager@example.com")
        .with_retry_policy(no_retries());
    assert!(
        matches!(
            ses.send_email(&email("oncall@example.org")).await,
            Err(SendError::Transient(_))
        ),
        "SES"
    );
}

// ---------------------------------------------------------------------------------------------
// Lambda SQS batch driver on the sample events
// ---------------------------------------------------------------------------------------------

fn sqs_event(file: &str) -> SqsEvent {
    let path = workspace_root().join("events/sqs").join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn failed_ids(response: &SqsBatchResponse) -> Vec<&str> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect()
}

/// A handler that records what it was given and fails for messages `fails` says to.
fn recording_handler(
    seen: Arc<Mutex<Vec<(QueueMessage, MessageMeta)>>>,
    fails: fn(&QueueMessage) -> bool,
) -> impl Fn(QueueMessage, MessageMeta) -> std::future::Ready<Result<(), String>> + Send + Sync + 'static
{
    move |message, meta| {
        let fail = fails(&message);
        seen.lock().unwrap().push((message, meta));
        std::future::ready(if fail {
            Err("the store is unavailable".to_owned())
        } else {
            Ok(())
        })
    }
}

#[tokio::test]
async fn a_malformed_body_and_a_failed_handler_are_exactly_the_batch_item_failures() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let handler = recording_handler(seen.clone(), |message| {
        matches!(message, QueueMessage::Timer(_))
    });
    let mut service = SqsBatchService::new(handler);
    let event = LambdaEvent::new(sqs_event("incidents-mixed-batch.json"), Context::default());

    let response = service.call(event).await.unwrap();

    assert_eq!(
        failed_ids(&response),
        vec![
            "5e7d2f10-1c4b-4b8e-8f3a-7a9d1e2c3b44",
            "9a0b8c7d-2e3f-4a5b-9c6d-1e2f3a4b5c66"
        ]
    );
    // The wire shape Lambda expects.
    assert_eq!(
        serde_json::to_value(&response).unwrap(),
        json!({"batchItemFailures": [
            {"itemIdentifier": "5e7d2f10-1c4b-4b8e-8f3a-7a9d1e2c3b44"},
            {"itemIdentifier": "9a0b8c7d-2e3f-4a5b-9c6d-1e2f3a4b5c66"}
        ]})
    );
    // The good and the failing message reached the handler; the malformed one did not.
    let seen = seen.lock().unwrap();
    let mut handled: Vec<&str> = seen.iter().map(|(_, m)| m.message_id.as_str()).collect();
    handled.sort_unstable();
    assert_eq!(
        handled,
        vec![
            "3b1c9a52-6a0e-4d67-9a55-0d2f6c0b9e11",
            "9a0b8c7d-2e3f-4a5b-9c6d-1e2f3a4b5c66"
        ]
    );
}

#[tokio::test]
async fn a_failure_in_a_fifo_group_fails_the_rest_of_that_group_only() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let handler = recording_handler(seen.clone(), |message| {
        matches!(message, QueueMessage::Alert(m)
            if m.alert_id.as_str() == "0192aaaa00000000000000000000a001"
                && m.action == AlertAction::Fire)
    });

    let response = process_sqs_batch(sqs_event("alerts-fifo-batch.json"), &handler).await;

    assert_eq!(
        failed_ids(&response),
        vec![
            "a0000001-0000-4000-8000-000000000001",
            "a0000002-0000-4000-8000-000000000002",
            "c0000001-0000-4000-8000-000000000001"
        ]
    );
    // Group A's second message never ran (order is kept for the redelivery); group B's did.
    let seen = seen.lock().unwrap();
    let handled: BTreeSet<&str> = seen.iter().map(|(_, m)| m.message_id.as_str()).collect();
    assert_eq!(
        handled,
        BTreeSet::from([
            "a0000001-0000-4000-8000-000000000001",
            "b0000001-0000-4000-8000-000000000001"
        ])
    );
    let (_, meta) = seen
        .iter()
        .find(|(_, m)| m.message_id.starts_with("b0"))
        .unwrap();
    assert_eq!(
        meta.group_id.as_deref(),
        Some("0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9")
    );
}

#[tokio::test]
async fn fired_timers_and_sweeps_reach_the_handler_with_their_receive_count() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let handler = recording_handler(seen.clone(), |_| false);

    let response = process_sqs_batch(sqs_event("timers-batch.json"), &handler).await;

    assert!(response.batch_item_failures.is_empty());
    let mut seen = seen.lock().unwrap().clone();
    seen.sort_by(|a, b| a.1.message_id.cmp(&b.1.message_id));
    assert_eq!(
        seen[0].0,
        QueueMessage::Timer(TimerPayload {
            incident: IncidentId::new("0192f3a1b2c37d4e8f90a1b2c3d4e5f6").unwrap(),
            round: 0,
            tier: 1,
            version: 4,
        })
    );
    assert_eq!(seen[0].1.receive_count, 3);
    assert_eq!(seen[1].0, QueueMessage::Sweep { at: None });
    assert_eq!(seen[1].1.receive_count, 1);
    assert_eq!(seen[1].1.group_id, None);
}

// ---------------------------------------------------------------------------------------------
// template.yaml against the workspace
// ---------------------------------------------------------------------------------------------

/// template.yaml as JSON. serde-saphyr ignores CloudFormation's short-form tags (`!Ref X`
/// reads as `"X"`, `!GetAtt X.Arn` as `"X.Arn"`, `!If [..]` as its list), which is enough to
/// read the template's structure.
fn template() -> Value {
    let text = std::fs::read_to_string(workspace_root().join("template.yaml")).unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

fn resources_of_type<'a>(template: &'a Value, kind: &str) -> BTreeMap<&'a str, &'a Value> {
    template["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, resource)| resource["Type"] == json!(kind))
        .map(|(name, resource)| (name.as_str(), resource))
        .collect()
}

/// The `name` of each `functions/*/Cargo.toml` package.
fn workspace_function_packages() -> BTreeSet<String> {
    let dir = workspace_root().join("functions");
    std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|entry| {
            let manifest = entry.unwrap().path().join("Cargo.toml");
            let text = std::fs::read_to_string(manifest).ok()?;
            let package = text.split("[package]").nth(1)?;
            let line = package
                .lines()
                .find(|line| line.trim_start().starts_with("name"))?;
            Some(line.split('"').nth(1)?.to_owned())
        })
        .collect()
}

/// Each function resource's binary name (from its BuildProperties).
fn template_binaries(template: &Value) -> BTreeMap<String, &Value> {
    resources_of_type(template, "AWS::Serverless::Function")
        .into_values()
        .map(|function| {
            let metadata = &function["Metadata"];
            assert_eq!(metadata["BuildMethod"], json!("rust-cargolambda"));
            let binary = metadata["BuildProperties"]["Binary"].as_str().unwrap();
            (binary.to_owned(), function)
        })
        .collect()
}

#[test]
fn every_template_function_is_a_workspace_binary_and_vice_versa() {
    let template = template();
    let binaries = template_binaries(&template);
    let in_template: BTreeSet<String> = binaries.keys().cloned().collect();
    let packages = workspace_function_packages();
    assert_eq!(in_template, packages);
    let expected: BTreeSet<String> = Function::ALL.iter().map(|f| f.name().to_owned()).collect();
    assert_eq!(in_template, expected);
    assert_eq!(
        resources_of_type(&template, "AWS::Serverless::Function").len(),
        binaries.len(),
        "two functions build the same binary"
    );
    for (binary, function) in &binaries {
        let properties = &function["Properties"];
        assert_eq!(properties["CodeUri"], json!("."), "{binary}");
        assert_eq!(properties["Handler"], json!("bootstrap"), "{binary}");
    }
    let globals = &template["Globals"]["Function"];
    assert_eq!(globals["Runtime"], json!("provided.al2023"));
    assert_eq!(globals["Architectures"], json!(["arm64"]));
}

/// A plausible value for an environment variable, valid for [`CloudSettings`].
fn sample_value(name: &str) -> String {
    match name {
        "ALERTS_QUEUE_URL" => "https://sqs.us-east-1.amazonaws.com/1/k-alerts.fifo".into(),
        name if name.ends_with("_URL") => format!("https://example.com/{name}"),
        name if name.ends_with("_ARN") => format!("arn:aws:service:us-east-1:1:{name}"),
        "SENDER_EMAIL" => "pager@example.com".into(),
        "LINK_SIGNING_SECRET" => "x".repeat(40),
        other => other.to_lowercase(),
    }
}

#[test]
fn every_function_gets_the_environment_it_requires_and_a_missing_one_is_named() {
    let template = template();
    let binaries = template_binaries(&template);
    let global: Vec<String> = template["Globals"]["Function"]["Environment"]["Variables"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    for function in Function::ALL {
        let resource = binaries[function.name()];
        let mut names = global.clone();
        if let Some(own) = resource["Properties"]["Environment"]["Variables"].as_object() {
            names.extend(own.keys().cloned());
        }
        let environment: BTreeMap<String, String> = names
            .iter()
            .map(|name| (name.clone(), sample_value(name)))
            .collect();
        let settings = CloudSettings::from_lookup(|name| environment.get(name).cloned()).unwrap();
        settings
            .check(function)
            .unwrap_or_else(|e| panic!("template.yaml, {}: {e}", function.name()));

        // Taking any one required variable away gives an error naming exactly it.
        for required in function.required_variables() {
            let settings = CloudSettings::from_lookup(|name| {
                (name != required)
                    .then(|| environment.get(name).cloned())
                    .flatten()
            })
            .unwrap();
            let error = settings.check(function).unwrap_err();
            assert_eq!(
                error,
                EnvError::Missing {
                    names: vec![required],
                    function: Some(function.name())
                }
            );
            assert!(error.to_string().contains(required));
        }
    }
}

#[test]
fn queues_have_dead_letter_queues_with_alarms_and_long_enough_visibility_timeouts() {
    let template = template();
    let queues = resources_of_type(&template, "AWS::SQS::Queue");
    let alarms = resources_of_type(&template, "AWS::CloudWatch::Alarm");
    let alarmed: BTreeSet<String> = alarms
        .values()
        .map(|alarm| {
            let value = alarm["Properties"]["Dimensions"][0]["Value"]
                .as_str()
                .unwrap();
            value.trim_end_matches(".QueueName").to_owned()
        })
        .collect();
    let global_timeout = template["Globals"]["Function"]["Timeout"].as_u64().unwrap();

    let mut dead_letter_queues = BTreeSet::new();
    let mut sources = 0;
    for (name, queue) in &queues {
        let properties = &queue["Properties"];
        assert_eq!(properties["SqsManagedSseEnabled"], json!(true), "{name}");
        let Some(redrive) = properties.get("RedrivePolicy") else {
            continue;
        };
        sources += 1;
        assert_eq!(redrive["maxReceiveCount"], json!(5), "{name}");
        let dlq = redrive["deadLetterTargetArn"]
            .as_str()
            .unwrap()
            .trim_end_matches(".Arn");
        let fifo = properties.get("FifoQueue") == Some(&json!(true));
        let dlq_fifo = queues[dlq]["Properties"].get("FifoQueue") == Some(&json!(true));
        assert_eq!(fifo, dlq_fifo, "{name} and its DLQ {dlq}");
        dead_letter_queues.insert(dlq.to_owned());

        // Every consumer's timeout × 6 fits in the visibility timeout.
        let visibility = properties["VisibilityTimeout"].as_u64().unwrap();
        for function in resources_of_type(&template, "AWS::Serverless::Function").values() {
            let events = function["Properties"]["Events"].as_object();
            let consumes = events.into_iter().flatten().any(|(_, event)| {
                event["Type"] == json!("SQS")
                    && event["Properties"]["Queue"] == json!(format!("{name}.Arn"))
            });
            if consumes {
                let timeout = function["Properties"]["Timeout"]
                    .as_u64()
                    .unwrap_or(global_timeout);
                assert!(
                    visibility >= 6 * timeout,
                    "{name}: {visibility} < 6 × {timeout}"
                );
            }
        }
    }
    assert_eq!(sources, 4, "alerts, incidents, timers, notifications");
    dead_letter_queues.insert("SchedulerDeadLetterQueue".to_owned());
    // The ingest function's on-failure destination for SNS events it could not ingest.
    dead_letter_queues.insert("IngestFailedEventsQueue".to_owned());
    assert_eq!(alarmed, dead_letter_queues);
    let alerts = &queues["AlertsQueue"]["Properties"];
    assert_eq!(alerts["FifoQueue"], json!(true));
    assert_eq!(alerts["ContentBasedDeduplication"], json!(false));
}

#[test]
fn sqs_consumers_report_batch_item_failures_from_the_right_queues() {
    let template = template();
    let binaries = template_binaries(&template);
    let mut consumed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (binary, function) in &binaries {
        for event in function["Properties"]["Events"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(_, event)| event)
            .filter(|event| event["Type"] == json!("SQS"))
        {
            assert_eq!(
                event["Properties"]["FunctionResponseTypes"],
                json!(["ReportBatchItemFailures"]),
                "{binary}"
            );
            let queue = event["Properties"]["Queue"].as_str().unwrap();
            consumed
                .entry(binary.clone())
                .or_default()
                .insert(queue.trim_end_matches(".Arn").to_owned());
        }
    }
    let expected = BTreeMap::from([
        (
            "grouping".to_owned(),
            BTreeSet::from(["AlertsQueue".to_owned()]),
        ),
        (
            "routing".to_owned(),
            BTreeSet::from(["IncidentsQueue".to_owned(), "TimersQueue".to_owned()]),
        ),
        (
            "notify".to_owned(),
            BTreeSet::from(["NotificationsQueue".to_owned()]),
        ),
    ]);
    assert_eq!(consumed, expected);
}

#[test]
fn http_routes_are_served_by_the_right_functions() {
    let template = template();
    let binaries = template_binaries(&template);
    let mut routes: BTreeSet<(String, String, String)> = BTreeSet::new();
    for (binary, function) in &binaries {
        for event in function["Properties"]["Events"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(_, event)| event)
            .filter(|event| event["Type"] == json!("HttpApi"))
        {
            let properties = &event["Properties"];
            assert_eq!(properties["ApiId"], json!("HttpApi"), "{binary}");
            let method = properties["Method"].as_str().unwrap().to_owned();
            let path = properties["Path"].as_str().unwrap().to_owned();
            assert!(
                routes.insert((method.clone(), path.clone(), binary.clone())),
                "{method} {path} twice"
            );
        }
    }
    let expected: BTreeSet<(String, String, String)> = [
        ("POST", "/v1/alerts", "ingest"),
        ("POST", "/v2/enqueue", "ingest"),
        ("POST", "/v2/alerts", "ingest"),
        ("POST", "/v2/alerts/{identifier}/acknowledge", "ingest"),
        ("POST", "/v2/alerts/{identifier}/close", "ingest"),
        ("POST", "/v1/integrations/alertmanager", "ingest"),
        ("POST", "/v1/integrations/grafana", "ingest"),
        ("POST", "/v1/integrations/sns/{key}", "ingest"),
        ("GET", "/v1/links", "ack"),
        ("POST", "/v1/links", "ack"),
        ("POST", "/v1/incidents/{id}/acknowledge", "ack"),
        ("POST", "/v1/incidents/{id}/resolve", "ack"),
        ("POST", "/v1/slack/actions", "ack"),
        ("GET", "/v1/incidents", "api"),
        ("GET", "/v1/incidents/{id}", "api"),
        ("GET", "/v1/oncall", "api"),
        ("GET", "/v1/schedules/{id}/ics", "api"),
        ("GET", "/v1/schedules/{id}/overrides", "api"),
        ("POST", "/v1/schedules/{id}/overrides", "api"),
        (
            "DELETE",
            "/v1/schedules/{id}/overrides/{override_id}",
            "api",
        ),
        ("GET", "/v1/config", "api"),
        ("PUT", "/v1/config", "api"),
        ("GET", "/", "api"),
        ("GET", "/console", "api"),
        ("ANY", "/console/{proxy+}", "api"),
    ]
    .into_iter()
    .map(|(m, p, f)| (m.to_owned(), p.to_owned(), f.to_owned()))
    .collect();
    assert_eq!(routes, expected);
}

#[test]
fn the_recovery_sweep_schedule_sends_a_sweep_message_to_the_timers_queue() {
    let template = template();
    let schedules = resources_of_type(&template, "AWS::Scheduler::Schedule");
    let sweep = &schedules["RecoverySweepSchedule"]["Properties"];
    assert_eq!(sweep["ScheduleExpression"], json!("rate(5 minutes)"));
    assert_eq!(sweep["FlexibleTimeWindow"]["Mode"], json!("OFF"));
    assert_eq!(sweep["Target"]["Arn"], json!("TimersQueue.Arn"));
    assert_eq!(sweep["Target"]["RoleArn"], json!("SchedulerRole.Arn"));
    let input = sweep["Target"]["Input"].as_str().unwrap();
    assert_eq!(
        QueueMessage::from_json(input).unwrap(),
        QueueMessage::Sweep { at: None }
    );
    // The schedules' role may only deliver to the timers queue (and the scheduler DLQ).
    let role = &template["Resources"]["SchedulerRole"]["Properties"];
    let statement = &role["Policies"][0]["PolicyDocument"]["Statement"];
    assert_eq!(statement.as_array().unwrap().len(), 1);
    assert_eq!(statement[0]["Action"], json!("sqs:SendMessage"));
    assert_eq!(
        statement[0]["Resource"],
        json!(["TimersQueue.Arn", "SchedulerDeadLetterQueue.Arn"])
    );
}

/// A failed record's next delivery is deferred (its visibility timeout set by the backoff), so
/// a provider outage is not retried at the queue's fixed pace.
#[tokio::test]
async fn failed_records_are_deferred_by_the_retry_backoff() {
    use klaxon_aws::lambda::{RetryBackoff, process_sqs_batch_with_backoff};
    let client = sqs_client().await;
    for deferred in [false, true] {
        let (url, arn) = create_queue(&client, &queue_name("backoff")).await;
        client
            .send_message()
            .queue_url(&url)
            .message_body(r#"{"kind":"sweep"}"#)
            .send()
            .await
            .unwrap();
        // Received with no visibility timeout: visible again at once unless deferred.
        let received = client
            .receive_message()
            .queue_url(&url)
            .visibility_timeout(0)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap();
        let message = &received[0];
        let event: SqsEvent = serde_json::from_value(json!({"Records": [{
            "messageId": message.message_id.clone().unwrap(),
            "receiptHandle": message.receipt_handle.clone().unwrap(),
            "body": message.body.clone().unwrap(),
            "attributes": {"ApproximateReceiveCount": "1"},
            "messageAttributes": {},
            "eventSource": "aws:sqs",
            "eventSourceARN": arn,
            "awsRegion": "us-east-1"
        }]}))
        .unwrap();
        let backoff = RetryBackoff::new(client.clone());
        let failing = |_: QueueMessage, _: MessageMeta| async { Err::<(), _>("provider down") };
        let response =
            process_sqs_batch_with_backoff(event, &failing, deferred.then_some(&backoff)).await;
        assert_eq!(response.batch_item_failures.len(), 1);
        let visible = client
            .receive_message()
            .queue_url(&url)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        assert_eq!(visible.is_empty(), deferred, "deferred: {deferred}");
    }
}

// ---------------------------------------------------------------------------------------------
// DynamoStore throttling, against a stub DynamoDB endpoint (moto never throttles)
// ---------------------------------------------------------------------------------------------

/// How the stub answers a request it fails.
#[derive(Clone)]
struct StubFailure {
    /// The `x-amzn-ErrorType` header, when the error code travels there.
    error_type_header: Option<&'static str>,
    /// The JSON error body.
    body: Value,
}

/// A DynamoDB endpoint that fails the first `failures` requests with `failure` (HTTP 400, as
/// DynamoDB does) and answers `{}` (success) after that. Records every request's
/// `X-Amz-Target`.
#[derive(Clone)]
struct StubDynamo {
    failures: usize,
    failure: StubFailure,
    targets: Arc<Mutex<Vec<String>>>,
}

impl StubDynamo {
    async fn answer(
        axum::extract::State(stub): axum::extract::State<StubDynamo>,
        headers: axum::http::HeaderMap,
    ) -> axum::response::Response {
        use axum::response::IntoResponse;
        let target = headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let seen = {
            let mut targets = stub.targets.lock().unwrap();
            targets.push(target);
            targets.len()
        };
        let content_type = ("content-type", "application/x-amz-json-1.0");
        if seen > stub.failures {
            return ([content_type], "{}").into_response();
        }
        let mut response = (
            axum::http::StatusCode::BAD_REQUEST,
            [content_type],
            stub.failure.body.to_string(),
        )
            .into_response();
        if let Some(code) = stub.failure.error_type_header {
            response
                .headers_mut()
                .insert("x-amzn-errortype", code.parse().unwrap());
        }
        response
    }

    /// Serves the stub on a free loopback port; returns a store on it whose SDK client does
    /// not retry (so every attempt the stub sees is one of the adapter's), and the stub.
    async fn start(
        failures: usize,
        failure: StubFailure,
    ) -> (klaxon_aws::dynamo::DynamoStore, Self) {
        let stub = StubDynamo {
            failures,
            failure,
            targets: Arc::default(),
        };
        let router = axum::Router::new()
            .fallback(StubDynamo::answer)
            .with_state(stub.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .endpoint_url(format!("http://{address}"))
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "test", "test", None, None, "stub",
            ))
            .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
            .build();
        let store = klaxon_aws::dynamo::DynamoStore::new(
            aws_sdk_dynamodb::Client::from_conf(config),
            "klaxon-stub",
            Arc::new(ManualClock::new(test_start())),
        )
        .with_retry_policy(RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(4),
        });
        (store, stub)
    }

    fn targets(&self) -> Vec<String> {
        self.targets.lock().unwrap().clone()
    }
}

fn provisioned_throughput_exceeded() -> StubFailure {
    StubFailure {
        error_type_header: None,
        body: json!({
            "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
            "message": "The level of configured provisioned throughput for the table was exceeded."
        }),
    }
}

fn throttling_exception() -> StubFailure {
    StubFailure {
        error_type_header: Some("ThrottlingException"),
        body: json!({"message": "Rate of requests exceeds the allowed throughput."}),
    }
}

/// A `TransactionCanceledException` with one reason code per operation.
fn transaction_cancelled(codes: &[&str]) -> StubFailure {
    let reasons: Vec<Value> = codes.iter().map(|code| json!({"Code": code})).collect();
    StubFailure {
        error_type_header: None,
        body: json!({
            "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
            "Message": format!("Transaction cancelled, please refer cancellation reasons for specific reasons {codes:?}"),
            "CancellationReasons": reasons,
        }),
    }
}

/// A put that must not overwrite and a check that another item exists.
fn two_ops() -> Vec<klaxon_store::TransactOp> {
    use klaxon_store::{Condition, Key, TransactOp};
    vec![
        TransactOp::Put {
            item: Key::new("ALERT#x", "OCCURRENCE").to_item(),
            condition: Some(Condition::NotExists),
        },
        TransactOp::ConditionCheck {
            key: Key::new("GROUP#g", "POINTER"),
            condition: Condition::Exists,
        },
    ]
}

fn many(target: &str, times: usize) -> Vec<String> {
    vec![format!("DynamoDB_20120810.{target}"); times]
}

#[tokio::test]
async fn a_throttled_write_is_retried_by_the_adapter_until_it_succeeds() {
    use klaxon_store::{Key, ReturnValues, Store, UpdateAction};
    let (store, stub) = StubDynamo::start(2, provisioned_throughput_exceeded()).await;
    let result = store
        .update(
            &Key::new("COUNTER", "INCIDENT_NUMBER"),
            vec![UpdateAction::add("value", 1)],
            None,
            ReturnValues::None,
        )
        .await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(stub.targets(), many("UpdateItem", 3));
}

#[tokio::test]
async fn a_write_throttled_through_every_retry_is_a_transient_throttled_error() {
    use klaxon_store::{Key, Store, StoreError};
    let (store, stub) = StubDynamo::start(usize::MAX, throttling_exception()).await;
    let error = store
        .put(Key::new("CONFIG", "CURRENT").to_item(), None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::Throttled {
                operation: "put",
                attempts: 4
            }
        ),
        "{error:?}"
    );
    assert!(error.is_transient());
    assert_eq!(
        stub.targets(),
        many("PutItem", 4),
        "one request per attempt"
    );
}

#[tokio::test]
async fn a_transaction_cancelled_for_throttling_is_retried_until_it_succeeds() {
    use klaxon_store::Store;
    let (store, stub) =
        StubDynamo::start(2, transaction_cancelled(&["None", "ThrottlingError"])).await;
    let result = store.transact(two_ops()).await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(stub.targets(), many("TransactWriteItems", 3));
}

/// Retries used up on a transaction nobody refused is the store being busy: a transient
/// `Throttled` (HTTP 503, the message retried), not a permanent cancellation (HTTP 500).
#[tokio::test]
async fn a_transaction_throttled_through_every_retry_is_transient_not_cancelled() {
    use klaxon_app::http::ApiError;
    use klaxon_app::usecases::UseCaseError;
    use klaxon_store::{RepoError, Store, StoreError};
    for codes in [
        ["None", "ThrottlingError"],
        ["TransactionConflict", "None"],
        ["ProvisionedThroughputExceeded", "TransactionConflict"],
    ] {
        let (store, stub) = StubDynamo::start(usize::MAX, transaction_cancelled(&codes)).await;
        let error = store.transact(two_ops()).await.unwrap_err();
        assert!(
            matches!(
                error,
                StoreError::Throttled {
                    operation: "transact",
                    attempts: 4
                }
            ),
            "{codes:?}: {error:?}"
        );
        assert_eq!(stub.targets(), many("TransactWriteItems", 4));
        let error = UseCaseError::from(RepoError::from(error));
        assert!(error.is_transient());
        assert_eq!(
            ApiError::from(error).status,
            axum::http::StatusCode::SERVICE_UNAVAILABLE
        );
    }
}

#[tokio::test]
async fn a_transaction_with_a_failed_condition_is_cancelled_at_once_even_if_throttled() {
    use klaxon_store::{CancelReason, Store, StoreError};
    let (store, stub) = StubDynamo::start(
        usize::MAX,
        transaction_cancelled(&["ConditionalCheckFailed", "ThrottlingError"]),
    )
    .await;
    match store.transact(two_ops()).await {
        Err(StoreError::TransactionCancelled { reasons }) => assert_eq!(
            reasons,
            vec![
                CancelReason::ConditionFailed { existing: None },
                CancelReason::Throttled
            ]
        ),
        other => panic!("expected TransactionCancelled, got {other:?}"),
    }
    assert_eq!(stub.targets(), many("TransactWriteItems", 1), "not retried");
}

/// A versioned incident save cancelled for a reason that is neither its lock nor a timeline
/// entry's condition is reported as that cancellation, not as "timeline entry exists".
#[tokio::test]
async fn an_incident_save_cancelled_for_another_reason_says_so() {
    use klaxon_domain::alert::{Alert, AlertStatus, Severity};
    use klaxon_domain::incident::Incident;
    use klaxon_domain::timeline::EventSource;
    use klaxon_store::repo::Repository;
    use klaxon_store::{CancelReason, RepoError, StoreError};

    let now = test_start();
    let alert = Alert {
        integration: IntegrationName::new("prom").unwrap(),
        dedup_key: DedupKey::new("disk").unwrap(),
        status: AlertStatus::Firing,
        severity: Severity::Critical,
        summary: "disk full".into(),
        source: None,
        labels: BTreeMap::new(),
        annotations: BTreeMap::new(),
        links: Vec::new(),
        received_at: now,
        started_at: None,
        ended_at: None,
        group_hint: None,
        raw: json!({}),
    };
    let (incident, drafts) = Incident::open(
        IncidentId::new("inc1").unwrap(),
        1,
        GroupKey("g".into()),
        AlertId::new("a1").unwrap(),
        &alert,
        now,
    )
    .unwrap();
    assert!(!drafts.is_empty());
    // The incident's update passes; the first timeline put fails validation.
    let mut codes = vec!["None", "ValidationError"];
    codes.resize(drafts.len() + 1, "None");
    let (store, _stub) = StubDynamo::start(usize::MAX, transaction_cancelled(&codes)).await;
    let repo = Repository::new(
        store,
        Arc::new(ManualClock::new(now)),
        EventSource::klaxon("test").unwrap(),
    );
    match repo.save_incident(&incident, 1, &drafts).await {
        Err(RepoError::Store(StoreError::TransactionCancelled { reasons })) => {
            assert!(
                matches!(&reasons[1], CancelReason::Other(code) if code == "ValidationError"),
                "{reasons:?}"
            );
        }
        other => panic!("expected the cancellation itself, got {other:?}"),
    }
}
