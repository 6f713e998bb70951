//! The repository layer: every storage operation the use cases need, written once on top of
//! the [`Store`] port, so the DynamoDB and SQLite adapters behave alike by construction.
//!
//! [`Repository`] holds a store and a clock and is cheap to clone when the store is. Its
//! operations are grouped by entity (one file each): integration and API keys, configuration
//! snapshots, alert dedup records, incidents (group pointers, links, counters, listings), the
//! timeline, delivery records, idempotency records, schedule overrides, post-mortems and their
//! action items, and web console sessions, sign-in tokens and sign-in counters.
//! `docs/data-model.md` is the access-pattern table (entity, keys, index, condition, TTL, size)
//! and explains the choices; [`schema`] holds every key literal, and a test fails when the doc
//! and the code disagree.
//!
//! Rules every operation follows:
//! - Items are written with serde ([`crate::encode_item`]) and read back with
//!   [`crate::decode_item`], so an item with the wrong shape is [`RepoError::Corrupt`] naming
//!   the attribute (for documents kept as JSON text, the path inside it: `incident.status`).
//! - Free-form documents whose maps come from senders (an alert's labels, an incident's routing
//!   context) are stored as JSON text or gzip-compressed JSON, never as DynamoDB maps: a map
//!   key may be empty in JSON but not in DynamoDB, and nothing accepted may be lost.
//! - Several items that must change together change in one transaction, with at most
//!   [`MAX_TRANSACTION_ITEMS`] operations (moto's limit; DynamoDB allows 100).
//! - Timeline entries are written only inside the conditional write of the state change that
//!   produced them, so a redelivered message cannot record an occurrence twice.

mod alerts;
mod changes;
mod codec;
mod config;
mod console;
mod deliveries;
mod heartbeats;
mod idempotency;
mod incidents;
mod keys;
pub mod lock;
mod overrides;
mod postmortems;
pub mod schema;
mod senders;
mod timeline;

pub use alerts::{
    ALERT_RETENTION, AlertRecord, AlertState, CHUNK_BYTES, Firing, INLINE_BODY_BYTES,
    MAX_BODY_CHUNKS, Resolved, UngroupedAlert,
};
pub use changes::{CHANGE_RETENTION, ChangeRecord, change_details};
pub use config::{CONFIG_PART_BYTES, MAX_CONFIG_PARTS, SavedConfig, StoredConfig};
pub use console::{ConsoleSession, SigninToken};
pub use deliveries::{
    Claim, Delivery, DeliveryOutcome, DeliveryPurpose, DeliveryRecord, DeliveryStatus,
};
pub use idempotency::Begin;
pub use incidents::{
    AlertLinkState, AlertResolvedOutcome, BatchLinked, BatchMember, IncidentAlert,
    LINKS_PER_TRANSACTION, Linked, OPS_PER_LINK, StoredIncident,
};
pub use keys::{KeyKind, KeyRecord, StoredKey};
pub use lock::{Attempt, LOCK_ATTEMPTS, retry_on_conflict};
pub use postmortems::{ListedActionItem, MAX_POSTMORTEM_BYTES, StoredPostmortem};
pub use senders::{AlertChangeWrite, AlertEdits, REQUEST_RETENTION, SenderRequest};

use crate::{Clock, Cursor, Key, Store, StoreError};
use klaxon_domain::Instant;
use klaxon_domain::incident::IncidentError;
use klaxon_domain::timeline::EventSource;
use std::sync::Arc;

/// The most operations one repository transaction uses: moto server's limit (DynamoDB allows
/// 100). Operations that would need more are refused with [`RepoError::Invalid`].
pub const MAX_TRANSACTION_ITEMS: usize = 25;

/// Errors of the repository layer.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// The entity does not exist.
    #[error("{entity} {id} not found")]
    NotFound {
        /// What kind of entity (`incident`, `alert link`, ...).
        entity: &'static str,
        /// Its identifier.
        id: String,
    },
    /// The entity already exists (a create whose key is taken).
    #[error("{entity} {id} already exists")]
    AlreadyExists {
        /// What kind of entity.
        entity: &'static str,
        /// Its identifier.
        id: String,
    },
    /// The entity changed since it was read (an optimistic lock was lost), or kept changing
    /// through every retry.
    #[error("{entity} {id} was changed concurrently; read it again and retry")]
    Conflict {
        /// What kind of entity.
        entity: &'static str,
        /// Its identifier.
        id: String,
    },
    /// An item read back does not have the expected shape.
    #[error("item {key} is corrupt at `{attribute}`: {reason}")]
    Corrupt {
        /// The item's key.
        key: Key,
        /// The attribute, or the path inside it, that is wrong (`*` for the whole item).
        attribute: String,
        /// What is wrong.
        reason: String,
    },
    /// An argument cannot be stored (an identifier that cannot be part of a key, a document
    /// too large even for the chunked form, too many timeline entries for one transaction).
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The argument (or its part) that is wrong.
        field: String,
        /// Why.
        reason: String,
    },
    /// The domain refused the change (for example opening an incident with a resolved alert).
    #[error(transparent)]
    Domain(#[from] IncidentError),
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for RepoError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Corrupt {
                key,
                attribute,
                reason,
            } => RepoError::Corrupt {
                key,
                attribute,
                reason,
            },
            other => RepoError::Store(other),
        }
    }
}

impl RepoError {
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        RepoError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn corrupt(
        key: &Key,
        attribute: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        RepoError::Corrupt {
            key: key.clone(),
            attribute: attribute.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn conflict(entity: &'static str, id: impl Into<String>) -> Self {
        RepoError::Conflict {
            entity,
            id: id.into(),
        }
    }

    pub(crate) fn not_found(entity: &'static str, id: impl Into<String>) -> Self {
        RepoError::NotFound {
            entity,
            id: id.into(),
        }
    }
}

/// One page of a listing, in the listing's order, and where the next page starts (`None`
/// when there is no more; `Some` means there may be more).
#[derive(Debug, Clone, PartialEq)]
pub struct Listing<T> {
    /// The entries of this page.
    pub items: Vec<T>,
    /// Pass it back to read the next page.
    pub next: Option<Cursor>,
}

/// The repository: typed storage operations on top of one [`Store`].
#[derive(Clone)]
pub struct Repository<S> {
    store: S,
    clock: Arc<dyn Clock>,
    source: EventSource,
}

impl<S> std::fmt::Debug for Repository<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repository")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl<S: Store> Repository<S> {
    /// A repository on `store`, reading the time from `clock` (the same clock the store uses
    /// for TTL, so expiry and the times written agree). Timeline records it writes name
    /// `source` as their CloudEvents source (`EventSource::klaxon("grouping")` gives
    /// `/klaxon/grouping`).
    pub fn new(store: S, clock: Arc<dyn Clock>, source: EventSource) -> Self {
        Self {
            store,
            clock,
            source,
        }
    }

    /// The store underneath.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The CloudEvents source of the timeline records this repository writes.
    pub fn source(&self) -> &EventSource {
        &self.source
    }

    /// The current time, from the repository's clock.
    pub fn now(&self) -> Instant {
        self.clock.now()
    }
}

/// Checks a listing's page size.
pub(crate) fn check_limit(limit: u32) -> Result<u32, RepoError> {
    if limit == 0 {
        return Err(RepoError::invalid("limit", "must be at least 1"));
    }
    Ok(limit)
}
