//! The escalation state machine: `(state, event, policy, resolver, now) -> (state, effects)`.

use super::{EscalationPolicy, Tier, TimerName, TimerPayload};
use crate::Instant;
use crate::duration::HumanDuration;
use crate::ids::{IncidentId, PolicyId, UserId};
use crate::timeline::{Actor, EntryKey, TimelineDraft, TimelineEntry};
use crate::user::Channel;
use crate::vocabulary::{EscalationStatus, ExhaustedReason, StopReason, Target, Urgency};
use serde::{Deserialize, Serialize};

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

    /// The payload of the armed timer, exactly as [`step`] put it in its `ArmTimer` effect.
    pub fn armed_timer(&self, incident: &IncidentId) -> Option<TimerPayload> {
        self.timer.as_ref()?;
        (self.status == EscalationStatus::Active).then(|| TimerPayload {
            incident: incident.clone(),
            round: self.round,
            tier: self.tier,
            version: self.version,
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
}

impl PageRequest {
    /// The key that makes one (incident, round, tier, user, channel) page exactly once.
    pub fn dedup_key(&self, user: &UserId, channel: Channel) -> String {
        format!(
            "{}/r{}/t{}/{}/{}",
            self.incident, self.round, self.tier, user, channel
        )
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
    if policy.id != state.policy {
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
    }
}

fn ignored(state: &EscalationState, why: Ignored) -> Transition {
    Transition {
        state: state.clone(),
        outcome: Outcome::Ignored(why),
        effects: Vec::new(),
    }
}

/// Collects effects of one applied step and numbers its timeline entries.
struct Effects<'a> {
    incident: &'a IncidentId,
    version: u64,
    now: Instant,
    list: Vec<Effect>,
    timeline_entries: u32,
}

impl<'a> Effects<'a> {
    fn new(incident: &'a IncidentId, version: u64, now: Instant) -> Self {
        Self {
            incident,
            version,
            now,
            list: Vec::new(),
            timeline_entries: 0,
        }
    }

    fn timeline(&mut self, actor: Actor, entry: TimelineEntry) {
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

    fn into_transition(self, state: EscalationState) -> Transition {
        Transition {
            state,
            outcome: Outcome::Applied,
            effects: self.list,
        }
    }
}

fn bumped(state: &EscalationState) -> Result<EscalationState, EscalationError> {
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

fn start(
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

fn timer_fired(
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
    // late, and the sweep fires overdue timers itself.
    if state.armed_timer(incident).as_ref() != Some(payload) {
        return Ok(ignored(state, Ignored::StaleTimer));
    }
    let mut next = bumped(state)?;
    let mut effects = Effects::new(incident, next.version, now);
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
fn page_first_available(
    next: &mut EscalationState,
    effects: &mut Effects<'_>,
    policy: &EscalationPolicy,
    resolver: &dyn OnCallResolver,
    now: Instant,
    mut round: u64,
    mut tier: u64,
) -> Result<(), EscalationError> {
    next.timer = None;
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
        }));
        let escalates_at = match next.urgency {
            Urgency::Low => None,
            Urgency::High => {
                let due = chrono::TimeDelta::try_seconds(spec.delay.as_secs())
                    .and_then(|delay| now.checked_add_signed(delay))
                    .ok_or(EscalationError::DelayOutOfRange {
                        tier: tier32,
                        delay: spec.delay,
                    })?;
                let payload = TimerPayload {
                    incident: effects.incident.clone(),
                    round: round32,
                    tier: tier32,
                    version: next.version,
                };
                let name = payload.timer_name();
                next.timer = Some(name.clone());
                next.next_due = Some(due);
                effects.list.push(Effect::ArmTimer { name, due, payload });
                Some(due)
            }
        };
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
    next.next_due = None;
    effects.timeline(
        escalation_actor(),
        TimelineEntry::EscalationExhausted {
            policy: next.policy.clone(),
            reason,
        },
    );
}

#[cfg(test)]
mod tests;
