//! Random schedules: the [`Case`] strategy and what the reference derives from a case.

use super::*;

/// A random schedule, runtime overrides and an evaluation range.
#[derive(Debug, Clone)]
pub(crate) struct Case {
    pub(crate) schedule: Schedule,
    pub(crate) overrides: Vec<Override>,
    pub(crate) from: Instant,
    pub(crate) to: Instant,
}

impl Case {
    pub(crate) fn minutes(&self) -> impl Iterator<Item = Instant> + '_ {
        (0..)
            .map(|minute| self.from + TimeDelta::minutes(minute))
            .take_while(|at| *at < self.to)
    }

    pub(crate) fn reference_handoffs(&self) -> Vec<Vec<Instant>> {
        self.schedule
            .layers
            .iter()
            .map(|layer| reference::handoffs(&layer.rotation, self.schedule.time_zone, self.to))
            .collect()
    }

    /// Every instant in the range where the reference says something may change: worth
    /// checking exactly, since they need not fall on whole minutes.
    pub(crate) fn reference_edges(&self, handoffs: &[Vec<Instant>]) -> Vec<Instant> {
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
        for holiday in &self.schedule.holidays {
            for day in [*holiday, *holiday + TimeDelta::days(1)] {
                edges.push(reference::instant(zone, day.and_time(NaiveTime::MIN)));
            }
        }
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
pub(crate) fn transitions(zone: Tz, year: i32) -> Vec<Instant> {
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

pub(crate) fn time_of_day() -> impl Strategy<Value = NaiveTime> {
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

pub(crate) fn restriction() -> impl Strategy<Value = Restriction> {
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

/// A layer's holiday rule: mostly none, so cases still look like ordinary schedules.
pub(crate) fn holiday_rule() -> impl Strategy<Value = Option<HolidayRule>> {
    prop_oneof![
        2 => Just(None),
        1 => Just(Some(HolidayRule::Only)),
        1 => Just(Some(HolidayRule::Except)),
    ]
}

/// Holidays as days from the case's anchor (the local date of its range start): the range
/// starts at most a day and a half before a DST change when near one, so these land on,
/// before and after change days.
fn holiday_offsets() -> impl Strategy<Value = Vec<i64>> {
    prop::collection::vec(-1i64..=3, 0..=3)
}

/// Layer parameters; the start is relative to the case's anchor date.
fn layer_parts() -> impl Strategy<Value = LayerParts> {
    (
        prop_oneof![
            1 => Just(Vec::new()),
            9 => prop::collection::vec(0usize..USERS.len(), 1..=4),
        ],
        -40i64..=3,
        time_of_day(),
        shift_length(),
        prop::collection::vec(restriction(), 0..=2),
        holiday_rule(),
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

/// What [`layer_parts`] generates for one layer.
type LayerParts = (
    Vec<usize>,
    i64,
    NaiveTime,
    ShiftLength,
    Vec<Restriction>,
    Option<HolidayRule>,
);

pub(crate) fn case() -> impl Strategy<Value = Case> {
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
        holiday_offsets(),
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
                holiday_offsets,
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
                Case {
                    schedule: Schedule {
                        id: schedule_id(),
                        name: "Primary".into(),
                        time_zone: zone,
                        layers: case_layers(layers, anchor),
                        unavailability: case_unavailability(away, from),
                        holidays: holiday_offsets
                            .into_iter()
                            .map(|offset| anchor + TimeDelta::days(offset))
                            .collect(),
                    },
                    overrides: case_overrides(overrides, from),
                    from,
                    to,
                }
            },
        )
}

/// The layers, each rotation starting `start_day` days from `anchor`.
fn case_layers(parts: Vec<LayerParts>, anchor: NaiveDate) -> Vec<Layer> {
    parts
        .into_iter()
        .enumerate()
        .map(
            |(index, (participants, start_day, start_time, shift, restrictions, holidays))| Layer {
                name: format!("layer-{index}"),
                rotation: Rotation {
                    participants: participants.into_iter().map(user).collect(),
                    start: (anchor + TimeDelta::days(start_day)).and_time(start_time),
                    shift,
                },
                restrictions,
                holidays,
            },
        )
        .collect()
}

/// The period starting `start_minutes` after `from` and lasting `seconds`.
fn period(from: Instant, start_minutes: i64, seconds: i64) -> (Instant, Instant) {
    let start = from + TimeDelta::minutes(start_minutes);
    (start, start + TimeDelta::seconds(seconds))
}

fn case_unavailability(away: Vec<(usize, i64, i64)>, from: Instant) -> Vec<Unavailability> {
    away.into_iter()
        .map(|(who, start_minutes, seconds)| {
            let (start, end) = period(from, start_minutes, seconds);
            Unavailability {
                user: user(who),
                start,
                end,
            }
        })
        .collect()
}

/// Overrides for this schedule or (when not `same_schedule`) another one.
fn case_overrides(parts: Vec<(bool, (usize, i64, i64))>, from: Instant) -> Vec<Override> {
    parts
        .into_iter()
        .enumerate()
        .map(|(index, (same_schedule, (who, start_minutes, seconds)))| {
            let (start, end) = period(from, start_minutes, seconds);
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
        .collect()
}
