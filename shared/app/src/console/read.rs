//! The console's reads: a filtered page of incidents, and one incident with everything its
//! page shows. They use the repository listings the JSON API uses; filters other than the
//! status are applied to the listing's pages as they are read.

use super::service::{ConsoleError, ConsoleService};
use crate::ports::{EmailSender, Queue, Timers};
use crate::usecases::UseCaseError;
use crate::usecases::config::LoadedConfig;
use crate::usecases::queries::find_incident;
use klaxon_domain::Instant;
use klaxon_domain::alert::AlertKey;
use klaxon_domain::config::Config;
use klaxon_domain::incident::{Incident, IncidentStatus, Urgency};
use klaxon_domain::timeline::TimelineRecord;
use klaxon_store::repo::{AlertRecord, DeliveryRecord, IncidentAlert, RepoError};
use klaxon_store::{Cursor, Store, StoreError};
use std::sync::Arc;

/// Incidents per console page.
pub const PAGE_SIZE: u32 = 25;
/// How many listing pages one console page reads at most looking for matches.
const MAX_READS: usize = 20;
/// How many linked alerts the incident page loads in full (labels, annotations, links).
const MAX_FULL_ALERTS: usize = 20;
/// How many timeline entries the incident page shows.
const TIMELINE_ENTRIES: u32 = 200;

/// Which incidents the list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncidentQuery {
    /// `open` (default), `triggered`, `acknowledged`, `resolved` or `all`.
    pub status: String,
    /// A severity name, or empty for any.
    pub severity: String,
    /// `high`, `low`, or empty.
    pub urgency: String,
    /// An escalation policy id, or empty.
    pub policy: String,
    /// A team id (the team owning the incident's policy, else its integration), or empty.
    pub team: String,
    /// Created at or after this time (UTC: `2026-03-14`, `2026-03-14T09:00` or RFC 3339), or
    /// empty.
    pub from: String,
    /// Created before this time (as `from`), or empty.
    pub to: String,
    /// Text found in the title, group key or an alert's dedup key (case-insensitive).
    pub search: String,
}

/// The creation-time bounds of an [`IncidentQuery`], parsed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeRange {
    /// Created at or after.
    pub from: Option<Instant>,
    /// Created before.
    pub to: Option<Instant>,
}

/// Reads a console time bound: a date (midnight UTC), a `datetime-local` value (UTC) or an
/// RFC 3339 time with a zone; 400 naming `field` otherwise.
pub fn parse_time_bound(field: &str, text: &str) -> Result<Option<Instant>, UseCaseError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(Some(at.with_timezone(&chrono::Utc)));
    }
    for format in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(at) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return Ok(Some(at.and_utc()));
        }
    }
    if let Ok(day) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(day.and_hms_opt(0, 0, 0).map(|at| at.and_utc()));
    }
    Err(UseCaseError::invalid(
        field,
        format!(
            "{text:?} is not a time like 2026-03-14, 2026-03-14T09:00 (UTC) or 2026-03-14T09:00:00Z"
        ),
    ))
}

impl IncidentQuery {
    /// Checks the status, urgency and time values (400 naming the parameter otherwise) and
    /// returns the time range.
    pub fn validate(&self) -> Result<TimeRange, UseCaseError> {
        if !matches!(
            self.status.as_str(),
            "" | "open" | "triggered" | "acknowledged" | "resolved" | "all"
        ) {
            return Err(UseCaseError::invalid(
                "status",
                "must be open, triggered, acknowledged, resolved or all",
            ));
        }
        if !matches!(self.urgency.as_str(), "" | "high" | "low") {
            return Err(UseCaseError::invalid("urgency", "must be high or low"));
        }
        let range = TimeRange {
            from: parse_time_bound("from", &self.from)?,
            to: parse_time_bound("to", &self.to)?,
        };
        if let (Some(from), Some(to)) = (range.from, range.to)
            && from >= to
        {
            return Err(UseCaseError::invalid("to", "must be later than from"));
        }
        Ok(range)
    }

    fn reads_open_listing(&self) -> bool {
        matches!(
            self.status.as_str(),
            "" | "open" | "triggered" | "acknowledged"
        )
    }

    fn status_matches(&self, status: IncidentStatus) -> bool {
        match self.status.as_str() {
            "triggered" => status == IncidentStatus::Triggered,
            "acknowledged" => status == IncidentStatus::Acknowledged,
            "resolved" => status == IncidentStatus::Resolved,
            "all" => true,
            _ => status != IncidentStatus::Resolved,
        }
    }

    fn matches_without_alerts(
        &self,
        incident: &Incident,
        range: TimeRange,
        config: Option<&Config>,
    ) -> bool {
        let urgency = match incident.urgency() {
            Urgency::High => "high",
            Urgency::Low => "low",
        };
        let policy = incident.escalation().map(|e| e.policy());
        let created = incident.created_at();
        self.status_matches(incident.status())
            && (self.severity.is_empty() || incident.severity().as_str() == self.severity)
            && (self.urgency.is_empty() || urgency == self.urgency)
            && (self.policy.is_empty() || policy.map(|p| p.as_str()) == Some(self.policy.as_str()))
            && (self.team.is_empty()
                || config
                    .and_then(|c| c.team_of(policy, &incident.context().integration))
                    .is_some_and(|team| team.as_str() == self.team))
            && range.from.is_none_or(|from| created >= from)
            && range.to.is_none_or(|to| created < to)
    }

    fn text_matches(&self, text: &str) -> bool {
        text.to_lowercase().contains(&self.search.to_lowercase())
    }
}

/// One page of the incident list.
#[derive(Debug, Clone, Default)]
pub struct IncidentList {
    /// The matching incidents of this page.
    pub incidents: Vec<Incident>,
    /// Where the next page starts, when there may be more.
    pub next_cursor: Option<String>,
}

/// Everything the incident page shows.
#[derive(Debug, Clone)]
pub struct IncidentView {
    /// The incident.
    pub incident: Incident,
    /// Its linked alerts, with the full alert where it could be loaded.
    pub alerts: Vec<(IncidentAlert, Option<AlertRecord>)>,
    /// Every page and notice sent for it.
    pub deliveries: Vec<DeliveryRecord>,
    /// The timeline, oldest first (the first [`TIMELINE_ENTRIES`]).
    pub timeline: Vec<TimelineRecord>,
    /// Its post-mortem, if one was started.
    pub postmortem: Option<klaxon_store::repo::StoredPostmortem>,
}

fn bad_cursor(error: RepoError) -> ConsoleError {
    match error {
        RepoError::Store(StoreError::BadCursor { reason }) => UseCaseError::invalid(
            "cursor",
            format!("is not a cursor from this listing ({reason})"),
        )
        .into(),
        other => other.into(),
    }
}

impl<S: Store, Q: Queue, T: Timers, E: EmailSender> ConsoleService<S, Q, T, E> {
    /// A page of incidents matching `query`, open ones oldest first (the listing the JSON API
    /// uses), otherwise newest first, starting at `cursor`. Every read is a keyset Query on
    /// an index (the time range becomes its sort-key range); the other filters are applied
    /// to what it returns, reading at most [`MAX_READS`] pages per console page.
    pub async fn incidents(
        &self,
        query: &IncidentQuery,
        cursor: Option<&str>,
    ) -> Result<IncidentList, ConsoleError> {
        let range = query.validate()?;
        let config = self.team_config(query).await?;
        let repo = &self.core().repo;
        let numbers = if query.reads_open_listing() || (range.from, range.to) == (None, None) {
            None
        } else {
            match repo.incident_numbers_created(range.from, range.to).await? {
                Some(numbers) => Some(numbers),
                None => return Ok(IncidentList::default()),
            }
        };
        let mut after = cursor.filter(|c| !c.is_empty()).map(Cursor::from_token);
        let mut incidents = Vec::new();
        for _ in 0..MAX_READS {
            // Ask only for what is still missing, so no match is ever skipped over.
            let want = PAGE_SIZE - incidents.len() as u32;
            let listing = if query.reads_open_listing() {
                repo.open_incidents_created(range.from, range.to, after.take(), want)
                    .await
            } else if let Some(numbers) = &numbers {
                repo.recent_incidents_numbered(numbers.clone(), after.take(), want)
                    .await
            } else {
                repo.recent_incidents(after.take(), want).await
            }
            .map_err(bad_cursor)?;
            for stored in listing.items {
                if self
                    .matches(
                        query,
                        range,
                        config.as_deref().map(|l| &l.config),
                        &stored.incident,
                    )
                    .await?
                {
                    incidents.push(stored.incident);
                }
            }
            after = listing.next;
            if after.is_none() || incidents.len() as u32 >= PAGE_SIZE {
                break;
            }
        }
        Ok(IncidentList {
            incidents,
            next_cursor: after.map(|c| c.as_str().to_owned()),
        })
    }

    /// The configuration when the query names a team (which must exist: 400 naming `team`).
    async fn team_config(
        &self,
        query: &IncidentQuery,
    ) -> Result<Option<Arc<LoadedConfig>>, ConsoleError> {
        if query.team.is_empty() {
            return Ok(None);
        }
        let loaded = self.core().config().await?;
        let known = loaded
            .config
            .teams
            .iter()
            .any(|team| team.id.as_str() == query.team);
        if !known {
            return Err(UseCaseError::invalid("team", "is not a team of the configuration").into());
        }
        Ok(Some(loaded))
    }

    async fn matches(
        &self,
        query: &IncidentQuery,
        range: TimeRange,
        config: Option<&Config>,
        incident: &Incident,
    ) -> Result<bool, ConsoleError> {
        if !query.matches_without_alerts(incident, range, config) {
            return Ok(false);
        }
        if query.search.is_empty()
            || query.text_matches(incident.title())
            || query.text_matches(incident.group_key().0.as_str())
        {
            return Ok(true);
        }
        let alerts = self.core().repo.incident_alerts(incident.id()).await?;
        Ok(alerts
            .iter()
            .any(|alert| query.text_matches(alert.dedup_key.as_str())))
    }

    /// One incident (by id or number) with its alerts, deliveries and timeline.
    pub async fn incident(&self, reference: &str) -> Result<IncidentView, ConsoleError> {
        let repo = &self.core().repo;
        let stored = find_incident(self.core(), reference).await?;
        let id = stored.incident.id().clone();
        let mut alerts = Vec::new();
        for (i, link) in repo.incident_alerts(&id).await?.into_iter().enumerate() {
            let full = if i < MAX_FULL_ALERTS {
                let key = AlertKey {
                    integration: link.integration.clone(),
                    dedup_key: link.dedup_key.clone(),
                };
                // The record holds the identity's current occurrence: show it only if it is
                // this one.
                repo.alert(&key)
                    .await?
                    .filter(|record| record.alert_id == link.alert_id)
            } else {
                None
            };
            alerts.push((link, full));
        }
        let deliveries = repo.deliveries(&id).await?;
        let timeline = repo.timeline(&id, None, TIMELINE_ENTRIES).await?.items;
        let postmortem = repo.postmortem(&id).await?;
        Ok(IncidentView {
            incident: stored.incident,
            alerts,
            deliveries,
            timeline,
            postmortem,
        })
    }
}
