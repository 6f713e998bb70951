//! Times on the command line (parsing `--at`, `--from`, `--to`) and in output (local with
//! offset, and UTC).

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Timelike, Utc};
use chrono_tz::Tz;
use klaxon_domain::Instant;
use klaxon_domain::schedule::resolve_local;

const EXAMPLES: &str = "e.g. 2026-03-08T06:30:00Z or 2026-03-08T07:30:00+01:00";

/// The current time, to the whole second (output stays readable; schedules and timers have no
/// finer precision anyway).
pub fn now() -> Instant {
    let now = Utc::now();
    now.with_nanosecond(0).unwrap_or(now)
}

/// Parses an RFC 3339 instant, or `now`. Errors say what is missing, for clap to report as a
/// usage error naming the option.
pub fn parse_instant(text: &str) -> Result<Instant, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("now") {
        return Ok(now());
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.to_utc());
    }
    if NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S").is_ok()
        || NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M").is_ok()
    {
        return Err(format!(
            "{text:?} has no time zone: add Z for UTC or an offset ({EXAMPLES})"
        ));
    }
    if NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok() {
        return Err(format!(
            "{text:?} is a date; a time is needed here ({EXAMPLES})"
        ));
    }
    Err(format!("{text:?} is not an RFC 3339 time ({EXAMPLES})"))
}

/// A `--from`/`--to` value: an instant, or a date that means midnight in the schedule's zone
/// (known only once the configuration is loaded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeArg {
    /// An RFC 3339 instant.
    Instant(Instant),
    /// A calendar date.
    Date(NaiveDate),
}

impl TimeArg {
    /// The instant this stands for in `zone` (a date is its first moment there: midnight, or
    /// the end of the DST gap where midnight does not exist).
    pub fn resolve(self, zone: Tz) -> Option<Instant> {
        match self {
            TimeArg::Instant(at) => Some(at),
            TimeArg::Date(date) => resolve_local(zone, date.and_time(chrono::NaiveTime::MIN)),
        }
    }
}

/// Parses an RFC 3339 instant, `now`, or a date (`2026-03-01`).
pub fn parse_time_or_date(text: &str) -> Result<TimeArg, String> {
    let trimmed = text.trim();
    if let Ok(date) = NaiveDate::parse_from_str(trimmed, "%Y-%m-%d") {
        return Ok(TimeArg::Date(date));
    }
    parse_instant(trimmed)
        .map(TimeArg::Instant)
        .map_err(|error| {
            if error.contains("is a date") {
                error
            } else {
                format!("{error}, or a date like 2026-03-01 (midnight in the schedule's time zone)")
            }
        })
}

/// An instant as RFC 3339 UTC (`2026-03-08T13:00:00Z`): the JSON form and the UTC column.
pub fn utc(at: Instant) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// An instant in UTC to the whole second (`2026-03-08T13:00:00Z`), for tables.
pub fn utc_seconds(at: Instant) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// An instant in `zone` as RFC 3339 with its offset (`2026-03-08T09:00:00-04:00`): the JSON
/// form of local times.
pub fn local_rfc3339(at: Instant, zone: Tz) -> String {
    at.with_timezone(&zone)
        .to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// An instant in `zone` for people: `Sun 2026-03-08 09:00 EDT (-04:00)`. Seconds only when
/// not zero.
pub fn local_human(at: Instant, zone: Tz) -> String {
    let local = at.with_timezone(&zone);
    let time = if local.second() == 0 {
        "%H:%M"
    } else {
        "%H:%M:%S"
    };
    local
        .format(&format!("%a %Y-%m-%d {time} %Z (%:z)"))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn instants_need_an_offset_and_say_so() {
        assert_eq!(
            parse_instant("2026-03-08T07:30:00+01:00").unwrap(),
            Utc.with_ymd_and_hms(2026, 3, 8, 6, 30, 0).unwrap()
        );
        assert!(
            parse_instant("2026-03-08T06:30:00")
                .unwrap_err()
                .contains("has no time zone")
        );
        assert!(
            parse_instant("2026-03-08")
                .unwrap_err()
                .contains("is a date")
        );
        assert!(
            parse_instant("tomorrow")
                .unwrap_err()
                .contains("is not an RFC 3339 time")
        );
        assert!(parse_instant("now").is_ok());
    }

    #[test]
    fn dates_are_midnight_in_the_schedule_zone() {
        let date = parse_time_or_date("2026-03-08").unwrap();
        assert_eq!(
            date.resolve(chrono_tz::America::New_York),
            Some(Utc.with_ymd_and_hms(2026, 3, 8, 5, 0, 0).unwrap())
        );
        assert_eq!(
            date.resolve(chrono_tz::Asia::Kolkata),
            Some(Utc.with_ymd_and_hms(2026, 3, 7, 18, 30, 0).unwrap())
        );
        // Santiago skips midnight when DST starts (2026-09-06): the day starts at 01:00.
        let gap_day = parse_time_or_date("2026-09-06").unwrap();
        assert_eq!(
            gap_day.resolve(chrono_tz::America::Santiago),
            Some(Utc.with_ymd_and_hms(2026, 9, 6, 4, 0, 0).unwrap())
        );
        assert!(parse_time_or_date("2026-02-30").is_err());
        assert!(
            parse_time_or_date("soon")
                .unwrap_err()
                .contains("or a date like 2026-03-01")
        );
    }

    #[test]
    fn local_times_show_zone_and_offset() {
        let at = Utc.with_ymd_and_hms(2026, 3, 8, 13, 0, 0).unwrap();
        let zone = chrono_tz::America::New_York;
        assert_eq!(local_human(at, zone), "Sun 2026-03-08 09:00 EDT (-04:00)");
        assert_eq!(local_rfc3339(at, zone), "2026-03-08T09:00:00-04:00");
        assert_eq!(utc(at), "2026-03-08T13:00:00Z");
    }
}
