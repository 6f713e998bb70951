//! Responders and how to reach them.
//!
//! In the configuration file a user looks like this (only `id` and `name` are required):
//!
//! ```yaml
//! - id: alice
//!   name: Alice Example
//!   email: alice@example.com
//!   phone: "+4915112345678"      # E.164, quoted (YAML would read +49... as a number)
//!   slack_id: U012ABCDEF
//!   time_zone: Europe/Berlin     # default UTC
//!   role: responder              # viewer, responder (default) or admin: what the console lets them do
//!   contact:                     # default: see ContactMethods::defaults_for
//!     high: [sms, email, slack]
//!     low: [email]
//!   quiet_hours:                 # low-urgency pages wait until the end (crate::quiet)
//!     - { from: "22:00", to: "07:00" }
//!     - { days: [sat, sun], from: "07:00", to: "10:00" }
//!   min_severity: { sms: critical }  # a channel is used only from this severity up
//! ```

use crate::alert::Severity;
use crate::ids::UserId;
use crate::schedule::Restriction;
use crate::vocabulary::Urgency;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// A channel a page can go out on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// Email (SES v2 in the cloud, SMTP or the outbox locally).
    Email,
    /// SMS (SNS in the cloud, the outbox locally).
    Sms,
    /// Slack incoming webhook (the user's Slack id is mentioned).
    Slack,
    /// Microsoft Teams incoming webhook.
    Teams,
    /// A generic JSON webhook, signed with HMAC-SHA256.
    Webhook,
}

impl Channel {
    /// All channels.
    pub const ALL: [Channel; 5] = [
        Channel::Email,
        Channel::Sms,
        Channel::Slack,
        Channel::Teams,
        Channel::Webhook,
    ];

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Slack => "slack",
            Channel::Teams => "teams",
            Channel::Webhook => "webhook",
        }
    }
}

impl std::fmt::Display for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The channels a user is paged on, per urgency, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactMethods {
    /// Channels for high-urgency pages.
    pub high: Vec<Channel>,
    /// Channels for low-urgency pages (may be empty: such pages then reach this user nowhere).
    pub low: Vec<Channel>,
}

impl ContactMethods {
    /// The contact methods used when a user's file entry leaves them out:
    /// high urgency on SMS (if a phone is set) then email (if an email is set); low urgency on
    /// email if set, otherwise SMS if a phone is set. Slack, Teams and webhooks are never
    /// defaulted because they need a shared webhook in `notifications`.
    pub fn defaults_for(has_email: bool, has_phone: bool) -> Self {
        let mut high = Vec::new();
        if has_phone {
            high.push(Channel::Sms);
        }
        if has_email {
            high.push(Channel::Email);
        }
        let low = if has_email {
            vec![Channel::Email]
        } else if has_phone {
            vec![Channel::Sms]
        } else {
            Vec::new()
        };
        Self { high, low }
    }
}

/// What a user may do in the web console: every role can look; responders and admins act on
/// incidents; admins also manage keys and configuration.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Sees incidents, schedules and who is on call; changes nothing.
    Viewer,
    /// Also acknowledges and resolves incidents and creates overrides (the default).
    #[default]
    Responder,
    /// Also manages keys and the configuration.
    Admin,
}

impl Role {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Responder => "responder",
            Role::Admin => "admin",
        }
    }

    /// Whether this is the default role.
    pub fn is_default(&self) -> bool {
        *self == Role::default()
    }

    /// Whether this role may act on incidents (acknowledge, resolve).
    pub fn can_act(self) -> bool {
        self >= Role::Responder
    }
}

/// A person who can be paged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "UserEntry")]
pub struct User {
    /// Identifier used in schedules and policies.
    pub id: UserId,
    /// Display name.
    pub name: String,
    /// Email address (required for the email channel).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Phone number in E.164 form (`+15551234567`), required for SMS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Slack member id (`U012ABCDEF`), mentioned in Slack pages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slack_id: Option<String>,
    /// The user's own time zone (for display; schedules have their own zone).
    pub time_zone: chrono_tz::Tz,
    /// Channels per urgency.
    pub contact: ContactMethods,
    /// What they may do in the web console (left out of the JSON when it is the default).
    #[serde(skip_serializing_if = "Role::is_default")]
    pub role: Role,
    /// Windows in the user's own zone in which low-urgency pages are deferred to the window's
    /// end ([`crate::quiet`]); empty means never quiet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quiet_hours: Vec<Restriction>,
    /// The least severity a channel is used for (`sms: critical`); a channel not listed takes
    /// every severity. High urgency always reaches the user ([`crate::quiet`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub min_severity: BTreeMap<Channel, Severity>,
}

impl User {
    /// The channels to page this user on for `urgency`.
    pub fn channels_for(&self, urgency: Urgency) -> &[Channel] {
        match urgency {
            Urgency::High => &self.contact.high,
            Urgency::Low => &self.contact.low,
        }
    }

    /// The user's own address on `channel`: email address, phone number or Slack member id.
    /// Teams and generic webhooks have no per-user address (they post to the shared endpoints
    /// in `notifications` and name the user), so they return `None`.
    pub fn address(&self, channel: Channel) -> Option<&str> {
        match channel {
            Channel::Email => self.email.as_deref(),
            Channel::Sms => self.phone.as_deref(),
            Channel::Slack => self.slack_id.as_deref(),
            Channel::Teams | Channel::Webhook => None,
        }
    }
}

/// The file shape of a user: `contact` and `time_zone` may be left out.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserEntry {
    id: UserId,
    name: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default, deserialize_with = "phone_text")]
    phone: Option<String>,
    #[serde(default)]
    slack_id: Option<String>,
    #[serde(default = "utc")]
    time_zone: chrono_tz::Tz,
    #[serde(default)]
    contact: ContactEntry,
    #[serde(default)]
    role: Role,
    #[serde(default)]
    quiet_hours: Vec<Restriction>,
    #[serde(default)]
    min_severity: BTreeMap<Channel, Severity>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ContactEntry {
    #[serde(default)]
    high: Option<Vec<Channel>>,
    #[serde(default)]
    low: Option<Vec<Channel>>,
}

fn utc() -> chrono_tz::Tz {
    chrono_tz::UTC
}

impl From<UserEntry> for User {
    fn from(entry: UserEntry) -> Self {
        let defaults = ContactMethods::defaults_for(entry.email.is_some(), entry.phone.is_some());
        User {
            id: entry.id,
            name: entry.name,
            email: entry.email,
            phone: entry.phone,
            slack_id: entry.slack_id,
            time_zone: entry.time_zone,
            contact: ContactMethods {
                high: entry.contact.high.unwrap_or(defaults.high),
                low: entry.contact.low.unwrap_or(defaults.low),
            },
            role: entry.role,
            quiet_hours: entry.quiet_hours,
            min_severity: entry.min_severity,
        }
    }
}

/// Accepts a phone number only as text, with a hint when YAML turned `+4915...` into a number.
fn phone_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    match Option::<serde_json::Value>::deserialize(deserializer)? {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(text)) => Ok(Some(text)),
        Some(serde_json::Value::Number(number)) => Err(serde::de::Error::custom(format!(
            "write the phone number as a quoted string in E.164 form, e.g. \"+{number}\" \
             (unquoted, YAML reads it as a number)"
        ))),
        Some(_) => Err(serde::de::Error::custom(
            "expected a phone number in E.164 form as a quoted string (\"+15551234567\")",
        )),
    }
}

/// Checks an E.164 phone number: `+`, a country code not starting with 0, 7 to 15 digits in all.
pub fn check_e164(phone: &str) -> Result<(), String> {
    let Some(digits) = phone.strip_prefix('+') else {
        return Err(format!(
            "{phone:?} is not in E.164 form: it must start with '+' and the country code (+15551234567)"
        ));
    };
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!(
            "{phone:?} is not in E.164 form: only digits may follow '+' (no spaces or dashes)"
        ));
    }
    if digits.starts_with('0') {
        return Err(format!(
            "{phone:?} is not in E.164 form: the country code cannot start with 0"
        ));
    }
    if !(7..=15).contains(&digits.len()) {
        return Err(format!(
            "{phone:?} is not in E.164 form: it must have 7 to 15 digits (has {})",
            digits.len()
        ));
    }
    Ok(())
}

/// Checks the shape of an email address: `local@domain.tld`, no spaces. Deliverability is the
/// mail system's business; this only catches typos such as a missing `@` or domain.
pub fn check_email(email: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("{email:?} is not an email address: {why}"));
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("it contains whitespace");
    }
    let Some((local, domain)) = email.split_once('@') else {
        return bad("it has no '@'");
    };
    if local.is_empty() {
        return bad("nothing before '@'");
    }
    if domain.contains('@') {
        return bad("it has more than one '@'");
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 || labels.iter().any(|label| label.is_empty()) {
        return bad("the domain must look like example.com");
    }
    Ok(())
}

/// Checks a Slack member id: starts with `U` or `W`, then uppercase letters and digits.
pub fn check_slack_id(slack_id: &str) -> Result<(), String> {
    let mut chars = slack_id.chars();
    let first_ok = matches!(chars.next(), Some('U' | 'W'));
    let rest_ok =
        slack_id.len() >= 3 && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    if first_ok && rest_ok {
        Ok(())
    } else {
        Err(format!(
            "{slack_id:?} is not a Slack member id (like U012ABCDEF; find it in the user's Slack profile)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_defaults_follow_the_addresses_present() {
        let both = ContactMethods::defaults_for(true, true);
        assert_eq!(both.high, vec![Channel::Sms, Channel::Email]);
        assert_eq!(both.low, vec![Channel::Email]);
        let phone_only = ContactMethods::defaults_for(false, true);
        assert_eq!(phone_only.high, vec![Channel::Sms]);
        assert_eq!(phone_only.low, vec![Channel::Sms]);
        assert_eq!(
            ContactMethods::defaults_for(false, false),
            ContactMethods::default()
        );
    }

    #[test]
    fn user_entry_fills_defaults_and_keeps_explicit_lists() {
        let user: User = serde_json::from_str(
            r#"{"id":"alice","name":"Alice","email":"a@example.com","contact":{"low":[]}}"#,
        )
        .unwrap();
        assert_eq!(user.time_zone, chrono_tz::UTC);
        assert_eq!(user.channels_for(Urgency::High), &[Channel::Email]);
        assert!(user.channels_for(Urgency::Low).is_empty());
        assert_eq!(user.address(Channel::Email), Some("a@example.com"));
        assert_eq!(user.address(Channel::Sms), None);

        // Canonical form writes contact out in full and reads back to the same user.
        let text = serde_json::to_string(&user).unwrap();
        assert!(text.contains(r#""contact":{"high":["email"],"low":[]}"#));
        assert_eq!(serde_json::from_str::<User>(&text).unwrap(), user);
    }

    #[test]
    fn unquoted_phone_numbers_get_a_quoting_hint() {
        let err = serde_json::from_str::<User>(r#"{"id":"a","name":"A","phone":15551234567}"#)
            .unwrap_err();
        assert!(err.to_string().contains("\"+15551234567\""), "{err}");
        assert!(serde_json::from_str::<User>(r#"{"id":"a","name":"A","phon":"x"}"#).is_err());
    }

    #[test]
    fn e164_accepts_international_numbers_only() {
        assert!(check_e164("+15551234567").is_ok());
        assert!(check_e164("+4915112345678").is_ok());
        assert!(check_e164("15551234567").is_err());
        assert!(check_e164("+1 555 123 4567").is_err());
        assert!(check_e164("+0123456789").is_err());
        assert!(check_e164("+12345").is_err());
        assert!(check_e164("+1234567890123456").is_err());
    }

    #[test]
    fn email_shape_catches_typos() {
        assert!(check_email("alice@example.com").is_ok());
        assert!(check_email("a.b+tag@mail.example.co.uk").is_ok());
        assert!(check_email("alice.example.com").is_err());
        assert!(check_email("@example.com").is_err());
        assert!(check_email("alice@localhost").is_err());
        assert!(check_email("alice@example..com").is_err());
        assert!(check_email("al ice@example.com").is_err());
        assert!(check_email("a@b@example.com").is_err());
    }

    #[test]
    fn slack_ids_look_like_member_ids() {
        assert!(check_slack_id("U012ABCDEF").is_ok());
        assert!(check_slack_id("W0ABC").is_ok());
        assert!(check_slack_id("@alice").is_err());
        assert!(check_slack_id("u012abc").is_err());
        assert!(check_slack_id("C012ABCDEF").is_err());
    }
}
