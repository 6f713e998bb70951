//! iCalendar (RFC 5545) feeds of on-call schedules, shared by `klaxon schedule export --ics`
//! and the API's ICS endpoint.
//!
//! One `VEVENT` per stretch of time someone is on call (the schedule's final schedule, overrides
//! included); stretches with nobody on call get no event. Every instant is written in UTC, so
//! calendar clients need no `VTIMEZONE` and show the shifts in the reader's own zone.
//!
//! An event's UID is `{schedule}-{start}-{user}@klaxon` (start as `20260308T130000Z`): the same
//! shift keeps its UID from one download to the next, so subscribed calendars update events in
//! place instead of duplicating them. Events keep their real start and end even when they
//! overlap the requested range only in part (looked up to [`EVENT_CONTEXT_DAYS`] beyond it), so
//! a feed with a sliding range does not cut the first and last shift short.

use chrono::TimeDelta;
use icalendar::{Calendar, Component, Event, EventLike, Property};
use klaxon_domain::Instant;
use klaxon_domain::config::Config;
use klaxon_domain::ids::{ScheduleId, UserId};
use klaxon_domain::schedule::{OnCallInterval, OnCallSource, Override, Schedule};
use std::fmt;

/// `PRODID` of every calendar Klaxon writes.
pub const PRODID: &str = "-//Klaxon//On-call schedule//EN";

/// The longest range a caller may ask for, in days: a year and a day, enough for any "this
/// year" view. The domain computes any range; callers bound it so one request stays cheap.
pub const MAX_RANGE_DAYS: i64 = 366;

/// How far beyond the requested range an event's true start and end are looked for, in days.
/// A shift longer than this that crosses a range edge is cut at this distance.
pub const EVENT_CONTEXT_DAYS: i64 = 31;

/// A validated time range `[from, to)`: `from` before `to`, at most [`MAX_RANGE_DAYS`] long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleRange {
    from: Instant,
    to: Instant,
}

/// Why a range was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeError {
    /// `to` is not after `from`.
    NotAfter {
        /// The start.
        from: Instant,
        /// The end.
        to: Instant,
    },
    /// The range is longer than [`MAX_RANGE_DAYS`].
    TooLong {
        /// Its length in whole days (rounded up).
        days: i64,
    },
}

impl fmt::Display for RangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RangeError::NotAfter { from, to } => write!(
                f,
                "the end of the range ({}) must be after its start ({})",
                to.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                from.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
            ),
            RangeError::TooLong { days } => write!(
                f,
                "the range is {days} days long; at most {MAX_RANGE_DAYS} days can be shown at once"
            ),
        }
    }
}

impl std::error::Error for RangeError {}

impl ScheduleRange {
    /// The range `[from, to)`, if `from < to` and it is at most [`MAX_RANGE_DAYS`] long.
    pub fn new(from: Instant, to: Instant) -> Result<Self, RangeError> {
        if to <= from {
            return Err(RangeError::NotAfter { from, to });
        }
        let length = to.signed_duration_since(from);
        if length > TimeDelta::days(MAX_RANGE_DAYS) {
            let seconds = length.num_seconds();
            return Err(RangeError::TooLong {
                days: seconds / 86_400 + i64::from(seconds % 86_400 != 0),
            });
        }
        Ok(Self { from, to })
    }

    /// The start (inclusive).
    pub fn from(&self) -> Instant {
        self.from
    }

    /// The end (exclusive).
    pub fn to(&self) -> Instant {
        self.to
    }
}

/// The on-call stretches that become events: every interval of the final schedule with
/// someone on call that overlaps `range`, with its full start and end (looked up to
/// [`EVENT_CONTEXT_DAYS`] beyond the range).
pub fn on_call_events(
    schedule: &Schedule,
    overrides: &[Override],
    range: ScheduleRange,
) -> Vec<OnCallInterval> {
    let context = TimeDelta::days(EVENT_CONTEXT_DAYS);
    let wide_from = range.from.checked_sub_signed(context).unwrap_or(range.from);
    let wide_to = range.to.checked_add_signed(context).unwrap_or(range.to);
    schedule
        .final_schedule(overrides, wide_from, wide_to)
        .into_iter()
        .filter(|interval| {
            interval.user.is_some() && interval.start < range.to && range.from < interval.end
        })
        .collect()
}

/// The stable UID of the event for `user`'s stretch on `schedule` starting at `start`.
pub fn event_uid(schedule: &ScheduleId, start: Instant, user: &UserId) -> String {
    format!(
        "{schedule}-{}-{user}@klaxon",
        start.format("%Y%m%dT%H%M%SZ")
    )
}

/// The schedule's on-call stretches overlapping `range` as an iCalendar document (CRLF line
/// endings, lines folded at 75 octets). `generated_at` is the `DTSTAMP` of every event: pass the
/// current time (it is a parameter so the output is reproducible).
pub fn schedule_calendar(
    config: &Config,
    schedule: &Schedule,
    overrides: &[Override],
    range: ScheduleRange,
    generated_at: Instant,
) -> String {
    let mut calendar = Calendar::empty();
    calendar
        .append_property(Property::new("VERSION", "2.0"))
        .append_property(Property::new("PRODID", PRODID))
        .append_property(Property::new("CALSCALE", "GREGORIAN"))
        .append_property(Property::new("METHOD", "PUBLISH"));
    // The crate escapes TEXT for the properties it knows (SUMMARY, DESCRIPTION, every X-
    // property) but not for RFC 7986's NAME.
    let name = format!("On call: {}", schedule.name);
    calendar
        .append_property(Property::new("NAME", escape_text(&name)))
        .append_property(Property::new("X-WR-CALNAME", &name))
        .append_property(Property::new("X-WR-TIMEZONE", schedule.time_zone.name()));

    for interval in on_call_events(schedule, overrides, range) {
        let Some(user) = &interval.user else {
            continue;
        };
        let user_name = config
            .user(user)
            .map_or_else(|| user.to_string(), |found| found.name.clone());
        let event = Event::new()
            .uid(&event_uid(&schedule.id, interval.start, user))
            .timestamp(generated_at)
            .starts(interval.start)
            .ends(interval.end)
            .summary(&format!("On call: {user_name}"))
            .description(&describe(
                schedule,
                &user_name,
                user,
                interval.source.as_ref(),
            ))
            .add_property("TRANSP", "TRANSPARENT")
            .done();
        calendar.push(event);
    }
    calendar.to_string()
}

/// One person's shifts on every schedule (each with its overrides) overlapping `range`, as
/// one iCalendar document: the "my shifts" feed. Events keep the UIDs of the schedules' own
/// feeds, so a shift is the same event in both.
pub fn user_calendar(
    config: &Config,
    user: &UserId,
    schedules: &[(&Schedule, Vec<Override>)],
    range: ScheduleRange,
    generated_at: Instant,
) -> String {
    let mut calendar = Calendar::empty();
    calendar
        .append_property(Property::new("VERSION", "2.0"))
        .append_property(Property::new("PRODID", PRODID))
        .append_property(Property::new("CALSCALE", "GREGORIAN"))
        .append_property(Property::new("METHOD", "PUBLISH"));
    let user_name = config
        .user(user)
        .map_or_else(|| user.to_string(), |found| found.name.clone());
    let name = format!("On call: {user_name}");
    calendar
        .append_property(Property::new("NAME", escape_text(&name)))
        .append_property(Property::new("X-WR-CALNAME", &name));
    for (schedule, overrides) in schedules {
        for interval in on_call_events(schedule, overrides, range) {
            if interval.user.as_ref() != Some(user) {
                continue;
            }
            let event = Event::new()
                .uid(&event_uid(&schedule.id, interval.start, user))
                .timestamp(generated_at)
                .starts(interval.start)
                .ends(interval.end)
                .summary(&format!("On call: {}", schedule.name))
                .description(&describe(
                    schedule,
                    &user_name,
                    user,
                    interval.source.as_ref(),
                ))
                .add_property("TRANSP", "TRANSPARENT")
                .done();
            calendar.push(event);
        }
    }
    calendar.to_string()
}

/// The event description: which schedule, who, and why (layer or override).
fn describe(
    schedule: &Schedule,
    user_name: &str,
    user: &UserId,
    source: Option<&OnCallSource>,
) -> String {
    let why = match source {
        Some(OnCallSource::Layer { index, name }) => format!("layer {index} \"{name}\""),
        Some(OnCallSource::Override { id }) => format!("override {id}"),
        None => "unknown".to_string(),
    };
    format!(
        "{user_name} ({user}) is on call for schedule {} ({}), from {why}.",
        schedule.name, schedule.id
    )
}

/// Escapes a TEXT value (RFC 5545 section 3.3.11) for a property the icalendar crate does not
/// escape itself.
fn escape_text(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            ',' => escaped.push_str("\\,"),
            ';' => escaped.push_str("\\;"),
            '\n' => escaped.push_str("\\n"),
            '\r' => {}
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    const CONFIG: &str = r#"
users:
  - { id: alice, name: "Alice, the first", email: alice@example.com }
  - { id: bob, name: Bob, email: bob@example.com }
schedules:
  - id: ny
    name: "New York; daily"
    time_zone: America/New_York
    layers:
      - name: Daily
        rotation:
          participants: [alice, bob]
          start: "2026-01-05T09:00:00"
          shift: { days: 1 }
        restrictions:
          - { from: "09:00", to: "17:00" }
"#;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> Instant {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn config() -> Config {
        Config::from_yaml(CONFIG).unwrap()
    }

    #[test]
    fn ranges_must_be_ordered_and_bounded() {
        let from = utc(2026, 3, 1, 0, 0);
        assert!(ScheduleRange::new(from, from).is_err());
        assert!(matches!(
            ScheduleRange::new(from, from - TimeDelta::hours(1)),
            Err(RangeError::NotAfter { .. })
        ));
        assert!(ScheduleRange::new(from, from + TimeDelta::days(366)).is_ok());
        let too_long = ScheduleRange::new(from, from + TimeDelta::days(366) + TimeDelta::hours(1));
        assert_eq!(too_long, Err(RangeError::TooLong { days: 367 }));
        assert!(
            too_long
                .unwrap_err()
                .to_string()
                .contains("at most 366 days")
        );
    }

    #[test]
    fn events_follow_the_wall_clock_across_spring_forward() {
        let config = config();
        let schedule = &config.schedules[0];
        let range = ScheduleRange::new(utc(2026, 3, 7, 0, 0), utc(2026, 3, 10, 0, 0)).unwrap();
        let events = on_call_events(schedule, &[], range);
        let starts: Vec<Instant> = events.iter().map(|e| e.start).collect();
        // 09:00 EST is 14:00Z before the change, 09:00 EDT is 13:00Z after it.
        assert_eq!(
            starts,
            [
                utc(2026, 3, 7, 14, 0),
                utc(2026, 3, 8, 13, 0),
                utc(2026, 3, 9, 13, 0)
            ]
        );
        assert_eq!(events[1].end, utc(2026, 3, 8, 21, 0));
    }

    #[test]
    fn events_keep_their_real_start_when_the_range_cuts_them() {
        let config = config();
        let schedule = &config.schedules[0];
        // 15:00Z is inside the 14:00Z-22:00Z shift of 6 March.
        let range = ScheduleRange::new(utc(2026, 3, 6, 15, 0), utc(2026, 3, 6, 16, 0)).unwrap();
        let events = on_call_events(schedule, &[], range);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].start, utc(2026, 3, 6, 14, 0));
        assert_eq!(events[0].end, utc(2026, 3, 6, 22, 0));
    }

    #[test]
    fn calendar_has_one_event_per_stretch_with_stable_uids() {
        let config = config();
        let schedule = &config.schedules[0];
        let range = ScheduleRange::new(utc(2026, 3, 7, 0, 0), utc(2026, 3, 9, 0, 0)).unwrap();
        let stamp = utc(2026, 3, 1, 12, 0);
        let text = schedule_calendar(&config, schedule, &[], range, stamp);
        assert!(text.starts_with("BEGIN:VCALENDAR\r\n"), "{text}");
        assert!(text.ends_with("END:VCALENDAR\r\n"));
        assert!(text.contains("PRODID:-//Klaxon//On-call schedule//EN\r\n"));
        assert!(
            text.contains("\r\nNAME:On call: New York\\; daily\r\n"),
            "{text}"
        );
        assert!(text.contains("X-WR-CALNAME:On call: New York\\; daily\r\n"));
        assert_eq!(text.matches("BEGIN:VEVENT").count(), 2);
        assert!(text.contains("UID:ny-20260308T130000Z-"));
        assert!(text.contains("DTSTART:20260308T130000Z\r\n"));
        assert!(text.contains("DTEND:20260308T210000Z\r\n"));
        assert!(text.contains("DTSTAMP:20260301T120000Z\r\n"));
        // Same input, same output: nothing random (UIDs, stamps) leaks in.
        assert_eq!(
            text,
            schedule_calendar(&config, schedule, &[], range, stamp)
        );
        for line in text.split("\r\n") {
            assert!(line.len() <= 75, "line longer than 75 octets: {line:?}");
        }
    }

    #[test]
    fn summaries_name_the_user_and_overrides_show_up() {
        let config = config();
        let schedule = &config.schedules[0];
        let range = ScheduleRange::new(utc(2026, 3, 9, 0, 0), utc(2026, 3, 10, 0, 0)).unwrap();
        let cover = Override {
            id: "cover1".into(),
            schedule: schedule.id.clone(),
            user: UserId::new("alice").unwrap(),
            start: utc(2026, 3, 9, 13, 0),
            end: utc(2026, 3, 9, 21, 0),
        };
        let text = schedule_calendar(&config, schedule, &[cover], range, utc(2026, 3, 1, 0, 0));
        let parsed: Calendar = text.parse().unwrap();
        let events: Vec<&Event> = parsed.events().collect();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].get_summary(), Some("On call: Alice, the first"));
        assert!(
            events[0]
                .get_description()
                .is_some_and(|d| d.contains("override cover1")),
            "{text}"
        );
    }
}
