//! Property tests for schedules.
//!
//! - On-call resolution equals an independent, deliberately naive reference evaluated minute by
//!   minute over random schedules in zones with unusual DST rules.
//! - The final schedule covers its range contiguously and agrees with `on_call_at`.
//! - Daily and weekly hand-offs land on the configured local wall-clock time every day, through
//!   every DST change of a year.
//! - Overrides always win over layers.

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
    Layer, OnCallInterval, OnCallSource, Override, Restriction, Rotation, Schedule, ShiftLength,
    Unavailability, local_time,
};
use proptest::prelude::*;

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

/// The reference: each rule written the slow, obvious way, sharing no code with the crate.
mod reference {
    use super::*;

    /// The wall-clock time of `at` in `zone`.
    pub fn local(zone: Tz, at: Instant) -> NaiveDateTime {
        at.with_timezone(&zone).naive_local()
    }

    /// The instant a local time stands for: the earlier one if it occurs twice; if it does not
    /// occur at all, walk back minute by minute to the last wall-clock time that exists and
    /// let the remaining time elapse from there (which moves it forward by the gap).
    pub fn instant(zone: Tz, wall: NaiveDateTime) -> Instant {
        if let Some(at) = zone.from_local_datetime(&wall).earliest() {
            return at.to_utc();
        }
        let mut probe = wall;
        loop {
            probe -= TimeDelta::minutes(1);
            if let Some(at) = zone.from_local_datetime(&probe).earliest() {
                return at.to_utc() + (wall - probe);
            }
        }
    }

    /// Every shift start from the rotation start until the first one after `until`, walked one
    /// shift at a time.
    pub fn handoffs(rotation: &Rotation, zone: Tz, until: Instant) -> Vec<Instant> {
        let mut found = Vec::new();
        let length_is_zero = match rotation.shift {
            ShiftLength::Hours(hours) => hours == 0,
            ShiftLength::Days(days) => days == 0,
            ShiftLength::Weeks(weeks) => weeks == 0,
            ShiftLength::Custom(duration) => duration.as_secs() == 0,
        };
        if rotation.participants.is_empty() || length_is_zero {
            return found;
        }
        let mut wall = rotation.start;
        let mut at = instant(zone, wall);
        loop {
            found.push(at);
            if at > until {
                return found;
            }
            match rotation.shift {
                ShiftLength::Hours(hours) => at += TimeDelta::hours(i64::from(hours)),
                ShiftLength::Custom(duration) => at += TimeDelta::seconds(duration.as_secs()),
                ShiftLength::Days(days) => {
                    wall += TimeDelta::days(i64::from(days));
                    at = instant(zone, wall);
                }
                ShiftLength::Weeks(weeks) => {
                    wall += TimeDelta::weeks(i64::from(weeks));
                    at = instant(zone, wall);
                }
            }
        }
    }

    /// Whether a window of `restriction` contains `at`: look at windows starting on the local
    /// days around `at`.
    pub fn restriction_covers(restriction: &Restriction, zone: Tz, at: Instant) -> bool {
        let today = local(zone, at).date();
        (-2..=1).any(|shift| {
            let day = today + TimeDelta::days(shift);
            if !restriction.days.is_empty() && !restriction.days.contains(&day.weekday()) {
                return false;
            }
            let end_day = if restriction.to > restriction.from {
                day
            } else {
                day + TimeDelta::days(1)
            };
            let start = instant(zone, day.and_time(restriction.from));
            let end = instant(zone, end_day.and_time(restriction.to));
            start <= at && at < end
        })
    }

    fn unavailable(unavailability: &[Unavailability], user: &UserId, at: Instant) -> bool {
        unavailability
            .iter()
            .any(|period| period.user == *user && period.start <= at && at < period.end)
    }

    fn layer_on_call(
        layer: &Layer,
        handoffs: &[Instant],
        zone: Tz,
        unavailability: &[Unavailability],
        at: Instant,
    ) -> Option<UserId> {
        if !layer.restrictions.is_empty()
            && !layer
                .restrictions
                .iter()
                .any(|restriction| restriction_covers(restriction, zone, at))
        {
            return None;
        }
        let started = handoffs.partition_point(|handoff| *handoff <= at);
        let shift = started.checked_sub(1)?;
        let participants = &layer.rotation.participants;
        (0..participants.len())
            .map(|step| &participants[(shift + step) % participants.len()])
            .find(|user| !unavailable(unavailability, user, at))
            .cloned()
    }

    /// Who is on call at `at`; `handoffs[i]` are layer i's hand-offs.
    pub fn on_call(
        schedule: &Schedule,
        overrides: &[Override],
        handoffs: &[Vec<Instant>],
        at: Instant,
    ) -> Option<(UserId, OnCallSource)> {
        let mut winner: Option<&Override> = None;
        for candidate in overrides {
            let in_force =
                candidate.schedule == schedule.id && candidate.start <= at && at < candidate.end;
            if in_force && winner.is_none_or(|best| candidate.start >= best.start) {
                winner = Some(candidate);
            }
        }
        if let Some(winner) = winner {
            let source = OnCallSource::Override {
                id: winner.id.clone(),
            };
            return Some((winner.user.clone(), source));
        }
        for (index, layer) in schedule.layers.iter().enumerate() {
            let found = layer_on_call(
                layer,
                &handoffs[index],
                schedule.time_zone,
                &schedule.unavailability,
                at,
            );
            if let Some(user) = found {
                let source = OnCallSource::Layer {
                    index,
                    name: layer.name.clone(),
                };
                return Some((user, source));
            }
        }
        None
    }
}

// ---- Random schedules ------------------------------------------------------------------

/// A random schedule, runtime overrides and an evaluation range.
#[derive(Debug, Clone)]
struct Case {
    schedule: Schedule,
    overrides: Vec<Override>,
    from: Instant,
    to: Instant,
}

impl Case {
    fn minutes(&self) -> impl Iterator<Item = Instant> + '_ {
        (0..)
            .map(|minute| self.from + TimeDelta::minutes(minute))
            .take_while(|at| *at < self.to)
    }

    fn reference_handoffs(&self) -> Vec<Vec<Instant>> {
        self.schedule
            .layers
            .iter()
            .map(|layer| reference::handoffs(&layer.rotation, self.schedule.time_zone, self.to))
            .collect()
    }

    /// Every instant in the range where the reference says something may change: worth
    /// checking exactly, since they need not fall on whole minutes.
    fn reference_edges(&self, handoffs: &[Vec<Instant>]) -> Vec<Instant> {
        let zone = self.schedule.time_zone;
        let mut edges: Vec<Instant> = handoffs.iter().flatten().copied().collect();
        for period in &self.schedule.unavailability {
            edges.extend([period.start, period.end]);
        }
        for candidate in &self.overrides {
            edges.extend([candidate.start, candidate.end]);
        }
        let first_day = reference::local(zone, self.from).date() - TimeDelta::days(2);
        let last_day = reference::local(zone, self.to).date() + TimeDelta::days(1);
        for layer in &self.schedule.layers {
            for restriction in &layer.restrictions {
                for day in first_day.iter_days().take_while(|day| *day <= last_day) {
                    for time in [restriction.from, restriction.to] {
                        edges.push(reference::instant(zone, day.and_time(time)));
                    }
                }
            }
        }
        let second = TimeDelta::seconds(1);
        let mut around: Vec<Instant> = edges
            .into_iter()
            .flat_map(|edge| [edge - second, edge])
            .filter(|at| self.from <= *at && *at < self.to)
            .collect();
        around.sort();
        around.dedup();
        around
    }
}

/// The offset changes of `zone` in `year`, to the minute.
fn transitions(zone: Tz, year: i32) -> Vec<Instant> {
    let offset = |at: Instant| zone.offset_from_utc_datetime(&at.naive_utc()).fix();
    let Some(first) = NaiveDate::from_ymd_opt(year, 1, 1) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for day in first.iter_days().take(366) {
        let midnight = day.and_time(NaiveTime::MIN).and_utc();
        let at_minute = |minute: i64| midnight + TimeDelta::minutes(minute);
        let (mut low, mut high) = (0, 24 * 60);
        if offset(at_minute(low)) == offset(at_minute(high)) {
            continue;
        }
        // Invariant: the offset at `low` is the old one, at `high` the new one.
        while high - low > 1 {
            let middle = (low + high) / 2;
            if offset(at_minute(middle)) == offset(at_minute(low)) {
                low = middle;
            } else {
                high = middle;
            }
        }
        found.push(at_minute(high));
    }
    found
}

fn time_of_day() -> impl Strategy<Value = NaiveTime> {
    prop_oneof![
        // Hours where DST changes happen, to land in gaps and overlaps often.
        (0u32..5, prop::sample::select(vec![0u32, 15, 30, 45, 59])),
        (0u32..24, prop::sample::select(vec![0u32, 30])),
        (0u32..24, 0u32..60),
    ]
    .prop_map(|(hour, minute)| NaiveTime::from_hms_opt(hour, minute, 0).unwrap())
}

fn shift_length() -> impl Strategy<Value = ShiftLength> {
    prop_oneof![
        4 => (1u32..=48).prop_map(ShiftLength::Hours),
        4 => (1u32..=3).prop_map(ShiftLength::Days),
        2 => (1u32..=2).prop_map(ShiftLength::Weeks),
        3 => (600i64..=200_000).prop_map(|seconds| ShiftLength::Custom(HumanDuration::from_secs(seconds))),
        1 => Just(ShiftLength::Hours(0)),
    ]
}

fn restriction() -> impl Strategy<Value = Restriction> {
    (
        0u8..128,
        time_of_day(),
        prop_oneof![time_of_day().prop_map(Some), Just(None)],
    )
        .prop_map(|(day_mask, from, to)| Restriction {
            days: [
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
                Weekday::Sat,
                Weekday::Sun,
            ]
            .into_iter()
            .enumerate()
            .filter(|(bit, _)| day_mask & (1 << bit) != 0)
            .map(|(_, day)| day)
            .collect(),
            from,
            // `None`: a full-day window.
            to: to.unwrap_or(from),
        })
}

/// Layer parameters; the start is relative to the case's anchor date.
fn layer_parts()
-> impl Strategy<Value = (Vec<usize>, i64, NaiveTime, ShiftLength, Vec<Restriction>)> {
    (
        prop_oneof![
            1 => Just(Vec::new()),
            9 => prop::collection::vec(0usize..USERS.len(), 1..=4),
        ],
        -40i64..=3,
        time_of_day(),
        shift_length(),
        prop::collection::vec(restriction(), 0..=2),
    )
}

/// (user, start minutes from `from`, length in seconds)
fn period_parts() -> impl Strategy<Value = (usize, i64, i64)> {
    let start_minutes = prop_oneof![
        -600i64..3_000,
        // Shared starts, so overrides tie often.
        prop::sample::select(vec![0i64, 90, 600]),
    ];
    (0usize..USERS.len(), start_minutes, 1i64..150_000)
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::sample::select(ZONES.to_vec()),
        1995i32..2080,
        any::<bool>(),
        0usize..4,
        0u32..365,
        0i64..2_000,
        1i64..=2_880,
        prop::collection::vec(layer_parts(), 1..=3),
        prop::collection::vec(period_parts(), 0..=3),
        prop::collection::vec((any::<bool>(), period_parts()), 0..=3),
    )
        .prop_map(
            |(
                zone,
                year,
                near_transition,
                transition_index,
                day_of_year,
                minutes_before,
                length_minutes,
                layers,
                away,
                overrides,
            )| {
                let changes = transitions(zone, year);
                let from = match changes.get(transition_index % changes.len().max(1)) {
                    Some(change) if near_transition => *change - TimeDelta::minutes(minutes_before),
                    _ => {
                        NaiveDate::from_yo_opt(year, day_of_year + 1)
                            .unwrap()
                            .and_hms_opt(12, 0, 0)
                            .unwrap()
                            .and_utc()
                            - TimeDelta::minutes(minutes_before)
                    }
                };
                let to = from + TimeDelta::minutes(length_minutes);
                let anchor = reference::local(zone, from).date();
                let layers = layers
                    .into_iter()
                    .enumerate()
                    .map(
                        |(index, (participants, start_day, start_time, shift, restrictions))| {
                            Layer {
                                name: format!("layer-{index}"),
                                rotation: Rotation {
                                    participants: participants.into_iter().map(user).collect(),
                                    start: (anchor + TimeDelta::days(start_day))
                                        .and_time(start_time),
                                    shift,
                                },
                                restrictions,
                            }
                        },
                    )
                    .collect();
                let period = |start_minutes: i64, seconds: i64| {
                    let start = from + TimeDelta::minutes(start_minutes);
                    (start, start + TimeDelta::seconds(seconds))
                };
                let unavailability = away
                    .into_iter()
                    .map(|(who, start_minutes, seconds)| {
                        let (start, end) = period(start_minutes, seconds);
                        Unavailability {
                            user: user(who),
                            start,
                            end,
                        }
                    })
                    .collect();
                let overrides = overrides
                    .into_iter()
                    .enumerate()
                    .map(|(index, (same_schedule, (who, start_minutes, seconds)))| {
                        let (start, end) = period(start_minutes, seconds);
                        let schedule = if same_schedule {
                            schedule_id()
                        } else {
                            ScheduleId::new("other").unwrap()
                        };
                        Override {
                            id: format!("override-{index}"),
                            schedule,
                            user: user(who + 1),
                            start,
                            end,
                        }
                    })
                    .collect();
                Case {
                    schedule: Schedule {
                        id: schedule_id(),
                        name: "Primary".into(),
                        time_zone: zone,
                        layers,
                        unavailability,
                    },
                    overrides,
                    from,
                    to,
                }
            },
        )
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
