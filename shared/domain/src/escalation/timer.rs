//! Escalation timers: their deterministic names and the payload the scheduler delivers.

use crate::ids::IncidentId;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The longest name EventBridge Scheduler accepts for a schedule.
pub const MAX_TIMER_NAME_LEN: usize = 64;

/// A timer name was not 1 to 64 characters of `[0-9A-Za-z-_.]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("timer name must be 1 to 64 characters of letters, digits, '-', '_' and '.' (got {0:?})")]
pub struct TimerNameError(pub String);

/// The name of the one-shot timer for one (incident, round, tier).
///
/// [`TimerName::for_tier`] gives `{incident}-r{round}-t{tier}`: at most 40 + 2 + 10 + 2 + 10 =
/// 64 characters of `[0-9A-Za-z-]`, so it always satisfies EventBridge Scheduler's name rule
/// (1 to 64 characters of `[0-9a-zA-Z-_.]`). There is no product prefix because it would push
/// the longest names past 64; Klaxon's schedules live in their own schedule group instead. The
/// same (incident, round, tier) always gives the same name, so re-creating a timer after a crash
/// hits the existing schedule (a conflict the adapter treats as success) instead of arming a
/// second one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimerName(String);

impl TimerName {
    /// The timer of `tier` in `round` of `incident`'s escalation.
    pub fn for_tier(incident: &IncidentId, round: u32, tier: u32) -> Self {
        // Valid by construction: an IncidentId is 1 to 40 ASCII alphanumerics.
        Self(format!("{incident}-r{round}-t{tier}"))
    }

    /// The timer that pages `(round, tier)` of `cycle` again when quiet hours end at
    /// `due_minute` (Unix minutes): `{incident}-q{hash}`, 16 hex digits of a stable FNV-1a
    /// hash of the four numbers (at most 40 + 2 + 16 = 58 characters). The same page and end
    /// always give the same name, so re-arming it is a no-op; a follow-up timer for a later
    /// end gets another name (an EventBridge schedule that fired may linger a moment).
    pub fn for_quiet_end(
        incident: &IncidentId,
        round: u32,
        tier: u32,
        cycle: u32,
        due_minute: i64,
    ) -> Self {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        let bytes = [
            u64::from(round).to_be_bytes(),
            u64::from(tier).to_be_bytes(),
            u64::from(cycle).to_be_bytes(),
            due_minute.to_be_bytes(),
        ];
        for byte in bytes.iter().flatten() {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        Self(format!("{incident}-q{hash:016x}"))
    }

    /// Wraps a name built from parts that satisfy the rule by construction (a heartbeat's).
    pub(crate) fn trusted(value: String) -> Self {
        Self(value)
    }

    /// Validates a name read back from somewhere (storage, the scheduler).
    pub fn new(value: impl Into<String>) -> Result<Self, TimerNameError> {
        let value = value.into();
        if Self::is_valid(&value) {
            Ok(Self(value))
        } else {
            Err(TimerNameError(value))
        }
    }

    /// Whether `name` satisfies the scheduler's naming rule.
    pub fn is_valid(name: &str) -> bool {
        (1..=MAX_TIMER_NAME_LEN).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TimerName {
    type Error = TimerNameError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}
impl From<TimerName> for String {
    fn from(value: TimerName) -> String {
        value.0
    }
}
impl fmt::Display for TimerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What an incident timer is for. Every kind is one-shot, carries the escalation's version and
/// is a no-op when that version is no longer current (a duplicate or late delivery).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimerKind {
    /// A tier's deadline: escalate to the next tier (the only kind before snooze existed).
    #[default]
    Tier,
    /// A snooze ended: re-trigger the acknowledged incident and page the tier it was on.
    Snooze,
    /// The acknowledgement timeout passed: re-trigger the acknowledged incident once.
    AckTimeout,
    /// A user's quiet hours ended: page the low-urgency tier again for the users it held
    /// ([`crate::quiet`]). Changes no escalation state; the page's delivery keys make it
    /// reach each (user, channel) once.
    QuietHoursEnd,
}

impl TimerKind {
    /// The name in payloads and timeline entries.
    pub fn as_str(self) -> &'static str {
        match self {
            TimerKind::Tier => "tier",
            TimerKind::Snooze => "snooze",
            TimerKind::AckTimeout => "ack_timeout",
            TimerKind::QuietHoursEnd => "quiet_hours_end",
        }
    }

    /// Whether this is a tier deadline (serialised payloads omit the kind then).
    pub fn is_tier(&self) -> bool {
        *self == TimerKind::Tier
    }
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

/// What a fired timer delivers (the scheduler target's JSON `Input`, e.g.
/// `{"incident":"0192abcd","round":0,"tier":1,"version":3}`): enough to recognise a stale or
/// duplicate delivery without trusting the timer's time. A snooze or acknowledgement-timeout
/// timer adds `"timer_kind"`, and a timer armed after the incident re-triggered adds `"cycle"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TimerPayload {
    /// The incident whose escalation armed the timer.
    pub incident: IncidentId,
    /// The round that was paged.
    pub round: u32,
    /// The tier that was paged.
    pub tier: u32,
    /// The escalation state's version right after it armed this timer.
    pub version: u64,
    /// What the timer is for (tier deadline when absent). Serialised as `timer_kind`: the
    /// queue message that carries a payload is tagged `kind` itself.
    #[serde(
        rename = "timer_kind",
        default,
        skip_serializing_if = "TimerKind::is_tier"
    )]
    pub kind: TimerKind,
    /// How many times the incident re-triggered before this timer was armed (0 when absent).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cycle: u32,
}

impl TimerPayload {
    /// A tier deadline of the first cycle (the escalation as routing started it).
    pub fn tier(incident: IncidentId, round: u32, tier: u32, version: u64) -> Self {
        Self {
            incident,
            round,
            tier,
            version,
            kind: TimerKind::Tier,
            cycle: 0,
        }
    }

    /// The name of the timer that carries this payload: `{incident}-r{round}-t{tier}` for a
    /// tier deadline of the first cycle (as before re-triggering existed); after a re-trigger
    /// `{incident}-e{version}`, and `{incident}-s{version}` (snooze end) or `{incident}-a{version}`
    /// (acknowledgement timeout): at most 40 + 2 + 20 = 62 characters. The version is unique
    /// per armed timer, so a timer armed after a re-trigger never meets an older one's name.
    /// A quiet-hours timer is armed under [`TimerName::for_quiet_end`] (its name needs the
    /// due time); this gives `{incident}-q{version}` for it.
    pub fn timer_name(&self) -> TimerName {
        let letter = match (self.kind, self.cycle) {
            (TimerKind::Tier, 0) => {
                return TimerName::for_tier(&self.incident, self.round, self.tier);
            }
            (TimerKind::Tier, _) => 'e',
            (TimerKind::Snooze, _) => 's',
            (TimerKind::AckTimeout, _) => 'a',
            (TimerKind::QuietHoursEnd, _) => 'q',
        };
        TimerName(format!("{}-{letter}{}", self.incident, self.version))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_possible_name_fits_the_scheduler_limit() {
        let incident = IncidentId::new("Z".repeat(40)).unwrap();
        let name = TimerName::for_tier(&incident, u32::MAX, u32::MAX);
        assert_eq!(name.as_str().len(), 64);
        assert!(TimerName::is_valid(name.as_str()));
        assert_eq!(TimerName::new(name.as_str()).unwrap(), name);
    }

    #[test]
    fn name_is_deterministic_per_incident_round_tier() {
        let incident = IncidentId::new("0192abcd").unwrap();
        assert_eq!(
            TimerName::for_tier(&incident, 1, 2).as_str(),
            "0192abcd-r1-t2"
        );
        assert_ne!(
            TimerName::for_tier(&incident, 1, 2),
            TimerName::for_tier(&incident, 2, 1)
        );
        let payload = TimerPayload::tier(incident, 1, 2, 9);
        assert_eq!(payload.timer_name().as_str(), "0192abcd-r1-t2");
    }

    #[test]
    fn every_kind_has_a_deterministic_name_within_the_limit() {
        let incident = IncidentId::new("Z".repeat(40)).unwrap();
        let mut names = std::collections::BTreeSet::new();
        for (kind, cycle) in [
            (TimerKind::Tier, 1),
            (TimerKind::Snooze, 0),
            (TimerKind::AckTimeout, 0),
            (TimerKind::Snooze, 3),
        ] {
            let payload = TimerPayload {
                kind,
                cycle,
                ..TimerPayload::tier(incident.clone(), u32::MAX, u32::MAX, u64::MAX)
            };
            let name = payload.timer_name();
            assert!(name.as_str().len() <= MAX_TIMER_NAME_LEN, "{name}");
            assert!(TimerName::is_valid(name.as_str()), "{name}");
            assert_eq!(payload.timer_name(), name, "deterministic");
            names.insert(name);
        }
        // Snooze timers of cycles 0 and 3 at the same version are the same timer; the others
        // differ by kind.
        assert_eq!(names.len(), 3);
        let short = IncidentId::new("0192abcd").unwrap();
        let snooze = TimerPayload {
            kind: TimerKind::Snooze,
            ..TimerPayload::tier(short.clone(), 0, 1, 7)
        };
        assert_eq!(snooze.timer_name().as_str(), "0192abcd-s7");
        let ack = TimerPayload {
            kind: TimerKind::AckTimeout,
            ..TimerPayload::tier(short, 0, 1, 8)
        };
        assert_eq!(ack.timer_name().as_str(), "0192abcd-a8");
    }

    #[test]
    fn new_kinds_round_trip_and_old_payloads_still_read() {
        let payload: TimerPayload = serde_json::from_str(
            r#"{"incident":"0192abcd","round":0,"tier":1,"version":3,"timer_kind":"snooze","cycle":2}"#,
        )
        .unwrap();
        assert_eq!((payload.kind, payload.cycle), (TimerKind::Snooze, 2));
        let back = serde_json::to_value(&payload).unwrap();
        assert_eq!(back["timer_kind"], "snooze");
        assert!(
            serde_json::from_str::<TimerPayload>(
                r#"{"incident":"0192abcd","round":0,"tier":1,"version":3,"timer_kind":"sleep"}"#
            )
            .is_err()
        );
    }

    #[test]
    fn validation_follows_the_scheduler_rule() {
        assert!(TimerName::new("a.b_c-D9").is_ok());
        assert!(TimerName::new("").is_err());
        assert!(TimerName::new("a".repeat(65)).is_err());
        assert!(TimerName::new("a b").is_err());
        assert!(TimerName::new("a/b").is_err());
        assert!(serde_json::from_str::<TimerName>("\"a:b\"").is_err());
    }

    #[test]
    fn payload_json_is_the_scheduler_input() {
        let payload: TimerPayload =
            serde_json::from_str(r#"{"incident":"0192abcd","round":0,"tier":1,"version":3}"#)
                .unwrap();
        assert_eq!(payload.tier, 1);
        assert_eq!(payload.version, 3);
        let back = serde_json::to_value(&payload).unwrap();
        assert_eq!(
            back,
            serde_json::json!({"incident":"0192abcd","round":0,"tier":1,"version":3})
        );
        assert!(
            serde_json::from_str::<TimerPayload>(
                r#"{"incident":"not-valid!","round":0,"tier":1,"version":3}"#
            )
            .is_err()
        );
    }
}
