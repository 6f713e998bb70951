//! Opsgenie escalations and team routing rules.

use super::{Documents, Ids, sorted, text};
use crate::commands::import::model::{
    ConfigFile, LabelMatch, Matcher, PolicyEntry, RuleEntry, TierEntry,
};
use crate::commands::import::report::Report;
use crate::commands::import::{Slugs, duration_text, next_priority, regex_escape};
use serde_json::Value;
use std::collections::BTreeMap;

const ESCALATION_FIELDS: &[&str] = &["id", "name", "description", "ownerTeam", "rules", "repeat"];
const RULE_FIELDS: &[&str] = &["condition", "notifyType", "delay", "recipient"];
const ROUTING_FIELDS: &[&str] = &[
    "id",
    "name",
    "isDefault",
    "order",
    "criteria",
    "timezone",
    "timeRestriction",
    "notify",
];

/// Escalations: rules with the same delay form one tier; Opsgenie's delays count from the
/// alert's creation, Klaxon's from the tier's page, so each tier waits the gap to the next.
pub(super) fn escalations(
    docs: &Documents,
    config: &mut ConfigFile,
    report: &mut Report,
    ids: &mut Ids,
) {
    for escalation in sorted(&docs.escalations, "name") {
        let source_id = text(escalation, "id");
        let name = text(escalation, "name");
        report.object("escalation", &source_id, &name);
        report.unknown_fields("escalation", &source_id, "", escalation, ESCALATION_FIELDS);
        let mut groups = rule_groups(escalation, &source_id, report, ids);
        groups.retain(|_, targets| !targets.is_empty());
        if groups.is_empty() {
            report.skip(
                "escalation",
                &source_id,
                "no rule has a target Klaxon can page",
            );
            continue;
        }
        let repeat = escalation.get("repeat").cloned().unwrap_or(Value::Null);
        let count = repeat.get("count").and_then(Value::as_u64).unwrap_or(0);
        let tiers = tiers(groups, &repeat, &source_id, report);
        let id = ids.policy_slugs.take(&name);
        report.became(
            "escalation",
            &source_id,
            format!("escalation policy {id} ({} tiers)", tiers.len()),
        );
        ids.policies.insert(source_id.clone(), id.clone());
        ids.policy_names.insert(name.clone(), id.clone());
        config.escalation_policies.push(PolicyEntry {
            id,
            name,
            repeat: u32::try_from(count.min(10)).unwrap_or(10),
            tiers,
        });
    }
}

/// The escalation's rules grouped by delay (seconds from the alert's creation), each with
/// its Klaxon targets.
fn rule_groups(
    escalation: &Value,
    source_id: &str,
    report: &mut Report,
    ids: &Ids,
) -> BTreeMap<u64, Vec<BTreeMap<String, String>>> {
    let mut groups: BTreeMap<u64, Vec<BTreeMap<String, String>>> = BTreeMap::new();
    for (index, rule) in escalation
        .get("rules")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        report.unknown_fields(
            "escalation",
            source_id,
            &format!("rules[{index}]"),
            rule,
            RULE_FIELDS,
        );
        let delay = minutes(rule.get("delay")) * 60;
        let targets = rule_targets(rule, source_id, index, report, ids);
        let group = groups.entry(delay).or_default();
        for target in targets {
            if !group.contains(&target) {
                group.push(target);
            }
        }
    }
    groups
}

/// The groups as tiers, each waiting the gap to the next group (the last one the repeat
/// wait); what Klaxon cannot repeat the same way is reported.
fn tiers(
    groups: BTreeMap<u64, Vec<BTreeMap<String, String>>>,
    repeat: &Value,
    source_id: &str,
    report: &mut Report,
) -> Vec<TierEntry> {
    let count = repeat.get("count").and_then(Value::as_u64).unwrap_or(0);
    let wait = repeat
        .get("waitInterval")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let starts: Vec<u64> = groups.keys().copied().collect();
    let mut tiers = Vec::new();
    for (i, targets) in groups.into_values().enumerate() {
        let gap = match starts.get(i + 1) {
            Some(next) => next - starts[i],
            None if wait > 0 => wait * 60,
            None => 300,
        };
        tiers.push(TierEntry {
            delay: duration_text(gap),
            targets,
        });
    }
    if starts.first().is_some_and(|first| *first > 0) {
        report.semantics(
            "escalation",
            source_id,
            format!(
                "the first rule waits {} in Opsgenie; Klaxon pages tier 0 at once",
                duration_text(starts[0])
            ),
        );
    }
    if count > 10 {
        report.field(
            "escalation",
            source_id,
            "repeat.count",
            format!("{count} repeats: Klaxon allows at most 10, so 10 are kept"),
        );
    }
    for flag in ["resetRecipientStates", "closeAlertAfterAll"] {
        if repeat.get(flag).and_then(Value::as_bool) == Some(true) {
            report.field(
                "escalation",
                source_id,
                &format!("repeat.{flag}"),
                "Klaxon has no such setting: after the last round the escalation just stops",
            );
        }
    }
    tiers
}

/// Minutes of an Opsgenie `{timeAmount, timeUnit}` (or a bare number of minutes).
fn minutes(delay: Option<&Value>) -> u64 {
    match delay {
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
        Some(d) => {
            let amount = d.get("timeAmount").and_then(Value::as_u64).unwrap_or(0);
            match d.get("timeUnit").and_then(Value::as_str) {
                Some("hours") => amount * 60,
                Some("days") => amount * 1440,
                _ => amount,
            }
        }
        None => 0,
    }
}

fn rule_targets(
    rule: &Value,
    escalation: &str,
    index: usize,
    report: &mut Report,
    ids: &Ids,
) -> Vec<BTreeMap<String, String>> {
    let field = format!("rules[{index}]");
    if text(rule, "condition") == "if-not-closed" {
        report.semantics("escalation", escalation, format!("{field}: \"if not closed\" became \"if not acknowledged\": Klaxon stops escalating on acknowledgement"));
    }
    let recipient = rule.get("recipient").cloned().unwrap_or(Value::Null);
    let notify = text(rule, "notifyType");
    let one = |kind: &str, id: String| BTreeMap::from([(kind.to_owned(), id)]);
    match text(&recipient, "type").as_str() {
        "user" => match ids.user(&recipient) {
            Some(user) => vec![one("user", user)],
            None => {
                report.field(
                    "escalation",
                    escalation,
                    &field,
                    "its user was not imported",
                );
                Vec::new()
            }
        },
        "schedule" => {
            let Some(schedule) = ids.schedule(&recipient) else {
                report.field(
                    "escalation",
                    escalation,
                    &field,
                    "its schedule was not imported",
                );
                return Vec::new();
            };
            match notify.as_str() {
                "next" | "previous" => report.semantics("escalation", escalation, format!("{field}: Opsgenie notifies the {notify} on-call user of the schedule; Klaxon pages whoever is on call now")),
                "all" => report.semantics("escalation", escalation, format!("{field}: Opsgenie notifies every participant of the schedule; Klaxon pages whoever is on call")),
                _ => {}
            }
            vec![one("schedule", schedule)]
        }
        "team" => team_targets(&recipient, &notify, escalation, &field, report, ids),
        other => {
            report.field(
                "escalation",
                escalation,
                &field,
                format!("a {other:?} recipient has no Klaxon equivalent"),
            );
            Vec::new()
        }
    }
}

fn team_targets(
    recipient: &Value,
    notify: &str,
    escalation: &str,
    field: &str,
    report: &mut Report,
    ids: &Ids,
) -> Vec<BTreeMap<String, String>> {
    let team_id = recipient
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| {
            let name = text(recipient, "name");
            ids.teams
                .iter()
                .find(|(_, (n, _))| *n == name)
                .map(|(id, _)| id.clone())
        });
    let Some((team_id, (_, members))) = team_id.and_then(|id| ids.teams.get(&id).map(|t| (id, t)))
    else {
        report.field("escalation", escalation, field, "its team was not imported");
        return Vec::new();
    };
    let schedules = ids
        .team_schedules
        .get(&team_id)
        .cloned()
        .unwrap_or_default();
    let user = |u: &String| BTreeMap::from([("user".to_owned(), u.clone())]);
    match notify {
        "admins" => {
            report.semantics(
                "escalation",
                escalation,
                format!("{field}: the team's admins are paged as users"),
            );
            members
                .iter()
                .filter(|(_, role)| role == "admin")
                .map(|(u, _)| user(u))
                .collect()
        }
        "all" | "users" | "random" => {
            if notify == "random" {
                report.semantics(
                    "escalation",
                    escalation,
                    format!(
                        "{field}: Opsgenie notifies one random member; Klaxon pages every member"
                    ),
                );
            }
            members.iter().map(|(u, _)| user(u)).collect()
        }
        _ if !schedules.is_empty() => {
            report.semantics(
                "escalation",
                escalation,
                format!(
                    "{field}: notifying a team became paging the team's schedules ({})",
                    schedules.join(", ")
                ),
            );
            schedules
                .iter()
                .map(|s| BTreeMap::from([("schedule".to_owned(), s.clone())]))
                .collect()
        }
        _ => {
            report.semantics(
                "escalation",
                escalation,
                format!("{field}: notifying a team without schedules became paging every member"),
            );
            members.iter().map(|(u, _)| user(u)).collect()
        }
    }
}

/// Team routing rules: alerts of the team's integrations go to the policy (or schedule) the
/// rule notifies. Conditions on priority, message and tags are kept.
pub(super) fn routing_rules(
    docs: &Documents,
    config: &mut ConfigFile,
    report: &mut Report,
    ids: &mut Ids,
) {
    let mut slugs = Slugs::default();
    for team in sorted(&docs.teams, "name") {
        let team_id = text(team, "id");
        let team_name = text(team, "name");
        let mut integrations: Vec<String> = docs
            .integrations
            .iter()
            .filter(|i| text(i, "teamId") == team_id)
            .filter_map(|i| ids.integrations.get(&text(i, "id")).cloned())
            .collect();
        // The team's heartbeats' alerts, as Opsgenie routes a missed heartbeat to its owner.
        integrations.extend(ids.heartbeat_integrations.get(&team_id).cloned());
        integrations.sort();
        let mut rules: Vec<&Value> = docs
            .routing_rules
            .get(&team_id)
            .map(|r| r.iter().collect())
            .unwrap_or_default();
        rules.sort_by_key(|r| {
            (
                r.get("order").and_then(Value::as_u64).unwrap_or(u64::MAX),
                text(r, "id"),
            )
        });
        for rule in rules {
            routing_rule(
                rule,
                (&team_name, &integrations),
                &mut slugs,
                config,
                report,
                ids,
            );
        }
    }
}

/// One team routing rule as Klaxon routing rules (one per alternative of its conditions).
fn routing_rule(
    rule: &Value,
    (team_name, integrations): (&str, &[String]),
    slugs: &mut Slugs,
    config: &mut ConfigFile,
    report: &mut Report,
    ids: &mut Ids,
) {
    let rule_id = text(rule, "id");
    let rule_name = text(rule, "name");
    report.object(
        "routing rule",
        &rule_id,
        &format!("{team_name}: {rule_name}"),
    );
    report.unknown_fields("routing rule", &rule_id, "", rule, ROUTING_FIELDS);
    if integrations.is_empty() {
        report.skip(
            "routing rule",
            &rule_id,
            "no imported integration sends to this team, so no Klaxon alert would reach the rule",
        );
        return;
    }
    if rule.get("timeRestriction").is_some_and(|t| !t.is_null()) {
        report.skip("routing rule", &rule_id, "time-restricted routing: Klaxon routing rules have no time conditions (use a schedule with restrictions instead)");
        return;
    }
    let Some(matchers) = criteria(rule.get("criteria"), integrations) else {
        report.skip("routing rule", &rule_id, "its conditions use fields or operations Klaxon matchers cannot express (only priority equals, message contains and tags contains are mapped)");
        return;
    };
    let notify = rule.get("notify").cloned().unwrap_or(Value::Null);
    let (policy, suppress) = match text(&notify, "type").as_str() {
        "escalation" => (ids.policy(&notify), false),
        "schedule" => (schedule_policy(&notify, config, ids), false),
        "none" => (None, true),
        _ => (None, false),
    };
    if policy.is_none() && !suppress {
        report.skip(
            "routing rule",
            &rule_id,
            "what it notifies was not imported",
        );
        return;
    }
    let base = slugs.take(&format!(
        "{team_name} {}",
        if rule_name.is_empty() {
            "default"
        } else {
            &rule_name
        }
    ));
    for (n, matcher) in matchers.into_iter().enumerate() {
        let priority = next_priority(config);
        let id = if n == 0 {
            base.clone()
        } else {
            slugs.take(&format!("{base}-{n}"))
        };
        report.became("routing rule", &rule_id, format!("routing rule {id}"));
        config.routing.rules.push(RuleEntry {
            id,
            priority,
            matcher,
            policy: policy.clone(),
            suppress,
            severity: None,
            urgency: None,
        });
    }
}

/// A policy paging one schedule, for routing rules that notify a schedule directly.
fn schedule_policy(notify: &Value, config: &mut ConfigFile, ids: &mut Ids) -> Option<String> {
    let schedule = ids.schedule(notify)?;
    let id = format!("{schedule}-on-call");
    if !config.escalation_policies.iter().any(|p| p.id == id) {
        let id = ids.policy_slugs.take(&id);
        config.escalation_policies.push(PolicyEntry {
            id: id.clone(),
            name: format!("Whoever is on call on {schedule}"),
            repeat: 0,
            tiers: vec![TierEntry {
                delay: "5m".into(),
                targets: vec![BTreeMap::from([("schedule".to_owned(), schedule)])],
            }],
        });
        return Some(id);
    }
    Some(id)
}

/// Klaxon matchers for Opsgenie criteria: one matcher for match-all and match-all-conditions,
/// one per condition for match-any-condition; `None` when a condition cannot be expressed.
fn criteria(criteria: Option<&Value>, integrations: &[String]) -> Option<Vec<Matcher>> {
    let base = Matcher {
        integrations: integrations.to_vec(),
        ..Matcher::default()
    };
    let criteria = criteria.cloned().unwrap_or(Value::Null);
    let conditions = criteria
        .get("conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    match text(&criteria, "type").as_str() {
        "" | "match-all" => Some(vec![base]),
        "match-all-conditions" => {
            let mut matcher = base;
            for condition in &conditions {
                apply(condition, &mut matcher)?;
            }
            Some(vec![matcher])
        }
        "match-any-condition" => conditions
            .iter()
            .map(|condition| {
                let mut matcher = base.clone();
                apply(condition, &mut matcher).map(|()| matcher)
            })
            .collect(),
        _ => None,
    }
}

fn apply(condition: &Value, matcher: &mut Matcher) -> Option<()> {
    if condition.get("not").and_then(Value::as_bool) == Some(true) {
        return None;
    }
    let expected = text(condition, "expectedValue");
    match (
        text(condition, "field").as_str(),
        text(condition, "operation").as_str(),
    ) {
        ("priority", "equals") => {
            let severity = match expected.as_str() {
                "P1" => "critical",
                "P2" => "error",
                "P3" => "warning",
                "P4" | "P5" => "info",
                _ => return None,
            };
            if !matcher.severities.iter().any(|s| s == severity) {
                matcher.severities.push(severity.to_owned());
            }
            Some(())
        }
        ("message", "contains") if matcher.summary.is_none() => {
            matcher.summary = Some(regex_escape(&expected));
            Some(())
        }
        ("tags", "contains") => {
            // Klaxon's Opsgenie format turns tag `k:v` into label k=v and tag `t` into t=true.
            let (key, value) = match expected.split_once(':') {
                Some((k, v)) if !k.trim().is_empty() && !v.trim().is_empty() => {
                    (k.trim().to_owned(), v.trim().to_owned())
                }
                _ => (expected.trim().to_owned(), "true".to_owned()),
            };
            matcher.labels.insert(key, LabelMatch::Exact(value));
            Some(())
        }
        _ => None,
    }
}
