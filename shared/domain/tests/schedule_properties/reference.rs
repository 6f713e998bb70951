//! The reference: each rule written the slow, obvious way, sharing no code with the crate.

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

/// Whether `at` is within a holiday: the local day from its 00:00 to the next day's 00:00.
pub fn holiday_covers(holidays: &[NaiveDate], zone: Tz, at: Instant) -> bool {
    holidays.iter().any(|day| {
        let start = instant(zone, day.and_time(NaiveTime::MIN));
        let end = instant(zone, (*day + TimeDelta::days(1)).and_time(NaiveTime::MIN));
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
    schedule: &Schedule,
    at: Instant,
) -> Option<UserId> {
    let zone = schedule.time_zone;
    let on_holiday = holiday_covers(&schedule.holidays, zone, at);
    match layer.holidays {
        Some(HolidayRule::Only) if !on_holiday => return None,
        Some(HolidayRule::Except) if on_holiday => return None,
        _ => {}
    }
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
        .find(|user| !unavailable(&schedule.unavailability, user, at))
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
        let found = layer_on_call(layer, &handoffs[index], schedule, at);
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
