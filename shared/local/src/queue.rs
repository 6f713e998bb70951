//! The durable in-process queue: the [`Queue`] port on SQLite, with SQS semantics.
//!
//! Every queue of the pipeline is a set of rows in one table (`queue_messages`), so a message
//! that was accepted survives a crash (WAL; a process crash with either [`Durability`], an OS
//! crash with `Full`) and is handed out again:
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

mod dead_letters;
mod delivery;
mod schema;
mod sql;

pub(crate) use dead_letters::insert_dead_letter;
pub(crate) use sql::{after, chrono_duration, from_millis, immediate, insert_message};

use crate::Durability;
use chrono::{DateTime, Utc};
use klaxon_app::messages::{QueueMessage, QueueName};
use klaxon_app::ports::{Clock, Queue, QueueError};
use rusqlite::Connection;
use sql::{error, queue_named};
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::watch;

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

impl std::fmt::Debug for SqliteQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteQueue")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl SqliteQueue {
    /// Opens (creating if needed) the queue tables in the database file at `path`, with
    /// default [`QueueOptions`].
    pub fn open(path: impl AsRef<Path>, clock: Arc<dyn Clock>) -> Result<Self, QueueError> {
        Self::open_with(path, clock, Durability::default())
    }

    /// Opens (creating if needed) the queue tables in the database file at `path`; commits are
    /// as durable as `durability` says.
    pub fn open_with(
        path: impl AsRef<Path>,
        clock: Arc<dyn Clock>,
        durability: Durability,
    ) -> Result<Self, QueueError> {
        let connection = crate::sqlite::open_wal(path.as_ref()).map_err(error("open"))?;
        Self::init(connection, clock, durability)
    }

    /// Opens a private in-memory queue (for tests; nothing survives the value).
    pub fn open_in_memory(clock: Arc<dyn Clock>) -> Result<Self, QueueError> {
        let connection = Connection::open_in_memory().map_err(error("open"))?;
        Self::init(connection, clock, Durability::default())
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

#[cfg(test)]
pub(crate) mod tests;
