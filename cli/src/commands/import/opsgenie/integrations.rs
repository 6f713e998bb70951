//! Opsgenie integrations (with the endpoint each sender must use), maintenance and heartbeats.

use super::{Documents, Ids, sorted, text};
use crate::commands::import::model::{
    ConfigFile, HeartbeatEntry, IntegrationEntry, Matcher, WindowEntry,
};
use crate::commands::import::report::{Endpoint, Report};
use crate::commands::import::{Slugs, duration_text, slugify};
use serde_json::Value;

const INTEGRATION_FIELDS: &[&str] = &["id", "name", "enabled", "type", "teamId", "version"];
const MAINTENANCE_FIELDS: &[&str] = &["id", "status", "description", "time", "rules"];
const HEARTBEAT_FIELDS: &[&str] = &[
    "name",
    "description",
    "interval",
    "intervalUnit",
    "enabled",
    "expired",
    "ownerTeam",
    "alertMessage",
    "alertTags",
    "alertPriority",
];
/// Klaxon's longest heartbeat name (`klaxon_domain::heartbeat::MAX_HEARTBEAT_NAME_LEN`).
const MAX_HEARTBEAT_NAME: usize = klaxon_domain::heartbeat::MAX_HEARTBEAT_NAME_LEN;
/// Klaxon's longest heartbeat interval, 31 days.
const MAX_INTERVAL_SECONDS: u64 = 31 * 86_400;

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

/// Heartbeats: each enabled one becomes a Klaxon heartbeat. Opsgenie creates a missed
/// heartbeat's alert for the heartbeat's owner team, whose routing rules then route it; so the
/// heartbeats of each owner team share one new integration `{team} heartbeats` (format
/// `opsgenie`: senders keep Opsgenie's ping shape), which [`super::routing::routing_rules`]
/// adds to the team's integrations. A disabled heartbeat is not imported (reported): Klaxon
/// has no disabled heartbeat, and would start watching it at its first ping.
pub(super) fn heartbeats(
    docs: &Documents,
    config: &mut ConfigFile,
    report: &mut Report,
    ids: &mut Ids,
) {
    let mut integration_slugs = Slugs::default();
    for integration in &config.integrations {
        integration_slugs.take(&integration.name);
    }
    let mut names = Slugs::default();
    for heartbeat in sorted(&docs.heartbeats, "name") {
        let name = text(heartbeat, "name");
        report.object("heartbeat", &name, &name);
        report.unknown_fields("heartbeat", &name, "", heartbeat, HEARTBEAT_FIELDS);
        let count = heartbeat.get("interval").and_then(Value::as_u64);
        let unit = text(heartbeat, "intervalUnit");
        let Some(seconds) = count.and_then(|n| interval_seconds(n, &unit)) else {
            report.skip(
                "heartbeat",
                &name,
                format!(
                    "its interval ({count:?} {unit:?}) is not a number of minutes, hours or days"
                ),
            );
            continue;
        };
        let interval = duration_text(seconds);
        if seconds > MAX_INTERVAL_SECONDS {
            report.skip(
                "heartbeat",
                &name,
                format!("its interval {interval} is longer than Klaxon's longest, 31d"),
            );
            continue;
        }
        if heartbeat.get("enabled").and_then(Value::as_bool) == Some(false) {
            report.skip("heartbeat", &name, format!("disabled in Opsgenie: not imported, because a Klaxon heartbeat has no disabled state and would be watched from its first ping; when you enable it, add `{{name: {}, integration: …, interval: {interval}}}` under heartbeats", slugify(&name)));
            continue;
        }
        let team = heartbeat.get("ownerTeam").cloned().unwrap_or(Value::Null);
        let team_id = text(&team, "id");
        let integration = match ids.heartbeat_integrations.get(&team_id) {
            Some(slug) => slug.clone(),
            None => {
                let team_name = text(&team, "name");
                let slug = integration_slugs.take(&if team_name.is_empty() {
                    "heartbeats".to_owned()
                } else {
                    format!("{team_name} heartbeats")
                });
                config.integrations.push(IntegrationEntry {
                    name: slug.clone(),
                    format: "opsgenie".to_owned(),
                });
                ids.heartbeat_integrations
                    .insert(team_id.clone(), slug.clone());
                slug
            }
        };
        let slug = names.take_at_most(&name, MAX_HEARTBEAT_NAME);
        let priority = text(heartbeat, "alertPriority");
        let severity = match priority.as_str() {
            "" => None,
            p => match severity_of_priority(p) {
                Some(severity) => Some(severity.to_owned()),
                None => {
                    report.field("heartbeat", &name, "alertPriority", format!("priority {p:?} is not P1 to P5: the alert keeps Klaxon's default severity, error"));
                    None
                }
            },
        };
        let message = text(heartbeat, "alertMessage");
        let description = [text(heartbeat, "description"), message.clone()]
            .into_iter()
            .map(|d| d.trim().chars().take(1024).collect::<String>())
            .find(|d| !d.is_empty());
        if !message.is_empty() {
            report.semantics("heartbeat", &name, format!("Opsgenie's alert message {message:?} is not the alert's summary: Klaxon's says \"Heartbeat {slug} expired: no ping since …\" (the description annotation carries the heartbeat's description, else the message)"));
        }
        if heartbeat
            .get("alertTags")
            .and_then(Value::as_array)
            .is_some_and(|tags| !tags.is_empty())
        {
            report.field("heartbeat", &name, "alertTags", "Klaxon's missed-heartbeat alert carries one label, heartbeat: <name>; route on it instead of the tags");
        }
        if heartbeat.get("expired").and_then(Value::as_bool) == Some(true) {
            report.semantics("heartbeat", &name, "expired in Opsgenie at the export: in Klaxon it is inactive until its first ping, so the current silence opens no incident");
        }
        report.became(
            "heartbeat",
            &name,
            format!("heartbeat {slug} (integration {integration}, every {interval})"),
        );
        report.endpoints.push(Endpoint {
            integration: integration.clone(),
            replaces: format!("heartbeat {name} (Opsgenie heartbeat ping)"),
            format: "opsgenie".to_owned(),
            url: format!("$KLAXON/v2/heartbeats/{slug}/ping with `Authorization: GenieKey klx_…` (replaces https://api.opsgenie.com/v2/heartbeats/{name}/ping)"),
        });
        ids.heartbeats.push((name.clone(), integration.clone()));
        config.heartbeats.push(HeartbeatEntry {
            name: slug,
            integration,
            interval,
            severity,
            description,
        });
    }
}

/// After routing: a heartbeat whose integration no imported routing rule matches goes to
/// `routing.defaults`; say so.
pub(super) fn heartbeat_routes(config: &ConfigFile, report: &mut Report, ids: &Ids) {
    for (name, integration) in &ids.heartbeats {
        let routed = config
            .routing
            .rules
            .iter()
            .any(|rule| rule.matcher.integrations.contains(integration));
        if !routed {
            report.field("heartbeat", name, "ownerTeam", "no routing rule of its owner team was imported, so its alert uses routing.defaults (set a default policy, or escalation_policy on the heartbeat)");
        }
    }
}

/// Opsgenie's `interval` in `intervalUnit` as seconds (`minutes`, `hours`, `days`).
fn interval_seconds(count: u64, unit: &str) -> Option<u64> {
    let size = match unit {
        "minutes" => 60,
        "hours" => 3_600,
        "days" => 86_400,
        _ => return None,
    };
    count.checked_mul(size).filter(|s| *s > 0)
}

/// Opsgenie priorities as Klaxon severities, as Klaxon's Opsgenie format maps them.
fn severity_of_priority(priority: &str) -> Option<&'static str> {
    Some(match priority {
        "P1" => "critical",
        "P2" => "error",
        "P3" => "warning",
        "P4" | "P5" => "info",
        _ => return None,
    })
}
