//! Klaxon's own JSON format, served on `POST /v1/alerts`.
//!
//! The body is one alert object, or `{"alerts": [ ... ]}` with one or more of them. Each alert:
//!
//! | field | type | required | meaning |
//! |---|---|---|---|
//! | `dedup_key` | string | yes | identity within the integration (≤ 512 characters, no control characters) |
//! | `status` | `firing` \| `resolved` | no (`firing`) | |
//! | `severity` | `critical` \| `error` \| `warning` \| `info` | no | else the integration default, else `warning` |
//! | `summary` | string | when firing | one line, ≤ 1024 characters |
//! | `source` | string | no | else the integration default |
//! | `labels`, `annotations` | object of strings | no | |
//! | `links` | array of `{href, text?, kind?}` | no | `kind` is `link` (default) or `image`; `href` must be http(s) |
//! | `started_at`, `ended_at` | RFC 3339 | no | |
//! | `group` | string | no | grouping hint: alerts with the same group join one incident by default |
//!
//! **Dedup key:** the `dedup_key` field. A `resolved` alert resolves the open alert with that key
//! at its `ended_at` (else when received); nothing else in it is recorded. Without a `summary` it
//! becomes [`AlertEvent::Resolve`]; with one, a full resolved alert (validated like a firing one).

use super::json::{Errors, Located, item, parse_body};
use super::normalize::{
    check_max_chars, dedup_key, is_web_url, merge_labels, severity_or_default, source_or_default,
};
use super::{IngestError, MAX_SUMMARY_CHARS, ParseContext};
use crate::alert::{Alert, AlertEvent, AlertKey, AlertStatus, Link, LinkKind, Severity};
use serde_json::Value;

/// Parses a native body into one event per alert, in order.
pub fn parse(body: &[u8], ctx: &ParseContext<'_>) -> Result<Vec<AlertEvent>, IngestError> {
    let value = parse_body(body)?;
    let mut errors = Errors::default();
    let Some(root) = Located::new(&value, String::new(), &mut errors) else {
        return Err(errors.into_error());
    };
    let mut events = Vec::new();
    if root.map.contains_key("alerts") {
        let Some(alerts) = root.obj().required_array("alerts", &mut errors) else {
            return Err(errors.into_error());
        };
        if alerts.is_empty() {
            errors.push("alerts", "must contain at least one alert");
        }
        for (index, alert) in alerts.iter().enumerate() {
            if let Some(event) = parse_alert(alert, item("alerts", index), ctx, &mut errors) {
                events.push(event);
            }
        }
    } else if let Some(event) = parse_alert(&value, String::new(), ctx, &mut errors) {
        events.push(event);
    }
    errors.into_result(events)
}

fn parse_alert(
    value: &Value,
    path: String,
    ctx: &ParseContext<'_>,
    errors: &mut Errors,
) -> Option<AlertEvent> {
    let errors_before = errors.len();
    let located = Located::new(value, path, errors)?;
    let obj = located.obj();

    let key = obj
        .required_str("dedup_key", errors)
        .and_then(|text| dedup_key(text, &obj.at("dedup_key"), errors));

    let status = match obj.str("status", errors) {
        None => Some(AlertStatus::Firing),
        Some("firing") => Some(AlertStatus::Firing),
        Some("resolved") => Some(AlertStatus::Resolved),
        Some(_) => {
            errors.push(&obj.at("status"), "must be one of: firing, resolved");
            None
        }
    };

    let severity = match obj.str("severity", errors) {
        None => None,
        Some(word) => {
            let parsed = Severity::parse(word);
            if parsed.is_none() {
                errors.push(
                    &obj.at("severity"),
                    "must be one of: critical, error, warning, info",
                );
            }
            parsed
        }
    };

    let summary = obj.str("summary", errors);
    match summary {
        Some(text) if text.trim().is_empty() => {
            errors.push(&obj.at("summary"), "must not be empty")
        }
        Some(text) => {
            check_max_chars(text, MAX_SUMMARY_CHARS, &obj.at("summary"), errors);
        }
        None if status == Some(AlertStatus::Firing) && obj.get("summary").is_none() => {
            errors.push(&obj.at("summary"), "is required when status is firing");
        }
        None => {}
    }

    let source = obj.str("source", errors);
    let labels = obj.string_map("labels", errors);
    let annotations = obj.string_map("annotations", errors);
    let links = parse_links(&located, errors);
    let started_at = obj.timestamp("started_at", errors);
    let ended_at = obj.timestamp("ended_at", errors);
    let group_hint = obj.non_empty_str("group", errors).map(str::to_string);

    if errors.len() > errors_before {
        return None;
    }
    let (key, status) = (key?, status?);

    let Some(summary) = summary else {
        // Only reachable for `resolved` (firing without a summary is an error above). Resolved
        // at the sender's end time, as a resolved alert with a summary is.
        return Some(AlertEvent::Resolve {
            key: AlertKey {
                integration: ctx.integration.clone(),
                dedup_key: key,
            },
            at: ended_at.unwrap_or(ctx.received_at),
        });
    };

    Some(AlertEvent::Alert(Box::new(Alert {
        integration: ctx.integration.clone(),
        dedup_key: key,
        status,
        severity: severity_or_default(severity, ctx.defaults),
        summary: summary.trim().to_string(),
        source: source_or_default(source, ctx.defaults),
        labels: merge_labels(ctx.defaults, labels),
        annotations,
        links,
        received_at: ctx.received_at,
        started_at,
        ended_at,
        group_hint,
        raw: value.clone(),
    })))
}

fn parse_links(alert: &Located<'_>, errors: &mut Errors) -> Vec<Link> {
    let obj = alert.obj();
    let Some(items) = obj.array("links", errors) else {
        return Vec::new();
    };
    let mut links = Vec::new();
    for (index, value) in items.iter().enumerate() {
        let Some(link) = Located::new(value, item(&obj.at("links"), index), errors) else {
            continue;
        };
        let link = link.obj();
        let href = link.required_str("href", errors);
        if let Some(href) = href
            && !is_web_url(href)
        {
            errors.push(&link.at("href"), "must be an http or https URL");
            continue;
        }
        let text = link.str("text", errors).map(str::to_string);
        let kind = match link.str("kind", errors) {
            None | Some("link") => LinkKind::Link,
            Some("image") => LinkKind::Image,
            Some(_) => {
                errors.push(&link.at("kind"), "must be one of: link, image");
                continue;
            }
        };
        if let Some(href) = href {
            links.push(Link {
                href: href.to_string(),
                text,
                kind,
            });
        }
    }
    links
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::test_support::{Fixture, error_fields};
    use crate::ingest::{IngestErrorKind, MAX_BODY_BYTES};
    use chrono::{TimeZone, Utc};

    const FIRING: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/ingest/native-firing.json"
    ));
    const RESOLVED: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/ingest/native-resolved.json"
    ));

    fn one_alert(events: Vec<AlertEvent>) -> Alert {
        assert_eq!(events.len(), 1, "{events:?}");
        match events.into_iter().next() {
            Some(AlertEvent::Alert(alert)) => *alert,
            other => panic!("expected a full alert, got {other:?}"),
        }
    }

    #[test]
    fn firing_payload_normalises_every_field() {
        let fixture = Fixture::new();
        let alert = one_alert(parse(FIRING.as_bytes(), &fixture.ctx()).unwrap());
        assert_eq!(alert.integration.as_str(), "native-test");
        assert_eq!(alert.dedup_key.as_str(), "payments-queue-backlog");
        assert_eq!(alert.status, AlertStatus::Firing);
        assert_eq!(alert.severity, Severity::Critical);
        assert_eq!(
            alert.summary,
            "Payments queue backlog above 10k messages for 10 minutes"
        );
        assert_eq!(alert.source.as_deref(), Some("payments-worker"));
        assert_eq!(alert.labels["service"], "payments");
        assert_eq!(alert.labels["env"], "prod");
        // Integration default label kept; the payload's `env` won over the default's.
        assert_eq!(alert.labels["team"], "platform");
        assert_eq!(
            alert.annotations["runbook"],
            "Scale the payments-worker deployment"
        );
        assert_eq!(alert.links.len(), 2);
        assert_eq!(
            alert.links[0].href,
            "https://runbooks.example.com/payments/queue-backlog"
        );
        assert_eq!(alert.links[1].kind, LinkKind::Image);
        assert_eq!(
            alert.started_at,
            Some(Utc.with_ymd_and_hms(2025, 3, 14, 9, 20, 0).unwrap())
        );
        assert_eq!(alert.ended_at, None);
        assert_eq!(alert.group_hint.as_deref(), Some("payments"));
        assert_eq!(alert.received_at, fixture.received_at);
        assert_eq!(alert.raw["dedup_key"], "payments-queue-backlog");
    }

    #[test]
    fn resolved_batch_resolves_the_same_key() {
        let fixture = Fixture::new();
        let firing = one_alert(parse(FIRING.as_bytes(), &fixture.ctx()).unwrap());
        let alert = one_alert(parse(RESOLVED.as_bytes(), &fixture.ctx()).unwrap());
        assert_eq!(alert.key(), firing.key());
        assert_eq!(alert.status, AlertStatus::Resolved);
        assert_eq!(
            alert.ended_at,
            Some(Utc.with_ymd_and_hms(2025, 3, 14, 9, 47, 30).unwrap())
        );
    }

    #[test]
    fn resolved_without_summary_resolves_by_key() {
        let fixture = Fixture::new();
        let events = parse(
            br#"{"dedup_key":"db-down","status":"resolved"}"#,
            &fixture.ctx(),
        )
        .unwrap();
        assert_eq!(
            events,
            vec![AlertEvent::Resolve {
                key: AlertKey {
                    integration: fixture.integration.clone(),
                    dedup_key: crate::ids::DedupKey::new("db-down").unwrap(),
                },
                at: fixture.received_at,
            }]
        );
        let events = parse(
            br#"{"dedup_key":"db-down","status":"resolved","ended_at":"2025-03-14T09:47:30Z"}"#,
            &fixture.ctx(),
        )
        .unwrap();
        assert_eq!(
            events[0],
            AlertEvent::Resolve {
                key: events[0].key(),
                at: Utc.with_ymd_and_hms(2025, 3, 14, 9, 47, 30).unwrap(),
            },
            "the sender's end time, not the receive time"
        );
    }

    #[test]
    fn defaults_apply_when_severity_and_source_are_missing() {
        let fixture = Fixture::new();
        let alert =
            one_alert(parse(br#"{"dedup_key":"k","summary":"s"}"#, &fixture.ctx()).unwrap());
        assert_eq!(alert.severity, fixture.defaults.severity.unwrap());
        assert_eq!(alert.source, fixture.defaults.source);
        let bare = Fixture::without_defaults();
        let alert = one_alert(parse(br#"{"dedup_key":"k","summary":"s"}"#, &bare.ctx()).unwrap());
        assert_eq!(alert.severity, crate::ingest::FALLBACK_SEVERITY);
        assert_eq!(alert.source, None);
    }

    #[test]
    fn missing_dedup_key_is_named() {
        let fixture = Fixture::new();
        let error = parse(br#"{"summary":"s"}"#, &fixture.ctx()).unwrap_err();
        assert_eq!(error.kind, IngestErrorKind::Invalid);
        assert_eq!(error_fields(&error), ["dedup_key"]);
        assert_eq!(error.errors[0].message, "is required");
    }

    #[test]
    fn missing_summary_when_firing_is_named() {
        let fixture = Fixture::new();
        let error = parse(br#"{"alerts":[{"dedup_key":"a"}]}"#, &fixture.ctx()).unwrap_err();
        assert_eq!(error_fields(&error), ["alerts[0].summary"]);
    }

    #[test]
    fn every_bad_field_of_every_alert_is_reported_at_once() {
        let fixture = Fixture::new();
        let body = br#"{"alerts":[
            {"dedup_key":"ok","summary":"fine"},
            {"dedup_key":7,"status":"open","severity":"urgent","summary":"x",
             "labels":{"a":1},"links":[{"href":"javascript:alert(1)"}],"started_at":"noon"}
        ]}"#;
        let error = parse(body, &fixture.ctx()).unwrap_err();
        assert_eq!(
            error_fields(&error),
            [
                "alerts[1].dedup_key",
                "alerts[1].status",
                "alerts[1].severity",
                "alerts[1].labels.a",
                "alerts[1].links[0].href",
                "alerts[1].started_at",
            ]
        );
        assert_eq!(error.errors[0].message, "must be a string (got number)");
    }

    #[test]
    fn wrong_container_types_are_named() {
        let fixture = Fixture::new();
        let error = parse(br#"{"alerts":{"dedup_key":"a"}}"#, &fixture.ctx()).unwrap_err();
        assert_eq!(error_fields(&error), ["alerts"]);
        let error = parse(br#"{"alerts":[]}"#, &fixture.ctx()).unwrap_err();
        assert_eq!(error_fields(&error), ["alerts"]);
        let error = parse(br#"["a"]"#, &fixture.ctx()).unwrap_err();
        assert_eq!(error_fields(&error), ["$"]);
        let error = parse(br#"{"alerts":["a"]}"#, &fixture.ctx()).unwrap_err();
        assert_eq!(error_fields(&error), ["alerts[0]"]);
    }

    #[test]
    fn summary_longer_than_the_limit_is_rejected() {
        let fixture = Fixture::new();
        let body = serde_json::json!({"dedup_key": "k", "summary": "x".repeat(1025)}).to_string();
        let error = parse(body.as_bytes(), &fixture.ctx()).unwrap_err();
        assert_eq!(error_fields(&error), ["summary"]);
        assert_eq!(
            error.errors[0].message,
            "must be at most 1024 characters (got 1025)"
        );
    }

    #[test]
    fn unknown_fields_are_tolerated() {
        let fixture = Fixture::new();
        let alert = one_alert(
            parse(
                br#"{"dedup_key":"k","summary":"s","future":{"x":[1]},"labels":{}}"#,
                &fixture.ctx(),
            )
            .unwrap(),
        );
        assert_eq!(alert.raw["future"]["x"][0], 1);
    }

    #[test]
    fn empty_not_json_and_oversized_bodies_are_rejected_by_kind() {
        let fixture = Fixture::new();
        assert_eq!(parse(b"", &fixture.ctx()).unwrap_err().code(), "empty_body");
        assert_eq!(
            parse(b"dedup_key=a", &fixture.ctx()).unwrap_err().code(),
            "not_json"
        );
        let mut huge = br#"{"dedup_key":"k","summary":""#.to_vec();
        huge.resize(2 * MAX_BODY_BYTES, b'x');
        huge.extend_from_slice(br#""}"#);
        assert_eq!(
            parse(&huge, &fixture.ctx()).unwrap_err().code(),
            "too_large"
        );
    }
}
