//! Who is on call: the domain's [`OnCallResolver`] over a configuration and the runtime
//! overrides loaded for it.

use klaxon_domain::Instant;
use klaxon_domain::config::Config;
use klaxon_domain::escalation::{EscalationPolicy, OnCallResolver, Target};
use klaxon_domain::ids::{ScheduleId, UserId};
use klaxon_domain::schedule::Override;
use std::collections::{BTreeSet, HashMap};

/// Resolves escalation targets with a configuration and the overrides of its schedules.
#[derive(Debug, Clone)]
pub struct Roster<'a> {
    config: &'a Config,
    overrides: HashMap<ScheduleId, Vec<Override>>,
}

impl<'a> Roster<'a> {
    /// A roster over `config` with `overrides` (each schedule's list oldest-created first, as
    /// the schedule's tie rule requires).
    pub fn new(config: &'a Config, overrides: HashMap<ScheduleId, Vec<Override>>) -> Self {
        Self { config, overrides }
    }

    /// The users a target resolves to at `at`: a user resolves to itself (if it exists in the
    /// configuration), a schedule to whoever is on call on it.
    pub fn resolve(&self, target: &Target, at: Instant) -> Vec<UserId> {
        match target {
            Target::User(user) => {
                if self.config.user(user).is_some() {
                    vec![user.clone()]
                } else {
                    Vec::new()
                }
            }
            Target::Schedule(id) => {
                let Some(schedule) = self.config.schedule(id) else {
                    return Vec::new();
                };
                let overrides = self.overrides.get(id).map(Vec::as_slice).unwrap_or(&[]);
                schedule
                    .on_call_at(overrides, at)
                    .map(|on_call| vec![on_call.user])
                    .unwrap_or_default()
            }
        }
    }

    /// Every distinct user `targets` resolve to at `at`, in target order.
    pub fn resolve_all(&self, targets: &[Target], at: Instant) -> Vec<UserId> {
        let mut seen = BTreeSet::new();
        targets
            .iter()
            .flat_map(|t| self.resolve(t, at))
            .filter(|u| seen.insert(u.clone()))
            .collect()
    }
}

impl OnCallResolver for Roster<'_> {
    fn users_for(&self, target: &Target, at: Instant) -> Vec<UserId> {
        self.resolve(target, at)
    }
}

/// The schedules a policy's tiers name (so their overrides can be loaded before resolving).
pub fn schedules_of(policy: &EscalationPolicy) -> BTreeSet<ScheduleId> {
    policy
        .tiers
        .iter()
        .flat_map(|tier| tier.targets.iter())
        .filter_map(|target| match target {
            Target::Schedule(id) => Some(id.clone()),
            Target::User(_) => None,
        })
        .collect()
}
