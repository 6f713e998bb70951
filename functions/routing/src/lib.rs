//! The routing Lambda function: consumes the incidents queue (new incidents: route them and start
//! their escalation) and the timers queue (fired escalation timers and the recovery sweep), both
//! through [`RoutingService::handle`].
//!
//! Records fail, and are retried or end in the dead-letter queue, exactly as for grouping: a body
//! that is not a Klaxon message, a message of another kind (`alert`, `page`, `notice`: sent to
//! the wrong queue), and any use-case error (see [`klaxon_app::consumer`]).

// At most 80 lines per function (clippy.toml), in every crate under shared/ and functions/.
#![warn(clippy::too_many_lines)]

use klaxon_app::consumer::{Consumer, MessageFailure, consume};
use klaxon_app::heartbeat::{Heartbeat, HeartbeatError, HeartbeatMethod};
use klaxon_app::messages::QueueMessage;
use klaxon_app::ports::{Queue, Timers};
use klaxon_app::usecases::routing::{RoutingOutcome, RoutingService};
use klaxon_aws::dynamo::DynamoStore;
use klaxon_aws::lambda::{
    FunctionError, MessageMeta, SqsBatchResponse, SqsEvent, process_sqs_batch,
};
use klaxon_aws::{FunctionContext, SchedulerTimers, SqsQueue};
use klaxon_store::Store;

/// The timeline source of everything this function records (`/klaxon/routing`).
pub const COMPONENT: &str = Consumer::Routing.name();

/// The routing handler over any store, queue and timers.
pub struct RoutingHandler<S, Q, T> {
    service: RoutingService<S, Q, T>,
}

klaxon_app::opaque_debug!(RoutingHandler<S, Q, T>);

/// The handler as deployed: DynamoDB, SQS and EventBridge Scheduler.
pub type CloudRoutingHandler = RoutingHandler<DynamoStore, SqsQueue, SchedulerTimers>;

impl CloudRoutingHandler {
    /// Builds the deployed handler: the table, the notifications queue (pages), the timers
    /// queue (the sweep re-queues alerts and incidents too), the escalation timers and, when
    /// `SELF_HEARTBEAT_URL` is set, the self-heartbeat every sweep pings
    /// (`SELF_HEARTBEAT_METHOD`, default `GET`), each ping's outcome written as the
    /// `SelfHeartbeatFailures` metric ([`klaxon_aws::metrics`]).
    pub fn from_context(context: &FunctionContext) -> Result<Self, FunctionError> {
        let service =
            RoutingService::new(context.core(COMPONENT)?, context.queue(), context.timers()?);
        let settings = &context.settings;
        let service = match &settings.self_heartbeat_url {
            Some(url) => {
                let failed =
                    |e: HeartbeatError| FunctionError::Failed(format!("SELF_HEARTBEAT_URL: {e}"));
                let method = settings
                    .self_heartbeat_method
                    .as_deref()
                    .map(str::parse::<HeartbeatMethod>)
                    .transpose()
                    .map_err(failed)?
                    .unwrap_or_default();
                // Every ping's outcome also becomes a metric (SelfHeartbeatFailedAlarm).
                let metric = klaxon_aws::metrics::self_heartbeat_metric_on_stdout(
                    std::sync::Arc::clone(&context.clock),
                );
                service.with_heartbeat(
                    Heartbeat::new(url, method)
                        .map_err(failed)?
                        .with_observer(metric),
                )
            }
            None => service,
        };
        Ok(Self::new(service))
    }
}

impl<S: Store, Q: Queue, T: Timers> RoutingHandler<S, Q, T> {
    /// A handler over `service`.
    pub fn new(service: RoutingService<S, Q, T>) -> Self {
        Self { service }
    }

    /// The use case.
    pub fn service(&self) -> &RoutingService<S, Q, T> {
        &self.service
    }

    /// Handles one queue message: an incident event, a fired timer or a sweep.
    pub async fn handle_message(
        &self,
        message: QueueMessage,
        meta: MessageMeta,
    ) -> Result<RoutingOutcome, MessageFailure> {
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
