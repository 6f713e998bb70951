//! The Klaxon configuration file an import writes, as plain serialisable records in the order
//! `docs/config.md` lists the fields (so the YAML reads like a hand-written file).
//!
//! The mapping fills these; the command then serialises them and checks the text with
//! Klaxon's own parser ([`klaxon_domain::config::Config::from_file`]) before anything is
//! written, so an import never leaves a file `klaxon config validate` would refuse.

use serde::Serialize;
use std::collections::BTreeMap;

/// A whole configuration file.
#[derive(Debug, Default, Serialize)]
pub struct ConfigFile {
    /// Always 1.
    pub version: u32,
    /// `users`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<UserEntry>,
    /// `schedules`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub schedules: Vec<ScheduleEntry>,
    /// `escalation_policies`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub escalation_policies: Vec<PolicyEntry>,
    /// `routing`.
    #[serde(skip_serializing_if = "Routing::is_empty")]
    pub routing: Routing,
    /// `maintenance_windows`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub maintenance_windows: Vec<WindowEntry>,
    /// `integrations`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub integrations: Vec<IntegrationEntry>,
    /// `heartbeats`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub heartbeats: Vec<HeartbeatEntry>,
    /// `notifications` (only the Slack webhook reference, when users are paged in Slack).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notifications: Option<Notifications>,
}

/// `notifications`.
#[derive(Debug, Clone, Serialize)]
pub struct Notifications {
    /// `slack.webhook_url`.
    pub slack: BTreeMap<String, String>,
}

impl Notifications {
    /// Slack pages posted to the incoming webhook in `${variable}`.
    pub fn slack(variable: &str) -> Self {
        Self {
            slack: BTreeMap::from([("webhook_url".to_owned(), format!("${{{variable}}}"))]),
        }
    }
}

/// One user.
#[derive(Debug, Clone, Serialize)]
pub struct UserEntry {
    /// Slug.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Email address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// E.164 phone number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Slack member id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slack_id: Option<String>,
    /// IANA zone.
    pub time_zone: String,
    /// Channels per urgency; `None` keeps Klaxon's defaults.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<Contact>,
}

/// `contact.high` / `contact.low`.
#[derive(Debug, Clone, Serialize)]
pub struct Contact {
    /// High-urgency channels in order.
    pub high: Vec<String>,
    /// Low-urgency channels in order.
    pub low: Vec<String>,
}

/// One schedule.
#[derive(Debug, Clone, Serialize)]
pub struct ScheduleEntry {
    /// Slug.
    pub id: String,
    /// Display name.
    pub name: String,
    /// IANA zone.
    pub time_zone: String,
    /// Layers in priority order.
    pub layers: Vec<LayerEntry>,
}

/// One layer.
#[derive(Debug, Clone, Serialize)]
pub struct LayerEntry {
    /// Display name.
    pub name: String,
    /// The rotation.
    pub rotation: RotationEntry,
    /// Windows in which the layer applies.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub restrictions: Vec<RestrictionEntry>,
}

/// A rotation.
#[derive(Debug, Clone, Serialize)]
pub struct RotationEntry {
    /// User ids in hand-off order.
    pub participants: Vec<String>,
    /// Local start, `2026-01-05T09:00:00`.
    pub start: String,
    /// `{ hours: N }`, `{ days: N }`, `{ weeks: N }` or `{ custom: "36h" }`.
    pub shift: BTreeMap<String, serde_json::Value>,
}

/// A restriction window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RestrictionEntry {
    /// Days the window starts on; empty for every day.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub days: Vec<String>,
    /// `HH:MM`.
    pub from: String,
    /// `HH:MM`.
    pub to: String,
}

/// One escalation policy.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyEntry {
    /// Slug.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Extra rounds.
    #[serde(skip_serializing_if = "is_zero")]
    pub repeat: u32,
    /// Tiers in order.
    pub tiers: Vec<TierEntry>,
}

/// One tier.
#[derive(Debug, Clone, Serialize)]
pub struct TierEntry {
    /// `"10m"`.
    pub delay: String,
    /// `{ user: ID }` or `{ schedule: ID }`.
    pub targets: Vec<BTreeMap<String, String>>,
}

/// `routing`.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Routing {
    /// `defaults.<severity>.policy`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub defaults: BTreeMap<String, BTreeMap<String, String>>,
    /// Rules in priority order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<RuleEntry>,
}

impl Routing {
    fn is_empty(&self) -> bool {
        self.defaults.is_empty() && self.rules.is_empty()
    }
}

/// One routing rule.
#[derive(Debug, Clone, Serialize)]
pub struct RuleEntry {
    /// Slug.
    pub id: String,
    /// Lower first.
    pub priority: u32,
    /// Alert matcher.
    #[serde(rename = "match")]
    pub matcher: Matcher,
    /// Policy id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Record but page nobody.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub suppress: bool,
    /// Severity override.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// `high` or `low`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub urgency: Option<String>,
}

/// An alert matcher.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Matcher {
    /// Integration names.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub integrations: Vec<String>,
    /// The alert's source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<LabelMatch>,
    /// Severities.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub severities: Vec<String>,
    /// Label matchers.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, LabelMatch>,
    /// Summary regex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

/// A label matcher: `"value"` (equal) or `{ regex: "..." }` (the whole value matches).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum LabelMatch {
    /// Equal to the text.
    Exact(String),
    /// The whole value matches.
    Regex {
        /// The pattern.
        regex: String,
    },
}

/// One maintenance window.
#[derive(Debug, Clone, Serialize)]
pub struct WindowEntry {
    /// Slug.
    pub id: String,
    /// RFC 3339.
    pub start: String,
    /// RFC 3339.
    pub end: String,
    /// Which incidents it silences.
    #[serde(rename = "match")]
    pub matcher: Matcher,
    /// Timeline text.
    pub reason: String,
}

/// One integration.
#[derive(Debug, Clone, Serialize)]
pub struct IntegrationEntry {
    /// Slug.
    pub name: String,
    /// Wire format.
    pub format: String,
}

/// One heartbeat (`docs/config.md`, `heartbeats`).
#[derive(Debug, Clone, Serialize)]
pub struct HeartbeatEntry {
    /// Slug of at most 40 characters (the ping URL's `{name}`).
    pub name: String,
    /// The integration whose key pings it.
    pub integration: String,
    /// `"30m"`, `"1d"`.
    pub interval: String,
    /// Severity of the missed-heartbeat alert; `None` keeps Klaxon's default (`error`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// What it watches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(value: &u32) -> bool {
    *value == 0
}
