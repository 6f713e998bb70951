//! Configuration as code: one YAML or JSON file holds users, schedules, escalation policies,
//! grouping and routing rules, maintenance windows, integrations, shared notification endpoints
//! and settings. `docs/config.md` describes every field.
//!
//! Parsing reports every error at once, each at its exact path
//! (`schedules[2].layers[0].rotation.start: ...`). A [`Config`] returned by
//! [`Config::from_yaml`], [`Config::from_json`] or [`Config::from_file`] is valid: every reference
//! resolves, ids are unique, addresses have the right shape. Secrets never appear in it:
//! integration keys are created with the CLI, webhook URLs are `${ENV_VAR}` references.

mod error;
mod holidays;
mod parse;
mod sections;
mod teams;
mod validate;

#[cfg(test)]
mod tests;

pub use error::{ConfigErrors, ConfigIssue, ConfigPath, PathSegment};
pub use holidays::{HolidayCalendars, NoHolidayCalendars};
pub use sections::{
    DEFAULT_ACK_LINK_LIFETIME, EnvRef, GenericWebhook, IncomingWebhook, Integration, Notifications,
    Settings, Sso, UnsetVariable,
};
pub use teams::Team;
pub use validate::{
    MAX_ACK_LINK_LIFETIME, MAX_POLICY_REPEAT, MIN_ACK_LINK_LIFETIME, MIN_CUSTOM_SHIFT,
    MIN_TIER_DELAY,
};

use crate::Instant;
use crate::alert::Alert;
use crate::escalation::EscalationPolicy;
use crate::grouping::{Grouping, GroupingConfig};
use crate::heartbeat::{HEARTBEAT_LABEL, Heartbeat, HeartbeatName};
use crate::ids::{IntegrationName, PolicyId, ScheduleId, TemplateName, UserId};
use crate::postmortem::{DEFAULT_TEMPLATE, PostmortemTemplate, default_template};
use crate::routing::{MaintenanceWindow, RoutingConfig, RoutingContext, RoutingDecision, route};
use crate::schedule::Schedule;
use crate::user::User;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The configuration file format version this code reads.
pub const CONFIG_VERSION: u32 = 1;

/// A whole configuration. Lists keep file order (it matters for layers, tiers and rule ties).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Config {
    /// File format version (always [`CONFIG_VERSION`]).
    pub version: u32,
    /// Responders.
    pub users: Vec<User>,
    /// On-call schedules.
    pub schedules: Vec<Schedule>,
    /// Escalation policies.
    pub escalation_policies: Vec<EscalationPolicy>,
    /// Grouping rules and the default window.
    pub grouping: GroupingConfig,
    /// Routing rules and per-severity defaults.
    pub routing: RoutingConfig,
    /// Maintenance windows.
    pub maintenance_windows: Vec<MaintenanceWindow>,
    /// Alert sources (without their keys).
    pub integrations: Vec<Integration>,
    /// Teams: their members and what they own.
    pub teams: Vec<Team>,
    /// Heartbeats (dead man's switches) and the incidents a missed one opens.
    pub heartbeats: Vec<Heartbeat>,
    /// Post-mortem templates (the shipped `default` applies when none is marked default).
    /// Left out of the stored form when empty, so a configuration without templates keeps the
    /// fingerprint it had before templates existed (no new version on upgrade) and functions
    /// of the previous release can still read it during a deploy.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub postmortem_templates: Vec<PostmortemTemplate>,
    /// Shared Slack, Teams and webhook endpoints.
    pub notifications: Notifications,
    /// Global settings.
    pub settings: Settings,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            version: CONFIG_VERSION,
            users: Vec::new(),
            schedules: Vec::new(),
            escalation_policies: Vec::new(),
            grouping: GroupingConfig::default(),
            routing: RoutingConfig::default(),
            maintenance_windows: Vec::new(),
            integrations: Vec::new(),
            teams: Vec::new(),
            heartbeats: Vec::new(),
            postmortem_templates: Vec::new(),
            notifications: Notifications::default(),
            settings: Settings::default(),
        }
    }
}

/// The syntax of a configuration file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigFormat {
    /// YAML (`.yaml`, `.yml`).
    Yaml,
    /// JSON (`.json`).
    Json,
}

impl ConfigFormat {
    /// The format for a file name, by extension (case-insensitive).
    pub fn from_file_name(file_name: &str) -> Option<Self> {
        let extension = file_name.rsplit_once('.')?.1.to_ascii_lowercase();
        match extension.as_str() {
            "yaml" | "yml" => Some(Self::Yaml),
            "json" => Some(Self::Json),
            _ => None,
        }
    }
}

impl Config {
    /// Parses and validates YAML text.
    pub fn from_yaml(text: &str) -> Result<Config, ConfigErrors> {
        parse::config_from_value(parse::yaml_value(text)?)
    }

    /// Parses and validates JSON text (also the form of stored snapshots).
    pub fn from_json(text: &str) -> Result<Config, ConfigErrors> {
        parse::config_from_value(parse::json_value(text)?)
    }

    /// Parses and validates `text`, choosing YAML or JSON by `file_name`'s extension. A
    /// schedule's `holidays_ics` is an error here (there is no file to read): see
    /// [`Config::from_file_with_calendars`].
    pub fn from_file(file_name: &str, text: &str) -> Result<Config, ConfigErrors> {
        Self::from_file_with_calendars(file_name, text, &NoHolidayCalendars)
    }

    /// Like [`Config::from_file`], reading the `.ics` files schedules name in `holidays_ics`
    /// through `calendars`: their dates join the schedule's `holidays`.
    pub fn from_file_with_calendars(
        file_name: &str,
        text: &str,
        calendars: &dyn HolidayCalendars,
    ) -> Result<Config, ConfigErrors> {
        let value = match ConfigFormat::from_file_name(file_name) {
            Some(ConfigFormat::Yaml) => parse::yaml_value(text)?,
            Some(ConfigFormat::Json) => parse::json_value(text)?,
            None => {
                return Err(ConfigErrors::single(
                    ConfigPath::root(),
                    format!("{file_name}: unknown file type: use .yaml, .yml or .json"),
                ));
            }
        };
        parse::config_from_value_with(value, calendars)
    }

    /// Runs the semantic checks on a configuration built in code (parsing already runs them).
    pub fn validate(&self) -> Result<(), ConfigErrors> {
        let mut issues = error::Issues::default();
        validate::check(self, &validate::Origins::identity(self), &mut issues);
        if issues.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors {
                issues: issues.into_sorted(),
            })
        }
    }

    /// Things that are allowed but worth a look, with paths: rules sharing a priority (file
    /// order decides), routing rules without actions, severities without a default policy.
    pub fn warnings(&self) -> Vec<ConfigIssue> {
        let mut issues = error::Issues::default();
        validate::warnings(self, &mut issues);
        issues.into_sorted()
    }

    /// The user with id `id`.
    pub fn user(&self, id: &UserId) -> Option<&User> {
        self.users.iter().find(|user| &user.id == id)
    }

    /// The schedule with id `id`.
    pub fn schedule(&self, id: &ScheduleId) -> Option<&Schedule> {
        self.schedules.iter().find(|schedule| &schedule.id == id)
    }

    /// The escalation policy with id `id`.
    pub fn policy(&self, id: &PolicyId) -> Option<&EscalationPolicy> {
        self.escalation_policies
            .iter()
            .find(|policy| &policy.id == id)
    }

    /// The acknowledgement timeout for an escalation of `policy`: the policy's own, else
    /// `settings.ack_timeout` (a direct reassignment uses the setting).
    pub fn ack_timeout(&self, policy: &PolicyId) -> Option<crate::duration::HumanDuration> {
        self.policy(policy)
            .and_then(|p| p.ack_timeout)
            .or(self.settings.ack_timeout)
    }

    /// The integration named `name`.
    pub fn integration(&self, name: &IntegrationName) -> Option<&Integration> {
        self.integrations
            .iter()
            .find(|integration| &integration.name == name)
    }

    /// Groups `alert` with this configuration's grouping rules.
    pub fn group(&self, alert: &Alert) -> Grouping {
        self.grouping.group(alert)
    }

    /// Routes an incident with this configuration's rules, defaults and maintenance windows.
    /// An incident opened by a missed heartbeat (its integration and `heartbeat` label) takes
    /// the heartbeat's escalation policy and urgency when it names them, and an incident
    /// declared by hand the policy and urgency of its declaration; suppression by a rule or a
    /// maintenance window still applies.
    pub fn route(&self, context: &RoutingContext, now: Instant) -> RoutingDecision {
        let mut decision = route(
            context,
            &self.routing.rules,
            &self.routing.defaults,
            &self.maintenance_windows,
            now,
        );
        let (declared_policy, declared_urgency) = crate::declare::requested(context);
        if let Some(policy) = declared_policy.filter(|p| self.policy(p).is_some()) {
            decision
                .explanation
                .push(format!("declared by hand: escalation policy {policy}"));
            decision.policy = Some(policy);
        }
        if let Some(urgency) = declared_urgency {
            decision.explanation.push(format!(
                "declared by hand: urgency {}",
                match urgency {
                    crate::vocabulary::Urgency::High => "high",
                    crate::vocabulary::Urgency::Low => "low",
                }
            ));
            decision.urgency = urgency;
        }
        if let Some(heartbeat) = self.heartbeat_of(context) {
            if let Some(policy) = &heartbeat.escalation_policy {
                decision.explanation.push(format!(
                    "heartbeat {}: escalation policy {policy}",
                    heartbeat.name
                ));
                decision.policy = Some(policy.clone());
            }
            if let Some(urgency) = heartbeat.urgency {
                decision.explanation.push(format!(
                    "heartbeat {}: urgency {}",
                    heartbeat.name,
                    match urgency {
                        crate::vocabulary::Urgency::High => "high",
                        crate::vocabulary::Urgency::Low => "low",
                    }
                ));
                decision.urgency = urgency;
            }
        }
        decision
    }

    /// The post-mortem template `name`, or without a name the default one: the template
    /// marked `default: true`, else one named `default`, else the shipped
    /// [`default_template`]. The name `default` always finds a template (the configured one
    /// of that name, or the shipped one); another unknown name is `None`.
    pub fn postmortem_template(&self, name: Option<&TemplateName>) -> Option<PostmortemTemplate> {
        let named = |wanted: &str| {
            self.postmortem_templates
                .iter()
                .find(|t| t.name.as_str() == wanted)
                .cloned()
        };
        match name {
            Some(name) if name.as_str() == DEFAULT_TEMPLATE => {
                Some(named(DEFAULT_TEMPLATE).unwrap_or_else(default_template))
            }
            Some(name) => named(name.as_str()),
            None => Some(
                self.postmortem_templates
                    .iter()
                    .find(|t| t.default)
                    .cloned()
                    .or_else(|| named(DEFAULT_TEMPLATE))
                    .unwrap_or_else(default_template),
            ),
        }
    }

    /// The heartbeat named `name`.
    pub fn heartbeat(&self, name: &HeartbeatName) -> Option<&Heartbeat> {
        self.heartbeats.iter().find(|h| &h.name == name)
    }

    /// The heartbeat whose missed-heartbeat alert has this routing context: the `heartbeat`
    /// label names it and the alert came from its integration (another integration's alert
    /// with the same label does not borrow its policy).
    fn heartbeat_of(&self, context: &RoutingContext) -> Option<&Heartbeat> {
        let name = context.labels.get(HEARTBEAT_LABEL)?;
        self.heartbeats
            .iter()
            .find(|h| h.name.as_str() == name && h.integration == context.integration)
    }

    /// The configuration as deterministic JSON: keys sorted at every level, lists in file
    /// order, two-space indentation, a final newline. Equal configurations give identical text,
    /// so it is what versioned snapshots store and diffs compare; [`Config::from_json`] reads
    /// it back to an equal configuration.
    pub fn to_canonical_json(&self) -> Result<String, serde_json::Error> {
        let value = canonical(serde_json::to_value(self)?);
        let mut text = serde_json::to_string_pretty(&value)?;
        text.push('\n');
        Ok(text)
    }

    /// Hex SHA-256 of [`Config::to_canonical_json`]: a content version of the configuration.
    pub fn fingerprint(&self) -> Result<String, serde_json::Error> {
        Ok(hex::encode(Sha256::digest(
            self.to_canonical_json()?.as_bytes(),
        )))
    }
}

/// Rebuilds every object with its keys inserted in sorted order, so the output is sorted
/// whether or not serde_json's `preserve_order` feature is on somewhere in the build.
fn canonical(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(key, value)| (key, canonical(value)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(canonical).collect()),
        other => other,
    }
}
