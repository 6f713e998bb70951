//! Escalation policies and the pure escalation state machine.
//!
//! A policy is a list of tiers, each with targets and a delay, run `repeat + 1` times. The state
//! machine ([`step`]) takes the current [`EscalationState`], an [`EscalationEvent`], the policy,
//! an [`OnCallResolver`] and the current time, and returns the next state with the
//! [`Effect`]s the caller must carry out (page a tier, arm or cancel a timer, record a timeline
//! entry). It does no I/O, so a handler can re-run a step after a crash and get the same
//! effects back.
//!
//! How the rules play out:
//! - **Start** pages the first tier that has someone on call (tier 0 of round 0 unless it is
//!   empty) and arms a timer due at `now + tier.delay`.
//! - **TimerFired** advances to the next tier with someone on call; after the last tier the next
//!   round starts at tier 0 while `round < policy.repeat`; after the last tier of the last round
//!   has had its delay the state becomes [`EscalationStatus::Exhausted`]. A timer whose
//!   `(round, tier, version)` is not the state's current one, or that fires when the state is
//!   not [`EscalationStatus::Active`], is stale: nothing changes ([`Outcome::Ignored`]).
//! - A tier whose targets all resolve to nobody at `now` is skipped at once with a
//!   `tier_skipped` timeline entry. If a whole round's worth of tiers in a row is empty, every
//!   later round is empty too (same resolver, same instant), so the state becomes Exhausted
//!   instead of looping.
//! - **Low urgency** pages tier 0 of round 0 only and arms no timer: the state stays
//!   [`EscalationStatus::Active`] with no `next_due` until someone acknowledges or resolves. If
//!   tier 0 resolves to nobody, it is skipped and the state becomes Exhausted
//!   ([`ExhaustedReason::NobodyOnCall`]): low urgency never pages later tiers.
//! - **Acknowledge** and **Resolve** stop everything: the status changes, the pending timer is
//!   cancelled, and (if the escalation was live) an `escalation.stopped` entry names the actor.
//! - Every applied step increments `version`; an armed timer's payload carries the version of
//!   the state that armed it, which is how stale and duplicate timers are recognised.

mod machine;
#[cfg(test)]
mod proptests;
mod timer;

pub use crate::vocabulary::{EscalationStatus, ExhaustedReason, StopReason, Target};
pub use machine::{
    Effect, EscalationError, EscalationEvent, EscalationState, Ignored, OnCallResolver, Outcome,
    PageRequest, Transition, step,
};
pub(crate) use machine::{acknowledge_with_timeout, end_snooze, snooze, stop};
pub use timer::{MAX_TIMER_NAME_LEN, TimerKind, TimerName, TimerNameError, TimerPayload};

use crate::duration::HumanDuration;
use crate::ids::PolicyId;
use serde::{Deserialize, Serialize};

/// An escalation policy: ordered tiers, repeated `repeat` extra times if nobody acknowledges.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationPolicy {
    /// Identifier used by routing rules.
    pub id: PolicyId,
    /// Display name.
    pub name: String,
    /// Tiers in order; tier 0 is paged first.
    pub tiers: Vec<Tier>,
    /// How many more times to run all tiers after the first round (0 = once).
    #[serde(default)]
    pub repeat: u32,
    /// PagerDuty's acknowledgement timeout: an incident acknowledged and not resolved within
    /// this time re-triggers once (pages the tier it was on again). Overrides
    /// `settings.ack_timeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_timeout: Option<HumanDuration>,
}

/// The policy id an escalation records when it was reassigned straight to a user or schedule.
pub const DIRECT_POLICY: &str = "direct";

/// How long a direct reassignment waits for an acknowledgement before it is exhausted.
pub const DIRECT_DELAY: HumanDuration = HumanDuration::from_mins(30);

impl EscalationPolicy {
    /// The one-tier policy a direct reassignment runs: page `target`, wait [`DIRECT_DELAY`],
    /// and stop (exhausted) if nobody acknowledged.
    pub fn direct(target: Target) -> Self {
        Self {
            // Valid by construction: a lowercase slug.
            id: PolicyId::direct(),
            name: format!("reassigned to {}", target_label(&target)),
            tiers: vec![Tier {
                delay: DIRECT_DELAY,
                targets: vec![target],
            }],
            repeat: 0,
            ack_timeout: None,
        }
    }
}

fn target_label(target: &Target) -> String {
    match target {
        Target::User(user) => format!("user {user}"),
        Target::Schedule(schedule) => format!("schedule {schedule}"),
    }
}

/// One tier of a policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    /// How long to wait for an acknowledgement after paging this tier before escalating.
    pub delay: HumanDuration,
    /// Who to page.
    pub targets: Vec<Target>,
}
