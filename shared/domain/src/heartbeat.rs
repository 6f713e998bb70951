//! Heartbeats (dead man's switch): a monitored job pings Klaxon every `interval`; when no ping
//! arrives within `interval + grace` of the last one, Klaxon opens an incident through the
//! normal pipeline (an alert with a stable dedup key per heartbeat); the next ping resolves it.
//!
//! The state machine here is pure (the clock is passed in). Each ping re-arms ONE one-shot
//! timer named `hb.{name}.{version}` carrying the state's version ([`HeartbeatTimer`]); the
//! timer is a no-op unless that version is still the armed one, so a duplicate delivery, or a
//! late delivery of a timer an earlier ping armed, changes nothing. A heartbeat that never
//! pinged since it was configured has no state and is [`HeartbeatStatus::Inactive`] (Opsgenie's
//! semantics), not failing.

use crate::Instant;
use crate::alert::{Alert, AlertStatus, Severity};
use crate::duration::HumanDuration;
use crate::escalation::{MAX_TIMER_NAME_LEN, TimerName};
use crate::ids::{DedupKey, IdError, IntegrationName, PolicyId};
use crate::vocabulary::Urgency;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The longest heartbeat name: `hb.` + 40 + `.` + 20 digits of version = 64, the scheduler's
/// limit on a schedule name.
pub const MAX_HEARTBEAT_NAME_LEN: usize = 40;

/// The label every heartbeat alert carries, naming its heartbeat (routing reads it).
pub const HEARTBEAT_LABEL: &str = "heartbeat";

/// The source of every heartbeat alert.
pub const HEARTBEAT_SOURCE: &str = "klaxon-heartbeat";

/// The shortest interval accepted. Seconds are for local mode and tests, like tier delays: in
/// the cloud a timer fires with one-minute precision (Opsgenie's minimum interval is a minute).
pub const MIN_HEARTBEAT_INTERVAL: HumanDuration = HumanDuration::from_secs(1);

/// The longest interval or grace accepted.
pub const MAX_HEARTBEAT_INTERVAL: HumanDuration = HumanDuration::from_secs(31 * 86_400);

/// A heartbeat's name: 1 to [`MAX_HEARTBEAT_NAME_LEN`] characters of `[a-z0-9_-]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HeartbeatName(String);

impl HeartbeatName {
    /// Validates a name.
    pub fn new(value: impl Into<String>) -> Result<Self, IdError> {
        let value = value.into();
        if value.is_empty() {
            return Err(IdError::Empty);
        }
        if value.len() > MAX_HEARTBEAT_NAME_LEN {
            return Err(IdError::TooLong {
                max: MAX_HEARTBEAT_NAME_LEN,
                len: value.len(),
            });
        }
        if let Some(found) = value
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '_'))
        {
            return Err(IdError::BadChar {
                allowed: "lowercase letters, digits, '-' and '_'",
                found,
            });
        }
        Ok(Self(value))
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for HeartbeatName {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}
impl From<HeartbeatName> for String {
    fn from(value: HeartbeatName) -> String {
        value.0
    }
}
impl fmt::Display for HeartbeatName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn default_severity() -> Severity {
    Severity::Error
}

/// One `heartbeats:` entry of the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    /// The name in the ping URL (`nightly-backup`).
    pub name: HeartbeatName,
    /// The integration whose key authenticates pings; the missed-heartbeat alert comes from it.
    pub integration: IntegrationName,
    /// How often the job pings.
    pub interval: HumanDuration,
    /// Extra time after `interval` before the heartbeat counts as missed.
    #[serde(default)]
    pub grace: HumanDuration,
    /// The severity of the alert a missed heartbeat opens.
    #[serde(default = "default_severity")]
    pub severity: Severity,
    /// The urgency of its incident (else routing decides).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urgency: Option<Urgency>,
    /// The escalation policy of its incident (else routing rules and defaults decide, matching
    /// the `heartbeat` label).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation_policy: Option<PolicyId>,
    /// What the heartbeat watches, shown in the alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Heartbeat {
    /// How long after a ping the heartbeat counts as missed: `interval + grace`.
    pub fn window(&self) -> chrono::TimeDelta {
        self.interval.to_delta() + self.grace.to_delta()
    }

    /// The dedup key of the alert a missed deadline opens: stable per heartbeat, so a
    /// duplicate expiry is a repeat of the open alert, never a second incident.
    pub fn dedup_key(&self) -> Result<DedupKey, IdError> {
        DedupKey::new(format!("heartbeat:{}", self.name))
    }

    /// The alert a missed deadline opens (firing) at `now`, for a heartbeat last pinged at
    /// `last_ping`.
    pub fn missed_alert(&self, last_ping: Instant, now: Instant) -> Result<Alert, IdError> {
        let mut labels = BTreeMap::new();
        labels.insert(HEARTBEAT_LABEL.to_owned(), self.name.to_string());
        let mut annotations = BTreeMap::new();
        if let Some(description) = &self.description {
            annotations.insert("description".to_owned(), description.clone());
        }
        annotations.insert("last_ping".to_owned(), last_ping.to_rfc3339());
        annotations.insert("interval".to_owned(), self.interval.to_string());
        annotations.insert("grace".to_owned(), self.grace.to_string());
        Ok(Alert {
            integration: self.integration.clone(),
            dedup_key: self.dedup_key()?,
            status: AlertStatus::Firing,
            severity: self.severity,
            summary: format!(
                "Heartbeat {} expired: no ping since {}",
                self.name,
                last_ping.to_rfc3339()
            ),
            source: Some(HEARTBEAT_SOURCE.to_owned()),
            labels,
            annotations,
            links: Vec::new(),
            received_at: now,
            started_at: Some(now),
            ended_at: None,
            group_hint: None,
            raw: serde_json::Value::Null,
        })
    }
}

/// What a heartbeat's timer delivers (the scheduler target's `Input`):
/// `{"heartbeat":"nightly-backup","version":3}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatTimer {
    /// The heartbeat.
    pub heartbeat: HeartbeatName,
    /// The state's version when the ping armed this timer.
    pub version: u64,
}

impl HeartbeatTimer {
    /// The timer's name: `hb.{name}.{version}`, at most 3 + 40 + 1 + 20 = 64 characters. The
    /// dots keep it apart from every incident timer (`{incident}-…`, never a dot).
    pub fn timer_name(&self) -> TimerName {
        let name = format!("hb.{}.{}", self.heartbeat, self.version);
        debug_assert!(name.len() <= MAX_TIMER_NAME_LEN);
        // Valid by construction: a heartbeat name is at most 40 of `[a-z0-9_-]`.
        TimerName::trusted(name)
    }
}

/// What a heartbeat is doing, as `klaxon heartbeats list` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeartbeatStatus {
    /// Never pinged since it was configured: nothing is expected yet.
    Inactive,
    /// Pinged, and the deadline has not passed.
    Ok,
    /// The deadline passed without a ping (an incident is open, or about to open).
    Expired,
}

impl HeartbeatStatus {
    /// The name in listings.
    pub fn as_str(self) -> &'static str {
        match self {
            HeartbeatStatus::Inactive => "inactive",
            HeartbeatStatus::Ok => "ok",
            HeartbeatStatus::Expired => "expired",
        }
    }
}

/// A heartbeat's stored state (absent until its first ping).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatState {
    /// Bumped by every ping and every expiry; the armed timer carries the value it had.
    pub version: u64,
    /// The last ping.
    pub last_ping_at: Instant,
    /// When the heartbeat counts as missed (last ping + interval + grace).
    pub deadline: Instant,
    /// Pings received.
    pub pings: u64,
    /// The version carried by the timer currently armed (`None` once it fired).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timer_version: Option<u64>,
    /// When the deadline was found missed (the alert is open until the next ping).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expired_at: Option<Instant>,
    /// The version of the timer that expired it (a redelivery of that timer re-sends the
    /// alert, which is then a repeat).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expired_by: Option<u64>,
}

impl HeartbeatState {
    /// The status at `now` of a heartbeat with this state (`None`: never pinged).
    pub fn status(state: Option<&HeartbeatState>, now: Instant) -> HeartbeatStatus {
        match state {
            None => HeartbeatStatus::Inactive,
            Some(state) if state.expired_at.is_some() || now >= state.deadline => {
                HeartbeatStatus::Expired
            }
            Some(_) => HeartbeatStatus::Ok,
        }
    }

    /// The timer armed for this state, if any.
    pub fn armed_timer(&self, name: &HeartbeatName) -> Option<HeartbeatTimer> {
        self.timer_version.map(|version| HeartbeatTimer {
            heartbeat: name.clone(),
            version,
        })
    }
}

/// What a ping does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ping {
    /// The state to store (conditional on the version read).
    pub state: HeartbeatState,
    /// The timer to arm, due at `state.deadline`.
    pub arm: HeartbeatTimer,
    /// The timer an earlier ping armed, to cancel (a late fire of it would be a no-op anyway).
    pub cancel: Option<HeartbeatTimer>,
    /// The heartbeat was expired: resolve its alert.
    pub recovered: bool,
}

/// A ping at `now` of `heartbeat`, whose stored state is `state`.
pub fn ping(heartbeat: &Heartbeat, state: Option<&HeartbeatState>, now: Instant) -> Ping {
    let version = state.map_or(1, |s| s.version.saturating_add(1));
    let next = HeartbeatState {
        version,
        last_ping_at: now,
        deadline: now + heartbeat.window(),
        pings: state.map_or(1, |s| s.pings.saturating_add(1)),
        timer_version: Some(version),
        expired_at: None,
        expired_by: None,
    };
    Ping {
        state: next,
        arm: HeartbeatTimer {
            heartbeat: heartbeat.name.clone(),
            version,
        },
        cancel: state.and_then(|s| s.armed_timer(&heartbeat.name)),
        recovered: state.is_some_and(|s| s.expired_at.is_some()),
    }
}

/// Why a ping request does not count as a ping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IgnoredPing {
    /// A resolved notification from Alertmanager (webhook payload v4) or Grafana alerting
    /// (`{"status":"resolved","alerts":[…]}`): for an always-firing `Watchdog` alert it means
    /// the alert *stopped* firing, the very silence the heartbeat exists to notice.
    ResolvedNotification,
}

impl IgnoredPing {
    /// The machine-readable reason in the ping's answer.
    pub fn as_str(self) -> &'static str {
        match self {
            IgnoredPing::ResolvedNotification => "resolved_notification",
        }
    }
}

/// Whether a ping request's `body` means "do not count this ping". Pings carry no payload of
/// their own, so any body is accepted and counts (empty, text, any JSON), except a resolved
/// Alertmanager or Grafana alerting notification: a JSON object whose `status` is
/// `"resolved"` and which has an `alerts` list.
pub fn ignored_ping(body: &[u8]) -> Option<IgnoredPing> {
    if body.is_empty() {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let resolved = value.get("status").and_then(serde_json::Value::as_str) == Some("resolved");
    let notification = value.get("alerts").is_some_and(serde_json::Value::is_array);
    (resolved && notification).then_some(IgnoredPing::ResolvedNotification)
}

/// What a fired heartbeat timer does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expiry {
    /// The timer is not the armed one (a ping re-armed since, a duplicate after the state
    /// moved on, or no state at all): nothing happens.
    Stale,
    /// The armed timer fired before the deadline (never expected): nothing happens.
    NotDue,
    /// The deadline passed: store this state, then open the alert.
    Expired(HeartbeatState),
    /// A redelivery of the timer that already expired the heartbeat, still unpinged: send the
    /// alert again (a repeat of the open alert if the first send got through).
    AlreadyExpired,
}

/// The timer `timer` fired at `now` for a heartbeat whose stored state is `state`.
pub fn expire(state: Option<&HeartbeatState>, timer: &HeartbeatTimer, now: Instant) -> Expiry {
    let Some(state) = state else {
        return Expiry::Stale;
    };
    if state.timer_version != Some(timer.version) {
        if state.expired_at.is_some() && state.expired_by == Some(timer.version) {
            return Expiry::AlreadyExpired;
        }
        return Expiry::Stale;
    }
    if now < state.deadline {
        return Expiry::NotDue;
    }
    Expiry::Expired(HeartbeatState {
        version: state.version.saturating_add(1),
        timer_version: None,
        expired_at: Some(now),
        expired_by: Some(timer.version),
        ..state.clone()
    })
}

#[cfg(test)]
mod tests;
