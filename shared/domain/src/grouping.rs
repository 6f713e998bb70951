//! Grouping rules: which open incident a new alert joins.
//!
//! Rules are tried in ascending `priority`; rules with equal priority are tried in the order they
//! appear in the file. The first rule whose `match` matches the alert decides its group:
//!
//! - the group key is the hex SHA-256 of the rule id, the alert's integration (unless
//!   `cross_source` is true) and, for each `group_by` label key in sorted order, the key and the
//!   alert's value for it. Every variable part is length-prefixed and a missing label is encoded
//!   differently from an empty one, so different inputs can never produce the same byte stream;
//! - the window is the rule's `window` (or the default window): how long after an incident
//!   opened new alerts of the same group still join it.
//!
//! When no rule matches, the alert's `group_hint` (Alertmanager/Grafana `groupKey`) groups it
//! with the rest of the sender's group, per integration; without a hint each alert is its own
//! group (keyed by integration and dedup key). Both use the default window, 24 hours unless
//! `grouping.default_window` says otherwise.

use crate::alert::Alert;
use crate::duration::HumanDuration;
use crate::ids::{GroupKey, IntegrationName, RuleId};
use crate::matcher::{LabelMatchers, labels_match};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The window used when no rule matches, or a matching rule sets none: 24 hours.
pub const DEFAULT_GROUP_WINDOW: HumanDuration = HumanDuration::from_secs(24 * 3_600);

/// Version tag hashed first, so a future change of the encoding cannot reuse old keys.
const KEY_DOMAIN: &[u8] = b"klaxon.group-key.v1";

/// Which alerts a grouping rule applies to. Every field that is set must match.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupingMatch {
    /// The alert came from one of these integrations (empty: any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub integrations: Vec<IntegrationName>,
    /// Every label matcher matches (exact text, `"*"`, or `{ regex: ... }`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: LabelMatchers,
}

impl GroupingMatch {
    /// Whether `alert` matches.
    pub fn matches(&self, alert: &Alert) -> bool {
        (self.integrations.is_empty() || self.integrations.contains(&alert.integration))
            && labels_match(&self.labels, &alert.labels)
    }
}

/// A grouping rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupingRule {
    /// Identifier; part of the group key, so renaming a rule starts new groups.
    pub id: RuleId,
    /// Lower numbers are tried first; ties keep file order.
    pub priority: u32,
    /// Which alerts the rule applies to (left out: every alert).
    #[serde(rename = "match", default)]
    pub matcher: GroupingMatch,
    /// Label keys whose values form the group (order does not matter). Empty: every alert the
    /// rule matches (per integration, unless `cross_source`) joins one incident.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_by: Vec<String>,
    /// How long after the incident opened new alerts still join it (default: the default window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<HumanDuration>,
    /// When true, the integration is left out of the key: alerts from different integrations
    /// with the same `group_by` values join one incident.
    #[serde(default)]
    pub cross_source: bool,
}

/// The `grouping` section of the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupingConfig {
    /// The window for alerts no rule matches and for rules that set no window.
    #[serde(default = "default_window")]
    pub default_window: HumanDuration,
    /// The rules, in file order.
    #[serde(default)]
    pub rules: Vec<GroupingRule>,
}

fn default_window() -> HumanDuration {
    DEFAULT_GROUP_WINDOW
}

impl Default for GroupingConfig {
    fn default() -> Self {
        Self {
            default_window: DEFAULT_GROUP_WINDOW,
            rules: Vec::new(),
        }
    }
}

impl GroupingConfig {
    /// Groups `alert` with these rules and this default window.
    pub fn group(&self, alert: &Alert) -> Grouping {
        group(alert, &self.rules, self.default_window)
    }
}

/// How an alert was grouped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grouping {
    /// The group key: alerts with the same key join the same open incident.
    pub key: GroupKey,
    /// The rule that matched, or `None` for the default grouping.
    pub rule: Option<RuleId>,
    /// How long after the incident opened new alerts of this group still join it.
    pub window: HumanDuration,
}

/// Rules in the order they are tried: ascending priority, ties in slice (file) order.
pub(crate) fn in_priority_order<T>(rules: &[T], priority: impl Fn(&T) -> u32) -> Vec<&T> {
    let mut ordered: Vec<&T> = rules.iter().collect();
    // `sort_by_key` is stable, which is what keeps ties in file order.
    ordered.sort_by_key(|rule| priority(rule));
    ordered
}

/// Groups `alert`: the first matching rule (ascending priority, ties in slice order) decides;
/// without one, the default grouping described in the module docs applies.
pub fn group(alert: &Alert, rules: &[GroupingRule], default_window: HumanDuration) -> Grouping {
    let matched = in_priority_order(rules, |rule| rule.priority)
        .into_iter()
        .find(|rule| rule.matcher.matches(alert));
    match matched {
        Some(rule) => Grouping {
            key: rule_key(rule, alert),
            rule: Some(rule.id.clone()),
            window: rule.window.unwrap_or(default_window),
        },
        None => Grouping {
            key: default_key(alert),
            rule: None,
            window: default_window,
        },
    }
}

/// Feeds one variable-length field: its length as 8 big-endian bytes, then its bytes.
fn push_field(hasher: &mut Sha256, bytes: &[u8]) {
    hasher.update((bytes.len() as u64).to_be_bytes());
    hasher.update(bytes);
}

fn finish(hasher: Sha256) -> GroupKey {
    GroupKey(hex::encode(hasher.finalize()))
}

fn rule_key(rule: &GroupingRule, alert: &Alert) -> GroupKey {
    let mut hasher = Sha256::new();
    push_field(&mut hasher, KEY_DOMAIN);
    push_field(&mut hasher, b"rule");
    push_field(&mut hasher, rule.id.as_str().as_bytes());
    if rule.cross_source {
        push_field(&mut hasher, b"any-integration");
    } else {
        push_field(&mut hasher, b"integration");
        push_field(&mut hasher, alert.integration.as_str().as_bytes());
    }
    let mut keys: Vec<&str> = rule.group_by.iter().map(String::as_str).collect();
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        push_field(&mut hasher, key.as_bytes());
        match alert.labels.get(key) {
            Some(value) => {
                hasher.update([1]);
                push_field(&mut hasher, value.as_bytes());
            }
            None => hasher.update([0]),
        }
    }
    finish(hasher)
}

fn default_key(alert: &Alert) -> GroupKey {
    let mut hasher = Sha256::new();
    push_field(&mut hasher, KEY_DOMAIN);
    match &alert.group_hint {
        Some(hint) => {
            push_field(&mut hasher, b"sender-group");
            push_field(&mut hasher, alert.integration.as_str().as_bytes());
            push_field(&mut hasher, hint.as_bytes());
        }
        None => {
            push_field(&mut hasher, b"alert");
            push_field(&mut hasher, alert.integration.as_str().as_bytes());
            push_field(&mut hasher, alert.dedup_key.as_str().as_bytes());
        }
    }
    finish(hasher)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{AlertEvent, AlertStatus, Severity};
    use crate::ids::DedupKey;
    use crate::ingest::test_support::Fixture;
    use crate::ingest::{alertmanager, native};
    use crate::matcher::{FullRegex, ValueMatcher};
    use proptest::prelude::*;
    use serde_json::json;

    fn alert(integration: &str, dedup: &str, labels: &[(&str, &str)]) -> Alert {
        Alert {
            integration: IntegrationName::new(integration).unwrap(),
            dedup_key: DedupKey::new(dedup).unwrap(),
            status: AlertStatus::Firing,
            severity: Severity::Error,
            summary: "disk full".into(),
            source: None,
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            annotations: BTreeMap::new(),
            links: Vec::new(),
            received_at: chrono::DateTime::UNIX_EPOCH,
            started_at: None,
            ended_at: None,
            group_hint: None,
            raw: serde_json::Value::Null,
        }
    }

    fn rule(id: &str, priority: u32, group_by: &[&str]) -> GroupingRule {
        GroupingRule {
            id: RuleId::new(id).unwrap(),
            priority,
            matcher: GroupingMatch::default(),
            group_by: group_by.iter().map(|k| k.to_string()).collect(),
            window: None,
            cross_source: false,
        }
    }

    fn key_of(rules: &[GroupingRule], a: &Alert) -> GroupKey {
        group(a, rules, DEFAULT_GROUP_WINDOW).key
    }

    #[test]
    fn lowest_priority_wins_and_ties_keep_file_order() {
        let mut only_db = rule("db", 5, &["cluster"]);
        only_db.matcher.labels.insert(
            "team".into(),
            ValueMatcher::Regex(FullRegex::new("db|data").unwrap()),
        );
        only_db.window = Some(HumanDuration::from_mins(30));
        let rules = vec![
            rule("catch-all-b", 10, &["alertname"]),
            rule("catch-all-a", 10, &["alertname"]),
            only_db,
        ];
        let db = alert("am", "1", &[("team", "db"), ("cluster", "eu")]);
        let g = group(&db, &rules, DEFAULT_GROUP_WINDOW);
        assert_eq!(g.rule.unwrap().as_str(), "db");
        assert_eq!(g.window, HumanDuration::from_mins(30));

        let web = alert("am", "2", &[("team", "web")]);
        let g = group(&web, &rules, DEFAULT_GROUP_WINDOW);
        assert_eq!(g.rule.unwrap().as_str(), "catch-all-b", "tie: file order");
        assert_eq!(g.window, DEFAULT_GROUP_WINDOW, "rule without window");
    }

    #[test]
    fn integration_filter_and_cross_source() {
        let mut per_source = rule("svc", 1, &["service"]);
        per_source.matcher.integrations = vec![
            IntegrationName::new("am").unwrap(),
            IntegrationName::new("grafana").unwrap(),
        ];
        let a = alert("am", "1", &[("service", "api")]);
        let b = alert("grafana", "2", &[("service", "api")]);
        let c = alert("cloudwatch", "3", &[("service", "api")]);
        let rules = vec![per_source.clone()];
        assert_ne!(key_of(&rules, &a), key_of(&rules, &b));
        assert_eq!(group(&c, &rules, DEFAULT_GROUP_WINDOW).rule, None);

        per_source.cross_source = true;
        let rules = vec![per_source];
        assert_eq!(key_of(&rules, &a), key_of(&rules, &b));
    }

    #[test]
    fn default_grouping_uses_sender_group_then_dedup_key() {
        let mut a = alert("am", "a1", &[]);
        let mut b = alert("am", "b2", &[]);
        let g = group(&a, &[], HumanDuration::from_mins(90));
        assert_eq!(g.rule, None);
        assert_eq!(g.window, HumanDuration::from_mins(90));
        assert_ne!(g.key, key_of(&[], &b), "no hint: one group per alert");
        assert_eq!(g.key, key_of(&[], &alert("am", "a1", &[("x", "y")])));

        a.group_hint = Some("{}:{alertname=\"Disk\"}".into());
        b.group_hint = a.group_hint.clone();
        assert_eq!(key_of(&[], &a), key_of(&[], &b), "same sender group");
        let mut other_integration = alert("am2", "a1", &[]);
        other_integration.group_hint = a.group_hint.clone();
        assert_ne!(key_of(&[], &a), key_of(&[], &other_integration));
        // A hint equal to a dedup key does not collide with the no-hint key.
        let mut hinted = alert("am", "a1", &[]);
        hinted.group_hint = Some("a1".into());
        assert_ne!(key_of(&[], &hinted), key_of(&[], &alert("am", "a1", &[])));
    }

    #[test]
    fn keys_are_sha256_hex_and_depend_on_rule_id() {
        let a = alert("am", "1", &[("alertname", "Disk")]);
        let k = key_of(&[rule("r1", 1, &["alertname"])], &a);
        assert_eq!(k.as_str().len(), 64);
        assert!(k.as_str().chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(k, key_of(&[rule("r2", 1, &["alertname"])], &a));
    }

    #[test]
    fn missing_label_differs_from_empty_and_concatenation_cannot_collide() {
        let rules = vec![rule("r", 1, &["a", "b"])];
        let missing = alert("am", "1", &[("a", "x")]);
        let empty = alert("am", "1", &[("a", "x"), ("b", "")]);
        assert_ne!(key_of(&rules, &missing), key_of(&rules, &empty));
        let ab_c = alert("am", "1", &[("a", "ab"), ("b", "c")]);
        let a_bc = alert("am", "1", &[("a", "a"), ("b", "bc")]);
        assert_ne!(key_of(&rules, &ab_c), key_of(&rules, &a_bc));
    }

    fn label_map() -> impl Strategy<Value = Vec<(String, String)>> {
        proptest::collection::vec(("[a-e]{1,2}", "[a-z0-9]{0,3}"), 0..8)
    }

    /// Labels as name/value pairs in a chosen order.
    type LabelList = Vec<(String, String)>;

    /// A JSON object written with its members in exactly the given order.
    fn json_object_in_order(entries: &[(String, String)]) -> String {
        let members: Vec<String> = entries
            .iter()
            .map(|(k, v)| format!("{}:{}", json!(k), json!(v)))
            .collect();
        format!("{{{}}}", members.join(","))
    }

    /// The one alert a native or Alertmanager body parses to.
    fn parsed_alert(events: Vec<AlertEvent>) -> Alert {
        match <[AlertEvent; 1]>::try_from(events) {
            Ok([AlertEvent::Alert(alert)]) => *alert,
            other => panic!("expected one full alert, got {other:?}"),
        }
    }

    /// A native alert whose `labels` member lists `entries` in the given order.
    fn native_with_labels(entries: &[(String, String)]) -> Alert {
        let body = format!(
            r#"{{"dedup_key":"disk-full","summary":"Disk full","labels":{}}}"#,
            json_object_in_order(entries)
        );
        let fixture = Fixture::without_defaults();
        parsed_alert(native::parse(body.as_bytes(), &fixture.ctx()).unwrap())
    }

    /// An Alertmanager alert without `fingerprint` (so its dedup key is derived from the labels)
    /// whose `labels` member lists `entries` in the given order.
    fn alertmanager_with_labels(entries: &[(String, String)]) -> Alert {
        let body = format!(
            r#"{{"version":"4","status":"firing","groupKey":"{{}}:{{}}",
                "alerts":[{{"status":"firing","labels":{}}}]}}"#,
            json_object_in_order(entries)
        );
        let fixture = Fixture::without_defaults();
        parsed_alert(alertmanager::parse(body.as_bytes(), &fixture.ctx()).unwrap())
    }

    /// Labels with distinct names in sorted order, the same labels in a random order, and the
    /// same labels plus labels outside `[a-e]` (never in `group_by`), all in a random order.
    fn labels_sorted_and_permuted() -> impl Strategy<Value = (LabelList, LabelList, LabelList)> {
        (
            proptest::collection::btree_map("[a-e]{1,2}", "[a-z0-9]{0,3}", 0..8),
            proptest::collection::btree_map("[x-z]{1,3}", "[a-z]{0,3}", 0..5),
        )
            .prop_flat_map(|(labels, extra)| {
                let sorted: LabelList = labels.into_iter().collect();
                let mut with_extra = sorted.clone();
                with_extra.extend(extra);
                (
                    Just(sorted.clone()),
                    Just(sorted).prop_shuffle(),
                    Just(with_extra).prop_shuffle(),
                )
            })
    }

    /// `group_by` keys (possibly repeated) and the same keys in a random order.
    fn group_by_and_permuted() -> impl Strategy<Value = (Vec<String>, Vec<String>)> {
        proptest::collection::vec("[a-e]{1,2}", 0..4)
            .prop_flat_map(|keys| (Just(keys.clone()), Just(keys).prop_shuffle()))
    }

    fn rule_by(group_by: &[String]) -> Vec<GroupingRule> {
        vec![rule(
            "r",
            1,
            &group_by.iter().map(String::as_str).collect::<Vec<_>>(),
        )]
    }

    proptest! {
        /// The order a sender writes labels in, the order of `group_by` and labels outside
        /// `group_by` never change the group key: bodies are parsed by the real parsers.
        #[test]
        fn key_ignores_label_order_group_by_order_and_other_labels(
            (sorted, permuted, permuted_with_extra) in labels_sorted_and_permuted(),
            (group_by, group_by_permuted) in group_by_and_permuted(),
        ) {
            let rules = rule_by(&group_by);
            let rules_permuted = rule_by(&group_by_permuted);
            for parse in [native_with_labels, alertmanager_with_labels] {
                let expected = key_of(&rules, &parse(&sorted));
                prop_assert_eq!(&key_of(&rules, &parse(&permuted)), &expected);
                prop_assert_eq!(&key_of(&rules_permuted, &parse(&permuted)), &expected);
                prop_assert_eq!(&key_of(&rules_permuted, &parse(&permuted_with_extra)), &expected);
            }
            // The dedup key Alertmanager alerts without a fingerprint get ignores order too.
            prop_assert_eq!(
                alertmanager_with_labels(&permuted).dedup_key,
                alertmanager_with_labels(&sorted).dedup_key
            );
        }

        #[test]
        fn different_group_by_values_give_different_keys(
            pairs in label_map(),
            group_by in proptest::collection::vec("[a-e]{1,2}", 1..4),
            pick in any::<prop::sample::Index>(),
            new_value in proptest::option::of("[a-z0-9]{0,4}"),
        ) {
            let rules = vec![rule("r", 1, &group_by.iter().map(String::as_str).collect::<Vec<_>>())];
            let mut a = alert("am", "1", &[]);
            a.labels = pairs.into_iter().collect();
            let changed_key = pick.get(&group_by).clone();
            let mut b = a.clone();
            match &new_value {
                Some(v) => { b.labels.insert(changed_key.clone(), v.clone()); }
                None => { b.labels.remove(&changed_key); }
            }
            prop_assume!(a.labels.get(&changed_key) != b.labels.get(&changed_key));
            prop_assert_ne!(key_of(&rules, &a), key_of(&rules, &b));
        }
    }
}
