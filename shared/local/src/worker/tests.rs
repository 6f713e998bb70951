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

/// Plain test handlers fail with text; such a failure counts as transient.
impl HandlerFailure for String {
    fn is_transient(&self) -> bool {
        true
    }
}

impl HandlerFailure for &'static str {
    fn is_transient(&self) -> bool {
        true
    }
}

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
        move |message, _| {
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
        move |message, _| {
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
        move |_message, _| {
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

/// Waits (in paused time) until `queue_name` has a dead letter, and returns them.
async fn dead_letters_of(
    queue: &SqliteQueue,
    queue_name: QueueName,
) -> Vec<crate::queue::DeadLetter> {
    for _ in 0..1000 {
        let dead = queue.dead_letters(queue_name).await.unwrap();
        if !dead.is_empty() {
            return dead;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Vec::new()
}

#[tokio::test(start_paused = true)]
async fn a_permanent_failure_keeps_its_classification_and_is_dead_lettered_after_the_last_attempt()
{
    use klaxon_app::usecases::UseCaseError;
    let queue = queue(2);
    let calls = Arc::new(Mutex::new(0_u32));
    let counted = Arc::clone(&calls);
    let shutdown = CancellationToken::new();
    let handle = spawn_consumer(
        queue.clone(),
        QueueName::Incidents,
        ConsumerOptions::default(),
        move |_message, delivery| {
            *counted.lock().unwrap() += 1;
            let failure = MessageFailure::from_use_case(UseCaseError::NoConfig, &delivery);
            async move { Err::<(), _>(failure) }
        },
        shutdown.clone(),
    );
    queue.send(&incident("inc1")).await.unwrap();
    let dead = dead_letters_of(&queue, QueueName::Incidents).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].attempts, 2);
    assert!(
        dead[0].reason.contains("permanent failure")
            && dead[0].reason.contains("no configuration has been applied"),
        "{}",
        dead[0].reason
    );
    // Retried like SQS retries a failed record: once the cause is fixed a retry succeeds.
    assert_eq!(*calls.lock().unwrap(), 2);
    shutdown.cancel();
    handle.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_transient_failure_is_retried_and_then_handled() {
    use klaxon_app::ports::QueueError;
    use klaxon_app::usecases::UseCaseError;
    let queue = queue(5);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let shutdown = CancellationToken::new();
    let handle = spawn_consumer(
        queue.clone(),
        QueueName::Incidents,
        ConsumerOptions::default(),
        move |message, delivery| {
            let tx = tx.clone();
            async move {
                if delivery.receive_count == 1 {
                    let error = UseCaseError::Queue(QueueError {
                        queue: "incidents",
                        message: "throttled".into(),
                    });
                    let failure = MessageFailure::from_use_case(error, &delivery);
                    assert!(failure.is_transient());
                    return Err(failure);
                }
                tx.send((message, delivery.receive_count)).unwrap();
                Ok(())
            }
        },
        shutdown.clone(),
    );
    queue.send(&incident("inc1")).await.unwrap();
    assert_eq!(rx.recv().await.unwrap(), (incident("inc1"), 2));
    eventually_empty(&queue).await;
    assert!(
        queue
            .dead_letters(QueueName::Incidents)
            .await
            .unwrap()
            .is_empty()
    );
    shutdown.cancel();
    handle.await.unwrap();
}

async fn eventually_empty(queue: &SqliteQueue) {
    for _ in 0..100 {
        if queue.is_empty(QueueName::Incidents).await.unwrap() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the message was never acked");
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
            move |message, _| {
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
            move |message, _| {
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
            move |message, _| {
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
        move |message, _| {
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
        kind: Default::default(),
        cycle: 0,
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
        move |message, _| {
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
