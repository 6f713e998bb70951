//! Prometheus Alertmanager webhook, version 4, served on
//! `POST /v1/integrations/alertmanager`.
//!
//! One body is one notification for an alert group: `version` (must be `"4"`), `groupKey`,
//! `status`, `receiver`, `groupLabels`, `commonLabels`, `commonAnnotations`, `externalURL`,
//! `truncatedAlerts`, and `alerts[]`, each with `status`, `labels`, `annotations`, `startsAt`,
//! `endsAt`, `generatorURL` and `fingerprint`. Fields added by later Alertmanager releases are
//! ignored.
//!
//! **Dedup key:** the alert's `fingerprint`; when absent (Alertmanager before 0.19), `labels-`
//! and 16 hex digits of a SHA-256 over the alert's labels, each name and value length-prefixed.
//!
//! Each alert becomes one [`AlertEvent::Alert`]: status from
//! the alert (not the group), severity from `labels.severity` via
//! [`severity_from_label`](super::severity_from_label), summary from `annotations.summary`, else
//! `annotations.description`, else `labels.alertname`, source from `labels.instance`, else
//! `labels.job`, `groupKey` as the grouping hint, and `endsAt` only for resolved alerts (Go's
//! zero time `0001-01-01T00:00:00Z` means "no end").

use super::webhook::{self, Flavor};
use super::{IngestError, ParseContext};
use crate::alert::AlertEvent;

/// Parses an Alertmanager webhook body into one event per alert, in order.
pub fn parse(body: &[u8], ctx: &ParseContext<'_>) -> Result<Vec<AlertEvent>, IngestError> {
    webhook::parse(body, ctx, Flavor::Alertmanager)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::alert::{Alert, AlertStatus, LinkKind, Severity};
    use crate::ingest::test_support::{Fixture, error_fields};
    use crate::ingest::{IngestErrorKind, MAX_BODY_BYTES};
    use chrono::{TimeZone, Utc};
    use proptest::prelude::*;
    use serde_json::{Value, json};

    const FIRING: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/ingest/alertmanager-firing.json"
    ));
    const RESOLVED: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/ingest/alertmanager-resolved.json"
    ));

    pub(crate) fn alerts(events: Vec<AlertEvent>) -> Vec<Alert> {
        events
            .into_iter()
            .map(|event| match event {
                AlertEvent::Alert(alert) => *alert,
                other => panic!("expected full alerts, got {other:?}"),
            })
            .collect()
    }

    fn parse_value(value: &Value) -> Result<Vec<AlertEvent>, IngestError> {
        parse(value.to_string().as_bytes(), &Fixture::new().ctx())
    }

    fn firing() -> Value {
        serde_json::from_str(FIRING).unwrap()
    }

    #[test]
    fn firing_group_normalises_each_alert() {
        let fixture = Fixture::new();
        let alerts = alerts(parse(FIRING.as_bytes(), &fixture.ctx()).unwrap());
        assert_eq!(alerts.len(), 2);
        let (first, second) = (&alerts[0], &alerts[1]);

        assert_eq!(first.dedup_key.as_str(), "5c2e4b0f8a1d3e7b");
        assert_eq!(first.status, AlertStatus::Firing);
        assert_eq!(first.severity, Severity::Critical);
        assert_eq!(
            first.summary,
            "p99 latency 2.4s on checkout-api-7d9f8b6c5-2xkqp"
        );
        assert_eq!(
            first.source.as_deref(),
            Some("checkout-api-7d9f8b6c5-2xkqp:8080")
        );
        assert_eq!(first.labels["alertname"], "HighRequestLatency");
        // Payload labels win over the integration's default labels (team, env).
        assert_eq!(first.labels["team"], "checkout");
        assert_eq!(first.labels["env"], "prod");
        assert_eq!(
            first.annotations["runbook_url"],
            "https://runbooks.example.com/checkout/latency"
        );
        let link_texts: Vec<_> = first.links.iter().map(|l| l.text.as_deref()).collect();
        assert_eq!(link_texts, [Some("Source"), Some("Runbook")]);
        assert!(
            first.links[0]
                .href
                .starts_with("https://prometheus.example.com/graph?")
        );
        assert!(first.links.iter().all(|l| l.kind == LinkKind::Link));
        assert_eq!(
            first.started_at,
            Some(
                Utc.with_ymd_and_hms(2025, 3, 14, 9, 31, 12).unwrap()
                    + chrono::Duration::milliseconds(123)
            )
        );
        assert_eq!(first.ended_at, None);
        assert_eq!(
            first.group_hint.as_deref(),
            Some(
                r#"{}/{team="checkout"}:{alertname="HighRequestLatency", service="checkout-api"}"#
            )
        );
        assert_eq!(first.raw["fingerprint"], "5c2e4b0f8a1d3e7b");
        assert!(first.raw.get("groupKey").is_none(), "raw is the element");

        assert_eq!(second.dedup_key.as_str(), "9a3f6c1d2e8b4a70");
        assert_eq!(second.severity, Severity::Warning);
        // No summary annotation: the description is used.
        assert_eq!(
            second.summary,
            "p99 request latency has been above 1s for 10 minutes."
        );
        assert_eq!(second.group_hint, first.group_hint);
    }

    #[test]
    fn resolved_group_resolves_the_same_alerts() {
        let fixture = Fixture::new();
        let firing = alerts(parse(FIRING.as_bytes(), &fixture.ctx()).unwrap());
        let resolved = alerts(parse(RESOLVED.as_bytes(), &fixture.ctx()).unwrap());
        assert_eq!(
            firing.iter().map(Alert::key).collect::<Vec<_>>(),
            resolved.iter().map(Alert::key).collect::<Vec<_>>()
        );
        for alert in &resolved {
            assert_eq!(alert.status, AlertStatus::Resolved);
            assert_eq!(
                alert.ended_at,
                Some(
                    Utc.with_ymd_and_hms(2025, 3, 14, 9, 58, 42).unwrap()
                        + chrono::Duration::milliseconds(123)
                )
            );
        }
        assert_eq!(resolved[0].group_hint, firing[0].group_hint);
    }

    #[test]
    fn each_alert_status_wins_over_the_group_status() {
        let mut body = firing();
        body["alerts"][1]["status"] = json!("resolved");
        body["alerts"][1]["endsAt"] = json!("2025-03-14T09:40:00Z");
        let alerts = alerts(parse_value(&body).unwrap());
        assert_eq!(alerts[0].status, AlertStatus::Firing);
        assert_eq!(alerts[1].status, AlertStatus::Resolved);
        assert!(alerts[1].ended_at.is_some());
    }

    #[test]
    fn firing_end_time_is_not_an_end() {
        let mut body = firing();
        body["alerts"][0]["endsAt"] = json!("2025-03-14T09:36:12Z");
        assert_eq!(alerts(parse_value(&body).unwrap())[0].ended_at, None);
    }

    #[test]
    fn unknown_severity_uses_the_integration_default() {
        let mut body = firing();
        body["alerts"][0]["labels"]["severity"] = json!("sev2-ish");
        let fixture = Fixture::new();
        let alerts = alerts(parse_value(&body).unwrap());
        assert_eq!(alerts[0].severity, fixture.defaults.severity.unwrap());
    }

    #[test]
    fn summary_falls_back_to_alertname_then_the_key() {
        let mut body = firing();
        body["alerts"][0]["annotations"] = json!({});
        let alerts_now = alerts(parse_value(&body).unwrap());
        assert_eq!(alerts_now[0].summary, "HighRequestLatency");
        body["alerts"][0]["labels"] = json!({"instance": "x"});
        assert_eq!(
            alerts(parse_value(&body).unwrap())[0].summary,
            "5c2e4b0f8a1d3e7b"
        );
    }

    #[test]
    fn blank_annotations_do_not_block_the_summary_fallback() {
        let mut body = firing();
        body["alerts"][0]["annotations"]["summary"] = json!("  ");
        assert_eq!(
            alerts(parse_value(&body).unwrap())[0].summary,
            "p99 request latency has been above 1s for 10 minutes.",
            "blank summary: the description"
        );
        body["alerts"][0]["annotations"]["description"] = json!("");
        assert_eq!(
            alerts(parse_value(&body).unwrap())[0].summary,
            "HighRequestLatency",
            "blank summary and description: the alertname"
        );
        body["alerts"][0]["labels"]["alertname"] = json!(" ");
        assert_eq!(
            alerts(parse_value(&body).unwrap())[0].summary,
            "5c2e4b0f8a1d3e7b",
            "all blank: the dedup key"
        );
    }

    #[test]
    fn missing_fingerprint_falls_back_to_a_stable_label_hash() {
        let mut body = firing();
        body["alerts"][0]
            .as_object_mut()
            .unwrap()
            .remove("fingerprint");
        let first = alerts(parse_value(&body).unwrap()).remove(0);
        let again = alerts(parse_value(&body).unwrap()).remove(0);
        assert!(first.dedup_key.as_str().starts_with("labels-"));
        assert_eq!(first.dedup_key.as_str().len(), "labels-".len() + 16);
        assert_eq!(first.dedup_key, again.dedup_key);
        body["alerts"][0]["labels"]["instance"] = json!("other:8080");
        let other = alerts(parse_value(&body).unwrap()).remove(0);
        assert_ne!(other.dedup_key, first.dedup_key);
    }

    #[test]
    fn documented_optional_fields_are_tolerated_present_or_absent() {
        // The fields Alertmanager's webhook (version 4) documents besides `version`, `alerts`
        // and each alert's `status` and `labels`. The sample carries all of them.
        const GROUP_FIELDS: [&str; 8] = [
            "groupKey",
            "truncatedAlerts",
            "receiver",
            "status",
            "groupLabels",
            "commonLabels",
            "commonAnnotations",
            "externalURL",
        ];
        let sample = firing();
        for field in GROUP_FIELDS {
            assert!(sample.get(field).is_some(), "the sample lacks {field}");
        }
        let expected = alerts(parse_value(&sample).unwrap());

        // Values other than the sample's: alerts cut by `max_alerts`, empty maps, no URL.
        let mut varied = sample.clone();
        varied["truncatedAlerts"] = json!(3);
        varied["groupLabels"] = json!({});
        varied["commonAnnotations"] = json!({});
        varied["externalURL"] = json!("");
        varied["receiver"] = json!("klaxon/webhook");
        assert_eq!(alerts(parse_value(&varied).unwrap()), expected);

        // Each group field left out: the same alerts (only `groupKey` is used: the hint).
        for field in GROUP_FIELDS {
            let mut body = sample.clone();
            body.as_object_mut().unwrap().remove(field);
            let parsed = alerts(parse_value(&body).unwrap());
            let mut want = expected.clone();
            if field == "groupKey" {
                want.iter_mut().for_each(|alert| alert.group_hint = None);
            }
            assert_eq!(parsed, want, "without {field}");
        }

        // Each alert field left out: the alert still parses, without what that field gave.
        let without = |field: &str| {
            let mut body = sample.clone();
            body["alerts"][0].as_object_mut().unwrap().remove(field);
            alerts(parse_value(&body).unwrap()).remove(0)
        };
        assert_eq!(without("annotations").summary, "HighRequestLatency");
        assert!(without("annotations").annotations.is_empty());
        assert_eq!(without("startsAt").started_at, None);
        assert_eq!(without("endsAt").ended_at, None);
        let links: Vec<_> = without("generatorURL")
            .links
            .into_iter()
            .map(|link| link.text)
            .collect();
        assert_eq!(links, [Some("Runbook".to_string())]);
        assert!(
            without("fingerprint")
                .dedup_key
                .as_str()
                .starts_with("labels-")
        );
    }

    #[test]
    fn missing_version_is_named() {
        let mut body = firing();
        body.as_object_mut().unwrap().remove("version");
        assert_eq!(error_fields(&parse_value(&body).unwrap_err()), ["version"]);
    }

    #[test]
    fn wrong_version_is_named() {
        let mut body = firing();
        body["version"] = json!("3");
        let error = parse_value(&body).unwrap_err();
        assert_eq!(error_fields(&error), ["version"]);
        assert_eq!(error.errors[0].message, "must be \"4\"");
        body["version"] = json!(4);
        assert_eq!(error_fields(&parse_value(&body).unwrap_err()), ["version"]);
    }

    #[test]
    fn missing_alerts_is_named() {
        let mut body = firing();
        body.as_object_mut().unwrap().remove("alerts");
        assert_eq!(error_fields(&parse_value(&body).unwrap_err()), ["alerts"]);
    }

    #[test]
    fn missing_alert_status_is_named() {
        let mut body = firing();
        body["alerts"][1].as_object_mut().unwrap().remove("status");
        let error = parse_value(&body).unwrap_err();
        assert_eq!(error_fields(&error), ["alerts[1].status"]);
        assert_eq!(error.errors[0].message, "is required");
    }

    #[test]
    fn missing_alert_labels_is_named() {
        let mut body = firing();
        body["alerts"][0].as_object_mut().unwrap().remove("labels");
        assert_eq!(
            error_fields(&parse_value(&body).unwrap_err()),
            ["alerts[0].labels"]
        );
    }

    #[test]
    fn wrong_types_are_all_named_at_once() {
        let mut body = firing();
        body["alerts"][0]["labels"]["severity"] = json!(1);
        body["alerts"][0]["startsAt"] = json!("last tuesday");
        body["alerts"][1]["status"] = json!("pending");
        body["alerts"][1]["fingerprint"] = json!(42);
        body["truncatedAlerts"] = json!("none");
        body["commonLabels"] = json!(["a"]);
        let error = parse_value(&body).unwrap_err();
        assert_eq!(error.kind, IngestErrorKind::Invalid);
        assert_eq!(
            error_fields(&error),
            [
                "commonLabels",
                "truncatedAlerts",
                "alerts[0].labels.severity",
                "alerts[0].startsAt",
                "alerts[1].status",
                "alerts[1].fingerprint",
            ]
        );
        body["alerts"] = json!({"0": {}});
        assert!(parse_value(&body).unwrap_err().names_field("alerts"));
    }

    #[test]
    fn empty_not_json_and_oversized_bodies_are_rejected_by_kind() {
        let ctx_owner = Fixture::new();
        let ctx = ctx_owner.ctx();
        assert_eq!(
            parse(b"", &ctx).unwrap_err().kind,
            IngestErrorKind::EmptyBody
        );
        assert_eq!(
            parse(b"<html>", &ctx).unwrap_err().kind,
            IngestErrorKind::NotJson
        );
        let two_megabytes = vec![b' '; 2 * 1024 * 1024];
        assert!(two_megabytes.len() > MAX_BODY_BYTES);
        assert_eq!(
            parse(&two_megabytes, &ctx).unwrap_err().kind,
            IngestErrorKind::TooLarge
        );
    }

    /// Arbitrary JSON values for unknown fields.
    pub(crate) fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "[ -~]{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    /// Extra fields with distinct names that cannot collide with any format's known fields.
    pub(crate) fn extra_fields() -> impl Strategy<Value = Vec<(String, Value)>> {
        prop::collection::btree_map("x_[a-z]{1,8}", any_json(), 1..4)
            .prop_map(|fields| fields.into_iter().collect())
    }

    pub(crate) fn without_raw(events: Vec<AlertEvent>) -> Vec<AlertEvent> {
        events
            .into_iter()
            .map(|event| match event {
                AlertEvent::Alert(mut alert) => {
                    alert.raw = Value::Null;
                    AlertEvent::Alert(alert)
                }
                other => other,
            })
            .collect()
    }

    proptest! {
        #[test]
        fn unknown_fields_anywhere_parse_identically(
            root_extra in extra_fields(),
            alert_extra in extra_fields(),
        ) {
            let original = firing();
            let mut extended = original.clone();
            for (key, value) in &root_extra {
                extended[key.as_str()] = value.clone();
            }
            for alert in extended["alerts"].as_array_mut().unwrap() {
                for (key, value) in &alert_extra {
                    alert[key.as_str()] = value.clone();
                }
            }
            let expected = parse_value(&original).unwrap();
            let actual = parse_value(&extended).unwrap();
            // The raw payload keeps the sender's extra fields; everything else is identical.
            for event in &actual {
                if let AlertEvent::Alert(alert) = event {
                    for (key, value) in &alert_extra {
                        prop_assert_eq!(&alert.raw[key.as_str()], value);
                    }
                }
            }
            prop_assert_eq!(without_raw(actual), without_raw(expected));
        }
    }
}
