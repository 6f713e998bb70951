//! Lambda SQS batch driver on the sample events.

use super::*;

fn sqs_event(file: &str) -> SqsEvent {
    let path = workspace_root().join("events/sqs").join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn failed_ids(response: &SqsBatchResponse) -> Vec<&str> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect()
}

/// A handler that records what it was given and fails for messages `fails` says to.
fn recording_handler(
    seen: Arc<Mutex<Vec<(QueueMessage, MessageMeta)>>>,
    fails: fn(&QueueMessage) -> bool,
) -> impl Fn(QueueMessage, MessageMeta) -> std::future::Ready<Result<(), String>> + Send + Sync + 'static
{
    move |message, meta| {
        let fail = fails(&message);
        seen.lock().unwrap().push((message, meta));
        std::future::ready(if fail {
            Err("the store is unavailable".to_owned())
        } else {
            Ok(())
        })
    }
}

#[tokio::test]
async fn a_malformed_body_and_a_failed_handler_are_exactly_the_batch_item_failures() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let handler = recording_handler(seen.clone(), |message| {
        matches!(message, QueueMessage::Timer(_))
    });
    let mut service = SqsBatchService::new(handler);
    let event = LambdaEvent::new(sqs_event("incidents-mixed-batch.json"), Context::default());

    let response = service.call(event).await.unwrap();

    assert_eq!(
        failed_ids(&response),
        vec![
            "5e7d2f10-1c4b-4b8e-8f3a-7a9d1e2c3b44",
            "9a0b8c7d-2e3f-4a5b-9c6d-1e2f3a4b5c66"
        ]
    );
    // The wire shape Lambda expects.
    assert_eq!(
        serde_json::to_value(&response).unwrap(),
        json!({"batchItemFailures": [
            {"itemIdentifier": "5e7d2f10-1c4b-4b8e-8f3a-7a9d1e2c3b44"},
            {"itemIdentifier": "9a0b8c7d-2e3f-4a5b-9c6d-1e2f3a4b5c66"}
        ]})
    );
    // The good and the failing message reached the handler; the malformed one did not.
    let seen = seen.lock().unwrap();
    let mut handled: Vec<&str> = seen.iter().map(|(_, m)| m.message_id.as_str()).collect();
    handled.sort_unstable();
    assert_eq!(
        handled,
        vec![
            "3b1c9a52-6a0e-4d67-9a55-0d2f6c0b9e11",
            "9a0b8c7d-2e3f-4a5b-9c6d-1e2f3a4b5c66"
        ]
    );
}

#[tokio::test]
async fn a_failure_in_a_fifo_group_fails_the_rest_of_that_group_only() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let handler = recording_handler(seen.clone(), |message| {
        matches!(message, QueueMessage::Alert(m)
            if m.alert_id.as_str() == "0192aaaa00000000000000000000a001"
                && m.action == AlertAction::Fire)
    });

    let response = process_sqs_batch(sqs_event("alerts-fifo-batch.json"), &handler).await;

    assert_eq!(
        failed_ids(&response),
        vec![
            "a0000001-0000-4000-8000-000000000001",
            "a0000002-0000-4000-8000-000000000002",
            "c0000001-0000-4000-8000-000000000001"
        ]
    );
    // Group A's second message never ran (order is kept for the redelivery); group B's did.
    let seen = seen.lock().unwrap();
    let handled: BTreeSet<&str> = seen.iter().map(|(_, m)| m.message_id.as_str()).collect();
    assert_eq!(
        handled,
        BTreeSet::from([
            "a0000001-0000-4000-8000-000000000001",
            "b0000001-0000-4000-8000-000000000001"
        ])
    );
    let (_, meta) = seen
        .iter()
        .find(|(_, m)| m.message_id.starts_with("b0"))
        .unwrap();
    assert_eq!(
        meta.group_id.as_deref(),
        Some("0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9")
    );
}

#[tokio::test]
async fn fired_timers_and_sweeps_reach_the_handler_with_their_receive_count() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let handler = recording_handler(seen.clone(), |_| false);

    let response = process_sqs_batch(sqs_event("timers-batch.json"), &handler).await;

    assert!(response.batch_item_failures.is_empty());
    let mut seen = seen.lock().unwrap().clone();
    seen.sort_by(|a, b| a.1.message_id.cmp(&b.1.message_id));
    assert_eq!(
        seen[0].0,
        QueueMessage::Timer(TimerPayload {
            incident: IncidentId::new("0192f3a1b2c37d4e8f90a1b2c3d4e5f6").unwrap(),
            round: 0,
            tier: 1,
            version: 4,
            kind: Default::default(),
            cycle: 0,
        })
    );
    assert_eq!(seen[0].1.receive_count, 3);
    assert_eq!(seen[1].0, QueueMessage::Sweep { at: None });
    assert_eq!(seen[1].1.receive_count, 1);
    assert_eq!(seen[1].1.group_id, None);
}
