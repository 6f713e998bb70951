//! Routing: route new incidents, start and advance escalations, and recover lost work.
//!
//! - Triggered: apply routing rules and maintenance windows; suppress, or start the policy's
//!   escalation (tier-0 pages queued, the tier timer armed) and commit.
//! - Timer fired: re-read the incident; a stale or duplicate timer is a no-op (the state's
//!   version decides); otherwise advance to the next tier. A timer fires only after the write
//!   that armed it commits: timers are armed *before* that write (so a crash cannot lose
//!   one), and a short one (a 2 s snooze) can fire first; its version is then ahead of the
//!   state's and the message fails transiently ([`UseCaseError::TimerAhead`]) to be retried,
//!   instead of being dropped as stale (which left the re-page to the sweep, minutes later).
//! - Sweep (every five minutes): fire escalations whose timer is overdue by more than
//!   [`SWEEP_GRACE`] (a lost timer), queue alerts stored but never grouped, and re-announce
//!   incidents never routed. Everything it does is idempotent, so racing a real timer or a
//!   slow consumer is harmless.

use super::effects::run_effects;
use super::quiet::plan_quiet_hours;
use super::{Core, LoadedConfig, UseCaseError};
use crate::heartbeat::Heartbeat;
use crate::messages::{AlertAction, AlertMessage, IncidentEvent, IncidentMessage, QueueMessage};
use crate::oncall::{Roster, schedules_of};
use crate::ports::{Queue, Timers};
use chrono::TimeDelta;
use klaxon_domain::escalation::{
    EscalationPolicy, EscalationState, Outcome, TimerKind, TimerPayload,
};
use klaxon_domain::ids::{IncidentId, PolicyId, ScheduleId};
use klaxon_domain::incident::{IncidentStatus, SuppressionReason};
use klaxon_domain::routing::SuppressedBy;
use klaxon_domain::schedule::Override;
use klaxon_domain::timeline::Actor;
use klaxon_store::Store;
use klaxon_store::repo::{Attempt, RepoError, StoredIncident, retry_on_conflict};
use std::collections::HashMap;

/// How late a timer must be before the sweep fires it itself (EventBridge Scheduler promises
/// one-minute precision; this leaves room for it).
pub const SWEEP_GRACE: TimeDelta = TimeDelta::minutes(2);

/// How many items one sweep handles per kind (the next sweep takes the rest).
pub const SWEEP_BATCH: u32 = 100;

/// The policy id recorded when no policy applies to an incident (no rule and no default for its
/// severity): its escalation is exhausted at once and nobody is paged.
pub const UNROUTED_POLICY: &str = "unrouted";

/// What handling one routing message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoutingOutcome {
    /// An escalation started (or, without a policy, was exhausted at once).
    Started,
    /// Paging was suppressed by a rule or a maintenance window.
    Suppressed,
    /// An escalation advanced.
    Advanced,
    /// Nothing to do: a duplicate, stale or late message.
    Unchanged,
    /// A sweep ran.
    Swept(SweepReport),
}

/// What a sweep found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Overdue escalations fired.
    pub overdue_timers: usize,
    /// Ungrouped alerts queued again.
    pub requeued_alerts: usize,
    /// Unrouted incidents announced again.
    pub reannounced_incidents: usize,
    /// Heartbeats whose timer was lost, expired by the sweep (their alert sent).
    pub expired_heartbeats: usize,
    /// The self-heartbeat after the sweep: `Some(true)` answered, `Some(false)` failed (logged
    /// and counted), `None` when no heartbeat is configured.
    pub heartbeat: Option<bool>,
}

impl SweepReport {
    /// Whether the sweep recovered anything.
    pub fn recovered_work(&self) -> bool {
        self.overdue_timers
            + self.requeued_alerts
            + self.reannounced_incidents
            + self.expired_heartbeats
            > 0
    }
}

/// The routing use case.
pub struct RoutingService<S, Q, T> {
    pub(super) core: Core<S>,
    pub(super) queue: Q,
    pub(super) timers: T,
    heartbeat: Option<Heartbeat>,
}

crate::fmt_hidden::opaque_debug!(RoutingService<S, Q, T>);

fn actor() -> Actor {
    Actor::system("routing")
}

impl<S: Store, Q: Queue, T: Timers> RoutingService<S, Q, T> {
    /// Assembles the service.
    pub fn new(core: Core<S>, queue: Q, timers: T) -> Self {
        Self {
            core,
            queue,
            timers,
            heartbeat: None,
        }
    }

    /// Pings `heartbeat` after every successful sweep (the self-heartbeat).
    pub fn with_heartbeat(mut self, heartbeat: Heartbeat) -> Self {
        self.heartbeat = Some(heartbeat);
        self
    }

    /// Handles one message from the incidents or timers queue. Other kinds are refused (they
    /// belong to other consumers) so they end in the dead-letter queue, never silently lost.
    pub async fn handle(&self, message: &QueueMessage) -> Result<RoutingOutcome, UseCaseError> {
        match message {
            QueueMessage::Incident(IncidentMessage {
                incident,
                event: IncidentEvent::Triggered,
            }) => self.triggered(incident).await,
            QueueMessage::Timer(payload) => self.timer_fired(payload).await,
            QueueMessage::HeartbeatTimer(timer) => {
                match super::heartbeats::expire(&self.core, &self.queue, timer).await? {
                    super::heartbeats::ExpiryOutcome::Unchanged => Ok(RoutingOutcome::Unchanged),
                    _ => Ok(RoutingOutcome::Advanced),
                }
            }
            QueueMessage::Sweep { .. } => self.sweep().await.map(RoutingOutcome::Swept),
            other => Err(UseCaseError::invalid(
                "kind",
                format!(
                    "routing does not handle {:?} messages",
                    other.queue().as_str()
                ),
            )),
        }
    }

    async fn load(&self, id: &IncidentId) -> Result<Option<StoredIncident>, UseCaseError> {
        Ok(self.core.repo.incident(id).await?)
    }

    /// Overrides of every schedule the policy names, covering `now`.
    pub(super) async fn roster_overrides(
        &self,
        policy: &EscalationPolicy,
    ) -> Result<HashMap<ScheduleId, Vec<Override>>, UseCaseError> {
        let now = self.core.now();
        let mut overrides = HashMap::new();
        for schedule in schedules_of(policy) {
            let list = self
                .core
                .repo
                .overrides(&schedule, now, now + TimeDelta::seconds(1))
                .await?;
            overrides.insert(schedule, list);
        }
        Ok(overrides)
    }

    async fn triggered(&self, id: &IncidentId) -> Result<RoutingOutcome, UseCaseError> {
        retry_on_conflict("incident", id.to_string(), move || async move {
            let Some(stored) = self.load(id).await? else {
                tracing::warn!(incident = %id, "triggered event for an unknown incident");
                return Ok(Attempt::Done(RoutingOutcome::Unchanged));
            };
            let mut incident = stored.incident.clone();
            if incident.status() != IncidentStatus::Triggered
                || incident.escalation().is_some()
                || incident.suppressed().is_some()
            {
                return Ok(Attempt::Done(RoutingOutcome::Unchanged));
            }
            let config = self.core.config().await?;
            let now = self.core.now();
            let decision = config.route(incident.context(), now);
            tracing::info!(incident = %id, explanation = ?decision.explanation, "routed");
            let mut timeline = Vec::new();
            if let Some(draft) = incident.override_severity(decision.severity, actor(), now) {
                timeline.push(draft);
            }
            let outcome = if let Some(suppression) = &decision.suppressed {
                let reason = match &suppression.by {
                    SuppressedBy::Rule(rule) => {
                        SuppressionReason::RoutingRule { rule: rule.clone() }
                    }
                    SuppressedBy::MaintenanceWindow(window) => {
                        SuppressionReason::MaintenanceWindow {
                            window: window.clone(),
                        }
                    }
                };
                timeline.extend(incident.suppress(reason, actor(), now).map_err(conflict)?);
                RoutingOutcome::Suppressed
            } else {
                let policy = policy_for(&config, decision.policy.as_ref())?;
                let overrides = self.roster_overrides(&policy).await?;
                let roster = Roster::new(&config.config, overrides);
                let update = incident
                    .start_escalation(&policy, decision.urgency, &roster, now)
                    .map_err(conflict)?;
                if !matches!(update.outcome, Outcome::Applied) {
                    return Ok(Attempt::Done(RoutingOutcome::Unchanged));
                }
                let mut effects = update.effects;
                if let Some(state) = incident.escalation() {
                    plan_quiet_hours(&config.config, &roster, &mut effects, id, state.version());
                }
                // Pages and the timers go out before the commit (see `effects`).
                timeline.extend(run_effects(&self.queue, &self.timers, effects).await?);
                RoutingOutcome::Started
            };
            match self
                .core
                .repo
                .save_incident(&incident, stored.version, &timeline)
                .await
            {
                Ok(_) => Ok(Attempt::Done(outcome)),
                Err(RepoError::Conflict { .. }) => Ok(Attempt::Retry),
                Err(other) => Err(other.into()),
            }
        })
        .await
    }

    /// Handles a fired (or swept) escalation timer.
    pub async fn timer_fired(
        &self,
        payload: &TimerPayload,
    ) -> Result<RoutingOutcome, UseCaseError> {
        retry_on_conflict(
            "incident",
            payload.incident.to_string(),
            move || async move {
                let Some(stored) = self.load(&payload.incident).await? else {
                    tracing::warn!(incident = %payload.incident, "timer for an unknown incident");
                    return Ok(Attempt::Done(RoutingOutcome::Unchanged));
                };
                let mut incident = stored.incident.clone();
                let Some(escalation) = incident.escalation() else {
                    return Err(UseCaseError::TimerAhead {
                        incident: payload.incident.to_string(),
                        timer: payload.version,
                        state: 0,
                    });
                };
                if payload.version > escalation.version() {
                    return Err(UseCaseError::TimerAhead {
                        incident: payload.incident.to_string(),
                        timer: payload.version,
                        state: escalation.version(),
                    });
                }
                if payload.kind == TimerKind::QuietHoursEnd {
                    return self.quiet_hours_ended(payload).await.map(Attempt::Done);
                }
                let config = self.core.config().await?;
                let Some(policy) = running_policy(&config, escalation) else {
                    // The policy was removed from the configuration while this escalation ran.
                    tracing::error!(
                        incident = %payload.incident,
                        policy = %escalation.policy(),
                        "escalation policy no longer exists; the escalation stops here"
                    );
                    return Ok(Attempt::Done(RoutingOutcome::Unchanged));
                };
                let overrides = self.roster_overrides(&policy).await?;
                let roster = Roster::new(&config.config, overrides);
                let now = self.core.now();
                let update = match incident.fire_timer(payload, &policy, &roster, now) {
                    Ok(update) => update,
                    Err(error) => {
                        tracing::warn!(incident = %payload.incident, %error, "timer refused");
                        return Ok(Attempt::Done(RoutingOutcome::Unchanged));
                    }
                };
                if !matches!(update.outcome, Outcome::Applied) {
                    return Ok(Attempt::Done(RoutingOutcome::Unchanged));
                }
                let mut effects = update.effects;
                if let Some(state) = incident.escalation() {
                    plan_quiet_hours(
                        &config.config,
                        &roster,
                        &mut effects,
                        &payload.incident,
                        state.version(),
                    );
                }
                let timeline = run_effects(&self.queue, &self.timers, effects).await?;
                match self
                    .core
                    .repo
                    .save_incident(&incident, stored.version, &timeline)
                    .await
                {
                    Ok(_) => Ok(Attempt::Done(RoutingOutcome::Advanced)),
                    Err(RepoError::Conflict { .. }) => Ok(Attempt::Retry),
                    Err(other) => Err(other.into()),
                }
            },
        )
        .await
    }

    /// The recovery sweep.
    pub async fn sweep(&self) -> Result<SweepReport, UseCaseError> {
        let mut report = SweepReport::default();
        let cutoff = self.core.now() - SWEEP_GRACE;

        for (id, _due) in self.core.repo.due_escalations(cutoff, SWEEP_BATCH).await? {
            let Some(stored) = self.load(&id).await? else {
                continue;
            };
            let Some(payload) = stored
                .incident
                .escalation()
                .and_then(|e| e.overdue_timer(&id, cutoff))
            else {
                continue;
            };
            if self.timer_fired(&payload).await? == RoutingOutcome::Advanced {
                tracing::warn!(incident = %id, "escalation timer was lost; the sweep fired it");
                report.overdue_timers += 1;
            }
        }

        for alert in self
            .core
            .repo
            .ungrouped_alerts(cutoff, None, SWEEP_BATCH)
            .await?
            .items
        {
            let message = AlertMessage {
                alert_id: alert.alert_id,
                key: alert.key,
                action: AlertAction::Fire,
                group_key: alert.group_key,
                at: alert.received_at,
            };
            self.queue.send(&QueueMessage::Alert(message)).await?;
            report.requeued_alerts += 1;
        }

        // Every open incident, page by page: acknowledged ones stay open (and in this index)
        // for hours, so an unrouted one may sit behind more than one page of them.
        let mut cursor = None;
        loop {
            let open = self.core.repo.open_incidents(cursor, SWEEP_BATCH).await?;
            for stored in open.items {
                let incident = &stored.incident;
                if incident.escalation().is_none()
                    && incident.suppressed().is_none()
                    && incident.status() == IncidentStatus::Triggered
                    && incident.created_at() <= cutoff
                {
                    let event = IncidentMessage {
                        incident: incident.id().clone(),
                        event: IncidentEvent::Triggered,
                    };
                    self.queue.send(&QueueMessage::Incident(event)).await?;
                    report.reannounced_incidents += 1;
                }
            }
            match open.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        report.expired_heartbeats = self.expire_lost_heartbeats(cutoff).await?;
        if report.recovered_work() {
            tracing::warn!(?report, "sweep recovered work");
        }
        // Only a sweep that ran to the end pings: a failing one leaves the watcher waiting.
        if let Some(heartbeat) = &self.heartbeat {
            report.heartbeat = Some(heartbeat.ping(&report).await);
        }
        Ok(report)
    }
}

impl<S: Store, Q: Queue, T: Timers> RoutingService<S, Q, T> {
    /// Heartbeats whose armed timer is more than the grace overdue (`deadline <= cutoff`): the
    /// timer was lost, so the sweep expires them as the timer would have (idempotent against
    /// the timer arriving after all: that is then a redelivery, a repeat of the open alert).
    /// One state read per configured heartbeat.
    async fn expire_lost_heartbeats(
        &self,
        cutoff: klaxon_domain::Instant,
    ) -> Result<usize, UseCaseError> {
        let config = match self.core.config().await {
            Ok(config) => config,
            Err(UseCaseError::NoConfig) => return Ok(0),
            Err(other) => return Err(other),
        };
        let mut expired = 0;
        for heartbeat in &config.heartbeats {
            let Some(state) = self.core.repo.heartbeat_state(&heartbeat.name).await? else {
                continue;
            };
            let Some(timer) = state.armed_timer(&heartbeat.name) else {
                continue;
            };
            if state.deadline > cutoff {
                continue;
            }
            if super::heartbeats::expire(&self.core, &self.queue, &timer).await?
                == super::heartbeats::ExpiryOutcome::Expired
            {
                tracing::warn!(heartbeat = %heartbeat.name, "heartbeat timer was lost; the sweep expired it");
                expired += 1;
            }
        }
        Ok(expired)
    }
}

/// The policy to escalate with: the decision's, or an empty "unrouted" policy (exhausted at
/// once, recorded on the timeline) when none applies or it is missing from the configuration.
fn policy_for(
    config: &LoadedConfig,
    id: Option<&PolicyId>,
) -> Result<EscalationPolicy, UseCaseError> {
    if let Some(policy) = id.and_then(|id| config.policy(id)) {
        return Ok(policy.clone());
    }
    Ok(EscalationPolicy {
        id: PolicyId::new(UNROUTED_POLICY)
            .map_err(|e| UseCaseError::invalid("policy", e.to_string()))?,
        name: "no policy applies".into(),
        tiers: Vec::new(),
        repeat: 0,
        ack_timeout: None,
    })
}

/// The policy an escalation runs: the configured one, or for an incident reassigned straight to
/// a user or schedule, [`EscalationPolicy::direct`] for it.
pub fn running_policy(config: &LoadedConfig, state: &EscalationState) -> Option<EscalationPolicy> {
    match state.assigned() {
        Some(target) => Some(EscalationPolicy::direct(target.clone())),
        None => config.policy(state.policy()).cloned(),
    }
}

fn conflict(error: klaxon_domain::incident::IncidentError) -> UseCaseError {
    UseCaseError::Conflict(error.to_string())
}
