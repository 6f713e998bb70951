//! The normalised alert every ingest format produces.

use crate::Instant;
use crate::ids::{DedupKey, IntegrationName};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// How bad an alert (or incident) is. Ordered from least to most severe, so `max()` picks the
/// worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational; never urgent by default.
    Info,
    /// Something degrades; look soon.
    Warning,
    /// Something is broken.
    Error,
    /// Customers are hurt now.
    Critical,
}

impl Severity {
    /// All severities, most severe first.
    pub const ALL: [Severity; 4] = [
        Severity::Critical,
        Severity::Error,
        Severity::Warning,
        Severity::Info,
    ];

    /// The lowercase name used in config files and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
            Severity::Critical => "critical",
        }
    }

    /// Parses the lowercase name (`critical`, `error`, `warning`, `info`).
    pub fn parse(s: &str) -> Option<Severity> {
        match s {
            "critical" => Some(Severity::Critical),
            "error" => Some(Severity::Error),
            "warning" => Some(Severity::Warning),
            "info" => Some(Severity::Info),
            _ => None,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether an alert is currently firing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    /// The condition holds.
    Firing,
    /// The condition cleared.
    Resolved,
}

/// A link attached to an alert (runbook, dashboard, graph image).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// The URL.
    pub href: String,
    /// Optional link text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// What kind of link this is.
    #[serde(default)]
    pub kind: LinkKind,
}

/// The kind of a [`Link`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkKind {
    /// A page to open.
    #[default]
    Link,
    /// An image to show (PagerDuty `images`).
    Image,
}

/// The identity of an alert: unique within its integration.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AlertKey {
    /// The integration that sent it.
    pub integration: IntegrationName,
    /// The dedup key within that integration.
    pub dedup_key: DedupKey,
}

/// One alert, normalised from whatever format it arrived in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Which integration sent it (from the authenticated key, never from the body).
    pub integration: IntegrationName,
    /// The dedup key within the integration.
    pub dedup_key: DedupKey,
    /// Firing or resolved.
    pub status: AlertStatus,
    /// Severity after format mapping and integration defaults.
    pub severity: Severity,
    /// One-line human summary (the page's title).
    pub summary: String,
    /// The emitting system (host, service, alarm namespace), if the format carries one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Identifying labels, used by grouping and routing rules.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Descriptive annotations (description, runbook text, custom details flattened).
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Links and images.
    #[serde(default)]
    pub links: Vec<Link>,
    /// When Klaxon received it.
    pub received_at: Instant,
    /// When the condition started, if the format says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Instant>,
    /// When the condition ended, for resolved alerts that say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Instant>,
    /// A grouping hint from the sender (Alertmanager `groupKey`, Grafana `groupKey`): used by the
    /// default grouping so a sender's group becomes one incident.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_hint: Option<String>,
    /// The sender's original JSON for this alert (the element, not the whole batch, when the
    /// format batches).
    #[serde(default)]
    pub raw: serde_json::Value,
}

/// The most bytes of label names and values one alert may carry. Labels are what grouping and
/// routing match on and they are copied onto the incident, so they are bounded (annotations and
/// the raw payload are not: they are stored compressed with the alert).
pub const MAX_LABELS_BYTES: usize = 32 * 1024;

/// The most characters of an alert's `source`. It is copied onto the incident, so it is bounded
/// like the summary: an unbounded source could make the incident item too large to store.
pub const MAX_SOURCE_CHARS: usize = 1024;

impl Alert {
    /// Checks the limits that keep an alert storable and routable: the labels' total size and
    /// the source's length. Returns the offending field and a message.
    pub fn check_limits(&self) -> Result<(), (&'static str, String)> {
        let bytes: usize = self.labels.iter().map(|(k, v)| k.len() + v.len()).sum();
        if bytes > MAX_LABELS_BYTES {
            return Err((
                "labels",
                format!("labels total {bytes} bytes; at most {MAX_LABELS_BYTES} are accepted"),
            ));
        }
        if let Some(source) = &self.source {
            let chars = source.chars().count();
            if chars > MAX_SOURCE_CHARS {
                return Err((
                    "source",
                    format!("is {chars} characters; at most {MAX_SOURCE_CHARS} are accepted"),
                ));
            }
        }
        Ok(())
    }

    /// This alert's identity.
    pub fn key(&self) -> AlertKey {
        AlertKey {
            integration: self.integration.clone(),
            dedup_key: self.dedup_key.clone(),
        }
    }
}

/// What an ingest request asks Klaxon to do with one alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AlertEvent {
    /// A full alert, firing or resolved (Alertmanager, Grafana, CloudWatch, native, PagerDuty
    /// `trigger`, Opsgenie create).
    Alert(Box<Alert>),
    /// Resolve by key only (PagerDuty `resolve`, Opsgenie close, native resolve without summary).
    Resolve {
        /// Which alert.
        key: AlertKey,
        /// When it resolved: the sender's end time if the format carries one (native
        /// `ended_at`), else when it was received.
        at: Instant,
    },
    /// Acknowledge the incident this alert belongs to (PagerDuty `acknowledge`, Opsgenie ack).
    Acknowledge {
        /// Which alert.
        key: AlertKey,
        /// When it was received.
        at: Instant,
    },
}

/// A change a sender made to an alert after creating it (Opsgenie's update, note and tag
/// calls): recorded on the incident's timeline, and shown when the sender reads the alert back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "field", rename_all = "snake_case")]
pub enum AlertChange {
    /// The summary (Opsgenie `message`) was replaced.
    Message {
        /// The new summary.
        message: String,
    },
    /// The description was replaced.
    Description {
        /// The new description.
        description: String,
    },
    /// The priority was changed (the alert's severity follows it).
    Priority {
        /// As the sender named it (`P1`…`P5`).
        priority: String,
        /// The severity it maps to.
        severity: Severity,
    },
    /// A note was added.
    Note {
        /// The note's text.
        note: String,
    },
    /// Tags were added.
    TagsAdded {
        /// The tags, as sent.
        tags: Vec<String>,
    },
    /// Tags were removed.
    TagsRemoved {
        /// The tags, as sent.
        tags: Vec<String>,
    },
}

impl AlertEvent {
    /// The identity of the alert this event concerns.
    pub fn key(&self) -> AlertKey {
        match self {
            AlertEvent::Alert(alert) => alert.key(),
            AlertEvent::Resolve { key, .. } | AlertEvent::Acknowledge { key, .. } => key.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn alert(labels: BTreeMap<String, String>) -> Alert {
        Alert {
            integration: IntegrationName::new("prom").unwrap(),
            dedup_key: DedupKey::new("k").unwrap(),
            status: AlertStatus::Firing,
            severity: Severity::Error,
            summary: "s".into(),
            source: None,
            labels,
            annotations: BTreeMap::new(),
            links: vec![],
            received_at: chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            started_at: None,
            ended_at: None,
            group_hint: None,
            raw: serde_json::Value::Null,
        }
    }

    #[test]
    fn labels_are_bounded() {
        let ok = alert([("a".to_string(), "x".repeat(MAX_LABELS_BYTES - 1))].into());
        assert!(ok.check_limits().is_ok());
        let big = alert([("a".to_string(), "x".repeat(MAX_LABELS_BYTES))].into());
        let (field, message) = big.check_limits().unwrap_err();
        assert_eq!(field, "labels");
        assert!(message.contains("32768"), "{message}");
    }

    #[test]
    fn the_source_is_bounded_in_characters() {
        let mut ok = alert(BTreeMap::new());
        ok.source = Some("é".repeat(MAX_SOURCE_CHARS));
        assert!(
            ok.check_limits().is_ok(),
            "1024 two-byte characters are fine"
        );
        let mut long = ok.clone();
        long.source = Some("x".repeat(MAX_SOURCE_CHARS + 1));
        let (field, message) = long.check_limits().unwrap_err();
        assert_eq!(field, "source");
        assert!(message.contains("1025 characters"), "{message}");
    }

    #[test]
    fn severities_order_from_info_to_critical() {
        assert!(Severity::Critical > Severity::Error && Severity::Error > Severity::Warning);
        assert_eq!(Severity::parse("warning"), Some(Severity::Warning));
        assert_eq!(Severity::parse("Warning"), None);
    }
}
