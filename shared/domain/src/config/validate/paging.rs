//! Escalation policies, grouping and routing rules, maintenance windows: the rules that decide
//! who is paged, and the references between them.

use super::{
    Known, Origins, check_ack_timeout, check_alert_matcher, check_matcher_integrations,
    require_unique,
};
use super::{MAX_POLICY_REPEAT, MIN_TIER_DELAY};
use crate::alert::Severity;
use crate::config::Config;
use crate::config::error::{ConfigPath, Issues};
use crate::escalation::Target;
use std::collections::BTreeSet;

pub(super) fn check_policies(
    config: &Config,
    origins: &Origins,
    users: &Known<'_>,
    schedules: &Known<'_>,
    issues: &mut Issues,
) {
    let base = ConfigPath::root().key("escalation_policies");
    require_unique(
        "escalation policy id",
        config.escalation_policies.iter().enumerate().map(|(i, p)| {
            let path = origins.policies.path(&base, i);
            (p.id.as_str(), path.clone(), path.key("id"))
        }),
        issues,
    );
    for (i, policy) in config.escalation_policies.iter().enumerate() {
        let path = origins.policies.path(&base, i);
        if policy.tiers.is_empty() {
            issues.push(path.key("tiers"), "a policy needs at least one tier");
        }
        if policy.id.as_str() == crate::escalation::DIRECT_POLICY {
            issues.push(
                path.key("id"),
                "\"direct\" is reserved (it names an incident reassigned to a user or schedule)",
            );
        }
        if let Some(timeout) = policy.ack_timeout {
            check_ack_timeout(timeout, path.key("ack_timeout"), issues);
        }
        if policy.repeat > MAX_POLICY_REPEAT {
            issues.push(
                path.key("repeat"),
                format!(
                    "must be at most {MAX_POLICY_REPEAT} (got {})",
                    policy.repeat
                ),
            );
        }
        for (t, tier) in policy.tiers.iter().enumerate() {
            let tier_path = path.key("tiers").index(t);
            if tier.delay < MIN_TIER_DELAY {
                issues.push(
                    tier_path.key("delay"),
                    format!("must be at least {MIN_TIER_DELAY} (got {})", tier.delay),
                );
            }
            if tier.targets.is_empty() {
                issues.push(tier_path.key("targets"), "a tier needs at least one target");
            }
            for (k, target) in tier.targets.iter().enumerate() {
                let target_path = tier_path.key("targets").index(k);
                match target {
                    Target::User(user) => {
                        users.require(user.as_str(), target_path.key("user"), issues);
                    }
                    Target::Schedule(schedule) => {
                        schedules.require(schedule.as_str(), target_path.key("schedule"), issues);
                    }
                }
            }
        }
    }
}

pub(super) fn check_grouping(
    config: &Config,
    origins: &Origins,
    integrations: &Known<'_>,
    issues: &mut Issues,
) {
    let section = ConfigPath::root().key("grouping");
    if config.grouping.default_window.as_secs() == 0 {
        issues.push(section.key("default_window"), "must be more than 0s");
    }
    let base = section.key("rules");
    require_unique(
        "grouping rule id",
        config.grouping.rules.iter().enumerate().map(|(i, r)| {
            let path = origins.grouping_rules.path(&base, i);
            (r.id.as_str(), path.clone(), path.key("id"))
        }),
        issues,
    );
    for (i, rule) in config.grouping.rules.iter().enumerate() {
        let path = origins.grouping_rules.path(&base, i);
        check_matcher_integrations(
            &rule.matcher.integrations,
            &path.key("match"),
            integrations,
            issues,
        );
        let mut seen = BTreeSet::new();
        for (k, key) in rule.group_by.iter().enumerate() {
            if key.is_empty() {
                issues.push(path.key("group_by").index(k), "must not be empty");
            } else if !seen.insert(key.as_str()) {
                issues.push(
                    path.key("group_by").index(k),
                    format!("{key:?} is listed twice"),
                );
            }
        }
        if rule.window.is_some_and(|w| w.as_secs() == 0) {
            issues.push(path.key("window"), "must be more than 0s");
        }
    }
}

pub(super) fn check_routing(
    config: &Config,
    origins: &Origins,
    policies: &Known<'_>,
    integrations: &Known<'_>,
    issues: &mut Issues,
) {
    let section = ConfigPath::root().key("routing");
    for severity in Severity::ALL {
        if let Some(policy) = &config.routing.defaults.for_severity(severity).policy {
            policies.require(
                policy.as_str(),
                section.key("defaults").key(severity.as_str()).key("policy"),
                issues,
            );
        }
    }
    let base = section.key("rules");
    require_unique(
        "routing rule id",
        config.routing.rules.iter().enumerate().map(|(i, r)| {
            let path = origins.routing_rules.path(&base, i);
            (r.id.as_str(), path.clone(), path.key("id"))
        }),
        issues,
    );
    for (i, rule) in config.routing.rules.iter().enumerate() {
        let path = origins.routing_rules.path(&base, i);
        if let Some(policy) = &rule.policy {
            policies.require(policy.as_str(), path.key("policy"), issues);
        }
        check_alert_matcher(&rule.matcher, &path.key("match"), integrations, issues);
    }
}

pub(super) fn check_windows(
    config: &Config,
    origins: &Origins,
    integrations: &Known<'_>,
    issues: &mut Issues,
) {
    let base = ConfigPath::root().key("maintenance_windows");
    require_unique(
        "maintenance window id",
        config.maintenance_windows.iter().enumerate().map(|(i, w)| {
            let path = origins.windows.path(&base, i);
            (w.id.as_str(), path.clone(), path.key("id"))
        }),
        issues,
    );
    for (i, window) in config.maintenance_windows.iter().enumerate() {
        let path = origins.windows.path(&base, i);
        if window.end <= window.start {
            issues.push(path.key("end"), "must be after start");
        }
        if window.reason.trim().is_empty() {
            issues.push(
                path.key("reason"),
                "must say why (it is shown on the timeline)",
            );
        }
        check_alert_matcher(&window.matcher, &path.key("match"), integrations, issues);
    }
}
