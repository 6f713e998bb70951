//! PagerDuty escalation policies, services (integrations and urgency) and maintenance windows.

use super::{Documents, Ids, orchestrations, sorted, text};
use crate::commands::import::model::{
    ConfigFile, IntegrationEntry, Matcher, PolicyEntry, RuleEntry, TierEntry, WindowEntry,
};
use crate::commands::import::report::{Endpoint, Report};
use crate::commands::import::{Slugs, duration_text, next_priority};
use serde_json::Value;
use std::collections::BTreeMap;

const POLICY_FIELDS: &[&str] = &[
    "id",
    "type",
    "summary",
    "self",
    "html_url",
    "name",
    "description",
    "num_loops",
    "on_call_handoff_notifications",
    "escalation_rules",
    "services",
    "teams",
];
const RULE_FIELDS: &[&str] = &[
    "id",
    "escalation_delay_in_minutes",
    "targets",
    "escalation_rule_assignment_strategy",
];
const SERVICE_FIELDS: &[&str] = &[
    "id",
    "type",
    "summary",
    "self",
    "html_url",
    "name",
    "description",
    "status",
    "escalation_policy",
    "incident_urgency_rule",
    "support_hours",
    "scheduled_actions",
    "integrations",
    "acknowledgement_timeout",
    "auto_resolve_timeout",
    "alert_creation",
    "alert_grouping_parameters",
    "teams",
    "created_at",
    "last_incident_timestamp",
    "addons",
    "response_play",
    "auto_pause_notifications_parameters",
];
const INTEGRATION_FIELDS: &[&str] = &[
    "id",
    "type",
    "summary",
    "self",
    "html_url",
    "name",
    "service",
    "created_at",
    "vendor",
    "integration_key",
    "integration_email",
];
const WINDOW_FIELDS: &[&str] = &[
    "id",
    "type",
    "summary",
    "self",
    "html_url",
    "sequence_number",
    "start_time",
    "end_time",
    "description",
    "services",
    "teams",
    "created_by",
];

/// Escalation policies: each rule is a tier whose delay is the rule's escalation delay.
pub(super) fn policies(
    docs: &Documents,
    config: &mut ConfigFile,
    report: &mut Report,
    ids: &mut Ids,
) {
    for policy in sorted(&docs.escalation_policies, "name") {
        let source_id = text(policy, "id");
        let name = text(policy, "name");
        report.object("escalation policy", &source_id, &name);
        report.unknown_fields("escalation policy", &source_id, "", policy, POLICY_FIELDS);
        let mut tiers = Vec::new();
        for (index, rule) in policy
            .get("escalation_rules")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let field = format!("escalation_rules[{index}]");
            report.unknown_fields("escalation policy", &source_id, &field, rule, RULE_FIELDS);
            if let Some(tier) = tier(rule, &source_id, &field, report, ids) {
                tiers.push(tier);
            }
        }
        if tiers.is_empty() {
            report.skip(
                "escalation policy",
                &source_id,
                "no rule has a target Klaxon can page",
            );
            continue;
        }
        let loops = policy.get("num_loops").and_then(Value::as_u64).unwrap_or(0);
        if loops > 10 {
            report.field(
                "escalation policy",
                &source_id,
                "num_loops",
                format!("{loops} loops: Klaxon repeats at most 10 times"),
            );
        }
        if text(policy, "on_call_handoff_notifications") == "always" {
            report.field(
                "escalation policy",
                &source_id,
                "on_call_handoff_notifications",
                "Klaxon sends no hand-off notifications (the ICS feed shows shifts)",
            );
        }
        let id = ids.policy_slugs.take(&name);
        report.became(
            "escalation policy",
            &source_id,
            format!("escalation policy {id} ({} tiers)", tiers.len()),
        );
        ids.policies.insert(source_id, id.clone());
        config.escalation_policies.push(PolicyEntry {
            id,
            name,
            repeat: u32::try_from(loops.min(10)).unwrap_or(10),
            tiers,
        });
    }
}

/// One escalation rule as a tier: its user and schedule targets, after its delay.
fn tier(
    rule: &Value,
    source_id: &str,
    field: &str,
    report: &mut Report,
    ids: &Ids,
) -> Option<TierEntry> {
    if rule
        .pointer("/escalation_rule_assignment_strategy/type")
        .and_then(Value::as_str)
        == Some("round_robin")
    {
        report.semantics("escalation policy", source_id, format!("{field}: round robin assigns one target per incident in turn; Klaxon pages every target of the tier"));
    }
    let mut targets = Vec::new();
    for target in rule
        .get("targets")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let id = text(target, "id");
        let mapped = match text(target, "type").as_str() {
            "user_reference" | "user" => ids.users.get(&id).map(|u| ("user", u.clone())),
            "schedule_reference" | "schedule" => {
                ids.schedules.get(&id).map(|s| ("schedule", s.clone()))
            }
            _ => None,
        };
        match mapped {
            Some((kind, klaxon)) => targets.push(BTreeMap::from([(kind.to_owned(), klaxon)])),
            None => report.field(
                "escalation policy",
                source_id,
                field,
                format!("target {} ({}) was not imported", id, text(target, "type")),
            ),
        }
    }
    if targets.is_empty() {
        return None;
    }
    let minutes = rule
        .get("escalation_delay_in_minutes")
        .and_then(Value::as_u64)
        .unwrap_or(30);
    Some(TierEntry {
        delay: duration_text(minutes * 60),
        targets,
    })
}

/// Services: each Events API v2 (or CloudWatch) integration becomes a Klaxon integration, and a
/// routing rule sends the service's integrations to its policy with its urgency.
pub(super) fn services(
    docs: &Documents,
    config: &mut ConfigFile,
    report: &mut Report,
    ids: &mut Ids,
) {
    let mut slugs = Slugs::default();
    for service in sorted(&docs.services, "name") {
        let source_id = text(service, "id");
        let name = text(service, "name");
        report.object("service", &source_id, &name);
        report.unknown_fields("service", &source_id, "", service, SERVICE_FIELDS);
        let policy = service
            .pointer("/escalation_policy/id")
            .and_then(Value::as_str)
            .and_then(|id| ids.policies.get(id))
            .cloned();
        let urgency = urgency(service, &source_id, report);
        // Event orchestration rules may route here whatever integrations the service has.
        ids.service_routes
            .insert(source_id.clone(), (policy.clone(), urgency.clone()));
        let names = integrations(service, &name, &mut slugs, config, report);
        unmapped_service_fields(service, &source_id, report);
        if names.is_empty() {
            report.skip(
                "service",
                &source_id,
                "none of its integrations can send to Klaxon, so no routing rule was made",
            );
            orchestrations::unused(docs, &source_id, report);
            continue;
        }
        if policy.is_none() {
            report.field(
                "service",
                &source_id,
                "escalation_policy",
                "its escalation policy was not imported: the rule pages nobody",
            );
        }
        let route = orchestrations::ServiceRoute {
            name: &name,
            integrations: &names,
            policy: policy.as_ref(),
            urgency: urgency.as_ref(),
        };
        let catch_all =
            orchestrations::service_rules(docs, &source_id, &route, config, report, ids);
        let mut suppress = text(service, "status") == "disabled";
        if suppress {
            report.semantics("service", &source_id, "disabled in PagerDuty: its routing rule records incidents and pages nobody (suppress: true)");
        }
        suppress |= catch_all.suppress;
        let id = ids.rule_slugs.take(&name);
        let priority = next_priority(config);
        report.became("service", &source_id, format!("routing rule {id}"));
        ids.service_integrations.insert(source_id, names.clone());
        config.routing.rules.push(RuleEntry {
            id,
            priority,
            matcher: Matcher {
                integrations: names,
                ..Matcher::default()
            },
            policy: catch_all.policy.or(policy),
            suppress,
            severity: catch_all.severity,
            urgency,
        });
    }
}

/// The service's integrations Klaxon can receive, as Klaxon integrations (with the endpoint
/// each sender must use); returns their names.
fn integrations(
    service: &Value,
    name: &str,
    slugs: &mut Slugs,
    config: &mut ConfigFile,
    report: &mut Report,
) -> Vec<String> {
    let mut names = Vec::new();
    for integration in sorted(
        service
            .get("integrations")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default(),
        "summary",
    ) {
        let integration_id = text(integration, "id");
        let summary = text(integration, "summary");
        report.object(
            "integration",
            &integration_id,
            &format!("{name}: {summary}"),
        );
        report.unknown_fields(
            "integration",
            &integration_id,
            "",
            integration,
            INTEGRATION_FIELDS,
        );
        let (format, url) = match text(integration, "type").as_str() {
            "events_api_v2_inbound_integration" => (
                "pagerduty",
                "POST $KLAXON/v2/enqueue with the Klaxon key as routing_key (replace https://events.pagerduty.com)",
            ),
            "aws_cloudwatch_inbound_integration" => (
                "cloudwatch",
                "SNS HTTPS subscription to $KLAXON/v1/integrations/sns/klx_…",
            ),
            other => {
                report.skip("integration", &integration_id, format!("integration type {other:?} has no Klaxon format (Klaxon takes Events API v2, Opsgenie, Alertmanager, Grafana and CloudWatch)"));
                continue;
            }
        };
        let slug = slugs.take(&format!("{name} {summary}"));
        report.became(
            "integration",
            &integration_id,
            format!("integration {slug} ({format})"),
        );
        report.endpoints.push(Endpoint {
            integration: slug.clone(),
            replaces: format!("{name}: {summary}"),
            format: format.to_owned(),
            url: url.to_owned(),
        });
        config.integrations.push(IntegrationEntry {
            name: slug.clone(),
            format: format.to_owned(),
        });
        names.push(slug);
    }
    names
}

/// Service settings Klaxon has no equivalent for, reported when set.
fn unmapped_service_fields(service: &Value, source_id: &str, report: &mut Report) {
    for (field, reason) in [
        ("support_hours", "Klaxon routing has no support hours"),
        (
            "scheduled_actions",
            "Klaxon routing has no scheduled actions",
        ),
        (
            "acknowledgement_timeout",
            "Klaxon does not re-trigger acknowledged incidents",
        ),
        (
            "auto_resolve_timeout",
            "Klaxon resolves when the alerts resolve (settings.auto_resolve), not after a timeout",
        ),
        (
            "alert_grouping_parameters",
            "rebuild grouping as Klaxon grouping rules (docs/config.md#grouping)",
        ),
        (
            "auto_pause_notifications_parameters",
            "Klaxon pages at once: transient alerts are not paused",
        ),
        ("response_play", "Klaxon has no response plays"),
        ("addons", "Klaxon has no service add-ons"),
    ] {
        if service.get(field).is_some_and(is_set) {
            report.field("service", source_id, field, reason);
        }
    }
}

/// The service's urgency: a constant rule sets it; severity-based leaves Klaxon's per-severity
/// default; support-hours rules are not expressible.
fn urgency(service: &Value, source_id: &str, report: &mut Report) -> Option<String> {
    let rule = service
        .get("incident_urgency_rule")
        .cloned()
        .unwrap_or(Value::Null);
    match text(&rule, "type").as_str() {
        "constant" => match text(&rule, "urgency").as_str() {
            "high" => Some("high".to_owned()),
            "low" => Some("low".to_owned()),
            "severity_based" | "" => {
                report.semantics("service", source_id, "severity-based urgency: Klaxon's default urgency per severity applies (high for critical and error, low for warning and info)");
                None
            }
            other => {
                report.field(
                    "service",
                    source_id,
                    "incident_urgency_rule",
                    format!("urgency {other:?} is unknown"),
                );
                None
            }
        },
        "use_support_hours" => {
            report.field("service", source_id, "incident_urgency_rule", "urgency by support hours: Klaxon routing has no time conditions, so the severity default applies");
            None
        }
        _ => None,
    }
}

/// Open maintenance windows on imported services become Klaxon maintenance windows.
pub(super) fn maintenance(
    docs: &Documents,
    config: &mut ConfigFile,
    report: &mut Report,
    ids: &Ids,
) {
    let mut slugs = Slugs::default();
    for window in sorted(&docs.maintenance_windows, "start_time") {
        let source_id = text(window, "id");
        let description = text(window, "description");
        report.object("maintenance window", &source_id, &description);
        report.unknown_fields("maintenance window", &source_id, "", window, WINDOW_FIELDS);
        let mut integrations: Vec<String> = window
            .get("services")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|s| {
                s.get("id")
                    .and_then(Value::as_str)
                    .and_then(|id| ids.service_integrations.get(id))
            })
            .flatten()
            .cloned()
            .collect();
        integrations.sort();
        integrations.dedup();
        if integrations.is_empty() {
            report.skip(
                "maintenance window",
                &source_id,
                "none of its services was imported",
            );
            continue;
        }
        let id = slugs.take(&format!(
            "maintenance {}",
            if description.is_empty() {
                &source_id
            } else {
                &description
            }
        ));
        report.became(
            "maintenance window",
            &source_id,
            format!("maintenance window {id}"),
        );
        config.maintenance_windows.push(WindowEntry {
            id,
            start: text(window, "start_time"),
            end: text(window, "end_time"),
            matcher: Matcher {
                integrations,
                ..Matcher::default()
            },
            reason: if description.trim().is_empty() {
                format!("PagerDuty maintenance window {source_id}")
            } else {
                description
            },
        });
    }
}

/// Whether a field holds something (not null, 0, or an empty text, list or object).
pub(super) fn is_set(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        // `{"enabled": false, ...}` is a setting switched off.
        Value::Object(o) => !o.is_empty() && o.get("enabled") != Some(&Value::Bool(false)),
        Value::Bool(b) => *b,
    }
}
