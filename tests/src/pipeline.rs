//! A whole pipeline in one process for use-case tests: the SQLite store in memory, a manual
//! clock, recording queue/timers/senders, the services of every function, and the test
//! configuration (`tests/fixtures/pipeline.yaml`) applied with a key per integration.

use crate::fakes::{RecordingQueue, RecordingTimers, SequentialIds};
use crate::{manual_clock, sqlite_store, workspace_root};
use axum::Router;
use klaxon_app::messages::{QueueMessage, QueueName};
use klaxon_app::security::keys::PlainKey;
use klaxon_app::security::sns::{HttpGet, SnsVerifier};
use klaxon_app::usecases::grouping::GroupingService;
use klaxon_app::usecases::ingest::IngestService;
use klaxon_app::usecases::routing::RoutingService;
use klaxon_app::usecases::{ConfigCache, Core};
use klaxon_domain::config::Config;
use klaxon_domain::timeline::{Actor, EventSource};
use klaxon_local::store::SqliteStore;
use klaxon_store::ManualClock;
use klaxon_store::repo::{KeyKind, KeyRecord, Repository};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The test configuration's text.
pub fn pipeline_config_text() -> String {
    std::fs::read_to_string(workspace_root().join("tests/fixtures/pipeline.yaml"))
        .expect("read the fixture")
}

/// Serves the test SNS signing certificate for any URL and records every URL visited.
#[derive(Debug, Clone, Default)]
pub struct TestHttpGet {
    /// URLs visited, in order.
    pub visited: Arc<Mutex<Vec<String>>>,
}

impl HttpGet for TestHttpGet {
    async fn get(&self, url: &str) -> Result<Vec<u8>, String> {
        self.visited.lock().unwrap().push(url.to_string());
        if url.ends_with(".pem") {
            Ok(
                std::fs::read(workspace_root().join("shared/app/testdata/sns-test-cert.pem"))
                    .map_err(|e| e.to_string())?,
            )
        } else {
            Ok(b"<ConfirmSubscriptionResponse/>".to_vec())
        }
    }
}

/// The whole pipeline, in memory.
pub struct Pipeline {
    /// The store.
    pub store: SqliteStore,
    /// The clock every part reads.
    pub clock: Arc<ManualClock>,
    /// Every queue.
    pub queue: RecordingQueue,
    /// Every timer.
    pub timers: RecordingTimers,
    /// Ingest.
    pub ingest: Arc<IngestService<SqliteStore, RecordingQueue, TestHttpGet>>,
    /// Grouping.
    pub grouping: GroupingService<SqliteStore, RecordingQueue, RecordingTimers>,
    /// Routing.
    pub routing: RoutingService<SqliteStore, RecordingQueue, RecordingTimers>,
    /// A repository for assertions.
    pub repo: Repository<SqliteStore>,
    /// Integration keys by integration name.
    pub keys: BTreeMap<String, String>,
    /// An API key.
    pub api_key: String,
    /// What the SNS verifier fetched.
    pub http: TestHttpGet,
}

impl Pipeline {
    /// A pipeline with the test configuration applied.
    pub async fn new() -> Self {
        Self::with_config(&pipeline_config_text()).await
    }

    /// A pipeline with `yaml` applied (every use case re-reads the configuration each time).
    pub async fn with_config(yaml: &str) -> Self {
        Self::with_config_cache(yaml, Duration::ZERO).await
    }

    /// A pipeline with `yaml` applied, caching the configuration for `ttl` as deployments do.
    pub async fn with_config_cache(yaml: &str, ttl: Duration) -> Self {
        let clock = manual_clock();
        let store = sqlite_store(clock.clone());
        let ids: Arc<SequentialIds> = Arc::new(SequentialIds::default());
        let repo = |component: &str| {
            Repository::new(
                store.clone(),
                clock.clone(),
                EventSource::klaxon(component).unwrap(),
            )
        };
        let core = |component: &str| {
            Core::new(
                repo(component),
                ConfigCache::new(ttl),
                clock.clone(),
                ids.clone(),
            )
        };
        let config = Config::from_yaml(yaml).expect("the test configuration is valid");
        let admin = repo("cli");
        admin
            .save_config(
                &config.to_canonical_json().unwrap(),
                &config.fingerprint().unwrap(),
                &Actor::system("test"),
            )
            .await
            .unwrap();
        let mut keys = BTreeMap::new();
        for (n, integration) in config.integrations.iter().enumerate() {
            let key = PlainKey::from_random_bytes([n as u8 + 1; 32]);
            admin
                .create_key(
                    key.hash().as_str(),
                    &KeyRecord {
                        kind: KeyKind::Integration,
                        name: integration.name.to_string(),
                        label: None,
                        created_at: clock.now_instant(),
                    },
                )
                .await
                .unwrap();
            keys.insert(integration.name.to_string(), key.expose().to_string());
        }
        let api = PlainKey::from_random_bytes([200; 32]);
        admin
            .create_key(
                api.hash().as_str(),
                &KeyRecord {
                    kind: KeyKind::Api,
                    name: "tests".into(),
                    label: None,
                    created_at: clock.now_instant(),
                },
            )
            .await
            .unwrap();
        let queue = RecordingQueue::new();
        let timers = RecordingTimers::new();
        let http = TestHttpGet::default();
        Pipeline {
            ingest: Arc::new(IngestService::new(
                core("ingest"),
                queue.clone(),
                SnsVerifier::new(http.clone()),
            )),
            grouping: GroupingService::new(core("grouping"), queue.clone(), timers.clone()),
            routing: RoutingService::new(core("routing"), queue.clone(), timers.clone()),
            repo: admin,
            store,
            clock,
            queue,
            timers,
            keys,
            api_key: api.expose().to_string(),
            http,
        }
    }

    /// The key of integration `name`.
    pub fn key(&self, name: &str) -> &str {
        self.keys
            .get(name)
            .map(String::as_str)
            .expect("an integration of the test config")
    }

    /// The ingest routes.
    pub fn ingest_router(&self) -> Router {
        klaxon_app::http::ingest::routes(self.ingest.clone())
    }

    /// Delivers queued alert, incident and timer messages to grouping and routing until those
    /// queues are empty (pages stay on the notifications queue). Returns how many it delivered.
    pub async fn pump(&self) -> usize {
        let mut delivered = 0;
        loop {
            if let Some(QueueMessage::Alert(message)) = self.queue.pop(QueueName::Alerts) {
                self.grouping.handle(&message).await.expect("grouping");
                delivered += 1;
                continue;
            }
            if let Some(message) = self.queue.pop(QueueName::Incidents) {
                self.routing.handle(&message).await.expect("routing");
                delivered += 1;
                continue;
            }
            if let Some(message) = self.queue.pop(QueueName::Timers) {
                self.routing.handle(&message).await.expect("routing");
                delivered += 1;
                continue;
            }
            return delivered;
        }
    }

    /// Moves the clock to the next armed timer's due time and delivers it to routing.
    pub async fn fire_next_timer(&self) -> Option<klaxon_domain::escalation::TimerPayload> {
        let timer = self.timers.take_next()?;
        if timer.due > self.clock.now_instant() {
            self.clock.set(timer.due);
        }
        self.routing
            .handle(&QueueMessage::Timer(timer.payload.clone()))
            .await
            .expect("routing");
        Some(timer.payload)
    }

    /// The page requests queued for notify, removing them.
    pub fn take_pages(&self) -> Vec<klaxon_domain::escalation::PageRequest> {
        self.queue
            .drain(QueueName::Notifications)
            .into_iter()
            .filter_map(|m| match m {
                QueueMessage::Page(page) => Some(page),
                _ => None,
            })
            .collect()
    }
}

/// `ManualClock::now` through the `Clock` trait.
pub trait NowInstant {
    /// Now.
    fn now_instant(&self) -> chrono::DateTime<chrono::Utc>;
}

impl NowInstant for ManualClock {
    fn now_instant(&self) -> chrono::DateTime<chrono::Utc> {
        klaxon_store::Clock::now(self)
    }
}
