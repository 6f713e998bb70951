//! Slack request signatures (interactive buttons).
//!
//! Slack signs every request with `X-Slack-Signature: v0=<hex HMAC-SHA256>` over
//! `v0:<X-Slack-Request-Timestamp>:<raw body>` under the app's signing secret. Requests older
//! than five minutes are refused to stop replays.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::{Arc, RwLock};

/// How far a request timestamp may be from now.
pub const MAX_SKEW_SECONDS: i64 = 5 * 60;

/// Why a Slack request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlackSignatureError {
    /// A required header is missing.
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    /// The timestamp header is not a number.
    #[error("X-Slack-Request-Timestamp is not a Unix timestamp")]
    BadTimestamp,
    /// The request is older (or newer) than five minutes.
    #[error("request timestamp is more than five minutes from now")]
    Stale,
    /// The signature does not match.
    #[error("signature does not match")]
    BadSignature,
}

/// Verifies Slack signatures with one signing secret.
#[derive(Clone)]
pub struct SlackVerifier {
    keyed: Hmac<Sha256>,
}

crate::fmt_hidden::opaque_debug!(SlackVerifier);

impl SlackVerifier {
    /// A verifier for the app's signing secret (`None` when the secret is empty).
    pub fn new(signing_secret: &str) -> Option<Self> {
        if signing_secret.is_empty() {
            return None;
        }
        <Hmac<Sha256> as Mac>::new_from_slice(signing_secret.as_bytes())
            .ok()
            .map(|keyed| Self { keyed })
    }

    fn mac(&self, timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = self.keyed.clone();
        mac.update(b"v0:");
        mac.update(timestamp.as_bytes());
        mac.update(b":");
        mac.update(body);
        mac
    }

    /// The `X-Slack-Signature` value for a body (used by tests and local tooling).
    pub fn sign(&self, timestamp: &str, body: &[u8]) -> String {
        format!(
            "v0={}",
            hex::encode(self.mac(timestamp, body).finalize().into_bytes())
        )
    }

    /// Checks the two headers against the raw body at `now`.
    pub fn verify(
        &self,
        timestamp: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), SlackSignatureError> {
        let timestamp = timestamp.ok_or(SlackSignatureError::MissingHeader(
            "X-Slack-Request-Timestamp",
        ))?;
        let signature = signature.ok_or(SlackSignatureError::MissingHeader("X-Slack-Signature"))?;
        let seconds: i64 = timestamp
            .trim()
            .parse()
            .map_err(|_| SlackSignatureError::BadTimestamp)?;
        // `abs_diff`: an extreme timestamp must be refused, not overflow the subtraction.
        if now.timestamp().abs_diff(seconds) > MAX_SKEW_SECONDS.unsigned_abs() {
            return Err(SlackSignatureError::Stale);
        }
        let hex_part = signature
            .strip_prefix("v0=")
            .ok_or(SlackSignatureError::BadSignature)?;
        let expected = hex::decode(hex_part).map_err(|_| SlackSignatureError::BadSignature)?;
        self.mac(timestamp, body)
            .verify_slice(&expected)
            .map_err(|_| SlackSignatureError::BadSignature)
    }
}

/// The Slack verifier in use, replaceable while the service runs: a deployment re-reads its
/// signing secret every few minutes, so setting or rotating it reaches running instances
/// without a redeploy. Clones share the verifier; `None` refuses every Slack request.
#[derive(Clone, Default)]
pub struct SlackSigning {
    verifier: Arc<RwLock<Option<SlackVerifier>>>,
}

crate::fmt_hidden::opaque_debug!(SlackSigning);

impl SlackSigning {
    /// Starts with `verifier` (`None`: Slack not set up yet).
    pub fn new(verifier: Option<SlackVerifier>) -> Self {
        Self {
            verifier: Arc::new(RwLock::new(verifier)),
        }
    }

    /// The verifier now (a poisoned lock still holds a whole verifier: it is replaced in one
    /// step).
    pub fn current(&self) -> Option<SlackVerifier> {
        self.verifier
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the verifier of this and every clone (a changed signing secret).
    pub fn replace(&self, verifier: Option<SlackVerifier>) {
        *self.verifier.write().unwrap_or_else(|e| e.into_inner()) = verifier;
    }
}

impl From<Option<SlackVerifier>> for SlackSigning {
    fn from(verifier: Option<SlackVerifier>) -> Self {
        Self::new(verifier)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

    fn now() -> DateTime<Utc> {
        Utc.timestamp_opt(1_531_420_618, 0).unwrap()
    }

    #[test]
    fn matches_slacks_documented_example() {
        // The worked example in Slack's "Verifying requests from Slack" guide.
        let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let v = SlackVerifier::new(SECRET).unwrap();
        let expected = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
        assert_eq!(v.sign("1531420618", body), expected);
        assert_eq!(
            v.verify(Some("1531420618"), Some(expected), body, now()),
            Ok(())
        );
    }

    #[test]
    fn refuses_bad_signatures_stale_requests_and_missing_headers() {
        let v = SlackVerifier::new(SECRET).unwrap();
        let body = b"payload=%7B%7D";
        let sig = v.sign("1531420618", body);
        assert_eq!(
            v.verify(
                Some("1531420618"),
                Some(&sig),
                b"payload=%7B%22x%22%7D",
                now()
            ),
            Err(SlackSignatureError::BadSignature)
        );
        assert_eq!(
            v.verify(
                Some("1531420618"),
                Some(&sig),
                body,
                now() + chrono::TimeDelta::seconds(301)
            ),
            Err(SlackSignatureError::Stale)
        );
        assert_eq!(
            v.verify(None, Some(&sig), body, now()),
            Err(SlackSignatureError::MissingHeader(
                "X-Slack-Request-Timestamp"
            ))
        );
        assert_eq!(
            v.verify(Some("abc"), Some(&sig), body, now()),
            Err(SlackSignatureError::BadTimestamp)
        );
        assert_eq!(
            v.verify(Some("1531420618"), Some("v1=00"), body, now()),
            Err(SlackSignatureError::BadSignature)
        );
        assert!(SlackVerifier::new("").is_none());
    }

    #[test]
    fn a_replaced_secret_reaches_every_clone() {
        let body = b"payload=%7B%7D";
        let signing = SlackSigning::new(None);
        let clone = signing.clone();
        assert!(clone.current().is_none(), "not set up: Slack refused");
        signing.replace(SlackVerifier::new(SECRET));
        let old = SlackVerifier::new(SECRET).unwrap().sign("1531420618", body);
        let verify = |sig: &str| {
            clone
                .current()
                .unwrap()
                .verify(Some("1531420618"), Some(sig), body, now())
        };
        assert_eq!(verify(&old), Ok(()));
        signing.replace(SlackVerifier::new("a-rotated-signing-secret"));
        assert_eq!(verify(&old), Err(SlackSignatureError::BadSignature));
        let new = SlackVerifier::new("a-rotated-signing-secret")
            .unwrap()
            .sign("1531420618", body);
        assert_eq!(verify(&new), Ok(()));
    }

    #[test]
    fn extreme_timestamps_are_stale_not_a_panic() {
        let v = SlackVerifier::new(SECRET).unwrap();
        let body = b"payload=%7B%7D";
        for timestamp in [i64::MIN.to_string(), i64::MAX.to_string()] {
            let sig = v.sign(&timestamp, body);
            assert_eq!(
                v.verify(Some(&timestamp), Some(&sig), body, now()),
                Err(SlackSignatureError::Stale),
                "{timestamp}"
            );
        }
    }
}
