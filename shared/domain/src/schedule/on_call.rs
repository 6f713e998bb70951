//! On-call resolution: who is on call at an instant, and the final schedule over a range.

use super::{Layer, OnCallInterval, OnCallSource, Override, Schedule, Unavailability};
use crate::Instant;
use crate::ids::{ScheduleId, UserId};
use chrono_tz::Tz;

/// Who is on call, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnCall {
    /// The responder.
    pub user: UserId,
    /// The override or layer that put them on call.
    pub source: OnCallSource,
}

impl Override {
    /// Whether this override is for `schedule` and in force at `at` (start inclusive, end
    /// exclusive; an override whose end is not after its start is never in force).
    pub fn covers(&self, schedule: &ScheduleId, at: Instant) -> bool {
        self.schedule == *schedule && self.start <= at && at < self.end
    }
}

impl Unavailability {
    /// Whether this period makes `user` unavailable at `at`.
    pub fn covers(&self, user: &UserId, at: Instant) -> bool {
        self.user == *user && self.start <= at && at < self.end
    }
}

impl Layer {
    /// Whether the layer applies at `at`: its holiday rule allows it (`on_holiday` says whether
    /// `at` is within one of the schedule's holidays; no rule: always allowed) and its
    /// restrictions cover `at` (no restrictions: always).
    pub fn applies_at(&self, zone: Tz, on_holiday: bool, at: Instant) -> bool {
        self.holidays.is_none_or(|rule| rule.allows(on_holiday))
            && (self.restrictions.is_empty()
                || self
                    .restrictions
                    .iter()
                    .any(|restriction| restriction.covers(zone, at)))
    }

    /// Who this layer puts on call at `at`: nobody where it does not apply (see
    /// [`Layer::applies_at`]) or before its rotation starts. An unavailable participant is
    /// skipped for the next available one in rotation order (wrapping); if all are unavailable
    /// the layer has nobody.
    pub fn on_call_at(
        &self,
        zone: Tz,
        on_holiday: bool,
        unavailability: &[Unavailability],
        at: Instant,
    ) -> Option<&UserId> {
        if !self.applies_at(zone, on_holiday, at) {
            return None;
        }
        let shift = self.rotation.shift_at(zone, at)?;
        let participants = &self.rotation.participants;
        let count = participants.len();
        (0..count)
            .filter_map(|step| participants.get((shift.participant + step) % count))
            .find(|user| !unavailability.iter().any(|period| period.covers(user, at)))
    }
}

impl Schedule {
    /// Who is on call at `at`, given the runtime `overrides` (those for other schedules are
    /// ignored).
    ///
    /// An override in force wins over every layer. If several are in force, the one with the
    /// latest start wins; among those starting at the same instant, the one that comes last in
    /// `overrides` wins (pass overrides in creation order, so the newest wins). Without an
    /// override, the first layer (in priority order) with someone on call wins; on a holiday,
    /// layers marked `holidays: except` are passed over, and off one, `holidays: only` layers.
    pub fn on_call_at(&self, overrides: &[Override], at: Instant) -> Option<OnCall> {
        // `max_by_key` returns the last of equal maxima: that is the tie rule above.
        let winning_override = overrides
            .iter()
            .filter(|candidate| candidate.covers(&self.id, at))
            .max_by_key(|candidate| candidate.start);
        if let Some(winner) = winning_override {
            return Some(OnCall {
                user: winner.user.clone(),
                source: OnCallSource::Override {
                    id: winner.id.clone(),
                },
            });
        }
        let on_holiday = self.is_holiday_at(at);
        self.layers.iter().enumerate().find_map(|(index, layer)| {
            layer
                .on_call_at(self.time_zone, on_holiday, &self.unavailability, at)
                .map(|user| OnCall {
                    user: user.clone(),
                    source: OnCallSource::Layer {
                        index,
                        name: layer.name.clone(),
                    },
                })
        })
    }

    /// The final schedule over `[from, to)`: contiguous intervals covering the range exactly,
    /// nobody on call as `user: None`, neighbours with the same user and source merged. Empty
    /// when `to <= from`.
    ///
    /// Only instants where the answer can change are evaluated (rotation hand-offs, restriction
    /// window edges, holiday edges, override and unavailability edges), so the cost grows with the number of
    /// such boundaries in the range, not with its length in minutes.
    pub fn final_schedule(
        &self,
        overrides: &[Override],
        from: Instant,
        to: Instant,
    ) -> Vec<OnCallInterval> {
        let mut intervals: Vec<OnCallInterval> = Vec::new();
        if to <= from {
            return intervals;
        }
        let boundaries = self.boundaries(overrides, from, to);
        let ends = boundaries
            .iter()
            .skip(1)
            .copied()
            .chain(std::iter::once(to));
        for (&start, end) in boundaries.iter().zip(ends) {
            let on_call = self.on_call_at(overrides, start);
            let (user, source) = match on_call {
                Some(OnCall { user, source }) => (Some(user), Some(source)),
                None => (None, None),
            };
            match intervals.last_mut() {
                Some(last) if last.user == user && last.source == source => last.end = end,
                _ => intervals.push(OnCallInterval {
                    start,
                    end,
                    user,
                    source,
                }),
            }
        }
        intervals
    }

    /// `from` and every instant in `(from, to)` where who is on call can change, sorted and
    /// without duplicates.
    fn boundaries(&self, overrides: &[Override], from: Instant, to: Instant) -> Vec<Instant> {
        let zone = self.time_zone;
        let mut boundaries = vec![from];
        let edges = overrides
            .iter()
            .filter(|candidate| candidate.schedule == self.id && candidate.start < candidate.end)
            .flat_map(|candidate| [candidate.start, candidate.end])
            .chain(
                self.unavailability
                    .iter()
                    .filter(|period| period.start < period.end)
                    .flat_map(|period| [period.start, period.end]),
            );
        boundaries.extend(edges);
        if self.layers.iter().any(|layer| layer.holidays.is_some()) {
            boundaries.extend(
                self.holiday_windows_between(from, to)
                    .into_iter()
                    .flat_map(|window| [window.start, window.end]),
            );
        }
        for layer in &self.layers {
            boundaries.extend(layer.rotation.handoffs_between(zone, from, to));
            for restriction in &layer.restrictions {
                boundaries.extend(
                    restriction
                        .windows_between(zone, from, to)
                        .into_iter()
                        .flat_map(|window| [window.start, window.end]),
                );
            }
        }
        boundaries.retain(|boundary| from <= *boundary && *boundary < to);
        boundaries.sort_unstable();
        boundaries.dedup();
        boundaries
    }
}
