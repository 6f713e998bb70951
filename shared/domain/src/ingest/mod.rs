//! Ingest formats: each parser turns a webhook body into [`AlertEvent`]s.
//!
//! PARSERS: to be implemented (issue 2, part 1). This file holds the types configuration needs.

#[allow(unused_imports)]
use crate::alert::AlertEvent;
use crate::alert::Severity;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The largest request body Klaxon accepts on any ingest route (1 MiB). PagerDuty documents
/// 512 KB per event; this leaves room for batched Alertmanager and Grafana groups.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The wire format an integration speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Klaxon's own JSON (`docs/ingest-formats.md`).
    Native,
    /// PagerDuty Events API v2.
    Pagerduty,
    /// Opsgenie alert API (create, acknowledge, close).
    Opsgenie,
    /// Prometheus Alertmanager webhook v4.
    Alertmanager,
    /// Grafana alerting webhook (version 1).
    Grafana,
    /// CloudWatch alarms delivered by SNS.
    Cloudwatch,
}

/// What to do with a CloudWatch `INSUFFICIENT_DATA` state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InsufficientData {
    /// Drop it (accepted, no alert).
    #[default]
    Ignore,
    /// Treat it as firing.
    Firing,
    /// Treat it as resolved.
    Resolved,
}

/// Per-integration defaults applied while normalising.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationDefaults {
    /// Severity when the payload carries none the format can map.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// Source when the payload carries none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Labels added to every alert (the payload's own labels win).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// CloudWatch only: how to treat `INSUFFICIENT_DATA`.
    #[serde(default)]
    pub insufficient_data: InsufficientData,
}
