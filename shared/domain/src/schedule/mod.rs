//! Schedules and on-call resolution.
//!
//! A [`Schedule`] has an IANA time zone and layers in priority order: at any instant, the first
//! layer that has someone on call wins. Each layer is a [`Rotation`] (participants in order,
//! a start, a shift length) optionally limited by [`Restriction`]s (weekday and time-of-day
//! windows, in the schedule's zone) and by the schedule's holidays ([`HolidayRule`]: a
//! "holiday coverage" layer applies only on holidays, a normal one can be left out on them).
//! [`Override`]s win over every layer. [`Unavailability`]
//! makes a layer skip to the next participant of that layer who is available.
//!
//! Time rules (`docs/schedules.md` explains them with worked examples):
//! - `hourly` and `custom` shifts are elapsed durations: a 12 h custom shift is always 12 real
//!   hours, even across a DST change.
//! - `daily` and `weekly` shifts hand off at the local wall-clock time of the rotation start
//!   (09:00 stays 09:00 through DST), so such a shift can be 23 or 25 real hours long.
//! - A local time that does not exist (inside a spring-forward gap) is moved forward by the gap
//!   length: 02:30 on the New York spring-forward day is 03:30 EDT.
//! - A local time that occurs twice (in a fall-back overlap) is the earlier occurrence.
//! - Restriction window edges are local times too and follow the same two rules.
//! - A holiday is the local calendar day: from its 00:00 to the next day's 00:00 in the
//!   schedule's zone (23 or 25 real hours across a DST change), edges resolved by the same rules.
//! - Before its rotation start, a layer has nobody on call.
//!
//! Resolution: [`Schedule::on_call_at`] answers for one instant, [`Schedule::final_schedule`]
//! for a range (it backs the ICS feed).

mod holiday;
mod on_call;
mod restriction;
mod rotation;
mod time;
mod weekdays;

#[cfg(test)]
mod tests;

pub use holiday::holiday_window;
pub use on_call::OnCall;
pub use restriction::Window;
pub use rotation::Shift;
pub use time::{local_time, resolve_local};

use crate::Instant;
use crate::duration::HumanDuration;
use crate::ids::{ScheduleId, UserId};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Weekday};
use serde::{Deserialize, Serialize};

/// An on-call schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Identifier used by escalation policies.
    pub id: ScheduleId,
    /// Display name.
    pub name: String,
    /// The IANA zone every local time of this schedule is in.
    pub time_zone: chrono_tz::Tz,
    /// Layers in priority order: the first layer with someone on call wins.
    pub layers: Vec<Layer>,
    /// Periods in which a participant cannot be on call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unavailability: Vec<Unavailability>,
    /// Holidays: local calendar days in `time_zone` (each from its 00:00 to the next day's
    /// 00:00). Layers with a [`HolidayRule`] follow them; other layers ignore them. A config
    /// file may also name an `.ics` file (`holidays_ics`), whose all-day events the loader
    /// adds here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub holidays: Vec<NaiveDate>,
}

/// One layer of a schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    /// Display name.
    pub name: String,
    /// Who rotates, and how.
    pub rotation: Rotation,
    /// When this layer applies; empty means always.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restrictions: Vec<Restriction>,
    /// How the layer treats the schedule's holidays; absent: it ignores them. Combined with
    /// `restrictions`: the layer applies when both allow it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holidays: Option<HolidayRule>,
}

/// How a layer treats its schedule's holidays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HolidayRule {
    /// `only`: the layer applies on holidays only (holiday coverage).
    Only,
    /// `except`: the layer does not apply on holidays.
    Except,
}

/// A rotation: participants take turns, one shift each, in order, from `start`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rotation {
    /// Participants in hand-off order (a user may appear more than once).
    pub participants: Vec<UserId>,
    /// The first shift's start, as a local time in the schedule's zone
    /// (`2026-01-05T09:00:00`). For daily and weekly shifts its time of day is the hand-off time.
    pub start: NaiveDateTime,
    /// How long each shift is.
    pub shift: ShiftLength,
}

/// A shift length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ShiftLength {
    /// `hours: N`: N elapsed hours.
    Hours(u32),
    /// `days: N`: N days, handing off at the local time of the rotation start.
    Days(u32),
    /// `weeks: N`: N weeks, handing off at the local time and weekday of the rotation start.
    Weeks(u32),
    /// `custom: "36h"`: a fixed elapsed duration.
    Custom(HumanDuration),
}

/// A window in which a layer applies, in the schedule's local time. The window starts on each of
/// `days` at `from` and lasts until `to`; when `to` is not after `from` it ends on the next day
/// (a night window `22:00`–`06:00`). `from` equal to `to` means the whole day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Restriction {
    /// Days the window starts on (`[mon, tue, wed, thu, fri]`); empty means every day.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "weekdays")]
    pub days: Vec<Weekday>,
    /// Local start time (`"09:00"`).
    pub from: NaiveTime,
    /// Local end time (`"17:00"`).
    pub to: NaiveTime,
}

/// Someone takes over a schedule for a period, whoever the layers say. Runtime data (API/CLI),
/// not config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Override {
    /// Identifier (generated by the caller).
    pub id: String,
    /// The schedule overridden.
    pub schedule: ScheduleId,
    /// Who is on call instead.
    pub user: UserId,
    /// Start (inclusive).
    pub start: Instant,
    /// End (exclusive).
    pub end: Instant,
}

/// A period in which a user cannot be on call: rotations skip to the next participant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unavailability {
    /// Who is away.
    pub user: UserId,
    /// Start (inclusive).
    pub start: Instant,
    /// End (exclusive).
    pub end: Instant,
}

/// Why someone is on call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OnCallSource {
    /// An override.
    Override {
        /// The override's id.
        id: String,
    },
    /// A layer's rotation.
    Layer {
        /// The layer's index in the schedule.
        index: usize,
        /// The layer's name.
        name: String,
    },
}

/// A stretch of time with one person on call (or nobody: `user: None`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnCallInterval {
    /// Start (inclusive).
    pub start: Instant,
    /// End (exclusive).
    pub end: Instant,
    /// Who is on call, if anyone.
    pub user: Option<UserId>,
    /// Why.
    pub source: Option<OnCallSource>,
}
