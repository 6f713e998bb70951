//! What happened: [`TimelineEntry`], one variant per CloudEvents `type`.

use crate::Instant;
use crate::alert::{AlertChange, Severity};
use crate::ids::{
    ActionItemId, AlertId, DedupKey, GroupKey, IntegrationName, PolicyId, TemplateName, UserId,
};
use crate::user::Channel;
use crate::vocabulary::{
    ActionStatus, EscalationStatus, ExhaustedReason, PostmortemStatus, ResolveReason,
    RetriggerReason, StopReason, SuppressionReason, Target, Urgency,
};
use serde::{Deserialize, Serialize};

/// What happened: one variant per CloudEvents `type`, each with its typed `data`.
///
/// Serialised adjacently tagged as `{"type": "io.klaxon…", "data": {…}}`, which is exactly the
/// `type` and `data` members of the CloudEvents JSON format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum TimelineEntry {
    /// `io.klaxon.incident.triggered`: an incident was opened by its first alert.
    #[serde(rename = "io.klaxon.incident.triggered")]
    IncidentTriggered {
        /// The incident's number.
        number: u64,
        /// Its title.
        title: String,
        /// Its severity at opening.
        severity: Severity,
        /// The group key that gathers its alerts.
        group_key: GroupKey,
        /// The integration of the first alert.
        integration: IntegrationName,
    },
    /// `io.klaxon.incident.declared`: someone opened the incident by hand (the entry's actor).
    #[serde(rename = "io.klaxon.incident.declared")]
    IncidentDeclared {
        /// The escalation policy asked for, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        policy: Option<PolicyId>,
        /// The description given, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
    },
    /// `io.klaxon.incident.acknowledged`: someone took it.
    #[serde(rename = "io.klaxon.incident.acknowledged")]
    IncidentAcknowledged {},
    /// `io.klaxon.incident.resolved`.
    #[serde(rename = "io.klaxon.incident.resolved")]
    IncidentResolved {
        /// By hand, or automatically because every alert resolved.
        reason: ResolveReason,
    },
    /// `io.klaxon.incident.suppressed`: routing decided not to page for it.
    #[serde(rename = "io.klaxon.incident.suppressed")]
    IncidentSuppressed {
        /// The rule or maintenance window that suppressed it.
        reason: SuppressionReason,
    },
    /// `io.klaxon.incident.severity_changed`: a more severe alert joined.
    #[serde(rename = "io.klaxon.incident.severity_changed")]
    IncidentSeverityChanged {
        /// The previous severity.
        from: Severity,
        /// The new severity.
        to: Severity,
    },
    /// `io.klaxon.incident.assigned`: a user was added to the assignees.
    #[serde(rename = "io.klaxon.incident.assigned")]
    IncidentAssigned {
        /// The new assignee.
        user: UserId,
    },
    /// `io.klaxon.incident.snoozed`: an acknowledged incident re-triggers at `until` unless it
    /// is resolved or acknowledged again first.
    #[serde(rename = "io.klaxon.incident.snoozed")]
    IncidentSnoozed {
        /// When the snooze ends.
        until: Instant,
    },
    /// `io.klaxon.incident.snooze_cancelled`: a new acknowledgement ended a snooze early.
    #[serde(rename = "io.klaxon.incident.snooze_cancelled")]
    SnoozeCancelled {},
    /// `io.klaxon.incident.ack_timeout_armed`: the incident re-triggers at `at` unless resolved.
    #[serde(rename = "io.klaxon.incident.ack_timeout_armed")]
    AckTimeoutArmed {
        /// When it re-triggers.
        at: Instant,
    },
    /// `io.klaxon.incident.retriggered`: an acknowledged incident pages again.
    #[serde(rename = "io.klaxon.incident.retriggered")]
    IncidentRetriggered {
        /// Why.
        reason: RetriggerReason,
        /// The round it pages from.
        round: u32,
        /// The tier it pages from.
        tier: u32,
    },
    /// `io.klaxon.incident.reassigned`: escalation restarts on a new policy or target.
    #[serde(rename = "io.klaxon.incident.reassigned")]
    IncidentReassigned {
        /// The policy it runs now (`direct` for a user or schedule).
        policy: PolicyId,
        /// The user or schedule, for a direct reassignment.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<Target>,
    },
    /// `io.klaxon.escalation.escalated`: someone asked for the next tier at once.
    #[serde(rename = "io.klaxon.escalation.escalated")]
    EscalatedByHand {
        /// The round it was at.
        round: u32,
        /// The tier it was at.
        tier: u32,
    },
    /// `io.klaxon.incident.responders_added`: targets paged by hand, the policy unchanged.
    #[serde(rename = "io.klaxon.incident.responders_added")]
    RespondersAdded {
        /// Who was asked to help.
        targets: Vec<Target>,
    },
    /// `io.klaxon.incident.note`: a responder's note.
    #[serde(rename = "io.klaxon.incident.note")]
    NoteAdded {
        /// The note (plain text).
        text: String,
    },
    /// `io.klaxon.postmortem.created`: a post-mortem was started for the incident.
    #[serde(rename = "io.klaxon.postmortem.created")]
    PostmortemCreated {
        /// The template it was created from.
        template: TemplateName,
    },
    /// `io.klaxon.postmortem.status_changed`: the post-mortem went to review or back to draft.
    #[serde(rename = "io.klaxon.postmortem.status_changed")]
    PostmortemStatusChanged {
        /// The previous status.
        from: PostmortemStatus,
        /// The new status.
        to: PostmortemStatus,
    },
    /// `io.klaxon.postmortem.published`: the post-mortem was published (final).
    #[serde(rename = "io.klaxon.postmortem.published")]
    PostmortemPublished {},
    /// `io.klaxon.postmortem.action_item_added`: follow-up work was agreed.
    #[serde(rename = "io.klaxon.postmortem.action_item_added")]
    ActionItemAdded {
        /// The item's id.
        item: ActionItemId,
        /// What to do.
        title: String,
        /// Who does it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        owner: Option<UserId>,
    },
    /// `io.klaxon.postmortem.action_item_updated`: an action item changed (done, reopened,
    /// retitled, reassigned or re-dated).
    #[serde(rename = "io.klaxon.postmortem.action_item_updated")]
    ActionItemUpdated {
        /// The item's id.
        item: ActionItemId,
        /// Its status after the change.
        status: ActionStatus,
    },
    /// `io.klaxon.alert.linked`: an alert joined the incident.
    #[serde(rename = "io.klaxon.alert.linked")]
    AlertLinked {
        /// The alert occurrence.
        alert: AlertId,
        /// Its integration.
        integration: IntegrationName,
        /// Its dedup key.
        dedup_key: DedupKey,
        /// Its summary.
        summary: String,
        /// Its severity.
        severity: Severity,
    },
    /// `io.klaxon.alert.resolved`: a linked alert cleared.
    #[serde(rename = "io.klaxon.alert.resolved")]
    AlertResolved {
        /// The alert occurrence.
        alert: AlertId,
        /// How many linked alerts are still firing.
        open_alerts: u32,
    },
    /// `io.klaxon.alert.updated`: the sender changed a linked alert (its message, description,
    /// priority or tags) or added a note to it; nobody is paged for it.
    #[serde(rename = "io.klaxon.alert.updated")]
    AlertUpdated {
        /// The alert occurrence.
        alert: AlertId,
        /// Its dedup key.
        dedup_key: DedupKey,
        /// What changed.
        change: AlertChange,
    },
    /// `io.klaxon.change.recorded`: a change (a deploy, a configuration push) was reported by
    /// an integration with alerts in this open incident (PagerDuty Change Events); it pages
    /// nobody.
    #[serde(rename = "io.klaxon.change.recorded")]
    ChangeRecorded {
        /// The change's id.
        change: String,
        /// The integration that reported it.
        integration: IntegrationName,
        /// What changed.
        summary: String,
        /// Where, if the sender said.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source: Option<String>,
        /// When it happened.
        happened_at: Instant,
    },
    /// `io.klaxon.escalation.tier_paged`: a tier's targets are being paged.
    #[serde(rename = "io.klaxon.escalation.tier_paged")]
    TierPaged {
        /// The policy.
        policy: PolicyId,
        /// The round (0 = first run through the tiers).
        round: u32,
        /// The tier index.
        tier: u32,
        /// The tier's targets.
        targets: Vec<Target>,
        /// The urgency of the pages.
        urgency: Urgency,
        /// When the next tier is due if nobody acknowledges (none for low urgency).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        escalates_at: Option<Instant>,
    },
    /// `io.klaxon.escalation.tier_skipped`: nobody was on call for any target of the tier.
    #[serde(rename = "io.klaxon.escalation.tier_skipped")]
    TierSkipped {
        /// The policy.
        policy: PolicyId,
        /// The round.
        round: u32,
        /// The tier index.
        tier: u32,
        /// The tier's targets, none of which resolved to anyone.
        targets: Vec<Target>,
    },
    /// `io.klaxon.escalation.exhausted`: the policy has nobody left to page.
    #[serde(rename = "io.klaxon.escalation.exhausted")]
    EscalationExhausted {
        /// The policy.
        policy: PolicyId,
        /// Why.
        reason: ExhaustedReason,
    },
    /// `io.klaxon.escalation.stopped`: an acknowledge or resolve stopped a live escalation.
    #[serde(rename = "io.klaxon.escalation.stopped")]
    EscalationStopped {
        /// The policy.
        policy: PolicyId,
        /// What stopped it.
        reason: StopReason,
        /// The status it was in.
        previous: EscalationStatus,
        /// The round it had reached.
        round: u32,
        /// The tier it had reached.
        tier: u32,
    },
    /// `io.klaxon.notification.delivered`: a page reached a provider.
    #[serde(rename = "io.klaxon.notification.delivered")]
    NotificationDelivered {
        /// Who was paged.
        user: UserId,
        /// On which channel.
        channel: Channel,
        /// The escalation round of the page.
        round: u32,
        /// The escalation tier of the page.
        tier: u32,
        /// The provider's message id, when it returns one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        provider_id: Option<String>,
    },
    /// `io.klaxon.notification.failed`: a page could not be delivered.
    #[serde(rename = "io.klaxon.notification.failed")]
    NotificationFailed {
        /// Who was to be paged.
        user: UserId,
        /// On which channel.
        channel: Channel,
        /// The escalation round of the page.
        round: u32,
        /// The escalation tier of the page.
        tier: u32,
        /// What went wrong.
        error: String,
        /// Whether another attempt will be made.
        retrying: bool,
    },
    /// `io.klaxon.notification.notice_delivered`: a notice that the incident was acknowledged
    /// or resolved reached a provider (sent to people already paged).
    #[serde(rename = "io.klaxon.notification.notice_delivered")]
    NoticeDelivered {
        /// Who was told.
        user: UserId,
        /// On which channel.
        channel: Channel,
        /// What they were told: acknowledged or resolved.
        notice: StopReason,
        /// The provider's message id, when it returns one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        provider_id: Option<String>,
    },
    /// `io.klaxon.notification.notice_failed`: a notice could not be delivered.
    #[serde(rename = "io.klaxon.notification.notice_failed")]
    NoticeFailed {
        /// Who was to be told.
        user: UserId,
        /// On which channel.
        channel: Channel,
        /// What they were to be told.
        notice: StopReason,
        /// What went wrong.
        error: String,
        /// Whether another attempt will be made.
        retrying: bool,
    },
}

impl TimelineEntry {
    /// The CloudEvents `type` of this entry.
    pub fn event_type(&self) -> &'static str {
        match self {
            TimelineEntry::IncidentTriggered { .. } => "io.klaxon.incident.triggered",
            TimelineEntry::IncidentDeclared { .. } => "io.klaxon.incident.declared",
            TimelineEntry::IncidentAcknowledged {} => "io.klaxon.incident.acknowledged",
            TimelineEntry::IncidentResolved { .. } => "io.klaxon.incident.resolved",
            TimelineEntry::IncidentSuppressed { .. } => "io.klaxon.incident.suppressed",
            TimelineEntry::IncidentSeverityChanged { .. } => "io.klaxon.incident.severity_changed",
            TimelineEntry::IncidentAssigned { .. } => "io.klaxon.incident.assigned",
            TimelineEntry::IncidentSnoozed { .. } => "io.klaxon.incident.snoozed",
            TimelineEntry::SnoozeCancelled {} => "io.klaxon.incident.snooze_cancelled",
            TimelineEntry::AckTimeoutArmed { .. } => "io.klaxon.incident.ack_timeout_armed",
            TimelineEntry::IncidentRetriggered { .. } => "io.klaxon.incident.retriggered",
            TimelineEntry::IncidentReassigned { .. } => "io.klaxon.incident.reassigned",
            TimelineEntry::EscalatedByHand { .. } => "io.klaxon.escalation.escalated",
            TimelineEntry::RespondersAdded { .. } => "io.klaxon.incident.responders_added",
            TimelineEntry::NoteAdded { .. } => "io.klaxon.incident.note",
            TimelineEntry::PostmortemCreated { .. } => "io.klaxon.postmortem.created",
            TimelineEntry::PostmortemStatusChanged { .. } => "io.klaxon.postmortem.status_changed",
            TimelineEntry::PostmortemPublished {} => "io.klaxon.postmortem.published",
            TimelineEntry::ActionItemAdded { .. } => "io.klaxon.postmortem.action_item_added",
            TimelineEntry::ActionItemUpdated { .. } => "io.klaxon.postmortem.action_item_updated",
            TimelineEntry::AlertLinked { .. } => "io.klaxon.alert.linked",
            TimelineEntry::AlertResolved { .. } => "io.klaxon.alert.resolved",
            TimelineEntry::AlertUpdated { .. } => "io.klaxon.alert.updated",
            TimelineEntry::ChangeRecorded { .. } => "io.klaxon.change.recorded",
            TimelineEntry::TierPaged { .. } => "io.klaxon.escalation.tier_paged",
            TimelineEntry::TierSkipped { .. } => "io.klaxon.escalation.tier_skipped",
            TimelineEntry::EscalationExhausted { .. } => "io.klaxon.escalation.exhausted",
            TimelineEntry::EscalationStopped { .. } => "io.klaxon.escalation.stopped",
            TimelineEntry::NotificationDelivered { .. } => "io.klaxon.notification.delivered",
            TimelineEntry::NotificationFailed { .. } => "io.klaxon.notification.failed",
            TimelineEntry::NoticeDelivered { .. } => "io.klaxon.notification.notice_delivered",
            TimelineEntry::NoticeFailed { .. } => "io.klaxon.notification.notice_failed",
        }
    }
}
