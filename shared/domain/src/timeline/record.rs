//! Drafts and stored records, and the CloudEvents 1.0 JSON form of a record.

use super::{
    Actor, DATA_CONTENT_TYPE, EntryKey, EventSource, SPEC_VERSION, TimelineEntry, TimelineError,
};
use crate::Instant;
use crate::ids::IncidentId;
use serde::{Deserialize, Serialize};

/// A timeline entry before the recording component names itself as its `source`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineDraft {
    /// The incident (CloudEvents `subject`).
    pub subject: IncidentId,
    /// The occurrence's key within the incident's timeline.
    pub key: EntryKey,
    /// When it happened (CloudEvents `time`).
    pub time: Instant,
    /// Who caused it (CloudEvents extension `actor`).
    pub actor: Actor,
    /// What happened (CloudEvents `type` and `data`).
    pub entry: TimelineEntry,
}

impl TimelineDraft {
    /// A draft. `key` must be deterministic for the occurrence (for example a delivery id).
    pub fn new(
        subject: IncidentId,
        key: EntryKey,
        time: Instant,
        actor: Actor,
        entry: TimelineEntry,
    ) -> Self {
        Self {
            subject,
            key,
            time,
            actor,
            entry,
        }
    }

    /// The CloudEvents `id` this draft will get: `{subject}/{key}`.
    pub fn record_id(&self) -> String {
        format!("{}/{}", self.subject, self.key)
    }

    /// The record, with `source` naming the component that records it.
    pub fn into_record(self, source: EventSource) -> TimelineRecord {
        TimelineRecord {
            id: self.record_id(),
            source,
            subject: self.subject,
            time: self.time,
            actor: self.actor,
            entry: self.entry,
        }
    }
}

/// One stored timeline record; its serde form is a CloudEvents 1.0 JSON event.
///
/// Deserialising checks `specversion` is `1.0`, `datacontenttype` (when present) is
/// `application/json`, `id` is not empty, `source` is a URI-reference, `time` is RFC 3339, and
/// that `type` is a known Klaxon type with matching `data`. Unknown extension attributes are
/// ignored, as CloudEvents consumers must.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "CloudEventJson", into = "CloudEventJson")]
pub struct TimelineRecord {
    /// CloudEvents `id`, unique per `source` (and in practice globally: it contains the subject).
    pub id: String,
    /// CloudEvents `source`.
    pub source: EventSource,
    /// CloudEvents `subject`: the incident.
    pub subject: IncidentId,
    /// CloudEvents `time`.
    pub time: Instant,
    /// CloudEvents extension `actor`.
    pub actor: Actor,
    /// CloudEvents `type` and `data`.
    pub entry: TimelineEntry,
}

impl TimelineRecord {
    /// The record as CloudEvents JSON.
    pub fn to_cloud_event(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::to_value(self)
    }
    /// Parses CloudEvents JSON.
    pub fn from_cloud_event(value: serde_json::Value) -> Result<Self, serde_json::Error> {
        serde_json::from_value(value)
    }
}

/// The CloudEvents JSON event format, field by field.
#[derive(Serialize, Deserialize)]
struct CloudEventJson {
    specversion: String,
    id: String,
    source: EventSource,
    subject: IncidentId,
    time: Instant,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    datacontenttype: Option<String>,
    actor: Actor,
    #[serde(flatten)]
    entry: TimelineEntry,
}

impl From<TimelineRecord> for CloudEventJson {
    fn from(record: TimelineRecord) -> Self {
        Self {
            specversion: SPEC_VERSION.to_string(),
            id: record.id,
            source: record.source,
            subject: record.subject,
            time: record.time,
            datacontenttype: Some(DATA_CONTENT_TYPE.to_string()),
            actor: record.actor,
            entry: record.entry,
        }
    }
}

impl TryFrom<CloudEventJson> for TimelineRecord {
    type Error = TimelineError;
    fn try_from(json: CloudEventJson) -> Result<Self, Self::Error> {
        if json.specversion != SPEC_VERSION {
            return Err(TimelineError::SpecVersion(json.specversion));
        }
        if let Some(content_type) = json.datacontenttype {
            // A JSON media type may carry parameters (`application/json; charset=utf-8`).
            let essence = content_type.split(';').next().unwrap_or_default().trim();
            if !essence.eq_ignore_ascii_case(DATA_CONTENT_TYPE) {
                return Err(TimelineError::DataContentType(content_type));
            }
        }
        if json.id.is_empty() {
            return Err(TimelineError::EmptyId);
        }
        Ok(Self {
            id: json.id,
            source: json.source,
            subject: json.subject,
            time: json.time,
            actor: json.actor,
            entry: json.entry,
        })
    }
}
