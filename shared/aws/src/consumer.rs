//! How the queue consumers (grouping, routing, notify) treat a message they cannot handle.
//!
//! Every failure fails the SQS record; nothing is acknowledged that was not handled:
//!
//! - a message of a kind the function does not consume (it was sent to the wrong queue),
//! - a transient use-case error (throttling, a lost optimistic lock, a dependency down): retried
//!   after the queue's visibility timeout,
//! - a permanent use-case error (no configuration applied, a stored configuration that no longer
//!   validates, an invalid identifier): logged at error level and failed as well, so that after
//!   the queue's `maxReceiveCount` receives the message moves to the dead-letter queue, whose
//!   alarm tells the operator. Once the cause is fixed (for example a configuration applied),
//!   redriving the dead-letter queue finishes the work. Dropping such a message instead would
//!   lose an alert, a page or an escalation step without a trace.

use crate::lambda::MessageMeta;
use crate::sqs::message_kind;
use klaxon_app::messages::QueueMessage;
use klaxon_app::usecases::UseCaseError;

/// Why a queue consumer failed one message.
#[derive(Debug, thiserror::Error)]
pub enum MessageFailure {
    /// The message belongs to another consumer.
    #[error("the {consumer} function does not handle `{kind}` messages (sent to the wrong queue?)")]
    WrongKind {
        /// The function that received it.
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
    pub fn wrong_kind(consumer: &'static str, message: &QueueMessage, meta: &MessageMeta) -> Self {
        let failure = MessageFailure::WrongKind {
            consumer,
            kind: message_kind(message),
        };
        tracing::error!(
            message_id = %meta.message_id,
            receive_count = meta.receive_count,
            error = %failure,
            "message refused: it will reach the dead-letter queue"
        );
        failure
    }

    /// Classifies a use-case error; permanent ones are logged at error level.
    pub fn from_use_case(error: UseCaseError, meta: &MessageMeta) -> Self {
        if error.is_transient() {
            MessageFailure::Transient(error)
        } else {
            tracing::error!(
                message_id = %meta.message_id,
                receive_count = meta.receive_count,
                %error,
                "permanent failure: the message is failed, not dropped; it reaches the \
                 dead-letter queue after the queue's maxReceiveCount receives"
            );
            MessageFailure::Permanent(error)
        }
    }

    /// Whether this failure may heal by itself on a retry.
    pub fn is_transient(&self) -> bool {
        matches!(self, MessageFailure::Transient(_))
    }
}

/// Runs a consumer's use case on one message: refuses a message of a kind the consumer does not
/// take (`accepted` false), logs the outcome of a handled one, and classifies a failure.
pub async fn consume<T, F, Fut>(
    consumer: &'static str,
    accepted: bool,
    message: QueueMessage,
    meta: &MessageMeta,
    handle: F,
) -> Result<T, MessageFailure>
where
    T: std::fmt::Debug,
    F: FnOnce(QueueMessage) -> Fut,
    Fut: std::future::Future<Output = Result<T, UseCaseError>>,
{
    if !accepted {
        return Err(MessageFailure::wrong_kind(consumer, &message, meta));
    }
    let kind = kind_of(&message);
    match handle(message).await {
        Ok(outcome) => {
            tracing::info!(
                consumer,
                message_id = %meta.message_id,
                receive_count = meta.receive_count,
                kind,
                ?outcome,
                "message handled"
            );
            Ok(outcome)
        }
        Err(error) => Err(MessageFailure::from_use_case(error, meta)),
    }
}

/// The `kind` tag of a message (`alert`, `incident`, `timer`, `sweep`, `page`, `notice`).
pub fn kind_of(message: &QueueMessage) -> &'static str {
    message_kind(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use klaxon_app::ports::QueueError;

    fn meta() -> MessageMeta {
        MessageMeta {
            message_id: "m-1".into(),
            receive_count: 1,
            group_id: None,
        }
    }

    #[test]
    fn queue_failures_are_transient_and_missing_configuration_is_permanent() {
        let queue = UseCaseError::Queue(QueueError {
            queue: "incidents",
            message: "throttled".into(),
        });
        assert!(MessageFailure::from_use_case(queue, &meta()).is_transient());
        let failure = MessageFailure::from_use_case(UseCaseError::NoConfig, &meta());
        assert!(!failure.is_transient());
        assert!(
            failure.to_string().contains("dead-letter queue"),
            "{failure}"
        );
    }

    #[test]
    fn a_wrong_kind_names_the_consumer_and_the_kind() {
        let failure =
            MessageFailure::wrong_kind("grouping", &QueueMessage::Sweep { at: None }, &meta());
        assert_eq!(
            failure.to_string(),
            "the grouping function does not handle `sweep` messages (sent to the wrong queue?)"
        );
        assert!(!failure.is_transient());
    }
}
