//! The configuration use case: the current configuration, read from the store and cached; and
//! reading and uploading it through the API (`GET` and `PUT /v1/config`), with the summary of
//! what an upload changed.
//!
//! Functions cache the parsed configuration for [`ConfigCache::ttl`] (30 s by default), so an
//! applied change reaches every function within that time, and a warm Lambda reads the config
//! pointer at most twice a minute.

use super::UseCaseError;
use super::queries::QueryService;
use klaxon_domain::config::{Config, ConfigErrors, ConfigFormat, ConfigPath};
use klaxon_domain::timeline::Actor;
use klaxon_store::Store;
use klaxon_store::repo::Repository;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
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

// --- Reading and uploading the configuration (`GET` and `PUT /v1/config`) ---------------

/// The largest configuration body accepted, in bytes.
pub const MAX_CONFIG_BYTES: usize = 4 * 1024 * 1024;

/// The current configuration.
#[derive(Debug, Clone, Serialize)]
pub struct ConfigSnapshot {
    /// Its version (1, 2, …).
    pub version: u64,
    /// SHA-256 of its canonical JSON.
    pub fingerprint: String,
    /// When it was applied.
    pub applied_at: klaxon_domain::Instant,
    /// Who applied it.
    pub applied_by: Actor,
    /// The configuration in canonical form (defaults written out).
    pub config: Value,
}

/// What changed in one list section of the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SectionChange {
    /// The section's path (`users`, `routing.rules`, …).
    pub section: &'static str,
    /// Entries before.
    pub before: usize,
    /// Entries after.
    pub after: usize,
    /// Ids (or names) added.
    pub added: Vec<String>,
    /// Ids (or names) removed.
    pub removed: Vec<String>,
    /// Ids (or names) present before and after, with different content.
    pub changed: Vec<String>,
}

/// The result of an upload.
#[derive(Debug, Clone, Serialize)]
pub struct ConfigApplied {
    /// The current version after the upload.
    pub version: u64,
    /// Its fingerprint.
    pub fingerprint: String,
    /// True when the upload equals the current version (nothing was written).
    pub unchanged: bool,
    /// The version that was current before, if any.
    pub previous_version: Option<u64>,
    /// Per list section: counts and the ids added, removed and changed.
    pub sections: Vec<SectionChange>,
    /// Other parts that changed (`settings`, `routing.defaults`, …).
    pub other_changes: Vec<&'static str>,
    /// Validation warnings (`path: message`); they do not stop an upload.
    pub warnings: Vec<String>,
}

/// Why an upload was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigUploadError {
    /// The file does not parse or validate: every error, with its path.
    #[error("{0}")]
    Invalid(ConfigErrors),
    /// Anything else (storage).
    #[error(transparent)]
    Other(#[from] UseCaseError),
}

/// The list sections of a configuration and the key naming their entries.
const LIST_SECTIONS: [(&str, &str); 8] = [
    ("users", "id"),
    ("schedules", "id"),
    ("escalation_policies", "id"),
    ("grouping.rules", "id"),
    ("routing.rules", "id"),
    ("maintenance_windows", "id"),
    ("integrations", "name"),
    ("notifications.webhooks", "name"),
];

/// The other parts of a configuration, compared as a whole.
const OTHER_PARTS: [&str; 5] = [
    "grouping.default_window",
    "routing.defaults",
    "notifications.slack",
    "notifications.teams",
    "settings",
];

impl<S: Store> QueryService<S> {
    /// The current configuration, read from the store (not the cache).
    pub async fn current_config(&self) -> Result<ConfigSnapshot, UseCaseError> {
        let stored = self
            .core()
            .repo
            .current_config()
            .await?
            .ok_or(UseCaseError::NoConfig)?;
        let config =
            serde_json::from_str(&stored.json).map_err(|e| UseCaseError::BadStoredConfig {
                version: stored.version,
                reason: e.to_string(),
            })?;
        Ok(ConfigSnapshot {
            version: stored.version,
            fingerprint: stored.fingerprint,
            applied_at: stored.applied_at,
            applied_by: stored.applied_by,
            config,
        })
    }

    /// Validates and applies a configuration file (YAML or JSON, see [`detect_format`]).
    /// Every validation error is returned at once; a valid file is stored as a new version
    /// (or reported unchanged) and this process's cached configuration is dropped.
    pub async fn upload_config(
        &self,
        body: &[u8],
        content_type: Option<&str>,
        actor: &Actor,
    ) -> Result<ConfigApplied, ConfigUploadError> {
        let invalid = |message: &str| {
            ConfigUploadError::Invalid(ConfigErrors::single(ConfigPath::root(), message))
        };
        let text = std::str::from_utf8(body).map_err(|_| invalid("the body is not UTF-8 text"))?;
        // Some editors and senders start files with a UTF-8 byte-order mark.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        if text.trim().is_empty() {
            return Err(invalid(
                "the body is empty: send the whole configuration file (an empty file would remove every user, schedule and policy)",
            ));
        }
        let config = match detect_format(content_type, text) {
            ConfigFormat::Yaml => Config::from_yaml(text),
            ConfigFormat::Json => Config::from_json(text),
        }
        .map_err(ConfigUploadError::Invalid)?;
        let internal = |e: serde_json::Error| {
            ConfigUploadError::Other(UseCaseError::invalid("config", e.to_string()))
        };
        let canonical = config.to_canonical_json().map_err(internal)?;
        let fingerprint = config.fingerprint().map_err(internal)?;
        let previous = self
            .core()
            .repo
            .current_config()
            .await
            .map_err(UseCaseError::from)?;
        let saved = self
            .core()
            .repo
            .save_config(&canonical, &fingerprint, actor)
            .await
            .map_err(UseCaseError::from)?;
        self.core().config.invalidate().await;
        let before = previous
            .as_ref()
            .and_then(|p| serde_json::from_str::<Value>(&p.json).ok())
            .unwrap_or(Value::Null);
        let after = serde_json::from_str::<Value>(&canonical).unwrap_or(Value::Null);
        let (sections, other_changes) = summarize(&before, &after);
        Ok(ConfigApplied {
            version: saved.version,
            fingerprint: saved.fingerprint,
            unchanged: saved.unchanged,
            previous_version: previous.map(|p| p.version),
            sections,
            other_changes,
            warnings: config.warnings().iter().map(ToString::to_string).collect(),
        })
    }
}

/// YAML or JSON: by the content type when it names one (`application/json`, `+json`,
/// `application/yaml`, `text/yaml`, `application/x-yaml`), otherwise by the text (a JSON
/// document starts with `{`; YAML is the default, and JSON is valid YAML anyway).
pub fn detect_format(content_type: Option<&str>, text: &str) -> ConfigFormat {
    let essence = content_type
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if essence == "application/json" || essence.ends_with("+json") {
        return ConfigFormat::Json;
    }
    if essence.contains("yaml") {
        return ConfigFormat::Yaml;
    }
    if text.trim_start().starts_with('{') {
        ConfigFormat::Json
    } else {
        ConfigFormat::Yaml
    }
}

/// The value at a dotted path.
fn at_path<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(value, |v, key| v.get(key))
}

/// Entries of a list section by their id.
fn entries<'v>(value: &'v Value, path: &str, id_key: &str) -> BTreeMap<String, &'v Value> {
    at_path(value, path)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(|item| {
                    let id = item
                        .get(id_key)
                        .and_then(Value::as_str)
                        .unwrap_or("?")
                        .to_owned();
                    (id, item)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Compares two configurations (canonical JSON values; `Null` for none): per list section the
/// ids added, removed and changed, and the other parts that changed. (`PUT /v1/config` answers
/// with it; `klaxon config apply` prints it above its diff.)
pub fn summarize(before: &Value, after: &Value) -> (Vec<SectionChange>, Vec<&'static str>) {
    let sections = LIST_SECTIONS
        .iter()
        .map(|(section, id_key)| {
            let old = entries(before, section, id_key);
            let new = entries(after, section, id_key);
            let ids: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
            let mut change = SectionChange {
                section,
                before: old.len(),
                after: new.len(),
                added: Vec::new(),
                removed: Vec::new(),
                changed: Vec::new(),
            };
            for id in ids {
                match (old.get(id), new.get(id)) {
                    (None, Some(_)) => change.added.push(id.clone()),
                    (Some(_), None) => change.removed.push(id.clone()),
                    (Some(a), Some(b)) if a != b => change.changed.push(id.clone()),
                    _ => {}
                }
            }
            change
        })
        .collect();
    let empty = Value::Object(Map::new());
    let others = OTHER_PARTS
        .iter()
        .copied()
        .filter(|path| {
            let a = at_path(before, path).unwrap_or(&empty);
            let b = at_path(after, path).unwrap_or(&empty);
            a != b
        })
        .collect();
    (sections, others)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_follows_the_content_type_then_the_text() {
        let yaml = "users: []\n";
        let json = "  {\"users\": []}";
        assert_eq!(
            detect_format(Some("application/json"), yaml),
            ConfigFormat::Json
        );
        assert_eq!(
            detect_format(Some("application/vnd.klaxon+json; charset=utf-8"), yaml),
            ConfigFormat::Json
        );
        assert_eq!(
            detect_format(Some("application/yaml"), json),
            ConfigFormat::Yaml
        );
        assert_eq!(detect_format(Some("text/x-yaml"), json), ConfigFormat::Yaml);
        assert_eq!(detect_format(Some("text/plain"), json), ConfigFormat::Json);
        assert_eq!(detect_format(None, yaml), ConfigFormat::Yaml);
        assert_eq!(detect_format(None, json), ConfigFormat::Json);
    }

    #[test]
    fn the_summary_lists_added_removed_and_changed_entries() {
        let before = serde_json::json!({
            "users": [{"id": "a", "name": "A"}, {"id": "b", "name": "B"}],
            "integrations": [{"name": "prom", "format": "native"}],
            "settings": {"auto_resolve": true},
        });
        let after = serde_json::json!({
            "users": [{"id": "a", "name": "A2"}, {"id": "c", "name": "C"}],
            "integrations": [{"name": "prom", "format": "native"}],
            "settings": {"auto_resolve": false},
        });
        let (sections, others) = summarize(&before, &after);
        let users = sections.iter().find(|s| s.section == "users").unwrap();
        assert_eq!((users.before, users.after), (2, 2));
        assert_eq!(users.added, ["c"]);
        assert_eq!(users.removed, ["b"]);
        assert_eq!(users.changed, ["a"]);
        let integrations = sections
            .iter()
            .find(|s| s.section == "integrations")
            .unwrap();
        assert!(integrations.added.is_empty() && integrations.changed.is_empty());
        assert_eq!(others, ["settings"]);

        let (first, _) = summarize(&Value::Null, &after);
        assert_eq!(
            first.iter().find(|s| s.section == "users").unwrap().added,
            ["a", "c"]
        );
    }
}
