//! Integration and API keys.
//!
//! A key is 32 random bytes, shown once as `klx_` + unpadded base64url. Only its SHA-256 (hex)
//! is stored, so a leaked table does not leak keys; lookups are by hash, and the stored hash is
//! compared in constant time before it is trusted.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The prefix of every key Klaxon generates (lets secret scanners recognise leaked keys).
pub const KEY_PREFIX: &str = "klx_";

/// A secret key in plain text: shown to its owner once, never stored.
#[derive(Clone, PartialEq, Eq)]
pub struct PlainKey(String);

impl std::fmt::Debug for PlainKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PlainKey(<redacted>)")
    }
}

impl PlainKey {
    /// Builds a key from 32 bytes of randomness supplied by the caller.
    pub fn from_random_bytes(bytes: [u8; 32]) -> Self {
        Self(format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// Generates a new key from the operating system's random source.
    pub fn generate() -> Self {
        Self::from_random_bytes(rand::random())
    }

    /// Wraps a key received from a client (not validated: an unknown key simply matches nothing).
    pub fn from_client(text: &str) -> Self {
        Self(text.trim().to_string())
    }

    /// The key text, for showing it once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The hash stored in place of the key.
    pub fn hash(&self) -> KeyHash {
        KeyHash(hex::encode(Sha256::digest(self.0.as_bytes())))
    }
}

/// The SHA-256 of a key, hex encoded: what storage keeps.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct KeyHash(pub String);

impl KeyHash {
    /// The hex text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Constant-time equality with another hash.
    pub fn matches(&self, other: &KeyHash) -> bool {
        self.0.len() == other.0.len() && bool::from(self.0.as_bytes().ct_eq(other.0.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_prefixed_distinct_and_hash_stably() {
        let a = PlainKey::generate();
        let b = PlainKey::generate();
        assert!(a.expose().starts_with(KEY_PREFIX));
        assert_eq!(a.expose().len(), KEY_PREFIX.len() + 43);
        assert_ne!(a, b);
        assert_eq!(a.hash(), PlainKey::from_client(a.expose()).hash());
        assert!(
            a.hash()
                .matches(&PlainKey::from_client(&format!(" {} ", a.expose())).hash())
        );
        assert!(!a.hash().matches(&b.hash()));
    }

    #[test]
    fn debug_output_never_shows_the_key() {
        let key = PlainKey::from_random_bytes([7; 32]);
        assert!(!format!("{key:?}").contains(&key.expose()[4..]));
    }
}
