//! Opsgenie integrations (with the endpoint each sender must use), maintenance and heartbeats.

use super::{Documents, Ids, sorted, text};
use crate::commands::import::Slugs;
use crate::commands::import::model::{ConfigFile, IntegrationEntry, Matcher, WindowEntry};
use crate::commands::import::report::{Endpoint, Report};
use serde_json::Value;

const INTEGRATION_FIELDS: &[&str] = &["id", "name", "enabled", "type", "teamId", "version"];
const MAINTENANCE_FIELDS: &[&str] = &["id", "status", "description", "time", "rules"];

/// Integrations: the types Klaxon speaks keep their format; the Klaxon endpoint is reported.
pub(super) fn integrations(
    docs: &Documents,
    config: &mut ConfigFile,
    report: &mut Report,
    ids: &mut Ids,
) {
    let mut slugs = Slugs::default();
    for integration in sorted(&docs.integrations, "name") {
        let source_id = text(integration, "id");
        let name = text(integration, "name");
        let kind = text(integration, "type");
        report.object("integration", &source_id, &name);
        report.unknown_fields(
            "integration",
            &source_id,
            "",
            integration,
            INTEGRATION_FIELDS,
        );
        let (format, url) = match kind.as_str() {
            "API" | "Terraform" | "OpsgenieAPI" => (
                "opsgenie",
                "POST $KLAXON/v2/alerts with `Authorization: GenieKey klx_…` (replace https://api.opsgenie.com)",
            ),
            "Prometheus" | "Alertmanager" => (
                "alertmanager",
                "$KLAXON/v1/integrations/alertmanager with `Authorization: Bearer klx_…`",
            ),
            "Grafana" => (
                "grafana",
                "$KLAXON/v1/integrations/grafana with `Authorization: Bearer klx_…`",
            ),
            "CloudWatch" | "AmazonCloudWatch" | "AmazonSns" | "CloudWatchEvents" => (
                "cloudwatch",
                "SNS HTTPS subscription to $KLAXON/v1/integrations/sns/klx_…",
            ),
            _ => {
                report.skip("integration", &source_id, format!("integration type {kind:?} has no Klaxon format: if the tool can send Opsgenie's alert API, Prometheus/Alertmanager or Grafana webhooks, add a Klaxon integration of that format"));
                continue;
            }
        };
        if integration.get("enabled").and_then(Value::as_bool) == Some(false) {
            report.semantics("integration", &source_id, "disabled in Opsgenie; imported (a Klaxon integration accepts alerts as soon as it has a key)");
        }
        let slug = slugs.take(&name);
        report.became(
            "integration",
            &source_id,
            format!("integration {slug} ({format})"),
        );
        report.endpoints.push(Endpoint {
            integration: slug.clone(),
            replaces: format!("{name} ({kind})"),
            format: format.to_owned(),
            url: url.to_owned(),
        });
        if integration.get("teamId").is_none_or(Value::is_null) {
            report.field("integration", &source_id, "teamId", "no team: no routing rule sends its alerts anywhere, so they use routing.defaults (set a default policy)");
        }
        ids.integrations.insert(source_id, slug.clone());
        config.integrations.push(IntegrationEntry {
            name: slug,
            format: format.to_owned(),
        });
    }
}

/// Maintenance: scheduled windows on integrations become Klaxon maintenance windows.
pub(super) fn maintenance(
    docs: &Documents,
    config: &mut ConfigFile,
    report: &mut Report,
    ids: &Ids,
) {
    let mut slugs = Slugs::default();
    for window in sorted(&docs.maintenance, "id") {
        let source_id = text(window, "id");
        let description = text(window, "description");
        report.object("maintenance", &source_id, &description);
        report.unknown_fields("maintenance", &source_id, "", window, MAINTENANCE_FIELDS);
        let status = text(window, "status");
        if matches!(status.as_str(), "past" | "cancelled") {
            report.skip("maintenance", &source_id, format!("it is {status}"));
            continue;
        }
        let mut integrations = silenced(window, &source_id, report, ids);
        let start = window.pointer("/time/startDate").and_then(Value::as_str);
        let end = window.pointer("/time/endDate").and_then(Value::as_str);
        let (Some(start), Some(end)) = (start, end) else {
            report.skip("maintenance", &source_id, "it has no start and end date");
            continue;
        };
        if integrations.is_empty() {
            report.skip(
                "maintenance",
                &source_id,
                "it silences nothing Klaxon imported",
            );
            continue;
        }
        integrations.sort();
        integrations.dedup();
        let id = slugs.take(&format!(
            "maintenance {}",
            if description.is_empty() {
                &source_id
            } else {
                &description
            }
        ));
        report.became(
            "maintenance",
            &source_id,
            format!("maintenance window {id}"),
        );
        config.maintenance_windows.push(WindowEntry {
            id,
            start: start.to_owned(),
            end: end.to_owned(),
            matcher: Matcher {
                integrations,
                ..Matcher::default()
            },
            reason: if description.trim().is_empty() {
                format!("Opsgenie maintenance {source_id}")
            } else {
                description
            },
        });
    }
}

/// The imported integrations a maintenance window's rules silence (other rules reported).
fn silenced(window: &Value, source_id: &str, report: &mut Report, ids: &Ids) -> Vec<String> {
    let mut integrations = Vec::new();
    for rule in window
        .get("rules")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let entity = rule.get("entity").cloned().unwrap_or(Value::Null);
        match (
            text(&entity, "type").as_str(),
            ids.integrations.get(&text(&entity, "id")),
        ) {
            ("integration", Some(name)) => integrations.push(name.clone()),
            (kind, _) => report.field(
                "maintenance",
                source_id,
                "rules",
                format!(
                    "a rule on a {kind} that Klaxon cannot silence (only imported integrations)"
                ),
            ),
        }
        if text(rule, "state") == "disabled" {
            report.semantics(
                "maintenance",
                source_id,
                "Opsgenie drops the integration's alerts; Klaxon records them and pages nobody",
            );
        }
    }
    integrations
}

/// Heartbeats: not yet supported by Klaxon; each is reported with its interval, so it can be
/// rebuilt by hand.
pub(super) fn heartbeats(docs: &Documents, report: &mut Report) {
    for heartbeat in sorted(&docs.heartbeats, "name") {
        let name = text(heartbeat, "name");
        report.object("heartbeat", &name, &name);
        let interval = heartbeat.get("interval").and_then(Value::as_u64);
        let unit = text(heartbeat, "intervalUnit");
        let every = match interval {
            Some(n) if !unit.is_empty() => format!("a ping every {n} {unit}"),
            _ => "a ping at an interval the API did not give".to_owned(),
        };
        let state = if heartbeat.get("enabled").and_then(Value::as_bool) == Some(false) {
            "disabled"
        } else {
            "enabled"
        };
        let alert = text(heartbeat, "alertMessage");
        report.skip(
            "heartbeat",
            &name,
            format!(
                "heartbeats are not yet supported by Klaxon: {name:?} expects {every} ({state}{}); keep a dead-man's-switch alert in the monitoring tool (an always-firing Alertmanager rule, for instance) until Klaxon has them",
                if alert.is_empty() {
                    String::new()
                } else {
                    format!(", alert {alert:?}")
                }
            ),
        );
    }
}
