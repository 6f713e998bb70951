//! Declaring an incident by hand against a running `klaxon serve`: `POST /v1/incidents` opens
//! an incident that pages tier 0 of the declared policy once; a retry with the same
//! `Idempotency-Key` answers the same incident and pages nobody again; the timeline records
//! who declared it; bad input is refused naming the field, and changes nothing; `klaxon
//! incidents declare` does the same through the CLI.

use super::*;
use common::server::http_with_headers;

fn responders_config() -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/responders.yaml")
        .display()
        .to_string()
}

fn declare(serve: &Serve, body: &Value, idempotency_key: Option<&str>) -> (u16, Value) {
    let headers: Vec<(&str, &str)> = idempotency_key
        .map(|key| vec![("Idempotency-Key", key)])
        .unwrap_or_default();
    http_with_headers(
        "POST",
        &format!("{}/v1/incidents", serve.url),
        Some(&serve.key("KLAXON_API_KEY")),
        Some(body),
        &headers,
    )
}

fn pages(serve: &Serve, to: &str) -> usize {
    pages_to(&serve.outbox(), to).len()
}

#[test]
fn a_declared_incident_pages_tier_zero_once_and_a_retry_finds_the_same_incident() {
    let temp = tempfile::tempdir().unwrap();
    let serve = Serve::start(&responders_config(), &temp.path().join("data"), free_port());

    // Bad input first: each refusal names its field, and nothing is created.
    let refusals = [
        (json!({"severity": "critical"}), "title"),
        (json!({"title": "   "}), "title"),
        (json!({"title": "x".repeat(256)}), "title"),
        (json!({"title": "Down", "severity": "sev1"}), "severity"),
        (json!({"title": "Down", "urgency": "urgent"}), "urgency"),
        (json!({"title": "Down", "policy": "nope"}), "policy"),
        (json!({"title": "Down", "user": "zed"}), "user"),
        (json!({"title": "Down", "priority": "P1"}), "priority"),
        (json!(["Down"]), "body"),
    ];
    for (body, field) in refusals {
        let (status, answer) = declare(&serve, &body, Some("bad-input"));
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_field", "{answer}");
        assert_eq!(answer["error"]["field"], field, "{answer}");
    }
    let (status, answer) = http(
        "POST",
        &format!("{}/v1/incidents", serve.url),
        None,
        Some(&json!({"title": "Down"})),
    );
    assert_eq!(status, 401, "{answer}");
    assert!(incidents(&serve).is_empty());

    // Declared on the impatient policy (tier 0: alice), by bob.
    let body = json!({
        "title": "Checkout is down",
        "severity": "error",
        "policy": "impatient",
        "description": "customers see 500s",
        "user": "bob",
    });
    let (status, first) = declare(&serve, &body, Some("incident-2026-12-04"));
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["created"], true);
    assert_eq!(first["incident"]["title"], "Checkout is down", "{first}");
    let number = first["incident"]["number"].as_u64().unwrap();
    eventually("the page to alice", || {
        (pages(&serve, "alice@example.com") >= 1).then_some(())
    });

    // The retry: same incident, nothing new.
    let (status, again) = declare(&serve, &body, Some("incident-2026-12-04"));
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["created"], false);
    assert_eq!(again["incident"]["number"].as_u64(), Some(number));
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(pages(&serve, "alice@example.com"), 1, "one page to tier 0");
    assert_eq!(
        pages(&serve, "bob@example.com"),
        0,
        "the default policy is not used"
    );
    assert_eq!(incidents(&serve).len(), 1);

    // The timeline says who declared it.
    let shown = serve
        .cli(&["incidents", "show", &number.to_string(), "--json"])
        .ok()
        .json();
    let timeline = shown["timeline"].as_array().cloned().unwrap_or_default();
    let declared = timeline
        .iter()
        .find(|entry| entry["type"] == "io.klaxon.incident.declared")
        .unwrap_or_else(|| panic!("no declared entry: {shown}"));
    assert_eq!(declared["actor"], "user:bob", "{declared}");
    assert_eq!(declared["data"]["description"], "customers see 500s");

    // Without an Idempotency-Key every call is a new incident; it routes like any other
    // (the defaults: policy slow, tier 0 alice).
    let (status, other) = declare(&serve, &json!({"title": "Search is slow"}), None);
    assert_eq!(status, 201, "{other}");
    assert_ne!(other["incident"]["number"].as_u64(), Some(number));
    eventually("the second page to alice", || {
        (pages(&serve, "alice@example.com") >= 2).then_some(())
    });

    // The CLI: the same route, its own key per run unless --key repeats one.
    let declare_cli = |extra: &[&str]| {
        let mut args = vec![
            "incidents",
            "declare",
            "Database failover",
            "--key",
            "cli-1",
        ];
        args.extend_from_slice(extra);
        serve.cli(&args)
    };
    let made = declare_cli(&["--severity", "warning", "--json"])
        .ok()
        .json();
    assert_eq!(made["created"], true, "{made}");
    let repeated = declare_cli(&["--severity", "warning"]).ok();
    assert!(
        repeated.stdout.contains("was declared already (same key)"),
        "{}",
        repeated.stdout
    );
    serve
        .cli(&["incidents", "declare", "Bad", "--policy", "nope"])
        .fails(1, "policy");
    assert_eq!(incidents(&serve).len(), 3);

    // Acknowledge works as for any incident.
    serve
        .cli(&["incidents", "ack", &number.to_string(), "--user", "alice"])
        .ok();
}
