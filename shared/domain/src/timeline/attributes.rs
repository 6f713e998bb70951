//! The CloudEvents attributes Klaxon fills in: who acted ([`Actor`]), which component recorded
//! the record ([`EventSource`]) and the occurrence's key within its timeline ([`EntryKey`]).

use super::{MAX_ENTRY_KEY_LEN, TimelineError};
use crate::ids::{IntegrationName, UserId};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Who caused an occurrence.
///
/// Serialised everywhere as one string `kind:name` (`user:alice`, `system:routing`,
/// `integration:alertmanager-prod`, `apikey:ci`), which is also the value of the CloudEvents
/// `actor` extension attribute. Control characters in free-text names are replaced by U+FFFD
/// on output, because CloudEvents strings may not contain them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Actor {
    /// A Klaxon component acting on its own (`routing`, `escalation`, `sweeper`).
    System {
        /// The component's name.
        component: String,
    },
    /// A person (ack link, Slack button, API call with a user's session).
    User {
        /// The user.
        id: UserId,
    },
    /// A monitoring integration (an alert resolved, a PagerDuty `acknowledge` event).
    Integration {
        /// The integration.
        name: IntegrationName,
    },
    /// An API key (automation).
    ApiKey {
        /// The key's name.
        name: String,
    },
}

impl Actor {
    /// A Klaxon component.
    pub fn system(component: impl Into<String>) -> Self {
        Actor::System {
            component: component.into(),
        }
    }
    /// A person.
    pub fn user(id: UserId) -> Self {
        Actor::User { id }
    }
    /// An integration.
    pub fn integration(name: IntegrationName) -> Self {
        Actor::Integration { name }
    }
    /// The user, if a person acted.
    pub fn as_user(&self) -> Option<&UserId> {
        match self {
            Actor::User { id } => Some(id),
            _ => None,
        }
    }
}

fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect()
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::System { component } => write!(f, "system:{}", printable(component)),
            Actor::User { id } => write!(f, "user:{id}"),
            Actor::Integration { name } => write!(f, "integration:{name}"),
            Actor::ApiKey { name } => write!(f, "apikey:{}", printable(name)),
        }
    }
}

impl std::str::FromStr for Actor {
    type Err = TimelineError;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let fail = |reason: String| TimelineError::Actor {
            value: value.to_string(),
            reason,
        };
        let (kind, name) = value
            .split_once(':')
            .ok_or_else(|| fail("missing ':'".into()))?;
        if name.is_empty() {
            return Err(fail("empty name".into()));
        }
        match kind {
            "system" => Ok(Actor::system(name)),
            "user" => UserId::new(name)
                .map(Actor::user)
                .map_err(|e| fail(e.to_string())),
            "integration" => IntegrationName::new(name)
                .map(Actor::integration)
                .map_err(|e| fail(e.to_string())),
            "apikey" => Ok(Actor::ApiKey { name: name.into() }),
            other => Err(fail(format!("unknown kind {other:?}"))),
        }
    }
}

impl TryFrom<String> for Actor {
    type Error = TimelineError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Actor> for String {
    fn from(actor: Actor) -> String {
        actor.to_string()
    }
}

/// The CloudEvents `source` of a record: the Klaxon component that recorded it, as a
/// URI-reference (`/klaxon/routing`, `/klaxon/ack`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EventSource(String);

impl EventSource {
    /// Validates a URI-reference: non-empty printable ASCII without spaces or the characters
    /// RFC 3986 never allows (`"<>\^`{|}`).
    pub fn new(value: impl Into<String>) -> Result<Self, TimelineError> {
        let value = value.into();
        let reason = if value.is_empty() {
            Some("must not be empty")
        } else if value
            .chars()
            .any(|c| !c.is_ascii_graphic() || "\"<>\\^`{|}".contains(c))
        {
            Some("must be printable ASCII without spaces or any of \"<>\\^`{|}")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(TimelineError::Source { value, reason }),
            None => Ok(Self(value)),
        }
    }
    /// `/klaxon/{component}` for a Klaxon component (`routing` gives `/klaxon/routing`).
    pub fn klaxon(component: &str) -> Result<Self, TimelineError> {
        Self::new(format!("/klaxon/{component}"))
    }
    /// The source as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for EventSource {
    type Error = TimelineError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}
impl From<EventSource> for String {
    fn from(value: EventSource) -> String {
        value.0
    }
}
impl fmt::Display for EventSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The key of an occurrence within its incident's timeline, deterministic for the occurrence
/// (`acknowledged`, `alert.0192ff.linked`, `escalation.v3.0`, or a delivery id chosen by the
/// caller). Recording the same key twice means recording the same occurrence twice.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EntryKey(String);

impl EntryKey {
    /// Validates a key: 1 to 128 characters of `[A-Za-z0-9._:-]`.
    pub fn new(value: impl Into<String>) -> Result<Self, TimelineError> {
        let value = value.into();
        let valid = !value.is_empty()
            && value.len() <= MAX_ENTRY_KEY_LEN
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'));
        if valid {
            Ok(Self(value))
        } else {
            Err(TimelineError::EntryKey(value))
        }
    }
    /// For keys built inside the crate from validated parts (slugs, opaque ids, numbers), which
    /// cannot be invalid; checked in tests.
    pub(crate) fn internal(value: String) -> Self {
        Self(value)
    }
    /// The key as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for EntryKey {
    type Error = TimelineError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}
impl From<EntryKey> for String {
    fn from(value: EntryKey) -> String {
        value.0
    }
}
impl fmt::Display for EntryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
