//! Timeline entries: append-only CloudEvents 1.0 records.
//!
//! Domain functions produce [`TimelineDraft`]s: what happened ([`TimelineEntry`], typed per kind
//! so nobody can misspell an event type), to which incident, when, by whom, and a key that is
//! deterministic for the occurrence. The function that stores the entry turns a draft into a
//! [`TimelineRecord`] by naming itself as the CloudEvents `source` ([`EventSource`]).
//!
//! A record's serde form *is* the CloudEvents 1.0 JSON event format:
//!
//! ```json
//! {
//!   "specversion": "1.0",
//!   "id": "0192abcd/escalation.v1.0",
//!   "source": "/klaxon/routing",
//!   "subject": "0192abcd",
//!   "time": "2026-01-05T09:00:00Z",
//!   "datacontenttype": "application/json",
//!   "actor": "system:routing",
//!   "type": "io.klaxon.escalation.tier_paged",
//!   "data": { "policy": "infra", "round": 0, "tier": 0, "targets": [{"user": "alice"}], ... }
//! }
//! ```
//!
//! The actor travels as the extension attribute `actor` (CloudEvents attribute names must be
//! lowercase ASCII letters and digits, and extension values must be scalars, so it is the string
//! `kind:name`, see [`Actor`]). The `id` is `{subject}/{key}`: the same occurrence always gets the
//! same id, so a handler that re-runs after a crash writes the same record again instead of a
//! second one, and `source` + `id` stays unique as the spec requires.

use crate::Instant;
use crate::alert::Severity;
use crate::ids::{AlertId, DedupKey, GroupKey, IncidentId, IntegrationName, PolicyId, UserId};
use crate::user::Channel;
use crate::vocabulary::{
    EscalationStatus, ExhaustedReason, ResolveReason, StopReason, SuppressionReason, Target,
    Urgency,
};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The CloudEvents specification version Klaxon writes (`specversion`).
pub const SPEC_VERSION: &str = "1.0";
/// The media type of every record's `data` (`datacontenttype`).
pub const DATA_CONTENT_TYPE: &str = "application/json";
/// Maximum length of an [`EntryKey`].
pub const MAX_ENTRY_KEY_LEN: usize = 128;

/// Why a timeline value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimelineError {
    /// `specversion` was not `1.0`.
    #[error("specversion: expected \"1.0\", got {0:?}")]
    SpecVersion(String),
    /// `datacontenttype` was present and not `application/json`.
    #[error("datacontenttype: expected \"application/json\", got {0:?}")]
    DataContentType(String),
    /// `id` was empty.
    #[error("id: must not be empty")]
    EmptyId,
    /// `source` was not a usable URI-reference.
    #[error("source: {reason} (got {value:?}; example: \"/klaxon/routing\")")]
    Source {
        /// The rejected value.
        value: String,
        /// What was wrong with it.
        reason: &'static str,
    },
    /// An entry key was empty, too long or had a character outside `[A-Za-z0-9._:-]`.
    #[error(
        "entry key: must be 1 to 128 characters of letters, digits, '.', '_', ':' and '-' (got {0:?})"
    )]
    EntryKey(String),
    /// The `actor` attribute was not `system:…`, `user:…`, `integration:…` or `apikey:…`.
    #[error(
        "actor: expected \"system:NAME\", \"user:ID\", \"integration:NAME\" or \"apikey:NAME\" (got {value:?}): {reason}"
    )]
    Actor {
        /// The rejected value.
        value: String,
        /// What was wrong with it.
        reason: String,
    },
}

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

/// What happened: one variant per CloudEvents `type`, each with its typed `data`.
///
/// Serialised adjacently tagged as `{"type": "io.klaxon…", "data": {…}}`, which is exactly the
/// `type` and `data` members of the CloudEvents JSON format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum TimelineEntry {
    /// `io.klaxon.incident.triggered`: an incident was opened by its first alert.
    #[serde(rename = "io.klaxon.incident.triggered")]
    IncidentTriggered {
        /// The incident's number.
        number: u64,
        /// Its title.
        title: String,
        /// Its severity at opening.
        severity: Severity,
        /// The group key that gathers its alerts.
        group_key: GroupKey,
        /// The integration of the first alert.
        integration: IntegrationName,
    },
    /// `io.klaxon.incident.acknowledged`: someone took it.
    #[serde(rename = "io.klaxon.incident.acknowledged")]
    IncidentAcknowledged {},
    /// `io.klaxon.incident.resolved`.
    #[serde(rename = "io.klaxon.incident.resolved")]
    IncidentResolved {
        /// By hand, or automatically because every alert resolved.
        reason: ResolveReason,
    },
    /// `io.klaxon.incident.suppressed`: routing decided not to page for it.
    #[serde(rename = "io.klaxon.incident.suppressed")]
    IncidentSuppressed {
        /// The rule or maintenance window that suppressed it.
        reason: SuppressionReason,
    },
    /// `io.klaxon.incident.severity_changed`: a more severe alert joined.
    #[serde(rename = "io.klaxon.incident.severity_changed")]
    IncidentSeverityChanged {
        /// The previous severity.
        from: Severity,
        /// The new severity.
        to: Severity,
    },
    /// `io.klaxon.incident.assigned`: a user was added to the assignees.
    #[serde(rename = "io.klaxon.incident.assigned")]
    IncidentAssigned {
        /// The new assignee.
        user: UserId,
    },
    /// `io.klaxon.alert.linked`: an alert joined the incident.
    #[serde(rename = "io.klaxon.alert.linked")]
    AlertLinked {
        /// The alert occurrence.
        alert: AlertId,
        /// Its integration.
        integration: IntegrationName,
        /// Its dedup key.
        dedup_key: DedupKey,
        /// Its summary.
        summary: String,
        /// Its severity.
        severity: Severity,
    },
    /// `io.klaxon.alert.resolved`: a linked alert cleared.
    #[serde(rename = "io.klaxon.alert.resolved")]
    AlertResolved {
        /// The alert occurrence.
        alert: AlertId,
        /// How many linked alerts are still firing.
        open_alerts: u32,
    },
    /// `io.klaxon.escalation.tier_paged`: a tier's targets are being paged.
    #[serde(rename = "io.klaxon.escalation.tier_paged")]
    TierPaged {
        /// The policy.
        policy: PolicyId,
        /// The round (0 = first run through the tiers).
        round: u32,
        /// The tier index.
        tier: u32,
        /// The tier's targets.
        targets: Vec<Target>,
        /// The urgency of the pages.
        urgency: Urgency,
        /// When the next tier is due if nobody acknowledges (none for low urgency).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        escalates_at: Option<Instant>,
    },
    /// `io.klaxon.escalation.tier_skipped`: nobody was on call for any target of the tier.
    #[serde(rename = "io.klaxon.escalation.tier_skipped")]
    TierSkipped {
        /// The policy.
        policy: PolicyId,
        /// The round.
        round: u32,
        /// The tier index.
        tier: u32,
        /// The tier's targets, none of which resolved to anyone.
        targets: Vec<Target>,
    },
    /// `io.klaxon.escalation.exhausted`: the policy has nobody left to page.
    #[serde(rename = "io.klaxon.escalation.exhausted")]
    EscalationExhausted {
        /// The policy.
        policy: PolicyId,
        /// Why.
        reason: ExhaustedReason,
    },
    /// `io.klaxon.escalation.stopped`: an acknowledge or resolve stopped a live escalation.
    #[serde(rename = "io.klaxon.escalation.stopped")]
    EscalationStopped {
        /// The policy.
        policy: PolicyId,
        /// What stopped it.
        reason: StopReason,
        /// The status it was in.
        previous: EscalationStatus,
        /// The round it had reached.
        round: u32,
        /// The tier it had reached.
        tier: u32,
    },
    /// `io.klaxon.notification.delivered`: a page reached a provider.
    #[serde(rename = "io.klaxon.notification.delivered")]
    NotificationDelivered {
        /// Who was paged.
        user: UserId,
        /// On which channel.
        channel: Channel,
        /// The escalation round of the page.
        round: u32,
        /// The escalation tier of the page.
        tier: u32,
        /// The provider's message id, when it returns one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        provider_id: Option<String>,
    },
    /// `io.klaxon.notification.failed`: a page could not be delivered.
    #[serde(rename = "io.klaxon.notification.failed")]
    NotificationFailed {
        /// Who was to be paged.
        user: UserId,
        /// On which channel.
        channel: Channel,
        /// The escalation round of the page.
        round: u32,
        /// The escalation tier of the page.
        tier: u32,
        /// What went wrong.
        error: String,
        /// Whether another attempt will be made.
        retrying: bool,
    },
    /// `io.klaxon.notification.notice_delivered`: a notice that the incident was acknowledged
    /// or resolved reached a provider (sent to people already paged).
    #[serde(rename = "io.klaxon.notification.notice_delivered")]
    NoticeDelivered {
        /// Who was told.
        user: UserId,
        /// On which channel.
        channel: Channel,
        /// What they were told: acknowledged or resolved.
        notice: StopReason,
        /// The provider's message id, when it returns one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        provider_id: Option<String>,
    },
    /// `io.klaxon.notification.notice_failed`: a notice could not be delivered.
    #[serde(rename = "io.klaxon.notification.notice_failed")]
    NoticeFailed {
        /// Who was to be told.
        user: UserId,
        /// On which channel.
        channel: Channel,
        /// What they were to be told.
        notice: StopReason,
        /// What went wrong.
        error: String,
        /// Whether another attempt will be made.
        retrying: bool,
    },
}

impl TimelineEntry {
    /// The CloudEvents `type` of this entry.
    pub fn event_type(&self) -> &'static str {
        match self {
            TimelineEntry::IncidentTriggered { .. } => "io.klaxon.incident.triggered",
            TimelineEntry::IncidentAcknowledged {} => "io.klaxon.incident.acknowledged",
            TimelineEntry::IncidentResolved { .. } => "io.klaxon.incident.resolved",
            TimelineEntry::IncidentSuppressed { .. } => "io.klaxon.incident.suppressed",
            TimelineEntry::IncidentSeverityChanged { .. } => "io.klaxon.incident.severity_changed",
            TimelineEntry::IncidentAssigned { .. } => "io.klaxon.incident.assigned",
            TimelineEntry::AlertLinked { .. } => "io.klaxon.alert.linked",
            TimelineEntry::AlertResolved { .. } => "io.klaxon.alert.resolved",
            TimelineEntry::TierPaged { .. } => "io.klaxon.escalation.tier_paged",
            TimelineEntry::TierSkipped { .. } => "io.klaxon.escalation.tier_skipped",
            TimelineEntry::EscalationExhausted { .. } => "io.klaxon.escalation.exhausted",
            TimelineEntry::EscalationStopped { .. } => "io.klaxon.escalation.stopped",
            TimelineEntry::NotificationDelivered { .. } => "io.klaxon.notification.delivered",
            TimelineEntry::NotificationFailed { .. } => "io.klaxon.notification.failed",
            TimelineEntry::NoticeDelivered { .. } => "io.klaxon.notification.notice_delivered",
            TimelineEntry::NoticeFailed { .. } => "io.klaxon.notification.notice_failed",
        }
    }
}

/// A timeline entry before the recording component names itself as its `source`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineDraft {
    /// The incident (CloudEvents `subject`).
    pub subject: IncidentId,
    /// The occurrence's key within the incident's timeline.
    pub key: EntryKey,
    /// When it happened (CloudEvents `time`).
    pub time: Instant,
    /// Who caused it (CloudEvents extension `actor`).
    pub actor: Actor,
    /// What happened (CloudEvents `type` and `data`).
    pub entry: TimelineEntry,
}

impl TimelineDraft {
    /// A draft. `key` must be deterministic for the occurrence (for example a delivery id).
    pub fn new(
        subject: IncidentId,
        key: EntryKey,
        time: Instant,
        actor: Actor,
        entry: TimelineEntry,
    ) -> Self {
        Self {
            subject,
            key,
            time,
            actor,
            entry,
        }
    }

    /// The CloudEvents `id` this draft will get: `{subject}/{key}`.
    pub fn record_id(&self) -> String {
        format!("{}/{}", self.subject, self.key)
    }

    /// The record, with `source` naming the component that records it.
    pub fn into_record(self, source: EventSource) -> TimelineRecord {
        TimelineRecord {
            id: self.record_id(),
            source,
            subject: self.subject,
            time: self.time,
            actor: self.actor,
            entry: self.entry,
        }
    }
}

/// One stored timeline record; its serde form is a CloudEvents 1.0 JSON event.
///
/// Deserialising checks `specversion` is `1.0`, `datacontenttype` (when present) is
/// `application/json`, `id` is not empty, `source` is a URI-reference, `time` is RFC 3339, and
/// that `type` is a known Klaxon type with matching `data`. Unknown extension attributes are
/// ignored, as CloudEvents consumers must.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "CloudEventJson", into = "CloudEventJson")]
pub struct TimelineRecord {
    /// CloudEvents `id`, unique per `source` (and in practice globally: it contains the subject).
    pub id: String,
    /// CloudEvents `source`.
    pub source: EventSource,
    /// CloudEvents `subject`: the incident.
    pub subject: IncidentId,
    /// CloudEvents `time`.
    pub time: Instant,
    /// CloudEvents extension `actor`.
    pub actor: Actor,
    /// CloudEvents `type` and `data`.
    pub entry: TimelineEntry,
}

impl TimelineRecord {
    /// The record as CloudEvents JSON.
    pub fn to_cloud_event(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::to_value(self)
    }
    /// Parses CloudEvents JSON.
    pub fn from_cloud_event(value: serde_json::Value) -> Result<Self, serde_json::Error> {
        serde_json::from_value(value)
    }
}

/// The CloudEvents JSON event format, field by field.
#[derive(Serialize, Deserialize)]
struct CloudEventJson {
    specversion: String,
    id: String,
    source: EventSource,
    subject: IncidentId,
    time: Instant,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    datacontenttype: Option<String>,
    actor: Actor,
    #[serde(flatten)]
    entry: TimelineEntry,
}

impl From<TimelineRecord> for CloudEventJson {
    fn from(record: TimelineRecord) -> Self {
        Self {
            specversion: SPEC_VERSION.to_string(),
            id: record.id,
            source: record.source,
            subject: record.subject,
            time: record.time,
            datacontenttype: Some(DATA_CONTENT_TYPE.to_string()),
            actor: record.actor,
            entry: record.entry,
        }
    }
}

impl TryFrom<CloudEventJson> for TimelineRecord {
    type Error = TimelineError;
    fn try_from(json: CloudEventJson) -> Result<Self, Self::Error> {
        if json.specversion != SPEC_VERSION {
            return Err(TimelineError::SpecVersion(json.specversion));
        }
        if let Some(content_type) = json.datacontenttype {
            // A JSON media type may carry parameters (`application/json; charset=utf-8`).
            let essence = content_type.split(';').next().unwrap_or_default().trim();
            if !essence.eq_ignore_ascii_case(DATA_CONTENT_TYPE) {
                return Err(TimelineError::DataContentType(content_type));
            }
        }
        if json.id.is_empty() {
            return Err(TimelineError::EmptyId);
        }
        Ok(Self {
            id: json.id,
            source: json.source,
            subject: json.subject,
            time: json.time,
            actor: json.actor,
            entry: json.entry,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn at(h: u32, m: u32) -> Instant {
        chrono::Utc.with_ymd_and_hms(2026, 1, 5, h, m, 0).unwrap()
    }

    fn incident() -> IncidentId {
        IncidentId::new("0192abcd").unwrap()
    }

    fn tier_paged_record() -> TimelineRecord {
        TimelineDraft::new(
            incident(),
            EntryKey::new("escalation.v1.0").unwrap(),
            at(9, 0),
            Actor::system("routing"),
            TimelineEntry::TierPaged {
                policy: PolicyId::new("infra").unwrap(),
                round: 0,
                tier: 0,
                targets: vec![Target::User(UserId::new("alice").unwrap())],
                urgency: Urgency::High,
                escalates_at: Some(at(9, 5)),
            },
        )
        .into_record(EventSource::klaxon("routing").unwrap())
    }

    /// Every entry kind, with representative data.
    fn one_of_each() -> Vec<TimelineEntry> {
        let policy = PolicyId::new("infra").unwrap();
        let alice = UserId::new("alice").unwrap();
        let alert = AlertId::new("a1").unwrap();
        vec![
            TimelineEntry::IncidentTriggered {
                number: 7,
                title: "disk full".into(),
                severity: Severity::Critical,
                group_key: GroupKey("abc".into()),
                integration: IntegrationName::new("prom").unwrap(),
            },
            TimelineEntry::IncidentAcknowledged {},
            TimelineEntry::IncidentResolved {
                reason: ResolveReason::AllAlertsResolved,
            },
            TimelineEntry::IncidentSuppressed {
                reason: SuppressionReason::MaintenanceWindow {
                    window: crate::ids::RuleId::new("db-upgrade").unwrap(),
                },
            },
            TimelineEntry::IncidentSeverityChanged {
                from: Severity::Warning,
                to: Severity::Critical,
            },
            TimelineEntry::IncidentAssigned {
                user: alice.clone(),
            },
            TimelineEntry::AlertLinked {
                alert: alert.clone(),
                integration: IntegrationName::new("prom").unwrap(),
                dedup_key: DedupKey::new("disk:/var").unwrap(),
                summary: "disk full".into(),
                severity: Severity::Error,
            },
            TimelineEntry::AlertResolved {
                alert,
                open_alerts: 2,
            },
            TimelineEntry::TierPaged {
                policy: policy.clone(),
                round: 1,
                tier: 2,
                targets: vec![Target::Schedule(
                    crate::ids::ScheduleId::new("primary").unwrap(),
                )],
                urgency: Urgency::Low,
                escalates_at: None,
            },
            TimelineEntry::TierSkipped {
                policy: policy.clone(),
                round: 0,
                tier: 1,
                targets: vec![],
            },
            TimelineEntry::EscalationExhausted {
                policy: policy.clone(),
                reason: ExhaustedReason::NobodyOnCall,
            },
            TimelineEntry::EscalationStopped {
                policy,
                reason: StopReason::Acknowledged,
                previous: EscalationStatus::Active,
                round: 0,
                tier: 1,
            },
            TimelineEntry::NotificationDelivered {
                user: alice.clone(),
                channel: Channel::Sms,
                round: 0,
                tier: 0,
                provider_id: Some("msg-1".into()),
            },
            TimelineEntry::NotificationFailed {
                user: alice.clone(),
                channel: Channel::Email,
                round: 0,
                tier: 0,
                error: "MessageRejected".into(),
                retrying: false,
            },
            TimelineEntry::NoticeDelivered {
                user: alice.clone(),
                channel: Channel::Slack,
                notice: StopReason::Acknowledged,
                provider_id: None,
            },
            TimelineEntry::NoticeFailed {
                user: alice,
                channel: Channel::Sms,
                notice: StopReason::Resolved,
                error: "throttled".into(),
                retrying: true,
            },
        ]
    }

    #[test]
    fn record_serialises_as_a_cloudevent_with_every_required_attribute() {
        let value = tier_paged_record().to_cloud_event().unwrap();
        assert_eq!(value["specversion"], "1.0");
        assert_eq!(value["id"], "0192abcd/escalation.v1.0");
        assert_eq!(value["source"], "/klaxon/routing");
        assert_eq!(value["type"], "io.klaxon.escalation.tier_paged");
        assert_eq!(value["subject"], "0192abcd");
        assert_eq!(value["time"], "2026-01-05T09:00:00Z");
        assert_eq!(value["datacontenttype"], "application/json");
        assert_eq!(value["actor"], "system:routing");
        assert_eq!(
            value["data"],
            json!({
                "policy": "infra", "round": 0, "tier": 0,
                "targets": [{"user": "alice"}], "urgency": "high",
                "escalates_at": "2026-01-05T09:05:00Z"
            })
        );
        let time = value["time"].as_str().unwrap();
        assert!(chrono::DateTime::parse_from_rfc3339(time).is_ok());
    }

    #[test]
    fn attribute_names_follow_the_cloudevents_naming_rule() {
        // Names: lowercase ASCII letters and digits, at most 20 characters (and never "data" for
        // a context attribute, which is reserved for the payload member).
        let value = tier_paged_record().to_cloud_event().unwrap();
        let object = value.as_object().unwrap();
        for name in object.keys() {
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                    && name.len() <= 20,
                "{name}"
            );
        }
        assert!(object.contains_key("data"));
        assert!(object["data"].is_object());
    }

    #[test]
    fn every_entry_kind_round_trips_and_its_type_matches_event_type() {
        for (n, entry) in one_of_each().into_iter().enumerate() {
            let record = TimelineDraft::new(
                incident(),
                EntryKey::new(format!("k{n}")).unwrap(),
                at(10, n as u32),
                Actor::user(UserId::new("bob").unwrap()),
                entry.clone(),
            )
            .into_record(EventSource::klaxon("api").unwrap());
            let value = record.to_cloud_event().unwrap();
            assert_eq!(value["type"], entry.event_type());
            assert!(value["data"].is_object(), "{}", entry.event_type());
            let back = TimelineRecord::from_cloud_event(value).unwrap();
            assert_eq!(back, record);
        }
    }

    #[test]
    fn parsing_rejects_wrong_specversion_content_type_id_type_and_data() {
        let good = tier_paged_record().to_cloud_event().unwrap();
        let with = |key: &str, v: serde_json::Value| {
            let mut event = good.clone();
            event[key] = v;
            TimelineRecord::from_cloud_event(event)
        };
        let err = with("specversion", json!("0.3")).unwrap_err().to_string();
        assert!(err.contains("specversion"), "{err}");
        let err = with("datacontenttype", json!("text/xml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("datacontenttype"), "{err}");
        assert!(with("id", json!("")).is_err());
        assert!(with("source", json!("has space")).is_err());
        assert!(with("time", json!("yesterday")).is_err());
        assert!(with("type", json!("io.klaxon.incident.exploded")).is_err());
        assert!(with("data", json!({"policy": "infra"})).is_err());
        assert!(with("actor", json!("robot:r2")).is_err());
        // Parameters on the media type and unknown extension attributes are fine.
        assert!(with("datacontenttype", json!("application/json; charset=utf-8")).is_ok());
        assert!(with("traceparent", json!("00-abc")).is_ok());
        // Required attributes must be present.
        for required in ["specversion", "id", "source", "type"] {
            let mut event = good.clone();
            event.as_object_mut().unwrap().remove(required);
            assert!(
                TimelineRecord::from_cloud_event(event).is_err(),
                "{required}"
            );
        }
        // datacontenttype is optional: JSON is implied.
        let mut event = good.clone();
        event.as_object_mut().unwrap().remove("datacontenttype");
        assert!(TimelineRecord::from_cloud_event(event).is_ok());
    }

    #[test]
    fn actor_round_trips_through_its_string_form() {
        let actors = [
            Actor::system("routing"),
            Actor::user(UserId::new("alice").unwrap()),
            Actor::integration(IntegrationName::new("alertmanager-prod").unwrap()),
            Actor::ApiKey {
                name: "ci:deploy".into(),
            },
        ];
        let strings = [
            "system:routing",
            "user:alice",
            "integration:alertmanager-prod",
            "apikey:ci:deploy",
        ];
        for (actor, text) in actors.iter().zip(strings) {
            assert_eq!(actor.to_string(), text);
            assert_eq!(&text.parse::<Actor>().unwrap(), actor);
            assert_eq!(serde_json::to_value(actor).unwrap(), json!(text));
        }
        assert!("user:Alice".parse::<Actor>().is_err());
        assert!("user:".parse::<Actor>().is_err());
        assert!("alice".parse::<Actor>().is_err());
        // Control characters never reach the CloudEvents string.
        assert_eq!(Actor::system("a\nb").to_string(), "system:a\u{FFFD}b");
    }

    #[test]
    fn ids_are_deterministic_and_keys_validated() {
        let a = tier_paged_record();
        let b = tier_paged_record();
        assert_eq!(a.id, b.id);
        assert!(EntryKey::new("delivery:abc-1.2_x").is_ok());
        assert!(EntryKey::new("").is_err());
        assert!(EntryKey::new("has space").is_err());
        assert!(EntryKey::new("x".repeat(129)).is_err());
        assert!(EventSource::new("urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66").is_ok());
        assert!(EventSource::new("").is_err());
    }
}
