//! The incident page's escalation state in people's terms: the policy, the round and tier,
//! who the current tier is paging, and when the next tier fires and whom it will page (as
//! the schedules and overrides stand now).

use super::service::{ConsoleError, ConsoleService};
use crate::oncall::{Roster, schedules_of};
use crate::ports::{EmailSender, Queue, Timers};
use crate::usecases::LoadedConfig;
use crate::usecases::routing::running_policy;
use chrono::TimeDelta;
use klaxon_domain::Instant;
use klaxon_domain::escalation::{EscalationPolicy, EscalationState, EscalationStatus, Target};
use klaxon_domain::incident::{Incident, Urgency};
use klaxon_store::Store;
use std::collections::HashMap;

/// One fact of the escalation list: its label and its value.
pub type Fact = (&'static str, String);

fn when(at: Instant) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn status_text(state: &EscalationState) -> &'static str {
    match state.status() {
        EscalationStatus::NotStarted => "not started",
        EscalationStatus::Active => "paging",
        EscalationStatus::Acknowledged if state.is_snoozed() => "snoozed",
        EscalationStatus::Acknowledged => "stopped: acknowledged",
        EscalationStatus::Resolved => "stopped: resolved",
        EscalationStatus::Exhausted => "exhausted: every tier was paged",
    }
}

/// The tier after (`round`, `tier`), if the policy has one: (round, tier).
fn following(policy: &EscalationPolicy, state: &EscalationState) -> Option<(u32, u32)> {
    if state.urgency() == Urgency::Low {
        return None;
    }
    let tiers = u32::try_from(policy.tiers.len()).unwrap_or(u32::MAX);
    if state.tier() + 1 < tiers {
        Some((state.round(), state.tier() + 1))
    } else if state.round() < policy.repeat {
        Some((state.round() + 1, 0))
    } else {
        None
    }
}

fn names(config: &LoadedConfig, roster: &Roster<'_>, targets: &[Target], at: Instant) -> String {
    let people: Vec<String> = roster
        .resolve_all(targets, at)
        .iter()
        .map(|id| {
            config
                .user(id)
                .map_or_else(|| id.to_string(), |u| u.name.clone())
        })
        .collect();
    if people.is_empty() {
        "nobody (no one is on call)".to_owned()
    } else {
        people.join(", ")
    }
}

fn tier_targets(policy: &EscalationPolicy, tier: u32) -> &[Target] {
    usize::try_from(tier)
        .ok()
        .and_then(|t| policy.tiers.get(t))
        .map_or(&[], |t| t.targets.as_slice())
}

/// The facts of `state` under `policy` with `roster`.
fn facts(
    config: &LoadedConfig,
    state: &EscalationState,
    policy: &EscalationPolicy,
    roster: &Roster<'_>,
    now: Instant,
) -> Vec<Fact> {
    let policy_name = match state.assigned() {
        Some(Target::User(user)) => format!("assigned to user {user}"),
        Some(Target::Schedule(schedule)) => format!("assigned to schedule {schedule}"),
        None => format!("{} ({})", policy.name, policy.id),
    };
    let mut list = vec![
        ("Policy", policy_name),
        ("State", status_text(state).to_owned()),
        (
            "Round",
            format!("{} of {}", state.round() + 1, policy.repeat + 1),
        ),
        (
            "Tier",
            format!("{} of {}", state.tier() + 1, policy.tiers.len()),
        ),
    ];
    match state.status() {
        EscalationStatus::Active => {
            let current = tier_targets(policy, state.tier());
            list.push(("Paging now", names(config, roster, current, now)));
            if let Some(due) = state.next_due() {
                list.push(("Next tier", next_tier(config, state, policy, roster, due)));
            }
        }
        EscalationStatus::Acknowledged => {
            if let Some(due) = state.next_due() {
                let label = if state.is_snoozed() {
                    "Snoozed until"
                } else {
                    "Pages again at"
                };
                let current = tier_targets(policy, state.tier());
                let who = names(config, roster, current, due);
                list.push((
                    label,
                    format!("{} (then tier {}: {who})", when(due), state.tier() + 1),
                ));
            }
        }
        _ => {}
    }
    list
}

fn next_tier(
    config: &LoadedConfig,
    state: &EscalationState,
    policy: &EscalationPolicy,
    roster: &Roster<'_>,
    due: Instant,
) -> String {
    match following(policy, state) {
        Some((round, tier)) => format!(
            "tier {} (round {}) at {}: {}",
            tier + 1,
            round + 1,
            when(due),
            names(config, roster, tier_targets(policy, tier), due)
        ),
        None => format!("none: the escalation ends at {}", when(due)),
    }
}

impl<S: Store, Q: Queue, T: Timers, E: EmailSender> ConsoleService<S, Q, T, E> {
    /// The escalation facts the incident page lists for `incident`, with the people each
    /// tier pages resolved from the schedules and overrides.
    pub async fn escalation_facts(&self, incident: &Incident) -> Result<Vec<Fact>, ConsoleError> {
        let Some(state) = incident.escalation() else {
            return Ok(vec![("Policy", "none (nobody is paged)".to_owned())]);
        };
        let config = self.core().config().await?;
        let Some(policy) = running_policy(&config, state) else {
            return Ok(vec![
                (
                    "Policy",
                    format!("{} (no longer configured)", state.policy()),
                ),
                ("State", status_text(state).to_owned()),
            ]);
        };
        let now = self.core().now();
        let until = state.next_due().unwrap_or(now).max(now) + TimeDelta::seconds(1);
        let mut overrides = HashMap::new();
        for schedule in schedules_of(&policy) {
            let list = self.core().repo.overrides(&schedule, now, until).await?;
            overrides.insert(schedule, list);
        }
        let roster = Roster::new(&config.config, overrides);
        Ok(facts(&config, state, &policy, &roster, now))
    }
}
