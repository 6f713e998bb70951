//! PagerDuty's legacy Events API v1, served on `POST /generic/2010-04-15/create_event.json`:
//! many older integrations still send it.
//!
//! The body carries its credential, `service_key` (the integration key of an integration of
//! format `pagerduty`), like v2's `routing_key`; [`parse_request`] validates the whole body and
//! returns the same [`PagerDutyRequest`] v2 does, so the rest of ingest is shared.
//!
//! Fields: `event_type` (required: `trigger`, `acknowledge`, `resolve`), `incident_key` (the
//! dedup key, ≤ 255 characters; required for acknowledge and resolve; a trigger without one
//! gets a generated key, returned in the answer), `description` (required for trigger, ≤ 1024
//! characters) → summary, `details` → annotations (flattened), `client` → source, `client_url`
//! → a link titled by `client`, `contexts[]` → links (`type: link` with `href` and `text`,
//! `type: image` with `src`, `href` and `alt`). v1 has no severity: a trigger takes the
//! integration's default (else warning). The stored raw payload omits `service_key`.

use super::json::{Errors, Located, Obj, item, parse_body};
use super::normalize::{check_max_chars, dedup_key, flatten_into, is_web_url, value_text};
use super::pagerduty::{MAX_DEDUP_KEY_CHARS, PagerDutyRequest, RequestKind, Trigger};
use super::{IngestError, MAX_SUMMARY_CHARS};
use crate::alert::{Link, LinkKind};
use crate::ids::DedupKey;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Validates an Events API v1 body, reporting every problem at once.
pub fn parse_request(body: &[u8]) -> Result<PagerDutyRequest, IngestError> {
    let value = parse_body(body)?;
    let mut errors = Errors::default();
    let Some(root) = Located::new(&value, String::new(), &mut errors) else {
        return Err(errors.into_error());
    };
    let obj = root.obj();
    let service_key = obj.required_str("service_key", &mut errors);
    let event_type = obj.required_str("event_type", &mut errors);
    let incident_key = obj
        .non_empty_str("incident_key", &mut errors)
        .and_then(|text| {
            check_max_chars(text, MAX_DEDUP_KEY_CHARS, "incident_key", &mut errors)
                .then(|| dedup_key(text, "incident_key", &mut errors))
                .flatten()
        });
    let kind = match event_type {
        Some("trigger") => parse_trigger(obj, &mut errors).map(|trigger| RequestKind::Trigger {
            dedup_key: incident_key,
            trigger: Box::new(trigger),
        }),
        Some(action @ ("acknowledge" | "resolve")) => {
            obj.str("description", &mut errors);
            if incident_key.is_none() && obj.get("incident_key").is_none() {
                errors.push(
                    "incident_key",
                    "is required when event_type is acknowledge or resolve",
                );
            }
            incident_key.map(|key: DedupKey| match action {
                "acknowledge" => RequestKind::Acknowledge(key),
                _ => RequestKind::Resolve(key),
            })
        }
        Some(_) => {
            errors.push(
                "event_type",
                "must be one of: trigger, acknowledge, resolve",
            );
            None
        }
        None => None,
    };
    let mut raw = value.clone();
    if let Some(map) = raw.as_object_mut() {
        map.remove("service_key");
    }
    match (service_key, kind) {
        (Some(key), Some(kind)) if errors.is_empty() => {
            Ok(PagerDutyRequest::from_parts(key.to_string(), kind, raw))
        }
        _ => Err(errors.into_error()),
    }
}

fn parse_trigger(obj: Obj<'_>, errors: &mut Errors) -> Option<Trigger> {
    let before = errors.len();
    let description = obj.required_str("description", errors);
    if let Some(description) = description {
        check_max_chars(description, MAX_SUMMARY_CHARS, "description", errors);
    }
    let client = obj.non_empty_str("client", errors);
    let client_url = obj.non_empty_str("client_url", errors);
    let mut annotations = BTreeMap::new();
    match obj.get("details") {
        Some(details @ Value::Object(_)) => flatten_into("", details, &mut annotations),
        Some(other) => {
            annotations.insert("details".to_string(), value_text(other));
        }
        None => {}
    }
    let mut links = contexts(obj, errors);
    if let Some(url) = client_url.filter(|url| is_web_url(url)) {
        links.push(Link {
            href: url.to_string(),
            text: Some(client.unwrap_or("Client").to_string()),
            kind: LinkKind::Link,
        });
    }
    if errors.len() > before {
        return None;
    }
    Some(Trigger {
        summary: description?.trim().to_string(),
        source: client.map(str::to_string),
        severity: None,
        timestamp: None,
        labels: BTreeMap::new(),
        annotations,
        links,
    })
}

/// `contexts[]`: `{"type":"link","href","text"}` and `{"type":"image","src","href","alt"}`.
/// Entries whose URL is not http(s) are dropped, as PagerDuty accepts them.
fn contexts(obj: Obj<'_>, errors: &mut Errors) -> Vec<Link> {
    let mut links = Vec::new();
    let Some(items) = obj.array("contexts", errors) else {
        return links;
    };
    for (index, value) in items.iter().enumerate() {
        let path = item("contexts", index);
        let Some(entry) = Located::new(value, path.clone(), errors) else {
            continue;
        };
        let entry = entry.obj();
        let (url, text, kind) = match entry.required_str("type", errors) {
            Some("link") => (
                entry.required_str("href", errors),
                entry.str("text", errors),
                LinkKind::Link,
            ),
            Some("image") => {
                entry.str("href", errors);
                (
                    entry.required_str("src", errors),
                    entry.str("alt", errors),
                    LinkKind::Image,
                )
            }
            Some(_) => {
                errors.push(&format!("{path}.type"), "must be one of: link, image");
                continue;
            }
            None => continue,
        };
        if let Some(url) = url.filter(|url| is_web_url(url)) {
            links.push(Link {
                href: url.to_string(),
                text: text.map(str::to_string),
                kind,
            });
        }
    }
    links
}

/// v1's success body (HTTP 200): `{"status":"success","message":"Event processed",
/// "incident_key":"…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PagerDutyV1Success {
    /// Always `success`.
    pub status: String,
    /// Always `Event processed`.
    pub message: String,
    /// The incident key the event was applied to (generated when a trigger had none).
    pub incident_key: String,
}

impl PagerDutyV1Success {
    /// The 200 body for an accepted event.
    pub fn new(incident_key: &DedupKey) -> Self {
        PagerDutyV1Success {
            status: "success".to_string(),
            message: "Event processed".to_string(),
            incident_key: incident_key.as_str().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{AlertEvent, Severity};
    use crate::ingest::test_support::Fixture;
    use crate::ingest::{IngestErrorKind, pagerduty::PagerDutyAction};

    #[test]
    fn a_trigger_maps_description_details_client_and_contexts() {
        let body = br#"{"service_key":"klx_abc","event_type":"trigger","incident_key":"srv01/HTTP",
            "description":"FAILURE for production/HTTP on machine srv01.acme.com",
            "client":"Sample Monitoring Service","client_url":"https://monitoring.example.com",
            "details":{"ping time":"1500ms","load avg":0.75},
            "contexts":[{"type":"link","href":"http://acme.pagerduty.com","text":"View"},
                        {"type":"image","src":"https://chart.example.com/x.png"}]}"#;
        let request = parse_request(body).unwrap();
        assert_eq!(request.routing_key(), "klx_abc");
        assert_eq!(request.action(), PagerDutyAction::Trigger);
        let fixture = Fixture::without_defaults();
        let (event, key) = request.into_event(&fixture.ctx());
        assert_eq!(key.as_str(), "srv01/HTTP");
        let AlertEvent::Alert(alert) = event else {
            panic!("a trigger is an alert")
        };
        assert_eq!(
            alert.summary,
            "FAILURE for production/HTTP on machine srv01.acme.com"
        );
        assert_eq!(alert.source.as_deref(), Some("Sample Monitoring Service"));
        assert_eq!(alert.severity, Severity::Warning, "v1 has no severity");
        assert_eq!(alert.annotations["ping time"], "1500ms");
        assert_eq!(alert.links.len(), 3);
        assert!(alert.raw.get("service_key").is_none(), "a credential");
    }

    #[test]
    fn acknowledge_and_resolve_need_an_incident_key() {
        let request = parse_request(
            br#"{"service_key":"k","event_type":"resolve","incident_key":"srv01/HTTP"}"#,
        )
        .unwrap();
        assert_eq!(request.action(), PagerDutyAction::Resolve);
        let error =
            parse_request(br#"{"service_key":"k","event_type":"acknowledge"}"#).unwrap_err();
        assert!(error.names_field("incident_key"), "{error}");
    }

    #[test]
    fn bad_bodies_name_every_field() {
        let error =
            parse_request(br#"{"event_type":"alarm","contexts":[{"type":"video"}]}"#).unwrap_err();
        assert!(error.names_field("service_key"), "{error}");
        assert!(error.names_field("event_type"), "{error}");
        let error = parse_request(br#"{"service_key":"k","event_type":"trigger"}"#).unwrap_err();
        assert!(error.names_field("description"), "{error}");
        let error = parse_request(b"\xEF\xBB\xBF[").unwrap_err();
        assert_eq!(error.kind, IngestErrorKind::NotJson);
    }
}
