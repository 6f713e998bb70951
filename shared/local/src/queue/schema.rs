//! The queue and timer tables, and their schema version in `klaxon_local_schema`.

use super::sql::error;
use super::{Inner, QueueOptions, SqliteQueue};
use klaxon_app::ports::{Clock, QueueError};
use rusqlite::{Connection, OptionalExtension, params};
use std::sync::{Arc, Mutex};
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
CREATE INDEX IF NOT EXISTS queue_messages_order
    ON queue_messages (queue, id, group_id, visible_at);
CREATE INDEX IF NOT EXISTS queue_messages_attempts
    ON queue_messages (queue, attempts, visible_at);
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

impl SqliteQueue {
    pub(super) fn init(
        connection: Connection,
        clock: Arc<dyn Clock>,
        durability: crate::Durability,
    ) -> Result<Self, QueueError> {
        crate::sqlite::configure(&connection, durability).map_err(error("open"))?;
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
}
