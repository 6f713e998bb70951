//! The SQS adapter of the [`Queue`] port.
//!
//! Each [`QueueName`] maps to a queue URL. A URL ending in `.fifo` is a FIFO queue: the message's
//! [`QueueMessage::group_id`] becomes the `MessageGroupId` and its [`QueueMessage::dedup_id`] the
//! `MessageDeduplicationId` (the queues are created with content-based deduplication off, so a
//! FIFO message without both is refused here, before SQS would refuse it). Standard queues get
//! neither. Throttling, 5xx and network failures are retried with backoff; anything else fails
//! at once with a [`QueueError`] naming the queue.

use crate::retry::RetryPolicy;
use crate::retry::{default_policy, with_retries};
use aws_sdk_sqs::Client;
use klaxon_app::messages::{QueueMessage, QueueName};
use klaxon_app::ports::{Queue, QueueError};
use std::collections::HashMap;
use std::time::Duration;

/// The longest delay SQS allows on one message (15 minutes).
pub const MAX_DELAY: Duration = Duration::from_secs(900);

/// The queue port on SQS.
#[derive(Clone)]
pub struct SqsQueue {
    client: Client,
    urls: HashMap<QueueName, String>,
    retry: RetryPolicy,
}

impl std::fmt::Debug for SqsQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqsQueue")
            .field("urls", &self.urls)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl SqsQueue {
    /// A queue adapter with no queue URLs yet: add the queues this function writes to with
    /// [`SqsQueue::with_queue`]. Sending to a queue without a URL is a [`QueueError`].
    pub fn new(client: Client) -> Self {
        Self {
            client,
            urls: HashMap::new(),
            retry: default_policy(),
        }
    }

    /// Sets the URL of one queue.
    pub fn with_queue(mut self, queue: QueueName, url: impl Into<String>) -> Self {
        self.urls.insert(queue, url.into());
        self
    }

    /// Replaces the retry policy for throttling and transient failures.
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The URL configured for `queue`.
    pub fn url(&self, queue: QueueName) -> Option<&str> {
        self.urls.get(&queue).map(String::as_str)
    }

    /// The SDK client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Sends `message` to its queue, delivered no earlier than `delay` from now (at most
    /// [`MAX_DELAY`]; FIFO queues do not support per-message delays, so a delay there is an
    /// error).
    pub async fn send_delayed(
        &self,
        message: &QueueMessage,
        delay: Duration,
    ) -> Result<(), QueueError> {
        let queue = message.queue();
        let error = |message: String| QueueError {
            queue: queue.as_str(),
            message,
        };
        let url = self.url(queue).ok_or_else(|| {
            error(format!(
                "no queue URL configured (set {})",
                queue_url_variable(queue)
            ))
        })?;
        if delay > MAX_DELAY {
            return Err(error(format!(
                "delay {}s exceeds the SQS maximum of {}s",
                delay.as_secs(),
                MAX_DELAY.as_secs()
            )));
        }
        // At most 900, so the conversion cannot fail.
        let delay_seconds = i32::try_from(delay.as_secs()).unwrap_or(0);
        let fifo = url.ends_with(".fifo");
        let (group_id, dedup_id) = if fifo {
            if delay_seconds > 0 {
                return Err(error("a FIFO queue takes no per-message delay".to_owned()));
            }
            match (message.group_id(), message.dedup_id()) {
                (Some(group), Some(dedup)) => (Some(group), Some(dedup)),
                _ => {
                    return Err(error(format!(
                        "a {} message has no FIFO group and deduplication id",
                        message_kind(message)
                    )));
                }
            }
        } else {
            (None, None)
        };
        let body = message.to_json();
        with_retries(&self.retry, || {
            self.client
                .send_message()
                .queue_url(url)
                .message_body(&body)
                .set_message_group_id(group_id.clone())
                .set_message_deduplication_id(dedup_id.clone())
                .set_delay_seconds((delay_seconds > 0).then_some(delay_seconds))
                .send()
        })
        .await
        .map(|_| ())
        .map_err(|failure| error(failure.describe()))
    }
}

impl Queue for SqsQueue {
    async fn send(&self, message: &QueueMessage) -> Result<(), QueueError> {
        self.send_delayed(message, Duration::ZERO).await
    }
}

/// The environment variable that holds a queue's URL in the Lambda functions.
pub fn queue_url_variable(queue: QueueName) -> &'static str {
    match queue {
        QueueName::Alerts => "ALERTS_QUEUE_URL",
        QueueName::Incidents => "INCIDENTS_QUEUE_URL",
        QueueName::Timers => "TIMERS_QUEUE_URL",
        QueueName::Notifications => "NOTIFICATIONS_QUEUE_URL",
    }
}

/// The message's `kind`, for error messages.
pub(crate) fn message_kind(message: &QueueMessage) -> &'static str {
    match message {
        QueueMessage::Alert(_) => "alert",
        QueueMessage::Incident(_) => "incident",
        QueueMessage::Timer(_) => "timer",
        QueueMessage::HeartbeatTimer(_) => "heartbeat_timer",
        QueueMessage::Sweep { .. } => "sweep",
        QueueMessage::Page(_) => "page",
        QueueMessage::Notice(_) => "notice",
    }
}
