//! Klaxon's local adapters, for `klaxon serve` and tests: the SQLite store ([`store`]), durable
//! queues ([`queue`]) and timers ([`timers`]) on SQLite, the console/outbox and SMTP senders
//! ([`outbox`], [`smtp`]), and the runtime that drives queues and timers ([`worker`]).

pub mod outbox;
pub mod queue;
pub mod smtp;
pub mod store;
pub mod timers;
pub mod worker;
