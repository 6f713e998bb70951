//! Klaxon's local adapters, for `klaxon serve` and tests: the SQLite store ([`store`]), durable
//! queues ([`queue`]) and timers ([`timers`]) on SQLite, the console/outbox and SMTP senders
//! ([`outbox`], [`smtp`]), the workers that drive queues and timers ([`worker`]), and the
//! assembly of the whole local server, `klaxon serve` ([`runtime`]).

// At most 80 lines per function (clippy.toml), in every crate under shared/ and functions/.
#![warn(clippy::too_many_lines)]

pub mod outbox;
pub mod queue;
pub mod runtime;
pub mod smtp;
mod sqlite;
pub mod store;

pub use sqlite::Durability;
pub mod timers;
pub mod worker;
