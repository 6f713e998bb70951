//! What responders do to a running or acknowledged escalation besides stopping it: snooze,
//! the acknowledgement timeout, escalate now, reassign. Each bumps the version, so a timer the
//! previous state armed is stale from then on, and cancels it by name.

use super::transitions::{Effects, bumped, page_first_available, retrigger, stop};
use super::{Effect, EscalationError, EscalationState, OnCallResolver, Transition};
use crate::Instant;
use crate::duration::HumanDuration;
use crate::escalation::{EscalationPolicy, TimerKind, TimerPayload};
use crate::ids::IncidentId;
use crate::timeline::{Actor, TimelineEntry};
use crate::vocabulary::{EscalationStatus, RetriggerReason, StopReason, Target};

/// Cancels the armed timer (if any) and forgets it.
fn disarm(next: &mut EscalationState, effects: &mut Effects<'_>) {
    if let Some(name) = next.timer.take() {
        effects.list.push(Effect::CancelTimer { name });
    }
    next.timer_kind = TimerKind::Tier;
    next.next_due = None;
}

/// Arms a snooze or acknowledgement-timeout timer on an acknowledged state.
fn arm_wake(next: &mut EscalationState, effects: &mut Effects<'_>, kind: TimerKind, due: Instant) {
    let payload = TimerPayload {
        kind,
        cycle: next.cycle,
        ..TimerPayload::tier(
            effects.incident.clone(),
            next.round,
            next.tier,
            next.version,
        )
    };
    let name = payload.timer_name();
    next.timer = Some(name.clone());
    next.timer_kind = kind;
    next.next_due = Some(due);
    effects.list.push(Effect::ArmTimer { name, due, payload });
}

fn after(
    now: Instant,
    duration: HumanDuration,
    field: &'static str,
) -> Result<Instant, EscalationError> {
    chrono::TimeDelta::try_seconds(duration.as_secs())
        .filter(|delta| *delta > chrono::TimeDelta::zero())
        .and_then(|delta| now.checked_add_signed(delta))
        .ok_or(EscalationError::BadDeadline { field })
}

/// Acknowledges (see [`stop`]) and, with `timeout`, arms the acknowledgement-timeout timer: the
/// incident re-triggers once at `now + timeout` unless it is resolved first.
pub(crate) fn acknowledge_with_timeout(
    incident: &IncidentId,
    state: &EscalationState,
    actor: &Actor,
    timeout: Option<HumanDuration>,
    now: Instant,
) -> Result<Transition, EscalationError> {
    let mut transition = stop(incident, state, StopReason::Acknowledged, actor, now)?;
    if let Some(timeout) = timeout {
        let due = after(now, timeout, "ack_timeout")?;
        let mut effects = Effects::continuing(incident, &transition, now);
        arm_wake(
            &mut transition.state,
            &mut effects,
            TimerKind::AckTimeout,
            due,
        );
        effects.timeline(
            Actor::system("escalation"),
            TimelineEntry::AckTimeoutArmed { at: due },
        );
        transition.effects = effects.list;
    }
    Ok(transition)
}

/// A new acknowledgement of a snoozed incident: the snooze is cancelled (and, with `timeout`,
/// the acknowledgement timeout is armed afresh).
pub(crate) fn end_snooze(
    incident: &IncidentId,
    state: &EscalationState,
    actor: &Actor,
    timeout: Option<HumanDuration>,
    now: Instant,
) -> Result<Transition, EscalationError> {
    if !state.is_snoozed() {
        return Err(EscalationError::AlreadyAcknowledged);
    }
    let mut next = bumped(state)?;
    let mut effects = Effects::new(incident, next.version, now);
    disarm(&mut next, &mut effects);
    effects.timeline(actor.clone(), TimelineEntry::SnoozeCancelled {});
    if let Some(timeout) = timeout {
        let due = after(now, timeout, "ack_timeout")?;
        arm_wake(&mut next, &mut effects, TimerKind::AckTimeout, due);
        effects.timeline(
            Actor::system("escalation"),
            TimelineEntry::AckTimeoutArmed { at: due },
        );
    }
    Ok(effects.into_transition(next))
}

/// Snoozes an acknowledged escalation until `until`: the armed timer (acknowledgement timeout
/// or an earlier snooze) is replaced by a snooze timer; when it fires the incident re-triggers
/// and pages the tier it was on.
pub(crate) fn snooze(
    incident: &IncidentId,
    state: &EscalationState,
    until: Instant,
    actor: &Actor,
    now: Instant,
) -> Result<Transition, EscalationError> {
    if state.status != EscalationStatus::Acknowledged {
        return Err(EscalationError::NotAcknowledged(state.status));
    }
    if until <= now {
        return Err(EscalationError::BadDeadline { field: "until" });
    }
    let mut next = bumped(state)?;
    let mut effects = Effects::new(incident, next.version, now);
    disarm(&mut next, &mut effects);
    arm_wake(&mut next, &mut effects, TimerKind::Snooze, until);
    effects.timeline(actor.clone(), TimelineEntry::IncidentSnoozed { until });
    Ok(effects.into_transition(next))
}

/// Pages the next tier at once. An active escalation moves on (its tier timer cancelled); an
/// acknowledged one re-triggers there in a new cycle.
pub(super) fn escalate_now(
    incident: &IncidentId,
    state: &EscalationState,
    policy: &EscalationPolicy,
    resolver: &dyn OnCallResolver,
    actor: &Actor,
    now: Instant,
) -> Result<Transition, EscalationError> {
    let acknowledged = match state.status {
        EscalationStatus::Active => false,
        EscalationStatus::Acknowledged => true,
        other => return Err(EscalationError::NotEscalating(other)),
    };
    let mut next = bumped(state)?;
    let mut effects = Effects::new(incident, next.version, now);
    disarm(&mut next, &mut effects);
    effects.timeline(
        actor.clone(),
        TimelineEntry::EscalatedByHand {
            round: state.round,
            tier: state.tier,
        },
    );
    if acknowledged {
        retrigger(
            &mut next,
            &mut effects,
            RetriggerReason::EscalatedByHand,
            actor.clone(),
        )?;
    }
    let (round, tier) = (u64::from(state.round), u64::from(state.tier) + 1);
    page_first_available(&mut next, &mut effects, policy, resolver, now, round, tier)?;
    Ok(effects.into_transition(next))
}

/// Restarts the escalation at tier 0 of `policy` (a new cycle), cancelling the armed timer.
pub(super) fn reassign(
    incident: &IncidentId,
    state: &EscalationState,
    policy: &EscalationPolicy,
    assigned: &Option<Target>,
    resolver: &dyn OnCallResolver,
    actor: &Actor,
    now: Instant,
) -> Result<Transition, EscalationError> {
    if state.status == EscalationStatus::Resolved {
        return Err(EscalationError::AlreadyResolved);
    }
    let mut next = bumped(state)?;
    let mut effects = Effects::new(incident, next.version, now);
    disarm(&mut next, &mut effects);
    next.policy = policy.id.clone();
    next.assigned = assigned.clone();
    next.round = 0;
    next.tier = 0;
    effects.timeline(
        actor.clone(),
        TimelineEntry::IncidentReassigned {
            policy: policy.id.clone(),
            target: assigned.clone(),
        },
    );
    retrigger(
        &mut next,
        &mut effects,
        RetriggerReason::Reassigned,
        actor.clone(),
    )?;
    page_first_available(&mut next, &mut effects, policy, resolver, now, 0, 0)?;
    Ok(effects.into_transition(next))
}
