//! A timer that fires before the write that armed it commits.
//!
//! Use cases arm a timer *before* they commit the incident (so a crash cannot lose it). A short
//! timer, such as a 2 s snooze on a loaded machine, can then be fired by the timer pump and
//! handled by routing while that commit is still pending. Routing must not drop it as stale
//! (the re-page was then left to the sweep, minutes later: the flaky `klaxon serve`
//! responder tests); it fails the message transiently so the queue delivers it again, and
//! the redelivery pages exactly once. The same holds one step later, for the page such a
//! re-trigger queues before its commit.

use crate::harness::*;
use klaxon_app::messages::{QueueMessage, QueueName};
use klaxon_app::ports::{TimerError, Timers};
use klaxon_app::usecases::UseCaseError;
use klaxon_app::usecases::ack::AckService;
use klaxon_app::usecases::actions::{ActionRequest, IncidentAction};
use klaxon_app::usecases::lifecycle::StopAction;
use klaxon_app::usecases::notify::{NotifyOutcome, RE_TRIGGER_PATIENCE, SkipReason};
use klaxon_app::usecases::routing::{RoutingOutcome, RoutingService};
use klaxon_domain::escalation::{TimerKind, TimerName, TimerPayload};
use klaxon_domain::incident::IncidentStatus;
use klaxon_local::store::SqliteStore;
use klaxon_tests::fakes::{RecordingQueue, RecordingTimers};
use std::sync::{Arc, Mutex};

type Routing = RoutingService<SqliteStore, RecordingQueue, RecordingTimers>;

/// What routing answered to one early delivery.
type Delivered = (TimerPayload, Result<RoutingOutcome, UseCaseError>);

/// Timers that fire the moment they are armed, before the arming use case commits: the
/// worst case of a timer pump that runs between the arm and the commit.
#[derive(Clone)]
struct FiresOnArm {
    routing: Arc<Routing>,
    delivered: Arc<Mutex<Vec<Delivered>>>,
}

impl Timers for FiresOnArm {
    async fn arm(
        &self,
        _name: &TimerName,
        _due: chrono::DateTime<chrono::Utc>,
        payload: &TimerPayload,
    ) -> Result<(), TimerError> {
        let outcome = self.routing.timer_fired(payload).await;
        self.delivered
            .lock()
            .unwrap()
            .push((payload.clone(), outcome));
        Ok(())
    }

    async fn arm_heartbeat(
        &self,
        _name: &TimerName,
        _due: chrono::DateTime<chrono::Utc>,
        _payload: &klaxon_domain::heartbeat::HeartbeatTimer,
    ) -> Result<(), TimerError> {
        // No heartbeat is configured in this race; nothing arms one.
        Ok(())
    }

    async fn cancel(&self, _name: &TimerName) -> Result<(), TimerError> {
        Ok(())
    }
}

fn tier0_repages(world: &World, cycle: u32) -> usize {
    world
        .queue
        .drain(QueueName::Notifications)
        .into_iter()
        .filter(|message| {
            matches!(message, QueueMessage::Page(page) if page.tier == 0 && page.cycle == cycle)
        })
        .count()
}

#[tokio::test]
async fn a_snooze_timer_that_fires_before_its_commit_is_retried_and_re_pages_once() {
    let world = World::new().await;
    let incident = world.open_and_route("snooze race").await;
    let id = incident.id().to_string();
    world.queue.drain(QueueName::Notifications);
    let timers = FiresOnArm {
        routing: Arc::new(world.routing()),
        delivered: Arc::default(),
    };
    let ack = AckService::new(
        world.core("ack"),
        world.queue.clone(),
        timers.clone(),
        world.signer.clone(),
        None,
    );
    ack.api_action(Some(&world.api_key), &id, StopAction::Acknowledge, b"")
        .await
        .unwrap();
    let snoozed = ack
        .incident_action(
            IncidentAction::Snooze,
            ActionRequest {
                key: Some(&world.api_key),
                reference: &id,
                idempotency_key: None,
                body: br#"{"duration": "2s"}"#,
            },
        )
        .await
        .unwrap();
    assert_eq!(snoozed.incident.status(), IncidentStatus::Acknowledged);

    // The snooze timer reached routing before the snooze committed: it is not dropped, it
    // fails transiently (the queue redelivers it), and nothing was paged yet.
    let early: Vec<Delivered> = std::mem::take(&mut *timers.delivered.lock().unwrap());
    let (payload, outcome) = early
        .into_iter()
        .find(|(payload, _)| payload.kind == TimerKind::Snooze)
        .expect("the snooze armed a timer");
    let error = outcome.expect_err("an early timer is not handled as stale");
    assert!(matches!(error, UseCaseError::TimerAhead { .. }), "{error}");
    assert!(error.is_transient(), "{error}");
    assert_eq!(tier0_repages(&world, 1), 0);
    assert_eq!(
        world.incident(incident.id()).await.status(),
        IncidentStatus::Acknowledged
    );

    // The redelivery, after the commit: tier 0 (alice) is paged again, once; a duplicate
    // delivery after that is a no-op.
    world.advance(chrono::TimeDelta::seconds(2));
    let routing = world.routing();
    assert_eq!(
        routing.timer_fired(&payload).await.unwrap(),
        RoutingOutcome::Advanced
    );
    assert_eq!(
        world.incident(incident.id()).await.status(),
        IncidentStatus::Triggered
    );
    assert_eq!(tier0_repages(&world, 1), 1);
    assert_eq!(
        routing.timer_fired(&payload).await.unwrap(),
        RoutingOutcome::Unchanged
    );
    assert_eq!(tier0_repages(&world, 1), 0);
}

/// Everything sent so far, across channels.
fn sends(world: &World) -> usize {
    let sent = world.senders.sent();
    sent.emails.len() + sent.sms.len() + sent.webhooks.len()
}

/// Routing queues a re-trigger's pages before it commits the re-trigger, so notify can read the
/// incident while it is still acknowledged in the cycle before. Notify must not skip that page
/// for good (the re-page after a snooze or an acknowledgement timeout was then lost: the flaky
/// `klaxon serve` responder tests); it fails it transiently, and the redelivery after the
/// commit pages once.
#[tokio::test]
async fn a_re_trigger_page_that_arrives_before_its_commit_is_retried_and_sent_once() {
    let world = World::new().await;
    let incident = world.open_and_route("re-trigger race").await;
    let id = incident.id().to_string();
    let Some(QueueMessage::Page(first)) = world
        .queue
        .drain(QueueName::Notifications)
        .into_iter()
        .find(|message| matches!(message, QueueMessage::Page(_)))
    else {
        panic!("routing queued the tier-0 page");
    };
    let ack = world.ack_service(None);
    ack.api_action(Some(&world.api_key), &id, StopAction::Acknowledge, b"")
        .await
        .unwrap();
    ack.incident_action(
        IncidentAction::Snooze,
        ActionRequest {
            key: Some(&world.api_key),
            reference: &id,
            idempotency_key: None,
            body: br#"{"duration": "2s"}"#,
        },
    )
    .await
    .unwrap();
    world.queue.drain(QueueName::Notifications);
    let before = sends(&world);

    // The page the snooze's end queues (tier 0, next cycle), delivered before routing commits
    // the re-trigger: the incident still reads as acknowledged in cycle 0.
    world.advance(chrono::TimeDelta::seconds(2));
    let mut early = first.clone();
    early.cycle = 1;
    early.resolve_at = world.now();
    let notify = world.notify();
    let error = notify
        .handle(&QueueMessage::Page(early.clone()))
        .await
        .expect_err("an early re-trigger page is not skipped");
    assert!(matches!(error, UseCaseError::PageAhead { .. }), "{error}");
    assert!(error.is_transient(), "{error}");
    assert_eq!(sends(&world), before, "nothing is sent while it is early");

    // Routing handles the snooze timer and commits: the page it queues is that same page.
    let snooze = world
        .timers
        .armed()
        .into_values()
        .find(|timer| timer.payload.kind == TimerKind::Snooze)
        .expect("the snooze armed a timer");
    assert_eq!(
        world.routing().timer_fired(&snooze.payload).await.unwrap(),
        RoutingOutcome::Advanced
    );
    let queued: Vec<_> = world
        .queue
        .drain(QueueName::Notifications)
        .into_iter()
        .filter_map(|message| match message {
            QueueMessage::Page(page) => Some(page),
            _ => None,
        })
        .collect();
    assert_eq!(queued.len(), 1);
    assert_eq!(
        (queued[0].tier, queued[0].cycle, &queued[0].targets),
        (early.tier, early.cycle, &early.targets)
    );

    // The redelivery of the early copy pages (each of the user's channels, once); the routed
    // copy then finds every delivery made.
    let NotifyOutcome::Delivered(report) = notify.handle(&QueueMessage::Page(early)).await.unwrap()
    else {
        panic!("the redelivered page is delivered");
    };
    assert!(report.sent > 0, "{report:?}");
    let after = sends(&world);
    assert_eq!(after, before + report.sent);
    let NotifyOutcome::Delivered(again) = notify
        .handle(&QueueMessage::Page(queued[0].clone()))
        .await
        .unwrap()
    else {
        panic!("the routed copy is handled");
    };
    assert_eq!((again.sent, again.already_handled), (0, report.sent));
    assert_eq!(sends(&world), after);
}

/// A re-trigger page that stays ahead of its incident for longer than routing could take to
/// commit lost its commit (a resolve or an acknowledgement won): it is skipped, not retried
/// until the dead-letter queue.
#[tokio::test]
async fn a_re_trigger_page_whose_commit_never_came_is_skipped_after_the_patience() {
    let world = World::new().await;
    let incident = world.open_and_route("lost re-trigger").await;
    let id = incident.id().to_string();
    let Some(QueueMessage::Page(first)) = world
        .queue
        .drain(QueueName::Notifications)
        .into_iter()
        .find(|message| matches!(message, QueueMessage::Page(_)))
    else {
        panic!("routing queued the tier-0 page");
    };
    world
        .ack_service(None)
        .api_action(Some(&world.api_key), &id, StopAction::Acknowledge, b"")
        .await
        .unwrap();
    let before = sends(&world);
    let mut stale = first;
    stale.cycle = 1;
    stale.resolve_at = world.now();
    world.advance(RE_TRIGGER_PATIENCE);
    assert_eq!(
        world
            .notify()
            .handle(&QueueMessage::Page(stale))
            .await
            .unwrap(),
        NotifyOutcome::Skipped(SkipReason::NoLongerPaging(IncidentStatus::Acknowledged))
    );
    assert_eq!(sends(&world), before);
}
