//! Incidents and their lifecycle.
//!
//! An incident is opened by its first firing alert ([`Incident::open`]), gathers more alerts of
//! its group ([`Incident::link_alert`]), and moves `triggered → acknowledged → resolved` (or
//! straight from triggered to resolved). Nothing moves backwards: a resolved incident cannot be
//! re-triggered, because a new alert for the group after a resolve opens a new incident.
//!
//! Every mutating method is transactional (on error the incident is unchanged) and returns
//! what the caller must record or do: timeline drafts, and for the methods that touch the
//! escalation, escalation [`Effect`]s (cancel a timer, page a tier). The incident embeds its
//! [`EscalationState`], so acknowledging or resolving always stops the escalation in the same
//! write. The list of linked alerts is storage's concern; the incident keeps counts, so the
//! caller must link each alert occurrence once (storage makes that conditional).

use crate::Instant;
use crate::alert::{Alert, AlertStatus, Severity};
use crate::escalation::{
    self, Effect, EscalationError, EscalationEvent, EscalationPolicy, EscalationState,
    EscalationStatus, Ignored, OnCallResolver, Outcome, StopReason, TimerPayload,
};
use crate::ids::{AlertId, GroupKey, IncidentId, UserId};
pub use crate::routing::RoutingContext;
use crate::timeline::{Actor, EntryKey, TimelineDraft, TimelineEntry};
pub use crate::vocabulary::{ResolveReason, SuppressionReason, Urgency};
use serde::{Deserialize, Serialize};

/// Where an incident is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IncidentStatus {
    /// Open and not yet taken by anyone.
    Triggered,
    /// Someone is on it; escalation stopped.
    Acknowledged,
    /// Over.
    Resolved,
}

/// Whether an incident resolves itself when all its alerts have resolved. Passed in by the
/// caller (from configuration), not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AutoResolve {
    /// Resolve the incident when its last open alert resolves.
    WhenAllAlertsResolve,
    /// Leave it open for a human.
    Never,
}

/// When something happened and who did it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorStamp {
    /// When.
    pub at: Instant,
    /// Who.
    pub by: Actor,
}

/// How an incident was resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    /// When.
    pub at: Instant,
    /// Who (for auto-resolve: whoever resolved the last alert).
    pub by: Actor,
    /// Why.
    pub reason: ResolveReason,
}

/// That an incident's paging was suppressed, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppression {
    /// When routing decided.
    pub at: Instant,
    /// Why.
    pub reason: SuppressionReason,
}

/// How many alert occurrences are linked to an incident, and how many of those still fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AlertCounts {
    /// Linked alert occurrences.
    pub linked: u32,
    /// Of those, still firing.
    pub open: u32,
}

/// The result of an escalation step run through the incident.
#[derive(Debug, Clone, PartialEq)]
pub struct EscalationUpdate {
    /// Applied, or ignored (and why).
    pub outcome: Outcome,
    /// What to do, in order.
    pub effects: Vec<Effect>,
}

/// Why an incident operation was refused. The incident is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IncidentError {
    /// [`Incident::open`] was given a resolved alert.
    #[error("alert.status: an incident is opened by a firing alert, not a resolved one")]
    FirstAlertNotFiring,
    /// Acknowledge on an acknowledged incident (callers may treat it as success).
    #[error("incident {incident} is already acknowledged")]
    AlreadyAcknowledged {
        /// The incident.
        incident: IncidentId,
    },
    /// Acknowledge or resolve on a resolved incident.
    #[error("incident {incident} is already resolved")]
    AlreadyResolved {
        /// The incident.
        incident: IncidentId,
    },
    /// A new alert for a resolved incident: resolved → triggered is not a transition; open a
    /// new incident instead.
    #[error(
        "incident {incident} is resolved and cannot be re-triggered: a new alert opens a new incident"
    )]
    ResolvedCannotRetrigger {
        /// The incident.
        incident: IncidentId,
    },
    /// An alert resolved but the incident has no open alerts left to resolve.
    #[error("incident {incident} has no open alerts")]
    NoOpenAlerts {
        /// The incident.
        incident: IncidentId,
    },
    /// Escalation asked for on a suppressed incident.
    #[error("incident {incident} is suppressed: it does not page")]
    Suppressed {
        /// The incident.
        incident: IncidentId,
    },
    /// Suppression asked for after paging started.
    #[error("incident {incident} is already escalating: it cannot be suppressed any more")]
    EscalationStarted {
        /// The incident.
        incident: IncidentId,
    },
    /// The escalation refused the step.
    #[error(transparent)]
    Escalation(#[from] EscalationError),
}

/// An incident. Serialisable as one JSON-like item; fields are private so that every change goes
/// through the lifecycle rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    id: IncidentId,
    number: u64,
    title: String,
    severity: Severity,
    urgency: Urgency,
    status: IncidentStatus,
    group_key: GroupKey,
    created_at: Instant,
    created_by: Actor,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    acknowledged: Option<ActorStamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resolved: Option<Resolution>,
    #[serde(default)]
    alerts: AlertCounts,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    assignees: Vec<UserId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    escalation: Option<EscalationState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    suppressed: Option<Suppression>,
    context: RoutingContext,
}

fn key(text: String) -> EntryKey {
    EntryKey::internal(text)
}

impl Incident {
    /// Opens an incident for its first firing alert (linked at once). The id and number are
    /// generated by the caller. Urgency starts high until routing sets it
    /// ([`Incident::start_escalation`]). Returns the `incident.triggered` and `alert.linked`
    /// drafts.
    pub fn open(
        id: IncidentId,
        number: u64,
        group_key: GroupKey,
        alert_id: AlertId,
        first_alert: &Alert,
        now: Instant,
    ) -> Result<(Incident, Vec<TimelineDraft>), IncidentError> {
        if first_alert.status != AlertStatus::Firing {
            return Err(IncidentError::FirstAlertNotFiring);
        }
        let summary = first_alert.summary.trim();
        let title = if summary.is_empty() {
            format!("{}: {}", first_alert.integration, first_alert.dedup_key)
        } else {
            summary.to_string()
        };
        let created_by = Actor::integration(first_alert.integration.clone());
        let mut incident = Incident {
            id,
            number,
            title,
            severity: first_alert.severity,
            urgency: Urgency::High,
            status: IncidentStatus::Triggered,
            group_key,
            created_at: now,
            created_by: created_by.clone(),
            acknowledged: None,
            resolved: None,
            alerts: AlertCounts::default(),
            assignees: Vec::new(),
            escalation: None,
            suppressed: None,
            context: RoutingContext::from_alert(first_alert),
        };
        let triggered = TimelineDraft::new(
            incident.id.clone(),
            key("triggered".into()),
            now,
            created_by,
            TimelineEntry::IncidentTriggered {
                number,
                title: incident.title.clone(),
                severity: incident.severity,
                group_key: incident.group_key.clone(),
                integration: first_alert.integration.clone(),
            },
        );
        let mut drafts = vec![triggered];
        drafts.extend(incident.link_alert(&alert_id, first_alert, now)?);
        Ok((incident, drafts))
    }

    /// Links another alert occurrence of the group. A more severe firing alert raises the
    /// incident's severity (with an `incident.severity_changed` entry). Refused on a resolved
    /// incident.
    pub fn link_alert(
        &mut self,
        alert_id: &AlertId,
        alert: &Alert,
        now: Instant,
    ) -> Result<Vec<TimelineDraft>, IncidentError> {
        if self.status == IncidentStatus::Resolved {
            return Err(IncidentError::ResolvedCannotRetrigger {
                incident: self.id.clone(),
            });
        }
        let firing = alert.status == AlertStatus::Firing;
        let actor = Actor::integration(alert.integration.clone());
        let mut drafts = vec![TimelineDraft::new(
            self.id.clone(),
            key(format!("alert.{alert_id}.linked")),
            now,
            actor.clone(),
            TimelineEntry::AlertLinked {
                alert: alert_id.clone(),
                integration: alert.integration.clone(),
                dedup_key: alert.dedup_key.clone(),
                summary: alert.summary.clone(),
                severity: alert.severity,
            },
        )];
        if firing && alert.severity > self.severity {
            drafts.push(TimelineDraft::new(
                self.id.clone(),
                key(format!("severity.{alert_id}")),
                now,
                actor,
                TimelineEntry::IncidentSeverityChanged {
                    from: self.severity,
                    to: alert.severity,
                },
            ));
            self.severity = alert.severity;
        }
        self.alerts.linked = self.alerts.linked.saturating_add(1);
        if firing {
            self.alerts.open = self.alerts.open.saturating_add(1);
        }
        Ok(drafts)
    }

    /// A linked alert resolved. With [`AutoResolve::WhenAllAlertsResolve`], the last one
    /// resolving resolves the incident (and stops its escalation), attributed to `actor`.
    pub fn alert_resolved(
        &mut self,
        alert_id: &AlertId,
        actor: Actor,
        auto_resolve: AutoResolve,
        now: Instant,
    ) -> Result<Vec<Effect>, IncidentError> {
        let Some(open) = self.alerts.open.checked_sub(1) else {
            return Err(IncidentError::NoOpenAlerts {
                incident: self.id.clone(),
            });
        };
        let mut next = self.clone();
        next.alerts.open = open;
        let mut effects = vec![Effect::Timeline(TimelineDraft::new(
            self.id.clone(),
            key(format!("alert.{alert_id}.resolved")),
            now,
            actor.clone(),
            TimelineEntry::AlertResolved {
                alert: alert_id.clone(),
                open_alerts: open,
            },
        ))];
        if auto_resolve == AutoResolve::WhenAllAlertsResolve
            && open == 0
            && next.status != IncidentStatus::Resolved
        {
            effects.extend(next.close(ResolveReason::AllAlertsResolved, actor, now)?);
        }
        *self = next;
        Ok(effects)
    }

    /// Resolves the incident because every linked alert has resolved (reason
    /// `all_alerts_resolved`, attributed to `actor`), stopping its escalation.
    ///
    /// For storage that keeps the alert counts as atomic counters: two alerts resolving at once
    /// can each see another one still open in [`Incident::alert_resolved`], and only the
    /// counter shows afterwards that none is left. Does nothing (no effects) while an alert is
    /// still open or when the incident is already resolved.
    pub fn resolve_when_no_alert_is_open(
        &mut self,
        actor: Actor,
        now: Instant,
    ) -> Result<Vec<Effect>, IncidentError> {
        if self.alerts.open > 0 || self.status == IncidentStatus::Resolved {
            return Ok(Vec::new());
        }
        let mut next = self.clone();
        let effects = next.close(ResolveReason::AllAlertsResolved, actor, now)?;
        *self = next;
        Ok(effects)
    }

    /// Replaces the alert counts with the ones storage keeps. Storage counts linked and open
    /// alerts with atomic counters (so that linking never takes the incident's optimistic lock)
    /// and sets them on every incident it reads; nothing else should call this.
    pub fn set_alert_counts(&mut self, counts: AlertCounts) {
        self.alerts = counts;
    }

    /// Acknowledges: triggered → acknowledged, stopping the escalation (its pending timer is
    /// cancelled).
    pub fn acknowledge(
        &mut self,
        actor: Actor,
        now: Instant,
    ) -> Result<Vec<Effect>, IncidentError> {
        match self.status {
            IncidentStatus::Triggered => {}
            IncidentStatus::Acknowledged => {
                return Err(IncidentError::AlreadyAcknowledged {
                    incident: self.id.clone(),
                });
            }
            IncidentStatus::Resolved => {
                return Err(IncidentError::AlreadyResolved {
                    incident: self.id.clone(),
                });
            }
        }
        let mut effects = vec![Effect::Timeline(TimelineDraft::new(
            self.id.clone(),
            key("acknowledged".into()),
            now,
            actor.clone(),
            TimelineEntry::IncidentAcknowledged {},
        ))];
        let escalation =
            self.stopped_escalation(StopReason::Acknowledged, &actor, now, &mut effects)?;
        self.escalation = escalation;
        self.status = IncidentStatus::Acknowledged;
        self.acknowledged = Some(ActorStamp { at: now, by: actor });
        Ok(effects)
    }

    /// Resolves by hand: triggered or acknowledged → resolved, stopping the escalation.
    pub fn resolve(&mut self, actor: Actor, now: Instant) -> Result<Vec<Effect>, IncidentError> {
        self.close(ResolveReason::Manual, actor, now)
    }

    fn close(
        &mut self,
        reason: ResolveReason,
        actor: Actor,
        now: Instant,
    ) -> Result<Vec<Effect>, IncidentError> {
        if self.status == IncidentStatus::Resolved {
            return Err(IncidentError::AlreadyResolved {
                incident: self.id.clone(),
            });
        }
        let mut effects = vec![Effect::Timeline(TimelineDraft::new(
            self.id.clone(),
            key("resolved".into()),
            now,
            actor.clone(),
            TimelineEntry::IncidentResolved { reason },
        ))];
        let escalation =
            self.stopped_escalation(StopReason::Resolved, &actor, now, &mut effects)?;
        self.escalation = escalation;
        self.status = IncidentStatus::Resolved;
        self.resolved = Some(Resolution {
            at: now,
            by: actor,
            reason,
        });
        Ok(effects)
    }

    /// The escalation state after stopping it (unchanged if there is none), its effects appended.
    fn stopped_escalation(
        &self,
        reason: StopReason,
        actor: &Actor,
        now: Instant,
        effects: &mut Vec<Effect>,
    ) -> Result<Option<EscalationState>, IncidentError> {
        let Some(state) = &self.escalation else {
            return Ok(None);
        };
        match escalation::stop(&self.id, state, reason, actor, now) {
            Ok(transition) => {
                effects.extend(transition.effects);
                Ok(Some(transition.state))
            }
            // Already stopped the same way (ack then resolve reaches here only for Resolved):
            // nothing left to stop.
            Err(EscalationError::AlreadyResolved) => Ok(Some(state.clone())),
            Err(other) => Err(other.into()),
        }
    }

    /// Adds `user` to the assignees (no entry if already assigned).
    pub fn assign(&mut self, user: UserId, actor: Actor, now: Instant) -> Vec<TimelineDraft> {
        if self.assignees.contains(&user) {
            return Vec::new();
        }
        let draft = TimelineDraft::new(
            self.id.clone(),
            key(format!("assigned.{user}")),
            now,
            actor,
            TimelineEntry::IncidentAssigned { user: user.clone() },
        );
        self.assignees.push(user);
        vec![draft]
    }

    /// Records that routing suppressed paging for this incident. Repeating it is a no-op (no
    /// entry); it is refused once paging has started.
    pub fn suppress(
        &mut self,
        reason: SuppressionReason,
        actor: Actor,
        now: Instant,
    ) -> Result<Vec<TimelineDraft>, IncidentError> {
        if let Some(state) = &self.escalation
            && state.status() != EscalationStatus::NotStarted
        {
            return Err(IncidentError::EscalationStarted {
                incident: self.id.clone(),
            });
        }
        if self.suppressed.is_some() {
            return Ok(Vec::new());
        }
        let draft = TimelineDraft::new(
            self.id.clone(),
            key("suppressed".into()),
            now,
            actor,
            TimelineEntry::IncidentSuppressed {
                reason: reason.clone(),
            },
        );
        self.suppressed = Some(Suppression { at: now, reason });
        Ok(vec![draft])
    }

    /// Sets the severity (a routing rule's severity override), recording the change. No-op
    /// (no entry) when the severity is already `severity`.
    pub fn override_severity(
        &mut self,
        severity: Severity,
        actor: Actor,
        now: Instant,
    ) -> Option<TimelineDraft> {
        if severity == self.severity {
            return None;
        }
        let draft = TimelineDraft::new(
            self.id.clone(),
            key(format!("severity.override.{}", severity.as_str())),
            now,
            actor,
            TimelineEntry::IncidentSeverityChanged {
                from: self.severity,
                to: severity,
            },
        );
        self.severity = severity;
        Some(draft)
    }

    /// Starts escalating with `policy` at `urgency` (routing's decision; sets the incident's
    /// urgency). A redelivered start is ignored, and so is a start after the incident was
    /// acknowledged or resolved. Refused on a suppressed incident.
    pub fn start_escalation(
        &mut self,
        policy: &EscalationPolicy,
        urgency: Urgency,
        resolver: &dyn OnCallResolver,
        now: Instant,
    ) -> Result<EscalationUpdate, IncidentError> {
        if self.suppressed.is_some() {
            return Err(IncidentError::Suppressed {
                incident: self.id.clone(),
            });
        }
        let ignored = |why| {
            Ok(EscalationUpdate {
                outcome: Outcome::Ignored(why),
                effects: Vec::new(),
            })
        };
        // A redelivered start is ignored whatever policy routing picks this time: the
        // escalation keeps the policy it started with.
        let state = match &self.escalation {
            Some(state) => match state.status() {
                EscalationStatus::NotStarted => state.clone(),
                EscalationStatus::Active | EscalationStatus::Exhausted => {
                    return ignored(Ignored::AlreadyStarted);
                }
                EscalationStatus::Acknowledged | EscalationStatus::Resolved => {
                    return ignored(Ignored::AlreadyStopped);
                }
            },
            None if self.status != IncidentStatus::Triggered => {
                return ignored(Ignored::AlreadyStopped);
            }
            None => EscalationState::new(policy.id.clone(), urgency),
        };
        let transition = escalation::step(
            &self.id,
            &state,
            &EscalationEvent::Start,
            policy,
            resolver,
            now,
        )?;
        if transition.is_applied() {
            self.urgency = urgency;
            self.escalation = Some(transition.state);
        }
        Ok(EscalationUpdate {
            outcome: transition.outcome,
            effects: transition.effects,
        })
    }

    /// Delivers a fired (or swept) timer to the escalation. Pass the policy the escalation runs
    /// ([`EscalationState::policy`]), not whatever routing would pick today.
    pub fn fire_timer(
        &mut self,
        payload: &TimerPayload,
        policy: &EscalationPolicy,
        resolver: &dyn OnCallResolver,
        now: Instant,
    ) -> Result<EscalationUpdate, IncidentError> {
        let Some(state) = &self.escalation else {
            return Ok(EscalationUpdate {
                outcome: Outcome::Ignored(Ignored::StaleTimer),
                effects: Vec::new(),
            });
        };
        let transition = escalation::step(
            &self.id,
            state,
            &EscalationEvent::TimerFired(payload.clone()),
            policy,
            resolver,
            now,
        )?;
        self.escalation = Some(transition.state);
        Ok(EscalationUpdate {
            outcome: transition.outcome,
            effects: transition.effects,
        })
    }

    /// The identifier.
    pub fn id(&self) -> &IncidentId {
        &self.id
    }
    /// The human-facing number (`#42`).
    pub fn number(&self) -> u64 {
        self.number
    }
    /// The title (the first alert's summary).
    pub fn title(&self) -> &str {
        &self.title
    }
    /// The highest severity of the firing alerts linked so far.
    pub fn severity(&self) -> Severity {
        self.severity
    }
    /// The urgency routing chose (high until then).
    pub fn urgency(&self) -> Urgency {
        self.urgency
    }
    /// Triggered, acknowledged or resolved.
    pub fn status(&self) -> IncidentStatus {
        self.status
    }
    /// Whether it is not resolved.
    pub fn is_open(&self) -> bool {
        self.status != IncidentStatus::Resolved
    }
    /// The group key that gathers its alerts.
    pub fn group_key(&self) -> &GroupKey {
        &self.group_key
    }
    /// When it was opened.
    pub fn created_at(&self) -> Instant {
        self.created_at
    }
    /// The integration whose alert opened it.
    pub fn created_by(&self) -> &Actor {
        &self.created_by
    }
    /// When and by whom it was acknowledged.
    pub fn acknowledged(&self) -> Option<&ActorStamp> {
        self.acknowledged.as_ref()
    }
    /// When, by whom and why it was resolved.
    pub fn resolved(&self) -> Option<&Resolution> {
        self.resolved.as_ref()
    }
    /// Linked and open alert counts.
    pub fn alerts(&self) -> AlertCounts {
        self.alerts
    }
    /// The assignees, in the order they were added.
    pub fn assignees(&self) -> &[UserId] {
        &self.assignees
    }
    /// The escalation, once routing started one.
    pub fn escalation(&self) -> Option<&EscalationState> {
        self.escalation.as_ref()
    }
    /// The suppression, if routing suppressed paging.
    pub fn suppressed(&self) -> Option<&Suppression> {
        self.suppressed.as_ref()
    }
    /// What routing matches on.
    pub fn context(&self) -> &RoutingContext {
        &self.context
    }
}

#[cfg(test)]
mod tests;
