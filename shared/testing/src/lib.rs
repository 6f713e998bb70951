//! Test support for the function crates' unit tests and the integration tests (`klaxon-tests`),
//! a dev-dependency only: the port [`fakes`] (recording queue, timers and senders), the SQLite
//! store with the pipeline test configuration applied and a key per integration ([`Env`]), and
//! API Gateway requests and SQS events built from the samples in `events/`.
//!
//! It depends on the shared crates only, never on a function crate or `klaxon-tests`, so both
//! can use it without a dependency cycle.

// At most 80 lines per function (clippy.toml), in every crate under shared/ and functions/.
#![warn(clippy::too_many_lines)]
// Test support code: a failed set-up should stop the test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod fakes;

pub use fakes::{ArmedTimer, RecordingQueue, RecordingSenders, RecordingTimers};

use chrono::DateTime;
use klaxon_app::messages::{QueueMessage, QueueName};
use klaxon_app::ports::UuidV7Ids;
use klaxon_app::security::keys::PlainKey;
use klaxon_app::usecases::{ConfigCache, Core};
use klaxon_aws::lambda::SqsEvent;
use klaxon_domain::config::Config;
use klaxon_domain::timeline::{Actor, EventSource};
use klaxon_local::store::SqliteStore;
use klaxon_store::repo::{KeyKind, KeyRecord, Repository};
use klaxon_store::{Clock, ManualClock};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The workspace root.
pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A file of the workspace, as text.
pub fn read(path: &str) -> String {
    std::fs::read_to_string(workspace().join(path)).unwrap()
}

/// A file of the workspace, as JSON.
pub fn read_json(path: &str) -> Value {
    serde_json::from_str(&read(path)).unwrap()
}

/// An in-memory store with `tests/fixtures/pipeline.yaml` applied and a key per integration.
pub struct Env {
    /// The store.
    pub store: SqliteStore,
    /// The clock (2026-01-01T00:00:00Z).
    pub clock: Arc<ManualClock>,
    /// Integration keys by integration name.
    pub keys: BTreeMap<String, String>,
    /// An API key.
    pub api_key: String,
}

impl Env {
    /// A fresh store with the test configuration.
    pub async fn new() -> Self {
        let clock = Arc::new(ManualClock::new(
            DateTime::from_timestamp(1_767_225_600, 0).unwrap(),
        ));
        let store = SqliteStore::open_in_memory(clock.clone()).unwrap();
        let env = Env {
            store,
            clock,
            keys: BTreeMap::new(),
            api_key: String::new(),
        };
        let config = Config::from_yaml(&read("tests/fixtures/pipeline.yaml")).unwrap();
        let admin = env.repo("cli");
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
                        created_at: env.clock.now(),
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
                    name: "unit-tests".into(),
                    label: None,
                    created_at: env.clock.now(),
                },
            )
            .await
            .unwrap();
        Env {
            keys,
            api_key: api.expose().to_string(),
            ..env
        }
    }

    /// A repository for `component`.
    pub fn repo(&self, component: &str) -> Repository<SqliteStore> {
        Repository::new(
            self.store.clone(),
            self.clock.clone(),
            EventSource::klaxon(component).unwrap(),
        )
    }

    /// A core for `component` that always reads the latest configuration.
    pub fn core(&self, component: &str) -> Core<SqliteStore> {
        Core::new(
            self.repo(component),
            ConfigCache::new(Duration::ZERO),
            self.clock.clone(),
            Arc::new(UuidV7Ids),
        )
    }

    /// Replaces the current configuration with one that no longer validates (as an
    /// incompatible Klaxon version might leave it).
    pub async fn break_config(&self) {
        self.repo("cli")
            .save_config("{\"version\":99}", "broken", &Actor::system("test"))
            .await
            .unwrap();
    }
}

/// An API Gateway response as JSON: its status and body text (decoded when base64).
pub fn http_response(response: &impl serde::Serialize) -> (u64, String) {
    use base64::Engine;
    let value = serde_json::to_value(response).unwrap();
    let body = value["body"].as_str().unwrap_or_default();
    let body = if value["isBase64Encoded"] == json!(true) {
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(body)
                .unwrap(),
        )
        .unwrap()
    } else {
        body.to_owned()
    };
    (value["statusCode"].as_u64().unwrap(), body)
}

/// An `events/apigw` request with `(placeholder, value)` pairs replaced.
pub fn apigw_request(file: &str, replacements: &[(&str, &str)]) -> Value {
    let mut text = read(&format!("events/apigw/{file}"));
    for (placeholder, value) in replacements {
        text = text.replace(placeholder, value);
    }
    serde_json::from_str(&text).unwrap()
}

/// An SQS event carrying `messages` (one record each, ids `m-0`, `m-1`, …), shaped like the
/// samples in `events/sqs/`.
pub fn sqs_event(messages: &[QueueMessage]) -> SqsEvent {
    let records: Vec<Value> = messages
        .iter()
        .enumerate()
        .map(|(n, message)| {
            let mut attributes = json!({
                "ApproximateReceiveCount": "1",
                "SentTimestamp": "1767225600000",
                "SenderId": "AROAEXAMPLE123456789:test",
                "ApproximateFirstReceiveTimestamp": "1767225600010"
            });
            if let (Some(group), Some(dedup)) = (message.group_id(), message.dedup_id()) {
                attributes["MessageGroupId"] = json!(group);
                attributes["MessageDeduplicationId"] = json!(dedup);
            }
            json!({
                "messageId": format!("m-{n}"),
                "receiptHandle": format!("handle-{n}"),
                "body": message.to_json(),
                "attributes": attributes,
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": format!("arn:aws:sqs:us-east-1:123456789012:{}", message.queue().as_str()),
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

/// The ids of the failed records of a batch response.
pub fn failed(response: &klaxon_aws::lambda::SqsBatchResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}

/// Runs a native alert through ingest, grouping and routing on `env`: returns the page requests
/// routing queued (tier 0) and the incident.
pub async fn page_requests(env: &Env) -> (Vec<QueueMessage>, klaxon_domain::ids::IncidentId) {
    struct NoFetch;
    impl klaxon_app::security::sns::HttpGet for NoFetch {
        async fn get(&self, _: &str) -> Result<Vec<u8>, String> {
            Err("no network".into())
        }
    }
    let queue = RecordingQueue::default();
    let timers = RecordingTimers::default();
    let ingest = klaxon_app::usecases::ingest::IngestService::new(
        env.core("ingest"),
        queue.clone(),
        klaxon_app::security::sns::SnsVerifier::new(NoFetch),
    );
    ingest
        .ingest(
            Some(&env.keys["native"]),
            klaxon_domain::ingest::Request::Body {
                format: klaxon_domain::ingest::Format::Native,
                body: read("events/ingest/native-firing.json").as_bytes(),
            },
        )
        .await
        .unwrap();
    let grouping = klaxon_app::usecases::grouping::GroupingService::new(
        env.core("grouping"),
        queue.clone(),
        timers.clone(),
    );
    for message in queue.drain(QueueName::Alerts) {
        let QueueMessage::Alert(alert) = message else {
            panic!()
        };
        grouping.handle(&alert).await.unwrap();
    }
    let routing = klaxon_app::usecases::routing::RoutingService::new(
        env.core("routing"),
        queue.clone(),
        timers,
    );
    let mut incident = None;
    for message in queue.drain(QueueName::Incidents) {
        if let QueueMessage::Incident(event) = &message {
            incident = Some(event.incident.clone());
        }
        routing.handle(&message).await.unwrap();
    }
    (queue.drain(QueueName::Notifications), incident.unwrap())
}
