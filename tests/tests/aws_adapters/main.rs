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

mod dead_letters;
mod dynamo_throttling;
mod lambda_batch;
mod scheduler;
mod senders;
mod sqs;
mod template;
