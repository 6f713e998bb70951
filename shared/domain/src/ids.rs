//! Identifier newtypes, validated on construction.
//!
//! Config identifiers (users, schedules, policies, rules, integrations) are short slugs so they
//! can appear in storage keys, timer names and URLs without escaping.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why an identifier was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The identifier was empty.
    #[error("must not be empty")]
    Empty,
    /// The identifier was longer than allowed.
    #[error("must be at most {max} characters (got {len})")]
    TooLong {
        /// The maximum length.
        max: usize,
        /// The actual length.
        len: usize,
    },
    /// The identifier contained a character outside `[a-z0-9_-]` (slugs) or a control character.
    #[error("may only contain {allowed} (found {found:?})")]
    BadChar {
        /// A description of the allowed characters.
        allowed: &'static str,
        /// The first offending character.
        found: char,
    },
}

/// Maximum slug length.
pub const MAX_SLUG_LEN: usize = 64;

fn validate_slug(s: &str) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty);
    }
    if s.len() > MAX_SLUG_LEN {
        return Err(IdError::TooLong {
            max: MAX_SLUG_LEN,
            len: s.len(),
        });
    }
    if let Some(found) = s
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '_'))
    {
        return Err(IdError::BadChar {
            allowed: "lowercase letters, digits, '-' and '_'",
            found,
        });
    }
    Ok(())
}

macro_rules! slug_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps a slug (`[a-z0-9_-]`, 1 to 64 characters).
            pub fn new(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                validate_slug(&value)?;
                Ok(Self(value))
            }
            /// The identifier as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }
        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

slug_id!(
    /// A user's identifier in the configuration (`alice`).
    UserId
);
slug_id!(
    /// A schedule's identifier in the configuration (`primary`).
    ScheduleId
);
slug_id!(
    /// An escalation policy's identifier in the configuration (`infra`).
    PolicyId
);
impl PolicyId {
    /// The id a direct reassignment's escalation records (`direct`, see
    /// `escalation::DIRECT_POLICY`); configuration validation reserves it.
    pub fn direct() -> Self {
        Self("direct".to_owned())
    }
}

slug_id!(
    /// A team's identifier in the configuration (`payments`).
    TeamId
);
slug_id!(
    /// A grouping or routing rule's, or maintenance window's, identifier.
    RuleId
);
slug_id!(
    /// An integration's name (`alertmanager-prod`): the source of alerts a key authenticates.
    IntegrationName
);
slug_id!(
    /// A post-mortem template's name in the configuration (`default`, `security`).
    TemplateName
);
impl TemplateName {
    /// The name of the template shipped with Klaxon (`default`).
    pub fn shipped_default() -> Self {
        Self("default".to_owned())
    }
}
slug_id!(
    /// A post-mortem action item's identifier, unique within its post-mortem (`ai-3f2a9c01d4e5`).
    ActionItemId
);

/// Maximum dedup key length in characters: Opsgenie's limit on `alias` (PagerDuty's `dedup_key`
/// allows 255). Counted in characters, as both vendors count, so a non-ASCII key the vendor
/// accepts is accepted here too.
pub const MAX_DEDUP_KEY_CHARS: usize = 512;

/// The most UTF-8 bytes a dedup key can take ([`MAX_DEDUP_KEY_CHARS`] characters of at most four
/// bytes each). Storage hashes the key into its item key, so only this attribute size matters.
pub const MAX_DEDUP_KEY_BYTES: usize = 4 * MAX_DEDUP_KEY_CHARS;

/// The key that identifies one alert within an integration: a repeat with the same key updates
/// the open alert instead of creating a new one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DedupKey(String);

impl DedupKey {
    /// Validates a dedup key: not blank, at most [`MAX_DEDUP_KEY_CHARS`] characters (so at most
    /// [`MAX_DEDUP_KEY_BYTES`] bytes), no control characters.
    pub fn new(value: impl Into<String>) -> Result<Self, IdError> {
        let value = value.into();
        if value.trim().is_empty() {
            return Err(IdError::Empty);
        }
        // Only a string of more bytes than the limit can have more characters than it.
        if value.len() > MAX_DEDUP_KEY_CHARS {
            let chars = value.chars().count();
            if chars > MAX_DEDUP_KEY_CHARS {
                return Err(IdError::TooLong {
                    max: MAX_DEDUP_KEY_CHARS,
                    len: chars,
                });
            }
        }
        if let Some(found) = value.chars().find(|c| c.is_control()) {
            return Err(IdError::BadChar {
                allowed: "printable characters",
                found,
            });
        }
        Ok(Self(value))
    }
    /// The key as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl TryFrom<String> for DedupKey {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}
impl From<DedupKey> for String {
    fn from(value: DedupKey) -> String {
        value.0
    }
}
impl fmt::Display for DedupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! opaque_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Wraps a generated identifier: 1 to 40 characters of `[0-9A-Za-z]`.
            pub fn new(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                if value.is_empty() {
                    return Err(IdError::Empty);
                }
                if value.len() > 40 {
                    return Err(IdError::TooLong { max: 40, len: value.len() });
                }
                if let Some(found) = value.chars().find(|c| !c.is_ascii_alphanumeric()) {
                    return Err(IdError::BadChar { allowed: "ASCII letters and digits", found });
                }
                Ok(Self(value))
            }
            /// The identifier as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }
        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

opaque_id!(
    /// An incident's identifier (generated by the caller, e.g. a UUIDv7 in simple hex form, so
    /// identifiers sort by creation time).
    IncidentId
);
opaque_id!(
    /// One alert occurrence's identifier. A re-trigger after resolve gets a new one.
    AlertId
);

/// The stable key of a group of alerts: alerts with the same group key join the same open
/// incident. Hex of a SHA-256 over the grouping rule id and the grouped values (see
/// [`crate::grouping`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct GroupKey(pub String);

impl GroupKey {
    /// The key as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for GroupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_reject_uppercase_spaces_and_empty() {
        assert!(UserId::new("alice").is_ok());
        assert!(UserId::new("al-ice_2").is_ok());
        assert_eq!(UserId::new(""), Err(IdError::Empty));
        assert!(matches!(
            UserId::new("Alice"),
            Err(IdError::BadChar { found: 'A', .. })
        ));
        assert!(matches!(
            UserId::new("a b"),
            Err(IdError::BadChar { found: ' ', .. })
        ));
        assert!(matches!(
            UserId::new("a".repeat(65)),
            Err(IdError::TooLong { .. })
        ));
    }

    #[test]
    fn dedup_keys_allow_free_text_but_not_control_characters() {
        assert!(DedupKey::new("arn:aws:cloudwatch:us-east-1:1:alarm:High CPU").is_ok());
        assert!(DedupKey::new("a\nb").is_err());
        assert!(DedupKey::new("   ").is_err());
        assert!(DedupKey::new("x".repeat(513)).is_err());
    }

    #[test]
    fn dedup_key_limit_counts_characters_not_bytes() {
        // 512 four-byte characters: 2048 bytes, accepted.
        let widest = "🔥".repeat(MAX_DEDUP_KEY_CHARS);
        assert_eq!(widest.len(), MAX_DEDUP_KEY_BYTES);
        assert_eq!(DedupKey::new(widest.clone()).unwrap().as_str(), widest);
        // 300 two-byte characters (600 bytes) were refused when the limit counted bytes.
        assert!(DedupKey::new("é".repeat(300)).is_ok());
        let error = DedupKey::new(format!("{widest}x")).unwrap_err();
        assert_eq!(error, IdError::TooLong { max: 512, len: 513 });
        assert_eq!(
            error.to_string(),
            "must be at most 512 characters (got 513)"
        );
    }

    #[test]
    fn ids_round_trip_through_serde_and_validate() {
        let id: IncidentId = serde_json::from_str("\"0192abcd\"").unwrap();
        assert_eq!(id.as_str(), "0192abcd");
        assert!(serde_json::from_str::<IncidentId>("\"a-b\"").is_err());
    }
}
