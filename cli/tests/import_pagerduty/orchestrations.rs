//! `klaxon import pagerduty`: event orchestrations, service orchestrations and event rules,
//! mapped where Klaxon can express them (checked with `klaxon route test`), reported where
//! not, and reported as unavailable when the account's plan has none.

use super::{KEY, SOURCE, answer, import};
use crate::common::klaxon;
use crate::import_support::{
    Fake, assert_same_files, assert_secret_nowhere, edit, fixture_copy, fixtures, import_saved,
    json_file, read, unmapped,
};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::path::Path;

/// A PagerDuty account whose plan has no event orchestrations (402) and whose key may not read
/// service orchestrations (403) nor event rules (404).
fn answer_without_orchestrations(request: &Request, path: &str, count: u32) -> Response {
    let error = |status: StatusCode, code: u32, message: &str| {
        let body = format!("{{\"error\":{{\"message\":\"{message}\",\"code\":{code}}}}}");
        (status, body).into_response()
    };
    if path.starts_with("/event_orchestrations?") {
        return error(StatusCode::PAYMENT_REQUIRED, 2012, "Payment Required");
    }
    if path.starts_with("/event_orchestrations/services/") {
        return error(StatusCode::FORBIDDEN, 2010, "Access Denied");
    }
    if path.contains("/rules?") {
        return error(StatusCode::NOT_FOUND, 2100, "Not Found");
    }
    answer(request, path, count)
}

/// (integration, PagerDuty event payload) → (rule, severity, suppressed), as `route test`
/// decides on the imported configuration.
fn orchestration_cases() -> Vec<(
    &'static str,
    Value,
    Option<&'static str>,
    &'static str,
    bool,
)> {
    vec![
        // The router's first rule has two conditions: either routes to Checkout's policy.
        (
            "orchestration-monitoring",
            serde_json::json!({"summary": "database latency high", "source": "web-1", "severity": "error"}),
            Some("monitoring-1c26698b"),
            "error",
            false,
        ),
        (
            "orchestration-monitoring",
            serde_json::json!({"summary": "cpu busy", "source": "db12-server", "severity": "error"}),
            Some("monitoring-1c26698b-2"),
            "error",
            false,
        ),
        // Both conditions of one expression must hold.
        (
            "orchestration-monitoring",
            serde_json::json!({"summary": "job failed", "source": "cron", "severity": "critical", "class": "batch"}),
            Some("monitoring-6f1a2b3c"),
            "critical",
            false,
        ),
        // Nothing matches: the unrouted orchestration in PagerDuty, routing.defaults here.
        (
            "orchestration-monitoring",
            serde_json::json!({"summary": "job failed", "source": "cron", "severity": "critical"}),
            None,
            "critical",
            false,
        ),
        // Checkout's service orchestration: disk alerts on storage become warnings.
        (
            "checkout-alertmanager",
            serde_json::json!({"summary": "disk almost full", "source": "node-3", "severity": "critical", "component": "storage"}),
            Some("checkout-a1b2c3d4"),
            "warning",
            false,
        ),
        // Dropped synthetic checks are recorded and page nobody.
        (
            "checkout-alertmanager",
            serde_json::json!({"summary": "probe", "source": "synthetic-7", "severity": "error"}),
            Some("checkout-b2c3d4e5"),
            "error",
            true,
        ),
        // Everything else: the service's own rule.
        (
            "checkout-alertmanager",
            serde_json::json!({"summary": "disk almost full", "source": "node-3", "severity": "critical"}),
            Some("checkout"),
            "critical",
            false,
        ),
    ]
}

/// `klaxon route test --json` of a PagerDuty trigger with `payload` arriving on `integration`.
fn route_test(config: &Path, integration: &str, payload: &Value) -> Value {
    let event = serde_json::json!({
        "routing_key": "klx_test",
        "event_action": "trigger",
        "payload": payload,
    });
    let file = config.with_file_name("event.json");
    std::fs::write(&file, event.to_string()).unwrap();
    klaxon(&[
        "--config",
        config.to_str().unwrap(),
        "route",
        "test",
        file.to_str().unwrap(),
        "--integration",
        integration,
        "--json",
    ])
    .ok()
    .json()
}

#[test]
fn legacy_event_rules_apply_when_the_service_orchestration_is_not_active() {
    let saved = fixture_copy(SOURCE);
    edit(
        saved.path(),
        "/event_orchestrations/services/PSVCHK1/active",
        |doc| {
            doc["active"] = Value::from(false);
        },
    );
    // It also suppresses until 3 alerts arrive within 5 minutes: not expressible.
    edit(
        saved.path(),
        "/services/PSVCHK1/rules?limit=100&offset=0",
        |doc| {
            doc["rules"][0]["actions"]["suppress"] = serde_json::json!({
                "value": true, "threshold_value": 3, "threshold_time_unit": "minutes", "threshold_time_amount": 5
            });
        },
    );
    let (dir, _) = import_saved(SOURCE, saved.path(), &[]);
    let out = dir.path().join("klaxon.yaml");
    let report = json_file(&dir.path().join("migration-report.json"));
    assert!(
        unmapped(&report).contains(
            &"service event rule 0c1d2e3f-0000-4000-8000-000000000001 actions.suppress".to_owned()
        ),
        "{:#?}",
        unmapped(&report)
    );
    // The legacy rule: a summary containing "timeout" becomes a warning (and pages).
    let timeout =
        serde_json::json!({"summary": "gateway timeout", "source": "lb-1", "severity": "critical"});
    let routing = &route_test(&out, "checkout-alertmanager", &timeout)["events"][0]["routing"];
    assert_eq!(
        routing["rule"], "checkout-0c1d2e3f-0000-4000-8000-000000000001",
        "{routing:#}"
    );
    assert_eq!(routing["severity"], "warning");
    assert!(routing["suppressed"].is_null(), "{routing:#}");
    // The inactive orchestration's rules are not applied: disk alerts keep their severity.
    let disk = serde_json::json!({"summary": "disk almost full", "source": "node-3", "severity": "critical", "component": "storage"});
    let routing = &route_test(&out, "checkout-alertmanager", &disk)["events"][0]["routing"];
    assert_eq!(routing["rule"], "checkout", "{routing:#}");
    assert_eq!(routing["severity"], "critical");
}

#[test]
fn event_orchestration_rules_route_as_pagerduty_would() {
    let (dir, _) = import_saved(SOURCE, &fixtures(SOURCE), &[]);
    let out = dir.path().join("klaxon.yaml");
    for (integration, payload, rule, severity, suppressed) in orchestration_cases() {
        let decision = route_test(&out, integration, &payload);
        let routing = &decision["events"][0]["routing"];
        let label = format!("{integration} {payload}");
        assert_eq!(routing["rule"].as_str(), rule, "{label}: {routing:#}");
        assert_eq!(routing["severity"], severity, "{label}");
        assert_eq!(
            routing["suppressed"].is_object(),
            suppressed,
            "{label}: {routing:#}"
        );
        if rule.is_some() {
            assert_eq!(routing["policy"], "sre", "{label}");
        }
    }
}

#[test]
fn what_event_orchestrations_cannot_express_is_reported() {
    let (dir, _) = import_saved(SOURCE, &fixtures(SOURCE), &[]);
    let report = json_file(&dir.path().join("migration-report.json"));
    let reason = |kind: &str, id: &str, field: Option<&str>| -> String {
        report["unmapped"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["kind"] == kind && u["id"] == id && u["field"].as_str() == field)
            .unwrap_or_else(|| panic!("{kind} {id} {field:?} is not in the report"))["reason"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    for (kind, id, field, needle) in [
        (
            "orchestration rule",
            "c3d4e5f6",
            None,
            "event.custom_details.team",
        ),
        (
            "orchestration rule",
            "d4e5f6a7",
            None,
            "disabled in PagerDuty",
        ),
        (
            "orchestration rule",
            "d9801bd0",
            None,
            "routes to no imported service",
        ),
        (
            "orchestration rule",
            "d9801bd0",
            Some("actions.dynamic_route_to"),
            "dynamic routing",
        ),
        (
            "orchestration rule",
            "a1b2c3d4",
            Some("actions.priority"),
            "no incident priorities",
        ),
        (
            "service orchestration",
            "PSVCHK1",
            Some("sets[db-details]"),
            "nested rule set (1 rules)",
        ),
        (
            "service",
            "PSVCHK1",
            Some("event rules"),
            "1 legacy event rules not imported",
        ),
        (
            "service",
            "PSVBAT2",
            Some("event orchestration"),
            "were not imported",
        ),
        (
            "event orchestration",
            "E1ORCH1",
            Some("router.catch_all"),
            "routing.defaults",
        ),
        (
            "event orchestration",
            "E1ORCH1",
            Some("global and unrouted rules"),
            "not read",
        ),
    ] {
        let why = reason(kind, id, field);
        assert!(why.contains(needle), "{kind} {id} {field:?}: {why}");
    }
    let markdown = read(dir.path(), "migration-report.md");
    assert!(markdown.contains("| `orchestration-monitoring` | Monitoring (event orchestration routing key) | pagerduty | POST $KLAXON/v2/enqueue"), "{markdown}");
    assert!(
        markdown
            .contains("PagerDuty drops the event; Klaxon records the incident and pages nobody")
    );
    // The orchestration's routing key is a credential: it is in no file written.
    assert_secret_nowhere("R0ORCHESTRATIONROUTINGKEY0123456", &[dir.path()], &[]);
}

#[test]
fn orchestrations_the_account_does_not_have_are_reported_not_fatal() {
    let server = Fake::start(answer_without_orchestrations);
    let live = tempfile::tempdir().unwrap();
    let out = live.path().join("klaxon.yaml");
    let saved = live.path().join("saved");
    let run = import(&[
        "--api-url",
        &server.url,
        "--api-key",
        KEY,
        "--out",
        out.to_str().unwrap(),
        "--save-dir",
        saved.to_str().unwrap(),
    ])
    .ok();
    assert!(run.stdout.contains("from pagerduty"), "{run:#?}");
    let report = json_file(&live.path().join("migration-report.json"));
    let unmapped = unmapped(&report);
    for line in [
        "event orchestration * -",
        "service PSVCHK1 event orchestration",
    ] {
        assert!(
            unmapped.iter().any(|u| u == line),
            "{line} in {unmapped:#?}"
        );
    }
    let markdown = read(live.path(), "migration-report.md");
    assert!(
        markdown.contains(
            "event orchestrations are unavailable on this account (PagerDuty answered 402"
        ),
        "{markdown}"
    );
    assert!(markdown.contains("unavailable on this account (PagerDuty answered 403"));
    // Only the service's own rule is made.
    let valid = klaxon(&["config", "validate", out.to_str().unwrap()]).ok();
    assert!(valid.stdout.contains("1 routing rule,"), "{valid:#?}");
    // The saved directory remembers what was unavailable: the replay is identical.
    let manifest = json_file(&saved.join("manifest.json"));
    assert_eq!(
        manifest["unavailable"]["/event_orchestrations?limit=100&offset=0"],
        402
    );
    let (replay, _) = import_saved(SOURCE, &saved, &[]);
    assert_same_files(live.path(), replay.path(), "live import and replay");
}
