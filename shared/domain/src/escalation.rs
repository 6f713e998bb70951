//! Escalation policies and the pure escalation state machine.
//!
//! STATE MACHINE: to be implemented (see issue 2, part 4). This file currently holds the policy
//! types that configuration produces.

use crate::duration::HumanDuration;
use crate::ids::{PolicyId, ScheduleId, UserId};
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

/// Someone (or some schedule) a tier pages.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Target {
    /// `user: alice`.
    User(UserId),
    /// `schedule: primary`: whoever is on call on it at the time of paging.
    Schedule(ScheduleId),
}
