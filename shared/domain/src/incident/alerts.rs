//! Alerts joining and leaving an incident: linking occurrences, resolving them, and the counts
//! storage keeps.

use super::{AlertCounts, AutoResolve, Incident, IncidentError, IncidentStatus, key};
use crate::Instant;
use crate::alert::{Alert, AlertStatus};
use crate::escalation::Effect;
use crate::ids::AlertId;
use crate::timeline::{Actor, TimelineDraft, TimelineEntry};
use crate::vocabulary::ResolveReason;

impl Incident {
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
}
