//! What Klaxon knows about an incident, as a post-mortem starts from it: the impact window
//! (first alert to resolve), the responders, the response metrics of
//! [`crate::analytics::IncidentFacts::metrics`] and the timeline's pages, acknowledgements,
//! escalations and notes.

use crate::Instant;
use crate::alert::Severity;
use crate::analytics::{IncidentFacts, IncidentMetrics};
use crate::ids::{IncidentId, UserId};
use crate::timeline::{TimelineEntry, TimelineRecord};
use crate::vocabulary::Target;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The most timeline entries a post-mortem copies (the first ones; the rest is on the
/// incident's own timeline). Keeps the stored document bounded.
pub const MAX_FACT_ENTRIES: usize = 200;
/// The longest note text copied into the facts, in characters.
const MAX_NOTE_CHARS: usize = 500;

/// One timeline event as a post-mortem shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactEntry {
    /// When it happened.
    pub at: Instant,
    /// Its CloudEvents type without the `io.klaxon.` prefix (`incident.acknowledged`).
    pub kind: String,
    /// Who did it (`user:anna`, `system:routing`).
    pub actor: String,
    /// One line for people.
    pub summary: String,
}

/// The facts a post-mortem is pre-filled with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostmortemFacts {
    /// The incident.
    pub incident: IncidentId,
    /// Its number.
    pub number: u64,
    /// Its title.
    pub title: String,
    /// Its severity.
    pub severity: Severity,
    /// The start of the impact window: the incident's first alert.
    pub opened_at: Instant,
    /// When it was acknowledged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_at: Option<Instant>,
    /// The end of the impact window: the resolve (none while open).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<Instant>,
    /// The impact window's length in seconds (none while open).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impact_seconds: Option<i64>,
    /// Everyone who was paged, acknowledged, was assigned or acted on the incident, by id.
    pub responders: Vec<UserId>,
    /// The response metrics.
    pub metrics: IncidentMetrics,
    /// Pages, acknowledgements, escalations, notes and the resolve, oldest first (at most
    /// [`MAX_FACT_ENTRIES`]).
    pub timeline: Vec<FactEntry>,
    /// Whether the timeline had more entries than were copied.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub timeline_truncated: bool,
    /// When these facts were computed.
    pub computed_at: Instant,
}

impl PostmortemFacts {
    /// The facts of an incident: its analytics `facts` and `metrics`, its `assignees` and its
    /// `timeline` (oldest first), computed at `now`.
    pub fn compute(
        facts: &IncidentFacts,
        metrics: IncidentMetrics,
        assignees: &[UserId],
        timeline: &[TimelineRecord],
        now: Instant,
    ) -> Self {
        let mut responders: BTreeSet<UserId> = facts.pages.iter().map(|p| p.user.clone()).collect();
        responders.extend(assignees.iter().cloned());
        if let Some((_, by)) = &facts.acknowledged
            && let Some(user) = by.as_user()
        {
            responders.insert(user.clone());
        }
        let mut entries = Vec::new();
        let mut truncated = false;
        for record in timeline {
            let Some(summary) = summary(&record.entry) else {
                continue;
            };
            if let Some(user) = record.actor.as_user() {
                responders.insert(user.clone());
            }
            if entries.len() == MAX_FACT_ENTRIES {
                truncated = true;
                continue;
            }
            entries.push(FactEntry {
                at: record.time,
                kind: record
                    .entry
                    .event_type()
                    .trim_start_matches("io.klaxon.")
                    .to_owned(),
                actor: record.actor.to_string(),
                summary,
            });
        }
        Self {
            incident: facts.id.clone(),
            number: facts.number,
            title: facts.title.clone(),
            severity: facts.severity,
            opened_at: facts.opened_at,
            acknowledged_at: facts.acknowledged.as_ref().map(|(at, _)| *at),
            resolved_at: facts.resolved_at,
            impact_seconds: metrics.time_to_resolve,
            responders: responders.into_iter().collect(),
            metrics,
            timeline: entries,
            timeline_truncated: truncated,
            computed_at: now,
        }
    }
}

fn targets(list: &[Target]) -> String {
    list.iter()
        .map(|target| match target {
            Target::User(user) => format!("user {user}"),
            Target::Schedule(schedule) => format!("schedule {schedule}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The wire name of a serde enum value (`auto`, `acknowledged`).
fn wire(value: &impl Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// The one-line summary of an entry a post-mortem shows; `None` for the entries it leaves
/// out (alert links and updates, notices, post-mortem entries: the incident's timeline has
/// them).
fn summary(entry: &TimelineEntry) -> Option<String> {
    use TimelineEntry as E;
    Some(match entry {
        E::IncidentTriggered {
            severity,
            integration,
            ..
        } => format!("incident opened ({severity}, from {integration})"),
        E::IncidentDeclared { policy, .. } => match policy {
            Some(policy) => format!("declared by hand (policy {policy})"),
            None => "declared by hand".to_owned(),
        },
        E::IncidentAcknowledged {} => "acknowledged".to_owned(),
        E::IncidentResolved { reason } => format!("resolved ({})", wire(reason)),
        E::IncidentSuppressed { reason } => format!("paging suppressed ({})", wire(reason)),
        E::IncidentSeverityChanged { from, to } => format!("severity {from} → {to}"),
        E::IncidentAssigned { user } => format!("assigned to {user}"),
        E::IncidentSnoozed { until } => format!("snoozed until {}", until.to_rfc3339()),
        E::IncidentRetriggered { reason, .. } => format!("re-triggered ({})", wire(reason)),
        E::IncidentReassigned { policy, target } => match target {
            Some(target) => format!("reassigned to {}", targets(std::slice::from_ref(target))),
            None => format!("reassigned to policy {policy}"),
        },
        E::EscalatedByHand { tier, .. } => format!("escalated by hand from tier {tier}"),
        E::RespondersAdded { targets: list } => format!("responders added: {}", targets(list)),
        E::NoteAdded { text } => {
            let mut note: String = text.chars().take(MAX_NOTE_CHARS).collect();
            if text.chars().count() > MAX_NOTE_CHARS {
                note.push('…');
            }
            format!("note: {note}")
        }
        E::ChangeRecorded { summary, .. } => format!("change: {summary}"),
        E::TierPaged {
            policy,
            round,
            tier,
            targets: list,
            ..
        } => format!(
            "policy {policy} tier {tier} (round {round}) paged: {}",
            targets(list)
        ),
        E::TierSkipped { tier, .. } => format!("tier {tier} skipped: nobody on call"),
        E::EscalationExhausted { policy, .. } => format!("policy {policy} exhausted"),
        E::NotificationDelivered { user, channel, .. } => format!("paged {user} by {channel}"),
        E::NotificationFailed { user, channel, .. } => {
            format!("page to {user} by {channel} failed")
        }
        E::PostmortemCreated { .. }
        | E::PostmortemStatusChanged { .. }
        | E::PostmortemPublished {}
        | E::ActionItemAdded { .. }
        | E::ActionItemUpdated { .. }
        | E::AlertLinked { .. }
        | E::AlertResolved { .. }
        | E::AlertUpdated { .. }
        | E::SnoozeCancelled {}
        | E::AckTimeoutArmed { .. }
        | E::EscalationStopped { .. }
        | E::NoticeDelivered { .. }
        | E::NoticeFailed { .. } => return None,
    })
}
