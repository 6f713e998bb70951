//! Unit tests with explicit dates: DST rules in several zones, restrictions, unavailability,
//! overrides, the final schedule, and totality on hostile input.

use super::*;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

mod availability;
mod dst;
mod final_schedule;
mod holidays;
mod names;
mod restrictions;
mod totality;

fn utc(text: &str) -> Instant {
    text.parse::<DateTime<Utc>>().unwrap()
}

fn local(text: &str) -> NaiveDateTime {
    text.parse::<NaiveDateTime>().unwrap()
}

fn user(name: &str) -> UserId {
    UserId::new(name).unwrap()
}

fn rotation(participants: &[&str], start: &str, shift: ShiftLength) -> Rotation {
    Rotation {
        participants: participants.iter().map(|name| user(name)).collect(),
        start: local(start),
        shift,
    }
}

fn layer(name: &str, rotation: Rotation, restrictions: Vec<Restriction>) -> Layer {
    Layer {
        name: name.into(),
        rotation,
        restrictions,
        holidays: None,
    }
}

fn schedule(zone: Tz, layers: Vec<Layer>) -> Schedule {
    Schedule {
        id: ScheduleId::new("primary").unwrap(),
        name: "Primary".into(),
        time_zone: zone,
        layers,
        unavailability: Vec::new(),
        holidays: Vec::new(),
    }
}

fn window(days: &[Weekday], from: &str, to: &str) -> Restriction {
    Restriction {
        days: days.to_vec(),
        from: from.parse().unwrap(),
        to: to.parse().unwrap(),
    }
}

fn date(text: &str) -> chrono::NaiveDate {
    text.parse().unwrap()
}

fn away(name: &str, start: &str, end: &str) -> Unavailability {
    Unavailability {
        user: user(name),
        start: utc(start),
        end: utc(end),
    }
}

fn override_for(id: &str, schedule: &str, name: &str, start: &str, end: &str) -> Override {
    Override {
        id: id.into(),
        schedule: ScheduleId::new(schedule).unwrap(),
        user: user(name),
        start: utc(start),
        end: utc(end),
    }
}

fn who(schedule: &Schedule, overrides: &[Override], at: &str) -> Option<(String, OnCallSource)> {
    schedule
        .on_call_at(overrides, utc(at))
        .map(|on_call| (on_call.user.to_string(), on_call.source))
}

fn from_layer(name: &str, index: usize, layer_name: &str) -> Option<(String, OnCallSource)> {
    Some((
        name.to_string(),
        OnCallSource::Layer {
            index,
            name: layer_name.into(),
        },
    ))
}

fn from_override(name: &str, id: &str) -> Option<(String, OnCallSource)> {
    Some((name.to_string(), OnCallSource::Override { id: id.into() }))
}

fn handoffs(rotation: &Rotation, zone: Tz, from: &str, to: &str) -> Vec<Instant> {
    rotation.handoffs_between(zone, utc(from), utc(to))
}

fn instants(texts: &[&str]) -> Vec<Instant> {
    texts.iter().map(|text| utc(text)).collect()
}

const NEW_YORK: Tz = Tz::America__New_York;
const LONDON: Tz = Tz::Europe__London;
const SYDNEY: Tz = Tz::Australia__Sydney;
const KOLKATA: Tz = Tz::Asia__Kolkata;
const CHATHAM: Tz = Tz::Pacific__Chatham;

fn daily_abc() -> Schedule {
    schedule(
        Tz::UTC,
        vec![layer(
            "main",
            rotation(
                &["a", "b", "c"],
                "2026-03-02T00:00:00",
                ShiftLength::Days(1),
            ),
            vec![],
        )],
    )
}
