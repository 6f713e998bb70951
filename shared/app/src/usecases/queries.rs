//! The `api` function's use cases: incidents and their timelines, who is on call, calendar
//! feeds, schedule overrides, and the configuration (read and upload).
//!
//! Every method answers with plain serialisable structs; the HTTP layer (`http::api`) only
//! extracts parameters, authenticates, and turns these into JSON.

use super::access::{ApiPrincipal, authenticate_api};
use super::{Core, UseCaseError};
use crate::ics::{self, EVENT_CONTEXT_DAYS, RangeError, ScheduleRange};
use chrono::{DateTime, TimeDelta, Utc};
use klaxon_domain::Instant;
use klaxon_domain::config::{Config, ConfigErrors, ConfigFormat, ConfigPath};
use klaxon_domain::ids::{IncidentId, ScheduleId, UserId};
use klaxon_domain::incident::Incident;
use klaxon_domain::schedule::{OnCallSource, Override, Schedule};
use klaxon_domain::timeline::{Actor, TimelineRecord};
use klaxon_store::repo::{IncidentAlert, RepoError, StoredIncident};
use klaxon_store::{Cursor, Store, StoreError};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Page size of listings when the caller sets none.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// The largest page a caller may ask for.
pub const MAX_PAGE_SIZE: u32 = 200;
/// How many timeline entries an incident shows per page when the caller sets no limit.
pub const DEFAULT_TIMELINE_PAGE: u32 = 100;
/// The largest configuration body accepted, in bytes.
pub const MAX_CONFIG_BYTES: usize = 4 * 1024 * 1024;
/// How far back a calendar feed starts when the caller sets no `from`, in days.
pub const ICS_DEFAULT_PAST_DAYS: i64 = 14;
/// How far ahead a calendar feed reaches when the caller sets no `to`, in days.
pub const ICS_DEFAULT_FUTURE_DAYS: i64 = 90;
/// How far ahead the override listing reaches when the caller sets no `to`, in days.
pub const OVERRIDES_DEFAULT_DAYS: i64 = 90;
/// How far ahead the on-call answer looks for the end of the current stretch, in days.
const ON_CALL_HORIZON_DAYS: i64 = 31;

/// Which incidents to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncidentFilter {
    /// Not resolved, oldest first.
    Open,
    /// Every incident, newest first.
    All,
}

impl IncidentFilter {
    /// Parses the `status` parameter: `open` or `all`.
    pub fn parse(text: &str) -> Result<Self, UseCaseError> {
        match text {
            "open" => Ok(Self::Open),
            "all" => Ok(Self::All),
            other => Err(UseCaseError::invalid(
                "status",
                format!("must be \"open\" or \"all\" (got {other:?})"),
            )),
        }
    }
}

/// One page of incidents.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentPage {
    /// The incidents.
    pub incidents: Vec<Incident>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// An incident with its alerts and a page of its timeline.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentDetail {
    /// The incident.
    pub incident: Incident,
    /// Its alert occurrences, in the order they joined.
    pub alerts: Vec<IncidentAlert>,
    /// Its timeline, oldest first, as CloudEvents 1.0 JSON events.
    pub timeline: Vec<TimelineRecord>,
    /// Pass as `timeline_cursor` to get more of the timeline; absent when there is no more.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeline_next_cursor: Option<String>,
}

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

/// The current configuration.
#[derive(Debug, Clone, Serialize)]
pub struct ConfigSnapshot {
    /// Its version (1, 2, …).
    pub version: u64,
    /// SHA-256 of its canonical JSON.
    pub fingerprint: String,
    /// When it was applied.
    pub applied_at: Instant,
    /// Who applied it.
    pub applied_by: Actor,
    /// The configuration in canonical form (defaults written out).
    pub config: Value,
}

/// What changed in one list section of the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SectionChange {
    /// The section's path (`users`, `routing.rules`, …).
    pub section: &'static str,
    /// Entries before.
    pub before: usize,
    /// Entries after.
    pub after: usize,
    /// Ids (or names) added.
    pub added: Vec<String>,
    /// Ids (or names) removed.
    pub removed: Vec<String>,
    /// Ids (or names) present before and after, with different content.
    pub changed: Vec<String>,
}

/// The result of an upload.
#[derive(Debug, Clone, Serialize)]
pub struct ConfigApplied {
    /// The current version after the upload.
    pub version: u64,
    /// Its fingerprint.
    pub fingerprint: String,
    /// True when the upload equals the current version (nothing was written).
    pub unchanged: bool,
    /// The version that was current before, if any.
    pub previous_version: Option<u64>,
    /// Per list section: counts and the ids added, removed and changed.
    pub sections: Vec<SectionChange>,
    /// Other parts that changed (`settings`, `routing.defaults`, …).
    pub other_changes: Vec<&'static str>,
    /// Validation warnings (`path: message`); they do not stop an upload.
    pub warnings: Vec<String>,
}

/// Why an upload was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigUploadError {
    /// The file does not parse or validate: every error, with its path.
    #[error("{0}")]
    Invalid(ConfigErrors),
    /// Anything else (storage).
    #[error(transparent)]
    Other(#[from] UseCaseError),
}

/// The list sections of a configuration and the key naming their entries.
const LIST_SECTIONS: [(&str, &str); 8] = [
    ("users", "id"),
    ("schedules", "id"),
    ("escalation_policies", "id"),
    ("grouping.rules", "id"),
    ("routing.rules", "id"),
    ("maintenance_windows", "id"),
    ("integrations", "name"),
    ("notifications.webhooks", "name"),
];

/// The other parts of a configuration, compared as a whole.
const OTHER_PARTS: [&str; 5] = [
    "grouping.default_window",
    "routing.defaults",
    "notifications.slack",
    "notifications.teams",
    "settings",
];

/// Parses an RFC 3339 instant given in `field`.
pub fn parse_instant(field: &str, text: &str) -> Result<Instant, UseCaseError> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            UseCaseError::invalid(
                field,
                format!(
                    "{text:?} is not an RFC 3339 time with a zone, like 2026-03-14T09:00:00Z ({e})"
                ),
            )
        })
}

/// Checks a page size: default when absent, 1 to `max`.
pub fn page_size(
    field: &str,
    limit: Option<u32>,
    default: u32,
    max: u32,
) -> Result<u32, UseCaseError> {
    match limit {
        None => Ok(default),
        Some(0) => Err(UseCaseError::invalid(field, "must be at least 1")),
        Some(n) if n > max => Err(UseCaseError::invalid(
            field,
            format!("must be at most {max} (got {n})"),
        )),
        Some(n) => Ok(n),
    }
}

/// A bad pagination cursor is the caller's mistake: name the parameter.
fn cursor_error(field: &'static str) -> impl Fn(RepoError) -> UseCaseError {
    move |error| match error {
        RepoError::Store(StoreError::BadCursor { reason }) => UseCaseError::invalid(
            field,
            format!("is not a cursor from this listing ({reason})"),
        ),
        other => other.into(),
    }
}

fn cursor(token: Option<&str>) -> Option<Cursor> {
    token.filter(|t| !t.is_empty()).map(Cursor::from_token)
}

/// Finds an incident by number when `reference` looks like one (1 to 19 digits without a
/// leading zero, like `42`), otherwise by id (generated ids are 32 characters long).
pub async fn find_incident<S: Store>(
    core: &Core<S>,
    reference: &str,
) -> Result<StoredIncident, UseCaseError> {
    let reference = reference.trim();
    let not_found = || UseCaseError::NotFound {
        what: "incident",
        id: reference.to_owned(),
    };
    let number_like = (1..=19).contains(&reference.len())
        && !reference.starts_with('0')
        && reference.bytes().all(|b| b.is_ascii_digit());
    if number_like
        && let Ok(number) = reference.parse::<u64>()
        && let Some(found) = core.repo.incident_by_number(number).await?
    {
        return Ok(found);
    }
    match IncidentId::new(reference) {
        Ok(id) => core.repo.incident(&id).await?.ok_or_else(not_found),
        Err(error) => Err(UseCaseError::invalid(
            "id",
            format!("{reference:?} is neither an incident id nor an incident number: {error}"),
        )),
    }
}

/// The schedule `id` of `config`, or a 404.
fn schedule<'c>(config: &'c Config, id: &str) -> Result<&'c Schedule, UseCaseError> {
    ScheduleId::new(id)
        .ok()
        .and_then(|id| config.schedule(&id))
        .ok_or_else(|| UseCaseError::NotFound {
            what: "schedule",
            id: id.to_owned(),
        })
}

fn range_error(error: RangeError) -> UseCaseError {
    UseCaseError::invalid("to", error.to_string())
}

/// The `api` function's use cases.
pub struct QueryService<S> {
    core: Core<S>,
}

crate::fmt_hidden::opaque_debug!(QueryService<S>);

impl<S: Store> QueryService<S> {
    /// Assembles the service.
    pub fn new(core: Core<S>) -> Self {
        Self { core }
    }

    /// The shared core.
    pub fn core(&self) -> &Core<S> {
        &self.core
    }

    /// Authenticates a caller by API key (see [`authenticate_api`]).
    pub async fn authenticate(&self, key: Option<&str>) -> Result<ApiPrincipal, UseCaseError> {
        authenticate_api(&self.core, key).await
    }

    /// Lists incidents: open ones oldest first, or all newest first, a page at a time.
    pub async fn incidents(
        &self,
        filter: IncidentFilter,
        cursor_token: Option<&str>,
        limit: Option<u32>,
    ) -> Result<IncidentPage, UseCaseError> {
        let limit = page_size("limit", limit, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)?;
        let after = cursor(cursor_token);
        let listing = match filter {
            IncidentFilter::Open => self.core.repo.open_incidents(after, limit).await,
            IncidentFilter::All => self.core.repo.recent_incidents(after, limit).await,
        }
        .map_err(cursor_error("cursor"))?;
        Ok(IncidentPage {
            incidents: listing.items.into_iter().map(|s| s.incident).collect(),
            next_cursor: listing.next.map(|c| c.as_str().to_owned()),
        })
    }

    /// One incident (by id or number) with its alerts and a page of its timeline.
    pub async fn incident(
        &self,
        reference: &str,
        timeline_cursor: Option<&str>,
        timeline_limit: Option<u32>,
    ) -> Result<IncidentDetail, UseCaseError> {
        let limit = page_size(
            "timeline_limit",
            timeline_limit,
            DEFAULT_TIMELINE_PAGE,
            MAX_PAGE_SIZE,
        )?;
        let stored = find_incident(&self.core, reference).await?;
        let id = stored.incident.id().clone();
        let alerts = self.core.repo.incident_alerts(&id).await?;
        let timeline = self
            .core
            .repo
            .timeline(&id, cursor(timeline_cursor), limit)
            .await
            .map_err(cursor_error("timeline_cursor"))?;
        Ok(IncidentDetail {
            incident: stored.incident,
            alerts,
            timeline: timeline.items,
            timeline_next_cursor: timeline.next.map(|c| c.as_str().to_owned()),
        })
    }

    /// Who is on call at `at` (default now): on every schedule, or on `schedule` only.
    pub async fn on_call(
        &self,
        schedule_id: Option<&str>,
        at: Option<Instant>,
    ) -> Result<OnCallReport, UseCaseError> {
        let config = self.core.config().await?;
        let at = at.unwrap_or_else(|| self.core.now());
        let schedules: Vec<&Schedule> = match schedule_id {
            Some(id) => vec![schedule(&config, id)?],
            None => config.schedules.iter().collect(),
        };
        let horizon = at + TimeDelta::days(ON_CALL_HORIZON_DAYS);
        let mut entries = Vec::with_capacity(schedules.len());
        for schedule in schedules {
            let overrides = self.core.repo.overrides(&schedule.id, at, horizon).await?;
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
        let config = self.core.config().await?;
        let schedule = schedule(&config, schedule_id)?;
        let now = self.core.now();
        let from = from.unwrap_or(now - TimeDelta::days(ICS_DEFAULT_PAST_DAYS));
        let to = to.unwrap_or(now + TimeDelta::days(ICS_DEFAULT_FUTURE_DAYS));
        let range = ScheduleRange::new(from, to).map_err(range_error)?;
        let context = TimeDelta::days(EVENT_CONTEXT_DAYS);
        let overrides = self
            .core
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
        let config = self.core.config().await?;
        let schedule = schedule(&config, schedule_id)?;
        let now = self.core.now();
        let from = from.unwrap_or(now);
        let to = to.unwrap_or(from + TimeDelta::days(OVERRIDES_DEFAULT_DAYS));
        ScheduleRange::new(from, to).map_err(range_error)?;
        let overrides = self.core.repo.overrides(&schedule.id, from, to).await?;
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
        let config = self.core.config().await?;
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
            id: self.core.ids.new_id(),
            schedule: schedule.id.clone(),
            user,
            start: request.start,
            end: request.end,
        };
        self.core.repo.create_override(&created, actor).await?;
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
        match self.core.repo.delete_override(&schedule, id).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(not_found()),
            // An id that cannot exist (bad characters) is simply not found.
            Err(RepoError::Invalid { .. }) => Err(not_found()),
            Err(other) => Err(other.into()),
        }
    }

    /// The current configuration, read from the store (not the cache).
    pub async fn current_config(&self) -> Result<ConfigSnapshot, UseCaseError> {
        let stored = self
            .core
            .repo
            .current_config()
            .await?
            .ok_or(UseCaseError::NoConfig)?;
        let config =
            serde_json::from_str(&stored.json).map_err(|e| UseCaseError::BadStoredConfig {
                version: stored.version,
                reason: e.to_string(),
            })?;
        Ok(ConfigSnapshot {
            version: stored.version,
            fingerprint: stored.fingerprint,
            applied_at: stored.applied_at,
            applied_by: stored.applied_by,
            config,
        })
    }

    /// Validates and applies a configuration file (YAML or JSON, see [`detect_format`]).
    /// Every validation error is returned at once; a valid file is stored as a new version
    /// (or reported unchanged) and this process's cached configuration is dropped.
    pub async fn upload_config(
        &self,
        body: &[u8],
        content_type: Option<&str>,
        actor: &Actor,
    ) -> Result<ConfigApplied, ConfigUploadError> {
        let invalid = |message: &str| {
            ConfigUploadError::Invalid(ConfigErrors::single(ConfigPath::root(), message))
        };
        let text = std::str::from_utf8(body).map_err(|_| invalid("the body is not UTF-8 text"))?;
        if text.trim().is_empty() {
            return Err(invalid(
                "the body is empty: send the whole configuration file (an empty file would remove every user, schedule and policy)",
            ));
        }
        let config = match detect_format(content_type, text) {
            ConfigFormat::Yaml => Config::from_yaml(text),
            ConfigFormat::Json => Config::from_json(text),
        }
        .map_err(ConfigUploadError::Invalid)?;
        let internal = |e: serde_json::Error| {
            ConfigUploadError::Other(UseCaseError::invalid("config", e.to_string()))
        };
        let canonical = config.to_canonical_json().map_err(internal)?;
        let fingerprint = config.fingerprint().map_err(internal)?;
        let previous = self
            .core
            .repo
            .current_config()
            .await
            .map_err(UseCaseError::from)?;
        let saved = self
            .core
            .repo
            .save_config(&canonical, &fingerprint, actor)
            .await
            .map_err(UseCaseError::from)?;
        self.core.config.invalidate().await;
        let before = previous
            .as_ref()
            .and_then(|p| serde_json::from_str::<Value>(&p.json).ok())
            .unwrap_or(Value::Null);
        let after = serde_json::from_str::<Value>(&canonical).unwrap_or(Value::Null);
        let (sections, other_changes) = summarize(&before, &after);
        Ok(ConfigApplied {
            version: saved.version,
            fingerprint: saved.fingerprint,
            unchanged: saved.unchanged,
            previous_version: previous.map(|p| p.version),
            sections,
            other_changes,
            warnings: config.warnings().iter().map(ToString::to_string).collect(),
        })
    }
}

/// YAML or JSON: by the content type when it names one (`application/json`, `+json`,
/// `application/yaml`, `text/yaml`, `application/x-yaml`), otherwise by the text (a JSON
/// document starts with `{`; YAML is the default, and JSON is valid YAML anyway).
pub fn detect_format(content_type: Option<&str>, text: &str) -> ConfigFormat {
    let essence = content_type
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if essence == "application/json" || essence.ends_with("+json") {
        return ConfigFormat::Json;
    }
    if essence.contains("yaml") {
        return ConfigFormat::Yaml;
    }
    if text.trim_start().starts_with('{') {
        ConfigFormat::Json
    } else {
        ConfigFormat::Yaml
    }
}

/// The value at a dotted path.
fn at_path<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(value, |v, key| v.get(key))
}

/// Entries of a list section by their id.
fn entries<'v>(value: &'v Value, path: &str, id_key: &str) -> BTreeMap<String, &'v Value> {
    at_path(value, path)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(|item| {
                    let id = item
                        .get(id_key)
                        .and_then(Value::as_str)
                        .unwrap_or("?")
                        .to_owned();
                    (id, item)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Compares two configurations (canonical JSON values; `Null` for none): per list section the
/// ids added, removed and changed, and the other parts that changed. (`PUT /v1/config` answers
/// with it; `klaxon config apply` prints it above its diff.)
pub fn summarize(before: &Value, after: &Value) -> (Vec<SectionChange>, Vec<&'static str>) {
    let sections = LIST_SECTIONS
        .iter()
        .map(|(section, id_key)| {
            let old = entries(before, section, id_key);
            let new = entries(after, section, id_key);
            let ids: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
            let mut change = SectionChange {
                section,
                before: old.len(),
                after: new.len(),
                added: Vec::new(),
                removed: Vec::new(),
                changed: Vec::new(),
            };
            for id in ids {
                match (old.get(id), new.get(id)) {
                    (None, Some(_)) => change.added.push(id.clone()),
                    (Some(_), None) => change.removed.push(id.clone()),
                    (Some(a), Some(b)) if a != b => change.changed.push(id.clone()),
                    _ => {}
                }
            }
            change
        })
        .collect();
    let empty = Value::Object(Map::new());
    let others = OTHER_PARTS
        .iter()
        .copied()
        .filter(|path| {
            let a = at_path(before, path).unwrap_or(&empty);
            let b = at_path(after, path).unwrap_or(&empty);
            a != b
        })
        .collect();
    (sections, others)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(error: UseCaseError) -> String {
        match error {
            UseCaseError::Invalid { field, .. } => field,
            other => panic!("expected an invalid-field error, got {other}"),
        }
    }

    #[test]
    fn the_format_follows_the_content_type_then_the_text() {
        let yaml = "users: []\n";
        let json = "  {\"users\": []}";
        assert_eq!(
            detect_format(Some("application/json"), yaml),
            ConfigFormat::Json
        );
        assert_eq!(
            detect_format(Some("application/vnd.klaxon+json; charset=utf-8"), yaml),
            ConfigFormat::Json
        );
        assert_eq!(
            detect_format(Some("application/yaml"), json),
            ConfigFormat::Yaml
        );
        assert_eq!(detect_format(Some("text/x-yaml"), json), ConfigFormat::Yaml);
        assert_eq!(detect_format(Some("text/plain"), json), ConfigFormat::Json);
        assert_eq!(detect_format(None, yaml), ConfigFormat::Yaml);
        assert_eq!(detect_format(None, json), ConfigFormat::Json);
    }

    #[test]
    fn page_sizes_default_and_stay_within_bounds() {
        assert_eq!(page_size("limit", None, 50, 200).unwrap(), 50);
        assert_eq!(page_size("limit", Some(200), 50, 200).unwrap(), 200);
        assert_eq!(
            field_of(page_size("limit", Some(0), 50, 200).unwrap_err()),
            "limit"
        );
        assert_eq!(
            field_of(page_size("timeline_limit", Some(201), 50, 200).unwrap_err()),
            "timeline_limit"
        );
    }

    #[test]
    fn override_requests_name_the_offending_field() {
        let ok = OverrideRequest::from_json(
            br#"{"user": "ben", "start": "2026-03-01T09:00:00+01:00", "end": "2026-03-01T18:00:00Z"}"#,
        )
        .unwrap();
        assert_eq!(ok.user, "ben");
        assert_eq!(ok.start.to_rfc3339(), "2026-03-01T08:00:00+00:00");
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

    #[test]
    fn the_summary_lists_added_removed_and_changed_entries() {
        let before = serde_json::json!({
            "users": [{"id": "a", "name": "A"}, {"id": "b", "name": "B"}],
            "integrations": [{"name": "prom", "format": "native"}],
            "settings": {"auto_resolve": true},
        });
        let after = serde_json::json!({
            "users": [{"id": "a", "name": "A2"}, {"id": "c", "name": "C"}],
            "integrations": [{"name": "prom", "format": "native"}],
            "settings": {"auto_resolve": false},
        });
        let (sections, others) = summarize(&before, &after);
        let users = sections.iter().find(|s| s.section == "users").unwrap();
        assert_eq!((users.before, users.after), (2, 2));
        assert_eq!(users.added, ["c"]);
        assert_eq!(users.removed, ["b"]);
        assert_eq!(users.changed, ["a"]);
        let integrations = sections
            .iter()
            .find(|s| s.section == "integrations")
            .unwrap();
        assert!(integrations.added.is_empty() && integrations.changed.is_empty());
        assert_eq!(others, ["settings"]);

        let (first, _) = summarize(&Value::Null, &after);
        assert_eq!(
            first.iter().find(|s| s.section == "users").unwrap().added,
            ["a", "c"]
        );
    }
}
