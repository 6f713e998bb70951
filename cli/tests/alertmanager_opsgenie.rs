//! Prometheus Alertmanager itself (Debian's `prometheus-alertmanager`, installed by
//! `scripts/test`) with an `opsgenie_configs` receiver pointed at the built `klaxon serve`:
//! `update_alerts: true` and `send_resolved: true`. An alert pushed into Alertmanager opens a
//! Klaxon incident, its message/description/priority updates are served (Alertmanager counts no
//! failed notification), and resolving the alert in Alertmanager resolves the incident.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::alertmanager::{Alertmanager, block_on};
use common::example_config;
use common::server::{Serve, eventually, free_port};
use serde_json::{Value, json};

/// The receiver under test: Alertmanager's Opsgenie integration pointed at Klaxon, with short
/// grouping intervals so the notifications go out at once.
fn alertmanager_config(klaxon: &str, key: &str) -> String {
    format!(
        r#"global:
  resolve_timeout: 1m
route:
  receiver: klaxon
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: klaxon
    opsgenie_configs:
      - api_url: {klaxon}/
        api_key: {key}
        update_alerts: true
        send_resolved: true
        message: '{{{{ .CommonLabels.alertname }}}}: {{{{ len .Alerts.Firing }}}} firing'
        description: '{{{{ range .Alerts.Firing }}}}{{{{ .Annotations.summary }}}}. {{{{ end }}}}'
        priority: P2
"#
    )
}

/// Alerts as Alertmanager's API takes them: `DiskFull` on each of `instances`, started at
/// `starts_at` and ending at `ends_at` (absent while firing, in the past to resolve).
fn alerts(instances: &[&str], starts_at: &str, ends_at: Option<&str>) -> Value {
    let alerts: Vec<Value> = instances
        .iter()
        .map(|instance| {
            let mut alert = json!({
                "labels": {"alertname": "DiskFull", "instance": instance, "severity": "critical"},
                "annotations": {"summary": format!("Disk 97% full on {instance}")},
                "startsAt": starts_at,
            });
            if let Some(ends_at) = ends_at {
                alert["endsAt"] = json!(ends_at);
            }
            alert
        })
        .collect();
    json!(alerts)
}

/// The `change` of every `io.klaxon.alert.updated` entry on the incident's timeline.
fn updates(incident: &Value) -> Vec<Value> {
    incident["timeline"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|entry| entry["type"] == "io.klaxon.alert.updated")
        .map(|entry| entry["data"]["change"].clone())
        .collect()
}

fn rfc3339(offset: chrono::Duration) -> String {
    (chrono::Utc::now() + offset).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[test]
fn alertmanagers_opsgenie_receiver_with_update_alerts_opens_updates_and_resolves_an_incident() {
    let temp = tempfile::tempdir().unwrap();
    let serve = Serve::start(&example_config(), &temp.path().join("klaxon"), free_port());
    let key = serve.key("KLAXON_KEY_OPSGENIE_MIGRATED");
    let api_key = serve.key("KLAXON_API_KEY");
    let am_dir = temp.path().join("alertmanager");
    std::fs::create_dir_all(&am_dir).unwrap();
    let alertmanager =
        Alertmanager::start(&alertmanager_config(&serve.url, &key), &am_dir, free_port());
    let get = |path: &str| -> Value {
        block_on(async {
            reqwest::Client::new()
                .get(format!("{}{path}", serve.url))
                .bearer_auth(&api_key)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap()
        })
    };

    // Firing: Alertmanager creates the alert, then updates its message and description by
    // alias (0.25 sends no priority update; the create carries it).
    let starts_at = rfc3339(chrono::Duration::minutes(-1));
    alertmanager.push(&alerts(&["db-1"], &starts_at, None));
    let number = eventually("the incident", || {
        get("/v1/incidents?status=all")["incidents"][0]["number"].as_u64()
    });
    let incident = get(&format!("/v1/incidents/{number}"));
    assert_eq!(incident["incident"]["status"], "triggered", "{incident}");
    assert_eq!(incident["incident"]["title"], "DiskFull: 1 firing");
    assert_eq!(incident["incident"]["severity"], "error", "P2 is error");

    // A second alert joins the group: the next notification's create is deduplicated by alias
    // and its updates change the message and description.
    alertmanager.push(&alerts(&["db-2"], &starts_at, None));
    let incident = eventually("the message update", || {
        let incident = get(&format!("/v1/incidents/{number}"));
        let text = serde_json::to_string(&updates(&incident)).unwrap();
        (text.contains("DiskFull: 2 firing") && text.contains("Disk 97% full on db-2"))
            .then_some(incident)
    });
    assert_eq!(incident["incident"]["status"], "triggered", "{incident}");

    // Resolved: both alerts again with endsAt in the past; Alertmanager sends the close.
    let ends_at = rfc3339(chrono::Duration::seconds(-1));
    alertmanager.push(&alerts(&["db-1", "db-2"], &starts_at, Some(&ends_at)));
    let resolved = eventually("the incident to resolve", || {
        let incident = get(&format!("/v1/incidents/{number}"));
        (incident["incident"]["status"] == "resolved").then_some(incident)
    });
    let listed = get("/v1/incidents?status=all");
    assert_eq!(
        listed["incidents"].as_array().map(Vec::len),
        Some(1),
        "one incident: {listed}"
    );
    assert!(
        alertmanager.metric("alertmanager_notifications_total", "opsgenie") >= 3.0,
        "two firing notifications and the resolved one"
    );
    assert_eq!(
        alertmanager.metric("alertmanager_notifications_failed_total", "opsgenie"),
        0.0,
        "Alertmanager counted failed Opsgenie notifications:\n{}\n{resolved}",
        alertmanager.log()
    );
}
