//! What the `klaxon import` tests of every source share: a fake vendor API serving a fixture
//! directory, the saved-directory file naming, running imports, reading the written files and
//! comparing `klaxon schedule show` with an independent oracle.

// Not every source's test file uses every helper; a failed expect is a failed test.
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use crate::common::{Run, klaxon, repo};
use axum::extract::Request;
use axum::response::Response;
use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

/// The files an import writes beside `--out klaxon.yaml`.
pub const FILES: [&str; 4] = [
    "klaxon.yaml",
    "migration-report.md",
    "migration-report.json",
    "overrides.sh",
];

/// `cli/tests/fixtures/import/<source>`.
pub fn fixtures(source: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/import")
        .join(source)
}

/// The saved file for a request path (the importer's saved-directory naming, written again
/// here so a change to it breaks the tests).
pub fn fixture_name(path: &str) -> String {
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

/// The fixture document of `source` for the request `path`.
pub fn fixture(source: &str, path: &str) -> Value {
    json_file(&fixtures(source).join(fixture_name(path)))
}

/// A JSON file, parsed.
pub fn json_file(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A file written by an import.
pub fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Every file below `dir`.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// A copy of a source's fixture directory, to damage or extend.
pub fn fixture_copy(source: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixtures(source)).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    dir
}

/// Changes one saved document of `dir` in place.
pub fn edit(dir: &Path, path: &str, change: impl FnOnce(&mut Value)) {
    let file = dir.join(fixture_name(path));
    let mut doc = json_file(&file);
    change(&mut doc);
    std::fs::write(&file, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
}

/// Cuts one saved document of `dir` to a third of its length.
pub fn truncate(dir: &Path, path: &str) -> String {
    let name = fixture_name(path);
    let file = dir.join(&name);
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, &text[..text.len() / 3]).unwrap();
    name
}

/// `klaxon import <source> args...`.
pub fn import(source: &str, args: &[&str]) -> Run {
    let mut all = vec!["import", source];
    all.extend_from_slice(args);
    klaxon(&all)
}

/// Imports the saved directory `saved` into a fresh directory; returns it and the run.
pub fn import_saved(source: &str, saved: &Path, extra: &[&str]) -> (tempfile::TempDir, Run) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("klaxon.yaml");
    let mut args = vec![
        "--from-dir",
        saved.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let run = import(source, &args).ok();
    (dir, run)
}

/// `kind id field` of every unmapped item of a JSON report (`-` for a whole object).
pub fn unmapped(report: &Value) -> Vec<String> {
    report["unmapped"]
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
        .collect()
}

/// Whether the report names `field` of a `kind` object as unknown to the importer, both in
/// the JSON and in the Markdown report.
pub fn reports_unknown_field(dir: &Path, kind: &str, id: &str, field: &str) -> bool {
    let report = json_file(&dir.join("migration-report.json"));
    let in_json = report["unmapped"].as_array().unwrap().iter().any(|u| {
        u["kind"] == kind
            && u["id"] == id
            && u["field"] == field
            && u["reason"]
                .as_str()
                .is_some_and(|r| r.starts_with("unknown field"))
    });
    let row = format!("| {kind} | `{id}` | `{field}` | unknown field");
    in_json && read(dir, "migration-report.md").contains(&row)
}

/// Asserts every file written identical in two import directories.
pub fn assert_same_files(a: &Path, b: &Path, what: &str) {
    for name in FILES {
        assert_eq!(read(a, name), read(b, name), "{name} differs: {what}");
    }
}

/// Asserts `secret` appears in no file below `dirs` and in no output of `runs`.
pub fn assert_secret_nowhere(secret: &str, dirs: &[&Path], runs: &[&Run]) {
    for dir in dirs {
        for file in walk(dir) {
            let bytes = std::fs::read(&file).unwrap();
            assert!(
                !String::from_utf8_lossy(&bytes).contains(secret),
                "{} holds the secret",
                file.display()
            );
        }
    }
    for run in runs {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "the output holds the secret: {run:#?}"
        );
    }
}

/// Asserts a failed import wrote nothing into `dir`.
pub fn assert_empty(dir: &Path) {
    assert!(
        std::fs::read_dir(dir).unwrap().next().is_none(),
        "nothing may be written: {:?}",
        walk(dir)
    );
}

/// Runs `klaxon args...` with standard input, output and error on a terminal (`script`,
/// from util-linux, gives the command a pseudo-terminal); returns what the terminal showed.
pub fn klaxon_on_terminal(args: &[&str]) -> (i32, String) {
    let quoted: Vec<String> = std::iter::once(env!("CARGO_BIN_EXE_klaxon"))
        .chain(args.iter().copied())
        .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
        .collect();
    let output = Command::new("script")
        .args(["-q", "-e", "-c", &quoted.join(" "), "/dev/null"])
        .env_remove("KLAXON_CONFIG")
        .current_dir(repo())
        .output()
        .expect("script (util-linux) runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

/// The request counter of a fake API.
type Hits = Arc<Mutex<BTreeMap<String, u32>>>;

/// A fake vendor API on a loopback port: every request goes to `answer` with its path and
/// query and how often that exact request came (1 for the first time).
pub struct Fake {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    hits: Hits,
}

impl Fake {
    /// Starts the server on its own thread.
    pub fn start(answer: fn(&Request, &str, u32) -> Response) -> Self {
        let hits: Hits = Arc::default();
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
                let app = axum::Router::new().fallback(move |request: Request| {
                    let state = state.clone();
                    async move {
                        let path = request
                            .uri()
                            .path_and_query()
                            .map(|p| p.as_str().to_owned())
                            .unwrap_or_default();
                        let count = {
                            let mut hits = state.lock().unwrap();
                            let count = hits.entry(path.clone()).or_insert(0);
                            *count += 1;
                            *count
                        };
                        answer(&request, &path, count)
                    }
                });
                axum::serve(listener, app).await.unwrap();
            });
        });
        Self { url, hits }
    }

    /// How often `path` (with its query) was asked for.
    pub fn hits(&self, path: &str) -> u32 {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

/// The request's header `name`.
pub fn header<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The fixture of `source` for `path` as a 200, or `not_found` as a 404.
pub fn serve_fixture(source: &str, path: &str, not_found: String) -> Response {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    match std::fs::read_to_string(fixtures(source).join(fixture_name(path))) {
        Ok(text) => ([("content-type", "application/json")], text).into_response(),
        Err(_) => (StatusCode::NOT_FOUND, not_found).into_response(),
    }
}

/// One interval of `klaxon schedule show --json`: start, end, user id.
pub type Interval = (DateTime<Utc>, DateTime<Utc>, Option<String>);

/// Midnight local on Monday 2026-03-02 and 8 weeks later in `zone`, asserting the range spans
/// a spring-forward change (it is an hour short of 8 weeks).
pub fn eight_weeks(zone: Tz, label: &str) -> (DateTime<Utc>, DateTime<Utc>) {
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
        "{label}: the range spans the DST change"
    );
    (from, to)
}

/// `klaxon --config CONFIG schedule show ID` over the 8 weeks (with the overrides stored in
/// `db`, if given).
pub fn schedule_show(config: &Path, id: &str, db: Option<&Path>) -> Value {
    let mut args = vec![
        "--config",
        config.to_str().unwrap(),
        "schedule",
        "show",
        id,
        "--from",
        "2026-03-02",
        "--to",
        "2026-04-27",
        "--json",
    ];
    if let Some(db) = db {
        args.extend(["--db", db.to_str().unwrap()]);
    }
    klaxon(&args).ok().json()
}

/// The intervals of a `schedule show --json` document.
pub fn intervals(shown: &Value) -> Vec<Interval> {
    shown["intervals"]
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
        .collect()
}

/// Asserts the intervals cover exactly `from`..`to`, change on quarter hours only, and name
/// the user `expected` gives every 15 minutes.
pub fn assert_matches_oracle(
    label: &str,
    intervals: &[Interval],
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    expected: impl Fn(DateTime<Utc>) -> Option<String>,
) {
    assert_eq!(
        (intervals.first().unwrap().0, intervals.last().unwrap().1),
        (from, to),
        "{label}: the range shown"
    );
    for (start, _, _) in intervals {
        assert_eq!(
            start.timestamp() % 900,
            0,
            "{label}: a change off the quarter hour at {start}"
        );
    }
    let mut at = from;
    while at < to {
        let shown = intervals
            .iter()
            .find(|(s, e, _)| *s <= at && at < *e)
            .and_then(|(_, _, u)| u.clone());
        assert_eq!(shown, expected(at), "{label} at {at}");
        at += Duration::minutes(15);
    }
}

/// An RFC 3339 text as an instant.
pub fn instant(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}
