//! The escalation state machine: `(state, event, policy, resolver, now) -> (state, effects)`.

use super::{EscalationPolicy, TimerKind, TimerName, TimerPayload};
use crate::Instant;
use crate::duration::HumanDuration;
use crate::ids::{IncidentId, PolicyId, UserId};
use crate::timeline::{Actor, TimelineDraft};
use crate::user::Channel;
use crate::vocabulary::{EscalationStatus, StopReason, Target, Urgency};
use serde::{Deserialize, Serialize};

mod actions;
mod transitions;

pub(crate) use actions::{acknowledge_with_timeout, end_snooze, snooze};
use actions::{escalate_now, reassign};
pub(crate) use transitions::stop;
use transitions::{start, timer_fired};

/// Who is on call for a target at an instant. Implemented over schedules and overrides by the
/// caller; the machine only asks whether a tier has anyone to page.
pub trait OnCallResolver {
    /// The users `target` pages at `at` (empty when nobody is on call).
    fn users_for(&self, target: &Target, at: Instant) -> Vec<UserId>;
}

/// The escalation state of one incident. Persisted with the incident; read `version` for
/// optimistic locking and `next_due` for the overdue-timer sweep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationState {
    policy: PolicyId,
    urgency: Urgency,
    status: EscalationStatus,
    round: u32,
    tier: u32,
    version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next_due: Option<Instant>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    timer: Option<TimerName>,
    /// What the armed timer is for.
    #[serde(default, skip_serializing_if = "TimerKind::is_tier")]
    timer_kind: TimerKind,
    /// How many times the incident re-triggered (snooze end, acknowledgement timeout,
    /// reassignment, escalate-now after an ack): part of page keys and timer names after the
    /// first, so a re-triggered tier pages again exactly once.
    #[serde(default, skip_serializing_if = "is_zero")]
    cycle: u32,
    /// The user or schedule the incident was reassigned to directly (instead of a policy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    assigned: Option<Target>,
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

impl EscalationState {
    /// A not-yet-started escalation of `policy` at `urgency` (version 0).
    pub fn new(policy: PolicyId, urgency: Urgency) -> Self {
        Self {
            policy,
            urgency,
            status: EscalationStatus::NotStarted,
            round: 0,
            tier: 0,
            version: 0,
            next_due: None,
            timer: None,
            timer_kind: TimerKind::Tier,
            cycle: 0,
            assigned: None,
        }
    }
    /// The policy being run.
    pub fn policy(&self) -> &PolicyId {
        &self.policy
    }
    /// The urgency of the pages.
    pub fn urgency(&self) -> Urgency {
        self.urgency
    }
    /// Where the escalation is.
    pub fn status(&self) -> EscalationStatus {
        self.status
    }
    /// The current round (0 = first run through the tiers).
    pub fn round(&self) -> u32 {
        self.round
    }
    /// The current tier index: the last tier paged (or, once exhausted, the last one considered).
    pub fn tier(&self) -> u32 {
        self.tier
    }
    /// Incremented by every applied step.
    pub fn version(&self) -> u64 {
        self.version
    }
    /// When the armed timer is due, if one is armed.
    pub fn next_due(&self) -> Option<Instant> {
        self.next_due
    }
    /// The armed timer, if any.
    pub fn timer(&self) -> Option<&TimerName> {
        self.timer.as_ref()
    }
    /// What the armed timer is for (meaningful while [`EscalationState::timer`] is set).
    pub fn timer_kind(&self) -> TimerKind {
        self.timer_kind
    }
    /// How many times the incident re-triggered.
    pub fn cycle(&self) -> u32 {
        self.cycle
    }
    /// The user or schedule the incident was reassigned to, when it was reassigned to one
    /// directly: the escalation then runs [`EscalationPolicy::direct`] for it.
    pub fn assigned(&self) -> Option<&Target> {
        self.assigned.as_ref()
    }
    /// Whether a snooze is running (acknowledged, with a snooze timer armed).
    pub fn is_snoozed(&self) -> bool {
        self.timer.is_some()
            && self.timer_kind == TimerKind::Snooze
            && self.status == EscalationStatus::Acknowledged
    }

    /// The payload of the armed timer, exactly as [`step`] put it in its `ArmTimer` effect. A
    /// tier timer belongs to an active escalation; a snooze or acknowledgement-timeout timer to
    /// an acknowledged one.
    pub fn armed_timer(&self, incident: &IncidentId) -> Option<TimerPayload> {
        self.timer.as_ref()?;
        let live = match self.timer_kind {
            TimerKind::Tier => EscalationStatus::Active,
            TimerKind::Snooze | TimerKind::AckTimeout => EscalationStatus::Acknowledged,
            // Never the escalation's own timer.
            TimerKind::QuietHoursEnd => return None,
        };
        (self.status == live).then(|| TimerPayload {
            incident: incident.clone(),
            round: self.round,
            tier: self.tier,
            version: self.version,
            kind: self.timer_kind,
            cycle: self.cycle,
        })
    }

    /// The armed timer's payload if it was due at or before `cutoff`. The recovery sweep passes
    /// `now` minus a grace period (scheduler precision is 60 s) and delivers the payload to
    /// [`step`] itself; if the real timer also fires, whichever comes second is stale.
    pub fn overdue_timer(&self, incident: &IncidentId, cutoff: Instant) -> Option<TimerPayload> {
        match self.next_due {
            Some(due) if due <= cutoff => self.armed_timer(incident),
            _ => None,
        }
    }
}

/// Something that happens to an escalation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EscalationEvent {
    /// Routing chose the policy: page the first tier.
    Start,
    /// A timer fired (or the sweep found it overdue).
    TimerFired(TimerPayload),
    /// Someone acknowledged the incident.
    Acknowledge {
        /// Who.
        actor: Actor,
    },
    /// The incident was resolved.
    Resolve {
        /// Who (or which integration).
        actor: Actor,
    },
    /// Someone asked for the next tier at once (an acknowledged incident re-triggers there).
    EscalateNow {
        /// Who.
        actor: Actor,
    },
    /// The incident was reassigned: the escalation restarts at tier 0 of the policy passed to
    /// [`step`] (for a user or schedule, [`EscalationPolicy::direct`] with `assigned` set).
    Reassign {
        /// Who.
        actor: Actor,
        /// The user or schedule reassigned to directly; `None` for another policy.
        assigned: Option<Target>,
    },
}

/// Page one tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRequest {
    /// The incident.
    pub incident: IncidentId,
    /// The policy.
    pub policy: PolicyId,
    /// The round.
    pub round: u32,
    /// The tier index.
    pub tier: u32,
    /// The tier's targets.
    pub targets: Vec<Target>,
    /// The urgency (which contact methods to use).
    pub urgency: Urgency,
    /// The instant the machine saw someone on call: resolve the targets at this instant, so a
    /// redelivered page reaches the same people even across a hand-off.
    pub resolve_at: Instant,
    /// The escalation's re-trigger cycle (0 when absent).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cycle: u32,
    /// For responders added by hand: the request's token. Such a page goes out while the
    /// incident is acknowledged too (only resolved stops it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub responders: Option<String>,
    /// Routing planned quiet hours for this low-urgency page (it armed the timer that pages
    /// again when they end), so notify holds it for users in quiet hours
    /// ([`crate::quiet`]). Pages without it (asked for by hand, or queued before quiet hours
    /// existed) go out at once.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub quiet_hours: bool,
}

impl PageRequest {
    /// The key that makes one (incident, round, tier, user, channel) page exactly once:
    /// `{incident}/r{round}/t{tier}/{user}/{channel}` in the first cycle,
    /// `{incident}/c{cycle}/r{round}/t{tier}/...` after a re-trigger, and
    /// `{incident}/add.{token}/...` for added responders.
    pub fn dedup_key(&self, user: &UserId, channel: Channel) -> String {
        if let Some(token) = &self.responders {
            return format!("{}/add.{token}/{user}/{channel}", self.incident);
        }
        match self.cycle {
            0 => format!(
                "{}/r{}/t{}/{}/{}",
                self.incident, self.round, self.tier, user, channel
            ),
            cycle => format!(
                "{}/c{cycle}/r{}/t{}/{}/{}",
                self.incident, self.round, self.tier, user, channel
            ),
        }
    }
}

/// Something the caller must do for a step. When: escalation steps (start, timer fired) run
/// their page and timer effects *before* committing the new state, and commit the timeline
/// entries with it, so nothing is committed without its pages queued (every effect is
/// idempotent, so a retry after a failed commit repeats them harmlessly). Stopping steps
/// (acknowledge, resolve) commit first and cancel the timer after: a surviving timer fires
/// into a stopped escalation and is ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Effect {
    /// Send pages to everyone on call for a tier.
    Page(PageRequest),
    /// Create the one-shot timer `name` firing at `due` with `payload` as its input.
    ArmTimer {
        /// Deterministic name; creating it twice is a conflict to treat as success.
        name: TimerName,
        /// When it fires.
        due: Instant,
        /// What it delivers.
        payload: TimerPayload,
    },
    /// Delete the timer `name` (missing is fine: it may have fired already).
    CancelTimer {
        /// The timer.
        name: TimerName,
    },
    /// Append a timeline entry.
    Timeline(TimelineDraft),
}

/// Why a step changed nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ignored {
    /// A timer whose `(round, tier, version)` is not the current state's (a duplicate, a late
    /// timer after the escalation moved on, or one that fired after an ack or resolve), or a
    /// timer when nothing is armed.
    StaleTimer,
    /// `Start` on an escalation that already started (a redelivered message).
    AlreadyStarted,
    /// `Start` on an escalation acknowledged or resolved before it started.
    AlreadyStopped,
    /// A timer whose version is ahead of the state's: the write that armed it has not
    /// committed yet (timers are armed before the commit, so a short timer can fire first).
    /// The caller retries it later instead of dropping it; a timer whose arming write never
    /// commits stays ahead and ends in the dead-letter queue after the queue's last attempt.
    NotYetCommitted,
}

/// Whether a step did anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The state changed (its version was incremented).
    Applied,
    /// Nothing changed and there are no effects; worth a log line.
    Ignored(Ignored),
}

/// The result of a step.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// The new state (equal to the old one when ignored).
    pub state: EscalationState,
    /// Applied or ignored.
    pub outcome: Outcome,
    /// What to do, in order.
    pub effects: Vec<Effect>,
}

impl Transition {
    /// Whether the state changed.
    pub fn is_applied(&self) -> bool {
        self.outcome == Outcome::Applied
    }
}

/// A step that cannot be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EscalationError {
    /// The policy passed is not the one the escalation runs.
    #[error("policy: the escalation runs policy {running:?}, but policy {given:?} was passed")]
    PolicyMismatch {
        /// The policy in the state.
        running: PolicyId,
        /// The policy passed in.
        given: PolicyId,
    },
    /// The timer payload belongs to another incident.
    #[error("incident: the timer payload is for incident {payload}, not {incident}")]
    WrongIncident {
        /// The incident stepped.
        incident: IncidentId,
        /// The incident in the payload.
        payload: IncidentId,
    },
    /// Acknowledge on an acknowledged escalation (callers may treat it as success).
    #[error("the incident is already acknowledged")]
    AlreadyAcknowledged,
    /// Acknowledge or resolve on a resolved escalation (a repeated resolve may be treated as
    /// success; an acknowledge after resolve is a conflict).
    #[error("the incident is already resolved")]
    AlreadyResolved,
    /// A tier's delay added to now leaves the representable time range.
    #[error("policy.tiers[{tier}].delay: {delay} after now is out of range")]
    DelayOutOfRange {
        /// The tier index.
        tier: u32,
        /// Its delay.
        delay: HumanDuration,
    },
    /// The version counter cannot be incremented any more.
    #[error("version: the escalation state's version cannot be incremented")]
    VersionOverflow,
    /// Snooze asked for on an escalation that is not acknowledged.
    #[error("only an acknowledged incident can be snoozed (the escalation is {0:?})")]
    NotAcknowledged(EscalationStatus),
    /// Escalate-now asked for when there is no running or acknowledged escalation.
    #[error("there is no escalation to advance (the escalation is {0:?})")]
    NotEscalating(EscalationStatus),
    /// A snooze or acknowledgement timeout that ends before now or out of range.
    #[error("{field}: must end after now")]
    BadDeadline {
        /// The field (`until`, `ack_timeout`).
        field: &'static str,
    },
}

/// Computes the next state and effects. Pure and deterministic: the same inputs always give the
/// same output, including timer names, payloads and timeline keys.
pub fn step(
    incident: &IncidentId,
    state: &EscalationState,
    event: &EscalationEvent,
    policy: &EscalationPolicy,
    resolver: &dyn OnCallResolver,
    now: Instant,
) -> Result<Transition, EscalationError> {
    let reassigning = matches!(event, EscalationEvent::Reassign { .. });
    if policy.id != state.policy && !reassigning {
        return Err(EscalationError::PolicyMismatch {
            running: state.policy.clone(),
            given: policy.id.clone(),
        });
    }
    match event {
        EscalationEvent::Start => start(incident, state, policy, resolver, now),
        EscalationEvent::TimerFired(payload) => {
            timer_fired(incident, state, payload, policy, resolver, now)
        }
        EscalationEvent::Acknowledge { actor } => {
            stop(incident, state, StopReason::Acknowledged, actor, now)
        }
        EscalationEvent::Resolve { actor } => {
            stop(incident, state, StopReason::Resolved, actor, now)
        }
        EscalationEvent::EscalateNow { actor } => {
            escalate_now(incident, state, policy, resolver, actor, now)
        }
        EscalationEvent::Reassign { actor, assigned } => {
            reassign(incident, state, policy, assigned, resolver, actor, now)
        }
    }
}

#[cfg(test)]
mod tests;
