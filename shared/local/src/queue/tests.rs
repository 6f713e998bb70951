use super::*;
use chrono::TimeZone;
use klaxon_app::messages::{AlertAction, AlertMessage, IncidentEvent, IncidentMessage};
use klaxon_domain::alert::AlertKey;
use klaxon_domain::ids::{AlertId, DedupKey, GroupKey, IncidentId, IntegrationName};
use klaxon_store::ManualClock;

const VISIBILITY: Duration = Duration::from_secs(30);

pub(crate) fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 29, 0, 59, 0).unwrap()
}

pub(crate) fn alert(group: &str, alert: &str) -> QueueMessage {
    alert_action(group, alert, AlertAction::Fire)
}

fn alert_action(group: &str, alert: &str, action: AlertAction) -> QueueMessage {
    QueueMessage::Alert(AlertMessage {
        alert_id: AlertId::new(alert).unwrap(),
        key: AlertKey {
            integration: IntegrationName::new("prometheus").unwrap(),
            dedup_key: DedupKey::new(format!("key-{alert}")).unwrap(),
        },
        action,
        group_key: GroupKey(group.to_owned()),
        at: start(),
    })
}

fn incident(id: &str) -> QueueMessage {
    QueueMessage::Incident(IncidentMessage {
        incident: IncidentId::new(id).unwrap(),
        event: IncidentEvent::Triggered,
    })
}

fn alert_id(received: &Received) -> String {
    match &received.message {
        QueueMessage::Alert(message) => message.alert_id.to_string(),
        other => panic!("not an alert: {other:?}"),
    }
}

fn queue_with_clock() -> (SqliteQueue, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(start()));
    let queue = SqliteQueue::open_in_memory(clock.clone()).unwrap();
    (queue, clock)
}

async fn receive_ids(queue: &SqliteQueue) -> Vec<String> {
    queue
        .receive(QueueName::Alerts, 10, VISIBILITY)
        .await
        .unwrap()
        .iter()
        .map(alert_id)
        .collect()
}

#[tokio::test]
async fn fifo_groups_hand_out_their_messages_in_order_and_block_while_one_is_in_flight() {
    let (queue, clock) = queue_with_clock();
    for (group, id) in [
        ("a", "a1"),
        ("b", "b1"),
        ("a", "a2"),
        ("b", "b2"),
        ("a", "a3"),
    ] {
        queue.send(&alert(group, id)).await.unwrap();
        clock.advance(chrono::Duration::milliseconds(1));
    }
    // One at a time (a batch of one): each group's head.
    let first = queue
        .receive(QueueName::Alerts, 1, VISIBILITY)
        .await
        .unwrap();
    assert_eq!(first.iter().map(alert_id).collect::<Vec<_>>(), ["a1"]);
    let second = queue
        .receive(QueueName::Alerts, 1, VISIBILITY)
        .await
        .unwrap();
    assert_eq!(second.iter().map(alert_id).collect::<Vec<_>>(), ["b1"]);
    // Both heads are in flight: nothing else of either group may go out.
    assert!(receive_ids(&queue).await.is_empty());

    assert!(queue.ack(first[0].id).await.unwrap());
    // A larger batch takes the rest of group a, in order.
    let rest = queue
        .receive(QueueName::Alerts, 10, VISIBILITY)
        .await
        .unwrap();
    assert_eq!(rest.iter().map(alert_id).collect::<Vec<_>>(), ["a2", "a3"]);

    queue.ack(second[0].id).await.unwrap();
    assert_eq!(receive_ids(&queue).await, ["b2"]);
}

#[tokio::test]
async fn a_retried_group_head_keeps_its_group_blocked_but_not_other_queues() {
    let (queue, clock) = queue_with_clock();
    queue.send(&alert("a", "a1")).await.unwrap();
    queue.send(&alert("a", "a2")).await.unwrap();
    queue.send(&incident("inc1")).await.unwrap();
    let head = queue
        .receive(QueueName::Alerts, 1, VISIBILITY)
        .await
        .unwrap();
    assert_eq!(head.len(), 1);
    queue
        .retry(head[0].id, Duration::from_secs(20), "store down")
        .await
        .unwrap();
    clock.advance(chrono::Duration::seconds(19));
    assert!(receive_ids(&queue).await.is_empty());
    let incidents = queue
        .receive(QueueName::Incidents, 10, VISIBILITY)
        .await
        .unwrap();
    assert_eq!(incidents.len(), 1);
    clock.advance(chrono::Duration::seconds(1));
    let again = queue
        .receive(QueueName::Alerts, 10, VISIBILITY)
        .await
        .unwrap();
    // The group's messages come out together, in order (SQS FIFO hands out a group's messages
    // in one batch too).
    assert_eq!(again.iter().map(alert_id).collect::<Vec<_>>(), ["a1", "a2"]);
    assert_eq!(again[0].attempts, 2);
    assert_eq!(again[1].attempts, 1);
}

#[tokio::test]
async fn a_batch_holds_a_groups_messages_in_order_up_to_the_first_one_not_receivable() {
    let (queue, _clock) = queue_with_clock();
    for id in ["a1", "a2", "a3"] {
        queue.send(&alert("a", id)).await.unwrap();
    }
    queue.send(&alert("b", "b1")).await.unwrap();
    let first = queue
        .receive(QueueName::Alerts, 2, VISIBILITY)
        .await
        .unwrap();
    assert_eq!(first.iter().map(alert_id).collect::<Vec<_>>(), ["a1", "a2"]);
    // a1 and a2 are in flight: a3 waits behind them, group b does not.
    assert_eq!(receive_ids(&queue).await, ["b1"]);
    queue.release(first[1].id).await.unwrap();
    // a2 is receivable again, but a1 (older, same group) is still in flight: nothing of a.
    assert!(receive_ids(&queue).await.is_empty());
    queue.ack(first[0].id).await.unwrap();
    assert_eq!(receive_ids(&queue).await, ["a2", "a3"]);
}

#[tokio::test]
async fn messages_without_a_group_are_handed_out_together_in_send_order() {
    let (queue, _clock) = queue_with_clock();
    for id in ["i1", "i2", "i3"] {
        queue.send(&incident(id)).await.unwrap();
    }
    let batch = queue
        .receive(QueueName::Incidents, 2, VISIBILITY)
        .await
        .unwrap();
    let ids: Vec<_> = batch
        .iter()
        .map(|r| match &r.message {
            QueueMessage::Incident(m) => m.incident.to_string(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(ids, ["i1", "i2"]);
    assert_eq!(
        queue
            .receive(QueueName::Incidents, 10, VISIBILITY)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn a_dedup_id_repeated_within_five_minutes_is_dropped_even_after_ack() {
    let (queue, clock) = queue_with_clock();
    queue.send(&alert("a", "x1")).await.unwrap();
    queue.send(&alert("a", "x1")).await.unwrap();
    assert_eq!(queue.len(QueueName::Alerts).await.unwrap(), 1);
    // Another action of the same occurrence is another dedup id.
    queue
        .send(&alert_action("a", "x1", AlertAction::Resolve))
        .await
        .unwrap();
    assert_eq!(queue.len(QueueName::Alerts).await.unwrap(), 2);

    let first = queue
        .receive(QueueName::Alerts, 1, VISIBILITY)
        .await
        .unwrap();
    queue.ack(first[0].id).await.unwrap();
    clock.advance(chrono::Duration::seconds(4 * 60 + 59));
    queue.send(&alert("a", "x1")).await.unwrap();
    assert_eq!(queue.len(QueueName::Alerts).await.unwrap(), 1);

    clock.advance(chrono::Duration::seconds(1));
    queue.send(&alert("a", "x1")).await.unwrap();
    assert_eq!(queue.len(QueueName::Alerts).await.unwrap(), 2);
}

#[tokio::test]
async fn an_unacked_message_is_redelivered_when_its_visibility_expires() {
    let (queue, clock) = queue_with_clock();
    queue.send(&alert("a", "a1")).await.unwrap();
    let first = queue
        .receive(QueueName::Alerts, 1, VISIBILITY)
        .await
        .unwrap();
    assert_eq!(first[0].attempts, 1);
    assert_eq!(
        queue.next_visible(QueueName::Alerts).await.unwrap(),
        Some(start() + chrono::Duration::seconds(30))
    );
    clock.advance(chrono::Duration::milliseconds(29_999));
    assert!(receive_ids(&queue).await.is_empty());
    clock.advance(chrono::Duration::milliseconds(1));
    let again = queue
        .receive(QueueName::Alerts, 1, VISIBILITY)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, first[0].id);
    assert_eq!(again[0].attempts, 2);
}

#[tokio::test]
async fn retry_makes_a_message_visible_after_the_delay() {
    let (queue, clock) = queue_with_clock();
    queue.send(&incident("inc1")).await.unwrap();
    let first = queue
        .receive(QueueName::Incidents, 1, VISIBILITY)
        .await
        .unwrap();
    assert!(
        queue
            .retry(first[0].id, Duration::from_secs(10), "boom")
            .await
            .unwrap()
    );
    clock.advance(chrono::Duration::seconds(9));
    assert!(
        queue
            .receive(QueueName::Incidents, 1, VISIBILITY)
            .await
            .unwrap()
            .is_empty()
    );
    clock.advance(chrono::Duration::seconds(1));
    let again = queue
        .receive(QueueName::Incidents, 1, VISIBILITY)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 2);
}

#[tokio::test]
async fn a_message_failing_its_last_attempt_is_dead_lettered_with_the_error() {
    let (queue, _clock) = queue_with_clock();
    let queue = queue.with_options(QueueOptions {
        max_attempts: 3,
        ..QueueOptions::default()
    });
    queue.send(&incident("inc1")).await.unwrap();
    for attempt in 1..=3 {
        let batch = queue
            .receive(QueueName::Incidents, 1, VISIBILITY)
            .await
            .unwrap();
        assert_eq!(batch.len(), 1, "attempt {attempt}");
        assert_eq!(batch[0].attempts, attempt);
        queue
            .retry(
                batch[0].id,
                Duration::ZERO,
                &format!("smtp down #{attempt}"),
            )
            .await
            .unwrap();
    }
    assert!(queue.is_empty(QueueName::Incidents).await.unwrap());
    let dead = queue.dead_letters(QueueName::Incidents).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].attempts, 3);
    assert!(
        dead[0].reason.contains("smtp down #3"),
        "{}",
        dead[0].reason
    );
    assert_eq!(
        QueueMessage::from_json(&dead[0].body).unwrap(),
        incident("inc1")
    );
    assert!(
        queue
            .dead_letters(QueueName::Alerts)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_message_whose_consumer_keeps_dying_is_dead_lettered() {
    let (queue, clock) = queue_with_clock();
    let queue = queue.with_options(QueueOptions {
        max_attempts: 2,
        ..QueueOptions::default()
    });
    queue.send(&alert("a", "a1")).await.unwrap();
    queue.send(&alert("a", "a2")).await.unwrap();
    for _ in 0..2 {
        let received = queue
            .receive(QueueName::Alerts, 1, VISIBILITY)
            .await
            .unwrap();
        assert_eq!(received.iter().map(alert_id).collect::<Vec<_>>(), ["a1"]);
        clock.advance(chrono::Duration::seconds(30));
    }
    // a1 used both attempts: it goes to the dead letters and a2 goes out.
    assert_eq!(receive_ids(&queue).await, ["a2"]);
    let dead = queue.dead_letters(QueueName::Alerts).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].group_id.as_deref(), Some("a"));
    assert!(
        dead[0].reason.contains("not acknowledged after 2"),
        "{}",
        dead[0].reason
    );
}

#[tokio::test]
async fn an_unparseable_body_is_dead_lettered_and_unblocks_its_group() {
    let (queue, _clock) = queue_with_clock();
    queue
        .send_raw(
            QueueName::Alerts,
            Some("a".into()),
            None,
            "{not json".into(),
        )
        .await
        .unwrap();
    queue.send(&alert("a", "a2")).await.unwrap();
    assert_eq!(receive_ids(&queue).await, ["a2"]);
    let dead = queue.dead_letters(QueueName::Alerts).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, "{not json");
    assert_eq!(dead[0].attempts, 0);
    assert!(
        dead[0].reason.starts_with("unparseable body"),
        "{}",
        dead[0].reason
    );
}

#[tokio::test]
async fn a_dead_letter_can_be_redriven_to_the_end_of_its_queue() {
    let (queue, _clock) = queue_with_clock();
    let queue = queue.with_options(QueueOptions {
        max_attempts: 1,
        ..QueueOptions::default()
    });
    queue.send(&incident("inc1")).await.unwrap();
    let batch = queue
        .receive(QueueName::Incidents, 1, VISIBILITY)
        .await
        .unwrap();
    queue
        .retry(batch[0].id, Duration::ZERO, "bug")
        .await
        .unwrap();
    let dead = queue.dead_letters(QueueName::Incidents).await.unwrap();
    assert!(queue.redrive(dead[0].id).await.unwrap());
    assert!(!queue.redrive(dead[0].id).await.unwrap());
    assert!(
        queue
            .dead_letters(QueueName::Incidents)
            .await
            .unwrap()
            .is_empty()
    );
    let again = queue
        .receive(QueueName::Incidents, 1, VISIBILITY)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].message, incident("inc1"));
    assert_eq!(again[0].attempts, 1);
}

#[tokio::test]
async fn release_returns_a_message_without_counting_the_attempt() {
    let (queue, _clock) = queue_with_clock();
    queue.send(&incident("inc1")).await.unwrap();
    let batch = queue
        .receive(QueueName::Incidents, 1, VISIBILITY)
        .await
        .unwrap();
    assert!(queue.release(batch[0].id).await.unwrap());
    let again = queue
        .receive(QueueName::Incidents, 1, VISIBILITY)
        .await
        .unwrap();
    assert_eq!(again[0].attempts, 1);
    assert!(queue.ack(again[0].id).await.unwrap());
    assert!(!queue.ack(again[0].id).await.unwrap());
    assert!(!queue.release(again[0].id).await.unwrap());
}

#[tokio::test]
async fn a_send_wakes_subscribers_of_that_queue_only() {
    let (queue, _clock) = queue_with_clock();
    let mut alerts = queue.subscribe(QueueName::Alerts);
    let mut incidents = queue.subscribe(QueueName::Incidents);
    queue.send(&alert("a", "a1")).await.unwrap();
    assert!(alerts.has_changed().unwrap());
    assert!(!incidents.has_changed().unwrap());
    alerts.borrow_and_update();
    // A duplicate is not a new message: no wake-up.
    queue.send(&alert("a", "a1")).await.unwrap();
    assert!(!alerts.has_changed().unwrap());
    queue.send(&incident("inc1")).await.unwrap();
    assert!(incidents.has_changed().unwrap());
    incidents.borrow_and_update();
}

#[tokio::test]
async fn an_unacked_message_survives_dropping_and_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("klaxon.db");
    let clock = Arc::new(ManualClock::new(start()));
    {
        let queue = SqliteQueue::open(&path, clock.clone()).unwrap();
        queue.send(&alert("a", "a1")).await.unwrap();
        queue.send(&alert("a", "a2")).await.unwrap();
        let batch = queue
            .receive(QueueName::Alerts, 1, VISIBILITY)
            .await
            .unwrap();
        assert_eq!(batch.len(), 1);
        // The process dies here: no ack.
    }
    let queue = SqliteQueue::open(&path, clock.clone()).unwrap();
    // The lease was durable too: the message waits out its visibility timeout...
    assert!(receive_ids(&queue).await.is_empty());
    clock.advance(chrono::Duration::seconds(30));
    // ...then comes back, still ahead of the rest of its group.
    let again = queue
        .receive(QueueName::Alerts, 1, VISIBILITY)
        .await
        .unwrap();
    assert_eq!(again.iter().map(alert_id).collect::<Vec<_>>(), ["a1"]);
    assert_eq!(again[0].attempts, 2);
    queue.ack(again[0].id).await.unwrap();
    assert_eq!(receive_ids(&queue).await, ["a2"]);
}

#[tokio::test]
async fn recover_leases_redelivers_a_dead_process_s_messages_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("klaxon.db");
    let clock = Arc::new(ManualClock::new(start()));
    {
        let queue = SqliteQueue::open(&path, clock.clone()).unwrap();
        queue.send(&incident("inc1")).await.unwrap();
        queue.send(&incident("inc2")).await.unwrap();
        let batch = queue
            .receive(QueueName::Incidents, 1, VISIBILITY)
            .await
            .unwrap();
        queue
            .retry(batch[0].id, Duration::from_secs(60), "later")
            .await
            .unwrap();
        let leased = queue
            .receive(QueueName::Incidents, 1, VISIBILITY)
            .await
            .unwrap();
        assert_eq!(leased[0].message, incident("inc2"));
    }
    let queue = SqliteQueue::open(&path, clock.clone()).unwrap();
    // Only the leased message is released; the delayed retry keeps its delay.
    assert_eq!(queue.recover_leases().await.unwrap(), 1);
    let batch = queue
        .receive(QueueName::Incidents, 10, VISIBILITY)
        .await
        .unwrap();
    assert_eq!(batch.len(), 1);
    assert_eq!(batch[0].message, incident("inc2"));
    assert_eq!(batch[0].attempts, 2);
}

#[tokio::test]
async fn the_queue_shares_a_file_with_the_store_and_refuses_a_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("klaxon.db");
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(start()));
    let store = crate::store::SqliteStore::open(&path, clock.clone()).unwrap();
    let queue = SqliteQueue::open(&path, clock.clone()).unwrap();
    queue.send(&incident("inc1")).await.unwrap();
    drop((store, queue));
    // Both reopen: neither clobbered the other's schema version.
    crate::store::SqliteStore::open(&path, clock.clone()).unwrap();
    let queue = SqliteQueue::open(&path, clock.clone()).unwrap();
    assert_eq!(queue.len(QueueName::Incidents).await.unwrap(), 1);
    drop(queue);

    let connection = Connection::open(&path).unwrap();
    connection
        .execute(
            "UPDATE klaxon_local_schema SET version = 99 WHERE component = 'runtime'",
            [],
        )
        .unwrap();
    let error = SqliteQueue::open(&path, clock).unwrap_err();
    assert!(error.message.contains("schema version 99"), "{error}");
}
