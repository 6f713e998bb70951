//! `klaxon import grafana-oncall` end to end: a local HTTP server serves Grafana OnCall API v1
//! responses (the fixture directory) below a path prefix (`/oncall`, as OnCall's API URL has),
//! with a second page of users, a 429 with Retry-After and a 500; the import must validate,
//! describe the same final schedules as the fixture (an independent oracle over 8 weeks
//! spanning both DST changes, overrides included), report what it could not map, and fail
//! cleanly on bad input.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a failed expect is a failed test

mod common;

use chrono::{DateTime, Datelike, Duration, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use common::klaxon;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

const KEY: &str = "oncall-token-0123456789abcdef";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/import/grafana-oncall")
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

/// A fake OnCall below `/oncall`: serves the fixtures, refuses other tokens with 401,
/// throttles the first schedules list (429, Retry-After: 1) and fails the first shifts list (500).
struct FakeOnCall {
    url: String,
    hits: Arc<Mutex<BTreeMap<String, u32>>>,
}

impl FakeOnCall {
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
    let error = |message: &str| format!("{{\"detail\":\"{message}\"}}");
    let auth = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    if auth != Some(KEY) {
        return (StatusCode::UNAUTHORIZED, error("Invalid token.")).into_response();
    }
    let Some(stripped) = path.strip_prefix("/oncall") else {
        return (StatusCode::NOT_FOUND, error("Not found.")).into_response();
    };
    path = stripped.to_owned();
    if path == "/api/v1/schedules/" && count == 1 {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "1")],
            error("Request was throttled."),
        )
            .into_response();
    }
    if path == "/api/v1/on_call_shifts/" && count == 1 {
        return (StatusCode::INTERNAL_SERVER_ERROR, "Server Error (500)").into_response();
    }
    match std::fs::read_to_string(fixtures().join(fixture_name(&path))) {
        Ok(text) => ([("content-type", "application/json")], text).into_response(),
        Err(_) => (StatusCode::NOT_FOUND, error("Not found.")).into_response(),
    }
}

fn import(args: &[&str]) -> common::Run {
    let mut all = vec!["import", "grafana-oncall"];
    all.extend_from_slice(args);
    klaxon(&all)
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

const FILES: [&str; 4] = [
    "klaxon.yaml",
    "migration-report.md",
    "migration-report.json",
    "overrides.sh",
];

#[test]
fn a_live_import_pages_retries_validates_and_replays_identically() {
    let server = FakeOnCall::start();
    let live = tempfile::tempdir().unwrap();
    let out = live.path().join("klaxon.yaml");
    let saved = live.path().join("saved");
    let api = format!("{}/oncall", server.url);
    let run = import(&[
        "--api-url",
        &api,
        "--api-key",
        KEY,
        "--out",
        out.to_str().unwrap(),
        "--save-dir",
        saved.to_str().unwrap(),
    ])
    .ok();
    assert!(
        run.stdout
            .contains("imported 29 objects from grafana-oncall"),
        "{run:#?}"
    );
    assert_eq!(
        server.hits("/oncall/api/v1/users/?page=2"),
        1,
        "the second page of users is read"
    );
    assert_eq!(
        server.hits("/oncall/api/v1/schedules/"),
        2,
        "the 429 is retried"
    );
    assert_eq!(
        server.hits("/oncall/api/v1/on_call_shifts/"),
        2,
        "the 500 is retried"
    );
    let valid = klaxon(&["config", "validate", out.to_str().unwrap()]).ok();
    assert!(
        valid.stdout.contains(
            "is valid: 7 users, 3 schedules, 1 escalation policy, 3 routing rules, 2 integrations"
        ),
        "{valid:#?}"
    );
    for name in FILES {
        let text = read(live.path(), name);
        assert!(
            !text.contains(KEY) && !text.contains("SECRETTOKEN"),
            "{name} holds a secret"
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
    for name in FILES {
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
fn imported_schedules_with_their_overrides_equal_an_independent_reading_of_the_fixture() {
    let (dir, out) = import_fixtures();
    let data = dir.path().join("data");
    let serve =
        common::server::Serve::start(out.to_str().unwrap(), &data, common::server::free_port());
    for line in read(dir.path(), "overrides.sh")
        .lines()
        .filter(|l| l.starts_with("klaxon "))
    {
        let args: Vec<&str> = line.split_whitespace().skip(1).collect();
        serve.cli(&args).ok();
    }
    let users: BTreeMap<String, String> = ["/api/v1/users/", "/api/v1/users/?page=2"]
        .iter()
        .flat_map(|page| fixture(page)["results"].as_array().unwrap().clone())
        .map(|u| {
            (
                u["id"].as_str().unwrap().to_owned(),
                u["username"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let schedules = fixture("/api/v1/schedules/")["results"]
        .as_array()
        .unwrap()
        .clone();
    let shifts = fixture("/api/v1/on_call_shifts/")["results"]
        .as_array()
        .unwrap()
        .clone();
    let data_dir = data.display().to_string();
    // Berlin changes on 2026-03-29, Chicago on 2026-03-08.
    for (klaxon_id, source_id) in [("primary", "SPRIM01"), ("secondary", "SSECO02")] {
        let schedule = schedules.iter().find(|s| s["id"] == source_id).unwrap();
        let own: Vec<&Value> = schedule["shifts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|id| shifts.iter().find(|s| s["id"] == *id).unwrap())
            .collect();
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
            "--db",
            &data_dir,
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
            let expected = oracle(&own, zone, at).map(|id| users[&id].clone());
            assert_eq!(klaxon_user, expected, "{klaxon_id} at {at}");
            at += Duration::minutes(15);
        }
    }
    drop(serve);
}

fn instant(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

/// Who OnCall has on call at `at`, read from the schedule's shifts: an override in force wins
/// (the latest started); else the highest level whose event covers the instant. A rolling
/// shift's events repeat every `interval` days or weeks at the same local time (or, with
/// `by_day`, on those days of every week) and last `duration`; each event (each week, with
/// `by_day`) goes to the next group of `rolling_users`.
fn oracle(shifts: &[&Value], zone: Tz, at: DateTime<Utc>) -> Option<String> {
    let local = at.with_timezone(&zone).naive_local();
    let start_of = |s: &Value| {
        NaiveDateTime::parse_from_str(s["start"].as_str().unwrap(), "%Y-%m-%dT%H:%M:%S").unwrap()
    };
    let overriding = shifts
        .iter()
        .filter(|s| s["type"] == "override")
        .filter(|s| {
            let start = zone
                .from_local_datetime(&start_of(s))
                .earliest()
                .unwrap()
                .with_timezone(&Utc);
            start <= at && at < start + Duration::seconds(s["duration"].as_i64().unwrap())
        })
        .max_by_key(|s| start_of(s));
    if let Some(o) = overriding {
        return Some(o["users"][0].as_str().unwrap().to_owned());
    }
    let mut rolling: Vec<&&Value> = shifts
        .iter()
        .filter(|s| s["type"] == "rolling_users")
        .collect();
    rolling.sort_by_key(|s| std::cmp::Reverse(s["level"].as_i64().unwrap()));
    for shift in rolling {
        let start = start_of(shift);
        if local < start {
            continue;
        }
        let interval = shift["interval"].as_i64().unwrap();
        let duration = Duration::seconds(shift["duration"].as_i64().unwrap());
        let period = match shift["frequency"].as_str().unwrap() {
            "daily" => Duration::days(interval),
            "weekly" => Duration::weeks(interval),
            other => panic!("frequency {other}"),
        };
        let (turn, event_start) = match shift["by_day"].as_array() {
            Some(days) if !days.is_empty() => {
                let names = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];
                let today = names[local.weekday().num_days_from_monday() as usize];
                if !days.iter().any(|d| d == today) {
                    continue;
                }
                let event = local.date().and_time(start.time());
                ((local - start).num_weeks() / interval, event)
            }
            _ => {
                let turn = (local - start).num_minutes() / period.num_minutes();
                (turn, start + Duration::minutes(turn * period.num_minutes()))
            }
        };
        if local < event_start || local - event_start >= duration {
            continue;
        }
        let groups = shift["rolling_users"].as_array().unwrap();
        let offset = shift["start_rotation_from_user_index"].as_i64().unwrap();
        let group = &groups[usize::try_from(turn + offset).unwrap() % groups.len()];
        return Some(group[0].as_str().unwrap().to_owned());
    }
    None
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
        "escalation chain FCHAIN1 steps[EP06]",
        "escalation chain FCHAIN2 -",
        "escalation chain FCHAIN2 steps[EP09]",
        "integration CALRT02 heartbeat",
        "integration CWEBH03 -",
        "route RJINJA1 -",
        "schedule SICAL03 -",
        "shift OMONTH7 -",
        "shift OPAIR06 rolling_users",
        "shift OPAIR06 until",
        "team TAPPS02 -",
        "team TPLAT01 -",
        "user UALICE0001 notification_rules[NALI3]",
        "user UALICE0001 notification_rules[NALI4]",
        "user UALICE0001 phone",
        "user UCAROL0003 notification_rules[NCAR2]",
        "user UGINA00007 notification_rules[NGIN1]",
        "user UGINA00007 pronouns",
    ];
    assert_eq!(unmapped, expected);
    let markdown = read(dir.path(), "migration-report.md");
    for needle in [
        "became repeat: 5",
        "(round robin); Klaxon pages all of them",
        "highest level with someone on call wins",
        "matches the regex against the whole alert payload",
    ] {
        assert!(
            markdown.contains(needle),
            "the report should say {needle:?}:\n{markdown}"
        );
    }
    let config = read(dir.path(), "klaxon.yaml");
    assert!(
        config.contains("webhook_url: ${SLACK_WEBHOOK_URL}"),
        "Slack pages need the shared webhook:\n{config}"
    );
    assert!(read(dir.path(), "overrides.sh").contains("klaxon overrides add primary --user dan --start 2026-03-12T09:00:00Z --end 2026-03-12T11:00:00Z\n"));
}

#[test]
fn bad_input_fails_clearly_and_writes_nothing() {
    let server = FakeOnCall::start();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("klaxon.yaml");
    let api = format!("{}/oncall", server.url);
    let run = import(&[
        "--api-url",
        &api,
        "--api-key",
        "wrong-token",
        "--out",
        out.to_str().unwrap(),
    ])
    .fails(1, "grafana-oncall refused the API key");
    assert!(
        run.stderr.contains("401") && !run.stderr.contains("wrong-token"),
        "{run:#?}"
    );
    import(&[
        "--api-url",
        "http://127.0.0.1:9/oncall",
        "--api-key",
        KEY,
        "--out",
        out.to_str().unwrap(),
    ])
    .fails(
        1,
        "cannot reach grafana-oncall at http://127.0.0.1:9/oncall",
    );
    import(&["--api-key", KEY, "--out", out.to_str().unwrap()])
        .fails(2, "--api-url is needed for grafana-oncall");
    let saved = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, saved.path().join(path.file_name().unwrap())).unwrap();
    }
    let name = fixture_name("/api/v1/on_call_shifts/");
    let text = std::fs::read_to_string(saved.path().join(&name)).unwrap();
    std::fs::write(saved.path().join(&name), &text[..text.len() / 2]).unwrap();
    import(&[
        "--from-dir",
        saved.path().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
    .fails(1, "the file is truncated or damaged");
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing may be written"
    );
}
