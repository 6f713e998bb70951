//! Holidays across DST, with the schedule suite's zones and generators: a holiday is the local
//! calendar day, `except` layers never cover one, `only` layers never cover anything else, and
//! layers without a holiday rule do not notice holidays. (Agreement with the reference model,
//! holidays included, is `on_call_at_matches_the_minute_by_minute_reference`.)

use super::*;
use cases::transitions;
use klaxon_domain::schedule::{Window, holiday_window};

/// A zone and a local date on, the day before or the day after one of its offset changes in
/// `year` (any date of the year in a zone without them).
fn zone_and_date_near_a_change() -> impl Strategy<Value = (Tz, NaiveDate)> {
    (
        prop::sample::select(ZONES.to_vec()),
        1995i32..2080,
        0usize..4,
        -1i64..=1,
        0u32..365,
    )
        .prop_map(|(zone, year, which, offset, ordinal)| {
            let changes = transitions(zone, year);
            let day = match changes.get(which % changes.len().max(1)) {
                Some(change) => reference::local(zone, *change).date(),
                None => NaiveDate::from_yo_opt(year, ordinal + 1).unwrap(),
            };
            (zone, day + TimeDelta::days(offset))
        })
}

/// The reference's holiday windows of a case, one per listed date.
fn reference_windows(case: &Case) -> Vec<Window> {
    let zone = case.schedule.time_zone;
    case.schedule
        .holidays
        .iter()
        .map(|day| Window {
            start: reference::instant(zone, day.and_time(NaiveTime::MIN)),
            end: reference::instant(zone, (*day + TimeDelta::days(1)).and_time(NaiveTime::MIN)),
        })
        .collect()
}

/// Whether `[start, end)` lies wholly inside the union of `windows`.
fn inside_union(windows: &[Window], start: Instant, end: Instant) -> bool {
    let mut reached = start;
    while reached < end {
        match windows.iter().find(|window| window.contains(reached)) {
            Some(window) => reached = window.end,
            None => return false,
        }
    }
    true
}

fn layer_rule(case: &Case, source: Option<&OnCallSource>) -> Option<Option<HolidayRule>> {
    match source? {
        OnCallSource::Layer { index, .. } => Some(case.schedule.layers[*index].holidays),
        OnCallSource::Override { .. } => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_holiday_is_its_local_calendar_day((zone, day) in zone_and_date_near_a_change()) {
        let window = holiday_window(zone, day).unwrap();
        let next = day + TimeDelta::days(1);
        prop_assert_eq!(window.start, reference::instant(zone, day.and_time(NaiveTime::MIN)));
        prop_assert_eq!(window.end, reference::instant(zone, next.and_time(NaiveTime::MIN)));
        // Every instant inside reads as `day` on the zone's clocks, and the length is a day
        // give or take the DST change (at most an hour here).
        let second = TimeDelta::seconds(1);
        prop_assert_eq!(reference::local(zone, window.start).date(), day);
        prop_assert_eq!(reference::local(zone, window.end - second).date(), day);
        prop_assert_ne!(reference::local(zone, window.end).date(), day);
        let length = window.end - window.start;
        prop_assert!(length >= TimeDelta::hours(23) && length <= TimeDelta::hours(25));
    }

    #[test]
    fn except_layers_never_cover_a_holiday_and_only_layers_nothing_else(case in case()) {
        let windows = reference_windows(&case);
        let intervals = case.schedule.final_schedule(&case.overrides, case.from, case.to);
        for interval in &intervals {
            match layer_rule(&case, interval.source.as_ref()) {
                Some(Some(HolidayRule::Except)) => prop_assert!(
                    windows.iter().all(|w| interval.end <= w.start || w.end <= interval.start),
                    "except layer {:?} overlaps a holiday of {:?}", interval, case.schedule.holidays
                ),
                Some(Some(HolidayRule::Only)) => prop_assert!(
                    inside_union(&windows, interval.start, interval.end),
                    "only layer {:?} outside the holidays {:?}", interval, case.schedule.holidays
                ),
                _ => {}
            }
        }
        let handoffs = case.reference_handoffs();
        for at in case.minutes().chain(case.reference_edges(&handoffs)) {
            let on_holiday =
                reference::holiday_covers(&case.schedule.holidays, case.schedule.time_zone, at);
            prop_assert_eq!(case.schedule.is_holiday_at(at), on_holiday, "at {}", at);
            let found = case.schedule.on_call_at(&case.overrides, at);
            match layer_rule(&case, found.as_ref().map(|on_call| &on_call.source)) {
                Some(Some(HolidayRule::Except)) => {
                    prop_assert!(!on_holiday, "except layer on call on a holiday at {}", at);
                }
                Some(Some(HolidayRule::Only)) => {
                    prop_assert!(on_holiday, "only layer on call off a holiday at {}", at);
                }
                _ => {}
            }
        }
    }

    #[test]
    fn layers_without_a_holiday_rule_do_not_notice_holidays(case in case()) {
        let mut ignoring = case.clone();
        for layer in &mut ignoring.schedule.layers {
            layer.holidays = None;
        }
        let mut without = ignoring.clone();
        without.schedule.holidays.clear();
        prop_assert_eq!(
            ignoring.schedule.final_schedule(&case.overrides, case.from, case.to),
            without.schedule.final_schedule(&case.overrides, case.from, case.to)
        );
        for at in case.minutes() {
            prop_assert_eq!(on_call_pair(&ignoring, at), on_call_pair(&without, at), "at {}", at);
        }
    }
}
