//! Rotation arithmetic: when each shift starts and who holds it.

use super::time::resolve_local;
use super::{Rotation, ShiftLength};
use crate::Instant;
use crate::ids::UserId;
use chrono::{Days, TimeDelta};
use chrono_tz::Tz;

/// One shift of a rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shift {
    /// The shift's number: 0 is the shift starting at the rotation start.
    pub number: u64,
    /// Index into the rotation's participants of who holds this shift (before unavailability).
    pub participant: usize,
    /// Start (inclusive).
    pub start: Instant,
    /// End (exclusive); `None` when the next hand-off is beyond the representable range.
    pub end: Option<Instant>,
}

/// How far apart hand-offs are.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// A fixed number of elapsed seconds (hourly and custom shifts).
    Elapsed(i64),
    /// A number of calendar days, handing off at the local time of the rotation start.
    LocalDays(u64),
}

/// How many shifts the day-count estimate may be off by. DST moves a hand-off by a few hours
/// at most, so the estimate is off by one shift at most; the margin keeps odd zones safe.
const MAX_ESTIMATE_CORRECTION: usize = 8;

impl Rotation {
    fn step(&self) -> Option<Step> {
        let step = match self.shift {
            ShiftLength::Hours(hours) => Step::Elapsed(i64::from(hours).checked_mul(3_600)?),
            ShiftLength::Custom(duration) => Step::Elapsed(duration.as_secs()),
            ShiftLength::Days(days) => Step::LocalDays(u64::from(days)),
            ShiftLength::Weeks(weeks) => Step::LocalDays(u64::from(weeks).checked_mul(7)?),
        };
        let is_empty = match step {
            Step::Elapsed(seconds) => seconds <= 0,
            Step::LocalDays(days) => days == 0,
        };
        (!is_empty).then_some(step)
    }

    /// The instant the first shift starts (the rotation start resolved in `zone`).
    pub fn start_instant(&self, zone: Tz) -> Option<Instant> {
        resolve_local(zone, self.start)
    }

    /// When shift `number` starts. `None` for a rotation without participants or with a
    /// zero-length shift, or when the instant is beyond the representable range.
    pub fn handoff(&self, zone: Tz, number: u64) -> Option<Instant> {
        if self.participants.is_empty() {
            return None;
        }
        match self.step()? {
            Step::Elapsed(seconds) => {
                let elapsed = i64::try_from(number).ok()?.checked_mul(seconds)?;
                self.start_instant(zone)?
                    .checked_add_signed(TimeDelta::try_seconds(elapsed)?)
            }
            Step::LocalDays(days) => {
                let local = self
                    .start
                    .checked_add_days(Days::new(number.checked_mul(days)?))?;
                resolve_local(zone, local)
            }
        }
    }

    /// The number of the shift in progress at `at`; `None` before the rotation start, without
    /// participants or with a zero-length shift.
    pub fn shift_number_at(&self, zone: Tz, at: Instant) -> Option<u64> {
        if self.participants.is_empty() {
            return None;
        }
        let step = self.step()?;
        let start = self.start_instant(zone)?;
        if at < start {
            return None;
        }
        let elapsed = at.signed_duration_since(start).num_seconds();
        match step {
            Step::Elapsed(seconds) => u64::try_from(elapsed / seconds).ok(),
            Step::LocalDays(days) => {
                let period = i64::try_from(days).ok()?.checked_mul(86_400)?;
                let mut number = u64::try_from(elapsed / period).ok()?;
                // The estimate ignores UTC offset changes; correct it against real hand-offs.
                for _ in 0..MAX_ESTIMATE_CORRECTION {
                    match self.handoff(zone, number) {
                        Some(handoff) if handoff <= at => break,
                        _ if number == 0 => break,
                        _ => number -= 1,
                    }
                }
                for _ in 0..MAX_ESTIMATE_CORRECTION {
                    match number
                        .checked_add(1)
                        .and_then(|next| self.handoff(zone, next))
                    {
                        Some(next) if next <= at => number += 1,
                        _ => break,
                    }
                }
                Some(number)
            }
        }
    }

    /// The shift in progress at `at`, if any (see [`Rotation::shift_number_at`]).
    pub fn shift_at(&self, zone: Tz, at: Instant) -> Option<Shift> {
        let number = self.shift_number_at(zone, at)?;
        let count = u64::try_from(self.participants.len()).ok()?;
        let participant = usize::try_from(number.checked_rem(count)?).ok()?;
        Some(Shift {
            number,
            participant,
            start: self.handoff(zone, number)?,
            end: number
                .checked_add(1)
                .and_then(|next| self.handoff(zone, next)),
        })
    }

    /// The participant scheduled at `at`, ignoring restrictions and unavailability.
    pub fn scheduled_at(&self, zone: Tz, at: Instant) -> Option<&UserId> {
        let shift = self.shift_at(zone, at)?;
        self.participants.get(shift.participant)
    }

    /// Every hand-off (shift start, including the rotation start) in `[from, to)`, in order.
    /// Empty when `to <= from`. Cost is proportional to the number of hand-offs returned.
    pub fn handoffs_between(&self, zone: Tz, from: Instant, to: Instant) -> Vec<Instant> {
        let mut handoffs = Vec::new();
        if to <= from {
            return handoffs;
        }
        let Some(start) = self.start_instant(zone) else {
            return handoffs;
        };
        let mut number = if from <= start {
            0
        } else {
            match self.shift_number_at(zone, from) {
                Some(number) => number,
                None => return handoffs,
            }
        };
        while let Some(handoff) = self.handoff(zone, number) {
            if handoff >= to {
                break;
            }
            // Equal consecutive hand-offs (a zero-length shift when a zone skips a whole day)
            // are one boundary.
            if handoff >= from && handoffs.last().is_none_or(|last| *last < handoff) {
                handoffs.push(handoff);
            }
            match number.checked_add(1) {
                Some(next) => number = next,
                None => break,
            }
        }
        handoffs
    }
}
