//! API-key authentication, shared by the `ack` and `api` functions.
//!
//! An API key is looked up by its SHA-256 (only hashes are stored) and the stored hash is
//! compared in constant time before it is trusted. Integration keys send alerts and nothing
//! else: presenting one to the API is refused with 403, so a leaked alert-sender key cannot
//! acknowledge incidents or rewrite the configuration.

use super::{Core, UseCaseError};
use crate::security::keys::{KeyHash, PlainKey};
use klaxon_domain::timeline::Actor;
use klaxon_store::Store;
use klaxon_store::repo::KeyKind;

/// Who called the API: the name of the API key used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiPrincipal {
    /// The key's name (as given when it was created).
    pub name: String,
}

impl ApiPrincipal {
    /// The timeline actor for actions taken with this key (`apikey:<name>`).
    pub fn actor(&self) -> Actor {
        Actor::ApiKey {
            name: self.name.clone(),
        }
    }
}

/// Authenticates an API call: `key` is the secret from `Authorization: Bearer`, `X-Klaxon-Key`
/// or (for calendar feeds) `?key=`. No key or an unknown key is [`UseCaseError::Unauthorized`]
/// (401); an integration key is [`UseCaseError::Forbidden`] (403).
pub async fn authenticate_api<S: Store>(
    core: &Core<S>,
    key: Option<&str>,
) -> Result<ApiPrincipal, UseCaseError> {
    let key = key
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            UseCaseError::Unauthorized(
                "an API key is required (Authorization: Bearer <key> or X-Klaxon-Key)".into(),
            )
        })?;
    let hash = PlainKey::from_client(key).hash();
    let stored = core
        .repo
        .key(hash.as_str())
        .await?
        .filter(|stored| KeyHash(stored.hash.clone()).matches(&hash))
        .ok_or_else(|| UseCaseError::Unauthorized("unknown or revoked API key".into()))?;
    match stored.record.kind {
        KeyKind::Api => Ok(ApiPrincipal {
            name: stored.record.name,
        }),
        KeyKind::Integration => Err(UseCaseError::Forbidden(
            "this is an integration key, which can only send alerts; use an API key".into(),
        )),
    }
}
