//! `klaxon import grafana-oncall` end to end: a local HTTP server serves Grafana OnCall API v1
//! responses (the fixture directory) below a path prefix (`/oncall`, as OnCall's API URL has),
//! with a second page of users, a 429 with Retry-After and a 500; the import must validate,
//! describe the same final schedules as the fixture (an independent oracle over 8 weeks
//! spanning both DST changes, overrides included), report what it could not map, and fail
//! cleanly on bad input.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a failed expect is a failed test

mod common;
mod import_support;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Datelike, Duration, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use common::klaxon;
use import_support::{
    Fake, assert_empty, assert_matches_oracle, assert_same_files, assert_secret_nowhere,
    eight_weeks, fixture_copy, fixtures, header, import_saved, intervals, json_file, read,
    reports_unknown_field, schedule_show, serve_fixture, truncate, unmapped,
};
use serde_json::Value;
use std::collections::BTreeMap;

const SOURCE: &str = "grafana-oncall";
const KEY: &str = "oncall-token-0123456789abcdef";
const SERVICE_ACCOUNT_TOKEN: &str = "glsa_cloud_token_0123456789";
const STACK: &str = "https://acme.grafana.net";

fn fixture(path: &str) -> Value {
    import_support::fixture(SOURCE, path)
}

/// A fake OnCall below `/oncall`: serves the fixtures, refuses other tokens with 401,
/// throttles the first schedules list (429, Retry-After: 1) and fails the first shifts list (500).
///
/// Below `/cloud/oncall` it is Grafana Cloud with a service account token: the token is
/// accepted only with the stack's `X-Grafana-URL`.
fn answer(request: &Request, path: &str, count: u32) -> Response {
    let error = |message: &str| format!("{{\"detail\":\"{message}\"}}");
    let (path, allowed) = match path.strip_prefix("/cloud") {
        Some(rest) => (
            rest,
            header(request, "authorization") == Some(SERVICE_ACCOUNT_TOKEN)
                && header(request, "x-grafana-url") == Some(STACK),
        ),
        None => (path, header(request, "authorization") == Some(KEY)),
    };
    if !allowed {
        return (StatusCode::UNAUTHORIZED, error("Invalid token.")).into_response();
    }
    let Some(path) = path.strip_prefix("/oncall") else {
        return (StatusCode::NOT_FOUND, error("Not found.")).into_response();
    };
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
    serve_fixture(SOURCE, path, error("Not found."))
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
    assert!(!run.stderr.contains("importing from"), "{run:#?}");
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
    let (replay, replayed) = import_saved(SOURCE, &saved, &[]);
    assert_same_files(live.path(), replay.path(), "live import and replay");
    assert_secret_nowhere(KEY, &[live.path(), replay.path()], &[&run, &replayed]);
    // The integrations' inbound URLs hold OnCall's tokens: they are not copied either.
    let written = [
        live.path().join("klaxon.yaml"),
        live.path().join("migration-report.md"),
    ];
    for file in written {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            !text.contains("SECRETTOKEN"),
            "{} holds a token",
            file.display()
        );
    }
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
fn imported_schedules_with_their_overrides_equal_an_independent_reading_of_the_fixture() {
    let (dir, _) = import_saved(SOURCE, &fixtures(SOURCE), &[]);
    let out = dir.path().join("klaxon.yaml");
    let data = dir.path().join("data");
    let serve =
        common::server::Serve::start(out.to_str().unwrap(), &data, common::server::free_port());
    apply_overrides_with_the_import(&serve, dir.path());
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
    let schedules = fixture("/api/v1/schedules/")["results"].clone();
    let shifts = fixture("/api/v1/on_call_shifts/")["results"].clone();
    // Berlin changes on 2026-03-29, Chicago on 2026-03-08.
    for (klaxon_id, source_id) in [("primary", "SPRIM01"), ("secondary", "SSECO02")] {
        let schedule = schedules
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == source_id)
            .unwrap();
        let own: Vec<&Value> = schedule["shifts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|id| {
                shifts
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|s| s["id"] == *id)
                    .unwrap()
            })
            .collect();
        let zone: Tz = schedule["time_zone"].as_str().unwrap().parse().unwrap();
        let range = eight_weeks(zone, klaxon_id);
        let shown = intervals(&schedule_show(&out, klaxon_id, Some(&data)));
        assert_matches_oracle(klaxon_id, &shown, range, |at| {
            oracle(&own, zone, at).map(|id| users[&id].clone())
        });
    }
    drop(serve);
}

/// Imports again with `--apply-overrides` against `serve` (which `dir`'s configuration
/// runs), and once more with a key Klaxon refuses.
fn apply_overrides_with_the_import(serve: &common::server::Serve, dir: &std::path::Path) {
    // The import again, now adding its overrides to the running Klaxon (KLAXON_URL and
    // KLAXON_API_KEY point at it).
    let again = tempfile::tempdir().unwrap();
    let run = serve
        .cli(&[
            "import",
            SOURCE,
            "--from-dir",
            fixtures(SOURCE).to_str().unwrap(),
            "--out",
            again.path().join("klaxon.yaml").to_str().unwrap(),
            "--apply-overrides",
        ])
        .ok();
    let commands = read(dir, "overrides.sh")
        .lines()
        .filter(|l| l.starts_with("klaxon overrides add"))
        .count();
    assert!(commands > 0);
    assert!(
        run.stdout.contains(&format!(
            "added {commands} overrides to Klaxon (0 were there already)"
        )),
        "{run:#?}"
    );
    // Once more: every override is there already, nothing is added twice.
    let twice = tempfile::tempdir().unwrap();
    let run = serve
        .cli(&[
            "import",
            SOURCE,
            "--from-dir",
            fixtures(SOURCE).to_str().unwrap(),
            "--out",
            twice.path().join("klaxon.yaml").to_str().unwrap(),
            "--apply-overrides",
        ])
        .ok();
    assert!(
        run.stdout.contains(&format!(
            "added 0 overrides to Klaxon ({commands} were there already)"
        )),
        "{run:#?}"
    );
    assert_eq!(
        stored_overrides(serve, dir),
        commands,
        "no override is doubled"
    );
    // A key Klaxon refuses: a clear error naming the override; the files are written.
    let refused = tempfile::tempdir().unwrap();
    let run = common::server::cli_with_env(
        &[
            "import",
            SOURCE,
            "--from-dir",
            fixtures(SOURCE).to_str().unwrap(),
            "--out",
            refused.path().join("klaxon.yaml").to_str().unwrap(),
            "--apply-overrides",
        ],
        &[
            ("KLAXON_URL", serve.url.as_str()),
            ("KLAXON_API_KEY", "klx_not_a_key"),
        ],
    )
    .fails(1, "Klaxon refused `klaxon overrides add");
    assert!(run.stderr.contains("401"), "{run:#?}");
    assert!(run.stderr.contains("0 of "), "{run:#?}");
}

/// How many overrides the running Klaxon holds on the schedules `overrides.sh` names.
fn stored_overrides(serve: &common::server::Serve, dir: &std::path::Path) -> usize {
    let mut schedules: Vec<String> = read(dir, "overrides.sh")
        .lines()
        .filter_map(|l| l.strip_prefix("klaxon overrides add "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    schedules.sort();
    schedules.dedup();
    schedules
        .iter()
        .map(|schedule| {
            let listed = serve
                .cli(&[
                    "overrides",
                    "list",
                    schedule,
                    "--from",
                    "2026-01-01T00:00:00Z",
                    "--to",
                    "2026-12-31T00:00:00Z",
                    "--json",
                ])
                .ok()
                .json();
            listed["overrides"].as_array().unwrap().len()
        })
        .sum()
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
    let (dir, _) = import_saved(SOURCE, &fixtures(SOURCE), &[]);
    let report = json_file(&dir.path().join("migration-report.json"));
    let expected = [
        "escalation chain FCHAIN1 steps[EP06]",
        "escalation chain FCHAIN2 -",
        "escalation chain FCHAIN2 steps[EP09]",
        "integration CGRAF01 heartbeat",
        "integration CWEBH03 -",
        "route RJINJA1 -",
        "schedule SICAL03 -",
        "shift OMONTH7 -",
        "shift OPAIR06 rolling_users",
        "shift OPAIR06 until",
        "user UALICE0001 notification_rules[NALI3]",
        "user UALICE0001 notification_rules[NALI4]",
        "user UALICE0001 phone",
        "user UALICE0001 role",
        "user UCAROL0003 notification_rules[NCAR2]",
        "user UGINA00007 notification_rules[NGIN1]",
        "user UGINA00007 pronouns",
    ];
    assert_eq!(unmapped(&report), expected);
    assert!(reports_unknown_field(
        dir.path(),
        "user",
        "UGINA00007",
        "pronouns"
    ));
    let markdown = read(dir.path(), "migration-report.md");
    for needle in [
        "became repeat: 5",
        "(round robin); Klaxon pages all of them",
        "highest level with someone on call wins",
        "matches the regex against the whole alert payload",
        "the members of Apps (dan, erin, frank) are paged as users",
        "members alice, bob, carol stand in for the team",
        "OnCall's API gives the heartbeat's link but not its timeout, so no Klaxon heartbeat was made: add `{name: grafana-alerts, integration: grafana-alerts, interval: <the timeout shown in OnCall>}`",
        "| `alertmanager-prod` | Alertmanager prod's heartbeat URL | heartbeat ping | $KLAXON/v1/heartbeats/alertmanager-prod/ping?key=klx_… (or `Authorization: Bearer klx_…`) |",
        "maintenance (OnCall collects the alerts into one alert group) became a Klaxon maintenance window",
        "| `alertmanager-prod` | Alertmanager prod (alertmanager) | alertmanager | $KLAXON/v1/integrations/alertmanager with `Authorization: Bearer klx_…` |",
        "| `grafana-alerts` | Grafana alerts (grafana_alerting) | grafana | $KLAXON/v1/integrations/grafana with `Authorization: Bearer klx_…` |",
    ] {
        assert!(
            markdown.contains(needle),
            "the report should say {needle:?}:\n{markdown}"
        );
    }
    let config = read(dir.path(), "klaxon.yaml");
    for needle in [
        "webhook_url: ${SLACK_WEBHOOK_URL}",
        "- id: maintenance-alertmanager-prod\n  start: \"2026-03-20T22:00:00Z\"\n  end: \"2026-03-21T01:00:00Z\"\n  match:\n    integrations:\n    - alertmanager-prod",
        "- delay: 5m\n    targets:\n    - user: dan\n    - user: erin\n    - user: frank",
    ] {
        assert!(config.contains(needle), "{needle:?} in:\n{config}");
    }
    assert!(read(dir.path(), "overrides.sh").contains("klaxon overrides add primary --user dan --start 2026-03-12T09:00:00Z --end 2026-03-12T11:00:00Z\n"));
}

#[test]
fn a_field_added_to_a_source_document_appears_in_the_report() {
    let saved = fixture_copy(SOURCE);
    import_support::edit(saved.path(), "/api/v1/on_call_shifts/", |doc| {
        doc["results"][0]["handoff_reminder"] = Value::from(900);
    });
    import_support::edit(saved.path(), "/api/v1/routes/", |doc| {
        doc["results"][0]["alert_grouping"] = Value::from("by_title");
    });
    let shift = fixture("/api/v1/on_call_shifts/")["results"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let route = fixture("/api/v1/routes/")["results"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (dir, _) = import_saved(SOURCE, saved.path(), &[]);
    assert!(reports_unknown_field(
        dir.path(),
        "shift",
        &shift,
        "handoff_reminder"
    ));
    assert!(reports_unknown_field(
        dir.path(),
        "route",
        &route,
        "alert_grouping"
    ));
}

#[test]
fn grafana_cloud_gets_the_stack_url_with_a_service_account_token() {
    let server = Fake::start(answer);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("klaxon.yaml");
    let api = format!("{}/cloud/oncall", server.url);
    let base = [
        "--api-url",
        api.as_str(),
        "--api-key",
        SERVICE_ACCOUNT_TOKEN,
        "--out",
        out.to_str().unwrap(),
    ];
    // Without X-Grafana-URL, Grafana Cloud refuses the token: nothing is written.
    import(&base).fails(1, "grafana-oncall refused the API key");
    assert_empty(dir.path());
    let mut args = base.to_vec();
    args.extend(["--grafana-url", "https://acme.grafana.net/"]);
    let run = import(&args).ok();
    assert!(
        run.stdout
            .contains("imported 29 objects from grafana-oncall"),
        "{run:#?}"
    );
    assert!(server.hits("/cloud/oncall/api/v1/users/?page=2") >= 1);
    assert_secret_nowhere(SERVICE_ACCOUNT_TOKEN, &[dir.path()], &[&run]);
    // It is a Grafana OnCall option only.
    import_support::import(
        "opsgenie",
        &[
            "--api-key",
            "k",
            "--grafana-url",
            STACK,
            "--out",
            "/tmp/never.yaml",
        ],
    )
    .fails(
        2,
        "--grafana-url is only for `klaxon import grafana-oncall`",
    );
}

#[test]
fn a_refused_key_fails_clearly_and_writes_nothing() {
    let server = Fake::start(answer);
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
        "--save-dir",
        dir.path().join("saved").to_str().unwrap(),
    ])
    .fails(1, "grafana-oncall refused the API key");
    assert!(run.stderr.contains("401"), "{run:#?}");
    assert_secret_nowhere("wrong-token", &[], &[&run]);
    assert_empty(dir.path());
}

#[test]
fn an_unreachable_api_or_no_api_url_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("klaxon.yaml");
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
    // --apply-overrides without Klaxon's URL stops before anything is read or written.
    let saved = fixtures(SOURCE);
    let args = [
        "import",
        SOURCE,
        "--from-dir",
        saved.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--apply-overrides",
    ];
    common::server::cli_with_env(&args, &[]).fails(2, "--apply-overrides needs Klaxon's URL");
    common::server::cli_with_env(&args, &[("KLAXON_URL", "http://127.0.0.1:9")])
        .fails(2, "--apply-overrides needs a Klaxon API key");
    assert_empty(dir.path());
}

#[test]
fn a_truncated_saved_response_fails_clearly() {
    let saved = fixture_copy(SOURCE);
    let name = truncate(saved.path(), "/api/v1/on_call_shifts/");
    let dir = tempfile::tempdir().unwrap();
    import(&[
        "--from-dir",
        saved.path().to_str().unwrap(),
        "--out",
        dir.path().join("klaxon.yaml").to_str().unwrap(),
    ])
    .fails(
        1,
        &format!("{name} (for GET /api/v1/on_call_shifts/) is not valid JSON"),
    );
    assert_empty(dir.path());
}

/// An integration's heartbeat with a timeout becomes a Klaxon heartbeat on the imported
/// integration, expected every timeout with no grace, and routed by that integration's routes
/// (as OnCall routes its heartbeat alert); one whose timeout the API does not give is reported.
#[test]
fn an_integration_heartbeat_becomes_a_klaxon_heartbeat_routed_by_the_integrations_routes() {
    let (dir, _) = import_saved(SOURCE, &fixtures(SOURCE), &[]);
    let text = read(dir.path(), "klaxon.yaml");
    let config = klaxon_domain::config::Config::from_file("klaxon.yaml", &text).unwrap();
    let listed: Vec<(String, String, String, String)> = config
        .heartbeats
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                h.integration.to_string(),
                h.interval.to_string(),
                h.grace.to_string(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        vec![(
            "alertmanager-prod".to_owned(),
            "alertmanager-prod".to_owned(),
            "1h".to_owned(),
            "0s".to_owned()
        )]
    );
    let heartbeat = &config.heartbeats[0];
    let now = chrono::Utc::now();
    let alert = heartbeat.missed_alert(now, now).unwrap();
    let decision = config.route(
        &klaxon_domain::routing::RoutingContext::from_alert(&alert),
        now,
    );
    // The integration's default route, whatever the maintenance window says.
    let default_route = config
        .routing
        .rules
        .iter()
        .find(|r| {
            r.matcher
                .integrations
                .iter()
                .any(|i| i.as_str() == "alertmanager-prod")
                && r.matcher.summary.is_none()
        })
        .unwrap();
    assert_eq!(
        decision.policy.as_ref().map(|p| p.as_str()),
        default_route.policy.as_ref().map(|p| p.as_str()),
        "{decision:?}"
    );
    assert!(decision.policy.is_some(), "{decision:?}");
}
