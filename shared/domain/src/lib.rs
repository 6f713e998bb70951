//! Klaxon's domain: every rule of on-call paging, with no I/O.
//!
//! Nothing in this crate reads a clock, a file, the network or a random number generator:
//! the current time, generated identifiers and configuration are passed in. That keeps every
//! rule deterministic and testable with fixed inputs, and lets the same code run inside a
//! Lambda function, inside `klaxon serve`, and inside a dry-run (`klaxon route test`).
//!
//! Map of the crate:
//! - [`alert`]: the normalised [`alert::Alert`] every ingest format produces.
//! - [`ingest`]: parsers for the native, PagerDuty, Opsgenie, Alertmanager, Grafana and
//!   CloudWatch/SNS formats.
//! - [`matcher`]: label/field matchers shared by grouping, routing and maintenance windows.
//! - [`grouping`], [`routing`]: priority-ordered rules.
//! - [`escalation`]: the pure escalation state machine.
//! - [`schedule`]: rotations, layers, restrictions, overrides and on-call resolution.
//! - [`incident`], [`timeline`]: incident lifecycle and CloudEvents timeline entries.
//! - [`user`]: responders and their contact methods.
//! - [`heartbeat`]: heartbeats (dead man's switch): pings, one versioned timer, expiry.
//! - [`config`]: configuration as code, validated with exact error paths.
//! - [`postmortem`]: post-mortems (templates, facts, sections, status, action items) and
//!   their Markdown export.
//! - [`analytics`]: response metrics (time to acknowledge and resolve, pages, off-hours
//!   pages) per incident and aggregated over a period.
//! - [`vocabulary`]: the small enums (urgency, resolve and stop reasons, targets) the modules
//!   above share; a leaf, so the module graph has no cycles.

// At most 80 lines per function (clippy.toml), in every crate under shared/ and functions/.
#![warn(clippy::too_many_lines)]

pub mod alert;
pub mod analytics;
pub mod config;
pub mod declare;
pub mod duration;
pub mod escalation;
pub mod grouping;
pub mod heartbeat;
pub mod ids;
pub mod incident;
pub mod ingest;
pub mod matcher;
pub mod postmortem;
pub mod quiet;
pub mod routing;
pub mod schedule;
pub mod timeline;
pub mod user;
pub mod vocabulary;

pub use chrono;
pub use chrono_tz;

/// A UTC instant. Every instant in the domain is UTC; local times only appear inside schedules.
pub type Instant = chrono::DateTime<chrono::Utc>;
