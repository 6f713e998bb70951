//! The grouping Lambda function: consumes `alerts.fifo` and turns alert messages into incidents
//! ([`GroupingService::handle`]).
//!
//! The SQS batch driver ([`process_sqs_batch`]) runs the records of one FIFO message group in
//! order and reports exactly the failed records. A record fails when its body is not a Klaxon
//! message, when it is not an `alert` message (it was sent to the wrong queue), and on any
//! use-case error: transient ones are retried, permanent ones are logged at error level and
//! reach the dead-letter queue after the queue's `maxReceiveCount` receives (see
//! [`klaxon_app::consumer`]). Nothing is acknowledged that was not handled.

// At most 80 lines per function (clippy.toml), in every crate under shared/ and functions/.
#![warn(clippy::too_many_lines)]

use klaxon_app::consumer::{Consumer, MessageFailure, consume};
use klaxon_app::messages::QueueMessage;
use klaxon_app::ports::{Queue, Timers};
use klaxon_app::usecases::grouping::{GroupingOutcome, GroupingService};
use klaxon_aws::dynamo::DynamoStore;
use klaxon_aws::lambda::{
    FunctionError, MessageMeta, SqsBatchResponse, SqsEvent, process_sqs_batch,
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

    /// Handles one SQS event (a batch), reporting the failed records.
    pub async fn handle_batch(&self, event: SqsEvent) -> SqsBatchResponse {
        process_sqs_batch(event, &|message, meta| async move {
            self.handle_message(message, meta).await.map(|_| ())
        })
        .await
    }
}

#[cfg(test)]
mod tests;
