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
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn signer() -> LinkSigner {
        LinkSigner::new(vec![42u8; 32]).unwrap()
    }

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + secs, 0).unwrap()
    }

    fn link() -> SignedLink {
        signer().sign(
            &IncidentId::new("0192abc").unwrap(),
            &UserId::new("alice").unwrap(),
            LinkAction::Ack,
            t(3600),
        )
    }

    #[test]
    fn a_fresh_link_verifies_to_its_content() {
        let v = signer().verify(&link(), t(0)).unwrap();
        assert_eq!(v.incident.as_str(), "0192abc");
        assert_eq!(v.user.as_str(), "alice");
        assert_eq!(v.action, LinkAction::Ack);
    }

    #[test]
    fn tampering_with_any_field_breaks_the_signature() {
        let good = link();
        let mut l = good.clone();
        l.incident = "0192abd".into();
        assert_eq!(signer().verify(&l, t(0)), Err(LinkError::BadSignature));
        let mut l = good.clone();
        l.user = "mallory".into();
        assert_eq!(signer().verify(&l, t(0)), Err(LinkError::BadSignature));
        let mut l = good.clone();
        l.action = LinkAction::Resolve;
        assert_eq!(signer().verify(&l, t(0)), Err(LinkError::BadSignature));
        let mut l = good.clone();
        l.expires += 3600;
        assert_eq!(signer().verify(&l, t(0)), Err(LinkError::BadSignature));
        let mut l = good;
        l.signature = "not base64!".into();
        assert_eq!(signer().verify(&l, t(0)), Err(LinkError::BadSignature));
    }

    #[test]
    fn another_secret_does_not_verify() {
        let other = LinkSigner::new(vec![1u8; 32]).unwrap();
        assert_eq!(other.verify(&link(), t(0)), Err(LinkError::BadSignature));
    }

    #[test]
    fn expired_links_are_refused_at_and_after_expiry() {
        assert!(matches!(
            signer().verify(&link(), t(3600)),
            Err(LinkError::Expired(_))
        ));
        assert!(signer().verify(&link(), t(3599)).is_ok());
    }

    #[test]
    fn short_secrets_are_rejected() {
        assert!(LinkSigner::new(vec![0u8; 31]).is_err());
    }

    #[test]
    fn url_round_trips_through_query_parsing() {
        let l = link();
        let url = signer().url("https://x.example/v1/links/", &l);
        let query = url.split_once('?').unwrap().1;
        let parsed: SignedLink = serde_urlencoded::from_str(query).unwrap();
        assert_eq!(parsed, l);
        assert!(url.starts_with("https://x.example/v1/links?"));
    }

    const OLD: &str = "old-secret-old-secret-old-secret-0";
    const NEW: &str = "new-secret-new-secret-new-secret-1";

    fn ack_link(signer: &LinkSigner, expires: DateTime<Utc>) -> SignedLink {
        signer.sign(
            &IncidentId::new("0192abc").unwrap(),
            &UserId::new("alice").unwrap(),
            LinkAction::Ack,
            expires,
        )
    }

    /// The signer after rotating from OLD to NEW at t(0), OLD retired until t(7 days).
    fn rotated() -> LinkSigner {
        LinkSigner::new(NEW)
            .unwrap()
            .with_retired(&[RetiredSecret {
                secret: OLD.to_owned(),
                until: t(7 * 86_400),
            }])
            .unwrap()
    }

    #[test]
    fn links_name_their_key_without_revealing_it() {
        let signer = LinkSigner::new(OLD).unwrap();
        let link = ack_link(&signer, t(3600));
        assert_eq!(link.key.as_deref(), Some(signer.key_id().as_str()));
        assert_ne!(signer.key_id(), LinkSigner::new(NEW).unwrap().key_id());
        let url = signer.url("https://x.example/v1/links", &link);
        assert!(url.contains(&format!("k={}", signer.key_id())), "{url}");
        assert!(!url.contains(OLD));
    }

    #[test]
    fn a_link_signed_before_a_rotation_still_verifies_until_it_expires() {
        let before = ack_link(&LinkSigner::new(OLD).unwrap(), t(3600));
        let after = rotated();
        assert_eq!(after.verify(&before, t(60)).unwrap().user.as_str(), "alice");
        assert!(matches!(
            after.verify(&before, t(3600)),
            Err(LinkError::Expired(_))
        ));
        // New links are signed with the new key, which the old signer does not know.
        let fresh = ack_link(&after, t(3600));
        assert_eq!(fresh.key.as_deref(), Some(after.key_id().as_str()));
        assert!(after.verify(&fresh, t(60)).is_ok());
        assert_eq!(
            LinkSigner::new(OLD).unwrap().verify(&fresh, t(60)),
            Err(LinkError::BadSignature)
        );
    }

    #[test]
    fn a_retired_key_is_refused_after_its_end_even_for_a_link_not_yet_expired() {
        let long_lived = ack_link(&LinkSigner::new(OLD).unwrap(), t(30 * 86_400));
        assert!(rotated().verify(&long_lived, t(7 * 86_400 - 1)).is_ok());
        assert_eq!(
            rotated().verify(&long_lived, t(7 * 86_400)),
            Err(LinkError::BadSignature)
        );
    }

    #[test]
    fn links_without_a_key_id_are_tried_against_every_accepted_key() {
        let mut legacy = ack_link(&LinkSigner::new(OLD).unwrap(), t(3600));
        legacy.key = None;
        assert!(rotated().verify(&legacy, t(60)).is_ok());
        let query = signer().url("https://x.example", &legacy);
        assert!(!query.contains("k="));
        // A key id that names no accepted key is refused, even with a valid signature.
        let mut renamed = ack_link(&LinkSigner::new(OLD).unwrap(), t(3600));
        renamed.key = Some("unknown".into());
        assert_eq!(
            rotated().verify(&renamed, t(60)),
            Err(LinkError::BadSignature)
        );
    }

    #[test]
    fn retired_key_lists_round_trip_and_reject_malformed_entries() {
        let list = vec![
            RetiredSecret {
                secret: OLD.to_owned(),
                until: t(10),
            },
            RetiredSecret {
                secret: NEW.to_owned(),
                until: t(20),
            },
        ];
        let text = RetiredSecret::format_list(&list);
        assert_eq!(RetiredSecret::parse_list(&text).unwrap(), list);
        assert_eq!(RetiredSecret::parse_list("  ").unwrap(), vec![]);
        assert!(RetiredSecret::parse_list("no-colon").is_err());
        assert!(RetiredSecret::parse_list("soon:secret").is_err());
        assert!(
            LinkSigner::new(NEW)
                .unwrap()
                .with_retired(&RetiredSecret::parse_list("1:short").unwrap())
                .is_err()
        );
    }

    #[test]
    fn rotating_keys_retires_the_current_one_and_drops_expired_retirees() {
        let ancient = "ancient-secret-ancient-secret-ancient-2".to_owned();
        let keys = LinkKeys {
            current: OLD.to_owned(),
            retired: vec![RetiredSecret {
                secret: ancient.clone(),
                until: t(-1),
            }],
        };
        let day = chrono::TimeDelta::days(1);
        let (rotated, report) = keys.rotate(NEW.to_owned(), t(0), day * 30).unwrap();
        assert_eq!(rotated.current, NEW);
        assert_eq!(
            rotated.retired,
            vec![RetiredSecret {
                secret: OLD.to_owned(),
                until: t(30 * 86_400)
            }]
        );
        assert_eq!(report.current, key_id(NEW.as_bytes()));
        assert_eq!(report.retired, key_id(OLD.as_bytes()));
        assert_eq!(report.dropped, 1);
        assert!(report.kept.is_empty());

        // Stored and read back, the keys sign with NEW and still accept OLD's links.
        let stored = LinkKeys::from_json(&rotated.to_json()).unwrap();
        assert_eq!(stored, rotated);
        let before = ack_link(&keys.signer().unwrap(), t(3600));
        assert!(stored.signer().unwrap().verify(&before, t(60)).is_ok());
        assert_eq!(
            ack_link(&stored.signer().unwrap(), t(3600)).key,
            Some(key_id(NEW.as_bytes()))
        );
        assert!(!format!("{stored:?}").contains(OLD));

        // The same secret again, or a short one, is refused.
        assert!(rotated.rotate(NEW.to_owned(), t(0), day).is_err());
        assert!(rotated.rotate("short".to_owned(), t(0), day).is_err());
        assert_eq!(generate_secret().len(), 43);
        assert_ne!(generate_secret(), generate_secret());
    }

    #[test]
    fn malformed_stored_keys_are_refused_without_quoting_them() {
        for text in [
            "",
            "{}",
            r#"{"current": "short"}"#,
            r#"{"current": "new-secret-new-secret-new-secret-1", "retired": [{"secret": "x"}]}"#,
            r#"{"current": "new-secret-new-secret-new-secret-1", "extra": 1}"#,
        ] {
            let error = LinkKeys::from_json(text).unwrap_err().to_string();
            assert!(!error.contains("new-secret"), "{error}");
        }
        let keys = LinkKeys::from_json(r#"{"current": "new-secret-new-secret-new-secret-1"}"#);
        assert!(keys.unwrap().retired.is_empty());
    }

    #[test]
    fn replacing_keys_reaches_every_clone() {
        let signer = LinkSigner::new(OLD).unwrap();
        let clone = signer.clone();
        let before = ack_link(&signer, t(3600));
        signer.replace_keys(&rotated());
        assert_eq!(clone.key_id(), key_id(NEW.as_bytes()));
        assert!(clone.verify(&before, t(60)).is_ok());
    }
}
