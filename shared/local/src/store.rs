//! The embedded store: the [`Store`] port on SQLite, with the DynamoDB adapter's semantics.
//!
//! One table holds every item: the generic key columns (`pk`, `sk`, and each sparse index's
//! key, set only when the item has both index attributes), the expiry (`ttl`) and the item
//! itself as DynamoDB JSON (`{"count":{"N":"3"},…}`), which keeps every attribute type (S, N,
//! B, BOOL, NULL, L, M, SS, NS, BS) exactly. Writes run in `BEGIN IMMEDIATE` transactions, so
//! a condition and the write it guards are atomic even against another process using the
//! same file; the database runs in WAL mode, with `synchronous=NORMAL` or `FULL` as
//! [`Durability`] says (an accepted write survives a process crash, or also an OS crash). Calls run on tokio's blocking pool over one connection behind a mutex:
//! operations from one process are serialised, which is what makes conditional writes and
//! counters exact under concurrency.

use crate::Durability;
use chrono::{DateTime, Utc};
use klaxon_store::item::{expires_at, is_expired, validate_item, validate_key};
use klaxon_store::transact::validate_transaction;
use klaxon_store::update::{apply_actions, validate_actions};
use klaxon_store::{
    CancelReason, Clock, Condition, Cursor, Index, Item, Key, Order, Page, Query, ReturnValues,
    SortCondition, Store, StoreError, TransactOp, UpdateAction,
};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params, params_from_iter};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

/// Schema version stored in `PRAGMA user_version` (2 added index `gsi3`).
const SCHEMA_VERSION: i64 = 2;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS items (
    pk     TEXT NOT NULL,
    sk     TEXT NOT NULL,
    gsi1pk TEXT,
    gsi1sk TEXT,
    gsi2pk TEXT,
    gsi2sk TEXT,
    gsi3pk TEXT,
    gsi3sk TEXT,
    ttl    INTEGER,
    body   TEXT NOT NULL,
    PRIMARY KEY (pk, sk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_gsi1 ON items (gsi1pk, gsi1sk, pk, sk) WHERE gsi1pk IS NOT NULL;
CREATE INDEX IF NOT EXISTS items_gsi2 ON items (gsi2pk, gsi2sk, pk, sk) WHERE gsi2pk IS NOT NULL;
CREATE INDEX IF NOT EXISTS items_gsi3 ON items (gsi3pk, gsi3sk, pk, sk) WHERE gsi3pk IS NOT NULL;
CREATE INDEX IF NOT EXISTS items_ttl ON items (ttl) WHERE ttl IS NOT NULL;
";

/// Upgrades a schema-1 database (no `gsi3` columns): adds the columns and fills them from items
/// that already carry both attributes, so the index sees every item it should.
const MIGRATE_1_TO_2: &str = "
ALTER TABLE items ADD COLUMN gsi3pk TEXT;
ALTER TABLE items ADD COLUMN gsi3sk TEXT;
UPDATE items
   SET gsi3pk = json_extract(body, '$.gsi3pk.S'), gsi3sk = json_extract(body, '$.gsi3sk.S')
 WHERE json_extract(body, '$.gsi3pk.S') IS NOT NULL
   AND json_extract(body, '$.gsi3sk.S') IS NOT NULL;
";

/// The SQLite-backed store. Cheap to clone; clones share one connection.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    connection: Mutex<Connection>,
    clock: Arc<dyn Clock>,
}

klaxon_app::opaque_debug!(SqliteStore);

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`, with the default
    /// [`Durability`].
    pub fn open(path: impl AsRef<Path>, clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        Self::open_with(path, clock, Durability::default())
    }

    /// Opens (creating if needed) the database file at `path`; commits are as durable as
    /// `durability` says.
    pub fn open_with(
        path: impl AsRef<Path>,
        clock: Arc<dyn Clock>,
        durability: Durability,
    ) -> Result<Self, StoreError> {
        let connection = crate::sqlite::open_wal(path.as_ref()).map_err(backend("open"))?;
        Self::init(connection, clock, durability)
    }

    /// Opens a private in-memory database (for tests and dry runs).
    pub fn open_in_memory(clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        let connection = Connection::open_in_memory().map_err(backend("open"))?;
        Self::init(connection, clock, Durability::default())
    }

    fn init(
        connection: Connection,
        clock: Arc<dyn Clock>,
        durability: Durability,
    ) -> Result<Self, StoreError> {
        crate::sqlite::configure(&connection, durability).map_err(backend("open"))?;
        let version: i64 = connection
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(backend("open"))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::Backend {
                operation: "open",
                message: format!(
                    "the database has schema version {version}; this build knows {SCHEMA_VERSION}"
                ),
            });
        }
        let mut connection = connection;
        let tx = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend("open"))?;
        if version == 1 {
            tx.execute_batch(MIGRATE_1_TO_2).map_err(backend("open"))?;
        }
        tx.execute_batch(SCHEMA).map_err(backend("open"))?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(backend("open"))?;
        tx.commit().map_err(backend("open"))?;
        Ok(Self {
            inner: Arc::new(Inner {
                connection: Mutex::new(connection),
                clock,
            }),
        })
    }

    /// Physically deletes expired items (they are already invisible); returns how many.
    pub async fn purge_expired(&self) -> Result<usize, StoreError> {
        self.run("purge", |connection, now| {
            connection
                .execute(
                    "DELETE FROM items WHERE ttl IS NOT NULL AND ttl <= ?1",
                    params![now.timestamp()],
                )
                .map_err(backend("purge"))
        })
        .await
    }

    /// Runs `work` on the blocking pool with the connection and the current time (read while
    /// holding the connection, so time order matches the order of operations).
    async fn run<R, F>(&self, operation: &'static str, work: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection, DateTime<Utc>) -> Result<R, StoreError> + Send + 'static,
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
        .map_err(|error| StoreError::Backend {
            operation,
            message: error.to_string(),
        })?
    }
}

fn backend(operation: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |error| StoreError::Backend {
        operation,
        message: error.to_string(),
    }
}

/// Reads the live item at `key` (`None` when missing or expired).
fn load(
    connection: &Connection,
    key: &Key,
    now: DateTime<Utc>,
) -> Result<Option<Item>, StoreError> {
    let body: Option<String> = connection
        .query_row(
            "SELECT body FROM items WHERE pk = ?1 AND sk = ?2",
            params![key.pk, key.sk],
            |row| row.get(0),
        )
        .optional()
        .map_err(backend("read"))?;
    match body {
        Some(body) => {
            let item = decode_body(key, &body)?;
            Ok((!is_expired(&item, now)).then_some(item))
        }
        None => Ok(None),
    }
}

fn decode_body(key: &Key, body: &str) -> Result<Item, StoreError> {
    let item: Item = serde_json::from_str(body)
        .map_err(|error| StoreError::corrupt(key, "*", format!("undecodable item: {error}")))?;
    if Key::of_item(&item).as_ref() != Some(key) {
        return Err(StoreError::corrupt(
            key,
            "*",
            "the stored item's pk/sk differ from its row",
        ));
    }
    Ok(item)
}

/// Writes (inserts or replaces) a validated item.
fn write(connection: &Connection, key: &Key, item: &Item) -> Result<(), StoreError> {
    let body = serde_json::to_string(item).map_err(|error| StoreError::Backend {
        operation: "write",
        message: error.to_string(),
    })?;
    let gsi1 = Index::Gsi1.key_of(item);
    let gsi2 = Index::Gsi2.key_of(item);
    let gsi3 = Index::Gsi3.key_of(item);
    connection
        .execute(
            "INSERT OR REPLACE INTO items
                 (pk, sk, gsi1pk, gsi1sk, gsi2pk, gsi2sk, gsi3pk, gsi3sk, ttl, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                key.pk,
                key.sk,
                gsi1.map(|(pk, _)| pk),
                gsi1.map(|(_, sk)| sk),
                gsi2.map(|(pk, _)| pk),
                gsi2.map(|(_, sk)| sk),
                gsi3.map(|(pk, _)| pk),
                gsi3.map(|(_, sk)| sk),
                expires_at(item),
                body,
            ],
        )
        .map_err(backend("write"))?;
    Ok(())
}

fn remove(connection: &Connection, key: &Key) -> Result<(), StoreError> {
    connection
        .execute(
            "DELETE FROM items WHERE pk = ?1 AND sk = ?2",
            params![key.pk, key.sk],
        )
        .map_err(backend("delete"))?;
    Ok(())
}

fn check(
    key: &Key,
    condition: Option<&Condition>,
    current: Option<&Item>,
) -> Result<(), StoreError> {
    match condition {
        Some(condition) if !condition.evaluate(current) => Err(StoreError::ConditionFailed {
            key: key.clone(),
            existing: current.cloned().map(Box::new),
        }),
        _ => Ok(()),
    }
}

/// Applies update actions to the live item and validates the result.
fn updated_item(
    key: &Key,
    current: Option<Item>,
    actions: &[UpdateAction],
) -> Result<Item, StoreError> {
    let item = apply_actions(key, current, actions)?;
    validate_item(&item)?;
    Ok(item)
}

impl Store for SqliteStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        validate_key(key)?;
        let key = key.clone();
        self.run("get", move |connection, now| load(connection, &key, now))
            .await
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), StoreError> {
        let key = validate_item(&item)?;
        if let Some(condition) = &condition {
            condition.validate("condition")?;
        }
        self.run("put", move |connection, now| {
            let tx = connection
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend("put"))?;
            let current = load(&tx, &key, now)?;
            check(&key, condition.as_ref(), current.as_ref())?;
            write(&tx, &key, &item)?;
            tx.commit().map_err(backend("put"))
        })
        .await
    }

    async fn update(
        &self,
        key: &Key,
        actions: Vec<UpdateAction>,
        condition: Option<Condition>,
        return_values: ReturnValues,
    ) -> Result<Option<Item>, StoreError> {
        validate_key(key)?;
        validate_actions("update", &actions)?;
        if let Some(condition) = &condition {
            condition.validate("condition")?;
        }
        let key = key.clone();
        self.run("update", move |connection, now| {
            let tx = connection
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend("update"))?;
            let current = load(&tx, &key, now)?;
            check(&key, condition.as_ref(), current.as_ref())?;
            let item = updated_item(&key, current.clone(), &actions)?;
            write(&tx, &key, &item)?;
            tx.commit().map_err(backend("update"))?;
            Ok(match return_values {
                ReturnValues::None => None,
                ReturnValues::AllOld => current,
                ReturnValues::AllNew => Some(item),
            })
        })
        .await
    }

    async fn delete(
        &self,
        key: &Key,
        condition: Option<Condition>,
    ) -> Result<Option<Item>, StoreError> {
        validate_key(key)?;
        if let Some(condition) = &condition {
            condition.validate("condition")?;
        }
        let key = key.clone();
        self.run("delete", move |connection, now| {
            let tx = connection
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend("delete"))?;
            let current = load(&tx, &key, now)?;
            check(&key, condition.as_ref(), current.as_ref())?;
            remove(&tx, &key)?;
            tx.commit().map_err(backend("delete"))?;
            Ok(current)
        })
        .await
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        let position = query.validate()?;
        let query = query.clone();
        self.run("query", move |connection, now| {
            run_query(connection, &query, position.as_ref(), now)
        })
        .await
    }

    async fn transact(&self, ops: Vec<TransactOp>) -> Result<(), StoreError> {
        let keys = validate_transaction(&ops)?;
        self.run("transact", move |connection, now| {
            let tx = connection
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend("transact"))?;
            let mut currents = Vec::with_capacity(ops.len());
            let mut reasons = Vec::with_capacity(ops.len());
            for (op, key) in ops.iter().zip(&keys) {
                let current = load(&tx, key, now)?;
                let holds = op.condition().is_none_or(|c| c.evaluate(current.as_ref()));
                reasons.push(if holds {
                    CancelReason::None
                } else {
                    CancelReason::ConditionFailed {
                        existing: current.clone().map(Box::new),
                    }
                });
                currents.push(current);
            }
            if reasons.iter().any(|r| *r != CancelReason::None) {
                return Err(StoreError::TransactionCancelled { reasons });
            }
            for ((op, key), current) in ops.into_iter().zip(&keys).zip(currents) {
                match op {
                    TransactOp::Put { item, .. } => write(&tx, key, &item)?,
                    TransactOp::Update { actions, .. } => {
                        let item = updated_item(key, current, &actions)?;
                        write(&tx, key, &item)?;
                    }
                    TransactOp::Delete { .. } => remove(&tx, key)?,
                    TransactOp::ConditionCheck { .. } => {}
                }
            }
            tx.commit().map_err(backend("transact"))
        })
        .await
    }
}

fn run_query(
    connection: &Connection,
    query: &Query,
    position: Option<&Item>,
    now: DateTime<Utc>,
) -> Result<Page, StoreError> {
    let index = query.index;
    // Column names come from the fixed index set, never from input; values are parameters.
    let partition_column = index.partition_attribute();
    let sort_column = index.sort_attribute();
    let mut sql = format!(
        "SELECT pk, sk, body FROM items WHERE {partition_column} = ? AND (ttl IS NULL OR ttl > ?)"
    );
    let mut values: Vec<Value> = vec![
        Value::Text(query.partition.clone()),
        Value::Integer(now.timestamp()),
    ];
    let mut bind = |sql: &mut String, clause: &str, bound: &[&String]| {
        sql.push_str(clause);
        values.extend(bound.iter().map(|v| Value::Text((*v).clone())));
    };
    match &query.sort {
        SortCondition::All => {}
        SortCondition::Equals(v) => bind(&mut sql, &format!(" AND {sort_column} = ?"), &[v]),
        SortCondition::BeginsWith(prefix) => bind(
            &mut sql,
            &format!(" AND {sort_column} >= ? AND substr({sort_column}, 1, length(?)) = ?"),
            &[prefix, prefix, prefix],
        ),
        SortCondition::Between { low, high } => bind(
            &mut sql,
            &format!(" AND {sort_column} BETWEEN ? AND ?"),
            &[low, high],
        ),
        SortCondition::GreaterOrEqual(v) => {
            bind(&mut sql, &format!(" AND {sort_column} >= ?"), &[v])
        }
        SortCondition::LessOrEqual(v) => bind(&mut sql, &format!(" AND {sort_column} <= ?"), &[v]),
        SortCondition::GreaterThan(v) => bind(&mut sql, &format!(" AND {sort_column} > ?"), &[v]),
        SortCondition::LessThan(v) => bind(&mut sql, &format!(" AND {sort_column} < ?"), &[v]),
    }
    let (direction, after) = match query.order {
        Order::Ascending => ("ASC", ">"),
        Order::Descending => ("DESC", "<"),
    };
    if let Some(position) = position {
        let (clause, bound) = cursor_clause(index, position, after)?;
        bind(&mut sql, &clause, &bound.iter().collect::<Vec<_>>());
    }
    if index == Index::Table {
        sql.push_str(&format!(" ORDER BY sk {direction}"));
    } else {
        sql.push_str(&format!(
            " ORDER BY {sort_column} {direction}, pk {direction}, sk {direction}"
        ));
    }
    if let Some(limit) = query.limit {
        // One more than asked tells whether another page exists.
        sql.push_str(&format!(" LIMIT {}", u64::from(limit) + 1));
    }
    fetch_page(connection, &sql, values, query)
}

/// The position clause of a query that continues after `position` (the last item of the
/// previous page), with its values.
fn cursor_clause(
    index: Index,
    position: &Item,
    after: &str,
) -> Result<(String, Vec<String>), StoreError> {
    let sort_column = index.sort_attribute();
    let text = |name: &str| match position.get(name) {
        Some(klaxon_store::AttributeValue::S(value)) => Ok(value.clone()),
        _ => Err(StoreError::BadCursor {
            reason: format!("the cursor lacks `{name}`"),
        }),
    };
    if index == Index::Table {
        Ok((format!(" AND sk {after} ?"), vec![text(sort_column)?]))
    } else {
        Ok((
            format!(" AND ({sort_column}, pk, sk) {after} (?, ?, ?)"),
            vec![text(sort_column)?, text("pk")?, text("sk")?],
        ))
    }
}

/// Runs a query's SQL and cuts the result into a page (one row more than the limit was read:
/// it tells whether another page exists).
fn fetch_page(
    connection: &Connection,
    sql: &str,
    values: Vec<Value>,
    query: &Query,
) -> Result<Page, StoreError> {
    let index = query.index;
    let mut statement = connection.prepare(sql).map_err(backend("query"))?;
    let rows = statement
        .query_map(params_from_iter(values), |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
            ))
        })
        .map_err(backend("query"))?;
    let mut items = Vec::new();
    for row in rows {
        let (pk, sk, body) = row.map_err(backend("query"))?;
        items.push(decode_body(&Key::new(pk, sk), &body)?);
    }
    let limit = query.limit.and_then(|l| usize::try_from(l).ok());
    let next = match limit {
        Some(limit) if items.len() > limit => {
            items.truncate(limit);
            items.last().map(|last| Cursor::after_item(index, last))
        }
        _ => None,
    };
    Ok(Page { items, next })
}

#[cfg(test)]
mod tests;
