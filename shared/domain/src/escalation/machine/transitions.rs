//! How each event moves the state: start, timer fired, stop, and the paging, skipping and
//! exhausting of tiers they share.

use super::{
    Effect, EscalationError, EscalationState, Ignored, OnCallResolver, Outcome, PageRequest,
    Transition,
};
use crate::Instant;
use crate::escalation::TimerKind;
use crate::escalation::{EscalationPolicy, Tier, TimerPayload};
use crate::ids::IncidentId;
use crate::timeline::{Actor, EntryKey, TimelineDraft, TimelineEntry};
use crate::vocabulary::{EscalationStatus, ExhaustedReason, RetriggerReason, StopReason, Urgency};

pub(super) fn ignored(state: &EscalationState, why: Ignored) -> Transition {
    Transition {
        state: state.clone(),
        outcome: Outcome::Ignored(why),
        effects: Vec::new(),
    }
}

/// Collects effects of one applied step and numbers its timeline entries.
pub(super) struct Effects<'a> {
    pub(super) incident: &'a IncidentId,
    version: u64,
    now: Instant,
    pub(super) list: Vec<Effect>,
    timeline_entries: u32,
}

impl<'a> Effects<'a> {
    pub(super) fn new(incident: &'a IncidentId, version: u64, now: Instant) -> Self {
        Self {
            incident,
            version,
            now,
            list: Vec::new(),
            timeline_entries: 0,
        }
    }

    /// Goes on collecting after `transition` (same version, entries numbered after its own).
    pub(super) fn continuing(
        incident: &'a IncidentId,
        transition: &Transition,
        now: Instant,
    ) -> Self {
        let entries = transition
            .effects
            .iter()
            .filter(|effect| matches!(effect, Effect::Timeline(_)))
            .count();
        Self {
            incident,
            version: transition.state.version,
            now,
            list: transition.effects.clone(),
            timeline_entries: u32::try_from(entries).unwrap_or(u32::MAX),
        }
    }

    pub(super) fn timeline(&mut self, actor: Actor, entry: TimelineEntry) {
        // Deterministic per (version, position in the step): a re-run writes the same keys.
        let key = EntryKey::internal(format!(
            "escalation.v{}.{}",
            self.version, self.timeline_entries
        ));
        self.timeline_entries += 1;
        self.list.push(Effect::Timeline(TimelineDraft::new(
            self.incident.clone(),
            key,
            self.now,
            actor,
            entry,
        )));
    }

    pub(super) fn into_transition(self, state: EscalationState) -> Transition {
        Transition {
            state,
            outcome: Outcome::Applied,
            effects: self.list,
        }
    }
}

pub(super) fn bumped(state: &EscalationState) -> Result<EscalationState, EscalationError> {
    let mut next = state.clone();
    next.version = state
        .version
        .checked_add(1)
        .ok_or(EscalationError::VersionOverflow)?;
    Ok(next)
}

fn escalation_actor() -> Actor {
    Actor::system("escalation")
}

pub(super) fn start(
    incident: &IncidentId,
    state: &EscalationState,
    policy: &EscalationPolicy,
    resolver: &dyn OnCallResolver,
    now: Instant,
) -> Result<Transition, EscalationError> {
    match state.status {
        EscalationStatus::NotStarted => {}
        EscalationStatus::Active | EscalationStatus::Exhausted => {
            return Ok(ignored(state, Ignored::AlreadyStarted));
        }
        EscalationStatus::Acknowledged | EscalationStatus::Resolved => {
            return Ok(ignored(state, Ignored::AlreadyStopped));
        }
    }
    let mut next = bumped(state)?;
    let mut effects = Effects::new(incident, next.version, now);
    page_first_available(&mut next, &mut effects, policy, resolver, now, 0, 0)?;
    Ok(effects.into_transition(next))
}

pub(super) fn timer_fired(
    incident: &IncidentId,
    state: &EscalationState,
    payload: &TimerPayload,
    policy: &EscalationPolicy,
    resolver: &dyn OnCallResolver,
    now: Instant,
) -> Result<Transition, EscalationError> {
    if &payload.incident != incident {
        return Err(EscalationError::WrongIncident {
            incident: incident.clone(),
            payload: payload.incident.clone(),
        });
    }
    // The version is the authority, not the time: the scheduler may fire a little early or
    // late, and the sweep fires overdue timers itself. A version ahead of the state's was
    // armed by a write that has not committed yet: not stale, only early.
    if payload.version > state.version {
        return Ok(ignored(state, Ignored::NotYetCommitted));
    }
    if state.armed_timer(incident).as_ref() != Some(payload) {
        return Ok(ignored(state, Ignored::StaleTimer));
    }
    let mut next = bumped(state)?;
    let mut effects = Effects::new(incident, next.version, now);
    let reason = match payload.kind {
        TimerKind::Tier => None,
        TimerKind::Snooze => Some(RetriggerReason::SnoozeEnded),
        TimerKind::AckTimeout => Some(RetriggerReason::AckTimeout),
        // Handled by routing beside the machine; never the state's armed timer.
        TimerKind::QuietHoursEnd => return Ok(ignored(state, Ignored::StaleTimer)),
    };
    if let Some(reason) = reason {
        // Re-trigger: page the tier it was on again, in a new cycle (new page keys).
        retrigger(&mut next, &mut effects, reason, Actor::system("timer"))?;
        let (round, tier) = (u64::from(state.round), u64::from(state.tier));
        page_first_available(&mut next, &mut effects, policy, resolver, now, round, tier)?;
        return Ok(effects.into_transition(next));
    }
    let after = u64::from(state.tier) + 1;
    page_first_available(
        &mut next,
        &mut effects,
        policy,
        resolver,
        now,
        u64::from(state.round),
        after,
    )?;
    Ok(effects.into_transition(next))
}

/// Stops an escalation for an acknowledge or resolve. Needs no policy: used by [`step`] and by
/// the incident lifecycle.
pub(crate) fn stop(
    incident: &IncidentId,
    state: &EscalationState,
    reason: StopReason,
    actor: &Actor,
    now: Instant,
) -> Result<Transition, EscalationError> {
    match (state.status, reason) {
        (EscalationStatus::Resolved, _) => return Err(EscalationError::AlreadyResolved),
        (EscalationStatus::Acknowledged, StopReason::Acknowledged) => {
            return Err(EscalationError::AlreadyAcknowledged);
        }
        _ => {}
    }
    let mut next = bumped(state)?;
    next.status = match reason {
        StopReason::Acknowledged => EscalationStatus::Acknowledged,
        StopReason::Resolved => EscalationStatus::Resolved,
    };
    next.timer = None;
    next.timer_kind = TimerKind::Tier;
    next.next_due = None;
    let mut effects = Effects::new(incident, next.version, now);
    if let Some(name) = &state.timer {
        effects
            .list
            .push(Effect::CancelTimer { name: name.clone() });
    }
    // Only a live escalation gets a "stopped" entry; after an ack or exhaustion nothing was
    // going to page anyway and the incident's own entry tells the story.
    if matches!(
        state.status,
        EscalationStatus::NotStarted | EscalationStatus::Active
    ) {
        effects.timeline(
            actor.clone(),
            TimelineEntry::EscalationStopped {
                policy: state.policy.clone(),
                reason,
                previous: state.status,
                round: state.round,
                tier: state.tier,
            },
        );
    }
    Ok(effects.into_transition(next))
}

fn nobody_on_call(tier: &Tier, resolver: &dyn OnCallResolver, now: Instant) -> bool {
    tier.targets
        .iter()
        .all(|target| resolver.users_for(target, now).is_empty())
}

/// Pages the first tier at or after (`round`, `tier`) that has someone on call, skipping empty
/// tiers with a timeline entry each, or marks the escalation exhausted. Positions are `u64` so
/// that "one past the last" never overflows.
pub(super) fn page_first_available(
    next: &mut EscalationState,
    effects: &mut Effects<'_>,
    policy: &EscalationPolicy,
    resolver: &dyn OnCallResolver,
    now: Instant,
    mut round: u64,
    mut tier: u64,
) -> Result<(), EscalationError> {
    next.timer = None;
    next.timer_kind = TimerKind::Tier;
    next.next_due = None;
    if policy.tiers.is_empty() {
        exhaust(next, effects, ExhaustedReason::NoTiers);
        return Ok(());
    }
    let (tiers_per_round, last_round) = match next.urgency {
        Urgency::Low => (1, 0),
        Urgency::High => (policy.tiers.len() as u64, u64::from(policy.repeat)),
    };
    // Terminates: every pass either pages and returns, or skips a tier (at most
    // `tiers_per_round` times in a row before exhausting), or moves to the next round (which
    // needs a skip or an index past the end first).
    let mut skipped_in_a_row = 0u64;
    loop {
        if tier >= tiers_per_round {
            round += 1;
            tier = 0;
        }
        if skipped_in_a_row >= tiers_per_round {
            exhaust(next, effects, ExhaustedReason::NobodyOnCall);
            return Ok(());
        }
        let Some((round32, tier32, spec)) = tier_at(policy, round, tier, last_round) else {
            exhaust(next, effects, ExhaustedReason::RoundsCompleted);
            return Ok(());
        };
        next.round = round32;
        next.tier = tier32;
        if nobody_on_call(spec, resolver, now) {
            effects.timeline(
                escalation_actor(),
                TimelineEntry::TierSkipped {
                    policy: policy.id.clone(),
                    round: round32,
                    tier: tier32,
                    targets: spec.targets.clone(),
                },
            );
            skipped_in_a_row += 1;
            tier += 1;
            continue;
        }
        next.status = EscalationStatus::Active;
        effects.list.push(Effect::Page(PageRequest {
            incident: effects.incident.clone(),
            policy: policy.id.clone(),
            round: round32,
            tier: tier32,
            targets: spec.targets.clone(),
            urgency: next.urgency,
            resolve_at: now,
            cycle: next.cycle,
            responders: None,
            quiet_hours: false,
        }));
        let escalates_at = arm_escalation_timer(next, effects, spec, round32, tier32, now)?;
        effects.timeline(
            escalation_actor(),
            TimelineEntry::TierPaged {
                policy: policy.id.clone(),
                round: round32,
                tier: tier32,
                targets: spec.targets.clone(),
                urgency: next.urgency,
                escalates_at,
            },
        );
        return Ok(());
    }
}

/// For high urgency, arms the timer that escalates past the tier just paged and returns when it
/// fires; low urgency arms nothing (it waits for a human).
fn arm_escalation_timer(
    next: &mut EscalationState,
    effects: &mut Effects<'_>,
    spec: &Tier,
    round: u32,
    tier: u32,
    now: Instant,
) -> Result<Option<Instant>, EscalationError> {
    Ok(match next.urgency {
        Urgency::Low => None,
        Urgency::High => {
            let due = chrono::TimeDelta::try_seconds(spec.delay.as_secs())
                .and_then(|delay| now.checked_add_signed(delay))
                .ok_or(EscalationError::DelayOutOfRange {
                    tier,
                    delay: spec.delay,
                })?;
            let payload = TimerPayload {
                cycle: next.cycle,
                ..TimerPayload::tier(effects.incident.clone(), round, tier, next.version)
            };
            let name = payload.timer_name();
            next.timer = Some(name.clone());
            next.next_due = Some(due);
            effects.list.push(Effect::ArmTimer { name, due, payload });
            Some(due)
        }
    })
}

/// The tier at (`round`, `tier`), if that position exists in the run (within `last_round`).
fn tier_at(
    policy: &EscalationPolicy,
    round: u64,
    tier: u64,
    last_round: u64,
) -> Option<(u32, u32, &Tier)> {
    if round > last_round {
        return None;
    }
    let spec = policy.tiers.get(usize::try_from(tier).ok()?)?;
    Some((u32::try_from(round).ok()?, u32::try_from(tier).ok()?, spec))
}

fn exhaust(next: &mut EscalationState, effects: &mut Effects<'_>, reason: ExhaustedReason) {
    next.status = EscalationStatus::Exhausted;
    next.timer = None;
    next.timer_kind = TimerKind::Tier;
    next.next_due = None;
    effects.timeline(
        escalation_actor(),
        TimelineEntry::EscalationExhausted {
            policy: next.policy.clone(),
            reason,
        },
    );
}

/// Starts a new cycle (page keys and timer names change) with its timeline entry; the caller
/// pages next (and cancels an armed timer first where one may be armed).
pub(super) fn retrigger(
    next: &mut EscalationState,
    effects: &mut Effects<'_>,
    reason: RetriggerReason,
    actor: Actor,
) -> Result<(), EscalationError> {
    next.cycle = next
        .cycle
        .checked_add(1)
        .ok_or(EscalationError::VersionOverflow)?;
    effects.timeline(
        actor,
        TimelineEntry::IncidentRetriggered {
            reason,
            round: next.round,
            tier: next.tier,
        },
    );
    Ok(())
}
