//! The key design: every literal part of every key the repository writes, and the builders
//! that assemble keys from them. `docs/data-model.md` documents each one in its access-pattern
//! table; a test fails when the table names a literal that is not here, or the other way round.
//!
//! Placeholders in the doc: `<time>` is [`sort_time`] (fixed-width RFC 3339 UTC with
//! nanoseconds, so text order is time order), `<n:020>` a zero-padded decimal.

use crate::Key;
use klaxon_domain::Instant;
use klaxon_domain::alert::AlertKey;

/// Partition of an alert identity: `ALERT#<integration>#<sha256(dedup key)>`.
pub const ALERT: &str = "ALERT#";
/// Sort key of the alert's dedup record (its current occurrence).
pub const OCCURRENCE: &str = "OCCURRENCE";
/// Sort key prefix of a chunk of an occurrence's compressed body:
/// `CHUNK#<alert id>#<n:03>`.
pub const CHUNK: &str = "CHUNK#";
/// `gsi1` partition of occurrences not yet linked to an incident (sort: `<received>#<alert id>`).
pub const UNGROUPED: &str = "UNGROUPED";
/// Partition of an incident, its timeline and its deliveries: `INCIDENT#<id>`.
pub const INCIDENT: &str = "INCIDENT#";
/// Sort key of the incident item itself.
pub const META: &str = "META";
/// `gsi1` partition of incidents not resolved (sort: `<created>#<id>`).
pub const OPEN_INCIDENTS: &str = "OPEN_INCIDENTS";
/// `gsi2` partition of every incident (sort: `<number:020>`).
pub const INCIDENTS: &str = "INCIDENTS";
/// `gsi3` partition of incidents whose escalation waits for a timer (sort: `<due>#<id>`).
pub const ESCALATION_DUE: &str = "ESCALATION_DUE";
/// Sort key prefix of a timeline entry: `TIMELINE#<time>#<n:02>#<entry key>`.
pub const TIMELINE: &str = "TIMELINE#";
/// Sort key prefix of a delivery record: `DELIVERY#<delivery key>`.
pub const DELIVERY: &str = "DELIVERY#";
/// Partition of the link of one alert occurrence to its incident: `ALERT_LINK#<alert id>`.
pub const ALERT_LINK: &str = "ALERT_LINK#";
/// Sort key of a link item.
pub const LINK: &str = "LINK";
/// `gsi2` partition of the alerts linked to one incident: `INCIDENT_ALERTS#<incident id>`
/// (sort: `<linked>#<alert id>`).
pub const INCIDENT_ALERTS: &str = "INCIDENT_ALERTS#";
/// Partition of a group's pointer to its open incident: `GROUP#<group key>`.
pub const GROUP: &str = "GROUP#";
/// Sort key of a group pointer.
pub const POINTER: &str = "POINTER";
/// Partition of counters.
pub const COUNTER: &str = "COUNTER";
/// Sort key of the incident-number counter.
pub const INCIDENT_NUMBER: &str = "INCIDENT_NUMBER";
/// Partition of an integration or API key: `API_KEY#<sha256 hex>`.
pub const API_KEY: &str = "API_KEY#";
/// Sort key of a key item.
pub const KEY: &str = "KEY";
/// `gsi2` partition of every key (sort: `<kind>#<name>#<hash>`).
pub const KEYS: &str = "KEYS";
/// Partition of configuration snapshots.
pub const CONFIG: &str = "CONFIG";
/// Sort key of the pointer to the current configuration version.
pub const CURRENT: &str = "CURRENT";
/// Sort key prefix of a configuration version: `VERSION#<n:020>`.
pub const VERSION: &str = "VERSION#";
/// Sort key infix of a part of a configuration version: `VERSION#<n:020>#PART#<n:03>`.
pub const PART: &str = "PART#";
/// Partition of an idempotency record: `IDEMPOTENCY#<scope>#<sha256(id)>`.
pub const IDEMPOTENCY: &str = "IDEMPOTENCY#";
/// Sort key of an idempotency record.
pub const RECORD: &str = "RECORD";
/// Partition of a schedule's runtime data: `SCHEDULE#<schedule id>`.
pub const SCHEDULE: &str = "SCHEDULE#";
/// Sort key prefix of an override, ordered by end: `OVERRIDE#<end>#<id>`.
pub const OVERRIDE: &str = "OVERRIDE#";
/// Sort key prefix of an override's id entry (finds the override by id):
/// `OVERRIDE_ID#<id>`.
pub const OVERRIDE_ID: &str = "OVERRIDE_ID#";

/// Every key literal above, for the test that keeps `docs/data-model.md` in step.
pub const ALL: [&str; 30] = [
    ALERT,
    OCCURRENCE,
    CHUNK,
    UNGROUPED,
    INCIDENT,
    META,
    OPEN_INCIDENTS,
    INCIDENTS,
    ESCALATION_DUE,
    TIMELINE,
    DELIVERY,
    ALERT_LINK,
    LINK,
    INCIDENT_ALERTS,
    GROUP,
    POINTER,
    COUNTER,
    INCIDENT_NUMBER,
    API_KEY,
    KEY,
    KEYS,
    CONFIG,
    CURRENT,
    VERSION,
    PART,
    IDEMPOTENCY,
    RECORD,
    SCHEDULE,
    OVERRIDE,
    OVERRIDE_ID,
];

/// An instant as sortable text: RFC 3339 in UTC with nine fraction digits, fixed width for
/// years 0–9999, so byte order is time order.
pub fn sort_time(at: Instant) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
}

/// The key of an alert identity's dedup record: `ALERT#<integration>#<sha256(dedup key)>`.
/// The dedup key is hashed: it is free text of up to 512 characters (at most 2048 bytes), and a hash keeps the key short
/// and free of separators.
pub fn alert_record_key(key: &AlertKey) -> Key {
    Key::new(
        format!(
            "{ALERT}{}#{}",
            key.integration,
            super::codec::sha256_hex(key.dedup_key.as_str())
        ),
        OCCURRENCE,
    )
}

/// The key of the incident item.
pub fn incident_key(incident: &str) -> Key {
    Key::new(format!("{INCIDENT}{incident}"), META)
}

/// The partition of an incident (its item, timeline and deliveries).
pub fn incident_partition(incident: &str) -> String {
    format!("{INCIDENT}{incident}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use std::collections::HashSet;

    #[test]
    fn literals_are_distinct_and_no_prefix_swallows_another_partition() {
        let distinct: HashSet<&str> = ALL.iter().copied().collect();
        assert_eq!(distinct.len(), ALL.len());
        // Partition prefixes ending in '#' must not be prefixes of one another, or a begins-with
        // query on one could see the other's items.
        let prefixes: Vec<&str> = ALL.iter().copied().filter(|p| p.ends_with('#')).collect();
        for a in &prefixes {
            for b in &prefixes {
                assert!(a == b || !b.starts_with(a), "{a} is a prefix of {b}");
            }
        }
    }

    #[test]
    fn sort_time_orders_like_time() {
        let early = Utc.with_ymd_and_hms(2026, 1, 1, 9, 0, 0).unwrap();
        let later = early + chrono::Duration::nanoseconds(1);
        let much_later = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(sort_time(early), "2026-01-01T09:00:00.000000000Z");
        assert!(sort_time(early) < sort_time(later));
        assert!(sort_time(later) < sort_time(much_later));
        assert_eq!(sort_time(early).len(), sort_time(much_later).len());
    }
}
