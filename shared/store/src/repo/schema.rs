//! The key design: every literal part of every key the repository writes, and the builders
//! that assemble keys from them (the repository modules build every key through these).
//! `docs/data-model.md` documents each one in its access-pattern table; a test fails when the
//! table names a literal that is not here, or the other way round, and another when a builder's
//! output differs from the doc's template filled with the same inputs.
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
/// `gsi1` partition of resolved incidents (sort: `<resolved>#<id>`): the analytics read
/// the incidents of a period from it.
pub const RESOLVED_INCIDENTS: &str = "RESOLVED_INCIDENTS";
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
/// Partition of a console session: `SESSION#<sha256(token)>`.
pub const SESSION: &str = "SESSION#";
/// Partition of a one-time console sign-in token: `SIGNIN#<sha256(token)>`.
pub const SIGNIN: &str = "SIGNIN#";
/// Partition of the sign-in request counter of one address: `SIGNIN_RATE#<sha256(address)>`.
pub const SIGNIN_RATE: &str = "SIGNIN_RATE#";
/// Sort key of a console item (session, sign-in token, counter).
pub const CONSOLE: &str = "CONSOLE";

/// Partition of what one sender request did (Opsgenie's request status):
/// `SENDER_REQUEST#<request id>`.
pub const SENDER_REQUEST: &str = "SENDER_REQUEST#";
/// Sort key of a request status.
pub const STATUS: &str = "STATUS";
/// Sort key prefix of a sender's edits of one occurrence, in the alert record's partition:
/// `EDITS#<alert id>`.
pub const EDITS: &str = "EDITS#";
/// Partition of an integration's change events: `CHANGE#<integration>` (sort:
/// `<happened>#<change id>`).
pub const CHANGE: &str = "CHANGE#";

/// Partition of a heartbeat's state: `HEARTBEAT#<name>`.
pub const HEARTBEAT: &str = "HEARTBEAT#";
/// Sort key of a heartbeat's state item.
pub const HEARTBEAT_STATE: &str = "HEARTBEAT_STATE";

/// Sort key of an incident's post-mortem, in the incident's partition.
pub const POSTMORTEM: &str = "POSTMORTEM";
/// Sort key prefix of a post-mortem action item, in the incident's partition:
/// `ACTION_ITEM#<item id>`.
pub const ACTION_ITEM: &str = "ACTION_ITEM#";
/// `gsi1` partition of the open action items of every post-mortem (sort:
/// `<due>#<incident id>#<item id>`, undated items last).
pub const OPEN_ACTION_ITEMS: &str = "OPEN_ACTION_ITEMS";
/// `gsi2` partition of every action item (sort: `<created>#<incident id>#<item id>`).
pub const ACTION_ITEMS: &str = "ACTION_ITEMS";

/// Every key literal above, for the test that keeps `docs/data-model.md` in step.
pub const ALL: [&str; 45] = [
    ALERT,
    OCCURRENCE,
    CHUNK,
    UNGROUPED,
    INCIDENT,
    META,
    OPEN_INCIDENTS,
    RESOLVED_INCIDENTS,
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
    SESSION,
    SIGNIN,
    SIGNIN_RATE,
    CONSOLE,
    SENDER_REQUEST,
    STATUS,
    EDITS,
    CHANGE,
    HEARTBEAT,
    HEARTBEAT_STATE,
    POSTMORTEM,
    ACTION_ITEM,
    OPEN_ACTION_ITEMS,
    ACTION_ITEMS,
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

/// The sort-key prefix of an occurrence's chunks: `CHUNK#<alert id>#`.
pub fn chunk_prefix(alert_id: &str) -> String {
    format!("{CHUNK}{alert_id}#")
}

/// The key of chunk `index` of an occurrence's body, in its record's partition:
/// `CHUNK#<alert id>#<i:03>`.
pub fn chunk_key(partition: &str, alert_id: &str, index: usize) -> Key {
    Key::new(partition, format!("{}{index:03}", chunk_prefix(alert_id)))
}

/// The `gsi1` sort key of an ungrouped occurrence: `<received>#<alert id>`.
pub fn ungrouped_sort(received: Instant, alert_id: &str) -> String {
    format!("{}#{alert_id}", sort_time(received))
}

/// The key of the incident item.
pub fn incident_key(incident: &str) -> Key {
    Key::new(incident_partition(incident), META)
}

/// The partition of an incident (its item, timeline and deliveries).
pub fn incident_partition(incident: &str) -> String {
    format!("{INCIDENT}{incident}")
}

/// The `gsi1` sort key of an open incident: `<created>#<id>`.
pub fn open_incidents_sort(created: Instant, incident: &str) -> String {
    format!("{}#{incident}", sort_time(created))
}

/// The `gsi1` sort key of a resolved incident: `<resolved>#<id>`.
pub fn resolved_incidents_sort(resolved: Instant, incident: &str) -> String {
    format!("{}#{incident}", sort_time(resolved))
}

/// The `gsi2` sort key of an incident in the list of all incidents: `<number:020>`.
pub fn incident_number_sort(number: u64) -> String {
    format!("{number:020}")
}

/// The `gsi3` sort key of an incident whose escalation waits for a timer: `<due>#<id>`.
pub fn escalation_due_sort(due: Instant, incident: &str) -> String {
    format!("{}#{incident}", sort_time(due))
}

/// The sort key of a timeline entry: `TIMELINE#<time>#<i:02>#<entry key>`, where `position`
/// is the entry's place within the write that produced it.
pub fn timeline_sort(time: Instant, position: usize, entry_key: &str) -> String {
    format!("{TIMELINE}{}#{position:02}#{entry_key}", sort_time(time))
}

/// The key of a delivery record in its incident's partition: `DELIVERY#<delivery key>`.
pub fn delivery_key(incident: &str, delivery_key: &str) -> Key {
    Key::new(
        incident_partition(incident),
        format!("{DELIVERY}{delivery_key}"),
    )
}

/// The key of an alert occurrence's link to its incident: `ALERT_LINK#<alert id>`, `LINK`.
pub fn alert_link_key(alert_id: &str) -> Key {
    Key::new(format!("{ALERT_LINK}{alert_id}"), LINK)
}

/// The `gsi2` partition of the links of one incident: `INCIDENT_ALERTS#<incident id>`.
pub fn incident_alerts_partition(incident: &str) -> String {
    format!("{INCIDENT_ALERTS}{incident}")
}

/// The `gsi2` sort key of a link: `<linked>#<alert id>`.
pub fn incident_alerts_sort(linked: Instant, alert_id: &str) -> String {
    format!("{}#{alert_id}", sort_time(linked))
}

/// The key of a group's pointer to its open incident: `GROUP#<group key>`, `POINTER`.
pub fn group_pointer_key(group_key: &str) -> Key {
    Key::new(format!("{GROUP}{group_key}"), POINTER)
}

/// The key of the incident-number counter.
pub fn incident_number_counter_key() -> Key {
    Key::new(COUNTER, INCIDENT_NUMBER)
}

/// The key of an integration or API key item: `API_KEY#<sha256 hex>`, `KEY`.
pub fn api_key_key(hash: &str) -> Key {
    Key::new(format!("{API_KEY}{hash}"), KEY)
}

/// The `gsi2` sort key of a key item in the key listing: `<kind>#<name>#<hash>`.
pub fn keys_sort(kind: &str, name: &str, hash: &str) -> String {
    format!("{kind}#{name}#{hash}")
}

/// The key of the pointer to the current configuration version.
pub fn config_pointer_key() -> Key {
    Key::new(CONFIG, CURRENT)
}

/// The sort key of a configuration version: `VERSION#<n:020>`.
pub fn config_version_sort(version: u64) -> String {
    format!("{VERSION}{version:020}")
}

/// The sort key of part `part` of a configuration version: `VERSION#<n:020>#PART#<i:03>`.
pub fn config_part_sort(version: u64, part: usize) -> String {
    format!("{}#{PART}{part:03}", config_version_sort(version))
}

/// The key of an idempotency record: `IDEMPOTENCY#<scope>#<sha256(id)>`, `RECORD`. The id is
/// hashed: it is free text from outside, of any length.
pub fn idempotency_key(scope: &str, id: &str) -> Key {
    Key::new(
        format!("{IDEMPOTENCY}{scope}#{}", super::codec::sha256_hex(id)),
        RECORD,
    )
}

/// The partition of a schedule's runtime data: `SCHEDULE#<schedule id>`.
pub fn schedule_partition(schedule: &str) -> String {
    format!("{SCHEDULE}{schedule}")
}

/// The sort key of an override, ordered by its end: `OVERRIDE#<end>#<id>`.
pub fn override_sort(end: Instant, id: &str) -> String {
    format!("{OVERRIDE}{}#{id}", sort_time(end))
}

/// The key of an override's id entry: `SCHEDULE#<schedule id>`, `OVERRIDE_ID#<id>`.
pub fn override_id_key(schedule: &str, id: &str) -> Key {
    Key::new(schedule_partition(schedule), format!("{OVERRIDE_ID}{id}"))
}

/// The key of a console session: `SESSION#<sha256(token)>`, `CONSOLE`.
pub fn session_key(token: &str) -> Key {
    Key::new(
        format!("{SESSION}{}", super::codec::sha256_hex(token)),
        CONSOLE,
    )
}

/// The key of a one-time sign-in token: `SIGNIN#<sha256(token)>`, `CONSOLE`.
pub fn signin_token_key(token: &str) -> Key {
    Key::new(
        format!("{SIGNIN}{}", super::codec::sha256_hex(token)),
        CONSOLE,
    )
}

/// The key of an address's sign-in counter: `SIGNIN_RATE#<sha256(address)>`, `CONSOLE`.
pub fn signin_rate_key(address: &str) -> Key {
    Key::new(
        format!("{SIGNIN_RATE}{}", super::codec::sha256_hex(address)),
        CONSOLE,
    )
}

/// The key of a request status: `SENDER_REQUEST#<request id>`, `STATUS`.
pub fn sender_request_key(request_id: &str) -> Key {
    Key::new(format!("{SENDER_REQUEST}{request_id}"), STATUS)
}

/// The key of a sender's edits of occurrence `alert_id`, in the alert record's partition
/// `partition`: `EDITS#<alert id>`.
pub fn alert_edits_key(partition: &str, alert_id: &str) -> Key {
    Key::new(partition, format!("{EDITS}{alert_id}"))
}

/// The partition of an integration's change events: `CHANGE#<integration>`.
pub fn change_partition(integration: &str) -> String {
    format!("{CHANGE}{integration}")
}

/// The key of a change event: `CHANGE#<integration>`, `<happened>#<change id>`.
pub fn change_key(integration: &str, happened: Instant, id: &str) -> Key {
    Key::new(
        change_partition(integration),
        format!("{}#{id}", sort_time(happened)),
    )
}

/// The key of a heartbeat's state: `HEARTBEAT#<name>`, `HEARTBEAT_STATE`.
pub fn heartbeat_key(name: &str) -> Key {
    Key::new(format!("{HEARTBEAT}{name}"), HEARTBEAT_STATE)
}

/// The key of an incident's post-mortem: `INCIDENT#<id>`, `POSTMORTEM`.
pub fn postmortem_key(incident: &str) -> Key {
    Key::new(incident_partition(incident), POSTMORTEM)
}

/// The key of a post-mortem action item: `INCIDENT#<id>`, `ACTION_ITEM#<item id>`.
pub fn action_item_key(incident: &str, item: &str) -> Key {
    Key::new(incident_partition(incident), format!("{ACTION_ITEM}{item}"))
}

/// The `gsi1` sort key of an open action item: `<due>#<incident id>#<item id>`, where `<due>`
/// is the due date (`2026-04-01`) or `9999-12-31` for an undated item, so the soonest due
/// come first and undated ones last.
pub fn open_action_items_sort(
    due: Option<chrono::NaiveDate>,
    incident: &str,
    item: &str,
) -> String {
    let due = due.map_or_else(
        || "9999-12-31".to_owned(),
        |d| d.format("%Y-%m-%d").to_string(),
    );
    format!("{due}#{incident}#{item}")
}

/// The `gsi2` sort key of an action item in the list of all: `<created>#<incident id>#<item id>`.
pub fn action_items_sort(created: Instant, incident: &str, item: &str) -> String {
    format!("{}#{incident}#{item}", sort_time(created))
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
