//! The SQS adapter of the [`DeadLetters`] port: template.yaml's dead-letter queues (one per
//! pipeline queue, the alerts one FIFO) and the scheduler's dead-letter queue.
//!
//! - **Listing** does not consume: it receives with a short visibility timeout
//!   ([`LOOK_VISIBILITY`]) and every system and message attribute, then makes what it received
//!   visible again at once (`ChangeMessageVisibility` 0). Each look counts as a receive in
//!   `ApproximateReceiveCount`. A FIFO queue hands out a message group's next message only
//!   when the group has none in flight, so listing shows the messages of a group that one
//!   receive returns.
//! - **Redriving one** receives until it meets the message id (the others are made visible
//!   again), sends the body to the source queue (a FIFO source gets the message's
//!   `MessageGroupId` and the deduplication id `redrive-{message id}`, so a redrive retried
//!   within SQS's five-minute window is not a second message), then deletes it from the
//!   dead-letter queue. On a standard queue a retry after a send whose delete failed sends it
//!   twice; every consumer is idempotent (invariant 3), so the second delivery changes nothing.
//! - **Redriving all** does the same per message, up to a limit per call. Not
//!   `StartMessageMoveTask`: moto (what the tests run against) does not implement it, and a
//!   move task would not keep the FIFO group of each alert.
//!
//! A scheduler dead letter's body is the timer's input (a timers-queue message) and its
//! message attributes say why it failed (`ERROR_CODE`, `ERROR_MESSAGE`); it goes back to the
//! timers queue, where routing treats a stale timer as a no-op.

use crate::retry::{RetryPolicy, default_policy, with_retries};
use crate::sqs::{SqsQueue, queue_url_variable};
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, Message, MessageSystemAttributeName,
    QueueAttributeName,
};
use chrono::{DateTime, Utc};
use klaxon_app::dead_letters::{
    DeadLetter, DeadLetterFuture, DeadLetterListing, DeadLetterQueue, DeadLetters,
};
use klaxon_app::ports::QueueError;
use std::collections::BTreeMap;

/// How long a listed message stays invisible if making it visible again fails (seconds).
pub const LOOK_VISIBILITY: i32 = 20;

/// How many receives of ten a redrive makes looking for its message.
pub const MAX_SCAN_RECEIVES: usize = 20;

/// The dead-letters port on SQS.
#[derive(Clone)]
pub struct SqsDeadLetters {
    client: Client,
    dead_letter_urls: BTreeMap<DeadLetterQueue, String>,
    sources: SqsQueue,
    retry: RetryPolicy,
}

impl std::fmt::Debug for SqsDeadLetters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqsDeadLetters")
            .field("dead_letter_urls", &self.dead_letter_urls)
            .field("sources", &self.sources)
            .finish_non_exhaustive()
    }
}

/// The environment variable that holds a dead-letter queue's URL in the api function.
pub fn dead_letter_url_variable(queue: DeadLetterQueue) -> &'static str {
    match queue {
        DeadLetterQueue::Alerts => "ALERTS_DEAD_LETTER_QUEUE_URL",
        DeadLetterQueue::Incidents => "INCIDENTS_DEAD_LETTER_QUEUE_URL",
        DeadLetterQueue::Timers => "TIMERS_DEAD_LETTER_QUEUE_URL",
        DeadLetterQueue::Notifications => "NOTIFICATIONS_DEAD_LETTER_QUEUE_URL",
        DeadLetterQueue::Scheduler => "SCHEDULER_DEAD_LETTER_QUEUE_URL",
    }
}

impl SqsDeadLetters {
    /// No dead-letter queue yet (add them with [`SqsDeadLetters::with_queue`]); redriven
    /// messages go to the queues `sources` knows.
    pub fn new(client: Client, sources: SqsQueue) -> Self {
        Self {
            client,
            dead_letter_urls: BTreeMap::new(),
            sources,
            retry: default_policy(),
        }
    }

    /// Sets the URL of one dead-letter queue.
    pub fn with_queue(mut self, queue: DeadLetterQueue, url: impl Into<String>) -> Self {
        self.dead_letter_urls.insert(queue, url.into());
        self
    }

    fn url(&self, queue: DeadLetterQueue) -> Result<&str, QueueError> {
        self.dead_letter_urls
            .get(&queue)
            .map(String::as_str)
            .ok_or_else(|| {
                failed(
                    queue,
                    format!(
                        "no dead-letter queue URL configured (set {})",
                        dead_letter_url_variable(queue)
                    ),
                )
            })
    }

    async fn count(&self, queue: DeadLetterQueue, url: &str) -> Result<u64, QueueError> {
        let answer = with_retries(&self.retry, || {
            self.client
                .get_queue_attributes()
                .queue_url(url)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
                .send()
        })
        .await
        .map_err(|failure| failed(queue, failure.describe()))?;
        let attributes = answer.attributes.unwrap_or_default();
        let number = |name: QueueAttributeName| -> u64 {
            (attributes.get(&name))
                .and_then(|value| value.parse().ok())
                .unwrap_or(0)
        };
        Ok(number(QueueAttributeName::ApproximateNumberOfMessages)
            + number(QueueAttributeName::ApproximateNumberOfMessagesNotVisible))
    }

    /// One receive of up to ten messages, held for [`LOOK_VISIBILITY`].
    async fn receive(&self, queue: DeadLetterQueue, url: &str) -> Result<Vec<Message>, QueueError> {
        let answer = with_retries(&self.retry, || {
            self.client
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .wait_time_seconds(0)
                .visibility_timeout(LOOK_VISIBILITY)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .message_attribute_names("All")
                .send()
        })
        .await
        .map_err(|failure| failed(queue, failure.describe()))?;
        Ok(answer.messages.unwrap_or_default())
    }

    /// Makes `messages` visible again. A failure is logged, not returned: they become visible
    /// by themselves after [`LOOK_VISIBILITY`].
    async fn release(&self, queue: DeadLetterQueue, url: &str, messages: &[Message]) {
        for chunk in messages.chunks(10) {
            let entries: Vec<_> = (chunk.iter().enumerate())
                .filter_map(|(index, message)| {
                    ChangeMessageVisibilityBatchRequestEntry::builder()
                        .id(index.to_string())
                        .set_receipt_handle(message.receipt_handle.clone())
                        .visibility_timeout(0)
                        .build()
                        .ok()
                })
                .collect();
            let answer = self
                .client
                .change_message_visibility_batch()
                .queue_url(url)
                .set_entries(Some(entries))
                .send()
                .await;
            if let Err(error) = answer {
                let error = aws_sdk_sqs::error::DisplayErrorContext(&error);
                tracing::warn!(queue = queue.as_str(), %error, "could not release listed dead letters");
            }
        }
    }

    /// Sends `message` back to `queue`'s source queue.
    async fn send_back(&self, queue: DeadLetterQueue, message: &Message) -> Result<(), QueueError> {
        let source = queue.source();
        let url = self.sources.url(source).ok_or_else(|| {
            failed(
                queue,
                format!(
                    "no URL of the {} queue configured (set {})",
                    source.as_str(),
                    queue_url_variable(source)
                ),
            )
        })?;
        let id = message.message_id.clone().unwrap_or_default();
        let (group, dedup) = if url.ends_with(".fifo") {
            let group = system_attribute(message, MessageSystemAttributeName::MessageGroupId)
                .unwrap_or_else(|| "redrive".to_owned());
            (Some(group), Some(format!("redrive-{id}")))
        } else {
            (None, None)
        };
        let body = message.body.clone().unwrap_or_default();
        with_retries(&self.retry, || {
            self.client
                .send_message()
                .queue_url(url)
                .message_body(&body)
                .set_message_group_id(group.clone())
                .set_message_deduplication_id(dedup.clone())
                .send()
        })
        .await
        .map(|_| ())
        .map_err(|failure| {
            failed(
                queue,
                format!("redrive to {}: {}", source.as_str(), failure.describe()),
            )
        })
    }

    async fn delete(
        &self,
        queue: DeadLetterQueue,
        url: &str,
        message: &Message,
    ) -> Result<(), QueueError> {
        let receipt = message.receipt_handle.clone().unwrap_or_default();
        with_retries(&self.retry, || {
            self.client
                .delete_message()
                .queue_url(url)
                .receipt_handle(&receipt)
                .send()
        })
        .await
        .map(|_| ())
        .map_err(|failure| failed(queue, failure.describe()))
    }

    /// Sends `message` back and deletes it; on a failed send it is made visible again.
    async fn move_back(
        &self,
        queue: DeadLetterQueue,
        url: &str,
        message: &Message,
    ) -> Result<(), QueueError> {
        if let Err(error) = self.send_back(queue, message).await {
            self.release(queue, url, std::slice::from_ref(message))
                .await;
            return Err(error);
        }
        self.delete(queue, url, message).await
    }

    async fn list_queue(
        &self,
        queue: DeadLetterQueue,
        limit: usize,
    ) -> Result<DeadLetterListing, QueueError> {
        let url = self.url(queue)?;
        let count = self.count(queue, url).await?;
        let mut held = Vec::new();
        while held.len() < limit {
            let received = self.receive(queue, url).await?;
            if received.is_empty() {
                break;
            }
            held.extend(received);
        }
        self.release(queue, url, &held).await;
        let letters = (held.iter().take(limit))
            .map(|message| dead_letter(queue, message))
            .collect();
        Ok(DeadLetterListing {
            queue,
            count,
            letters,
        })
    }

    async fn redrive_one(&self, queue: DeadLetterQueue, id: &str) -> Result<bool, QueueError> {
        let url = self.url(queue)?;
        let mut held = Vec::new();
        let mut found = None;
        for _ in 0..MAX_SCAN_RECEIVES {
            let received = self.receive(queue, url).await?;
            if received.is_empty() {
                break;
            }
            for message in received {
                if found.is_none() && message.message_id.as_deref() == Some(id) {
                    found = Some(message);
                } else {
                    held.push(message);
                }
            }
            if found.is_some() {
                break;
            }
        }
        self.release(queue, url, &held).await;
        let Some(message) = found else {
            return Ok(false);
        };
        self.move_back(queue, url, &message).await?;
        tracing::info!(queue = queue.as_str(), id, "dead letter redriven");
        Ok(true)
    }

    async fn redrive_every(&self, queue: DeadLetterQueue, limit: usize) -> Result<u64, QueueError> {
        let url = self.url(queue)?;
        let mut redriven = 0u64;
        while (redriven as usize) < limit {
            let received = self.receive(queue, url).await?;
            if received.is_empty() {
                break;
            }
            let room = limit - redriven as usize;
            let (now, later) = received.split_at(received.len().min(room));
            self.release(queue, url, later).await;
            for (index, message) in now.iter().enumerate() {
                if let Err(error) = self.move_back(queue, url, message).await {
                    self.release(queue, url, &now[index + 1..]).await;
                    return Err(error);
                }
                redriven += 1;
            }
        }
        Ok(redriven)
    }
}

fn failed(queue: DeadLetterQueue, message: String) -> QueueError {
    QueueError {
        queue: queue.as_str(),
        message: format!("dead-letter queue: {message}"),
    }
}

fn system_attribute(message: &Message, name: MessageSystemAttributeName) -> Option<String> {
    message.attributes.as_ref()?.get(&name).cloned()
}

fn dead_letter(queue: DeadLetterQueue, message: &Message) -> DeadLetter {
    let receives = system_attribute(message, MessageSystemAttributeName::ApproximateReceiveCount)
        .and_then(|count| count.parse().ok());
    let sent_at = system_attribute(message, MessageSystemAttributeName::SentTimestamp)
        .and_then(|millis| millis.parse::<i64>().ok())
        .and_then(DateTime::<Utc>::from_timestamp_millis);
    // EventBridge Scheduler says why it gave up in message attributes.
    let attribute = |name: &str| {
        let value = message.message_attributes.as_ref()?.get(name)?;
        value.string_value.clone()
    };
    let last_error = match (attribute("ERROR_CODE"), attribute("ERROR_MESSAGE")) {
        (Some(code), Some(text)) => Some(format!("{code}: {text}")),
        (code, text) => text.or(code),
    };
    DeadLetter {
        queue,
        id: message.message_id.clone().unwrap_or_default(),
        receives,
        sent_at,
        dead_at: None,
        last_error,
        body: message.body.clone().unwrap_or_default(),
    }
}

impl DeadLetters for SqsDeadLetters {
    fn queues(&self) -> Vec<DeadLetterQueue> {
        self.dead_letter_urls.keys().copied().collect()
    }

    fn list(
        &self,
        queue: DeadLetterQueue,
        limit: usize,
    ) -> DeadLetterFuture<'_, DeadLetterListing> {
        Box::pin(self.list_queue(queue, limit))
    }

    fn redrive<'a>(&'a self, queue: DeadLetterQueue, id: &'a str) -> DeadLetterFuture<'a, bool> {
        Box::pin(self.redrive_one(queue, id))
    }

    fn redrive_all(&self, queue: DeadLetterQueue, limit: usize) -> DeadLetterFuture<'_, u64> {
        Box::pin(self.redrive_every(queue, limit))
    }
}
