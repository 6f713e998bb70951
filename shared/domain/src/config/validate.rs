//! Semantic checks: references, duplicates, empty lists, limits, address shapes.

use super::error::{ConfigPath, Issues};
use super::{CONFIG_VERSION, Config};
use crate::duration::HumanDuration;
use crate::ids::IntegrationName;
use crate::matcher::AlertMatcher;
use std::collections::{BTreeMap, BTreeSet};

mod heartbeats;
mod integrations;
mod paging;
mod people;
mod postmortems;
mod teams;
mod warnings;

use heartbeats::check_heartbeats;
use integrations::{check_integrations, check_notifications};
use paging::{check_grouping, check_policies, check_routing, check_windows};
use people::{check_schedules, check_users};
use postmortems::check_postmortem_templates;
use teams::check_teams;
pub(crate) use warnings::warnings;

/// The most extra rounds a policy may repeat: enough to wake someone, bounded so a forgotten
/// incident cannot page forever.
pub const MAX_POLICY_REPEAT: u32 = 10;
/// The shortest tier delay accepted (short delays make local tests fast).
pub const MIN_TIER_DELAY: HumanDuration = HumanDuration::from_secs(1);
/// The shortest acknowledgement timeout (seconds are for local tests, like tier delays).
pub const MIN_ACK_TIMEOUT: HumanDuration = HumanDuration::from_secs(1);
/// The longest acknowledgement timeout.
pub const MAX_ACK_TIMEOUT: HumanDuration = HumanDuration::from_mins(7 * 24 * 60);
/// The shortest tier delay that means what it says in the cloud: EventBridge Scheduler fires
/// with one-minute precision, so shorter delays are a warning.
pub const CLOUD_TIER_DELAY_PRECISION: HumanDuration = HumanDuration::from_secs(60);
/// The shortest `custom` shift.
pub const MIN_CUSTOM_SHIFT: HumanDuration = HumanDuration::from_secs(3_600);
/// The shortest acknowledge-link lifetime.
pub const MIN_ACK_LINK_LIFETIME: HumanDuration = HumanDuration::from_secs(60);
/// The longest acknowledge-link lifetime.
pub const MAX_ACK_LINK_LIFETIME: HumanDuration = HumanDuration::from_secs(30 * 86_400);

/// Where the parsed elements of one list came from: their index in the file (elements that
/// failed to parse are missing from the parsed list) and the ids of the elements that failed.
#[derive(Debug, Default, Clone)]
pub(crate) struct ListOrigin {
    pub(crate) indices: Vec<usize>,
    pub(crate) broken_ids: BTreeSet<String>,
}

impl ListOrigin {
    pub(crate) fn identity(len: usize) -> Self {
        Self {
            indices: (0..len).collect(),
            broken_ids: BTreeSet::new(),
        }
    }

    fn path(&self, base: &ConfigPath, position: usize) -> ConfigPath {
        base.index(self.indices.get(position).copied().unwrap_or(position))
    }
}

/// Origins of every list in the file.
#[derive(Debug, Default, Clone)]
pub(crate) struct Origins {
    pub(crate) users: ListOrigin,
    pub(crate) schedules: ListOrigin,
    pub(crate) policies: ListOrigin,
    pub(crate) grouping_rules: ListOrigin,
    pub(crate) routing_rules: ListOrigin,
    pub(crate) windows: ListOrigin,
    pub(crate) integrations: ListOrigin,
    pub(crate) teams: ListOrigin,
    pub(crate) heartbeats: ListOrigin,
    pub(crate) postmortem_templates: ListOrigin,
    pub(crate) webhooks: ListOrigin,
}

impl Origins {
    pub(crate) fn identity(config: &Config) -> Self {
        Self {
            users: ListOrigin::identity(config.users.len()),
            schedules: ListOrigin::identity(config.schedules.len()),
            policies: ListOrigin::identity(config.escalation_policies.len()),
            grouping_rules: ListOrigin::identity(config.grouping.rules.len()),
            routing_rules: ListOrigin::identity(config.routing.rules.len()),
            windows: ListOrigin::identity(config.maintenance_windows.len()),
            integrations: ListOrigin::identity(config.integrations.len()),
            teams: ListOrigin::identity(config.teams.len()),
            heartbeats: ListOrigin::identity(config.heartbeats.len()),
            postmortem_templates: ListOrigin::identity(config.postmortem_templates.len()),
            webhooks: ListOrigin::identity(config.notifications.webhooks.len()),
        }
    }
}

/// The ids defined in one list, for reference checks.
struct Known<'a> {
    what: &'static str,
    section: &'static str,
    parsed: BTreeSet<&'a str>,
    broken: &'a BTreeSet<String>,
}

impl<'a> Known<'a> {
    fn new(
        what: &'static str,
        section: &'static str,
        ids: impl Iterator<Item = &'a str>,
        origin: &'a ListOrigin,
    ) -> Self {
        Self {
            what,
            section,
            parsed: ids.collect(),
            broken: &origin.broken_ids,
        }
    }

    /// Records an error unless `id` is defined (or defined by an element that failed to parse,
    /// whose own error is already reported).
    fn require(&self, id: &str, path: ConfigPath, issues: &mut Issues) {
        if !self.parsed.contains(id) && !self.broken.contains(id) {
            issues.push(
                path,
                format!(
                    "unknown {} {id:?} (not defined under {})",
                    self.what, self.section
                ),
            );
        }
    }
}

/// Records an error for each id seen before.
fn require_unique<'a>(
    what: &str,
    entries: impl Iterator<Item = (&'a str, ConfigPath, ConfigPath)>,
    issues: &mut Issues,
) {
    let mut first: BTreeMap<&str, ConfigPath> = BTreeMap::new();
    for (id, element_path, id_path) in entries {
        match first.get(id) {
            Some(earlier) => issues.push(
                id_path,
                format!("duplicate {what} {id:?} (first defined at {earlier})"),
            ),
            None => {
                first.insert(id, element_path);
            }
        }
    }
}

fn check_matcher_integrations(
    matcher_integrations: &[IntegrationName],
    path: &ConfigPath,
    integrations: &Known<'_>,
    issues: &mut Issues,
) {
    for (k, name) in matcher_integrations.iter().enumerate() {
        integrations.require(name.as_str(), path.key("integrations").index(k), issues);
    }
}

fn check_alert_matcher(
    matcher: &AlertMatcher,
    path: &ConfigPath,
    integrations: &Known<'_>,
    issues: &mut Issues,
) {
    check_matcher_integrations(&matcher.integrations, path, integrations, issues);
}

/// Runs every semantic check on `config`, whose list elements came from `origins`.
pub(crate) fn check(config: &Config, origins: &Origins, issues: &mut Issues) {
    let root = ConfigPath::root();
    if config.version != CONFIG_VERSION {
        issues.push(
            root.key("version"),
            format!(
                "unsupported version {} (this Klaxon reads version {CONFIG_VERSION})",
                config.version
            ),
        );
    }

    let users = Known::new(
        "user",
        "users",
        config.users.iter().map(|u| u.id.as_str()),
        &origins.users,
    );
    let schedules = Known::new(
        "schedule",
        "schedules",
        config.schedules.iter().map(|s| s.id.as_str()),
        &origins.schedules,
    );
    let policies = Known::new(
        "escalation policy",
        "escalation_policies",
        config.escalation_policies.iter().map(|p| p.id.as_str()),
        &origins.policies,
    );
    let integrations = Known::new(
        "integration",
        "integrations",
        config.integrations.iter().map(|i| i.name.as_str()),
        &origins.integrations,
    );

    check_users(config, origins, issues);
    check_schedules(config, origins, &users, issues);
    check_policies(config, origins, &users, &schedules, issues);
    check_grouping(config, origins, &integrations, issues);
    check_routing(config, origins, &policies, &integrations, issues);
    check_windows(config, origins, &integrations, issues);
    check_integrations(config, origins, issues);
    let known = teams::References {
        users: &users,
        schedules: &schedules,
        policies: &policies,
        integrations: &integrations,
    };
    check_teams(config, origins, &known, issues);
    check_heartbeats(config, origins, &policies, &integrations, issues);
    check_postmortem_templates(config, origins, issues);
    check_notifications(config, origins, issues);

    if let Some(timeout) = config.settings.ack_timeout {
        check_ack_timeout(timeout, root.key("settings").key("ack_timeout"), issues);
    }
    let lifetime = config.settings.ack_link_lifetime;
    if lifetime < MIN_ACK_LINK_LIFETIME || lifetime > MAX_ACK_LINK_LIFETIME {
        issues.push(
            root.key("settings").key("ack_link_lifetime"),
            format!(
                "must be between {MIN_ACK_LINK_LIFETIME} and {MAX_ACK_LINK_LIFETIME} (got {lifetime})"
            ),
        );
    }
    if let Some(sso) = &config.settings.sso {
        let path = root.key("settings").key("sso");
        if let Some(problem) = crate::config::Sso::issuer_problem(&sso.issuer) {
            issues.push(path.key("issuer"), problem);
        }
        if sso.client_id.trim().is_empty() {
            issues.push(path.key("client_id"), "must not be empty");
        }
    }
}

/// An acknowledgement timeout must lie within [`MIN_ACK_TIMEOUT`] and [`MAX_ACK_TIMEOUT`].
pub(super) fn check_ack_timeout(timeout: HumanDuration, path: ConfigPath, issues: &mut Issues) {
    if timeout < MIN_ACK_TIMEOUT || timeout > MAX_ACK_TIMEOUT {
        issues.push(
            path,
            format!("must be between {MIN_ACK_TIMEOUT} and {MAX_ACK_TIMEOUT} (got {timeout})"),
        );
    }
}
