//! The local runtime: consumers that drain the SQLite queues into handlers, and the pump that
//! fires due timers.
//!
//! [`spawn_consumer`] loops receive → handler → ack, and on a handler error gives the message
//! back with exponential backoff ([`ConsumerOptions::backoff`]) until the queue dead-letters it
//! after its last attempt. The handler's error keeps its [`HandlerFailure`] classification:
//! transient and permanent failures are both retried until the last attempt, as SQS retries a
//! failed record until `maxReceiveCount` (a permanent one, such as no configuration applied,
//! heals once someone fixes the cause; otherwise it ends as a dead letter for the operator). With nothing to receive it sleeps until the next leased or delayed
//! message becomes visible, a send wakes it, or [`ConsumerOptions::idle_poll`] passes.
//! [`spawn_timer_pump`] fires due timers, then sleeps until the next one is due (at most
//! [`PumpOptions::max_sleep`], and wakes early when a timer is armed).
//!
//! Shutdown: cancel the [`CancellationToken`] and await the join handles. A handler that is
//! running finishes (its message is acked or retried as usual); received messages it had not
//! started are released untouched.

use crate::queue::{MessageId, Received, SqliteQueue};
use crate::timers::SqliteTimers;
use chrono::{DateTime, Utc};
use klaxon_app::consumer::{Delivery, MessageFailure};
use klaxon_app::messages::{QueueMessage, QueueName};
use klaxon_app::ports::Clock;
use std::fmt::Display;
use std::future::Future;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Tuning of a consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsumerOptions {
    /// Messages received at once. Received messages wait their turn under the same lease, so
    /// keep this small; run several consumers for parallelism (a FIFO queue then still hands
    /// each group to one consumer at a time).
    pub batch: usize,
    /// How long a received message stays invisible to other consumers. Longer than any
    /// handler runs: an SMTP or webhook call times out after 10 s.
    pub visibility: Duration,
    /// The longest an idle consumer sleeps before polling (catches another process's sends).
    pub idle_poll: Duration,
    /// Delay before the second attempt; doubled for each further one.
    pub backoff_base: Duration,
    /// The longest delay between attempts.
    pub backoff_max: Duration,
}

impl Default for ConsumerOptions {
    /// One message at a time, 60 s visibility, 1 s idle poll, backoff 2 s doubling up to 5 min.
    fn default() -> Self {
        Self {
            batch: 1,
            visibility: Duration::from_secs(60),
            idle_poll: Duration::from_secs(1),
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(300),
        }
    }
}

impl ConsumerOptions {
    /// The delay after a failed `attempt` (1-based): `backoff_base × 2^(attempt-1)`, capped at
    /// `backoff_max`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(31);
        self.backoff_base
            .saturating_mul(1u32 << exponent)
            .min(self.backoff_max)
    }
}

/// A handler's failure, as the consumer needs it: its text becomes the message's last error
/// (and the dead letter's reason), and its classification says how it is logged.
pub trait HandlerFailure: Display + Send + 'static {
    /// Whether a retry may heal it by itself (throttling, a lock lost, a dependency down).
    fn is_transient(&self) -> bool;
}

impl HandlerFailure for MessageFailure {
    fn is_transient(&self) -> bool {
        MessageFailure::is_transient(self)
    }
}

/// Why one attempt failed.
struct Failed {
    reason: String,
    transient: bool,
}

/// Starts a task that consumes `queue_name` from `queue` with `handler` until `shutdown` is
/// cancelled. The task ends after the handler call in progress (if any) returns. The handler
/// gets each message with its [`Delivery`] (row id and attempt), for its logs.
pub fn spawn_consumer<H, F, E>(
    queue: SqliteQueue,
    queue_name: QueueName,
    options: ConsumerOptions,
    handler: H,
    shutdown: CancellationToken,
) -> JoinHandle<()>
where
    H: Fn(QueueMessage, Delivery) -> F + Send + Sync + 'static,
    F: Future<Output = Result<(), E>> + Send + 'static,
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
            let mut pending = batch.into_iter();
            // A FIFO group whose message failed in this batch: its later messages go back
            // untouched, so the group stays in order.
            let mut failed_groups: Vec<String> = Vec::new();
            for received in pending.by_ref() {
                let id = received.id;
                if let Some(group) = received.message.group_id()
                    && failed_groups.contains(&group)
                {
                    settle(queue.release(id).await, name, id, "release");
                    continue;
                }
                let group = received.message.group_id();
                let attempts = received.attempts;
                // Each call runs in its own task so a panicking handler fails one attempt
                // instead of killing the consumer (in release builds a panic aborts the
                // process; the durable queue then redelivers after the restart).
                let delivery = Delivery {
                    message_id: id.to_string(),
                    receive_count: attempts,
                };
                let outcome = match tokio::spawn(handler(received.message, delivery)).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(error)) => Err(Failed {
                        transient: error.is_transient(),
                        reason: error.to_string(),
                    }),
                    // A panic may be a bug that a retry does not hit again: retried as well.
                    Err(join) => Err(Failed {
                        reason: format!("handler panicked: {join}"),
                        transient: true,
                    }),
                };
                match outcome {
                    Ok(()) => settle(queue.ack(id).await, name, id, "ack"),
                    Err(failed) => {
                        failed_groups.extend(group);
                        let Failed { reason, transient } = failed;
                        tracing::warn!(queue = name, message = %id, attempts, transient, error = %reason, "handler failed");
                        settle(
                            queue.retry(id, options.backoff(attempts), &reason).await,
                            name,
                            id,
                            "retry",
                        );
                    }
                }
                if shutdown.is_cancelled() {
                    break;
                }
            }
            for unstarted in pending {
                settle(
                    queue.release(unstarted.id).await,
                    name,
                    unstarted.id,
                    "release",
                );
            }
        }
    })
}

/// Receives the next batch of `queue_name`; with nothing receivable (or on an error) waits
/// until the next leased or delayed message becomes visible, a send wakes `sent`, `shutdown`
/// is cancelled or the idle poll passes, and returns `None`.
pub(crate) async fn next_batch(
    queue: &SqliteQueue,
    queue_name: QueueName,
    options: &ConsumerOptions,
    sent: &mut watch::Receiver<u64>,
    shutdown: &CancellationToken,
) -> Option<Vec<Received>> {
    // Mark the signal seen before receiving: a send after this point wakes the wait.
    sent.borrow_and_update();
    match queue
        .receive(queue_name, options.batch.max(1), options.visibility)
        .await
    {
        Ok(batch) if !batch.is_empty() => return Some(batch),
        Ok(_) => {}
        Err(error) => {
            tracing::error!(queue = queue_name.as_str(), %error, "receive failed");
            sleep_or_cancel(options.idle_poll, shutdown).await;
            return None;
        }
    }
    let clock = queue.clock();
    let wait = match queue.next_visible(queue_name).await {
        Ok(Some(next)) => until(clock.as_ref(), next).min(options.idle_poll),
        _ => options.idle_poll,
    };
    tokio::select! {
        () = shutdown.cancelled() => {}
        _ = sent.changed() => {}
        () = tokio::time::sleep(wait) => {}
    }
    None
}

/// Logs a failed ack/retry/release: the message's lease then expires and it is redelivered,
/// so nothing is lost, but someone should know the queue is unwell.
fn settle<T>(
    result: Result<T, klaxon_app::ports::QueueError>,
    queue: &str,
    id: MessageId,
    what: &str,
) {
    if let Err(error) = result {
        tracing::error!(queue, message = %id, %error, "{what} failed");
    }
}

/// Tuning of the timer pump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PumpOptions {
    /// The longest the pump sleeps between checks (bounds the effect of a clock jump or of a
    /// timer armed by another process).
    pub max_sleep: Duration,
}

impl Default for PumpOptions {
    /// Checks at least every second.
    fn default() -> Self {
        Self {
            max_sleep: Duration::from_secs(1),
        }
    }
}

/// Starts a task that fires due timers into the timers queue until `shutdown` is cancelled.
/// Timers that fell due while the process was down fire on its first round.
pub fn spawn_timer_pump(
    timers: SqliteTimers,
    options: PumpOptions,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let clock = timers.queue().clock();
        let mut armed = timers.subscribe_armed();
        while !shutdown.is_cancelled() {
            armed.borrow_and_update();
            if let Err(error) = timers.fire_due(clock.now()).await {
                tracing::error!(%error, "firing due timers failed");
                sleep_or_cancel(options.max_sleep, &shutdown).await;
                continue;
            }
            let wait = match timers.next_due().await {
                Ok(Some(due)) => until(clock.as_ref(), due).min(options.max_sleep),
                Ok(None) => options.max_sleep,
                Err(error) => {
                    tracing::error!(%error, "reading the next timer failed");
                    options.max_sleep
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => {}
                _ = armed.changed() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    })
}

/// How long from the clock's now until `then` (zero if past).
fn until(clock: &dyn Clock, then: DateTime<Utc>) -> Duration {
    (then - clock.now()).to_std().unwrap_or(Duration::ZERO)
}

async fn sleep_or_cancel(duration: Duration, shutdown: &CancellationToken) {
    tokio::select! {
        () = shutdown.cancelled() => {}
        () = tokio::time::sleep(duration) => {}
    }
}

/// A [`Clock`] that reads tokio's clock, so that under `tokio::time::pause` the queue's
/// visibility and delays move together with the workers' sleeps. For tests and simulations;
/// `klaxon serve` uses the system clock.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    origin_wall: DateTime<Utc>,
    origin: tokio::time::Instant,
}

impl TokioClock {
    /// A clock that shows `wall` now and advances with tokio's clock.
    pub fn starting_at(wall: DateTime<Utc>) -> Self {
        Self {
            origin_wall: wall,
            origin: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = tokio::time::Instant::now().saturating_duration_since(self.origin);
        crate::queue::after(self.origin_wall, crate::queue::chrono_duration(elapsed))
    }
}

mod batch;

pub use batch::{BatchOutcome, spawn_batch_consumer};

#[cfg(test)]
mod tests;
