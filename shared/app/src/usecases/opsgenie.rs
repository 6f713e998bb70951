//! The rest of Opsgenie's alert API, on the ingest service: finding an alert by id, alias or
//! tiny id, reading it back, listing, the sender's updates (recorded on the incident timeline)
//! and the request statuses the SDKs poll.
//!
//! Identities: Opsgenie's `alias` is Klaxon's dedup key; its alert `id` is the occurrence's
//! alert id (answered in the request status); its `tinyId` is the number of the incident the
//! occurrence joined. An alert is found by id or tiny id once grouping has linked it (a
//! moment after the create is accepted, as Opsgenie's own processing is asynchronous), by
//! alias at once.

use super::UseCaseError;
use super::ingest::IngestService;
use crate::ports::Queue;
use crate::security::sns::HttpGet;
use klaxon_domain::alert::{AlertChange, AlertKey};
use klaxon_domain::ids::{AlertId, DedupKey, IntegrationName};
use klaxon_domain::ingest::Format;
use klaxon_domain::ingest::opsgenie_api::{
    IdentifierType, ListQuery, QueryTerm, SortField, StatusFilter,
};
use klaxon_domain::timeline::{Actor, EntryKey};
use klaxon_store::Store;
use klaxon_store::repo::{
    AlertChangeWrite, AlertEdits, AlertRecord, AlertState, SenderRequest, StoredIncident,
};

/// Opsgenie's name of the create action in request statuses.
pub const CREATE: &str = "Create";

/// How many of the most recent incidents the alert list looks through.
pub const LIST_SCAN_INCIDENTS: u32 = 100;

/// One alert as the Opsgenie API shows it: the stored occurrence, the sender's edits and the
/// incident it joined.
#[derive(Debug, Clone)]
pub struct OpsgenieAlert {
    /// The stored alert (its current occurrence).
    pub record: AlertRecord,
    /// The sender's changes since it was created.
    pub edits: AlertEdits,
    /// Its incident, once linked.
    pub incident: Option<StoredIncident>,
}

impl OpsgenieAlert {
    /// The message: the sender's last update, else the summary it was created with.
    pub fn message(&self) -> &str {
        self.edits
            .message
            .as_deref()
            .unwrap_or(&self.record.alert.summary)
    }

    /// The description: the sender's last update, else the one it was created with.
    pub fn description(&self) -> Option<&str> {
        self.edits.description.as_deref().or_else(|| {
            self.record
                .alert
                .annotations
                .get("description")
                .map(String::as_str)
        })
    }

    /// The priority: the sender's last update, else the one it was created with (`P3` when
    /// it named none, as in Opsgenie).
    pub fn priority(&self) -> String {
        self.edits.priority.clone().unwrap_or_else(|| {
            self.record
                .alert
                .raw
                .get("priority")
                .and_then(|p| p.as_str())
                .unwrap_or("P3")
                .to_string()
        })
    }

    /// The tags: the created alert's, with the sender's additions and removals applied.
    pub fn tags(&self) -> Vec<String> {
        self.edits
            .tags
            .clone()
            .unwrap_or_else(|| created_tags(&self.record))
    }

    /// Whether the alert is still open (Opsgenie `status: open`).
    pub fn is_open(&self) -> bool {
        self.record.state == AlertState::Open
    }

    /// Whether its incident has been acknowledged (or resolved after an acknowledgement).
    pub fn acknowledged(&self) -> bool {
        self.incident
            .as_ref()
            .is_some_and(|stored| stored.incident.acknowledged().is_some())
    }

    /// The tiny id: the number of its incident.
    pub fn tiny_id(&self) -> Option<u64> {
        self.incident
            .as_ref()
            .map(|stored| stored.incident.number())
    }

    fn matches(&self, term: &QueryTerm) -> bool {
        match term {
            QueryTerm::Status(StatusFilter::Open) => self.is_open(),
            QueryTerm::Status(StatusFilter::Closed) => !self.is_open(),
            QueryTerm::Alias(alias) => self.record.alert.dedup_key.as_str() == alias,
            QueryTerm::Tag(tag) => self.tags().iter().any(|t| t == tag),
            QueryTerm::Priority(priority) => &self.priority() == priority,
            QueryTerm::Text(word) => self.message().to_lowercase().contains(word.as_str()),
        }
    }
}

/// The tags an alert was created with (Opsgenie's `tags`, as sent).
fn created_tags(record: &AlertRecord) -> Vec<String> {
    record
        .alert
        .raw
        .get("tags")
        .and_then(|tags| tags.as_array())
        .map(|tags| {
            tags.iter()
                .filter_map(|tag| tag.as_str().map(|t| t.trim().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// What an accepted change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    /// The occurrence changed.
    pub alert_id: AlertId,
    /// Whether it was on an incident's timeline (false: not linked yet).
    pub on_timeline: bool,
}

impl<S: Store, Q: Queue, H: HttpGet> IngestService<S, Q, H> {
    /// Authenticates an Opsgenie call: the key must belong to an `opsgenie` integration.
    pub async fn opsgenie_integration(
        &self,
        key: Option<&str>,
    ) -> Result<IntegrationName, UseCaseError> {
        Ok(self.authenticate(key, Format::Opsgenie).await?.0.name)
    }

    /// The key of the alert `identifier` names, among `integration`'s alerts; `None` when
    /// there is no such alert (yet).
    pub async fn find_opsgenie_alert(
        &self,
        integration: &IntegrationName,
        identifier: &str,
        kind: IdentifierType,
    ) -> Result<Option<AlertKey>, UseCaseError> {
        let repo = &self.core().repo;
        let key = |dedup_key| AlertKey {
            integration: integration.clone(),
            dedup_key,
        };
        match kind {
            IdentifierType::Alias => Ok(DedupKey::new(identifier).ok().map(key)),
            IdentifierType::Id => {
                let Ok(alert_id) = AlertId::new(identifier) else {
                    return Ok(None);
                };
                Ok(repo
                    .alert_link(&alert_id)
                    .await?
                    .filter(|link| &link.integration == integration)
                    .map(|link| key(link.dedup_key)))
            }
            IdentifierType::Tiny => {
                let Ok(number) = identifier.trim().parse::<u64>() else {
                    return Ok(None);
                };
                let Some(stored) = repo.incident_by_number(number).await? else {
                    return Ok(None);
                };
                let mut links = repo.incident_alerts(stored.incident.id()).await?;
                links.retain(|link| &link.integration == integration);
                // The open alert first, else the first linked.
                let link = links
                    .iter()
                    .find(|l| l.state == klaxon_store::repo::AlertLinkState::Open)
                    .or(links.first());
                Ok(link.map(|link| key(link.dedup_key.clone())))
            }
        }
    }

    /// The alert at `key` as the Opsgenie API shows it.
    pub async fn opsgenie_alert(
        &self,
        key: &AlertKey,
    ) -> Result<Option<OpsgenieAlert>, UseCaseError> {
        let repo = &self.core().repo;
        let Some(record) = repo.alert(key).await? else {
            return Ok(None);
        };
        let edits = repo.alert_edits(key, &record.alert_id).await?;
        let incident = match &record.incident {
            Some(id) => repo.incident(id).await?,
            None => None,
        };
        Ok(Some(OpsgenieAlert {
            record,
            edits,
            incident,
        }))
    }

    /// `integration`'s alerts in the [`LIST_SCAN_INCIDENTS`] most recent incidents that match
    /// `query`, sorted and paged as it asks, with the number that matched.
    pub async fn opsgenie_list(
        &self,
        integration: &IntegrationName,
        query: &ListQuery,
    ) -> Result<(Vec<OpsgenieAlert>, usize), UseCaseError> {
        let repo = &self.core().repo;
        let incidents = repo.recent_incidents(None, LIST_SCAN_INCIDENTS).await?;
        let mut alerts = Vec::new();
        for stored in incidents.items {
            for link in repo.incident_alerts(stored.incident.id()).await? {
                if &link.integration != integration {
                    continue;
                }
                let key = AlertKey {
                    integration: integration.clone(),
                    dedup_key: link.dedup_key,
                };
                // Only the current occurrence of each alias is an Opsgenie alert.
                if let Some(alert) = self.opsgenie_alert(&key).await?
                    && alert.record.alert_id == link.alert_id
                    && query.terms.iter().all(|term| alert.matches(term))
                {
                    alerts.push(alert);
                }
            }
        }
        sort_alerts(&mut alerts, query);
        let total = alerts.len();
        let page = alerts
            .into_iter()
            .skip(query.offset as usize)
            .take(query.limit as usize)
            .collect();
        Ok((page, total))
    }

    /// Applies a sender's change to the alert at `key` (recorded on its incident's timeline
    /// when linked, keyed by `request_id`). `None` when the alert does not exist.
    pub async fn opsgenie_change(
        &self,
        key: &AlertKey,
        change: &AlertChange,
        request_id: &str,
    ) -> Result<Option<Changed>, UseCaseError> {
        let repo = &self.core().repo;
        let Some(record) = repo.alert(key).await? else {
            return Ok(None);
        };
        let entry_key = EntryKey::new(format!("opsgenie-{request_id}"))
            .map_err(|e| UseCaseError::invalid("requestId", e.to_string()))?;
        let tags = created_tags(&record);
        repo.record_alert_change(AlertChangeWrite {
            key,
            alert_id: &record.alert_id,
            incident: record.incident.as_ref(),
            change,
            created_tags: &tags,
            entry_key: &entry_key,
            actor: Actor::integration(key.integration.clone()),
        })
        .await?;
        Ok(Some(Changed {
            alert_id: record.alert_id,
            on_timeline: record.incident.is_some(),
        }))
    }

    /// Records what an Opsgenie call did, for `GET /v2/alerts/requests/{requestId}`.
    pub async fn record_opsgenie_request(
        &self,
        request: SenderRequest,
    ) -> Result<(), UseCaseError> {
        Ok(self.core().repo.record_sender_request(&request).await?)
    }

    /// What request `id` did, if `integration` made it. A create counts as processed once
    /// grouping has linked its alert (from then on the alert is found by its id, as the SDKs
    /// do next): until then it answers `isSuccess: false`, which the SDKs poll again.
    pub async fn opsgenie_request(
        &self,
        integration: &IntegrationName,
        id: &str,
    ) -> Result<Option<SenderRequest>, UseCaseError> {
        let repo = &self.core().repo;
        let Some(mut request) = repo
            .sender_request(id)
            .await?
            .filter(|request| &request.integration == integration)
        else {
            return Ok(None);
        };
        if request.action == CREATE
            && request.is_success
            && let Some(alert_id) = &request.alert_id
            && repo.alert_link(alert_id).await?.is_none()
        {
            request.is_success = false;
            request.status = "Alert is being created".to_string();
        }
        Ok(Some(request))
    }

    /// The current occurrence's id of the alert at `key`, if it exists.
    pub async fn current_alert_id(&self, key: &AlertKey) -> Result<Option<AlertId>, UseCaseError> {
        Ok(self
            .core()
            .repo
            .alert(key)
            .await?
            .map(|record| record.alert_id))
    }
}

fn sort_alerts(alerts: &mut [OpsgenieAlert], query: &ListQuery) {
    alerts.sort_by(|a, b| {
        let order = match query.sort {
            SortField::CreatedAt => a.record.first_seen.cmp(&b.record.first_seen),
            SortField::LastOccurredAt => a.record.last_seen.cmp(&b.record.last_seen),
            SortField::TinyId => a.tiny_id().cmp(&b.tiny_id()),
            SortField::Alias => a
                .record
                .alert
                .dedup_key
                .as_str()
                .cmp(b.record.alert.dedup_key.as_str()),
            SortField::Message => a.message().cmp(b.message()),
            SortField::Count => a.record.count.cmp(&b.record.count),
        };
        if query.ascending {
            order
        } else {
            order.reverse()
        }
    });
}
