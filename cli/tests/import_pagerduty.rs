//! `klaxon import pagerduty` end to end: a local HTTP server serves PagerDuty REST API v2
//! responses (the fixture directory) with a second page of users, a 429 with Retry-After and a
//! 502; the import must validate, describe the same final schedules as the fixture (an
//! independent oracle over 8 weeks spanning both DST changes), report what it could not map,
//! and fail cleanly on bad input.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a failed expect is a failed test

mod common;

use chrono::{DateTime, Datelike, Duration, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use common::klaxon;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

const KEY: &str = "u+pd-test-key-abcdef";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/import/pagerduty")
}

/// The fixture file for a request path (the importer's saved-directory naming).
fn fixture_name(path: &str) -> String {
    let mut name = String::new();
    for byte in path.trim_start_matches('/').bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' => name.push(char::from(byte)),
            b'/' => name.push('~'),
            other => name.push_str(&format!("_{other:02X}")),
        }
    }
    name + ".json"
}

fn fixture(path: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join(fixture_name(path))).unwrap())
        .unwrap()
}

/// A fake PagerDuty: serves the fixtures, refuses other keys with 401, throttles the first
/// schedules list (429, Retry-After: 1) and fails the first policies list (502).
struct FakePagerDuty {
    url: String,
    hits: Arc<Mutex<BTreeMap<String, u32>>>,
}

impl FakePagerDuty {
    fn start() -> Self {
        let hits: Arc<Mutex<BTreeMap<String, u32>>> = Arc::default();
        let state = hits.clone();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
                    let state = state.clone();
                    async move { answer(&request, &state) }
                });
                axum::serve(listener, app).await.unwrap();
            });
        });
        Self { url, hits }
    }

    fn hits(&self, path: &str) -> u32 {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

fn answer(
    request: &axum::extract::Request,
    hits: &Mutex<BTreeMap<String, u32>>,
) -> axum::response::Response {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let mut path = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let count = {
        let mut hits = hits.lock().unwrap();
        let count = hits.entry(path.clone()).or_insert(0);
        *count += 1;
        *count
    };
    let error = |code: u32, message: &str| {
        format!("{{\"error\":{{\"message\":\"{message}\",\"code\":{code}}}}}")
    };
    let auth = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    let accept = request
        .headers()
        .get("accept")
        .and_then(|v| v.to_str().ok());
    if auth != Some(&format!("Token token={KEY}")) {
        return (
            StatusCode::UNAUTHORIZED,
            error(2006, "Authentication Required"),
        )
            .into_response();
    }
    assert_eq!(accept, Some("application/vnd.pagerduty+json;version=2"));
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
    if let Some((id, _)) = path
        .strip_prefix("/schedules/")
        .and_then(|rest| rest.split_once("/overrides?"))
    {
        path = format!(
            "/schedules/{id}/overrides?since=2026-03-01T00:00:00Z&until=2027-03-01T00:00:00Z"
        );
    }
    match std::fs::read_to_string(fixtures().join(fixture_name(&path))) {
        Ok(text) => ([("content-type", "application/json")], text).into_response(),
        Err(_) => (StatusCode::NOT_FOUND, error(2100, "Not Found")).into_response(),
    }
}

fn import(args: &[&str]) -> common::Run {
    let mut all = vec!["import", "pagerduty"];
    all.extend_from_slice(args);
    klaxon(&all)
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn a_live_import_pages_retries_validates_and_replays_identically() {
    let server = FakePagerDuty::start();
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
        run.stdout.contains("imported 25 objects from pagerduty"),
        "{run:#?}"
    );
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
            "is valid: 5 users, 2 schedules, 1 escalation policy, 1 routing rule, 2 integrations"
        ),
        "{valid:#?}"
    );
    for name in [
        "klaxon.yaml",
        "migration-report.md",
        "migration-report.json",
        "overrides.sh",
    ] {
        assert!(
            !read(live.path(), name).contains(KEY),
            "{name} holds the API key"
        );
    }
    let replay = tempfile::tempdir().unwrap();
    import(&[
        "--from-dir",
        saved.to_str().unwrap(),
        "--out",
        replay.path().join("klaxon.yaml").to_str().unwrap(),
    ])
    .ok();
    for name in [
        "klaxon.yaml",
        "migration-report.md",
        "migration-report.json",
        "overrides.sh",
    ] {
        assert_eq!(
            read(live.path(), name),
            read(replay.path(), name),
            "{name} differs between the live import and the replay"
        );
    }
}

fn import_fixtures() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("klaxon.yaml");
    import(&[
        "--from-dir",
        fixtures().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
    .ok();
    (dir, out)
}

#[test]
fn imported_schedules_equal_an_independent_reading_of_the_fixture_over_eight_weeks() {
    let (_dir, out) = import_fixtures();
    let users: BTreeMap<String, String> = ["/users?limit=100&offset=0", "/users?limit=3&offset=3"]
        .iter()
        .flat_map(|page| fixture(page)["users"].as_array().unwrap().clone())
        .map(|u| {
            (
                u["id"].as_str().unwrap().to_owned(),
                u["email"]
                    .as_str()
                    .unwrap()
                    .split('@')
                    .next()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect();
    // London changes on 2026-03-29, Los Angeles on 2026-03-08.
    for (klaxon_id, source_id) in [("sre-primary", "PSSRE01"), ("app-secondary", "PSAPP02")] {
        let schedule = fixture(&format!("/schedules/{source_id}"))["schedule"].clone();
        let zone: Tz = schedule["time_zone"].as_str().unwrap().parse().unwrap();
        let from = zone
            .with_ymd_and_hms(2026, 3, 2, 0, 0, 0)
            .unwrap()
            .with_timezone(&Utc);
        let to = zone
            .with_ymd_and_hms(2026, 4, 27, 0, 0, 0)
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            to - from,
            Duration::weeks(8) - Duration::hours(1),
            "{klaxon_id}: the range spans the DST change"
        );
        let shown = klaxon(&[
            "--config",
            out.to_str().unwrap(),
            "schedule",
            "show",
            klaxon_id,
            "--from",
            "2026-03-02",
            "--to",
            "2026-04-27",
            "--json",
        ])
        .ok()
        .json();
        let intervals: Vec<(DateTime<Utc>, DateTime<Utc>, Option<String>)> = shown["intervals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    instant(&i["start"]["utc"]),
                    instant(&i["end"]["utc"]),
                    i["user"]["id"].as_str().map(str::to_owned),
                )
            })
            .collect();
        assert_eq!(
            (intervals.first().unwrap().0, intervals.last().unwrap().1),
            (from, to)
        );
        for (start, _, _) in &intervals {
            assert_eq!(
                start.timestamp() % 900,
                0,
                "{klaxon_id}: a change off the quarter hour at {start}"
            );
        }
        let mut at = from;
        while at < to {
            let klaxon_user = intervals
                .iter()
                .find(|(s, e, _)| *s <= at && at < *e)
                .and_then(|(_, _, u)| u.clone());
            let expected = oracle(&schedule, zone, at).map(|id| users[&id].clone());
            assert_eq!(klaxon_user, expected, "{klaxon_id} at {at}");
            at += Duration::minutes(15);
        }
    }
}

fn instant(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

/// Who PagerDuty has on call at `at`, from the schedule document: the first layer (highest) that
/// has started, has not ended and whose restrictions cover the local time. Turns of whole days
/// hand off at the same local time; other turns are elapsed time.
fn oracle(schedule: &Value, zone: Tz, at: DateTime<Utc>) -> Option<String> {
    let local = at.with_timezone(&zone).naive_local();
    for layer in schedule["schedule_layers"].as_array().unwrap() {
        let time = |key: &str| {
            layer[key]
                .as_str()
                .map(|t| DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc))
        };
        let (start, end) = (time("start").unwrap(), time("end"));
        if at < start || end.is_some_and(|end| at >= end) || !covered(layer, local) {
            continue;
        }
        let anchor = time("rotation_virtual_start").unwrap();
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
    let (dir, _out) = import_fixtures();
    let report: Value = serde_json::from_str(&read(dir.path(), "migration-report.json")).unwrap();
    let unmapped: Vec<String> = report["unmapped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            format!(
                "{} {} {}",
                u["kind"].as_str().unwrap(),
                u["id"].as_str().unwrap(),
                u["field"].as_str().unwrap_or("-")
            )
        })
        .collect();
    let expected = [
        "escalation policy PELEG02 -",
        "escalation policy PELEG02 escalation_rules[0]",
        "event orchestration * -",
        "integration PIEM003 -",
        "layer PLOLD03 -",
        "service PSVBAT2 -",
        "service PSVBAT2 auto_resolve_timeout",
        "service PSVBAT2 support_hours",
        "service PSVCHK1 acknowledgement_timeout",
        "team PTAPP02 -",
        "team PTSRE01 -",
        "user * slack_id",
        "user PALICE1 contact_methods[PCM1C]",
        "user PALICE1 notification_rules[PNR3]",
        "user PALICE1 role",
        "user PCAROL3 contact_methods[PCM3B]",
        "user PDAN004 locale_preference",
    ];
    assert_eq!(unmapped, expected);
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
    assert!(read(dir.path(), "overrides.sh").contains("klaxon overrides add sre-primary --user carol --start 2026-03-12T18:00:00Z --end 2026-03-13T09:00:00Z\n"));
    let config = read(dir.path(), "klaxon.yaml");
    assert!(
        config.contains("urgency: high"),
        "the constant urgency rule is kept:\n{config}"
    );
}

#[test]
fn bad_input_fails_clearly_and_writes_nothing() {
    let server = FakePagerDuty::start();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("klaxon.yaml");
    let run = import(&[
        "--api-url",
        &server.url,
        "--api-key",
        "wrong",
        "--out",
        out.to_str().unwrap(),
    ])
    .fails(1, "pagerduty refused the API key");
    assert!(
        run.stderr.contains("401") && !run.stderr.contains("Token token=wrong"),
        "{run:#?}"
    );
    import(&[
        "--api-url",
        "http://127.0.0.1:9",
        "--api-key",
        KEY,
        "--out",
        out.to_str().unwrap(),
    ])
    .fails(1, "cannot reach pagerduty at http://127.0.0.1:9");
    // A truncated saved response.
    let saved = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, saved.path().join(path.file_name().unwrap())).unwrap();
    }
    let name = fixture_name("/schedules/PSSRE01");
    let text = std::fs::read_to_string(saved.path().join(&name)).unwrap();
    std::fs::write(saved.path().join(&name), &text[..text.len() / 3]).unwrap();
    import(&[
        "--from-dir",
        saved.path().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
    .fails(1, "the file is truncated or damaged");
    // A directory saved from another source.
    import(&[
        "--from-dir",
        "cli/tests/fixtures/import/opsgenie",
        "--out",
        out.to_str().unwrap(),
    ])
    .fails(1, "was saved by an import from opsgenie, not pagerduty");
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing may be written"
    );
}
