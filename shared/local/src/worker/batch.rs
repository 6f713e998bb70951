//! A consumer that hands a whole received batch to its handler at once (grouping links a
//! batch of one group's alerts in a few transactions) and settles it with one commit for the
//! acknowledgements.

use super::{ConsumerOptions, HandlerFailure, next_batch, settle};
use crate::queue::{MessageId, SqliteQueue};
use klaxon_app::consumer::Delivery;
use klaxon_app::messages::{QueueMessage, QueueName};
use std::future::Future;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// What a batch handler did with one message of the batch.
#[derive(Debug)]
pub enum BatchOutcome<E> {
    /// Handled: acknowledged.
    Done,
    /// Failed: given back after the backoff (dead-lettered after its last attempt).
    Failed(E),
    /// Not attempted (an earlier message of its FIFO group failed): given back untouched.
    NotAttempted,
}

/// Starts a task that consumes `queue_name` in batches of up to [`ConsumerOptions::batch`]
/// with `handler` until `shutdown` is cancelled. The handler gets the batch in queue order
/// (several messages of one FIFO group come in their order) and returns one outcome per
/// message; a missing outcome counts as not attempted. Handled messages are acknowledged in
/// one transaction. A panicking handler fails every message of the batch.
pub fn spawn_batch_consumer<H, F, E>(
    queue: SqliteQueue,
    queue_name: QueueName,
    options: ConsumerOptions,
    handler: H,
    shutdown: CancellationToken,
) -> JoinHandle<()>
where
    H: Fn(Vec<(QueueMessage, Delivery)>) -> F + Send + Sync + 'static,
    F: Future<Output = Vec<BatchOutcome<E>>> + Send + 'static,
    E: HandlerFailure,
{
    tokio::spawn(async move {
        let mut sent = queue.subscribe(queue_name);
        let name = queue_name.as_str();
        while !shutdown.is_cancelled() {
            let Some(batch) = next_batch(&queue, queue_name, &options, &mut sent, &shutdown).await
            else {
                continue;
            };
            let settled: Vec<(MessageId, u32)> = batch.iter().map(|r| (r.id, r.attempts)).collect();
            let input = batch
                .into_iter()
                .map(|received| {
                    let delivery = Delivery {
                        message_id: received.id.to_string(),
                        receive_count: received.attempts,
                    };
                    (received.message, delivery)
                })
                .collect();
            let outcomes = match tokio::spawn(handler(input)).await {
                Ok(outcomes) => outcomes,
                Err(join) => {
                    let reason = format!("handler panicked: {join}");
                    for &(id, attempts) in &settled {
                        let retried = queue.retry(id, options.backoff(attempts), &reason).await;
                        settle(retried, name, id, "retry");
                    }
                    continue;
                }
            };
            let mut outcomes = outcomes.into_iter();
            let mut acked = Vec::new();
            for &(id, attempts) in &settled {
                match outcomes.next().unwrap_or(BatchOutcome::NotAttempted) {
                    BatchOutcome::Done => acked.push(id),
                    BatchOutcome::Failed(error) => {
                        let reason = error.to_string();
                        let transient = error.is_transient();
                        tracing::warn!(queue = name, message = %id, attempts, transient, error = %reason, "handler failed");
                        let retried = queue.retry(id, options.backoff(attempts), &reason).await;
                        settle(retried, name, id, "retry");
                    }
                    BatchOutcome::NotAttempted => {
                        settle(queue.release(id).await, name, id, "release");
                    }
                }
            }
            if let Err(error) = queue.ack_many(&acked).await {
                tracing::error!(queue = name, count = acked.len(), %error, "ack failed");
            }
        }
    })
}
