//! Klaxon's storage port: a narrow item-level interface to one single table, with typed
//! conditions, queries by partition, all-or-nothing transactions and TTL, implemented by the
//! DynamoDB adapter (`klaxon-aws`) and the SQLite adapter (`klaxon-local`).
//!
//! Items are [`serde_dynamo::Item`]s (SDK-independent DynamoDB attribute values), so the key
//! design and the repositories are written once on top of [`Store`]. Generic attributes:
//! `pk`/`sk` (table key), `gsi1pk`/`gsi1sk`, `gsi2pk`/`gsi2sk` and `gsi3pk`/`gsi3sk` (sparse
//! overloaded indexes), `version` (optimistic locking) and `ttl` (expiry, epoch seconds) — see
//! [`key::attr`].
//!
//! Shared rules both adapters apply, so they behave alike:
//! - [`item`]: DynamoDB's item size arithmetic (400 KB limit), validation, TTL expiry, equality.
//! - [`Condition::evaluate`], [`update::apply_actions`]: condition and update semantics.
//! - [`Cursor`]: one opaque pagination token format for both adapters.
//! - [`table`]: the table definition from `infra/table.json`.
//!
//! [`repo`] is the repository layer the use cases call: every access pattern written once on
//! top of [`Store`] (keys, configuration, alerts, incidents, timeline, deliveries, idempotency,
//! overrides), documented in `docs/data-model.md`.

// At most 80 lines per function (clippy.toml), in every crate under shared/ and functions/.
#![warn(clippy::too_many_lines)]

pub mod clock;
pub mod condition;
pub mod error;
pub mod item;
pub mod key;
pub mod number;
pub mod port;
pub mod query;
pub mod repo;
pub mod table;
pub mod transact;
pub mod update;

pub use clock::{Clock, ManualClock, SystemClock};
pub use condition::Condition;
pub use error::{CancelReason, StoreError};
pub use key::{Index, Key, attr};
pub use port::{Store, StoreExt, decode_item, encode_item};
pub use query::{Cursor, Order, Page, Query, SortCondition};
pub use repo::{RepoError, Repository};
pub use serde_dynamo::{AttributeValue, Item};
pub use table::TableDefinition;
pub use transact::TransactOp;
pub use update::{ReturnValues, UpdateAction};
