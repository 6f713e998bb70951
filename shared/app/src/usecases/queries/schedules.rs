//! Schedules: who is on call, calendar feeds, and overrides.

use super::{
    ICS_DEFAULT_FUTURE_DAYS, ICS_DEFAULT_PAST_DAYS, ON_CALL_HORIZON_DAYS, OVERRIDES_DEFAULT_DAYS,
    QueryService, parse_instant, range_error, schedule,
};
use crate::ics::{self, EVENT_CONTEXT_DAYS, ScheduleRange};
use crate::usecases::UseCaseError;
use chrono::TimeDelta;
use klaxon_domain::Instant;
use klaxon_domain::ids::{ScheduleId, UserId};
use klaxon_domain::schedule::{OnCallSource, Override, Schedule};
use klaxon_domain::timeline::Actor;
use klaxon_store::Store;
use klaxon_store::repo::RepoError;
use serde::Serialize;
use serde_json::Value;

/// A user as the API shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserRef {
    /// The id.
    pub id: UserId,
    /// The display name.
    pub name: String,
}

/// Who is on call on one schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduleOnCall {
    /// The schedule.
    pub schedule: ScheduleId,
    /// Its display name.
    pub name: String,
    /// Its time zone.
    pub time_zone: String,
    /// Who is on call (absent: nobody).
    pub user: Option<UserRef>,
    /// Why: an override or a layer.
    pub source: Option<OnCallSource>,
    /// When this stretch ends, if within the next 31 days.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<Instant>,
}

/// Who is on call at an instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OnCallReport {
    /// The instant asked about.
    pub at: Instant,
    /// One entry per schedule, in configuration order.
    pub schedules: Vec<ScheduleOnCall>,
}

/// The overrides of a schedule in a range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OverrideList {
    /// The schedule.
    pub schedule: ScheduleId,
    /// Start of the range.
    pub from: Instant,
    /// End of the range.
    pub to: Instant,
    /// Overrides in force at some instant of the range, by start.
    pub overrides: Vec<Override>,
}

/// A new override as a caller asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverrideRequest {
    /// Who takes over.
    pub user: String,
    /// From (inclusive).
    pub start: Instant,
    /// Until (exclusive).
    pub end: Instant,
}

impl OverrideRequest {
    /// Parses `{"user": "ben", "start": "…Z", "end": "…Z"}`; every error names its field.
    pub fn from_json(body: &[u8]) -> Result<Self, UseCaseError> {
        // A leading UTF-8 byte-order mark is accepted, as on every JSON route.
        let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| UseCaseError::invalid("body", format!("is not valid JSON: {e}")))?;
        let Value::Object(object) = value else {
            return Err(UseCaseError::invalid(
                "body",
                "must be a JSON object with user, start and end",
            ));
        };
        if let Some(unknown) = object
            .keys()
            .find(|k| !matches!(k.as_str(), "user" | "start" | "end"))
        {
            return Err(UseCaseError::invalid(
                unknown.clone(),
                "unknown field (expected user, start and end)",
            ));
        }
        let text = |field: &str| -> Result<String, UseCaseError> {
            match object.get(field) {
                Some(Value::String(text)) => Ok(text.clone()),
                Some(_) => Err(UseCaseError::invalid(field, "must be a string")),
                None => Err(UseCaseError::invalid(field, "is required")),
            }
        };
        Ok(Self {
            user: text("user")?,
            start: parse_instant("start", &text("start")?)?,
            end: parse_instant("end", &text("end")?)?,
        })
    }
}

/// A created override and who created it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreatedOverride {
    /// The override.
    #[serde(flatten)]
    pub override_: Override,
    /// Who created it.
    pub created_by: Actor,
}

impl<S: Store> QueryService<S> {
    /// Who is on call at `at` (default now): on every schedule, or on `schedule` only.
    pub async fn on_call(
        &self,
        schedule_id: Option<&str>,
        at: Option<Instant>,
    ) -> Result<OnCallReport, UseCaseError> {
        let config = self.core().config().await?;
        let at = at.unwrap_or_else(|| self.core().now());
        let schedules: Vec<&Schedule> = match schedule_id {
            Some(id) => vec![schedule(&config, id)?],
            None => config.schedules.iter().collect(),
        };
        let horizon = at + TimeDelta::days(ON_CALL_HORIZON_DAYS);
        let mut entries = Vec::with_capacity(schedules.len());
        for schedule in schedules {
            let overrides = self
                .core()
                .repo
                .overrides(&schedule.id, at, horizon)
                .await?;
            let on_call = schedule.on_call_at(&overrides, at);
            let until = schedule
                .final_schedule(&overrides, at, horizon)
                .first()
                .map(|stretch| stretch.end)
                .filter(|end| *end < horizon);
            entries.push(ScheduleOnCall {
                schedule: schedule.id.clone(),
                name: schedule.name.clone(),
                time_zone: schedule.time_zone.name().to_owned(),
                user: on_call.as_ref().map(|on_call| UserRef {
                    id: on_call.user.clone(),
                    name: config
                        .user(&on_call.user)
                        .map_or_else(|| on_call.user.to_string(), |u| u.name.clone()),
                }),
                source: on_call.map(|on_call| on_call.source),
                until,
            });
        }
        Ok(OnCallReport {
            at,
            schedules: entries,
        })
    }

    /// The schedule's on-call stretches as an iCalendar feed, from `from` (default two weeks
    /// ago) to `to` (default 90 days ahead), at most [`ics::MAX_RANGE_DAYS`] long.
    pub async fn ics(
        &self,
        schedule_id: &str,
        from: Option<Instant>,
        to: Option<Instant>,
    ) -> Result<String, UseCaseError> {
        let config = self.core().config().await?;
        let schedule = schedule(&config, schedule_id)?;
        let now = self.core().now();
        let from = from.unwrap_or(now - TimeDelta::days(ICS_DEFAULT_PAST_DAYS));
        let to = to.unwrap_or(now + TimeDelta::days(ICS_DEFAULT_FUTURE_DAYS));
        let range = ScheduleRange::new(from, to).map_err(range_error)?;
        let context = TimeDelta::days(EVENT_CONTEXT_DAYS);
        let overrides = self
            .core()
            .repo
            .overrides(&schedule.id, from - context, to + context)
            .await?;
        Ok(ics::schedule_calendar(
            &config, schedule, &overrides, range, now,
        ))
    }

    /// The schedule's overrides in force at some instant of `[from, to)` (default: now to 90
    /// days ahead).
    pub async fn overrides(
        &self,
        schedule_id: &str,
        from: Option<Instant>,
        to: Option<Instant>,
    ) -> Result<OverrideList, UseCaseError> {
        let config = self.core().config().await?;
        let schedule = schedule(&config, schedule_id)?;
        let now = self.core().now();
        let from = from.unwrap_or(now);
        let to = to.unwrap_or(from + TimeDelta::days(OVERRIDES_DEFAULT_DAYS));
        ScheduleRange::new(from, to).map_err(range_error)?;
        let overrides = self.core().repo.overrides(&schedule.id, from, to).await?;
        Ok(OverrideList {
            schedule: schedule.id.clone(),
            from,
            to,
            overrides,
        })
    }

    /// Creates an override: the schedule must exist, the user must be configured, and the
    /// override must end after it starts. Its id is generated.
    pub async fn create_override(
        &self,
        schedule_id: &str,
        request: OverrideRequest,
        actor: &Actor,
    ) -> Result<CreatedOverride, UseCaseError> {
        let config = self.core().config().await?;
        let schedule = schedule(&config, schedule_id)?;
        let user = UserId::new(request.user.clone())
            .map_err(|e| UseCaseError::invalid("user", format!("{:?}: {e}", request.user)))?;
        if config.user(&user).is_none() {
            return Err(UseCaseError::invalid(
                "user",
                format!("unknown user {:?} (not defined under users)", request.user),
            ));
        }
        if request.end <= request.start {
            return Err(UseCaseError::invalid("end", "must be after start"));
        }
        let created = Override {
            id: self.core().ids.new_id(),
            schedule: schedule.id.clone(),
            user,
            start: request.start,
            end: request.end,
        };
        self.core().repo.create_override(&created, actor).await?;
        Ok(CreatedOverride {
            override_: created,
            created_by: actor.clone(),
        })
    }

    /// Deletes an override of a schedule (the schedule need not be configured any more).
    pub async fn delete_override(&self, schedule_id: &str, id: &str) -> Result<(), UseCaseError> {
        let not_found = || UseCaseError::NotFound {
            what: "override",
            id: id.to_owned(),
        };
        let Ok(schedule) = ScheduleId::new(schedule_id) else {
            return Err(not_found());
        };
        match self.core().repo.delete_override(&schedule, id).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(not_found()),
            // An id that cannot exist (bad characters) is simply not found.
            Err(RepoError::Invalid { .. }) => Err(not_found()),
            Err(other) => Err(other.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usecases::queries::tests::field_of;

    #[test]
    fn override_requests_name_the_offending_field() {
        let ok = OverrideRequest::from_json(
            br#"{"user": "ben", "start": "2026-03-01T09:00:00+01:00", "end": "2026-03-01T18:00:00Z"}"#,
        )
        .unwrap();
        assert_eq!(ok.user, "ben");
        assert_eq!(ok.start.to_rfc3339(), "2026-03-01T08:00:00+00:00");
        let with_bom = OverrideRequest::from_json(
            b"\xEF\xBB\xBF{\"user\": \"ben\", \"start\": \"2026-03-01T09:00:00Z\", \"end\": \"2026-03-01T18:00:00Z\"}",
        )
        .unwrap();
        assert_eq!(
            with_bom.user, "ben",
            "a byte-order mark in front is accepted"
        );
        for (body, field) in [
            (&br#"{"start": "2026-03-01T09:00:00Z", "end": "2026-03-01T18:00:00Z"}"#[..], "user"),
            (br#"{"user": "ben", "start": "9am", "end": "2026-03-01T18:00:00Z"}"#, "start"),
            (br#"{"user": "ben", "start": "2026-03-01T09:00:00Z", "end": 5}"#, "end"),
            (br#"{"user": "ben", "start": "2026-03-01T09:00:00Z", "end": "2026-03-01T18:00:00Z", "note": ""}"#, "note"),
            (b"null", "body"),
            (b"{", "body"),
        ] {
            assert_eq!(field_of(OverrideRequest::from_json(body).unwrap_err()), field);
        }
    }
}
