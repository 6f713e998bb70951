//! Opsgenie forwarding rules ("notifications of A go to B from Monday to Friday") as Klaxon
//! overrides: for every imported schedule A is a participant of, the stretches of the rule's
//! window in which A is on call (with the imported overrides applied) become overrides for B,
//! computed with Klaxon's own schedule resolution. Runtime data, like the overrides.
//!
//! Opsgenie's API has no time off; a forwarding rule the API key may not read (403, 404) is
//! reported as unavailable.

use super::{Documents, Ids, sorted, text};
use crate::commands::import::client::Gated;
use crate::commands::import::model::ConfigFile;
use crate::commands::import::report::{OverrideCommand, Report};
use chrono::{DateTime, SecondsFormat, Utc};
use klaxon_domain::config::Config;
use klaxon_domain::ids::{ScheduleId, UserId};
use klaxon_domain::schedule::Override;
use serde_json::Value;

const RULE_FIELDS: &[&str] = &["id", "alias", "fromUser", "toUser", "startDate", "endDate"];
const KIND: &str = "forwarding rule";

/// Forwarding rules as overrides, after the schedules and overrides were mapped.
pub(super) fn forwarding_rules(
    docs: &Documents,
    config: &ConfigFile,
    report: &mut Report,
    ids: &Ids,
) {
    let rules = match &docs.forwarding_rules {
        Gated::Read(rules) => rules,
        Gated::Unavailable(status) => {
            report.object(KIND, "*", "forwarding rules");
            report.skip(KIND, "*", format!("forwarding rules are unavailable to this API key (Opsgenie answered {status}), so nothing was read: recreate them as overrides by hand"));
            return;
        }
    };
    if rules.is_empty() {
        return;
    }
    // Klaxon's own resolution of the imported schedules: the configuration as validated.
    let parsed = serde_json::to_string(config)
        .ok()
        .and_then(|json| Config::from_file("imported.json", &json).ok());
    let existing = existing_overrides(report);
    for rule in sorted(rules, "startDate") {
        let id = text(rule, "id");
        report.object(KIND, &id, &text(rule, "alias"));
        report.unknown_fields(KIND, &id, "", rule, RULE_FIELDS);
        let from = rule.get("fromUser").and_then(|u| ids.user(u));
        let to = rule.get("toUser").and_then(|u| ids.user(u));
        let window = (instant(rule, "startDate"), instant(rule, "endDate"));
        let (Some(from), Some(to), (Some(start), Some(end)), Some(parsed)) =
            (from, to, window, parsed.as_ref())
        else {
            report.skip(
                KIND,
                &id,
                "its users are not imported users, or its dates are not RFC 3339 times",
            );
            continue;
        };
        let added = forward(parsed, &existing, (&from, &to), (start, end), report);
        report.semantics(KIND, &id, "Opsgenie forwards every notification of the user; the overrides cover the user's on-call time on schedules only: escalation tiers that page the user directly still page them");
        if added == 0 {
            report.skip(KIND, &id, format!("{from} is not on call on any imported schedule in its window: there is nothing to forward"));
        } else {
            report.became(KIND, &id, format!("{added} overrides for {to}"));
        }
    }
}

/// Adds an override for `to` over each stretch of `window` in which `from` is on call; returns
/// how many.
fn forward(
    config: &Config,
    existing: &[Override],
    (from, to): (&str, &str),
    (start, end): (DateTime<Utc>, DateTime<Utc>),
    report: &mut Report,
) -> usize {
    let mut added = 0;
    for schedule in &config.schedules {
        let participates = schedule
            .layers
            .iter()
            .any(|l| l.rotation.participants.iter().any(|p| p.as_str() == from));
        if !participates {
            continue;
        }
        let own: Vec<Override> = existing
            .iter()
            .filter(|o| o.schedule == schedule.id)
            .cloned()
            .collect();
        // Stretches of `from` back to back (one layer handing to another) are one override.
        let mut stretches: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
        for interval in schedule.final_schedule(&own, start, end) {
            if interval.user.as_ref().map(UserId::as_str) != Some(from) {
                continue;
            }
            match stretches.last_mut() {
                Some(last) if last.1 == interval.start => last.1 = interval.end,
                _ => stretches.push((interval.start, interval.end)),
            }
        }
        for (start, end) in stretches {
            report.overrides.push(OverrideCommand {
                schedule: schedule.id.as_str().to_owned(),
                user: to.to_owned(),
                start: utc(start),
                end: utc(end),
            });
            added += 1;
        }
    }
    added
}

/// The overrides mapped so far, as Klaxon overrides.
fn existing_overrides(report: &Report) -> Vec<Override> {
    report
        .overrides
        .iter()
        .enumerate()
        .filter_map(|(n, o)| {
            let start = DateTime::parse_from_rfc3339(&o.start)
                .ok()?
                .with_timezone(&Utc);
            let end = DateTime::parse_from_rfc3339(&o.end)
                .ok()?
                .with_timezone(&Utc);
            Some(Override {
                id: format!("imported-{n}"),
                schedule: ScheduleId::new(o.schedule.clone()).ok()?,
                user: UserId::new(o.user.clone()).ok()?,
                start,
                end,
            })
        })
        .collect()
}

fn instant(rule: &Value, key: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(&text(rule, key))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn utc(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}
