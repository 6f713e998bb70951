//! Notes on a valid configuration: allowed, but worth a look.

use super::{CLOUD_TIER_DELAY_PRECISION, MIN_TIER_DELAY};
use crate::alert::Severity;
use crate::config::Config;
use crate::config::error::{ConfigPath, Issues};
use crate::schedule::HolidayRule;
use std::collections::BTreeMap;

/// Notes on a valid configuration that are allowed but worth a look.
pub(crate) fn warnings(config: &Config, issues: &mut Issues) {
    let routing = ConfigPath::root().key("routing");
    let grouping_rules = ConfigPath::root().key("grouping").key("rules");
    note_priority_ties(
        config.grouping.rules.iter().map(|r| r.priority),
        &grouping_rules,
        issues,
    );
    note_priority_ties(
        config.routing.rules.iter().map(|r| r.priority),
        &routing.key("rules"),
        issues,
    );
    for (p, policy) in config.escalation_policies.iter().enumerate() {
        for (t, tier) in policy.tiers.iter().enumerate() {
            if tier.delay >= MIN_TIER_DELAY && tier.delay < CLOUD_TIER_DELAY_PRECISION {
                issues.push(
                    ConfigPath::root()
                        .key("escalation_policies")
                        .index(p)
                        .key("tiers")
                        .index(t)
                        .key("delay"),
                    format!(
                        "{} is shorter than {CLOUD_TIER_DELAY_PRECISION}: EventBridge Scheduler has \
                         one-minute precision, so in the cloud this tier waits up to two minutes \
                         (exact in `klaxon serve`)",
                        tier.delay
                    ),
                );
            }
        }
    }
    for (s, schedule) in config.schedules.iter().enumerate() {
        for (l, layer) in schedule.layers.iter().enumerate() {
            if layer.holidays == Some(HolidayRule::Except) && schedule.holidays.is_empty() {
                issues.push(
                    ConfigPath::root()
                        .key("schedules")
                        .index(s)
                        .key("layers")
                        .index(l)
                        .key("holidays"),
                    "`except` has no effect: the schedule lists no holidays",
                );
            }
        }
    }
    for (i, rule) in config.routing.rules.iter().enumerate() {
        if !rule.has_action() {
            issues.push(
                routing.key("rules").index(i),
                "has no action (policy, suppress, severity or urgency): when it matches, later \
                 rules are skipped and the severity defaults apply",
            );
        }
    }
    for severity in Severity::ALL {
        if config
            .routing
            .defaults
            .for_severity(severity)
            .policy
            .is_none()
        {
            issues.push(
                routing.key("defaults").key(severity.as_str()).key("policy"),
                format!(
                    "not set: {severity} incidents that no rule routes to a policy page nobody"
                ),
            );
        }
    }
}

fn note_priority_ties(
    priorities: impl Iterator<Item = u32>,
    base: &ConfigPath,
    issues: &mut Issues,
) {
    let mut first: BTreeMap<u32, usize> = BTreeMap::new();
    for (i, priority) in priorities.enumerate() {
        match first.get(&priority) {
            Some(earlier) => issues.push(
                base.index(i).key("priority"),
                format!(
                    "same priority {priority} as {}; equal priorities are tried in file order",
                    base.index(*earlier)
                ),
            ),
            None => {
                first.insert(priority, i);
            }
        }
    }
}
