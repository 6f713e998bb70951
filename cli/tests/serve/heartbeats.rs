//! Heartbeats against a running `klaxon serve`: a ping then silence opens exactly one
//! incident through the normal pipeline (paging the heartbeat's policy), the next ping (here
//! in Opsgenie's shape) resolves it and the timeline says so; refused pings change nothing;
//! `klaxon heartbeats list` shows inactive, ok and expired.

use super::*;

fn heartbeats_config() -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/heartbeats.yaml")
        .display()
        .to_string()
}

fn states(serve: &Serve) -> Vec<(String, String)> {
    let listing = serve.cli(&["heartbeats", "list", "--json"]).ok().json();
    listing["heartbeats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["name"].as_str().unwrap().to_owned(),
                h["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn state_of(serve: &Serve, name: &str) -> String {
    states(serve)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, s)| s)
        .unwrap()
}

fn refusals_change_nothing(serve: &Serve) {
    let ping = format!("{}/v1/heartbeats/backup/ping", serve.url);
    let (status, body) = http("POST", &ping, None, None);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthorized")),
        "{body}"
    );
    let (status, body) = http("POST", &ping, Some("klx_not_a_key"), None);
    assert_eq!(status, 401, "{body}");
    let api_key = serve.key("KLAXON_API_KEY");
    let (status, body) = http("GET", &ping, Some(&api_key), None);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );
    // Another integration's key.
    let (status, body) = http("GET", &ping, Some(&serve.key("KLAXON_KEY_OG")), None);
    assert_eq!(status, 403, "{body}");
    let ci = serve.key("KLAXON_KEY_CI");
    let (status, body) = http(
        "GET",
        &format!("{}/v1/heartbeats/nightly/ping", serve.url),
        Some(&ci),
        None,
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("heartbeat_not_found")),
        "{body}"
    );
    // Opsgenie's shape: its error envelope, same statuses.
    let (status, body) = http(
        "POST",
        &format!("{}/v2/heartbeats/nightly/ping?apiKey={ci}", serve.url),
        None,
        None,
    );
    assert_eq!(status, 404, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("nightly"),
        "{body}"
    );
    assert!(body["requestId"].is_string(), "{body}");
    // The API list needs an API key.
    let (status, _) = http(
        "GET",
        &format!("{}/v1/heartbeats", serve.url),
        Some(&ci),
        None,
    );
    assert_eq!(status, 403);
    assert_eq!(state_of(serve, "backup"), "inactive");
    assert!(incidents(serve).is_empty());
}

#[test]
fn a_silent_heartbeat_opens_one_incident_and_the_next_ping_resolves_it() {
    let temp = tempfile::tempdir().unwrap();
    let serve = Serve::start(&heartbeats_config(), &temp.path().join("data"), free_port());
    // Configured, never pinged: inactive, not failing, however long we wait.
    assert_eq!(
        states(&serve),
        vec![
            ("backup".to_owned(), "inactive".to_owned()),
            ("genie".to_owned(), "inactive".to_owned())
        ]
    );
    refusals_change_nothing(&serve);

    let ci = serve.key("KLAXON_KEY_CI");
    // A resolved Alertmanager notification is answered (Opsgenie's shape here) and is no ping.
    let resolved = json!({"version": "4", "status": "resolved", "receiver": "klaxon",
        "alerts": [{"status": "resolved", "labels": {"alertname": "Watchdog"}}]});
    let (status, body) = http(
        "POST",
        &format!("{}/v2/heartbeats/backup/ping?apiKey={ci}", serve.url),
        None,
        Some(&resolved),
    );
    assert_eq!(status, 202, "{body}");
    assert!(
        body["result"].as_str().unwrap().starts_with("Ignored"),
        "{body}"
    );
    assert_eq!(state_of(&serve, "backup"), "inactive");

    let (status, body) = http(
        "GET",
        &format!("{}/v1/heartbeats/backup/ping", serve.url),
        Some(&ci),
        None,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["status"].as_str(), body["recovered"].as_bool()),
        (Some("ok"), Some(false))
    );
    assert_eq!(state_of(&serve, "backup"), "ok");

    // Silence: after 3 seconds the heartbeat expires; one incident pages alice once.
    let incident = eventually("the missed-heartbeat incident", || {
        incidents(&serve).into_iter().next()
    });
    assert!(
        incident["title"]
            .as_str()
            .unwrap()
            .contains("Heartbeat backup expired"),
        "{incident}"
    );
    eventually("alice paged", || {
        (!pages_to(&serve.outbox(), "alice@example.com").is_empty()).then_some(())
    });
    assert_eq!(state_of(&serve, "backup"), "expired");
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(incidents(&serve).len(), 1, "one incident per silence");
    assert_eq!(pages_to(&serve.outbox(), "alice@example.com").len(), 1);

    // The next ping, Opsgenie-style, resolves it.
    let (status, body) = http(
        "POST",
        &format!("{}/v2/heartbeats/backup/ping?apiKey={ci}", serve.url),
        None,
        None,
    );
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["result"], "PONG - Heartbeat received");
    let number = incident["number"].as_u64().unwrap().to_string();
    eventually("the incident resolved", || {
        let shown = serve
            .cli(&["incidents", "show", &number, "--json"])
            .ok()
            .json();
        (shown["incident"]["status"] == "resolved").then_some(())
    });
    let shown = serve.cli(&["incidents", "show", &number]).ok();
    for kind in ["alert.resolved", "incident.resolved"] {
        assert!(shown.stdout.contains(kind), "{kind}: {}", shown.stdout);
    }
}
