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

/// What a fired timer delivers (the scheduler target's JSON `Input`, e.g.
/// `{"incident":"0192abcd","round":0,"tier":1,"version":3}`): enough to recognise a stale or
/// duplicate delivery without trusting the timer's time.
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
}

impl TimerPayload {
    /// The name of the timer that carries this payload.
    pub fn timer_name(&self) -> TimerName {
        TimerName::for_tier(&self.incident, self.round, self.tier)
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
        let payload = TimerPayload {
            incident,
            round: 1,
            tier: 2,
            version: 9,
        };
        assert_eq!(payload.timer_name().as_str(), "0192abcd-r1-t2");
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
