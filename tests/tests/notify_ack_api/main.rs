//! Notify, acknowledge and API, end to end over the use cases and the axum routers, on the
//! embedded SQLite store with the recording port doubles:
//!
//! - `notify`: pages and notices reach each (user, channel) once, stop after an ack, retry
//!   only what failed transiently, record permanent failures, sign webhooks.
//! - `ack`: signed links (GET shows, POST acts), the API's acknowledge/resolve, Slack buttons.
//! - `api`: incidents, on-call, ICS feeds, overrides, configuration upload, authentication.

// Test code: a failed set-up or assertion should stop the test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod ack;
mod analytics;
mod api;
mod console_analytics;
mod harness;
mod notify;
mod timer_race;
