//! Unit tests with explicit dates: DST rules in several zones, restrictions, unavailability,
//! overrides, the final schedule, and totality on hostile input.

use super::*;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

fn utc(text: &str) -> Instant {
    text.parse::<DateTime<Utc>>().unwrap()
}

fn local(text: &str) -> NaiveDateTime {
    text.parse::<NaiveDateTime>().unwrap()
}

fn user(name: &str) -> UserId {
    UserId::new(name).unwrap()
}

fn rotation(participants: &[&str], start: &str, shift: ShiftLength) -> Rotation {
    Rotation {
        participants: participants.iter().map(|name| user(name)).collect(),
        start: local(start),
        shift,
    }
}

fn layer(name: &str, rotation: Rotation, restrictions: Vec<Restriction>) -> Layer {
    Layer {
        name: name.into(),
        rotation,
        restrictions,
    }
}

fn schedule(zone: Tz, layers: Vec<Layer>) -> Schedule {
    Schedule {
        id: ScheduleId::new("primary").unwrap(),
        name: "Primary".into(),
        time_zone: zone,
        layers,
        unavailability: Vec::new(),
    }
}

fn window(days: &[Weekday], from: &str, to: &str) -> Restriction {
    Restriction {
        days: days.to_vec(),
        from: from.parse().unwrap(),
        to: to.parse().unwrap(),
    }
}

fn date(text: &str) -> chrono::NaiveDate {
    text.parse().unwrap()
}

fn away(name: &str, start: &str, end: &str) -> Unavailability {
    Unavailability {
        user: user(name),
        start: utc(start),
        end: utc(end),
    }
}

fn override_for(id: &str, schedule: &str, name: &str, start: &str, end: &str) -> Override {
    Override {
        id: id.into(),
        schedule: ScheduleId::new(schedule).unwrap(),
        user: user(name),
        start: utc(start),
        end: utc(end),
    }
}

fn who(schedule: &Schedule, overrides: &[Override], at: &str) -> Option<(String, OnCallSource)> {
    schedule
        .on_call_at(overrides, utc(at))
        .map(|on_call| (on_call.user.to_string(), on_call.source))
}

fn from_layer(name: &str, index: usize, layer_name: &str) -> Option<(String, OnCallSource)> {
    Some((
        name.to_string(),
        OnCallSource::Layer {
            index,
            name: layer_name.into(),
        },
    ))
}

fn from_override(name: &str, id: &str) -> Option<(String, OnCallSource)> {
    Some((name.to_string(), OnCallSource::Override { id: id.into() }))
}

fn handoffs(rotation: &Rotation, zone: Tz, from: &str, to: &str) -> Vec<Instant> {
    rotation.handoffs_between(zone, utc(from), utc(to))
}

fn instants(texts: &[&str]) -> Vec<Instant> {
    texts.iter().map(|text| utc(text)).collect()
}

const NEW_YORK: Tz = Tz::America__New_York;
const LONDON: Tz = Tz::Europe__London;
const SYDNEY: Tz = Tz::Australia__Sydney;
const KOLKATA: Tz = Tz::Asia__Kolkata;
const CHATHAM: Tz = Tz::Pacific__Chatham;

// ---- Local time resolution -------------------------------------------------------------

#[test]
fn nonexistent_local_times_move_forward_by_the_gap() {
    // New York springs forward 02:00 EST -> 03:00 EDT on 2026-03-08.
    let at = resolve_local(NEW_YORK, local("2026-03-08T02:30:00")).unwrap();
    assert_eq!(at, utc("2026-03-08T07:30:00Z"));
    assert_eq!(
        local_time(NEW_YORK, at).unwrap(),
        local("2026-03-08T03:30:00")
    );
    // London springs forward 01:00 GMT -> 02:00 BST on 2026-03-29.
    assert_eq!(
        resolve_local(LONDON, local("2026-03-29T01:30:00")),
        Some(utc("2026-03-29T01:30:00Z"))
    );
    // Sydney springs forward 02:00 AEST -> 03:00 AEDT on 2026-10-04.
    assert_eq!(
        resolve_local(SYDNEY, local("2026-10-04T02:30:00")),
        Some(utc("2026-10-03T16:30:00Z"))
    );
    // Chatham springs forward 02:45 +12:45 -> 03:45 +13:45 on 2026-09-27.
    let at = resolve_local(CHATHAM, local("2026-09-27T03:00:00")).unwrap();
    assert_eq!(at, utc("2026-09-26T14:15:00Z"));
    assert_eq!(
        local_time(CHATHAM, at).unwrap(),
        local("2026-09-27T04:00:00")
    );
}

#[test]
fn repeated_local_times_are_the_earlier_occurrence() {
    // New York falls back 02:00 EDT -> 01:00 EST on 2026-11-01: 01:30 EDT, not EST.
    assert_eq!(
        resolve_local(NEW_YORK, local("2026-11-01T01:30:00")),
        Some(utc("2026-11-01T05:30:00Z"))
    );
    // London falls back 02:00 BST -> 01:00 GMT on 2026-10-25.
    assert_eq!(
        resolve_local(LONDON, local("2026-10-25T01:30:00")),
        Some(utc("2026-10-25T00:30:00Z"))
    );
    // Sydney falls back 03:00 AEDT -> 02:00 AEST on 2026-04-05.
    assert_eq!(
        resolve_local(SYDNEY, local("2026-04-05T02:30:00")),
        Some(utc("2026-04-04T15:30:00Z"))
    );
    // Chatham falls back 03:45 +13:45 -> 02:45 +12:45 on 2026-04-05.
    assert_eq!(
        resolve_local(CHATHAM, local("2026-04-05T03:00:00")),
        Some(utc("2026-04-04T13:15:00Z"))
    );
}

#[test]
fn zones_without_dst_resolve_with_their_fixed_offset() {
    assert_eq!(
        resolve_local(KOLKATA, local("2026-03-08T09:00:00")),
        Some(utc("2026-03-08T03:30:00Z"))
    );
    assert_eq!(
        local_time(KOLKATA, utc("2026-11-01T20:00:00Z")),
        Some(local("2026-11-02T01:30:00"))
    );
}

// ---- Hand-offs through DST -----------------------------------------------------------------

#[test]
fn daily_handoff_keeps_wall_clock_time_across_new_york_spring_forward() {
    let rotation = rotation(
        &["a", "b", "c"],
        "2026-03-06T09:00:00",
        ShiftLength::Days(1),
    );
    assert_eq!(
        handoffs(
            &rotation,
            NEW_YORK,
            "2026-03-06T00:00:00Z",
            "2026-03-10T00:00:00Z"
        ),
        instants(&[
            "2026-03-06T14:00:00Z",
            "2026-03-07T14:00:00Z",
            "2026-03-08T13:00:00Z", // 09:00 EDT: the 7 March shift is 23 hours
            "2026-03-09T13:00:00Z",
        ])
    );
    assert_eq!(
        rotation.scheduled_at(NEW_YORK, utc("2026-03-08T12:59:59Z")),
        Some(&user("b"))
    );
    assert_eq!(
        rotation.scheduled_at(NEW_YORK, utc("2026-03-08T13:00:00Z")),
        Some(&user("c"))
    );
}

#[test]
fn daily_handoff_inside_the_skipped_hour_moves_forward_by_the_gap() {
    let rotation = rotation(&["a", "b"], "2026-03-06T02:30:00", ShiftLength::Days(1));
    let found = handoffs(
        &rotation,
        NEW_YORK,
        "2026-03-06T00:00:00Z",
        "2026-03-10T00:00:00Z",
    );
    assert_eq!(
        found,
        instants(&[
            "2026-03-06T07:30:00Z",
            "2026-03-07T07:30:00Z",
            "2026-03-08T07:30:00Z", // 02:30 does not exist: 03:30 EDT
            "2026-03-09T06:30:00Z", // back to 02:30, now EDT
        ])
    );
    assert_eq!(
        local_time(NEW_YORK, found[2]),
        Some(local("2026-03-08T03:30:00"))
    );
}

#[test]
fn daily_handoff_inside_the_repeated_hour_is_the_first_occurrence() {
    let rotation = rotation(&["a", "b"], "2026-10-30T01:30:00", ShiftLength::Days(1));
    assert_eq!(
        handoffs(
            &rotation,
            NEW_YORK,
            "2026-10-30T00:00:00Z",
            "2026-11-03T00:00:00Z"
        ),
        instants(&[
            "2026-10-30T05:30:00Z",
            "2026-10-31T05:30:00Z",
            "2026-11-01T05:30:00Z", // 01:30 EDT, the first 01:30
            "2026-11-02T06:30:00Z", // the 1 November shift is 25 hours
        ])
    );
    // During the second 01:30 (EST) the 1 November shift is still running.
    let shift = rotation
        .shift_at(NEW_YORK, utc("2026-11-01T06:30:00Z"))
        .unwrap();
    assert_eq!(shift.number, 2);
    assert_eq!(shift.start, utc("2026-11-01T05:30:00Z"));
    assert_eq!(shift.end, Some(utc("2026-11-02T06:30:00Z")));
}

#[test]
fn weekly_handoff_in_london_through_both_changes() {
    // Sundays at 01:30: inside the spring gap on 29 March, inside the autumn overlap on 25 Oct.
    let spring = rotation(&["a", "b"], "2026-03-22T01:30:00", ShiftLength::Weeks(1));
    assert_eq!(
        handoffs(
            &spring,
            LONDON,
            "2026-03-20T00:00:00Z",
            "2026-04-10T00:00:00Z"
        ),
        instants(&[
            "2026-03-22T01:30:00Z",
            "2026-03-29T01:30:00Z", // 02:30 BST
            "2026-04-05T00:30:00Z",
        ])
    );
    let autumn = rotation(&["a", "b"], "2026-10-18T01:30:00", ShiftLength::Weeks(1));
    assert_eq!(
        handoffs(
            &autumn,
            LONDON,
            "2026-10-17T00:00:00Z",
            "2026-11-05T00:00:00Z"
        ),
        instants(&[
            "2026-10-18T00:30:00Z",
            "2026-10-25T00:30:00Z", // 01:30 BST, the first 01:30
            "2026-11-01T01:30:00Z",
        ])
    );
}

#[test]
fn daily_handoff_in_sydney_southern_hemisphere() {
    // Sydney leaves DST on 5 April 2026 and enters it on 4 October 2026.
    let april = rotation(&["a", "b"], "2026-04-03T09:00:00", ShiftLength::Days(1));
    assert_eq!(
        handoffs(
            &april,
            SYDNEY,
            "2026-04-02T00:00:00Z",
            "2026-04-06T00:00:00Z"
        ),
        instants(&[
            "2026-04-02T22:00:00Z",
            "2026-04-03T22:00:00Z",
            "2026-04-04T23:00:00Z", // 09:00 AEST: the 4 April shift is 25 hours
            "2026-04-05T23:00:00Z",
        ])
    );
    let october = rotation(&["a", "b"], "2026-10-02T09:00:00", ShiftLength::Days(1));
    assert_eq!(
        handoffs(
            &october,
            SYDNEY,
            "2026-10-01T00:00:00Z",
            "2026-10-05T00:00:00Z"
        ),
        instants(&[
            "2026-10-01T23:00:00Z",
            "2026-10-02T23:00:00Z",
            "2026-10-03T22:00:00Z", // 09:00 AEDT: the 3 October shift is 23 hours
            "2026-10-04T22:00:00Z",
        ])
    );
}

#[test]
fn weekly_handoff_in_kolkata_is_always_at_the_same_utc_time() {
    let rotation = rotation(&["a", "b"], "2026-03-02T10:00:00", ShiftLength::Weeks(1));
    assert_eq!(
        handoffs(
            &rotation,
            KOLKATA,
            "2026-03-01T00:00:00Z",
            "2026-03-20T00:00:00Z"
        ),
        instants(&[
            "2026-03-02T04:30:00Z",
            "2026-03-09T04:30:00Z",
            "2026-03-16T04:30:00Z",
        ])
    );
}

#[test]
fn daily_handoff_in_chatham_with_quarter_hour_offsets() {
    let morning = rotation(&["a", "b"], "2026-09-25T09:00:00", ShiftLength::Days(1));
    assert_eq!(
        handoffs(
            &morning,
            CHATHAM,
            "2026-09-24T00:00:00Z",
            "2026-09-28T00:00:00Z"
        ),
        instants(&[
            "2026-09-24T20:15:00Z",
            "2026-09-25T20:15:00Z",
            "2026-09-26T19:15:00Z", // 09:00 +13:45
            "2026-09-27T19:15:00Z",
        ])
    );
    // 03:00 on 27 September is inside Chatham's 02:45-03:45 gap.
    let in_gap = rotation(&["a", "b"], "2026-09-26T03:00:00", ShiftLength::Days(1));
    assert_eq!(
        handoffs(
            &in_gap,
            CHATHAM,
            "2026-09-25T00:00:00Z",
            "2026-09-28T00:00:00Z"
        ),
        instants(&[
            "2026-09-25T14:15:00Z",
            "2026-09-26T14:15:00Z", // 04:00 +13:45
            "2026-09-27T13:15:00Z",
        ])
    );
}

#[test]
fn twelve_hour_custom_shift_is_elapsed_time_across_dst() {
    let shift = ShiftLength::Custom(crate::duration::HumanDuration::from_secs(12 * 3_600));
    let rotation = rotation(&["a", "b"], "2026-03-07T20:00:00", shift);
    let found = handoffs(
        &rotation,
        NEW_YORK,
        "2026-03-07T00:00:00Z",
        "2026-03-09T02:00:00Z",
    );
    assert_eq!(
        found,
        instants(&[
            "2026-03-08T01:00:00Z", // 20:00 EST
            "2026-03-08T13:00:00Z", // 09:00 EDT: 12 real hours later
            "2026-03-09T01:00:00Z", // 21:00 EDT
        ])
    );
    assert_eq!(
        local_time(NEW_YORK, found[1]),
        Some(local("2026-03-08T09:00:00"))
    );
    // Hourly shifts are elapsed time too.
    let hourly = Rotation {
        shift: ShiftLength::Hours(12),
        ..rotation.clone()
    };
    assert_eq!(
        handoffs(
            &hourly,
            NEW_YORK,
            "2026-03-07T00:00:00Z",
            "2026-03-09T02:00:00Z"
        ),
        found
    );
    // Across fall-back, 12 hours after 20:00 EDT is 07:00 EST.
    let autumn = Rotation {
        start: local("2026-10-31T20:00:00"),
        ..rotation
    };
    assert_eq!(
        handoffs(
            &autumn,
            NEW_YORK,
            "2026-11-01T00:00:00Z",
            "2026-11-01T13:00:00Z"
        ),
        instants(&["2026-11-01T00:00:00Z", "2026-11-01T12:00:00Z"])
    );
}

#[test]
fn nobody_before_the_rotation_start_even_when_it_is_in_a_gap() {
    let rotation = rotation(&["a", "b"], "2026-03-08T02:30:00", ShiftLength::Hours(1));
    assert_eq!(
        rotation.start_instant(NEW_YORK),
        Some(utc("2026-03-08T07:30:00Z"))
    );
    assert_eq!(
        rotation.shift_at(NEW_YORK, utc("2026-03-08T07:29:59Z")),
        None
    );
    assert_eq!(
        rotation
            .shift_at(NEW_YORK, utc("2026-03-08T07:30:00Z"))
            .map(|shift| shift.number),
        Some(0)
    );
    assert_eq!(
        rotation.scheduled_at(NEW_YORK, utc("2026-03-08T08:30:00Z")),
        Some(&user("b"))
    );
    let schedule = schedule(NEW_YORK, vec![layer("l", rotation, vec![])]);
    assert_eq!(who(&schedule, &[], "2026-03-08T07:00:00Z"), None);
    assert_eq!(
        who(&schedule, &[], "2026-03-08T07:30:00Z"),
        from_layer("a", 0, "l")
    );
}

#[test]
fn handoffs_between_includes_from_and_excludes_to() {
    let rotation = rotation(&["a", "b"], "2026-01-01T00:00:00", ShiftLength::Hours(6));
    assert_eq!(
        handoffs(
            &rotation,
            Tz::UTC,
            "2026-01-02T06:00:00Z",
            "2026-01-02T18:00:00Z"
        ),
        instants(&["2026-01-02T06:00:00Z", "2026-01-02T12:00:00Z"])
    );
    assert_eq!(
        handoffs(
            &rotation,
            Tz::UTC,
            "2025-12-31T22:00:00Z",
            "2026-01-01T07:00:00Z"
        ),
        instants(&["2026-01-01T00:00:00Z", "2026-01-01T06:00:00Z"])
    );
}

// ---- Restrictions ------------------------------------------------------------------------

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
    let applies = |at: &str| layer.applies_at(Tz::UTC, utc(at));
    assert!(applies("2026-03-02T09:00:00Z"));
    assert!(!applies("2026-03-02T12:00:00Z"));
    assert!(applies("2026-03-02T19:00:00Z"));
    assert!(!applies("2026-03-02T20:00:00Z"));
}

// ---- Unavailability ----------------------------------------------------------------------

fn daily_abc() -> Schedule {
    schedule(
        Tz::UTC,
        vec![layer(
            "main",
            rotation(
                &["a", "b", "c"],
                "2026-03-02T00:00:00",
                ShiftLength::Days(1),
            ),
            vec![],
        )],
    )
}

#[test]
fn unavailable_participant_is_skipped_for_the_next_one() {
    let mut schedule = daily_abc();
    schedule.unavailability = vec![away("a", "2026-03-02T10:00:00Z", "2026-03-02T14:00:00Z")];
    assert_eq!(
        who(&schedule, &[], "2026-03-02T09:59:59Z"),
        from_layer("a", 0, "main")
    );
    assert_eq!(
        who(&schedule, &[], "2026-03-02T10:00:00Z"),
        from_layer("b", 0, "main")
    );
    assert_eq!(
        who(&schedule, &[], "2026-03-02T14:00:00Z"),
        from_layer("a", 0, "main")
    );
}

#[test]
fn unavailability_skipping_wraps_to_the_first_participant() {
    let mut schedule = daily_abc();
    // 4 March is c's shift; c is away, so the rotation wraps to a.
    schedule.unavailability = vec![away("c", "2026-03-04T00:00:00Z", "2026-03-05T00:00:00Z")];
    assert_eq!(
        who(&schedule, &[], "2026-03-04T12:00:00Z"),
        from_layer("a", 0, "main")
    );
    // a away too: b.
    schedule
        .unavailability
        .push(away("a", "2026-03-04T00:00:00Z", "2026-03-04T06:00:00Z"));
    assert_eq!(
        who(&schedule, &[], "2026-03-04T03:00:00Z"),
        from_layer("b", 0, "main")
    );
}

#[test]
fn layer_with_everyone_unavailable_falls_through_or_leaves_nobody() {
    let mut schedule = daily_abc();
    schedule.unavailability = ["a", "b", "c"]
        .iter()
        .map(|name| away(name, "2026-03-03T00:00:00Z", "2026-03-03T12:00:00Z"))
        .collect();
    assert_eq!(who(&schedule, &[], "2026-03-03T06:00:00Z"), None);
    schedule.layers.push(layer(
        "backup",
        rotation(&["z"], "2026-01-01T00:00:00", ShiftLength::Weeks(1)),
        vec![],
    ));
    assert_eq!(
        who(&schedule, &[], "2026-03-03T06:00:00Z"),
        from_layer("z", 1, "backup")
    );
    assert_eq!(
        who(&schedule, &[], "2026-03-03T12:00:00Z"),
        from_layer("b", 0, "main")
    );
}

// ---- Overrides ---------------------------------------------------------------------------

#[test]
fn override_wins_over_layers_and_unavailability() {
    let mut schedule = daily_abc();
    schedule.unavailability = vec![away("o", "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z")];
    let overrides = [override_for(
        "ov1",
        "primary",
        "o",
        "2026-03-02T10:00:00Z",
        "2026-03-02T12:00:00Z",
    )];
    assert_eq!(
        who(&schedule, &overrides, "2026-03-02T09:59:59Z"),
        from_layer("a", 0, "main")
    );
    assert_eq!(
        who(&schedule, &overrides, "2026-03-02T10:00:00Z"),
        from_override("o", "ov1")
    );
    assert_eq!(
        who(&schedule, &overrides, "2026-03-02T12:00:00Z"),
        from_layer("a", 0, "main")
    );
}

#[test]
fn overrides_for_other_schedules_and_empty_overrides_are_ignored() {
    let schedule = daily_abc();
    let overrides = [
        override_for(
            "other",
            "secondary",
            "o",
            "2026-03-02T00:00:00Z",
            "2026-03-03T00:00:00Z",
        ),
        override_for(
            "empty",
            "primary",
            "p",
            "2026-03-02T10:00:00Z",
            "2026-03-02T10:00:00Z",
        ),
        override_for(
            "reversed",
            "primary",
            "q",
            "2026-03-02T11:00:00Z",
            "2026-03-02T09:00:00Z",
        ),
    ];
    assert_eq!(
        who(&schedule, &overrides, "2026-03-02T10:00:00Z"),
        from_layer("a", 0, "main")
    );
}

#[test]
fn latest_starting_override_wins_and_ties_go_to_the_last_listed() {
    let schedule = daily_abc();
    let long = override_for(
        "long",
        "primary",
        "o",
        "2026-03-02T00:00:00Z",
        "2026-03-03T00:00:00Z",
    );
    let short = override_for(
        "short",
        "primary",
        "p",
        "2026-03-02T10:00:00Z",
        "2026-03-02T11:00:00Z",
    );
    // Order in the list does not matter when starts differ.
    for overrides in [[long.clone(), short.clone()], [short.clone(), long.clone()]] {
        assert_eq!(
            who(&schedule, &overrides, "2026-03-02T10:30:00Z"),
            from_override("p", "short")
        );
        assert_eq!(
            who(&schedule, &overrides, "2026-03-02T11:00:00Z"),
            from_override("o", "long")
        );
    }
    let twin = override_for(
        "twin",
        "primary",
        "q",
        "2026-03-02T10:00:00Z",
        "2026-03-02T12:00:00Z",
    );
    assert_eq!(
        who(
            &schedule,
            &[short.clone(), twin.clone()],
            "2026-03-02T10:30:00Z"
        ),
        from_override("q", "twin")
    );
    assert_eq!(
        who(&schedule, &[twin, short], "2026-03-02T10:30:00Z"),
        from_override("p", "short")
    );
}

// ---- Final schedule ----------------------------------------------------------------------

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

// ---- Totality ----------------------------------------------------------------------------

#[test]
fn rotations_without_participants_or_length_have_nobody() {
    let from = utc("2026-03-01T00:00:00Z");
    let to = utc("2026-03-10T00:00:00Z");
    let at = utc("2026-03-05T00:00:00Z");
    let zero_lengths = [
        ShiftLength::Hours(0),
        ShiftLength::Days(0),
        ShiftLength::Weeks(0),
        ShiftLength::Custom(crate::duration::HumanDuration::from_secs(0)),
    ];
    let mut rotations: Vec<Rotation> = zero_lengths
        .iter()
        .map(|shift| rotation(&["a"], "2026-01-01T00:00:00", *shift))
        .collect();
    rotations.push(rotation(&[], "2026-01-01T00:00:00", ShiftLength::Days(1)));
    for rotation in rotations {
        assert_eq!(rotation.shift_at(NEW_YORK, at), None, "{rotation:?}");
        assert!(rotation.handoffs_between(NEW_YORK, from, to).is_empty());
        let schedule = schedule(NEW_YORK, vec![layer("l", rotation, vec![])]);
        assert_eq!(schedule.on_call_at(&[], at), None);
        assert_eq!(
            schedule.final_schedule(&[], from, to),
            vec![OnCallInterval {
                start: from,
                end: to,
                user: None,
                source: None
            }]
        );
    }
}

#[test]
fn extreme_dates_and_lengths_do_not_panic() {
    let far_past = DateTime::<Utc>::MIN_UTC;
    let far_future = DateTime::<Utc>::MAX_UTC;
    let starts = [
        NaiveDateTime::MIN,
        NaiveDateTime::MAX,
        local("2026-01-01T00:00:00"),
    ];
    let shifts = [
        ShiftLength::Hours(u32::MAX),
        ShiftLength::Days(u32::MAX),
        ShiftLength::Weeks(u32::MAX),
        ShiftLength::Hours(1),
        ShiftLength::Days(1),
        ShiftLength::Weeks(1),
        ShiftLength::Custom(crate::duration::HumanDuration::from_secs(59)),
    ];
    let restriction = window(&[Weekday::Mon], "22:00:00", "06:00:00");
    for zone in [NEW_YORK, CHATHAM, Tz::Etc__GMTPlus12, Tz::Etc__GMTMinus14] {
        for start in starts {
            for shift in shifts {
                let rotation = Rotation {
                    participants: vec![user("a"), user("b")],
                    start,
                    shift,
                };
                let mut schedule = schedule(
                    zone,
                    vec![layer("l", rotation.clone(), vec![restriction.clone()])],
                );
                schedule.unavailability =
                    vec![away("a", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z")];
                for at in [far_past, far_future, utc("2026-01-05T23:00:00Z")] {
                    let _ = schedule.on_call_at(&[], at);
                    let _ = rotation.shift_at(zone, at);
                }
                let hour = chrono::TimeDelta::hours(1);
                for (from, to) in [
                    (far_past, far_past + hour * 50),
                    (far_future - hour * 50, far_future),
                ] {
                    let intervals = schedule.final_schedule(&[], from, to);
                    assert_eq!(intervals.first().map(|i| i.start), Some(from));
                    assert_eq!(intervals.last().map(|i| i.end), Some(to));
                    let _ = rotation.handoffs_between(zone, from, to);
                }
            }
        }
        let _ = resolve_local(zone, NaiveDateTime::MIN);
        let _ = resolve_local(zone, NaiveDateTime::MAX);
        let _ = local_time(zone, far_future);
        let _ = local_time(zone, far_past);
    }
}

// ---- Weekday names -----------------------------------------------------------------------

#[test]
fn weekday_names_accept_short_and_full_forms_in_any_case() {
    for (name, day) in [
        ("mon", Weekday::Mon),
        ("Tue", Weekday::Tue),
        ("WEDNESDAY", Weekday::Wed),
        ("thursday", Weekday::Thu),
        ("Fri", Weekday::Fri),
        ("saturday", Weekday::Sat),
        ("SUN", Weekday::Sun),
    ] {
        assert_eq!(weekdays::parse(name), Some(day), "{name}");
    }
    for name in [
        "monkey", "mo", "tues", "thurs", "", " mon", "sundays", "lundi",
    ] {
        assert_eq!(weekdays::parse(name), None, "{name}");
    }
}

#[test]
fn restriction_serde_uses_short_weekday_names_and_rejects_unknown_ones() {
    let parsed: Restriction = serde_json::from_str(
        r#"{"days": ["Monday", "fri"], "from": "09:00:00", "to": "17:30:00"}"#,
    )
    .unwrap();
    assert_eq!(parsed.days, vec![Weekday::Mon, Weekday::Fri]);
    let written = serde_json::to_value(&parsed).unwrap();
    assert_eq!(written["days"], serde_json::json!(["mon", "fri"]));
    let error = serde_json::from_str::<Restriction>(
        r#"{"days": ["monkey"], "from": "09:00:00", "to": "17:00:00"}"#,
    )
    .unwrap_err();
    assert!(
        error.to_string().contains("unknown weekday \"monkey\""),
        "{error}"
    );
}

#[test]
fn documented_yaml_example_parses_into_the_expected_schedule() {
    // The first example of docs/schedules.md, as one schedule.
    let yaml = r#"
id: primary
name: Primary on-call
time_zone: America/New_York
layers:
  - name: business-hours
    rotation:
      participants: [alice, bob, carol]
      start: 2026-01-05T09:00:00
      shift: { days: 1 }
    restrictions:
      - days: [mon, tue, wed, thu, fri]
        from: "09:00"
        to: "17:00"
  - name: nights-and-weekends
    rotation:
      participants: [dave, erin]
      start: 2026-01-05T09:00:00
      shift: { weeks: 1 }
unavailability:
  - user: bob
    start: 2026-03-09T00:00:00Z
    end: 2026-03-16T00:00:00Z
"#;
    let parsed: Schedule = serde_saphyr::from_str(yaml).unwrap();
    assert_eq!(parsed.time_zone, NEW_YORK);
    assert_eq!(parsed.layers[0].rotation.shift, ShiftLength::Days(1));
    assert_eq!(parsed.layers[1].rotation.shift, ShiftLength::Weeks(1));
    assert_eq!(parsed.layers[0].restrictions[0].days.len(), 5);
    // Tuesday 2026-03-10 10:00 EDT: bob's shift (day 64 of the rotation, 64 % 3 == 1), but bob
    // is away, so carol covers.
    assert_eq!(
        who(&parsed, &[], "2026-03-10T14:00:00Z"),
        from_layer("carol", 0, "business-hours")
    );
    // Tuesday 18:00 EDT falls through to the weekly layer: week 9 of the rotation is erin's.
    assert_eq!(
        who(&parsed, &[], "2026-03-10T22:00:00Z"),
        from_layer("erin", 1, "nights-and-weekends")
    );
    // Unknown fields are errors, so a typo does not silently do nothing.
    let typo = yaml.replace("restrictions:", "restriction:");
    assert!(serde_saphyr::from_str::<Schedule>(&typo).is_err());
}
