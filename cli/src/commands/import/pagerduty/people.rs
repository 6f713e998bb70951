//! PagerDuty users (contact methods, notification rules) and teams.

use super::{Documents, Ids, sorted, text};
use crate::commands::import::Slugs;
use crate::commands::import::model::{ConfigFile, Contact, UserEntry};
use crate::commands::import::report::Report;
use serde_json::Value;
use std::collections::BTreeMap;

const USER_FIELDS: &[&str] = &[
    "id",
    "type",
    "summary",
    "self",
    "html_url",
    "name",
    "email",
    "time_zone",
    "color",
    "role",
    "avatar_url",
    "description",
    "invitation_sent",
    "job_title",
    "teams",
    "contact_methods",
    "notification_rules",
    "coordinated_incidents",
    "license",
];
const METHOD_FIELDS: &[&str] = &[
    "id",
    "type",
    "summary",
    "self",
    "html_url",
    "label",
    "address",
    "country_code",
    "send_short_email",
    "send_html_email",
    "blacklisted",
    "enabled",
    "device_type",
    "sounds",
    "created_at",
];
const RULE_FIELDS: &[&str] = &[
    "id",
    "type",
    "summary",
    "self",
    "html_url",
    "start_delay_in_minutes",
    "contact_method",
    "urgency",
];
const TEAM_FIELDS: &[&str] = &[
    "id",
    "type",
    "summary",
    "self",
    "html_url",
    "name",
    "description",
    "parent",
    "default_role",
];
/// Users: email, the first SMS (else phone) number, and channels per urgency from the
/// notification rules.
pub(super) fn users(docs: &Documents, config: &mut ConfigFile, report: &mut Report, ids: &mut Ids) {
    let mut slugs = Slugs::default();
    for user in sorted(&docs.users, "email") {
        let source_id = text(user, "id");
        let email = text(user, "email");
        report.object("user", &source_id, &email);
        report.unknown_fields("user", &source_id, "", user, USER_FIELDS);
        let id = slugs.take(email.split('@').next().unwrap_or(&email));
        let zone = text(user, "time_zone");
        let time_zone = if zone.parse::<chrono_tz::Tz>().is_ok() {
            zone
        } else {
            "UTC".to_owned()
        };
        let role = text(user, "role");
        if !matches!(role.as_str(), "user" | "limited_user" | "") {
            report.field("user", &source_id, "role", format!("{role}: Klaxon has no roles (who may change configuration is who may edit and apply the file)"));
        }
        let mut entry = UserEntry {
            id: id.clone(),
            name: text(user, "name"),
            email: email.contains('@').then(|| email.clone()),
            phone: None,
            slack_id: None,
            time_zone,
            contact: None,
        };
        methods(docs, &source_id, &mut entry, report);
        entry.contact = rules(docs, &source_id, &entry, report);
        report.became("user", &source_id, format!("user {id}"));
        ids.users.insert(source_id, id);
        config.users.push(entry);
    }
    report.field(
        "user",
        "*",
        "slack_id",
        "PagerDuty's REST API has no Slack member id: add slack_id by hand to page users in Slack",
    );
}

fn methods(docs: &Documents, user: &str, entry: &mut UserEntry, report: &mut Report) {
    for method in sorted(
        docs.contact_methods
            .get(user)
            .map(Vec::as_slice)
            .unwrap_or_default(),
        "type",
    ) {
        let field = format!("contact_methods[{}]", text(method, "id"));
        report.unknown_fields("user", user, &field, method, METHOD_FIELDS);
        let address = text(method, "address");
        match text(method, "type").as_str() {
            "email_contact_method" if entry.email.as_deref() == Some(address.as_str()) => {}
            "email_contact_method" => report.field(
                "user",
                user,
                &field,
                format!("a second email address ({address}): a Klaxon user has one"),
            ),
            "sms_contact_method" | "phone_contact_method" => {
                let country = method
                    .get("country_code")
                    .and_then(Value::as_u64)
                    .unwrap_or(1);
                let phone = format!(
                    "+{country}{}",
                    address
                        .chars()
                        .filter(char::is_ascii_digit)
                        .collect::<String>()
                );
                match &entry.phone {
                    None => entry.phone = Some(phone),
                    Some(kept) if *kept == phone => {}
                    Some(_) => report.field(
                        "user",
                        user,
                        &field,
                        format!("a second phone number ({phone}): a Klaxon user has one"),
                    ),
                }
            }
            "push_notification_contact_method" => report.field(
                "user",
                user,
                &field,
                "the PagerDuty mobile app: Klaxon pages by SMS, email, Slack, Teams and webhooks",
            ),
            other => report.field(
                "user",
                user,
                &field,
                format!("contact method {other:?} has no Klaxon channel"),
            ),
        }
    }
}

fn rules(docs: &Documents, user: &str, entry: &UserEntry, report: &mut Report) -> Option<Contact> {
    let methods: BTreeMap<String, String> = docs
        .contact_methods
        .get(user)
        .map(|m| m.iter().map(|m| (text(m, "id"), text(m, "type"))).collect())
        .unwrap_or_default();
    let mut ordered: Vec<&Value> = docs
        .notification_rules
        .get(user)
        .map(|r| r.iter().collect())
        .unwrap_or_default();
    ordered.sort_by_key(|r| {
        (
            r.get("start_delay_in_minutes")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            text(r, "id"),
        )
    });
    let (mut high, mut low) = (Vec::<String>::new(), Vec::<String>::new());
    for rule in ordered {
        let field = format!("notification_rules[{}]", text(rule, "id"));
        report.unknown_fields("user", user, &field, rule, RULE_FIELDS);
        let method_id = rule
            .pointer("/contact_method/id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let kind = methods
            .get(method_id)
            .cloned()
            .or_else(|| {
                rule.pointer("/contact_method/type")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        let channel = match kind.as_str() {
            "email_contact_method" if entry.email.is_some() => "email",
            "sms_contact_method" | "phone_contact_method" if entry.phone.is_some() => "sms",
            _ => {
                report.field(
                    "user",
                    user,
                    &field,
                    format!("a {kind} rule has no usable Klaxon channel for this user"),
                );
                continue;
            }
        };
        if kind == "phone_contact_method" {
            report.semantics(
                "user",
                user,
                "a PagerDuty phone-call rule became an SMS: Klaxon does not place calls",
            );
        }
        if rule
            .get("start_delay_in_minutes")
            .and_then(Value::as_u64)
            .unwrap_or(0)
            > 0
        {
            report.semantics("user", user, "a notification rule that starts after a delay is used at once (Klaxon uses every channel of the urgency when paged)");
        }
        let list = if text(rule, "urgency") == "low" {
            &mut low
        } else {
            &mut high
        };
        if !list.iter().any(|c| c == channel) {
            list.push(channel.to_owned());
        }
    }
    if high.is_empty() {
        return None;
    }
    Some(Contact { high, low })
}

/// Teams: Klaxon has none; reported with their members.
pub(super) fn teams(docs: &Documents, report: &mut Report, ids: &Ids) {
    for team in sorted(&docs.teams, "name") {
        let team_id = text(team, "id");
        report.object("team", &team_id, &text(team, "name"));
        report.unknown_fields("team", &team_id, "", team, TEAM_FIELDS);
        let members: Vec<String> = docs
            .members
            .get(&team_id)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|m| {
                m.pointer("/user/id")
                    .and_then(Value::as_str)
                    .and_then(|id| ids.users.get(id))
                    .cloned()
            })
            .collect();
        report.became(
            "team",
            &team_id,
            format!(
                "no Klaxon team (Klaxon has none); members {}",
                members.join(", ")
            ),
        );
        report.skip(
            "team",
            &team_id,
            "Klaxon has no teams: escalation policies and services keep working without them",
        );
    }
}
