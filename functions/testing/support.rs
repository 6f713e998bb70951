//! Test support shared by the function crates' unit tests (included with `#[path]`): the SQLite
//! store with the pipeline test configuration applied and a key per integration, recording
//! queue and timers, and SQS events built around queue messages.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, Utc};
use klaxon_app::messages::{QueueMessage, QueueName};
use klaxon_app::ports::{Queue, QueueError, TimerError, Timers, UuidV7Ids};
use klaxon_app::security::keys::PlainKey;
use klaxon_app::usecases::{ConfigCache, Core};
use klaxon_aws::lambda::SqsEvent;
use klaxon_domain::config::Config;
use klaxon_domain::escalation::{TimerName, TimerPayload};
use klaxon_domain::timeline::{Actor, EventSource};
use klaxon_local::store::SqliteStore;
use klaxon_store::repo::{KeyKind, KeyRecord, Repository};
use klaxon_store::{Clock, ManualClock};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
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

/// A queue that records every message.
#[derive(Clone, Default)]
pub struct RecordingQueue(pub Arc<Mutex<Vec<QueueMessage>>>);

impl RecordingQueue {
    /// Everything sent so far.
    pub fn all(&self) -> Vec<QueueMessage> {
        self.0.lock().unwrap().clone()
    }

    /// Removes and returns the messages sent to `queue`.
    pub fn take(&self, queue: QueueName) -> Vec<QueueMessage> {
        let mut all = self.0.lock().unwrap();
        let (taken, kept) = all.drain(..).partition(|m| m.queue() == queue);
        *all = kept;
        taken
    }
}

impl Queue for RecordingQueue {
    async fn send(&self, message: &QueueMessage) -> Result<(), QueueError> {
        self.0.lock().unwrap().push(message.clone());
        Ok(())
    }
}

/// An armed timer: when it is due and what it delivers.
pub type Armed = (DateTime<Utc>, TimerPayload);

/// Timers kept by name.
#[derive(Clone, Default)]
pub struct RecordingTimers(pub Arc<Mutex<BTreeMap<String, Armed>>>);

impl Timers for RecordingTimers {
    async fn arm(
        &self,
        name: &TimerName,
        due: DateTime<Utc>,
        payload: &TimerPayload,
    ) -> Result<(), TimerError> {
        self.0
            .lock()
            .unwrap()
            .entry(name.as_str().to_owned())
            .or_insert((due, payload.clone()));
        Ok(())
    }

    async fn cancel(&self, name: &TimerName) -> Result<(), TimerError> {
        self.0.lock().unwrap().remove(name.as_str());
        Ok(())
    }
}

/// An in-memory store with `tests/fixtures/pipeline.yaml` applied and a key per integration.
pub struct Env {
    /// The store.
    pub store: SqliteStore,
    /// The clock (2026-01-01T00:00:00Z).
    pub clock: Arc<ManualClock>,
    /// Integration keys by integration name.
    pub keys: BTreeMap<String, String>,
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
        Env { keys, ..env }
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
