//! Serde for weekday lists: `mon`..`sun` or full names, in any letter case.

use chrono::Weekday;
use serde::{Deserialize, Deserializer, Serializer, ser::SerializeSeq};

/// The short name written back to config files.
fn short_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "mon",
        Weekday::Tue => "tue",
        Weekday::Wed => "wed",
        Weekday::Thu => "thu",
        Weekday::Fri => "fri",
        Weekday::Sat => "sat",
        Weekday::Sun => "sun",
    }
}

/// Parses exactly `mon`..`sun` or `monday`..`sunday`, ignoring letter case.
pub(super) fn parse(name: &str) -> Option<Weekday> {
    let day = match name.to_ascii_lowercase().as_str() {
        "mon" | "monday" => Weekday::Mon,
        "tue" | "tuesday" => Weekday::Tue,
        "wed" | "wednesday" => Weekday::Wed,
        "thu" | "thursday" => Weekday::Thu,
        "fri" | "friday" => Weekday::Fri,
        "sat" | "saturday" => Weekday::Sat,
        "sun" | "sunday" => Weekday::Sun,
        _ => return None,
    };
    Some(day)
}

pub(super) fn serialize<S: Serializer>(days: &[Weekday], serializer: S) -> Result<S::Ok, S::Error> {
    let mut seq = serializer.serialize_seq(Some(days.len()))?;
    for day in days {
        seq.serialize_element(short_name(*day))?;
    }
    seq.end()
}

pub(super) fn deserialize<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<Weekday>, D::Error> {
    let names = Vec::<String>::deserialize(deserializer)?;
    names
        .iter()
        .map(|name| {
            parse(name).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "unknown weekday {name:?} (use mon, tue, wed, thu, fri, sat, sun or full names)"
                ))
            })
        })
        .collect()
}
