//! `klaxon route test` against `examples/klaxon.yaml` and the DST fixture. Expected values are
//! worked out from the configuration by hand (see the comments), not copied from output.

// Tests run fixed inputs; a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{dst_config, event, example_config, klaxon, klaxon_with_stdin, temp_file};
use serde_json::{Value, json};

/// Wednesday 2026-03-04 10:00 UTC. Weekly rotations count from Monday 2026-01-05, so this is
/// in week 8 (from Monday 2026-03-02):
/// - primary (UTC, EMEA daytime 07:00-19:00, [anna, ben, chloe]): 8 % 3 = 2 -> chloe;
/// - secondary (Berlin, Mondays 09:00, [ben, chloe, diego, emma, anna]): 8 % 5 = 3 -> emma.
const WEDNESDAY: &str = "2026-03-04T10:00:00Z";

fn route(payload: &str, extra: &[&str]) -> Value {
    let config = example_config();
    let mut args = vec!["--config", &config, "route", "test", payload, "--json"];
    args.extend_from_slice(extra);
    klaxon(&args).ok().json()
}

fn steps(event: &Value) -> Vec<Value> {
    event["escalation"]["steps"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// `(at, round, tier, [(user, channels)])` of a page step; panics on other steps.
fn page(step: &Value) -> (String, u64, u64, Vec<(String, Vec<String>)>) {
    assert_eq!(step["kind"], "page", "{step}");
    let users = step["targets"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|target| target["users"].as_array().unwrap().clone())
        .map(|user| {
            let channels = user["channels"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().to_string())
                .collect();
            (user["id"].as_str().unwrap().to_string(), channels)
        })
        .collect();
    (
        step["at"].as_str().unwrap().to_string(),
        step["round"].as_u64().unwrap(),
        step["tier"].as_u64().unwrap(),
        users,
    )
}

fn who(user: &str, channels: &[&str]) -> (String, Vec<String>) {
    (
        user.to_string(),
        channels.iter().map(ToString::to_string).collect(),
    )
}

/// The example's `infra` policy at WEDNESDAY: tiers 10m primary, 15m secondary, 20m farid,
/// repeat 2 (three rounds of 45 minutes). Chloé's high channels are sms, email; Emma and Farid
/// have no contact section, so high urgency defaults to sms then email.
fn assert_infra_timeline_from_wednesday(event: &Value) {
    let steps = steps(event);
    assert_eq!(steps.len(), 10, "9 pages and the exhaustion: {steps:#?}");
    let chloe = who("chloe", &["sms", "email"]);
    let emma = who("emma", &["sms", "email"]);
    let farid = who("farid", &["sms", "email"]);
    let expected = [
        ("2026-03-04T10:00:00Z", 0, 0, &chloe),
        ("2026-03-04T10:10:00Z", 0, 1, &emma),
        ("2026-03-04T10:25:00Z", 0, 2, &farid),
        ("2026-03-04T10:45:00Z", 1, 0, &chloe),
        ("2026-03-04T10:55:00Z", 1, 1, &emma),
        ("2026-03-04T11:10:00Z", 1, 2, &farid),
        ("2026-03-04T11:30:00Z", 2, 0, &chloe),
        ("2026-03-04T11:40:00Z", 2, 1, &emma),
        ("2026-03-04T11:55:00Z", 2, 2, &farid),
    ];
    for (step, (at, round, tier, user)) in steps.iter().zip(expected) {
        assert_eq!(
            page(step),
            (at.to_string(), round, tier, vec![user.clone()])
        );
    }
    assert_eq!(steps[0]["escalates_at"], "2026-03-04T10:10:00Z");
    assert_eq!(
        steps[0]["targets"][0]["target"],
        json!({"schedule": "primary"})
    );
    assert_eq!(steps[2]["targets"][0]["target"], json!({"user": "farid"}));
    assert_eq!(
        steps[9],
        json!({"kind": "exhausted", "at": "2026-03-04T12:15:00Z", "reason": "rounds_completed"})
    );
    assert_eq!(event["escalation"]["outcome"], "exhausted");
    assert_eq!(event["escalation"]["rounds"], 3);
}

#[test]
fn alertmanager_group_is_detected_grouped_and_escalated_with_the_default_policy() {
    let report = route(&event("alertmanager-firing.json"), &["--at", WEDNESDAY]);
    assert_eq!(report["format"], "alertmanager");
    assert_eq!(report["format_source"], "detected");
    assert!(
        report["format_reason"]
            .as_str()
            .unwrap()
            .contains("\"version\": \"4\"")
    );
    assert_eq!(report["integration"], "alertmanager-prod");
    assert_eq!(report["integration_source"], "first_of_format");
    assert_eq!(report["at"], WEDNESDAY);

    let events = report["events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    let first = &events[0];
    assert_eq!(first["kind"], "alert");
    assert_eq!(first["dedup_key"], "5c2e4b0f8a1d3e7b");
    assert_eq!(first["status"], "firing");
    assert_eq!(first["severity"], "critical");
    // The integration's default label is merged in.
    assert_eq!(first["labels"]["env"], "prod");
    // database-by-cluster (priority 5) needs team=database; alertmanager-by-alertname
    // (priority 10) matches any alert of alertmanager-prod with an alertname.
    assert_eq!(first["grouping"]["rule"], "alertmanager-by-alertname");
    assert_eq!(first["grouping"]["window"], "4h");
    // No routing rule matches a checkout alert: the critical default, infra, high urgency.
    let routing = &first["routing"];
    assert_eq!(routing["rule"], Value::Null);
    assert_eq!(routing["policy"], "infra");
    assert_eq!(routing["severity"], "critical");
    assert_eq!(routing["urgency"], "high");
    assert_eq!(routing["suppressed"], Value::Null);
    assert_eq!(routing["pages"], true);
    let explanation: Vec<&str> = routing["explanation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line.as_str().unwrap())
        .collect();
    assert!(explanation.contains(&"rule database-team (priority 10) did not match"));
    assert!(explanation.contains(&"policy infra (default for critical)"));
    assert_infra_timeline_from_wednesday(first);

    // Same alertname, no cluster label: the second alert has the same group key and joins the
    // first one's incident instead of escalating again.
    let second = &events[1];
    assert_eq!(second["dedup_key"], "9a3f6c1d2e8b4a70");
    assert_eq!(second["severity"], "warning");
    assert_eq!(second["grouping"]["key"], first["grouping"]["key"]);
    assert_eq!(second["joins_event"], 0);
    assert_eq!(second.get("routing"), None);
    assert_eq!(second.get("escalation"), None);
}

#[test]
fn group_keys_are_stable_and_follow_the_group_by_labels() {
    let payload = event("alertmanager-firing.json");
    let once = route(&payload, &["--at", WEDNESDAY]);
    let again = route(&payload, &["--at", "2026-07-01T00:00:00Z"]);
    let key = once["events"][0]["grouping"]["key"].clone();
    assert_eq!(key.as_str().unwrap().len(), 64, "hex SHA-256: {key}");
    assert_eq!(again["events"][0]["grouping"]["key"], key);

    // A different cluster label is a different group (group_by: [alertname, cluster]).
    let text = std::fs::read_to_string(&payload).unwrap();
    let mut value: Value = serde_json::from_str(&text).unwrap();
    value["alerts"][0]["labels"]["cluster"] = json!("eu-1");
    let (_dir, path) = temp_file("am.json", &value.to_string());
    let other = route(&path, &["--at", WEDNESDAY]);
    assert_ne!(other["events"][0]["grouping"]["key"], key);
    // ... and the second alert (no cluster) now opens its own incident, routed by its own
    // severity: warning -> business-hours, low urgency.
    assert_eq!(other["events"][1].get("joins_event"), None);
    assert_eq!(other["events"][1]["routing"]["policy"], "business-hours");
    assert_eq!(other["events"][1]["routing"]["urgency"], "low");
}

#[test]
fn pagerduty_trigger_is_its_own_group_and_uses_the_error_default() {
    let payload = event("pagerduty-trigger.json");
    let report = route(&payload, &["--at", WEDNESDAY]);
    assert_eq!(report["format"], "pagerduty");
    assert_eq!(report["format_source"], "detected");
    assert_eq!(report["integration"], "pagerduty-legacy");
    let alert = &report["events"][0];
    assert_eq!(alert["dedup_key"], "db-primary/replication-lag");
    assert_eq!(alert["dedup_key_generated"], false);
    assert_eq!(alert["severity"], "error");
    // No grouping rule matches pagerduty-legacy and PagerDuty has no sender group: one
    // incident per alert, default window 24h.
    assert_eq!(alert["grouping"]["rule"], Value::Null);
    assert_eq!(alert["grouping"]["default"], "single_alert");
    assert_eq!(alert["grouping"]["window"], "1d");
    assert_eq!(alert["routing"]["rule"], Value::Null);
    assert_eq!(alert["routing"]["policy"], "infra");
    assert_eq!(alert["routing"]["urgency"], "high");
    assert_infra_timeline_from_wednesday(alert);

    let again = route(&payload, &["--at", WEDNESDAY]);
    assert_eq!(
        again["events"][0]["grouping"]["key"],
        alert["grouping"]["key"]
    );
}

#[test]
fn pagerduty_trigger_without_dedup_key_says_the_key_is_generated() {
    let report = route(
        &event("pagerduty-trigger-no-dedup-key.json"),
        &["--at", WEDNESDAY],
    );
    assert_eq!(report["events"][0]["dedup_key_generated"], true);
}

#[test]
fn pagerduty_resolve_pages_nobody() {
    let report = route(&event("pagerduty-resolve.json"), &[]);
    let resolve = &report["events"][0];
    assert_eq!(resolve["kind"], "resolve");
    assert_eq!(resolve["dedup_key"], "db-primary/replication-lag");
    assert_eq!(resolve.get("routing"), None);
}

/// The CloudWatch sample with its alarm message changed by `edit`.
fn cloudwatch_payload(edit: impl FnOnce(&mut Value)) -> (tempfile::TempDir, String) {
    let text = std::fs::read_to_string(event("cloudwatch-sns-notification.json")).unwrap();
    let mut envelope: Value = serde_json::from_str(&text).unwrap();
    let mut alarm: Value = serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap();
    edit(&mut alarm);
    envelope["Message"] = json!(alarm.to_string());
    temp_file("cloudwatch.json", &envelope.to_string())
}

#[test]
fn cloudwatch_alarm_groups_by_namespace_and_region() {
    let report = route(
        &event("cloudwatch-sns-notification.json"),
        &["--at", WEDNESDAY],
    );
    assert_eq!(report["format"], "cloudwatch");
    assert_eq!(report["format_source"], "detected");
    assert_eq!(report["integration"], "cloudwatch-prod");
    let alarm = &report["events"][0];
    assert_eq!(
        alarm["dedup_key"],
        "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:checkout-api-high-cpu"
    );
    // Alarms carry no severity: cloudwatch-prod's default, error.
    assert_eq!(alarm["severity"], "error");
    assert_eq!(alarm["grouping"]["rule"], "cloudwatch-by-namespace");
    assert_eq!(alarm["grouping"]["window"], "1h");
    // billing-alarms-low needs "billing" in the summary: the error default applies.
    assert_eq!(alarm["routing"]["rule"], Value::Null);
    assert_eq!(alarm["routing"]["policy"], "infra");
    assert_infra_timeline_from_wednesday(alarm);

    // Another EC2 alarm in the same region joins the same group (group_by namespace, region).
    let (_dir, other) = cloudwatch_payload(|alarm| {
        alarm["AlarmName"] = json!("checkout-api-status-check");
        alarm["AlarmArn"] =
            json!("arn:aws:cloudwatch:eu-west-1:123456789012:alarm:checkout-api-status-check");
    });
    let other = route(&other, &["--at", WEDNESDAY]);
    assert_ne!(other["events"][0]["dedup_key"], alarm["dedup_key"]);
    assert_eq!(
        other["events"][0]["grouping"]["key"],
        alarm["grouping"]["key"]
    );
}

#[test]
fn billing_alarm_is_routed_low_urgency_to_tier_zero_only() {
    let (_dir, path) = cloudwatch_payload(|alarm| {
        alarm["AlarmName"] = json!("Billing-EstimatedCharges-over-budget");
    });
    let report = route(&path, &["--at", WEDNESDAY]);
    let alarm = &report["events"][0];
    // billing-alarms-low: cloudwatch-prod and a summary matching (?i)billing.
    assert_eq!(alarm["routing"]["rule"], "billing-alarms-low");
    assert_eq!(alarm["routing"]["policy"], "business-hours");
    assert_eq!(alarm["routing"]["urgency"], "low");
    // business-hours pages the secondary schedule (Emma this week) on her low-urgency
    // channels (no contact section: email), then waits for a human.
    let steps = steps(alarm);
    assert_eq!(steps.len(), 1, "{steps:#?}");
    assert_eq!(
        page(&steps[0]),
        (WEDNESDAY.to_string(), 0, 0, vec![who("emma", &["email"])])
    );
    assert_eq!(steps[0]["escalates_at"], Value::Null);
    assert_eq!(alarm["escalation"]["outcome"], "waiting");
}

const DATABASE_ALERT: &str = r#"{"dedup_key": "pg-replication", "severity": "critical",
    "summary": "Replication broken on the main cluster",
    "labels": {"team": "database", "cluster": "main"}}"#;

#[test]
fn maintenance_window_suppresses_matching_incidents_only_while_active() {
    let (_dir, path) = temp_file("db.json", DATABASE_ALERT);
    // db-upgrade-2026-03 runs 2026-03-14 01:00-05:00 UTC for team=database.
    let during = route(
        &path,
        &[
            "--integration",
            "deploy-pipeline",
            "--at",
            "2026-03-14T02:00:00Z",
        ],
    );
    assert_eq!(during["format_source"], "integration");
    assert_eq!(during["integration_source"], "option");
    let alert = &during["events"][0];
    assert_eq!(alert["grouping"]["rule"], "database-by-cluster");
    assert_eq!(alert["routing"]["rule"], "database-team");
    assert_eq!(alert["routing"]["policy"], "database");
    assert_eq!(
        alert["routing"]["suppressed"]["by"],
        json!({"kind": "maintenance_window", "id": "db-upgrade-2026-03"})
    );
    assert_eq!(alert["routing"]["pages"], false);
    assert_eq!(alert.get("escalation"), None);
    assert!(
        alert["outcome"]
            .as_str()
            .unwrap()
            .contains("nobody is paged")
    );

    // The end is exclusive: at 05:00 the window is over and the database policy pages.
    let after = route(
        &path,
        &[
            "--integration",
            "deploy-pipeline",
            "--at",
            "2026-03-14T05:00:00Z",
        ],
    );
    let alert = &after["events"][0];
    assert_eq!(alert["routing"]["suppressed"], Value::Null);
    assert_eq!(alert["routing"]["pages"], true);
    assert_eq!(alert["escalation"]["policy"], "database");
}

#[test]
fn suppress_rule_drops_grafana_info_alerts() {
    let text = std::fs::read_to_string(event("grafana-firing.json")).unwrap();
    let mut value: Value = serde_json::from_str(&text).unwrap();
    for alert in value["alerts"].as_array_mut().unwrap() {
        alert["labels"]["severity"] = json!("info");
    }
    let (_dir, path) = temp_file("grafana.json", &value.to_string());
    let report = route(&path, &["--at", WEDNESDAY]);
    assert_eq!(report["format"], "grafana");
    let alert = &report["events"][0];
    assert_eq!(alert["severity"], "info");
    // No grouping rule matches grafana: Grafana's groupKey groups both alerts.
    assert_eq!(alert["grouping"]["default"], "sender_group");
    assert_eq!(report["events"][1]["joins_event"], 0);
    assert_eq!(alert["routing"]["rule"], "drop-grafana-info");
    assert_eq!(
        alert["routing"]["suppressed"]["by"],
        json!({"kind": "rule", "id": "drop-grafana-info"})
    );
    assert_eq!(alert["routing"]["pages"], false);
    assert_eq!(alert.get("escalation"), None);

    // The same payload at warning severity is not suppressed: warning -> business-hours.
    let warning = route(&event("grafana-firing.json"), &["--at", WEDNESDAY]);
    assert_eq!(warning["events"][0]["routing"]["suppressed"], Value::Null);
    assert_eq!(warning["events"][0]["routing"]["policy"], "business-hours");
}

#[test]
fn database_escalation_crosses_the_new_york_hand_off_after_spring_forward() {
    let (_dir, path) = temp_file("db.json", DATABASE_ALERT);
    // Monday 2026-03-09, the first weekday after New York sprang forward: business hours
    // start at 09:00 EDT = 13:00Z (not 14:00Z). Before that the "Around the clock" layer has
    // chloe (week 8 from 2026-01-05: [chloe, emma][8 % 2]); from 13:00Z "Business hours" has
    // emma. The database policy: 5m database, then 10m primary + farid, repeat 3.
    let report = route(
        &path,
        &[
            "--integration",
            "deploy-pipeline",
            "--at",
            "2026-03-09T12:58:00Z",
        ],
    );
    let steps = steps(&report["events"][0]);
    let chloe = who("chloe", &["sms", "email"]);
    let emma = who("emma", &["sms", "email"]);
    // primary at 13:03Z: week 9 of [anna, ben, chloe] -> anna (sms, slack, email).
    let anna = who("anna", &["sms", "slack", "email"]);
    let farid = who("farid", &["sms", "email"]);
    assert_eq!(
        page(&steps[0]),
        ("2026-03-09T12:58:00Z".into(), 0, 0, vec![chloe])
    );
    assert_eq!(
        page(&steps[1]),
        ("2026-03-09T13:03:00Z".into(), 0, 1, vec![anna, farid])
    );
    assert_eq!(
        page(&steps[2]),
        ("2026-03-09T13:13:00Z".into(), 1, 0, vec![emma])
    );
    // Four rounds of two tiers, then exhaustion 4 x 15 minutes after the start.
    assert_eq!(steps.len(), 9);
    assert_eq!(steps[8]["at"], "2026-03-09T13:58:00Z");
}

#[test]
fn dst_fixture_escalation_pages_whoever_is_on_call_at_each_tier() {
    let config = dst_config();
    // ny-daily hands off at 09:00 New York: on 2026-03-08 (spring forward) that is 13:00Z.
    // Day 62 from 2026-01-05 is carol ([alice, bob, carol][62 % 3]); before it, bob.
    let body = br#"{"dedup_key": "x", "severity": "critical", "summary": "Disk full"}"#;
    let report = klaxon_with_stdin(
        &[
            "--config",
            &config,
            "route",
            "test",
            "-",
            "--at",
            "2026-03-08T12:45:00Z",
            "--json",
        ],
        Some(body),
    )
    .ok()
    .json();
    assert_eq!(report["payload"], "-");
    assert_eq!(report["format"], "native");
    assert_eq!(report["integration"], "hooks");
    let steps = steps(&report["events"][0]);
    assert_eq!(
        page(&steps[0]),
        (
            "2026-03-08T12:45:00Z".into(),
            0,
            0,
            vec![who("bob", &["sms", "email"])]
        )
    );
    // 30 minutes later, 13:15Z, is after the hand-off (it would be before it at 14:00Z).
    assert_eq!(
        page(&steps[1]),
        (
            "2026-03-08T13:15:00Z".into(),
            0,
            1,
            vec![who("carol", &["email"])]
        )
    );
    assert_eq!(steps[2]["kind"], "exhausted");
    assert_eq!(steps[2]["at"], "2026-03-08T13:45:00Z");

    // Arriving exactly at the hand-off, tier 0 already pages carol.
    let at_hand_off = klaxon_with_stdin(
        &[
            "--config",
            &config,
            "route",
            "test",
            "-",
            "--at",
            "2026-03-08T09:00:00-04:00",
            "--json",
        ],
        Some(body),
    )
    .ok()
    .json();
    assert_eq!(at_hand_off["at"], "2026-03-08T13:00:00Z");
    assert_eq!(
        page(&steps_of(&at_hand_off)[0]).3,
        vec![who("carol", &["email"])]
    );
}

fn steps_of(report: &Value) -> Vec<Value> {
    steps(&report["events"][0])
}

#[test]
fn opsgenie_create_maps_priority_and_is_detected() {
    let report = route(&event("opsgenie-create.json"), &["--at", WEDNESDAY]);
    assert_eq!(report["format"], "opsgenie");
    assert_eq!(report["integration"], "opsgenie-migrated");
    let alert = &report["events"][0];
    assert_eq!(alert["dedup_key"], "checkout-api-5xx-rate");
    // P2 is error: the infra default.
    assert_eq!(alert["severity"], "error");
    assert_eq!(alert["routing"]["policy"], "infra");
}

#[test]
fn text_output_explains_each_step() {
    let config = example_config();
    let payload = event("alertmanager-firing.json");
    let run = klaxon(&[
        "--config", &config, "route", "test", &payload, "--at", WEDNESDAY,
    ])
    .ok();
    let text = &run.stdout;
    for expected in [
        "Dry run at 2026-03-04T10:00:00Z: nothing is stored and nobody is paged.",
        "format:      alertmanager (detected from an \"alerts\" list",
        "integration: alertmanager-prod (the first alertmanager integration",
        "Event 1 of 2: alert 5c2e4b0f8a1d3e7b, firing, critical",
        "  grouping:    rule alertmanager-by-alertname, window 4h",
        "  routing:     rule drop-grafana-info (priority 1) did not match",
        "               no rule matched: severity defaults apply",
        "    2026-03-04T10:00:00Z  round 0 tier 0  schedule primary → Chloé Martin (chloe): sms, email",
        "    2026-03-04T10:25:00Z  round 0 tier 2  user farid → Farid Haddad (engineering manager) (farid): sms, email",
        "    2026-03-04T12:15:00Z  exhausted: every tier of every round has been paged",
        "Event 2 of 2: alert 9a3f6c1d2e8b4a70, firing, warning",
        "joins the incident opened by event 1 (same group key)",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn explicit_format_must_match_the_integration() {
    let config = example_config();
    let payload = event("alertmanager-firing.json");
    klaxon(&[
        "--config",
        &config,
        "route",
        "test",
        &payload,
        "--format",
        "grafana",
        "--integration",
        "alertmanager-prod",
    ])
    .fails(
        1,
        "integration alertmanager-prod receives alertmanager payloads, not grafana",
    );
    // The right format, given explicitly, is accepted and reported as given.
    let report = route(&payload, &["--format", "alertmanager", "--at", WEDNESDAY]);
    assert_eq!(report["format_source"], "option");
}
