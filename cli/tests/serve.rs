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

// ---------------------------------------------------------------------------------------------
// Helpers and escalation
// ---------------------------------------------------------------------------------------------

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

/// Alerts posted by concurrent senders, the process killed (`kill -9`) right after the last
/// answer: after a restart every alert answered 2xx has its incident, with either
/// `--durability` setting.
fn kill_9_after_concurrent_answers_loses_nothing(durability: &str) {
    let temp = tempfile::tempdir().unwrap();
    let data_dir = temp.path().join("data");
    let port = free_port();
    let serve = Serve::start_with(
        &serve_config(),
        &data_dir,
        port,
        &["--durability", durability],
    );
    let key = serve.key("KLAXON_KEY_CI");
    let url = format!("{}/v1/alerts", serve.url);
    let answered: Vec<String> = std::thread::scope(|scope| {
        let senders: Vec<_> = (0..4)
            .map(|sender| {
                let (key, url) = (&key, &url);
                scope.spawn(move || {
                    (0..10)
                        .filter_map(|n| {
                            let name = format!("{durability}-{sender}-{n}");
                            let (status, _) = http(
                                "POST",
                                url,
                                Some(key),
                                Some(&alert(&name, json!({"test": "durability"}))),
                            );
                            (status == 202).then_some(name)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        senders
            .into_iter()
            .flat_map(|s| s.join().unwrap())
            .collect()
    });
    serve.kill9();
    assert_eq!(
        answered.len(),
        40,
        "every alert was answered before the kill"
    );
    let serve = Serve::start_with(
        &serve_config(),
        &data_dir,
        port,
        &["--durability", durability],
    );
    let listed = eventually("an incident for every answered alert", || {
        let listed = incidents(&serve);
        (listed.len() >= answered.len()).then_some(listed)
    });
    for name in &answered {
        let title = format!("{name} needs a human");
        assert!(
            listed.iter().any(|i| i["title"] == title.as_str()),
            "{name} was answered 2xx but has no incident after kill -9"
        );
    }
    assert_eq!(listed.len(), answered.len(), "one incident per alert");
}

#[test]
fn kill_9_loses_no_answered_alert_with_durability_normal() {
    kill_9_after_concurrent_answers_loses_nothing("normal");
}

#[test]
fn kill_9_loses_no_answered_alert_with_durability_full() {
    kill_9_after_concurrent_answers_loses_nothing("full");
}

#[path = "serve/commands.rs"]
mod commands;
#[path = "serve/declare.rs"]
mod declare;
#[path = "serve/errors_and_signals.rs"]
mod errors_and_signals;
#[path = "serve/heartbeats.rs"]
mod heartbeats;
#[path = "serve/holidays.rs"]
mod holidays;
#[path = "serve/postmortems.rs"]
mod postmortems;
#[path = "serve/responders.rs"]
mod responders;
