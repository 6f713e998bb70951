//! PagerDuty Change Events (`POST /v2/change/enqueue`): a deploy, a merged pull request, a
//! configuration push. A change never pages: it is recorded for analytics and on the timeline
//! of the open incidents of the same integration, where a responder looks for "what changed".
//!
//! Fields: `routing_key` (required: the integration key of a `pagerduty` integration),
//! `payload.summary` (required, ≤ 1024 characters), `payload.source`, `payload.timestamp`
//! (when the change happened; absent: when Klaxon received it), `payload.custom_details`
//! (flattened to dotted keys), `links[]` (`href`, `text`; non-http(s) URLs dropped).

use super::json::{Errors, Located, item, parse_body};
use super::normalize::{check_max_chars, flatten_into, is_web_url, value_text};
use super::{IngestError, MAX_SUMMARY_CHARS};
use crate::Instant;
use crate::alert::{Link, LinkKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// A validated change event, its `routing_key` still to authenticate.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeRequest {
    /// The integration key from the body.
    pub routing_key: String,
    /// What changed.
    pub summary: String,
    /// Where (a host, a repository, a pipeline).
    pub source: Option<String>,
    /// When it happened, if the sender said.
    pub timestamp: Option<Instant>,
    /// `custom_details`, flattened.
    pub details: BTreeMap<String, String>,
    /// `links[]`.
    pub links: Vec<Link>,
}

/// Validates a change event body, reporting every problem at once.
pub fn parse_request(body: &[u8]) -> Result<ChangeRequest, IngestError> {
    let value = parse_body(body)?;
    let mut errors = Errors::default();
    let Some(root) = Located::new(&value, String::new(), &mut errors) else {
        return Err(errors.into_error());
    };
    let obj = root.obj();
    let routing_key = obj.required_str("routing_key", &mut errors);
    let mut links = Vec::new();
    if let Some(items) = obj.array("links", &mut errors) {
        for (index, value) in items.iter().enumerate() {
            let Some(entry) = Located::new(value, item("links", index), &mut errors) else {
                continue;
            };
            let entry = entry.obj();
            let href = entry.required_str("href", &mut errors);
            let text = entry.str("text", &mut errors);
            if let Some(href) = href.filter(|href| is_web_url(href)) {
                links.push(Link {
                    href: href.to_string(),
                    text: text.map(str::to_string),
                    kind: LinkKind::Link,
                });
            }
        }
    }
    let payload = obj.required_object("payload", &mut errors);
    let mut details = BTreeMap::new();
    let (summary, source, timestamp) = match &payload {
        Some(payload) => {
            let payload = payload.obj();
            let summary = payload.required_str("summary", &mut errors);
            if let Some(summary) = summary {
                check_max_chars(
                    summary,
                    MAX_SUMMARY_CHARS,
                    &payload.at("summary"),
                    &mut errors,
                );
            }
            match payload.get("custom_details") {
                Some(found @ Value::Object(_)) => flatten_into("", found, &mut details),
                Some(other) => {
                    details.insert("custom_details".to_string(), value_text(other));
                }
                None => {}
            }
            (
                summary,
                payload.non_empty_str("source", &mut errors),
                payload.timestamp("timestamp", &mut errors),
            )
        }
        None => (None, None, None),
    };
    match (routing_key, summary, errors.is_empty()) {
        (Some(routing_key), Some(summary), true) => Ok(ChangeRequest {
            routing_key: routing_key.to_string(),
            summary: summary.trim().to_string(),
            source: source.map(str::to_string),
            timestamp,
            details,
            links,
        }),
        _ => Err(errors.into_error()),
    }
}

/// PagerDuty's 202 body for a change event: `{"status":"success","message":"Change event
/// processed"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeAccepted {
    /// Always `success`.
    pub status: String,
    /// Always `Change event processed`.
    pub message: String,
}

impl Default for ChangeAccepted {
    fn default() -> Self {
        ChangeAccepted {
            status: "success".to_string(),
            message: "Change event processed".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_event_parses_as_pagerduty_documents_it() {
        let body = br#"{"routing_key":"klx_k","payload":{"summary":"Build Success: deploy api v1.2",
            "timestamp":"2026-11-20T10:00:00Z","source":"ci.example.com",
            "custom_details":{"build_state":"passed","build":{"number":"12"}}},
            "links":[{"href":"https://ci.example.com/builds/12","text":"Build 12"},{"href":"ftp://x"}]}"#;
        let change = parse_request(body).unwrap();
        assert_eq!(change.routing_key, "klx_k");
        assert_eq!(change.summary, "Build Success: deploy api v1.2");
        assert_eq!(change.source.as_deref(), Some("ci.example.com"));
        assert!(change.timestamp.is_some());
        assert_eq!(change.details["build.number"], "12");
        assert_eq!(change.links.len(), 1);
    }

    #[test]
    fn a_bad_change_event_names_each_field() {
        let error =
            parse_request(br#"{"payload":{"timestamp":"yesterday"},"links":[{}]}"#).unwrap_err();
        for field in [
            "routing_key",
            "links[0].href",
            "payload.summary",
            "payload.timestamp",
        ] {
            assert!(error.names_field(field), "{field}: {error}");
        }
        assert!(
            parse_request(br#"{"routing_key":"k"}"#)
                .unwrap_err()
                .names_field("payload")
        );
    }
}
