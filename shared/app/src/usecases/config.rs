//! The current configuration, read from the store and cached.
//!
//! Functions cache the parsed configuration for [`ConfigCache::ttl`] (30 s by default), so an
//! applied change reaches every function within that time, and a warm Lambda reads the config
//! pointer at most twice a minute.

use super::UseCaseError;
use klaxon_domain::config::Config;
use klaxon_store::Store;
use klaxon_store::repo::Repository;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::RwLock;

/// A parsed configuration and its stored version.
#[derive(Debug)]
pub struct LoadedConfig {
    /// The stored version (1, 2, …).
    pub version: u64,
    /// The configuration.
    pub config: Config,
}

impl std::ops::Deref for LoadedConfig {
    type Target = Config;
    fn deref(&self) -> &Config {
        &self.config
    }
}

/// Caches the current configuration.
#[derive(Debug)]
pub struct ConfigCache {
    ttl: Duration,
    cached: RwLock<Option<(Arc<LoadedConfig>, Instant)>>,
}

impl Default for ConfigCache {
    fn default() -> Self {
        Self::new(Duration::from_secs(30))
    }
}

impl ConfigCache {
    /// A cache keeping a configuration for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            cached: RwLock::new(None),
        }
    }

    /// A cache pre-filled with `config` (local mode applies the file at start-up and keeps it).
    pub fn with(config: LoadedConfig, ttl: Duration) -> Self {
        Self {
            ttl,
            cached: RwLock::new(Some((Arc::new(config), Instant::now()))),
        }
    }

    /// How long a configuration is kept.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Forgets the cached configuration (after `PUT /v1/config`).
    pub async fn invalidate(&self) {
        *self.cached.write().await = None;
    }

    /// The current configuration: cached if fresh, else read from the store.
    pub async fn get<S: Store>(
        &self,
        repo: &Repository<S>,
    ) -> Result<Arc<LoadedConfig>, UseCaseError> {
        if let Some((config, at)) = self.cached.read().await.as_ref()
            && at.elapsed() < self.ttl
        {
            return Ok(config.clone());
        }
        let mut slot = self.cached.write().await;
        if let Some((config, at)) = slot.as_ref()
            && at.elapsed() < self.ttl
        {
            return Ok(config.clone());
        }
        let stored = repo.current_config().await?.ok_or(UseCaseError::NoConfig)?;
        if let Some((config, _)) = slot.as_ref()
            && config.version == stored.version
        {
            // Unchanged: keep the parsed copy, restart its clock.
            let config = config.clone();
            *slot = Some((config.clone(), Instant::now()));
            return Ok(config);
        }
        let config =
            Config::from_json(&stored.json).map_err(|errors| UseCaseError::BadStoredConfig {
                version: stored.version,
                reason: errors.to_string(),
            })?;
        let loaded = Arc::new(LoadedConfig {
            version: stored.version,
            config,
        });
        *slot = Some((loaded.clone(), Instant::now()));
        Ok(loaded)
    }
}
