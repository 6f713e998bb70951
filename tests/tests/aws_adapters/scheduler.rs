//! SchedulerTimers against moto.

use super::*;

struct TimerFixture {
    timers: SchedulerTimers,
    scheduler: aws_sdk_scheduler::Client,
    sqs: aws_sdk_sqs::Client,
    settings: SchedulerSettings,
    clock: Arc<ManualClock>,
}

async fn timer_fixture() -> TimerFixture {
    let sqs = sqs_client().await;
    let scheduler = scheduler_client().await;
    let group = unique_name("escalation");
    scheduler
        .create_schedule_group()
        .name(&group)
        .send()
        .await
        .unwrap();
    let (url, arn) = create_queue(&sqs, &queue_name("timers")).await;
    let (_, dlq_arn) = create_queue(&sqs, &queue_name("scheduler-dlq")).await;
    let settings = SchedulerSettings {
        group_name: group,
        timers_queue_arn: arn,
        timers_queue_url: url,
        role_arn: "arn:aws:iam::123456789012:role/klaxon-SchedulerRole".to_owned(),
        dead_letter_arn: Some(dlq_arn),
    };
    let clock = Arc::new(ManualClock::new(test_start()));
    let timers = SchedulerTimers::new(
        scheduler.clone(),
        sqs.clone(),
        settings.clone(),
        clock.clone(),
    );
    TimerFixture {
        timers,
        scheduler,
        sqs,
        settings,
        clock,
    }
}

fn payload(incident: &str, tier: u32) -> TimerPayload {
    TimerPayload {
        incident: IncidentId::new(incident).unwrap(),
        round: 0,
        tier,
        version: 7,
        kind: Default::default(),
        cycle: 0,
    }
}

async fn schedule_names(fixture: &TimerFixture) -> Vec<String> {
    fixture
        .scheduler
        .list_schedules()
        .group_name(&fixture.settings.group_name)
        .send()
        .await
        .unwrap()
        .schedules
        .into_iter()
        .filter_map(|s| s.name)
        .collect()
}

#[tokio::test]
async fn arming_creates_a_one_shot_utc_schedule_that_delivers_the_timer_message() {
    let fixture = timer_fixture().await;
    let payload = payload("0192dddd0001", 1);
    let name = payload.timer_name();
    let due = test_start() + TimeDelta::seconds(10 * 60 + 30);

    fixture.timers.arm(&name, due, &payload).await.unwrap();

    let schedule = fixture
        .scheduler
        .get_schedule()
        .name(name.as_str())
        .group_name(&fixture.settings.group_name)
        .send()
        .await
        .unwrap();
    // Rounded up to the minute: the scheduler's one-minute precision can only make it late.
    assert_eq!(
        schedule.schedule_expression.as_deref(),
        Some("at(2026-01-01T00:11:00)")
    );
    assert_eq!(
        schedule.schedule_expression_timezone.as_deref(),
        Some("UTC")
    );
    assert_eq!(
        schedule.flexible_time_window.unwrap().mode,
        aws_sdk_scheduler::types::FlexibleTimeWindowMode::Off
    );
    assert_eq!(
        schedule.action_after_completion,
        Some(aws_sdk_scheduler::types::ActionAfterCompletion::Delete)
    );
    let target = schedule.target.unwrap();
    assert_eq!(target.arn, fixture.settings.timers_queue_arn);
    assert_eq!(target.role_arn, fixture.settings.role_arn);
    assert_eq!(
        QueueMessage::from_json(target.input.as_deref().unwrap()).unwrap(),
        QueueMessage::Timer(payload.clone())
    );
    let retry = target.retry_policy.unwrap();
    assert_eq!(retry.maximum_retry_attempts, Some(185));
    assert_eq!(retry.maximum_event_age_in_seconds, Some(86_400));
    assert_eq!(
        target.dead_letter_config.unwrap().arn,
        fixture.settings.dead_letter_arn
    );
    // Nothing went to the queue directly.
    assert!(
        drain(&fixture.sqs, &fixture.settings.timers_queue_url, 0)
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn arming_twice_keeps_one_schedule_and_cancelling_is_idempotent() {
    let fixture = timer_fixture().await;
    let payload = payload("0192dddd0002", 0);
    let name = payload.timer_name();
    let due = test_start() + TimeDelta::minutes(15);

    fixture.timers.arm(&name, due, &payload).await.unwrap();
    fixture.timers.arm(&name, due, &payload).await.unwrap();
    assert_eq!(schedule_names(&fixture).await, vec![name.to_string()]);

    fixture.timers.cancel(&name).await.unwrap();
    assert!(schedule_names(&fixture).await.is_empty());
    let gone = fixture
        .scheduler
        .get_schedule()
        .name(name.as_str())
        .group_name(&fixture.settings.group_name)
        .send()
        .await
        .unwrap_err();
    assert!(
        gone.as_service_error()
            .unwrap()
            .is_resource_not_found_exception()
    );

    fixture.timers.cancel(&name).await.unwrap();
    let never_armed = TimerName::new("0192dddd0099-r0-t0").unwrap();
    fixture.timers.cancel(&never_armed).await.unwrap();
}

#[tokio::test]
async fn an_overdue_timer_goes_straight_to_the_timers_queue() {
    let fixture = timer_fixture().await;
    let payload = payload("0192dddd0003", 2);
    let name = payload.timer_name();
    let overdue = fixture.clock.now() - TimeDelta::minutes(5);

    fixture.timers.arm(&name, overdue, &payload).await.unwrap();

    assert!(schedule_names(&fixture).await.is_empty());
    let received = drain(&fixture.sqs, &fixture.settings.timers_queue_url, 1).await;
    assert_eq!(received.len(), 1);
    assert_eq!(
        QueueMessage::from_json(received[0].body.as_deref().unwrap()).unwrap(),
        QueueMessage::Timer(payload)
    );
}

#[tokio::test]
async fn a_timer_due_within_the_minute_is_queued_with_the_remaining_delay() {
    let fixture = timer_fixture().await;
    let payload = payload("0192dddd0004", 1);
    let name = payload.timer_name();
    let due = fixture.clock.now() + TimeDelta::seconds(3);

    fixture.timers.arm(&name, due, &payload).await.unwrap();

    assert!(schedule_names(&fixture).await.is_empty());
    let url = &fixture.settings.timers_queue_url;
    assert!(
        drain(&fixture.sqs, url, 0).await.is_empty(),
        "the message is delayed, not visible at once"
    );
    let received = drain(&fixture.sqs, url, 10).await;
    assert_eq!(received.len(), 1);
    assert_eq!(
        QueueMessage::from_json(received[0].body.as_deref().unwrap()).unwrap(),
        QueueMessage::Timer(payload)
    );
}
