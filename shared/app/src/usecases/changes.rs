//! PagerDuty Change Events on the ingest service: authenticated by the body's `routing_key`
//! like an alert event, recorded for analytics and on the timeline of every open incident
//! with an alert from the same integration. A change never pages.

use super::UseCaseError;
use super::ingest::{IngestFailure, IngestService};
use crate::ports::Queue;
use crate::security::sns::HttpGet;
use klaxon_domain::ids::{IncidentId, IntegrationName};
use klaxon_domain::ingest::Format;
use klaxon_domain::ingest::pagerduty_change;
use klaxon_store::Store;
use klaxon_store::repo::{ChangeRecord, change_details};

/// The most open incidents one change is recorded on.
pub const MAX_CHANGE_INCIDENTS: usize = 100;

impl<S: Store, Q: Queue, H: HttpGet> IngestService<S, Q, H> {
    /// Parses, authenticates and records a change event (`POST /v2/change/enqueue`).
    pub async fn change_event(&self, body: &[u8]) -> Result<ChangeRecord, IngestFailure> {
        let request = pagerduty_change::parse_request(body)?;
        let (integration, _) = self
            .authenticate(Some(&request.routing_key), Format::Pagerduty)
            .await?;
        let incidents = self.open_incidents_of(&integration.name).await?;
        let now = self.core().now();
        let record = ChangeRecord {
            id: self.core().ids.new_id(),
            integration: integration.name,
            summary: request.summary,
            source: request.source,
            happened_at: request.timestamp.unwrap_or(now),
            received_at: now,
            details: change_details(&request.details, &request.links)
                .map_err(UseCaseError::from)?,
            incidents,
        };
        self.core()
            .repo
            .record_change(&record)
            .await
            .map_err(UseCaseError::from)?;
        Ok(record)
    }

    /// The open incidents (oldest first, at most [`MAX_CHANGE_INCIDENTS`]) with at least one
    /// alert from `integration`.
    async fn open_incidents_of(
        &self,
        integration: &IntegrationName,
    ) -> Result<Vec<IncidentId>, UseCaseError> {
        let repo = &self.core().repo;
        let mut found = Vec::new();
        let mut cursor = None;
        loop {
            let page = repo.open_incidents(cursor, 100).await?;
            for stored in page.items {
                let id = stored.incident.id();
                let alerts = repo.incident_alerts(id).await?;
                if alerts.iter().any(|link| &link.integration == integration) {
                    found.push(id.clone());
                    if found.len() == MAX_CHANGE_INCIDENTS {
                        return Ok(found);
                    }
                }
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(found),
            }
        }
    }
}
