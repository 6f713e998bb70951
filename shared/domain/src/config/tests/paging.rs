//! Escalation policies, grouping and routing rules, and maintenance windows.

use super::*;

// ---- escalation policies ----

#[test]
fn policy_without_tiers() {
    let errors = errors_after(|v| set(v, "/escalation_policies/0/tiers", json!([])));
    assert_eq!(
        errors,
        vec!["escalation_policies[0].tiers: a policy needs at least one tier"]
    );
}

#[test]
fn tier_without_targets() {
    let errors = errors_after(|v| set(v, "/escalation_policies/0/tiers/0/targets", json!([])));
    assert_eq!(
        errors,
        vec!["escalation_policies[0].tiers[0].targets: a tier needs at least one target"]
    );
}

#[test]
fn unknown_targets() {
    let errors = errors_after(|v| {
        set(
            v,
            "/escalation_policies/0/tiers/0/targets",
            json!([{"schedule": "secondary"}, {"user": "carol"}]),
        );
    });
    assert_eq!(
        errors,
        vec![
            r#"escalation_policies[0].tiers[0].targets[0].schedule: unknown schedule "secondary" (not defined under schedules)"#,
            r#"escalation_policies[0].tiers[0].targets[1].user: unknown user "carol" (not defined under users)"#,
        ]
    );
}

#[test]
fn ack_timeout_limits_and_the_reserved_direct_policy() {
    let errors = errors_after(|v| {
        set(v, "/escalation_policies/0/ack_timeout", json!("0s"));
        set(v, "/settings", json!({"ack_timeout": "8d"}));
    });
    assert_eq!(
        errors,
        vec![
            "escalation_policies[0].ack_timeout: must be between 1s and 7d (got 0s)",
            "settings.ack_timeout: must be between 1s and 7d (got 8d)",
        ]
    );
    let errors = errors_after(|v| set(v, "/escalation_policies/0/id", json!("direct")));
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("escalation_policies[0].id: \"direct\" is reserved")),
        "{errors:?}"
    );
    // The policy's own timeout wins over the setting.
    let mut config = base();
    set(
        &mut config,
        "/escalation_policies/0/ack_timeout",
        json!("30m"),
    );
    set(&mut config, "/settings", json!({"ack_timeout": "2h"}));
    let config = Config::from_json(&config.to_string()).expect("valid");
    let id = config.escalation_policies[0].id.clone();
    assert_eq!(config.ack_timeout(&id).map(|d| d.as_secs()), Some(1800));
    let direct = crate::ids::PolicyId::direct();
    assert_eq!(config.ack_timeout(&direct).map(|d| d.as_secs()), Some(7200));
}

#[test]
fn tier_delay_and_repeat_limits() {
    let errors = errors_after(|v| {
        set(v, "/escalation_policies/0/tiers/0/delay", json!("0s"));
        set(v, "/escalation_policies/0/repeat", json!(11));
    });
    assert_eq!(
        errors,
        vec![
            "escalation_policies[0].repeat: must be at most 10 (got 11)",
            "escalation_policies[0].tiers[0].delay: must be at least 1s (got 0s)",
        ]
    );
    // Sub-minute delays are valid (local tests) but warned about (cloud precision).
    let mut config = base();
    set(
        &mut config,
        "/escalation_policies/0/tiers/0/delay",
        json!("30s"),
    );
    let config = Config::from_json(&config.to_string()).expect("30s is valid");
    let warnings: Vec<String> = config.warnings().iter().map(|w| w.to_string()).collect();
    assert!(
        warnings.iter().any(|w| w.starts_with("escalation_policies[0].tiers[0].delay: 30s is shorter than 1m")),
        "{warnings:?}"
    );
}

#[test]
fn bad_duration_text() {
    let errors = errors_after(|v| set(v, "/escalation_policies/0/tiers/0/delay", json!("soon")));
    assert_one_error(
        &errors,
        "escalation_policies[0].tiers[0].delay",
        "invalid duration \"soon\"",
    );
}

#[test]
fn duplicate_policy_id() {
    let errors = errors_after(|v| {
        let copy = v.pointer("/escalation_policies/0").unwrap().clone();
        v.pointer_mut("/escalation_policies")
            .unwrap()
            .as_array_mut()
            .unwrap()
            .push(copy);
    });
    assert_one_error(
        &errors,
        "escalation_policies[1].id",
        "duplicate escalation policy id \"infra\"",
    );
}

// ---- grouping ----

#[test]
fn grouping_rule_checks() {
    let errors = errors_after(|v| {
        set(
            v,
            "/grouping/rules/0/group_by",
            json!(["alertname", "", "alertname"]),
        );
        set(v, "/grouping/rules/0/window", json!("0s"));
        set(
            v,
            "/grouping/rules/0/match/integrations",
            json!(["am", "grafana"]),
        );
        set(v, "/grouping/default_window", json!("0s"));
    });
    assert_eq!(
        errors,
        vec![
            "grouping.default_window: must be more than 0s",
            "grouping.rules[0].group_by[1]: must not be empty",
            "grouping.rules[0].group_by[2]: \"alertname\" is listed twice",
            r#"grouping.rules[0].match.integrations[1]: unknown integration "grafana" (not defined under integrations)"#,
            "grouping.rules[0].window: must be more than 0s",
        ]
    );
}

#[test]
fn duplicate_grouping_rule_id() {
    let errors = errors_after(|v| {
        let copy = v.pointer("/grouping/rules/0").unwrap().clone();
        v.pointer_mut("/grouping/rules")
            .unwrap()
            .as_array_mut()
            .unwrap()
            .push(copy);
    });
    assert_one_error(
        &errors,
        "grouping.rules[1].id",
        "duplicate grouping rule id \"by-alertname\"",
    );
}

#[test]
fn grouping_unknown_field() {
    let errors = errors_after(|v| set(v, "/grouping/window", json!("1h")));
    assert_one_error(
        &errors,
        "grouping.window",
        "unknown field (expected `default_window` or `rules`)",
    );
}

// ---- routing ----

#[test]
fn routing_unknown_policies() {
    let errors = errors_after(|v| {
        set(v, "/routing/rules/0/policy", json!("database"));
        set(v, "/routing/defaults/warning", json!({"policy": "daytime"}));
    });
    assert_eq!(
        errors,
        vec![
            r#"routing.defaults.warning.policy: unknown escalation policy "daytime" (not defined under escalation_policies)"#,
            r#"routing.rules[0].policy: unknown escalation policy "database" (not defined under escalation_policies)"#,
        ]
    );
}

#[test]
fn routing_unknown_integration_in_match() {
    let errors =
        errors_after(|v| set(v, "/routing/rules/0/match/integrations", json!(["grafana"])));
    assert_eq!(
        errors,
        vec![
            r#"routing.rules[0].match.integrations[0]: unknown integration "grafana" (not defined under integrations)"#
        ]
    );
}

#[test]
fn routing_duplicate_rule_id() {
    let errors = errors_after(|v| {
        let copy = v.pointer("/routing/rules/0").unwrap().clone();
        v.pointer_mut("/routing/rules")
            .unwrap()
            .as_array_mut()
            .unwrap()
            .push(copy);
    });
    assert_one_error(
        &errors,
        "routing.rules[1].id",
        "duplicate routing rule id \"db\"",
    );
}

#[test]
fn routing_bad_matchers() {
    let errors = errors_after(|v| {
        set(
            v,
            "/routing/rules/0/match/labels",
            json!({"app.kubernetes.io/name": {"regex": "("}}),
        );
    });
    assert_eq!(
        errors,
        vec![
            r#"routing.rules[0].match.labels["app.kubernetes.io/name"].regex: invalid regex: unclosed group"#
        ]
    );
    let errors = errors_after(|v| set(v, "/routing/rules/0/match/summary", json!("(")));
    assert_eq!(
        errors,
        vec!["routing.rules[0].match.summary: invalid regex: unclosed group"]
    );
    let errors = errors_after(|v| {
        set(
            v,
            "/maintenance_windows/0/match",
            json!({"source": {"regex": "[z-a]"}}),
        );
    });
    assert_one_error(
        &errors,
        "maintenance_windows[0].match.source.regex",
        "invalid regex: ",
    );
    let errors = errors_after(|v| {
        set(
            v,
            "/grouping/rules/0/match/labels",
            json!({"env": {"regex": "a{99999999}"}}),
        );
    });
    assert_one_error(
        &errors,
        "grouping.rules[0].match.labels.env.regex",
        "invalid regex: ",
    );
    let errors = errors_after(|v| set(v, "/routing/rules/0/match/labels", json!({"code": 500})));
    assert_one_error(
        &errors,
        "routing.rules[0].match.labels.code",
        "expected text (exact match; quote numbers)",
    );
    let errors = errors_after(|v| set(v, "/routing/rules/0/match/severities", json!(["fatal"])));
    assert_one_error(
        &errors,
        "routing.rules[0].match.severities[0]",
        "unknown variant `fatal`",
    );
}

#[test]
fn routing_unknown_severity_in_defaults() {
    let errors = errors_after(|v| set(v, "/routing/defaults/fatal", json!({})));
    assert_one_error(&errors, "routing.defaults.fatal", "unknown field");
}

// ---- maintenance windows ----

#[test]
fn maintenance_window_must_end_after_start() {
    let errors = errors_after(|v| {
        set(
            v,
            "/maintenance_windows/0/end",
            json!("2026-03-14T01:00:00Z"),
        )
    });
    assert_eq!(
        errors,
        vec!["maintenance_windows[0].end: must be after start"]
    );
}

#[test]
fn maintenance_window_reason_integration_and_time_format() {
    let errors = errors_after(|v| {
        set(v, "/maintenance_windows/0/reason", json!(""));
        set(
            v,
            "/maintenance_windows/0/match",
            json!({"integrations": ["nope"]}),
        );
    });
    assert_eq!(
        errors,
        vec![
            r#"maintenance_windows[0].match.integrations[0]: unknown integration "nope" (not defined under integrations)"#,
            "maintenance_windows[0].reason: must say why (it is shown on the timeline)",
        ]
    );
    let errors = errors_after(|v| set(v, "/maintenance_windows/0/start", json!("tomorrow")));
    assert_one_error(
        &errors,
        "maintenance_windows[0].start",
        "expected an RFC 3339 instant such as \"2026-03-14T01:00:00Z\"",
    );
}

#[test]
fn duplicate_maintenance_window_id() {
    let errors = errors_after(|v| {
        let copy = v.pointer("/maintenance_windows/0").unwrap().clone();
        v.pointer_mut("/maintenance_windows")
            .unwrap()
            .as_array_mut()
            .unwrap()
            .push(copy);
    });
    assert_one_error(
        &errors,
        "maintenance_windows[1].id",
        "duplicate maintenance window id",
    );
}
