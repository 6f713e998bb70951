//! What the chaos run found, each pinned by its own test against the fault proxy.

use super::deploy::Deployment;
use super::lambda::{Delivery, Plumbing, consume};
use super::run::send_native_alert;
use aws_config::Region;
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use klaxon_app::messages::QueueName;
use klaxon_aws::env::{AWS_ATTEMPT_TIMEOUT, CloudSettings, aws_config_loader};
use klaxon_tests::faults::{FaultKind, FaultPlan, FaultProxy, FaultRule};
use klaxon_tests::{TEST_REGION, moto_data};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn plan(rules: Vec<FaultRule>, delay_seconds: f64) -> FaultPlan {
    FaultPlan {
        seed: 1,
        delay_seconds,
        slow_seconds: None,
        rules,
    }
}

/// No duplicates, no undeleted messages, timers once: only the proxy misbehaves.
fn calm(deployment: &Arc<Deployment>) -> Plumbing {
    let delivery = Delivery {
        duplicate: 0.0,
        undeleted: 0.0,
        timer_twice: 0.0,
        timer_late: 0.0,
    };
    Plumbing::new(Arc::clone(deployment), StdRng::seed_from_u64(1), delivery)
}

/// Found: the functions' SDK configuration had no attempt timeout, so an answer that never
/// came held the call (and the function) until the function's own timeout. Now the SDK gives
/// up after `AWS_ATTEMPT_TIMEOUT` and retries.
#[tokio::test]
async fn an_answer_that_never_comes_is_abandoned_after_the_attempt_timeout_and_retried() {
    let proxy = FaultProxy::start().await;
    let settings = CloudSettings::from_lookup(|_| None).unwrap();
    let aws = aws_config_loader(&settings)
        .endpoint_url(proxy.endpoint())
        .region(Region::new(TEST_REGION))
        .credentials_provider(Credentials::new("test", "test", None, None, "timeout"))
        .load()
        .await;
    let held = 60.0;
    proxy
        .set_plan(&plan(
            vec![FaultRule::new("dynamodb", "ListTables", 1.0, &[FaultKind::Delay]).limit(1)],
            held,
        ))
        .await;
    let started = Instant::now();
    aws_sdk_dynamodb::Client::new(&aws)
        .list_tables()
        .send()
        .await
        .expect("the retry after the abandoned attempt succeeds");
    let took = started.elapsed();
    assert!(
        took < AWS_ATTEMPT_TIMEOUT + Duration::from_secs(5),
        "took {took:?} (the answer was held {held} s)"
    );
    assert!(
        took >= AWS_ATTEMPT_TIMEOUT,
        "the first attempt was waited for"
    );
    assert_eq!(proxy.stats().await.requests["dynamodb:ListTables"], 2);
}

/// Found: when notify's claim of a delivery was applied but its answer lost (a reset after
/// the write), the SDK's retry of the same claim found it "claimed by another sender"; the
/// page then waited for the claim to go stale (5 minutes) and, with the queue's retries spent
/// sooner, reached the dead-letter queue unsent. Now a retried claim recognises its own token.
#[tokio::test]
async fn a_page_whose_claim_was_applied_but_unanswered_is_still_sent_at_once() {
    let proxy = FaultProxy::start().await;
    let deployment = Arc::new(Deployment::new(proxy.endpoint()).await);
    let plumbing = calm(&deployment);
    assert!(send_native_alert(&deployment, "claim-reset", "firing").await);
    // Grouping and routing: the page waits on the notifications queue.
    let notifications = deployment.queue(QueueName::Notifications).clone();
    for name in [QueueName::Alerts, QueueName::Incidents] {
        plumbing.drain_only(name).await;
    }
    proxy
        .set_plan(&plan(
            vec![FaultRule::new("dynamodb", "UpdateItem", 1.0, &[FaultKind::ResetAfter]).limit(1)],
            1.0,
        ))
        .await;
    let messages = deployment
        .sqs
        .receive_message()
        .queue_url(&notifications.url)
        .max_number_of_messages(10)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(messages.len(), 1, "one page queued");
    let response = consume(&deployment, &notifications, &messages).await;
    assert_eq!(
        proxy.stats().await.faults(),
        1,
        "the claim's answer was lost"
    );
    assert!(
        response.batch_item_failures.is_empty(),
        "the page did not fail: {:?}",
        response.batch_item_failures
    );
    let data = moto_data().await;
    let emails = data["ses"]["Message"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["source"] == serde_json::json!(deployment.sender))
        .count();
    assert_eq!(emails, 1, "alice is paged once, at once");
}

/// Decided (docs/design.md, "Failure model"): SES and SNS take no idempotency key, so a send
/// that was applied but whose answer was lost is sent again when retried: at least once, one
/// extra copy per such fault, never a lost page. The proxy lists the send (recipient and
/// subject), which is how the chaos run tells these copies from any other duplicate.
#[tokio::test]
async fn a_send_applied_but_unanswered_is_sent_again() {
    let proxy = FaultProxy::start().await;
    let deployment = Arc::new(Deployment::new(proxy.endpoint()).await);
    let plumbing = calm(&deployment);
    assert!(send_native_alert(&deployment, "send-reset", "firing").await);
    for name in [QueueName::Alerts, QueueName::Incidents] {
        plumbing.drain_only(name).await;
    }
    proxy
        .set_plan(&plan(
            vec![FaultRule::new("ses", "SendEmail", 1.0, &[FaultKind::ResetAfter]).limit(1)],
            1.0,
        ))
        .await;
    plumbing.drain().await;
    let data = moto_data().await;
    let emails = data["ses"]["Message"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["source"] == serde_json::json!(deployment.sender))
        .count();
    let stats = proxy.stats().await;
    assert_eq!(stats.faults(), 1);
    assert_eq!(
        emails, 2,
        "the page went out twice: at least once, never lost"
    );
    let listed: Vec<_> = stats
        .unanswered
        .iter()
        .map(|send| (send.call.as_str(), send.kind.as_str(), send.to.as_str()))
        .collect();
    assert_eq!(
        listed,
        [("ses:SendEmail", "reset_after", "alice@example.com")]
    );
    assert!(
        stats.unanswered[0].text.contains("regression send-reset"),
        "the subject names the alert: {:?}",
        stats.unanswered[0]
    );
}

/// Found while writing the failure model: when a new alert's record was written but the
/// answer lost (a reset after the write), the SDK's retry of the same write found the record
/// and took it for another sender's: the alert was counted as a repeat of itself and never
/// queued, so it was grouped (and paged) only when the recovery sweep found it, up to seven
/// minutes later. Now the write recognises its own occurrence id and queues the alert at once.
#[tokio::test]
async fn a_new_alert_whose_write_was_applied_but_unanswered_is_queued_at_once() {
    let proxy = FaultProxy::start().await;
    let deployment = Arc::new(Deployment::new(proxy.endpoint()).await);
    let plumbing = calm(&deployment);
    // The new occurrence's record is ingest's only PutItem.
    proxy
        .set_plan(&plan(
            vec![FaultRule::new("dynamodb", "PutItem", 1.0, &[FaultKind::ResetAfter]).limit(1)],
            1.0,
        ))
        .await;
    assert!(send_native_alert(&deployment, "put-reset", "firing").await);
    assert_eq!(
        proxy.stats().await.faults(),
        1,
        "the record's answer was lost"
    );
    // No sweep: only what ingest queued reaches grouping.
    plumbing.drain_only(QueueName::Alerts).await;
    let record = deployment
        .repo
        .alert(&klaxon_domain::alert::AlertKey {
            integration: klaxon_domain::ids::IntegrationName::new("native").unwrap(),
            dedup_key: klaxon_domain::ids::DedupKey::new("put-reset").unwrap(),
        })
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(record.count, 1, "fired once, counted once");
    assert!(
        record.incident.is_some(),
        "grouped without waiting for the sweep"
    );
}

/// Found by the medium chaos run (30 incidents / 10 groups): the harness redelivered a failed
/// record at once, without moving the injected clock, so a page held by a claim nobody
/// finished (its sender presumed dead) used up its queue's five receives within a second and
/// went to the dead-letter queue, and came back there when redriven. SQS shows a failed record
/// again after the functions' retry backoff (30 s, 1 min, 2 min, 4 min), so by the fifth
/// receive the claim is older than notify's `STALE_CLAIM` (5 minutes) and is taken over: the
/// page goes out once, nothing is dead-lettered.
#[tokio::test]
async fn a_page_held_by_an_unfinished_claim_is_sent_by_a_redelivery_once_the_claim_is_stale() {
    use klaxon_app::messages::QueueMessage;
    use klaxon_app::usecases::notify::STALE_CLAIM;
    use klaxon_domain::ids::UserId;
    use klaxon_domain::user::Channel;
    use klaxon_store::Clock;
    use klaxon_store::repo::{Claim, Delivery};

    let proxy = FaultProxy::start().await;
    let deployment = Arc::new(Deployment::new(proxy.endpoint()).await);
    let plumbing = calm(&deployment);
    assert!(send_native_alert(&deployment, "stale-claim", "firing").await);
    for name in [QueueName::Alerts, QueueName::Incidents] {
        plumbing.drain_only(name).await;
    }
    // A sender claimed alice's page and died before sending it.
    let notifications = deployment.queue(QueueName::Notifications).clone();
    let queued = deployment
        .sqs
        .receive_message()
        .queue_url(&notifications.url)
        .visibility_timeout(0)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    let Some(QueueMessage::Page(page)) = queued
        .first()
        .and_then(|m| QueueMessage::from_json(m.body.as_deref().unwrap_or_default()).ok())
    else {
        panic!("one page queued: {queued:?}");
    };
    let delivery = Delivery::page(&page, &UserId::new("alice").unwrap(), Channel::Email);
    let claim = deployment
        .repo
        .claim_delivery(&delivery, STALE_CLAIM)
        .await
        .unwrap();
    assert!(matches!(claim, Claim::Claimed { .. }), "{claim:?}");
    let claimed_at = deployment.clock.now();

    plumbing.drain_only(QueueName::Notifications).await;
    let data = moto_data().await;
    let emails = data["ses"]["Message"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["source"] == serde_json::json!(deployment.sender))
        .count();
    assert_eq!(emails, 1, "alice is paged once the claim is stale");
    let waited = deployment.clock.now() - claimed_at;
    assert!(
        waited >= STALE_CLAIM.to_delta(),
        "the redeliveries waited for the claim to go stale: {waited}"
    );
    let stats = plumbing.stats();
    assert!(stats.failed_items >= 1 && stats.waits >= 1, "{stats:?}");
    let dead = deployment
        .sqs
        .receive_message()
        .queue_url(&notifications.dlq_url)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert!(dead.is_empty(), "nothing dead-lettered: {dead:?}");
}
