//! PagerDuty Events API v2, served on `POST /v2/enqueue` so a sender switches to Klaxon by
//! changing the URL alone.
//!
//! The body carries its own credential, `routing_key`, so parsing is split in two:
//! [`parse_request`] validates the whole body without knowing the integration and exposes
//! [`PagerDutyRequest::routing_key`] for the edge to authenticate with; then
//! [`PagerDutyRequest::into_event`] normalises it for the integration that key belongs to.
//! [`PagerDutySuccess`] and [`PagerDutyErrorResponse`] are PagerDuty's own 202 and 400 bodies.
//!
//! **Dedup key:** `dedup_key` (≤ 255 characters). A `trigger` without one gets the caller's
//! generated key ([`ParseContext::generated_dedup_key`]), returned in the 202 body exactly as
//! PagerDuty does; `acknowledge` and `resolve` require it.
//!
//! Mapping for `trigger`: `payload.summary` (required, ≤ 1024 characters) → summary,
//! `payload.source` (required) → source, `payload.severity` (required: `critical`, `error`,
//! `warning`, `info`) → severity, `payload.timestamp` → started at, `payload.component`,
//! `payload.group`, `payload.class` → labels of the same names, `payload.custom_details` →
//! annotations (nested objects flattened to dotted keys; a non-object value becomes the
//! annotation `custom_details`), `links[]` → links, `images[]` → image links (`src`, with `alt`
//! as text), `client_url` → a link titled by `client` (a `client` without URL becomes an
//! annotation). The stored raw payload omits `routing_key`: it is a credential.

use super::error::IngestErrorKind;
use super::json::{Errors, Located, Obj, item, parse_body};
use super::normalize::{
    check_max_chars, dedup_key, flatten_into, is_web_url, merge_labels, severity_or_default,
    source_or_default, value_text,
};
use super::{IngestError, MAX_SUMMARY_CHARS, ParseContext};
use crate::Instant;
use crate::alert::{Alert, AlertEvent, AlertKey, AlertStatus, Link, LinkKind, Severity};
use crate::ids::DedupKey;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// PagerDuty's limit on `dedup_key`.
pub const MAX_DEDUP_KEY_CHARS: usize = 255;

/// The `event_action` of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PagerDutyAction {
    /// Open (or re-trigger) an alert.
    Trigger,
    /// Acknowledge the incident the alert belongs to.
    Acknowledge,
    /// Resolve the alert.
    Resolve,
}

/// A validated Events API v2 request, not yet tied to an integration.
#[derive(Debug, Clone, PartialEq)]
pub struct PagerDutyRequest {
    routing_key: String,
    kind: RequestKind,
    /// The body without `routing_key`.
    raw: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum RequestKind {
    Trigger {
        dedup_key: Option<DedupKey>,
        trigger: Box<Trigger>,
    },
    Acknowledge(DedupKey),
    Resolve(DedupKey),
}

/// A trigger's alert fields. Events API v1 has no severity and no required source: those
/// take the integration's defaults.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Trigger {
    pub(super) summary: String,
    pub(super) source: Option<String>,
    pub(super) severity: Option<Severity>,
    pub(super) timestamp: Option<Instant>,
    pub(super) labels: BTreeMap<String, String>,
    pub(super) annotations: BTreeMap<String, String>,
    pub(super) links: Vec<Link>,
}

impl PagerDutyRequest {
    /// A request read by another PagerDuty parser (Events API v1).
    pub(super) fn from_parts(routing_key: String, kind: RequestKind, raw: Value) -> Self {
        PagerDutyRequest {
            routing_key,
            kind,
            raw,
        }
    }

    /// The `routing_key` from the body: the integration key to authenticate.
    pub fn routing_key(&self) -> &str {
        &self.routing_key
    }

    /// The `event_action`.
    pub fn action(&self) -> PagerDutyAction {
        match self.kind {
            RequestKind::Trigger { .. } => PagerDutyAction::Trigger,
            RequestKind::Acknowledge(_) => PagerDutyAction::Acknowledge,
            RequestKind::Resolve(_) => PagerDutyAction::Resolve,
        }
    }

    /// The `dedup_key` the sender gave, if any (always present for acknowledge and resolve).
    pub fn dedup_key(&self) -> Option<&DedupKey> {
        match &self.kind {
            RequestKind::Trigger { dedup_key, .. } => dedup_key.as_ref(),
            RequestKind::Acknowledge(key) | RequestKind::Resolve(key) => Some(key),
        }
    }

    /// Normalises the request for the integration its routing key authenticated as. Returns
    /// the event and the dedup key to answer with in [`PagerDutySuccess`].
    pub fn into_event(self, ctx: &ParseContext<'_>) -> (AlertEvent, DedupKey) {
        let key_for = |dedup_key: DedupKey| AlertKey {
            integration: ctx.integration.clone(),
            dedup_key,
        };
        match self.kind {
            RequestKind::Acknowledge(dedup_key) => (
                AlertEvent::Acknowledge {
                    key: key_for(dedup_key.clone()),
                    at: ctx.received_at,
                },
                dedup_key,
            ),
            RequestKind::Resolve(dedup_key) => (
                AlertEvent::Resolve {
                    key: key_for(dedup_key.clone()),
                    at: ctx.received_at,
                },
                dedup_key,
            ),
            RequestKind::Trigger { dedup_key, trigger } => {
                let dedup_key = dedup_key.unwrap_or_else(|| ctx.generated_dedup_key.clone());
                let trigger = *trigger;
                let alert = Alert {
                    integration: ctx.integration.clone(),
                    dedup_key: dedup_key.clone(),
                    status: AlertStatus::Firing,
                    severity: severity_or_default(trigger.severity, ctx.defaults),
                    summary: trigger.summary,
                    source: trigger
                        .source
                        .or_else(|| source_or_default(None, ctx.defaults)),
                    labels: merge_labels(ctx.defaults, trigger.labels),
                    annotations: trigger.annotations,
                    links: trigger.links,
                    received_at: ctx.received_at,
                    started_at: trigger.timestamp,
                    ended_at: None,
                    group_hint: None,
                    raw: self.raw,
                };
                (AlertEvent::Alert(Box::new(alert)), dedup_key)
            }
        }
    }
}

/// Validates an Events API v2 body. Every problem is reported at once, each naming its path
/// (`payload.summary`, `links[1].href`).
pub fn parse_request(body: &[u8]) -> Result<PagerDutyRequest, IngestError> {
    let value = parse_body(body)?;
    let mut errors = Errors::default();
    let Some(root) = Located::new(&value, String::new(), &mut errors) else {
        return Err(errors.into_error());
    };
    let obj = root.obj();

    let routing_key = obj.required_str("routing_key", &mut errors);
    let action = match obj.required_str("event_action", &mut errors) {
        Some("trigger") => Some(PagerDutyAction::Trigger),
        Some("acknowledge") => Some(PagerDutyAction::Acknowledge),
        Some("resolve") => Some(PagerDutyAction::Resolve),
        Some(_) => {
            errors.push(
                "event_action",
                "must be one of: trigger, acknowledge, resolve",
            );
            None
        }
        None => None,
    };
    let dedup = obj
        .non_empty_str("dedup_key", &mut errors)
        .and_then(|text| {
            if check_max_chars(text, MAX_DEDUP_KEY_CHARS, "dedup_key", &mut errors) {
                dedup_key(text, "dedup_key", &mut errors)
            } else {
                None
            }
        });

    let kind = match action {
        Some(PagerDutyAction::Trigger) => {
            parse_trigger(obj, &mut errors).map(|trigger| RequestKind::Trigger {
                dedup_key: dedup,
                trigger: Box::new(trigger),
            })
        }
        Some(action) => {
            if dedup.is_none() && obj.get("dedup_key").is_none_or(is_blank) {
                errors.push(
                    "dedup_key",
                    "is required when event_action is acknowledge or resolve",
                );
            }
            dedup.map(|key| match action {
                PagerDutyAction::Acknowledge => RequestKind::Acknowledge(key),
                _ => RequestKind::Resolve(key),
            })
        }
        None => None,
    };

    let mut raw = value.clone();
    if let Some(map) = raw.as_object_mut() {
        map.remove("routing_key");
    }
    match (routing_key, kind) {
        (Some(routing_key), Some(kind)) if errors.is_empty() => Ok(PagerDutyRequest {
            routing_key: routing_key.to_string(),
            kind,
            raw,
        }),
        _ => Err(errors.into_error()),
    }
}

fn is_blank(value: &Value) -> bool {
    value.as_str().is_some_and(|text| text.trim().is_empty())
}

fn parse_trigger(obj: Obj<'_>, errors: &mut Errors) -> Option<Trigger> {
    let errors_before = errors.len();
    let links = parse_links(obj, errors);
    let client = obj.non_empty_str("client", errors);
    let client_url = obj.non_empty_str("client_url", errors);

    let payload = obj.required_object("payload", errors)?;
    let payload = payload.obj();
    let summary = payload.required_str("summary", errors);
    if let Some(summary) = summary {
        check_max_chars(summary, MAX_SUMMARY_CHARS, &payload.at("summary"), errors);
    }
    let source = payload.required_str("source", errors);
    let severity = match payload.required_str("severity", errors) {
        None => None,
        Some(word) => {
            let parsed = Severity::parse(word);
            if parsed.is_none() {
                errors.push(
                    &payload.at("severity"),
                    "must be one of: critical, error, warning, info",
                );
            }
            parsed
        }
    };
    let timestamp = payload.timestamp("timestamp", errors);
    let mut labels = BTreeMap::new();
    for name in ["component", "group", "class"] {
        if let Some(value) = payload.non_empty_str(name, errors) {
            labels.insert(name.to_string(), value.to_string());
        }
    }
    let mut annotations = BTreeMap::new();
    match payload.get("custom_details") {
        Some(details @ Value::Object(_)) => flatten_into("", details, &mut annotations),
        Some(other) => {
            annotations.insert("custom_details".to_string(), value_text(other));
        }
        None => {}
    }

    let mut links = links;
    match (client, client_url) {
        (text, Some(url)) if is_web_url(url) => links.push(Link {
            href: url.to_string(),
            text: Some(text.unwrap_or("Client").to_string()),
            kind: LinkKind::Link,
        }),
        (Some(text), _) => {
            annotations.insert("client".to_string(), text.to_string());
        }
        _ => {}
    }

    if errors.len() > errors_before {
        return None;
    }
    Some(Trigger {
        summary: summary?.trim().to_string(),
        source: Some(source?.to_string()),
        severity: Some(severity?),
        timestamp,
        labels,
        annotations,
        links,
    })
}

/// `links[]` (`href`, `text`) and `images[]` (`src`, `href`, `alt`). Entries whose URL is not
/// http(s) are dropped rather than rejected, as PagerDuty accepts them.
fn parse_links(obj: Obj<'_>, errors: &mut Errors) -> Vec<Link> {
    let mut links = Vec::new();
    for (array, url_key, text_key, kind) in [
        ("links", "href", "text", LinkKind::Link),
        ("images", "src", "alt", LinkKind::Image),
    ] {
        let Some(items) = obj.array(array, errors) else {
            continue;
        };
        for (index, value) in items.iter().enumerate() {
            let Some(entry) = Located::new(value, item(array, index), errors) else {
                continue;
            };
            let entry = entry.obj();
            let url = entry.required_str(url_key, errors);
            let text = entry.str(text_key, errors);
            if kind == LinkKind::Image {
                entry.str("href", errors);
            }
            if let Some(url) = url.filter(|url| is_web_url(url)) {
                links.push(Link {
                    href: url.to_string(),
                    text: text.map(str::to_string),
                    kind,
                });
            }
        }
    }
    links
}

/// PagerDuty's 202 body: `{"status":"success","message":"Event processed","dedup_key":"…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PagerDutySuccess {
    /// Always `success`.
    pub status: String,
    /// Always `Event processed`.
    pub message: String,
    /// The dedup key the event was applied to (generated when the trigger had none).
    pub dedup_key: String,
}

impl PagerDutySuccess {
    /// The 202 body for an accepted event.
    pub fn new(dedup_key: &DedupKey) -> Self {
        PagerDutySuccess {
            status: "success".to_string(),
            message: "Event processed".to_string(),
            dedup_key: dedup_key.as_str().to_string(),
        }
    }
}

/// PagerDuty's 400 body: `{"status":"invalid event","message":"Event object is invalid",
/// "errors":["'payload.summary' is required"]}`, or, for a body that is not JSON,
/// `{"status":"Unrecognized object","message":"Event object format is unrecognized",
/// "errors":["JSON parse error"]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PagerDutyErrorResponse {
    /// `invalid event` or `Unrecognized object`.
    pub status: String,
    /// `Event object is invalid` or `Event object format is unrecognized`.
    pub message: String,
    /// One message per problem, each quoting the field path.
    pub errors: Vec<String>,
}

impl PagerDutyErrorResponse {
    /// The 400 body for a rejected request.
    pub fn from_error(error: &IngestError) -> Self {
        match error.kind {
            IngestErrorKind::EmptyBody | IngestErrorKind::NotJson => PagerDutyErrorResponse {
                status: "Unrecognized object".to_string(),
                message: "Event object format is unrecognized".to_string(),
                errors: vec!["JSON parse error".to_string()],
            },
            IngestErrorKind::TooLarge | IngestErrorKind::Invalid | IngestErrorKind::Unsupported => {
                PagerDutyErrorResponse {
                    status: "invalid event".to_string(),
                    message: "Event object is invalid".to_string(),
                    errors: error
                        .errors
                        .iter()
                        .map(|field| format!("'{}' {}", field.field, field.message))
                        .collect(),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
