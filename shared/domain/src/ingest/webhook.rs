//! The alert-group webhook shape Alertmanager (version 4) and Grafana (version 1) share: a
//! group with `groupKey`, `status`, common labels, and `alerts[]`, each with its own status,
//! labels, annotations, times and fingerprint. Grafana adds URLs and values per alert.

use super::json::{Errors, Located, Obj, item, parse_body};
use super::normalize::{
    dedup_key, merge_labels, severity_from_label, severity_or_default, source_or_default,
    truncate_summary, value_text, web_link,
};
use super::time::is_zero_time;
use super::{IngestError, ParseContext};
use crate::Instant;
use crate::alert::{Alert, AlertEvent, AlertStatus, Link, LinkKind};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Which sender's dialect a body is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    Alertmanager,
    Grafana,
}

impl Flavor {
    fn version(self) -> &'static str {
        match self {
            Flavor::Alertmanager => "4",
            Flavor::Grafana => "1",
        }
    }

    fn generator_text(self) -> &'static str {
        match self {
            Flavor::Alertmanager => "Source",
            Flavor::Grafana => "Alert rule",
        }
    }
}

/// Parses a group webhook into one event per alert, in order.
pub(crate) fn parse(
    body: &[u8],
    ctx: &ParseContext<'_>,
    flavor: Flavor,
) -> Result<Vec<AlertEvent>, IngestError> {
    let value = parse_body(body)?;
    let mut errors = Errors::default();
    let Some(root) = Located::new(&value, String::new(), &mut errors) else {
        return Err(errors.into_error());
    };
    let group = root.obj();

    check_version(group, flavor, &mut errors);
    check_status(group, "status", &mut errors);
    let group_hint = group
        .non_empty_str("groupKey", &mut errors)
        .map(str::to_string);
    // Fields Klaxon does not use are still type-checked: a wrong type means the sender is not
    // speaking this format, and saying so beats a confusing error later.
    group.str("receiver", &mut errors);
    group.string_map("groupLabels", &mut errors);
    group.string_map("commonLabels", &mut errors);
    group.string_map("commonAnnotations", &mut errors);
    group.str("externalURL", &mut errors);
    group.unsigned("truncatedAlerts", &mut errors);
    if flavor == Flavor::Grafana {
        group.integer("orgId", &mut errors);
        group.str("title", &mut errors);
        group.str("state", &mut errors);
        group.str("message", &mut errors);
    }

    let mut events = Vec::new();
    if let Some(alerts) = group.required_array("alerts", &mut errors) {
        if alerts.is_empty() {
            errors.push("alerts", "must contain at least one alert");
        }
        for (index, alert) in alerts.iter().enumerate() {
            let path = item("alerts", index);
            if let Some(event) = parse_alert(alert, path, &group_hint, ctx, flavor, &mut errors) {
                events.push(event);
            }
        }
    }
    errors.into_result(events)
}

fn check_version(group: Obj<'_>, flavor: Flavor, errors: &mut Errors) {
    let expected = flavor.version();
    match group.get("version") {
        None => errors.missing("version"),
        Some(Value::String(version)) if version == expected => {}
        Some(Value::String(_)) => errors.push("version", format!("must be \"{expected}\"")),
        Some(other) => errors.wrong_type("version", "a string", other),
    }
}

fn check_status(obj: Obj<'_>, key: &str, errors: &mut Errors) -> Option<AlertStatus> {
    match obj.str(key, errors)? {
        "firing" => Some(AlertStatus::Firing),
        "resolved" => Some(AlertStatus::Resolved),
        _ => {
            errors.push(&obj.at(key), "must be one of: firing, resolved");
            None
        }
    }
}

/// Grafana's per-alert extras.
#[derive(Default)]
struct GrafanaExtras<'a> {
    silence_url: Option<&'a str>,
    dashboard_url: Option<&'a str>,
    panel_url: Option<&'a str>,
    image_url: Option<&'a str>,
    values: BTreeMap<String, String>,
}

fn grafana_extras<'a>(obj: Obj<'a>, errors: &mut Errors) -> GrafanaExtras<'a> {
    let mut values = BTreeMap::new();
    if let Some(located) = obj.object("values", errors) {
        for (name, value) in located.map {
            if !value.is_null() {
                values.insert(format!("value.{name}"), value_text(value));
            }
        }
    }
    obj.str("valueString", errors);
    GrafanaExtras {
        silence_url: obj.non_empty_str("silenceURL", errors),
        dashboard_url: obj.non_empty_str("dashboardURL", errors),
        panel_url: obj.non_empty_str("panelURL", errors),
        image_url: obj.non_empty_str("imageURL", errors),
        values,
    }
}

fn parse_alert(
    value: &Value,
    path: String,
    group_hint: &Option<String>,
    ctx: &ParseContext<'_>,
    flavor: Flavor,
    errors: &mut Errors,
) -> Option<AlertEvent> {
    let errors_before = errors.len();
    let located = Located::new(value, path, errors)?;
    let obj = located.obj();

    if obj.get("status").is_none() {
        errors.missing(&obj.at("status"));
    }
    let status = check_status(obj, "status", errors);
    if obj.get("labels").is_none() {
        errors.missing(&obj.at("labels"));
    }
    let labels = obj.string_map("labels", errors);
    let mut annotations = obj.string_map("annotations", errors);
    let starts_at = non_zero(obj.timestamp("startsAt", errors));
    let ends_at = non_zero(obj.timestamp("endsAt", errors));
    let generator_url = obj.non_empty_str("generatorURL", errors);
    let fingerprint = obj.non_empty_str("fingerprint", errors);
    let extras = match flavor {
        Flavor::Grafana => grafana_extras(obj, errors),
        Flavor::Alertmanager => GrafanaExtras::default(),
    };
    let key = match fingerprint {
        Some(fingerprint) => dedup_key(fingerprint, &obj.at("fingerprint"), errors),
        None => dedup_key(&fingerprint_of_labels(&labels), &obj.at("labels"), errors),
    };
    if errors.len() > errors_before {
        return None;
    }
    let (status, key) = (status?, key?);

    let severity = labels
        .get("severity")
        .and_then(|word| severity_from_label(word));
    // The first of these that is not blank: a blank `summary` must not hide `description`.
    let summary = ["summary", "description"]
        .iter()
        .filter_map(|name| annotations.get(*name))
        .chain(labels.get("alertname"))
        .find(|text| !text.trim().is_empty())
        .map_or_else(|| key.as_str().to_string(), |text| truncate_summary(text));
    let source = labels
        .get("instance")
        .or_else(|| labels.get("job"))
        .map(String::as_str);

    let mut links: Vec<Link> = Vec::new();
    links.extend(web_link(
        generator_url,
        flavor.generator_text(),
        LinkKind::Link,
    ));
    links.extend(web_link(
        annotations.get("runbook_url").map(String::as_str),
        "Runbook",
        LinkKind::Link,
    ));
    links.extend(web_link(extras.dashboard_url, "Dashboard", LinkKind::Link));
    links.extend(web_link(extras.panel_url, "Panel", LinkKind::Link));
    links.extend(web_link(extras.silence_url, "Silence", LinkKind::Link));
    links.extend(web_link(extras.image_url, "Alert image", LinkKind::Image));
    annotations.extend(extras.values);

    Some(AlertEvent::Alert(Box::new(Alert {
        integration: ctx.integration.clone(),
        dedup_key: key,
        status,
        severity: severity_or_default(severity, ctx.defaults),
        summary,
        source: source_or_default(source, ctx.defaults),
        labels: merge_labels(ctx.defaults, labels),
        annotations,
        links,
        received_at: ctx.received_at,
        started_at: starts_at,
        // A firing alert's `endsAt` is only Alertmanager's resolve timeout, not an end.
        ended_at: ends_at.filter(|_| status == AlertStatus::Resolved),
        group_hint: group_hint.clone(),
        raw: value.clone(),
    })))
}

fn non_zero(instant: Option<Instant>) -> Option<Instant> {
    instant.filter(|instant| !is_zero_time(instant))
}

/// The dedup key text for an alert without `fingerprint` (Alertmanager before 0.19): a hash of
/// its labels, which is what the fingerprint identifies. `labels-` and 16 hex digits of SHA-256
/// over each label name and value in name order, each length-prefixed so that no two label sets
/// give the same byte stream (`{a: "b\nc=d"}` is not `{a: "b", c: "d"}`).
pub(crate) fn fingerprint_of_labels(labels: &BTreeMap<String, String>) -> String {
    let mut hasher = Sha256::new();
    for (name, value) in labels {
        push_part(&mut hasher, name.as_bytes());
        push_part(&mut hasher, value.as_bytes());
    }
    let digest = hex::encode(hasher.finalize());
    format!("labels-{}", digest.get(..16).unwrap_or(&digest))
}

/// Feeds one variable-length part: its length as 8 big-endian bytes, then its bytes.
fn push_part(hasher: &mut Sha256, bytes: &[u8]) {
    hasher.update((bytes.len() as u64).to_be_bytes());
    hasher.update(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn label_fingerprints_cannot_collide_by_concatenation() {
        // With `name=value\n` lines these two hashed the same bytes.
        assert_ne!(
            fingerprint_of_labels(&labels(&[("a", "b\nc=d")])),
            fingerprint_of_labels(&labels(&[("a", "b"), ("c", "d")]))
        );
        // Moving text between a name and its value, or between two labels, changes the key.
        assert_ne!(
            fingerprint_of_labels(&labels(&[("ab", "c")])),
            fingerprint_of_labels(&labels(&[("a", "bc")]))
        );
        assert_ne!(
            fingerprint_of_labels(&labels(&[("a", "xy"), ("b", "")])),
            fingerprint_of_labels(&labels(&[("a", "x"), ("b", "y")]))
        );
        assert_ne!(
            fingerprint_of_labels(&labels(&[])),
            fingerprint_of_labels(&labels(&[("", "")]))
        );
    }

    #[test]
    fn label_fingerprint_is_stable_and_short() {
        let set = labels(&[("alertname", "DiskFull"), ("instance", "db-1:9100")]);
        let key = fingerprint_of_labels(&set);
        assert_eq!(key, fingerprint_of_labels(&set.clone()));
        let digits = key.strip_prefix("labels-").unwrap();
        assert_eq!(digits.len(), 16);
        assert!(digits.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
