//! OnCall schedules: rolling-users and recurrent shifts become layers (highest level first),
//! override and single-event shifts become `klaxon overrides add` commands.

use super::{Documents, Ids, sorted, text};
use crate::commands::import::Slugs;
use crate::commands::import::model::{
    ConfigFile, LayerEntry, RestrictionEntry, RotationEntry, ScheduleEntry,
};
use crate::commands::import::report::{OverrideCommand, Report};
use crate::commands::import::week::{DAYS, hhmm, merge, weekly_span};
use chrono::{Datelike, NaiveDateTime, SecondsFormat, Timelike, Utc};
use chrono_tz::Tz;
use serde_json::Value;
use std::collections::BTreeMap;

const SCHEDULE_FIELDS: &[&str] = &[
    "id",
    "team_id",
    "name",
    "type",
    "time_zone",
    "on_call_now",
    "shifts",
    "slack",
    "ical_url_primary",
    "ical_url_overrides",
    "enable_web_overrides",
];
const SHIFT_FIELDS: &[&str] = &[
    "id",
    "team_id",
    "schedule",
    "name",
    "type",
    "time_zone",
    "level",
    "start",
    "rotation_start",
    "duration",
    "frequency",
    "interval",
    "week_start",
    "by_day",
    "by_month",
    "by_monthday",
    "rolling_users",
    "start_rotation_from_user_index",
    "until",
    "users",
    "source",
];
const BY_DAY: [&str; 7] = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];

/// Web schedules: their shifts become layers; iCal schedules are reported.
pub(super) fn schedules(
    docs: &Documents,
    config: &mut ConfigFile,
    report: &mut Report,
    ids: &mut Ids,
) {
    let mut slugs = Slugs::default();
    let shifts: BTreeMap<String, &Value> = docs.shifts.iter().map(|s| (text(s, "id"), s)).collect();
    for schedule in sorted(&docs.schedules, "name") {
        let source_id = text(schedule, "id");
        let name = text(schedule, "name");
        report.object("schedule", &source_id, &name);
        report.unknown_fields("schedule", &source_id, "", schedule, SCHEDULE_FIELDS);
        if text(schedule, "type") == "ical" {
            report.skip(
                "schedule",
                &source_id,
                "an iCal schedule: Klaxon schedules are rotations, rebuild it by hand",
            );
            continue;
        }
        let zone_name = text(schedule, "time_zone");
        let Ok(zone) = zone_name.parse::<Tz>() else {
            report.skip(
                "schedule",
                &source_id,
                format!("time zone {zone_name:?} is not an IANA zone"),
            );
            continue;
        };
        let id = slugs.take(&name);
        let mut layered: Vec<(i64, String, LayerEntry)> = Vec::new();
        let ids_of_shifts: Vec<String> = schedule
            .get("shifts")
            .and_then(Value::as_array)
            .map(|s| {
                s.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        for shift_id in ids_of_shifts {
            let Some(shift) = shifts.get(&shift_id) else {
                report.field(
                    "schedule",
                    &source_id,
                    "shifts",
                    format!("shift {shift_id} was not in the shifts list"),
                );
                continue;
            };
            if let Some(layer) = shift_layer(shift, zone, &id, report, ids) {
                layered.push((
                    shift.get("level").and_then(Value::as_i64).unwrap_or(0),
                    text(shift, "name"),
                    layer,
                ));
            }
        }
        // Higher levels win in OnCall; Klaxon's first layer wins.
        layered.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let layers: Vec<LayerEntry> = layered.into_iter().map(|(_, _, layer)| layer).collect();
        if layers.is_empty() {
            report.skip(
                "schedule",
                &source_id,
                "no shift could be imported as a rotation",
            );
            continue;
        }
        report.semantics("schedule", &source_id, "shifts become layers ordered by level, highest first: in both, the highest level with someone on call wins (equal levels: the shift name decides in Klaxon)");
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
    for shift in sorted(&docs.shifts, "start") {
        overrides(shift, docs, report, ids);
    }
}

/// The local start of a shift in the schedule's zone (converted when the shift has its own).
fn local_start(
    shift: &Value,
    zone: Tz,
    shift_id: &str,
    report: &mut Report,
) -> Option<NaiveDateTime> {
    let start = NaiveDateTime::parse_from_str(&text(shift, "start"), "%Y-%m-%dT%H:%M:%S").ok()?;
    match shift
        .get("time_zone")
        .and_then(Value::as_str)
        .map(str::parse::<Tz>)
    {
        Some(Ok(own)) if own != zone => {
            report.semantics("shift", shift_id, format!("the shift has its own time zone {own}: its start is converted to the schedule's zone, and its hand-offs then follow the schedule's clock"));
            let instant = crate::commands::import::week::resolve(own, start)?;
            Some(instant.with_timezone(&zone).naive_local())
        }
        _ => Some(start),
    }
}

fn shift_layer(
    shift: &Value,
    zone: Tz,
    schedule: &str,
    report: &mut Report,
    ids: &Ids,
) -> Option<LayerEntry> {
    let shift_id = text(shift, "id");
    let kind = text(shift, "type");
    if kind == "override" || kind == "single_event" {
        return None; // runtime data, see `overrides`
    }
    report.object("shift", &shift_id, &text(shift, "name"));
    report.unknown_fields("shift", &shift_id, "", shift, SHIFT_FIELDS);
    let start = local_start(shift, zone, &shift_id, report)?;
    let interval = shift
        .get("interval")
        .and_then(Value::as_u64)
        .unwrap_or(1)
        .max(1);
    let (unit, period_minutes) = match text(shift, "frequency").as_str() {
        "hourly" => ("hours", interval * 60),
        "daily" => ("days", interval * 1440),
        "weekly" => ("weeks", interval * 7 * 1440),
        other => {
            report.skip(
                "shift",
                &shift_id,
                format!("frequency {other:?}: Klaxon rotations are hourly, daily or weekly"),
            );
            return None;
        }
    };
    let mut participants = participants(shift, &shift_id, report, ids);
    if participants.is_empty() {
        report.skip("shift", &shift_id, "no participant was imported");
        return None;
    }
    let from_index = usize::try_from(
        shift
            .get("start_rotation_from_user_index")
            .and_then(Value::as_u64)
            .unwrap_or(0),
    )
    .unwrap_or(0);
    let len = participants.len();
    participants.rotate_left(from_index % len);
    if let Some(until) = shift.get("until").and_then(Value::as_str) {
        report.field(
            "shift",
            &shift_id,
            "until",
            format!("Klaxon rotations do not end: remove this layer of {schedule} at {until}"),
        );
    }
    let duration = shift.get("duration").and_then(Value::as_u64).unwrap_or(0) / 60;
    let restrictions = restrictions(
        shift,
        &shift_id,
        start,
        unit,
        duration,
        period_minutes,
        report,
    )?;
    report.became(
        "shift",
        &shift_id,
        format!("a layer of schedule {schedule}"),
    );
    Some(LayerEntry {
        name: text(shift, "name"),
        rotation: RotationEntry {
            participants,
            start: start.format("%Y-%m-%dT%H:%M:%S").to_string(),
            shift: BTreeMap::from([(unit.to_owned(), Value::from(interval))]),
        },
        restrictions,
    })
}

fn participants(shift: &Value, shift_id: &str, report: &mut Report, ids: &Ids) -> Vec<String> {
    let groups: Vec<Vec<String>> = match shift.get("rolling_users").and_then(Value::as_array) {
        Some(groups) => groups
            .iter()
            .map(|g| {
                g.as_array()
                    .map(|g| {
                        g.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default()
            })
            .collect(),
        None => vec![
            shift
                .get("users")
                .and_then(Value::as_array)
                .map(|u| {
                    u.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        ],
    };
    let mut participants = Vec::new();
    for group in groups {
        if group.len() > 1 {
            report.field("shift", shift_id, "rolling_users", format!("a turn of {} users together: Klaxon has one person on call per layer, the first is kept", group.len()));
        }
        match group.first().and_then(|u| ids.users.get(u)) {
            Some(user) => participants.push(user.clone()),
            None => report.field(
                "shift",
                shift_id,
                "rolling_users",
                "a turn whose user was not imported is left out",
            ),
        }
    }
    participants
}

/// The windows of each event: `by_day` days of weekly shifts, or one window per period.
fn restrictions(
    shift: &Value,
    shift_id: &str,
    start: NaiveDateTime,
    unit: &str,
    duration: u64,
    period: u64,
    report: &mut Report,
) -> Option<Vec<RestrictionEntry>> {
    let minute = start.hour() * 60 + start.minute();
    let duration32 = u32::try_from(duration).unwrap_or(u32::MAX);
    let by_day: Vec<usize> = shift
        .get("by_day")
        .and_then(Value::as_array)
        .map(|d| {
            d.iter()
                .filter_map(|d| BY_DAY.iter().position(|x| Some(*x) == d.as_str()))
                .collect()
        })
        .unwrap_or_default();
    if !by_day.is_empty() {
        if unit != "weeks" || duration >= 1440 {
            report.skip("shift", shift_id, "by_day on a shift that is not weekly, or lasts a day or more: not expressible as a Klaxon rotation");
            return None;
        }
        let mut entries = Vec::new();
        for day in by_day {
            let at = u32::try_from(day).unwrap_or(0) * 1440 + minute;
            for entry in weekly_span(at, (at + duration32) % (7 * 1440)) {
                merge(&mut entries, entry);
            }
        }
        return Some(entries);
    }
    if duration >= period {
        return Some(Vec::new());
    }
    match unit {
        "days" if period == 1440 => Some(vec![RestrictionEntry {
            days: Vec::new(),
            from: hhmm(minute),
            to: hhmm((minute + duration32) % 1440),
        }]),
        "weeks" if period == 7 * 1440 => {
            let at = start.weekday().num_days_from_monday() * 1440 + minute;
            Some(weekly_span(at, (at + duration32) % (7 * 1440)))
        }
        _ => {
            report.field("shift", shift_id, "duration", "an event shorter than its repeat period is only expressible for 1-day and 1-week periods: the layer covers the whole period");
            let _ = DAYS;
            Some(Vec::new())
        }
    }
}

/// Override and single-event shifts: runtime data, as `klaxon overrides add` commands.
fn overrides(shift: &Value, docs: &Documents, report: &mut Report, ids: &Ids) {
    let kind = text(shift, "type");
    if kind != "override" && kind != "single_event" {
        return;
    }
    let shift_id = text(shift, "id");
    report.object("shift", &shift_id, &text(shift, "name"));
    report.unknown_fields("shift", &shift_id, "", shift, SHIFT_FIELDS);
    let schedule = docs.schedules.iter().find(|s| {
        s.get("shifts")
            .and_then(Value::as_array)
            .is_some_and(|l| l.iter().any(|x| x.as_str() == Some(shift_id.as_str())))
    });
    let Some((schedule, klaxon)) =
        schedule.and_then(|s| ids.schedules.get(&text(s, "id")).map(|k| (s, k.clone())))
    else {
        report.skip("shift", &shift_id, "its schedule was not imported");
        return;
    };
    let zone = text(schedule, "time_zone").parse::<Tz>().unwrap_or(Tz::UTC);
    let zone = shift
        .get("time_zone")
        .and_then(Value::as_str)
        .and_then(|z| z.parse::<Tz>().ok())
        .unwrap_or(zone);
    let start = NaiveDateTime::parse_from_str(&text(shift, "start"), "%Y-%m-%dT%H:%M:%S")
        .ok()
        .and_then(|s| crate::commands::import::week::resolve(zone, s));
    let user = shift
        .get("users")
        .and_then(Value::as_array)
        .and_then(|u| u.first())
        .and_then(Value::as_str)
        .and_then(|u| ids.users.get(u));
    let seconds =
        i64::try_from(shift.get("duration").and_then(Value::as_u64).unwrap_or(0)).unwrap_or(0);
    let (Some(start), Some(user)) = (start, user) else {
        report.skip(
            "shift",
            &shift_id,
            "its user was not imported or its start is not a local time",
        );
        return;
    };
    if kind == "single_event" {
        report.semantics(
            "shift",
            &shift_id,
            "a single-event shift became an override (it wins over every layer in Klaxon)",
        );
    }
    let end = start + chrono::Duration::seconds(seconds);
    report.became(
        "shift",
        &shift_id,
        format!("klaxon overrides add {klaxon} --user {user}"),
    );
    report.overrides.push(OverrideCommand {
        schedule: klaxon,
        user: user.clone(),
        start: start
            .with_timezone(&Utc)
            .to_rfc3339_opts(SecondsFormat::Secs, true),
        end: end
            .with_timezone(&Utc)
            .to_rfc3339_opts(SecondsFormat::Secs, true),
    });
}
