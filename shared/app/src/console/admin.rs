//! The admin page (admin role only): every integration with the URL its sender posts to and
//! its keys (by the start of their hash: a key's secret is shown once, on the page that
//! creates it, and never again), API keys, forms to create and revoke keys, and the applied
//! configuration version with what each earlier version changed, and the dead letters
//! ([`super::dead_letters`]).

use super::dead_letters::DeadLetterQueueRow;
use super::handlers::{Svc, error_page, render, require, require_form_fields};
use super::service::{ConsoleError, ConsoleService, SignedIn};
use super::views::Chrome;
use crate::http::ingest::route as ingest_route;
use crate::ports::{EmailSender, Queue, Timers};
use crate::security::keys::PlainKey;
use crate::usecases::UseCaseError;
use crate::usecases::config::summarize;
use askama::Template;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use klaxon_domain::user::Role;
use klaxon_store::Store;
use klaxon_store::repo::{KeyKind, KeyRecord, StoredKey};
use serde_json::Value;

/// How many earlier configuration versions the page describes.
pub const HISTORY: u64 = 10;

/// A key as the page lists it (never its secret).
#[derive(Debug, Clone)]
pub struct KeyRow {
    /// The first 12 hex digits of the key's hash (what `klaxon keys revoke` takes).
    pub short: String,
    /// The full hash (the revoke form's target).
    pub hash: String,
    /// The integration's or API key's name.
    pub name: String,
    /// The note given at creation.
    pub label: String,
    /// When it was created (UTC).
    pub created: String,
}

/// An integration as the page lists it.
#[derive(Debug, Clone)]
pub struct IntegrationRow {
    /// Its name.
    pub name: String,
    /// Its format.
    pub format: &'static str,
    /// The URL its sender posts to.
    pub endpoint: String,
    /// Its keys.
    pub keys: Vec<KeyRow>,
}

/// One configuration version and what it changed against the one before.
#[derive(Debug, Clone)]
pub struct VersionRow {
    /// The version number.
    pub version: u64,
    /// When it was applied (UTC).
    pub applied_at: String,
    /// Who applied it.
    pub applied_by: String,
    /// One line per changed part (`users: added dana; changed ann`).
    pub changes: Vec<String>,
}

/// Everything the admin page shows.
#[derive(Debug, Clone)]
pub struct AdminView {
    /// The integrations.
    pub integrations: Vec<IntegrationRow>,
    /// API keys.
    pub api_keys: Vec<KeyRow>,
    /// The applied version's fingerprint.
    pub fingerprint: String,
    /// The latest versions, newest first (the first is the one applied).
    pub versions: Vec<VersionRow>,
    /// Whether this deployment lists its dead letters here.
    pub dead_letters_available: bool,
    /// Every dead-letter queue with its dead letters.
    pub dead_letters: Vec<DeadLetterQueueRow>,
}

fn key_row(key: &StoredKey) -> KeyRow {
    KeyRow {
        short: key.hash.chars().take(12).collect(),
        hash: key.hash.clone(),
        name: key.record.name.clone(),
        label: key.record.label.clone().unwrap_or_default(),
        created: key
            .record
            .created_at
            .format("%Y-%m-%d %H:%M UTC")
            .to_string(),
    }
}

fn changes(before: &Value, after: &Value) -> Vec<String> {
    let (sections, others) = summarize(before, after);
    let mut lines: Vec<String> = sections
        .iter()
        .filter_map(|s| {
            let mut parts = Vec::new();
            for (verb, ids) in [
                ("added", &s.added),
                ("removed", &s.removed),
                ("changed", &s.changed),
            ] {
                if !ids.is_empty() {
                    parts.push(format!("{verb} {}", ids.join(", ")));
                }
            }
            (!parts.is_empty()).then(|| format!("{}: {}", s.section, parts.join("; ")))
        })
        .collect();
    lines.extend(others.iter().map(|part| format!("{part} changed")));
    if lines.is_empty() {
        lines.push("no change".to_owned());
    }
    lines
}

pub(super) fn require_admin(who: &SignedIn) -> Result<(), ConsoleError> {
    if who.role == Role::Admin {
        Ok(())
    } else {
        Err(ConsoleError::Forbidden(who.role.as_str()))
    }
}

impl<S: Store, Q: Queue, T: Timers, E: EmailSender> ConsoleService<S, Q, T, E> {
    /// The admin page's content (admins only).
    pub async fn admin(&self, who: &SignedIn) -> Result<AdminView, ConsoleError> {
        require_admin(who)?;
        let config = self.core().config().await?;
        let keys = self.core().repo.list_keys().await?;
        let base = &self.settings().public_url;
        let integrations = (config.integrations.iter())
            .map(|integration| IntegrationRow {
                name: integration.name.to_string(),
                format: integration.format.as_str(),
                endpoint: format!("{base}{}", ingest_route(integration.format)),
                keys: (keys.iter())
                    .filter(|k| {
                        k.record.kind == KeyKind::Integration
                            && k.record.name == integration.name.as_str()
                    })
                    .map(key_row)
                    .collect(),
            })
            .collect();
        let api_keys = (keys.iter())
            .filter(|k| k.record.kind == KeyKind::Api)
            .map(key_row)
            .collect();
        let (fingerprint, versions) = self.config_history().await?;
        let dead_letters = self.dead_letter_rows().await;
        Ok(AdminView {
            integrations,
            api_keys,
            fingerprint,
            versions,
            dead_letters_available: dead_letters.is_some(),
            dead_letters: dead_letters.unwrap_or_default(),
        })
    }

    async fn config_history(&self) -> Result<(String, Vec<VersionRow>), ConsoleError> {
        let repo = &self.core().repo;
        let Some(current) = repo.current_config().await? else {
            return Ok((String::new(), Vec::new()));
        };
        let parse = |json: &str| serde_json::from_str::<Value>(json).unwrap_or(Value::Null);
        let mut rows = Vec::new();
        let mut newer = current.clone();
        let oldest = current.version.saturating_sub(HISTORY).max(1);
        for version in (oldest..current.version).rev() {
            let Some(older) = repo.config_version(version).await? else {
                break;
            };
            rows.push(version_row(
                &newer,
                changes(&parse(&older.json), &parse(&newer.json)),
            ));
            newer = older;
        }
        if newer.version == 1 {
            rows.push(version_row(&newer, vec!["the first version".to_owned()]));
        }
        Ok((current.fingerprint, rows))
    }

    /// Creates a key for integration `name` (or an API key named `name`) as an admin, and
    /// returns its secret: the only time anyone sees it.
    pub async fn create_key(
        &self,
        who: &SignedIn,
        kind: KeyKind,
        name: &str,
        label: &str,
    ) -> Result<(String, PlainKey), ConsoleError> {
        require_admin(who)?;
        let name = name.trim();
        if name.is_empty() {
            return Err(UseCaseError::invalid("name", "must not be empty").into());
        }
        if kind == KeyKind::Integration {
            let config = self.core().config().await?;
            if !config.integrations.iter().any(|i| i.name.as_str() == name) {
                let message = format!("no integration is named {name}");
                return Err(UseCaseError::invalid("name", message).into());
            }
        }
        let key = PlainKey::generate();
        let label = Some(label.trim().to_owned()).filter(|l| !l.is_empty());
        let record = KeyRecord {
            kind,
            name: name.to_owned(),
            label,
            created_at: self.core().now(),
        };
        self.core()
            .repo
            .create_key(key.hash().as_str(), &record)
            .await?;
        tracing::info!(user = %who.user, name, "console: key created");
        Ok((name.to_owned(), key))
    }

    /// Revokes the key with hash `hash` as an admin.
    pub async fn revoke_key(&self, who: &SignedIn, hash: &str) -> Result<(), ConsoleError> {
        require_admin(who)?;
        if !self.core().repo.revoke_key(hash).await? {
            return Err(UseCaseError::NotFound {
                what: "key",
                id: hash.chars().take(12).collect(),
            }
            .into());
        }
        tracing::info!(user = %who.user, "console: key revoked");
        Ok(())
    }
}

fn version_row(stored: &klaxon_store::repo::StoredConfig, changes: Vec<String>) -> VersionRow {
    VersionRow {
        version: stored.version,
        applied_at: stored.applied_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        applied_by: stored.applied_by.to_string(),
        changes,
    }
}

/// The admin page.
#[derive(Template)]
#[template(path = "admin.html")]
pub struct AdminPage {
    /// The frame.
    pub chrome: Chrome,
    /// Heading and title.
    pub title: String,
    /// What it shows.
    pub view: AdminView,
    /// The forms' CSRF token.
    pub csrf: String,
    /// A key just created: `(name, secret)`, shown this once.
    pub created: Option<(String, String)>,
    /// A notice after a change.
    pub notice: Option<String>,
}

pub(super) async fn admin_page<S: Store, Q: Queue, T: Timers, E: EmailSender>(
    svc: &ConsoleService<S, Q, T, E>,
    who: &SignedIn,
    created: Option<(String, String)>,
    notice: Option<String>,
) -> Response {
    match svc.admin(who).await {
        Ok(view) => render(&AdminPage {
            chrome: Chrome::new(Some(who)),
            title: "Admin".to_owned(),
            view,
            csrf: who.csrf.clone(),
            created,
            notice,
        }),
        Err(error) => error_page(error, Some(who)),
    }
}

pub(super) async fn page<S: Store, Q: Queue, T: Timers, E: EmailSender>(
    State(svc): State<Svc<S, Q, T, E>>,
    headers: HeaderMap,
) -> Response {
    match require(&svc, &headers).await {
        Ok(who) => admin_page(&svc, &who, None, None).await,
        Err(response) => response,
    }
}

/// `POST /console/admin/keys` (`csrf`, `kind` = `integration`|`api`, `name`, `label`): the
/// page with the new key's secret, shown this once.
pub(super) async fn create_key<S: Store, Q: Queue, T: Timers, E: EmailSender>(
    State(svc): State<Svc<S, Q, T, E>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (who, form) = match require_form_fields(&svc, &headers, body).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let kind = match form.text("kind") {
        Some("api") => KeyKind::Api,
        Some("integration") | None => KeyKind::Integration,
        Some(_) => {
            let error = UseCaseError::invalid("kind", "must be integration or api");
            return error_page(error.into(), Some(&who));
        }
    };
    let name = form.text("name").unwrap_or_default();
    let label = form.text("label").unwrap_or_default();
    match svc.create_key(&who, kind, name, label).await {
        Ok((name, key)) => {
            let created = Some((name, key.expose().to_owned()));
            admin_page(&svc, &who, created, None).await
        }
        Err(error) => error_page(error, Some(&who)),
    }
}

/// `POST /console/admin/keys/{hash}/revoke` (`csrf`).
pub(super) async fn revoke_key<S: Store, Q: Queue, T: Timers, E: EmailSender>(
    State(svc): State<Svc<S, Q, T, E>>,
    headers: HeaderMap,
    Path(hash): Path<String>,
    body: Body,
) -> Response {
    let (who, _) = match require_form_fields(&svc, &headers, body).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    match svc.revoke_key(&who, &hash).await {
        Ok(()) => {
            let short: String = hash.chars().take(12).collect();
            let notice = Some(format!(
                "Key {short}… is revoked: senders using it are refused now."
            ));
            admin_page(&svc, &who, None, notice).await
        }
        Err(error) => error_page(error, Some(&who)),
    }
}
