//! The EventBridge Scheduler adapter of the [`Timers`] port.
//!
//! Each timer is a one-shot schedule named by its [`TimerName`] in Klaxon's own schedule group:
//! an `at(yyyy-mm-ddThh:mm:ss)` expression in UTC, flexible time window OFF,
//! ActionAfterCompletion DELETE (the schedule removes itself once it has fired), and an SQS
//! target: the timers queue, reached through the scheduler's execution role, with the timer's
//! [`QueueMessage::Timer`] JSON as the message body. The target has a retry policy (up to 185
//! attempts over 24 hours) and, when configured, a dead-letter queue for events the scheduler
//! could not deliver.
//!
//! Timing. EventBridge Scheduler invokes targets with 60-second precision: a schedule set for
//! 10:05 fires somewhere between 10:05:00 and 10:05:59. So that a timer never fires before its
//! deadline, the `at()` time is the deadline rounded *up* to the next whole minute; a timer
//! therefore fires between 0 and about 119 seconds after its deadline (see [`at_expression`]).
//!
//! Deadlines that are due now. The scheduler documentation does not promise what happens to an
//! `at()` time in the past (and one in the current minute may already be behind the
//! scheduler's clock), so a timer due within [`DEFAULT_DIRECT_WINDOW`] (one minute, or already
//! overdue) is not scheduled at all: its message goes straight to the timers queue with an SQS
//! delivery delay of the remaining whole seconds (never more than the window). Such a
//! delivery cannot be cancelled; the routing use case re-reads the escalation state when a
//! timer fires and ignores a timer whose incident moved on, so a late cancel is harmless.
//!
//! Idempotence. Arming a name that already exists is a success (`ConflictException`):
//! deterministic names make a re-arm after a crash a no-op. Cancelling a missing schedule
//! (fired, deleted, never armed) is a success (`ResourceNotFoundException`). A direct delivery
//! has no name to collide on, so re-arming an overdue timer twice sends it twice; timer
//! handling must be (and is designed to be) idempotent anyway, since SQS delivers at least once.

use crate::retry::RetryPolicy;
use crate::retry::{default_policy, with_retries};
use crate::sqs::SqsQueue;
use aws_sdk_scheduler::Client;
use aws_sdk_scheduler::types::{
    ActionAfterCompletion, DeadLetterConfig, FlexibleTimeWindow, FlexibleTimeWindowMode,
    RetryPolicy as TargetRetryPolicy, Target,
};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use klaxon_app::messages::{QueueMessage, QueueName};
use klaxon_app::ports::{Clock, TimerError, Timers};
use klaxon_domain::escalation::{TimerName, TimerPayload};
use klaxon_domain::heartbeat::HeartbeatTimer;
use std::sync::Arc;
use std::time::Duration;

/// Timers due sooner than this (or overdue) go straight to the timers queue with an SQS delay
/// instead of becoming a schedule.
pub const DEFAULT_DIRECT_WINDOW: Duration = Duration::from_secs(60);

/// How long the scheduler keeps retrying to deliver a fired timer to the queue (its maximum).
pub const TARGET_MAX_EVENT_AGE_SECONDS: i32 = 86_400;

/// How many times the scheduler retries delivering a fired timer (its maximum).
pub const TARGET_MAX_RETRY_ATTEMPTS: i32 = 185;

/// The time zone of every timer's `at()` expression.
pub const TIMER_TIME_ZONE: &str = "UTC";

/// Where timers live and where they deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulerSettings {
    /// The schedule group holding Klaxon's escalation timers (`SCHEDULE_GROUP_NAME`).
    pub group_name: String,
    /// ARN of the timers queue, the schedules' target (`TIMERS_QUEUE_ARN`).
    pub timers_queue_arn: String,
    /// URL of the same queue, for timers that are already due (`TIMERS_QUEUE_URL`).
    pub timers_queue_url: String,
    /// The execution role the scheduler assumes to send to the queue (`SCHEDULER_ROLE_ARN`).
    pub role_arn: String,
    /// A standard SQS queue for events the scheduler could not deliver
    /// (`SCHEDULER_DLQ_ARN`, optional).
    pub dead_letter_arn: Option<String>,
}

/// The timers port on EventBridge Scheduler (and SQS for timers already due).
#[derive(Clone)]
pub struct SchedulerTimers {
    client: Client,
    queue: SqsQueue,
    settings: SchedulerSettings,
    clock: Arc<dyn Clock>,
    direct_window: Duration,
    retry: RetryPolicy,
}

impl std::fmt::Debug for SchedulerTimers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchedulerTimers")
            .field("settings", &self.settings)
            .field("direct_window", &self.direct_window)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl SchedulerTimers {
    /// Timers in `settings.group_name`, reading the time from `clock` to decide whether a
    /// deadline is already due; `sqs` sends those straight to the timers queue.
    pub fn new(
        client: Client,
        sqs: aws_sdk_sqs::Client,
        settings: SchedulerSettings,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let queue = SqsQueue::new(sqs).with_queue(QueueName::Timers, &settings.timers_queue_url);
        Self {
            client,
            queue,
            settings,
            clock,
            direct_window: DEFAULT_DIRECT_WINDOW,
            retry: default_policy(),
        }
    }

    /// Changes the direct-delivery window (capped at SQS's 15-minute maximum delay).
    pub fn with_direct_window(mut self, window: Duration) -> Self {
        self.direct_window = window.min(crate::sqs::MAX_DELAY);
        self
    }

    /// Replaces the retry policy for throttling and transient failures.
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.queue = self.queue.with_retry_policy(retry);
        self.retry = retry;
        self
    }

    /// The settings.
    pub fn settings(&self) -> &SchedulerSettings {
        &self.settings
    }

    /// The SDK client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// What [`Timers::arm`] does for a deadline `due`, seen at `now`.
    pub fn plan(&self, due: DateTime<Utc>, now: DateTime<Utc>) -> ArmPlan {
        plan_arm(due, now, self.direct_window)
    }

    fn error(name: &TimerName, message: impl Into<String>) -> TimerError {
        TimerError {
            name: name.to_string(),
            message: message.into(),
        }
    }

    fn target(&self, input: String, name: &TimerName) -> Result<Target, TimerError> {
        let retry = TargetRetryPolicy::builder()
            .maximum_event_age_in_seconds(TARGET_MAX_EVENT_AGE_SECONDS)
            .maximum_retry_attempts(TARGET_MAX_RETRY_ATTEMPTS)
            .build();
        let dead_letter = self
            .settings
            .dead_letter_arn
            .as_ref()
            .map(|arn| DeadLetterConfig::builder().arn(arn).build());
        Target::builder()
            .arn(&self.settings.timers_queue_arn)
            .role_arn(&self.settings.role_arn)
            .input(input)
            .retry_policy(retry)
            .set_dead_letter_config(dead_letter)
            .build()
            .map_err(|e| Self::error(name, format!("building the schedule target: {e}")))
    }
}

/// How a timer is armed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArmPlan {
    /// A one-shot schedule with this `at()` expression.
    Schedule {
        /// The schedule expression.
        expression: String,
    },
    /// Sent to the timers queue now, delivered after this delay.
    Direct {
        /// The SQS delivery delay (whole seconds).
        delay: Duration,
    },
}

/// How to arm a timer due at `due`, seen at `now`: a schedule when the deadline is more than
/// `direct_window` away, otherwise a direct queue delivery delayed by the remaining time
/// (rounded up to whole seconds so the message is never early; zero when overdue).
pub fn plan_arm(due: DateTime<Utc>, now: DateTime<Utc>, direct_window: Duration) -> ArmPlan {
    let lead = due.signed_duration_since(now);
    let window = TimeDelta::from_std(direct_window).unwrap_or(TimeDelta::MAX);
    if lead > window {
        return ArmPlan::Schedule {
            expression: at_expression(due),
        };
    }
    let millis = u64::try_from(lead.num_milliseconds()).unwrap_or(0);
    ArmPlan::Direct {
        delay: Duration::from_secs(millis.div_ceil(1000)).min(direct_window),
    }
}

/// The `at()` expression for a deadline: `at(yyyy-mm-ddThh:mm:ss)` in UTC, rounded up to the
/// next whole minute (unchanged when already on one) so that the scheduler's one-minute
/// precision can only make a timer late, never early.
pub fn at_expression(due: DateTime<Utc>) -> String {
    let minute = TimeDelta::minutes(1);
    let floor = due.duration_trunc(minute).unwrap_or(due);
    let at = if floor == due {
        due
    } else {
        floor.checked_add_signed(minute).unwrap_or(floor)
    };
    format!("at({})", at.format("%Y-%m-%dT%H:%M:%S"))
}

impl Timers for SchedulerTimers {
    async fn arm(
        &self,
        name: &TimerName,
        due: DateTime<Utc>,
        payload: &TimerPayload,
    ) -> Result<(), TimerError> {
        self.arm_message(name, due, QueueMessage::Timer(payload.clone()))
            .await
    }

    async fn arm_heartbeat(
        &self,
        name: &TimerName,
        due: DateTime<Utc>,
        payload: &HeartbeatTimer,
    ) -> Result<(), TimerError> {
        self.arm_message(name, due, QueueMessage::HeartbeatTimer(payload.clone()))
            .await
    }

    async fn cancel(&self, name: &TimerName) -> Result<(), TimerError> {
        let result = with_retries(&self.retry, || {
            self.client
                .delete_schedule()
                .name(name.as_str())
                .group_name(&self.settings.group_name)
                .send()
        })
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(failure) if failure.code() == Some("ResourceNotFoundException") => Ok(()),
            Err(failure) => Err(Self::error(name, failure.describe())),
        }
    }
}

impl SchedulerTimers {
    /// Arms timer `name` due at `due` delivering `message` (a schedule, or a delayed queue
    /// message when due within the direct window).
    async fn arm_message(
        &self,
        name: &TimerName,
        due: DateTime<Utc>,
        message: QueueMessage,
    ) -> Result<(), TimerError> {
        match self.plan(due, self.clock.now()) {
            ArmPlan::Direct { delay } => {
                tracing::info!(
                    timer = %name,
                    %due,
                    delay_seconds = delay.as_secs(),
                    "timer is due within the direct-delivery window: sending it to the timers queue"
                );
                self.queue
                    .send_delayed(&message, delay)
                    .await
                    .map_err(|e| Self::error(name, e.to_string()))
            }
            ArmPlan::Schedule { expression } => {
                let target = self.target(message.to_json(), name)?;
                let window = FlexibleTimeWindow::builder()
                    .mode(FlexibleTimeWindowMode::Off)
                    .build()
                    .map_err(|e| Self::error(name, format!("building the time window: {e}")))?;
                let result = with_retries(&self.retry, || {
                    self.client
                        .create_schedule()
                        .name(name.as_str())
                        .group_name(&self.settings.group_name)
                        .schedule_expression(&expression)
                        .schedule_expression_timezone(TIMER_TIME_ZONE)
                        .flexible_time_window(window.clone())
                        .action_after_completion(ActionAfterCompletion::Delete)
                        .target(target.clone())
                        .send()
                })
                .await;
                match result {
                    Ok(_) => {
                        tracing::debug!(timer = %name, %expression, "timer armed");
                        Ok(())
                    }
                    Err(failure) if failure.code() == Some("ConflictException") => {
                        tracing::debug!(timer = %name, "timer already armed");
                        Ok(())
                    }
                    Err(failure) => Err(Self::error(name, failure.describe())),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 1, 2, h, m, s).unwrap()
    }

    #[test]
    fn at_expression_rounds_up_to_the_next_minute() {
        assert_eq!(at_expression(at(10, 5, 30)), "at(2030-01-02T10:06:00)");
        assert_eq!(at_expression(at(10, 5, 0)), "at(2030-01-02T10:05:00)");
        assert_eq!(at_expression(at(23, 59, 1)), "at(2030-01-03T00:00:00)");
        let with_millis = at(10, 5, 0) + TimeDelta::milliseconds(1);
        assert_eq!(at_expression(with_millis), "at(2030-01-02T10:06:00)");
    }

    #[test]
    fn deadlines_beyond_the_window_become_schedules() {
        let now = at(10, 0, 0);
        assert_eq!(
            plan_arm(at(10, 1, 1), now, DEFAULT_DIRECT_WINDOW),
            ArmPlan::Schedule {
                expression: "at(2030-01-02T10:02:00)".to_owned()
            }
        );
    }

    #[test]
    fn deadlines_inside_the_window_go_direct_with_the_remaining_delay() {
        let now = at(10, 0, 0);
        let direct = |delay| ArmPlan::Direct {
            delay: Duration::from_secs(delay),
        };
        assert_eq!(
            plan_arm(at(10, 1, 0), now, DEFAULT_DIRECT_WINDOW),
            direct(60)
        );
        assert_eq!(
            plan_arm(at(10, 0, 20), now, DEFAULT_DIRECT_WINDOW),
            direct(20)
        );
        let in_a_bit = now + TimeDelta::milliseconds(1500);
        assert_eq!(plan_arm(in_a_bit, now, DEFAULT_DIRECT_WINDOW), direct(2));
        assert_eq!(plan_arm(now, now, DEFAULT_DIRECT_WINDOW), direct(0));
        assert_eq!(plan_arm(at(9, 0, 0), now, DEFAULT_DIRECT_WINDOW), direct(0));
    }
}
