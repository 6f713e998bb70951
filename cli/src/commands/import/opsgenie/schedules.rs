//! Opsgenie schedules (rotations become layers) and overrides (runtime data).

use super::{Documents, Ids, sorted, text};
use crate::commands::import::Slugs;
use crate::commands::import::model::{
    ConfigFile, LayerEntry, RestrictionEntry, RotationEntry, ScheduleEntry,
};
use crate::commands::import::report::{OverrideCommand, Report};
use crate::commands::import::week::{DAYS, hhmm, merge, weekly_span};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use std::collections::BTreeMap;

const SCHEDULE_FIELDS: &[&str] = &[
    "id",
    "name",
    "description",
    "timezone",
    "enabled",
    "ownerTeam",
    "rotations",
];
const ROTATION_FIELDS: &[&str] = &[
    "id",
    "name",
    "startDate",
    "endDate",
    "type",
    "length",
    "participants",
    "timeRestriction",
];
const OVERRIDE_FIELDS: &[&str] = &["alias", "user", "startDate", "endDate", "rotations"];

/// Schedules: one layer per rotation, in Opsgenie's order.
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
        let zone_name = text(schedule, "timezone");
        let Ok(zone) = zone_name.parse::<chrono_tz::Tz>() else {
            report.skip(
                "schedule",
                &source_id,
                format!("time zone {zone_name:?} is not an IANA zone"),
            );
            continue;
        };
        if schedule.get("enabled").and_then(Value::as_bool) == Some(false) {
            report.semantics("schedule", &source_id, "disabled in Opsgenie; imported as a normal schedule (Klaxon schedules cannot be disabled)");
        }
        let rotations = schedule
            .get("rotations")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let id = slugs.take(&name);
        let mut layers = Vec::new();
        for rotation in rotations {
            if let Some(layer) = layer(rotation, zone, &source_id, &id, layers.len(), report, ids) {
                layers.push(layer);
            }
        }
        if layers.is_empty() {
            report.skip("schedule", &source_id, "no rotation could be imported");
            continue;
        }
        if layers.len() > 1 {
            report.semantics("schedule", &source_id, "where rotations overlap, Opsgenie puts every rotation's participant on call at once; in Klaxon the first layer (rotation) with someone on call wins, so reorder the layers if another rotation must take precedence");
        }
        report.became(
            "schedule",
            &source_id,
            format!("schedule {id} ({} layers)", layers.len()),
        );
        if let Some(team) = schedule.pointer("/ownerTeam/id").and_then(Value::as_str) {
            ids.team_schedules
                .entry(team.to_owned())
                .or_default()
                .push(id.clone());
        }
        ids.schedules.insert(source_id, id.clone());
        ids.schedule_names.insert(name.clone(), id.clone());
        config.schedules.push(ScheduleEntry {
            id,
            name,
            time_zone: zone_name,
            layers,
        });
    }
}

fn layer(
    rotation: &Value,
    zone: chrono_tz::Tz,
    schedule: &str,
    klaxon_id: &str,
    index: usize,
    report: &mut Report,
    ids: &Ids,
) -> Option<LayerEntry> {
    let rotation_id = text(rotation, "id");
    let name = text(rotation, "name");
    report.object("rotation", &rotation_id, &name);
    report.unknown_fields("rotation", &rotation_id, "", rotation, ROTATION_FIELDS);
    let length = rotation
        .get("length")
        .and_then(Value::as_u64)
        .unwrap_or(1)
        .max(1);
    let length = u32::try_from(length).unwrap_or(u32::MAX);
    let unit = match text(rotation, "type").as_str() {
        "hourly" => "hours",
        "daily" => "days",
        "weekly" => "weeks",
        other => {
            report.skip(
                "rotation",
                &rotation_id,
                format!("rotation type {other:?} is not daily, weekly or hourly"),
            );
            return None;
        }
    };
    let start = text(rotation, "startDate");
    let Ok(start) = DateTime::parse_from_rfc3339(&start) else {
        report.skip(
            "rotation",
            &rotation_id,
            format!("startDate {start:?} is not an RFC 3339 time"),
        );
        return None;
    };
    let local_start = start.with_timezone(&zone).naive_local();
    if let Some(end) = rotation.get("endDate").and_then(Value::as_str) {
        report.field(
            "rotation",
            &rotation_id,
            "endDate",
            format!(
                "Klaxon rotations do not end: remove layer {index} of schedule {klaxon_id} at {end}"
            ),
        );
    }
    let mut participants = Vec::new();
    for participant in rotation
        .get("participants")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        match text(participant, "type").as_str() {
            "user" => match ids.user(participant) {
                Some(user) => participants.push(user),
                None => report.field("rotation", &rotation_id, "participants", format!("user {} was not imported: left out of the rotation", text(participant, "username"))),
            },
            "none" => report.field("rotation", &rotation_id, "participants", "a \"no one\" slot: Klaxon rotations have no empty turns, so it is left out and later turns move one slot earlier"),
            other => report.field("rotation", &rotation_id, "participants", format!("a {other} participant ({}): Klaxon rotations hold users only", text(participant, "name"))),
        }
    }
    if participants.is_empty() {
        report.skip("rotation", &rotation_id, "no participant could be imported");
        return None;
    }
    let restrictions = restrictions(rotation.get("timeRestriction"), &rotation_id, report);
    report.became(
        "rotation",
        &rotation_id,
        format!("schedule {klaxon_id} layer {index}"),
    );
    let _ = schedule;
    Some(LayerEntry {
        name: if name.is_empty() {
            format!("Rotation {}", index + 1)
        } else {
            name
        },
        rotation: RotationEntry {
            participants,
            start: local_start.format("%Y-%m-%dT%H:%M:%S").to_string(),
            shift: BTreeMap::from([(unit.to_owned(), Value::from(length))]),
        },
        restrictions,
    })
}

fn restrictions(
    restriction: Option<&Value>,
    rotation: &str,
    report: &mut Report,
) -> Vec<RestrictionEntry> {
    let Some(restriction) = restriction.filter(|r| !r.is_null()) else {
        return Vec::new();
    };
    let minute = |v: &Value, h: &str, m: &str| {
        let hour = v.get(h).and_then(Value::as_u64).unwrap_or(0);
        let min = v.get(m).and_then(Value::as_u64).unwrap_or(0);
        u32::try_from(hour * 60 + min).unwrap_or(0) % 1440
    };
    match text(restriction, "type").as_str() {
        "time-of-day" => {
            let r = restriction
                .get("restriction")
                .cloned()
                .unwrap_or(Value::Null);
            vec![RestrictionEntry {
                days: Vec::new(),
                from: hhmm(minute(&r, "startHour", "startMin")),
                to: hhmm(minute(&r, "endHour", "endMin")),
            }]
        }
        "weekday-and-time-of-day" => {
            let mut entries = Vec::new();
            for r in restriction
                .get("restrictions")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                let (Some(start_day), Some(end_day)) = (
                    day_index(&text(r, "startDay")),
                    day_index(&text(r, "endDay")),
                ) else {
                    report.field(
                        "rotation",
                        rotation,
                        "timeRestriction",
                        format!("a restriction with unknown days ({r}) was left out"),
                    );
                    continue;
                };
                let start = start_day * 1440 + minute(r, "startHour", "startMin");
                let end = end_day * 1440 + minute(r, "endHour", "endMin");
                for entry in weekly_span(start, end) {
                    merge(&mut entries, entry);
                }
            }
            entries
        }
        other => {
            report.field(
                "rotation",
                rotation,
                "timeRestriction",
                format!("restriction type {other:?} is unknown: the layer applies at all times"),
            );
            Vec::new()
        }
    }
}

fn day_index(day: &str) -> Option<u32> {
    let prefix: String = day.to_ascii_lowercase().chars().take(3).collect();
    DAYS.iter()
        .position(|d| *d == prefix)
        .and_then(|i| u32::try_from(i).ok())
}

/// Overrides: runtime data, written as `klaxon overrides add` commands.
pub(super) fn overrides(docs: &Documents, report: &mut Report, ids: &Ids) {
    for (schedule_id, overrides) in &docs.overrides {
        let Some(schedule) = ids.schedules.get(schedule_id) else {
            for o in overrides {
                report.object("override", &text(o, "alias"), "");
                report.skip(
                    "override",
                    &text(o, "alias"),
                    "its schedule was not imported",
                );
            }
            continue;
        };
        for o in sorted(overrides, "startDate") {
            let alias = text(o, "alias");
            report.object("override", &alias, &format!("{schedule} override"));
            report.unknown_fields("override", &alias, "", o, OVERRIDE_FIELDS);
            let user = o
                .get("user")
                .filter(|u| text(u, "type") == "user")
                .and_then(|u| ids.user(u));
            let times = (utc(&text(o, "startDate")), utc(&text(o, "endDate")));
            let (Some(user), (Some(start), Some(end))) = (user, times) else {
                report.skip(
                    "override",
                    &alias,
                    "its user is not an imported user, or its times are not RFC 3339",
                );
                continue;
            };
            if o.get("rotations")
                .and_then(Value::as_array)
                .is_some_and(|r| !r.is_empty())
            {
                report.semantics("override", &alias, "Opsgenie applied it to some rotations only; a Klaxon override covers the whole schedule");
            }
            report.became(
                "override",
                &alias,
                format!("klaxon overrides add {schedule} --user {user}"),
            );
            report.overrides.push(OverrideCommand {
                schedule: schedule.clone(),
                user,
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
