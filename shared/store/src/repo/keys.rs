//! Integration and API keys, stored by the hex SHA-256 of the secret (never the secret).

use super::codec::{from_item, to_item};
use super::schema::{self, KEYS};
use super::{RepoError, Repository};
use crate::{Condition, Index, Key, Query, Store, StoreError};
use klaxon_domain::Instant;
use serde::{Deserialize, Serialize};

/// What a key lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// Sends alerts as one integration (`name` is the integration's name).
    Integration,
    /// Uses the API (`name` names the key, for the timeline's `apikey:` actor).
    Api,
}

impl KeyKind {
    fn as_str(self) -> &'static str {
        match self {
            KeyKind::Integration => "integration",
            KeyKind::Api => "api",
        }
    }
}

/// What is stored about a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// Integration or API key.
    pub kind: KeyKind,
    /// The integration's name, or the API key's name.
    pub name: String,
    /// A free-text note for people (where the key is used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// When it was created.
    pub created_at: Instant,
}

/// A stored key: its hash (compare it in constant time before trusting it) and its record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// The hex SHA-256 of the secret.
    pub hash: String,
    /// What the key is.
    pub record: KeyRecord,
}

#[derive(Serialize, Deserialize)]
struct KeyItem {
    pk: String,
    sk: String,
    hash: String,
    kind: KeyKind,
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    label: Option<String>,
    created_at: Instant,
    gsi2pk: String,
    gsi2sk: String,
}

fn key_of(hash: &str) -> Key {
    schema::api_key_key(hash)
}

/// A key hash must be 64 lowercase hex digits (what `klaxon_app::security::keys` produces).
fn check_hash(hash: &str) -> Result<(), RepoError> {
    let valid = hash.len() == 64
        && hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !valid {
        return Err(RepoError::invalid(
            "hash",
            "must be a SHA-256 as 64 lowercase hex digits",
        ));
    }
    Ok(())
}

impl From<KeyItem> for StoredKey {
    fn from(item: KeyItem) -> Self {
        StoredKey {
            hash: item.hash,
            record: KeyRecord {
                kind: item.kind,
                name: item.name,
                label: item.label,
                created_at: item.created_at,
            },
        }
    }
}

impl<S: Store> Repository<S> {
    /// Stores a new key under its hash. [`RepoError::AlreadyExists`] if the hash is taken.
    pub async fn create_key(&self, hash: &str, record: &KeyRecord) -> Result<(), RepoError> {
        check_hash(hash)?;
        if record.name.is_empty() || record.name.len() > 256 {
            return Err(RepoError::invalid("name", "must be 1 to 256 bytes"));
        }
        let key = key_of(hash);
        let item = KeyItem {
            pk: key.pk.clone(),
            sk: key.sk.clone(),
            hash: hash.to_owned(),
            kind: record.kind,
            name: record.name.clone(),
            label: record.label.clone(),
            created_at: record.created_at,
            gsi2pk: KEYS.to_owned(),
            gsi2sk: schema::keys_sort(record.kind.as_str(), &record.name, hash),
        };
        match self
            .store
            .put(to_item(&item)?, Some(Condition::NotExists))
            .await
        {
            Ok(()) => Ok(()),
            Err(StoreError::ConditionFailed { .. }) => Err(RepoError::AlreadyExists {
                entity: "key",
                id: hash.to_owned(),
            }),
            Err(other) => Err(other.into()),
        }
    }

    /// The key with this hash, if it exists (strongly consistent: a revoked key stops working
    /// at once).
    pub async fn key(&self, hash: &str) -> Result<Option<StoredKey>, RepoError> {
        check_hash(hash)?;
        match self.store.get(&key_of(hash)).await? {
            Some(item) => Ok(Some(from_item::<KeyItem>(item)?.into())),
            None => Ok(None),
        }
    }

    /// Every key, ordered by kind, name and hash (`gsi2` partition `KEYS`).
    pub async fn list_keys(&self) -> Result<Vec<StoredKey>, RepoError> {
        let page = self.store.query(&Query::index(Index::Gsi2, KEYS)).await?;
        page.items
            .into_iter()
            .map(|item| from_item::<KeyItem>(item).map(StoredKey::from))
            .collect()
    }

    /// Deletes a key; `false` when there was none.
    pub async fn revoke_key(&self, hash: &str) -> Result<bool, RepoError> {
        check_hash(hash)?;
        Ok(self.store.delete(&key_of(hash), None).await?.is_some())
    }
}
