//! SqsQueue against moto.

use super::*;

#[tokio::test]
async fn fifo_alert_messages_carry_group_and_dedup_ids_and_a_repeat_is_delivered_once() {
    let client = sqs_client().await;
    let (url, _) = create_queue(&client, &format!("{}.fifo", queue_name("alerts"))).await;
    let queue = SqsQueue::new(client.clone()).with_queue(QueueName::Alerts, &url);

    let fire = alert_message("0192aaaa0001", AlertAction::Fire);
    queue.send(&fire).await.unwrap();
    queue.send(&fire).await.unwrap();
    let resolve = alert_message("0192aaaa0001", AlertAction::Resolve);
    queue.send(&resolve).await.unwrap();

    let received = drain(&client, &url, 1).await;
    let bodies: Vec<QueueMessage> = received
        .iter()
        .map(|m| QueueMessage::from_json(m.body.as_deref().unwrap()).unwrap())
        .collect();
    assert_eq!(bodies, vec![fire.clone(), resolve.clone()]);
    // The message group is the alert's group key: one group's alerts are grouped in order.
    assert_eq!(
        system_attribute(&received[0], MessageSystemAttributeName::MessageGroupId),
        Some("group0192aaaa0001".to_owned())
    );
    assert_eq!(
        system_attribute(
            &received[0],
            MessageSystemAttributeName::MessageDeduplicationId
        ),
        Some("0192aaaa0001-fire".to_owned())
    );
}

#[tokio::test]
async fn standard_queue_messages_round_trip_without_fifo_ids() {
    let client = sqs_client().await;
    let (url, _) = create_queue(&client, &queue_name("incidents")).await;
    let queue = SqsQueue::new(client.clone()).with_queue(QueueName::Incidents, &url);

    let message = incident_message("0192bbbb0001", IncidentEvent::Triggered);
    queue.send(&message).await.unwrap();

    let received = drain(&client, &url, 1).await;
    assert_eq!(received.len(), 1);
    assert_eq!(
        QueueMessage::from_json(received[0].body.as_deref().unwrap()).unwrap(),
        message
    );
    assert_eq!(
        system_attribute(&received[0], MessageSystemAttributeName::MessageGroupId),
        None
    );
}

#[tokio::test]
async fn sending_to_an_unconfigured_or_missing_queue_is_an_error_naming_it() {
    let client = sqs_client().await;
    let page_less = SqsQueue::new(client.clone());
    let error = page_less
        .send(&incident_message("0192cccc0001", IncidentEvent::Triggered))
        .await
        .unwrap_err();
    assert_eq!(error.queue, "incidents");
    assert!(error.message.contains("INCIDENTS_QUEUE_URL"), "{error}");

    let missing = format!(
        "{}/123456789012/{}",
        klaxon_tests::moto_endpoint(),
        queue_name("gone")
    );
    let queue = SqsQueue::new(client)
        .with_queue(QueueName::Incidents, missing)
        .with_retry_policy(no_retries());
    let error = queue
        .send(&incident_message("0192cccc0001", IncidentEvent::Triggered))
        .await
        .unwrap_err();
    assert_eq!(error.queue, "incidents");
}
