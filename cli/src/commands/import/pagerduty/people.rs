//! PagerDuty users (contact methods, notification rules), teams, schedules and overrides.

use super::{Documents, Ids, sorted, text};
use crate::commands::import::model::{
    ConfigFile, Contact, LayerEntry, RestrictionEntry, RotationEntry, ScheduleEntry, UserEntry,
};
use crate::commands::import::report::{OverrideCommand, Report};
use crate::commands::import::week::{hhmm, merge, weekly_span};
use crate::commands::import::{Slugs, duration_text};
use chrono::{DateTime, SecondsFormat, Utc};
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
const SCHEDULE_FIELDS: &[&str] = &[
    "id",
    "type",
    "summary",
    "self",
    "html_url",
    "name",
    "time_zone",
    "description",
    "schedule_layers",
    "users",
    "teams",
    "escalation_policies",
    "final_schedule",
    "overrides_subschedule",
    "web_cal_url",
    "http_cal_url",
];
const LAYER_FIELDS: &[&str] = &[
    "id",
    "name",
    "start",
    "end",
    "users",
    "restrictions",
    "rotation_virtual_start",
    "rotation_turn_length_seconds",
    "rendered_schedule_entries",
    "rendered_coverage_percentage",
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

/// Schedules: PagerDuty's layers, highest precedence first, become Klaxon layers in that order.
pub(super) fn schedules(
    docs: &Documents,
    config: &mut ConfigFile,
    report: &mut Report,
    ids: &mut Ids,
) {
    let mut slugs = Slugs::default();
    for schedule in sorted(&docs.schedules, "name") {
        let source_id = text(schedule, "id");
        let name = text(schedule, "name");
        report.object("schedule", &source_id, &name);
        report.unknown_fields("schedule", &source_id, "", schedule, SCHEDULE_FIELDS);
        let zone_name = text(schedule, "time_zone");
        let Ok(zone) = zone_name.parse::<chrono_tz::Tz>() else {
            report.skip(
                "schedule",
                &source_id,
                format!("time zone {zone_name:?} is not an IANA zone"),
            );
            continue;
        };
        let id = slugs.take(&name);
        let mut layers = Vec::new();
        for layer in schedule
            .get("schedule_layers")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            if let Some(entry) =
                self::layer(layer, zone, &docs.as_of, &id, layers.len(), report, ids)
            {
                layers.push(entry);
            }
        }
        if layers.is_empty() {
            report.skip("schedule", &source_id, "no layer could be imported");
            continue;
        }
        report.semantics("schedule", &source_id, "layers keep PagerDuty's API order (the highest layer first): in both, the highest layer with someone on call wins; check the order against PagerDuty's schedule page");
        report.became(
            "schedule",
            &source_id,
            format!("schedule {id} ({} layers)", layers.len()),
        );
        ids.schedules.insert(source_id, id.clone());
        config.schedules.push(ScheduleEntry {
            id,
            name,
            time_zone: zone_name,
            layers,
        });
    }
}

fn layer(
    layer: &Value,
    zone: chrono_tz::Tz,
    as_of: &str,
    schedule: &str,
    index: usize,
    report: &mut Report,
    ids: &Ids,
) -> Option<LayerEntry> {
    let layer_id = text(layer, "id");
    let name = text(layer, "name");
    report.object("layer", &layer_id, &name);
    report.unknown_fields("layer", &layer_id, "", layer, LAYER_FIELDS);
    let as_of = DateTime::parse_from_rfc3339(as_of).ok();
    if let Some(end) = layer.get("end").and_then(Value::as_str) {
        if DateTime::parse_from_rfc3339(end)
            .ok()
            .zip(as_of)
            .is_some_and(|(end, now)| end <= now)
        {
            report.skip("layer", &layer_id, format!("it ended at {end}"));
            return None;
        }
        report.field(
            "layer",
            &layer_id,
            "end",
            format!(
                "Klaxon layers do not end: remove layer {index} of schedule {schedule} at {end}"
            ),
        );
    }
    let Ok(virtual_start) = DateTime::parse_from_rfc3339(&text(layer, "rotation_virtual_start"))
    else {
        report.skip(
            "layer",
            &layer_id,
            "rotation_virtual_start is not an RFC 3339 time",
        );
        return None;
    };
    if let Ok(start) = DateTime::parse_from_rfc3339(&text(layer, "start"))
        && start > virtual_start
        && as_of.is_some_and(|now| start > now)
    {
        report.field("layer", &layer_id, "start", format!("the layer takes effect at {start}; in Klaxon it runs from its rotation start {virtual_start}"));
    }
    let seconds = layer
        .get("rotation_turn_length_seconds")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let shift = match seconds {
        s if s >= 604_800 && s % 604_800 == 0 => ("weeks", Value::from(s / 604_800)),
        s if s >= 86_400 && s % 86_400 == 0 => ("days", Value::from(s / 86_400)),
        s if s >= 3_600 && s % 3_600 == 0 => ("hours", Value::from(s / 3_600)),
        s if s >= 3_600 => ("custom", Value::from(duration_text(s))),
        _ => {
            report.skip(
                "layer",
                &layer_id,
                format!("a turn of {seconds}s: Klaxon shifts are at least 1h"),
            );
            return None;
        }
    };
    if shift.0 == "days" || shift.0 == "weeks" {
        report.semantics("layer", &layer_id, "turns of whole days or weeks hand off at the same local time in Klaxon, also across DST changes");
    }
    let participants: Vec<String> = layer
        .get("users")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|u| {
            u.pointer("/user/id")
                .and_then(Value::as_str)
                .and_then(|id| ids.users.get(id))
                .cloned()
        })
        .collect();
    if participants.is_empty() {
        report.skip("layer", &layer_id, "no participant was imported");
        return None;
    }
    report.became(
        "layer",
        &layer_id,
        format!("schedule {schedule} layer {index}"),
    );
    Some(LayerEntry {
        name: if name.is_empty() {
            format!("Layer {}", index + 1)
        } else {
            name
        },
        rotation: RotationEntry {
            participants,
            start: virtual_start
                .with_timezone(&zone)
                .naive_local()
                .format("%Y-%m-%dT%H:%M:%S")
                .to_string(),
            shift: BTreeMap::from([(shift.0.to_owned(), shift.1)]),
        },
        restrictions: restrictions(layer, &layer_id, report),
    })
}

fn restrictions(layer: &Value, layer_id: &str, report: &mut Report) -> Vec<RestrictionEntry> {
    let mut entries = Vec::new();
    for r in layer
        .get("restrictions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let time = text(r, "start_time_of_day");
        let mut parts = time
            .split(':')
            .map(|p| p.trim_end_matches('Z').parse::<u32>().unwrap_or(0));
        let minute = parts.next().unwrap_or(0) * 60 + parts.next().unwrap_or(0);
        let duration = u32::try_from(
            r.get("duration_seconds")
                .and_then(Value::as_u64)
                .unwrap_or(0)
                / 60,
        )
        .unwrap_or(u32::MAX);
        match text(r, "type").as_str() {
            "daily_restriction" if duration >= 1440 => merge(
                &mut entries,
                RestrictionEntry {
                    days: Vec::new(),
                    from: "00:00".into(),
                    to: "00:00".into(),
                },
            ),
            "daily_restriction" => merge(
                &mut entries,
                RestrictionEntry {
                    days: Vec::new(),
                    from: hhmm(minute),
                    to: hhmm((minute + duration) % 1440),
                },
            ),
            "weekly_restriction" => {
                let day = r
                    .get("start_day_of_week")
                    .and_then(Value::as_u64)
                    .unwrap_or(1)
                    .clamp(1, 7);
                let start = u32::try_from(day - 1).unwrap_or(0) * 1440 + minute;
                let end = if duration >= 7 * 1440 {
                    start
                } else {
                    (start + duration) % (7 * 1440)
                };
                for entry in weekly_span(start, end) {
                    merge(&mut entries, entry);
                }
            }
            other => report.field(
                "layer",
                layer_id,
                "restrictions",
                format!("restriction type {other:?} is unknown: left out"),
            ),
        }
    }
    entries
}

/// Overrides of the coming year: runtime data, as `klaxon overrides add` commands.
pub(super) fn overrides(docs: &Documents, report: &mut Report, ids: &Ids) {
    for (schedule_id, overrides) in &docs.overrides {
        for o in sorted(overrides, "start") {
            let override_id = text(o, "id");
            report.object("override", &override_id, "");
            let user = o
                .pointer("/user/id")
                .and_then(Value::as_str)
                .and_then(|id| ids.users.get(id));
            let times = (utc(&text(o, "start")), utc(&text(o, "end")));
            let (Some(schedule), Some(user), (Some(start), Some(end))) =
                (ids.schedules.get(schedule_id), user, times)
            else {
                report.skip(
                    "override",
                    &override_id,
                    "its schedule or user was not imported, or its times are not RFC 3339",
                );
                continue;
            };
            report.became(
                "override",
                &override_id,
                format!("klaxon overrides add {schedule} --user {user}"),
            );
            report.overrides.push(OverrideCommand {
                schedule: schedule.clone(),
                user: user.clone(),
                start,
                end,
            });
        }
    }
}

fn utc(text: &str) -> Option<String> {
    let time = DateTime::parse_from_rfc3339(text).ok()?;
    Some(
        time.with_timezone(&Utc)
            .to_rfc3339_opts(SecondsFormat::Secs, true),
    )
}
