//! `klaxon import pagerduty` end to end: a local HTTP server serves PagerDuty REST API v2
//! responses (the fixture directory) with a second page of users, a 429 with Retry-After and a
//! 502; the import must validate, describe the same final schedules as the fixture (an
//! independent oracle over 8 weeks spanning both DST changes), report what it could not map,
//! and fail cleanly on bad input.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a failed expect is a failed test

mod common;
mod import_support;
#[path = "import_pagerduty/orchestrations.rs"]
mod orchestrations;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Datelike, NaiveDateTime, Timelike, Utc};
use chrono_tz::Tz;
use common::klaxon;
use import_support::{
    Fake, assert_empty, assert_matches_oracle, assert_same_files, assert_secret_nowhere,
    eight_weeks, fixture_copy, fixtures, header, import_saved, instant, intervals, json_file, read,
    reports_unknown_field, schedule_show, serve_fixture, truncate, unmapped,
};
use serde_json::Value;
use std::collections::BTreeMap;

const SOURCE: &str = "pagerduty";
const KEY: &str = "u+pd-test-key-abcdef";

fn fixture(path: &str) -> Value {
    import_support::fixture(SOURCE, path)
}

/// A fake PagerDuty: serves the fixtures, refuses other keys with 401, throttles the first
/// schedules list (429, Retry-After: 1) and fails the first policies list (502).
fn answer(request: &Request, path: &str, count: u32) -> Response {
    let error = |code: u32, message: &str| {
        format!("{{\"error\":{{\"message\":\"{message}\",\"code\":{code}}}}}")
    };
    if header(request, "authorization") != Some(&format!("Token token={KEY}")) {
        return (
            StatusCode::UNAUTHORIZED,
            error(2006, "Authentication Required"),
        )
            .into_response();
    }
    assert_eq!(
        header(request, "accept"),
        Some("application/vnd.pagerduty+json;version=2")
    );
    if path == "/schedules?limit=100&offset=0" && count == 1 {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "1")],
            error(2020, "Rate Limit Exceeded"),
        )
            .into_response();
    }
    if path == "/escalation_policies?limit=100&offset=0" && count == 1 {
        return (StatusCode::BAD_GATEWAY, "<html>502 Bad Gateway</html>").into_response();
    }
    // Overrides are asked for from "today": serve the fixture's whatever the window.
    let path = match path
        .strip_prefix("/schedules/")
        .and_then(|rest| rest.split_once("/overrides?"))
    {
        Some((id, _)) => format!(
            "/schedules/{id}/overrides?since=2026-03-01T00:00:00Z&until=2027-03-01T00:00:00Z"
        ),
        None => path.to_owned(),
    };
    serve_fixture(SOURCE, &path, error(2100, "Not Found"))
}

fn import(args: &[&str]) -> common::Run {
    import_support::import(SOURCE, args)
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
        run.stdout.contains("imported 33 objects from pagerduty"),
        "{run:#?}"
    );
    assert!(!run.stderr.contains("importing from"), "{run:#?}");
    assert_eq!(
        server.hits("/users?limit=3&offset=3"),
        1,
        "the second page of users is read"
    );
    assert_eq!(
        server.hits("/schedules?limit=100&offset=0"),
        2,
        "the 429 is retried"
    );
    assert_eq!(
        server.hits("/escalation_policies?limit=100&offset=0"),
        2,
        "the 502 is retried"
    );
    let valid = klaxon(&["config", "validate", out.to_str().unwrap()]).ok();
    assert!(
        valid.stdout.contains(
            "is valid: 5 users, 2 schedules, 1 escalation policy, 6 routing rules, 3 integrations"
        ),
        "{valid:#?}"
    );
    let (replay, replayed) = import_saved(SOURCE, &saved, &[]);
    assert_same_files(live.path(), replay.path(), "live import and replay");
    assert_secret_nowhere(KEY, &[live.path(), replay.path()], &[&run, &replayed]);
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
        json_file(&second.path().join("migration-report.json"))
    );
}

#[test]
fn imported_schedules_equal_an_independent_reading_of_the_fixture_over_eight_weeks() {
    let (dir, _) = import_saved(SOURCE, &fixtures(SOURCE), &[]);
    let out = dir.path().join("klaxon.yaml");
    let users: BTreeMap<String, String> = ["/users?limit=100&offset=0", "/users?limit=3&offset=3"]
        .iter()
        .flat_map(|page| fixture(page)["users"].as_array().unwrap().clone())
        .map(|u| {
            let email = u["email"].as_str().unwrap();
            (
                u["id"].as_str().unwrap().to_owned(),
                email.split('@').next().unwrap().to_owned(),
            )
        })
        .collect();
    // London changes on 2026-03-29, Los Angeles on 2026-03-08.
    for (klaxon_id, source_id) in [("sre-primary", "PSSRE01"), ("app-secondary", "PSAPP02")] {
        let schedule = fixture(&format!("/schedules/{source_id}"))["schedule"].clone();
        let zone: Tz = schedule["time_zone"].as_str().unwrap().parse().unwrap();
        let range = eight_weeks(zone, klaxon_id);
        let shown = intervals(&schedule_show(&out, klaxon_id, None));
        assert_matches_oracle(klaxon_id, &shown, range, |at| {
            oracle(&schedule, zone, at).map(|id| users[&id].clone())
        });
    }
}

/// Who PagerDuty has on call at `at`, from the schedule document: the first layer (highest) that
/// has started, has not ended and whose restrictions cover the local time. Turns of whole days
/// hand off at the same local time; other turns are elapsed time.
fn oracle(schedule: &Value, zone: Tz, at: DateTime<Utc>) -> Option<String> {
    let local = at.with_timezone(&zone).naive_local();
    for layer in schedule["schedule_layers"].as_array().unwrap() {
        let start = instant(&layer["start"]);
        let end = layer["end"].is_string().then(|| instant(&layer["end"]));
        if at < start || end.is_some_and(|end| at >= end) || !covered(layer, local) {
            continue;
        }
        let anchor = instant(&layer["rotation_virtual_start"]);
        let length = layer["rotation_turn_length_seconds"].as_i64().unwrap();
        let turn = if length % 86_400 == 0 {
            let anchor_local: NaiveDateTime = anchor.with_timezone(&zone).naive_local();
            (local - anchor_local).num_seconds() / length
        } else {
            (at - anchor).num_seconds() / length
        };
        let users = layer["users"].as_array().unwrap();
        return Some(
            users[usize::try_from(turn).unwrap() % users.len()]["user"]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    None
}

fn covered(layer: &Value, local: NaiveDateTime) -> bool {
    let restrictions = layer["restrictions"].as_array().unwrap();
    if restrictions.is_empty() {
        return true;
    }
    let minute_of_day = i64::from(local.hour() * 60 + local.minute());
    restrictions.iter().any(|r| {
        let parts: Vec<i64> = r["start_time_of_day"]
            .as_str()
            .unwrap()
            .split(':')
            .map(|p| p.parse().unwrap())
            .collect();
        let start_of_day = parts[0] * 60 + parts[1];
        let length = r["duration_seconds"].as_i64().unwrap() / 60;
        let (start, now, period) = match r["type"].as_str().unwrap() {
            "daily_restriction" => (start_of_day, minute_of_day, 1440),
            "weekly_restriction" => {
                let day = r["start_day_of_week"].as_i64().unwrap() - 1;
                (
                    day * 1440 + start_of_day,
                    i64::from(local.weekday().num_days_from_monday()) * 1440 + minute_of_day,
                    7 * 1440,
                )
            }
            other => panic!("restriction {other}"),
        };
        length >= period || (now - start).rem_euclid(period) < length
    })
}

#[test]
fn the_report_lists_everything_not_mapped_and_the_differences() {
    let (dir, _) = import_saved(SOURCE, &fixtures(SOURCE), &[]);
    let report = json_file(&dir.path().join("migration-report.json"));
    let expected = [
        "escalation policy PELEG02 -",
        "escalation policy PELEG02 escalation_rules[0]",
        "event orchestration E1ORCH1 global and unrouted rules",
        "event orchestration E1ORCH1 router.catch_all",
        "integration PIEM003 -",
        "layer PLOLD03 -",
        "orchestration rule a1b2c3d4 actions.priority",
        "orchestration rule c3d4e5f6 -",
        "orchestration rule d4e5f6a7 -",
        "orchestration rule d9801bd0 -",
        "orchestration rule d9801bd0 actions.dynamic_route_to",
        "service PSVBAT2 -",
        "service PSVBAT2 auto_resolve_timeout",
        "service PSVBAT2 event orchestration",
        "service PSVBAT2 incident_urgency_rule",
        "service PSVBAT2 support_hours",
        "service PSVCHK1 acknowledgement_timeout",
        "service PSVCHK1 event rules",
        "service orchestration PSVCHK1 sets[db-details]",
        "team PTAPP02 -",
        "team PTSRE01 -",
        "user * slack_id",
        "user PALICE1 contact_methods[PCM1C]",
        "user PALICE1 notification_rules[PNR3]",
        "user PALICE1 role",
        "user PCAROL3 contact_methods[PCM3B]",
        "user PDAN004 locale_preference",
    ];
    assert_eq!(unmapped(&report), expected);
    assert!(reports_unknown_field(
        dir.path(),
        "user",
        "PDAN004",
        "locale_preference"
    ));
    let markdown = read(dir.path(), "migration-report.md");
    for needle in [
        "round robin assigns one target per incident in turn",
        "phone-call rule became an SMS",
        "highest layer with someone on call wins",
        "| `checkout-alertmanager` | Checkout: Alertmanager | pagerduty | POST $KLAXON/v2/enqueue",
    ] {
        assert!(
            markdown.contains(needle),
            "the report should say {needle:?}:\n{markdown}"
        );
    }
    assert_eq!(report["endpoints"].as_array().unwrap().len(), 3);
    assert!(read(dir.path(), "overrides.sh").contains("klaxon overrides add sre-primary --user carol --start 2026-03-12T18:00:00Z --end 2026-03-13T09:00:00Z\n"));
    let config = read(dir.path(), "klaxon.yaml");
    assert!(
        config.contains("urgency: high"),
        "the constant urgency rule is kept:\n{config}"
    );
}

#[test]
fn a_field_added_to_a_source_document_appears_in_the_report() {
    let saved = fixture_copy(SOURCE);
    import_support::edit(saved.path(), "/schedules/PSSRE01", |doc| {
        doc["schedule"]["schedule_layers"][0]["handoff_notifications"] = Value::from("always");
    });
    import_support::edit(
        saved.path(),
        "/services?include[]=integrations&limit=100&offset=0",
        |doc| {
            doc["services"][0]["custom_field_values"] =
                serde_json::json!([{"name": "tier", "value": "1"}])
        },
    );
    let (dir, _) = import_saved(SOURCE, saved.path(), &[]);
    assert!(reports_unknown_field(
        dir.path(),
        "layer",
        "PLWKND1",
        "handoff_notifications"
    ));
    assert!(reports_unknown_field(
        dir.path(),
        "service",
        "PSVCHK1",
        "custom_field_values"
    ));
}

#[test]
fn a_refused_key_fails_clearly_and_writes_nothing() {
    let server = Fake::start(answer);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("klaxon.yaml");
    let run = import(&[
        "--api-url",
        &server.url,
        "--api-key",
        "wrong-pd-key",
        "--out",
        out.to_str().unwrap(),
        "--save-dir",
        dir.path().join("saved").to_str().unwrap(),
    ])
    .fails(1, "pagerduty refused the API key");
    assert!(run.stderr.contains("401"), "{run:#?}");
    assert_secret_nowhere("wrong-pd-key", &[], &[&run]);
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
    .fails(1, "cannot reach pagerduty at http://127.0.0.1:9");
    assert_empty(dir.path());
}

#[test]
fn a_truncated_or_foreign_saved_directory_fails_clearly() {
    let saved = fixture_copy(SOURCE);
    let name = truncate(saved.path(), "/schedules/PSSRE01");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("klaxon.yaml");
    import(&[
        "--from-dir",
        saved.path().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
    .fails(
        1,
        &format!("{name} (for GET /schedules/PSSRE01) is not valid JSON"),
    );
    // A directory saved from another source.
    import(&[
        "--from-dir",
        fixtures("opsgenie").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
    .fails(1, "was saved by an import from opsgenie, not pagerduty");
    assert_empty(dir.path());
}
