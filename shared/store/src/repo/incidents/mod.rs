//! Incidents: the incident item, the group pointer that finds a group's open incident, the
//! link of each alert occurrence to its incident, the incident-number counter, and listings.
//!
//! - The incident item keeps the domain [`Incident`] as JSON text (`incident`) with `version`
//!   for optimistic locking, plus two counters updated only by `ADD`: `alerts_linked` and
//!   `alerts_open`. Linking never takes the optimistic lock (many alerts of one group link at
//!   once); versioned saves set the document and never touch the counters, and every read
//!   gives the domain incident the counters' values.
//! - The group pointer (`GROUP#<group key>`) names the group's current incident and the end of
//!   its window. It is replaced only in the transaction that creates the next incident, on
//!   condition that it is absent, its window ended, or its incident (read before) is
//!   resolved, so concurrent callers create exactly one incident; the others link to it.
//! - The link item (`ALERT_LINK#<alert id>`) exists once per alert occurrence, so an
//!   occurrence is linked at most once, whichever incident a redelivered message would pick.
//! - Sparse indexes follow the incident's state on every write: open incidents on `gsi1`,
//!   resolved ones by resolve time on `gsi1` too (another partition), every incident by
//!   number on `gsi2`, escalations waiting for a timer on `gsi3`.

use super::codec::{from_item, from_json, to_json};
use super::schema::{
    self, ESCALATION_DUE, INCIDENTS, OPEN_INCIDENTS, RESOLVED_INCIDENTS, incident_key,
};
use super::{MAX_TRANSACTION_ITEMS, RepoError, Repository};
use crate::key::s;
use crate::{
    AttributeValue, CancelReason, Condition, Index, Item, Key, Query, ReturnValues, SortCondition,
    Store, StoreError, TransactOp, UpdateAction, attr,
};
use klaxon_domain::Instant;
use klaxon_domain::alert::Severity;
use klaxon_domain::escalation::Effect;
use klaxon_domain::ids::{AlertId, DedupKey, GroupKey, IncidentId, IntegrationName};
use klaxon_domain::incident::{AlertCounts, Incident, IncidentStatus};
use klaxon_domain::timeline::TimelineDraft;
use serde::{Deserialize, Serialize};

mod batch;
mod link;
mod listing;
mod resolve;

pub use batch::{BatchLinked, BatchMember, LINKS_PER_TRANSACTION, OPS_PER_LINK};

/// An incident as stored: the domain incident (with the stored alert counts) and its version.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredIncident {
    /// The incident.
    pub incident: Incident,
    /// Its optimistic-lock version: pass it to [`Repository::save_incident`].
    pub version: u64,
}

/// What [`Repository::find_or_create_incident`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Linked {
    /// The incident the alert belongs to. For a link to an existing incident: as read before
    /// linking with this link counted, or, when the alert raised its severity, as saved then.
    pub incident: StoredIncident,
    /// Whether this call created the incident.
    pub created: bool,
    /// Whether this call linked the alert (false when it was linked before: a redelivery).
    pub newly_linked: bool,
}

/// What [`Repository::alert_resolved`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertResolvedOutcome {
    /// The incident afterwards.
    pub incident: StoredIncident,
    /// What the caller must do (cancel the escalation timer, notify...). Timeline effects are
    /// listed too but already recorded. Empty when the alert was resolved before (redelivery)
    /// and nothing else was left to do.
    pub effects: Vec<Effect>,
}

/// Whether a linked alert occurrence still fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertLinkState {
    /// Firing.
    Open,
    /// Resolved.
    Resolved,
}

impl AlertLinkState {
    fn as_str(self) -> &'static str {
        match self {
            AlertLinkState::Open => "open",
            AlertLinkState::Resolved => "resolved",
        }
    }
}

/// An alert occurrence linked to an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentAlert {
    /// The occurrence.
    pub alert_id: AlertId,
    /// The incident.
    pub incident: IncidentId,
    /// The alert's integration.
    pub integration: IntegrationName,
    /// The alert's dedup key.
    pub dedup_key: DedupKey,
    /// The alert's summary.
    pub summary: String,
    /// The alert's severity.
    pub severity: Severity,
    /// Open or resolved.
    pub state: AlertLinkState,
    /// When it was linked.
    pub linked_at: Instant,
    /// When it resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<Instant>,
}

#[derive(Serialize, Deserialize)]
struct IncidentItem {
    pk: String,
    sk: String,
    id: IncidentId,
    number: u64,
    status: IncidentStatus,
    version: u64,
    alerts_linked: u32,
    alerts_open: u32,
    /// The domain incident as JSON text (its routing context holds senders' labels).
    incident: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi1pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi1sk: Option<String>,
    gsi2pk: String,
    gsi2sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi3pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi3sk: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct GroupPointer {
    pk: String,
    sk: String,
    incident: IncidentId,
    /// Epoch seconds: alerts arriving before it join the incident.
    window_end: i64,
    opened_at: Instant,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct LinkItem {
    pk: String,
    sk: String,
    gsi2pk: String,
    gsi2sk: String,
    alert_id: AlertId,
    incident: IncidentId,
    integration: IntegrationName,
    dedup_key: DedupKey,
    summary: String,
    severity: Severity,
    state: AlertLinkState,
    linked_at: Instant,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resolved_at: Option<Instant>,
}

impl From<LinkItem> for IncidentAlert {
    fn from(item: LinkItem) -> Self {
        IncidentAlert {
            alert_id: item.alert_id,
            incident: item.incident,
            integration: item.integration,
            dedup_key: item.dedup_key,
            summary: item.summary,
            severity: item.severity,
            state: item.state,
            linked_at: item.linked_at,
            resolved_at: item.resolved_at,
        }
    }
}

fn status_str(status: IncidentStatus) -> &'static str {
    match status {
        IncidentStatus::Triggered => "triggered",
        IncidentStatus::Acknowledged => "acknowledged",
        IncidentStatus::Resolved => "resolved",
    }
}

fn number_sk(number: u64) -> String {
    schema::incident_number_sort(number)
}

fn link_key(alert_id: &AlertId) -> Key {
    schema::alert_link_key(alert_id.as_str())
}

fn pointer_key(group_key: &GroupKey) -> Key {
    schema::group_pointer_key(group_key.as_str())
}

fn big(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// The `gsi1` key: the open list while the incident is open, the time-ordered list of
/// resolved incidents once it is resolved (the analytics read a period from it).
fn open_index(incident: &Incident) -> Option<(String, String)> {
    if incident.is_open() {
        return Some((
            OPEN_INCIDENTS.to_owned(),
            schema::open_incidents_sort(incident.created_at(), incident.id().as_str()),
        ));
    }
    incident.resolved().map(|resolution| {
        (
            RESOLVED_INCIDENTS.to_owned(),
            schema::resolved_incidents_sort(resolution.at, incident.id().as_str()),
        )
    })
}

/// The `gsi3` key while the escalation waits for a timer: a tier deadline, a snooze's end or
/// an acknowledgement timeout (the sweep fires whichever is overdue).
fn due_index(incident: &Incident) -> Option<(String, String)> {
    let state = incident.escalation()?;
    let due = state.next_due()?;
    state.armed_timer(incident.id()).map(|_| {
        (
            ESCALATION_DUE.to_owned(),
            schema::escalation_due_sort(due, incident.id().as_str()),
        )
    })
}

fn index_actions(
    actions: &mut Vec<UpdateAction>,
    key: Option<(String, String)>,
    pk: &str,
    sk: &str,
) {
    match key {
        Some((partition, sort)) => {
            actions.push(UpdateAction::set(pk, s(partition)));
            actions.push(UpdateAction::set(sk, s(sort)));
        }
        None => {
            actions.push(UpdateAction::remove(pk));
            actions.push(UpdateAction::remove(sk));
        }
    }
}

/// The actions of a versioned save: the document, the version, the status and the sparse
/// index keys. Never the counters.
fn save_actions(incident: &Incident, version: u64) -> Result<Vec<UpdateAction>, RepoError> {
    let mut actions = vec![
        UpdateAction::set("incident", s(to_json("incident", incident)?)),
        UpdateAction::set(attr::VERSION, big(version)),
        UpdateAction::set("status", s(status_str(incident.status()))),
    ];
    index_actions(
        &mut actions,
        open_index(incident),
        attr::GSI1PK,
        attr::GSI1SK,
    );
    index_actions(
        &mut actions,
        due_index(incident),
        attr::GSI3PK,
        attr::GSI3SK,
    );
    Ok(actions)
}

fn timeline_drafts(effects: &[Effect]) -> Vec<TimelineDraft> {
    effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::Timeline(draft) => Some(draft.clone()),
            _ => None,
        })
        .collect()
}

/// The existing item of the first operation whose condition failed at `position`.
fn failed_at(reasons: &[CancelReason], position: usize) -> Option<Option<&Item>> {
    match reasons.get(position) {
        Some(CancelReason::ConditionFailed { existing }) => Some(existing.as_deref()),
        _ => None,
    }
}

fn decode_incident(item: Item) -> Result<StoredIncident, RepoError> {
    let record: IncidentItem = from_item(item)?;
    let key = incident_key(record.id.as_str());
    let mut incident: Incident = from_json(&key, "incident", record.incident.as_bytes())?;
    if incident.id() != &record.id {
        return Err(RepoError::corrupt(
            &key,
            "incident.id",
            format!("is {}, the item is incident {}", incident.id(), record.id),
        ));
    }
    incident.set_alert_counts(AlertCounts {
        linked: record.alerts_linked,
        open: record.alerts_open,
    });
    Ok(StoredIncident {
        incident,
        version: record.version,
    })
}

impl<S: Store> Repository<S> {
    /// One incident by id.
    pub async fn incident(&self, id: &IncidentId) -> Result<Option<StoredIncident>, RepoError> {
        match self.store.get(&incident_key(id.as_str())).await? {
            Some(item) => decode_incident(item).map(Some),
            None => Ok(None),
        }
    }

    /// One incident by its number (`gsi2` partition `INCIDENTS`, eventually consistent).
    pub async fn incident_by_number(
        &self,
        number: u64,
    ) -> Result<Option<StoredIncident>, RepoError> {
        let query = Query::index(Index::Gsi2, INCIDENTS)
            .sort(SortCondition::Equals(number_sk(number)))
            .limit(1);
        let page = self.store.query(&query).await?;
        page.items
            .into_iter()
            .next()
            .map(decode_incident)
            .transpose()
    }

    /// Saves a changed incident if its version is still `expected_version`, together with the
    /// timeline entries the change produced, in one transaction; returns the new version.
    /// [`RepoError::Conflict`] when someone saved it since it was read (read it again, re-apply
    /// the change), [`RepoError::NotFound`] when it does not exist. The alert counters are
    /// never written here (they change only by `ADD`), and the open and escalation-due indexes
    /// follow the incident's state.
    pub async fn save_incident(
        &self,
        incident: &Incident,
        expected_version: u64,
        timeline: &[TimelineDraft],
    ) -> Result<u64, RepoError> {
        self.save_incident_if(incident, expected_version, timeline, Vec::new(), None)
            .await
    }

    /// [`Repository::save_incident`] with extra update actions and an extra condition.
    async fn save_incident_if(
        &self,
        incident: &Incident,
        expected_version: u64,
        timeline: &[TimelineDraft],
        extra_actions: Vec<UpdateAction>,
        extra_condition: Option<Condition>,
    ) -> Result<u64, RepoError> {
        if timeline.len() + 1 > MAX_TRANSACTION_ITEMS {
            return Err(RepoError::invalid(
                "timeline",
                format!(
                    "{} entries do not fit one transaction (at most {})",
                    timeline.len(),
                    MAX_TRANSACTION_ITEMS - 1
                ),
            ));
        }
        let id = incident.id();
        let key = incident_key(id.as_str());
        let version = expected_version
            .checked_add(1)
            .ok_or_else(|| RepoError::invalid("expected_version", "cannot be incremented"))?;
        let mut actions = save_actions(incident, version)?;
        actions.extend(extra_actions);
        let condition = match extra_condition {
            Some(extra) => Condition::VersionEquals(expected_version).and(extra),
            None => Condition::VersionEquals(expected_version),
        };
        let lost = |existing: Option<&Item>| match existing {
            None => RepoError::not_found("incident", id.to_string()),
            Some(_) => RepoError::conflict("incident", id.to_string()),
        };
        if timeline.is_empty() {
            return match self
                .store
                .update(&key, actions, Some(condition), ReturnValues::None)
                .await
            {
                Ok(_) => Ok(version),
                Err(StoreError::ConditionFailed { existing, .. }) => Err(lost(existing.as_deref())),
                Err(other) => Err(other.into()),
            };
        }
        let mut ops = vec![TransactOp::Update {
            key,
            actions,
            condition: Some(condition),
        }];
        ops.extend(self.timeline_ops(id, timeline)?);
        match self.store.transact(ops).await {
            Ok(()) => Ok(version),
            Err(StoreError::TransactionCancelled { reasons }) => {
                if let Some(existing) = failed_at(&reasons, 0) {
                    return Err(lost(existing));
                }
                if (1..reasons.len()).any(|position| failed_at(&reasons, position).is_some()) {
                    return Err(RepoError::AlreadyExists {
                        entity: "timeline entry",
                        id: id.to_string(),
                    });
                }
                // Cancelled for another reason (expired-item churn, a validation error): say
                // so, rather than blaming a timeline entry that does not exist.
                Err(StoreError::TransactionCancelled { reasons }.into())
            }
            Err(other) => Err(other.into()),
        }
    }
}
