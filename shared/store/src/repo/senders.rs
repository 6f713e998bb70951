//! What the senders' compatibility APIs keep beside the alert itself:
//!
//! - **Opsgenie request statuses** (`SENDER_REQUEST#<request id>`, `STATUS`): what each
//!   Opsgenie call did (action, success, alert id, alias, status text), so the SDKs'
//!   `GET /v2/alerts/requests/{requestId}` can answer. Kept [`REQUEST_RETENTION`] (TTL).
//! - **Alert edits** (in the alert record's partition, `EDITS#<alert id>`): the folded result
//!   of the sender's updates to one occurrence (message, description, priority, tags, notes
//!   counted), written with the `alert.updated` timeline entry when the occurrence is linked
//!   to an incident, so reading the alert back shows the change. Versioned (optimistic lock),
//!   kept [`super::ALERT_RETENTION`] after the last edit (TTL).

use super::codec::{check_key_part, from_item, to_item};
use super::lock::{Attempt, retry_on_conflict};
use super::schema::{self, alert_record_key};
use super::{ALERT_RETENTION, IncidentAlert, RepoError, Repository};
use crate::{CancelReason, Condition, Store, StoreError, TransactOp};
use klaxon_domain::Instant;
use klaxon_domain::alert::{AlertChange, AlertKey};
use klaxon_domain::duration::HumanDuration;
use klaxon_domain::ids::{AlertId, IncidentId, IntegrationName};
use klaxon_domain::timeline::{Actor, EntryKey, TimelineDraft, TimelineEntry};
use serde::{Deserialize, Serialize};

/// How long a request status is kept.
pub const REQUEST_RETENTION: HumanDuration = HumanDuration::from_secs(3 * 24 * 3600);

/// What one sender request did (Opsgenie's request status).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SenderRequest {
    /// The request id Klaxon answered with.
    pub id: String,
    /// The integration that sent it (only that integration may read it back).
    pub integration: IntegrationName,
    /// Opsgenie's name of the action (`Create`, `Acknowledge`, `Close`, `UpdateMessage`…).
    pub action: String,
    /// Whether it did what it asked.
    pub is_success: bool,
    /// What happened, in words (`Created alert`, `Alert does not exist`…).
    pub status: String,
    /// The alert occurrence it concerned, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_id: Option<AlertId>,
    /// The alert's alias, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// When it was handled.
    pub processed_at: Instant,
}

#[derive(Serialize, Deserialize)]
struct RequestItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    request: SenderRequest,
    ttl: i64,
}

/// The folded result of a sender's changes to one alert occurrence.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertEdits {
    /// The summary, if the sender replaced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The description, if the sender set it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The priority, if the sender changed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    /// The whole tag list, once the sender changed tags (`None`: the created alert's tags).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// How many notes were added.
    #[serde(default)]
    pub notes: u64,
    /// When the last change was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Instant>,
}

impl AlertEdits {
    /// The edits with `change` applied; `created_tags` are the tags the alert was created with
    /// (the starting list of the first tag change).
    pub fn apply(mut self, change: &AlertChange, created_tags: &[String], at: Instant) -> Self {
        match change {
            AlertChange::Message { message } => self.message = Some(message.clone()),
            AlertChange::Description { description } => {
                self.description = Some(description.clone());
            }
            AlertChange::Priority { priority, .. } => self.priority = Some(priority.clone()),
            AlertChange::Note { .. } => self.notes += 1,
            AlertChange::TagsAdded { tags } => {
                let mut list = self.tags.take().unwrap_or_else(|| created_tags.to_vec());
                for tag in tags {
                    if !list.contains(tag) {
                        list.push(tag.clone());
                    }
                }
                self.tags = Some(list);
            }
            AlertChange::TagsRemoved { tags } => {
                let mut list = self.tags.take().unwrap_or_else(|| created_tags.to_vec());
                list.retain(|tag| !tags.contains(tag));
                self.tags = Some(list);
            }
        }
        self.updated_at = Some(at);
        self
    }
}

#[derive(Serialize, Deserialize)]
struct EditsItem {
    pk: String,
    sk: String,
    alert_id: AlertId,
    version: u64,
    #[serde(flatten)]
    edits: AlertEdits,
    ttl: i64,
}

/// One change to record with [`Repository::record_alert_change`].
#[derive(Debug, Clone)]
pub struct AlertChangeWrite<'a> {
    /// The alert identity.
    pub key: &'a AlertKey,
    /// Its current occurrence.
    pub alert_id: &'a AlertId,
    /// Its incident, when grouping linked it (the timeline entry goes there).
    pub incident: Option<&'a IncidentId>,
    /// The change.
    pub change: &'a AlertChange,
    /// The tags the alert was created with.
    pub created_tags: &'a [String],
    /// The timeline entry's key (the request id: one entry per request).
    pub entry_key: &'a EntryKey,
    /// Who made it.
    pub actor: Actor,
}

fn expiry(now: Instant, ttl: HumanDuration) -> i64 {
    now.timestamp().saturating_add(ttl.as_secs().max(1))
}

impl<S: Store> Repository<S> {
    /// Records what a sender request did, kept [`REQUEST_RETENTION`]. Request ids are fresh per
    /// request, so an existing record means the id was reused: refused as a conflict.
    pub async fn record_sender_request(&self, request: &SenderRequest) -> Result<(), RepoError> {
        check_key_part("request id", &request.id, 256)?;
        let key = schema::sender_request_key(&request.id);
        let item = RequestItem {
            pk: key.pk,
            sk: key.sk,
            request: request.clone(),
            ttl: expiry(self.now(), REQUEST_RETENTION),
        };
        match self
            .store
            .put(to_item(&item)?, Some(Condition::NotExists))
            .await
        {
            Ok(()) => Ok(()),
            Err(StoreError::ConditionFailed { .. }) => {
                Err(RepoError::conflict("sender request", request.id.clone()))
            }
            Err(other) => Err(other.into()),
        }
    }

    /// A request status by id, if it exists and has not expired.
    pub async fn sender_request(&self, id: &str) -> Result<Option<SenderRequest>, RepoError> {
        if id.is_empty() || id.len() > 256 {
            return Ok(None);
        }
        match self.store.get(&schema::sender_request_key(id)).await? {
            Some(item) => Ok(Some(from_item::<RequestItem>(item)?.request)),
            None => Ok(None),
        }
    }

    /// The link of an alert occurrence to its incident (once grouping made it): finds an
    /// alert by its id.
    pub async fn alert_link(&self, alert_id: &AlertId) -> Result<Option<IncidentAlert>, RepoError> {
        match self
            .store
            .get(&schema::alert_link_key(alert_id.as_str()))
            .await?
        {
            Some(item) => Ok(Some(from_item::<super::incidents::LinkItem>(item)?.into())),
            None => Ok(None),
        }
    }

    /// The sender's edits of occurrence `alert_id` (empty when it made none).
    pub async fn alert_edits(
        &self,
        key: &AlertKey,
        alert_id: &AlertId,
    ) -> Result<AlertEdits, RepoError> {
        Ok(self
            .edits_item(key, alert_id)
            .await?
            .map(|item| item.edits)
            .unwrap_or_default())
    }

    async fn edits_item(
        &self,
        key: &AlertKey,
        alert_id: &AlertId,
    ) -> Result<Option<EditsItem>, RepoError> {
        let record = alert_record_key(key);
        let edits_key = schema::alert_edits_key(&record.pk, alert_id.as_str());
        match self.store.get(&edits_key).await? {
            Some(item) => Ok(Some(from_item(item)?)),
            None => Ok(None),
        }
    }

    /// Applies a sender's change to an occurrence's edits and, when it is linked to an
    /// incident, records the `alert.updated` entry on that incident's timeline in the same
    /// transaction. Returns the edits afterwards.
    pub async fn record_alert_change(
        &self,
        write: AlertChangeWrite<'_>,
    ) -> Result<AlertEdits, RepoError> {
        let write = &write;
        retry_on_conflict("alert edits", write.alert_id.as_str(), move || async move {
            self.try_alert_change(write).await
        })
        .await
    }

    async fn try_alert_change(
        &self,
        write: &AlertChangeWrite<'_>,
    ) -> Result<Attempt<AlertEdits>, RepoError> {
        let now = self.now();
        let current = self.edits_item(write.key, write.alert_id).await?;
        let (version, edits) = match current {
            Some(item) => (item.version, item.edits),
            None => (0, AlertEdits::default()),
        };
        let edits = edits.apply(write.change, write.created_tags, now);
        let record = alert_record_key(write.key);
        let edits_key = schema::alert_edits_key(&record.pk, write.alert_id.as_str());
        let item = EditsItem {
            pk: edits_key.pk.clone(),
            sk: edits_key.sk.clone(),
            alert_id: write.alert_id.clone(),
            version: version + 1,
            edits: edits.clone(),
            ttl: expiry(now, ALERT_RETENTION),
        };
        let condition = if version == 0 {
            Condition::NotExists
        } else {
            Condition::equals("version", crate::key::n(version as i64))
        };
        let mut ops = vec![TransactOp::Put {
            item: to_item(&item)?,
            condition: Some(condition),
        }];
        if let Some(incident) = write.incident {
            let draft = TimelineDraft::new(
                incident.clone(),
                write.entry_key.clone(),
                now,
                write.actor.clone(),
                TimelineEntry::AlertUpdated {
                    alert: write.alert_id.clone(),
                    dedup_key: write.key.dedup_key.clone(),
                    change: write.change.clone(),
                },
            );
            ops.extend(self.timeline_ops(incident, &[draft])?);
        }
        match self.store.transact(ops).await {
            Ok(()) => Ok(Attempt::Done(edits)),
            // Someone else edited the occurrence since it was read: read again.
            Err(StoreError::TransactionCancelled { reasons })
                if matches!(reasons.first(), Some(CancelReason::ConditionFailed { .. })) =>
            {
                Ok(Attempt::Retry)
            }
            Err(other) => Err(other.into()),
        }
    }
}
