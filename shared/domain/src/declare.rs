//! Declaring an incident by hand (`POST /v1/incidents`, `klaxon incidents declare`).
//!
//! A declaration becomes an alert of the reserved integration [`DECLARED_INTEGRATION`], in a
//! group of its own, so the incident it opens goes through the normal pipeline: routing (the
//! declaration's policy and urgency when it names them, else the routing rules and defaults),
//! tier pages, escalation, acknowledge and resolve. Its dedup key comes from the client's
//! idempotency key, so a retried declaration is a repeat of the same alert: the same incident,
//! paged once.

use crate::Instant;
use crate::alert::{Alert, AlertStatus, Severity};
use crate::ids::{DedupKey, GroupKey, IdError, IntegrationName, PolicyId};
use crate::routing::RoutingContext;
use crate::vocabulary::Urgency;
use std::collections::BTreeMap;

/// The integration every declared incident's alert belongs to (reserved: no configured
/// integration may take the name).
pub const DECLARED_INTEGRATION: &str = "declared";
/// The label carrying the declaration's escalation policy to routing.
pub const POLICY_LABEL: &str = "declared_policy";
/// The label carrying the declaration's urgency to routing.
pub const URGENCY_LABEL: &str = "declared_urgency";
/// The longest title accepted, in characters.
pub const MAX_TITLE_CHARS: usize = 255;
/// The longest description accepted, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 10_000;

/// What someone declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declaration {
    /// The incident's title (its first alert's summary).
    pub title: String,
    /// Its severity.
    pub severity: Severity,
    /// Its urgency; `None`: the routing rules decide.
    pub urgency: Option<Urgency>,
    /// The escalation policy to page; `None`: the routing rules decide.
    pub policy: Option<PolicyId>,
    /// Free text for the responders.
    pub description: Option<String>,
}

impl Declaration {
    /// The alert that opens the declared incident, with dedup key `declared-<request>`
    /// (`request` is the client's idempotency key, or a fresh id).
    pub fn alert(&self, request: &str, now: Instant) -> Result<Alert, IdError> {
        let mut labels = BTreeMap::new();
        if let Some(policy) = &self.policy {
            labels.insert(POLICY_LABEL.to_owned(), policy.to_string());
        }
        if let Some(urgency) = self.urgency {
            let text = match urgency {
                Urgency::High => "high",
                Urgency::Low => "low",
            };
            labels.insert(URGENCY_LABEL.to_owned(), text.to_owned());
        }
        let mut annotations = BTreeMap::new();
        if let Some(description) = &self.description {
            annotations.insert("description".to_owned(), description.clone());
        }
        Ok(Alert {
            integration: IntegrationName::new(DECLARED_INTEGRATION)?,
            dedup_key: DedupKey::new(format!("declared-{request}"))?,
            status: AlertStatus::Firing,
            severity: self.severity,
            summary: self.title.clone(),
            source: None,
            labels,
            annotations,
            links: Vec::new(),
            received_at: now,
            started_at: Some(now),
            ended_at: None,
            group_hint: None,
            raw: serde_json::Value::Null,
        })
    }
}

/// The group of a declared incident's alert: its own, so it never joins another incident.
pub fn group_key(alert: &Alert) -> GroupKey {
    GroupKey(format!("declared:{}", alert.dedup_key))
}

/// The policy and urgency a declared incident's routing context asks for (none for other
/// incidents: a label of another integration's alert is not a declaration).
pub fn requested(context: &RoutingContext) -> (Option<PolicyId>, Option<Urgency>) {
    if context.integration.as_str() != DECLARED_INTEGRATION {
        return (None, None);
    }
    let policy = context
        .labels
        .get(POLICY_LABEL)
        .and_then(|id| PolicyId::new(id.clone()).ok());
    let urgency = match context.labels.get(URGENCY_LABEL).map(String::as_str) {
        Some("high") => Some(Urgency::High),
        Some("low") => Some(Urgency::Low),
        _ => None,
    };
    (policy, urgency)
}
