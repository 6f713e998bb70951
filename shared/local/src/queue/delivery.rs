//! Sending, leasing, acknowledging and retrying messages: the SQS semantics of the queue.

use super::dead_letters::dead_letter;
use super::sql::{after, chrono_duration, from_millis, immediate, insert_message, to_u32};
use super::{MessageId, Received, SqliteQueue};
use chrono::{DateTime, Utc};
use klaxon_app::messages::{QueueMessage, QueueName};
use klaxon_app::ports::QueueError;
use rusqlite::{OptionalExtension, Transaction, params};
use std::collections::HashSet;
use std::time::Duration;

impl SqliteQueue {
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
                let mut dead = dead_letter_exhausted(&tx, queue, now, max_attempts)?;
                let mut received = Vec::new();
                while (received.len() as i64) < limit {
                    let wanted = limit - received.len() as i64;
                    let candidates = receivable(&tx, queue, now, wanted)?;
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

    /// Deletes several processed messages in one transaction (one commit for a batch). Returns
    /// how many were still there.
    pub async fn ack_many(&self, ids: &[MessageId]) -> Result<usize, QueueError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let ids: Vec<i64> = ids.iter().map(|id| id.0).collect();
        let queues = self
            .run("local", move |connection, _| {
                let tx = immediate(connection)?;
                let mut queues = Vec::new();
                {
                    let mut delete = tx.prepare_cached(
                        "DELETE FROM queue_messages WHERE id = ?1 RETURNING queue",
                    )?;
                    for id in ids {
                        if let Some(queue) = delete
                            .query_row(params![id], |row| row.get::<_, String>(0))
                            .optional()?
                        {
                            queues.push(queue);
                        }
                    }
                }
                tx.commit()?;
                Ok(queues)
            })
            .await?;
        let mut woken: Vec<&str> = Vec::new();
        for queue in &queues {
            if !woken.contains(&queue.as_str()) {
                woken.push(queue);
                self.wake_named(Some(queue));
            }
        }
        Ok(queues.len())
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
}

/// Dead-letters the messages whose lease expired on their last allowed attempt (the consumer
/// died, or hung, every time); returns how many.
fn dead_letter_exhausted(
    tx: &Transaction<'_>,
    queue: QueueName,
    now: DateTime<Utc>,
    max_attempts: i64,
) -> Result<usize, rusqlite::Error> {
    let exhausted: Vec<(i64, i64)> = {
        let mut statement = tx.prepare(
            "SELECT id, attempts FROM queue_messages INDEXED BY queue_messages_attempts
             WHERE queue = ?1 AND attempts >= ?3 AND visible_at <= ?2",
        )?;
        statement
            .query_map(
                params![queue.as_str(), now.timestamp_millis(), max_attempts],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?
            .collect::<Result<_, _>>()?
    };
    for (id, attempts) in &exhausted {
        dead_letter(
            tx,
            *id,
            now,
            &format!("not acknowledged after {attempts} deliveries"),
        )?;
    }
    Ok(exhausted.len())
}

/// Up to `limit` receivable messages of `queue` (id, body, attempts, sent at), oldest first,
/// with SQS FIFO's rule: a message of a group is receivable when it is visible and every older
/// message of its group is receivable too (so it is handed out in this batch, ahead of it). A
/// group whose oldest message is leased or delayed hands out nothing. The scan walks the queue
/// in id order on a covering index and stops as soon as the batch is full, so its cost does
/// not grow with the queue's depth while the head is receivable.
fn receivable(
    tx: &Transaction<'_>,
    queue: QueueName,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<(i64, String, i64, i64)>, rusqlite::Error> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let now_ms = now.timestamp_millis();
    let mut taken: Vec<i64> = Vec::new();
    {
        let mut order = tx.prepare_cached(
            "SELECT id, group_id, visible_at FROM queue_messages INDEXED BY queue_messages_order
             WHERE queue = ?1 ORDER BY id",
        )?;
        let mut rows = order.query(params![queue.as_str()])?;
        let mut blocked: HashSet<String> = HashSet::new();
        while taken.len() < limit {
            let Some(row) = rows.next()? else { break };
            let id: i64 = row.get(0)?;
            let group: Option<String> = row.get(1)?;
            let visible_at: i64 = row.get(2)?;
            if let Some(group) = &group
                && blocked.contains(group)
            {
                continue;
            }
            if visible_at <= now_ms {
                taken.push(id);
            } else if let Some(group) = group {
                blocked.insert(group);
            }
        }
    }
    let mut body =
        tx.prepare_cached("SELECT id, body, attempts, sent_at FROM queue_messages WHERE id = ?1")?;
    let mut messages = Vec::with_capacity(taken.len());
    for id in taken {
        messages.push(body.query_row(params![id], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })?);
    }
    Ok(messages)
}
