//! Restriction windows: when a layer applies.

use super::Restriction;
use super::time::resolve_local;
use crate::Instant;
use chrono::{Datelike, Days, NaiveDate};
use chrono_tz::Tz;

/// A window as UTC instants: start inclusive, end exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Window {
    /// Start (inclusive).
    pub start: Instant,
    /// End (exclusive).
    pub end: Instant,
}

impl Window {
    /// Whether `at` is inside the window.
    pub fn contains(&self, at: Instant) -> bool {
        self.start <= at && at < self.end
    }
}

/// A window starting on local date D may end as late as the day after next (an overnight
/// window whose end is pushed forward by a gap), and local dates differ from UTC dates by one
/// day at most: these margins, in days, cover every window that can touch a UTC date.
const DAYS_BEFORE: u64 = 3;
const DAYS_AFTER: u64 = 2;

impl Restriction {
    /// Whether a window starts on `date` (a local date in the schedule's zone).
    pub fn starts_on(&self, date: NaiveDate) -> bool {
        self.days.is_empty() || self.days.contains(&date.weekday())
    }

    /// The window starting on the local `date`, as UTC instants, if `date` is one of the
    /// restriction's days. `to` not after `from` ends the window on the next day (`from == to`
    /// is a full day). Edges follow [`resolve_local`]; `None` if DST makes the window empty
    /// (its resolved end is not after its resolved start) or at the edge of chrono's range.
    pub fn window_starting_on(&self, zone: Tz, date: NaiveDate) -> Option<Window> {
        if !self.starts_on(date) {
            return None;
        }
        let end_date = if self.to > self.from {
            date
        } else {
            date.succ_opt()?
        };
        let start = resolve_local(zone, date.and_time(self.from))?;
        let end = resolve_local(zone, end_date.and_time(self.to))?;
        (end > start).then_some(Window { start, end })
    }

    /// Whether `at` falls inside one of this restriction's windows.
    pub fn covers(&self, zone: Tz, at: Instant) -> bool {
        candidate_dates(at, at)
            .filter_map(|date| self.window_starting_on(zone, date))
            .any(|window| window.contains(at))
    }

    /// Every window that overlaps `[from, to)`, unclipped, in start order. Empty when
    /// `to <= from`. Cost is proportional to the number of days in the range.
    pub fn windows_between(&self, zone: Tz, from: Instant, to: Instant) -> Vec<Window> {
        if to <= from {
            return Vec::new();
        }
        candidate_dates(from, to)
            .filter_map(|date| self.window_starting_on(zone, date))
            .filter(|window| window.end > from && window.start < to)
            .collect()
    }
}

/// Local dates on which a window touching `[from, to]` can start.
fn candidate_dates(from: Instant, to: Instant) -> impl Iterator<Item = NaiveDate> {
    let first = from.naive_utc().date();
    let first = first
        .checked_sub_days(Days::new(DAYS_BEFORE))
        .unwrap_or(first);
    let last = to.naive_utc().date();
    let last = last.checked_add_days(Days::new(DAYS_AFTER)).unwrap_or(last);
    first.iter_days().take_while(move |date| *date <= last)
}
