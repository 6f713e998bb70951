//! Restrictions: windows across DST changes, overnight and full-day windows, unions.

use super::*;

#[test]
fn overnight_restriction_across_new_york_changes_has_real_length_7_and_9_hours() {
    let saturday_night = window(&[Weekday::Sat], "22:00:00", "06:00:00");
    assert_eq!(
        saturday_night.window_starting_on(NEW_YORK, date("2026-03-07")),
        Some(Window {
            start: utc("2026-03-08T03:00:00Z"), // 22:00 EST
            end: utc("2026-03-08T10:00:00Z"),   // 06:00 EDT
        })
    );
    assert_eq!(
        saturday_night.window_starting_on(NEW_YORK, date("2026-10-31")),
        Some(Window {
            start: utc("2026-11-01T02:00:00Z"), // 22:00 EDT
            end: utc("2026-11-01T11:00:00Z"),   // 06:00 EST
        })
    );
    assert!(saturday_night.covers(NEW_YORK, utc("2026-11-01T10:59:59Z")));
    assert!(!saturday_night.covers(NEW_YORK, utc("2026-11-01T11:00:00Z")));
    // Not a Saturday: no window starts on Sunday.
    assert_eq!(
        saturday_night.window_starting_on(NEW_YORK, date("2026-03-08")),
        None
    );
}

#[test]
fn restriction_edges_inside_the_gap_and_the_overlap() {
    // 02:30 does not exist on 8 March: the window starts at 03:30 EDT.
    let early = window(&[], "02:30:00", "04:00:00");
    assert_eq!(
        early.window_starting_on(NEW_YORK, date("2026-03-08")),
        Some(Window {
            start: utc("2026-03-08T07:30:00Z"),
            end: utc("2026-03-08T08:00:00Z"),
        })
    );
    assert!(!early.covers(NEW_YORK, utc("2026-03-08T07:15:00Z"))); // 03:15 EDT
    // 02:30-03:15 collapses: its start moves past its end, so there is no window that day.
    let collapsed = window(&[], "02:30:00", "03:15:00");
    assert_eq!(
        collapsed.window_starting_on(NEW_YORK, date("2026-03-08")),
        None
    );
    assert!(!collapsed.covers(NEW_YORK, utc("2026-03-08T07:10:00Z")));
    assert!(collapsed.covers(NEW_YORK, utc("2026-03-09T06:40:00Z"))); // 02:40 EDT next day
    // 00:00-01:30 on 1 November ends at the first 01:30; the repeated 01:15 EST is outside.
    let night = window(&[], "00:00:00", "01:30:00");
    assert!(night.covers(NEW_YORK, utc("2026-11-01T05:15:00Z"))); // 01:15 EDT
    assert!(!night.covers(NEW_YORK, utc("2026-11-01T06:15:00Z"))); // 01:15 EST
}

#[test]
fn london_night_window_on_the_spring_forward_day_is_five_hours() {
    let sunday_night = window(&[Weekday::Sun], "00:00:00", "06:00:00");
    assert_eq!(
        sunday_night.window_starting_on(LONDON, date("2026-03-29")),
        Some(Window {
            start: utc("2026-03-29T00:00:00Z"),
            end: utc("2026-03-29T05:00:00Z"),
        })
    );
}

#[test]
fn weekday_business_hours_fall_through_to_the_lower_layer() {
    let business = layer(
        "business",
        rotation(&["a"], "2026-01-05T09:00:00", ShiftLength::Weeks(1)),
        vec![window(
            &[
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ],
            "09:00:00",
            "17:00:00",
        )],
    );
    let backstop = layer(
        "backstop",
        rotation(&["z"], "2026-01-01T00:00:00", ShiftLength::Weeks(1)),
        vec![],
    );
    let schedule = schedule(KOLKATA, vec![business, backstop]);
    // Monday 2 March 2026 in Kolkata (+05:30): 09:00 local is 03:30 UTC.
    assert_eq!(
        who(&schedule, &[], "2026-03-02T03:30:00Z"),
        from_layer("a", 0, "business")
    );
    assert_eq!(
        who(&schedule, &[], "2026-03-02T03:29:59Z"),
        from_layer("z", 1, "backstop")
    );
    assert_eq!(
        who(&schedule, &[], "2026-03-02T11:29:59Z"),
        from_layer("a", 0, "business")
    );
    assert_eq!(
        who(&schedule, &[], "2026-03-02T11:30:00Z"),
        from_layer("z", 1, "backstop")
    );
    // Saturday: only the backstop.
    assert_eq!(
        who(&schedule, &[], "2026-03-07T06:00:00Z"),
        from_layer("z", 1, "backstop")
    );
}

#[test]
fn overnight_window_belongs_to_the_day_it_starts_on() {
    let friday_night = window(&[Weekday::Fri], "22:00:00", "06:00:00");
    let covers = |at: &str| friday_night.covers(Tz::UTC, utc(at));
    // Friday 6 March 2026.
    assert!(!covers("2026-03-06T21:59:59Z"));
    assert!(covers("2026-03-06T22:00:00Z"));
    assert!(covers("2026-03-07T05:59:59Z"));
    assert!(!covers("2026-03-07T06:00:00Z"));
    assert!(!covers("2026-03-07T23:00:00Z")); // Saturday night is not a Friday night
    assert!(!covers("2026-03-06T05:00:00Z")); // Thursday night
}

#[test]
fn equal_from_and_to_is_a_full_day_window() {
    let monday = window(&[Weekday::Mon], "09:00:00", "09:00:00");
    let covers = |at: &str| monday.covers(Tz::UTC, utc(at));
    assert!(!covers("2026-03-02T08:59:59Z"));
    assert!(covers("2026-03-02T09:00:00Z"));
    assert!(covers("2026-03-03T08:59:59Z"));
    assert!(!covers("2026-03-03T09:00:00Z"));
    let weekend = window(&[Weekday::Sat, Weekday::Sun], "00:00:00", "00:00:00");
    let covers = |at: &str| weekend.covers(Tz::UTC, utc(at));
    assert!(!covers("2026-03-06T23:59:59Z"));
    assert!(covers("2026-03-07T00:00:00Z"));
    assert!(covers("2026-03-08T23:59:59Z"));
    assert!(!covers("2026-03-09T00:00:00Z"));
}

#[test]
fn several_restrictions_are_a_union() {
    let layer = layer(
        "split",
        rotation(&["a"], "2026-01-01T00:00:00", ShiftLength::Days(1)),
        vec![
            window(&[], "08:00:00", "10:00:00"),
            window(&[], "18:00:00", "20:00:00"),
        ],
    );
    let applies = |at: &str| layer.applies_at(Tz::UTC, false, utc(at));
    assert!(applies("2026-03-02T09:00:00Z"));
    assert!(!applies("2026-03-02T12:00:00Z"));
    assert!(applies("2026-03-02T19:00:00Z"));
    assert!(!applies("2026-03-02T20:00:00Z"));
}
