//! Timeline entries: append-only CloudEvents 1.0 records.
//!
//! Domain functions produce [`TimelineDraft`]s: what happened ([`TimelineEntry`], typed per kind
//! so nobody can misspell an event type), to which incident, when, by whom, and a key that is
//! deterministic for the occurrence. The function that stores the entry turns a draft into a
//! [`TimelineRecord`] by naming itself as the CloudEvents `source` ([`EventSource`]).
//!
//! A record's serde form *is* the CloudEvents 1.0 JSON event format:
//!
//! ```json
//! {
//!   "specversion": "1.0",
//!   "id": "0192abcd/escalation.v1.0",
//!   "source": "/klaxon/routing",
//!   "subject": "0192abcd",
//!   "time": "2026-01-05T09:00:00Z",
//!   "datacontenttype": "application/json",
//!   "actor": "system:routing",
//!   "type": "io.klaxon.escalation.tier_paged",
//!   "data": { "policy": "infra", "round": 0, "tier": 0, "targets": [{"user": "alice"}], ... }
//! }
//! ```
//!
//! The actor travels as the extension attribute `actor` (CloudEvents attribute names must be
//! lowercase ASCII letters and digits, and extension values must be scalars, so it is the string
//! `kind:name`, see [`Actor`]). The `id` is `{subject}/{key}`: the same occurrence always gets the
//! same id, so a handler that re-runs after a crash writes the same record again instead of a
//! second one, and `source` + `id` stays unique as the spec requires.

mod attributes;
mod entry;
mod record;

pub use attributes::{Actor, EntryKey, EventSource};
pub use entry::TimelineEntry;
pub use record::{TimelineDraft, TimelineRecord};

/// The CloudEvents specification version Klaxon writes (`specversion`).
pub const SPEC_VERSION: &str = "1.0";
/// The media type of every record's `data` (`datacontenttype`).
pub const DATA_CONTENT_TYPE: &str = "application/json";
/// Maximum length of an [`EntryKey`].
pub const MAX_ENTRY_KEY_LEN: usize = 128;

/// Why a timeline value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimelineError {
    /// `specversion` was not `1.0`.
    #[error("specversion: expected \"1.0\", got {0:?}")]
    SpecVersion(String),
    /// `datacontenttype` was present and not `application/json`.
    #[error("datacontenttype: expected \"application/json\", got {0:?}")]
    DataContentType(String),
    /// `id` was empty.
    #[error("id: must not be empty")]
    EmptyId,
    /// `source` was not a usable URI-reference.
    #[error("source: {reason} (got {value:?}; example: \"/klaxon/routing\")")]
    Source {
        /// The rejected value.
        value: String,
        /// What was wrong with it.
        reason: &'static str,
    },
    /// An entry key was empty, too long or had a character outside `[A-Za-z0-9._:-]`.
    #[error(
        "entry key: must be 1 to 128 characters of letters, digits, '.', '_', ':' and '-' (got {0:?})"
    )]
    EntryKey(String),
    /// The `actor` attribute was not `system:…`, `user:…`, `integration:…` or `apikey:…`.
    #[error(
        "actor: expected \"system:NAME\", \"user:ID\", \"integration:NAME\" or \"apikey:NAME\" (got {value:?}): {reason}"
    )]
    Actor {
        /// The rejected value.
        value: String,
        /// What was wrong with it.
        reason: String,
    },
}

#[cfg(test)]
mod tests;
