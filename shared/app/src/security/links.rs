//! Signed acknowledge/resolve links.
//!
//! A link carries the incident, the user it was sent to, the action and an expiry, plus an
//! HMAC-SHA256 over exactly those four values under the deployment's signing secret. Anyone with
//! the link can perform that one action for that one incident until it expires; nothing else.
//! `GET` on a link shows a confirmation page and only `POST` acts, so mail scanners that
//! prefetch links cannot acknowledge incidents.
//!
//! Links also name their key (`k`, a fingerprint of the secret, never the secret). A signer
//! signs with its current key and verifies with it and with *retired* keys, each accepted until
//! its own end: rotating the secret keeps the links already sent working until they expire
//! (retire the old key for at least the links' lifetime). Links from before key ids existed
//! carry no `k` and are tried against every accepted key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use klaxon_domain::ids::{IncidentId, UserId};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::sync::{Arc, RwLock};

/// What a link does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkAction {
    /// Acknowledge the incident.
    Ack,
    /// Resolve the incident.
    Resolve,
}

impl LinkAction {
    /// The action's name in URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkAction::Ack => "ack",
            LinkAction::Resolve => "resolve",
        }
    }
}

/// The query parameters of a signed link (`?i=…&u=…&a=…&e=…&s=…`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedLink {
    /// Incident id.
    #[serde(rename = "i")]
    pub incident: String,
    /// User id the link was sent to.
    #[serde(rename = "u")]
    pub user: String,
    /// Action.
    #[serde(rename = "a")]
    pub action: LinkAction,
    /// Expiry, Unix seconds.
    #[serde(rename = "e")]
    pub expires: i64,
    /// Signature, unpadded base64url of the HMAC-SHA256.
    #[serde(rename = "s")]
    pub signature: String,
    /// Id of the key that signed it ([`LinkSigner::key_id`]); absent on links signed before
    /// key ids existed.
    #[serde(rename = "k", default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// Why a link was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// The signature does not match: the link was altered or signed with another secret.
    #[error("this link is not valid (it was altered or belongs to another deployment)")]
    BadSignature,
    /// The link is older than its lifetime.
    #[error("this link expired at {0}")]
    Expired(DateTime<Utc>),
    /// The link names an incident or user that cannot exist.
    #[error("this link is malformed: {0}")]
    Malformed(String),
}

/// A verified link's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedLink {
    /// The incident.
    pub incident: IncidentId,
    /// The user it was sent to (the actor of the action).
    pub user: UserId,
    /// The action.
    pub action: LinkAction,
}

/// One signing key: its id and the keyed MAC (cloned for each use: keying once is cheaper and
/// cannot fail later).
#[derive(Clone)]
struct LinkKey {
    id: String,
    keyed: Hmac<Sha256>,
}

impl LinkKey {
    fn new(secret: &[u8]) -> Result<Self, LinkError> {
        if secret.len() < MIN_SECRET_LEN {
            return Err(LinkError::Malformed(format!(
                "the signing secret must be at least {MIN_SECRET_LEN} bytes"
            )));
        }
        let keyed = <Hmac<Sha256> as Mac>::new_from_slice(secret)
            .map_err(|_| LinkError::Malformed("unusable signing secret".into()))?;
        Ok(Self {
            id: key_id(secret),
            keyed,
        })
    }

    fn mac(&self, incident: &str, user: &str, action: LinkAction, expires: i64) -> Hmac<Sha256> {
        let mut mac = self.keyed.clone();
        // Length-prefixed fields: no two different tuples produce the same MAC input.
        for field in [incident, user, action.as_str(), &expires.to_string()] {
            mac.update(&(field.len() as u64).to_be_bytes());
            mac.update(field.as_bytes());
        }
        mac
    }
}

/// The id of the key `secret`: the first 8 bytes of its SHA-256, unpadded base64url. It names
/// the key in links without revealing it.
pub fn key_id(secret: &[u8]) -> String {
    use sha2::Digest;
    URL_SAFE_NO_PAD.encode(&Sha256::digest(secret)[..8])
}

/// A retired key: still accepted (never used to sign) until `until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetiredSecret {
    /// The secret.
    pub secret: String,
    /// The end of its acceptance.
    pub until: DateTime<Utc>,
}

impl RetiredSecret {
    /// Parses a list of retired keys, as stored (`LINK_SIGNING_RETIRED`): whitespace-separated
    /// `UNTIL:SECRET` entries, `UNTIL` in Unix seconds. An empty text is no retired key.
    pub fn parse_list(text: &str) -> Result<Vec<RetiredSecret>, LinkError> {
        text.split_whitespace()
            .map(|entry| {
                let malformed = || {
                    LinkError::Malformed("a retired key must be written UNTIL:SECRET".to_owned())
                };
                let (until, secret) = entry.split_once(':').ok_or_else(malformed)?;
                let until = until
                    .parse::<i64>()
                    .ok()
                    .and_then(|secs| DateTime::<Utc>::from_timestamp(secs, 0))
                    .ok_or_else(malformed)?;
                Ok(RetiredSecret {
                    secret: secret.to_owned(),
                    until,
                })
            })
            .collect()
    }

    /// Writes `list` back in the form [`RetiredSecret::parse_list`] reads.
    pub fn format_list(list: &[RetiredSecret]) -> String {
        list.iter()
            .map(|retired| format!("{}:{}", retired.until.timestamp(), retired.secret))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The stored form of a deployment's link keys (the Secrets Manager secret's JSON:
/// `{"current": "...", "retired": [{"secret": "...", "until": "2027-01-01T00:00:00Z"}]}`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkKeys {
    /// The secret new links are signed with.
    pub current: String,
    /// Former secrets, each accepted until its end.
    #[serde(default)]
    pub retired: Vec<RetiredSecret>,
}

impl std::fmt::Debug for LinkKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkKeys")
            .field("current", &key_id(self.current.as_bytes()))
            .field("retired", &self.retired.len())
            .finish()
    }
}

/// Why stored link keys cannot be used or rotated (never quotes a secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("link signing keys: {0}")]
pub struct KeysError(pub String);

impl From<LinkError> for KeysError {
    fn from(error: LinkError) -> Self {
        KeysError(match error {
            LinkError::Malformed(reason) => reason,
            other => other.to_string(),
        })
    }
}

/// A rotation's result, without any secret: what `klaxon keys rotate-link-secret` reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rotation {
    /// Id of the new current key.
    pub current: String,
    /// Id of the key just retired, with the end of its acceptance.
    pub retired: String,
    /// When the key just retired stops being accepted.
    pub retired_until: DateTime<Utc>,
    /// Ids of older retired keys still accepted.
    pub kept: Vec<String>,
    /// How many retired keys past their end were dropped.
    pub dropped: usize,
}

impl LinkKeys {
    /// Parses the stored JSON; the error says what is wrong without quoting any secret.
    pub fn from_json(text: &str) -> Result<Self, KeysError> {
        let keys: LinkKeys = serde_json::from_str(text).map_err(|e| {
            KeysError(format!(
                "link keys must be {{\"current\": SECRET, \"retired\": [{{\"secret\": SECRET, \"until\": TIME}}]}} (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        keys.signer()?;
        Ok(keys)
    }

    /// The stored JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A signer with these keys.
    pub fn signer(&self) -> Result<LinkSigner, KeysError> {
        Ok(LinkSigner::new(self.current.as_bytes())?.with_retired(&self.retired)?)
    }

    /// Makes `new_secret` the current key at `now` and retires the current one until
    /// `now + retire_for` (so links it signed stay valid until they expire: use at least the
    /// links' lifetime); retired keys already past their end at `now` are dropped.
    pub fn rotate(
        &self,
        new_secret: String,
        now: DateTime<Utc>,
        retire_for: chrono::TimeDelta,
    ) -> Result<(LinkKeys, Rotation), KeysError> {
        if new_secret == self.current {
            return Err(KeysError(
                "the new link secret equals the current one".to_owned(),
            ));
        }
        LinkKey::new(new_secret.as_bytes())?;
        let until = now + retire_for;
        let (kept, dropped): (Vec<_>, Vec<_>) =
            self.retired.iter().cloned().partition(|r| now < r.until);
        let mut retired = vec![RetiredSecret {
            secret: self.current.clone(),
            until,
        }];
        retired.extend(kept);
        let rotation = Rotation {
            current: key_id(new_secret.as_bytes()),
            retired: key_id(self.current.as_bytes()),
            retired_until: until,
            kept: retired[1..]
                .iter()
                .map(|r| key_id(r.secret.as_bytes()))
                .collect(),
            dropped: dropped.len(),
        };
        Ok((
            LinkKeys {
                current: new_secret,
                retired,
            },
            rotation,
        ))
    }

    /// Accepts `secret` (a former deployment's signing secret, e.g. from before link keys were
    /// in Secrets Manager) as a retired key until `now + retire_for`, so links it signed keep
    /// working until they expire; the current key is unchanged. Importing a key again extends
    /// its end (never shortens it); retired keys past their end at `now` are dropped.
    pub fn accept_retired(
        &self,
        secret: String,
        now: DateTime<Utc>,
        retire_for: chrono::TimeDelta,
    ) -> Result<(LinkKeys, Import), KeysError> {
        if secret == self.current {
            return Err(KeysError(
                "that secret is the current key already (links it signed are valid)".to_owned(),
            ));
        }
        LinkKey::new(secret.as_bytes())?;
        let until = now + retire_for;
        let mut retired: Vec<RetiredSecret> = self
            .retired
            .iter()
            .filter(|r| now < r.until)
            .cloned()
            .collect();
        let existing = retired.iter_mut().find(|r| r.secret == secret);
        let added = existing.is_none();
        let until = match existing {
            Some(found) => {
                found.until = found.until.max(until);
                found.until
            }
            None => {
                retired.push(RetiredSecret {
                    secret: secret.clone(),
                    until,
                });
                until
            }
        };
        let import = Import {
            imported: key_id(secret.as_bytes()),
            until,
            current: key_id(self.current.as_bytes()),
            added,
        };
        Ok((
            LinkKeys {
                current: self.current.clone(),
                retired,
            },
            import,
        ))
    }
}

/// What accepting an old secret as a retired key did (no secret): what `klaxon keys
/// import-link-secret` reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Import {
    /// Id of the key now accepted.
    pub imported: String,
    /// When it stops being accepted.
    pub until: DateTime<Utc>,
    /// Id of the current key (unchanged: new links are still signed with it).
    pub current: String,
    /// `false` when the key was already retired (its end is extended, never shortened).
    pub added: bool,
}

/// A new random link secret: 32 random bytes, unpadded base64url (43 characters).
pub fn generate_secret() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// The keys a signer holds.
struct SignerKeys {
    current: LinkKey,
    /// Retired keys with the end of their acceptance.
    retired: Vec<(LinkKey, DateTime<Utc>)>,
}

impl SignerKeys {
    /// The keys accepted at `now`: the current one, then retired ones not past their end.
    fn accepted(&self, now: DateTime<Utc>) -> impl Iterator<Item = &LinkKey> {
        std::iter::once(&self.current).chain(
            self.retired
                .iter()
                .filter(move |(_, until)| now < *until)
                .map(|(key, _)| key),
        )
    }
}

/// Signs links with its current key and verifies them with it and its retired keys. Clones
/// share their keys: [`LinkSigner::replace_keys`] on one (a refreshed secret) changes all.
#[derive(Clone)]
pub struct LinkSigner {
    keys: Arc<RwLock<Arc<SignerKeys>>>,
}

impl std::fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkSigner(<secret>)")
    }
}

/// The shortest signing secret accepted (bytes).
pub const MIN_SECRET_LEN: usize = 32;

impl LinkSigner {
    /// A signer over `secret`, which must be at least [`MIN_SECRET_LEN`] bytes.
    pub fn new(secret: impl Into<Vec<u8>>) -> Result<Self, LinkError> {
        Ok(Self::from_keys(SignerKeys {
            current: LinkKey::new(&secret.into())?,
            retired: Vec::new(),
        }))
    }

    fn from_keys(keys: SignerKeys) -> Self {
        Self {
            keys: Arc::new(RwLock::new(Arc::new(keys))),
        }
    }

    /// The keys now (a poisoned lock still holds whole keys: they are replaced in one step).
    fn keys(&self) -> Arc<SignerKeys> {
        Arc::clone(&self.keys.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Also accepts links signed with `retired` keys, each until its end.
    pub fn with_retired(self, retired: &[RetiredSecret]) -> Result<Self, LinkError> {
        let keys = self.keys();
        let mut all = keys.retired.clone();
        for key in retired {
            all.push((LinkKey::new(key.secret.as_bytes())?, key.until));
        }
        Ok(Self::from_keys(SignerKeys {
            current: keys.current.clone(),
            retired: all,
        }))
    }

    /// Replaces this signer's keys (and every clone's) with `other`'s: how a function applies
    /// a rotated secret without restarting.
    pub fn replace_keys(&self, other: &LinkSigner) {
        let keys = other.keys();
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = keys;
    }

    /// The id of the key new links are signed with.
    pub fn key_id(&self) -> String {
        self.keys().current.id.clone()
    }

    /// Signs a link for `user` to perform `action` on `incident` until `expires`.
    pub fn sign(
        &self,
        incident: &IncidentId,
        user: &UserId,
        action: LinkAction,
        expires: DateTime<Utc>,
    ) -> SignedLink {
        let expires = expires.timestamp();
        let keys = self.keys();
        let tag = keys
            .current
            .mac(incident.as_str(), user.as_str(), action, expires)
            .finalize()
            .into_bytes();
        SignedLink {
            incident: incident.to_string(),
            user: user.to_string(),
            action,
            expires,
            signature: URL_SAFE_NO_PAD.encode(tag),
            key: Some(keys.current.id.clone()),
        }
    }

    /// Verifies a link at `now`: signature first (constant time, under the key the link names,
    /// if accepted at `now`), then expiry.
    pub fn verify(&self, link: &SignedLink, now: DateTime<Utc>) -> Result<VerifiedLink, LinkError> {
        let signature = URL_SAFE_NO_PAD
            .decode(link.signature.as_bytes())
            .map_err(|_| LinkError::BadSignature)?;
        let keys = self.keys();
        let signed_by = keys
            .accepted(now)
            .filter(|key| link.key.as_ref().is_none_or(|id| *id == key.id))
            .any(|key| {
                key.mac(&link.incident, &link.user, link.action, link.expires)
                    .verify_slice(&signature)
                    .is_ok()
            });
        if !signed_by {
            return Err(LinkError::BadSignature);
        }
        let expires = DateTime::<Utc>::from_timestamp(link.expires, 0)
            .ok_or_else(|| LinkError::Malformed("expiry out of range".into()))?;
        if now >= expires {
            return Err(LinkError::Expired(expires));
        }
        Ok(VerifiedLink {
            incident: IncidentId::new(link.incident.clone())
                .map_err(|e| LinkError::Malformed(format!("incident: {e}")))?,
            user: UserId::new(link.user.clone())
                .map_err(|e| LinkError::Malformed(format!("user: {e}")))?,
            action: link.action,
        })
    }

    /// The full URL of a link under `base` (e.g. `https://abc.execute-api…/v1/links`).
    pub fn url(&self, base: &str, link: &SignedLink) -> String {
        let query = serde_urlencoded::to_string(link).unwrap_or_default();
        format!("{}?{query}", base.trim_end_matches('/'))
    }
}

#[cfg(test)]
mod tests;
