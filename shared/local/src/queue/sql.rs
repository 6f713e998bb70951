//! Small SQL and time helpers shared by the queue's modules and the timers.

use chrono::{DateTime, Utc};
use klaxon_app::messages::QueueName;
use klaxon_app::ports::QueueError;
use rusqlite::{Connection, Transaction, TransactionBehavior, params};
use std::time::Duration;

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

pub(super) fn queue_named(name: &str) -> Option<QueueName> {
    QueueName::ALL
        .into_iter()
        .find(|queue| queue.as_str() == name)
}

pub(super) fn error(operation: &'static str) -> impl Fn(rusqlite::Error) -> QueueError {
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

pub(super) fn to_u32(value: i64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}
