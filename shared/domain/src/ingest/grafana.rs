//! Grafana alerting webhook (contact point type "Webhook", payload `version` `"1"`), served on
//! `POST /v1/integrations/grafana`.
//!
//! The body is Alertmanager's group shape plus Grafana's fields: `orgId`, `title`, `state`,
//! `message` on the group, and `values`, `valueString`, `silenceURL`, `dashboardURL`,
//! `panelURL`, `imageURL` on each alert. Unknown fields are ignored.
//!
//! **Dedup key:** the alert's `fingerprint` (as for Alertmanager; a label hash when absent).
//!
//! Mapping as for [`alertmanager`](super::alertmanager), plus: links to the alert rule
//! (`generatorURL`), runbook (`annotations.runbook_url`), dashboard, panel and silence, the
//! `imageURL` as an image link, and each of `values` as an annotation `value.<refId>`.

use super::webhook::{self, Flavor};
use super::{IngestError, ParseContext};
use crate::alert::AlertEvent;

/// Parses a Grafana webhook body into one event per alert, in order.
pub fn parse(body: &[u8], ctx: &ParseContext<'_>) -> Result<Vec<AlertEvent>, IngestError> {
    webhook::parse(body, ctx, Flavor::Grafana)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{Alert, AlertStatus, LinkKind, Severity};
    use crate::ingest::alertmanager::tests::alerts;
    use crate::ingest::test_support::{Fixture, error_fields};
    use crate::ingest::{IngestErrorKind, MAX_BODY_BYTES};
    use chrono::{TimeZone, Utc};
    use serde_json::{Value, json};

    const FIRING: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/ingest/grafana-firing.json"
    ));
    const RESOLVED: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/ingest/grafana-resolved.json"
    ));

    fn firing() -> Value {
        serde_json::from_str(FIRING).unwrap()
    }

    fn parse_value(value: &Value) -> Result<Vec<AlertEvent>, IngestError> {
        parse(value.to_string().as_bytes(), &Fixture::new().ctx())
    }

    #[test]
    fn firing_payload_normalises_each_alert() {
        let fixture = Fixture::new();
        let alerts = alerts(parse(FIRING.as_bytes(), &fixture.ctx()).unwrap());
        assert_eq!(alerts.len(), 2);
        let first = &alerts[0];
        assert_eq!(first.dedup_key.as_str(), "3f9c2a7e51d0b864");
        assert_eq!(first.status, AlertStatus::Firing);
        assert_eq!(first.severity, Severity::Warning);
        assert_eq!(
            first.summary,
            "Disk /var/lib/postgresql 91% full on db-1.example.com"
        );
        assert_eq!(first.source.as_deref(), Some("db-1.example.com"));
        assert_eq!(first.labels["grafana_folder"], "Storage");
        assert_eq!(first.labels["team"], "storage");
        assert_eq!(first.annotations["value.A"], "91.4");
        assert_eq!(first.annotations["value.B"], "1");
        let links: Vec<_> = first
            .links
            .iter()
            .map(|l| (l.text.as_deref().unwrap(), l.kind))
            .collect();
        assert_eq!(
            links,
            [
                ("Alert rule", LinkKind::Link),
                ("Runbook", LinkKind::Link),
                ("Dashboard", LinkKind::Link),
                ("Panel", LinkKind::Link),
                ("Silence", LinkKind::Link),
                ("Alert image", LinkKind::Image),
            ]
        );
        assert_eq!(
            first.links[5].href,
            "https://grafana.example.com/public/img/attachments/Dk3f8sPq1.png"
        );
        assert_eq!(
            first.started_at,
            Some(Utc.with_ymd_and_hms(2025, 3, 14, 8, 55, 0).unwrap())
        );
        assert_eq!(first.ended_at, None);
        assert!(
            first
                .group_hint
                .as_deref()
                .unwrap()
                .contains(r#"alertname="Disk usage high""#)
        );
        assert_eq!(first.raw["values"]["A"], 91.4);

        // Empty dashboard and panel URLs make no links.
        let second = &alerts[1];
        assert_eq!(second.dedup_key.as_str(), "7be0d4c19a2f6e35");
        let texts: Vec<_> = second.links.iter().map(|l| l.text.as_deref()).collect();
        assert_eq!(
            texts,
            [Some("Alert rule"), Some("Runbook"), Some("Silence")]
        );
    }

    #[test]
    fn resolved_payload_resolves_the_same_alerts() {
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
                Some(Utc.with_ymd_and_hms(2025, 3, 14, 9, 40, 0).unwrap())
            );
        }
        assert_eq!(resolved[0].annotations["value.A"], "76.3");
    }

    #[test]
    fn alertmanager_payload_is_refused_by_version() {
        let body = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../events/ingest/alertmanager-firing.json"
        ));
        let error = parse(body.as_bytes(), &Fixture::new().ctx()).unwrap_err();
        assert_eq!(error_fields(&error), ["version"]);
        assert_eq!(error.errors[0].message, "must be \"1\"");
    }

    #[test]
    fn missing_version_is_named() {
        let mut body = firing();
        body.as_object_mut().unwrap().remove("version");
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
        body["alerts"][0].as_object_mut().unwrap().remove("status");
        assert_eq!(
            error_fields(&parse_value(&body).unwrap_err()),
            ["alerts[0].status"]
        );
    }

    #[test]
    fn missing_alert_labels_is_named() {
        let mut body = firing();
        body["alerts"][1].as_object_mut().unwrap().remove("labels");
        assert_eq!(
            error_fields(&parse_value(&body).unwrap_err()),
            ["alerts[1].labels"]
        );
    }

    #[test]
    fn wrong_types_of_grafana_fields_are_named() {
        let mut body = firing();
        body["orgId"] = json!("one");
        body["alerts"][0]["values"] = json!([1, 2]);
        body["alerts"][1]["dashboardURL"] = json!(false);
        let error = parse_value(&body).unwrap_err();
        assert_eq!(
            error_fields(&error),
            ["orgId", "alerts[0].values", "alerts[1].dashboardURL"]
        );
    }

    #[test]
    fn null_values_and_extra_fields_are_tolerated() {
        let mut body = firing();
        body["alerts"][0]["values"] = Value::Null;
        body["alerts"][0]["futureField"] = json!({"a": 1});
        body["someNewGroupField"] = json!(["x"]);
        let alerts = alerts(parse_value(&body).unwrap());
        assert!(!alerts[0].annotations.contains_key("value.A"));
    }

    #[test]
    fn empty_not_json_and_oversized_bodies_are_rejected_by_kind() {
        let fixture = Fixture::new();
        let ctx = fixture.ctx();
        assert_eq!(
            parse(b"\n", &ctx).unwrap_err().kind,
            IngestErrorKind::EmptyBody
        );
        assert_eq!(
            parse(b"{\"alerts\":", &ctx).unwrap_err().kind,
            IngestErrorKind::NotJson
        );
        let mut huge = FIRING.as_bytes().to_vec();
        huge.resize(2 * MAX_BODY_BYTES, b' ');
        assert_eq!(
            parse(&huge, &ctx).unwrap_err().kind,
            IngestErrorKind::TooLarge
        );
    }
}
