//! Property tests for schedules.
//!
//! - On-call resolution equals an independent, deliberately naive reference evaluated minute by
//!   minute over random schedules in zones with unusual DST rules.
//! - The final schedule covers its range contiguously and agrees with `on_call_at`.
//! - Daily and weekly hand-offs land on the configured local wall-clock time every day, through
//!   every DST change of a year.
//! - Overrides always win over layers.
//! - Holidays: `except` layers never cover a holiday instant, `only` layers never cover
//!   anything else, and layers without a rule are unaffected (`holidays.rs`).

// Test helpers build fixed, valid inputs; a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use klaxon_domain::Instant;
use klaxon_domain::chrono::{
    Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta, TimeZone, Weekday,
};
use klaxon_domain::chrono_tz::Tz;
use klaxon_domain::duration::HumanDuration;
use klaxon_domain::ids::{ScheduleId, UserId};
use klaxon_domain::schedule::{
    HolidayRule, Layer, OnCallInterval, OnCallSource, Override, Restriction, Rotation, Schedule,
    ShiftLength, Unavailability, local_time,
};
use proptest::prelude::*;

mod cases;
mod holidays;
mod quiet_hours;
mod reference;

use cases::{Case, case, time_of_day};

/// Zones with northern and southern DST, half-hour and quarter-hour offsets, a half-hour DST
/// shift (Lord Howe), and none at all.
const ZONES: [Tz; 8] = [
    Tz::America__New_York,
    Tz::Europe__London,
    Tz::Australia__Sydney,
    Tz::Asia__Kolkata,
    Tz::Pacific__Chatham,
    Tz::UTC,
    Tz::Australia__Lord_Howe,
    Tz::America__Santiago,
];

const USERS: [&str; 5] = ["ann", "bob", "cat", "dan", "eve"];

fn user(index: usize) -> UserId {
    UserId::new(USERS[index % USERS.len()]).unwrap()
}

fn schedule_id() -> ScheduleId {
    ScheduleId::new("primary").unwrap()
}

fn on_call_pair(case: &Case, at: Instant) -> Option<(UserId, OnCallSource)> {
    case.schedule
        .on_call_at(&case.overrides, at)
        .map(|on_call| (on_call.user, on_call.source))
}

fn interval_pair(interval: &OnCallInterval) -> Option<(UserId, OnCallSource)> {
    interval.user.clone().zip(interval.source.clone())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn on_call_at_matches_the_minute_by_minute_reference(case in case()) {
        let handoffs = case.reference_handoffs();
        let edges = case.reference_edges(&handoffs);
        for at in case.minutes().chain(edges) {
            let expected = reference::on_call(&case.schedule, &case.overrides, &handoffs, at);
            prop_assert_eq!(
                on_call_pair(&case, at),
                expected,
                "at {} (local {})",
                at,
                reference::local(case.schedule.time_zone, at)
            );
        }
    }

    #[test]
    fn final_schedule_is_contiguous_and_agrees_with_on_call_at(case in case()) {
        let intervals = case.schedule.final_schedule(&case.overrides, case.from, case.to);
        prop_assert_eq!(intervals.first().map(|interval| interval.start), Some(case.from));
        prop_assert_eq!(intervals.last().map(|interval| interval.end), Some(case.to));
        for interval in &intervals {
            prop_assert!(interval.start < interval.end, "empty interval {:?}", interval);
            prop_assert_eq!(interval.user.is_some(), interval.source.is_some());
            prop_assert_eq!(
                interval_pair(interval),
                on_call_pair(&case, interval.start),
                "at interval start {:?}", interval
            );
        }
        for pair in intervals.windows(2) {
            prop_assert_eq!(pair[0].end, pair[1].start, "gap or overlap");
            prop_assert!(
                interval_pair(&pair[0]) != interval_pair(&pair[1]),
                "unmerged neighbours {:?}", pair
            );
        }
        let handoffs = case.reference_handoffs();
        let edges = case.reference_edges(&handoffs);
        for at in case.minutes().chain(edges) {
            let containing = intervals.partition_point(|interval| interval.end <= at);
            let interval = &intervals[containing];
            prop_assert!(interval.start <= at && at < interval.end);
            prop_assert_eq!(interval_pair(interval), on_call_pair(&case, at), "at {}", at);
        }
    }

    #[test]
    fn overrides_always_win_over_layers(case in case()) {
        let intervals = case.schedule.final_schedule(&case.overrides, case.from, case.to);
        let in_force = |at: Instant| -> Vec<&Override> {
            case.overrides
                .iter()
                .filter(|candidate| candidate.schedule == case.schedule.id)
                .filter(|candidate| candidate.start <= at && at < candidate.end)
                .collect()
        };
        for at in case.minutes() {
            let covering = in_force(at);
            let found = case.schedule.on_call_at(&case.overrides, at);
            let Some(latest_start) = covering.iter().map(|candidate| candidate.start).max() else {
                let from_override = matches!(
                    found.map(|on_call| on_call.source),
                    Some(OnCallSource::Override { .. })
                );
                prop_assert!(!from_override, "override source without an override at {}", at);
                continue;
            };
            let winner = covering
                .iter()
                .rev()
                .find(|candidate| candidate.start == latest_start)
                .unwrap();
            let found = found.unwrap();
            prop_assert_eq!(&found.user, &winner.user);
            prop_assert_eq!(found.source, OnCallSource::Override { id: winner.id.clone() });
            let interval = &intervals[intervals.partition_point(|interval| interval.end <= at)];
            prop_assert_eq!(interval.user.as_ref(), Some(&winner.user));
        }
    }
}

// ---- Wall-clock hand-offs ------------------------------------------------------------------

fn wall_clock_rotation() -> impl Strategy<Value = (Tz, Rotation, u64)> {
    (
        prop::sample::select(ZONES.to_vec()),
        1995i32..2080,
        1u32..=365,
        time_of_day(),
        prop_oneof![
            (1u32..=2).prop_map(ShiftLength::Days),
            (1u32..=2).prop_map(ShiftLength::Weeks),
        ],
    )
        .prop_map(|(zone, year, ordinal, time, shift)| {
            let start = NaiveDate::from_yo_opt(year, ordinal)
                .unwrap()
                .and_time(time);
            let days_per_shift = match shift {
                ShiftLength::Days(days) => u64::from(days),
                ShiftLength::Weeks(weeks) => 7 * u64::from(weeks),
                _ => unreachable!(),
            };
            let rotation = Rotation {
                participants: vec![user(0), user(1), user(2)],
                start,
                shift,
            };
            (zone, rotation, days_per_shift)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn daily_and_weekly_handoffs_land_on_the_local_wall_clock_time(
        (zone, rotation, days_per_shift) in wall_clock_rotation()
    ) {
        // A little over a year of hand-offs: every DST change of the zone is crossed.
        let count = 370 / days_per_shift + 1;
        let mut found = Vec::new();
        for number in 0..count {
            let handoff = rotation.handoff(zone, number).unwrap();
            let wall = rotation.start + Days::new(number * days_per_shift);
            let landed = local_time(zone, handoff).unwrap();
            prop_assert_eq!(landed.date(), wall.date());
            if days_per_shift % 7 == 0 {
                prop_assert_eq!(landed.weekday(), rotation.start.weekday());
            }
            match zone.from_local_datetime(&wall).earliest() {
                Some(expected) => {
                    // The configured time exists: exactly it, the first one if it repeats.
                    prop_assert_eq!(handoff, expected.to_utc());
                    prop_assert_eq!(landed.time(), rotation.start.time());
                }
                None => {
                    // Inside a gap: later the same day by the gap's length (at most an hour here).
                    prop_assert_eq!(handoff, reference::instant(zone, wall));
                    let moved = landed - wall;
                    prop_assert!(moved > TimeDelta::zero() && moved <= TimeDelta::hours(1));
                }
            }
            let shift = rotation.shift_at(zone, handoff).unwrap();
            prop_assert_eq!(shift.number, number);
            prop_assert_eq!(shift.start, handoff);
            if number > 0 {
                let before = rotation.shift_at(zone, handoff - TimeDelta::seconds(1)).unwrap();
                prop_assert_eq!(before.number, number - 1);
                prop_assert_eq!(before.end, Some(handoff));
            }
            found.push(handoff);
        }
        let first = found[0];
        let after_last = rotation.handoff(zone, count).unwrap();
        prop_assert_eq!(rotation.handoffs_between(zone, first, after_last), found);
    }
}
