//! Telling a payload's format from its fields, for `route test` without `--format`.
//!
//! Each format has fields the others lack; the checks go from the most specific shape to the
//! least, and every answer carries the reason, which the command prints.

use klaxon_domain::ingest::Format;
use serde_json::Value;

/// A detected format and the fields that gave it away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detected {
    /// The format.
    pub format: Format,
    /// Why, for people: `"version": "4" with an "alerts" list`.
    pub reason: &'static str,
}

/// The format of `payload`, or why it cannot be told.
pub fn detect(payload: &Value) -> Result<Detected, String> {
    let Value::Object(fields) = payload else {
        return Err(format!(
            "the payload is a JSON {}, not an object; no alert format looks like that",
            klaxon_domain::ingest::json_type_name(payload)
        ));
    };
    let has = |key: &str| fields.contains_key(key);
    let found = |format, reason| Ok(Detected { format, reason });

    if has("Records") {
        return found(
            Format::Cloudwatch,
            "a \"Records\" list (an SNS event delivered to Lambda)",
        );
    }
    if has("Type") && (has("TopicArn") || has("Message")) {
        return found(
            Format::Cloudwatch,
            "\"Type\" and \"TopicArn\" (an SNS message delivered over HTTPS)",
        );
    }
    if has("event_action") {
        return found(
            Format::Pagerduty,
            "\"event_action\" (a PagerDuty Events API v2 event)",
        );
    }
    if let Some(Value::Array(alerts)) = fields.get("alerts")
        && let Some(detected) = detect_alert_list(fields, alerts)
    {
        return Ok(detected);
    }
    if has("dedup_key") {
        return found(Format::Native, "\"dedup_key\" (Klaxon's own format)");
    }
    if has("message") {
        return found(
            Format::Opsgenie,
            "\"message\" without \"dedup_key\" (an Opsgenie create-alert request)",
        );
    }
    if has("AlarmName") && has("NewStateValue") {
        return Err(
            "the payload is a bare CloudWatch alarm; Klaxon receives alarms inside SNS messages, \
             so pass the SNS notification (or Lambda event) that carries it"
                .to_string(),
        );
    }
    if !fields.is_empty()
        && fields
            .keys()
            .all(|key| matches!(key.as_str(), "user" | "source" | "note"))
    {
        return Err(
            "the payload looks like the body of an Opsgenie acknowledge or close request; those \
             name the alert in their URL, so only create-alert bodies can be dry-run"
                .to_string(),
        );
    }
    let mut keys: Vec<&str> = fields.keys().map(String::as_str).take(8).collect();
    if fields.len() > keys.len() {
        keys.push("...");
    }
    Err(format!(
        "cannot tell the payload's format from its fields ({}); pass --format",
        if keys.is_empty() {
            "it has none".to_string()
        } else {
            keys.join(", ")
        }
    ))
}

/// A payload with an `"alerts"` list: Grafana, Alertmanager or a native batch, if the
/// fields beside the list tell which.
fn detect_alert_list(
    fields: &serde_json::Map<String, Value>,
    alerts: &[Value],
) -> Option<Detected> {
    let has = |key: &str| fields.contains_key(key);
    let version = fields.get("version").and_then(Value::as_str);
    let found = |format, reason| Some(Detected { format, reason });
    if version == Some("1") || has("orgId") {
        return found(
            Format::Grafana,
            "an \"alerts\" list with \"version\": \"1\" or \"orgId\" (a Grafana webhook)",
        );
    }
    if version == Some("4") {
        return found(
            Format::Alertmanager,
            "an \"alerts\" list with \"version\": \"4\" (an Alertmanager webhook)",
        );
    }
    if alerts.iter().any(|alert| alert.get("dedup_key").is_some()) {
        return found(
            Format::Native,
            "an \"alerts\" list of objects with \"dedup_key\" (Klaxon's own format)",
        );
    }
    if has("groupKey") || has("receiver") {
        return found(
            Format::Alertmanager,
            "an \"alerts\" list with \"groupKey\" or \"receiver\" (an Alertmanager webhook)",
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample(name: &str) -> Value {
        let path = format!("{}/../../events/ingest/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn every_sample_payload_is_detected_as_its_format() {
        for (file, format) in [
            ("native-firing.json", Format::Native),
            ("native-resolved.json", Format::Native),
            ("pagerduty-trigger.json", Format::Pagerduty),
            ("pagerduty-resolve.json", Format::Pagerduty),
            ("pagerduty-trigger-no-dedup-key.json", Format::Pagerduty),
            ("opsgenie-create.json", Format::Opsgenie),
            ("alertmanager-firing.json", Format::Alertmanager),
            ("alertmanager-resolved.json", Format::Alertmanager),
            ("grafana-firing.json", Format::Grafana),
            ("grafana-resolved.json", Format::Grafana),
            ("cloudwatch-sns-notification.json", Format::Cloudwatch),
            ("cloudwatch-sns-metric-math.json", Format::Cloudwatch),
            ("sns-lambda-event.json", Format::Cloudwatch),
            ("sns-subscription-confirmation.json", Format::Cloudwatch),
        ] {
            assert_eq!(
                detect(&sample(file)).map(|d| d.format),
                Ok(format),
                "{file}"
            );
        }
    }

    /// Every format is told from a sample its own parser (the domain's format table) accepts,
    /// so a new format cannot be added to the table without a way to detect it.
    #[test]
    fn every_format_is_detected_from_a_sample_its_parser_accepts() {
        use klaxon_domain::ids::{DedupKey, IntegrationName};
        use klaxon_domain::ingest::{IntegrationDefaults, ParseContext};
        let integration = IntegrationName::new("detect-test").unwrap();
        let defaults = IntegrationDefaults::default();
        let generated = DedupKey::new("generated").unwrap();
        let context = ParseContext {
            integration: &integration,
            defaults: &defaults,
            received_at: chrono::DateTime::UNIX_EPOCH,
            generated_dedup_key: &generated,
        };
        for format in Format::ALL {
            let file = match format {
                Format::Native => "native-firing.json",
                Format::Pagerduty => "pagerduty-trigger.json",
                Format::Opsgenie => "opsgenie-create.json",
                Format::Alertmanager => "alertmanager-firing.json",
                Format::Grafana => "grafana-firing.json",
                Format::Cloudwatch => "cloudwatch-sns-notification.json",
            };
            let payload = sample(file);
            assert_eq!(detect(&payload).map(|d| d.format), Ok(format), "{file}");
            let path = format!("{}/../../events/ingest/{file}", env!("CARGO_MANIFEST_DIR"));
            let body = std::fs::read(path).unwrap();
            let parsed = klaxon_domain::ingest::parse(format, &body, &context).unwrap();
            assert!(!parsed.events.is_empty(), "{file}");
        }
    }

    #[test]
    fn native_batches_and_old_alertmanager_are_told_apart() {
        let batch = json!({"alerts": [{"dedup_key": "a", "summary": "s"}]});
        assert_eq!(detect(&batch).unwrap().format, Format::Native);
        let old = json!({"alerts": [{"labels": {}}], "groupKey": "{}"});
        assert_eq!(detect(&old).unwrap().format, Format::Alertmanager);
    }

    #[test]
    fn unknown_shapes_say_what_they_have() {
        let error = detect(&json!({"foo": 1, "bar": 2})).unwrap_err();
        assert!(error.contains("foo") && error.contains("bar") && error.contains("--format"));
        assert!(detect(&json!([1])).unwrap_err().contains("JSON array"));
        let alarm = json!({"AlarmName": "x", "NewStateValue": "ALARM"});
        assert!(detect(&alarm).unwrap_err().contains("SNS"));
        let close = detect(&sample("opsgenie-close.json")).unwrap_err();
        assert!(close.contains("Opsgenie acknowledge or close"), "{close}");
    }
}
