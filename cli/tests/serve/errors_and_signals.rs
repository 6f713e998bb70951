//! Errors, JSON start report and signals.

use super::*;

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
