//! A small world for the notify, ack and api tests: an in-memory SQLite store, a manual clock,
//! the recording port doubles, a configuration, an API key and an integration key, and the
//! services and routers built over them.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use chrono::TimeDelta;
use http_body_util::BodyExt;
use klaxon_app::messages::{IncidentEvent, IncidentMessage, QueueMessage, QueueName};
use klaxon_app::security::keys::PlainKey;
use klaxon_app::security::links::LinkSigner;
use klaxon_app::security::slack::SlackVerifier;
use klaxon_app::usecases::ack::AckService;
use klaxon_app::usecases::notify::{EnvLookup, NotifyOutcome, NotifyService, Senders};
use klaxon_app::usecases::queries::QueryService;
use klaxon_app::usecases::routing::RoutingService;
use klaxon_app::usecases::{ConfigCache, Core, UseCaseError};
use klaxon_domain::Instant;
use klaxon_domain::alert::{Alert, AlertStatus, Severity};
use klaxon_domain::config::Config;
use klaxon_domain::ids::{AlertId, DedupKey, GroupKey, IncidentId, IntegrationName};
use klaxon_domain::incident::Incident;
use klaxon_domain::timeline::{Actor, EventSource, TimelineRecord};
use klaxon_local::store::SqliteStore;
use klaxon_store::ManualClock;
use klaxon_store::repo::{KeyKind, KeyRecord, Repository};
use klaxon_tests::fakes::{RecordingQueue, RecordingSenders, RecordingTimers, SequentialIds};
use klaxon_tests::{manual_clock, sqlite_store};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tower::ServiceExt;

/// Where pages' links point.
pub const BASE_URL: &str = "https://klaxon.example";
/// The Slack app's signing secret.
pub const SLACK_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
/// The webhook secrets the environment holds.
pub const STATUS_BOT_SECRET: &str = "whsec_status_bot";
/// The second webhook's secret.
pub const AUDIT_SECRET: &str = "whsec_audit";

/// The configuration every test starts from. At the test start (Thursday 2026-01-01 00:00Z)
/// alice is on call on `primary` (weekly hand-off Mondays 09:00 UTC; bob from 2026-01-05).
pub const CONFIG: &str = r#"
users:
  - id: alice
    name: Alice Example
    email: alice@example.com
    phone: "+15551230001"
    slack_id: U0ALICE01
    contact:
      high: [sms, email]
      low: [email]
  - id: bob
    name: Bob Builder
    email: bob@example.com
    slack_id: U0BOB0001
    contact:
      high: [slack, teams, webhook]
      low: [email]
  - id: carol
    name: Carol
    email: carol@example.com
  - id: dave
    name: Dave
    contact:
      high: [webhook]
      low: []
schedules:
  - id: primary
    name: Primary
    time_zone: Etc/UTC
    layers:
      - name: Weekly
        rotation:
          participants: [alice, bob]
          start: "2025-12-29T09:00:00"
          shift: { weeks: 1 }
escalation_policies:
  - id: infra
    name: Infrastructure
    tiers:
      - delay: 10m
        targets: [{ user: alice }]
      - delay: 10m
        targets: [{ schedule: primary }]
routing:
  defaults:
    critical: { policy: infra }
integrations:
  - name: prom
    format: native
notifications:
  slack:
    webhook_url: "${TEST_SLACK_URL}"
  teams:
    webhook_url: "${TEST_TEAMS_URL}"
  webhooks:
    - name: status-bot
      url: "${TEST_HOOK_URL}"
      signing_secret: "${TEST_HOOK_SECRET}"
    - name: audit
      url: "${TEST_AUDIT_URL}"
      signing_secret: "${TEST_AUDIT_SECRET}"
settings:
  ack_link_lifetime: 1h
"#;

/// The environment notify sees.
pub fn default_env() -> HashMap<String, String> {
    [
        ("TEST_SLACK_URL", "https://hooks.slack.example/T1/B1/x"),
        ("TEST_TEAMS_URL", "https://teams.example/webhook/1"),
        ("TEST_HOOK_URL", "https://status.example/hook"),
        ("TEST_HOOK_SECRET", STATUS_BOT_SECRET),
        ("TEST_AUDIT_URL", "https://audit.example/hook"),
        ("TEST_AUDIT_SECRET", AUDIT_SECRET),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// Everything a test needs.
pub struct World {
    pub clock: Arc<ManualClock>,
    pub store: SqliteStore,
    pub queue: RecordingQueue,
    pub timers: RecordingTimers,
    pub senders: RecordingSenders,
    pub env: Arc<Mutex<HashMap<String, String>>>,
    pub ids: Arc<SequentialIds>,
    pub signer: LinkSigner,
    /// An API key named `ci`.
    pub api_key: String,
    /// The `prom` integration's key.
    pub integration_key: String,
}

impl World {
    /// A world with [`CONFIG`] applied as version 1 and both keys created.
    pub async fn new() -> Self {
        let clock = manual_clock();
        let store = sqlite_store(clock.clone());
        let world = Self {
            clock,
            store,
            queue: RecordingQueue::new(),
            timers: RecordingTimers::new(),
            senders: RecordingSenders::new(),
            env: Arc::new(Mutex::new(default_env())),
            ids: Arc::new(SequentialIds::default()),
            signer: LinkSigner::new(vec![7u8; 32]).unwrap(),
            api_key: PlainKey::from_random_bytes([1; 32]).expose().to_owned(),
            integration_key: PlainKey::from_random_bytes([2; 32]).expose().to_owned(),
        };
        let config = Config::from_yaml(CONFIG).unwrap();
        let repo = world.repo("test");
        repo.save_config(
            &config.to_canonical_json().unwrap(),
            &config.fingerprint().unwrap(),
            &Actor::system("test"),
        )
        .await
        .unwrap();
        for (key, kind, name) in [
            (&world.api_key, KeyKind::Api, "ci"),
            (&world.integration_key, KeyKind::Integration, "prom"),
        ] {
            let record = KeyRecord {
                kind,
                name: name.into(),
                label: None,
                created_at: world.now(),
            };
            repo.create_key(PlainKey::from_client(key).hash().as_str(), &record)
                .await
                .unwrap();
        }
        world
    }

    pub fn now(&self) -> Instant {
        klaxon_store::Clock::now(self.clock.as_ref())
    }

    pub fn advance(&self, by: TimeDelta) {
        self.clock.advance(by);
    }

    pub fn repo(&self, component: &str) -> Repository<SqliteStore> {
        Repository::new(
            self.store.clone(),
            self.clock.clone(),
            EventSource::klaxon(component).unwrap(),
        )
    }

    /// A core whose configuration cache keeps a configuration for `ttl`.
    pub fn core_with_ttl(&self, component: &str, ttl: Duration) -> Core<SqliteStore> {
        Core::new(
            self.repo(component),
            ConfigCache::new(ttl),
            self.clock.clone(),
            self.ids.clone(),
        )
    }

    /// A core that reads the configuration on every use.
    pub fn core(&self, component: &str) -> Core<SqliteStore> {
        self.core_with_ttl(component, Duration::ZERO)
    }

    pub fn env_lookup(&self) -> EnvLookup {
        let env = self.env.clone();
        Arc::new(move |name| env.lock().unwrap().get(name).cloned())
    }

    pub fn notify(
        &self,
    ) -> NotifyService<SqliteStore, RecordingSenders, RecordingSenders, RecordingSenders> {
        NotifyService::new(
            self.core("notify"),
            Senders {
                email: self.senders.clone(),
                sms: self.senders.clone(),
                webhook: self.senders.clone(),
            },
            self.signer.clone(),
            BASE_URL,
            self.env_lookup(),
        )
    }

    pub fn routing(&self) -> RoutingService<SqliteStore, RecordingQueue, RecordingTimers> {
        RoutingService::new(
            self.core("routing"),
            self.queue.clone(),
            self.timers.clone(),
        )
    }

    pub fn ack_service(
        &self,
        slack: Option<SlackVerifier>,
    ) -> AckService<SqliteStore, RecordingQueue, RecordingTimers> {
        AckService::new(
            self.core("ack"),
            self.queue.clone(),
            self.timers.clone(),
            self.signer.clone(),
            slack,
        )
    }

    /// The ack routes with Slack enabled.
    pub fn ack_router(&self) -> Router {
        klaxon_app::http::ack::routes(Arc::new(self.ack_service(SlackVerifier::new(SLACK_SECRET))))
    }

    /// The api routes; the service caches the configuration for 30 s like a deployed one.
    pub fn api_router(&self) -> Router {
        klaxon_app::http::api::routes(Arc::new(QueryService::new(
            self.core_with_ttl("api", Duration::from_secs(30)),
        )))
    }

    /// Opens an incident for a new critical alert (as grouping would) and returns it.
    pub async fn open_incident(&self, summary: &str) -> Incident {
        let n = self.ids.as_ref();
        let alert_id = AlertId::new(klaxon_app::ports::IdGenerator::new_id(n)).unwrap();
        let incident_id = IncidentId::new(klaxon_app::ports::IdGenerator::new_id(n)).unwrap();
        let alert = Alert {
            integration: IntegrationName::new("prom").unwrap(),
            dedup_key: DedupKey::new(format!("key-{alert_id}")).unwrap(),
            status: AlertStatus::Firing,
            severity: Severity::Critical,
            summary: summary.into(),
            source: Some("db-1".into()),
            labels: [("service".to_string(), "db".to_string())].into(),
            annotations: Default::default(),
            links: vec![],
            received_at: self.now(),
            started_at: None,
            ended_at: None,
            group_hint: None,
            raw: serde_json::Value::Null,
        };
        let linked = self
            .repo("grouping")
            .find_or_create_incident(
                &GroupKey(format!("group-{alert_id}")),
                klaxon_domain::duration::HumanDuration::from_mins(60),
                &alert_id,
                &alert,
                &incident_id,
            )
            .await
            .unwrap();
        assert!(linked.created);
        linked.incident.incident
    }

    /// Opens an incident and lets routing start its escalation (tier-0 page queued, timer
    /// armed).
    pub async fn open_and_route(&self, summary: &str) -> Incident {
        let incident = self.open_incident(summary).await;
        self.routing()
            .handle(&QueueMessage::Incident(IncidentMessage {
                incident: incident.id().clone(),
                event: IncidentEvent::Triggered,
            }))
            .await
            .unwrap();
        incident
    }

    /// Hands every queued notification message to notify, in order.
    pub async fn deliver_notifications(&self) -> Vec<Result<NotifyOutcome, UseCaseError>> {
        let notify = self.notify();
        let mut results = Vec::new();
        for message in self.queue.drain(QueueName::Notifications) {
            results.push(notify.handle(&message).await);
        }
        results
    }

    /// The incident as stored now.
    pub async fn incident(&self, id: &IncidentId) -> Incident {
        self.repo("test")
            .incident(id)
            .await
            .unwrap()
            .unwrap()
            .incident
    }

    /// The incident's whole timeline.
    pub async fn timeline(&self, id: &IncidentId) -> Vec<TimelineRecord> {
        self.repo("test")
            .timeline(id, None, 1000)
            .await
            .unwrap()
            .items
    }

    /// The timeline entries of one CloudEvents type, as JSON.
    pub async fn timeline_of(&self, id: &IncidentId, kind: &str) -> Vec<serde_json::Value> {
        self.timeline(id)
            .await
            .into_iter()
            .map(|r| r.to_cloud_event().unwrap())
            .filter(|e| e["type"] == kind)
            .collect()
    }
}

/// An HTTP response, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    /// The error envelope's code and field.
    pub fn error(&self) -> (String, Option<String>) {
        let json = self.json();
        (
            json["error"]["code"].as_str().unwrap_or("").to_owned(),
            json["error"]["field"].as_str().map(str::to_owned),
        )
    }
}

/// Sends one request through a router.
pub async fn call(router: &Router, request: Request<Body>) -> Answer {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

/// A request builder with an optional API key.
pub fn request(
    method: Method,
    uri: &str,
    key: Option<&str>,
    body: impl Into<Body>,
) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some(key) = key {
        builder = builder.header("authorization", format!("Bearer {key}"));
    }
    builder.body(body.into()).unwrap()
}

/// GET with an optional API key.
pub fn get(uri: &str, key: Option<&str>) -> Request<Body> {
    request(Method::GET, uri, key, Body::empty())
}
