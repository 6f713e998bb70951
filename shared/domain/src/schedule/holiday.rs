//! Holidays: local calendar days on which "holiday coverage" layers take over.

use super::restriction::Window;
use super::time::{local_time, resolve_local};
use super::{HolidayRule, Schedule};
use crate::Instant;
use chrono::{NaiveDate, NaiveTime};
use chrono_tz::Tz;

/// The holiday on the local `date` in `zone`: from that day's 00:00 to the next day's 00:00,
/// both resolved by [`resolve_local`] (so 23 or 25 real hours on a DST change day, and a
/// midnight inside a gap starts the day when the gap ends). `None` only at the edge of
/// chrono's range.
pub fn holiday_window(zone: Tz, date: NaiveDate) -> Option<Window> {
    let start = resolve_local(zone, date.and_time(NaiveTime::MIN))?;
    let end = resolve_local(zone, date.succ_opt()?.and_time(NaiveTime::MIN))?;
    (end > start).then_some(Window { start, end })
}

impl HolidayRule {
    /// Whether a layer with this rule may apply at an instant that is (`on_holiday`) or is not
    /// within a holiday.
    pub fn allows(self, on_holiday: bool) -> bool {
        match self {
            HolidayRule::Only => on_holiday,
            HolidayRule::Except => !on_holiday,
        }
    }
}

impl Schedule {
    /// Whether `at` falls within one of this schedule's holidays.
    pub fn is_holiday_at(&self, at: Instant) -> bool {
        if self.holidays.is_empty() {
            return false;
        }
        let Some(today) = local_time(self.time_zone, at).map(|local| local.date()) else {
            return false;
        };
        // A day's window is its local 00:00 to the next 00:00, so only the local date of `at`
        // can contain it; its neighbours are checked too so an edge moved by a gap or overlap
        // is still found.
        [today.pred_opt(), Some(today), today.succ_opt()]
            .into_iter()
            .flatten()
            .filter(|date| self.holidays.contains(date))
            .filter_map(|date| holiday_window(self.time_zone, date))
            .any(|window| window.contains(at))
    }

    /// The windows of this schedule's holidays that overlap `[from, to)`, unclipped, in start
    /// order, one per listed date (consecutive holidays are not merged). Empty when
    /// `to <= from`.
    pub fn holiday_windows_between(&self, from: Instant, to: Instant) -> Vec<Window> {
        if to <= from {
            return Vec::new();
        }
        let mut windows: Vec<Window> = self
            .holidays
            .iter()
            .filter_map(|date| holiday_window(self.time_zone, *date))
            .filter(|window| window.end > from && window.start < to)
            .collect();
        windows.sort_unstable();
        windows.dedup();
        windows
    }
}
