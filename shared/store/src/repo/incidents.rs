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
//!   every incident by number on `gsi2`, escalations waiting for a timer on `gsi3`.

use super::codec::{from_item, from_json, time_value, to_item, to_json};
use super::schema::{self, ESCALATION_DUE, INCIDENTS, OPEN_INCIDENTS, incident_key, sort_time};
use super::{Listing, MAX_ATTEMPTS, MAX_TRANSACTION_ITEMS, RepoError, Repository, check_limit};
use crate::key::{n, s};
use crate::{
    AttributeValue, CancelReason, Condition, Cursor, Index, Item, Key, Query, ReturnValues,
    SortCondition, Store, StoreError, TransactOp, UpdateAction, attr,
};
use klaxon_domain::Instant;
use klaxon_domain::alert::{Alert, AlertStatus, Severity};
use klaxon_domain::duration::HumanDuration;
use klaxon_domain::escalation::{Effect, EscalationStatus};
use klaxon_domain::ids::{AlertId, DedupKey, GroupKey, IncidentId, IntegrationName};
use klaxon_domain::incident::{AlertCounts, AutoResolve, Incident, IncidentError, IncidentStatus};
use klaxon_domain::timeline::{Actor, TimelineDraft, TimelineEntry};
use serde::{Deserialize, Serialize};

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
struct LinkItem {
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

/// The `gsi1` key while the incident is open.
fn open_index(incident: &Incident) -> Option<(String, String)> {
    incident.is_open().then(|| {
        (
            OPEN_INCIDENTS.to_owned(),
            schema::open_incidents_sort(incident.created_at(), incident.id().as_str()),
        )
    })
}

/// The `gsi3` key while the escalation waits for a timer.
fn due_index(incident: &Incident) -> Option<(String, String)> {
    let state = incident.escalation()?;
    let due = state.next_due()?;
    (state.status() == EscalationStatus::Active).then(|| {
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

/// Whether a link attempt ended, or must start over from the group pointer.
enum LinkAttempt {
    Done(Box<Linked>),
    Retry,
}

impl<S: Store> Repository<S> {
    /// The next incident number (atomic counter). A creation that loses the race for its group
    /// has taken a number it does not use, so numbers can have gaps.
    async fn next_incident_number(&self) -> Result<u64, RepoError> {
        let key = schema::incident_number_counter_key();
        let item = self
            .store
            .update(
                &key,
                vec![UpdateAction::add("value", 1)],
                None,
                ReturnValues::AllNew,
            )
            .await?
            .ok_or_else(|| RepoError::corrupt(&key, "*", "the update returned no item"))?;
        match item.get("value") {
            Some(AttributeValue::N(text)) => text
                .parse()
                .map_err(|_| RepoError::corrupt(&key, "value", "not a whole number")),
            _ => Err(RepoError::corrupt(&key, "value", "missing or not a number")),
        }
    }

    /// Finds the open incident of `group_key` within its window and links the alert occurrence
    /// to it, or creates the incident `new_id` (opened by this alert) when the group has none:
    /// no pointer, its window (`window` from the incident's opening) ended, or its incident is
    /// resolved. Concurrent callers for one group make exactly one incident and link every
    /// occurrence once; a repeated call for a linked occurrence changes nothing
    /// (`newly_linked: false`).
    pub async fn find_or_create_incident(
        &self,
        group_key: &GroupKey,
        window: HumanDuration,
        alert_id: &AlertId,
        alert: &Alert,
        new_id: &IncidentId,
    ) -> Result<Linked, RepoError> {
        super::codec::check_key_part("group_key", group_key.as_str(), 512)?;
        let pointer_key = pointer_key(group_key);
        // A pointer learned from a cancelled transaction saves reading it again.
        let mut known: Option<Option<GroupPointer>> = None;
        for _ in 0..MAX_ATTEMPTS {
            let now = self.now();
            let pointer = match known.take() {
                Some(pointer) => pointer,
                None => match self.store.get(&pointer_key).await? {
                    Some(item) => Some(from_item::<GroupPointer>(item)?),
                    None => None,
                },
            };
            let mut replace_if = Condition::NotExists;
            if let Some(pointer) = &pointer {
                if pointer.window_end > now.timestamp() {
                    match self.incident(&pointer.incident).await? {
                        Some(stored) if stored.incident.is_open() => {
                            match self.link_to(stored, alert_id, alert).await? {
                                LinkAttempt::Done(linked) => return Ok(*linked),
                                LinkAttempt::Retry => continue,
                            }
                        }
                        // Resolved (or gone): resolved never reopens, so the pointer may be
                        // replaced as long as it still names that incident.
                        _ => {
                            replace_if = Condition::equals("incident", s(pointer.incident.as_str()))
                        }
                    }
                } else {
                    replace_if = Condition::less_than("window_end", now.timestamp() + 1);
                }
            }
            if alert.status != AlertStatus::Firing {
                // Checked before a number is taken (Incident::open refuses it too).
                return Err(IncidentError::FirstAlertNotFiring.into());
            }
            let number = self.next_incident_number().await?;
            let (incident, drafts) = Incident::open(
                new_id.clone(),
                number,
                group_key.clone(),
                alert_id.clone(),
                alert,
                now,
            )?;
            let window_end = now
                .checked_add_signed(window.to_delta())
                .map_or(i64::MAX, |end| end.timestamp());
            let mut ops = vec![
                // First, so its reason is reported even by stores that stop at the first
                // failed condition.
                self.link_put(&incident, alert_id, alert, now)?,
                TransactOp::Put {
                    item: to_item(&GroupPointer {
                        pk: pointer_key.pk.clone(),
                        sk: pointer_key.sk.clone(),
                        incident: new_id.clone(),
                        window_end,
                        opened_at: now,
                    })?,
                    condition: Some(replace_if),
                },
                TransactOp::Put {
                    item: self.incident_item(&incident)?,
                    condition: Some(Condition::NotExists),
                },
            ];
            ops.extend(self.timeline_ops(new_id, &drafts)?);
            match self.store.transact(ops).await {
                Ok(()) => {
                    return Ok(Linked {
                        incident: StoredIncident {
                            incident,
                            version: 1,
                        },
                        created: true,
                        newly_linked: true,
                    });
                }
                Err(StoreError::TransactionCancelled { reasons }) => {
                    if let Some(existing) = failed_at(&reasons, 0) {
                        return self.already_linked(alert_id, existing).await;
                    }
                    if let Some(existing) = failed_at(&reasons, 1) {
                        // Another caller created the group's incident: link to it.
                        known = Some(existing.cloned().map(from_item).transpose()?);
                        continue;
                    }
                    if failed_at(&reasons, 2).is_some() {
                        return Err(RepoError::AlreadyExists {
                            entity: "incident",
                            id: new_id.to_string(),
                        });
                    }
                    return Err(StoreError::TransactionCancelled { reasons }.into());
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(RepoError::conflict("group", group_key.to_string()))
    }

    /// The new incident's item: version 1, counters from the domain's counts.
    fn incident_item(&self, incident: &Incident) -> Result<Item, RepoError> {
        let key = incident_key(incident.id().as_str());
        let open = open_index(incident);
        let due = due_index(incident);
        let counts = incident.alerts();
        to_item(&IncidentItem {
            pk: key.pk,
            sk: key.sk,
            id: incident.id().clone(),
            number: incident.number(),
            status: incident.status(),
            version: 1,
            alerts_linked: counts.linked,
            alerts_open: counts.open,
            incident: to_json("incident", incident)?,
            gsi1pk: open.as_ref().map(|(pk, _)| pk.clone()),
            gsi1sk: open.map(|(_, sk)| sk),
            gsi2pk: INCIDENTS.to_owned(),
            gsi2sk: number_sk(incident.number()),
            gsi3pk: due.as_ref().map(|(pk, _)| pk.clone()),
            gsi3sk: due.map(|(_, sk)| sk),
        })
    }

    /// The put of a new link item (condition: the occurrence is not linked yet).
    fn link_put(
        &self,
        incident: &Incident,
        alert_id: &AlertId,
        alert: &Alert,
        now: Instant,
    ) -> Result<TransactOp, RepoError> {
        let key = link_key(alert_id);
        let state = match alert.status {
            AlertStatus::Firing => AlertLinkState::Open,
            AlertStatus::Resolved => AlertLinkState::Resolved,
        };
        let item = LinkItem {
            pk: key.pk,
            sk: key.sk,
            gsi2pk: schema::incident_alerts_partition(incident.id().as_str()),
            gsi2sk: schema::incident_alerts_sort(now, alert_id.as_str()),
            alert_id: alert_id.clone(),
            incident: incident.id().clone(),
            integration: alert.integration.clone(),
            dedup_key: alert.dedup_key.clone(),
            summary: alert.summary.clone(),
            severity: alert.severity,
            state,
            linked_at: now,
            resolved_at: (state == AlertLinkState::Resolved).then_some(now),
        };
        Ok(TransactOp::Put {
            item: to_item(&item)?,
            condition: Some(Condition::NotExists),
        })
    }

    /// The outcome for an occurrence whose link already exists (`existing`, when the store
    /// returned it).
    async fn already_linked(
        &self,
        alert_id: &AlertId,
        existing: Option<&Item>,
    ) -> Result<Linked, RepoError> {
        let link: LinkItem = match existing {
            Some(item) => from_item(item.clone())?,
            None => match self.store.get(&link_key(alert_id)).await? {
                Some(item) => from_item(item)?,
                None => return Err(RepoError::conflict("alert link", alert_id.to_string())),
            },
        };
        let stored = self
            .incident(&link.incident)
            .await?
            .ok_or_else(|| RepoError::not_found("incident", link.incident.to_string()))?;
        Ok(Linked {
            incident: stored,
            created: false,
            newly_linked: false,
        })
    }

    /// Links an occurrence to an open incident without taking its optimistic lock: the link
    /// item, `ADD` on the counters (condition: the incident exists and is not resolved) and the
    /// `alert.linked` entry, in one transaction. A more severe alert then raises the incident's
    /// severity with a versioned save (at most three times per incident).
    async fn link_to(
        &self,
        stored: StoredIncident,
        alert_id: &AlertId,
        alert: &Alert,
    ) -> Result<LinkAttempt, RepoError> {
        let now = self.now();
        let id = stored.incident.id().clone();
        let mut preview = stored.incident.clone();
        let drafts = preview.link_alert(alert_id, alert, now)?;
        let linked_draft: Vec<TimelineDraft> = drafts
            .iter()
            .filter(|d| matches!(d.entry, TimelineEntry::AlertLinked { .. }))
            .cloned()
            .collect();
        let raises_severity = preview.severity() > stored.incident.severity();
        let firing = alert.status == AlertStatus::Firing;
        let mut counters = vec![UpdateAction::add("alerts_linked", 1)];
        if firing {
            counters.push(UpdateAction::add("alerts_open", 1));
        }
        let mut ops = vec![
            self.link_put(&stored.incident, alert_id, alert, now)?,
            TransactOp::Update {
                key: incident_key(id.as_str()),
                actions: counters,
                condition: Some(Condition::Exists.and(Condition::not_equals(
                    "status",
                    s(status_str(IncidentStatus::Resolved)),
                ))),
            },
        ];
        ops.extend(self.timeline_ops(&id, &linked_draft)?);
        match self.store.transact(ops).await {
            Ok(()) => {}
            Err(StoreError::TransactionCancelled { reasons }) => {
                if let Some(existing) = failed_at(&reasons, 0) {
                    let linked = self.already_linked(alert_id, existing).await?;
                    return Ok(LinkAttempt::Done(Box::new(linked)));
                }
                if failed_at(&reasons, 1).is_some() {
                    // Resolved (or gone) since it was read: start over from the pointer.
                    return Ok(LinkAttempt::Retry);
                }
                return Err(StoreError::TransactionCancelled { reasons }.into());
            }
            Err(other) => return Err(other.into()),
        }
        let incident = if raises_severity {
            // Read after the link: its counts include it.
            self.raise_severity(&id, alert_id, alert).await?
        } else {
            let mut incident = stored;
            let counts = incident.incident.alerts();
            incident.incident.set_alert_counts(AlertCounts {
                linked: counts.linked.saturating_add(1),
                open: counts.open.saturating_add(u32::from(firing)),
            });
            incident
        };
        Ok(LinkAttempt::Done(Box::new(Linked {
            incident,
            created: false,
            newly_linked: true,
        })))
    }

    /// Raises an open incident's severity to a more severe linked alert's, with its
    /// `incident.severity_changed` entry (versioned save, retried on conflict). Returns the
    /// incident as read or saved, counts as read.
    async fn raise_severity(
        &self,
        id: &IncidentId,
        alert_id: &AlertId,
        alert: &Alert,
    ) -> Result<StoredIncident, RepoError> {
        for _ in 0..MAX_ATTEMPTS {
            let stored = self
                .incident(id)
                .await?
                .ok_or_else(|| RepoError::not_found("incident", id.to_string()))?;
            if !stored.incident.is_open() || alert.severity <= stored.incident.severity() {
                return Ok(stored);
            }
            let mut next = stored.incident.clone();
            let drafts: Vec<TimelineDraft> = next
                .link_alert(alert_id, alert, self.now())?
                .into_iter()
                .filter(|d| matches!(d.entry, TimelineEntry::IncidentSeverityChanged { .. }))
                .collect();
            next.set_alert_counts(stored.incident.alerts());
            match self.save_incident(&next, stored.version, &drafts).await {
                Ok(version) => {
                    return Ok(StoredIncident {
                        incident: next,
                        version,
                    });
                }
                Err(RepoError::Conflict { .. }) => continue,
                Err(other) => return Err(other),
            }
        }
        Err(RepoError::conflict("incident", id.to_string()))
    }

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

    /// A linked alert occurrence resolved: its link is marked resolved (condition: still open)
    /// and the incident's open counter drops by one, with the `alert.resolved` entry, in one
    /// transaction. When that leaves no open alert and auto-resolve is on, the incident
    /// resolves too: in the same transaction when the incident read beforehand shows this was
    /// its last open alert (conditioned on its version and that count), otherwise by a
    /// versioned save conditioned on the counter being zero (retried on conflict; an alert
    /// linking in between keeps the incident open). A redelivery changes nothing more, but
    /// still completes an auto-resolve a crash interrupted.
    pub async fn alert_resolved(
        &self,
        incident_id: &IncidentId,
        alert_id: &AlertId,
        actor: Actor,
        auto_resolve: AutoResolve,
        at: Instant,
    ) -> Result<AlertResolvedOutcome, RepoError> {
        let link = link_key(alert_id);
        for _ in 0..MAX_ATTEMPTS {
            let stored = self
                .incident(incident_id)
                .await?
                .ok_or_else(|| RepoError::not_found("incident", incident_id.to_string()))?;
            let mut next = stored.incident.clone();
            let effects = match next.alert_resolved(alert_id, actor.clone(), auto_resolve, at) {
                Ok(effects) => effects,
                // The counter shows no open alert: only a redelivery gets here.
                Err(IncidentError::NoOpenAlerts { .. }) => {
                    return self
                        .link_already_resolved(incident_id, alert_id, None, actor, auto_resolve, at)
                        .await;
                }
                Err(other) => return Err(other.into()),
            };
            let link_update = TransactOp::Update {
                key: link.clone(),
                actions: vec![
                    UpdateAction::set("state", s(AlertLinkState::Resolved.as_str())),
                    UpdateAction::set("resolved_at", time_value(at)),
                ],
                condition: Some(
                    Condition::equals("state", s(AlertLinkState::Open.as_str()))
                        .and(Condition::equals("incident", s(incident_id.as_str()))),
                ),
            };
            let resolves_now = stored.incident.is_open() && !next.is_open();
            let incident_update = if resolves_now {
                let mut actions = save_actions(&next, stored.version + 1)?;
                actions.push(UpdateAction::add("alerts_open", -1));
                TransactOp::Update {
                    key: incident_key(incident_id.as_str()),
                    actions,
                    condition: Some(Condition::VersionEquals(stored.version).and(
                        Condition::equals(
                            "alerts_open",
                            n(i64::from(stored.incident.alerts().open)),
                        ),
                    )),
                }
            } else {
                TransactOp::Update {
                    key: incident_key(incident_id.as_str()),
                    actions: vec![UpdateAction::add("alerts_open", -1)],
                    condition: Some(Condition::Exists),
                }
            };
            let drafts = timeline_drafts(&effects);
            let mut ops = vec![link_update, incident_update];
            ops.extend(self.timeline_ops(incident_id, &drafts)?);
            if ops.len() > MAX_TRANSACTION_ITEMS {
                return Err(RepoError::invalid(
                    "timeline",
                    "too many entries for one transaction",
                ));
            }
            match self.store.transact(ops).await {
                Ok(()) if resolves_now => {
                    return Ok(AlertResolvedOutcome {
                        incident: StoredIncident {
                            incident: next,
                            version: stored.version + 1,
                        },
                        effects,
                    });
                }
                // `next` carries the decremented count, as the domain computed it.
                Ok(()) if auto_resolve == AutoResolve::Never || !stored.incident.is_open() => {
                    return Ok(AlertResolvedOutcome {
                        incident: StoredIncident {
                            incident: next,
                            version: stored.version,
                        },
                        effects,
                    });
                }
                Ok(()) => {
                    // A concurrent resolve may have taken the counter to zero unseen.
                    let (incident, more) = self
                        .finish_auto_resolve(incident_id, actor, auto_resolve, at)
                        .await?;
                    let mut effects = effects;
                    effects.extend(more);
                    return Ok(AlertResolvedOutcome { incident, effects });
                }
                Err(StoreError::TransactionCancelled { reasons }) => {
                    if let Some(existing) = failed_at(&reasons, 0) {
                        return self
                            .link_already_resolved(
                                incident_id,
                                alert_id,
                                Some(existing),
                                actor,
                                auto_resolve,
                                at,
                            )
                            .await;
                    }
                    if failed_at(&reasons, 1).is_some() {
                        continue; // The incident changed since it was read.
                    }
                    return Err(StoreError::TransactionCancelled { reasons }.into());
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(RepoError::conflict("incident", incident_id.to_string()))
    }

    /// The link was not open for this incident: a redelivery (resolved link: finish a pending
    /// auto-resolve, nothing else) or a wrong pairing ([`RepoError::NotFound`]).
    async fn link_already_resolved(
        &self,
        incident_id: &IncidentId,
        alert_id: &AlertId,
        existing: Option<Option<&Item>>,
        actor: Actor,
        auto_resolve: AutoResolve,
        at: Instant,
    ) -> Result<AlertResolvedOutcome, RepoError> {
        let item = match existing {
            Some(item) => item.cloned(),
            None => self.store.get(&link_key(alert_id)).await?,
        };
        let link: Option<LinkItem> = item.map(from_item).transpose()?;
        match link {
            Some(link)
                if &link.incident == incident_id && link.state == AlertLinkState::Resolved =>
            {
                let (incident, effects) = self
                    .finish_auto_resolve(incident_id, actor, auto_resolve, at)
                    .await?;
                Ok(AlertResolvedOutcome { incident, effects })
            }
            Some(link) if &link.incident == incident_id => Err(RepoError::corrupt(
                &incident_key(incident_id.as_str()),
                "alerts_open",
                format!("is 0 while alert {alert_id} is linked and open"),
            )),
            _ => Err(RepoError::not_found(
                "alert link",
                format!("{alert_id} on incident {incident_id}"),
            )),
        }
    }

    /// Resolves the incident if auto-resolve is on, it is open and its open counter is zero
    /// (versioned save conditioned on the counter; retried on conflict).
    async fn finish_auto_resolve(
        &self,
        incident_id: &IncidentId,
        actor: Actor,
        auto_resolve: AutoResolve,
        at: Instant,
    ) -> Result<(StoredIncident, Vec<Effect>), RepoError> {
        for _ in 0..MAX_ATTEMPTS {
            let stored = self
                .incident(incident_id)
                .await?
                .ok_or_else(|| RepoError::not_found("incident", incident_id.to_string()))?;
            if auto_resolve != AutoResolve::WhenAllAlertsResolve
                || !stored.incident.is_open()
                || stored.incident.alerts().open > 0
            {
                return Ok((stored, Vec::new()));
            }
            let mut next = stored.incident.clone();
            let effects = next.resolve_when_no_alert_is_open(actor.clone(), at)?;
            let drafts = timeline_drafts(&effects);
            match self
                .save_incident_if(
                    &next,
                    stored.version,
                    &drafts,
                    Vec::new(),
                    Some(Condition::equals("alerts_open", n(0))),
                )
                .await
            {
                Ok(version) => {
                    return Ok((
                        StoredIncident {
                            incident: next,
                            version,
                        },
                        effects,
                    ));
                }
                Err(RepoError::Conflict { .. }) => continue,
                Err(other) => return Err(other),
            }
        }
        Err(RepoError::conflict("incident", incident_id.to_string()))
    }

    /// Incidents not resolved, oldest first (`gsi1` partition `OPEN_INCIDENTS`).
    pub async fn open_incidents(
        &self,
        cursor: Option<Cursor>,
        limit: u32,
    ) -> Result<Listing<StoredIncident>, RepoError> {
        let query = Query::index(Index::Gsi1, OPEN_INCIDENTS)
            .limit(check_limit(limit)?)
            .after(cursor);
        self.incident_listing(query).await
    }

    /// Every incident, newest (highest number) first (`gsi2` partition `INCIDENTS`).
    pub async fn recent_incidents(
        &self,
        cursor: Option<Cursor>,
        limit: u32,
    ) -> Result<Listing<StoredIncident>, RepoError> {
        let query = Query::index(Index::Gsi2, INCIDENTS)
            .descending()
            .limit(check_limit(limit)?)
            .after(cursor);
        self.incident_listing(query).await
    }

    async fn incident_listing(&self, query: Query) -> Result<Listing<StoredIncident>, RepoError> {
        let page = self.store.query(&query).await?;
        let items = page
            .items
            .into_iter()
            .map(decode_incident)
            .collect::<Result<_, _>>()?;
        Ok(Listing {
            items,
            next: page.next,
        })
    }

    /// The alert occurrences linked to an incident, in the order they were linked (`gsi2`
    /// partition `INCIDENT_ALERTS#<id>`).
    pub async fn incident_alerts(&self, id: &IncidentId) -> Result<Vec<IncidentAlert>, RepoError> {
        let page = self
            .store
            .query(&Query::index(
                Index::Gsi2,
                schema::incident_alerts_partition(id.as_str()),
            ))
            .await?;
        page.items
            .into_iter()
            .map(|item| from_item::<LinkItem>(item).map(IncidentAlert::from))
            .collect()
    }

    /// Escalations whose timer is due at or before `due_by`, earliest first, with their due
    /// time (`gsi3` partition `ESCALATION_DUE`): the recovery sweep's work list.
    pub async fn due_escalations(
        &self,
        due_by: Instant,
        limit: u32,
    ) -> Result<Vec<(IncidentId, Instant)>, RepoError> {
        // Sort keys are `<due>#<id>`; '$' sorts right after '#', so this bound includes `due_by`.
        let query = Query::index(Index::Gsi3, ESCALATION_DUE)
            .sort(SortCondition::LessThan(format!("{}$", sort_time(due_by))))
            .limit(check_limit(limit)?);
        let page = self.store.query(&query).await?;
        page.items
            .into_iter()
            .map(|item| {
                let key = Key::of_item(&item).unwrap_or_else(|| Key::new("?", "?"));
                let stored = decode_incident(item)?;
                let due = stored
                    .incident
                    .escalation()
                    .and_then(|state| state.next_due())
                    .ok_or_else(|| {
                        RepoError::corrupt(&key, "gsi3pk", "listed as due without a due time")
                    })?;
                Ok((stored.incident.id().clone(), due))
            })
            .collect()
    }
}
