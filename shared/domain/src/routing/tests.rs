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
