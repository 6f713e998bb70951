//! The handler on SQS events: the samples in `events/sqs/` and `events/scheduler/`, and
//! messages produced by the real ingest and grouping use cases, over the SQLite store.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use klaxon_app::messages::QueueName;
use klaxon_app::security::sns::{HttpGet, SnsVerifier};
use klaxon_app::usecases::grouping::GroupingService;
use klaxon_app::usecases::ingest::IngestService;
use klaxon_local::store::SqliteStore;

use klaxon_test_support::{
    ArmedTimer, Env, RecordingQueue, RecordingTimers, failed, read, read_json, sqs_event,
};

struct NoFetch;

impl HttpGet for NoFetch {
    async fn get(&self, _: &str) -> Result<Vec<u8>, String> {
        Err("no network".into())
    }
}

struct Fixture {
    env: Env,
    handler: RoutingHandler<SqliteStore, RecordingQueue, RecordingTimers>,
    queue: RecordingQueue,
    timers: RecordingTimers,
}

impl Fixture {
    async fn new() -> Self {
        let env = Env::new().await;
        let queue = RecordingQueue::default();
        let timers = RecordingTimers::default();
        let handler = RoutingHandler::new(RoutingService::new(
            env.core(COMPONENT),
            queue.clone(),
            timers.clone(),
        ));
        Fixture {
            env,
            handler,
            queue,
            timers,
        }
    }

    /// A native alert through ingest and grouping: returns the incident announcement.
    async fn triggered_incident(&self) -> Vec<QueueMessage> {
        let ingest = IngestService::new(
            self.env.core("ingest"),
            self.queue.clone(),
            SnsVerifier::new(NoFetch),
        );
        ingest
            .ingest(
                Some(&self.env.keys["native"]),
                klaxon_domain::ingest::Request::Body {
                    format: klaxon_domain::ingest::Format::Native,
                    body: read("events/ingest/native-firing.json").as_bytes(),
                },
            )
            .await
            .unwrap();
        let grouping = GroupingService::new(
            self.env.core("grouping"),
            self.queue.clone(),
            self.timers.clone(),
        );
        for message in self.queue.drain(QueueName::Alerts) {
            let QueueMessage::Alert(alert) = message else {
                panic!()
            };
            grouping.handle(&alert).await.unwrap();
        }
        self.queue.drain(QueueName::Incidents)
    }

    fn pages(&self) -> Vec<klaxon_domain::escalation::PageRequest> {
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

#[tokio::test]
async fn a_new_incident_pages_tier_0_and_its_timer_pages_tier_1_once() {
    let fixture = Fixture::new().await;
    let announced = fixture.triggered_incident().await;
    assert_eq!(announced.len(), 1);
    // Delivered twice in one batch (handled concurrently): one escalation. The loser of the
    // optimistic lock may have queued its page request before losing; notify sends each
    // (incident, round, tier, user, channel) once, so only tier 0 may be requested.
    let response = fixture
        .handler
        .handle_batch(sqs_event(&[announced[0].clone(), announced[0].clone()]))
        .await;
    assert!(failed(&response).is_empty(), "{response:?}");
    let pages = fixture.pages();
    assert!(!pages.is_empty());
    assert!(
        pages.iter().all(|p| (p.round, p.tier) == (0, 0)),
        "{pages:?}"
    );
    assert_eq!(fixture.timers.armed().len(), 1, "one timer armed");

    let armed: Vec<_> = fixture.timers.armed().into_values().collect();
    let [ArmedTimer { due, payload }] = armed.as_slice() else {
        panic!("{armed:?}")
    };
    fixture.env.clock.set(*due);
    let timer = QueueMessage::Timer(payload.clone());
    let response = fixture
        .handler
        .handle_batch(sqs_event(&[timer.clone(), timer]))
        .await;
    assert!(failed(&response).is_empty());
    let pages = fixture.pages();
    assert!(!pages.is_empty());
    assert!(
        pages.iter().all(|p| (p.round, p.tier) == (0, 1)),
        "{pages:?}"
    );
    // A late copy after the escalation moved on changes nothing.
    let response = fixture
        .handler
        .handle_batch(sqs_event(&[QueueMessage::Timer(payload.clone())]))
        .await;
    assert!(failed(&response).is_empty());
    assert!(fixture.pages().is_empty());
}

#[tokio::test]
async fn the_sample_batches_fail_only_their_malformed_records() {
    let fixture = Fixture::new().await;
    let incidents: SqsEvent =
        serde_json::from_value(read_json("events/sqs/incidents-mixed-batch.json")).unwrap();
    let response = fixture.handler.handle_batch(incidents).await;
    // Unknown incidents and their timers are stale, not failures.
    assert_eq!(
        failed(&response),
        vec!["5e7d2f10-1c4b-4b8e-8f3a-7a9d1e2c3b44"]
    );

    let timers: SqsEvent =
        serde_json::from_value(read_json("events/sqs/timers-batch.json")).unwrap();
    let response = fixture.handler.handle_batch(timers).await;
    assert!(failed(&response).is_empty(), "{response:?}");

    let fired: SqsEvent =
        serde_json::from_value(read_json("events/scheduler/timer-message.json")).unwrap();
    let response = fixture.handler.handle_batch(fired).await;
    assert!(failed(&response).is_empty(), "{response:?}");
}

#[tokio::test]
async fn messages_of_other_kinds_fail_and_are_not_dropped() {
    let fixture = Fixture::new().await;
    let alerts: SqsEvent =
        serde_json::from_value(read_json("events/sqs/alerts-fifo-batch.json")).unwrap();
    let response = fixture.handler.handle_batch(alerts).await;
    assert_eq!(failed(&response).len(), 4);
    let notifications: SqsEvent =
        serde_json::from_value(read_json("events/sqs/notifications-batch.json")).unwrap();
    let count = notifications.records.len();
    for record in &notifications.records {
        let message = QueueMessage::from_json(record.body.as_deref().unwrap()).unwrap();
        assert!(matches!(
            message,
            QueueMessage::Page(_) | QueueMessage::Notice(_)
        ));
    }
    let response = fixture.handler.handle_batch(notifications).await;
    assert_eq!(
        failed(&response).len(),
        count,
        "pages and notices belong to notify"
    );
    assert!(fixture.queue.all().is_empty());
}

#[tokio::test]
async fn a_permanent_failure_fails_the_record_for_the_dead_letter_queue() {
    let fixture = Fixture::new().await;
    let announced = fixture.triggered_incident().await;
    fixture.env.break_config().await;
    let meta = MessageMeta {
        message_id: "m-0".into(),
        receive_count: 1,
        group_id: None,
    };
    let error = fixture
        .handler
        .handle_message(announced[0].clone(), meta)
        .await
        .unwrap_err();
    assert!(matches!(error, MessageFailure::Permanent(_)), "{error}");
    let response = fixture.handler.handle_batch(sqs_event(&announced)).await;
    assert_eq!(failed(&response), vec!["m-0"]);
    assert!(fixture.pages().is_empty());
}

/// The self-heartbeat (`SELF_HEARTBEAT_URL`): a sweep whose ping cannot be delivered still
/// succeeds (the record is not failed, so SQS does not redeliver the sweep), and says so.
#[tokio::test]
async fn a_failed_heartbeat_ping_never_fails_the_sweep_record() {
    use klaxon_app::heartbeat::{Heartbeat, HeartbeatMethod};
    use klaxon_app::usecases::routing::RoutingOutcome;
    let env = Env::new().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/ping", closed.local_addr().unwrap());
    drop(closed);
    let heartbeat = Heartbeat::new(&url, HeartbeatMethod::Get).unwrap();
    let handler = RoutingHandler::new(
        RoutingService::new(
            env.core(COMPONENT),
            RecordingQueue::default(),
            RecordingTimers::default(),
        )
        .with_heartbeat(heartbeat.clone()),
    );
    let sweep = QueueMessage::Sweep { at: None };
    let meta = MessageMeta {
        message_id: "sweep-1".into(),
        receive_count: 1,
        group_id: None,
    };
    let outcome = handler.handle_message(sweep.clone(), meta).await.unwrap();
    let RoutingOutcome::Swept(report) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(report.heartbeat, Some(false));
    assert_eq!(heartbeat.failures(), 1);
    let response = handler.handle_batch(sqs_event(&[sweep])).await;
    assert!(failed(&response).is_empty());
    assert_eq!(heartbeat.failures(), 2);
}

/// A heartbeat whose timer was lost (armed, never fired) is expired by the sweep once it is
/// more than `SWEEP_GRACE` overdue, over the SQLite store of `klaxon serve`: its alert is
/// stored and queued for grouping once; within the grace, or on a later sweep, nothing.
#[tokio::test]
async fn the_sweep_expires_a_heartbeat_whose_timer_was_lost() {
    use klaxon_app::messages::AlertAction;
    use klaxon_app::usecases::routing::{RoutingOutcome, SWEEP_GRACE};
    use klaxon_domain::config::Config;
    use klaxon_domain::heartbeat::HeartbeatName;
    let env = Env::new().await;
    let queue = RecordingQueue::default();
    let timers = RecordingTimers::default();
    let handler = RoutingHandler::new(RoutingService::new(
        env.core(COMPONENT),
        queue.clone(),
        timers.clone(),
    ));
    let config = Config::from_yaml(&read("tests/fixtures/pipeline.yaml")).unwrap();
    let backup = HeartbeatName::new("backup").unwrap();
    let heartbeat = config.heartbeat(&backup).unwrap().clone();
    let core = env.core(COMPONENT);
    let pinged = klaxon_app::usecases::heartbeats::ping(&core, &queue, &timers, &heartbeat)
        .await
        .unwrap();
    assert_eq!(
        timers.armed_heartbeats().len(),
        1,
        "the timer nobody will fire"
    );

    let sweep = async || {
        let meta = MessageMeta {
            message_id: "sweep".into(),
            receive_count: 1,
            group_id: None,
        };
        match handler
            .handle_message(QueueMessage::Sweep { at: None }, meta)
            .await
            .unwrap()
        {
            RoutingOutcome::Swept(report) => report.expired_heartbeats,
            other => panic!("{other:?}"),
        }
    };
    let missed_alerts = || {
        queue
            .drain(QueueName::Alerts)
            .into_iter()
            .filter(|m| {
                matches!(m, QueueMessage::Alert(a)
                    if a.action == AlertAction::Fire && a.key.dedup_key.as_str() == "heartbeat:backup")
            })
            .count()
    };
    env.clock
        .set(pinged.deadline + chrono::TimeDelta::seconds(30));
    assert_eq!(
        sweep().await,
        0,
        "within the grace the timer may still come"
    );
    assert_eq!(missed_alerts(), 0);

    env.clock
        .set(pinged.deadline + SWEEP_GRACE + chrono::TimeDelta::seconds(1));
    assert_eq!(sweep().await, 1);
    assert_eq!(
        missed_alerts(),
        1,
        "the missed-heartbeat alert goes to grouping"
    );
    let state = env
        .repo(COMPONENT)
        .heartbeat_state(&backup)
        .await
        .unwrap()
        .unwrap();
    assert!(state.expired_at.is_some(), "{state:?}");
    assert_eq!(sweep().await, 0, "once");
    assert_eq!(missed_alerts(), 0);
}
