//! The senders' own, unmodified clients against the built `klaxon serve`: PagerDuty's official
//! Python client (which refuses `http://`) over `--tls-self-signed`, trusting the printed
//! authority file; and Opsgenie's Python SDK through its whole alert flow. The Python scripts
//! are in `tests/senders/`; `scripts/test` installs both clients into `.venv-senders`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::server::{Serve, eventually, free_port};
use common::{example_config, repo};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The interpreter with `pagerduty` and `opsgenie-sdk`: `KLAXON_SENDERS_PYTHON`, else
/// `.venv-senders/bin/python` (made by `scripts/test`). Missing, the tests fail saying so.
fn python() -> PathBuf {
    if let Some(path) = std::env::var_os("KLAXON_SENDERS_PYTHON") {
        return PathBuf::from(path);
    }
    let path = repo().join(".venv-senders/bin/python");
    assert!(
        path.exists(),
        "{} is missing: run ./scripts/test once (it installs the senders' Python clients), or set KLAXON_SENDERS_PYTHON",
        path.display()
    );
    path
}

/// Runs `tests/senders/<script> args...` and returns the JSON line it printed.
fn run_script(script: &str, args: &[&str], env: &[(&str, &Path)]) -> Value {
    let mut command = Command::new(python());
    command
        .arg(repo().join("tests/senders").join(script))
        .args(args);
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{script} failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{script} printed {stdout}: {e}"))
}

fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(future)
}

/// A client that trusts only `ca` (as a sender given the printed file would).
fn https_client(ca: &Path) -> reqwest::Client {
    let pem = std::fs::read(ca).expect("the authority file");
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("a PEM certificate"))
        .build()
        .expect("a client")
}

#[test]
fn pagerdutys_python_client_talks_to_serve_over_https_with_the_self_signed_certificate() {
    let temp = tempfile::tempdir().unwrap();
    let data_dir = temp.path().join("data");
    let port = free_port();
    let serve = Serve::start_with(&example_config(), &data_dir, port, &["--tls-self-signed"]);
    let ca = data_dir.join("tls/ca.pem");
    assert!(
        serve.stdout().contains(&ca.display().to_string()),
        "the banner names the file to trust:\n{}",
        serve.stdout()
    );
    let url = format!("https://127.0.0.1:{port}");
    assert!(
        serve
            .stdout()
            .contains(&format!("links in pages point at {url}"))
    );

    // Plain HTTP to the TLS port fails cleanly: a 400 that says why, and the server goes on.
    let (status, text) = block_on(async {
        let plain = reqwest::get(format!("http://127.0.0.1:{port}/v1/incidents"))
            .await
            .unwrap();
        (plain.status().as_u16(), plain.text().await.unwrap())
    });
    assert_eq!(status, 400);
    assert!(text.contains("speaks HTTPS"), "{text}");
    // A client that does not trust the authority is refused by TLS.
    let untrusting = block_on(
        reqwest::Client::new()
            .get(format!("{url}/v1/incidents"))
            .send(),
    );
    assert!(untrusting.is_err(), "an unknown authority must not verify");

    let key = serve.key("KLAXON_KEY_PAGERDUTY_LEGACY");
    let env = [("SSL_CERT_FILE", ca.as_path())];
    let answer = run_script(
        "pagerduty_client.py",
        &["trigger", &url, &key, "db-1/disk"],
        &env,
    );
    assert_eq!(answer["refused_http"], true, "{answer}");
    assert_eq!(answer["dedup_key"], "db-1/disk");

    // The incident opens; the change event then lands on its timeline.
    let client = https_client(&ca);
    let api_key = serve.key("KLAXON_API_KEY");
    let get = |path: &str| -> Value {
        block_on(async {
            client
                .get(format!("{url}{path}"))
                .bearer_auth(&api_key)
                .send()
                .await
                .expect("the server answers over TLS")
                .json()
                .await
                .expect("JSON")
        })
    };
    let number = eventually("the incident", || {
        get("/v1/incidents?status=all")["incidents"][0]["number"].as_u64()
    });
    run_script(
        "pagerduty_client.py",
        &["change", &url, &key, "db-1/disk"],
        &env,
    );
    let incident = get(&format!("/v1/incidents/{number}"));
    let timeline = incident["timeline"].to_string();
    assert!(
        timeline.contains("io.klaxon.change.recorded") && timeline.contains("Deploy api v1.2"),
        "{incident}"
    );
}

#[test]
fn opsgenies_python_sdk_runs_its_alert_flow_against_serve() {
    let temp = tempfile::tempdir().unwrap();
    let data_dir = temp.path().join("data");
    let serve = Serve::start(&example_config(), &data_dir, free_port());
    let key = serve.key("KLAXON_KEY_OPSGENIE_MIGRATED");
    let answer = run_script(
        "opsgenie_sdk_flow.py",
        &[&serve.url, &key, "db-1-disk"],
        &[],
    );
    assert_eq!(answer["create_action"], "Create", "{answer}");
    assert_eq!(answer["create_success"], true, "{answer}");
    assert_eq!(answer["first_message"], "Disk 90% on db-1");
    assert_eq!(answer["first_priority"], "P3");
    assert_eq!(answer["message"], "Disk 97% on db-1");
    assert_eq!(answer["priority"], "P1");
    assert_eq!(answer["ack_success"], true);
    assert_eq!(
        (
            answer["close_action"].as_str(),
            answer["close_success"].as_bool()
        ),
        (Some("Close"), Some(true))
    );
    assert_eq!(answer["listed"], serde_json::json!(["db-1-disk"]));
    let tiny = answer["tiny_id"].as_str().unwrap().to_string();
    let shown = serve
        .cli(&["incidents", "show", &tiny, "--json"])
        .ok()
        .json();
    let text = shown.to_string();
    assert!(text.contains("io.klaxon.alert.updated"), "{shown}");
    eventually("the incident to resolve", || {
        let shown = serve
            .cli(&["incidents", "show", &tiny, "--json"])
            .ok()
            .json();
        (shown.to_string().contains("\"resolved\"")).then_some(())
    });
}
