//! Small shared vocabulary: the enums that incidents, escalations, routing, users and timeline
//! entries all speak.
//!
//! These types live here, in a leaf module that imports nothing from the crate but [`crate::ids`],
//! so that the bigger modules can depend on each other in one direction only
//! (`tests/module_graph.rs` checks that the crate's module graph has no cycles). Each type is
//! also re-exported from the module that owns the concept (`incident::Urgency`,
//! `escalation::Target`, ...), so those paths keep working.

use crate::ids::{RuleId, ScheduleId, UserId};
use serde::{Deserialize, Serialize};
use std::fmt;

/// How urgently to page: high urgency uses every tier and the users' high-urgency channels;
/// low urgency pages tier 0 only, on the users' low-urgency channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Urgency {
    /// Page tier 0 only, on low-urgency channels.
    Low,
    /// Full escalation, high-urgency channels.
    High,
}

/// Why an incident was resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResolveReason {
    /// Someone (or an API key) resolved it.
    Manual,
    /// Its last open alert resolved and auto-resolve was on.
    AllAlertsResolved,
}

/// What suppressed an incident's paging.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SuppressionReason {
    /// A routing rule with the suppress action matched.
    RoutingRule {
        /// The rule.
        rule: RuleId,
    },
    /// A maintenance window was in force.
    MaintenanceWindow {
        /// The window.
        window: RuleId,
    },
}

/// Where an escalation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationStatus {
    /// Created, nothing paged yet.
    NotStarted,
    /// Paging: a tier has been paged. High urgency always has a timer armed in this status; low
    /// urgency never does (it pages tier 0 only and waits for a human).
    Active,
    /// Someone acknowledged; nothing more will be paged.
    Acknowledged,
    /// The incident was resolved; nothing more will be paged.
    Resolved,
    /// Every tier of every round had its turn (or nobody was on call): nothing more will be
    /// paged, but the incident is still open and can be acknowledged or resolved.
    Exhausted,
}

/// Why an escalation has nobody left to page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExhaustedReason {
    /// The policy has no tiers.
    NoTiers,
    /// The last tier of the last round was paged and its delay passed (or the tiers after the
    /// last one paged were empty).
    RoundsCompleted,
    /// A whole round's worth of consecutive tiers resolved to nobody at this instant, so every
    /// later tier would too. For low urgency: tier 0 resolved to nobody.
    NobodyOnCall,
}

/// What stopped an escalation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// Someone acknowledged the incident.
    Acknowledged,
    /// The incident was resolved.
    Resolved,
}

/// Why an acknowledged incident started paging again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetriggerReason {
    /// Its snooze ended.
    SnoozeEnded,
    /// Its acknowledgement timeout passed.
    AckTimeout,
    /// Someone asked for the next tier at once.
    EscalatedByHand,
    /// It was reassigned.
    Reassigned,
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

/// Where a post-mortem is in its review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostmortemStatus {
    /// Being written.
    Draft,
    /// Written; being reviewed.
    InReview,
    /// Final.
    Published,
}

impl PostmortemStatus {
    /// The wire name (`draft`, `in_review`, `published`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::InReview => "in_review",
            Self::Published => "published",
        }
    }

    /// Parses a wire name; `in-review` is accepted too (command lines use dashes).
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim() {
            "draft" => Ok(Self::Draft),
            "in_review" | "in-review" => Ok(Self::InReview),
            "published" => Ok(Self::Published),
            other => Err(format!(
                "must be \"draft\", \"in_review\" or \"published\" (got {other:?})"
            )),
        }
    }

    /// Whether a post-mortem may move from `self` to `to` (`self == to` is a no-op, not a
    /// move, and is not asked here).
    pub fn may_become(self, to: Self) -> bool {
        matches!(
            (self, to),
            (Self::Draft, Self::InReview)
                | (Self::InReview, Self::Draft)
                | (Self::InReview, Self::Published)
        )
    }
}

impl fmt::Display for PostmortemStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether an action item is still to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    /// To do.
    Open,
    /// Done.
    Done,
}

impl ActionStatus {
    /// The wire name (`open`, `done`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Done => "done",
        }
    }

    /// Parses a wire name.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim() {
            "open" => Ok(Self::Open),
            "done" => Ok(Self::Done),
            other => Err(format!("must be \"open\" or \"done\" (got {other:?})")),
        }
    }
}
