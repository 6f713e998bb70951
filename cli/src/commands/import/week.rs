//! Weekly windows: spans of the week as Klaxon restrictions (shared by the sources).

use super::model::RestrictionEntry;

/// Klaxon's day names, Monday first.
pub const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// A span of the week from minute `start` to minute `end` (Monday 00:00 is 0; an end not after
/// the start wraps through the next week) as Klaxon restrictions: one window per day touched,
/// each starting on that day.
pub fn weekly_span(start: u32, end: u32) -> Vec<RestrictionEntry> {
    const WEEK: u32 = 7 * 1440;
    let mut length = (end + WEEK - start) % WEEK;
    if length == 0 {
        length = WEEK;
    }
    let mut entries = Vec::new();
    let mut at = start;
    while length > 0 {
        let day = (at / 1440) % 7;
        let time = at % 1440;
        let chunk = length.min(1440 - time);
        entries.push(RestrictionEntry {
            days: vec![DAYS[day as usize].to_owned()],
            from: hhmm(time),
            to: hhmm((time + chunk) % 1440),
        });
        at = (at + chunk) % WEEK;
        length -= chunk;
    }
    entries
}

/// Adds `entry`, joining it to an entry with the same times (the windows are a union).
pub fn merge(entries: &mut Vec<RestrictionEntry>, entry: RestrictionEntry) {
    match entries
        .iter_mut()
        .find(|e| e.from == entry.from && e.to == entry.to)
    {
        Some(same) => {
            for day in entry.days {
                if !same.days.contains(&day) {
                    same.days.push(day);
                }
            }
            same.days.sort_by_key(|d| DAYS.iter().position(|x| x == d));
        }
        None => entries.push(entry),
    }
}

/// `HH:MM` of a minute of the day.
pub fn hhmm(minutes: u32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// The instant of a local time in `zone` (a time in a spring-forward gap moves forward by the
/// gap, a repeated time is its first occurrence: Klaxon's schedule rules).
pub fn resolve(
    zone: chrono_tz::Tz,
    local: chrono::NaiveDateTime,
) -> Option<chrono::DateTime<chrono_tz::Tz>> {
    use chrono::TimeZone;
    match zone.from_local_datetime(&local) {
        chrono::LocalResult::Single(t) => Some(t),
        chrono::LocalResult::Ambiguous(first, _) => Some(first),
        chrono::LocalResult::None => zone
            .from_local_datetime(&(local + chrono::Duration::hours(1)))
            .earliest(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(entries: &[RestrictionEntry]) -> Vec<String> {
        entries
            .iter()
            .map(|e| format!("{:?} {}-{}", e.days, e.from, e.to))
            .collect()
    }

    #[test]
    fn a_span_over_several_days_is_one_window_per_day() {
        // Monday 08:00 to Friday 18:00.
        let span = weekly_span(8 * 60, 4 * 1440 + 18 * 60);
        assert_eq!(
            text(&span),
            [
                "[\"mon\"] 08:00-00:00",
                "[\"tue\"] 00:00-00:00",
                "[\"wed\"] 00:00-00:00",
                "[\"thu\"] 00:00-00:00",
                "[\"fri\"] 00:00-18:00"
            ]
        );
    }

    #[test]
    fn a_span_wrapping_the_week_and_a_same_day_span() {
        // Friday 18:00 to Monday 08:00.
        let span = weekly_span(4 * 1440 + 18 * 60, 8 * 60);
        assert_eq!(
            text(&span),
            [
                "[\"fri\"] 18:00-00:00",
                "[\"sat\"] 00:00-00:00",
                "[\"sun\"] 00:00-00:00",
                "[\"mon\"] 00:00-08:00"
            ]
        );
        assert_eq!(
            text(&weekly_span(9 * 60, 17 * 60)),
            ["[\"mon\"] 09:00-17:00"]
        );
        assert_eq!(weekly_span(0, 0).len(), 7);
    }
}
