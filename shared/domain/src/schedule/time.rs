//! Converting between a schedule's local wall-clock times and UTC instants.
//!
//! Every local time in a schedule (rotation starts, hand-offs, restriction edges) goes through
//! [`resolve_local`], so one rule decides what a nonexistent or repeated local time means.

use crate::Instant;
use chrono::{FixedOffset, LocalResult, NaiveDateTime, Offset, TimeDelta, TimeZone};
use chrono_tz::Tz;

/// The UTC instant a local wall-clock time in `zone` stands for.
///
/// - A local time that occurs once is that instant.
/// - A local time that occurs twice (a fall-back overlap) is the earlier occurrence:
///   01:30 on 2026-11-01 in New York is 01:30 EDT (05:30 UTC), not 01:30 EST.
/// - A local time that does not exist (a spring-forward gap) is moved forward by the length of
///   the gap: 02:30 on 2026-03-08 in New York is 03:30 EDT (07:30 UTC). Equivalently, it is read
///   with the offset in force just before the gap.
///
/// `None` only when the result is outside the range chrono can represent.
pub fn resolve_local(zone: Tz, local: NaiveDateTime) -> Option<Instant> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(at) => Some(at.to_utc()),
        LocalResult::Ambiguous(first, second) => Some(first.to_utc().min(second.to_utc())),
        LocalResult::None => {
            // In a gap. The offset a day earlier is the one in force just before the gap
            // (no zone changes its offset twice within a day).
            let day_before = local.and_utc().checked_sub_signed(TimeDelta::days(1))?;
            let offset_before = offset_at(zone, day_before);
            local
                .checked_sub_offset(offset_before)
                .map(|utc| utc.and_utc())
        }
    }
}

/// The local wall-clock time of `at` in `zone`; `None` only at the edge of chrono's range.
pub fn local_time(zone: Tz, at: Instant) -> Option<NaiveDateTime> {
    at.naive_utc().checked_add_offset(offset_at(zone, at))
}

/// The UTC offset in force in `zone` at `at`.
fn offset_at(zone: Tz, at: Instant) -> FixedOffset {
    zone.offset_from_utc_datetime(&at.naive_utc()).fix()
}
