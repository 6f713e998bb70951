//! Responder actions against a running `klaxon serve`, through the CLI: snooze, escalate now,
//! reassign, add responders, notes, the acknowledgement timeout, and refusals.

use super::*;

fn responders_config() -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/responders.yaml")
        .display()
        .to_string()
}

fn pages(serve: &Serve, to: &str) -> usize {
    pages_to(&serve.outbox(), to).len()
}

/// Waits until `to` has `count` pages, then a moment more to see that no extra one comes.
fn settle_at(serve: &Serve, to: &str, count: usize) {
    eventually(&format!("{count} pages to {to}"), || {
        (pages(serve, to) >= count).then_some(())
    });
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(pages(serve, to), count, "exactly {count} pages to {to}");
}

fn first_number(serve: &Serve) -> String {
    eventually("the incident", || {
        incidents(serve).first().and_then(|i| i["number"].as_u64())
    })
    .to_string()
}

#[test]
fn snooze_escalate_reassign_responders_and_notes_through_the_cli() {
    let temp = tempfile::tempdir().unwrap();
    let serve = Serve::start(&responders_config(), &temp.path().join("data"), free_port());
    post_alert(&serve, &alert("orders-down", json!({})));
    let number = first_number(&serve);
    settle_at(&serve, "alice@example.com", 1);

    // Snoozing a triggered incident is refused, naming the state.
    serve
        .cli(&["incidents", "snooze", &number, "--for", "2s"])
        .fails(1, "not_acknowledged");
    serve
        .cli(&["incidents", "ack", &number, "--user", "alice"])
        .ok();
    let snoozed = serve
        .cli(&[
            "incidents",
            "snooze",
            &number,
            "--for",
            "2s",
            "--user",
            "alice",
        ])
        .ok();
    assert!(
        snoozed.stdout.contains("snoozed for 2s"),
        "{}",
        snoozed.stdout
    );
    // Two seconds later the incident pages alice (tier 0) again, once.
    settle_at(&serve, "alice@example.com", 2);
    assert_eq!(incidents(&serve)[0]["status"], "triggered");

    // Escalate now: bob (tier 1), once.
    let escalated = serve.cli(&["incidents", "escalate", &number]).ok();
    assert!(escalated.stdout.contains("tier 1"), "{}", escalated.stdout);
    settle_at(&serve, "bob@example.com", 1);

    // Reassign to the primary schedule: carol, once; nobody else.
    serve
        .cli(&["incidents", "reassign", &number, "--to-schedule", "primary"])
        .ok();
    settle_at(&serve, "carol@example.com", 1);
    assert_eq!(pages(&serve, "alice@example.com"), 2);
    assert_eq!(pages(&serve, "bob@example.com"), 1);

    // Add bob as a responder: paged once more; the escalation stays on carol's schedule.
    serve
        .cli(&[
            "incidents",
            "add-responder",
            &number,
            "--responder-user",
            "bob",
        ])
        .ok();
    settle_at(&serve, "bob@example.com", 2);

    serve
        .cli(&[
            "incidents",
            "note",
            &number,
            "restarted the orders service",
            "--user",
            "alice",
        ])
        .ok();
    let shown = serve.cli(&["incidents", "show", &number]).ok();
    for kind in [
        "incident.snoozed",
        "incident.retriggered",
        "escalation.escalated",
        "incident.reassigned",
        "incident.responders_added",
        "incident.note",
    ] {
        assert!(shown.stdout.contains(kind), "{kind}: {}", shown.stdout);
    }
    assert!(
        shown.stdout.contains("restarted the orders service"),
        "{}",
        shown.stdout
    );

    // Refusals name the field or the state; resolved, nothing more is accepted.
    serve
        .cli(&["incidents", "reassign", &number, "--to-user", "mallory"])
        .fails(1, "to.user");
    serve
        .cli(&["incidents", "snooze", &number, "--for", "soon"])
        .fails(1, "duration");
    serve.cli(&["incidents", "resolve", &number]).ok();
    serve
        .cli(&["incidents", "escalate", &number])
        .fails(1, "incident_resolved");
    serve
        .cli(&["incidents", "note", &number, " "])
        .fails(1, "text");
}

#[test]
fn the_acknowledgement_timeout_re_triggers_once() {
    let temp = tempfile::tempdir().unwrap();
    let serve = Serve::start(&responders_config(), &temp.path().join("data"), free_port());
    post_alert(
        &serve,
        &alert("ack-timeout", json!({"test": "ack-timeout"})),
    );
    let number = first_number(&serve);
    settle_at(&serve, "alice@example.com", 1);
    serve.cli(&["incidents", "ack", &number]).ok();
    // The policy's ack_timeout is 2s: alice is paged again once, and it stays triggered.
    settle_at(&serve, "alice@example.com", 2);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(pages(&serve, "alice@example.com"), 2, "it re-triggers once");
    assert_eq!(incidents(&serve)[0]["status"], "triggered");
}
