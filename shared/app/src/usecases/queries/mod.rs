//! The `api` function's use cases: incidents and their timelines ([`incidents`]), who is on
//! call, calendar feeds and schedule overrides ([`schedules`]). Reading and uploading the
//! configuration is in [`super::config`].
//!
//! Every method answers with plain serialisable structs; the HTTP layer (`http::api`) only
//! extracts parameters, authenticates, and turns these into JSON.

pub mod analytics;
pub mod incidents;
pub mod schedules;

pub use incidents::{IncidentDetail, IncidentFilter, IncidentPage};
pub use schedules::{
    CreatedOverride, OnCallReport, OverrideList, OverrideRequest, ScheduleOnCall, UserRef,
};

use super::access::{ApiPrincipal, authenticate_api};
use super::{Core, UseCaseError};
use crate::ics::RangeError;
use chrono::{DateTime, Utc};
use klaxon_domain::Instant;
use klaxon_domain::config::Config;
use klaxon_domain::ids::{IncidentId, ScheduleId};
use klaxon_domain::schedule::Schedule;
use klaxon_store::repo::{RepoError, StoredIncident};
use klaxon_store::{Cursor, Store, StoreError};

/// Page size of listings when the caller sets none.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// The largest page a caller may ask for.
pub const MAX_PAGE_SIZE: u32 = 200;
/// How many timeline entries an incident shows per page when the caller sets no limit.
pub const DEFAULT_TIMELINE_PAGE: u32 = 100;
/// How far back a calendar feed starts when the caller sets no `from`, in days.
pub const ICS_DEFAULT_PAST_DAYS: i64 = 14;
/// How far ahead a calendar feed reaches when the caller sets no `to`, in days.
pub const ICS_DEFAULT_FUTURE_DAYS: i64 = 90;
/// How far ahead the override listing reaches when the caller sets no `to`, in days.
pub const OVERRIDES_DEFAULT_DAYS: i64 = 90;
/// How far ahead the on-call answer looks for the end of the current stretch, in days.
pub(crate) const ON_CALL_HORIZON_DAYS: i64 = 31;

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
pub(crate) fn cursor_error(field: &'static str) -> impl Fn(RepoError) -> UseCaseError {
    move |error| match error {
        RepoError::Store(StoreError::BadCursor { reason }) => UseCaseError::invalid(
            field,
            format!("is not a cursor from this listing ({reason})"),
        ),
        other => other.into(),
    }
}

pub(crate) fn cursor(token: Option<&str>) -> Option<Cursor> {
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
pub(crate) fn schedule<'c>(config: &'c Config, id: &str) -> Result<&'c Schedule, UseCaseError> {
    ScheduleId::new(id)
        .ok()
        .and_then(|id| config.schedule(&id))
        .ok_or_else(|| UseCaseError::NotFound {
            what: "schedule",
            id: id.to_owned(),
        })
}

pub(crate) fn range_error(error: RangeError) -> UseCaseError {
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
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn field_of(error: UseCaseError) -> String {
        match error {
            UseCaseError::Invalid { field, .. } => field,
            other => panic!("expected an invalid-field error, got {other}"),
        }
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
}
