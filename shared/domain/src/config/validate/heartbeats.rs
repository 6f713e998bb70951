//! Heartbeats: unique names, a known integration and policy, an interval and grace the
//! scheduler can keep.

use super::{Known, Origins, require_unique};
use crate::config::Config;
use crate::config::error::{ConfigPath, Issues};
use crate::duration::HumanDuration;
use crate::heartbeat::{MAX_HEARTBEAT_INTERVAL, MIN_HEARTBEAT_INTERVAL};

pub(super) fn check_heartbeats(
    config: &Config,
    origins: &Origins,
    policies: &Known<'_>,
    integrations: &Known<'_>,
    issues: &mut Issues,
) {
    let base = ConfigPath::root().key("heartbeats");
    require_unique(
        "heartbeat name",
        config.heartbeats.iter().enumerate().map(|(i, heartbeat)| {
            let path = origins.heartbeats.path(&base, i);
            (heartbeat.name.as_str(), path.clone(), path.key("name"))
        }),
        issues,
    );
    for (i, heartbeat) in config.heartbeats.iter().enumerate() {
        let path = origins.heartbeats.path(&base, i);
        integrations.require(
            heartbeat.integration.as_str(),
            path.key("integration"),
            issues,
        );
        if let Some(policy) = &heartbeat.escalation_policy {
            policies.require(policy.as_str(), path.key("escalation_policy"), issues);
        }
        let interval = heartbeat.interval;
        if interval < MIN_HEARTBEAT_INTERVAL || interval > MAX_HEARTBEAT_INTERVAL {
            issues.push(
                path.key("interval"),
                format!(
                    "must be between {MIN_HEARTBEAT_INTERVAL} and {MAX_HEARTBEAT_INTERVAL} (got {interval})"
                ),
            );
        }
        let grace = heartbeat.grace;
        if grace < HumanDuration::from_secs(0) || grace > MAX_HEARTBEAT_INTERVAL {
            issues.push(
                path.key("grace"),
                format!("must be between 0s and {MAX_HEARTBEAT_INTERVAL} (got {grace})"),
            );
        }
        if heartbeat
            .description
            .as_deref()
            .is_some_and(|d| d.trim().is_empty() || d.len() > 1024)
        {
            issues.push(
                path.key("description"),
                "must be 1 to 1024 characters when given",
            );
        }
    }
}
