//! `holidays_ics:` files: a schedule's holidays from an iCalendar file (a public-holiday feed
//! exported from a calendar app), read when the configuration file is loaded.
//!
//! Each all-day `VEVENT` is one holiday or a run of them: `DTSTART;VALUE=DATE` is the first
//! day, `DTEND;VALUE=DATE` the day after the last (exclusive, as RFC 5545 says); without
//! `DTEND` the event is one day. Cancelled events are skipped. Events with a time of day,
//! recurring events (`RRULE`, `RDATE`) and `DURATION` are refused with the event named: the
//! icalendar crate Klaxon uses does not expand recurrences, and a guess would put someone on
//! call on the wrong day.

use chrono::NaiveDate;
use icalendar::{Calendar, Component, DatePerhapsTime, EventStatus};
use klaxon_domain::config::HolidayCalendars;
use std::path::PathBuf;

/// The longest single event accepted, in days: a year of holidays, so a typo in `DTEND`
/// (`2062` for `2026`) is an error instead of decades of "holidays".
const MAX_EVENT_DAYS: i64 = 366;

/// Reads `holidays_ics` paths relative to the folder of the configuration file.
pub struct IcsFiles {
    /// The configuration file's folder.
    pub base: PathBuf,
}

impl HolidayCalendars for IcsFiles {
    fn holiday_dates(&self, path: &str) -> Result<Vec<NaiveDate>, String> {
        let full = self.base.join(path);
        let text = std::fs::read_to_string(&full)
            .map_err(|error| format!("cannot read {}: {error}", full.display()))?;
        holiday_dates(&text)
    }
}

/// The holiday dates of an iCalendar document, in file order without repeats.
pub fn holiday_dates(text: &str) -> Result<Vec<NaiveDate>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let calendar: Calendar = text.parse().map_err(|error: String| {
        let first = error
            .lines()
            .find(|line| !line.trim().is_empty())
            .unwrap_or("");
        format!("not an iCalendar file: {}", first.trim())
    })?;
    let mut dates = Vec::new();
    for (position, event) in calendar.events().enumerate() {
        let name = event_name(event, position);
        if event.get_status() == Some(EventStatus::Cancelled) {
            continue;
        }
        for property in ["RRULE", "RDATE"] {
            if event.property_value(property).is_some() {
                return Err(format!(
                    "{name} repeats ({property}), which holidays_ics does not expand: list each \
                     occurrence as its own event, or the dates in `holidays`"
                ));
            }
        }
        if event.property_value("DURATION").is_some() {
            return Err(format!(
                "{name} has a DURATION: give all-day events a DTEND;VALUE=DATE (the day after \
                 the last holiday) instead"
            ));
        }
        let first = match event.get_start() {
            Some(DatePerhapsTime::Date(date)) => date,
            Some(DatePerhapsTime::DateTime(_)) => {
                return Err(format!(
                    "{name} has a time of day: holidays are all-day events \
                     (DTSTART;VALUE=DATE:20261225)"
                ));
            }
            None => return Err(format!("{name} has no valid DTSTART")),
        };
        let end = match event.get_end() {
            Some(DatePerhapsTime::Date(date)) => date,
            Some(DatePerhapsTime::DateTime(_)) => {
                return Err(format!(
                    "{name} ends at a time of day: holidays are all-day events \
                     (DTEND;VALUE=DATE is the day after the last holiday)"
                ));
            }
            None if event.property_value("DTEND").is_some() => {
                return Err(format!("{name} has an invalid DTEND"));
            }
            None => first.succ_opt().unwrap_or(first),
        };
        let days = (end - first).num_days();
        if days < 1 {
            return Err(format!(
                "{name} ends before it starts (DTEND is exclusive: the day after the last holiday)"
            ));
        }
        if days > MAX_EVENT_DAYS {
            return Err(format!(
                "{name} lasts {days} days, more than {MAX_EVENT_DAYS}: check its DTEND"
            ));
        }
        for date in first.iter_days().take_while(|date| *date < end) {
            if !dates.contains(&date) {
                dates.push(date);
            }
        }
    }
    Ok(dates)
}

/// How an error names an event: its summary and UID when it has them, else its position.
fn event_name(event: &icalendar::Event, position: usize) -> String {
    let number = position + 1;
    match (event.get_summary(), event.get_uid()) {
        (Some(summary), Some(uid)) => format!("event {number} \"{summary}\" (UID {uid})"),
        (Some(summary), None) => format!("event {number} \"{summary}\""),
        (None, Some(uid)) => format!("event {number} (UID {uid})"),
        (None, None) => format!("event {number}"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn calendar(events: &str) -> String {
        format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{events}END:VCALENDAR\r\n")
    }

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn all_day_events_with_exclusive_ends_and_multi_day_runs() {
        let text = calendar(
            "BEGIN:VEVENT\r\nUID:xmas\r\nSUMMARY:Christmas\r\nDTSTART;VALUE=DATE:20261225\r\n\
             DTEND;VALUE=DATE:20261227\r\nEND:VEVENT\r\n\
             BEGIN:VEVENT\r\nUID:ny\r\nSUMMARY:New Year\r\nDTSTART;VALUE=DATE:20270101\r\n\
             END:VEVENT\r\n\
             BEGIN:VEVENT\r\nUID:boxing\r\nSUMMARY:Boxing Day\r\nDTSTART;VALUE=DATE:20261226\r\n\
             DTEND;VALUE=DATE:20261227\r\nEND:VEVENT\r\n",
        );
        assert_eq!(
            holiday_dates(&text).unwrap(),
            vec![date("2026-12-25"), date("2026-12-26"), date("2027-01-01")]
        );
    }

    #[test]
    fn cancelled_events_are_skipped() {
        let text = calendar(
            "BEGIN:VEVENT\r\nUID:a\r\nSTATUS:CANCELLED\r\nDTSTART;VALUE=DATE:20260501\r\n\
             END:VEVENT\r\n",
        );
        assert_eq!(holiday_dates(&text).unwrap(), Vec::<NaiveDate>::new());
    }

    #[test]
    fn a_recurring_event_is_refused_by_name() {
        let text = calendar(
            "BEGIN:VEVENT\r\nUID:may-day\r\nSUMMARY:May Day\r\nDTSTART;VALUE=DATE:20260501\r\n\
             RRULE:FREQ=YEARLY\r\nEND:VEVENT\r\n",
        );
        let error = holiday_dates(&text).unwrap_err();
        assert!(
            error.starts_with("event 1 \"May Day\" (UID may-day) repeats (RRULE)"),
            "{error}"
        );
    }

    #[test]
    fn a_timed_event_is_refused() {
        let text = calendar(
            "BEGIN:VEVENT\r\nUID:party\r\nSUMMARY:Party\r\nDTSTART:20261224T180000Z\r\n\
             DTEND:20261224T230000Z\r\nEND:VEVENT\r\n",
        );
        let error = holiday_dates(&text).unwrap_err();
        assert!(
            error.contains("\"Party\" (UID party) has a time of day"),
            "{error}"
        );
    }

    #[test]
    fn an_end_not_after_the_start_is_refused() {
        let text = calendar(
            "BEGIN:VEVENT\r\nSUMMARY:Backwards\r\nDTSTART;VALUE=DATE:20261225\r\n\
             DTEND;VALUE=DATE:20261225\r\nEND:VEVENT\r\n",
        );
        let error = holiday_dates(&text).unwrap_err();
        assert!(
            error.contains("\"Backwards\" ends before it starts"),
            "{error}"
        );
    }

    #[test]
    fn a_file_that_is_not_icalendar_is_refused() {
        let error = holiday_dates("users:\n  - id: alice\n").unwrap_err();
        assert!(error.starts_with("not an iCalendar file"), "{error}");
    }

    #[test]
    fn files_are_read_relative_to_the_configuration_folder() {
        let folder = tempfile::tempdir().unwrap();
        std::fs::create_dir(folder.path().join("holidays")).unwrap();
        std::fs::write(
            folder.path().join("holidays/uk.ics"),
            calendar("BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20261225\r\nEND:VEVENT\r\n"),
        )
        .unwrap();
        let files = IcsFiles {
            base: folder.path().to_path_buf(),
        };
        assert_eq!(
            files.holiday_dates("holidays/uk.ics").unwrap(),
            vec![date("2026-12-25")]
        );
        let error = files.holiday_dates("holidays/fr.ics").unwrap_err();
        assert!(error.starts_with("cannot read "), "{error}");
        assert!(error.contains("fr.ics"), "{error}");
    }
}
