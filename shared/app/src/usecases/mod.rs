//! Use cases, written once and generic over the ports: the Lambda functions and `klaxon serve`
//! call exactly these.
//!
//! - [`ingest`]: authenticate, parse, deduplicate, enqueue (the `ingest` function).
//! - [`grouping`]: find or create the incident, link, auto-resolve (`grouping`).
//! - [`routing`]: route, escalate, fire timers, recover lost work (`routing`).
//! - [`lifecycle`]: acknowledge and resolve, shared by `ack`, `grouping` and the API.
//! - [`notify`]: resolve who is on call and send pages and notices (`notify`).
//! - [`queries`]: incidents, timelines, on-call, overrides (`api`).
//! - [`config`]: the cached current configuration; reading and uploading it (`api`).
//! - [`ack`]: signed links, API and Slack acknowledge/resolve (`ack`).
//! - [`heartbeats`]: heartbeat pings, expiry on a fired heartbeat timer, the listing.
//! - [`postmortems`]: post-mortems and their action items (`api`).
//! - [`access`]: API-key authentication shared by `ack` and `api`.

pub mod access;
pub mod ack;
pub mod actions;
pub mod changes;
pub mod config;
pub mod declare;
pub mod effects;
pub mod error;
pub mod grouping;
pub mod heartbeats;
pub mod ingest;
pub mod lifecycle;
pub mod notify;
pub mod opsgenie;
pub mod postmortems;
pub mod queries;
mod quiet;
pub mod routing;

pub use config::{ConfigCache, LoadedConfig};
pub use error::UseCaseError;

use crate::ports::IdGenerator;
use klaxon_store::Clock;
use klaxon_store::Store;
use klaxon_store::repo::Repository;
use std::sync::Arc;

/// What every use case needs: the repository, the current configuration, a clock and an id
/// generator. Built once per process (per Lambda cold start).
pub struct Core<S> {
    /// The repository over the store.
    pub repo: Repository<S>,
    /// The current configuration, cached (shared between the services of one process, so an
    /// upload through the API is seen by every use case at once).
    pub config: Arc<ConfigCache>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Identifier generator.
    pub ids: Arc<dyn IdGenerator>,
}

impl<S: Store> Core<S> {
    /// Assembles a core.
    pub fn new(
        repo: Repository<S>,
        config: impl Into<Arc<ConfigCache>>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
    ) -> Self {
        Self {
            repo,
            config: config.into(),
            clock,
            ids,
        }
    }

    /// The current configuration (cached; reloaded when stale).
    pub async fn config(&self) -> Result<Arc<LoadedConfig>, UseCaseError> {
        self.config.get(&self.repo).await
    }

    /// Now.
    pub fn now(&self) -> klaxon_domain::Instant {
        self.clock.now()
    }
}

crate::fmt_hidden::opaque_debug!(Core<S>);
