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
use crate::escalation::{Effect, EscalationError, EscalationState, Outcome};
use crate::ids::{AlertId, GroupKey, IncidentId, UserId};
pub use crate::routing::RoutingContext;
use crate::timeline::{Actor, EntryKey, TimelineDraft, TimelineEntry};
pub use crate::vocabulary::{ResolveReason, SuppressionReason, Urgency};
use serde::{Deserialize, Serialize};

mod actions;
mod alerts;
mod escalate;
mod lifecycle;

pub use actions::{MAX_NOTE_LEN, MAX_REQUESTS_KEPT, RequestToken};

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
    /// A responder action that needs an escalation on an incident without one (suppressed,
    /// or not routed yet).
    #[error("incident {incident} has no escalation (it was suppressed or is not routed yet)")]
    NoEscalation {
        /// The incident.
        incident: IncidentId,
    },
    /// A note that is empty or longer than [`MAX_NOTE_LEN`].
    #[error("text: a note must be 1 to {MAX_NOTE_LEN} characters")]
    BadNote,
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
    /// The tokens of the last responder actions applied (snooze, reassign, ...): a retried
    /// request finds its token here and changes nothing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    requests: Vec<String>,
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
            requests: Vec::new(),
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
mod action_tests;
#[cfg(test)]
mod tests;
