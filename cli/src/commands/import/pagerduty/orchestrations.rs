//! PagerDuty event orchestrations and service event rules as Klaxon routing rules, where they
//! are expressible; everything else is in the report with the reason.
//!
//! - A **service orchestration**'s rules (its `start` set, first match wins, as in Klaxon)
//!   become routing rules on the service's integrations, placed before the service's own rule:
//!   conditions on the summary, source, severity and the component, group and class labels
//!   (see [`conditions`](super::conditions)); actions that set the severity, suppress, drop
//!   (suppress: Klaxon records the incident) or pick an escalation policy. Its catch-all's
//!   actions apply to the service's own rule. Rules that lead to a nested rule set, and the
//!   other actions (priority, annotations, variables, automation, ...), are reported.
//! - **Legacy service event rules** (used when the service orchestration is not active) map
//!   the same way.
//! - A **global event orchestration** becomes one Klaxon integration (its senders keep the
//!   Events API v2 with the Klaxon key instead of the orchestration's routing key) and its
//!   router's rules become routing rules on it, each sending to the policy and urgency of the
//!   service it routes to; the catch-all's service is the last rule.
//! - An endpoint the account does not have (402, 403 or 404: a plan without the feature) is
//!   reported as unavailable on the account.

use super::conditions;
use super::services::is_set;
use super::{Documents, Ids, sorted, text};
use crate::commands::import::client::Gated;
use crate::commands::import::model::{ConfigFile, IntegrationEntry, Matcher, RuleEntry};
use crate::commands::import::report::{Endpoint, Report};
use crate::commands::import::{Slugs, next_priority};
use serde_json::Value;

const ORCHESTRATION_FIELDS: &[&str] = &[
    "id",
    "type",
    "self",
    "name",
    "description",
    "team",
    "integrations",
    "routes",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
    "version",
];
const PATH_FIELDS: &[&str] = &[
    "type",
    "self",
    "parent",
    "sets",
    "catch_all",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
    "version",
];
const RULE_FIELDS: &[&str] = &["id", "label", "conditions", "actions", "disabled"];
const LEGACY_FIELDS: &[&str] = &[
    "id",
    "self",
    "position",
    "disabled",
    "conditions",
    "time_frame",
    "variables",
    "actions",
];

/// What a service's rules route to.
pub struct ServiceRoute<'a> {
    /// The service's name.
    pub name: &'a str,
    /// Its Klaxon integrations.
    pub integrations: &'a [String],
    /// Its Klaxon policy.
    pub policy: Option<&'a String>,
    /// Its urgency.
    pub urgency: Option<&'a String>,
}

/// The actions of one rule Klaxon keeps.
#[derive(Debug, Default)]
pub struct Actions {
    /// `escalation_policy`.
    pub policy: Option<String>,
    /// `severity`.
    pub severity: Option<String>,
    /// `suppress` or `drop_event`.
    pub suppress: bool,
}

/// The report's lines for a service that became no routing rule: its event rules have
/// nothing to route (its integrations were not imported).
pub fn unused(docs: &Documents, service: &str, report: &mut Report) {
    let has_rules = match docs.service_orchestrations.get(service) {
        Some(Gated::Read(path)) => rules(path).next().is_some(),
        _ => false,
    };
    if has_rules {
        report.field("service", service, "event orchestration", "the service orchestration's rules were not imported: none of the service's integrations was");
    }
}

/// The rules of a service's orchestration (or, when that is not active, its legacy event
/// rules) as routing rules before the service's own; returns the catch-all's actions, for the
/// service's own rule.
pub fn service_rules(
    docs: &Documents,
    service: &str,
    route: &ServiceRoute<'_>,
    config: &mut ConfigFile,
    report: &mut Report,
    ids: &mut Ids,
) -> Actions {
    let Some(path) = active_orchestration(docs, service, route, config, report, ids) else {
        return Actions::default();
    };
    let kind = "service orchestration";
    report.object(
        kind,
        service,
        &format!("{}: service orchestration", route.name),
    );
    report.unknown_fields(kind, service, "", path, PATH_FIELDS);
    for rule in rules(path) {
        let Some((matchers, actions)) = rule_parts(rule, RULE_KIND, report, ids) else {
            continue;
        };
        let rule_id = text(rule, "id");
        if rule
            .pointer("/actions/route_to")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
        {
            report.skip(RULE_KIND, &rule_id, "it leads to a nested rule set: Klaxon routing rules do not nest (rebuild the combined conditions by hand)");
            continue;
        }
        push_rules(
            (RULE_KIND, &rule_id, &format!("{} {rule_id}", route.name)),
            matchers,
            route.integrations,
            (
                actions.policy.or_else(|| route.policy.cloned()),
                route.urgency.cloned(),
            ),
            (actions.severity, actions.suppress),
            config,
            report,
            ids,
        );
    }
    for set in path
        .get("sets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if text(set, "id") != "start" {
            let count = set
                .get("rules")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            report.field(
                kind,
                service,
                &format!("sets[{}]", text(set, "id")),
                format!("a nested rule set ({count} rules) was not imported"),
            );
        }
    }
    let catch_all = path
        .pointer("/catch_all/actions")
        .cloned()
        .unwrap_or(Value::Null);
    actions(&catch_all, kind, service, "catch_all.actions", report, ids)
}

/// The service's orchestration when it is active and readable; otherwise maps its legacy
/// event rules (not active) or reports it (unavailable) and returns `None`.
fn active_orchestration<'a>(
    docs: &'a Documents,
    service: &str,
    route: &ServiceRoute<'_>,
    config: &mut ConfigFile,
    report: &mut Report,
    ids: &mut Ids,
) -> Option<&'a Value> {
    let active = match docs.service_orchestration_active.get(service) {
        Some(Gated::Read(answer)) => answer.get("active").and_then(Value::as_bool) != Some(false),
        _ => true,
    };
    if !active {
        legacy_rules(docs, service, route, config, report, ids);
        return None;
    }
    if let Some(Gated::Read(rules)) = docs.service_rules.get(service)
        && !rules.is_empty()
    {
        report.field(
            "service",
            service,
            "event rules",
            format!("{} legacy event rules not imported: the service orchestration is active, so PagerDuty does not apply them", rules.len()),
        );
    }
    match docs.service_orchestrations.get(service) {
        Some(Gated::Read(path)) => Some(path),
        Some(Gated::Unavailable(status)) => {
            report.field(
                "service",
                service,
                "event orchestration",
                unavailable(*status),
            );
            None
        }
        None => None,
    }
}

/// The rules of a path's `start` set.
fn rules(path: &Value) -> impl Iterator<Item = &Value> {
    path.get("sets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|set| text(set, "id") == "start")
        .filter_map(|set| set.get("rules").and_then(Value::as_array))
        .flatten()
}

/// A rule's matchers (one per condition; none: always) and actions, or `None` (reported) when
/// it is disabled or its conditions are not expressible.
fn rule_parts(
    rule: &Value,
    kind: &str,
    report: &mut Report,
    ids: &Ids,
) -> Option<(Vec<Matcher>, Actions)> {
    let rule_id = text(rule, "id");
    let label = text(rule, "label");
    report.object(kind, &rule_id, &label);
    report.unknown_fields(kind, &rule_id, "", rule, RULE_FIELDS);
    if rule.get("disabled").and_then(Value::as_bool) == Some(true) {
        report.skip(kind, &rule_id, "disabled in PagerDuty");
        return None;
    }
    let mut matchers = Vec::new();
    for condition in rule
        .get("conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let expression = text(condition, "expression");
        match conditions::pcl(&expression) {
            Ok(found) => matchers.extend(found),
            Err(why) => {
                report.skip(
                    kind,
                    &rule_id,
                    format!(
                        "the condition {expression:?} is not expressible as a Klaxon matcher: {why}"
                    ),
                );
                return None;
            }
        }
    }
    if matchers.is_empty() {
        matchers.push(Matcher::default());
    }
    let actions = actions(
        &rule.get("actions").cloned().unwrap_or(Value::Null),
        kind,
        &rule_id,
        "actions",
        report,
        ids,
    );
    Some((matchers, actions))
}

/// The actions Klaxon has (severity, suppress, escalation policy); the others are reported.
fn actions(
    actions: &Value,
    kind: &str,
    id: &str,
    field: &str,
    report: &mut Report,
    ids: &Ids,
) -> Actions {
    let mut kept = Actions::default();
    let Some(map) = actions.as_object() else {
        return kept;
    };
    for (key, wrapped) in map {
        // Legacy event rules wrap each action's value: `{"severity": {"value": "critical"}}`.
        let value = wrapped.get("value").unwrap_or(wrapped);
        if !is_set(value) {
            continue;
        }
        let at = format!("{field}.{key}");
        match key.as_str() {
            "route_to" | "route" => {}
            "severity" => match value.as_str() {
                Some(s @ ("critical" | "error" | "warning" | "info")) => {
                    kept.severity = Some(s.to_owned());
                }
                _ => report.field(
                    kind,
                    id,
                    &at,
                    format!("severity {value} is not one of Klaxon's"),
                ),
            },
            // A legacy rule may suppress only until N alerts arrive in a time window.
            "suppress" if wrapped.get("threshold_value").is_some_and(is_set) => report.field(
                kind,
                id,
                &at,
                "suppressing until a number of alerts arrive in a time window: Klaxon routing rules suppress always or never, so nothing was made of it",
            ),
            "suppress" => kept.suppress = true,
            "drop_event" => {
                kept.suppress = true;
                report.semantics(kind, id, "PagerDuty drops the event; Klaxon records the incident and pages nobody (suppress: true)");
            }
            "escalation_policy" => match value.as_str().and_then(|p| ids.policies.get(p)) {
                Some(policy) => kept.policy = Some(policy.clone()),
                None => report.field(
                    kind,
                    id,
                    &at,
                    format!("escalation policy {value} was not imported"),
                ),
            },
            "priority" => report.field(
                kind,
                id,
                &at,
                "Klaxon has no incident priorities (severity and urgency decide)",
            ),
            "suspend" => report.field(kind, id, &at, "Klaxon pages at once: alerts are not paused"),
            "event_action" => report.field(
                kind,
                id,
                &at,
                "Klaxon does not turn an alert into a resolve (or a resolve into a trigger)",
            ),
            "dynamic_route_to" => report.field(
                kind,
                id,
                &at,
                "dynamic routing by event content: Klaxon routes to fixed policies",
            ),
            "annotate"
            | "variables"
            | "extractions"
            | "incident_custom_field_updates"
            | "automation_actions"
            | "pagerduty_automation_actions"
            | "incident_type" => {
                report.field(
                    kind,
                    id,
                    &at,
                    "Klaxon routing rules do not change alerts or run automation",
                );
            }
            _ => report.field(
                kind,
                id,
                &at,
                "unknown field: the importer does not know it, so nothing was made of it",
            ),
        }
    }
    kept
}

/// One routing rule per matcher, on `integrations`.
#[allow(clippy::too_many_arguments)] // the parts of one rule, kept apart for the call sites
fn push_rules(
    (kind, source_id, name): (&str, &str, &str),
    matchers: Vec<Matcher>,
    integrations: &[String],
    (policy, urgency): (Option<String>, Option<String>),
    (severity, suppress): (Option<String>, bool),
    config: &mut ConfigFile,
    report: &mut Report,
    ids: &mut Ids,
) {
    for mut matcher in matchers {
        matcher.integrations = integrations.to_vec();
        let id = ids.rule_slugs.take(name);
        let priority = next_priority(config);
        report.became(kind, source_id, format!("routing rule {id}"));
        config.routing.rules.push(RuleEntry {
            id,
            priority,
            matcher,
            policy: policy.clone(),
            suppress,
            severity: severity.clone(),
            urgency: urgency.clone(),
        });
    }
}

/// Legacy service event rules, in their `position` order.
fn legacy_rules(
    docs: &Documents,
    service: &str,
    route: &ServiceRoute<'_>,
    config: &mut ConfigFile,
    report: &mut Report,
    ids: &mut Ids,
) {
    let rules = match docs.service_rules.get(service) {
        Some(Gated::Read(rules)) => rules,
        Some(Gated::Unavailable(status)) => {
            report.field("service", service, "event rules", unavailable(*status));
            return;
        }
        None => return,
    };
    let kind = "service event rule";
    let mut ordered: Vec<&Value> = rules.iter().collect();
    ordered.sort_by_key(|r| (r.get("position").and_then(Value::as_u64), text(r, "id")));
    for rule in ordered {
        let rule_id = text(rule, "id");
        report.object(kind, &rule_id, &format!("{}: event rule", route.name));
        report.unknown_fields(kind, &rule_id, "", rule, LEGACY_FIELDS);
        if rule.get("disabled").and_then(Value::as_bool) == Some(true) {
            report.skip(kind, &rule_id, "disabled in PagerDuty");
            continue;
        }
        if rule.get("time_frame").is_some_and(is_set) {
            report.skip(
                kind,
                &rule_id,
                "it applies in a time frame only: Klaxon routing rules have no time conditions",
            );
            continue;
        }
        let matchers = match conditions::legacy(rule.get("conditions").unwrap_or(&Value::Null)) {
            Ok(matchers) => matchers,
            Err(why) => {
                report.skip(
                    kind,
                    &rule_id,
                    format!("its conditions are not expressible as a Klaxon matcher: {why}"),
                );
                continue;
            }
        };
        let actions_value = rule.get("actions").cloned().unwrap_or(Value::Null);
        let actions = actions(&actions_value, kind, &rule_id, "actions", report, ids);
        push_rules(
            (kind, &rule_id, &format!("{} {rule_id}", route.name)),
            matchers,
            route.integrations,
            (
                actions.policy.or_else(|| route.policy.cloned()),
                route.urgency.cloned(),
            ),
            (actions.severity, actions.suppress),
            config,
            report,
            ids,
        );
    }
}

fn unavailable(status: u16) -> String {
    format!(
        "unavailable on this account (PagerDuty answered {status}: the plan may not include it, or the key may not read it), so nothing was read"
    )
}

/// Global event orchestrations: one Klaxon integration each, its router's rules as routing
/// rules on it.
pub fn routers(docs: &Documents, config: &mut ConfigFile, report: &mut Report, ids: &mut Ids) {
    let orchestrations = match &docs.orchestrations {
        Gated::Read(list) => list,
        Gated::Unavailable(status) => {
            report.object("event orchestration", "*", "event orchestrations");
            report.skip(
                "event orchestration",
                "*",
                format!("event orchestrations are {}", unavailable(*status)),
            );
            return;
        }
    };
    for orchestration in sorted(orchestrations, "name") {
        router(orchestration, docs, config, report, ids);
    }
}

/// One global orchestration: its integration and its router's rules.
fn router(
    orchestration: &Value,
    docs: &Documents,
    config: &mut ConfigFile,
    report: &mut Report,
    ids: &mut Ids,
) {
    let kind = "event orchestration";
    let id = text(orchestration, "id");
    let name = text(orchestration, "name");
    report.object(kind, &id, &name);
    report.unknown_fields(kind, &id, "", orchestration, ORCHESTRATION_FIELDS);
    report.field(kind, &id, "global and unrouted rules", "the orchestration's global rules (which change events before the router) and its unrouted rules are not read: review them in PagerDuty");
    let path = match docs.routers.get(&id) {
        Some(Gated::Read(path)) => path,
        Some(Gated::Unavailable(status)) => {
            report.skip(kind, &id, format!("its router is {}", unavailable(*status)));
            return;
        }
        None => return,
    };
    report.unknown_fields(kind, &id, "router", path, PATH_FIELDS);
    let integration = orchestration_integration(&id, &name, config, report);
    let integrations = [integration];
    for rule in rules(path) {
        let Some((matchers, actions)) = rule_parts(rule, RULE_KIND, report, ids) else {
            continue;
        };
        let rule_id = text(rule, "id");
        let Some((policy, urgency)) = target(rule.pointer("/actions/route_to"), ids) else {
            report.skip(RULE_KIND, &rule_id, "it routes to no imported service (dynamic routing, the unrouted orchestration, or a service that was not imported)");
            continue;
        };
        push_rules(
            (RULE_KIND, &rule_id, &format!("{name} {rule_id}")),
            matchers,
            &integrations,
            (actions.policy.or(policy), urgency),
            (actions.severity, actions.suppress),
            config,
            report,
            ids,
        );
    }
    let catch_all = path.pointer("/catch_all/actions/route_to");
    match target(catch_all, ids) {
        Some((policy, urgency)) => push_rules(
            (kind, &id, &format!("{name} catch-all")),
            vec![Matcher::default()],
            &integrations,
            (policy, urgency),
            (None, false),
            config,
            report,
            ids,
        ),
        None => report.field(kind, &id, "router.catch_all", "events no rule matches go to the unrouted orchestration in PagerDuty; in Klaxon they use routing.defaults"),
    }
}

/// The kind of one orchestration rule in the report.
const RULE_KIND: &str = "orchestration rule";

/// The policy and urgency of the imported service `route_to` names.
fn target(route_to: Option<&Value>, ids: &Ids) -> Option<(Option<String>, Option<String>)> {
    let service = route_to.and_then(Value::as_str)?;
    ids.service_routes.get(service).cloned()
}

/// The Klaxon integration that replaces the orchestration's routing key; returns its name.
fn orchestration_integration(
    id: &str,
    name: &str,
    config: &mut ConfigFile,
    report: &mut Report,
) -> String {
    let mut slugs = Slugs::default();
    for existing in &config.integrations {
        slugs.take(&existing.name);
    }
    let slug = slugs.take(&format!("orchestration {name}"));
    report.became(
        "event orchestration",
        id,
        format!("integration {slug} (pagerduty)"),
    );
    report.endpoints.push(Endpoint {
        integration: slug.clone(),
        replaces: format!("{name} (event orchestration routing key)"),
        format: "pagerduty".to_owned(),
        url: "POST $KLAXON/v2/enqueue with the Klaxon key as routing_key (replace https://events.pagerduty.com and the orchestration's routing key)".to_owned(),
    });
    config.integrations.push(IntegrationEntry {
        name: slug.clone(),
        format: "pagerduty".to_owned(),
    });
    slug
}
