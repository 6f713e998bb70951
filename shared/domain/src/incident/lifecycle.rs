//! What responders and routing do to an incident: acknowledge, resolve, assign, suppress,
//! override the severity.

use super::{ActorStamp, Incident, IncidentError, IncidentStatus, Resolution, Suppression, key};
use crate::Instant;
use crate::alert::Severity;
use crate::duration::HumanDuration;
use crate::escalation::{
    self, Effect, EscalationError, EscalationState, EscalationStatus, StopReason,
};
use crate::ids::UserId;
use crate::timeline::{Actor, TimelineDraft, TimelineEntry};
use crate::vocabulary::{ResolveReason, SuppressionReason};

impl Incident {
    /// Acknowledges: triggered → acknowledged, stopping the escalation (its pending timer is
    /// cancelled).
    pub fn acknowledge(
        &mut self,
        actor: Actor,
        now: Instant,
    ) -> Result<Vec<Effect>, IncidentError> {
        self.acknowledge_with_timeout(actor, None, now)
    }

    /// Acknowledges, and with `timeout` (the policy's or the setting's `ack_timeout`) arms the
    /// acknowledgement timeout: unresolved at `now + timeout`, the incident re-triggers once.
    /// A snoozed incident acknowledged again has its snooze cancelled (and the timeout armed
    /// afresh); otherwise acknowledging an acknowledged incident is refused.
    pub fn acknowledge_with_timeout(
        &mut self,
        actor: Actor,
        timeout: Option<HumanDuration>,
        now: Instant,
    ) -> Result<Vec<Effect>, IncidentError> {
        let snoozed = self.escalation.as_ref().filter(|state| state.is_snoozed());
        match (self.status, snoozed) {
            (IncidentStatus::Triggered, _) => {}
            (IncidentStatus::Acknowledged, Some(state)) => {
                let transition = escalation::end_snooze(&self.id, state, &actor, timeout, now)?;
                let mut effects = vec![Effect::Timeline(TimelineDraft::new(
                    self.id.clone(),
                    key(format!("acknowledged.v{}", transition.state.version())),
                    now,
                    actor.clone(),
                    TimelineEntry::IncidentAcknowledged {},
                ))];
                effects.extend(transition.effects);
                self.escalation = Some(transition.state);
                self.acknowledged = Some(ActorStamp { at: now, by: actor });
                return Ok(effects);
            }
            (IncidentStatus::Acknowledged, None) => {
                return Err(IncidentError::AlreadyAcknowledged {
                    incident: self.id.clone(),
                });
            }
            (IncidentStatus::Resolved, _) => {
                return Err(IncidentError::AlreadyResolved {
                    incident: self.id.clone(),
                });
            }
        }
        // A re-triggered incident is acknowledged again under a new key (one entry per cycle).
        let cycle = self.escalation.as_ref().map_or(0, EscalationState::cycle);
        let entry_key = match cycle {
            0 => "acknowledged".to_owned(),
            n => format!("acknowledged.c{n}"),
        };
        let mut effects = vec![Effect::Timeline(TimelineDraft::new(
            self.id.clone(),
            key(entry_key),
            now,
            actor.clone(),
            TimelineEntry::IncidentAcknowledged {},
        ))];
        let escalation = match &self.escalation {
            None => None,
            Some(state) => {
                let transition =
                    escalation::acknowledge_with_timeout(&self.id, state, &actor, timeout, now)?;
                effects.extend(transition.effects);
                Some(transition.state)
            }
        };
        self.escalation = escalation;
        self.status = IncidentStatus::Acknowledged;
        self.acknowledged = Some(ActorStamp { at: now, by: actor });
        Ok(effects)
    }

    /// Resolves by hand: triggered or acknowledged → resolved, stopping the escalation.
    pub fn resolve(&mut self, actor: Actor, now: Instant) -> Result<Vec<Effect>, IncidentError> {
        self.close(ResolveReason::Manual, actor, now)
    }

    pub(super) fn close(
        &mut self,
        reason: ResolveReason,
        actor: Actor,
        now: Instant,
    ) -> Result<Vec<Effect>, IncidentError> {
        if self.status == IncidentStatus::Resolved {
            return Err(IncidentError::AlreadyResolved {
                incident: self.id.clone(),
            });
        }
        let mut effects = vec![Effect::Timeline(TimelineDraft::new(
            self.id.clone(),
            key("resolved".into()),
            now,
            actor.clone(),
            TimelineEntry::IncidentResolved { reason },
        ))];
        let escalation =
            self.stopped_escalation(StopReason::Resolved, &actor, now, &mut effects)?;
        self.escalation = escalation;
        self.status = IncidentStatus::Resolved;
        self.resolved = Some(Resolution {
            at: now,
            by: actor,
            reason,
        });
        Ok(effects)
    }

    /// The escalation state after stopping it (unchanged if there is none), its effects appended.
    fn stopped_escalation(
        &self,
        reason: StopReason,
        actor: &Actor,
        now: Instant,
        effects: &mut Vec<Effect>,
    ) -> Result<Option<EscalationState>, IncidentError> {
        let Some(state) = &self.escalation else {
            return Ok(None);
        };
        match escalation::stop(&self.id, state, reason, actor, now) {
            Ok(transition) => {
                effects.extend(transition.effects);
                Ok(Some(transition.state))
            }
            // Already stopped the same way (ack then resolve reaches here only for Resolved):
            // nothing left to stop.
            Err(EscalationError::AlreadyResolved) => Ok(Some(state.clone())),
            Err(other) => Err(other.into()),
        }
    }

    /// Adds `user` to the assignees (no entry if already assigned).
    pub fn assign(&mut self, user: UserId, actor: Actor, now: Instant) -> Vec<TimelineDraft> {
        if self.assignees.contains(&user) {
            return Vec::new();
        }
        let draft = TimelineDraft::new(
            self.id.clone(),
            key(format!("assigned.{user}")),
            now,
            actor,
            TimelineEntry::IncidentAssigned { user: user.clone() },
        );
        self.assignees.push(user);
        vec![draft]
    }

    /// Records that routing suppressed paging for this incident. Repeating it is a no-op (no
    /// entry); it is refused once paging has started.
    pub fn suppress(
        &mut self,
        reason: SuppressionReason,
        actor: Actor,
        now: Instant,
    ) -> Result<Vec<TimelineDraft>, IncidentError> {
        if let Some(state) = &self.escalation
            && state.status() != EscalationStatus::NotStarted
        {
            return Err(IncidentError::EscalationStarted {
                incident: self.id.clone(),
            });
        }
        if self.suppressed.is_some() {
            return Ok(Vec::new());
        }
        let draft = TimelineDraft::new(
            self.id.clone(),
            key("suppressed".into()),
            now,
            actor,
            TimelineEntry::IncidentSuppressed {
                reason: reason.clone(),
            },
        );
        self.suppressed = Some(Suppression { at: now, reason });
        Ok(vec![draft])
    }

    /// Sets the severity (a routing rule's severity override), recording the change. No-op
    /// (no entry) when the severity is already `severity`.
    pub fn override_severity(
        &mut self,
        severity: Severity,
        actor: Actor,
        now: Instant,
    ) -> Option<TimelineDraft> {
        if severity == self.severity {
            return None;
        }
        let draft = TimelineDraft::new(
            self.id.clone(),
            key(format!("severity.override.{}", severity.as_str())),
            now,
            actor,
            TimelineEntry::IncidentSeverityChanged {
                from: self.severity,
                to: severity,
            },
        );
        self.severity = severity;
        Some(draft)
    }
}
