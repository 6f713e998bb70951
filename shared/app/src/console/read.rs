//! The console's reads: a filtered page of incidents, and one incident with everything its
//! page shows. They use the repository listings the JSON API uses; filters other than the
//! status are applied to the listing's pages as they are read.

use super::service::{ConsoleError, ConsoleService};
use crate::ports::{EmailSender, Queue, Timers};
use crate::usecases::UseCaseError;
use crate::usecases::queries::find_incident;
use klaxon_domain::alert::AlertKey;
use klaxon_domain::incident::{Incident, IncidentStatus, Urgency};
use klaxon_domain::timeline::TimelineRecord;
use klaxon_store::repo::{AlertRecord, DeliveryRecord, IncidentAlert, RepoError};
use klaxon_store::{Cursor, Store, StoreError};

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
    /// Text found in the title, group key or an alert's dedup key (case-insensitive).
    pub search: String,
}

impl IncidentQuery {
    /// Checks the status and urgency values (400 naming the parameter otherwise).
    pub fn validate(&self) -> Result<(), UseCaseError> {
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
        Ok(())
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

    fn matches_without_alerts(&self, incident: &Incident) -> bool {
        let urgency = match incident.urgency() {
            Urgency::High => "high",
            Urgency::Low => "low",
        };
        let policy = incident.escalation().map(|e| e.policy().as_str());
        self.status_matches(incident.status())
            && (self.severity.is_empty() || incident.severity().as_str() == self.severity)
            && (self.urgency.is_empty() || urgency == self.urgency)
            && (self.policy.is_empty() || policy == Some(self.policy.as_str()))
    }

    fn text_matches(&self, text: &str) -> bool {
        text.to_lowercase().contains(&self.search.to_lowercase())
    }
}

/// One page of the incident list.
#[derive(Debug, Clone)]
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
    /// uses), otherwise newest first, starting at `cursor`.
    pub async fn incidents(
        &self,
        query: &IncidentQuery,
        cursor: Option<&str>,
    ) -> Result<IncidentList, ConsoleError> {
        query.validate()?;
        let repo = &self.core().repo;
        let mut after = cursor.filter(|c| !c.is_empty()).map(Cursor::from_token);
        let mut incidents = Vec::new();
        for _ in 0..MAX_READS {
            // Ask only for what is still missing, so no match is ever skipped over.
            let want = PAGE_SIZE - incidents.len() as u32;
            let listing = if query.reads_open_listing() {
                repo.open_incidents(after.take(), want).await
            } else {
                repo.recent_incidents(after.take(), want).await
            }
            .map_err(bad_cursor)?;
            for stored in listing.items {
                if self.matches(query, &stored.incident).await? {
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

    async fn matches(
        &self,
        query: &IncidentQuery,
        incident: &Incident,
    ) -> Result<bool, ConsoleError> {
        if !query.matches_without_alerts(incident) {
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
        Ok(IncidentView {
            incident: stored.incident,
            alerts,
            deliveries,
            timeline,
        })
    }
}
