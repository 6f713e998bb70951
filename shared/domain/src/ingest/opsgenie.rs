//! Opsgenie alert API: create (`POST /v2/alerts`), acknowledge and close
//! (`POST /v2/alerts/{alias}/acknowledge|close?identifierType=alias`), authenticated by
//! `Authorization: GenieKey <integration key>` at the edge.
//!
//! **Dedup key:** `alias` (≤ 512 characters); a create without one gets the caller's generated
//! key ([`ParseContext::generated_dedup_key`]), as Opsgenie assigns one. [`parse_action`] finds
//! the alert by alias: the HTTP edge resolves `identifierType=id` (Opsgenie's default) and
//! `tiny` to the alias first (see [`super::opsgenie_api`]) and passes `alias`; anything else
//! reaching it is refused as `unsupported`.
//!
//! Create mapping: `message` (required, ≤ 130 characters) → summary; `priority` `P1` critical,
//! `P2` error, `P3` warning, `P4`/`P5` info (absent: the integration default, else warning,
//! which is what Opsgenie's default `P3` means); `tags` → labels (`"key:value"` becomes label
//! `key=value`, any other tag `tag=true`); `entity` → label `entity`; `source` → source;
//! `details` → annotations; `description` and `note` → annotations of the same names.
//! `responders`, `visibleTo`, `actions` and `user` are accepted and ignored: routing is
//! Klaxon's job.

use super::error::IngestErrorKind;
use super::json::{Errors, Located, item, parse_body};
use super::normalize::{
    check_max_chars, dedup_key, flatten_into, merge_labels, severity_or_default, source_or_default,
};
use super::{IngestError, MAX_BODY_BYTES, ParseContext};
use crate::alert::{Alert, AlertEvent, AlertKey, AlertStatus, Severity};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Opsgenie's limit on `message`.
pub const MAX_MESSAGE_CHARS: usize = 130;
/// Opsgenie's limit on `alias`.
pub const MAX_ALIAS_CHARS: usize = 512;

/// Which alert action a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpsgenieAction {
    /// `POST /v2/alerts/{alias}/acknowledge`.
    Acknowledge,
    /// `POST /v2/alerts/{alias}/close`.
    Close,
}

/// Parses a create-alert body into a firing alert.
pub fn parse_create(body: &[u8], ctx: &ParseContext<'_>) -> Result<AlertEvent, IngestError> {
    let value = parse_body(body)?;
    let mut errors = Errors::default();
    let Some(root) = Located::new(&value, String::new(), &mut errors) else {
        return Err(errors.into_error());
    };
    let obj = root.obj();

    let message = obj.required_str("message", &mut errors);
    if let Some(message) = message {
        check_max_chars(message, MAX_MESSAGE_CHARS, "message", &mut errors);
    }
    let key = match obj.non_empty_str("alias", &mut errors) {
        None => Some(ctx.generated_dedup_key.clone()),
        Some(alias) if check_max_chars(alias, MAX_ALIAS_CHARS, "alias", &mut errors) => {
            dedup_key(alias, "alias", &mut errors)
        }
        Some(_) => None,
    };
    let severity = match obj.str("priority", &mut errors) {
        None => None,
        Some(priority) => {
            let parsed = severity_from_priority(priority);
            if parsed.is_none() {
                errors.push("priority", "must be one of: P1, P2, P3, P4, P5");
            }
            parsed
        }
    };

    let mut labels = BTreeMap::new();
    if let Some(tags) = obj.array("tags", &mut errors) {
        for (index, tag) in tags.iter().enumerate() {
            match tag {
                Value::String(tag) => {
                    let (name, value) = label_of_tag(tag);
                    labels.insert(name, value);
                }
                other => errors.wrong_type(&item("tags", index), "a string", other),
            }
        }
    }
    if let Some(entity) = obj.non_empty_str("entity", &mut errors) {
        labels.insert("entity".to_string(), entity.to_string());
    }

    let mut annotations = BTreeMap::new();
    if let Some(details) = obj.object("details", &mut errors) {
        flatten_into("", &Value::Object(details.map.clone()), &mut annotations);
    }
    for name in ["description", "note"] {
        if let Some(text) = obj.non_empty_str(name, &mut errors) {
            annotations.insert(name.to_string(), text.to_string());
        }
    }
    let source = obj.str("source", &mut errors);
    obj.str("user", &mut errors);

    let (Some(message), Some(key), true) = (message, key, errors.is_empty()) else {
        return Err(errors.into_error());
    };
    Ok(AlertEvent::Alert(Box::new(Alert {
        integration: ctx.integration.clone(),
        dedup_key: key,
        status: AlertStatus::Firing,
        severity: severity_or_default(severity, ctx.defaults),
        summary: message.trim().to_string(),
        source: source_or_default(source, ctx.defaults),
        labels: merge_labels(ctx.defaults, labels),
        annotations,
        links: Vec::new(),
        received_at: ctx.received_at,
        started_at: None,
        ended_at: None,
        group_hint: None,
        raw: value,
    })))
}

/// Parses an acknowledge or close request. `identifier` is the (URL-decoded) path segment,
/// `identifier_type` the `identifierType` query parameter as sent, and `body` the optional JSON
/// body (`user`, `source`, `note`; empty is fine).
pub fn parse_action(
    identifier: &str,
    identifier_type: Option<&str>,
    body: &[u8],
    action: OpsgenieAction,
    ctx: &ParseContext<'_>,
) -> Result<AlertEvent, IngestError> {
    match identifier_type.map(str::trim) {
        Some(kind) if kind.eq_ignore_ascii_case("alias") => {}
        None => {
            return Err(IngestError::single(
                IngestErrorKind::Unsupported,
                "identifierType",
                "is missing, and Opsgenie's default (id) is not supported: Klaxon finds alerts by alias; send identifierType=alias",
            ));
        }
        Some(kind) if kind.eq_ignore_ascii_case("id") || kind.eq_ignore_ascii_case("tiny") => {
            return Err(IngestError::single(
                IngestErrorKind::Unsupported,
                "identifierType",
                format!(
                    "{kind} is not supported: Klaxon finds alerts by alias; send identifierType=alias"
                ),
            ));
        }
        Some(_) => {
            return Err(IngestError::invalid(
                "identifierType",
                "must be one of: id, tiny, alias",
            ));
        }
    }

    let mut errors = Errors::default();
    let key = if check_max_chars(identifier, MAX_ALIAS_CHARS, "identifier", &mut errors) {
        dedup_key(identifier, "identifier", &mut errors)
    } else {
        None
    };
    check_action_body(body, &mut errors)?;
    let (Some(dedup_key), true) = (key, errors.is_empty()) else {
        return Err(errors.into_error());
    };
    let key = AlertKey {
        integration: ctx.integration.clone(),
        dedup_key,
    };
    let at = ctx.received_at;
    Ok(match action {
        OpsgenieAction::Acknowledge => AlertEvent::Acknowledge { key, at },
        OpsgenieAction::Close => AlertEvent::Resolve { key, at },
    })
}

/// The optional body of acknowledge and close: type-checked, otherwise unused.
fn check_action_body(body: &[u8], errors: &mut Errors) -> Result<(), IngestError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(IngestError::too_large(body.len(), MAX_BODY_BYTES));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let value = parse_body(body)?;
    if let Some(root) = Located::new(&value, String::new(), errors) {
        for name in ["user", "source", "note"] {
            root.obj().str(name, errors);
        }
    }
    Ok(())
}

/// Opsgenie priorities to severities: `P1` critical, `P2` error, `P3` warning, `P4`/`P5` info.
pub fn severity_from_priority(priority: &str) -> Option<Severity> {
    match priority {
        "P1" => Some(Severity::Critical),
        "P2" => Some(Severity::Error),
        "P3" => Some(Severity::Warning),
        "P4" | "P5" => Some(Severity::Info),
        _ => None,
    }
}

/// `"key:value"` becomes label `key=value` (split at the first colon, both sides trimmed and
/// non-empty); any other tag becomes label `tag=true`.
fn label_of_tag(tag: &str) -> (String, String) {
    match tag.split_once(':') {
        Some((name, value)) if !name.trim().is_empty() && !value.trim().is_empty() => {
            (name.trim().to_string(), value.trim().to_string())
        }
        _ => (tag.trim().to_string(), "true".to_string()),
    }
}

/// Opsgenie's 202 body: `{"result":"Request will be processed","took":0.0,"requestId":"…"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpsgenieAccepted {
    /// Always `Request will be processed`.
    pub result: String,
    /// Seconds spent handling the request.
    pub took: f64,
    /// An identifier for the request (generated by the caller).
    #[serde(rename = "requestId")]
    pub request_id: String,
}

impl OpsgenieAccepted {
    /// The 202 body for an accepted request.
    pub fn new(request_id: &str, took_seconds: f64) -> Self {
        OpsgenieAccepted {
            result: "Request will be processed".to_string(),
            took: took_seconds,
            request_id: request_id.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::test_support::{Fixture, error_fields};
    use serde_json::json;

    const CREATE: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/ingest/opsgenie-create.json"
    ));
    const CLOSE: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/ingest/opsgenie-close.json"
    ));
    const ACKNOWLEDGE: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/ingest/opsgenie-acknowledge.json"
    ));

    fn create() -> Value {
        serde_json::from_str(CREATE).unwrap()
    }

    fn create_value(value: &Value) -> Result<AlertEvent, IngestError> {
        parse_create(value.to_string().as_bytes(), &Fixture::new().ctx())
    }

    fn alert_of(event: AlertEvent) -> Alert {
        match event {
            AlertEvent::Alert(alert) => *alert,
            other => panic!("expected an alert, got {other:?}"),
        }
    }

    #[test]
    fn create_payload_normalises_every_field() {
        let fixture = Fixture::new();
        let alert = alert_of(parse_create(CREATE.as_bytes(), &fixture.ctx()).unwrap());
        assert_eq!(alert.dedup_key.as_str(), "checkout-api-5xx-rate");
        assert_eq!(alert.status, AlertStatus::Firing);
        assert_eq!(alert.severity, Severity::Error, "P2");
        assert_eq!(alert.summary, "Checkout API 5xx rate above 5%");
        assert_eq!(alert.source.as_deref(), Some("CloudWatch Synthetics"));
        assert_eq!(alert.labels["env"], "prod");
        assert_eq!(alert.labels["service"], "checkout-api");
        assert_eq!(alert.labels["customer-facing"], "true");
        assert_eq!(alert.labels["entity"], "checkout-api");
        assert_eq!(
            alert.labels["team"], "platform",
            "integration default label"
        );
        assert_eq!(alert.annotations["error_rate"], "7.2%");
        assert_eq!(alert.annotations["region"], "eu-west-1");
        assert_eq!(
            alert.annotations["description"],
            "5xx responses were 7.2% of checkout-api traffic over the last 5 minutes."
        );
        assert_eq!(
            alert.annotations["note"],
            "Created by the checkout 5xx canary"
        );
        assert!(alert.links.is_empty());
        assert_eq!(alert.received_at, fixture.received_at);
        assert_eq!(alert.raw["responders"][0]["name"], "checkout");
    }

    #[test]
    fn close_and_acknowledge_by_alias_concern_the_created_alert() {
        let fixture = Fixture::new();
        let created = parse_create(CREATE.as_bytes(), &fixture.ctx()).unwrap();
        let closed = parse_action(
            "checkout-api-5xx-rate",
            Some("alias"),
            CLOSE.as_bytes(),
            OpsgenieAction::Close,
            &fixture.ctx(),
        )
        .unwrap();
        assert_eq!(
            closed,
            AlertEvent::Resolve {
                key: created.key(),
                at: fixture.received_at
            }
        );
        let acked = parse_action(
            "checkout-api-5xx-rate",
            Some("alias"),
            ACKNOWLEDGE.as_bytes(),
            OpsgenieAction::Acknowledge,
            &fixture.ctx(),
        )
        .unwrap();
        assert_eq!(
            acked,
            AlertEvent::Acknowledge {
                key: created.key(),
                at: fixture.received_at
            }
        );
        // The body is optional: without one the same events come out.
        for (body, action, expected) in [
            (&b""[..], OpsgenieAction::Close, &closed),
            (&b"  \n"[..], OpsgenieAction::Acknowledge, &acked),
        ] {
            let event = parse_action(
                "checkout-api-5xx-rate",
                Some("alias"),
                body,
                action,
                &fixture.ctx(),
            )
            .unwrap();
            assert_eq!(&event, expected);
        }
    }

    #[test]
    fn sample_action_bodies_carry_opsgenies_documented_fields() {
        // Opsgenie's acknowledge and close bodies: optional strings `user`, `source`, `note`.
        // The samples use all three, and each is type-checked: a number in any of them is refused.
        let fixture = Fixture::new();
        for (sample, action) in [
            (ACKNOWLEDGE, OpsgenieAction::Acknowledge),
            (CLOSE, OpsgenieAction::Close),
        ] {
            let body: Value = serde_json::from_str(sample).unwrap();
            let fields: Vec<&str> = body
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(fields, ["note", "source", "user"], "{sample}");
            for field in fields {
                assert!(body[field].as_str().is_some_and(|text| !text.is_empty()));
                let mut broken = body.clone();
                broken[field] = json!(7);
                let error = parse_action(
                    "checkout-api-5xx-rate",
                    Some("alias"),
                    broken.to_string().as_bytes(),
                    action,
                    &fixture.ctx(),
                )
                .unwrap_err();
                assert_eq!(error_fields(&error), [field]);
                assert_eq!(error.errors[0].message, "must be a string (got number)");
            }
        }
    }

    #[test]
    fn priorities_map_to_severities_and_absent_priority_uses_the_default() {
        for (priority, severity) in [
            ("P1", Severity::Critical),
            ("P2", Severity::Error),
            ("P3", Severity::Warning),
            ("P4", Severity::Info),
            ("P5", Severity::Info),
        ] {
            let mut body = create();
            body["priority"] = json!(priority);
            assert_eq!(alert_of(create_value(&body).unwrap()).severity, severity);
        }
        let body = json!({"message": "m"});
        let bare = Fixture::without_defaults();
        let alert = alert_of(parse_create(body.to_string().as_bytes(), &bare.ctx()).unwrap());
        assert_eq!(alert.severity, Severity::Warning, "Opsgenie's default P3");
        let with_default = Fixture::new();
        let alert =
            alert_of(parse_create(body.to_string().as_bytes(), &with_default.ctx()).unwrap());
        assert_eq!(alert.severity, with_default.defaults.severity.unwrap());
    }

    #[test]
    fn create_without_alias_uses_the_generated_key() {
        let fixture = Fixture::new();
        let alert = alert_of(parse_create(br#"{"message":"m"}"#, &fixture.ctx()).unwrap());
        assert_eq!(alert.dedup_key, fixture.generated);
        assert_eq!(alert.source, fixture.defaults.source);
    }

    #[test]
    fn tags_without_a_value_become_true_labels() {
        assert_eq!(label_of_tag("db"), ("db".into(), "true".into()));
        assert_eq!(label_of_tag("env: prod"), ("env".into(), "prod".into()));
        assert_eq!(
            label_of_tag("url:https://x"),
            ("url".into(), "https://x".into())
        );
        assert_eq!(
            label_of_tag("trailing:"),
            ("trailing:".into(), "true".into())
        );
    }

    #[test]
    fn missing_message_is_named() {
        let mut body = create();
        body.as_object_mut().unwrap().remove("message");
        let error = create_value(&body).unwrap_err();
        assert_eq!(error_fields(&error), ["message"]);
        assert_eq!(error.errors[0].message, "is required");
    }

    #[test]
    fn limits_and_wrong_types_are_all_named() {
        let body = json!({
            "message": "m".repeat(131),
            "alias": "a".repeat(513),
            "priority": "P0",
            "tags": ["ok", 5],
            "details": ["not", "a", "map"],
            "source": false
        });
        let error = create_value(&body).unwrap_err();
        assert_eq!(
            error_fields(&error),
            [
                "message", "alias", "priority", "tags[1]", "details", "source"
            ]
        );
        assert_eq!(
            error.errors[0].message,
            "must be at most 130 characters (got 131)"
        );
    }

    #[test]
    fn non_ascii_alias_limit_is_512_characters() {
        let fixture = Fixture::new();
        // 512 two-byte characters: 1024 bytes, within Opsgenie's limit of 512 characters.
        let longest = "ä".repeat(MAX_ALIAS_CHARS);
        let mut body = create();
        body["alias"] = json!(longest);
        let created = create_value(&body).unwrap();
        assert_eq!(created.key().dedup_key.as_str(), longest);
        for action in [OpsgenieAction::Acknowledge, OpsgenieAction::Close] {
            let event = parse_action(&longest, Some("alias"), b"", action, &fixture.ctx()).unwrap();
            assert_eq!(event.key(), created.key());
        }

        let too_long = format!("{longest}ä");
        body["alias"] = json!(too_long);
        let error = create_value(&body).unwrap_err();
        assert_eq!(error_fields(&error), ["alias"]);
        assert_eq!(
            error.errors[0].message,
            "must be at most 512 characters (got 513)"
        );
        let error = parse_action(
            &too_long,
            Some("alias"),
            b"",
            OpsgenieAction::Close,
            &fixture.ctx(),
        )
        .unwrap_err();
        assert_eq!(error_fields(&error), ["identifier"]);
        assert_eq!(
            error.errors[0].message,
            "must be at most 512 characters (got 513)"
        );
    }

    #[test]
    fn unsupported_identifier_types_are_clear_errors() {
        let fixture = Fixture::new();
        let ctx = fixture.ctx();
        for identifier_type in [None, Some("id"), Some("tiny")] {
            let error =
                parse_action("abc", identifier_type, b"", OpsgenieAction::Close, &ctx).unwrap_err();
            assert_eq!(error.kind, IngestErrorKind::Unsupported);
            assert_eq!(error.code(), "unsupported");
            assert_eq!(error_fields(&error), ["identifierType"]);
            assert!(error.errors[0].message.contains("identifierType=alias"));
        }
        let error =
            parse_action("abc", Some("name"), b"", OpsgenieAction::Close, &ctx).unwrap_err();
        assert_eq!(error.kind, IngestErrorKind::Invalid);
        assert_eq!(error.errors[0].message, "must be one of: id, tiny, alias");
    }

    #[test]
    fn action_body_and_identifier_are_validated() {
        let fixture = Fixture::new();
        let ctx = fixture.ctx();
        let error = parse_action(
            "a\u{7}b",
            Some("alias"),
            br#"{"user": 1, "note": ["x"]}"#,
            OpsgenieAction::Acknowledge,
            &ctx,
        )
        .unwrap_err();
        assert_eq!(error_fields(&error), ["identifier", "user", "note"]);
        let error =
            parse_action("a", Some("alias"), b"note=x", OpsgenieAction::Close, &ctx).unwrap_err();
        assert_eq!(error.kind, IngestErrorKind::NotJson);
        let huge = vec![b' '; 2 * 1024 * 1024];
        let error =
            parse_action("a", Some("alias"), &huge, OpsgenieAction::Close, &ctx).unwrap_err();
        assert_eq!(error.kind, IngestErrorKind::TooLarge);
    }

    #[test]
    fn empty_not_json_and_oversized_create_bodies_are_rejected_by_kind() {
        let fixture = Fixture::new();
        let ctx = fixture.ctx();
        assert_eq!(
            parse_create(b"", &ctx).unwrap_err().kind,
            IngestErrorKind::EmptyBody
        );
        assert_eq!(
            parse_create(b"message=hi", &ctx).unwrap_err().kind,
            IngestErrorKind::NotJson
        );
        let mut huge = br#"{"message":"m","description":""#.to_vec();
        huge.resize(2 * 1024 * 1024, b'x');
        assert_eq!(
            parse_create(&huge, &ctx).unwrap_err().kind,
            IngestErrorKind::TooLarge
        );
    }

    #[test]
    fn accepted_body_has_opsgenie_field_names() {
        assert_eq!(
            serde_json::to_value(OpsgenieAccepted::new("req-1", 0.25)).unwrap(),
            json!({"result": "Request will be processed", "took": 0.25, "requestId": "req-1"})
        );
    }
}
