//! The workers of `klaxon serve` (phase 8 of [`LocalRuntime::start`](super::LocalRuntime::start)):
//! the timer pump, one consumer per queue — the local half of the consumer table of
//! [`klaxon_app::consumer`], whose cloud half is one Lambda function per [`Consumer`] — and
//! the sweeper.

use super::options::Tuning;
use super::startup::{Adapters, Grouping, Services};
use crate::queue::SqliteQueue;
use crate::store::SqliteStore;
use crate::worker::{
    BatchOutcome, ConsumerOptions, spawn_batch_consumer, spawn_consumer, spawn_timer_pump,
};
use klaxon_app::consumer::{Consumer, Delivery, MessageConsumer, MessageFailure, consume};
use klaxon_app::messages::{QueueMessage, QueueName};
use klaxon_app::ports::{Clock, Queue};
use klaxon_app::usecases::grouping::BatchItem;
use klaxon_store::repo::LINKS_PER_TRANSACTION;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Spawns the timer pump, a consumer for every queue and the sweeper; they run until `stop`
/// is cancelled.
pub(super) fn spawn_workers(
    adapters: &Adapters,
    services: &Services,
    tuning: &Tuning,
    clock: &Arc<dyn Clock>,
    stop: &CancellationToken,
) -> Vec<JoinHandle<()>> {
    let mut workers = vec![spawn_timer_pump(
        adapters.timers.clone(),
        tuning.pump,
        stop.clone(),
    )];
    for (consumer, queue_name) in consumed_queues() {
        workers.push(spawn_queue_consumer(
            consumer,
            queue_name,
            adapters,
            services,
            tuning.consumer,
            stop,
        ));
    }
    workers.push(spawn_sweeper(
        adapters.queue.clone(),
        adapters.store.clone(),
        clock.clone(),
        tuning.sweep_interval,
        stop.clone(),
    ));
    workers
}

/// Every queue with its consumer, in pipeline order (alerts, incidents, timers, notifications).
pub(super) fn consumed_queues() -> Vec<(Consumer, QueueName)> {
    Consumer::ALL
        .into_iter()
        .flat_map(|consumer| {
            consumer
                .queues()
                .iter()
                .map(move |&queue| (consumer, queue))
        })
        .collect()
}

/// Runs `consumer`'s use case on `queue_name`. Exhaustive: a new [`Consumer`] does not compile
/// until local mode runs it too.
fn spawn_queue_consumer(
    consumer: Consumer,
    queue_name: QueueName,
    adapters: &Adapters,
    services: &Services,
    options: ConsumerOptions,
    stop: &CancellationToken,
) -> JoinHandle<()> {
    let queue = adapters.queue.clone();
    let stop = stop.clone();
    match consumer {
        Consumer::Grouping => spawn_grouping(
            queue,
            queue_name,
            Arc::clone(&services.grouping),
            ConsumerOptions {
                batch: GROUPING_BATCH,
                ..options
            },
            stop,
        ),
        Consumer::Routing => spawn_use_case(
            queue,
            queue_name,
            Arc::clone(&services.routing),
            options,
            stop,
        ),
        Consumer::Notify => spawn_use_case(
            queue,
            queue_name,
            Arc::clone(&services.notify),
            options,
            stop,
        ),
    }
}

/// A consumer of `queue_name` that hands each message to `use_case` through the shared
/// [`consume`]: a message of another kind is refused, and a failure keeps its transient or
/// permanent classification (a permanent one is logged at error level as bound for the dead
/// letters; both are retried with backoff until the queue's last attempt dead-letters them,
/// as SQS does with `maxReceiveCount`).
fn spawn_use_case<C: MessageConsumer + 'static>(
    queue: SqliteQueue,
    queue_name: QueueName,
    use_case: Arc<C>,
    options: ConsumerOptions,
    stop: CancellationToken,
) -> JoinHandle<()> {
    spawn_consumer(
        queue,
        queue_name,
        options,
        move |message, delivery| {
            let use_case = Arc::clone(&use_case);
            async move {
                consume(use_case.as_ref(), message, &delivery)
                    .await
                    .map(|_| ())
            }
        },
        stop,
    )
}

/// How many alert messages the grouping consumer receives at once: four batch transactions
/// ([`LINKS_PER_TRANSACTION`] alerts each) when they all join one incident.
pub(super) const GROUPING_BATCH: usize = 4 * LINKS_PER_TRANSACTION;

/// The grouping consumer: receives up to [`GROUPING_BATCH`] alert messages and hands them to
/// [`Grouping::handle_batch`] at once (a message of another kind is refused, as [`consume`]
/// refuses it).
fn spawn_grouping(
    queue: SqliteQueue,
    queue_name: QueueName,
    grouping: Arc<Grouping>,
    options: ConsumerOptions,
    stop: CancellationToken,
) -> JoinHandle<()> {
    spawn_batch_consumer(
        queue,
        queue_name,
        options,
        move |batch: Vec<(QueueMessage, Delivery)>| {
            let grouping = Arc::clone(&grouping);
            async move { group_batch(grouping.as_ref(), batch).await }
        },
        stop,
    )
}

/// Runs one received batch through grouping: one outcome per message, in order.
async fn group_batch(
    grouping: &Grouping,
    batch: Vec<(QueueMessage, Delivery)>,
) -> Vec<BatchOutcome<MessageFailure>> {
    let mut outcomes: Vec<Option<BatchOutcome<MessageFailure>>> = Vec::new();
    let mut alerts = Vec::new();
    let mut deliveries = Vec::new();
    for (message, delivery) in batch {
        match message {
            QueueMessage::Alert(alert) => {
                outcomes.push(None);
                alerts.push(alert);
                deliveries.push((outcomes.len() - 1, delivery));
            }
            other => outcomes.push(Some(BatchOutcome::Failed(MessageFailure::wrong_kind(
                Consumer::Grouping.name(),
                &other,
                &delivery,
            )))),
        }
    }
    let items = grouping.handle_batch(&alerts).await;
    let handled = items
        .iter()
        .filter(|i| matches!(i, BatchItem::Handled(_)))
        .count();
    tracing::info!(
        consumer = "grouping",
        received = alerts.len(),
        handled,
        "batch handled"
    );
    for (item, (position, delivery)) in items.into_iter().zip(deliveries) {
        outcomes[position] = Some(match item {
            BatchItem::Handled(_) => BatchOutcome::Done,
            BatchItem::Failed(error) => {
                BatchOutcome::Failed(MessageFailure::from_use_case(error, &delivery))
            }
            BatchItem::NotAttempted => BatchOutcome::NotAttempted,
        });
    }
    outcomes
        .into_iter()
        .map(|o| o.unwrap_or(BatchOutcome::NotAttempted))
        .collect()
}

/// Sends a sweep to routing at once and then every `interval`, and purges expired items.
fn spawn_sweeper(
    queue: SqliteQueue,
    store: SqliteStore,
    clock: Arc<dyn Clock>,
    interval: Duration,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval.max(Duration::from_millis(10)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = ticks.tick() => {}
            }
            let sweep = QueueMessage::Sweep {
                at: Some(clock.now()),
            };
            if let Err(error) = queue.send(&sweep).await {
                tracing::error!(%error, "queueing the sweep failed");
            }
            match store.purge_expired().await {
                Ok(0) => {}
                Ok(purged) => tracing::debug!(purged, "purged expired items"),
                Err(error) => tracing::warn!(%error, "purging expired items failed"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use klaxon_app::consumer::consumer_of;

    #[test]
    fn every_queue_is_consumed_once_by_its_consumer() {
        let consumed = consumed_queues();
        assert_eq!(
            consumed.iter().map(|(_, queue)| *queue).collect::<Vec<_>>(),
            QueueName::ALL
        );
        for (consumer, queue) in consumed {
            assert_eq!(consumer, consumer_of(queue), "{}", queue.as_str());
        }
    }
}
