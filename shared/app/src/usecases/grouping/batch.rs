//! Grouping a batch of alert messages: the fire messages of one group that find their alert
//! not linked yet join the group's open incident together, a few transactions for the whole
//! batch ([`Repository::link_batch`](klaxon_store::Repository::link_batch)) instead of one
//! read-link-mark round per alert. Everything else (resolves, acknowledgements, redeliveries,
//! the alert that opens the incident) takes the one-message path, in queue order.

use super::{GroupingOutcome, GroupingService};
use crate::messages::{AlertAction, AlertMessage};
use crate::ports::{Queue, Timers};
use crate::usecases::UseCaseError;
use klaxon_domain::ids::GroupKey;
use klaxon_store::Store;
use klaxon_store::repo::{AlertRecord, AlertState, BatchMember};
use std::collections::HashSet;

/// What became of one message of a batch.
#[derive(Debug)]
pub enum BatchItem {
    /// Handled.
    Handled(GroupingOutcome),
    /// Failed: retry it.
    Failed(UseCaseError),
    /// Not attempted, because an earlier message of its FIFO group failed in this batch: give
    /// it back untouched, so the group stays in order.
    NotAttempted,
}

/// A fire message whose alert is waiting to be linked, with its record.
struct Fresh {
    index: usize,
    record: AlertRecord,
}

impl<S: Store, Q: Queue, T: Timers> GroupingService<S, Q, T> {
    /// Handles a batch of alert messages (several FIFO groups may be mixed; each group's
    /// messages are handled in their order) and returns one [`BatchItem`] per message, in
    /// order. A message that fails stops its group: the group's later messages are
    /// [`BatchItem::NotAttempted`]. Redelivered messages link nothing twice, inside one batch
    /// or across batches.
    pub async fn handle_batch(&self, messages: &[AlertMessage]) -> Vec<BatchItem> {
        let mut items: Vec<Option<BatchItem>> = messages.iter().map(|_| None).collect();
        let mut groups: Vec<(&GroupKey, Vec<usize>)> = Vec::new();
        for (index, message) in messages.iter().enumerate() {
            match groups
                .iter_mut()
                .find(|(key, _)| **key == message.group_key)
            {
                Some((_, members)) => members.push(index),
                None => groups.push((&message.group_key, vec![index])),
            }
        }
        for (group_key, members) in groups {
            self.handle_group(group_key, messages, &members, &mut items)
                .await;
        }
        items
            .into_iter()
            .map(|item| item.unwrap_or(BatchItem::NotAttempted))
            .collect()
    }

    /// One group's messages (`members`, indexes into `messages`, in order).
    async fn handle_group(
        &self,
        group_key: &GroupKey,
        messages: &[AlertMessage],
        members: &[usize],
        items: &mut [Option<BatchItem>],
    ) {
        let mut fresh: Vec<Fresh> = Vec::new();
        let mut seen = HashSet::new();
        for &index in members {
            let message = &messages[index];
            let record = if message.action == AlertAction::Fire && seen.insert(&message.alert_id) {
                match self.core.repo.alert(&message.key).await {
                    Ok(record) => record.filter(|r| is_fresh(r, message)),
                    Err(error) => {
                        self.flush(group_key, messages, &mut fresh, items).await;
                        items[index] = Some(BatchItem::Failed(error.into()));
                        return;
                    }
                }
            } else {
                None
            };
            if let Some(record) = record {
                fresh.push(Fresh { index, record });
                continue;
            }
            // Anything else keeps its place in the group's order.
            if !self.flush(group_key, messages, &mut fresh, items).await {
                return;
            }
            match self.handle(message).await {
                Ok(outcome) => items[index] = Some(BatchItem::Handled(outcome)),
                Err(error) => {
                    items[index] = Some(BatchItem::Failed(error));
                    return;
                }
            }
        }
        self.flush(group_key, messages, &mut fresh, items).await;
    }

    /// Links the waiting fire messages (`fresh`) and empties it; returns whether they all
    /// succeeded (on a failure, the first failed message has the error and the rest of the
    /// group is not attempted).
    async fn flush(
        &self,
        group_key: &GroupKey,
        messages: &[AlertMessage],
        fresh: &mut Vec<Fresh>,
        items: &mut [Option<BatchItem>],
    ) -> bool {
        let waiting = std::mem::take(fresh);
        let Some(first) = waiting.first() else {
            return true;
        };
        let first_index = first.index;
        match self.link_fresh(group_key, messages, &waiting, items).await {
            Ok(()) => true,
            Err(error) => {
                // The first message without an outcome carries the error.
                let failed = waiting
                    .iter()
                    .map(|f| f.index)
                    .find(|&i| items[i].is_none())
                    .unwrap_or(first_index);
                items[failed] = Some(BatchItem::Failed(error));
                false
            }
        }
    }

    /// Links `waiting` to the group's open incident (opening it with the first one, through
    /// the one-message path, when the group has none) in batch transactions; a message the
    /// batch could not link takes the one-message path.
    async fn link_fresh(
        &self,
        group_key: &GroupKey,
        messages: &[AlertMessage],
        waiting: &[Fresh],
        items: &mut [Option<BatchItem>],
    ) -> Result<(), UseCaseError> {
        let mut rest = waiting;
        let mut target = self.core.repo.open_group_incident(group_key).await?;
        if target.is_none() || waiting.len() == 1 {
            let Some((first, others)) = waiting.split_first() else {
                return Ok(());
            };
            let outcome = self.handle(&messages[first.index]).await?;
            items[first.index] = Some(BatchItem::Handled(outcome));
            rest = others;
            if rest.is_empty() {
                return Ok(());
            }
            target = self.core.repo.open_group_incident(group_key).await?;
        }
        let linked = match target {
            Some(stored) => {
                let members: Vec<BatchMember<'_>> = rest
                    .iter()
                    .map(|f| BatchMember {
                        key: &messages[f.index].key,
                        alert_id: &f.record.alert_id,
                        alert: &f.record.alert,
                    })
                    .collect();
                let done = self.core.repo.link_batch(stored, &members).await?;
                let id = done.incident.incident.id().clone();
                tracing::debug!(incident = %id, alerts = members.len(), transactions = done.transactions, "linked a batch");
                done.linked
                    .into_iter()
                    .map(|linked| linked.then(|| id.clone()))
                    .collect()
            }
            None => vec![None; rest.len()],
        };
        for (f, joined) in rest.iter().zip(linked) {
            let outcome = match joined {
                Some(id) => GroupingOutcome::Joined(id),
                None => self.handle(&messages[f.index]).await?,
            };
            items[f.index] = Some(BatchItem::Handled(outcome));
        }
        Ok(())
    }
}

/// Whether a fire message's alert waits to be linked: the record holds this occurrence, open
/// and not linked yet. (Redeliveries, replaced occurrences and alerts that resolved before
/// grouping saw them take the one-message path.)
fn is_fresh(record: &AlertRecord, message: &AlertMessage) -> bool {
    record.alert_id == message.alert_id
        && record.incident.is_none()
        && record.state == AlertState::Open
}
