//! Post-mortems against a running `klaxon serve`, through the CLI and the HTTP API: an
//! incident paged, acknowledged, noted and resolved gets a post-mortem pre-filled with its
//! facts; sections are edited, action items added and listed across two incidents, the
//! post-mortem reviewed, published (twice: a no-op) and exported as Markdown; every bad
//! request is refused with a code and changes nothing.

use super::*;

fn postmortems_config() -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/postmortems.yaml")
        .display()
        .to_string()
}

fn open_incident(serve: &Serve, dedup_key: &str, count: usize) -> String {
    post_alert(serve, &alert(dedup_key, json!({})));
    eventually(&format!("incident {count}"), || {
        let list = incidents(serve);
        (list.len() >= count).then(|| list[0]["number"].as_u64().unwrap())
    })
    .to_string()
}

fn postmortem(serve: &Serve, number: &str) -> Value {
    serve
        .cli(&["postmortem", "show", number, "--json"])
        .ok()
        .json()
}

fn open_items(serve: &Serve) -> Vec<Value> {
    let listing = serve
        .cli(&["action-items", "list", "--open", "--json"])
        .ok()
        .json();
    listing["action_items"].as_array().unwrap().clone()
}

#[test]
fn a_resolved_incident_gets_a_post_mortem_with_its_facts_edited_reviewed_published_and_exported() {
    let temp = tempfile::tempdir().unwrap();
    let serve = Serve::start(
        &postmortems_config(),
        &temp.path().join("data"),
        free_port(),
    );
    let first = open_incident(&serve, "disk-full", 1);
    eventually("alice's page", || {
        (!pages_to(&serve.outbox(), "alice@example.com").is_empty()).then_some(())
    });
    serve
        .cli(&["incidents", "ack", &first, "--user", "alice"])
        .ok();
    serve
        .cli(&["incidents", "note", &first, "freed 20 GB", "--user", "bob"])
        .ok();
    serve
        .cli(&["incidents", "resolve", &first, "--user", "alice"])
        .ok();

    let created = serve
        .cli(&["postmortem", "create", &first, "--user", "alice"])
        .ok();
    assert!(
        created
            .stdout
            .contains("created from template incident-review by user:alice"),
        "{}",
        created.stdout
    );
    serve
        .cli(&["postmortem", "create", &first])
        .fails(1, "postmortem_exists");

    // The facts: the impact window is first alert → resolve, the responders are who was
    // paged or acted, and the timeline has the page, the ack, the note and the resolve.
    let incident = serve
        .cli(&["incidents", "show", &first, "--json"])
        .ok()
        .json();
    let pm = postmortem(&serve, &first);
    let facts = &pm["facts"];
    assert_eq!(facts["opened_at"], incident["incident"]["created_at"]);
    assert_eq!(facts["resolved_at"], incident["incident"]["resolved"]["at"]);
    assert!(facts["impact_seconds"].as_i64().unwrap() >= 0);
    assert_eq!(facts["responders"], json!(["alice", "bob"]));
    assert_eq!(facts["metrics"]["acknowledged_by"], "user:alice");
    assert_eq!(facts["metrics"]["pages"], 1);
    let kinds: Vec<&str> = facts["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for kind in [
        "incident.triggered",
        "escalation.tier_paged",
        "notification.delivered",
        "incident.acknowledged",
        "incident.note",
        "incident.resolved",
    ] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    assert_eq!(pm["status"], "draft");
    assert_eq!(pm["version"], 1);
    assert_eq!(pm["sections"][2]["body"], "See the action items.");

    // Sections: written by title; a stale version is refused and changes nothing.
    serve
        .cli(&[
            "postmortem",
            "edit",
            &first,
            "--section",
            "Root cause",
            "--body",
            "Log rotation was off on db-1.",
        ])
        .ok();
    serve
        .cli(&[
            "postmortem",
            "edit",
            &first,
            "--section",
            "Summary",
            "--body",
            "x",
            "--version",
            "1",
        ])
        .fails(1, "version_conflict");
    let pm = postmortem(&serve, &first);
    assert_eq!(pm["version"], 2);
    assert_eq!(pm["sections"][1]["body"], "Log rotation was off on db-1.");
    assert_eq!(pm["sections"][0]["body"], "");

    // Action items on two incidents' post-mortems, listed together while open.
    let added = serve
        .cli(&[
            "action-items",
            "add",
            &first,
            "Enable log rotation everywhere",
            "--owner",
            "bob",
            "--due",
            "2026-04-01",
            "--json",
        ])
        .ok()
        .json();
    let item = added["action_item"]["id"].as_str().unwrap().to_owned();
    serve
        .cli(&["action-items", "add", &first, "x", "--owner", "nobody"])
        .fails(1, "owner");
    let second = open_incident(&serve, "api-slow", 2);
    // An open incident may get a draft, not a review.
    serve.cli(&["postmortem", "create", &second]).ok();
    serve
        .cli(&["postmortem", "status", &second, "in-review"])
        .fails(1, "incident_not_resolved");
    serve
        .cli(&["action-items", "add", &second, "Add a latency SLO"])
        .ok();
    let open = open_items(&serve);
    let numbers: Vec<u64> = open.iter().map(|i| i["number"].as_u64().unwrap()).collect();
    assert_eq!(open.len(), 2, "{open:?}");
    assert!(
        numbers.contains(&first.parse().unwrap()) && numbers.contains(&second.parse().unwrap())
    );
    assert_eq!(open[0]["id"], item, "the dated item comes first");
    serve.cli(&["action-items", "done", &first, &item]).ok();
    let again = serve.cli(&["action-items", "done", &first, &item]).ok();
    assert!(again.stdout.contains("unchanged"), "{}", again.stdout);
    let open = open_items(&serve);
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["title"], "Add a latency SLO");
    let all = serve.cli(&["action-items", "list", "--json"]).ok().json();
    assert_eq!(all["action_items"].as_array().unwrap().len(), 2);

    // Review, publish, publish again (a no-op); published sections are final.
    serve
        .cli(&["postmortem", "status", &first, "published"])
        .fails(1, "invalid_transition");
    serve
        .cli(&[
            "postmortem",
            "status",
            &first,
            "in-review",
            "--user",
            "alice",
        ])
        .ok();
    serve
        .cli(&[
            "postmortem",
            "status",
            &first,
            "published",
            "--user",
            "alice",
        ])
        .ok();
    let twice = serve
        .cli(&["postmortem", "status", &first, "published"])
        .ok();
    assert!(twice.stdout.contains("unchanged"), "{}", twice.stdout);
    serve
        .cli(&["postmortem", "status", &first, "draft"])
        .fails(1, "invalid_transition");
    serve
        .cli(&[
            "postmortem",
            "edit",
            &first,
            "--section",
            "Summary",
            "--body",
            "late",
        ])
        .fails(1, "postmortem_published");

    let exported = serve.cli(&["postmortem", "export", &first]).ok();
    let text = &exported.stdout;
    for line in [
        format!("# Post-mortem: incident #{first} — disk-full needs a human"),
        "Status: **published** · Template: incident-review".to_owned(),
        "| Acknowledged by | user:alice |".to_owned(),
        "| Responders | alice, bob |".to_owned(),
        "## Root cause\n\nLog rotation was off on db-1.".to_owned(),
        "## Summary\n\n_What happened, in two sentences?_".to_owned(),
        format!("- [x] Enable log rotation everywhere (`{item}`, owner bob, due 2026-04-01)"),
    ] {
        assert!(text.contains(&line), "missing {line:?} in:\n{text}");
    }
    assert!(text.contains("note: freed 20 GB"), "{text}");

    let shown = serve.cli(&["incidents", "show", &first]).ok();
    for kind in [
        "postmortem.created",
        "postmortem.status_changed",
        "postmortem.published",
        "postmortem.action_item_added",
        "postmortem.action_item_updated",
    ] {
        assert!(shown.stdout.contains(kind), "{kind}: {}", shown.stdout);
    }
}

#[test]
fn bad_post_mortem_requests_answer_4xx_with_a_code_and_change_nothing() {
    let temp = tempfile::tempdir().unwrap();
    let serve = Serve::start(
        &postmortems_config(),
        &temp.path().join("data"),
        free_port(),
    );
    let number = open_incident(&serve, "cpu-hot", 1);
    let key = serve.key("KLAXON_API_KEY");
    let url = |path: &str| format!("{}/v1/incidents/{number}/postmortem{path}", serve.url);
    let call = |method: &str, path: &str, body: Option<Value>| {
        http(method, &url(path), Some(&key), body.as_ref())
    };

    let (status, body) = call("GET", "", None);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    for (body, field) in [
        (json!({"template": "nope"}), "template"),
        (json!({"template": "Bad Name"}), "template"),
        (json!({"colour": "red"}), "colour"),
        (json!({"user": "nobody"}), "user"),
        (json!([1]), "body"),
    ] {
        let (status, answer) = call("POST", "", Some(body.clone()));
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_field");
        assert_eq!(answer["error"]["field"], field, "{body}: {answer}");
    }
    let (status, answer) = call("GET", "", None);
    assert_eq!(status, 404, "bad creates created nothing: {answer}");

    let (status, created) = call("POST", "", Some(json!({})));
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["postmortem"]["template"], "incident-review");
    let (status, answer) = call("POST", "", Some(json!({"template": "default"})));
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (409, Some("postmortem_exists"))
    );

    for (body, field) in [
        (json!({}), "body"),
        (json!({"status": "done"}), "status"),
        (json!({"version": 0, "status": "draft"}), "version"),
        (json!({"sections": "text"}), "sections"),
        (
            json!({"sections": [{"title": "", "body": "x"}]}),
            "sections[0].title",
        ),
        (
            json!({"sections": [{"title": "A", "text": "x"}]}),
            "sections[0].text",
        ),
        (
            json!({"sections": [{"title": "A", "body": "x".repeat(20_000)}]}),
            "sections[0].body",
        ),
    ] {
        let (status, answer) = call("PATCH", "", Some(body.clone()));
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["error"]["field"], field, "{answer}");
    }
    let (status, answer) = call("PATCH", "", Some(json!({"status": "in_review"})));
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (409, Some("incident_not_resolved"))
    );

    for (body, field) in [
        (json!({}), "title"),
        (json!({"title": "  "}), "title"),
        (json!({"title": "x", "owner": "nobody"}), "owner"),
        (json!({"title": "x", "due": "next week"}), "due"),
        (json!({"title": "x", "priority": 1}), "priority"),
    ] {
        let (status, answer) = call("POST", "/action-items", Some(body.clone()));
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["error"]["field"], field, "{answer}");
    }
    let (status, answer) = call(
        "PATCH",
        "/action-items/ai-000000000000",
        Some(json!({"status": "done"})),
    );
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (404, Some("not_found")),
        "{answer}"
    );

    let (status, answer) = http(
        "GET",
        &format!("{}/v1/action-items?status=closed", serve.url),
        Some(&key),
        None,
    );
    assert_eq!(
        (status, answer["error"]["field"].as_str()),
        (400, Some("status"))
    );
    let (status, _) = http("GET", &url(""), None, None);
    assert_eq!(status, 401);

    // Nothing changed: still version 1, no action item, only the creation on the timeline.
    let (_, pm) = call("GET", "", None);
    assert_eq!(pm["version"], 1, "{pm}");
    assert_eq!(pm["action_items"], json!([]));
    assert_eq!(pm["status"], "draft");
    let shown = serve
        .cli(&["incidents", "show", &number, "--json"])
        .ok()
        .json();
    let postmortem_entries = shown["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["type"]
                .as_str()
                .unwrap()
                .starts_with("io.klaxon.postmortem.")
        })
        .count();
    assert_eq!(postmortem_entries, 1);
}
