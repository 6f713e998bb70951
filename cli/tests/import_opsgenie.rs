//! `klaxon import opsgenie` end to end: a local HTTP server serves Opsgenie API responses (the
//! fixture directory, whose shapes follow Opsgenie's REST API v2 reference) with a second page
//! of users, a 429 with Retry-After and a 503; the import must validate, describe the same
//! final schedules as the fixture (checked by an independent oracle over 8 weeks spanning both
//! DST changes), list everything it could not map, and fail cleanly on bad input.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a failed expect is a failed test

mod common;

use chrono::{DateTime, Datelike, Duration, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use common::klaxon;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

const KEY: &str = "og-test-key-0123456789";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/import/opsgenie")
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

/// A fake Opsgenie: serves the fixture files, refuses other keys with 401, throttles the first
/// schedules request (429, Retry-After: 1) and fails the first escalations request (503).
struct FakeOpsgenie {
    url: String,
    hits: Arc<Mutex<BTreeMap<String, u32>>>,
}

impl FakeOpsgenie {
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
    let path = request
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
    let body = |message: &str| {
        format!("{{\"message\":\"{message}\",\"took\":0.001,\"requestId\":\"0c7c2f3e\"}}")
    };
    let auth = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    if auth != Some(&format!("GenieKey {KEY}")) {
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
    match std::fs::read_to_string(fixtures().join(fixture_name(&path))) {
        Ok(text) => ([("content-type", "application/json")], text).into_response(),
        Err(_) => (StatusCode::NOT_FOUND, body("Not found")).into_response(),
    }
}

fn import(args: &[&str]) -> common::Run {
    let mut all = vec!["import", "opsgenie"];
    all.extend_from_slice(args);
    klaxon(&all)
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn a_live_import_pages_retries_validates_and_replays_identically() {
    let server = FakeOpsgenie::start();
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
        run.stdout.contains("imported 37 objects from opsgenie"),
        "{run:#?}"
    );
    // Every page was read, the 429 and the 503 were each retried once.
    assert_eq!(
        server.hits("/v2/users?limit=3&offset=3&sort=username&order=asc"),
        1
    );
    assert_eq!(server.hits("/v2/schedules?expand=rotation"), 2);
    assert_eq!(server.hits("/v2/escalations"), 2);

    // The file validates.
    let valid = klaxon(&["config", "validate", out.to_str().unwrap()]).ok();
    assert!(
        valid.stdout.contains(
            "is valid: 6 users, 2 schedules, 3 escalation policies, 4 routing rules, 4 integrations"
        ),
        "{valid:#?}"
    );

    // The key is nowhere in what was written.
    for entry in walk(live.path()) {
        let text = std::fs::read_to_string(&entry).unwrap();
        assert!(!text.contains(KEY), "{} holds the API key", entry.display());
    }

    // Replaying the saved directory gives the same files, byte for byte.
    let replay = tempfile::tempdir().unwrap();
    let replay_out = replay.path().join("klaxon.yaml");
    import(&[
        "--from-dir",
        saved.to_str().unwrap(),
        "--out",
        replay_out.to_str().unwrap(),
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

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// Imports the fixture directory offline into a fresh directory.
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
    assert_eq!(
        String::from_utf8_lossy(&script.stdout)
            .matches("added:")
            .count(),
        2
    );
    // Platform primary's override covers the whole schedule in Opsgenie too, so the final
    // schedule with it must match the fixture; Payments' covers one rotation only (reported).
    compare_with_oracle(&out, "platform-primary", "Platform primary", Some(&data));
    drop(serve);
}

/// `klaxon schedule show` of `klaxon_id` (with the overrides stored in `db`, if given) equals
/// the oracle's reading of the fixture every 15 minutes over 8 weeks across the DST changes
/// (New York on 2026-03-08, Berlin on 2026-03-29).
fn compare_with_oracle(out: &Path, klaxon_id: &str, name: &str, db: Option<&Path>) {
    let schedules: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join(fixture_name("/v2/schedules?expand=rotation")))
            .unwrap(),
    )
    .unwrap();
    let users = fixture_usernames();
    let schedule = schedules["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap();
    let overrides: Value = if db.is_some() {
        let path = format!(
            "/v2/schedules/{}/overrides?scheduleIdentifierType=id",
            schedule["id"].as_str().unwrap()
        );
        serde_json::from_str(
            &std::fs::read_to_string(fixtures().join(fixture_name(&path))).unwrap(),
        )
        .unwrap()
    } else {
        serde_json::json!({ "data": [] })
    };
    let zone: Tz = schedule["timezone"].as_str().unwrap().parse().unwrap();
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
    let mut args = vec![
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
    ];
    let db_text = db.map(|d| d.display().to_string());
    if let Some(db) = &db_text {
        args.extend(["--db", db.as_str()]);
    }
    let shown = klaxon(&args).ok().json();
    if db.is_some() {
        let sources: Vec<&Value> = shown["intervals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| &i["source"]["kind"])
            .collect();
        assert!(
            sources.contains(&&Value::from("override")),
            "the stored override shows: {shown:#}"
        );
    }
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
        let expected = override_at(&overrides, at)
            .or_else(|| oracle(schedule, zone, at))
            .map(|id| users[&id].clone());
        assert_eq!(klaxon_user, expected, "{klaxon_id} at {at}");
        at += Duration::minutes(15);
    }
}

/// The user of the override in force at `at` (the one that started last wins).
fn override_at(overrides: &Value, at: DateTime<Utc>) -> Option<String> {
    overrides["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| instant(&o["startDate"]) <= at && at < instant(&o["endDate"]))
        .max_by_key(|o| instant(&o["startDate"]))
        .map(|o| o["user"]["id"].as_str().unwrap().to_owned())
}

fn instant(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

/// Opsgenie user id → the Klaxon id the importer gives (the username's local part).
fn fixture_usernames() -> BTreeMap<String, String> {
    let mut users = BTreeMap::new();
    for page in [
        "/v2/users?limit=100&offset=0&sort=username&order=asc",
        "/v2/users?limit=3&offset=3&sort=username&order=asc",
    ] {
        let doc: Value = serde_json::from_str(
            &std::fs::read_to_string(fixtures().join(fixture_name(page))).unwrap(),
        )
        .unwrap();
        for user in doc["data"].as_array().unwrap() {
            let username = user["username"].as_str().unwrap();
            users.insert(
                user["id"].as_str().unwrap().to_owned(),
                username.split('@').next().unwrap().to_owned(),
            );
        }
    }
    users
}

/// Who Opsgenie has on call at `at`, read straight from the schedule document: every rotation
/// that has started, has not ended and whose restriction covers the local time puts its
/// current participant on call. The fixture's rotations never overlap (asserted), so at most
/// one user is on call.
fn oracle(schedule: &Value, zone: Tz, at: DateTime<Utc>) -> Option<String> {
    let local = at.with_timezone(&zone).naive_local();
    let mut on_call = Vec::new();
    for rotation in schedule["rotations"].as_array().unwrap() {
        let start = DateTime::parse_from_rfc3339(rotation["startDate"].as_str().unwrap())
            .unwrap()
            .with_timezone(&Utc);
        let ended = rotation["endDate"]
            .as_str()
            .is_some_and(|end| DateTime::parse_from_rfc3339(end).unwrap() <= at);
        if at < start || ended || !covered(&rotation["timeRestriction"], local) {
            continue;
        }
        let length = rotation["length"].as_i64().unwrap();
        let local_start: NaiveDateTime = start.with_timezone(&zone).naive_local();
        // Daily and weekly turns change at the same wall-clock time; hourly ones by elapsed time.
        let turn = match rotation["type"].as_str().unwrap() {
            "hourly" => (at - start).num_minutes() / (60 * length),
            "daily" => (local - local_start).num_minutes() / (1440 * length),
            "weekly" => (local - local_start).num_minutes() / (7 * 1440 * length),
            other => panic!("rotation type {other}"),
        };
        let participants: Vec<&Value> = rotation["participants"]
            .as_array()
            .unwrap()
            .iter()
            .collect();
        let participant = participants[usize::try_from(turn).unwrap() % participants.len()];
        on_call.push(participant["id"].as_str().unwrap().to_owned());
    }
    assert!(on_call.len() <= 1, "rotations overlap at {at}: {on_call:?}");
    on_call.pop()
}

/// Whether an Opsgenie time restriction covers the local time.
fn covered(restriction: &Value, local: NaiveDateTime) -> bool {
    let minute =
        |v: &Value, h: &str, m: &str| v[h].as_i64().unwrap_or(0) * 60 + v[m].as_i64().unwrap_or(0);
    // A span from `start` to `end`; an end before the start wraps, equal means all the time.
    let in_span = |start: i64, end: i64, now: i64| match start.cmp(&end) {
        std::cmp::Ordering::Equal => true,
        std::cmp::Ordering::Less => start <= now && now < end,
        std::cmp::Ordering::Greater => now >= start || now < end,
    };
    let time = i64::from(local.hour() * 60 + local.minute());
    match restriction["type"].as_str() {
        None => true,
        Some("time-of-day") => {
            let r = &restriction["restriction"];
            in_span(
                minute(r, "startHour", "startMin"),
                minute(r, "endHour", "endMin"),
                time,
            )
        }
        Some("weekday-and-time-of-day") => {
            let days = [
                "monday",
                "tuesday",
                "wednesday",
                "thursday",
                "friday",
                "saturday",
                "sunday",
            ];
            let day =
                |name: &Value| i64::try_from(days.iter().position(|d| name == d).unwrap()).unwrap();
            let now = i64::from(local.weekday().num_days_from_monday()) * 1440 + time;
            restriction["restrictions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| {
                    let start = day(&r["startDay"]) * 1440 + minute(r, "startHour", "startMin");
                    let end = day(&r["endDay"]) * 1440 + minute(r, "endHour", "endMin");
                    in_span(start, end, now)
                })
        }
        Some(other) => panic!("restriction type {other}"),
    }
}

#[test]
fn the_report_lists_every_object_and_everything_not_mapped() {
    let (dir, _out) = import_fixtures();
    let report: Value = serde_json::from_str(&read(dir.path(), "migration-report.json")).unwrap();
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
        [6, 3, 2, 5, 2, 3, 5, 7, 2, 2]
    );
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
        "escalation e4d3c2b1-0002-4000-a000-000000000002 repeat.count",
        "escalation e4d3c2b1-0002-4000-a000-000000000002 repeat.resetRecipientStates",
        "escalation e4d3c2b1-0003-4000-a000-000000000003 -",
        "escalation e4d3c2b1-0003-4000-a000-000000000003 rules[0]",
        "heartbeat etl -",
        "heartbeat nightly-backup -",
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
    assert_eq!(unmapped, expected);
    // The unknown field of the fixture is named as such.
    let markdown = read(dir.path(), "migration-report.md");
    assert!(
        markdown.contains(
            "| user | `6d2ab6f5-1c2e-4ca4-8b84-8b3e4d2f0003` | `pronouns` | unknown field"
        ),
        "{markdown}"
    );
    // Differing semantics are called out.
    for needle in [
        "next on-call user",
        "\"if not closed\" became \"if not acknowledged\"",
        "first layer (rotation) with someone on call wins",
        "voice-call step became an SMS",
    ] {
        assert!(
            markdown.contains(needle),
            "the report should say {needle:?}"
        );
    }
    // Each integration's new endpoint.
    assert!(markdown.contains("| `prometheus-prod` | Prometheus prod (Prometheus) | alertmanager | $KLAXON/v1/integrations/alertmanager with `Authorization: Bearer klx_…` |"), "{markdown}");
    // Overrides are runtime data, as commands.
    assert_eq!(
        read(dir.path(), "overrides.sh")
            .lines()
            .filter(|l| l.starts_with("klaxon "))
            .collect::<Vec<_>>(),
        [
            "klaxon overrides add payments --user farid --start 2026-03-14T05:00:00Z --end 2026-03-16T04:00:00Z",
            "klaxon overrides add platform-primary --user chloe --start 2026-03-10T17:00:00Z --end 2026-03-11T07:00:00Z",
        ]
    );
}

/// A copy of the fixture directory to damage.
fn fixture_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    dir
}

#[test]
fn a_field_added_to_a_source_document_appears_in_the_report() {
    let saved = fixture_copy();
    let file = saved
        .path()
        .join(fixture_name("/v2/schedules?expand=rotation"));
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    doc["data"][0]["rotations"][1]["handoffReminder"] = Value::from("15m");
    std::fs::write(&file, doc.to_string()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let config = out.path().join("klaxon.yaml");
    import(&[
        "--from-dir",
        saved.path().to_str().unwrap(),
        "--out",
        config.to_str().unwrap(),
        "--json",
    ])
    .ok();
    let report: Value = serde_json::from_str(&read(out.path(), "migration-report.json")).unwrap();
    let found = report["unmapped"].as_array().unwrap().iter().any(|u| {
        u["field"] == "handoffReminder"
            && u["kind"] == "rotation"
            && u["reason"].as_str().unwrap().starts_with("unknown field")
    });
    assert!(found, "{report:#}");
}

#[test]
fn a_refused_key_fails_clearly_and_writes_nothing() {
    let server = FakeOpsgenie::start();
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
    ]);
    let run = run.fails(1, "opsgenie refused the API key");
    assert!(run.stderr.contains("401"), "{run:#?}");
    assert!(
        !run.stderr.contains("wrong-key"),
        "the key must not be printed: {run:#?}"
    );
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing may be written"
    );
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
    assert!(!out.exists());
}

#[test]
fn a_truncated_saved_response_fails_clearly() {
    let saved = fixture_copy();
    let name = fixture_name("/v2/escalations");
    let file = saved.path().join(&name);
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, &text[..text.len() / 2]).unwrap();
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
    assert!(
        std::fs::read_dir(out.path()).unwrap().next().is_none(),
        "nothing may be written"
    );
}

#[test]
fn a_live_import_needs_a_key() {
    import(&["--out", "/tmp/never-written.yaml"]).fails(2, "an API key is needed");
}
