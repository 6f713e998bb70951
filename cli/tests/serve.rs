//! `klaxon serve` end to end, through the built binary and real HTTP: an alert escalates tier
//! by tier until acknowledged by the link in the page; `kill -9` between tiers loses nothing;
//! the incidents, overrides and keys commands work against the running server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::server::{
    Serve, ack_link, cli_with_env, eventually, free_port, http, pages_to, serve_config,
};
use serde_json::{Value, json};
use std::time::Duration;

fn alert(dedup_key: &str, labels: Value) -> Value {
    json!({
        "dedup_key": dedup_key,
        "status": "firing",
        "severity": "critical",
        "summary": format!("{dedup_key} needs a human"),
        "labels": labels,
    })
}

fn post_alert(serve: &Serve, body: &Value) -> Value {
    let (status, answer) = http(
        "POST",
        &format!("{}/v1/alerts", serve.url),
        Some(&serve.key("KLAXON_KEY_CI")),
        Some(body),
    );
    assert_eq!(status, 202, "{answer}");
    answer
}

fn incidents(serve: &Serve) -> Vec<Value> {
    let listing = serve
        .cli(&["incidents", "list", "--all", "--json"])
        .ok()
        .json();
    listing["incidents"].as_array().unwrap().clone()
}

#[test]
fn an_alert_escalates_tier_by_tier_until_acknowledged_by_the_link_in_the_page() {
    let temp = tempfile::tempdir().unwrap();
    let serve = Serve::start(&serve_config(), &temp.path().join("data"), free_port());
    assert!(
        serve.stdout().contains("KLAXON_KEY_CI=klx_"),
        "the banner shows the keys: {}",
        serve.stdout()
    );

    post_alert(
        &serve,
        &alert("checkout-down", json!({"service": "checkout"})),
    );
    let tier_0 = eventually("the tier-0 page to alice", || {
        pages_to(&serve.outbox(), "alice@example.com")
            .into_iter()
            .next()
    });
    assert_eq!(tier_0["channel"], "email");
    assert!(
        tier_0["subject"]
            .as_str()
            .unwrap()
            .contains("checkout-down needs a human"),
        "{tier_0}"
    );
    assert!(
        serve.stdout().contains("→ alice@example.com"),
        "pages are printed too"
    );
    let tier_1 = eventually("the tier-1 page to bob, after the tier delay", || {
        pages_to(&serve.outbox(), "bob@example.com")
            .into_iter()
            .next()
    });
    // Tier 0's delay is two seconds; a lower bound only (tier 0's own send takes a moment).
    let sent_at = |page: &Value| {
        chrono::DateTime::parse_from_rfc3339(page["time"].as_str().unwrap()).unwrap()
    };
    let waited = sent_at(&tier_1) - sent_at(&tier_0);
    assert!(
        waited >= chrono::TimeDelta::milliseconds(1500),
        "tier 1 waits for tier 0's delay, it came after {waited}"
    );

    // Acknowledge with the link from alice's page, as `curl -X POST "$link"` would.
    let link = ack_link(&tier_0).unwrap();
    assert!(
        link.starts_with(&format!("{}/v1/links?", serve.url)),
        "{link}"
    );
    let (status, page) = http("POST", &link, None, None);
    assert_eq!(status, 200, "{page}");
    assert!(page.as_str().unwrap().contains("acknowledged"), "{page}");
    let listed = incidents(&serve);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["status"], "acknowledged");

    // Unacknowledged, tiers would page every two seconds for four rounds; now nothing comes.
    let paged = |records: &[Value]| {
        pages_to(records, "alice@example.com").len() + pages_to(records, "bob@example.com").len()
    };
    // A page whose send began before the acknowledgement committed may still land; settle.
    std::thread::sleep(Duration::from_secs(1));
    let before = paged(&serve.outbox());
    std::thread::sleep(Duration::from_secs(6));
    let records = serve.outbox();
    assert_eq!(paged(&records), before, "no page after the acknowledgement");
    assert!(
        records.iter().any(|r| r["subject"]
            .as_str()
            .is_some_and(|s| s.starts_with("Acknowledged by alice"))),
        "the people paged hear who acknowledged: {records:#?}"
    );

    let (status, stderr) = serve.terminate();
    assert!(
        status.success(),
        "SIGTERM is a clean stop: {status}\n{stderr}"
    );
    assert!(stderr.contains("klaxon serve stopped"), "{stderr}");
}

#[test]
fn kill_9_between_tiers_loses_no_accepted_alert_and_fires_tier_1_exactly_once() {
    let temp = tempfile::tempdir().unwrap();
    let data_dir = temp.path().join("data");
    let port = free_port();
    let serve = Serve::start(&serve_config(), &data_dir, port);
    post_alert(&serve, &alert("db-slow", json!({"test": "restart"})));
    eventually("the tier-0 page", || {
        pages_to(&serve.outbox(), "alice@example.com")
            .into_iter()
            .next()
    });
    // Tier 1 is due five seconds after tier 0: this alert is answered 2xx, then the process
    // dies at once, before grouping may even have seen it.
    post_alert(&serve, &alert("late-arrival", json!({"test": "restart"})));
    serve.kill9();

    // Down past tier 1's due time: it fires as soon as the server is back.
    std::thread::sleep(Duration::from_secs(6));
    let serve = Serve::start(&serve_config(), &data_dir, port);
    // db-slow's tier-1 timer survived the kill (late-arrival's too, if routing reached it).
    let banner = serve.stdout();
    let pending_timers = banner
        .lines()
        .find(|line| line.trim_start().starts_with("resuming"))
        .and_then(|line| line.split(", ").nth(1))
        .and_then(|part| part.split(' ').next())
        .and_then(|count| count.parse::<u32>().ok());
    assert!(
        pending_timers.is_some_and(|count| count >= 1),
        "the banner says the pending timer resumes: {banner}"
    );
    eventually("tier 1 after the restart", || {
        pages_to(&serve.outbox(), "bob@example.com")
            .into_iter()
            .next()
    });
    let listed = eventually("the late alert's incident", || {
        let listed = incidents(&serve);
        (listed.len() == 2).then_some(listed)
    });
    assert!(
        listed
            .iter()
            .any(|i| i["title"] == "late-arrival needs a human"),
        "{listed:#?}"
    );
    eventually("the late alert's tier-0 page", || {
        let records = serve.outbox();
        let pages = pages_to(&records, "alice@example.com");
        pages
            .iter()
            .any(|p| p["subject"].as_str().unwrap().contains("late-arrival"))
            .then_some(())
    });
    // Give a duplicate every chance to appear: there is none.
    std::thread::sleep(Duration::from_secs(3));
    let records = serve.outbox();
    // late-arrival escalates to bob too, five seconds after its own tier 0: count db-slow's.
    let bob: Vec<Value> = pages_to(&records, "bob@example.com")
        .into_iter()
        .filter(|page| page["subject"].as_str().unwrap().contains("db-slow"))
        .collect();
    assert_eq!(bob.len(), 1, "tier 1 fired exactly once: {bob:#?}");
    let alice = pages_to(&records, "alice@example.com");
    assert_eq!(alice.len(), 2, "one tier-0 page per incident: {alice:#?}");
}

#[test]
fn incidents_overrides_and_keys_commands_work_against_a_running_serve() {
    let temp = tempfile::tempdir().unwrap();
    let data_dir = temp.path().join("data");
    let serve = Serve::start(&serve_config(), &data_dir, free_port());
    let db = data_dir.display().to_string();

    // A second server on the same data directory is refused.
    let second = cli_with_env(
        &[
            "serve",
            "--config",
            &serve_config(),
            "--data-dir",
            &db,
            "--listen",
            &format!("127.0.0.1:{}", free_port()),
        ],
        &[],
    )
    .fails(1, "another klaxon serve is using the data directory");
    assert!(second.stdout.is_empty());

    let empty = serve.cli(&["incidents", "list"]).ok();
    assert_eq!(empty.stdout, "no open incidents\n");

    // A key made with `keys create` works at once; revoked, it stops working.
    let created = cli_with_env(
        &[
            "keys",
            "create",
            "--integration",
            "ci",
            "--db",
            &db,
            "--json",
        ],
        &[],
    )
    .ok()
    .json();
    let key = created["key"].as_str().unwrap().to_owned();
    let (status, _) = http(
        "POST",
        &format!("{}/v1/alerts", serve.url),
        Some(&key),
        Some(&alert("api-errors", json!({}))),
    );
    assert_eq!(status, 202);
    let hash = created["hash"].as_str().unwrap();
    cli_with_env(&["keys", "revoke", &hash[..12], "--db", &db], &[]).ok();
    let (status, body) = http(
        "POST",
        &format!("{}/v1/alerts", serve.url),
        Some(&key),
        Some(&alert("api-errors-2", json!({}))),
    );
    assert_eq!(status, 401, "{body}");

    let number = eventually("the incident", || {
        incidents(&serve).first().and_then(|i| i["number"].as_u64())
    });
    let number = number.to_string();
    let listed = serve.cli(&["incidents", "list"]).ok();
    assert!(
        listed.stdout.starts_with("NUMBER  STATUS"),
        "{}",
        listed.stdout
    );
    assert!(
        listed.stdout.contains("api-errors needs a human"),
        "{}",
        listed.stdout
    );

    let shown = serve.cli(&["incidents", "show", &number]).ok();
    assert!(
        shown
            .stdout
            .starts_with(&format!("Incident #{number} api-errors needs a human\n")),
        "{}",
        shown.stdout
    );
    assert!(
        shown.stdout.contains("incident.triggered"),
        "{}",
        shown.stdout
    );
    let shown = serve
        .cli(&["incidents", "show", &number, "--json"])
        .ok()
        .json();
    assert_eq!(shown["alerts"][0]["dedup_key"], "api-errors");

    let acked = serve
        .cli(&["incidents", "ack", &number, "--user", "alice"])
        .ok();
    assert_eq!(
        acked.stdout,
        format!("incident #{number} acknowledged by user:alice (api-errors needs a human)\n")
    );
    let again = serve.cli(&["incidents", "ack", &number]).ok();
    assert!(
        again.stdout.contains("already acknowledged"),
        "{}",
        again.stdout
    );
    serve.cli(&["incidents", "resolve", &number]).ok();
    let resolved = serve
        .cli(&["incidents", "show", &number, "--json"])
        .ok()
        .json();
    assert_eq!(resolved["incident"]["status"], "resolved");
    assert!(
        serve
            .cli(&["incidents", "list"])
            .ok()
            .stdout
            .contains("no open")
    );

    // Overrides: add, list, remove.
    let added = serve
        .cli(&[
            "overrides",
            "add",
            "primary",
            "--user",
            "bob",
            "--start",
            "2030-01-01T00:00:00Z",
            "--end",
            "2030-01-02T00:00:00+01:00",
            "--json",
        ])
        .ok()
        .json();
    let id = added["id"].as_str().unwrap().to_owned();
    assert_eq!(added["end"], "2030-01-01T23:00:00Z");
    let listed = serve
        .cli(&[
            "overrides",
            "list",
            "primary",
            "--from",
            "2029-12-31T00:00:00Z",
            "--to",
            "2030-02-01T00:00:00Z",
        ])
        .ok();
    assert!(listed.stdout.contains(&id), "{}", listed.stdout);
    assert!(listed.stdout.contains("bob"), "{}", listed.stdout);

    // The offline on-call commands include stored overrides when given the database.
    let config = serve_config();
    let oncall = |extra: &[&str]| {
        let mut args = vec![
            "--config",
            &config,
            "oncall",
            "--schedule",
            "primary",
            "--at",
            "2030-01-01T12:00:00Z",
            "--json",
        ];
        args.extend_from_slice(extra);
        cli_with_env(&args, &[]).ok().json()
    };
    let stored = oncall(&["--db", &db]);
    assert_eq!(stored["schedules"][0]["user"]["id"], "bob");
    assert_eq!(stored["schedules"][0]["source"]["kind"], "override");
    assert_eq!(stored["schedules"][0]["source"]["id"], id.as_str());
    assert_eq!(
        stored["schedules"][0]["until"]["utc"],
        "2030-01-01T23:00:00Z"
    );
    let configured = oncall(&[]);
    assert_eq!(configured["schedules"][0]["source"]["kind"], "layer");
    let shown = cli_with_env(
        &[
            "--config",
            &config,
            "schedule",
            "show",
            "primary",
            "--from",
            "2030-01-01T00:00:00Z",
            "--to",
            "2030-01-02T00:00:00Z",
            "--db",
            &db,
        ],
        &[],
    )
    .ok();
    assert!(
        shown.stdout.contains(&format!("override {id}")),
        "{}",
        shown.stdout
    );
    let removed = serve.cli(&["overrides", "remove", "primary", &id]).ok();
    assert_eq!(
        removed.stdout,
        format!("override {id} removed from primary\n")
    );
    let listed = serve
        .cli(&[
            "overrides",
            "list",
            "primary",
            "--from",
            "2029-12-31T00:00:00Z",
            "--to",
            "2030-02-01T00:00:00Z",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(listed["overrides"], json!([]));

    // Bad input: the server's error code and message, exit 1; a bad command line, exit 2.
    serve
        .cli(&[
            "overrides",
            "add",
            "nope",
            "--user",
            "bob",
            "--start",
            "2030-01-01T00:00:00Z",
            "--end",
            "2030-01-02T00:00:00Z",
        ])
        .fails(1, "nope");
    serve
        .cli(&[
            "overrides",
            "add",
            "primary",
            "--user",
            "zed",
            "--start",
            "2030-01-01T00:00:00Z",
            "--end",
            "2030-01-02T00:00:00Z",
        ])
        .fails(1, "zed");
    serve
        .cli(&[
            "overrides",
            "add",
            "primary",
            "--user",
            "bob",
            "--start",
            "tomorrow",
            "--end",
            "2030-01-02T00:00:00Z",
        ])
        .fails(2, "--start");
    serve
        .cli(&[
            "overrides",
            "add",
            "primary",
            "--user",
            "bob",
            "--start",
            "2030-01-02T00:00:00Z",
            "--end",
            "2030-01-01T00:00:00Z",
        ])
        .fails(2, "--end");
    serve
        .cli(&["incidents", "show", "999"])
        .fails(1, "404 not_found");
    cli_with_env(
        &["incidents", "list"],
        &[("KLAXON_URL", &serve.url), ("KLAXON_API_KEY", "klx_wrong")],
    )
    .fails(1, "401 unauthorized");
    cli_with_env(&["incidents", "list"], &[("KLAXON_URL", &serve.url)])
        .fails(2, "an API key is needed");
}

#[test]
fn unreachable_servers_and_unusable_options_are_reported_without_a_panic() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    cli_with_env(
        &["incidents", "list"],
        &[("KLAXON_URL", &url), ("KLAXON_API_KEY", "klx_x")],
    )
    .fails(1, &format!("cannot reach Klaxon at {url}"));
    cli_with_env(
        &[
            "incidents",
            "list",
            "--url",
            "ftp://x",
            "--api-key",
            "klx_x",
        ],
        &[],
    )
    .fails(2, "http://");

    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().display().to_string();
    // The port is taken (by this test's listener); the operating system's reason is printed
    // once, after the message.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let reason = std::net::TcpListener::bind(&address).unwrap_err();
    let run = cli_with_env(
        &[
            "serve",
            "--config",
            &serve_config(),
            "--data-dir",
            &dir,
            "--listen",
            &address,
        ],
        &[],
    )
    .fails(1, &format!("cannot listen on {address}"));
    assert_eq!(
        run.stderr,
        format!("error: cannot listen on {address}: {reason}\n")
    );
    // A data directory that cannot be created (below a regular file), likewise.
    let file = temp.path().join("file");
    std::fs::write(&file, "").unwrap();
    let below_file = file.join("data");
    let reason = std::fs::create_dir_all(&below_file).unwrap_err();
    let run = cli_with_env(
        &[
            "serve",
            "--config",
            &serve_config(),
            "--data-dir",
            &below_file.display().to_string(),
            "--listen",
            "127.0.0.1:0",
        ],
        &[],
    )
    .fails(1, "cannot create the data directory");
    assert_eq!(
        run.stderr,
        format!(
            "error: cannot create the data directory {}: {reason}\n",
            below_file.display()
        )
    );
    // A bad --public-url is a usage error, found before anything is created.
    let fresh = temp.path().join("fresh");
    for url in [
        "ftp://klaxon.example.com",
        "klaxon.example.com",
        "https://k.example.com/?a=1",
    ] {
        cli_with_env(
            &[
                "serve",
                "--config",
                &serve_config(),
                "--data-dir",
                &fresh.display().to_string(),
                "--listen",
                "127.0.0.1:0",
                "--public-url",
                url,
            ],
            &[],
        )
        .fails(2, &format!("--public-url: {url:?}"));
        assert!(!fresh.exists(), "{url}: no data directory is left behind");
    }
    cli_with_env(
        &["serve", "--config", "/nope.yaml", "--data-dir", &dir],
        &[],
    )
    .fails(1, "cannot read config file /nope.yaml");
    cli_with_env(
        &[
            "serve",
            "--config",
            &serve_config(),
            "--data-dir",
            &dir,
            "--smtp-url",
            "smtp://mail.example.com",
        ],
        &[],
    )
    .fails(2, "--smtp-from");
    cli_with_env(&["serve", "--listen", "not-an-address:x"], &[]).fails(2, "--listen");
}

#[test]
fn serve_json_prints_its_start_report_as_one_json_line() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};

    let temp = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_klaxon"));
    command
        .args(["serve", "--json", "--config", &serve_config(), "--data-dir"])
        .arg(temp.path())
        .args(["--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for variable in common::server::KLAXON_VARIABLES {
        command.env_remove(variable);
    }
    let mut child = command.spawn().unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let report: Value = serde_json::from_str(&line).unwrap();
    let listening = report["listening"].as_str().unwrap();
    assert!(
        listening.starts_with("127.0.0.1:") && !listening.ends_with(":0"),
        "{report}"
    );
    assert_eq!(report["public_url"], format!("http://{listening}"));
    assert_eq!(report["config"]["version"], 1);
    assert_eq!(report["config"]["unchanged"], false);
    assert_eq!(report["api_key"]["variable"], "KLAXON_API_KEY");
    let integrations = report["integrations"].as_array().unwrap();
    assert_eq!(integrations.len(), 2);
    assert_eq!(integrations[0]["name"], "ci");
    assert_eq!(
        integrations[0]["endpoint"],
        format!("POST http://{listening}/v1/alerts")
    );
    let keys = std::fs::read_to_string(temp.path().join("keys.env")).unwrap();
    assert!(
        keys.contains(&format!(
            "KLAXON_KEY_CI={}\n",
            integrations[0]["key"].as_str().unwrap()
        )),
        "{keys}"
    );
}

#[test]
fn sigint_stops_serve_cleanly() {
    let temp = tempfile::tempdir().unwrap();
    let serve = Serve::start(&serve_config(), &temp.path().join("data"), free_port());
    // Started from the repository root, the banner's example names the sample payload by its
    // absolute path, so it works from any directory.
    let payload = common::repo().join("events/ingest/alertmanager-firing.json");
    assert!(
        serve
            .stdout()
            .contains(&format!("--data-binary @{}\n", payload.display())),
        "{}",
        serve.stdout()
    );
    // At once after the banner: the signal is already handled then.
    let (status, stderr) = serve.interrupt();
    assert!(
        status.success(),
        "SIGINT is a clean stop: {status}\n{stderr}"
    );
    assert!(stderr.contains("SIGINT: stopping"), "{stderr}");
    assert!(stderr.contains("klaxon serve stopped"), "{stderr}");
}

#[test]
fn a_second_signal_exits_at_once_with_130_while_the_graceful_stop_waits() {
    use std::io::Write;

    let temp = tempfile::tempdir().unwrap();
    let mut serve = Serve::start(&serve_config(), &temp.path().join("data"), free_port());
    // A request whose body never arrives: the graceful stop waits for it to finish.
    let mut stalled =
        std::net::TcpStream::connect(serve.url.trim_start_matches("http://")).unwrap();
    write!(
        stalled,
        "POST /v1/alerts HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{",
        serve.key("KLAXON_KEY_CI")
    )
    .unwrap();
    stalled.flush().unwrap();
    // Let the server take the request in.
    std::thread::sleep(Duration::from_millis(500));

    serve.signal("INT");
    eventually("the stop to begin", || {
        serve.stderr().contains("SIGINT: stopping").then_some(())
    });
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        serve.is_running(),
        "the graceful stop waits for the request in progress"
    );
    serve.signal("INT");
    let (status, stderr) = serve.wait();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("SIGINT again: exiting"), "{stderr}");
    assert!(!stderr.contains("klaxon serve stopped"), "{stderr}");
    drop(stalled);
}
