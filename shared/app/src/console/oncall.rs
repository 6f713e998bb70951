//! "On call now" and the schedule pages: who is on call on every schedule and until when,
//! who is next, what every escalation policy would page now, the signed-in person's own
//! shifts, and a schedule's final rotation with its overrides (created and removed from a
//! form by responders and admins, through the same use cases as the JSON API).
//!
//! Times are shown in the schedule's own time zone, named beside them; the override form's
//! times are read in that zone too, so what is typed is what the page shows.

use super::service::{ConsoleError, ConsoleService, SignedIn};
use crate::ports::{EmailSender, Queue, Timers};
use crate::usecases::UseCaseError;
use crate::usecases::queries::OverrideRequest;
use chrono::{DurationRound, NaiveDateTime, TimeDelta, TimeZone};
use chrono_tz::Tz;
use klaxon_domain::Instant;
use klaxon_domain::config::Config;
use klaxon_domain::escalation::Target;
use klaxon_domain::ids::UserId;
use klaxon_domain::schedule::{OnCallInterval, OnCallSource, Schedule};
use klaxon_domain::timeline::Actor;
use klaxon_store::Store;

/// How far ahead "who's next", "my shifts" and the schedule page look.
pub const LOOK_AHEAD_DAYS: i64 = 14;

/// The `datetime-local` format the override form sends (`2026-03-01T09:00`).
const FORM_TIME: &str = "%Y-%m-%dT%H:%M";

/// `Mon 2 Mar 09:00` in `zone`.
pub fn local(at: Instant, zone: Tz) -> String {
    at.with_timezone(&zone)
        .format("%a %-d %b %H:%M")
        .to_string()
}

/// `at` as the override form's field value in `zone`.
pub fn form_time(at: Instant, zone: Tz) -> String {
    at.with_timezone(&zone).format(FORM_TIME).to_string()
}

/// One schedule on the "on call now" page.
#[derive(Debug, Clone)]
pub struct ScheduleNow {
    /// The schedule page.
    pub href: String,
    /// Display name.
    pub name: String,
    /// Its time zone.
    pub time_zone: String,
    /// Who is on call now ("nobody" when no one is).
    pub who: String,
    /// Why: "override" or the layer's name.
    pub source: String,
    /// Until when ("" when beyond the look-ahead).
    pub until: String,
    /// Who's next and from when ("" when nobody within the look-ahead).
    pub next: String,
}

/// One tier of a policy as the page lists it.
#[derive(Debug, Clone)]
pub struct TierNow {
    /// 1-based tier number.
    pub number: usize,
    /// How long before the next tier.
    pub delay: String,
    /// Targets, each with who it pages now.
    pub targets: Vec<String>,
}

/// One escalation policy on the "on call now" page.
#[derive(Debug, Clone)]
pub struct PolicyNow {
    /// Display name and id.
    pub name: String,
    /// How many extra rounds.
    pub repeat: u32,
    /// The tiers.
    pub tiers: Vec<TierNow>,
}

/// One of the signed-in person's shifts.
#[derive(Debug, Clone)]
pub struct Shift {
    /// The schedule's name.
    pub schedule: String,
    /// The schedule page.
    pub href: String,
    /// From (schedule's zone).
    pub start: String,
    /// Until (schedule's zone).
    pub end: String,
    /// The zone.
    pub time_zone: String,
}

/// Everything the "on call now" page shows.
#[derive(Debug, Clone)]
pub struct OnCallNow {
    /// Every schedule.
    pub schedules: Vec<ScheduleNow>,
    /// Every policy.
    pub policies: Vec<PolicyNow>,
    /// The signed-in person's shifts within the look-ahead.
    pub shifts: Vec<Shift>,
}

/// One stretch of a schedule's final rotation.
#[derive(Debug, Clone)]
pub struct Stretch {
    /// Who (or "nobody").
    pub who: String,
    /// From.
    pub start: String,
    /// Until.
    pub end: String,
    /// "override" or the layer's name.
    pub source: String,
    /// Whether an override put them there.
    pub is_override: bool,
}

/// An override as the schedule page lists it.
#[derive(Debug, Clone)]
pub struct OverrideRow {
    /// Its id (the remove form's path).
    pub id: String,
    /// Who takes over.
    pub who: String,
    /// From.
    pub start: String,
    /// Until.
    pub end: String,
}

/// Everything the schedule page shows.
#[derive(Debug, Clone)]
pub struct ScheduleView {
    /// The schedule's id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Its time zone.
    pub time_zone: String,
    /// The final rotation over the look-ahead.
    pub stretches: Vec<Stretch>,
    /// Overrides in force now or later within the look-ahead.
    pub overrides: Vec<OverrideRow>,
    /// Every configured user, for the form: (id, name).
    pub users: Vec<(String, String)>,
    /// The form's suggested start and end (the next whole hour, for eight hours).
    pub default_start: String,
    /// See `default_start`.
    pub default_end: String,
}

fn user_name(config: &Config, id: &UserId) -> String {
    config
        .user(id)
        .map_or_else(|| id.to_string(), |u| u.name.clone())
}

fn source_name(source: Option<&OnCallSource>) -> String {
    match source {
        Some(OnCallSource::Override { .. }) => "override".to_owned(),
        Some(OnCallSource::Layer { name, .. }) => name.clone(),
        None => String::new(),
    }
}

fn who(config: &Config, interval: Option<&OnCallInterval>) -> String {
    interval
        .and_then(|i| i.user.as_ref())
        .map_or_else(|| "nobody".to_owned(), |u| user_name(config, u))
}

fn schedule_now(
    config: &Config,
    schedule: &Schedule,
    rotation: &[OnCallInterval],
    horizon: Instant,
) -> ScheduleNow {
    let zone = schedule.time_zone;
    let current = rotation.first();
    let next = rotation.iter().skip(1).find(|i| i.user.is_some());
    ScheduleNow {
        href: format!("/console/schedules/{}", schedule.id),
        name: schedule.name.clone(),
        time_zone: zone.name().to_owned(),
        who: who(config, current),
        source: source_name(current.and_then(|i| i.source.as_ref())),
        until: current
            .filter(|i| i.end < horizon)
            .map(|i| local(i.end, zone))
            .unwrap_or_default(),
        next: next
            .map(|i| format!("{} from {}", who(config, Some(i)), local(i.start, zone)))
            .unwrap_or_default(),
    }
}

fn policies_now(config: &Config, now_by_schedule: &[(String, String)]) -> Vec<PolicyNow> {
    let on_call = |id: &str| {
        now_by_schedule
            .iter()
            .find(|(s, _)| s == id)
            .map_or("unknown schedule", |(_, who)| who.as_str())
            .to_owned()
    };
    config
        .escalation_policies
        .iter()
        .map(|policy| PolicyNow {
            name: format!("{} ({})", policy.name, policy.id),
            repeat: policy.repeat,
            tiers: policy
                .tiers
                .iter()
                .enumerate()
                .map(|(index, tier)| TierNow {
                    number: index + 1,
                    delay: tier.delay.to_string(),
                    targets: tier
                        .targets
                        .iter()
                        .map(|target| match target {
                            Target::User(user) => user_name(config, user),
                            Target::Schedule(id) => {
                                format!("{}: schedule {id}, on call now", on_call(id.as_str()))
                            }
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect()
}

impl<S: Store, Q: Queue, T: Timers, E: EmailSender> ConsoleService<S, Q, T, E> {
    /// Who is on call now on every schedule, what every policy pages, and `who`'s shifts.
    pub async fn on_call_now(&self, who: &SignedIn) -> Result<OnCallNow, ConsoleError> {
        let config = self.core().config().await?;
        let now = self.core().now();
        let horizon = now + TimeDelta::days(LOOK_AHEAD_DAYS);
        let mut schedules = Vec::new();
        let mut current = Vec::new();
        let mut shifts = Vec::new();
        for schedule in &config.schedules {
            let overrides = self
                .core()
                .repo
                .overrides(&schedule.id, now, horizon)
                .await?;
            let rotation = schedule.final_schedule(&overrides, now, horizon);
            let row = schedule_now(&config, schedule, &rotation, horizon);
            current.push((schedule.id.to_string(), row.who.clone()));
            schedules.push(row);
            let zone = schedule.time_zone;
            shifts.extend(
                rotation
                    .iter()
                    .filter(|i| i.user.as_ref() == Some(&who.user))
                    .map(|i| Shift {
                        schedule: schedule.name.clone(),
                        href: format!("/console/schedules/{}", schedule.id),
                        start: local(i.start, zone),
                        end: local(i.end, zone),
                        time_zone: zone.name().to_owned(),
                    }),
            );
        }
        Ok(OnCallNow {
            policies: policies_now(&config, &current),
            schedules,
            shifts,
        })
    }

    /// Schedule `id`'s final rotation and overrides over the look-ahead.
    pub async fn schedule_view(&self, id: &str) -> Result<ScheduleView, ConsoleError> {
        let config = self.core().config().await?;
        let Some(schedule) = config.schedules.iter().find(|s| s.id.as_str() == id) else {
            return Err(UseCaseError::NotFound {
                what: "schedule",
                id: id.to_owned(),
            }
            .into());
        };
        let zone = schedule.time_zone;
        let now = self.core().now();
        let horizon = now + TimeDelta::days(LOOK_AHEAD_DAYS);
        let overrides = self
            .core()
            .repo
            .overrides(&schedule.id, now, horizon)
            .await?;
        let stretches = schedule
            .final_schedule(&overrides, now, horizon)
            .iter()
            .map(|i| Stretch {
                who: who(&config, Some(i)),
                start: local(i.start, zone),
                end: local(i.end, zone),
                source: source_name(i.source.as_ref()),
                is_override: matches!(i.source, Some(OnCallSource::Override { .. })),
            })
            .collect();
        let next_hour =
            now.duration_trunc(TimeDelta::hours(1)).unwrap_or(now) + TimeDelta::hours(1);
        Ok(ScheduleView {
            id: schedule.id.to_string(),
            name: schedule.name.clone(),
            time_zone: zone.name().to_owned(),
            stretches,
            overrides: overrides
                .iter()
                .map(|o| OverrideRow {
                    id: o.id.clone(),
                    who: user_name(&config, &o.user),
                    start: local(o.start, zone),
                    end: local(o.end, zone),
                })
                .collect(),
            users: config
                .users
                .iter()
                .map(|u| (u.id.to_string(), u.name.clone()))
                .collect(),
            default_start: form_time(next_hour, zone),
            default_end: form_time(next_hour + TimeDelta::hours(8), zone),
        })
    }

    /// Creates an override on schedule `id` from the form's `user`, `start` and `end` (local
    /// times in the schedule's zone). Responders and admins only.
    pub async fn create_override(
        &self,
        who: &SignedIn,
        id: &str,
        user: &str,
        start: &str,
        end: &str,
    ) -> Result<(), ConsoleError> {
        if !who.role.can_act() {
            return Err(ConsoleError::Forbidden(who.role.as_str()));
        }
        let config = self.core().config().await?;
        let zone = config
            .schedules
            .iter()
            .find(|s| s.id.as_str() == id)
            .map(|s| s.time_zone)
            .ok_or_else(|| UseCaseError::NotFound {
                what: "schedule",
                id: id.to_owned(),
            })?;
        let request = OverrideRequest {
            user: user.to_owned(),
            start: parse_local("start", start, zone)?,
            end: parse_local("end", end, zone)?,
        };
        let actor = Actor::user(who.user.clone());
        self.queries().create_override(id, request, &actor).await?;
        Ok(())
    }

    /// Removes override `override_id` of schedule `id`. Responders and admins only.
    pub async fn remove_override(
        &self,
        who: &SignedIn,
        id: &str,
        override_id: &str,
    ) -> Result<(), ConsoleError> {
        if !who.role.can_act() {
            return Err(ConsoleError::Forbidden(who.role.as_str()));
        }
        self.queries().delete_override(id, override_id).await?;
        Ok(())
    }
}

/// Reads a `datetime-local` value in `zone`; a time that does not exist there (a DST gap) or
/// is malformed is refused naming `field`.
pub fn parse_local(field: &str, text: &str, zone: Tz) -> Result<Instant, UseCaseError> {
    let naive = NaiveDateTime::parse_from_str(text.trim(), FORM_TIME)
        .or_else(|_| NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| {
            UseCaseError::invalid(field, "must be a date and time like 2026-03-01T09:00")
        })?;
    zone.from_local_datetime(&naive)
        .earliest()
        .map(|at| at.with_timezone(&chrono::Utc))
        .ok_or_else(|| {
            UseCaseError::invalid(field, format!("{text} does not exist in {}", zone.name()))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_times_are_read_in_the_schedules_zone() {
        let at = parse_local("start", "2026-07-01T09:00", chrono_tz::Europe::London).unwrap();
        assert_eq!(at.to_rfc3339(), "2026-07-01T08:00:00+00:00");
        assert_eq!(form_time(at, chrono_tz::Europe::London), "2026-07-01T09:00");
        let gap = parse_local("end", "2026-03-29T01:30", chrono_tz::Europe::London);
        assert!(gap.unwrap_err().to_string().contains("does not exist"));
        let bad = parse_local("end", "tomorrow", chrono_tz::UTC).unwrap_err();
        assert!(bad.to_string().contains("end"), "{bad}");
    }
}
