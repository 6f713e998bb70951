//! The Alertmanager Watchdog recipe of `docs/heartbeats.md`, verified with Prometheus
//! Alertmanager itself (Debian's `prometheus-alertmanager`) against the built `klaxon serve`,
//! scaled down from minutes to seconds: a route sends only the always-firing `Watchdog` alert
//! to a `webhook_configs` receiver whose URL is the heartbeat's ping route, with the
//! integration key in a file named by `http_config.authorization.credentials_file` (`Bearer`)
//! and a `repeat_interval` shorter than `group_interval` and than the heartbeat's interval.
//!
//! While the Watchdog fires, Alertmanager's repeats keep the heartbeat ok for longer than its
//! deadline; once the alert stops, Klaxon opens the missed-heartbeat incident; when it fires
//! again, the incident resolves. Every notification Alertmanager sent is one ping, except a
//! resolved notification (with `send_resolved: true`), which is answered and not counted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::alertmanager::Alertmanager;
use common::server::{Serve, eventually, free_port, pages_to};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

/// The heartbeat's window (`interval + grace` in `tests/fixtures/watchdog.yaml`).
const WINDOW: Duration = Duration::from_secs(6);

fn watchdog_config() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/watchdog.yaml")
        .display()
        .to_string()
}

/// The recipe's Alertmanager configuration (minutes become seconds): everything else goes to
/// a receiver that sends nowhere.
fn alertmanager_config(ping_url: &str, key_file: &Path, send_resolved: bool) -> String {
    let key_file = key_file.display();
    format!(
        r#"route:
  receiver: default
  routes:
    - matchers: ['alertname="Watchdog"']
      receiver: klaxon-heartbeat
      group_by: [alertname]
      group_wait: 0s
      group_interval: 1s
      repeat_interval: 500ms
receivers:
  - name: default
  - name: klaxon-heartbeat
    webhook_configs:
      - url: {ping_url}
        send_resolved: {send_resolved}
        http_config:
          authorization:
            type: Bearer
            credentials_file: {key_file}
"#
    )
}

/// Prometheus's Watchdog as Alertmanager's API takes it, started at `starts_at`; `ends_at` in
/// the past resolves it.
fn watchdog(starts_at: &str, ends_at: Option<&str>) -> Value {
    let mut alert = json!({
        "labels": {"alertname": "Watchdog", "severity": "none"},
        "annotations": {"summary": "An alert that should always be firing, to certify that Alertmanager is working properly."},
        "startsAt": starts_at,
    });
    if let Some(ends_at) = ends_at {
        alert["endsAt"] = json!(ends_at);
    }
    json!([alert])
}

fn rfc3339(offset: chrono::Duration) -> String {
    (chrono::Utc::now() + offset).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The `watchdog` heartbeat as `klaxon heartbeats list --json` shows it.
fn heartbeat(serve: &Serve) -> Value {
    let listing = serve.cli(&["heartbeats", "list", "--json"]).ok().json();
    listing["heartbeats"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == "watchdog")
        .cloned()
        .unwrap()
}

fn incidents(serve: &Serve) -> Vec<Value> {
    let listing = serve
        .cli(&["incidents", "list", "--all", "--json"])
        .ok()
        .json();
    listing["incidents"].as_array().unwrap().clone()
}

/// A `klaxon serve` with the watchdog heartbeat and an Alertmanager pointed at its ping route.
fn start(temp: &Path, send_resolved: bool) -> (Serve, Alertmanager) {
    let serve = Serve::start(&watchdog_config(), &temp.join("klaxon"), free_port());
    let key = serve.key("KLAXON_KEY_PROMETHEUS");
    let am_dir = temp.join("alertmanager");
    std::fs::create_dir_all(&am_dir).unwrap();
    let ping_url = format!("{}/v1/heartbeats/watchdog/ping", serve.url);
    let key_file = am_dir.join("klaxon-prometheus.key");
    std::fs::write(&key_file, format!("{key}\n")).unwrap();
    let alertmanager = Alertmanager::start(
        &alertmanager_config(&ping_url, &key_file, send_resolved),
        &am_dir,
        free_port(),
    );
    (serve, alertmanager)
}

/// Every request Alertmanager's webhook sent was answered 2xx; returns how many it sent.
/// (`alertmanager_notifications_total` would not do: it also counts the all-resolved flush
/// that Alertmanager logs but does not send when `send_resolved` is false.)
fn requests_sent(alertmanager: &Alertmanager) -> u64 {
    assert_eq!(
        alertmanager.metric("alertmanager_notification_requests_failed_total", "webhook"),
        0.0,
        "Alertmanager counted failed webhook requests:\n{}",
        alertmanager.log()
    );
    alertmanager.metric("alertmanager_notification_requests_total", "webhook") as u64
}

/// Waits for the missed-heartbeat incident and returns it.
fn missed_incident(serve: &Serve) -> Value {
    let incident = eventually("the missed-heartbeat incident", || {
        incidents(serve).into_iter().next()
    });
    assert!(
        incident["title"]
            .as_str()
            .unwrap()
            .contains("Heartbeat watchdog expired"),
        "{incident}"
    );
    incident
}

#[test]
fn the_watchdog_keeps_the_heartbeat_ok_and_its_silence_opens_an_incident_that_its_return_resolves()
{
    let temp = tempfile::tempdir().unwrap();
    let (serve, alertmanager) = start(temp.path(), false);
    assert_eq!(heartbeat(&serve)["status"], "inactive");

    // Prometheus fires the Watchdog; Alertmanager's first notification is the first ping.
    let starts_at = rfc3339(chrono::Duration::seconds(-1));
    alertmanager.push(&watchdog(&starts_at, None));
    eventually("the first ping", || {
        (heartbeat(&serve)["status"] == "ok").then_some(())
    });
    // Two windows later it is still ok: the repeats, not the first notification, keep it so.
    std::thread::sleep(2 * WINDOW);
    let shown = heartbeat(&serve);
    assert_eq!(shown["status"], "ok", "{shown}");
    assert!(shown["pings"].as_u64().unwrap() >= 3, "repeated: {shown}");
    assert!(incidents(&serve).is_empty(), "no incident while it fires");

    // The Watchdog stops (Prometheus down, or the path to Alertmanager broken): nothing is
    // sent (send_resolved: false), and after the window Klaxon pages.
    alertmanager.push(&watchdog(
        &starts_at,
        Some(&rfc3339(chrono::Duration::seconds(-1))),
    ));
    let incident = missed_incident(&serve);
    eventually("alice paged", || {
        (!pages_to(&serve.outbox(), "alice@example.com").is_empty()).then_some(())
    });
    let expired = heartbeat(&serve);
    assert_eq!(expired["status"], "expired", "{expired}");
    assert_eq!(
        expired["pings"].as_u64(),
        Some(requests_sent(&alertmanager)),
        "each notification Alertmanager sent is one ping"
    );

    // The Watchdog fires again: the next notification resolves the incident.
    alertmanager.push(&watchdog(&rfc3339(chrono::Duration::zero()), None));
    let number = incident["number"].as_u64().unwrap().to_string();
    eventually("the incident resolved", || {
        let shown = serve
            .cli(&["incidents", "show", &number, "--json"])
            .ok()
            .json();
        (shown["incident"]["status"] == "resolved").then_some(())
    });
    assert_eq!(heartbeat(&serve)["status"], "ok");
    assert_eq!(incidents(&serve).len(), 1, "one incident per silence");
    assert_eq!(pages_to(&serve.outbox(), "alice@example.com").len(), 1);
}

#[test]
fn a_resolved_watchdog_notification_is_answered_and_not_counted_as_a_ping() {
    let temp = tempfile::tempdir().unwrap();
    let (serve, alertmanager) = start(temp.path(), true);
    let starts_at = rfc3339(chrono::Duration::seconds(-1));
    alertmanager.push(&watchdog(&starts_at, None));
    eventually("two pings", || {
        (heartbeat(&serve)["pings"].as_u64() >= Some(2)).then_some(())
    });

    // Resolved: Alertmanager sends the resolved notification (Klaxon answers 2xx) and the
    // heartbeat expires all the same, one window after the last firing notification.
    alertmanager.push(&watchdog(
        &starts_at,
        Some(&rfc3339(chrono::Duration::seconds(-1))),
    ));
    missed_incident(&serve);
    let pings = heartbeat(&serve)["pings"].as_u64().unwrap();
    assert_eq!(
        requests_sent(&alertmanager),
        pings + 1,
        "every firing notification was a ping, the resolved one was not"
    );
}
