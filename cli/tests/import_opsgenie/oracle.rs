//! Who Opsgenie has on call, read straight from the fixture's schedule documents (not by
//! Klaxon's code), and the comparison with `klaxon schedule show` over 8 weeks.

use crate::import_support::{
    assert_matches_oracle, eight_weeks, fixture, instant, intervals, schedule_show,
};
use chrono::{DateTime, Datelike, NaiveDateTime, Timelike, Utc};
use chrono_tz::Tz;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// `klaxon schedule show` of `klaxon_id` (with the overrides stored in `db`, if given) equals
/// the oracle's reading of the fixture every 15 minutes over 8 weeks across the DST changes
/// (New York on 2026-03-08, Berlin on 2026-03-29).
pub fn compare_with_oracle(out: &Path, klaxon_id: &str, name: &str, db: Option<&Path>) {
    let schedules = fixture("opsgenie", "/v2/schedules?expand=rotation");
    let users = fixture_usernames();
    let schedule = schedules["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap();
    let overrides = if db.is_some() {
        let path = format!(
            "/v2/schedules/{}/overrides?scheduleIdentifierType=id",
            schedule["id"].as_str().unwrap()
        );
        fixture("opsgenie", &path)
    } else {
        serde_json::json!({ "data": [] })
    };
    let zone: Tz = schedule["timezone"].as_str().unwrap().parse().unwrap();
    let range = eight_weeks(zone, klaxon_id);
    let shown = schedule_show(out, klaxon_id, db);
    if db.is_some() {
        let kinds: Vec<&Value> = shown["intervals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| &i["source"]["kind"])
            .collect();
        assert!(
            kinds.contains(&&Value::from("override")),
            "the stored override shows: {shown:#}"
        );
    }
    // With the overrides applied, forwarding rules apply too: whoever is on call has their
    // notifications forwarded in the rule's window.
    let forwarding = if db.is_some() {
        fixture("opsgenie", "/v2/forwarding-rules")
    } else {
        serde_json::json!({ "data": [] })
    };
    assert_matches_oracle(klaxon_id, &intervals(&shown), range, |at| {
        override_at(&overrides, at)
            .or_else(|| oracle(schedule, zone, at))
            .map(|id| forwarded(&forwarding, id, at))
            .map(|id| users[&id].clone())
    });
}

/// The user `user`'s notifications go to at `at` (a forwarding rule in force), or `user`.
fn forwarded(rules: &Value, user: String, at: DateTime<Utc>) -> String {
    rules["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["fromUser"]["id"] == user.as_str()
                && instant(&r["startDate"]) <= at
                && at < instant(&r["endDate"])
        })
        .map_or(user, |r| r["toUser"]["id"].as_str().unwrap().to_owned())
}

/// The user of the override in force at `at` (the one that started last wins).
fn override_at(overrides: &Value, at: DateTime<Utc>) -> Option<String> {
    overrides["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| instant(&o["startDate"]) <= at && at < instant(&o["endDate"]))
        .max_by_key(|o| instant(&o["startDate"]))
        .map(|o| o["user"]["id"].as_str().unwrap().to_owned())
}

/// Opsgenie user id → the Klaxon id the importer gives (the username's local part).
pub fn fixture_usernames() -> BTreeMap<String, String> {
    let mut users = BTreeMap::new();
    for page in [
        "/v2/users?limit=100&offset=0&sort=username&order=asc",
        "/v2/users?limit=3&offset=3&sort=username&order=asc",
    ] {
        for user in fixture("opsgenie", page)["data"].as_array().unwrap() {
            let username = user["username"].as_str().unwrap();
            users.insert(
                user["id"].as_str().unwrap().to_owned(),
                username.split('@').next().unwrap().to_owned(),
            );
        }
    }
    users
}

/// Who Opsgenie has on call at `at`, read straight from the schedule document: every rotation
/// that has started, has not ended and whose restriction covers the local time puts its
/// current participant on call. The fixture's rotations never overlap (asserted), so at most
/// one user is on call.
fn oracle(schedule: &Value, zone: Tz, at: DateTime<Utc>) -> Option<String> {
    let local = at.with_timezone(&zone).naive_local();
    let mut on_call = Vec::new();
    for rotation in schedule["rotations"].as_array().unwrap() {
        let start = instant(&rotation["startDate"]);
        let ended = rotation["endDate"].is_string() && instant(&rotation["endDate"]) <= at;
        if at < start || ended || !covered(&rotation["timeRestriction"], local) {
            continue;
        }
        let length = rotation["length"].as_i64().unwrap();
        let local_start: NaiveDateTime = start.with_timezone(&zone).naive_local();
        // Daily and weekly turns change at the same wall-clock time; hourly ones by elapsed time.
        let turn = match rotation["type"].as_str().unwrap() {
            "hourly" => (at - start).num_minutes() / (60 * length),
            "daily" => (local - local_start).num_minutes() / (1440 * length),
            "weekly" => (local - local_start).num_minutes() / (7 * 1440 * length),
            other => panic!("rotation type {other}"),
        };
        let participants = rotation["participants"].as_array().unwrap();
        let participant = &participants[usize::try_from(turn).unwrap() % participants.len()];
        on_call.push(participant["id"].as_str().unwrap().to_owned());
    }
    assert!(on_call.len() <= 1, "rotations overlap at {at}: {on_call:?}");
    on_call.pop()
}

/// Whether an Opsgenie time restriction covers the local time.
fn covered(restriction: &Value, local: NaiveDateTime) -> bool {
    let minute =
        |v: &Value, h: &str, m: &str| v[h].as_i64().unwrap_or(0) * 60 + v[m].as_i64().unwrap_or(0);
    // A span from `start` to `end`; an end before the start wraps, equal means all the time.
    let in_span = |start: i64, end: i64, now: i64| match start.cmp(&end) {
        std::cmp::Ordering::Equal => true,
        std::cmp::Ordering::Less => start <= now && now < end,
        std::cmp::Ordering::Greater => now >= start || now < end,
    };
    let time = i64::from(local.hour() * 60 + local.minute());
    match restriction["type"].as_str() {
        None => true,
        Some("time-of-day") => {
            let r = &restriction["restriction"];
            in_span(
                minute(r, "startHour", "startMin"),
                minute(r, "endHour", "endMin"),
                time,
            )
        }
        Some("weekday-and-time-of-day") => {
            let days = [
                "monday",
                "tuesday",
                "wednesday",
                "thursday",
                "friday",
                "saturday",
                "sunday",
            ];
            let day =
                |name: &Value| i64::try_from(days.iter().position(|d| name == d).unwrap()).unwrap();
            let now = i64::from(local.weekday().num_days_from_monday()) * 1440 + time;
            restriction["restrictions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| {
                    let start = day(&r["startDay"]) * 1440 + minute(r, "startHour", "startMin");
                    let end = day(&r["endDay"]) * 1440 + minute(r, "endHour", "endMin");
                    in_span(start, end, now)
                })
        }
        Some(other) => panic!("restriction type {other}"),
    }
}
