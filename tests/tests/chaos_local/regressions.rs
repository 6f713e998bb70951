//! What the local chaos run found, each pinned by its own test.

use super::faulty::{LocalFault, LocalFaults};
use super::run::{Local, Workers, post_until_ok};
use chrono::TimeDelta;
use klaxon_app::messages::QueueName;
use klaxon_app::usecases::notify::STALE_CLAIM;
use klaxon_store::Clock;
use klaxon_tests::chaos::first_round;
use serde_json::json;
use std::time::Duration;

/// Found: when recording a sent page failed transiently (the store busy), notify gave up on
/// the record and failed the message; its retry found the delivery claimed and in flight, and
/// once the claim went stale (5 minutes) sent the page again. Now notify retries the record
/// of a page the provider already has.
#[tokio::test]
async fn a_sent_page_whose_record_failed_once_is_not_sent_again() {
    let faults = LocalFaults::new(0.0, 1);
    let local = Local::new(&faults).await;
    let workers = Workers::new(1, 0.0);
    let body = json!({
        "dedup_key": "finish-busy",
        "status": "firing",
        "severity": "critical",
        "summary": "the record of a sent page",
        "source": "regression",
    });
    let (accepted, _) = post_until_ok(&local.ingest, "/v1/alerts", &local.native_key, &body).await;
    assert!(accepted);
    workers
        .drain_only(&local, &[QueueName::Alerts, QueueName::Incidents])
        .await;
    // The delivery's finish is notify's only transaction: the store is busy for it twice.
    faults.fail_next("store:transact", LocalFault::Busy, 2);
    let page = local
        .queue
        .receive(QueueName::Notifications, 10, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(page.len(), 1, "one page queued");
    let handled = local.handle(&page[0].message).await;
    match &handled {
        Ok(()) => assert!(local.queue.ack(page[0].id).await.unwrap()),
        Err(error) => assert!(
            local
                .queue
                .retry(page[0].id, Duration::ZERO, error)
                .await
                .unwrap()
        ),
    }
    assert_eq!(local.senders.sent().emails.len(), 1, "alice is paged");
    // Whatever is retried later, even after a claim would have gone stale, sends nothing.
    local
        .clock
        .set(local.clock.now() + STALE_CLAIM.to_delta() + TimeDelta::minutes(1));
    workers.drain(&local).await;
    assert_eq!(
        local.senders.sent().emails.len(),
        1,
        "the page went out once"
    );
    assert!(handled.is_ok(), "the page was handled: {handled:?}");
}

/// Found by the chaos runs' "tier-1 pages" count being off: when the hand-off from grouping to
/// routing is lost (the send failed after the incident was committed), the recovery sweep
/// starts the escalation, a sweep interval and its grace late; an acknowledgement the harness
/// made "after tier 1 was due" then came before the (later) due time, and tier 1 was rightly
/// never paged. Pinned here: the late start, no tier-1 page, and the timeline the runs now
/// read their expectations from.
#[tokio::test]
async fn an_escalation_started_late_by_the_sweep_is_acknowledged_before_tier_one() {
    let faults = LocalFaults::new(0.0, 1);
    let local = Local::new(&faults).await;
    let workers = Workers::new(1, 0.0);
    let body = json!({
        "dedup_key": "late-start",
        "status": "firing",
        "severity": "critical",
        "summary": "an announcement lost",
        "source": "regression",
    });
    let (accepted, _) = post_until_ok(&local.ingest, "/v1/alerts", &local.native_key, &body).await;
    assert!(accepted);
    let created = local.clock.now();
    // Grouping commits the incident; its announcement to routing is lost, every time.
    faults.fail_next("queue:send", LocalFault::Busy, 8);
    workers.drain(&local).await;
    faults.clear_script();
    let id = local
        .repo
        .alert(&klaxon_domain::alert::AlertKey {
            integration: klaxon_domain::ids::IntegrationName::new("native").unwrap(),
            dedup_key: klaxon_domain::ids::DedupKey::new("late-start").unwrap(),
        })
        .await
        .unwrap()
        .and_then(|record| record.incident)
        .expect("grouped");
    assert!(local.senders.sent().emails.is_empty(), "not paged yet");
    // Five minutes on (when tier 1 would have been due), the sweep starts the escalation.
    local.clock.set(created + TimeDelta::minutes(5));
    workers.sweep_now(&local).await;
    assert_eq!(
        local.senders.sent().emails.len(),
        1,
        "tier 0 paged by the sweep"
    );
    let (acked, _) = post_until_ok(
        &local.ack,
        &format!("/v1/incidents/{id}/acknowledge"),
        &local.api_key,
        &json!({"user": "alice"}),
    )
    .await;
    assert!(acked);
    workers
        .fire_due(&local, created + TimeDelta::minutes(15))
        .await;
    assert!(local.senders.sent().sms.is_empty(), "tier 1 never paged");
    let facts = first_round(&local.repo, &id).await;
    assert!(
        facts
            .due
            .is_some_and(|due| due > created + TimeDelta::minutes(5))
    );
    assert_eq!(facts.expected_pages(), Ok((1, 0)), "{facts:?}");
}
