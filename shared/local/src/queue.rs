//! The durable in-process queue: the [`Queue`] port on SQLite, with SQS semantics.
//!
//! Every queue of the pipeline is a set of rows in one table (`queue_messages`), so a message
//! that was accepted survives a crash (`synchronous=FULL`, WAL) and is handed out again:
//!
//! - **Visibility.** [`SqliteQueue::receive`] leases a message for a visibility timeout; an
//!   un-acked message becomes receivable again once it expires (the consumer died).
//!   [`SqliteQueue::ack`] deletes it, [`SqliteQueue::retry`] makes it visible again after a delay.
//! - **FIFO groups.** A message with a group id ([`QueueMessage::group_id`]) is only handed out
//!   when it is the oldest message of its group still in the queue, so a group is processed one
//!   message at a time, in order, like an SQS FIFO queue.
//! - **Deduplication.** A message with a dedup id ([`QueueMessage::dedup_id`]) sent again within
//!   the dedup window (five minutes, like SQS) after the first send is accepted and dropped.
//! - **Dead letters.** A message received `max_attempts` times without an ack, and a body that is
//!   not a Klaxon message, move to `queue_dead_letters`: never lost, inspectable with
//!   [`SqliteQueue::dead_letters`], re-sent with [`SqliteQueue::redrive`].
//!
//! Time (visibility, delays, the dedup window) comes from the injected [`Clock`], so tests move
//! it by hand. The queue's tables may share a file with the store (it keeps its own schema
//! version in `klaxon_local_schema`, not in `PRAGMA user_version`, which the store owns) but use
//! their own connection. Calls run on tokio's blocking pool over that one connection.

use chrono::{DateTime, Utc};
use klaxon_app::messages::{QueueMessage, QueueName};
use klaxon_app::ports::{Clock, Queue, QueueError};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::watch;

/// Version of the local runtime schema (queues and timers) in `klaxon_local_schema`.
const SCHEMA_VERSION: i64 = 1;

/// The component name under which the queue and timer tables record their schema version.
const SCHEMA_COMPONENT: &str = "runtime";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS klaxon_local_schema (
    component TEXT PRIMARY KEY,
    version   INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS queue_messages (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    queue      TEXT    NOT NULL,
    group_id   TEXT,
    body       TEXT    NOT NULL,
    sent_at    INTEGER NOT NULL,
    visible_at INTEGER NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    leased     INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS queue_messages_visible ON queue_messages (queue, visible_at, id);
CREATE INDEX IF NOT EXISTS queue_messages_group
    ON queue_messages (queue, group_id, id) WHERE group_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS queue_dedup (
    queue      TEXT    NOT NULL,
    dedup_id   TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (queue, dedup_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS queue_dedup_expiry ON queue_dedup (expires_at);
CREATE TABLE IF NOT EXISTS queue_dead_letters (
    id       INTEGER PRIMARY KEY,
    queue    TEXT    NOT NULL,
    group_id TEXT,
    body     TEXT    NOT NULL,
    sent_at  INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    dead_at  INTEGER NOT NULL,
    reason   TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS queue_dead_letters_queue ON queue_dead_letters (queue, id);
CREATE TABLE IF NOT EXISTS timers (
    name     TEXT    PRIMARY KEY,
    due      INTEGER NOT NULL,
    payload  TEXT    NOT NULL,
    armed_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS timers_due ON timers (due, name);
";

/// Tuning of a [`SqliteQueue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueOptions {
    /// How many times a message is handed out before it is dead-lettered (SQS's
    /// `maxReceiveCount`). At least 1.
    pub max_attempts: u32,
    /// How long a dedup id suppresses repeats after its first send.
    pub dedup_window: Duration,
}

impl Default for QueueOptions {
    /// Eight attempts (with the worker's default backoff, about eight minutes of retrying) and
    /// SQS FIFO's five-minute dedup window.
    fn default() -> Self {
        Self {
            max_attempts: 8,
            dedup_window: Duration::from_secs(5 * 60),
        }
    }
}

/// A message's identifier in the local queue (unique across queues, never reused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageId(pub i64);

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A message handed to a consumer by [`SqliteQueue::receive`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// Pass to [`SqliteQueue::ack`], [`SqliteQueue::retry`] or [`SqliteQueue::release`].
    pub id: MessageId,
    /// The queue it came from.
    pub queue: QueueName,
    /// The message.
    pub message: QueueMessage,
    /// How many times it has been handed out, this time included (1 on first delivery).
    pub attempts: u32,
    /// When it was sent.
    pub sent_at: DateTime<Utc>,
}

/// A message that could not be processed, kept for inspection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Its id while it was queued.
    pub id: MessageId,
    /// Its FIFO group, if any.
    pub group_id: Option<String>,
    /// The raw body (possibly not a valid message: that may be why it is here).
    pub body: String,
    /// How many times it was handed out.
    pub attempts: u32,
    /// When it was sent.
    pub sent_at: DateTime<Utc>,
    /// When it was dead-lettered.
    pub dead_at: DateTime<Utc>,
    /// Why: the last handler error, an expired lease, or the parse error.
    pub reason: String,
}

/// The SQLite-backed queues (all four pipeline queues). Cheap to clone; clones share one
/// connection and one set of wake-up signals.
#[derive(Clone)]
pub struct SqliteQueue {
    inner: Arc<Inner>,
    options: QueueOptions,
}

pub(crate) struct Inner {
    connection: Mutex<Connection>,
    clock: Arc<dyn Clock>,
    /// One counter per queue, bumped whenever something may have become receivable.
    signals: [watch::Sender<u64>; 4],
    /// Bumped whenever a timer is armed (so the timer pump can re-plan its sleep).
    pub(crate) timers_armed: watch::Sender<u64>,
}

impl fmt::Debug for SqliteQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteQueue")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl SqliteQueue {
    /// Opens (creating if needed) the queue tables in the database file at `path`, with
    /// default [`QueueOptions`].
    pub fn open(path: impl AsRef<Path>, clock: Arc<dyn Clock>) -> Result<Self, QueueError> {
        let connection = Connection::open(path).map_err(error("open"))?;
        connection
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))
            .map_err(error("open"))?;
        Self::init(connection, clock)
    }

    /// Opens a private in-memory queue (for tests; nothing survives the value).
    pub fn open_in_memory(clock: Arc<dyn Clock>) -> Result<Self, QueueError> {
        let connection = Connection::open_in_memory().map_err(error("open"))?;
        Self::init(connection, clock)
    }

    /// Replaces the options (call before cloning: clones keep the options they were made with).
    pub fn with_options(mut self, options: QueueOptions) -> Self {
        self.options = QueueOptions {
            max_attempts: options.max_attempts.max(1),
            ..options
        };
        self
    }

    /// The options in force.
    pub fn options(&self) -> QueueOptions {
        self.options
    }

    /// The clock the queue reads.
    pub fn clock(&self) -> Arc<dyn Clock> {
        Arc::clone(&self.inner.clock)
    }

    fn init(connection: Connection, clock: Arc<dyn Clock>) -> Result<Self, QueueError> {
        connection
            .busy_timeout(Duration::from_secs(5))
            .map_err(error("open"))?;
        connection
            .pragma_update(None, "synchronous", "FULL")
            .map_err(error("open"))?;
        connection.execute_batch(SCHEMA).map_err(error("open"))?;
        let version: Option<i64> = connection
            .query_row(
                "SELECT version FROM klaxon_local_schema WHERE component = ?1",
                params![SCHEMA_COMPONENT],
                |row| row.get(0),
            )
            .optional()
            .map_err(error("open"))?;
        if let Some(version) = version
            && version > SCHEMA_VERSION
        {
            return Err(QueueError {
                queue: "local",
                message: format!(
                    "open: the queue tables have schema version {version}; this build knows {SCHEMA_VERSION}"
                ),
            });
        }
        connection
            .execute(
                "INSERT OR REPLACE INTO klaxon_local_schema (component, version) VALUES (?1, ?2)",
                params![SCHEMA_COMPONENT, SCHEMA_VERSION],
            )
            .map_err(error("open"))?;
        Ok(Self {
            inner: Arc::new(Inner {
                connection: Mutex::new(connection),
                clock,
                signals: std::array::from_fn(|_| watch::Sender::new(0)),
                timers_armed: watch::Sender::new(0),
            }),
            options: QueueOptions::default(),
        })
    }

    /// Sends a raw body to `queue` (what [`Queue::send`] does after serialising). A body that
    /// is not a Klaxon message is accepted and dead-lettered when received.
    pub async fn send_raw(
        &self,
        queue: QueueName,
        group_id: Option<String>,
        dedup_id: Option<String>,
        body: String,
    ) -> Result<(), QueueError> {
        let window = chrono_duration(self.options.dedup_window);
        let sent = self
            .run(queue.as_str(), move |connection, now| {
                let tx = immediate(connection)?;
                if let Some(dedup_id) = &dedup_id {
                    let now_ms = now.timestamp_millis();
                    tx.execute(
                        "DELETE FROM queue_dedup WHERE expires_at <= ?1",
                        params![now_ms],
                    )?;
                    let inserted = tx.execute(
                        "INSERT OR IGNORE INTO queue_dedup (queue, dedup_id, expires_at)
                         VALUES (?1, ?2, ?3)",
                        params![
                            queue.as_str(),
                            dedup_id,
                            after(now, window).timestamp_millis()
                        ],
                    )?;
                    if inserted == 0 {
                        // A repeat within the window: accepted, not queued again.
                        return Ok(false);
                    }
                }
                insert_message(&tx, queue, group_id.as_deref(), &body, now)?;
                tx.commit()?;
                Ok(true)
            })
            .await?;
        if sent {
            self.inner.wake(queue);
        }
        Ok(())
    }

    /// Hands out up to `max` receivable messages of `queue`, oldest first, each leased for
    /// `visibility`. Messages already handed out `max_attempts` times, and bodies that do not
    /// parse, are dead-lettered on the way instead of returned.
    pub async fn receive(
        &self,
        queue: QueueName,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<Received>, QueueError> {
        let max_attempts = i64::from(self.options.max_attempts);
        let visibility = chrono_duration(visibility);
        let limit = i64::try_from(max).unwrap_or(i64::MAX);
        let (received, dead) = self
            .run(queue.as_str(), move |connection, now| {
                let tx = immediate(connection)?;
                let now_ms = now.timestamp_millis();
                let mut dead = 0;
                // Leases that expired on their last allowed attempt: the consumer died (or
                // hung) every time.
                let exhausted: Vec<(i64, i64)> = {
                    let mut statement = tx.prepare(
                        "SELECT id, attempts FROM queue_messages
                         WHERE queue = ?1 AND visible_at <= ?2 AND attempts >= ?3",
                    )?;
                    statement
                        .query_map(params![queue.as_str(), now_ms, max_attempts], |row| {
                            Ok((row.get(0)?, row.get(1)?))
                        })?
                        .collect::<Result<_, _>>()?
                };
                for (id, attempts) in exhausted {
                    dead_letter(
                        &tx,
                        id,
                        now,
                        &format!("not acknowledged after {attempts} deliveries"),
                    )?;
                    dead += 1;
                }
                let mut received = Vec::new();
                while (received.len() as i64) < limit {
                    let candidates: Vec<(i64, String, i64, i64)> = {
                        let mut statement = tx.prepare_cached(
                            "SELECT id, body, attempts, sent_at FROM queue_messages AS m
                             WHERE queue = ?1 AND visible_at <= ?2
                               AND (group_id IS NULL OR id = (
                                   SELECT MIN(id) FROM queue_messages AS head
                                   WHERE head.queue = m.queue AND head.group_id = m.group_id))
                             ORDER BY id LIMIT ?3",
                        )?;
                        statement
                            .query_map(
                                params![queue.as_str(), now_ms, limit - received.len() as i64],
                                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
                            )?
                            .collect::<Result<_, _>>()?
                    };
                    if candidates.is_empty() {
                        break;
                    }
                    for (id, body, attempts, sent_at) in candidates {
                        let message = match QueueMessage::from_json(&body) {
                            Ok(message) => message,
                            Err(parse) => {
                                // Dead-lettering the head of a group unblocks the next one,
                                // which the next round of the loop picks up.
                                dead_letter(&tx, id, now, &format!("unparseable body: {parse}"))?;
                                dead += 1;
                                continue;
                            }
                        };
                        tx.execute(
                            "UPDATE queue_messages
                             SET visible_at = ?2, attempts = attempts + 1, leased = 1
                             WHERE id = ?1",
                            params![id, after(now, visibility).timestamp_millis()],
                        )?;
                        received.push(Received {
                            id: MessageId(id),
                            queue,
                            message,
                            attempts: to_u32(attempts + 1),
                            sent_at: from_millis(sent_at),
                        });
                    }
                }
                tx.commit()?;
                Ok((received, dead))
            })
            .await?;
        if dead > 0 {
            tracing::warn!(
                queue = queue.as_str(),
                count = dead,
                "dead-lettered messages"
            );
        }
        Ok(received)
    }

    /// Deletes a processed message. Returns whether it was still there (a message acked after
    /// its lease expired and someone else acked it is simply gone).
    pub async fn ack(&self, id: MessageId) -> Result<bool, QueueError> {
        let queue = self
            .run("local", move |connection, _| {
                let tx = immediate(connection)?;
                let queue: Option<String> = tx
                    .query_row(
                        "DELETE FROM queue_messages WHERE id = ?1 RETURNING queue",
                        params![id.0],
                        |row| row.get(0),
                    )
                    .optional()?;
                tx.commit()?;
                Ok(queue)
            })
            .await?;
        // Removing a group's head may unblock the next message of the group.
        self.wake_named(queue.as_deref());
        Ok(queue.is_some())
    }

    /// Gives a message back after a failed attempt: it becomes receivable again after `delay`,
    /// or is dead-lettered at once (with `error` as the reason) when it has used its last
    /// attempt. Returns whether it was still there.
    pub async fn retry(
        &self,
        id: MessageId,
        delay: Duration,
        error: &str,
    ) -> Result<bool, QueueError> {
        let max_attempts = i64::from(self.options.max_attempts);
        let delay = chrono_duration(delay);
        let error = error.to_owned();
        let queue = self
            .run("local", move |connection, now| {
                let tx = immediate(connection)?;
                let row: Option<(String, i64)> = tx
                    .query_row(
                        "SELECT queue, attempts FROM queue_messages WHERE id = ?1",
                        params![id.0],
                        |row| Ok((row.get(0)?, row.get(1)?)),
                    )
                    .optional()?;
                let Some((queue, attempts)) = row else {
                    return Ok(None);
                };
                tx.execute(
                    "UPDATE queue_messages SET last_error = ?2 WHERE id = ?1",
                    params![id.0, error],
                )?;
                if attempts >= max_attempts {
                    dead_letter(
                        &tx,
                        id.0,
                        now,
                        &format!("failed {attempts} attempts; last error: {error}"),
                    )?;
                } else {
                    tx.execute(
                        "UPDATE queue_messages SET visible_at = ?2, leased = 0 WHERE id = ?1",
                        params![id.0, after(now, delay).timestamp_millis()],
                    )?;
                }
                tx.commit()?;
                Ok(Some(queue))
            })
            .await?;
        self.wake_named(queue.as_deref());
        Ok(queue.is_some())
    }

    /// Gives a message back untouched (a consumer shutting down before handling it): it is
    /// receivable at once and the delivery does not count as an attempt.
    pub async fn release(&self, id: MessageId) -> Result<bool, QueueError> {
        let queue = self
            .run("local", move |connection, now| {
                let tx = immediate(connection)?;
                let queue: Option<String> = tx
                    .query_row(
                        "UPDATE queue_messages
                         SET visible_at = ?2, leased = 0, attempts = MAX(attempts - 1, 0)
                         WHERE id = ?1 RETURNING queue",
                        params![id.0, now.timestamp_millis()],
                        |row| row.get(0),
                    )
                    .optional()?;
                tx.commit()?;
                Ok(queue)
            })
            .await?;
        self.wake_named(queue.as_deref());
        Ok(queue.is_some())
    }

    /// Ends every lease at once (the attempt still counts): for a process that starts up as
    /// the only consumer of the file, every leased message belongs to a consumer that died
    /// with the previous process, so there is no point waiting out its visibility timeout.
    /// Returns how many messages were released.
    pub async fn recover_leases(&self) -> Result<usize, QueueError> {
        let released = self
            .run("local", move |connection, now| {
                let tx = immediate(connection)?;
                let released = tx.execute(
                    "UPDATE queue_messages SET visible_at = ?1, leased = 0
                     WHERE leased = 1 AND visible_at > ?1",
                    params![now.timestamp_millis()],
                )?;
                tx.commit()?;
                Ok(released)
            })
            .await?;
        if released > 0 {
            for queue in QueueName::ALL {
                self.inner.wake(queue);
            }
        }
        Ok(released)
    }

    /// When the next message of `queue` that is not receivable now (leased or delayed) becomes
    /// visible again, if any: a consumer with nothing to do sleeps until then.
    pub async fn next_visible(
        &self,
        queue: QueueName,
    ) -> Result<Option<DateTime<Utc>>, QueueError> {
        self.run(queue.as_str(), move |connection, now| {
            let next: Option<i64> = connection.query_row(
                "SELECT MIN(visible_at) FROM queue_messages WHERE queue = ?1 AND visible_at > ?2",
                params![queue.as_str(), now.timestamp_millis()],
                |row| row.get(0),
            )?;
            Ok(next.map(from_millis))
        })
        .await
    }

    /// How many messages `queue` holds (receivable, leased or delayed; not dead letters).
    pub async fn len(&self, queue: QueueName) -> Result<usize, QueueError> {
        self.run(queue.as_str(), move |connection, _| {
            let count: i64 = connection.query_row(
                "SELECT COUNT(*) FROM queue_messages WHERE queue = ?1",
                params![queue.as_str()],
                |row| row.get(0),
            )?;
            Ok(usize::try_from(count).unwrap_or(0))
        })
        .await
    }

    /// Whether `queue` holds no messages.
    pub async fn is_empty(&self, queue: QueueName) -> Result<bool, QueueError> {
        Ok(self.len(queue).await? == 0)
    }

    /// The dead letters of `queue`, oldest first.
    pub async fn dead_letters(&self, queue: QueueName) -> Result<Vec<DeadLetter>, QueueError> {
        self.run(queue.as_str(), move |connection, _| {
            let mut statement = connection.prepare(
                "SELECT id, group_id, body, attempts, sent_at, dead_at, reason
                 FROM queue_dead_letters WHERE queue = ?1 ORDER BY id",
            )?;
            let letters = statement
                .query_map(params![queue.as_str()], |row| {
                    Ok(DeadLetter {
                        id: MessageId(row.get(0)?),
                        group_id: row.get(1)?,
                        body: row.get(2)?,
                        attempts: to_u32(row.get(3)?),
                        sent_at: from_millis(row.get(4)?),
                        dead_at: from_millis(row.get(5)?),
                        reason: row.get(6)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            Ok(letters)
        })
        .await
    }

    /// Sends a dead letter again as a new message at the end of its queue (attempts start
    /// over) and removes it from the dead letters. Returns whether it existed.
    pub async fn redrive(&self, id: MessageId) -> Result<bool, QueueError> {
        let queue = self
            .run("local", move |connection, now| {
                let tx = immediate(connection)?;
                let row: Option<(String, Option<String>, String)> = tx
                    .query_row(
                        "DELETE FROM queue_dead_letters WHERE id = ?1
                         RETURNING queue, group_id, body",
                        params![id.0],
                        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                    )
                    .optional()?;
                let Some((queue, group_id, body)) = row else {
                    return Ok(None);
                };
                tx.execute(
                    "INSERT INTO queue_messages (queue, group_id, body, sent_at, visible_at)
                     VALUES (?1, ?2, ?3, ?4, ?4)",
                    params![queue, group_id, body, now.timestamp_millis()],
                )?;
                tx.commit()?;
                Ok(Some(queue))
            })
            .await?;
        self.wake_named(queue.as_deref());
        Ok(queue.is_some())
    }

    /// A receiver that changes whenever something in `queue` may have become receivable
    /// (a send, an ack or retry that unblocks a group, a fired timer). Only this process's
    /// changes are signalled; consumers also poll.
    pub fn subscribe(&self, queue: QueueName) -> watch::Receiver<u64> {
        self.inner.signal(queue).subscribe()
    }

    fn wake_named(&self, queue: Option<&str>) {
        if let Some(queue) = queue.and_then(queue_named) {
            self.inner.wake(queue);
        }
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }

    /// Runs `work` on the blocking pool with the connection and the current time (read while
    /// holding the connection, so time order matches the order of operations).
    pub(crate) async fn run<R, F>(&self, queue: &'static str, work: F) -> Result<R, QueueError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection, DateTime<Utc>) -> Result<R, rusqlite::Error> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock leaves no half-done write behind (the open
            // transaction rolls back on unwind), so a poisoned lock is safe to reuse.
            let mut connection = inner
                .connection
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let now = inner.clock.now();
            work(&mut connection, now)
        })
        .await
        .map_err(|join| QueueError {
            queue,
            message: join.to_string(),
        })?
        .map_err(|sqlite| QueueError {
            queue,
            message: sqlite.to_string(),
        })
    }
}

impl Inner {
    fn signal(&self, queue: QueueName) -> &watch::Sender<u64> {
        let index = match queue {
            QueueName::Alerts => 0,
            QueueName::Incidents => 1,
            QueueName::Timers => 2,
            QueueName::Notifications => 3,
        };
        &self.signals[index]
    }

    pub(crate) fn wake(&self, queue: QueueName) {
        self.signal(queue)
            .send_modify(|count| *count = count.wrapping_add(1));
    }
}

impl Queue for SqliteQueue {
    async fn send(&self, message: &QueueMessage) -> Result<(), QueueError> {
        self.send_raw(
            message.queue(),
            message.group_id(),
            message.dedup_id(),
            message.to_json(),
        )
        .await
    }
}

/// Starts an immediate (write-locking) transaction.
pub(crate) fn immediate(connection: &mut Connection) -> Result<Transaction<'_>, rusqlite::Error> {
    connection.transaction_with_behavior(TransactionBehavior::Immediate)
}

/// Inserts a message, receivable at once.
pub(crate) fn insert_message(
    tx: &Transaction<'_>,
    queue: QueueName,
    group_id: Option<&str>,
    body: &str,
    now: DateTime<Utc>,
) -> Result<(), rusqlite::Error> {
    tx.execute(
        "INSERT INTO queue_messages (queue, group_id, body, sent_at, visible_at)
         VALUES (?1, ?2, ?3, ?4, ?4)",
        params![queue.as_str(), group_id, body, now.timestamp_millis()],
    )?;
    Ok(())
}

/// Inserts a dead letter directly (a body that never made it into a queue, e.g. a corrupt
/// timer payload), under a fresh message id.
pub(crate) fn insert_dead_letter(
    tx: &Transaction<'_>,
    queue: QueueName,
    body: &str,
    now: DateTime<Utc>,
    reason: &str,
) -> Result<(), rusqlite::Error> {
    // Allocate the id from queue_messages' AUTOINCREMENT sequence so dead-letter ids never
    // collide with a message's.
    let id: i64 = tx.query_row(
        "INSERT INTO queue_messages (queue, body, sent_at, visible_at)
         VALUES (?1, ?2, ?3, ?3) RETURNING id",
        params![queue.as_str(), body, now.timestamp_millis()],
        |row| row.get(0),
    )?;
    dead_letter(tx, id, now, reason)
}

/// Moves message `id` to the dead letters.
fn dead_letter(
    tx: &Transaction<'_>,
    id: i64,
    now: DateTime<Utc>,
    reason: &str,
) -> Result<(), rusqlite::Error> {
    tx.execute(
        "INSERT INTO queue_dead_letters (id, queue, group_id, body, sent_at, attempts, dead_at, reason)
         SELECT id, queue, group_id, body, sent_at, attempts, ?2, ?3
         FROM queue_messages WHERE id = ?1",
        params![id, now.timestamp_millis(), reason],
    )?;
    tx.execute("DELETE FROM queue_messages WHERE id = ?1", params![id])?;
    Ok(())
}

fn queue_named(name: &str) -> Option<QueueName> {
    QueueName::ALL
        .into_iter()
        .find(|queue| queue.as_str() == name)
}

fn error(operation: &'static str) -> impl Fn(rusqlite::Error) -> QueueError {
    move |sqlite| QueueError {
        queue: "local",
        message: format!("{operation}: {sqlite}"),
    }
}

/// Converts a std duration to chrono's, saturating (a delay of centuries is "never" anyway).
pub(crate) fn chrono_duration(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

/// `now + duration`, saturating at the end of time instead of overflowing.
pub(crate) fn after(now: DateTime<Utc>, duration: chrono::Duration) -> DateTime<Utc> {
    now.checked_add_signed(duration)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Reads a stored Unix-millisecond time (written by this module, so always in range).
pub(crate) fn from_millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

fn to_u32(value: i64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::TimeZone;
    use klaxon_app::messages::{AlertAction, AlertMessage, IncidentEvent, IncidentMessage};
    use klaxon_domain::alert::AlertKey;
    use klaxon_domain::ids::{AlertId, DedupKey, GroupKey, IncidentId, IntegrationName};
    use klaxon_store::ManualClock;

    const VISIBILITY: Duration = Duration::from_secs(30);

    pub(crate) fn start() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 29, 0, 59, 0).unwrap()
    }

    pub(crate) fn alert(group: &str, alert: &str) -> QueueMessage {
        alert_action(group, alert, AlertAction::Fire)
    }

    fn alert_action(group: &str, alert: &str, action: AlertAction) -> QueueMessage {
        QueueMessage::Alert(AlertMessage {
            alert_id: AlertId::new(alert).unwrap(),
            key: AlertKey {
                integration: IntegrationName::new("prometheus").unwrap(),
                dedup_key: DedupKey::new(format!("key-{alert}")).unwrap(),
            },
            action,
            group_key: GroupKey(group.to_owned()),
            at: start(),
        })
    }

    fn incident(id: &str) -> QueueMessage {
        QueueMessage::Incident(IncidentMessage {
            incident: IncidentId::new(id).unwrap(),
            event: IncidentEvent::Triggered,
        })
    }

    fn alert_id(received: &Received) -> String {
        match &received.message {
            QueueMessage::Alert(message) => message.alert_id.to_string(),
            other => panic!("not an alert: {other:?}"),
        }
    }

    fn queue_with_clock() -> (SqliteQueue, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(start()));
        let queue = SqliteQueue::open_in_memory(clock.clone()).unwrap();
        (queue, clock)
    }

    async fn receive_ids(queue: &SqliteQueue) -> Vec<String> {
        queue
            .receive(QueueName::Alerts, 10, VISIBILITY)
            .await
            .unwrap()
            .iter()
            .map(alert_id)
            .collect()
    }

    #[tokio::test]
    async fn fifo_groups_hand_out_one_message_at_a_time_in_order() {
        let (queue, clock) = queue_with_clock();
        for (group, id) in [
            ("a", "a1"),
            ("b", "b1"),
            ("a", "a2"),
            ("b", "b2"),
            ("a", "a3"),
        ] {
            queue.send(&alert(group, id)).await.unwrap();
            clock.advance(chrono::Duration::milliseconds(1));
        }
        let first = queue
            .receive(QueueName::Alerts, 10, VISIBILITY)
            .await
            .unwrap();
        assert_eq!(first.iter().map(alert_id).collect::<Vec<_>>(), ["a1", "b1"]);
        // Both heads are in flight: nothing else of either group may go out.
        assert!(receive_ids(&queue).await.is_empty());

        let a1 = first.iter().find(|r| alert_id(r) == "a1").unwrap().id;
        assert!(queue.ack(a1).await.unwrap());
        assert_eq!(receive_ids(&queue).await, ["a2"]);

        let b1 = first.iter().find(|r| alert_id(r) == "b1").unwrap().id;
        queue.ack(b1).await.unwrap();
        let b2 = queue
            .receive(QueueName::Alerts, 10, VISIBILITY)
            .await
            .unwrap();
        assert_eq!(b2.iter().map(alert_id).collect::<Vec<_>>(), ["b2"]);
        queue.ack(b2[0].id).await.unwrap();
        // a2 is still in flight, so a3 waits even though group b is idle.
        assert!(receive_ids(&queue).await.is_empty());
    }

    #[tokio::test]
    async fn a_retried_group_head_keeps_its_group_blocked_but_not_other_queues() {
        let (queue, clock) = queue_with_clock();
        queue.send(&alert("a", "a1")).await.unwrap();
        queue.send(&alert("a", "a2")).await.unwrap();
        queue.send(&incident("inc1")).await.unwrap();
        let head = queue
            .receive(QueueName::Alerts, 10, VISIBILITY)
            .await
            .unwrap();
        assert_eq!(head.len(), 1);
        queue
            .retry(head[0].id, Duration::from_secs(20), "store down")
            .await
            .unwrap();
        clock.advance(chrono::Duration::seconds(19));
        assert!(receive_ids(&queue).await.is_empty());
        let incidents = queue
            .receive(QueueName::Incidents, 10, VISIBILITY)
            .await
            .unwrap();
        assert_eq!(incidents.len(), 1);
        clock.advance(chrono::Duration::seconds(1));
        let again = queue
            .receive(QueueName::Alerts, 10, VISIBILITY)
            .await
            .unwrap();
        assert_eq!(again.iter().map(alert_id).collect::<Vec<_>>(), ["a1"]);
        assert_eq!(again[0].attempts, 2);
    }

    #[tokio::test]
    async fn messages_without_a_group_are_handed_out_together_in_send_order() {
        let (queue, _clock) = queue_with_clock();
        for id in ["i1", "i2", "i3"] {
            queue.send(&incident(id)).await.unwrap();
        }
        let batch = queue
            .receive(QueueName::Incidents, 2, VISIBILITY)
            .await
            .unwrap();
        let ids: Vec<_> = batch
            .iter()
            .map(|r| match &r.message {
                QueueMessage::Incident(m) => m.incident.to_string(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(ids, ["i1", "i2"]);
        assert_eq!(
            queue
                .receive(QueueName::Incidents, 10, VISIBILITY)
                .await
                .unwrap()
                .len(),
            1
        );
    }

    #[tokio::test]
    async fn a_dedup_id_repeated_within_five_minutes_is_dropped_even_after_ack() {
        let (queue, clock) = queue_with_clock();
        queue.send(&alert("a", "x1")).await.unwrap();
        queue.send(&alert("a", "x1")).await.unwrap();
        assert_eq!(queue.len(QueueName::Alerts).await.unwrap(), 1);
        // Another action of the same occurrence is another dedup id.
        queue
            .send(&alert_action("a", "x1", AlertAction::Resolve))
            .await
            .unwrap();
        assert_eq!(queue.len(QueueName::Alerts).await.unwrap(), 2);

        let first = queue
            .receive(QueueName::Alerts, 1, VISIBILITY)
            .await
            .unwrap();
        queue.ack(first[0].id).await.unwrap();
        clock.advance(chrono::Duration::seconds(4 * 60 + 59));
        queue.send(&alert("a", "x1")).await.unwrap();
        assert_eq!(queue.len(QueueName::Alerts).await.unwrap(), 1);

        clock.advance(chrono::Duration::seconds(1));
        queue.send(&alert("a", "x1")).await.unwrap();
        assert_eq!(queue.len(QueueName::Alerts).await.unwrap(), 2);
    }

    #[tokio::test]
    async fn an_unacked_message_is_redelivered_when_its_visibility_expires() {
        let (queue, clock) = queue_with_clock();
        queue.send(&alert("a", "a1")).await.unwrap();
        let first = queue
            .receive(QueueName::Alerts, 1, VISIBILITY)
            .await
            .unwrap();
        assert_eq!(first[0].attempts, 1);
        assert_eq!(
            queue.next_visible(QueueName::Alerts).await.unwrap(),
            Some(start() + chrono::Duration::seconds(30))
        );
        clock.advance(chrono::Duration::milliseconds(29_999));
        assert!(receive_ids(&queue).await.is_empty());
        clock.advance(chrono::Duration::milliseconds(1));
        let again = queue
            .receive(QueueName::Alerts, 1, VISIBILITY)
            .await
            .unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].id, first[0].id);
        assert_eq!(again[0].attempts, 2);
    }

    #[tokio::test]
    async fn retry_makes_a_message_visible_after_the_delay() {
        let (queue, clock) = queue_with_clock();
        queue.send(&incident("inc1")).await.unwrap();
        let first = queue
            .receive(QueueName::Incidents, 1, VISIBILITY)
            .await
            .unwrap();
        assert!(
            queue
                .retry(first[0].id, Duration::from_secs(10), "boom")
                .await
                .unwrap()
        );
        clock.advance(chrono::Duration::seconds(9));
        assert!(
            queue
                .receive(QueueName::Incidents, 1, VISIBILITY)
                .await
                .unwrap()
                .is_empty()
        );
        clock.advance(chrono::Duration::seconds(1));
        let again = queue
            .receive(QueueName::Incidents, 1, VISIBILITY)
            .await
            .unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].attempts, 2);
    }

    #[tokio::test]
    async fn a_message_failing_its_last_attempt_is_dead_lettered_with_the_error() {
        let (queue, _clock) = queue_with_clock();
        let queue = queue.with_options(QueueOptions {
            max_attempts: 3,
            ..QueueOptions::default()
        });
        queue.send(&incident("inc1")).await.unwrap();
        for attempt in 1..=3 {
            let batch = queue
                .receive(QueueName::Incidents, 1, VISIBILITY)
                .await
                .unwrap();
            assert_eq!(batch.len(), 1, "attempt {attempt}");
            assert_eq!(batch[0].attempts, attempt);
            queue
                .retry(
                    batch[0].id,
                    Duration::ZERO,
                    &format!("smtp down #{attempt}"),
                )
                .await
                .unwrap();
        }
        assert!(queue.is_empty(QueueName::Incidents).await.unwrap());
        let dead = queue.dead_letters(QueueName::Incidents).await.unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].attempts, 3);
        assert!(
            dead[0].reason.contains("smtp down #3"),
            "{}",
            dead[0].reason
        );
        assert_eq!(
            QueueMessage::from_json(&dead[0].body).unwrap(),
            incident("inc1")
        );
        assert!(
            queue
                .dead_letters(QueueName::Alerts)
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn a_message_whose_consumer_keeps_dying_is_dead_lettered() {
        let (queue, clock) = queue_with_clock();
        let queue = queue.with_options(QueueOptions {
            max_attempts: 2,
            ..QueueOptions::default()
        });
        queue.send(&alert("a", "a1")).await.unwrap();
        queue.send(&alert("a", "a2")).await.unwrap();
        for _ in 0..2 {
            assert_eq!(receive_ids(&queue).await, ["a1"]);
            clock.advance(chrono::Duration::seconds(30));
        }
        // a1 used both attempts: it goes to the dead letters and a2 goes out.
        assert_eq!(receive_ids(&queue).await, ["a2"]);
        let dead = queue.dead_letters(QueueName::Alerts).await.unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].group_id.as_deref(), Some("a"));
        assert!(
            dead[0].reason.contains("not acknowledged after 2"),
            "{}",
            dead[0].reason
        );
    }

    #[tokio::test]
    async fn an_unparseable_body_is_dead_lettered_and_unblocks_its_group() {
        let (queue, _clock) = queue_with_clock();
        queue
            .send_raw(
                QueueName::Alerts,
                Some("a".into()),
                None,
                "{not json".into(),
            )
            .await
            .unwrap();
        queue.send(&alert("a", "a2")).await.unwrap();
        assert_eq!(receive_ids(&queue).await, ["a2"]);
        let dead = queue.dead_letters(QueueName::Alerts).await.unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].body, "{not json");
        assert_eq!(dead[0].attempts, 0);
        assert!(
            dead[0].reason.starts_with("unparseable body"),
            "{}",
            dead[0].reason
        );
    }

    #[tokio::test]
    async fn a_dead_letter_can_be_redriven_to_the_end_of_its_queue() {
        let (queue, _clock) = queue_with_clock();
        let queue = queue.with_options(QueueOptions {
            max_attempts: 1,
            ..QueueOptions::default()
        });
        queue.send(&incident("inc1")).await.unwrap();
        let batch = queue
            .receive(QueueName::Incidents, 1, VISIBILITY)
            .await
            .unwrap();
        queue
            .retry(batch[0].id, Duration::ZERO, "bug")
            .await
            .unwrap();
        let dead = queue.dead_letters(QueueName::Incidents).await.unwrap();
        assert!(queue.redrive(dead[0].id).await.unwrap());
        assert!(!queue.redrive(dead[0].id).await.unwrap());
        assert!(
            queue
                .dead_letters(QueueName::Incidents)
                .await
                .unwrap()
                .is_empty()
        );
        let again = queue
            .receive(QueueName::Incidents, 1, VISIBILITY)
            .await
            .unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].message, incident("inc1"));
        assert_eq!(again[0].attempts, 1);
    }

    #[tokio::test]
    async fn release_returns_a_message_without_counting_the_attempt() {
        let (queue, _clock) = queue_with_clock();
        queue.send(&incident("inc1")).await.unwrap();
        let batch = queue
            .receive(QueueName::Incidents, 1, VISIBILITY)
            .await
            .unwrap();
        assert!(queue.release(batch[0].id).await.unwrap());
        let again = queue
            .receive(QueueName::Incidents, 1, VISIBILITY)
            .await
            .unwrap();
        assert_eq!(again[0].attempts, 1);
        assert!(queue.ack(again[0].id).await.unwrap());
        assert!(!queue.ack(again[0].id).await.unwrap());
        assert!(!queue.release(again[0].id).await.unwrap());
    }

    #[tokio::test]
    async fn a_send_wakes_subscribers_of_that_queue_only() {
        let (queue, _clock) = queue_with_clock();
        let mut alerts = queue.subscribe(QueueName::Alerts);
        let mut incidents = queue.subscribe(QueueName::Incidents);
        queue.send(&alert("a", "a1")).await.unwrap();
        assert!(alerts.has_changed().unwrap());
        assert!(!incidents.has_changed().unwrap());
        alerts.borrow_and_update();
        // A duplicate is not a new message: no wake-up.
        queue.send(&alert("a", "a1")).await.unwrap();
        assert!(!alerts.has_changed().unwrap());
        queue.send(&incident("inc1")).await.unwrap();
        assert!(incidents.has_changed().unwrap());
        incidents.borrow_and_update();
    }

    #[tokio::test]
    async fn an_unacked_message_survives_dropping_and_reopening_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("klaxon.db");
        let clock = Arc::new(ManualClock::new(start()));
        {
            let queue = SqliteQueue::open(&path, clock.clone()).unwrap();
            queue.send(&alert("a", "a1")).await.unwrap();
            queue.send(&alert("a", "a2")).await.unwrap();
            let batch = queue
                .receive(QueueName::Alerts, 10, VISIBILITY)
                .await
                .unwrap();
            assert_eq!(batch.len(), 1);
            // The process dies here: no ack.
        }
        let queue = SqliteQueue::open(&path, clock.clone()).unwrap();
        // The lease was durable too: the message waits out its visibility timeout...
        assert!(receive_ids(&queue).await.is_empty());
        clock.advance(chrono::Duration::seconds(30));
        // ...then comes back, still ahead of the rest of its group.
        let again = queue
            .receive(QueueName::Alerts, 10, VISIBILITY)
            .await
            .unwrap();
        assert_eq!(again.iter().map(alert_id).collect::<Vec<_>>(), ["a1"]);
        assert_eq!(again[0].attempts, 2);
        queue.ack(again[0].id).await.unwrap();
        assert_eq!(receive_ids(&queue).await, ["a2"]);
    }

    #[tokio::test]
    async fn recover_leases_redelivers_a_dead_process_s_messages_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("klaxon.db");
        let clock = Arc::new(ManualClock::new(start()));
        {
            let queue = SqliteQueue::open(&path, clock.clone()).unwrap();
            queue.send(&incident("inc1")).await.unwrap();
            queue.send(&incident("inc2")).await.unwrap();
            let batch = queue
                .receive(QueueName::Incidents, 1, VISIBILITY)
                .await
                .unwrap();
            queue
                .retry(batch[0].id, Duration::from_secs(60), "later")
                .await
                .unwrap();
            let leased = queue
                .receive(QueueName::Incidents, 1, VISIBILITY)
                .await
                .unwrap();
            assert_eq!(leased[0].message, incident("inc2"));
        }
        let queue = SqliteQueue::open(&path, clock.clone()).unwrap();
        // Only the leased message is released; the delayed retry keeps its delay.
        assert_eq!(queue.recover_leases().await.unwrap(), 1);
        let batch = queue
            .receive(QueueName::Incidents, 10, VISIBILITY)
            .await
            .unwrap();
        assert_eq!(batch.len(), 1);
        assert_eq!(batch[0].message, incident("inc2"));
        assert_eq!(batch[0].attempts, 2);
    }

    #[tokio::test]
    async fn the_queue_shares_a_file_with_the_store_and_refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("klaxon.db");
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(start()));
        let store = crate::store::SqliteStore::open(&path, clock.clone()).unwrap();
        let queue = SqliteQueue::open(&path, clock.clone()).unwrap();
        queue.send(&incident("inc1")).await.unwrap();
        drop((store, queue));
        // Both reopen: neither clobbered the other's schema version.
        crate::store::SqliteStore::open(&path, clock.clone()).unwrap();
        let queue = SqliteQueue::open(&path, clock.clone()).unwrap();
        assert_eq!(queue.len(QueueName::Incidents).await.unwrap(), 1);
        drop(queue);

        let connection = Connection::open(&path).unwrap();
        connection
            .execute(
                "UPDATE klaxon_local_schema SET version = 99 WHERE component = 'runtime'",
                [],
            )
            .unwrap();
        let error = SqliteQueue::open(&path, clock).unwrap_err();
        assert!(error.message.contains("schema version 99"), "{error}");
    }
}
