//! OnCall users with personal notification rules, escalation chains and integrations with
//! their routes.

use super::{Documents, Ids, sorted, text};
use crate::commands::import::model::{
    ConfigFile, Contact, IntegrationEntry, Matcher, PolicyEntry, RuleEntry, TierEntry, UserEntry,
};
use crate::commands::import::report::{Endpoint, Report};
use crate::commands::import::{Slugs, duration_text};
use serde_json::Value;
use std::collections::BTreeMap;

const USER_FIELDS: &[&str] = &[
    "id",
    "email",
    "slack",
    "username",
    "role",
    "is_phone_number_verified",
    "timezone",
    "teams",
    "avatar",
    "name",
];
const RULE_FIELDS: &[&str] = &["id", "user_id", "position", "important", "type", "duration"];
const STEP_FIELDS: &[&str] = &[
    "id",
    "escalation_chain_id",
    "position",
    "type",
    "duration",
    "important",
    "persons_to_notify",
    "persons_to_notify_next_each_time",
    "notify_on_call_from_schedule",
    "group_to_notify",
    "action_to_trigger",
    "notify_if_time_from",
    "notify_if_time_to",
    "num_alerts_in_window",
    "num_minutes_in_window",
    "notify_to_team_members",
];
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
/// OnCall repeats a chain from the beginning at most this many times.
const ONCALL_MAX_REPEATS: u32 = 5;

/// Users: email, Slack member id, time zone; channels from the default (not "important")
/// personal notification rules, for both urgencies.
pub(super) fn users(docs: &Documents, config: &mut ConfigFile, report: &mut Report, ids: &mut Ids) {
    let mut slugs = Slugs::default();
    let mut slack = false;
    for user in sorted(&docs.users, "email") {
        let source_id = text(user, "id");
        let email = text(user, "email");
        report.object("user", &source_id, &email);
        report.unknown_fields("user", &source_id, "", user, USER_FIELDS);
        let id = slugs.take(email.split('@').next().unwrap_or(&email));
        let zone = text(user, "timezone");
        let slack_id = user
            .pointer("/slack/user_id")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if user
            .get("is_phone_number_verified")
            .and_then(Value::as_bool)
            == Some(true)
        {
            report.field(
                "user",
                &source_id,
                "phone",
                "OnCall's API does not expose phone numbers: add phone by hand to page by SMS",
            );
        }
        let mut entry = UserEntry {
            id: id.clone(),
            name: if text(user, "name").is_empty() {
                text(user, "username")
            } else {
                text(user, "name")
            },
            email: email.contains('@').then(|| email.clone()),
            phone: None,
            slack_id,
            time_zone: if zone.parse::<chrono_tz::Tz>().is_ok() {
                zone
            } else {
                "UTC".to_owned()
            },
            contact: None,
        };
        entry.contact = rules(docs, &source_id, &entry, report);
        slack |= entry
            .contact
            .as_ref()
            .is_some_and(|c| c.high.iter().any(|ch| ch == "slack"));
        report.became("user", &source_id, format!("user {id}"));
        ids.users.insert(source_id, id);
        config.users.push(entry);
    }
    if slack {
        config.notifications = Some(crate::commands::import::model::Notifications::slack(
            "SLACK_WEBHOOK_URL",
        ));
        report.semantics("user", "*", "users paged in Slack: notifications.slack posts to the incoming webhook in ${SLACK_WEBHOOK_URL} and mentions each user's Slack id");
    }
}

fn rules(docs: &Documents, user: &str, entry: &UserEntry, report: &mut Report) -> Option<Contact> {
    let mut ordered: Vec<&Value> = docs
        .notification_rules
        .get(user)
        .map(|r| r.iter().collect())
        .unwrap_or_default();
    ordered.sort_by_key(|r| {
        (
            r.get("important").and_then(Value::as_bool).unwrap_or(false),
            r.get("position").and_then(Value::as_u64).unwrap_or(0),
        )
    });
    let mut channels: Vec<String> = Vec::new();
    for rule in ordered {
        let field = format!("notification_rules[{}]", text(rule, "id"));
        report.unknown_fields("user", user, &field, rule, RULE_FIELDS);
        if rule.get("important").and_then(Value::as_bool) == Some(true) {
            report.field("user", user, &field, "an \"important\" rule: Klaxon has one list per urgency, taken from the default rules");
            continue;
        }
        let channel = match text(rule, "type").as_str() {
            "wait" => {
                report.semantics("user", user, "a wait between notification steps is not kept: Klaxon uses every channel at once");
                continue;
            }
            "notify_by_email" if entry.email.is_some() => "email",
            "notify_by_slack" if entry.slack_id.is_some() => "slack",
            other => {
                report.field("user", user, &field, format!("{other} has no usable Klaxon channel for this user (phone numbers are not in OnCall's API; the mobile app and Telegram have no Klaxon channel)"));
                continue;
            }
        };
        if !channels.iter().any(|c| c == channel) {
            channels.push(channel.to_owned());
        }
    }
    if channels.is_empty() {
        return None;
    }
    Some(Contact {
        high: channels.clone(),
        low: channels,
    })
}

/// Escalation chains: notify steps become tiers, waits their delays.
pub(super) fn chains(
    docs: &Documents,
    config: &mut ConfigFile,
    report: &mut Report,
    ids: &mut Ids,
) {
    let mut slugs = Slugs::default();
    for chain in sorted(&docs.chains, "name") {
        let chain_id = text(chain, "id");
        let name = text(chain, "name");
        report.object("escalation chain", &chain_id, &name);
        let mut steps: Vec<&Value> = docs
            .steps
            .iter()
            .filter(|s| text(s, "escalation_chain_id") == chain_id)
            .collect();
        steps.sort_by_key(|s| s.get("position").and_then(Value::as_u64).unwrap_or(0));
        let mut tiers: Vec<TierEntry> = Vec::new();
        let mut waits: Vec<u64> = Vec::new();
        let mut repeat = 0;
        let mut waiting = 0;
        for step in steps {
            let step_id = text(step, "id");
            report.unknown_fields(
                "escalation chain",
                &chain_id,
                &format!("steps[{step_id}]"),
                step,
                STEP_FIELDS,
            );
            let targets = match step_targets(step, &chain_id, report, ids) {
                StepKind::Wait(seconds) => {
                    waiting += seconds;
                    continue;
                }
                StepKind::Repeat => {
                    repeat = ONCALL_MAX_REPEATS;
                    report.semantics(
                        "escalation chain",
                        &chain_id,
                        "\"repeat escalation from the beginning (5 times max)\" became repeat: 5",
                    );
                    continue;
                }
                StepKind::Skip => continue,
                StepKind::Notify(targets) => targets,
            };
            match tiers.last_mut() {
                Some(last) if waiting == 0 => last.targets.extend(targets),
                _ => {
                    if !tiers.is_empty() {
                        waits.push(waiting);
                    } else if waiting > 0 {
                        report.semantics("escalation chain", &chain_id, format!("the chain waits {} before its first notification; Klaxon pages tier 0 at once", duration_text(waiting)));
                    }
                    tiers.push(TierEntry {
                        delay: String::new(),
                        targets,
                    });
                }
            }
            waiting = 0;
        }
        waits.push(if waiting > 0 { waiting } else { 300 });
        for (tier, wait) in tiers.iter_mut().zip(waits) {
            tier.delay = duration_text(wait);
        }
        if tiers.is_empty() {
            report.skip(
                "escalation chain",
                &chain_id,
                "no step pages anyone Klaxon can page",
            );
            continue;
        }
        let id = slugs.take(&name);
        report.became(
            "escalation chain",
            &chain_id,
            format!("escalation policy {id} ({} tiers)", tiers.len()),
        );
        ids.policies.insert(chain_id, id.clone());
        config.escalation_policies.push(PolicyEntry {
            id,
            name,
            repeat,
            tiers,
        });
    }
}

enum StepKind {
    Wait(u64),
    Repeat,
    Skip,
    Notify(Vec<BTreeMap<String, String>>),
}

fn step_targets(step: &Value, chain: &str, report: &mut Report, ids: &Ids) -> StepKind {
    let users = |key: &str| -> Vec<BTreeMap<String, String>> {
        step.get(key)
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(Value::as_str)
            .filter_map(|u| ids.users.get(u))
            .map(|u| BTreeMap::from([("user".to_owned(), u.clone())]))
            .collect()
    };
    let field = format!("steps[{}]", text(step, "id"));
    if step.get("important").and_then(Value::as_bool) == Some(true) {
        report.semantics("escalation chain", chain, format!("{field}: an \"important\" notification pages with the users' high-urgency channels like any other tier"));
    }
    match text(step, "type").as_str() {
        "wait" => StepKind::Wait(step.get("duration").and_then(Value::as_u64).unwrap_or(60)),
        "repeat_escalation" => StepKind::Repeat,
        "notify_persons" => StepKind::Notify(users("persons_to_notify")),
        "notify_person_next_each_time" => {
            report.semantics("escalation chain", chain, format!("{field}: OnCall notifies the next person each time (round robin); Klaxon pages all of them"));
            StepKind::Notify(users("persons_to_notify_next_each_time"))
        }
        "notify_on_call_from_schedule" => match ids
            .schedules
            .get(&text(step, "notify_on_call_from_schedule"))
        {
            Some(schedule) => StepKind::Notify(vec![BTreeMap::from([(
                "schedule".to_owned(),
                schedule.clone(),
            )])]),
            None => {
                report.field(
                    "escalation chain",
                    chain,
                    &field,
                    "its schedule was not imported",
                );
                StepKind::Skip
            }
        },
        other => {
            report.field("escalation chain", chain, &field, format!("a {other:?} step has no Klaxon equivalent (Klaxon tiers page users and schedules)"));
            StepKind::Skip
        }
    }
}

/// Integrations whose format Klaxon speaks, with their routes as routing rules.
pub(super) fn integrations(
    docs: &Documents,
    config: &mut ConfigFile,
    report: &mut Report,
    ids: &Ids,
) {
    let mut slugs = Slugs::default();
    let mut rule_slugs = Slugs::default();
    let mut priority = 0;
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
            _ => {
                report.skip("integration", &source_id, format!("integration type {kind:?} has no Klaxon format (Klaxon takes its own JSON, Alertmanager, Grafana, CloudWatch, PagerDuty and Opsgenie)"));
                continue;
            }
        };
        if integration.get("heartbeat").is_some_and(|h| !h.is_null()) {
            report.field(
                "integration",
                &source_id,
                "heartbeat",
                "Klaxon has no heartbeats yet",
            );
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
        config.integrations.push(IntegrationEntry {
            name: slug.clone(),
            format: format.to_owned(),
        });
        let mut routes: Vec<&Value> = docs
            .routes
            .iter()
            .filter(|r| text(r, "integration_id") == source_id)
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
            let last = route.get("is_the_last_route").and_then(Value::as_bool) == Some(true);
            let mut matcher = Matcher {
                integrations: vec![slug.clone()],
                ..Matcher::default()
            };
            if !last {
                if text(route, "routing_type") != "regex" {
                    report.skip("route", &route_id, "a Jinja2 route: Klaxon matchers are labels, severities and a summary regex");
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
            priority += 10;
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
                urgency: None,
            });
        }
    }
}
