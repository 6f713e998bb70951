//! Durable one-shot timers: the [`Timers`] port on SQLite, beside the queue tables.
//!
//! A timer is a row `(name, due, payload)` in the `timers` table of the queue's database.
//! Arming inserts it unless the name exists (deterministic names make re-arming idempotent);
//! cancelling deletes it. [`SqliteTimers::fire_due`] deletes every due timer and enqueues its
//! [`QueueMessage::Timer`] on the timers queue in one SQLite transaction, so a crash between
//! the two cannot lose a timer or fire it twice. Timers that fell due while the process was
//! down fire on the first call after it restarts. A worker ([`crate::worker::spawn_timer_pump`])
//! sleeps until [`SqliteTimers::next_due`] and is woken early when a timer is armed.

use crate::queue::{SqliteQueue, from_millis, immediate, insert_dead_letter, insert_message};
use chrono::{DateTime, Utc};
use klaxon_app::messages::{QueueMessage, QueueName};
use klaxon_app::ports::{QueueError, TimerError, Timers};
use klaxon_domain::escalation::{TimerName, TimerPayload};
use klaxon_domain::heartbeat::HeartbeatTimer;
use rusqlite::params;
use tokio::sync::watch;

/// The durable timers. Cheap to clone; shares the queue's connection.
#[derive(Debug, Clone)]
pub struct SqliteTimers {
    queue: SqliteQueue,
}

/// A timer waiting to fire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingTimer {
    /// Its name.
    pub name: TimerName,
    /// When it fires.
    pub due: DateTime<Utc>,
    /// What it delivers.
    pub payload: TimerPayload,
}

impl SqliteTimers {
    /// Timers stored beside `queue`'s tables; fired timers go to its timers queue.
    pub fn new(queue: SqliteQueue) -> Self {
        Self { queue }
    }

    /// The queue fired timers are sent to.
    pub fn queue(&self) -> &SqliteQueue {
        &self.queue
    }

    /// Fires every timer due at or before `now`: in one transaction, deletes it and enqueues
    /// its [`QueueMessage::Timer`] on the timers queue. Returns how many fired. A stored
    /// payload that no longer parses is dead-lettered on the timers queue instead (never lost).
    pub async fn fire_due(&self, now: DateTime<Utc>) -> Result<usize, TimerError> {
        let fired = self
            .queue
            .run(QueueName::Timers.as_str(), move |connection, clock_now| {
                let tx = immediate(connection)?;
                let due: Vec<(String, String)> = {
                    let mut statement = tx.prepare(
                        "SELECT name, payload FROM timers WHERE due <= ?1 ORDER BY due, name",
                    )?;
                    statement
                        .query_map(params![now.timestamp_millis()], |row| {
                            Ok((row.get(0)?, row.get(1)?))
                        })?
                        .collect::<Result<_, _>>()?
                };
                for (name, payload) in &due {
                    match stored_message(payload) {
                        Ok(message) => {
                            // Stamped with the queue's clock, so it is receivable at once.
                            insert_message(
                                &tx,
                                QueueName::Timers,
                                None,
                                &message.to_json(),
                                clock_now,
                            )?;
                        }
                        Err(parse) => insert_dead_letter(
                            &tx,
                            QueueName::Timers,
                            payload,
                            clock_now,
                            &format!("timer {name}: unparseable payload: {parse}"),
                        )?,
                    }
                    tx.execute("DELETE FROM timers WHERE name = ?1", params![name])?;
                }
                tx.commit()?;
                Ok(due.len())
            })
            .await
            .map_err(|error| timer_error("(due timers)", error))?;
        if fired > 0 {
            self.queue.inner().wake(QueueName::Timers);
        }
        Ok(fired)
    }

    /// When the earliest pending timer is due, if any.
    pub async fn next_due(&self) -> Result<Option<DateTime<Utc>>, TimerError> {
        self.queue
            .run(QueueName::Timers.as_str(), |connection, _| {
                let next: Option<i64> =
                    connection.query_row("SELECT MIN(due) FROM timers", [], |row| row.get(0))?;
                Ok(next.map(from_millis))
            })
            .await
            .map_err(|error| timer_error("(next due)", error))
    }

    /// Every pending incident timer, earliest first (heartbeat timers are left out: see
    /// [`SqliteTimers::pending_heartbeats`]).
    pub async fn pending(&self) -> Result<Vec<PendingTimer>, TimerError> {
        let rows: Vec<(String, i64, String)> = self
            .queue
            .run(QueueName::Timers.as_str(), |connection, _| {
                let mut statement = connection
                    .prepare("SELECT name, due, payload FROM timers ORDER BY due, name")?;
                let rows = statement
                    .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
                    .collect::<Result<_, _>>()?;
                Ok(rows)
            })
            .await
            .map_err(|error| timer_error("(pending)", error))?;
        rows.into_iter()
            .filter(|(_, _, payload)| serde_json::from_str::<HeartbeatTimer>(payload).is_err())
            .map(|(name, due, payload)| {
                let payload = serde_json::from_str(&payload).map_err(|parse| TimerError {
                    name: name.clone(),
                    message: format!("unparseable payload: {parse}"),
                })?;
                let name = TimerName::new(name).map_err(|invalid| TimerError {
                    name: invalid.0.clone(),
                    message: "invalid timer name".to_owned(),
                })?;
                Ok(PendingTimer {
                    name,
                    due: from_millis(due),
                    payload,
                })
            })
            .collect()
    }

    /// Every pending heartbeat timer: (name, due, payload), earliest first.
    pub async fn pending_heartbeats(
        &self,
    ) -> Result<Vec<(String, DateTime<Utc>, HeartbeatTimer)>, TimerError> {
        let rows: Vec<(String, i64, String)> = self
            .queue
            .run(QueueName::Timers.as_str(), |connection, _| {
                let mut statement = connection
                    .prepare("SELECT name, due, payload FROM timers ORDER BY due, name")?;
                let rows = statement
                    .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
                    .collect::<Result<_, _>>()?;
                Ok(rows)
            })
            .await
            .map_err(|error| timer_error("(pending)", error))?;
        Ok(rows
            .into_iter()
            .filter_map(|(name, due, payload)| {
                let payload = serde_json::from_str::<HeartbeatTimer>(&payload).ok()?;
                Some((name, from_millis(due), payload))
            })
            .collect())
    }

    async fn insert(
        &self,
        name: &TimerName,
        due: DateTime<Utc>,
        body: String,
    ) -> Result<(), TimerError> {
        let key = name.to_string();
        let inserted = self
            .queue
            .run(QueueName::Timers.as_str(), move |connection, now| {
                connection.execute(
                    "INSERT OR IGNORE INTO timers (name, due, payload, armed_at)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![key, due.timestamp_millis(), body, now.timestamp_millis()],
                )
            })
            .await
            .map_err(|error| timer_error(name.as_str(), error))?;
        if inserted > 0 {
            self.queue
                .inner()
                .timers_armed
                .send_modify(|count| *count = count.wrapping_add(1));
        }
        Ok(())
    }

    /// A receiver that changes whenever a timer is armed (the pump re-plans its sleep).
    pub fn subscribe_armed(&self) -> watch::Receiver<u64> {
        self.queue.inner().timers_armed.subscribe()
    }
}

impl Timers for SqliteTimers {
    async fn arm(
        &self,
        name: &TimerName,
        due: DateTime<Utc>,
        payload: &TimerPayload,
    ) -> Result<(), TimerError> {
        let body = serde_json::to_string(payload).map_err(|error| TimerError {
            name: name.to_string(),
            message: error.to_string(),
        })?;
        self.insert(name, due, body).await
    }

    async fn arm_heartbeat(
        &self,
        name: &TimerName,
        due: DateTime<Utc>,
        payload: &HeartbeatTimer,
    ) -> Result<(), TimerError> {
        let body = serde_json::to_string(payload).map_err(|error| TimerError {
            name: name.to_string(),
            message: error.to_string(),
        })?;
        self.insert(name, due, body).await
    }

    async fn cancel(&self, name: &TimerName) -> Result<(), TimerError> {
        let key = name.to_string();
        self.queue
            .run(QueueName::Timers.as_str(), move |connection, _| {
                connection.execute("DELETE FROM timers WHERE name = ?1", params![key])
            })
            .await
            .map_err(|error| timer_error(name.as_str(), error))?;
        Ok(())
    }
}

/// The message a stored timer delivers: an incident timer's payload, or a heartbeat's (the
/// two shapes never parse as each other: each requires a field the other lacks).
fn stored_message(payload: &str) -> Result<QueueMessage, serde_json::Error> {
    match serde_json::from_str::<TimerPayload>(payload) {
        Ok(payload) => Ok(QueueMessage::Timer(payload)),
        Err(error) => serde_json::from_str::<HeartbeatTimer>(payload)
            .map(QueueMessage::HeartbeatTimer)
            .map_err(|_| error),
    }
}

fn timer_error(name: &str, error: QueueError) -> TimerError {
    TimerError {
        name: name.to_owned(),
        message: error.message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::tests::start;
    use klaxon_app::ports::Clock;
    use klaxon_domain::ids::IncidentId;
    use klaxon_store::ManualClock;
    use std::sync::Arc;
    use std::time::Duration;

    fn payload(incident: &str, tier: u32) -> TimerPayload {
        TimerPayload {
            incident: IncidentId::new(incident).unwrap(),
            round: 0,
            tier,
            version: u64::from(tier) + 1,
            kind: Default::default(),
            cycle: 0,
        }
    }

    fn timers() -> SqliteTimers {
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(start()));
        SqliteTimers::new(SqliteQueue::open_in_memory(clock).unwrap())
    }

    async fn arm(timers: &SqliteTimers, payload: &TimerPayload, due_in_secs: i64) {
        timers
            .arm(
                &payload.timer_name(),
                start() + chrono::Duration::seconds(due_in_secs),
                payload,
            )
            .await
            .unwrap();
    }

    async fn fired(timers: &SqliteTimers) -> Vec<TimerPayload> {
        timers
            .queue()
            .receive(QueueName::Timers, 100, Duration::from_secs(30))
            .await
            .unwrap()
            .into_iter()
            .map(|received| match received.message {
                QueueMessage::Timer(payload) => payload,
                other => panic!("not a timer: {other:?}"),
            })
            .collect()
    }

    #[tokio::test]
    async fn arming_a_name_twice_keeps_one_timer_with_the_first_due_time() {
        let timers = timers();
        let first = payload("inc1", 1);
        arm(&timers, &first, 60).await;
        arm(&timers, &first, 600).await;
        let pending = timers.pending().await.unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].name, first.timer_name());
        assert_eq!(pending[0].due, start() + chrono::Duration::seconds(60));
        assert_eq!(pending[0].payload, first);
    }

    #[tokio::test]
    async fn cancel_removes_a_timer_and_a_missing_one_is_fine() {
        let timers = timers();
        let first = payload("inc1", 1);
        arm(&timers, &first, 60).await;
        timers.cancel(&first.timer_name()).await.unwrap();
        timers.cancel(&first.timer_name()).await.unwrap();
        assert!(timers.pending().await.unwrap().is_empty());
        assert_eq!(
            timers
                .fire_due(start() + chrono::Duration::hours(1))
                .await
                .unwrap(),
            0
        );
        assert!(fired(&timers).await.is_empty());
    }

    #[tokio::test]
    async fn fire_due_moves_exactly_the_due_timers_into_the_timers_queue() {
        let timers = timers();
        let (early, on_time, later) = (payload("inc1", 0), payload("inc2", 1), payload("inc3", 2));
        arm(&timers, &later, 120).await;
        arm(&timers, &on_time, 60).await;
        arm(&timers, &early, 30).await;
        assert_eq!(
            timers.next_due().await.unwrap(),
            Some(start() + chrono::Duration::seconds(30))
        );
        let armed = timers.subscribe_armed();
        let mut queued = timers.queue().subscribe(QueueName::Timers);

        assert_eq!(
            timers
                .fire_due(start() + chrono::Duration::seconds(60))
                .await
                .unwrap(),
            2
        );
        assert!(queued.has_changed().unwrap());
        queued.borrow_and_update();
        assert!(!armed.has_changed().unwrap());
        assert_eq!(fired(&timers).await, [early, on_time]);
        let pending = timers.pending().await.unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].payload, later);
        assert_eq!(
            timers.next_due().await.unwrap(),
            Some(start() + chrono::Duration::seconds(120))
        );
        // Firing again at the same instant finds nothing: no double fire.
        assert_eq!(
            timers
                .fire_due(start() + chrono::Duration::seconds(60))
                .await
                .unwrap(),
            0
        );
        assert!(!queued.has_changed().unwrap());
        arm(&timers, &payload("inc4", 0), 1).await;
        assert!(armed.has_changed().unwrap());
    }

    #[tokio::test]
    async fn a_timer_that_fired_can_be_armed_again_and_fires_again() {
        // Fired timers are gone, so the name is free (the routing use case decides whether a
        // re-arm is stale, using the payload's version).
        let timers = timers();
        let first = payload("inc1", 1);
        arm(&timers, &first, 10).await;
        timers
            .fire_due(start() + chrono::Duration::seconds(10))
            .await
            .unwrap();
        arm(&timers, &first, 20).await;
        timers
            .fire_due(start() + chrono::Duration::seconds(20))
            .await
            .unwrap();
        assert_eq!(fired(&timers).await, [first.clone(), first]);
    }

    #[tokio::test]
    async fn pending_timers_survive_a_restart_and_late_ones_fire_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("klaxon.db");
        let clock = Arc::new(ManualClock::new(start()));
        let (late, future) = (payload("inc1", 1), payload("inc2", 1));
        {
            let timers = SqliteTimers::new(SqliteQueue::open(&path, clock.clone()).unwrap());
            arm(&timers, &late, 60).await;
            arm(&timers, &future, 3600).await;
        }
        // Down for ten minutes.
        clock.advance(chrono::Duration::minutes(10));
        let timers = SqliteTimers::new(SqliteQueue::open(&path, clock.clone()).unwrap());
        assert_eq!(timers.pending().await.unwrap().len(), 2);
        assert_eq!(timers.fire_due(clock.now()).await.unwrap(), 1);
        assert_eq!(fired(&timers).await, [late]);
        assert_eq!(timers.pending().await.unwrap()[0].payload, future);
    }

    #[tokio::test]
    async fn a_corrupt_stored_payload_is_dead_lettered_not_lost() {
        let timers = timers();
        timers
            .queue()
            .run("timers", |connection, _| {
                connection.execute(
                    "INSERT INTO timers (name, due, payload, armed_at) VALUES ('x-r0-t0', 0, '{}', 0)",
                    [],
                )
            })
            .await
            .unwrap();
        assert_eq!(timers.fire_due(start()).await.unwrap(), 1);
        assert!(timers.pending().await.unwrap().is_empty());
        assert!(fired(&timers).await.is_empty());
        let dead = timers
            .queue()
            .dead_letters(QueueName::Timers)
            .await
            .unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].body, "{}");
        assert!(dead[0].reason.contains("x-r0-t0"), "{}", dead[0].reason);
    }
}
