//! The local runtime in-process, over real HTTP on a free loopback port: escalation with real
//! timers, acknowledgement by link, restart with pending work, SMTP and webhook delivery, the
//! data directory lock and its files.

use super::*;
use crate::outbox::{Outbox, OutboxRecord};
use crate::smtp::SmtpConfig;
use klaxon_app::heartbeat::{Heartbeat, HeartbeatMethod};
use klaxon_app::messages::QueueName;
use klaxon_domain::config::Config;
use klaxon_domain::incident::IncidentStatus;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;
use std::time::Instant as StdInstant;

/// Tier delays of one second; three rounds, so an unacknowledged incident keeps paging.
const CONFIG: &str = r#"
users:
  - id: alice
    name: Alice
    email: alice@example.com
    contact: { high: [email], low: [email] }
  - id: bob
    name: Bob
    email: bob@example.com
    contact: { high: [email], low: [email] }
  - id: dave
    name: Dave
    contact: { high: [webhook], low: [webhook] }
escalation_policies:
  - id: fast
    name: Fast
    repeat: 2
    tiers:
      - delay: 1s
        targets: [{ user: alice }]
      - delay: 1s
        targets: [{ user: bob }]
  - id: slow
    name: Slow
    tiers:
      - delay: 2s
        targets: [{ user: alice }]
      - delay: 1h
        targets: [{ user: bob }]
  - id: hook
    name: Webhook
    tiers:
      - delay: 1h
        targets: [{ user: dave }]
routing:
  defaults:
    critical: { policy: fast }
  rules:
    - id: slow
      priority: 1
      match: { labels: { speed: slow } }
      policy: slow
    - id: hook
      priority: 2
      match: { labels: { speed: hook } }
      policy: hook
integrations:
  - name: ci
    format: native
notifications:
  webhooks:
    - name: receiver
      url: "${TEST_RECEIVER_URL}"
      signing_secret: "${TEST_RECEIVER_SECRET}"
"#;

/// A webhook post as the test receiver saw it: headers and body.
type ReceivedPost = (HashMap<String, String>, String);

fn config() -> Config {
    Config::from_yaml(CONFIG).unwrap()
}

fn options(dir: &Path, config: Option<Config>) -> RuntimeOptions {
    let mut options = RuntimeOptions::new(dir, "127.0.0.1:0".parse().unwrap());
    options.config = config;
    options.console = Console::Silent;
    options.env = Arc::new(|_| None);
    options.tuning.sweep_interval = Duration::from_millis(300);
    options.tuning.consumer.idle_poll = Duration::from_millis(200);
    options
}

fn alert(dedup_key: &str, labels: Value) -> Value {
    json!({
        "dedup_key": dedup_key,
        "status": "firing",
        "severity": "critical",
        "summary": format!("{dedup_key} is on fire"),
        "labels": labels,
    })
}

async fn post_alert(runtime: &LocalRuntime, body: &Value) -> Value {
    let key = runtime
        .keys()
        .integration("ci")
        .unwrap()
        .key
        .expose()
        .to_owned();
    let response = reqwest::Client::new()
        .post(format!("{}/v1/alerts", runtime.public_url()))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    response.json().await.unwrap()
}

fn outbox(runtime: &LocalRuntime) -> Vec<OutboxRecord> {
    Outbox::read_records(runtime.data_dir().outbox()).unwrap()
}

/// Outbox records that are pages (they carry an acknowledge link), for `recipient`.
fn pages_to(records: &[OutboxRecord], recipient: &str) -> Vec<OutboxRecord> {
    records
        .iter()
        .filter(|r| r.recipient == recipient && r.links.iter().any(|l| l.contains("a=ack")))
        .cloned()
        .collect()
}

/// Polls `check` until it returns `Some`, for up to a minute (generous: never a timing test).
async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = StdInstant::now() + Duration::from_secs(60);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(StdInstant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_pages_tier_0_then_tier_1_and_an_ack_by_link_stops_the_escalation() {
    let temp = tempfile::tempdir().unwrap();
    let runtime = LocalRuntime::start(options(temp.path(), Some(config())))
        .await
        .unwrap();
    assert_eq!(runtime.report().config.version, 1);
    assert_eq!(runtime.keys().created(), 2);

    let accepted = post_alert(&runtime, &alert("disk-full", json!({}))).await;
    assert_eq!(accepted["summary"]["new"], 1);
    let first = eventually("the tier-0 page to alice", async || {
        pages_to(&outbox(&runtime), "alice@example.com")
            .into_iter()
            .next()
    })
    .await;
    eventually("the tier-1 page to bob", async || {
        pages_to(&outbox(&runtime), "bob@example.com")
            .into_iter()
            .next()
    })
    .await;

    // POST on the link, as the confirmation page's button (and `curl -X POST`) does.
    let ack = first.links.iter().find(|l| l.contains("a=ack")).unwrap();
    let response = reqwest::Client::new().post(ack).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("acknowledged"));
    let repo = runtime.repository();
    let incidents = repo.recent_incidents(None, 10).await.unwrap().items;
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0].incident.status(), IncidentStatus::Acknowledged);

    // Unacknowledged, the next tiers would page every second; acknowledged, nothing more.
    // (A page whose send began before the acknowledgement committed may still land: settle.)
    tokio::time::sleep(Duration::from_secs(1)).await;
    let paged = pages_to(&outbox(&runtime), "alice@example.com").len()
        + pages_to(&outbox(&runtime), "bob@example.com").len();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = outbox(&runtime);
    assert_eq!(
        pages_to(&after, "alice@example.com").len() + pages_to(&after, "bob@example.com").len(),
        paged,
        "no page after the acknowledgement"
    );
    assert!(
        after.iter().any(|r| r
            .subject
            .as_deref()
            .is_some_and(|s| s.starts_with("Acknowledged"))),
        "the people paged are told: {after:#?}"
    );
    for queue in QueueName::ALL {
        assert!(
            runtime
                .queue()
                .dead_letters(queue)
                .await
                .unwrap()
                .is_empty()
        );
    }
    runtime.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_keys_and_config_and_fires_a_pending_tier_once() {
    let temp = tempfile::tempdir().unwrap();
    let runtime = LocalRuntime::start(options(temp.path(), Some(config())))
        .await
        .unwrap();
    let keys = runtime.keys().clone();
    post_alert(&runtime, &alert("slow-burn", json!({"speed": "slow"}))).await;
    eventually("the tier-0 page", async || {
        pages_to(&outbox(&runtime), "alice@example.com")
            .into_iter()
            .next()
    })
    .await;
    runtime.shutdown().await.unwrap();

    // Let the tier-1 timer fall due while nothing runs; it fires at once on the next start.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let runtime = LocalRuntime::start(options(temp.path(), Some(config())))
        .await
        .unwrap();
    assert!(runtime.report().config.unchanged);
    assert_eq!(runtime.report().config.version, 1);
    assert_eq!(runtime.keys().created(), 0, "keys.env keys are reused");
    assert_eq!(runtime.keys().api.key, keys.api.key);
    assert_eq!(runtime.report().pending_timers, 1);
    assert_eq!(runtime.report().overdue_timers, 1);
    eventually("the tier-1 page after the restart", async || {
        pages_to(&outbox(&runtime), "bob@example.com")
            .into_iter()
            .next()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(pages_to(&outbox(&runtime), "bob@example.com").len(), 1);
    assert_eq!(pages_to(&outbox(&runtime), "alice@example.com").len(), 1);

    let text = std::fs::read_to_string(runtime.data_dir().keys_env()).unwrap();
    assert!(
        text.contains(&format!("KLAXON_URL={}\n", runtime.public_url())),
        "keys.env follows the new address: {text}"
    );
    runtime.shutdown().await.unwrap();

    // Without a configuration the stored one runs.
    let runtime = LocalRuntime::start(options(temp.path(), None))
        .await
        .unwrap();
    assert_eq!(runtime.report().config.version, 1);
    assert!(runtime.keys().integration("ci").is_some());
    runtime.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_directory_serves_one_process_and_needs_a_configuration_at_first() {
    let temp = tempfile::tempdir().unwrap();
    let error = LocalRuntime::start(options(temp.path(), None))
        .await
        .unwrap_err();
    assert!(matches!(error, RuntimeError::NoConfig { .. }), "{error}");
    assert!(error.to_string().contains("--config"), "{error}");

    let runtime = LocalRuntime::start(options(temp.path(), Some(config())))
        .await
        .unwrap();
    let error = LocalRuntime::start(options(temp.path(), Some(config())))
        .await
        .unwrap_err();
    assert!(matches!(error, RuntimeError::Locked { .. }), "{error}");

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |path: PathBuf| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(runtime.data_dir().keys_env()), 0o600);
        assert_eq!(mode(runtime.data_dir().link_secret()), 0o600);
    }
    let text = std::fs::read_to_string(runtime.data_dir().keys_env()).unwrap();
    let values = keys::parse_env_file(&text);
    assert_eq!(values["KLAXON_API_KEY"], runtime.keys().api.key.expose());
    assert_eq!(
        values["KLAXON_KEY_CI"],
        runtime.keys().integration("ci").unwrap().key.expose()
    );
    // Only hashes are stored.
    let stored = runtime.repository().list_keys().await.unwrap();
    assert_eq!(stored.len(), 2);
    let database = std::fs::read(runtime.data_dir().database()).unwrap_or_default();
    let wal =
        std::fs::read(runtime.data_dir().database().with_extension("db-wal")).unwrap_or_default();
    for bytes in [database, wal] {
        let haystack = String::from_utf8_lossy(&bytes);
        assert!(!haystack.contains(runtime.keys().api.key.expose()));
    }
    runtime.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_goes_out_by_smtp_and_webhooks_are_posted_signed() {
    let (smtp_port, captured) = crate::smtp::tests::sink("250 2.1.5 OK").await;
    let received: Arc<Mutex<Vec<ReceivedPost>>> = Arc::default();
    let receiver_url = {
        let received = Arc::clone(&received);
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, body: String| async move {
                    let headers = headers
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
                        .collect();
                    received.lock().unwrap().push((headers, body));
                    "ok"
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{address}/hook")
    };

    let temp = tempfile::tempdir().unwrap();
    let mut options = options(temp.path(), Some(config()));
    options.smtp = Some(SmtpConfig::local(
        "127.0.0.1",
        smtp_port,
        "Klaxon <klaxon@localhost>",
    ));
    let env: HashMap<&str, String> = [
        ("TEST_RECEIVER_URL", receiver_url.clone()),
        ("TEST_RECEIVER_SECRET", "whsec_test".to_owned()),
    ]
    .into_iter()
    .collect();
    options.env = Arc::new(move |name| env.get(name).cloned());
    let runtime = LocalRuntime::start(options).await.unwrap();

    post_alert(&runtime, &alert("email-me", json!({"speed": "slow"}))).await;
    post_alert(&runtime, &alert("hook-me", json!({"speed": "hook"}))).await;
    let email = eventually("the email at the SMTP server", async || {
        captured.lock().unwrap().first().cloned()
    })
    .await;
    assert!(email.to.iter().any(|to| to.contains("alice@example.com")));
    assert!(email.data.contains("email-me is on fire"), "{}", email.data);
    let (headers, body) = eventually("the webhook post", async || {
        received.lock().unwrap().first().cloned()
    })
    .await;
    let signature = headers.get("x-klaxon-signature").unwrap();
    klaxon_app::webhook::verify_webhook(
        b"whsec_test",
        signature,
        &body,
        chrono::Utc::now().timestamp(),
        Duration::from_secs(300),
    )
    .unwrap();
    assert!(body.contains("hook-me is on fire"), "{body}");

    let records = eventually("both deliveries in the outbox", async || {
        let records = outbox(&runtime);
        let smtp = records
            .iter()
            .find(|r| r.delivered_by.as_deref() == Some("smtp"))?
            .clone();
        let hook = records
            .iter()
            .find(|r| r.delivered_by.as_deref() == Some("webhook"))?
            .clone();
        Some((smtp, hook))
    })
    .await;
    assert_eq!(records.0.recipient, "alice@example.com");
    assert_eq!(records.0.error, None);
    assert_eq!(records.1.recipient, receiver_url);
    assert_eq!(records.1.provider_id.as_deref(), Some("200"));
    runtime.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_serves_ingest_ack_and_api_routes_with_json_errors() {
    let temp = tempfile::tempdir().unwrap();
    let runtime = LocalRuntime::start(options(temp.path(), Some(config())))
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let api_key = runtime.keys().api.key.expose().to_owned();
    let get = |path: &str| {
        client
            .get(format!("{}{path}", runtime.public_url()))
            .bearer_auth(&api_key)
            .send()
    };
    let listing: Value = get("/v1/incidents").await.unwrap().json().await.unwrap();
    assert_eq!(listing["incidents"], json!([]));
    let missing = get("/v1/nope").await.unwrap();
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    let unauthorised = client
        .post(format!("{}/v1/alerts", runtime.public_url()))
        .json(&alert("x", json!({})))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorised.status(), 401);
    let link = client
        .get(format!("{}/v1/links?i=x", runtime.public_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(link.status(), 400);
    runtime.shutdown().await.unwrap();
}

#[test]
fn the_public_url_defaults_to_the_bound_address_with_loopback_for_any() {
    let url = |text: &str| default_public_url(text.parse().unwrap(), false);
    assert_eq!(url("127.0.0.1:8080"), "http://127.0.0.1:8080");
    assert_eq!(url("0.0.0.0:9000"), "http://127.0.0.1:9000");
    assert_eq!(url("[::]:9000"), "http://[::1]:9000");
    assert_eq!(url("192.168.1.5:80"), "http://192.168.1.5:80");
}

#[test]
fn public_urls_must_be_http_without_query() {
    assert_eq!(
        check_public_url("https://klaxon.example.com/").unwrap(),
        "https://klaxon.example.com"
    );
    assert_eq!(
        check_public_url("http://host:8080/prefix").unwrap(),
        "http://host:8080/prefix"
    );
    for bad in ["ftp://host", "klaxon.example.com", "https://host/?a=1"] {
        let error = check_public_url(bad).unwrap_err().to_string();
        assert!(error.starts_with("--public-url: "), "{error}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_public_url_is_refused_before_the_data_directory_is_created() {
    let temp = tempfile::tempdir().unwrap();
    let data_dir = temp.path().join("data");
    let mut bad = options(&data_dir, Some(config()));
    bad.public_url = Some("ftp://klaxon.example.com".to_owned());
    let error = LocalRuntime::start(bad).await.unwrap_err();
    assert!(matches!(error, RuntimeError::PublicUrl(_)), "{error}");
    assert!(!data_dir.exists(), "nothing is created for a refused start");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operating_system_errors_are_the_source_not_repeated_in_the_message() {
    use std::error::Error as _;
    let temp = tempfile::tempdir().unwrap();
    // A data directory below a regular file cannot be created.
    let file = temp.path().join("file");
    std::fs::write(&file, "").unwrap();
    let data_dir = file.join("data");
    let expected_cause = std::fs::create_dir_all(&data_dir).unwrap_err().to_string();
    let error = LocalRuntime::start(options(&data_dir, Some(config())))
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("cannot create the data directory {}", data_dir.display())
    );
    assert_eq!(error.source().unwrap().to_string(), expected_cause);

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap();
    let expected_cause = std::net::TcpListener::bind(address)
        .unwrap_err()
        .to_string();
    let mut busy = options(&temp.path().join("busy"), Some(config()));
    busy.listen = address;
    let error = LocalRuntime::start(busy).await.unwrap_err();
    assert_eq!(error.to_string(), format!("cannot listen on {address}"));
    assert_eq!(error.source().unwrap().to_string(), expected_cause);
}

#[test]
fn failing_messages_are_retried_for_longer_than_a_stale_delivery_claim() {
    let span = Tuning::default().retry_span();
    let stale = Duration::from_secs(
        u64::try_from(klaxon_app::usecases::notify::STALE_CLAIM.as_secs()).unwrap(),
    );
    assert!(span > stale, "{span:?} <= {stale:?}");
    // And not for hours: a message that cannot work reaches the dead letters the same day.
    assert!(span < Duration::from_secs(30 * 60), "{span:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sweep_pings_the_self_heartbeat_and_a_dead_receiver_does_not_stop_sweeping() {
    let pings: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let receiver = {
        let pings = Arc::clone(&pings);
        let app = axum::Router::new().route(
            "/ping/{check}",
            axum::routing::post(
                move |axum::extract::Path(check): axum::extract::Path<String>, body: String| async move {
                    pings.lock().unwrap().push((check, body));
                    "ok"
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{address}/ping/check-1")
    };
    let temp = tempfile::tempdir().unwrap();
    let mut first = options(temp.path(), Some(config()));
    first.heartbeat = Some(Heartbeat::new(&receiver, HeartbeatMethod::Post).unwrap());
    let runtime = LocalRuntime::start(first).await.unwrap();
    // A sweep at start and every 300 ms: two pings arrive, each a sweep's counts.
    let seen = eventually("two heartbeat pings", async || {
        let pings = pings.lock().unwrap().clone();
        (pings.len() >= 2).then_some(pings)
    })
    .await;
    assert_eq!(seen[0].0, "check-1");
    let body: Value = serde_json::from_str(&seen[0].1).unwrap();
    assert_eq!(body["event"], "sweep");
    assert_eq!(body["overdue_timers"], 0);
    runtime.shutdown().await.unwrap();

    // Nothing listens at the URL: pings fail, are counted, and the sweeps go on (an alert
    // still pages, and the failure count keeps growing).
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/ping", listener.local_addr().unwrap())
    };
    let heartbeat = Heartbeat::new(&closed, HeartbeatMethod::Get).unwrap();
    let mut second = options(&temp.path().join("second"), Some(config()));
    second.heartbeat = Some(heartbeat.clone());
    let runtime = LocalRuntime::start(second).await.unwrap();
    eventually("two failed pings", async || {
        (heartbeat.failures() >= 2).then_some(())
    })
    .await;
    post_alert(&runtime, &alert("still-paging", json!({"speed": "slow"}))).await;
    eventually("the page", async || {
        pages_to(&outbox(&runtime), "alice@example.com")
            .first()
            .cloned()
    })
    .await;
    runtime.shutdown().await.unwrap();
}
