//! Semantic checks: references, duplicates, empty lists, limits, address shapes.

use super::error::{ConfigPath, Issues};
use super::{CONFIG_VERSION, Config};
use crate::alert::Severity;
use crate::duration::HumanDuration;
use crate::escalation::Target;
use crate::ids::IntegrationName;
use crate::ingest::{Format, InsufficientData};
use crate::matcher::AlertMatcher;
use crate::schedule::ShiftLength;
use crate::user::{Channel, check_e164, check_email, check_slack_id};
use std::collections::{BTreeMap, BTreeSet};

/// The most extra rounds a policy may repeat: enough to wake someone, bounded so a forgotten
/// incident cannot page forever.
pub const MAX_POLICY_REPEAT: u32 = 10;
/// The shortest tier delay accepted (short delays make local tests fast).
pub const MIN_TIER_DELAY: HumanDuration = HumanDuration::from_secs(1);
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
    check_notifications(config, origins, issues);

    let lifetime = config.settings.ack_link_lifetime;
    if lifetime < MIN_ACK_LINK_LIFETIME || lifetime > MAX_ACK_LINK_LIFETIME {
        issues.push(
            root.key("settings").key("ack_link_lifetime"),
            format!(
                "must be between {MIN_ACK_LINK_LIFETIME} and {MAX_ACK_LINK_LIFETIME} (got {lifetime})"
            ),
        );
    }
}

fn check_users(config: &Config, origins: &Origins, issues: &mut Issues) {
    let base = ConfigPath::root().key("users");
    require_unique(
        "user id",
        config.users.iter().enumerate().map(|(i, u)| {
            let path = origins.users.path(&base, i);
            (u.id.as_str(), path.clone(), path.key("id"))
        }),
        issues,
    );
    let notifications = &config.notifications;
    for (i, user) in config.users.iter().enumerate() {
        let path = origins.users.path(&base, i);
        if user.name.trim().is_empty() {
            issues.push(path.key("name"), "must not be empty");
        }
        if let Some(email) = &user.email
            && let Err(why) = check_email(email)
        {
            issues.push(path.key("email"), why);
        }
        if let Some(phone) = &user.phone
            && let Err(why) = check_e164(phone)
        {
            issues.push(path.key("phone"), why);
        }
        if let Some(slack_id) = &user.slack_id
            && let Err(why) = check_slack_id(slack_id)
        {
            issues.push(path.key("slack_id"), why);
        }
        if user.contact.high.is_empty() {
            issues.push(
                path.key("contact").key("high"),
                "no channel for high-urgency pages: set email or phone (the defaults are built \
                 from them) or list channels here",
            );
        }
        for (urgency, channels) in [("high", &user.contact.high), ("low", &user.contact.low)] {
            let mut seen = BTreeSet::new();
            for (k, channel) in channels.iter().enumerate() {
                let channel_path = path.key("contact").key(urgency).index(k);
                if !seen.insert(*channel) {
                    issues.push(channel_path.clone(), format!("{channel} is listed twice"));
                }
                let mut missing = Vec::new();
                match channel {
                    Channel::Sms if user.phone.is_none() => {
                        missing.push(format!("a phone number ({path}.phone)"));
                    }
                    Channel::Email if user.email.is_none() => {
                        missing.push(format!("an email address ({path}.email)"));
                    }
                    Channel::Slack => {
                        if user.slack_id.is_none() {
                            missing.push(format!("a Slack member id ({path}.slack_id)"));
                        }
                        if notifications.slack.is_none() {
                            missing.push("the shared Slack webhook (notifications.slack)".into());
                        }
                    }
                    Channel::Teams if notifications.teams.is_none() => {
                        missing.push("the shared Teams webhook (notifications.teams)".into());
                    }
                    Channel::Webhook if notifications.webhooks.is_empty() => {
                        missing
                            .push("at least one generic webhook (notifications.webhooks)".into());
                    }
                    _ => {}
                }
                if !missing.is_empty() {
                    issues.push(
                        channel_path,
                        format!("{channel} needs {}", missing.join(" and ")),
                    );
                }
            }
        }
    }
}

fn check_schedules(config: &Config, origins: &Origins, users: &Known<'_>, issues: &mut Issues) {
    let base = ConfigPath::root().key("schedules");
    require_unique(
        "schedule id",
        config.schedules.iter().enumerate().map(|(i, s)| {
            let path = origins.schedules.path(&base, i);
            (s.id.as_str(), path.clone(), path.key("id"))
        }),
        issues,
    );
    for (i, schedule) in config.schedules.iter().enumerate() {
        let path = origins.schedules.path(&base, i);
        if schedule.layers.is_empty() {
            issues.push(path.key("layers"), "a schedule needs at least one layer");
        }
        for (l, layer) in schedule.layers.iter().enumerate() {
            let rotation = path.key("layers").index(l).key("rotation");
            if layer.rotation.participants.is_empty() {
                issues.push(
                    rotation.key("participants"),
                    "a rotation needs at least one participant",
                );
            }
            for (p, participant) in layer.rotation.participants.iter().enumerate() {
                users.require(
                    participant.as_str(),
                    rotation.key("participants").index(p),
                    issues,
                );
            }
            let shift = rotation.key("shift");
            match layer.rotation.shift {
                ShiftLength::Hours(0) => issues.push(shift.key("hours"), "must be at least 1"),
                ShiftLength::Days(0) => issues.push(shift.key("days"), "must be at least 1"),
                ShiftLength::Weeks(0) => issues.push(shift.key("weeks"), "must be at least 1"),
                ShiftLength::Custom(length) if length < MIN_CUSTOM_SHIFT => issues.push(
                    shift.key("custom"),
                    format!("must be at least {MIN_CUSTOM_SHIFT} (got {length})"),
                ),
                _ => {}
            }
        }
        for (k, away) in schedule.unavailability.iter().enumerate() {
            let away_path = path.key("unavailability").index(k);
            users.require(away.user.as_str(), away_path.key("user"), issues);
            if away.end <= away.start {
                issues.push(away_path.key("end"), "must be after start");
            }
        }
    }
}

fn check_policies(
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

fn check_grouping(
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

fn check_routing(
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

fn check_windows(
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

fn check_integrations(config: &Config, origins: &Origins, issues: &mut Issues) {
    let base = ConfigPath::root().key("integrations");
    require_unique(
        "integration name",
        config
            .integrations
            .iter()
            .enumerate()
            .map(|(i, integration)| {
                let path = origins.integrations.path(&base, i);
                (integration.name.as_str(), path.clone(), path.key("name"))
            }),
        issues,
    );
    for (i, integration) in config.integrations.iter().enumerate() {
        if integration.format != Format::Cloudwatch
            && integration.defaults.insufficient_data != InsufficientData::Ignore
        {
            issues.push(
                origins
                    .integrations
                    .path(&base, i)
                    .key("defaults")
                    .key("insufficient_data"),
                "only applies to cloudwatch integrations",
            );
        }
        let topics = origins.integrations.path(&base, i).key("sns_topic_arns");
        if integration.format != Format::Cloudwatch && !integration.sns_topic_arns.is_empty() {
            issues.push(topics.clone(), "only applies to cloudwatch integrations");
        }
        for (t, arn) in integration.sns_topic_arns.iter().enumerate() {
            let parts: Vec<&str> = arn.split(':').collect();
            if parts.len() != 6 || parts[0] != "arn" || parts[2] != "sns" || parts[5].is_empty() {
                issues.push(
                    topics.index(t),
                    format!(
                        "{arn:?} is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)"
                    ),
                );
            }
        }
    }
    // A topic can feed only one integration, or a Lambda-delivered alarm would be ambiguous.
    let mut seen = std::collections::BTreeMap::new();
    for (i, integration) in config.integrations.iter().enumerate() {
        for (t, arn) in integration.sns_topic_arns.iter().enumerate() {
            if let Some(first) = seen.insert(arn.as_str(), integration.name.as_str()) {
                issues.push(
                    origins
                        .integrations
                        .path(&base, i)
                        .key("sns_topic_arns")
                        .index(t),
                    format!("topic {arn} is already listed by integration {first}"),
                );
            }
        }
    }
}

fn check_notifications(config: &Config, origins: &Origins, issues: &mut Issues) {
    let base = ConfigPath::root().key("notifications").key("webhooks");
    let webhooks = &config.notifications.webhooks;
    for (i, webhook) in webhooks.iter().enumerate() {
        if webhook.name.trim().is_empty() {
            issues.push(
                origins.webhooks.path(&base, i).key("name"),
                "must not be empty",
            );
        }
    }
    require_unique(
        "webhook name",
        webhooks.iter().enumerate().map(|(i, w)| {
            let path = origins.webhooks.path(&base, i);
            (w.name.as_str(), path.clone(), path.key("name"))
        }),
        issues,
    );
}

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
