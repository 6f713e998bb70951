//! Human-readable durations in configuration (`5m`, `1h 30m`, `7d`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A non-negative span of time written as text in config files (`"30s"`, `"5m"`, `"1h 30m"`,
/// `"7d"`), parsed with the `humantime` grammar. Stored with second precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct HumanDuration {
    seconds: i64,
}

/// Why a duration string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {input:?}: {reason} (examples: \"30s\", \"5m\", \"1h 30m\", \"7d\")")]
pub struct DurationError {
    /// The rejected text.
    pub input: String,
    /// What was wrong with it.
    pub reason: String,
}

impl HumanDuration {
    /// A duration of `seconds` seconds (negative values clamp to zero).
    pub const fn from_secs(seconds: i64) -> Self {
        Self {
            seconds: if seconds < 0 { 0 } else { seconds },
        }
    }
    /// A duration of `minutes` minutes.
    pub const fn from_mins(minutes: i64) -> Self {
        Self::from_secs(minutes * 60)
    }
    /// The whole number of seconds.
    pub const fn as_secs(self) -> i64 {
        self.seconds
    }
    /// As a chrono delta, for arithmetic on instants.
    pub fn to_delta(self) -> chrono::TimeDelta {
        chrono::TimeDelta::seconds(self.seconds)
    }
    /// Parses `humantime` syntax; sub-second parts are rejected (timers have 1 s precision at best).
    pub fn parse(input: &str) -> Result<Self, DurationError> {
        let parsed = humantime::parse_duration(input.trim()).map_err(|e| DurationError {
            input: input.to_string(),
            reason: e.to_string(),
        })?;
        if parsed.subsec_nanos() != 0 {
            return Err(DurationError {
                input: input.to_string(),
                reason: "sub-second precision is not supported".into(),
            });
        }
        let seconds = i64::try_from(parsed.as_secs()).map_err(|_| DurationError {
            input: input.to_string(),
            reason: "too large".into(),
        })?;
        // 100 years is far beyond any sensible paging duration and keeps chrono arithmetic safe.
        if seconds > 100 * 366 * 86_400 {
            return Err(DurationError {
                input: input.to_string(),
                reason: "too large".into(),
            });
        }
        Ok(Self { seconds })
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.seconds == 0 {
            return f.write_str("0s");
        }
        let mut rest = self.seconds;
        for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
            if rest >= size {
                write!(f, "{}{}", rest / size, unit)?;
                rest %= size;
                if rest != 0 {
                    f.write_str(" ")?;
                }
            }
        }
        Ok(())
    }
}

impl std::str::FromStr for HumanDuration {
    type Err = DurationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays_common_forms() {
        assert_eq!(HumanDuration::parse("5m").unwrap().as_secs(), 300);
        assert_eq!(HumanDuration::parse("1h 30m").unwrap().as_secs(), 5400);
        assert_eq!(HumanDuration::parse("7d").unwrap().as_secs(), 7 * 86_400);
        assert_eq!(HumanDuration::from_secs(5400).to_string(), "1h 30m");
        assert_eq!(HumanDuration::from_secs(0).to_string(), "0s");
    }

    #[test]
    fn rejects_garbage_and_subsecond() {
        assert!(HumanDuration::parse("soon").is_err());
        assert!(HumanDuration::parse("").is_err());
        assert!(HumanDuration::parse("1500ms").is_err());
    }

    #[test]
    fn display_round_trips() {
        for secs in [1, 59, 60, 61, 3599, 3600, 86_399, 86_400, 90_061] {
            let d = HumanDuration::from_secs(secs);
            assert_eq!(HumanDuration::parse(&d.to_string()).unwrap(), d);
        }
    }
}
