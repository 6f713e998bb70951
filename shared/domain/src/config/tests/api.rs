//! File types, validation of configs built in code, warnings, and canonical JSON.

use super::*;

#[test]
fn file_type_by_extension() {
    assert_eq!(
        ConfigFormat::from_file_name("klaxon.YML"),
        Some(ConfigFormat::Yaml)
    );
    assert_eq!(
        ConfigFormat::from_file_name("a/b.json"),
        Some(ConfigFormat::Json)
    );
    assert_eq!(ConfigFormat::from_file_name("klaxon.toml"), None);
    assert_eq!(ConfigFormat::from_file_name("klaxon"), None);
    assert!(Config::from_file("klaxon.yaml", BASE).is_ok());
    let json = serde_json::to_string(&base()).unwrap();
    assert!(Config::from_file("klaxon.json", &json).is_ok());
    assert!(
        Config::from_file("klaxon.json", BASE).is_err(),
        "YAML is not JSON"
    );
    let err = Config::from_file("klaxon.toml", BASE).unwrap_err();
    assert!(
        err.to_string().contains("use .yaml, .yml or .json"),
        "{err}"
    );
}

#[test]
fn validate_checks_configs_built_in_code() {
    let mut config = Config::from_yaml(BASE).unwrap();
    assert_eq!(config.validate(), Ok(()));
    config.escalation_policies[0].tiers.push(Tier {
        delay: HumanDuration::from_mins(5),
        targets: vec![Target::User(UserId::new("ghost").unwrap())],
    });
    let errors = config.validate().unwrap_err();
    assert_eq!(
        errors.paths(),
        vec!["escalation_policies[0].tiers[1].targets[0].user"]
    );
}

#[test]
fn warnings_note_ties_actionless_rules_and_missing_default_policies() {
    let text = BASE.replace(
        "maintenance_windows:",
        "    - id: also-one\n      priority: 1\n      match: { labels: { team: web } }\nmaintenance_windows:",
    );
    let config = Config::from_yaml(&text).unwrap();
    let warnings: Vec<String> = config.warnings().iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        vec![
            "routing.defaults.error.policy: not set: error incidents that no rule routes to a policy page nobody",
            "routing.defaults.info.policy: not set: info incidents that no rule routes to a policy page nobody",
            "routing.defaults.warning.policy: not set: warning incidents that no rule routes to a policy page nobody",
            "routing.rules[1]: has no action (policy, suppress, severity or urgency): when it matches, later rules are skipped and the severity defaults apply",
            "routing.rules[1].priority: same priority 1 as routing.rules[0]; equal priorities are tried in file order",
        ]
    );
}

// ---- canonical JSON ----

#[test]
fn canonical_json_is_sorted_stable_and_round_trips() {
    let config = Config::from_yaml(EXAMPLE).unwrap();
    let canonical = config.to_canonical_json().unwrap();
    assert!(canonical.ends_with("}\n"));
    // Keys sorted at the top level.
    let top: Vec<&str> = canonical
        .lines()
        .filter(|l| l.starts_with("  \""))
        .map(|l| l.trim().split('"').nth(1).unwrap())
        .collect();
    let mut sorted = top.clone();
    sorted.sort_unstable();
    assert_eq!(top, sorted);
    assert!(top.contains(&"escalation_policies"));

    let again = Config::from_json(&canonical).unwrap();
    assert_eq!(again, config);
    assert_eq!(again.to_canonical_json().unwrap(), canonical);
    assert_eq!(again.fingerprint().unwrap(), config.fingerprint().unwrap());
    assert!(
        !canonical.contains("SLACK_WEBHOOK_URL\":"),
        "no resolved secrets"
    );
    assert!(canonical.contains("\"${SLACK_WEBHOOK_URL}\""));
}

#[test]
fn canonical_json_ignores_key_order_and_defaults_but_not_values() {
    let reordered = r#"
integrations: [{ format: alertmanager, name: am }]
users:
  - { name: Bob, id: bob, email: bob@example.com, time_zone: UTC, contact: { low: [email], high: [email] } }
"#;
    let plain = r#"
users:
  - id: bob
    name: Bob
    email: bob@example.com
integrations:
  - name: am
    format: alertmanager
settings: { auto_resolve: true }
"#;
    let a = Config::from_yaml(reordered).unwrap();
    let b = Config::from_yaml(plain).unwrap();
    assert_eq!(
        a.to_canonical_json().unwrap(),
        b.to_canonical_json().unwrap()
    );
    let c = Config::from_yaml(&plain.replace("Bob\n", "Robert\n")).unwrap();
    assert_ne!(a.fingerprint().unwrap(), c.fingerprint().unwrap());
}
