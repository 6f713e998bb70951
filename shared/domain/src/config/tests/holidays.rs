//! Schedule holidays: dates, `holidays_ics` through a loader, layer rules.

use super::*;
use crate::schedule::HolidayRule;
use chrono::NaiveDate;

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

/// A loader that knows one calendar file and fails on every other.
struct OneCalendar;

impl HolidayCalendars for OneCalendar {
    fn holiday_dates(&self, path: &str) -> Result<Vec<NaiveDate>, String> {
        match path {
            "holidays/de.ics" => Ok(vec![date("2026-12-25"), date("2026-12-26")]),
            _ => Err("cannot read the file (No such file or directory)".into()),
        }
    }
}

fn parse_with_calendar(change: impl FnOnce(&mut Value)) -> Result<Config, Vec<String>> {
    let mut value = base();
    change(&mut value);
    parse::config_from_value_with(value, &OneCalendar)
        .map_err(|errors| errors.issues.iter().map(ToString::to_string).collect())
}

#[test]
fn holidays_and_layer_rules_are_read() {
    let config = parse_with_calendar(|v| {
        set(
            v,
            "/schedules/0/holidays",
            json!(["2026-01-01", "2026-12-25"]),
        );
        set(v, "/schedules/0/layers/0/holidays", json!("except"));
    })
    .unwrap();
    let schedule = &config.schedules[0];
    assert_eq!(
        schedule.holidays,
        vec![date("2026-01-01"), date("2026-12-25")]
    );
    assert_eq!(schedule.layers[0].holidays, Some(HolidayRule::Except));
}

#[test]
fn an_ics_file_adds_its_dates_once() {
    let config = parse_with_calendar(|v| {
        set(
            v,
            "/schedules/0/holidays",
            json!(["2026-01-01", "2026-12-25"]),
        );
        set(v, "/schedules/0/holidays_ics", json!("holidays/de.ics"));
    })
    .unwrap();
    assert_eq!(
        config.schedules[0].holidays,
        vec![date("2026-01-01"), date("2026-12-25"), date("2026-12-26")]
    );
    // The stored form carries the dates, not the path: functions have no file to read.
    let stored = config.to_canonical_json().unwrap();
    assert!(!stored.contains("holidays_ics"), "{stored}");
    assert!(stored.contains("2026-12-26"), "{stored}");
    assert_eq!(Config::from_json(&stored).unwrap(), config);
}

#[test]
fn an_unreadable_ics_file_is_an_error_at_its_field() {
    let errors = parse_with_calendar(|v| {
        set(v, "/schedules/0/holidays_ics", json!("missing.ics"));
    })
    .unwrap_err();
    assert_one_error(
        &errors,
        "schedules[0].holidays_ics",
        "missing.ics: cannot read the file",
    );
    let errors =
        parse_with_calendar(|v| set(v, "/schedules/0/holidays_ics", json!(7))).unwrap_err();
    assert_one_error(&errors, "schedules[0].holidays_ics", "expected the path");
}

#[test]
fn an_ics_path_without_a_file_loader_says_to_list_the_dates() {
    // The API's config upload has no file next to the configuration.
    let errors = errors_after(|v| set(v, "/schedules/0/holidays_ics", json!("holidays/de.ics")));
    assert_one_error(
        &errors,
        "schedules[0].holidays_ics",
        "list the dates in `holidays` instead",
    );
}

#[test]
fn a_bad_holiday_date_is_named() {
    let errors = errors_after(|v| {
        set(
            v,
            "/schedules/0/holidays",
            json!(["2026-12-25", "2026-13-01"]),
        );
    });
    assert_one_error(
        &errors,
        "schedules[0].holidays[1]",
        "expected a date such as \"2026-12-25\"",
    );
    let errors = errors_after(|v| set(v, "/schedules/0/holidays", json!("2026-12-25")));
    assert_one_error(&errors, "schedules[0].holidays", "expected a sequence");
}

#[test]
fn an_unknown_layer_rule_is_named() {
    let errors = errors_after(|v| set(v, "/schedules/0/layers/0/holidays", json!("sometimes")));
    assert_one_error(
        &errors,
        "schedules[0].layers[0].holidays",
        "unknown variant `sometimes`, expected `only` or `except`",
    );
}

#[test]
fn an_only_layer_in_a_schedule_without_holidays_is_an_error() {
    let errors = errors_after(|v| set(v, "/schedules/0/layers/0/holidays", json!("only")));
    assert_one_error(
        &errors,
        "schedules[0].layers[0].holidays",
        "the schedule has none",
    );
}

#[test]
fn an_except_layer_in_a_schedule_without_holidays_is_a_warning() {
    let config = parse_with_calendar(|v| {
        set(v, "/schedules/0/layers/0/holidays", json!("except"));
    })
    .unwrap();
    let warnings: Vec<String> = config.warnings().iter().map(ToString::to_string).collect();
    assert!(
        warnings.contains(
            &"schedules[0].layers[0].holidays: `except` has no effect: the schedule lists no holidays"
                .to_string()
        ),
        "{warnings:?}"
    );
}
