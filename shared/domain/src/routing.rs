//! Routing rules and maintenance windows: which escalation policy an incident goes to, how
//! urgently, and whether paging is suppressed.
//!
//! Rules are tried in ascending `priority`, ties in file order; the first rule whose `match`
//! matches wins and no later rule is looked at. A rule's actions are all optional:
//!
//! - `severity` overrides the incident's severity;
//! - `policy` picks the escalation policy (left out: the default policy of the effective
//!   severity, from `routing.defaults`);
//! - `urgency` sets the urgency (left out: the default urgency of the effective severity:
//!   `routing.defaults.<severity>.urgency`, else high for critical and error, low for warning
//!   and info);
//! - `suppress: true` records the incident but pages nobody.
//!
//! Matchers (rules and maintenance windows) always see the alert as it arrived, before any
//! severity override. A maintenance window that is active (`start <= now < end`) and matches
//! suppresses paging too. When both a rule and a window suppress, the rule is reported: it would
//! have suppressed the incident at any time.

use crate::Instant;
use crate::alert::{Alert, Severity};
use crate::grouping::in_priority_order;
use crate::ids::{IntegrationName, PolicyId, RuleId};
use crate::matcher::AlertMatcher;
use crate::vocabulary::Urgency;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A routing rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingRule {
    /// Identifier, shown in dry-runs and on the timeline.
    pub id: RuleId,
    /// Lower numbers are tried first; ties keep file order.
    pub priority: u32,
    /// Which incidents the rule applies to (left out: every incident).
    #[serde(rename = "match", default)]
    pub matcher: AlertMatcher,
    /// The escalation policy to use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyId>,
    /// Record the incident but page nobody.
    #[serde(default)]
    pub suppress: bool,
    /// Override the incident's severity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// Override the urgency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urgency: Option<Urgency>,
}

impl RoutingRule {
    /// Whether the rule does anything when it matches (a rule without actions still stops the
    /// search, so the defaults apply).
    pub fn has_action(&self) -> bool {
        self.policy.is_some() || self.suppress || self.severity.is_some() || self.urgency.is_some()
    }
}

/// What applies to incidents of one severity that no rule routes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeverityDefaults {
    /// The default escalation policy (left out: such incidents page nobody).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyId>,
    /// The default urgency (left out: high for critical and error, low for warning and info).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urgency: Option<Urgency>,
}

/// `routing.defaults`: per-severity defaults.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingDefaults {
    /// For critical incidents.
    #[serde(default)]
    pub critical: SeverityDefaults,
    /// For error incidents.
    #[serde(default)]
    pub error: SeverityDefaults,
    /// For warning incidents.
    #[serde(default)]
    pub warning: SeverityDefaults,
    /// For info incidents.
    #[serde(default)]
    pub info: SeverityDefaults,
}

impl RoutingDefaults {
    /// The defaults for `severity`.
    pub fn for_severity(&self, severity: Severity) -> &SeverityDefaults {
        match severity {
            Severity::Critical => &self.critical,
            Severity::Error => &self.error,
            Severity::Warning => &self.warning,
            Severity::Info => &self.info,
        }
    }

    /// The urgency for `severity` when no rule sets one: the configured default, else
    /// [`builtin_urgency`].
    pub fn urgency(&self, severity: Severity) -> Urgency {
        self.for_severity(severity)
            .urgency
            .unwrap_or_else(|| builtin_urgency(severity))
    }
}

/// The urgency used when nothing is configured: high for critical and error, low for warning
/// and info.
pub fn builtin_urgency(severity: Severity) -> Urgency {
    match severity {
        Severity::Critical | Severity::Error => Urgency::High,
        Severity::Warning | Severity::Info => Urgency::Low,
    }
}

/// The `routing` section of the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingConfig {
    /// Per-severity defaults.
    #[serde(default)]
    pub defaults: RoutingDefaults,
    /// The rules, in file order.
    #[serde(default)]
    pub rules: Vec<RoutingRule>,
}

/// A period during which matching incidents page nobody (recorded on the timeline).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceWindow {
    /// Identifier, shown on the timeline.
    pub id: RuleId,
    /// Start (inclusive), RFC 3339.
    pub start: Instant,
    /// End (exclusive), RFC 3339.
    pub end: Instant,
    /// Which incidents it suppresses (left out: every incident).
    #[serde(rename = "match", default)]
    pub matcher: AlertMatcher,
    /// Why, for the timeline (`"Postgres 17 upgrade"`).
    pub reason: String,
}

impl MaintenanceWindow {
    /// Whether the window is in force at `now`: `start <= now < end`.
    pub fn is_active(&self, now: Instant) -> bool {
        self.start <= now && now < self.end
    }
}

/// The fields routing looks at. An incident stores this (from its first alert) so it can be
/// routed again, e.g. when its severity changes, without the alert at hand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingContext {
    /// The integration the alert came from.
    pub integration: IntegrationName,
    /// The alert's source, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The severity as received.
    pub severity: Severity,
    /// The alert's labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The alert's summary.
    pub summary: String,
}

impl RoutingContext {
    /// The routing context of `alert`.
    pub fn from_alert(alert: &Alert) -> Self {
        Self {
            integration: alert.integration.clone(),
            source: alert.source.clone(),
            severity: alert.severity,
            labels: alert.labels.clone(),
            summary: alert.summary.clone(),
        }
    }

    fn matched_by(&self, matcher: &AlertMatcher) -> bool {
        matcher.matches_parts(
            &self.integration,
            self.source.as_deref(),
            self.severity,
            &self.labels,
            &self.summary,
        )
    }
}

impl From<&Alert> for RoutingContext {
    fn from(alert: &Alert) -> Self {
        Self::from_alert(alert)
    }
}

/// What suppressed paging.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum SuppressedBy {
    /// A routing rule with `suppress: true`.
    Rule(RuleId),
    /// An active maintenance window.
    MaintenanceWindow(RuleId),
}

/// Why an incident pages nobody.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppression {
    /// The rule or window responsible.
    pub by: SuppressedBy,
    /// The maintenance window's reason, for the timeline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The outcome of routing one incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingDecision {
    /// The rule that matched, if any.
    pub rule: Option<RuleId>,
    /// The escalation policy that applies (from the rule or the severity default). It is kept
    /// even when paging is suppressed, so a dry-run can say where the incident would have gone:
    /// check [`RoutingDecision::pages`] before escalating.
    pub policy: Option<PolicyId>,
    /// The effective severity (after a rule's override).
    pub severity: Severity,
    /// The effective urgency.
    pub urgency: Urgency,
    /// Set when nobody is to be paged because of a rule or a maintenance window.
    pub suppressed: Option<Suppression>,
    /// One line per step, for `klaxon route test` and the timeline.
    pub explanation: Vec<String>,
}

impl RoutingDecision {
    /// Whether escalation should start: a policy applies and nothing suppresses paging.
    pub fn pages(&self) -> bool {
        self.policy.is_some() && self.suppressed.is_none()
    }
}

/// The first rule in priority order that matches `context`, explaining each rule tried.
fn first_matching_rule<'a>(
    context: &RoutingContext,
    rules: &'a [RoutingRule],
    explanation: &mut Vec<String>,
) -> Option<&'a RoutingRule> {
    let mut matched = None;
    for rule in in_priority_order(rules, |rule| rule.priority) {
        if context.matched_by(&rule.matcher) {
            explanation.push(format!(
                "rule {} (priority {}) matched",
                rule.id, rule.priority
            ));
            matched = Some(rule);
            break;
        }
        explanation.push(format!(
            "rule {} (priority {}) did not match",
            rule.id, rule.priority
        ));
    }
    if matched.is_none() {
        explanation.push("no rule matched: severity defaults apply".to_string());
    }
    matched
}

/// The policy from the matched rule, else the default for `severity`, explained.
fn effective_policy(
    matched: Option<&RoutingRule>,
    defaults: &RoutingDefaults,
    severity: Severity,
    explanation: &mut Vec<String>,
) -> Option<PolicyId> {
    match matched.and_then(|rule| rule.policy.clone()) {
        Some(policy) => {
            explanation.push(format!("policy {policy} (from the rule)"));
            Some(policy)
        }
        None => match defaults.for_severity(severity).policy.clone() {
            Some(policy) => {
                explanation.push(format!("policy {policy} (default for {severity})"));
                Some(policy)
            }
            None => {
                explanation.push(format!(
                    "no policy: the rule sets none and {severity} has no default policy, so nobody is paged"
                ));
                None
            }
        },
    }
}

/// Routes an incident with routing context `context` at `now`. Pure: the same inputs always give
/// the same decision. See the module docs for the rules.
pub fn route(
    context: &RoutingContext,
    rules: &[RoutingRule],
    defaults: &RoutingDefaults,
    windows: &[MaintenanceWindow],
    now: Instant,
) -> RoutingDecision {
    let mut explanation = Vec::new();
    let matched = first_matching_rule(context, rules, &mut explanation);

    let severity = match matched.and_then(|rule| rule.severity) {
        Some(overridden) => {
            explanation.push(format!(
                "severity overridden from {} to {overridden}",
                context.severity
            ));
            overridden
        }
        None => context.severity,
    };

    let policy = effective_policy(matched, defaults, severity, &mut explanation);

    let urgency = match matched.and_then(|rule| rule.urgency) {
        Some(urgency) => {
            explanation.push(format!("urgency {} (from the rule)", urgency_name(urgency)));
            urgency
        }
        None => {
            let urgency = defaults.urgency(severity);
            explanation.push(format!(
                "urgency {} (default for {severity})",
                urgency_name(urgency)
            ));
            urgency
        }
    };

    let active_window = windows
        .iter()
        .find(|window| window.is_active(now) && context.matched_by(&window.matcher));
    let suppressed = match (matched.filter(|rule| rule.suppress), active_window) {
        (Some(rule), window) => {
            explanation.push(format!("suppressed by rule {}: nobody is paged", rule.id));
            if let Some(window) = window {
                explanation.push(format!(
                    "maintenance window {} is also active ({})",
                    window.id, window.reason
                ));
            }
            Some(Suppression {
                by: SuppressedBy::Rule(rule.id.clone()),
                reason: None,
            })
        }
        (None, Some(window)) => {
            explanation.push(format!(
                "suppressed by maintenance window {} ({}, {} to {}): nobody is paged",
                window.id,
                window.reason,
                window.start.to_rfc3339(),
                window.end.to_rfc3339()
            ));
            Some(Suppression {
                by: SuppressedBy::MaintenanceWindow(window.id.clone()),
                reason: Some(window.reason.clone()),
            })
        }
        (None, None) => None,
    };

    RoutingDecision {
        rule: matched.map(|rule| rule.id.clone()),
        policy,
        severity,
        urgency,
        suppressed,
        explanation,
    }
}

fn urgency_name(urgency: Urgency) -> &'static str {
    match urgency {
        Urgency::High => "high",
        Urgency::Low => "low",
    }
}

#[cfg(test)]
mod tests;
