//! `klaxon import opsgenie` end to end: a local HTTP server serves Opsgenie API responses (the
//! fixture directory, whose shapes follow Opsgenie's REST API v2 reference) with a second page
//! of users, a 429 with Retry-After and a 503; the import must validate, describe the same
//! final schedules as the fixture (checked by an independent oracle over 8 weeks spanning both
//! DST changes), list everything it could not map, and fail cleanly on bad input.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a failed expect is a failed test

mod common;
mod import_support;
#[path = "import_opsgenie/oracle.rs"]
mod oracle;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use common::klaxon;
use import_support::{
    Fake, assert_empty, assert_same_files, assert_secret_nowhere, edit, fixture_copy, fixtures,
    header, import_saved, json_file, read, reports_unknown_field, serve_fixture, truncate,
    unmapped,
};
use oracle::compare_with_oracle;
use serde_json::Value;
use std::path::Path;

const SOURCE: &str = "opsgenie";
const KEY: &str = "og-test-key-0123456789";

/// A fake Opsgenie: serves the fixture files, refuses other keys with 401, throttles the first
/// schedules request (429, Retry-After: 1) and fails the first escalations request (503).
fn answer(request: &Request, path: &str, count: u32) -> Response {
    let body = |message: &str| {
        format!("{{\"message\":\"{message}\",\"took\":0.001,\"requestId\":\"0c7c2f3e\"}}")
    };
    if header(request, "authorization") != Some(&format!("GenieKey {KEY}")) {
        return (StatusCode::UNAUTHORIZED, body("Could not authenticate")).into_response();
    }
    if path == "/v2/schedules?expand=rotation" && count == 1 {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "1"), ("x-ratelimit-state", "THROTTLED")],
            body("Request was throttled"),
        )
            .into_response();
    }
    if path == "/v2/escalations" && count == 1 {
        return (StatusCode::SERVICE_UNAVAILABLE, body("Service unavailable")).into_response();
    }
    serve_fixture(SOURCE, path, body("Not found"))
}

fn import(args: &[&str]) -> common::Run {
    import_support::import(SOURCE, args)
}

/// Imports the fixture directory offline into a fresh directory.
fn import_fixtures() -> (tempfile::TempDir, std::path::PathBuf) {
    let (dir, _) = import_saved(SOURCE, &fixtures(SOURCE), &[]);
    let out = dir.path().join("klaxon.yaml");
    (dir, out)
}

#[test]
fn a_live_import_pages_retries_validates_and_replays_identically() {
    let server = Fake::start(answer);
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
    assert!(
        run.stdout.contains("imported 40 objects from opsgenie"),
        "{run:#?}"
    );
    // No progress line when standard error is not a terminal.
    assert!(!run.stderr.contains("importing from"), "{run:#?}");
    // Every page was read, the 429 and the 503 were each retried once.
    assert_eq!(
        server.hits("/v2/users?limit=3&offset=3&sort=username&order=asc"),
        1
    );
    assert_eq!(server.hits("/v2/schedules?expand=rotation"), 2);
    assert_eq!(server.hits("/v2/escalations"), 2);

    let valid = klaxon(&["config", "validate", out.to_str().unwrap()]).ok();
    assert!(
        valid.stdout.contains(
            "is valid: 6 users, 2 schedules, 3 escalation policies, 4 routing rules, 6 integrations"
        ),
        "{valid:#?}"
    );

    // Replaying the saved directory gives the same files, byte for byte.
    let (replay, replayed) = import_saved(SOURCE, &saved, &[]);
    assert_same_files(live.path(), replay.path(), "live import and replay");
    // The key is in no file written (saved responses included) and in no output.
    assert_secret_nowhere(KEY, &[live.path(), replay.path()], &[&run, &replayed]);
}

#[test]
fn a_live_import_on_a_terminal_shows_its_progress() {
    let server = Fake::start(answer);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("klaxon.yaml");
    let (code, screen) = import_support::klaxon_on_terminal(&[
        "import",
        SOURCE,
        "--api-url",
        &server.url,
        "--api-key",
        KEY,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{screen}");
    assert!(
        screen.contains("\r\x1b[Kimporting from opsgenie: 1 requests, last /v2/users?limit=100"),
        "{screen:?}"
    );
    // A 429 shows as a wait on the same line.
    assert!(
        screen.contains(
            "requests, waiting 1s (429 Too Many Requests) before GET /v2/schedules?expand=rotation"
        ),
        "{screen:?}"
    );
    assert!(
        screen
            .contains("\r\x1b[Kimported from opsgenie: 37 requests (2 retried, 2s spent waiting)"),
        "the progress line ends with a total: {screen:?}"
    );
    assert!(!screen.contains(KEY), "{screen:?}");
}

#[test]
fn the_same_input_gives_the_same_files_and_json_prints_the_report() {
    let (first, _) = import_saved(SOURCE, &fixtures(SOURCE), &[]);
    let (second, run) = import_saved(SOURCE, &fixtures(SOURCE), &["--json"]);
    assert_same_files(
        first.path(),
        second.path(),
        "two imports of the same directory",
    );
    assert_eq!(
        run.json(),
        json_file(&second.path().join("migration-report.json")),
        "--json prints the report"
    );
}

#[test]
fn imported_schedules_equal_an_independent_reading_of_the_fixture_over_eight_weeks() {
    let (_dir, out) = import_fixtures();
    for (klaxon_id, name) in [
        ("platform-primary", "Platform primary"),
        ("payments", "Payments"),
    ] {
        compare_with_oracle(&out, klaxon_id, name, None);
    }
}

#[test]
fn the_overrides_script_applied_to_a_running_klaxon_gives_the_fixtures_final_schedule() {
    let (dir, out) = import_fixtures();
    let data = dir.path().join("data");
    let serve =
        common::server::Serve::start(out.to_str().unwrap(), &data, common::server::free_port());
    let bin = Path::new(env!("CARGO_BIN_EXE_klaxon"))
        .parent()
        .unwrap()
        .to_owned();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let script = std::process::Command::new("sh")
        .arg(dir.path().join("overrides.sh"))
        .env("PATH", path)
        .env("KLAXON_URL", &serve.url)
        .env("KLAXON_API_KEY", serve.key("KLAXON_API_KEY"))
        .output()
        .unwrap();
    assert!(
        script.status.success(),
        "overrides.sh failed: {}",
        String::from_utf8_lossy(&script.stderr)
    );
    let commands = read(dir.path(), "overrides.sh")
        .lines()
        .filter(|l| l.starts_with("klaxon overrides add"))
        .count();
    // Two overrides and Ben's on-call stretches while his notifications go to Chloe.
    assert!(commands > 2, "{}", read(dir.path(), "overrides.sh"));
    assert_eq!(
        String::from_utf8_lossy(&script.stdout)
            .matches("added:")
            .count(),
        commands
    );
    // Platform primary's override covers the whole schedule in Opsgenie too, so the final
    // schedule with it (and the forwarding rule) must match the fixture; Payments' override
    // covers one rotation only (reported).
    compare_with_oracle(&out, "platform-primary", "Platform primary", Some(&data));
    drop(serve);
}

#[test]
fn the_report_lists_every_object_and_everything_not_mapped() {
    let (dir, _out) = import_fixtures();
    let report = json_file(&dir.path().join("migration-report.json"));
    let objects = report["objects"].as_array().unwrap();
    let count = |kind: &str| objects.iter().filter(|o| o["kind"] == kind).count();
    assert_eq!(
        [
            count("user"),
            count("team"),
            count("schedule"),
            count("rotation"),
            count("override"),
            count("escalation"),
            count("integration"),
            count("routing rule"),
            count("maintenance"),
            count("heartbeat")
        ],
        [6, 3, 2, 5, 2, 3, 5, 7, 2, 4]
    );
    let expected = [
        "escalation e4d3c2b1-0002-4000-a000-000000000002 repeat.count",
        "escalation e4d3c2b1-0002-4000-a000-000000000002 repeat.resetRecipientStates",
        "escalation e4d3c2b1-0003-4000-a000-000000000003 -",
        "escalation e4d3c2b1-0003-4000-a000-000000000003 rules[0]",
        "heartbeat Payments Cron (EU) alertTags",
        "heartbeat etl ownerTeam",
        "heartbeat nightly-backup ownerTeam",
        "heartbeat old-report -",
        "integration a0000000-0000-4000-8000-000000000004 teamId",
        "integration a0000000-0000-4000-8000-000000000005 -",
        "maintenance m0000000-0000-4000-8000-000000000001 rules",
        "maintenance m0000000-0000-4000-8000-000000000002 -",
        "rotation f1000000-0000-4000-b000-000000000003 endDate",
        "rotation f1000000-0000-4000-b000-000000000003 participants",
        "rotation f1000000-0000-4000-b000-000000000003 participants",
        "routing rule rr-data-default -",
        "routing rule rr-payments-hours -",
        "routing rule rr-payments-source -",
        "user * slack_id",
        "user 4513b7ea-3b91-438f-b7e4-e3e54af9147c contacts[c-anna-app]",
        "user 4513b7ea-3b91-438f-b7e4-e3e54af9147c notificationRules[On-call starts]",
        "user 4513b7ea-3b91-438f-b7e4-e3e54af9147c notificationRules[Urgent alerts].steps",
        "user 4513b7ea-3b91-438f-b7e4-e3e54af9147c role",
        "user 6d2ab6f5-1c2e-4ca4-8b84-8b3e4d2f0003 contacts[c-chloe-email2]",
        "user 6d2ab6f5-1c2e-4ca4-8b84-8b3e4d2f0003 pronouns",
        "user 8f4cd817-3e40-4ec6-8da6-ad506f410005 contacts[c-emma-old]",
        "user 8f4cd817-3e40-4ec6-8da6-ad506f410005 notificationRules[New alert].timeRestriction",
        "user 8f4cd817-3e40-4ec6-8da6-ad506f410005 notificationRules[Old pager]",
        "user 8f4cd817-3e40-4ec6-8da6-ad506f410005 tags",
    ];
    assert_eq!(unmapped(&report), expected);
    // The unknown field of the fixture is named as such.
    assert!(reports_unknown_field(
        dir.path(),
        "user",
        "6d2ab6f5-1c2e-4ca4-8b84-8b3e4d2f0003",
        "pronouns"
    ));
    let markdown = read(dir.path(), "migration-report.md");
    // Differing semantics are called out.
    for needle in [
        "next on-call user",
        "\"if not closed\" became \"if not acknowledged\"",
        "first layer (rotation) with someone on call wins",
        "voice-call step became an SMS",
        "Opsgenie's alert message \"ETL stopped\" is not the alert's summary",
        "disabled in Opsgenie: not imported",
        "expired in Opsgenie at the export: in Klaxon it is inactive until its first ping",
    ] {
        assert!(
            markdown.contains(needle),
            "the report should say {needle:?}"
        );
    }
    // Each integration's new endpoint.
    assert!(markdown.contains("| `prometheus-prod` | Prometheus prod (Prometheus) | alertmanager | $KLAXON/v1/integrations/alertmanager with `Authorization: Bearer klx_…` |"), "{markdown}");
    assert_eq!(report["endpoints"].as_array().unwrap().len(), 7);
    // Each heartbeat's new ping URL, in Opsgenie's shape.
    assert!(markdown.contains("| `data-heartbeats` | heartbeat etl (Opsgenie heartbeat ping) | opsgenie | $KLAXON/v2/heartbeats/etl/ping with `Authorization: GenieKey klx_…`"), "{markdown}");
    // Overrides are runtime data, as commands.
    assert_eq!(
        read(dir.path(), "overrides.sh")
            .lines()
            .filter(|l| l.starts_with("klaxon "))
            .collect::<Vec<_>>(),
        [
            "klaxon overrides add payments --user farid --start 2026-03-14T05:00:00Z --end 2026-03-16T04:00:00Z",
            "klaxon overrides add platform-primary --user chloe --start 2026-03-10T17:00:00Z --end 2026-03-11T07:00:00Z",
            // Ben's notifications go to Chloe from 03-18 06:00Z to 03-20 18:00Z: the part of
            // it in which Ben is on call (the oracle test checks the final schedule).
            "klaxon overrides add platform-primary --user chloe --start 2026-03-18T08:00:00Z --end 2026-03-20T17:00:00Z",
        ]
    );
}

#[test]
fn a_field_added_to_a_source_document_appears_in_the_report() {
    let saved = fixture_copy(SOURCE);
    edit(saved.path(), "/v2/schedules?expand=rotation", |doc| {
        doc["data"][0]["rotations"][1]["handoffReminder"] = Value::from("15m");
    });
    edit(saved.path(), "/v2/escalations", |doc| {
        doc["data"][0]["rules"][0]["notifyOnlyOnWeekends"] = Value::from(true);
    });
    let (dir, _) = import_saved(SOURCE, saved.path(), &[]);
    let rotation = json_file(&saved.path().join(import_support::fixture_name(
        "/v2/schedules?expand=rotation",
    )))["data"][0]["rotations"][1]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(reports_unknown_field(
        dir.path(),
        "rotation",
        &rotation,
        "handoffReminder"
    ));
    let escalation = import_support::fixture(SOURCE, "/v2/escalations")["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(reports_unknown_field(
        dir.path(),
        "escalation",
        &escalation,
        "rules[0].notifyOnlyOnWeekends"
    ));
}

#[test]
fn a_refused_key_fails_clearly_and_writes_nothing() {
    let server = Fake::start(answer);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("klaxon.yaml");
    let saved = dir.path().join("saved");
    let run = import(&[
        "--api-url",
        &server.url,
        "--api-key",
        "wrong-key",
        "--out",
        out.to_str().unwrap(),
        "--save-dir",
        saved.to_str().unwrap(),
    ])
    .fails(1, "opsgenie refused the API key");
    assert!(run.stderr.contains("401"), "{run:#?}");
    assert_secret_nowhere("wrong-key", &[], &[&run]);
    assert_empty(dir.path());
}

#[test]
fn an_unreachable_api_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("klaxon.yaml");
    import(&[
        "--api-url",
        "http://127.0.0.1:9",
        "--api-key",
        KEY,
        "--out",
        out.to_str().unwrap(),
    ])
    .fails(1, "cannot reach opsgenie at http://127.0.0.1:9");
    assert_empty(dir.path());
}

#[test]
fn a_truncated_saved_response_fails_clearly() {
    let saved = fixture_copy(SOURCE);
    let name = truncate(saved.path(), "/v2/escalations");
    let out = tempfile::tempdir().unwrap();
    let config = out.path().join("klaxon.yaml");
    import(&[
        "--from-dir",
        saved.path().to_str().unwrap(),
        "--out",
        config.to_str().unwrap(),
    ])
    .fails(
        1,
        &format!("{name} (for GET /v2/escalations) is not valid JSON"),
    );
    assert_empty(out.path());
}

#[test]
fn a_live_import_needs_a_key() {
    import(&["--out", "/tmp/never-written.yaml"]).fails(2, "an API key is needed");
}

/// Opsgenie heartbeats become Klaxon heartbeats: interval and unit as a duration, priority as
/// severity, the description (else the alert message) kept; each owner team's heartbeats share
/// one `opsgenie` integration that the team's routing rules route, as Opsgenie routes a missed
/// heartbeat to its owner team; a disabled one is left out (reported).
#[test]
fn heartbeats_become_klaxon_heartbeats_routed_by_their_owner_team() {
    let (_dir, out) = import_fixtures();
    let text = read(out.parent().unwrap(), "klaxon.yaml");
    let config = klaxon_domain::config::Config::from_file("klaxon.yaml", &text).unwrap();
    let heartbeats: Vec<(String, String, String, String, Option<String>)> = config
        .heartbeats
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                h.integration.to_string(),
                h.interval.to_string(),
                h.severity.as_str().to_owned(),
                h.description.clone(),
            )
        })
        .collect();
    let entry = |name: &str, integration: &str, interval: &str, severity: &str, d: &str| {
        (
            name.to_owned(),
            integration.to_owned(),
            interval.to_owned(),
            severity.to_owned(),
            Some(d.to_owned()),
        )
    };
    assert_eq!(
        heartbeats,
        vec![
            entry(
                "payments-cron-eu",
                "payments-heartbeats",
                "5m",
                "critical",
                "settlement export to the bank"
            ),
            // No description: the alert message describes it.
            entry("etl", "data-heartbeats", "30m", "warning", "ETL stopped"),
            entry(
                "nightly-backup",
                "data-heartbeats",
                "1d",
                "error",
                "pg_dump finished"
            ),
        ]
    );
    assert!(
        config
            .heartbeats
            .iter()
            .all(|h| h.grace.to_string() == "0s" && h.escalation_policy.is_none())
    );
    // The Payments team's default routing rule routes its heartbeat's alert.
    let payments_default = config
        .routing
        .rules
        .iter()
        .find(|r| r.id.as_str() == "payments-default")
        .unwrap();
    let heartbeat = config
        .heartbeat(&klaxon_domain::heartbeat::HeartbeatName::new("payments-cron-eu").unwrap())
        .unwrap();
    let now = chrono::Utc::now();
    let alert = heartbeat.missed_alert(now, now).unwrap();
    let decision = config.route(
        &klaxon_domain::routing::RoutingContext::from_alert(&alert),
        now,
    );
    assert_eq!(
        decision.policy.as_ref().map(|p| p.as_str()),
        payments_default.policy.as_ref().map(|p| p.as_str()),
        "{decision:?}"
    );
    assert_eq!(
        decision.policy.as_ref().map(|p| p.as_str()),
        Some("payments-escalation")
    );
}
