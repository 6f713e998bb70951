//! Responder actions beyond acknowledge and resolve: snooze, escalate now, reassign, add
//! responders, notes. Each takes a [`RequestToken`] (the caller's idempotency key): a token
//! already applied changes nothing and returns `None`, so a retried request is a no-op; the
//! token also keys the timeline entries, so a re-run after a crash writes the same records.

use super::{EscalationUpdate, Incident, IncidentError, IncidentStatus};
use crate::Instant;
use crate::escalation::{
    self, Effect, EscalationEvent, EscalationPolicy, EscalationState, OnCallResolver, PageRequest,
};
use crate::timeline::{Actor, EntryKey, TimelineDraft, TimelineEntry};
use crate::vocabulary::Target;

/// How many applied request tokens an incident remembers (a retry comes within minutes; older
/// tokens fall out, oldest first).
pub const MAX_REQUESTS_KEPT: usize = 32;

/// The longest note, in characters.
pub const MAX_NOTE_LEN: usize = 4000;

/// A request's idempotency token: 1 to 32 characters of `[A-Za-z0-9_-]` (the API hashes a
/// client's `Idempotency-Key` into one).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestToken(String);

impl RequestToken {
    /// Validates a token.
    pub fn new(value: impl Into<String>) -> Option<Self> {
        let value = value.into();
        let valid = (1..=32).contains(&value.len())
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
        valid.then_some(Self(value))
    }
    /// The token.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Incident {
    /// Whether the request with `token` was applied already.
    pub fn has_applied(&self, token: &RequestToken) -> bool {
        self.requests.iter().any(|t| t == token.as_str())
    }

    fn remember(&mut self, token: &RequestToken) {
        self.requests.push(token.as_str().to_owned());
        if self.requests.len() > MAX_REQUESTS_KEPT {
            let extra = self.requests.len() - MAX_REQUESTS_KEPT;
            self.requests.drain(..extra);
        }
    }

    fn draft(
        &self,
        token: &RequestToken,
        what: &str,
        now: Instant,
        actor: Actor,
        entry: TimelineEntry,
    ) -> TimelineDraft {
        TimelineDraft::new(
            self.id.clone(),
            EntryKey::internal(format!("{what}.{}", token.as_str())),
            now,
            actor,
            entry,
        )
    }

    fn live_escalation(&self) -> Result<&EscalationState, IncidentError> {
        if self.status == IncidentStatus::Resolved {
            return Err(IncidentError::AlreadyResolved {
                incident: self.id.clone(),
            });
        }
        self.escalation
            .as_ref()
            .ok_or_else(|| IncidentError::NoEscalation {
                incident: self.id.clone(),
            })
    }

    /// Applies an escalation transition's state, re-triggering the incident if it pages again.
    fn take(&mut self, state: EscalationState, token: &RequestToken) {
        if state.status() == escalation::EscalationStatus::Active
            && self.status == IncidentStatus::Acknowledged
        {
            self.status = IncidentStatus::Triggered;
            self.acknowledged = None;
        }
        self.escalation = Some(state);
        self.remember(token);
    }

    /// Snoozes an acknowledged incident until `until`: it re-triggers then and pages the tier
    /// it was on, unless it is resolved or acknowledged again first. `None`: already applied.
    pub fn snooze(
        &mut self,
        until: Instant,
        token: &RequestToken,
        actor: Actor,
        now: Instant,
    ) -> Result<Option<Vec<Effect>>, IncidentError> {
        if self.has_applied(token) {
            return Ok(None);
        }
        let state = self.live_escalation()?;
        let transition = escalation::snooze(&self.id, state, until, &actor, now)?;
        self.take(transition.state, token);
        Ok(Some(transition.effects))
    }

    /// Pages the next tier at once (an acknowledged incident re-triggers there).
    pub fn escalate_now(
        &mut self,
        policy: &EscalationPolicy,
        resolver: &dyn OnCallResolver,
        token: &RequestToken,
        actor: Actor,
        now: Instant,
    ) -> Result<Option<EscalationUpdate>, IncidentError> {
        if self.has_applied(token) {
            return Ok(None);
        }
        let state = self.live_escalation()?;
        let event = EscalationEvent::EscalateNow { actor };
        let transition = escalation::step(&self.id, state, &event, policy, resolver, now)?;
        let update = EscalationUpdate {
            outcome: transition.outcome,
            effects: transition.effects,
        };
        self.take(transition.state, token);
        Ok(Some(update))
    }

    /// Reassigns: the escalation restarts at tier 0 of `policy` (for a user or schedule,
    /// [`EscalationPolicy::direct`] with `assigned` set), and an acknowledged incident
    /// re-triggers.
    pub fn reassign(
        &mut self,
        policy: &EscalationPolicy,
        assigned: Option<Target>,
        resolver: &dyn OnCallResolver,
        token: &RequestToken,
        actor: Actor,
        now: Instant,
    ) -> Result<Option<EscalationUpdate>, IncidentError> {
        if self.has_applied(token) {
            return Ok(None);
        }
        let state = self.live_escalation()?;
        let event = EscalationEvent::Reassign { actor, assigned };
        let transition = escalation::step(&self.id, state, &event, policy, resolver, now)?;
        let update = EscalationUpdate {
            outcome: transition.outcome,
            effects: transition.effects,
        };
        self.take(transition.state, token);
        Ok(Some(update))
    }

    /// Pages `targets` now, without changing the escalation (also while acknowledged).
    pub fn add_responders(
        &mut self,
        targets: Vec<Target>,
        token: &RequestToken,
        actor: Actor,
        now: Instant,
    ) -> Result<Option<Vec<Effect>>, IncidentError> {
        if self.has_applied(token) {
            return Ok(None);
        }
        if self.status == IncidentStatus::Resolved {
            return Err(IncidentError::AlreadyResolved {
                incident: self.id.clone(),
            });
        }
        let (policy, round, tier, cycle) = match &self.escalation {
            Some(state) => (
                state.policy().clone(),
                state.round(),
                state.tier(),
                state.cycle(),
            ),
            None => (crate::ids::PolicyId::direct(), 0, 0, 0),
        };
        let page = Effect::Page(PageRequest {
            incident: self.id.clone(),
            policy,
            round,
            tier,
            targets: targets.clone(),
            urgency: self.urgency,
            resolve_at: now,
            cycle,
            responders: Some(token.as_str().to_owned()),
            quiet_hours: false,
        });
        let entry = TimelineEntry::RespondersAdded { targets };
        let draft = self.draft(token, "responders", now, actor, entry);
        self.remember(token);
        Ok(Some(vec![page, Effect::Timeline(draft)]))
    }

    /// Adds a note to the timeline (1 to [`MAX_NOTE_LEN`] characters; also on a resolved
    /// incident, for the post-incident record).
    pub fn add_note(
        &mut self,
        text: &str,
        token: &RequestToken,
        actor: Actor,
        now: Instant,
    ) -> Result<Option<TimelineDraft>, IncidentError> {
        if self.has_applied(token) {
            return Ok(None);
        }
        let text = text.trim();
        if text.is_empty() || text.chars().count() > MAX_NOTE_LEN {
            return Err(IncidentError::BadNote);
        }
        let entry = TimelineEntry::NoteAdded {
            text: text.to_owned(),
        };
        let draft = self.draft(token, "note", now, actor, entry);
        self.remember(token);
        Ok(Some(draft))
    }
}
