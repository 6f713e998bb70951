//! Email sign-in links: a random one-time token, its expiry and an HMAC-SHA256 over both under
//! the deployment's signing secret. The token is also recorded in the store (by its hash) and
//! used up on sign-in, so a link works once, for a short while, and only as it was sent.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

pub use crate::security::links::MIN_SECRET_LEN;

/// What the HMAC covers besides the token and expiry, so a signature made for anything else
/// under the same secret (an acknowledge link) can never pass as a sign-in signature.
const PURPOSE: &str = "klaxon-console-signin";

/// The query (or form) fields of a sign-in link: `?t=<token>&e=<expiry>&s=<signature>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigninLink {
    /// The one-time token (unpadded base64url of 32 random bytes).
    #[serde(rename = "t")]
    pub token: String,
    /// Expiry, Unix seconds.
    #[serde(rename = "e")]
    pub expires: i64,
    /// Unpadded base64url HMAC-SHA256 of the purpose, token and expiry.
    #[serde(rename = "s")]
    pub signature: String,
}

/// Signs and checks sign-in links.
#[derive(Clone)]
pub struct SigninSigner {
    keyed: Hmac<Sha256>,
}

impl std::fmt::Debug for SigninSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigninSigner(..)")
    }
}

impl SigninSigner {
    /// A signer over `secret` (the same secret acknowledge links are signed with; the purpose
    /// string keeps the two kinds apart). `None` when the secret is shorter than
    /// [`MIN_SECRET_LEN`] bytes.
    pub fn new(secret: &[u8]) -> Option<Self> {
        if secret.len() < MIN_SECRET_LEN {
            return None;
        }
        let keyed = <Hmac<Sha256> as Mac>::new_from_slice(secret).ok()?;
        Some(Self { keyed })
    }

    fn mac(&self, token: &str, expires: i64) -> Hmac<Sha256> {
        let mut mac = self.keyed.clone();
        // The token is base64url and the expiry a number: neither holds a newline.
        mac.update(format!("{PURPOSE}\n{token}\n{expires}").as_bytes());
        mac
    }

    /// A link for `token`, expiring at `expires` (Unix seconds).
    pub fn sign(&self, token: &str, expires: i64) -> SigninLink {
        let signature = URL_SAFE_NO_PAD.encode(self.mac(token, expires).finalize().into_bytes());
        SigninLink {
            token: token.to_owned(),
            expires,
            signature,
        }
    }

    /// A key for another purpose, derived from the signing secret (HMAC of `purpose`), so
    /// one configured secret serves several MACs that can never be mistaken for each other.
    pub fn derive_key(&self, purpose: &str) -> [u8; 32] {
        let mut mac = self.keyed.clone();
        mac.update(format!("derive\n{purpose}").as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Whether the link's signature is ours (constant-time comparison).
    pub fn verify(&self, link: &SigninLink) -> bool {
        let Ok(signature) = URL_SAFE_NO_PAD.decode(link.signature.as_bytes()) else {
            return false;
        };
        self.mac(&link.token, link.expires)
            .verify_slice(&signature)
            .is_ok()
    }
}

/// 32 random bytes as unpadded base64url: a session token, sign-in token or CSRF token.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_link_verifies_and_any_change_breaks_it() {
        let signer = SigninSigner::new(&[7; 32]).unwrap();
        assert!(SigninSigner::new(&[7; 31]).is_none());
        let link = signer.sign(&random_token(), 1_800_000_000);
        assert!(signer.verify(&link));
        let mut later = link.clone();
        later.expires += 1;
        assert!(!signer.verify(&later));
        let mut other = link.clone();
        other.token = random_token();
        assert!(!signer.verify(&other));
        assert!(!SigninSigner::new(&[8; 32]).unwrap().verify(&link));
        let mut garbage = link;
        garbage.signature = "not base64!".into();
        assert!(!signer.verify(&garbage));
    }

    #[test]
    fn tokens_are_random_and_url_safe() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }
}
