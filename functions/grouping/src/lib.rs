//! The grouping Lambda function: consumes `alerts.fifo` and turns alert messages into incidents
//! ([`GroupingService::handle`]).
//!
//! The SQS batch driver ([`process_sqs_group_batches`]) hands each FIFO message group's records
//! to [`GroupingService::handle_batch`] at once and reports exactly the failed records. A record fails when its body is not a Klaxon
//! message, when it is not an `alert` message (it was sent to the wrong queue), and on any
//! use-case error: transient ones are retried, permanent ones are logged at error level and
//! reach the dead-letter queue after the queue's `maxReceiveCount` receives (see
//! [`klaxon_app::consumer`]). Nothing is acknowledged that was not handled.

// At most 80 lines per function (clippy.toml), in every crate under shared/ and functions/.
#![warn(clippy::too_many_lines)]

use klaxon_app::consumer::{Consumer, MessageFailure, consume};
use klaxon_app::messages::QueueMessage;
use klaxon_app::ports::{Queue, Timers};
use klaxon_app::usecases::grouping::{BatchItem, GroupingOutcome, GroupingService};
use klaxon_aws::dynamo::DynamoStore;
use klaxon_aws::lambda::{
    FunctionError, MessageMeta, RetryBackoff, SqsBatchResponse, SqsEvent, process_sqs_group_batches,
};
use klaxon_aws::{FunctionContext, SchedulerTimers, SqsQueue};
use klaxon_store::Store;

/// The timeline source of everything this function records (`/klaxon/grouping`).
pub const COMPONENT: &str = Consumer::Grouping.name();

/// The grouping handler over any store, queue and timers.
pub struct GroupingHandler<S, Q, T> {
    service: GroupingService<S, Q, T>,
}

klaxon_app::opaque_debug!(GroupingHandler<S, Q, T>);

/// The handler as deployed: DynamoDB, SQS and EventBridge Scheduler.
pub type CloudGroupingHandler = GroupingHandler<DynamoStore, SqsQueue, SchedulerTimers>;

impl CloudGroupingHandler {
    /// Builds the deployed handler: the table, the incidents queue (announcements and notices)
    /// and the escalation timers (cancelled when alerts auto-resolve an incident).
    pub fn from_context(context: &FunctionContext) -> Result<Self, FunctionError> {
        Ok(Self::new(GroupingService::new(
            context.core(COMPONENT)?,
            context.queue(),
            context.timers()?,
        )))
    }
}

impl<S: Store, Q: Queue, T: Timers> GroupingHandler<S, Q, T> {
    /// A handler over `service`.
    pub fn new(service: GroupingService<S, Q, T>) -> Self {
        Self { service }
    }

    /// The use case.
    pub fn service(&self) -> &GroupingService<S, Q, T> {
        &self.service
    }

    /// Handles one queue message.
    pub async fn handle_message(
        &self,
        message: QueueMessage,
        meta: MessageMeta,
    ) -> Result<GroupingOutcome, MessageFailure> {
        consume(&self.service, message, &meta.delivery()).await
    }

    /// Handles one SQS event (a batch), reporting the failed records: each FIFO message
    /// group's records go to [`GroupingService::handle_batch`] at once, so a group's new alerts
    /// join its incident in one transaction per
    /// [`LINKS_PER_TRANSACTION`](klaxon_store::repo::LINKS_PER_TRANSACTION) alerts.
    pub async fn handle_batch(&self, event: SqsEvent) -> SqsBatchResponse {
        self.handle_batch_with_backoff(event, None).await
    }

    /// [`GroupingHandler::handle_batch`], deferring failed records' retries with `backoff`.
    pub async fn handle_batch_with_backoff(
        &self,
        event: SqsEvent,
        backoff: Option<&RetryBackoff>,
    ) -> SqsBatchResponse {
        process_sqs_group_batches(event, &|group| self.handle_group(group), backoff).await
    }

    /// One FIFO group's messages, in order: one failure flag each (`true` = failed).
    pub async fn handle_group(&self, group: Vec<(QueueMessage, MessageMeta)>) -> Vec<bool> {
        let mut flags = Vec::with_capacity(group.len());
        let mut alerts = Vec::new();
        let mut metas = Vec::new();
        for (message, meta) in group {
            match message {
                // Only a prefix of alert messages is handled: a message of another kind fails,
                // and so does the rest of its group, which keeps the group in order.
                QueueMessage::Alert(alert) if flags.is_empty() => {
                    alerts.push(alert);
                    metas.push(meta);
                }
                other => {
                    if flags.is_empty() {
                        let _ = MessageFailure::wrong_kind(COMPONENT, &other, &meta.delivery());
                    }
                    flags.push(true);
                }
            }
        }
        let mut outcomes = Vec::with_capacity(alerts.len() + flags.len());
        let items = self.service.handle_batch(&alerts).await;
        for (item, meta) in items.into_iter().zip(&metas) {
            outcomes.push(match item {
                BatchItem::Handled(outcome) => {
                    tracing::info!(consumer = COMPONENT, message_id = %meta.message_id, receive_count = meta.receive_count, ?outcome, "message handled");
                    false
                }
                BatchItem::Failed(error) => {
                    let failure = MessageFailure::from_use_case(error, &meta.delivery());
                    tracing::warn!(message_id = %meta.message_id, error = %failure, "message failed: reported for redelivery");
                    true
                }
                BatchItem::NotAttempted => true,
            });
        }
        outcomes.extend(flags);
        outcomes
    }
}

#[cfg(test)]
mod tests;
