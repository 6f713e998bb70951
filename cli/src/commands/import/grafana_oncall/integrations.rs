//! OnCall integrations (with the endpoint each sender must use), their routes as routing
//! rules and their maintenance mode as maintenance windows.

use super::{Documents, Ids, sorted, text};
use crate::commands::import::model::{
    ConfigFile, HeartbeatEntry, IntegrationEntry, Matcher, RuleEntry, WindowEntry,
};
use crate::commands::import::report::{Endpoint, Report};
use crate::commands::import::{Slugs, duration_text, next_priority, slugify};
use serde_json::Value;

const INTEGRATION_FIELDS: &[&str] = &[
    "id",
    "name",
    "description_short",
    "team_id",
    "link",
    "inbound_email",
    "type",
    "default_route",
    "templates",
    "heartbeat",
    "maintenance_mode",
    "maintenance_started_at",
    "maintenance_end_at",
    "incidents_count",
];
/// Klaxon's longest heartbeat name.
const MAX_HEARTBEAT_NAME: usize = klaxon_domain::heartbeat::MAX_HEARTBEAT_NAME_LEN;
/// Klaxon's longest heartbeat interval, 31 days.
const MAX_INTERVAL_SECONDS: u64 = 31 * 86_400;
const ROUTE_FIELDS: &[&str] = &[
    "id",
    "integration_id",
    "escalation_chain_id",
    "routing_type",
    "routing_regex",
    "position",
    "is_the_last_route",
    "slack",
    "telegram",
    "msteams",
];

/// The Klaxon format of an OnCall integration type and the endpoint its sender must use.
fn format_of(kind: &str) -> Option<(&'static str, &'static str)> {
    Some(match kind {
        "grafana_alerting" | "grafana" => (
            "grafana",
            "$KLAXON/v1/integrations/grafana with `Authorization: Bearer klx_…`",
        ),
        "alertmanager" | "legacy_alertmanager" => (
            "alertmanager",
            "$KLAXON/v1/integrations/alertmanager with `Authorization: Bearer klx_…`",
        ),
        "amazon_sns" => (
            "cloudwatch",
            "SNS HTTPS subscription to $KLAXON/v1/integrations/sns/klx_…",
        ),
        _ => return None,
    })
}

/// Integrations whose format Klaxon speaks, with their routes as routing rules and their
/// maintenance as maintenance windows.
pub(super) fn integrations(
    docs: &Documents,
    config: &mut ConfigFile,
    report: &mut Report,
    ids: &Ids,
) {
    let mut slugs = Slugs::default();
    let mut rule_slugs = Slugs::default();
    let mut heartbeat_names = Slugs::default();
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
        let Some((format, url)) = format_of(&kind) else {
            let heartbeat = if integration.get("heartbeat").is_some_and(|h| !h.is_null()) {
                "; its heartbeat is not imported either (add an integration of the format its sender can speak, and a heartbeat on it)"
            } else {
                ""
            };
            report.skip("integration", &source_id, format!("integration type {kind:?} has no Klaxon format (Klaxon takes its own JSON, Alertmanager, Grafana, CloudWatch, PagerDuty and Opsgenie){heartbeat}"));
            continue;
        };
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
        config.integrations.push(IntegrationEntry {
            name: slug.clone(),
            format: format.to_owned(),
        });
        if let Some(heartbeat) = integration.get("heartbeat").filter(|h| !h.is_null()) {
            integration_heartbeat(
                heartbeat,
                (&source_id, &name, &slug),
                config,
                report,
                &mut heartbeat_names,
            );
        }
        routes(
            docs,
            (&source_id, &name, &slug),
            config,
            report,
            ids,
            &mut rule_slugs,
        );
        maintenance(integration, &slug, config, report);
    }
}

/// An integration's heartbeat as a Klaxon heartbeat on the imported integration (its routes
/// route the missed-heartbeat alert, as OnCall's routes route its heartbeat alert), expected
/// every `timeout_seconds` with no grace (OnCall expires it `timeout_seconds` after the last
/// signal). OnCall's public API (`heartbeat: {"link": …}`) does not give the timeout; without
/// it the heartbeat is reported, not guessed.
fn integration_heartbeat(
    heartbeat: &Value,
    (source_id, name, slug): (&str, &str, &str),
    config: &mut ConfigFile,
    report: &mut Report,
    names: &mut Slugs,
) {
    let heartbeat_name = names.take_at_most(name, MAX_HEARTBEAT_NAME);
    let ping = format!(
        "$KLAXON/v1/heartbeats/{heartbeat_name}/ping?key=klx_… (or `Authorization: Bearer klx_…`)"
    );
    let Some(seconds) = heartbeat
        .get("timeout_seconds")
        .and_then(Value::as_u64)
        .filter(|s| *s > 0)
    else {
        report.field(
            "integration",
            source_id,
            "heartbeat",
            format!("OnCall's API gives the heartbeat's link but not its timeout, so no Klaxon heartbeat was made: add `{{name: {heartbeat_name}, integration: {slug}, interval: <the timeout shown in OnCall>}}` under heartbeats, and point the sender at {ping}"),
        );
        return;
    };
    if seconds > MAX_INTERVAL_SECONDS {
        report.field(
            "integration",
            source_id,
            "heartbeat",
            format!(
                "its timeout {} is longer than Klaxon's longest heartbeat interval, 31d",
                duration_text(seconds)
            ),
        );
        return;
    }
    let interval = duration_text(seconds);
    report.became(
        "integration",
        source_id,
        format!("heartbeat {heartbeat_name} (every {interval})"),
    );
    report.endpoints.push(Endpoint {
        integration: slug.to_owned(),
        // Not the link itself: it holds OnCall's token.
        replaces: format!("{name}'s heartbeat URL"),
        format: "heartbeat ping".to_owned(),
        url: ping,
    });
    config.heartbeats.push(HeartbeatEntry {
        name: heartbeat_name,
        integration: slug.to_owned(),
        interval,
        severity: None,
        description: Some(format!("OnCall heartbeat of {name}")),
    });
}

/// The routes of one integration as routing rules, in OnCall's order (the default route last).
fn routes(
    docs: &Documents,
    (integration_id, name, slug): (&str, &str, &str),
    config: &mut ConfigFile,
    report: &mut Report,
    ids: &Ids,
    rule_slugs: &mut Slugs,
) {
    let mut routes: Vec<&Value> = docs
        .routes
        .iter()
        .filter(|r| text(r, "integration_id") == integration_id)
        .collect();
    routes.sort_by_key(|r| {
        (
            r.get("is_the_last_route")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            r.get("position").and_then(Value::as_u64).unwrap_or(0),
        )
    });
    for route in routes {
        let route_id = text(route, "id");
        report.object("route", &route_id, &format!("{name} route"));
        report.unknown_fields("route", &route_id, "", route, ROUTE_FIELDS);
        let last = route.get("is_the_last_route").and_then(Value::as_bool) == Some(true);
        let mut matcher = Matcher {
            integrations: vec![slug.to_owned()],
            ..Matcher::default()
        };
        if !last {
            if text(route, "routing_type") != "regex" {
                report.skip(
                    "route",
                    &route_id,
                    "a Jinja2 route: Klaxon matchers are labels, severities and a summary regex",
                );
                continue;
            }
            report.semantics("route", &route_id, "OnCall matches the regex against the whole alert payload; Klaxon matches it against the summary");
            matcher.summary = Some(text(route, "routing_regex"));
        }
        let Some(policy) = ids
            .policies
            .get(&text(route, "escalation_chain_id"))
            .cloned()
        else {
            report.skip("route", &route_id, "its escalation chain was not imported");
            continue;
        };
        let priority = next_priority(config);
        let id = rule_slugs.take(&format!(
            "{name} {}",
            if last { "default" } else { &route_id }
        ));
        report.became("route", &route_id, format!("routing rule {id}"));
        config.routing.rules.push(RuleEntry {
            id,
            priority,
            matcher,
            policy: Some(policy),
            suppress: false,
            severity: None,
            urgency: None,
        });
    }
}

/// An integration in maintenance (or debug maintenance) until a known end becomes a Klaxon
/// maintenance window on it.
fn maintenance(integration: &Value, slug: &str, config: &mut ConfigFile, report: &mut Report) {
    let source_id = text(integration, "id");
    let mode = text(integration, "maintenance_mode");
    if mode.is_empty() {
        return;
    }
    let start = text(integration, "maintenance_started_at");
    let end = text(integration, "maintenance_end_at");
    let instant = |t: &str| chrono::DateTime::parse_from_rfc3339(t).is_ok();
    if !instant(&start) || !instant(&end) {
        report.field(
            "integration",
            &source_id,
            "maintenance_mode",
            "in maintenance without a start and end instant: no Klaxon window was made",
        );
        return;
    }
    let note = match mode.as_str() {
        "debug" => {
            "debug maintenance (OnCall shows alerts and notifies nobody) became a Klaxon maintenance window: incidents are recorded and page nobody"
        }
        _ => {
            "maintenance (OnCall collects the alerts into one alert group) became a Klaxon maintenance window: each incident is recorded and pages nobody"
        }
    };
    report.semantics("integration", &source_id, note);
    let id = slugify(&format!("maintenance {slug}"));
    report.became(
        "integration",
        &source_id,
        format!("maintenance window {id}"),
    );
    config.maintenance_windows.push(WindowEntry {
        id,
        start,
        end,
        matcher: Matcher {
            integrations: vec![slug.to_owned()],
            ..Matcher::default()
        },
        reason: format!("OnCall {mode} mode of {}", text(integration, "name")),
    });
}
