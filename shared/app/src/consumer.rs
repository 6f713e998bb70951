//! The queue-consumer table, written once for the Lambda functions and `klaxon serve`: which
//! use case consumes each message kind ([`consumer_for`]) and each queue ([`Consumer::queues`]),
//! and how a consumer treats a message it cannot handle ([`consume`], [`MessageFailure`]).
//!
//! Every failure fails the message; nothing is acknowledged that was not handled:
//!
//! - a message of a kind the consumer does not take (it was sent to the wrong queue),
//! - a transient use-case error (throttling, a lost optimistic lock, a dependency down): retried
//!   later (after SQS's visibility timeout, or the local queue's backoff),
//! - a permanent use-case error (no configuration applied, a stored configuration that no longer
//!   validates, an invalid identifier): logged at error level and failed as well, so that after
//!   the queue's last attempt (SQS's `maxReceiveCount`, the local queue's `max_attempts`) the
//!   message moves to the dead-letter queue, which tells the operator. Once the cause is fixed
//!   (for example a configuration applied), redriving the dead-letter queue finishes the work.
//!   Dropping such a message instead would lose an alert, a page or an escalation step without
//!   a trace.

use crate::messages::{QueueMessage, QueueName};
use crate::ports::{EmailSender, Queue, SmsSender, Timers, WebhookSender};
use crate::usecases::UseCaseError;
use crate::usecases::grouping::{GroupingOutcome, GroupingService};
use crate::usecases::notify::{NotifyOutcome, NotifyService};
use crate::usecases::routing::{RoutingOutcome, RoutingService};
use klaxon_store::Store;
use std::fmt::Debug;
use std::future::Future;

/// The use cases that consume queues; one Lambda function each in the cloud, one worker per
/// queue in `klaxon serve`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Consumer {
    /// Alerts → incidents ([`GroupingService`]).
    Grouping,
    /// Incident events, fired timers and the sweep → escalation ([`RoutingService`]).
    Routing,
    /// Pages and notices → senders ([`NotifyService`]).
    Notify,
}

impl Consumer {
    /// Every consumer.
    pub const ALL: [Consumer; 3] = [Consumer::Grouping, Consumer::Routing, Consumer::Notify];

    /// Its name, which is also its function's and its timeline component's (`grouping`, …).
    pub const fn name(self) -> &'static str {
        match self {
            Consumer::Grouping => "grouping",
            Consumer::Routing => "routing",
            Consumer::Notify => "notify",
        }
    }

    /// The queues it consumes.
    pub fn queues(self) -> &'static [QueueName] {
        match self {
            Consumer::Grouping => &[QueueName::Alerts],
            Consumer::Routing => &[QueueName::Incidents, QueueName::Timers],
            Consumer::Notify => &[QueueName::Notifications],
        }
    }
}

/// The consumer of a message kind. Exhaustive: a new kind does not compile until it has one.
pub fn consumer_for(message: &QueueMessage) -> Consumer {
    match message {
        QueueMessage::Alert(_) => Consumer::Grouping,
        QueueMessage::Incident(_)
        | QueueMessage::Timer(_)
        | QueueMessage::HeartbeatTimer(_)
        | QueueMessage::Sweep { .. } => Consumer::Routing,
        QueueMessage::Page(_) | QueueMessage::Notice(_) => Consumer::Notify,
    }
}

/// The consumer of a queue. Exhaustive, like [`consumer_for`].
pub fn consumer_of(queue: QueueName) -> Consumer {
    match queue {
        QueueName::Alerts => Consumer::Grouping,
        QueueName::Incidents | QueueName::Timers => Consumer::Routing,
        QueueName::Notifications => Consumer::Notify,
    }
}

/// The `kind` tag of a message (`alert`, `incident`, `timer`, `sweep`, `page`, `notice`).
pub fn message_kind(message: &QueueMessage) -> &'static str {
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

/// Which delivery of which message is being handled, for the logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The queue's id of the message (the SQS message id, the local row id).
    pub message_id: String,
    /// How many times it has been delivered, this time included.
    pub receive_count: u32,
}

/// Why a queue consumer failed one message.
#[derive(Debug, thiserror::Error)]
pub enum MessageFailure {
    /// The message belongs to another consumer.
    #[error("the {consumer} function does not handle `{kind}` messages (sent to the wrong queue?)")]
    WrongKind {
        /// The consumer that received it.
        consumer: &'static str,
        /// The message's `kind`.
        kind: &'static str,
    },
    /// Retrying later may succeed.
    #[error("transient failure, retried: {0}")]
    Transient(UseCaseError),
    /// Retrying cannot succeed until someone fixes the cause.
    #[error("permanent failure, bound for the dead-letter queue: {0}")]
    Permanent(UseCaseError),
}

impl MessageFailure {
    /// A message of the wrong kind for `consumer`; logged at error level.
    pub fn wrong_kind(consumer: &'static str, message: &QueueMessage, delivery: &Delivery) -> Self {
        let failure = MessageFailure::WrongKind {
            consumer,
            kind: message_kind(message),
        };
        tracing::error!(
            message_id = %delivery.message_id,
            receive_count = delivery.receive_count,
            error = %failure,
            "message refused: it will reach the dead-letter queue"
        );
        failure
    }

    /// Classifies a use-case error; permanent ones are logged at error level.
    pub fn from_use_case(error: UseCaseError, delivery: &Delivery) -> Self {
        if error.is_transient() {
            MessageFailure::Transient(error)
        } else {
            tracing::error!(
                message_id = %delivery.message_id,
                receive_count = delivery.receive_count,
                %error,
                "permanent failure: the message is failed, not dropped; it reaches the \
                 dead-letter queue after the queue's last attempt"
            );
            MessageFailure::Permanent(error)
        }
    }

    /// Whether this failure may heal by itself on a retry.
    pub fn is_transient(&self) -> bool {
        matches!(self, MessageFailure::Transient(_))
    }
}

/// A use case that consumes queue messages: one implementation per [`Consumer`].
pub trait MessageConsumer: Send + Sync {
    /// Which consumer this is.
    const CONSUMER: Consumer;
    /// What handling one message did (logged).
    type Outcome: Debug + Send;

    /// Handles one message of a kind [`consumer_for`] gives this consumer ([`consume`] refuses
    /// the others before calling this).
    fn handle_message(
        &self,
        message: &QueueMessage,
    ) -> impl Future<Output = Result<Self::Outcome, UseCaseError>> + Send;
}

/// Runs `consumer` on one message: refuses a message of another consumer's kind, logs the
/// outcome of a handled one, and classifies a failure.
pub async fn consume<C: MessageConsumer>(
    consumer: &C,
    message: QueueMessage,
    delivery: &Delivery,
) -> Result<C::Outcome, MessageFailure> {
    let name = C::CONSUMER.name();
    if consumer_for(&message) != C::CONSUMER {
        return Err(MessageFailure::wrong_kind(name, &message, delivery));
    }
    let kind = message_kind(&message);
    match consumer.handle_message(&message).await {
        Ok(outcome) => {
            tracing::info!(
                consumer = name,
                message_id = %delivery.message_id,
                receive_count = delivery.receive_count,
                kind,
                ?outcome,
                "message handled"
            );
            Ok(outcome)
        }
        Err(error) => Err(MessageFailure::from_use_case(error, delivery)),
    }
}

impl<S: Store, Q: Queue, T: Timers> MessageConsumer for GroupingService<S, Q, T> {
    const CONSUMER: Consumer = Consumer::Grouping;
    type Outcome = GroupingOutcome;

    async fn handle_message(
        &self,
        message: &QueueMessage,
    ) -> Result<GroupingOutcome, UseCaseError> {
        match message {
            QueueMessage::Alert(alert) => self.handle(alert).await,
            other => Err(UseCaseError::invalid(
                "kind",
                format!(
                    "grouping does not handle `{}` messages",
                    message_kind(other)
                ),
            )),
        }
    }
}

impl<S: Store, Q: Queue, T: Timers> MessageConsumer for RoutingService<S, Q, T> {
    const CONSUMER: Consumer = Consumer::Routing;
    type Outcome = RoutingOutcome;

    async fn handle_message(&self, message: &QueueMessage) -> Result<RoutingOutcome, UseCaseError> {
        self.handle(message).await
    }
}

impl<S, E, M, W> MessageConsumer for NotifyService<S, E, M, W>
where
    S: Store,
    E: EmailSender,
    M: SmsSender,
    W: WebhookSender,
{
    const CONSUMER: Consumer = Consumer::Notify;
    type Outcome = NotifyOutcome;

    async fn handle_message(&self, message: &QueueMessage) -> Result<NotifyOutcome, UseCaseError> {
        self.handle(message).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::ports::QueueError;
    use std::collections::HashSet;

    fn delivery() -> Delivery {
        Delivery {
            message_id: "m-1".into(),
            receive_count: 1,
        }
    }

    /// Every Klaxon message in the sample SQS batches of `events/sqs/` (every kind occurs
    /// there; the batches also hold bodies that are deliberately not Klaxon messages).
    fn sample_messages() -> Vec<QueueMessage> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/sqs");
        let mut messages = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            let event: serde_json::Value = serde_json::from_str(&text).unwrap();
            for record in event["Records"].as_array().unwrap() {
                let body = record["body"].as_str().unwrap();
                messages.extend(QueueMessage::from_json(body).ok());
            }
        }
        messages
    }

    #[test]
    fn every_message_kind_is_consumed_from_the_queue_it_travels_on() {
        let messages = sample_messages();
        let kinds: HashSet<&str> = messages.iter().map(message_kind).collect();
        assert_eq!(
            kinds,
            HashSet::from(["alert", "incident", "timer", "sweep", "page", "notice"])
        );
        for message in &messages {
            let consumer = consumer_for(message);
            assert!(
                consumer.queues().contains(&message.queue()),
                "{consumer:?} does not consume the {} queue its {} messages travel on",
                message.queue().as_str(),
                message_kind(message)
            );
            assert_eq!(consumer_of(message.queue()), consumer);
        }
    }

    #[test]
    fn every_queue_has_exactly_one_consumer() {
        for queue in QueueName::ALL {
            let consumers: Vec<Consumer> = Consumer::ALL
                .into_iter()
                .filter(|consumer| consumer.queues().contains(&queue))
                .collect();
            assert_eq!(consumers, [consumer_of(queue)], "{}", queue.as_str());
        }
    }

    #[test]
    fn queue_failures_are_transient_and_missing_configuration_is_permanent() {
        let queue = UseCaseError::Queue(QueueError {
            queue: "incidents",
            message: "throttled".into(),
        });
        assert!(MessageFailure::from_use_case(queue, &delivery()).is_transient());
        let failure = MessageFailure::from_use_case(UseCaseError::NoConfig, &delivery());
        assert!(!failure.is_transient());
        assert!(
            failure.to_string().contains("dead-letter queue"),
            "{failure}"
        );
    }

    #[test]
    fn a_wrong_kind_names_the_consumer_and_the_kind() {
        let failure =
            MessageFailure::wrong_kind("grouping", &QueueMessage::Sweep { at: None }, &delivery());
        assert_eq!(
            failure.to_string(),
            "the grouping function does not handle `sweep` messages (sent to the wrong queue?)"
        );
        assert!(!failure.is_transient());
    }
}
