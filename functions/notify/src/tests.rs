//! The handler on SQS events: the sample batch in `events/sqs/`, and pages produced by the real
//! ingest, grouping and routing use cases, over the SQLite store with recording senders.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use klaxon_app::messages::{Notice, NoticeKind};
use klaxon_app::ports::SendError;
use klaxon_domain::ids::UserId;
use klaxon_domain::timeline::Actor;
use klaxon_domain::user::Channel;
use klaxon_local::store::SqliteStore;
use std::sync::Arc;

use klaxon_test_support::{Env, RecordingSenders, failed, page_requests, read_json, sqs_event};

const SECRET: &str = "notify-unit-test-link-secret-0123456789";

struct Fixture {
    env: Env,
    handler: NotifyHandler<SqliteStore, RecordingSenders, RecordingSenders, RecordingSenders>,
    senders: RecordingSenders,
}

impl Fixture {
    async fn new() -> Self {
        let env = Env::new().await;
        let senders = RecordingSenders::default();
        let service = NotifyService::new(
            env.core(COMPONENT),
            Senders {
                email: senders.clone(),
                sms: senders.clone(),
                webhook: senders.clone(),
            },
            LinkSigner::new(SECRET.as_bytes()).unwrap(),
            "https://klaxon.example.com/",
            Arc::new(|_: &str| None),
        );
        Fixture {
            env,
            handler: NotifyHandler::new(service),
            senders,
        }
    }
}

#[tokio::test]
async fn a_page_delivered_three_times_emails_the_on_call_user_once() {
    let fixture = Fixture::new().await;
    let (pages, _) = page_requests(&fixture.env).await;
    assert_eq!(pages.len(), 1);
    let page = pages[0].clone();
    // Two copies in one batch run concurrently: one sends; the other may find the delivery
    // claimed and in flight, and then fails so that SQS retries it (its sender might die).
    let response = fixture
        .handler
        .handle_batch(sqs_event(&[page.clone(), page.clone()]))
        .await;
    assert!(failed(&response).len() <= 1, "{response:?}");
    // The retry (and any later copy) finds the page sent.
    let response = fixture.handler.handle_batch(sqs_event(&[page])).await;
    assert!(failed(&response).is_empty(), "{response:?}");
    let emails = fixture.senders.sent().emails;
    assert_eq!(emails.len(), 1, "{emails:?}");
    assert_eq!(emails[0].to, "alice@example.com");
    assert!(
        emails[0]
            .text
            .contains("https://klaxon.example.com/v1/links?"),
        "the page carries a signed link under PUBLIC_BASE_URL: {}",
        emails[0].text
    );
}

#[tokio::test]
async fn a_transient_send_failure_fails_the_record_and_the_retry_sends_once() {
    let fixture = Fixture::new().await;
    let (pages, incident) = page_requests(&fixture.env).await;
    fixture
        .senders
        .fail_with([SendError::Transient("SES throttled".into())]);
    let response = fixture.handler.handle_batch(sqs_event(&pages)).await;
    assert_eq!(failed(&response), vec!["m-0"], "retried by SQS");
    assert!(fixture.senders.sent().emails.is_empty());
    let response = fixture.handler.handle_batch(sqs_event(&pages)).await;
    assert!(failed(&response).is_empty());
    assert_eq!(fixture.senders.sent().emails.len(), 1);

    // The acknowledgement notice reaches the paged user once.
    let notice = QueueMessage::Notice(Notice {
        incident,
        notice: NoticeKind::Acknowledged,
        actor: Actor::user(UserId::new("alice").unwrap()),
        recipients: vec![(UserId::new("alice").unwrap(), Channel::Email)],
    });
    let response = fixture
        .handler
        .handle_batch(sqs_event(&[notice.clone(), notice.clone()]))
        .await;
    // The two copies run concurrently: one sends; the other either finds it sent or finds it
    // claimed (then it fails, to be retried in case the claimant died).
    assert!(failed(&response).len() <= 1, "{:?}", failed(&response));
    assert_eq!(fixture.senders.sent().emails.len(), 2);
    // The retry of that copy sends nothing more.
    let response = fixture.handler.handle_batch(sqs_event(&[notice])).await;
    assert!(failed(&response).is_empty());
    assert_eq!(fixture.senders.sent().emails.len(), 2);
}

#[tokio::test]
async fn the_sample_batch_for_unknown_incidents_sends_nothing_and_fails_nothing() {
    let fixture = Fixture::new().await;
    let event: SqsEvent =
        serde_json::from_value(read_json("events/sqs/notifications-batch.json")).unwrap();
    let response = fixture.handler.handle_batch(event).await;
    assert!(failed(&response).is_empty(), "{response:?}");
    assert!(fixture.senders.sent().emails.is_empty());
    assert!(fixture.senders.sent().sms.is_empty());
}

#[tokio::test]
async fn messages_of_other_kinds_and_permanent_failures_fail_their_records() {
    let fixture = Fixture::new().await;
    let timers: SqsEvent =
        serde_json::from_value(read_json("events/sqs/timers-batch.json")).unwrap();
    let response = fixture.handler.handle_batch(timers).await;
    assert_eq!(failed(&response).len(), 2);

    let (pages, _) = page_requests(&fixture.env).await;
    fixture.env.break_config().await;
    let meta = MessageMeta {
        message_id: "m-0".into(),
        receive_count: 1,
        group_id: None,
    };
    let error = fixture
        .handler
        .handle_message(pages[0].clone(), meta)
        .await
        .unwrap_err();
    assert!(matches!(error, MessageFailure::Permanent(_)), "{error}");
    assert!(fixture.senders.sent().emails.is_empty());
}
