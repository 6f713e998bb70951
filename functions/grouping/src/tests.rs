//! The handler on SQS events: the samples in `events/sqs/`, and alert messages queued by the
//! real ingest use case, over the SQLite store.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use klaxon_app::messages::{AlertAction, QueueName};
use klaxon_app::security::sns::{HttpGet, SnsVerifier};
use klaxon_app::usecases::ingest::IngestService;
use klaxon_local::store::SqliteStore;

#[path = "../../testing/support.rs"]
mod support;
use support::{Env, RecordingQueue, RecordingTimers, failed, read, read_json, sqs_event};

struct NoFetch;

impl HttpGet for NoFetch {
    async fn get(&self, _: &str) -> Result<Vec<u8>, String> {
        Err("no network".into())
    }
}

struct Fixture {
    env: Env,
    handler: GroupingHandler<SqliteStore, RecordingQueue, RecordingTimers>,
    queue: RecordingQueue,
}

impl Fixture {
    async fn new() -> Self {
        let env = Env::new().await;
        let queue = RecordingQueue::default();
        let handler = GroupingHandler::new(GroupingService::new(
            env.core(COMPONENT),
            queue.clone(),
            RecordingTimers::default(),
        ));
        Fixture {
            env,
            handler,
            queue,
        }
    }

    /// Ingests the Alertmanager sample (two alerts of one group) and returns the queued alert
    /// messages.
    async fn ingest_alertmanager(&self, file: &str) -> Vec<QueueMessage> {
        let ingest = IngestService::new(
            self.env.core("ingest"),
            self.queue.clone(),
            SnsVerifier::new(NoFetch),
        );
        ingest
            .ingest(
                Some(&self.env.keys["am"]),
                klaxon_domain::ingest::Request::Body {
                    format: klaxon_domain::ingest::Format::Alertmanager,
                    body: read(&format!("events/ingest/{file}")).as_bytes(),
                },
            )
            .await
            .unwrap();
        self.queue.take(QueueName::Alerts)
    }
}

#[tokio::test]
async fn a_batch_of_ingested_alerts_opens_one_incident_and_announces_it_once() {
    let fixture = Fixture::new().await;
    let alerts = fixture
        .ingest_alertmanager("alertmanager-firing.json")
        .await;
    assert_eq!(alerts.len(), 2);
    let response = fixture.handler.handle_batch(sqs_event(&alerts)).await;
    assert!(failed(&response).is_empty(), "{response:?}");
    // Each alert announces the incident until routing starts it (routing ignores repeats).
    let announced: std::collections::BTreeSet<_> = fixture
        .queue
        .take(QueueName::Incidents)
        .into_iter()
        .map(|m| match m {
            QueueMessage::Incident(i) => i.incident,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(announced.len(), 1, "{announced:?}");
    let open = fixture
        .env
        .repo("test")
        .open_incidents(None, 10)
        .await
        .unwrap()
        .items;
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].incident.alerts().linked, 2);

    // The same batch again (SQS redelivery): no second incident, no alert linked twice.
    let response = fixture.handler.handle_batch(sqs_event(&alerts)).await;
    assert!(failed(&response).is_empty());
    let open = fixture
        .env
        .repo("test")
        .open_incidents(None, 10)
        .await
        .unwrap()
        .items;
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].incident.alerts().linked, 2);

    // The resolved group resolves the incident.
    let resolves = fixture
        .ingest_alertmanager("alertmanager-resolved.json")
        .await;
    assert!(
        resolves
            .iter()
            .all(|m| matches!(m, QueueMessage::Alert(a) if a.action == AlertAction::Resolve))
    );
    let response = fixture.handler.handle_batch(sqs_event(&resolves)).await;
    assert!(failed(&response).is_empty());
    assert!(
        fixture
            .env
            .repo("test")
            .open_incidents(None, 10)
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

#[tokio::test]
async fn the_sample_batch_fails_only_its_malformed_record() {
    let fixture = Fixture::new().await;
    let event: SqsEvent =
        serde_json::from_value(read_json("events/sqs/alerts-fifo-batch.json")).unwrap();
    let response = fixture.handler.handle_batch(event).await;
    // The alerts were never stored (another deployment's ids): handled as stale, not failed.
    assert_eq!(
        failed(&response),
        vec!["c0000001-0000-4000-8000-000000000001"]
    );
}

#[tokio::test]
async fn messages_of_other_kinds_fail_and_are_not_dropped() {
    let fixture = Fixture::new().await;
    let event: SqsEvent =
        serde_json::from_value(read_json("events/sqs/timers-batch.json")).unwrap();
    let response = fixture.handler.handle_batch(event).await;
    assert_eq!(
        failed(&response),
        vec![
            "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e01",
            "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e02"
        ]
    );
    let meta = MessageMeta {
        message_id: "m".into(),
        receive_count: 1,
        group_id: None,
    };
    let error = fixture
        .handler
        .handle_message(QueueMessage::Sweep { at: None }, meta)
        .await
        .unwrap_err();
    assert!(
        matches!(error, MessageFailure::WrongKind { kind: "sweep", .. }),
        "{error}"
    );
}

#[tokio::test]
async fn a_permanent_failure_fails_the_record_for_the_dead_letter_queue() {
    let fixture = Fixture::new().await;
    let alerts = fixture
        .ingest_alertmanager("alertmanager-firing.json")
        .await;
    fixture.env.break_config().await;
    let response = fixture.handler.handle_batch(sqs_event(&alerts)).await;
    // Both records fail: the first with the error, the second because its FIFO group stopped.
    assert_eq!(failed(&response), vec!["m-0", "m-1"]);
    let meta = MessageMeta {
        message_id: "m-0".into(),
        receive_count: 5,
        group_id: None,
    };
    let error = fixture
        .handler
        .handle_message(alerts[0].clone(), meta)
        .await
        .unwrap_err();
    assert!(!error.is_transient(), "{error}");
    assert!(fixture.queue.all().is_empty(), "nothing was announced");
}
