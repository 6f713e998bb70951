//! `holidays_ics:` on a schedule: an `.ics` file whose all-day events are holidays.
//!
//! The domain does no I/O: whoever loads the configuration file (the CLI, `klaxon serve`)
//! passes a [`HolidayCalendars`] that reads and parses the named files. The dates are merged
//! into the schedule's `holidays` list before it is deserialized, so the stored configuration
//! (and every function that reads it) only ever sees dates, never a path.

use super::error::{ConfigPath, Issues};
use chrono::NaiveDate;
use serde_json::Value;

/// Reads the holiday calendars `holidays_ics:` names.
pub trait HolidayCalendars {
    /// The holiday dates of the calendar at `path` (as written in the configuration file), or
    /// a one-line reason it cannot be used (unreadable file, a non-all-day or recurring event).
    fn holiday_dates(&self, path: &str) -> Result<Vec<NaiveDate>, String>;
}

/// For configurations that do not come from a file on this machine (uploaded through the API,
/// a stored snapshot): a `holidays_ics` path cannot be read there.
pub struct NoHolidayCalendars;

impl HolidayCalendars for NoHolidayCalendars {
    fn holiday_dates(&self, _path: &str) -> Result<Vec<NaiveDate>, String> {
        Err(
            "an .ics file is read only where the configuration file is loaded from disk \
             (`klaxon config validate`, `klaxon config apply`, `klaxon serve --config`): list \
             the dates in `holidays` instead"
                .to_string(),
        )
    }
}

/// The field naming a calendar file.
pub(crate) const HOLIDAYS_ICS_FIELD: &str = "holidays_ics";

/// Replaces each schedule's `holidays_ics` with the calendar's dates, appended to its
/// `holidays` (dates already listed are not repeated). Problems are recorded at
/// `schedules[i].holidays_ics` and the field dropped, so the rest of the schedule is checked.
pub(crate) fn expand_holiday_calendars(
    schedules: &mut Value,
    base: &ConfigPath,
    calendars: &dyn HolidayCalendars,
    issues: &mut Issues,
) {
    let Value::Array(elements) = schedules else {
        return;
    };
    for (index, element) in elements.iter_mut().enumerate() {
        let Value::Object(schedule) = element else {
            continue;
        };
        let Some(file) = schedule.remove(HOLIDAYS_ICS_FIELD) else {
            continue;
        };
        let path = base.index(index).key(HOLIDAYS_ICS_FIELD);
        let Value::String(file) = file else {
            issues.push(path, "expected the path of an .ics file (text)");
            continue;
        };
        let dates = match calendars.holiday_dates(&file) {
            Ok(dates) => dates,
            Err(reason) => {
                issues.push(path, format!("{file}: {reason}"));
                continue;
            }
        };
        let listed = schedule
            .entry("holidays")
            .or_insert_with(|| Value::Array(Vec::new()));
        // Not a list: deserializing `holidays` reports it.
        if let Value::Array(listed) = listed {
            for date in dates {
                let text = Value::String(date.format("%Y-%m-%d").to_string());
                if !listed.contains(&text) {
                    listed.push(text);
                }
            }
        }
    }
}
