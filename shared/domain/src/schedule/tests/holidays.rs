//! Holidays: local calendar days across DST, `only` and `except` layers, the final schedule.

use super::*;

/// Three layers in priority order: holiday cover (`only`, "h"), the weekday team (`except`,
/// "a"), and a fallback that ignores holidays ("b", restricted to 12:00–13:00 so it shows
/// through only where the others leave a gap).
fn with_holidays(zone: Tz, holidays: &[&str]) -> Schedule {
    let mut cover = layer(
        "holiday cover",
        rotation(&["h"], "2026-01-01T00:00:00", ShiftLength::Weeks(1)),
        vec![],
    );
    cover.holidays = Some(HolidayRule::Only);
    let mut team = layer(
        "team",
        rotation(&["a"], "2026-01-01T00:00:00", ShiftLength::Weeks(1)),
        vec![],
    );
    team.holidays = Some(HolidayRule::Except);
    let fallback = layer(
        "fallback",
        rotation(&["b"], "2026-01-01T00:00:00", ShiftLength::Weeks(1)),
        vec![window(&[], "12:00:00", "13:00:00")],
    );
    let mut schedule = schedule(zone, vec![cover, team, fallback]);
    schedule.holidays = holidays.iter().map(|text| date(text)).collect();
    schedule
}

fn window_of(zone: Tz, day: &str) -> Window {
    holiday_window(zone, date(day)).unwrap()
}

#[test]
fn a_holiday_is_the_local_calendar_day() {
    let window = window_of(Tz::UTC, "2026-12-25");
    assert_eq!(window.start, utc("2026-12-25T00:00:00Z"));
    assert_eq!(window.end, utc("2026-12-26T00:00:00Z"));
    let window = window_of(KOLKATA, "2026-12-25");
    assert_eq!(window.start, utc("2026-12-24T18:30:00Z"));
    assert_eq!(window.end, utc("2026-12-25T18:30:00Z"));
}

#[test]
fn a_spring_forward_holiday_is_23_hours_long() {
    // New York springs forward on 2026-03-08 at 02:00 EST.
    let window = window_of(NEW_YORK, "2026-03-08");
    assert_eq!(window.start, utc("2026-03-08T05:00:00Z"));
    assert_eq!(window.end, utc("2026-03-09T04:00:00Z"));
    assert_eq!((window.end - window.start).num_hours(), 23);
}

#[test]
fn a_fall_back_holiday_is_25_hours_long() {
    // London falls back on 2026-10-25 at 02:00 BST.
    let window = window_of(LONDON, "2026-10-25");
    assert_eq!(window.start, utc("2026-10-24T23:00:00Z"));
    assert_eq!(window.end, utc("2026-10-26T00:00:00Z"));
    assert_eq!((window.end - window.start).num_hours(), 25);
}

#[test]
fn lord_howe_half_hour_change_makes_a_24_and_a_half_hour_holiday() {
    // Lord Howe falls back half an hour (02:00 +11 to 01:30 +10:30) on 2026-04-05.
    let window = window_of(Tz::Australia__Lord_Howe, "2026-04-05");
    assert_eq!(window.start, utc("2026-04-04T13:00:00Z"));
    assert_eq!(window.end, utc("2026-04-05T13:30:00Z"));
}

#[test]
fn a_holiday_whose_midnight_is_skipped_starts_when_the_gap_ends() {
    // Santiago springs forward at local midnight (00:00 -04 becomes 01:00 -03) on 2026-09-06.
    let window = window_of(Tz::America__Santiago, "2026-09-06");
    assert_eq!(window.start, utc("2026-09-06T04:00:00Z"));
    assert_eq!(window.end, utc("2026-09-07T03:00:00Z"));
}

#[test]
fn only_layer_covers_the_holiday_and_except_layer_the_rest() {
    let schedule = with_holidays(NEW_YORK, &["2026-03-08"]);
    let cases = [
        // 23:59:59 EST on the 7th: not yet the holiday.
        ("2026-03-08T04:59:59Z", from_layer("a", 1, "team")),
        ("2026-03-08T05:00:00Z", from_layer("h", 0, "holiday cover")),
        // Noon EDT on the holiday: the fallback's window is open, but the cover wins.
        ("2026-03-08T16:30:00Z", from_layer("h", 0, "holiday cover")),
        // 23:59:59 EDT on the 8th: the last second of the 23-hour day.
        ("2026-03-09T03:59:59Z", from_layer("h", 0, "holiday cover")),
        ("2026-03-09T04:00:00Z", from_layer("a", 1, "team")),
    ];
    for (at, expected) in cases {
        assert_eq!(who(&schedule, &[], at), expected, "at {at}");
    }
}

#[test]
fn layers_without_a_rule_cover_holidays_and_other_days_alike() {
    let mut schedule = with_holidays(LONDON, &["2026-10-25"]);
    // Without the cover and team layers only the fallback is left; it ignores the holiday.
    schedule.layers.drain(0..2);
    assert_eq!(
        who(&schedule, &[], "2026-10-25T12:30:00Z"),
        from_layer("b", 0, "fallback")
    );
    assert_eq!(
        who(&schedule, &[], "2026-10-26T12:30:00Z"),
        from_layer("b", 0, "fallback")
    );
}

#[test]
fn a_restricted_holiday_layer_covers_its_window_on_holidays_only() {
    let mut schedule = with_holidays(Tz::UTC, &["2026-12-25"]);
    schedule.layers[0].restrictions = vec![window(&[], "09:00:00", "17:00:00")];
    // Before 09:00 on the holiday the cover is outside its window and the team is excluded:
    // nobody until the fallback's 12:00 window.
    assert_eq!(who(&schedule, &[], "2026-12-25T08:00:00Z"), None);
    assert_eq!(
        who(&schedule, &[], "2026-12-25T10:00:00Z"),
        from_layer("h", 0, "holiday cover")
    );
    assert_eq!(who(&schedule, &[], "2026-12-25T18:00:00Z"), None);
    // The cover's window on a normal day does not make it apply.
    assert_eq!(
        who(&schedule, &[], "2026-12-24T10:00:00Z"),
        from_layer("a", 1, "team")
    );
}

#[test]
fn an_override_wins_over_the_holiday_cover() {
    let schedule = with_holidays(Tz::UTC, &["2026-12-25"]);
    let overrides = [override_for(
        "swap",
        "primary",
        "c",
        "2026-12-25T06:00:00Z",
        "2026-12-25T07:00:00Z",
    )];
    assert_eq!(
        who(&schedule, &overrides, "2026-12-25T06:30:00Z"),
        from_override("c", "swap")
    );
    assert_eq!(
        who(&schedule, &overrides, "2026-12-25T07:00:00Z"),
        from_layer("h", 0, "holiday cover")
    );
}

#[test]
fn final_schedule_switches_at_the_local_midnights_of_a_fall_back_holiday() {
    let schedule = with_holidays(LONDON, &["2026-10-25"]);
    let found = schedule.final_schedule(
        &[],
        utc("2026-10-24T12:00:00Z"),
        utc("2026-10-26T12:00:00Z"),
    );
    let spans: Vec<(Instant, Instant, Option<String>)> = found
        .iter()
        .map(|interval| {
            (
                interval.start,
                interval.end,
                interval.user.as_ref().map(ToString::to_string),
            )
        })
        .collect();
    assert_eq!(
        spans,
        vec![
            (
                utc("2026-10-24T12:00:00Z"),
                utc("2026-10-24T23:00:00Z"),
                Some("a".into())
            ),
            (
                utc("2026-10-24T23:00:00Z"),
                utc("2026-10-26T00:00:00Z"),
                Some("h".into())
            ),
            (
                utc("2026-10-26T00:00:00Z"),
                utc("2026-10-26T12:00:00Z"),
                Some("a".into())
            ),
        ]
    );
}

#[test]
fn consecutive_holidays_make_one_interval() {
    let schedule = with_holidays(Tz::UTC, &["2026-12-26", "2026-12-25"]);
    let found = schedule.final_schedule(
        &[],
        utc("2026-12-24T00:00:00Z"),
        utc("2026-12-28T00:00:00Z"),
    );
    let cover: Vec<&OnCallInterval> = found
        .iter()
        .filter(|interval| interval.user == Some(user("h")))
        .collect();
    assert_eq!(cover.len(), 1, "{found:?}");
    assert_eq!(cover[0].start, utc("2026-12-25T00:00:00Z"));
    assert_eq!(cover[0].end, utc("2026-12-27T00:00:00Z"));
}

#[test]
fn holiday_windows_between_lists_the_overlapping_days_in_order() {
    let schedule = with_holidays(Tz::UTC, &["2026-12-31", "2026-01-01", "2026-12-25"]);
    let found =
        schedule.holiday_windows_between(utc("2026-12-25T12:00:00Z"), utc("2027-01-01T00:00:00Z"));
    assert_eq!(
        found,
        vec![
            window_of(Tz::UTC, "2026-12-25"),
            window_of(Tz::UTC, "2026-12-31")
        ]
    );
    assert!(schedule.is_holiday_at(utc("2026-12-31T23:59:59Z")));
    assert!(!schedule.is_holiday_at(utc("2027-01-01T00:00:00Z")));
}
