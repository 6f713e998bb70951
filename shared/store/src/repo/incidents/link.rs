//! Linking alert occurrences to incidents: finding the group's open incident or opening
//! the next one, and raising its severity.

use super::{
    AlertLinkState, GroupPointer, IncidentItem, LinkItem, Linked, StoredIncident, due_index,
    failed_at, link_key, number_sk, open_index, pointer_key, status_str,
};
use crate::key::s;
use crate::repo::codec::{from_item, to_item, to_json};
use crate::repo::lock::{Attempt, retry_on_conflict};
use crate::repo::schema::{self, INCIDENTS, incident_key};
use crate::repo::{RepoError, Repository};
use crate::{
    AttributeValue, Condition, Item, Key, ReturnValues, Store, StoreError, TransactOp, UpdateAction,
};
use klaxon_domain::Instant;
use klaxon_domain::alert::{Alert, AlertStatus};
use klaxon_domain::duration::HumanDuration;
use klaxon_domain::ids::{AlertId, GroupKey, IncidentId};
use klaxon_domain::incident::{AlertCounts, Incident, IncidentError, IncidentStatus};
use klaxon_domain::timeline::{TimelineDraft, TimelineEntry};
use std::sync::{Mutex, PoisonError};

/// What the group pointer read means for an alert looking for its incident.
enum Join {
    /// The group has an open incident: the link attempt's outcome.
    Linked(Box<Attempt<Linked>>),
    /// The group needs a new incident; the pointer may be replaced on this condition.
    Replace(Condition),
}

/// The request of [`Repository::find_or_create_incident`], for opening the group's incident.
#[derive(Clone, Copy)]
struct Opening<'a> {
    group_key: &'a GroupKey,
    pointer_key: &'a Key,
    window: HumanDuration,
    alert_id: &'a AlertId,
    alert: &'a Alert,
    new_id: &'a IncidentId,
    now: Instant,
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
        crate::repo::codec::check_key_part("group_key", group_key.as_str(), 512)?;
        let pointer_key = pointer_key(group_key);
        // A pointer learned from a cancelled transaction saves reading it again.
        let known: Mutex<Option<Option<GroupPointer>>> = Mutex::new(None);
        let (pointer_key, known) = (&pointer_key, &known);
        retry_on_conflict("group", group_key.to_string(), move || async move {
            let now = self.now();
            let learned = known.lock().unwrap_or_else(PoisonError::into_inner).take();
            let pointer = match learned {
                Some(pointer) => pointer,
                None => match self.store.get(pointer_key).await? {
                    Some(item) => Some(from_item::<GroupPointer>(item)?),
                    None => None,
                },
            };
            let replace_if = match self
                .join_group(pointer.as_ref(), alert_id, alert, now)
                .await?
            {
                Join::Linked(attempt) => return Ok(*attempt),
                Join::Replace(condition) => condition,
            };
            if alert.status != AlertStatus::Firing {
                // Checked before a number is taken (Incident::open refuses it too).
                return Err(IncidentError::FirstAlertNotFiring.into());
            }
            let opening = Opening {
                group_key,
                pointer_key,
                window,
                alert_id,
                alert,
                new_id,
                now,
            };
            self.open_for_group(&opening, replace_if, known).await
        })
        .await
    }

    /// Links to the group's incident when `pointer` names an open one within its window;
    /// otherwise the condition on which the pointer may be replaced by a new incident's.
    async fn join_group(
        &self,
        pointer: Option<&GroupPointer>,
        alert_id: &AlertId,
        alert: &Alert,
        now: Instant,
    ) -> Result<Join, RepoError> {
        let Some(pointer) = pointer else {
            return Ok(Join::Replace(Condition::NotExists));
        };
        if pointer.window_end <= now.timestamp() {
            return Ok(Join::Replace(Condition::less_than(
                "window_end",
                now.timestamp() + 1,
            )));
        }
        match self.incident(&pointer.incident).await? {
            Some(stored) if stored.incident.is_open() => Ok(Join::Linked(Box::new(
                self.link_to(stored, alert_id, alert).await?,
            ))),
            // Resolved (or gone): resolved never reopens, so the pointer may be
            // replaced as long as it still names that incident.
            _ => Ok(Join::Replace(Condition::equals(
                "incident",
                s(pointer.incident.as_str()),
            ))),
        }
    }

    /// Opens the group's next incident: its link, the group pointer (on condition
    /// `replace_if`), the incident and its timeline in one transaction. A pointer another
    /// caller wrote first is kept in `known` for the next attempt.
    async fn open_for_group(
        &self,
        opening: &Opening<'_>,
        replace_if: Condition,
        known: &Mutex<Option<Option<GroupPointer>>>,
    ) -> Result<Attempt<Linked>, RepoError> {
        let Opening {
            group_key,
            pointer_key,
            window,
            alert_id,
            alert,
            new_id,
            now,
        } = *opening;
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
            Ok(()) => Ok(Attempt::Done(Linked {
                incident: StoredIncident {
                    incident,
                    version: 1,
                },
                created: true,
                newly_linked: true,
            })),
            Err(StoreError::TransactionCancelled { reasons }) => {
                if let Some(existing) = failed_at(&reasons, 0) {
                    return self
                        .already_linked(alert_id, existing)
                        .await
                        .map(Attempt::Done);
                }
                if let Some(existing) = failed_at(&reasons, 1) {
                    // Another caller created the group's incident: link to it.
                    let pointer = existing.cloned().map(from_item).transpose()?;
                    *known.lock().unwrap_or_else(PoisonError::into_inner) = Some(pointer);
                    return Ok(Attempt::Retry);
                }
                if failed_at(&reasons, 2).is_some() {
                    return Err(RepoError::AlreadyExists {
                        entity: "incident",
                        id: new_id.to_string(),
                    });
                }
                Err(StoreError::TransactionCancelled { reasons }.into())
            }
            Err(other) => Err(other.into()),
        }
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
    pub(super) fn link_put(
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
    ) -> Result<Attempt<Linked>, RepoError> {
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
                    return Ok(Attempt::Done(linked));
                }
                if failed_at(&reasons, 1).is_some() {
                    // Resolved (or gone) since it was read: start over from the pointer.
                    return Ok(Attempt::Retry);
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
        Ok(Attempt::Done(Linked {
            incident,
            created: false,
            newly_linked: true,
        }))
    }

    /// Raises an open incident's severity to a more severe linked alert's, with its
    /// `incident.severity_changed` entry (versioned save, retried on conflict). Returns the
    /// incident as read or saved, counts as read.
    pub(super) async fn raise_severity(
        &self,
        id: &IncidentId,
        alert_id: &AlertId,
        alert: &Alert,
    ) -> Result<StoredIncident, RepoError> {
        retry_on_conflict("incident", id.to_string(), move || async move {
            let stored = self
                .incident(id)
                .await?
                .ok_or_else(|| RepoError::not_found("incident", id.to_string()))?;
            if !stored.incident.is_open() || alert.severity <= stored.incident.severity() {
                return Ok(Attempt::Done(stored));
            }
            let mut next = stored.incident.clone();
            let drafts: Vec<TimelineDraft> = next
                .link_alert(alert_id, alert, self.now())?
                .into_iter()
                .filter(|d| matches!(d.entry, TimelineEntry::IncidentSeverityChanged { .. }))
                .collect();
            next.set_alert_counts(stored.incident.alerts());
            match self.save_incident(&next, stored.version, &drafts).await {
                Ok(version) => Ok(Attempt::Done(StoredIncident {
                    incident: next,
                    version,
                })),
                Err(RepoError::Conflict { .. }) => Ok(Attempt::Retry),
                Err(other) => Err(other),
            }
        })
        .await
    }
}
