//! The dead letters: messages that could not be processed, kept for inspection and redrive.

use super::sql::{from_millis, immediate, to_u32};
use super::{DeadLetter, MessageId, SqliteQueue};
use chrono::{DateTime, Utc};
use klaxon_app::dead_letters::{
    self as port, DeadLetterFuture, DeadLetterListing, DeadLetterQueue,
};
use klaxon_app::messages::QueueName;
use klaxon_app::ports::QueueError;
use rusqlite::{OptionalExtension, Transaction, params};

impl SqliteQueue {
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
        self.redrive_where(id, None).await
    }

    /// Like [`SqliteQueue::redrive`], but only a dead letter of `queue`: `false` for an id of
    /// another queue's dead letter.
    pub async fn redrive_from(&self, queue: QueueName, id: MessageId) -> Result<bool, QueueError> {
        self.redrive_where(id, Some(queue)).await
    }

    async fn redrive_where(
        &self,
        id: MessageId,
        only: Option<QueueName>,
    ) -> Result<bool, QueueError> {
        let only = only.map(QueueName::as_str);
        let queue = self
            .run("local", move |connection, now| {
                let tx = immediate(connection)?;
                let row: Option<(String, Option<String>, String)> = tx
                    .query_row(
                        "DELETE FROM queue_dead_letters WHERE id = ?1 AND (?2 IS NULL OR queue = ?2)
                         RETURNING queue, group_id, body",
                        params![id.0, only],
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
}

/// The dead-letters port over the local queue: its four queues (local timers that cannot be
/// delivered become dead letters of the timers queue, so there is no scheduler queue), every
/// dead letter with its attempts, time of death and last error.
impl port::DeadLetters for SqliteQueue {
    fn queues(&self) -> Vec<DeadLetterQueue> {
        QueueName::ALL
            .into_iter()
            .map(DeadLetterQueue::of)
            .collect()
    }

    fn list(
        &self,
        queue: DeadLetterQueue,
        limit: usize,
    ) -> DeadLetterFuture<'_, DeadLetterListing> {
        Box::pin(async move {
            let letters = match local_queue(queue) {
                Some(name) => self.dead_letters(name).await?,
                None => Vec::new(),
            };
            let count = letters.len() as u64;
            let letters = (letters.into_iter().take(limit))
                .map(|letter| port::DeadLetter {
                    queue,
                    id: letter.id.to_string(),
                    receives: Some(letter.attempts),
                    sent_at: Some(letter.sent_at),
                    dead_at: Some(letter.dead_at),
                    last_error: Some(letter.reason),
                    body: letter.body,
                })
                .collect();
            Ok(DeadLetterListing {
                queue,
                count,
                letters,
            })
        })
    }

    fn redrive<'a>(&'a self, queue: DeadLetterQueue, id: &'a str) -> DeadLetterFuture<'a, bool> {
        Box::pin(async move {
            match (local_queue(queue), id.parse::<i64>()) {
                (Some(name), Ok(id)) => self.redrive_from(name, MessageId(id)).await,
                _ => Ok(false),
            }
        })
    }

    fn redrive_all(&self, queue: DeadLetterQueue, limit: usize) -> DeadLetterFuture<'_, u64> {
        Box::pin(async move {
            let Some(name) = local_queue(queue) else {
                return Ok(0);
            };
            let mut redriven = 0;
            for letter in self.dead_letters(name).await?.into_iter().take(limit) {
                if self.redrive_from(name, letter.id).await? {
                    redriven += 1;
                }
            }
            Ok(redriven)
        })
    }
}

/// The local queue holding `queue`'s dead letters (none for the scheduler's).
fn local_queue(queue: DeadLetterQueue) -> Option<QueueName> {
    (queue != DeadLetterQueue::Scheduler).then(|| queue.source())
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
pub(super) fn dead_letter(
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
