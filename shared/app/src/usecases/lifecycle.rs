//! Acknowledge and resolve, whoever asks: a person through a signed link, Slack or the API, or
//! an integration (PagerDuty `acknowledge`, Opsgenie close). Shared by the `ack`, `grouping`
//! and `api` functions.

use super::effects::{run_effects, split_timeline};
use super::{Core, UseCaseError};
use crate::messages::{Notice, NoticeKind, QueueMessage};
use crate::ports::{Queue, Timers};
use klaxon_domain::ids::IncidentId;
use klaxon_domain::incident::{IncidentError, IncidentStatus};
use klaxon_domain::timeline::Actor;
use klaxon_store::Store;
use klaxon_store::repo::{
    Attempt, DeliveryPurpose, DeliveryStatus, RepoError, StoredIncident, retry_on_conflict,
};
use std::collections::BTreeSet;

/// Which way to stop an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopAction {
    /// Acknowledge.
    Acknowledge,
    /// Resolve.
    Resolve,
}

/// What a stop did.
#[derive(Debug, Clone, PartialEq)]
pub enum StopOutcome {
    /// The incident changed; it is returned as committed.
    Changed(StoredIncident),
    /// It was already in that state (or beyond): nothing changed. Idempotent success.
    Unchanged(StoredIncident),
}

impl StopOutcome {
    /// The incident after the call.
    pub fn incident(&self) -> &StoredIncident {
        match self {
            StopOutcome::Changed(i) | StopOutcome::Unchanged(i) => i,
        }
    }
}

/// Acknowledges or resolves `id` as `actor`: commits the change (with its timeline entries)
/// under the incident's optimistic lock, then cancels the pending escalation timer and tells
/// everyone already paged. An acknowledgement arms the acknowledgement timeout (the policy's
/// or `settings.ack_timeout`) after the commit, and ends a running snooze. Acknowledging a resolved incident is a [`UseCaseError::Conflict`];
/// repeating an acknowledge or resolve is [`StopOutcome::Unchanged`].
pub async fn stop_incident<S: Store, Q: Queue, T: Timers>(
    core: &Core<S>,
    queue: &Q,
    timers: &T,
    id: &IncidentId,
    action: StopAction,
    actor: Actor,
) -> Result<StopOutcome, UseCaseError> {
    let actor = &actor;
    retry_on_conflict("incident", id.to_string(), move || async move {
        let stored = core
            .repo
            .incident(id)
            .await?
            .ok_or_else(|| UseCaseError::NotFound {
                what: "incident",
                id: id.to_string(),
            })?;
        let mut incident = stored.incident.clone();
        let now = core.now();
        let timeout = match (action, incident.escalation()) {
            (StopAction::Acknowledge, Some(state)) => {
                core.config().await?.ack_timeout(state.policy())
            }
            _ => None,
        };
        let result = match action {
            StopAction::Acknowledge => {
                incident.acknowledge_with_timeout(actor.clone(), timeout, now)
            }
            StopAction::Resolve => incident.resolve(actor.clone(), now),
        };
        let effects = match result {
            Ok(effects) => effects,
            Err(IncidentError::AlreadyAcknowledged { .. }) if action == StopAction::Acknowledge => {
                return Ok(Attempt::Done(StopOutcome::Unchanged(stored)));
            }
            Err(IncidentError::AlreadyResolved { .. }) if action == StopAction::Resolve => {
                return Ok(Attempt::Done(StopOutcome::Unchanged(stored)));
            }
            Err(IncidentError::AlreadyResolved { .. }) => {
                return Err(UseCaseError::Conflict(format!(
                    "incident #{} is already resolved",
                    stored.incident.number()
                )));
            }
            Err(other) => return Err(UseCaseError::Conflict(other.to_string())),
        };
        let (timeline, rest) = split_timeline(effects);
        match core
            .repo
            .save_incident(&incident, stored.version, &timeline)
            .await
        {
            Ok(version) => {
                // Committed: now cancel the timer. Failure here is harmless (a surviving timer
                // fires into a stopped escalation and is ignored), so it is logged, not raised.
                if let Err(error) = run_effects(queue, timers, rest).await {
                    tracing::warn!(incident = %id, %error, "could not cancel the escalation timer");
                }
                let kind = match action {
                    StopAction::Acknowledge => NoticeKind::Acknowledged,
                    StopAction::Resolve => NoticeKind::Resolved,
                };
                if let Err(error) = announce(core, queue, id, kind, actor.clone()).await {
                    tracing::warn!(incident = %id, %error, "could not queue notices to responders");
                }
                Ok(Attempt::Done(StopOutcome::Changed(StoredIncident {
                    incident,
                    version,
                })))
            }
            Err(RepoError::Conflict { .. }) => Ok(Attempt::Retry),
            Err(other) => Err(other.into()),
        }
    })
    .await
}

/// Queues one notice to everyone a page of `id` reached (each user on each channel that
/// delivered), so responders learn the incident was acknowledged or resolved.
pub async fn announce<S: Store, Q: Queue>(
    core: &Core<S>,
    queue: &Q,
    id: &IncidentId,
    kind: NoticeKind,
    actor: Actor,
) -> Result<(), UseCaseError> {
    let recipients: BTreeSet<_> = core
        .repo
        .deliveries(id)
        .await?
        .into_iter()
        .filter(|d| {
            matches!(d.purpose, DeliveryPurpose::Page { .. }) && d.status == DeliveryStatus::Sent
        })
        .map(|d| (d.user, d.channel))
        .collect();
    if recipients.is_empty() {
        return Ok(());
    }
    let notice = Notice {
        incident: id.clone(),
        notice: kind,
        actor,
        recipients: recipients.into_iter().collect(),
    };
    queue.send(&QueueMessage::Notice(notice)).await?;
    Ok(())
}

/// Whether an incident still pages (triggered, not acknowledged or resolved).
pub fn is_paging(status: IncidentStatus) -> bool {
    status == IncidentStatus::Triggered
}
