//! Timestamps as senders write them.

use crate::Instant;
use chrono::{DateTime, Datelike, Utc};

/// Parses RFC 3339 (`2024-05-01T12:00:00.123Z`, `...+02:00`) and the ISO 8601 variant with a
/// colon-less offset that PagerDuty's examples and CloudWatch alarm messages use
/// (`2015-07-17T08:42:58.315+0000`).
pub(crate) fn parse_timestamp(text: &str) -> Option<Instant> {
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .ok()
        .map(|parsed| parsed.with_timezone(&Utc))
}

/// Go's zero time (`0001-01-01T00:00:00Z`), which Alertmanager and Grafana send for "no end".
pub(crate) fn is_zero_time(instant: &Instant) -> bool {
    instant.year() <= 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn accepts_rfc3339_and_colon_less_offsets() {
        let expected = Utc.with_ymd_and_hms(2015, 7, 17, 8, 42, 58).unwrap()
            + chrono::Duration::milliseconds(315);
        assert_eq!(
            parse_timestamp("2015-07-17T08:42:58.315+0000"),
            Some(expected)
        );
        assert_eq!(parse_timestamp("2015-07-17T08:42:58.315Z"), Some(expected));
        assert_eq!(
            parse_timestamp("2015-07-17T10:42:58.315+02:00"),
            Some(expected)
        );
        assert_eq!(parse_timestamp("2015-07-17 08:42"), None);
        assert_eq!(parse_timestamp("yesterday"), None);
    }

    #[test]
    fn go_zero_time_is_recognised() {
        let zero = parse_timestamp("0001-01-01T00:00:00Z").unwrap();
        assert!(is_zero_time(&zero));
        assert!(!is_zero_time(
            &parse_timestamp("2024-01-01T00:00:00Z").unwrap()
        ));
    }
}
