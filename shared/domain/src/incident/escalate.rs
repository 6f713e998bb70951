//! Driving the incident's embedded escalation: starting it with routing's policy and firing its
//! timers.

use super::{EscalationUpdate, Incident, IncidentError, IncidentStatus};
use crate::Instant;
use crate::escalation::{
    self, EscalationEvent, EscalationPolicy, EscalationState, EscalationStatus, Ignored,
    OnCallResolver, Outcome, TimerPayload,
};
use crate::vocabulary::Urgency;

impl Incident {
    /// Starts escalating with `policy` at `urgency` (routing's decision; sets the incident's
    /// urgency). A redelivered start is ignored, and so is a start after the incident was
    /// acknowledged or resolved. Refused on a suppressed incident.
    pub fn start_escalation(
        &mut self,
        policy: &EscalationPolicy,
        urgency: Urgency,
        resolver: &dyn OnCallResolver,
        now: Instant,
    ) -> Result<EscalationUpdate, IncidentError> {
        if self.suppressed.is_some() {
            return Err(IncidentError::Suppressed {
                incident: self.id.clone(),
            });
        }
        let ignored = |why| {
            Ok(EscalationUpdate {
                outcome: Outcome::Ignored(why),
                effects: Vec::new(),
            })
        };
        // A redelivered start is ignored whatever policy routing picks this time: the
        // escalation keeps the policy it started with.
        let state = match &self.escalation {
            Some(state) => match state.status() {
                EscalationStatus::NotStarted => state.clone(),
                EscalationStatus::Active | EscalationStatus::Exhausted => {
                    return ignored(Ignored::AlreadyStarted);
                }
                EscalationStatus::Acknowledged | EscalationStatus::Resolved => {
                    return ignored(Ignored::AlreadyStopped);
                }
            },
            None if self.status != IncidentStatus::Triggered => {
                return ignored(Ignored::AlreadyStopped);
            }
            None => EscalationState::new(policy.id.clone(), urgency),
        };
        let transition = escalation::step(
            &self.id,
            &state,
            &EscalationEvent::Start,
            policy,
            resolver,
            now,
        )?;
        if transition.is_applied() {
            self.urgency = urgency;
            self.escalation = Some(transition.state);
        }
        Ok(EscalationUpdate {
            outcome: transition.outcome,
            effects: transition.effects,
        })
    }

    /// Delivers a fired (or swept) timer to the escalation. Pass the policy the escalation runs
    /// ([`EscalationState::policy`]), not whatever routing would pick today.
    pub fn fire_timer(
        &mut self,
        payload: &TimerPayload,
        policy: &EscalationPolicy,
        resolver: &dyn OnCallResolver,
        now: Instant,
    ) -> Result<EscalationUpdate, IncidentError> {
        let Some(state) = &self.escalation else {
            // Escalation starts in the write that arms the first timer: until that write
            // commits, its timer is early, not stale.
            return Ok(EscalationUpdate {
                outcome: Outcome::Ignored(Ignored::NotYetCommitted),
                effects: Vec::new(),
            });
        };
        let transition = escalation::step(
            &self.id,
            state,
            &EscalationEvent::TimerFired(payload.clone()),
            policy,
            resolver,
            now,
        )?;
        // A snooze or acknowledgement timeout that fired re-triggers the incident.
        if transition.is_applied()
            && transition.state.status() == EscalationStatus::Active
            && self.status == IncidentStatus::Acknowledged
        {
            self.status = IncidentStatus::Triggered;
            self.acknowledged = None;
        }
        self.escalation = Some(transition.state);
        Ok(EscalationUpdate {
            outcome: transition.outcome,
            effects: transition.effects,
        })
    }
}
