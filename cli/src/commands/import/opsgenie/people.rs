//! Opsgenie users (with contacts and notification rules) and teams.

use super::{Documents, Ids, sorted, text};
use crate::commands::import::Slugs;
use crate::commands::import::model::{ConfigFile, Contact, UserEntry};
use crate::commands::import::report::Report;
use serde_json::Value;

const USER_FIELDS: &[&str] = &[
    "id",
    "username",
    "fullName",
    "role",
    "timeZone",
    "locale",
    "blocked",
    "verified",
    "createdAt",
    "userAddress",
    "tags",
    "details",
    "skypeUsername",
    "invitationDisabled",
    "mutedUntil",
];
const CONTACT_FIELDS: &[&str] = &["id", "method", "to", "status", "applyOrder"];
const RULE_FIELDS: &[&str] = &[
    "id",
    "name",
    "actionType",
    "order",
    "enabled",
    "criteria",
    "steps",
    "notificationTime",
    "timeRestriction",
    "schedules",
    "repeat",
];
const STEP_FIELDS: &[&str] = &["id", "contact", "sendAfter", "enabled"];
const TEAM_FIELDS: &[&str] = &["id", "name", "description", "members", "links"];

/// Users: email is the username, phone the first enabled SMS (else voice) contact; channels per
/// urgency come from the enabled `create-alert` notification rules' steps.
pub(super) fn users(docs: &Documents, config: &mut ConfigFile, report: &mut Report, ids: &mut Ids) {
    let mut slugs = Slugs::default();
    for user in sorted(&docs.users, "username") {
        let source_id = text(user, "id");
        let username = text(user, "username");
        let full_name = text(user, "fullName");
        report.object("user", &source_id, &username);
        report.unknown_fields("user", &source_id, "", user, USER_FIELDS);
        let local = username.split('@').next().unwrap_or(&username);
        let id = slugs.take(local);
        ids.users.insert(source_id.clone(), id.clone());
        ids.usernames.insert(username.clone(), id.clone());
        let time_zone = text(user, "timeZone");
        let time_zone = if time_zone.parse::<chrono_tz::Tz>().is_ok() {
            time_zone
        } else {
            report.field(
                "user",
                &source_id,
                "timeZone",
                format!("{time_zone:?} is not an IANA time zone: UTC used"),
            );
            "UTC".to_owned()
        };
        for (field, reason) in [
            (
                "role",
                "Klaxon has no roles: who may change configuration is who may edit and apply the file",
            ),
            ("tags", "Klaxon users have no tags"),
            ("details", "Klaxon users have no custom details"),
            ("userAddress", "Klaxon keeps no postal address"),
            ("skypeUsername", "Klaxon has no Skype channel"),
        ] {
            let plain_user = field == "role"
                && user.pointer("/role/name").and_then(Value::as_str) == Some("User");
            if !plain_user && user.get(field).is_some_and(|v| !is_empty(v)) {
                report.field("user", &source_id, field, reason);
            }
        }
        if user.get("blocked").and_then(Value::as_bool) == Some(true) {
            report.semantics("user", &source_id, "blocked in Opsgenie; imported as a normal user: remove them from rotations and policies if they must not be paged");
        }
        let mut entry = UserEntry {
            id: id.clone(),
            name: if full_name.trim().is_empty() {
                username.clone()
            } else {
                full_name
            },
            email: username.contains('@').then(|| username.clone()),
            phone: None,
            slack_id: None,
            time_zone,
            contact: None,
        };
        contacts(docs, &source_id, &mut entry, report);
        entry.contact = notification_rules(docs, &source_id, &entry, report);
        if entry.email.is_none() && entry.phone.is_none() && entry.contact.is_none() {
            report.skip(
                "user",
                &source_id,
                "no email address and no phone number: nobody could reach this user",
            );
            continue;
        }
        report.became("user", &source_id, format!("user {id}"));
        config.users.push(entry);
    }
    report.field(
        "user",
        "*",
        "slack_id",
        "Opsgenie's API has no Slack member id: add slack_id by hand to page users in Slack",
    );
}

fn contacts(docs: &Documents, user_id: &str, entry: &mut UserEntry, report: &mut Report) {
    let contacts = docs
        .contacts
        .get(user_id)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut ordered: Vec<&Value> = contacts.iter().collect();
    ordered.sort_by_key(|c| (method_rank(&text(c, "method")), text(c, "to")));
    for contact in ordered {
        let contact_id = text(contact, "id");
        let field = format!("contacts[{contact_id}]");
        report.unknown_fields("user", user_id, &field, contact, CONTACT_FIELDS);
        let method = text(contact, "method");
        let to = text(contact, "to");
        let enabled = contact.pointer("/status/enabled").and_then(Value::as_bool) != Some(false);
        if !enabled {
            report.field(
                "user",
                user_id,
                &field,
                format!("{method} contact {to} is disabled in Opsgenie: not imported"),
            );
            continue;
        }
        match method.as_str() {
            "email" if entry.email.as_deref() == Some(to.as_str()) => {}
            "email" if entry.email.is_none() => entry.email = Some(to),
            "email" => report.field(
                "user",
                user_id,
                &field,
                format!("a second email address ({to}): a Klaxon user has one"),
            ),
            "sms" | "voice" => match (e164(&to), &entry.phone) {
                (Some(phone), None) => entry.phone = Some(phone),
                (Some(phone), Some(kept)) if &phone == kept => {}
                (Some(phone), Some(_)) => report.field(
                    "user",
                    user_id,
                    &field,
                    format!("a second phone number ({phone}): a Klaxon user has one"),
                ),
                (None, _) => report.field(
                    "user",
                    user_id,
                    &field,
                    format!("{to:?} is not a phone number Klaxon can use (E.164)"),
                ),
            },
            "mobile" => report.field(
                "user",
                user_id,
                &field,
                "the Opsgenie mobile app: Klaxon pages by SMS, email, Slack, Teams and webhooks",
            ),
            other => report.field(
                "user",
                user_id,
                &field,
                format!("contact method {other:?} has no Klaxon channel"),
            ),
        }
    }
}

/// Opsgenie writes phone numbers as `49-15112345601` (country code, dash, number).
fn e164(to: &str) -> Option<String> {
    let digits: String = to.chars().filter(char::is_ascii_digit).collect();
    let ok = (7..=15).contains(&digits.len()) && !digits.starts_with('0');
    ok.then(|| format!("+{digits}"))
}

fn method_rank(method: &str) -> u8 {
    match method {
        "email" => 0,
        "sms" => 1,
        "voice" => 2,
        _ => 3,
    }
}

/// The channels per urgency from the enabled `create-alert` rules; `None` keeps the defaults.
fn notification_rules(
    docs: &Documents,
    user_id: &str,
    entry: &UserEntry,
    report: &mut Report,
) -> Option<Contact> {
    let rules = docs
        .notification_rules
        .get(user_id)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut ordered: Vec<&Value> = rules.iter().collect();
    ordered.sort_by_key(|r| {
        (
            r.get("order").and_then(Value::as_u64).unwrap_or(u64::MAX),
            text(r, "id"),
        )
    });
    let (mut high, mut low) = (Vec::new(), Vec::new());
    for rule in ordered {
        let rule_id = text(rule, "id");
        let field = format!("notificationRules[{}]", text(rule, "name"));
        report.unknown_fields("user", user_id, &field, rule, RULE_FIELDS);
        let action = text(rule, "actionType");
        if rule.get("enabled").and_then(Value::as_bool) == Some(false) {
            report.field(
                "user",
                user_id,
                &field,
                "disabled in Opsgenie: not imported",
            );
            continue;
        }
        if action != "create-alert" {
            report.field("user", user_id, &field, format!("a {action:?} rule: Klaxon sends acknowledge and resolve notices to everyone a page reached, with no per-user rules"));
            continue;
        }
        if rule.get("timeRestriction").is_some_and(|v| !is_empty(v)) {
            report.field(
                "user",
                user_id,
                &format!("{field}.timeRestriction"),
                "Klaxon contact methods apply at all times: the rule is used at all times",
            );
        }
        let (for_high, for_low) = urgencies(rule, user_id, &field, report);
        let mut steps: Vec<&Value> = rule
            .get("steps")
            .and_then(Value::as_array)
            .map(|s| s.iter().collect())
            .unwrap_or_default();
        steps.sort_by_key(|s| {
            s.pointer("/sendAfter/timeAmount")
                .and_then(Value::as_u64)
                .unwrap_or(0)
        });
        for step in steps {
            report.unknown_fields(
                "user",
                user_id,
                &format!("{field}.steps"),
                step,
                STEP_FIELDS,
            );
            if step.get("enabled").and_then(Value::as_bool) == Some(false) {
                continue;
            }
            let method = step
                .pointer("/contact/method")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let channel = match method {
                "email" if entry.email.is_some() => "email",
                "sms" | "voice" if entry.phone.is_some() => "sms",
                _ => {
                    report.field(
                        "user",
                        user_id,
                        &format!("{field}.steps"),
                        format!("a {method} step has no usable Klaxon channel for this user"),
                    );
                    continue;
                }
            };
            if method == "voice" {
                report.semantics(
                    "user",
                    user_id,
                    "an Opsgenie voice-call step became an SMS: Klaxon does not place calls",
                );
            }
            if step
                .pointer("/sendAfter/timeAmount")
                .and_then(Value::as_u64)
                .unwrap_or(0)
                > 0
            {
                report.semantics("user", user_id, format!("rule {:?}: a step sent after a delay is sent at once in Klaxon (every channel of the urgency is used when paged)", text(rule, "name")));
            }
            for (wanted, list) in [(for_high, &mut high), (for_low, &mut low)] {
                if wanted && !list.contains(&channel.to_owned()) {
                    list.push(channel.to_owned());
                }
            }
        }
        let _ = rule_id;
    }
    if high.is_empty() {
        return None;
    }
    Some(Contact { high, low })
}

/// Which urgencies a rule's criteria cover: alerts of priority P1/P2 are high urgency, P3–P5
/// low (Klaxon's severity mapping of Opsgenie priorities).
fn urgencies(rule: &Value, user_id: &str, field: &str, report: &mut Report) -> (bool, bool) {
    let criteria = rule.get("criteria").cloned().unwrap_or(Value::Null);
    let kind = text(&criteria, "type");
    if kind.is_empty() || kind == "match-all" {
        return (true, true);
    }
    let conditions = criteria
        .get("conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let priorities: Option<Vec<String>> = conditions
        .iter()
        .map(|c| {
            let simple = text(c, "field") == "priority"
                && text(c, "operation") == "equals"
                && c.get("not").and_then(Value::as_bool) != Some(true);
            simple.then(|| text(c, "expectedValue"))
        })
        .collect();
    match priorities {
        Some(p) if kind == "match-any-condition" && !p.is_empty() => (
            p.iter().any(|p| p == "P1" || p == "P2"),
            p.iter().any(|p| p != "P1" && p != "P2"),
        ),
        _ => {
            report.field("user", user_id, &format!("{field}.criteria"), "conditions other than \"priority equals\" cannot be expressed per user in Klaxon: the rule is used for both urgencies");
            (true, true)
        }
    }
}

/// Teams: Klaxon has none; their members and schedules resolve team targets in escalations.
pub(super) fn teams(docs: &Documents, report: &mut Report, ids: &mut Ids) {
    for team in sorted(&docs.teams, "name") {
        let team_id = text(team, "id");
        let name = text(team, "name");
        report.object("team", &team_id, &name);
        report.unknown_fields("team", &team_id, "", team, TEAM_FIELDS);
        let mut members = Vec::new();
        for member in team
            .get("members")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let role = member
                .get("role")
                .and_then(Value::as_str)
                .unwrap_or("user")
                .to_owned();
            match member.get("user").and_then(|u| ids.user(u)) {
                Some(user) => members.push((user, role)),
                None => report.field(
                    "team",
                    &team_id,
                    "members",
                    format!(
                        "member {} is not an imported user",
                        member
                            .pointer("/user/username")
                            .and_then(Value::as_str)
                            .unwrap_or("?")
                    ),
                ),
            }
        }
        let names: Vec<&str> = members.iter().map(|(u, _)| u.as_str()).collect();
        report.became("team", &team_id, format!("no Klaxon team (Klaxon has none): members {} stand in for the team where an escalation or routing rule targets it", names.join(", ")));
        report.semantics("team", &team_id, "Klaxon has no teams: an escalation step that notifies this team pages the team's schedules (or, without schedules, its members)");
        ids.teams.insert(team_id, (name, members));
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.values().all(is_empty),
        _ => false,
    }
}
