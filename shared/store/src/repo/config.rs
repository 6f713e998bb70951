//! Configuration snapshots: numbered versions of the canonical configuration JSON, gzip
//! compressed and split into parts, and a pointer to the current version.

use super::codec::{Blob, check_key_part, from_item, gunzip, gzip, to_item};
use super::lock::{Attempt, retry_on_conflict};
use super::schema::{self, CONFIG, CURRENT};
use super::{MAX_TRANSACTION_ITEMS, RepoError, Repository};
use crate::{CancelReason, Condition, Key, Query, SortCondition, Store, StoreError, TransactOp};
use klaxon_domain::Instant;
use klaxon_domain::timeline::Actor;
use serde::{Deserialize, Serialize};

/// The most compressed bytes one part item holds (an item may hold 400 KB).
pub const CONFIG_PART_BYTES: usize = 350 * 1024;
/// The most parts one version has: its parts, its version item and the pointer are written in
/// one transaction, which DynamoDB caps at 4 MB; 10 parts (3.5 MiB of compressed JSON, tens of
/// megabytes of configuration) stay under it.
pub const MAX_CONFIG_PARTS: usize = 10;

/// The result of [`Repository::save_config`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedConfig {
    /// The current version after the call.
    pub version: u64,
    /// Its fingerprint.
    pub fingerprint: String,
    /// Whether the configuration was already current (no new version was written).
    pub unchanged: bool,
}

/// A stored configuration version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredConfig {
    /// The version number (1, 2, 3, …).
    pub version: u64,
    /// The fingerprint given when it was saved.
    pub fingerprint: String,
    /// The canonical JSON.
    pub json: String,
    /// When it was saved.
    pub applied_at: Instant,
    /// Who saved it.
    pub applied_by: Actor,
}

/// The version item and the pointer share this shape (the pointer's `version` is the
/// optimistic-lock attribute).
#[derive(Debug, Serialize, Deserialize)]
struct ConfigMeta {
    pk: String,
    sk: String,
    version: u64,
    fingerprint: String,
    applied_at: Instant,
    applied_by: Actor,
    parts: u32,
    json_bytes: u64,
}

#[derive(Serialize, Deserialize)]
struct ConfigPart {
    pk: String,
    sk: String,
    data: Blob,
}

fn version_sk(version: u64) -> String {
    schema::config_version_sort(version)
}

fn part_sk(version: u64, part: usize) -> String {
    schema::config_part_sort(version, part)
}

/// What a configuration save records besides the configuration itself.
struct ConfigWrite<'a> {
    applied_at: Instant,
    applied_by: &'a Actor,
    json_bytes: u64,
}

/// The transaction that saves configuration `version` (its item, its `parts`, and the pointer
/// advanced from `current`, the version read, or created when there was none).
fn save_ops(
    fingerprint: &str,
    version: u64,
    current: Option<u64>,
    write: &ConfigWrite<'_>,
    parts: &[&[u8]],
) -> Result<Vec<TransactOp>, RepoError> {
    let meta = |pk: &str, sk: String| ConfigMeta {
        pk: pk.to_owned(),
        sk,
        version,
        fingerprint: fingerprint.to_owned(),
        applied_at: write.applied_at,
        applied_by: write.applied_by.clone(),
        parts: u32::try_from(parts.len()).unwrap_or(u32::MAX),
        json_bytes: write.json_bytes,
    };
    let pointer_condition = match current {
        Some(current) => Condition::VersionEquals(current),
        None => Condition::NotExists,
    };
    let mut ops = vec![
        TransactOp::Put {
            item: to_item(&meta(CONFIG, CURRENT.to_owned()))?,
            condition: Some(pointer_condition),
        },
        TransactOp::Put {
            item: to_item(&meta(CONFIG, version_sk(version)))?,
            condition: Some(Condition::NotExists),
        },
    ];
    for (index, data) in parts.iter().enumerate() {
        ops.push(TransactOp::Put {
            item: to_item(&ConfigPart {
                pk: CONFIG.to_owned(),
                sk: part_sk(version, index),
                data: Blob(data.to_vec()),
            })?,
            condition: Some(Condition::NotExists),
        });
    }
    Ok(ops)
}

impl<S: Store> Repository<S> {
    /// Saves the canonical configuration JSON as the next version, unless `fingerprint` equals
    /// the current version's (then nothing is written and `unchanged` is true). The version
    /// item, its parts and the advanced pointer are written in one transaction conditioned on
    /// the pointer still being at the version read, so concurrent saves number versions 1, 2, 3…
    /// without gaps or duplicates.
    pub async fn save_config(
        &self,
        canonical_json: &str,
        fingerprint: &str,
        applied_by: &Actor,
    ) -> Result<SavedConfig, RepoError> {
        check_key_part("fingerprint", fingerprint, 256)?;
        let compressed = gzip(canonical_json.as_bytes())?;
        let parts: Vec<&[u8]> = compressed.chunks(CONFIG_PART_BYTES).collect();
        if parts.len() > MAX_CONFIG_PARTS || parts.len() + 2 > MAX_TRANSACTION_ITEMS {
            return Err(RepoError::invalid(
                "config",
                format!(
                    "compresses to {} bytes, over the limit of {} bytes",
                    compressed.len(),
                    MAX_CONFIG_PARTS * CONFIG_PART_BYTES
                ),
            ));
        }
        let pointer_key = schema::config_pointer_key();
        let (pointer_key, parts) = (&pointer_key, &parts);
        retry_on_conflict("config", CURRENT, move || async move {
            let current = match self.store.get(pointer_key).await? {
                Some(item) => Some(from_item::<ConfigMeta>(item)?),
                None => None,
            };
            if let Some(current) = &current
                && current.fingerprint == fingerprint
            {
                return Ok(Attempt::Done(SavedConfig {
                    version: current.version,
                    fingerprint: current.fingerprint.clone(),
                    unchanged: true,
                }));
            }
            let version = current.as_ref().map_or(1, |c| c.version + 1);
            let ops = save_ops(
                fingerprint,
                version,
                current.as_ref().map(|c| c.version),
                &ConfigWrite {
                    applied_at: self.now(),
                    applied_by,
                    json_bytes: canonical_json.len() as u64,
                },
                parts,
            )?;
            match self.store.transact(ops).await {
                Ok(()) => {
                    return Ok(Attempt::Done(SavedConfig {
                        version,
                        fingerprint: fingerprint.to_owned(),
                        unchanged: false,
                    }));
                }
                // Another save advanced the pointer first: read it again.
                Err(StoreError::TransactionCancelled { reasons })
                    if reasons
                        .iter()
                        .any(|r| matches!(r, CancelReason::ConditionFailed { .. })) => {}
                Err(other) => return Err(other.into()),
            }
            Ok(Attempt::Retry)
        })
        .await
    }

    /// The current configuration, if one was ever saved.
    pub async fn current_config(&self) -> Result<Option<StoredConfig>, RepoError> {
        let pointer_key = schema::config_pointer_key();
        let Some(item) = self.store.get(&pointer_key).await? else {
            return Ok(None);
        };
        let pointer: ConfigMeta = from_item(item)?;
        match self.config_version(pointer.version).await? {
            Some(config) => Ok(Some(config)),
            None => Err(RepoError::corrupt(
                &pointer_key,
                "version",
                format!("points at version {} which does not exist", pointer.version),
            )),
        }
    }

    /// Configuration version `version`, if it exists.
    pub async fn config_version(&self, version: u64) -> Result<Option<StoredConfig>, RepoError> {
        let query = Query::table(CONFIG).sort(SortCondition::BeginsWith(version_sk(version)));
        let mut items = self.store.query(&query).await?.items.into_iter();
        let Some(first) = items.next() else {
            return Ok(None);
        };
        let meta: ConfigMeta = from_item(first)?;
        let meta_key = Key::new(CONFIG, version_sk(version));
        if meta.sk != meta_key.sk {
            return Err(RepoError::corrupt(
                &meta_key,
                "*",
                "the version's parts exist but its version item does not",
            ));
        }
        let mut compressed = Vec::new();
        let mut count = 0usize;
        for item in items {
            let part: ConfigPart = from_item(item)?;
            if part.sk != part_sk(version, count) {
                return Err(RepoError::corrupt(
                    &Key::new(CONFIG, part.sk),
                    "sk",
                    format!("expected part {count} of version {version}"),
                ));
            }
            compressed.extend_from_slice(&part.data.0);
            count += 1;
        }
        if count != meta.parts as usize {
            return Err(RepoError::corrupt(
                &meta_key,
                "parts",
                format!("says {} parts, found {count}", meta.parts),
            ));
        }
        let json = String::from_utf8(gunzip(&meta_key, "data", &compressed)?)
            .map_err(|_| RepoError::corrupt(&meta_key, "data", "not UTF-8 text"))?;
        Ok(Some(StoredConfig {
            version: meta.version,
            fingerprint: meta.fingerprint,
            json,
            applied_at: meta.applied_at,
            applied_by: meta.applied_by,
        }))
    }
}
