//! Commands against a running serve.

use super::*;

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
fn dead_letters_are_listed_and_redriven_through_a_running_serves_api() {
    use klaxon_app::messages::QueueName;
    use klaxon_local::queue::SqliteQueue;
    let temp = tempfile::tempdir().unwrap();
    let data_dir = temp.path().join("data");
    let serve = Serve::start(&serve_config(), &data_dir, free_port());
    assert_eq!(
        serve.cli(&["dead-letters", "list"]).ok().stdout,
        "no dead letters\n"
    );

    // A notice the running server cannot read: its notify worker dead-letters it.
    let clock: std::sync::Arc<dyn klaxon_store::Clock> =
        std::sync::Arc::new(klaxon_store::SystemClock);
    let queue = SqliteQueue::open(data_dir.join("klaxon.db"), clock).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let body = r#"{"kind":"notice_from_the_future","incident":"0192dead0003"}"#;
    runtime
        .block_on(queue.send_raw(QueueName::Notifications, None, None, body.into()))
        .unwrap();
    let listing = eventually("the dead letter", || {
        let listing = serve.cli(&["dead-letters", "list", "--json"]).ok().json();
        let letters = listing["queues"][3]["letters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        (!letters.is_empty()).then_some(listing)
    });
    let notifications = &listing["queues"][3];
    assert_eq!(notifications["queue"], "notifications", "{listing}");
    let id = notifications["letters"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let table = serve.cli(&["dead-letters", "list"]).ok().stdout;
    let row = table.lines().nth(1).unwrap();
    assert!(
        row.contains("notifications") && row.contains("incident 0192dead0003"),
        "{table}"
    );

    serve
        .cli(&["dead-letters", "redrive", &id])
        .fails(2, "--queue is needed");
    let redriven = serve
        .cli(&["dead-letters", "redrive", &id, "--queue", "notifications"])
        .ok();
    assert_eq!(
        redriven.stdout,
        format!("dead letter {id} is back on the notifications queue\n")
    );
    serve
        .cli(&["dead-letters", "redrive", &id, "--queue", "notifications"])
        .fails(1, "404 not_found");
    serve
        .cli(&["dead-letters", "redrive", &id, "--queue", "mail"])
        .fails(1, "(field: queue)");
}
