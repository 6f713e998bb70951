//! Grouping: turns queued alert events into incidents.
//!
//! - Fire: find or create the open incident of the alert's group (within the group's window),
//!   link the alert, mark it grouped; a new incident is announced to routing. A redelivered
//!   message links nothing twice and announces again only if routing has not started the
//!   escalation yet (routing ignores a second start).
//! - Resolve: mark the alert's link resolved; when the last open alert of an incident resolves
//!   and `settings.auto_resolve` is on, resolve the incident, cancel its timer and tell the
//!   responders already paged.
//! - Acknowledge (PagerDuty `acknowledge`, Opsgenie ack): acknowledge the alert's incident.
//!
//! [`GroupingService::handle_batch`] handles a batch of messages: the fire messages of a group
//! whose alerts are not linked yet join its open incident in a few transactions
//! ([`klaxon_store::repo::LINKS_PER_TRANSACTION`] alerts each), the rest as above.

use super::effects::run_effects;
use super::lifecycle::{StopAction, announce, stop_incident};
use super::{Core, UseCaseError};
use crate::messages::{
    AlertAction, AlertMessage, IncidentEvent, IncidentMessage, NoticeKind, QueueMessage,
};
use crate::ports::{Queue, Timers};
use klaxon_domain::escalation::Effect;
use klaxon_domain::ids::IncidentId;
use klaxon_domain::incident::{AutoResolve, IncidentStatus, ResolveReason};
use klaxon_domain::timeline::Actor;
use klaxon_store::Store;
use klaxon_store::repo::AlertState;

mod batch;

pub use batch::BatchItem;

/// What handling one alert message did (for logs and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupingOutcome {
    /// The alert opened a new incident.
    Opened(IncidentId),
    /// The alert joined an existing incident.
    Joined(IncidentId),
    /// The message was already handled (redelivery) or concerns an occurrence that was
    /// replaced: nothing changed.
    Unchanged,
    /// The alert's link resolved; `resolved` tells whether that resolved the incident.
    AlertResolved {
        /// The incident.
        incident: IncidentId,
        /// Whether the incident resolved with it.
        resolved: bool,
    },
    /// The incident was acknowledged (or already was).
    Acknowledged(IncidentId),
}

/// The grouping use case.
pub struct GroupingService<S, Q, T> {
    core: Core<S>,
    queue: Q,
    timers: T,
}

crate::fmt_hidden::opaque_debug!(GroupingService<S, Q, T>);

impl<S: Store, Q: Queue, T: Timers> GroupingService<S, Q, T> {
    /// Assembles the service.
    pub fn new(core: Core<S>, queue: Q, timers: T) -> Self {
        Self {
            core,
            queue,
            timers,
        }
    }

    /// Handles one message from the alerts queue.
    pub async fn handle(&self, message: &AlertMessage) -> Result<GroupingOutcome, UseCaseError> {
        match message.action {
            AlertAction::Fire => self.fire(message).await,
            AlertAction::Resolve => self.resolve(message).await,
            AlertAction::Acknowledge => self.acknowledge(message).await,
        }
    }

    async fn fire(&self, message: &AlertMessage) -> Result<GroupingOutcome, UseCaseError> {
        let Some(record) = self.core.repo.alert(&message.key).await? else {
            tracing::warn!(key = ?message.key, "alert record missing for a queued alert; dropping the message");
            return Ok(GroupingOutcome::Unchanged);
        };
        if record.alert_id != message.alert_id {
            // This occurrence resolved and a newer one replaced it; that one has its own message.
            return Ok(GroupingOutcome::Unchanged);
        }
        let (stored, outcome, announcer) = match &record.incident {
            // Linked already (a redelivery after `mark_grouped`): never group it again, or an
            // incident resolved meanwhile would get a twin. Still announce below if routing
            // has not started (a crash before the announcement).
            Some(linked_to) => {
                let Some(stored) = self.core.repo.incident(linked_to).await? else {
                    tracing::warn!(incident = %linked_to, "the alert's incident is gone; dropping the message");
                    return Ok(GroupingOutcome::Unchanged);
                };
                (stored, GroupingOutcome::Unchanged, true)
            }
            None => {
                let config = self.core.config().await?;
                let window = config.group(&record.alert).window;
                let new_id = IncidentId::new(self.core.ids.new_id())
                    .map_err(|e| UseCaseError::invalid("incident_id", e.to_string()))?;
                let linked = self
                    .core
                    .repo
                    .find_or_create_incident(
                        &message.group_key,
                        window,
                        &record.alert_id,
                        &record.alert,
                        &new_id,
                    )
                    .await?;
                let id = linked.incident.incident.id().clone();
                self.core
                    .repo
                    .mark_grouped(&message.key, &record.alert_id, &id)
                    .await?;
                // An alert joining the incident does not announce it: the alert that created
                // it did, and a redelivery of that alert's message (`newly_linked` false)
                // announces again.
                let announcer = linked.created || !linked.newly_linked;
                let outcome = match (linked.created, linked.newly_linked) {
                    (true, _) => GroupingOutcome::Opened(id),
                    (false, true) => GroupingOutcome::Joined(id),
                    (false, false) => GroupingOutcome::Unchanged,
                };
                (linked.incident, outcome, announcer)
            }
        };
        let incident = &stored.incident;
        if record.state == AlertState::Resolved {
            // The alert resolved before grouping saw it fire (a quick flap, or a fire message
            // the sweep re-queued after its resolve was dropped as unlinked): apply the
            // resolution now, so the incident does not page for, or wait on, an alert that is
            // already over. Its later resolve message, if any, finds the link resolved.
            let at = record.resolved_at.unwrap_or(message.at);
            if self.resolve_link(incident.id(), message, at).await? {
                return Ok(outcome);
            }
            // Still open (other alerts, or auto-resolve off): announce it as below.
        }
        // Announce until routing has started (or suppressed) the escalation: covers a crash
        // between creating the incident and queueing the event (the sweep covers the rest).
        // Routing ignores repeats.
        let needs_routing = announcer
            && incident.escalation().is_none()
            && incident.suppressed().is_none()
            && incident.status() == IncidentStatus::Triggered;
        if needs_routing {
            let event = IncidentMessage {
                incident: incident.id().clone(),
                event: IncidentEvent::Triggered,
            };
            self.queue.send(&QueueMessage::Incident(event)).await?;
        }
        Ok(outcome)
    }

    async fn resolve(&self, message: &AlertMessage) -> Result<GroupingOutcome, UseCaseError> {
        let Some(record) = self.core.repo.alert(&message.key).await? else {
            return Ok(GroupingOutcome::Unchanged);
        };
        let Some(incident_id) = record
            .incident
            .clone()
            .filter(|_| record.alert_id == message.alert_id)
        else {
            // Not linked (or replaced): the Fire message ahead of this one in the FIFO group
            // links it first, so this only happens for an occurrence grouping never saw (its
            // fire message was lost: the sweep re-queues it, and `fire` applies the resolve).
            return Ok(GroupingOutcome::Unchanged);
        };
        let resolved = self.resolve_link(&incident_id, message, message.at).await?;
        Ok(GroupingOutcome::AlertResolved {
            incident: incident_id,
            resolved,
        })
    }

    /// Resolves occurrence `message.alert_id`'s link to `incident_id` (and the incident, when it
    /// was its last open alert and auto-resolve is on): cancels its timer and tells the
    /// responders already paged. Returns whether the incident is resolved.
    async fn resolve_link(
        &self,
        incident_id: &IncidentId,
        message: &AlertMessage,
        at: klaxon_domain::Instant,
    ) -> Result<bool, UseCaseError> {
        let config = self.core.config().await?;
        let auto_resolve = if config.settings.auto_resolve {
            AutoResolve::WhenAllAlertsResolve
        } else {
            AutoResolve::Never
        };
        let actor = Actor::integration(message.key.integration.clone());
        let outcome = self
            .core
            .repo
            .alert_resolved(
                incident_id,
                &message.alert_id,
                actor.clone(),
                auto_resolve,
                at,
            )
            .await?;
        let resolved = outcome.incident.incident.status() == IncidentStatus::Resolved;
        // Auto-resolved by this sender's alerts (by this delivery or by an earlier one whose
        // notice may not have been queued). A manual resolve told the responders itself.
        let auto_resolved_by_this_sender = outcome
            .incident
            .incident
            .resolved()
            .is_some_and(|r| r.reason == ResolveReason::AllAlertsResolved && r.by == actor);
        // Timeline effects are already recorded; cancel the timer of an auto-resolved incident.
        let non_timeline: Vec<_> = outcome
            .effects
            .into_iter()
            .filter(|e| !matches!(e, Effect::Timeline(_)))
            .collect();
        run_effects(&self.queue, &self.timers, non_timeline).await?;
        // Announced on every delivery that finds the incident auto-resolved, not only the one
        // that resolved it: if queueing the notice failed, this message is retried and the
        // retry must still tell the responders. Notify sends each (user, channel) a resolved
        // notice once, so a repeat costs a query and a message, never a second notice.
        if auto_resolved_by_this_sender {
            announce(
                &self.core,
                &self.queue,
                incident_id,
                NoticeKind::Resolved,
                actor,
            )
            .await?;
        }
        Ok(resolved)
    }

    async fn acknowledge(&self, message: &AlertMessage) -> Result<GroupingOutcome, UseCaseError> {
        let Some(record) = self.core.repo.alert(&message.key).await? else {
            return Ok(GroupingOutcome::Unchanged);
        };
        let Some(incident_id) = record.incident else {
            return Ok(GroupingOutcome::Unchanged);
        };
        let actor = Actor::integration(message.key.integration.clone());
        match stop_incident(
            &self.core,
            &self.queue,
            &self.timers,
            &incident_id,
            StopAction::Acknowledge,
            actor,
        )
        .await
        {
            Ok(_) => Ok(GroupingOutcome::Acknowledged(incident_id)),
            // Acknowledging a resolved incident: nothing to do.
            Err(UseCaseError::Conflict(_)) => Ok(GroupingOutcome::Unchanged),
            Err(other) => Err(other),
        }
    }
}
