//! Linking a batch of one group's alert occurrences to the group's open incident with as few
//! transactions as the transaction limit allows: [`LINKS_PER_TRANSACTION`] occurrences per
//! transaction, each as its link item, its dedup record marked grouped and its `alert.linked`
//! timeline entry, plus one `ADD` on the incident's counters for the whole chunk.

use super::{GroupPointer, StoredIncident, failed_at, pointer_key, status_str};
use crate::key::s;
use crate::repo::codec::from_item;
use crate::repo::schema::{alert_record_key, incident_key};
use crate::repo::{MAX_TRANSACTION_ITEMS, RepoError, Repository};
use crate::{Condition, Store, StoreError, TransactOp, UpdateAction, attr};
use klaxon_domain::alert::{Alert, AlertKey, AlertStatus};
use klaxon_domain::ids::{AlertId, GroupKey};
use klaxon_domain::incident::{AlertCounts, IncidentStatus};
use klaxon_domain::timeline::{TimelineDraft, TimelineEntry};

/// Operations one linked occurrence takes in a batch transaction: its link item, the update
/// that marks its dedup record grouped, and its `alert.linked` timeline entry.
pub const OPS_PER_LINK: usize = 3;

/// The most occurrences one batch transaction links: the transaction limit less the one
/// counter update, divided by [`OPS_PER_LINK`] (8 with the 25-operation limit).
pub const LINKS_PER_TRANSACTION: usize = (MAX_TRANSACTION_ITEMS - 1) / OPS_PER_LINK;

/// One occurrence of a batch: the alert's identity, the occurrence and the alert.
#[derive(Debug, Clone, Copy)]
pub struct BatchMember<'a> {
    /// The alert's identity (its dedup record is marked grouped).
    pub key: &'a AlertKey,
    /// The occurrence (its link item is created).
    pub alert_id: &'a AlertId,
    /// The alert as stored in the dedup record.
    pub alert: &'a Alert,
}

/// What [`Repository::link_batch`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchLinked {
    /// The incident afterwards: as read with the new links counted, or as saved when a member
    /// raised its severity.
    pub incident: StoredIncident,
    /// One flag per member, in order: whether this call linked it. A member it did not link
    /// (linked before, its occurrence replaced, or the incident resolved meanwhile) is left to
    /// the one-alert path ([`Repository::find_or_create_incident`]), which knows what to do.
    pub linked: Vec<bool>,
    /// How many transactions were committed.
    pub transactions: usize,
}

/// How one chunk's transaction went.
enum Chunk {
    /// Committed.
    Done,
    /// Some members' conditions failed (indexes into the chunk): leave them out and retry.
    Refused(Vec<usize>),
    /// The incident resolved (or vanished) since it was read: link nothing more.
    IncidentClosed,
}

impl<S: Store> Repository<S> {
    /// The group's open incident, if an alert of the group arriving now would join one: the
    /// group pointer exists, its window has not ended, and its incident is not resolved.
    pub async fn open_group_incident(
        &self,
        group_key: &GroupKey,
    ) -> Result<Option<StoredIncident>, RepoError> {
        crate::repo::codec::check_key_part("group_key", group_key.as_str(), 512)?;
        let Some(item) = self.store.get(&pointer_key(group_key)).await? else {
            return Ok(None);
        };
        let pointer: GroupPointer = from_item(item)?;
        if pointer.window_end <= self.now().timestamp() {
            return Ok(None);
        }
        Ok(self
            .incident(&pointer.incident)
            .await?
            .filter(|stored| stored.incident.is_open()))
    }

    /// Links `members` (occurrences of one group, none linked yet as far as the caller read)
    /// to the open incident `stored`, [`LINKS_PER_TRANSACTION`] per transaction, without taking
    /// the incident's optimistic lock. A member whose link already exists or whose dedup record
    /// names another occurrence is left out (`linked` false) and the rest of its chunk is
    /// retried; once the incident is found resolved, nothing more is linked. A redelivered
    /// member therefore links once, whichever batch it arrives in. A member more severe than
    /// the incident raises its severity afterwards (one versioned save for the batch).
    pub async fn link_batch(
        &self,
        stored: StoredIncident,
        members: &[BatchMember<'_>],
    ) -> Result<BatchLinked, RepoError> {
        let mut linked = vec![false; members.len()];
        let mut transactions = 0;
        let mut counts = stored.incident.alerts();
        let mut most_severe: Option<usize> = None;
        'chunks: for (chunk_index, chunk) in members.chunks(LINKS_PER_TRANSACTION).enumerate() {
            let offset = chunk_index * LINKS_PER_TRANSACTION;
            let mut pending: Vec<usize> = (0..chunk.len()).collect();
            while !pending.is_empty() {
                let batch: Vec<BatchMember<'_>> = pending.iter().map(|&i| chunk[i]).collect();
                match self.link_chunk(&stored, &batch).await? {
                    Chunk::Done => {
                        transactions += 1;
                        for &i in &pending {
                            let member = chunk[i];
                            linked[offset + i] = true;
                            let firing = member.alert.status == AlertStatus::Firing;
                            counts = AlertCounts {
                                linked: counts.linked.saturating_add(1),
                                open: counts.open.saturating_add(u32::from(firing)),
                            };
                            let current = most_severe
                                .map_or(stored.incident.severity(), |m| members[m].alert.severity);
                            if firing && member.alert.severity > current {
                                most_severe = Some(offset + i);
                            }
                        }
                        break;
                    }
                    Chunk::Refused(refused) => {
                        let refused: Vec<usize> = refused.iter().map(|&r| pending[r]).collect();
                        pending.retain(|i| !refused.contains(i));
                    }
                    Chunk::IncidentClosed => break 'chunks,
                }
            }
        }
        let incident = match most_severe {
            Some(m) => {
                let member = members[m];
                self.raise_severity(stored.incident.id(), member.alert_id, member.alert)
                    .await?
            }
            None => {
                let mut incident = stored;
                incident.incident.set_alert_counts(counts);
                incident
            }
        };
        Ok(BatchLinked {
            incident,
            linked,
            transactions,
        })
    }

    /// One transaction: the counters' `ADD` (condition: the incident exists and is not
    /// resolved), then per member its link put, its record update and its timeline entry.
    async fn link_chunk(
        &self,
        stored: &StoredIncident,
        members: &[BatchMember<'_>],
    ) -> Result<Chunk, RepoError> {
        let now = self.now();
        let id = stored.incident.id().clone();
        let firing = members
            .iter()
            .filter(|m| m.alert.status == AlertStatus::Firing)
            .count();
        let mut counters = vec![UpdateAction::add("alerts_linked", members.len() as i64)];
        if firing > 0 {
            counters.push(UpdateAction::add("alerts_open", firing as i64));
        }
        let mut ops = vec![TransactOp::Update {
            key: incident_key(id.as_str()),
            actions: counters,
            condition: Some(Condition::Exists.and(Condition::not_equals(
                "status",
                s(status_str(IncidentStatus::Resolved)),
            ))),
        }];
        let mut preview = stored.incident.clone();
        let mut drafts: Vec<TimelineDraft> = Vec::with_capacity(members.len());
        for member in members {
            drafts.extend(
                preview
                    .link_alert(member.alert_id, member.alert, now)?
                    .into_iter()
                    .filter(|d| matches!(d.entry, TimelineEntry::AlertLinked { .. })),
            );
        }
        let mut timeline = self.timeline_ops(&id, &drafts)?.into_iter();
        for member in members {
            ops.push(self.link_put(&stored.incident, member.alert_id, member.alert, now)?);
            ops.push(TransactOp::Update {
                key: alert_record_key(member.key),
                actions: vec![
                    UpdateAction::set("incident", s(id.as_str())),
                    UpdateAction::remove(attr::GSI1PK),
                    UpdateAction::remove(attr::GSI1SK),
                ],
                condition: Some(Condition::equals("alert_id", s(member.alert_id.as_str()))),
            });
            if let Some(entry) = timeline.next() {
                ops.push(entry);
            }
        }
        match self.store.transact(ops).await {
            Ok(()) => Ok(Chunk::Done),
            Err(StoreError::TransactionCancelled { reasons }) => {
                if failed_at(&reasons, 0).is_some() {
                    return Ok(Chunk::IncidentClosed);
                }
                let refused: Vec<usize> = (0..members.len())
                    .filter(|i| {
                        let first = 1 + i * OPS_PER_LINK;
                        (first..first + OPS_PER_LINK).any(|p| failed_at(&reasons, p).is_some())
                    })
                    .collect();
                if refused.is_empty() {
                    return Err(StoreError::TransactionCancelled { reasons }.into());
                }
                Ok(Chunk::Refused(refused))
            }
            Err(other) => Err(other.into()),
        }
    }
}
