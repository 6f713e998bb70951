//! Signed acknowledge/resolve links.
//!
//! A link carries the incident, the user it was sent to, the action and an expiry, plus an
//! HMAC-SHA256 over exactly those four values under the deployment's signing secret. Anyone with
//! the link can perform that one action for that one incident until it expires; nothing else.
//! `GET` on a link shows a confirmation page and only `POST` acts, so mail scanners that
//! prefetch links cannot acknowledge incidents.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use klaxon_domain::ids::{IncidentId, UserId};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

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

/// Signs and verifies links with one secret.
#[derive(Clone)]
pub struct LinkSigner {
    /// The keyed MAC, cloned for each use (keying once is cheaper and cannot fail later).
    keyed: Hmac<Sha256>,
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
        let secret = secret.into();
        if secret.len() < MIN_SECRET_LEN {
            return Err(LinkError::Malformed(format!(
                "the signing secret must be at least {MIN_SECRET_LEN} bytes"
            )));
        }
        let keyed = <Hmac<Sha256> as Mac>::new_from_slice(&secret)
            .map_err(|_| LinkError::Malformed("unusable signing secret".into()))?;
        Ok(Self { keyed })
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

    /// Signs a link for `user` to perform `action` on `incident` until `expires`.
    pub fn sign(
        &self,
        incident: &IncidentId,
        user: &UserId,
        action: LinkAction,
        expires: DateTime<Utc>,
    ) -> SignedLink {
        let expires = expires.timestamp();
        let tag = self
            .mac(incident.as_str(), user.as_str(), action, expires)
            .finalize()
            .into_bytes();
        SignedLink {
            incident: incident.to_string(),
            user: user.to_string(),
            action,
            expires,
            signature: URL_SAFE_NO_PAD.encode(tag),
        }
    }

    /// Verifies a link at `now`: signature first (constant time), then expiry.
    pub fn verify(&self, link: &SignedLink, now: DateTime<Utc>) -> Result<VerifiedLink, LinkError> {
        let signature = URL_SAFE_NO_PAD
            .decode(link.signature.as_bytes())
            .map_err(|_| LinkError::BadSignature)?;
        self.mac(&link.incident, &link.user, link.action, link.expires)
            .verify_slice(&signature)
            .map_err(|_| LinkError::BadSignature)?;
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
}
