//! The final schedule: intervals covering a range, merged shifts, empty ranges.

use super::*;

fn interval(start: &str, end: &str, on_call: Option<(String, OnCallSource)>) -> OnCallInterval {
    let (user, source) = match on_call {
        Some((name, source)) => (Some(self::user(&name)), Some(source)),
        None => (None, None),
    };
    OnCallInterval {
        start: utc(start),
        end: utc(end),
        user,
        source,
    }
}

#[test]
fn final_schedule_covers_the_range_with_gaps_and_overrides() {
    let schedule = schedule(
        Tz::UTC,
        vec![layer(
            "day",
            rotation(&["a", "b"], "2026-03-02T09:00:00", ShiftLength::Days(1)),
            vec![window(&[], "09:00:00", "17:00:00")],
        )],
    );
    let overrides = [override_for(
        "ov",
        "primary",
        "c",
        "2026-03-03T12:00:00Z",
        "2026-03-03T20:00:00Z",
    )];
    let found = schedule.final_schedule(
        &overrides,
        utc("2026-03-02T00:00:00Z"),
        utc("2026-03-04T00:00:00Z"),
    );
    assert_eq!(
        found,
        vec![
            interval("2026-03-02T00:00:00Z", "2026-03-02T09:00:00Z", None),
            interval(
                "2026-03-02T09:00:00Z",
                "2026-03-02T17:00:00Z",
                from_layer("a", 0, "day")
            ),
            interval("2026-03-02T17:00:00Z", "2026-03-03T09:00:00Z", None),
            interval(
                "2026-03-03T09:00:00Z",
                "2026-03-03T12:00:00Z",
                from_layer("b", 0, "day")
            ),
            interval(
                "2026-03-03T12:00:00Z",
                "2026-03-03T20:00:00Z",
                from_override("c", "ov")
            ),
            interval("2026-03-03T20:00:00Z", "2026-03-04T00:00:00Z", None),
        ]
    );
}

#[test]
fn final_schedule_merges_consecutive_shifts_of_the_same_person() {
    let schedule = schedule(
        NEW_YORK,
        vec![layer(
            "solo",
            rotation(&["a"], "2026-03-01T09:00:00", ShiftLength::Days(1)),
            vec![],
        )],
    );
    let found = schedule.final_schedule(
        &[],
        utc("2026-03-01T00:00:00Z"),
        utc("2026-03-20T00:00:00Z"),
    );
    assert_eq!(
        found,
        vec![
            interval("2026-03-01T00:00:00Z", "2026-03-01T14:00:00Z", None),
            interval(
                "2026-03-01T14:00:00Z",
                "2026-03-20T00:00:00Z",
                from_layer("a", 0, "solo")
            ),
        ]
    );
}

#[test]
fn final_schedule_of_an_empty_or_reversed_range_is_empty() {
    let schedule = daily_abc();
    let at = utc("2026-03-02T00:00:00Z");
    assert!(schedule.final_schedule(&[], at, at).is_empty());
    assert!(
        schedule
            .final_schedule(&[], at, utc("2026-03-01T00:00:00Z"))
            .is_empty()
    );
}
