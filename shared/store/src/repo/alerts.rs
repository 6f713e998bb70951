//! Alert dedup records: one item per alert identity (integration + dedup key) holding its
//! current occurrence, a repeat counter and the whole alert, gzip-compressed.
//!
//! The alert is kept as compressed JSON (raw payload included) rather than as DynamoDB maps:
//! senders' labels and payloads may hold empty keys or deep nesting DynamoDB refuses, and
//! nothing accepted may be lost. A compressed body of up to [`INLINE_BODY_BYTES`] stays in the
//! record; a larger one is split into chunk items in the record's partition, written in the
//! same transaction as the record. The threshold is far below the 400 KB item limit on
//! purpose: a repeat updates the record, and an update costs one write unit per KB of the
//! item, so a small record keeps the hot path (duplicates) cheap.

use super::codec::{Blob, check_key_part, from_item, from_json, gunzip, gzip, time_value, to_item};
use super::lock::{Attempt, retry_on_conflict};
use super::schema::{self, UNGROUPED, alert_record_key, sort_time};
use super::{Listing, MAX_TRANSACTION_ITEMS, RepoError, Repository, check_limit};
use crate::key::{n, s};
use crate::{
    CancelReason, Condition, Cursor, Index, Key, Query, ReturnValues, SortCondition, Store,
    StoreError, TransactOp, UpdateAction, attr,
};
use klaxon_domain::Instant;
use klaxon_domain::alert::{Alert, AlertKey, AlertStatus, Severity};
use klaxon_domain::duration::HumanDuration;
use klaxon_domain::ids::{AlertId, DedupKey, GroupKey, IncidentId, IntegrationName};
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

/// Compressed bodies up to this size stay inside the dedup record.
pub const INLINE_BODY_BYTES: usize = 32 * 1024;
/// The most compressed bytes one chunk item holds.
pub const CHUNK_BYTES: usize = 350 * 1024;
/// The most chunks one body may have: the record and its chunks are written in one
/// transaction, which DynamoDB caps at 4 MB (10 × 350 KiB = 3.5 MiB of compressed alert, far
/// more than a 1 MiB ingest request can produce).
pub const MAX_BODY_CHUNKS: usize = 10;
/// How long a resolved dedup record (and its chunks) is kept before TTL removes it.
pub const ALERT_RETENTION: HumanDuration = HumanDuration::from_secs(30 * 24 * 3600);

/// Whether an alert's current occurrence still fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// Firing: repeats update it.
    Open,
    /// Resolved: the next firing starts a new occurrence.
    Resolved,
}

impl AlertState {
    fn as_str(self) -> &'static str {
        match self {
            AlertState::Open => "open",
            AlertState::Resolved => "resolved",
        }
    }
}

/// What [`Repository::record_firing`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Firing {
    /// A new occurrence (the alert was unknown, or its last occurrence had resolved): group it.
    New {
        /// The new occurrence's id (the one passed in).
        alert_id: AlertId,
    },
    /// A repeat of the open occurrence: counted, nobody is paged.
    Repeat {
        /// The open occurrence.
        alert_id: AlertId,
        /// How many times it has fired, this one included.
        count: u64,
        /// Its incident, once grouping linked it.
        incident: Option<IncidentId>,
        /// Its group key (as recorded when it was new).
        group_key: GroupKey,
    },
}

/// What [`Repository::record_resolved`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// The open occurrence is now resolved.
    Resolved {
        /// The occurrence.
        alert_id: AlertId,
        /// Its group key.
        group_key: GroupKey,
        /// Its incident, if grouping had linked it already.
        incident: Option<IncidentId>,
    },
    /// The occurrence was already resolved (a repeated resolve).
    AlreadyResolved,
    /// No such alert.
    Unknown,
}

/// A stored alert with its dedup bookkeeping.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRecord {
    /// The current occurrence.
    pub alert_id: AlertId,
    /// Open or resolved.
    pub state: AlertState,
    /// How many times this occurrence fired.
    pub count: u64,
    /// When it first fired.
    pub first_seen: Instant,
    /// When it last fired.
    pub last_seen: Instant,
    /// Its group key.
    pub group_key: GroupKey,
    /// Its incident, once grouping linked it.
    pub incident: Option<IncidentId>,
    /// When it resolved.
    pub resolved_at: Option<Instant>,
    /// The alert as first received, raw payload included.
    pub alert: Alert,
}

/// An occurrence grouping has not linked yet (for the recovery sweep).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UngroupedAlert {
    /// The alert's identity.
    pub key: AlertKey,
    /// The occurrence.
    pub alert_id: AlertId,
    /// Its group key.
    pub group_key: GroupKey,
    /// When ingest received it.
    pub received_at: Instant,
}

#[derive(Debug, Serialize, Deserialize)]
struct AlertItem {
    pk: String,
    sk: String,
    alert_id: AlertId,
    status: AlertState,
    count: u64,
    first_seen: Instant,
    last_seen: Instant,
    group_key: GroupKey,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    incident: Option<IncidentId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resolved_at: Option<Instant>,
    integration: IntegrationName,
    dedup_key: DedupKey,
    summary: String,
    severity: Severity,
    received_at: Instant,
    /// The compressed alert JSON, when it fits inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    body: Option<Blob>,
    /// How many chunk items hold the compressed alert JSON (0 when inline).
    #[serde(default)]
    body_chunks: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi1pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi1sk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ttl: Option<i64>,
}

#[derive(Serialize, Deserialize)]
struct ChunkItem {
    pk: String,
    sk: String,
    data: Blob,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ttl: Option<i64>,
}

fn chunk_prefix(alert_id: &AlertId) -> String {
    schema::chunk_prefix(alert_id.as_str())
}

fn chunk_key(partition: &str, alert_id: &AlertId, index: usize) -> Key {
    schema::chunk_key(partition, alert_id.as_str(), index)
}

/// The alert as gzip-compressed JSON, refused when even chunked it would not fit one
/// transaction.
fn compress_alert(alert: &Alert) -> Result<Vec<u8>, RepoError> {
    let json = serde_json::to_vec(alert).map_err(|e| RepoError::invalid("alert", e.to_string()))?;
    let body = gzip(&json)?;
    if body.len().div_ceil(CHUNK_BYTES) > MAX_BODY_CHUNKS {
        return Err(RepoError::invalid(
            "alert",
            format!(
                "compresses to {} bytes, over the limit of {} bytes",
                body.len(),
                MAX_BODY_CHUNKS * CHUNK_BYTES
            ),
        ));
    }
    Ok(body)
}

/// The dedup record of a new occurrence `new_alert_id` of `alert`: count 1, in the ungrouped
/// list, the compressed `body` inline unless it is split into `chunks`.
fn new_occurrence(
    key: &Key,
    alert: &Alert,
    new_alert_id: &AlertId,
    group_key: &GroupKey,
    body: &[u8],
    chunks: &[&[u8]],
) -> AlertItem {
    AlertItem {
        pk: key.pk.clone(),
        sk: key.sk.clone(),
        alert_id: new_alert_id.clone(),
        status: AlertState::Open,
        count: 1,
        first_seen: alert.received_at,
        last_seen: alert.received_at,
        group_key: group_key.clone(),
        incident: None,
        resolved_at: None,
        integration: alert.integration.clone(),
        dedup_key: alert.dedup_key.clone(),
        summary: alert.summary.clone(),
        severity: alert.severity,
        received_at: alert.received_at,
        body: chunks.is_empty().then(|| Blob(body.to_vec())),
        body_chunks: u32::try_from(chunks.len()).unwrap_or(u32::MAX),
        gsi1pk: Some(UNGROUPED.to_owned()),
        gsi1sk: Some(schema::ungrouped_sort(
            alert.received_at,
            new_alert_id.as_str(),
        )),
        ttl: None,
    }
}

fn check_group_key(group_key: &GroupKey) -> Result<(), RepoError> {
    check_key_part("group_key", group_key.as_str(), 512)
}

impl<S: Store> Repository<S> {
    /// Records a firing alert. A repeat of the open occurrence costs one conditional update
    /// (count + 1, last seen) and is [`Firing::Repeat`]; it stores nothing of the alert, so the
    /// alert is not even serialised or compressed (nor checked against the body limit).
    /// Otherwise (unknown, or the last occurrence resolved) a new occurrence `new_alert_id` is
    /// stored with count 1, the whole alert compressed, and an entry in the ungrouped list, and
    /// the result is [`Firing::New`].
    /// Concurrent calls for one alert make one occurrence and count every call.
    pub async fn record_firing(
        &self,
        alert: &Alert,
        new_alert_id: &AlertId,
        group_key: &GroupKey,
    ) -> Result<Firing, RepoError> {
        if alert.status != AlertStatus::Firing {
            return Err(RepoError::invalid(
                "alert.status",
                "record_firing takes a firing alert; resolve with record_resolved",
            ));
        }
        check_group_key(group_key)?;
        let key = alert_record_key(&alert.key());
        // Compressed only once a new occurrence has to be stored: a repeat does not store the
        // alert, so the hot path never serialises or gzips up to a mebibyte of payload.
        let compressed: OnceLock<Vec<u8>> = OnceLock::new();
        let (key, compressed) = (&key, &compressed);
        retry_on_conflict("alert", key.pk.clone(), move || async move {
            let previous = match self.count_repeat(key, alert).await? {
                Ok(repeat) => return Ok(Attempt::Done(repeat)),
                Err(previous) => previous,
            };
            let body = match compressed.get() {
                Some(body) => body,
                None => {
                    let body = compress_alert(alert)?;
                    compressed.get_or_init(|| body)
                }
            };
            let chunks: Vec<&[u8]> = if body.len() > INLINE_BODY_BYTES {
                body.chunks(CHUNK_BYTES).collect()
            } else {
                Vec::new()
            };
            let record = new_occurrence(key, alert, new_alert_id, group_key, body, &chunks);
            if self
                .store_occurrence(key, &record, &chunks, previous.as_ref())
                .await?
            {
                return Ok(Attempt::Done(Firing::New {
                    alert_id: new_alert_id.clone(),
                }));
            }
            // Another caller stored the occurrence first: count this call as its repeat.
            Ok(Attempt::Retry)
        })
        .await
    }

    /// The hot path of [`Repository::record_firing`]: a repeat of the open occurrence is one
    /// conditional update. `Err` holds the record that is not open (or `None`: no record).
    async fn count_repeat(
        &self,
        key: &Key,
        alert: &Alert,
    ) -> Result<Result<Firing, Option<AlertItem>>, RepoError> {
        // The hot path: a repeat of the open occurrence is one conditional update.
        let repeat = self
            .store
            .update(
                key,
                vec![
                    UpdateAction::add("count", 1),
                    UpdateAction::set("last_seen", time_value(alert.received_at)),
                ],
                Some(Condition::equals("status", s(AlertState::Open.as_str()))),
                ReturnValues::AllNew,
            )
            .await;
        match repeat {
            Ok(Some(item)) => {
                let record: AlertItem = from_item(item)?;
                Ok(Ok(Firing::Repeat {
                    alert_id: record.alert_id,
                    count: record.count,
                    incident: record.incident,
                    group_key: record.group_key,
                }))
            }
            Ok(None) => Err(RepoError::corrupt(key, "*", "the update returned no item")),
            Err(StoreError::ConditionFailed { existing, .. }) => Ok(Err(existing
                .map(|item| from_item::<AlertItem>(*item))
                .transpose()?)),
            Err(other) => Err(other.into()),
        }
    }

    /// Writes a new occurrence `record` (and its body `chunks`, replacing the chunks of
    /// `previous`) on condition that the record is still absent or still the resolved one
    /// read; `false` when another caller stored an occurrence first.
    async fn store_occurrence(
        &self,
        key: &Key,
        record: &AlertItem,
        chunks: &[&[u8]],
        previous: Option<&AlertItem>,
    ) -> Result<bool, RepoError> {
        // A new occurrence, if the record is still absent or still the resolved one we saw.
        let condition = match previous {
            None => Condition::NotExists,
            Some(previous) => Condition::equals("status", s(AlertState::Resolved.as_str()))
                .and(Condition::equals("alert_id", s(previous.alert_id.as_str()))),
        };
        let stale_chunks = previous.map_or(0, |p| p.body_chunks as usize);
        let written = if chunks.is_empty() && stale_chunks == 0 {
            match self.store.put(to_item(record)?, Some(condition)).await {
                Ok(()) => true,
                Err(StoreError::ConditionFailed { .. }) => false,
                Err(other) => return Err(other.into()),
            }
        } else {
            let mut ops = vec![TransactOp::Put {
                item: to_item(record)?,
                condition: Some(condition),
            }];
            for (index, data) in chunks.iter().enumerate() {
                let chunk = chunk_key(&key.pk, &record.alert_id, index);
                ops.push(TransactOp::Put {
                    item: to_item(&ChunkItem {
                        pk: chunk.pk,
                        sk: chunk.sk,
                        data: Blob(data.to_vec()),
                        ttl: None,
                    })?,
                    condition: None,
                });
            }
            // The previous occurrence's chunks go with it.
            if let Some(previous) = previous {
                for index in 0..stale_chunks {
                    ops.push(TransactOp::Delete {
                        key: chunk_key(&key.pk, &previous.alert_id, index),
                        condition: None,
                    });
                }
            }
            if ops.len() > MAX_TRANSACTION_ITEMS {
                return Err(RepoError::invalid(
                    "alert",
                    "the new and the previous occurrence have too many chunks together",
                ));
            }
            match self.store.transact(ops).await {
                Ok(()) => true,
                Err(StoreError::TransactionCancelled { reasons })
                    if matches!(reasons.first(), Some(CancelReason::ConditionFailed { .. })) =>
                {
                    false
                }
                Err(other) => return Err(other.into()),
            }
        };
        Ok(written)
    }

    /// Records that an alert resolved: its open occurrence becomes resolved (conditionally, so a
    /// repeated resolve is [`Resolved::AlreadyResolved`]) and expires [`ALERT_RETENTION`] from
    /// now.
    pub async fn record_resolved(
        &self,
        key: &AlertKey,
        at: Instant,
    ) -> Result<Resolved, RepoError> {
        let record_key = alert_record_key(key);
        let expires = (self.now() + ALERT_RETENTION.to_delta()).timestamp();
        let result = self
            .store
            .update(
                &record_key,
                vec![
                    UpdateAction::set("status", s(AlertState::Resolved.as_str())),
                    UpdateAction::set("resolved_at", time_value(at)),
                    UpdateAction::set(attr::TTL, n(expires)),
                ],
                Some(Condition::equals("status", s(AlertState::Open.as_str()))),
                ReturnValues::AllNew,
            )
            .await;
        let record: AlertItem = match result {
            Ok(Some(item)) => from_item(item)?,
            Ok(None) => {
                return Err(RepoError::corrupt(
                    &record_key,
                    "*",
                    "the update returned no item",
                ));
            }
            Err(StoreError::ConditionFailed { existing: None, .. }) => {
                return Ok(Resolved::Unknown);
            }
            Err(StoreError::ConditionFailed { .. }) => return Ok(Resolved::AlreadyResolved),
            Err(other) => return Err(other.into()),
        };
        // Chunks expire with their record (only bodies too large to keep inline have any).
        for index in 0..record.body_chunks as usize {
            let chunk = chunk_key(&record_key.pk, &record.alert_id, index);
            match self
                .store
                .update(
                    &chunk,
                    vec![UpdateAction::set(attr::TTL, n(expires))],
                    Some(Condition::Exists),
                    ReturnValues::None,
                )
                .await
            {
                Ok(_) | Err(StoreError::ConditionFailed { .. }) => {}
                Err(other) => return Err(other.into()),
            }
        }
        Ok(Resolved::Resolved {
            alert_id: record.alert_id,
            group_key: record.group_key,
            incident: record.incident,
        })
    }

    /// The alert's dedup record with the whole alert (raw payload included), if it exists.
    pub async fn alert(&self, key: &AlertKey) -> Result<Option<AlertRecord>, RepoError> {
        let record_key = alert_record_key(key);
        let Some(item) = self.store.get(&record_key).await? else {
            return Ok(None);
        };
        let record: AlertItem = from_item(item)?;
        let body = match (&record.body, record.body_chunks) {
            (Some(body), 0) => body.0.clone(),
            (None, chunks) if chunks > 0 => {
                let query = Query::table(record_key.pk.clone())
                    .sort(SortCondition::BeginsWith(chunk_prefix(&record.alert_id)));
                let page = self.store.query(&query).await?;
                if page.items.len() != chunks as usize {
                    return Err(RepoError::corrupt(
                        &record_key,
                        "body_chunks",
                        format!("says {chunks} chunks, found {}", page.items.len()),
                    ));
                }
                let mut body = Vec::new();
                for item in page.items {
                    let chunk: ChunkItem = from_item(item)?;
                    body.extend_from_slice(&chunk.data.0);
                }
                body
            }
            _ => {
                return Err(RepoError::corrupt(
                    &record_key,
                    "body",
                    "holds neither an inline body nor chunks",
                ));
            }
        };
        let json = gunzip(&record_key, "body", &body)?;
        let alert: Alert = from_json(&record_key, "body", &json)?;
        Ok(Some(AlertRecord {
            alert_id: record.alert_id,
            state: record.status,
            count: record.count,
            first_seen: record.first_seen,
            last_seen: record.last_seen,
            group_key: record.group_key,
            incident: record.incident,
            resolved_at: record.resolved_at,
            alert,
        }))
    }

    /// Records that grouping linked occurrence `alert_id` to `incident` and takes it off the
    /// ungrouped list. `false` (nothing changed) when the record no longer holds that
    /// occurrence (it resolved and fired again) or does not exist.
    pub async fn mark_grouped(
        &self,
        key: &AlertKey,
        alert_id: &AlertId,
        incident: &IncidentId,
    ) -> Result<bool, RepoError> {
        let result = self
            .store
            .update(
                &alert_record_key(key),
                vec![
                    UpdateAction::set("incident", s(incident.as_str())),
                    UpdateAction::remove(attr::GSI1PK),
                    UpdateAction::remove(attr::GSI1SK),
                ],
                Some(Condition::equals("alert_id", s(alert_id.as_str()))),
                ReturnValues::None,
            )
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(StoreError::ConditionFailed { .. }) => Ok(false),
            Err(other) => Err(other.into()),
        }
    }

    /// Occurrences received before `received_before` that grouping has not linked yet, oldest
    /// first (`gsi1` partition `UNGROUPED`), for the recovery sweep.
    pub async fn ungrouped_alerts(
        &self,
        received_before: Instant,
        cursor: Option<Cursor>,
        limit: u32,
    ) -> Result<Listing<UngroupedAlert>, RepoError> {
        let query = Query::index(Index::Gsi1, UNGROUPED)
            .sort(SortCondition::LessThan(sort_time(received_before)))
            .limit(check_limit(limit)?)
            .after(cursor);
        let page = self.store.query(&query).await?;
        let items = page
            .items
            .into_iter()
            .map(|item| {
                let record: AlertItem = from_item(item)?;
                Ok(UngroupedAlert {
                    key: AlertKey {
                        integration: record.integration,
                        dedup_key: record.dedup_key,
                    },
                    alert_id: record.alert_id,
                    group_key: record.group_key,
                    received_at: record.received_at,
                })
            })
            .collect::<Result<_, RepoError>>()?;
        Ok(Listing {
            items,
            next: page.next,
        })
    }
}
