use super::parse::{config_from_value, yaml_value};
use super::*;
use crate::alert::{AlertStatus, Severity};
use crate::duration::HumanDuration;
use crate::escalation::{Target, Tier};
use crate::ids::{DedupKey, RuleId};
use crate::incident::Urgency;
use crate::ingest::Format;
use crate::routing::SuppressedBy;
use crate::user::Channel;
use chrono::TimeZone;
use serde_json::{Value, json};
use std::collections::BTreeMap;

const EXAMPLE: &str = include_str!("../../../../examples/klaxon.yaml");

/// A small valid configuration that error tests break one piece at a time.
const BASE: &str = r#"
users:
  - id: alice
    name: Alice
    email: alice@example.com
    phone: "+15551234567"
  - id: bob
    name: Bob
    email: bob@example.com
schedules:
  - id: primary
    name: Primary
    time_zone: Europe/Berlin
    layers:
      - name: weekly
        rotation:
          participants: [alice, bob]
          start: "2026-01-05T09:00:00"
          shift: { weeks: 1 }
escalation_policies:
  - id: infra
    name: Infra
    tiers:
      - delay: 5m
        targets: [{ schedule: primary }, { user: bob }]
grouping:
  rules:
    - id: by-alertname
      priority: 1
      match: { integrations: [am] }
      group_by: [alertname]
routing:
  defaults:
    critical: { policy: infra }
  rules:
    - id: db
      priority: 1
      match: { labels: { team: db } }
      policy: infra
maintenance_windows:
  - id: upgrade
    start: "2026-03-14T01:00:00Z"
    end: "2026-03-14T05:00:00Z"
    reason: upgrade
integrations:
  - name: am
    format: alertmanager
"#;

fn base() -> Value {
    yaml_value(BASE).unwrap()
}

/// Sets the value at a JSON pointer, creating the last key if needed.
fn set(root: &mut Value, pointer: &str, new: Value) {
    let (parent, last) = pointer.rsplit_once('/').unwrap();
    let parent = if parent.is_empty() {
        root
    } else {
        root.pointer_mut(parent)
            .unwrap_or_else(|| panic!("no {parent}"))
    };
    match parent {
        Value::Object(map) => {
            map.insert(last.to_string(), new);
        }
        Value::Array(items) => items[last.parse::<usize>().unwrap()] = new,
        other => panic!("cannot set in {other}"),
    }
}

fn remove(root: &mut Value, pointer: &str) {
    let (parent, last) = pointer.rsplit_once('/').unwrap();
    root.pointer_mut(parent)
        .unwrap()
        .as_object_mut()
        .unwrap()
        .remove(last)
        .unwrap();
}

/// The error lines after changing the base configuration with `change`.
fn errors_after(change: impl FnOnce(&mut Value)) -> Vec<String> {
    let mut value = base();
    change(&mut value);
    match config_from_value(value) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.issues.iter().map(ToString::to_string).collect(),
    }
}

/// Asserts exactly one error, at `path`, whose message contains `fragment`.
fn assert_one_error(errors: &[String], path: &str, fragment: &str) {
    assert_eq!(errors.len(), 1, "expected one error, got {errors:#?}");
    let (got_path, message) = errors[0].split_once(": ").unwrap();
    assert_eq!(got_path, path, "{errors:?}");
    assert!(message.contains(fragment), "{message:?} lacks {fragment:?}");
}

fn yaml_errors(text: &str) -> Vec<String> {
    match Config::from_yaml(text) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.issues.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn base_configuration_is_valid() {
    assert_eq!(errors_after(|_| {}), Vec::<String>::new());
}

// ---- document level ----

#[test]
fn yaml_syntax_errors_name_the_line() {
    let errors = yaml_errors("users:\n  - id: [alice\n    name: x\n");
    assert_eq!(errors.len(), 1);
    assert!(errors[0].starts_with("invalid YAML: "), "{errors:?}");
    assert!(errors[0].contains("line"), "{errors:?}");
}

#[test]
fn json_syntax_errors_name_the_line() {
    let err = Config::from_json("{\"users\": [}").unwrap_err();
    assert!(err.to_string().starts_with("invalid JSON: "), "{err}");
    assert!(err.to_string().contains("line 1"), "{err}");
}

#[test]
fn document_must_be_a_mapping_and_empty_is_valid() {
    let errors = yaml_errors("- alice\n- bob\n");
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].contains("must be a mapping of sections"),
        "{errors:?}"
    );
    let empty = Config::from_yaml("").unwrap();
    assert_eq!(empty, Config::default());
}

#[test]
fn unknown_section() {
    let errors = errors_after(|v| set(v, "/user", json!([])));
    assert_one_error(
        &errors,
        "user",
        "unknown section (expected one of: version, users",
    );
}

#[test]
fn unsupported_version() {
    let errors = errors_after(|v| set(v, "/version", json!(2)));
    assert_one_error(&errors, "version", "unsupported version 2");
    assert!(errors_after(|v| set(v, "/version", json!(1))).is_empty());
}

#[test]
fn section_of_the_wrong_shape() {
    let errors = errors_after(|v| set(v, "/users", json!({"alice": {}})));
    // The users are gone, so references to them are reported too; the first line is the cause.
    assert_eq!(errors[0], "users: expected a list, found a mapping");
    let errors = errors_after(|v| set(v, "/routing", json!([])));
    assert_one_error(&errors, "routing", "expected a mapping, found a list");
}

// ---- users ----

#[test]
fn duplicate_user_id() {
    let errors = errors_after(|v| {
        let copy = v.pointer("/users/0").unwrap().clone();
        v.pointer_mut("/users")
            .unwrap()
            .as_array_mut()
            .unwrap()
            .push(copy);
    });
    assert_eq!(
        errors,
        vec![r#"users[2].id: duplicate user id "alice" (first defined at users[0])"#]
    );
}

#[test]
fn user_email_shape() {
    let errors = errors_after(|v| set(v, "/users/1/email", json!("bob.example.com")));
    assert_one_error(
        &errors,
        "users[1].email",
        "is not an email address: it has no '@'",
    );
}

#[test]
fn user_phone_e164() {
    let errors = errors_after(|v| set(v, "/users/0/phone", json!("555-1234")));
    assert_one_error(&errors, "users[0].phone", "is not in E.164 form");
}

#[test]
fn unquoted_yaml_phone_gets_a_quoting_hint() {
    let text = BASE.replace(r#"phone: "+15551234567""#, "phone: +15551234567");
    let errors = yaml_errors(&text);
    assert_one_error(&errors, "users[0].phone", "\"+15551234567\"");
}

#[test]
fn user_slack_id_shape() {
    let errors = errors_after(|v| {
        set(v, "/users/0/slack_id", json!("@alice"));
        set(
            v,
            "/notifications",
            json!({"slack": {"webhook_url": "${SLACK_URL}"}}),
        );
    });
    assert_one_error(&errors, "users[0].slack_id", "is not a Slack member id");
}

#[test]
fn user_unknown_field_names_the_field() {
    let errors = errors_after(|v| set(v, "/users/0/phon", json!("+15551234567")));
    assert_one_error(
        &errors,
        "users[0].phon",
        "unknown field (expected one of `id`, `name`",
    );
}

#[test]
fn user_missing_name() {
    let errors = errors_after(|v| remove(v, "/users/1/name"));
    assert_eq!(errors, vec!["users[1].name: required field is missing"]);
}

#[test]
fn user_blank_name() {
    let errors = errors_after(|v| set(v, "/users/1/name", json!("  ")));
    assert_eq!(errors, vec!["users[1].name: must not be empty"]);
}

#[test]
fn invalid_time_zones() {
    let errors = errors_after(|v| {
        set(v, "/users/0/time_zone", json!("Europe/Atlantis"));
        set(v, "/schedules/0/time_zone", json!("CEST+1"));
    });
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].starts_with("users[0].time_zone: "), "{errors:?}");
    assert!(errors[0].contains("Europe/Atlantis"), "{errors:?}");
    assert!(errors[0].contains("use an IANA zone name"), "{errors:?}");
    assert!(
        errors[1].starts_with("schedules[0].time_zone: "),
        "{errors:?}"
    );
}

#[test]
fn sms_without_phone() {
    let errors = errors_after(|v| set(v, "/users/1/contact", json!({"high": ["sms"]})));
    assert_eq!(
        errors,
        vec!["users[1].contact.high[0]: sms needs a phone number (users[1].phone)"]
    );
}

#[test]
fn email_without_address() {
    let errors = errors_after(|v| {
        remove(v, "/users/0/email");
        set(
            v,
            "/users/0/contact",
            json!({"high": ["sms"], "low": ["email"]}),
        );
    });
    assert_eq!(
        errors,
        vec!["users[0].contact.low[0]: email needs an email address (users[0].email)"]
    );
}

#[test]
fn slack_needs_member_id_and_shared_webhook() {
    let errors = errors_after(|v| set(v, "/users/1/contact", json!({"high": ["email", "slack"]})));
    assert_eq!(
        errors,
        vec![
            "users[1].contact.high[1]: slack needs a Slack member id (users[1].slack_id) and \
             the shared Slack webhook (notifications.slack)"
        ]
    );
}

#[test]
fn teams_and_webhook_channels_need_shared_endpoints() {
    let errors = errors_after(|v| {
        set(
            v,
            "/users/1/contact",
            json!({"high": ["teams", "webhook"], "low": []}),
        );
    });
    assert_eq!(
        errors,
        vec![
            "users[1].contact.high[0]: teams needs the shared Teams webhook (notifications.teams)",
            "users[1].contact.high[1]: webhook needs at least one generic webhook (notifications.webhooks)",
        ]
    );
    let fixed = errors_after(|v| {
        set(
            v,
            "/users/1/contact",
            json!({"high": ["teams", "webhook"], "low": []}),
        );
        set(
            v,
            "/notifications",
            json!({
                "teams": {"webhook_url": "${TEAMS_URL}"},
                "webhooks": [{"name": "bot", "url": "${BOT_URL}", "signing_secret": "${BOT_SECRET}"}]
            }),
        );
    });
    assert!(fixed.is_empty(), "{fixed:?}");
}

#[test]
fn channel_listed_twice() {
    let errors = errors_after(|v| set(v, "/users/1/contact", json!({"high": ["email", "email"]})));
    assert_eq!(
        errors,
        vec!["users[1].contact.high[1]: email is listed twice"]
    );
}

#[test]
fn user_without_any_high_urgency_channel() {
    let errors = errors_after(|v| remove(v, "/users/1/email"));
    assert_one_error(
        &errors,
        "users[1].contact.high",
        "no channel for high-urgency pages",
    );
    let errors = errors_after(|v| set(v, "/users/0/contact", json!({"high": []})));
    assert_one_error(
        &errors,
        "users[0].contact.high",
        "no channel for high-urgency pages",
    );
}

#[test]
fn unknown_channel_name() {
    let errors = errors_after(|v| set(v, "/users/0/contact", json!({"high": ["pager"]})));
    assert_one_error(
        &errors,
        "users[0].contact.high[0]",
        "unknown variant `pager`",
    );
}

// ---- schedules ----

#[test]
fn duplicate_schedule_id() {
    let errors = errors_after(|v| {
        let copy = v.pointer("/schedules/0").unwrap().clone();
        v.pointer_mut("/schedules")
            .unwrap()
            .as_array_mut()
            .unwrap()
            .push(copy);
    });
    assert_eq!(
        errors,
        vec![r#"schedules[1].id: duplicate schedule id "primary" (first defined at schedules[0])"#]
    );
}

#[test]
fn schedule_without_layers() {
    let errors = errors_after(|v| set(v, "/schedules/0/layers", json!([])));
    assert_eq!(
        errors,
        vec!["schedules[0].layers: a schedule needs at least one layer"]
    );
}

#[test]
fn rotation_without_participants() {
    let errors = errors_after(|v| set(v, "/schedules/0/layers/0/rotation/participants", json!([])));
    assert_eq!(
        errors,
        vec![
            "schedules[0].layers[0].rotation.participants: a rotation needs at least one participant"
        ]
    );
}

#[test]
fn rotation_with_unknown_participant() {
    let errors = errors_after(|v| {
        set(
            v,
            "/schedules/0/layers/0/rotation/participants",
            json!(["alice", "carol"]),
        );
    });
    assert_eq!(
        errors,
        vec![
            r#"schedules[0].layers[0].rotation.participants[1]: unknown user "carol" (not defined under users)"#
        ]
    );
}

#[test]
fn non_positive_shift_lengths() {
    let errors = errors_after(|v| {
        set(
            v,
            "/schedules/0/layers/0/rotation/shift",
            json!({"days": 0}),
        )
    });
    assert_eq!(
        errors,
        vec!["schedules[0].layers[0].rotation.shift.days: must be at least 1"]
    );
    let errors = errors_after(|v| {
        set(
            v,
            "/schedules/0/layers/0/rotation/shift",
            json!({"custom": "30m"}),
        );
    });
    assert_eq!(
        errors,
        vec!["schedules[0].layers[0].rotation.shift.custom: must be at least 1h (got 30m)"]
    );
    for kind in ["hours", "weeks"] {
        let errors = errors_after(|v| {
            set(
                v,
                "/schedules/0/layers/0/rotation/shift",
                json!({ kind: 0 }),
            );
        });
        assert_eq!(
            errors,
            vec![format!(
                "schedules[0].layers[0].rotation.shift.{kind}: must be at least 1"
            )]
        );
    }
    let errors = errors_after(|v| {
        set(
            v,
            "/schedules/0/layers/0/rotation/shift",
            json!({"hours": -1}),
        );
    });
    assert_one_error(
        &errors,
        "schedules[0].layers[0].rotation.shift.hours",
        "invalid value",
    );
}

#[test]
fn unknown_shift_kind() {
    let errors = errors_after(|v| {
        set(
            v,
            "/schedules/0/layers/0/rotation/shift",
            json!({"months": 1}),
        );
    });
    assert_one_error(
        &errors,
        "schedules[0].layers[0].rotation.shift",
        "unknown variant `months`",
    );
}

#[test]
fn bad_rotation_start() {
    let errors = errors_after(|v| {
        set(
            v,
            "/schedules/0/layers/0/rotation/start",
            json!("next monday"),
        );
    });
    assert_one_error(
        &errors,
        "schedules[0].layers[0].rotation.start",
        "expected a local date and time such as \"2026-01-05T09:00:00\"",
    );
}

#[test]
fn bad_restriction_time_and_weekday() {
    let errors = errors_after(|v| {
        set(
            v,
            "/schedules/0/layers/0/restrictions",
            json!([{"days": ["mon"], "from": "25:00", "to": "17:00"}]),
        );
    });
    assert_one_error(
        &errors,
        "schedules[0].layers[0].restrictions[0].from",
        "expected a time of day such as \"09:00\"",
    );
    let errors = errors_after(|v| {
        set(
            v,
            "/schedules/0/layers/0/restrictions",
            json!([{"days": ["someday"], "from": "09:00", "to": "17:00"}]),
        );
    });
    assert_one_error(
        &errors,
        "schedules[0].layers[0].restrictions[0].days",
        "unknown weekday",
    );
}

#[test]
fn unavailability_user_and_order() {
    let errors = errors_after(|v| {
        set(
            v,
            "/schedules/0/unavailability",
            json!([{"user": "zed", "start": "2026-08-02T00:00:00Z", "end": "2026-08-01T00:00:00Z"}]),
        );
    });
    assert_eq!(
        errors,
        vec![
            "schedules[0].unavailability[0].end: must be after start",
            r#"schedules[0].unavailability[0].user: unknown user "zed" (not defined under users)"#,
        ]
    );
}

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

// ---- integrations ----

#[test]
fn integration_keys_are_rejected_with_an_explanation() {
    let errors = errors_after(|v| {
        set(v, "/integrations/0/key", json!("abc123"));
        set(v, "/integrations/0/secret", json!("s3cr3t"));
    });
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].starts_with("integrations[0].key: integration keys are secrets"));
    assert!(
        errors[0].contains("create one with the klaxon CLI"),
        "{errors:?}"
    );
    assert!(errors[0].contains("see the deployment docs"), "{errors:?}");
    assert!(errors[1].starts_with("integrations[0].secret: "));
}

#[test]
fn integration_name_format_and_defaults() {
    let errors = errors_after(|v| {
        let copy = v.pointer("/integrations/0").unwrap().clone();
        v.pointer_mut("/integrations")
            .unwrap()
            .as_array_mut()
            .unwrap()
            .push(copy);
    });
    assert_one_error(
        &errors,
        "integrations[1].name",
        "duplicate integration name \"am\"",
    );
    let errors = errors_after(|v| set(v, "/integrations/0/format", json!("nagios")));
    assert_one_error(
        &errors,
        "integrations[0].format",
        "unknown variant `nagios`",
    );
    let errors = errors_after(|v| {
        set(
            v,
            "/integrations/0/defaults",
            json!({"insufficient_data": "firing"}),
        );
    });
    assert_eq!(
        errors,
        vec!["integrations[0].defaults.insufficient_data: only applies to cloudwatch integrations"]
    );
    // The integration is gone, so the grouping rule's reference to "am" is unknown too.
    let errors = errors_after(|v| set(v, "/integrations/0/name", json!("Alert Manager")));
    assert_eq!(
        errors,
        vec![
            r#"grouping.rules[0].match.integrations[0]: unknown integration "am" (not defined under integrations)"#,
            "integrations[0].name: may only contain lowercase letters, digits, '-' and '_' (found 'A')",
        ]
    );
}

// ---- notifications and settings ----

#[test]
fn webhook_urls_must_be_env_references() {
    let errors = errors_after(|v| {
        set(
            v,
            "/notifications",
            json!({"slack": {"webhook_url": "https://hooks.slack.com/services/T0/B0/xyz"}}),
        );
    });
    assert_one_error(
        &errors,
        "notifications.slack.webhook_url",
        "must be an environment variable reference like \"${SLACK_WEBHOOK_URL}\"",
    );
}

#[test]
fn generic_webhook_checks() {
    let hook = json!({"name": "bot", "url": "${BOT_URL}", "signing_secret": "${BOT_SECRET}"});
    let errors = errors_after(|v| {
        set(
            v,
            "/notifications",
            json!({"webhooks": [hook.clone(), hook.clone()]}),
        );
    });
    assert_one_error(
        &errors,
        "notifications.webhooks[1].name",
        "duplicate webhook name \"bot\"",
    );
    let errors = errors_after(|v| {
        set(
            v,
            "/notifications",
            json!({"webhooks": [{"name": "bot", "url": "${BOT_URL}", "signing_secret": "plain"}]}),
        );
    });
    assert_one_error(
        &errors,
        "notifications.webhooks[0].signing_secret",
        "environment variable",
    );
    let errors = errors_after(|v| {
        set(
            v,
            "/notifications",
            json!({"webhooks": [{"name": " ", "url": "${BOT_URL}", "signing_secret": "${BOT_SECRET}"}]}),
        );
    });
    assert_eq!(
        errors,
        vec!["notifications.webhooks[0].name: must not be empty"]
    );
}

#[test]
fn settings_checks() {
    let errors = errors_after(|v| set(v, "/settings", json!({"ack_link_lifetime": "0s"})));
    assert_eq!(
        errors,
        vec!["settings.ack_link_lifetime: must be between 1m and 30d (got 0s)"]
    );
    let errors = yaml_errors(&format!("{BASE}settings:\n  auto_resolve: yes\n"));
    assert_one_error(&errors, "settings.auto_resolve", "expected a boolean");
    let errors = errors_after(|v| set(v, "/settings", json!({"auto_resolv": false})));
    assert_one_error(&errors, "settings.auto_resolv", "unknown field");
}

// ---- many errors at once ----

#[test]
fn five_different_errors_are_all_reported_in_document_order() {
    let text = BASE
        .replace("email: bob@example.com", "email: bob-at-example.com")
        .replace("participants: [alice, bob]", "participants: [alice, zed]")
        .replace("delay: 5m", "delay: 0s")
        .replace("      policy: infra", "      policy: nope")
        .replace(
            "end: \"2026-03-14T05:00:00Z\"",
            "end: \"2026-03-14T01:00:00Z\"",
        );
    let errors = Config::from_yaml(&text).unwrap_err();
    assert_eq!(
        errors.paths(),
        vec![
            "users[1].email",
            "schedules[0].layers[0].rotation.participants[1]",
            "escalation_policies[0].tiers[0].delay",
            "routing.rules[0].policy",
            "maintenance_windows[0].end",
        ]
    );
    assert_eq!(errors.to_string().lines().count(), 5);
}

#[test]
fn shape_and_semantic_errors_in_many_elements_are_all_reported() {
    let errors = errors_after(|v| {
        set(v, "/users/0/email", json!(42)); // shape error: user 0 is left out
        set(v, "/users/1/phone", json!("0800"));
        set(v, "/schedules/0/layers/0/rotation/start", json!("soon"));
        set(v, "/integrations/0/format", json!("nagios"));
    });
    let paths: Vec<&str> = errors
        .iter()
        .map(|e| e.split_once(": ").unwrap().0)
        .collect();
    assert_eq!(
        paths,
        vec![
            "users[0].email",
            "users[1].phone",
            "schedules[0].layers[0].rotation.start",
            "integrations[0].format",
        ],
        "{errors:#?}"
    );
    assert!(errors[0].contains("quote the value"), "{errors:?}");
}

#[test]
fn references_to_elements_that_failed_to_parse_are_not_reported_again() {
    // alice is broken (bad field); the rotation still names her: one error, not two.
    let errors = errors_after(|v| set(v, "/users/0/pager", json!("x")));
    assert_one_error(&errors, "users[0].pager", "unknown field");
    // A broken element later in a list keeps its own index in paths.
    let errors = errors_after(|v| {
        let list = v.pointer_mut("/users").unwrap().as_array_mut().unwrap();
        list.insert(0, json!({"id": "zoe"}));
        list.push(json!({"id": "carl", "name": "Carl", "email": "carl@"}));
    });
    assert_eq!(
        errors,
        vec![
            "users[0].name: required field is missing",
            r#"users[3].email: "carl@" is not an email address: the domain must look like example.com"#,
        ]
    );
}

// ---- file type, programmatic validation, warnings ----

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

// ---- the example file ----

fn alert(integration: &str, severity: Severity, summary: &str, labels: &[(&str, &str)]) -> Alert {
    Alert {
        integration: IntegrationName::new(integration).unwrap(),
        dedup_key: DedupKey::new(format!("{integration}-{summary}")).unwrap(),
        status: AlertStatus::Firing,
        severity,
        summary: summary.into(),
        source: None,
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        annotations: BTreeMap::new(),
        links: Vec::new(),
        received_at: chrono::DateTime::UNIX_EPOCH,
        started_at: None,
        ended_at: None,
        group_hint: None,
        raw: Value::Null,
    }
}

fn example() -> Config {
    match Config::from_yaml(EXAMPLE) {
        Ok(config) => config,
        Err(errors) => panic!("examples/klaxon.yaml is invalid:\n{errors}"),
    }
}

#[test]
fn example_validates_without_warnings_and_covers_every_format() {
    let config = example();
    assert_eq!(config.warnings(), Vec::new());
    assert_eq!(config.users.len(), 6);
    let formats: Vec<Format> = config.integrations.iter().map(|i| i.format).collect();
    for format in [
        Format::Alertmanager,
        Format::Grafana,
        Format::Cloudwatch,
        Format::Pagerduty,
        Format::Opsgenie,
        Format::Native,
    ] {
        assert!(formats.contains(&format), "{format:?} missing");
    }
}

#[test]
fn example_lookups() {
    let config = example();
    let anna = config.user(&UserId::new("anna").unwrap()).unwrap();
    assert_eq!(anna.time_zone, chrono_tz::Europe::Berlin);
    assert_eq!(
        anna.channels_for(Urgency::High),
        &[Channel::Sms, Channel::Slack, Channel::Email]
    );
    let farid = config.user(&UserId::new("farid").unwrap()).unwrap();
    assert_eq!(
        farid.channels_for(Urgency::High),
        &[Channel::Sms, Channel::Email],
        "defaults"
    );
    assert_eq!(farid.channels_for(Urgency::Low), &[Channel::Email]);
    assert!(config.user(&UserId::new("nobody").unwrap()).is_none());
    assert_eq!(
        config
            .schedule(&ScheduleId::new("primary").unwrap())
            .unwrap()
            .layers
            .len(),
        2
    );
    assert_eq!(
        config
            .policy(&PolicyId::new("infra").unwrap())
            .unwrap()
            .repeat,
        2
    );
    let cloudwatch = config
        .integration(&IntegrationName::new("cloudwatch-prod").unwrap())
        .unwrap();
    assert_eq!(cloudwatch.format, Format::Cloudwatch);
    assert_eq!(cloudwatch.defaults.severity, Some(Severity::Error));
    assert_eq!(
        config.settings.ack_link_lifetime,
        HumanDuration::from_secs(12 * 3_600)
    );
    assert_eq!(
        config
            .notifications
            .slack
            .as_ref()
            .unwrap()
            .webhook_url
            .var_name(),
        "SLACK_WEBHOOK_URL"
    );
}

#[test]
fn example_grouping_decisions() {
    let config = example();
    let disk_a = alert(
        "alertmanager-prod",
        Severity::Error,
        "disk",
        &[
            ("alertname", "DiskFull"),
            ("cluster", "eu-1"),
            ("instance", "node-1"),
        ],
    );
    let disk_b = alert(
        "alertmanager-prod",
        Severity::Error,
        "disk 2",
        &[
            ("alertname", "DiskFull"),
            ("cluster", "eu-1"),
            ("instance", "node-2"),
        ],
    );
    let other_cluster = alert(
        "alertmanager-prod",
        Severity::Error,
        "disk 3",
        &[("alertname", "DiskFull"), ("cluster", "us-1")],
    );
    let g = config.group(&disk_a);
    assert_eq!(
        g.rule.as_ref().map(RuleId::as_str),
        Some("alertmanager-by-alertname")
    );
    assert_eq!(g.window, HumanDuration::from_secs(4 * 3_600));
    assert_eq!(
        g.key,
        config.group(&disk_b).key,
        "instance is not in group_by"
    );
    assert_ne!(g.key, config.group(&other_cluster).key);

    // Database alerts from Grafana and Alertmanager join one incident per cluster.
    let db_grafana = alert(
        "grafana",
        Severity::Critical,
        "replication lag",
        &[("team", "database"), ("cluster", "eu-1")],
    );
    let db_am = alert(
        "alertmanager-prod",
        Severity::Error,
        "connections",
        &[
            ("team", "database"),
            ("cluster", "eu-1"),
            ("alertname", "PgConnections"),
        ],
    );
    let g = config.group(&db_grafana);
    assert_eq!(
        g.rule.as_ref().map(RuleId::as_str),
        Some("database-by-cluster")
    );
    assert_eq!(g.key, config.group(&db_am).key);

    let deploy = alert("deploy-pipeline", Severity::Warning, "deploy failed", &[]);
    let g = config.group(&deploy);
    assert_eq!(
        (g.rule, g.window),
        (None, HumanDuration::from_secs(24 * 3_600))
    );
}

#[test]
fn example_routing_decisions() {
    let config = example();
    let during_upgrade = chrono::Utc.with_ymd_and_hms(2026, 3, 14, 2, 0, 0).unwrap();
    let after_upgrade = chrono::Utc.with_ymd_and_hms(2026, 3, 14, 5, 0, 0).unwrap();
    let route = |a: &Alert, now| config.route(&RoutingContext::from_alert(a), now);

    let db = alert(
        "grafana",
        Severity::Critical,
        "replication lag",
        &[("team", "database")],
    );
    let d = route(&db, during_upgrade);
    assert_eq!(d.policy, Some(PolicyId::new("database").unwrap()));
    assert_eq!(
        d.suppressed.map(|s| s.by),
        Some(SuppressedBy::MaintenanceWindow(
            RuleId::new("db-upgrade-2026-03").unwrap()
        ))
    );
    let d = route(&db, after_upgrade);
    assert!(d.pages());
    assert_eq!(d.urgency, Urgency::High);

    let payments = alert(
        "alertmanager-prod",
        Severity::Warning,
        "latency",
        &[("service", "payments-api")],
    );
    let d = route(&payments, after_upgrade);
    assert_eq!(
        d.rule.as_ref().map(RuleId::as_str),
        Some("payments-always-critical")
    );
    assert_eq!((d.severity, d.urgency), (Severity::Critical, Urgency::High));
    assert_eq!(d.policy, Some(PolicyId::new("infra").unwrap()));

    let noisy = alert("grafana", Severity::Info, "cpu a bit high", &[]);
    let d = route(&noisy, after_upgrade);
    assert_eq!(
        d.suppressed.map(|s| s.by),
        Some(SuppressedBy::Rule(
            RuleId::new("drop-grafana-info").unwrap()
        ))
    );

    let billing = alert(
        "cloudwatch-prod",
        Severity::Error,
        "Billing alarm: spend > $500",
        &[],
    );
    let d = route(&billing, after_upgrade);
    assert_eq!(d.policy, Some(PolicyId::new("business-hours").unwrap()));
    assert_eq!(d.urgency, Urgency::Low);

    let warning = alert("opsgenie-migrated", Severity::Warning, "queue growing", &[]);
    let d = route(&warning, after_upgrade);
    assert_eq!(d.rule, None);
    assert_eq!(d.policy, Some(PolicyId::new("business-hours").unwrap()));
    assert_eq!(d.urgency, Urgency::Low, "built-in default for warning");
}

#[test]
fn sns_topic_arns_only_for_cloudwatch_well_formed_and_unique() {
    let errors = errors_after(|v| {
        set(
            v,
            "/integrations/0/sns_topic_arns",
            json!(["arn:aws:sns:us-east-1:123456789012:alarms"]),
        );
    });
    assert_eq!(
        errors,
        vec!["integrations[0].sns_topic_arns: only applies to cloudwatch integrations"]
    );
    let errors = errors_after(|v| {
        set(v, "/integrations/0/format", json!("cloudwatch"));
        set(
            v,
            "/integrations/0/sns_topic_arns",
            json!(["arn:aws:sqs:us-east-1:1:q", "arn:aws:sns:us-east-1:1:t"]),
        );
    });
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with(
        "integrations[0].sns_topic_arns[0]: \"arn:aws:sqs:us-east-1:1:q\" is not an SNS topic ARN"
    ));
}
