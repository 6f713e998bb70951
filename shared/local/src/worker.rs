//! The local runtime: consumers that drain the SQLite queues into handlers, and the pump that
//! fires due timers.
//!
//! [`spawn_consumer`] loops receive → handler → ack, and on a handler error gives the message
//! back with exponential backoff ([`ConsumerOptions::backoff`]) until the queue dead-letters it
//! after its last attempt. With nothing to receive it sleeps until the next leased or delayed
//! message becomes visible, a send wakes it, or [`ConsumerOptions::idle_poll`] passes.
//! [`spawn_timer_pump`] fires due timers, then sleeps until the next one is due (at most
//! [`PumpOptions::max_sleep`], and wakes early when a timer is armed).
//!
//! Shutdown: cancel the [`CancellationToken`] and await the join handles. A handler that is
//! running finishes (its message is acked or retried as usual); received messages it had not
//! started are released untouched.

use crate::queue::{MessageId, SqliteQueue};
use crate::timers::SqliteTimers;
use chrono::{DateTime, Utc};
use klaxon_app::messages::{QueueMessage, QueueName};
use klaxon_app::ports::Clock;
use std::fmt::Display;
use std::future::Future;
use std::time::Duration;
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

/// Starts a task that consumes `queue_name` from `queue` with `handler` until `shutdown` is
/// cancelled. The task ends after the handler call in progress (if any) returns.
pub fn spawn_consumer<H, F, E>(
    queue: SqliteQueue,
    queue_name: QueueName,
    options: ConsumerOptions,
    handler: H,
    shutdown: CancellationToken,
) -> JoinHandle<()>
where
    H: Fn(QueueMessage) -> F + Send + Sync + 'static,
    F: Future<Output = Result<(), E>> + Send + 'static,
    E: Display + Send + 'static,
{
    tokio::spawn(async move {
        let clock = queue.clock();
        let mut sent = queue.subscribe(queue_name);
        let name = queue_name.as_str();
        while !shutdown.is_cancelled() {
            // Mark the signal seen before receiving: a send after this point wakes the wait.
            sent.borrow_and_update();
            let batch = match queue
                .receive(queue_name, options.batch.max(1), options.visibility)
                .await
            {
                Ok(batch) => batch,
                Err(error) => {
                    tracing::error!(queue = name, %error, "receive failed");
                    sleep_or_cancel(options.idle_poll, &shutdown).await;
                    continue;
                }
            };
            if batch.is_empty() {
                let wait = match queue.next_visible(queue_name).await {
                    Ok(Some(next)) => until(clock.as_ref(), next).min(options.idle_poll),
                    _ => options.idle_poll,
                };
                tokio::select! {
                    () = shutdown.cancelled() => {}
                    _ = sent.changed() => {}
                    () = tokio::time::sleep(wait) => {}
                }
                continue;
            }
            let mut pending = batch.into_iter();
            for received in pending.by_ref() {
                let id = received.id;
                let attempts = received.attempts;
                // Each call runs in its own task so a panicking handler fails one attempt
                // instead of killing the consumer (in release builds a panic aborts the
                // process; the durable queue then redelivers after the restart).
                let outcome = match tokio::spawn(handler(received.message)).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(error)) => Err(error.to_string()),
                    Err(join) => Err(format!("handler panicked: {join}")),
                };
                match outcome {
                    Ok(()) => settle(queue.ack(id).await, name, id, "ack"),
                    Err(error) => {
                        tracing::warn!(queue = name, message = %id, attempts, %error, "handler failed");
                        settle(
                            queue.retry(id, options.backoff(attempts), &error).await,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::QueueOptions;
    use crate::queue::tests::{alert, start};
    use klaxon_app::messages::{IncidentEvent, IncidentMessage};
    use klaxon_app::ports::{Queue, Timers};
    use klaxon_domain::escalation::TimerPayload;
    use klaxon_domain::ids::IncidentId;
    use std::sync::{Arc, Mutex};
    use tokio::sync::{Notify, mpsc};
    use tokio::time::Instant;

    fn queue(max_attempts: u32) -> SqliteQueue {
        SqliteQueue::open_in_memory(Arc::new(TokioClock::starting_at(start())))
            .unwrap()
            .with_options(QueueOptions {
                max_attempts,
                ..QueueOptions::default()
            })
    }

    fn incident(id: &str) -> QueueMessage {
        QueueMessage::Incident(IncidentMessage {
            incident: IncidentId::new(id).unwrap(),
            event: IncidentEvent::Triggered,
        })
    }

    /// Waits (in paused time) until `done` holds, failing after a simulated hour.
    async fn eventually(mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(3600);
        while !done() {
            assert!(Instant::now() < deadline, "condition never held");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[test]
    fn backoff_doubles_from_the_base_up_to_the_cap() {
        let options = ConsumerOptions::default();
        let delays: Vec<u64> = (1..=10).map(|a| options.backoff(a).as_secs()).collect();
        assert_eq!(delays, [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(options.backoff(u32::MAX), Duration::from_secs(300));
    }

    #[tokio::test(start_paused = true)]
    async fn a_consumer_handles_each_message_in_group_order_and_acks_it() {
        let queue = queue(8);
        let (tx, mut rx) = mpsc::unbounded_channel();
        let shutdown = CancellationToken::new();
        let handle = spawn_consumer(
            queue.clone(),
            QueueName::Alerts,
            ConsumerOptions::default(),
            move |message| {
                let tx = tx.clone();
                async move {
                    tx.send(message).map_err(|e| e.to_string())?;
                    Ok::<(), String>(())
                }
            },
            shutdown.clone(),
        );
        for (group, id) in [("a", "a1"), ("b", "b1"), ("a", "a2")] {
            queue.send(&alert(group, id)).await.unwrap();
        }
        let mut handled = Vec::new();
        for _ in 0..3 {
            handled.push(rx.recv().await.unwrap());
        }
        let position = |id: &str| {
            handled
                .iter()
                .position(|m| *m == alert(id.get(..1).unwrap(), id))
        };
        assert!(position("a1") < position("a2"));
        assert!(position("b1").is_some());
        let probe = queue.clone();
        let mut empty = false;
        for _ in 0..100 {
            if probe.is_empty(QueueName::Alerts).await.unwrap() {
                empty = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(empty, "every handled message is acked");
        shutdown.cancel();
        handle.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_send_wakes_an_idle_consumer_without_waiting_for_the_poll() {
        let queue = queue(8);
        let (tx, mut rx) = mpsc::unbounded_channel();
        let shutdown = CancellationToken::new();
        let options = ConsumerOptions {
            idle_poll: Duration::from_secs(3600),
            ..ConsumerOptions::default()
        };
        let handle = spawn_consumer(
            queue.clone(),
            QueueName::Incidents,
            options,
            move |message| {
                let tx = tx.clone();
                async move { tx.send(message).map_err(|e| e.to_string()) }
            },
            shutdown.clone(),
        );
        // Let the consumer find the queue empty and go to sleep.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let sent_at = Instant::now();
        queue.send(&incident("inc1")).await.unwrap();
        assert_eq!(rx.recv().await.unwrap(), incident("inc1"));
        assert!(
            sent_at.elapsed() < Duration::from_secs(1),
            "{:?}",
            sent_at.elapsed()
        );
        shutdown.cancel();
        handle.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_handler_is_retried_with_backoff_then_dead_lettered() {
        let queue = queue(3);
        let calls: Arc<Mutex<Vec<Instant>>> = Arc::default();
        let record = Arc::clone(&calls);
        let shutdown = CancellationToken::new();
        let handle = spawn_consumer(
            queue.clone(),
            QueueName::Incidents,
            ConsumerOptions::default(),
            move |_message| {
                record.lock().unwrap().push(Instant::now());
                async { Err::<(), _>("smtp unreachable") }
            },
            shutdown.clone(),
        );
        queue.send(&incident("inc1")).await.unwrap();
        let probe = queue.clone();
        let mut dead = Vec::new();
        for _ in 0..1000 {
            dead = probe.dead_letters(QueueName::Incidents).await.unwrap();
            if !dead.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].attempts, 3);
        assert!(
            dead[0].reason.contains("smtp unreachable"),
            "{}",
            dead[0].reason
        );
        let calls = calls.lock().unwrap().clone();
        assert_eq!(calls.len(), 3);
        // Backoff 2 s then 4 s (the consumer polls at least every second, so it may be up to
        // one poll late, never early).
        for (gap, backoff) in calls.windows(2).map(|w| w[1] - w[0]).zip([2, 4]) {
            let backoff = Duration::from_secs(backoff);
            assert!(
                gap >= backoff && gap <= backoff + Duration::from_secs(1),
                "{gap:?}"
            );
        }
        assert!(probe.is_empty(QueueName::Incidents).await.unwrap());
        shutdown.cancel();
        handle.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_lets_the_running_handler_finish_and_releases_the_rest() {
        let queue = queue(8);
        let gate = Arc::new(Notify::new());
        let (started_tx, mut started) = mpsc::unbounded_channel();
        let finished = Arc::new(Mutex::new(Vec::new()));
        let shutdown = CancellationToken::new();
        let handle = {
            let (gate, finished) = (Arc::clone(&gate), Arc::clone(&finished));
            spawn_consumer(
                queue.clone(),
                QueueName::Incidents,
                ConsumerOptions {
                    batch: 10,
                    ..ConsumerOptions::default()
                },
                move |message| {
                    let (gate, finished, started) =
                        (Arc::clone(&gate), Arc::clone(&finished), started_tx.clone());
                    async move {
                        started.send(message.clone()).map_err(|e| e.to_string())?;
                        gate.notified().await;
                        finished.lock().unwrap().push(message);
                        Ok::<(), String>(())
                    }
                },
                shutdown.clone(),
            )
        };
        queue.send(&incident("inc1")).await.unwrap();
        queue.send(&incident("inc2")).await.unwrap();
        assert_eq!(started.recv().await.unwrap(), incident("inc1"));
        shutdown.cancel();
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert!(
            !handle.is_finished(),
            "shutdown must wait for the running handler"
        );
        gate.notify_one();
        handle.await.unwrap();
        assert_eq!(*finished.lock().unwrap(), [incident("inc1")]);
        // inc1 was acked; inc2, received in the same batch but never started, is back in the
        // queue at once and its aborted delivery does not count.
        let rest = queue
            .receive(QueueName::Incidents, 10, Duration::from_secs(30))
            .await
            .unwrap();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].message, incident("inc2"));
        assert_eq!(rest[0].attempts, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_panicking_handler_fails_one_attempt_and_the_consumer_goes_on() {
        let queue = queue(8);
        let calls = Arc::new(Mutex::new(0));
        let (tx, mut rx) = mpsc::unbounded_channel();
        let shutdown = CancellationToken::new();
        let handle = {
            let calls = Arc::clone(&calls);
            spawn_consumer(
                queue.clone(),
                QueueName::Incidents,
                ConsumerOptions::default(),
                move |message| {
                    let (calls, tx) = (Arc::clone(&calls), tx.clone());
                    async move {
                        let first = {
                            let mut calls = calls.lock().unwrap();
                            *calls += 1;
                            *calls == 1
                        };
                        assert!(!first, "simulated bug on the first attempt");
                        tx.send(message).map_err(|e| e.to_string())
                    }
                },
                shutdown.clone(),
            )
        };
        queue.send(&incident("inc1")).await.unwrap();
        assert_eq!(rx.recv().await.unwrap(), incident("inc1"));
        assert_eq!(*calls.lock().unwrap(), 2);
        assert!(!handle.is_finished());
        shutdown.cancel();
        handle.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_message_in_flight_when_the_process_dies_is_handled_after_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("klaxon.db");
        let clock = Arc::new(TokioClock::starting_at(start()));
        let (started_tx, mut started) = mpsc::unbounded_channel();
        {
            let queue = SqliteQueue::open(&path, clock.clone()).unwrap();
            let crashed = spawn_consumer(
                queue.clone(),
                QueueName::Alerts,
                ConsumerOptions::default(),
                move |message| {
                    let started = started_tx.clone();
                    async move {
                        started.send(message).map_err(|e| e.to_string())?;
                        // Hangs like a process killed mid-handler: never acks.
                        std::future::pending::<Result<(), String>>().await
                    }
                },
                CancellationToken::new(),
            );
            queue.send(&alert("a", "a1")).await.unwrap();
            assert_eq!(started.recv().await.unwrap(), alert("a", "a1"));
            crashed.abort();
            assert!(crashed.await.unwrap_err().is_cancelled());
        }
        // The next process: release the dead leases, then consume as usual.
        let queue = SqliteQueue::open(&path, clock).unwrap();
        assert_eq!(queue.recover_leases().await.unwrap(), 1);
        let (tx, mut rx) = mpsc::unbounded_channel();
        let shutdown = CancellationToken::new();
        let handle = spawn_consumer(
            queue.clone(),
            QueueName::Alerts,
            ConsumerOptions::default(),
            move |message| {
                let tx = tx.clone();
                async move { tx.send(message).map_err(|e| e.to_string()) }
            },
            shutdown.clone(),
        );
        let before = Instant::now();
        assert_eq!(rx.recv().await.unwrap(), alert("a", "a1"));
        // Released at once, not after the 60 s visibility timeout.
        assert!(
            before.elapsed() < Duration::from_secs(1),
            "{:?}",
            before.elapsed()
        );
        shutdown.cancel();
        handle.await.unwrap();
    }

    fn timer(incident: &str) -> TimerPayload {
        TimerPayload {
            incident: IncidentId::new(incident).unwrap(),
            round: 0,
            tier: 1,
            version: 4,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_pump_fires_a_timer_armed_while_it_sleeps_at_its_due_time() {
        let queue = queue(8);
        let timers = SqliteTimers::new(queue.clone());
        let shutdown = CancellationToken::new();
        // A long max sleep: only the arm signal and the due time can wake the pump in time.
        let pump = spawn_timer_pump(
            timers.clone(),
            PumpOptions {
                max_sleep: Duration::from_secs(3600),
            },
            shutdown.clone(),
        );
        let (tx, mut fired) = mpsc::unbounded_channel();
        let consumer = spawn_consumer(
            queue.clone(),
            QueueName::Timers,
            ConsumerOptions::default(),
            move |message| {
                let tx = tx.clone();
                async move {
                    tx.send((Instant::now(), message))
                        .map_err(|e| e.to_string())
                }
            },
            shutdown.clone(),
        );
        tokio::time::sleep(Duration::from_secs(10)).await;
        let armed_at = Instant::now();
        let clock = queue.clock();
        timers
            .arm(
                &timer("inc1").timer_name(),
                clock.now() + chrono::Duration::seconds(30),
                &timer("inc1"),
            )
            .await
            .unwrap();
        let (at, message) = fired.recv().await.unwrap();
        assert_eq!(message, QueueMessage::Timer(timer("inc1")));
        let waited = at - armed_at;
        assert!(
            waited >= Duration::from_secs(30) && waited < Duration::from_secs(31),
            "{waited:?}"
        );
        assert!(timers.pending().await.unwrap().is_empty());
        shutdown.cancel();
        pump.await.unwrap();
        consumer.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn timers_that_fell_due_before_the_pump_started_fire_at_once() {
        let queue = queue(8);
        let timers = SqliteTimers::new(queue.clone());
        let clock = queue.clock();
        timers
            .arm(
                &timer("inc1").timer_name(),
                clock.now() - chrono::Duration::minutes(10),
                &timer("inc1"),
            )
            .await
            .unwrap();
        let shutdown = CancellationToken::new();
        let started = Instant::now();
        let pump = spawn_timer_pump(timers.clone(), PumpOptions::default(), shutdown.clone());
        eventually(|| started.elapsed() > Duration::from_millis(50)).await;
        let fired = queue
            .receive(QueueName::Timers, 10, Duration::from_secs(30))
            .await
            .unwrap();
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].message, QueueMessage::Timer(timer("inc1")));
        shutdown.cancel();
        pump.await.unwrap();
    }
}
