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

    let policy = match matched.and_then(|rule| rule.policy.clone()) {
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
    };

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
mod tests {
    use super::*;
    use crate::matcher::ValueMatcher;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn ctx(severity: Severity, labels: &[(&str, &str)]) -> RoutingContext {
        RoutingContext {
            integration: IntegrationName::new("am").unwrap(),
            source: Some("prometheus".into()),
            severity,
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            summary: "Disk almost full on db-1".into(),
        }
    }

    fn rule(id: &str, priority: u32) -> RoutingRule {
        RoutingRule {
            id: RuleId::new(id).unwrap(),
            priority,
            matcher: AlertMatcher::default(),
            policy: None,
            suppress: false,
            severity: None,
            urgency: None,
        }
    }

    fn team(value: &str) -> AlertMatcher {
        let mut m = AlertMatcher::default();
        m.labels
            .insert("team".into(), ValueMatcher::Exact(value.into()));
        m
    }

    fn policy(id: &str) -> Option<PolicyId> {
        Some(PolicyId::new(id).unwrap())
    }

    fn at(h: u32, m: u32, s: u32) -> Instant {
        chrono::Utc.with_ymd_and_hms(2026, 3, 14, h, m, s).unwrap()
    }

    fn defaults() -> RoutingDefaults {
        RoutingDefaults {
            critical: SeverityDefaults {
                policy: policy("infra"),
                urgency: None,
            },
            error: SeverityDefaults {
                policy: policy("infra"),
                urgency: None,
            },
            warning: SeverityDefaults {
                policy: policy("daytime"),
                urgency: Some(Urgency::High),
            },
            info: SeverityDefaults::default(),
        }
    }

    #[test]
    fn defaults_per_severity_when_no_rule_matches() {
        let rules = vec![{
            let mut r = rule("db", 1);
            r.matcher = team("db");
            r.policy = policy("db");
            r
        }];
        let d = route(
            &ctx(Severity::Critical, &[]),
            &rules,
            &defaults(),
            &[],
            at(0, 0, 0),
        );
        assert_eq!((d.rule.clone(), d.policy.clone()), (None, policy("infra")));
        assert_eq!(d.urgency, Urgency::High);
        assert!(d.pages());

        let d = route(
            &ctx(Severity::Warning, &[]),
            &rules,
            &defaults(),
            &[],
            at(0, 0, 0),
        );
        assert_eq!(d.policy, policy("daytime"));
        assert_eq!(
            d.urgency,
            Urgency::High,
            "configured urgency beats built-in"
        );

        let d = route(
            &ctx(Severity::Info, &[]),
            &rules,
            &defaults(),
            &[],
            at(0, 0, 0),
        );
        assert_eq!(d.policy, None);
        assert_eq!(d.urgency, Urgency::Low, "built-in: info is low");
        assert!(!d.pages());
        assert!(d.explanation.iter().any(|l| l.contains("nobody is paged")));

        let d = route(
            &ctx(Severity::Error, &[]),
            &[],
            &RoutingDefaults::default(),
            &[],
            at(0, 0, 0),
        );
        assert_eq!(d.urgency, Urgency::High, "built-in: error is high");
    }

    #[test]
    fn rule_policy_severity_and_urgency_overrides() {
        let mut r = rule("payments", 1);
        r.matcher = team("payments");
        r.severity = Some(Severity::Critical);
        let rules = vec![r];
        // Severity override without a policy: the default of the *new* severity applies.
        let d = route(
            &ctx(Severity::Warning, &[("team", "payments")]),
            &rules,
            &defaults(),
            &[],
            at(0, 0, 0),
        );
        assert_eq!(d.rule.as_ref().map(RuleId::as_str), Some("payments"));
        assert_eq!(d.severity, Severity::Critical);
        assert_eq!(d.policy, policy("infra"));
        assert_eq!(d.urgency, Urgency::High);

        let mut r = rules[0].clone();
        r.policy = policy("payments-team");
        r.urgency = Some(Urgency::Low);
        let d = route(
            &ctx(Severity::Warning, &[("team", "payments")]),
            &[r],
            &defaults(),
            &[],
            at(0, 0, 0),
        );
        assert_eq!(d.policy, policy("payments-team"));
        assert_eq!(d.urgency, Urgency::Low);
    }

    #[test]
    fn suppress_rule_keeps_policy_but_pages_nobody() {
        let mut noisy = rule("noisy", 1);
        noisy.matcher.severities = vec![Severity::Info];
        noisy.suppress = true;
        let d = route(
            &ctx(Severity::Info, &[]),
            &[noisy.clone()],
            &defaults(),
            &[],
            at(0, 0, 0),
        );
        assert!(!d.pages());
        assert_eq!(
            d.suppressed.map(|s| s.by),
            Some(SuppressedBy::Rule(RuleId::new("noisy").unwrap()))
        );
        let d = route(
            &ctx(Severity::Error, &[]),
            &[noisy],
            &defaults(),
            &[],
            at(0, 0, 0),
        );
        assert!(d.suppressed.is_none());
        assert!(d.pages());
    }

    #[test]
    fn maintenance_window_start_inclusive_end_exclusive() {
        let window = MaintenanceWindow {
            id: RuleId::new("db-upgrade").unwrap(),
            start: at(1, 0, 0),
            end: at(5, 0, 0),
            matcher: team("db"),
            reason: "Postgres upgrade".into(),
        };
        let windows = [window];
        let db = ctx(Severity::Critical, &[("team", "db")]);
        let by_window = Some(SuppressedBy::MaintenanceWindow(
            RuleId::new("db-upgrade").unwrap(),
        ));
        let suppressed_at = |now| {
            route(&db, &[], &defaults(), &windows, now)
                .suppressed
                .map(|s| s.by)
        };
        assert_eq!(suppressed_at(at(0, 59, 59)), None);
        assert_eq!(suppressed_at(at(1, 0, 0)), by_window, "start is inclusive");
        assert_eq!(suppressed_at(at(4, 59, 59)), by_window);
        assert_eq!(suppressed_at(at(5, 0, 0)), None, "end is exclusive");

        let web = ctx(Severity::Critical, &[("team", "web")]);
        assert!(route(&web, &[], &defaults(), &windows, at(2, 0, 0)).pages());
        let d = route(&db, &[], &defaults(), &windows, at(2, 0, 0));
        assert_eq!(
            d.suppressed.and_then(|s| s.reason).as_deref(),
            Some("Postgres upgrade")
        );
        assert_eq!(d.policy, policy("infra"), "dry-run still shows the policy");
    }

    #[test]
    fn suppressing_rule_is_reported_over_a_window() {
        let mut r = rule("mute-db", 1);
        r.matcher = team("db");
        r.suppress = true;
        let window = MaintenanceWindow {
            id: RuleId::new("all").unwrap(),
            start: at(0, 0, 0),
            end: at(6, 0, 0),
            matcher: AlertMatcher::default(),
            reason: "move".into(),
        };
        let d = route(
            &ctx(Severity::Critical, &[("team", "db")]),
            &[r],
            &defaults(),
            &[window],
            at(1, 0, 0),
        );
        assert_eq!(
            d.suppressed.map(|s| s.by),
            Some(SuppressedBy::Rule(RuleId::new("mute-db").unwrap()))
        );
    }

    #[test]
    fn context_from_alert_routes_like_the_alert() {
        let alert: Alert = serde_json::from_value(serde_json::json!({
            "integration": "am", "dedup_key": "k", "status": "firing", "severity": "warning",
            "summary": "x", "labels": {"team": "db"}, "received_at": "2026-01-01T00:00:00Z"
        }))
        .unwrap();
        let mut r = rule("db", 1);
        r.matcher = team("db");
        let d = route(
            &RoutingContext::from(&alert),
            &[r],
            &defaults(),
            &[],
            at(0, 0, 0),
        );
        assert_eq!(d.rule.map(String::from).as_deref(), Some("db"));
    }

    /// A rule in a generated list, relative to the winner built into it.
    #[derive(Debug, Clone)]
    enum Other {
        /// Does not match; any priority.
        Miss(u32),
        /// Matches, with a priority strictly above the winner's.
        MatchAbove(u32),
        /// Matches with the winner's priority (placed after the winner only).
        MatchTie,
    }

    proptest! {
        #[test]
        fn first_match_in_priority_order_wins(
            before in proptest::collection::vec(prop_oneof![
                (0u32..100).prop_map(Other::Miss),
                (1u32..50).prop_map(Other::MatchAbove),
            ], 0..6),
            after in proptest::collection::vec(prop_oneof![
                (0u32..100).prop_map(Other::Miss),
                (1u32..50).prop_map(Other::MatchAbove),
                Just(Other::MatchTie),
            ], 0..6),
            winner_priority in 0u32..60,
        ) {
            // Matching rules elsewhere have a higher priority number, or the same one but come
            // later in the file; misses may have any priority. So the winner is known.
            let build = |i: usize, other: &Other| {
                let mut r = rule(&format!("r{i}"), 0);
                r.policy = policy(&format!("p{i}"));
                match other {
                    Other::Miss(p) => { r.priority = *p; r.matcher = team("nobody"); }
                    Other::MatchAbove(delta) => {
                        r.priority = winner_priority + delta;
                        r.matcher = team("db");
                    }
                    Other::MatchTie => { r.priority = winner_priority; r.matcher = team("db"); }
                }
                r
            };
            let mut rules: Vec<RoutingRule> =
                before.iter().enumerate().map(|(i, o)| build(i, o)).collect();
            let mut winner = rule("winner", winner_priority);
            winner.matcher = team("db");
            winner.policy = policy("winning-policy");
            rules.push(winner);
            let offset = rules.len();
            rules.extend(after.iter().enumerate().map(|(i, o)| build(offset + i, o)));

            let d = route(&ctx(Severity::Error, &[("team", "db")]), &rules, &defaults(), &[], at(0, 0, 0));
            prop_assert_eq!(d.rule.as_ref().map(RuleId::as_str), Some("winner"));
            prop_assert_eq!(d.policy, policy("winning-policy"));
        }
    }
}
