//! Matchers shared by grouping rules, routing rules and maintenance windows.
//!
//! A label matcher is written in config as:
//! - `"value"`: the label equals `value` exactly;
//! - `"*"`: the label is present, with any value;
//! - `{ regex: "pattern" }`: the label is present and the whole value matches `pattern`
//!   (anchored: `api-.*` matches `api-gateway`, not `my-api-gateway`).
//!
//! A missing label never matches.

use crate::alert::{Alert, Severity};
use crate::ids::IntegrationName;
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A regular expression matched against a whole value. Compared by its source text.
#[derive(Debug, Clone)]
pub struct FullRegex {
    source: String,
    compiled: Regex,
}

impl FullRegex {
    /// Compiles `pattern`, anchored at both ends.
    pub fn new(pattern: &str) -> Result<Self, regex::Error> {
        let compiled = Regex::new(&format!("^(?:{pattern})$"))?;
        Ok(Self {
            source: pattern.to_string(),
            compiled,
        })
    }
    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }
    /// Whether the whole of `value` matches.
    pub fn is_match(&self, value: &str) -> bool {
        self.compiled.is_match(value)
    }
}

impl PartialEq for FullRegex {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}
impl Eq for FullRegex {}

impl Serialize for FullRegex {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.source)
    }
}

impl<'de> Deserialize<'de> for FullRegex {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let source = String::deserialize(deserializer)?;
        FullRegex::new(&source).map_err(serde::de::Error::custom)
    }
}

/// A regular expression searched anywhere in a value (unanchored). Compared by its source text.
#[derive(Debug, Clone)]
pub struct SearchRegex(Regex);

impl SearchRegex {
    /// Compiles `pattern` (unanchored).
    pub fn new(pattern: &str) -> Result<Self, regex::Error> {
        Regex::new(pattern).map(Self)
    }
    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
    /// Whether `value` contains a match.
    pub fn is_match(&self, value: &str) -> bool {
        self.0.is_match(value)
    }
}

impl PartialEq for SearchRegex {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}
impl Eq for SearchRegex {}

impl Serialize for SearchRegex {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SearchRegex {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let source = String::deserialize(deserializer)?;
        SearchRegex::new(&source).map_err(serde::de::Error::custom)
    }
}

/// How one label value is matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueMatcher {
    /// Equal to this text.
    Exact(String),
    /// Present with any value (`"*"`).
    Any,
    /// Present and matching the anchored regex.
    Regex(FullRegex),
}

impl ValueMatcher {
    /// Whether a (possibly missing) value matches.
    pub fn matches(&self, value: Option<&str>) -> bool {
        match (self, value) {
            (_, None) => false,
            (ValueMatcher::Exact(expected), Some(v)) => expected == v,
            (ValueMatcher::Any, Some(_)) => true,
            (ValueMatcher::Regex(re), Some(v)) => re.is_match(v),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum ValueMatcherRepr {
    Text(String),
    Regex { regex: FullRegex },
}

impl Serialize for ValueMatcher {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ValueMatcher::Exact(v) => ValueMatcherRepr::Text(v.clone()),
            ValueMatcher::Any => ValueMatcherRepr::Text("*".into()),
            ValueMatcher::Regex(re) => ValueMatcherRepr::Regex { regex: re.clone() },
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ValueMatcher {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match ValueMatcherRepr::deserialize(deserializer)? {
            ValueMatcherRepr::Text(t) if t == "*" => ValueMatcher::Any,
            ValueMatcherRepr::Text(t) => ValueMatcher::Exact(t),
            ValueMatcherRepr::Regex { regex } => ValueMatcher::Regex(regex),
        })
    }
}

/// A set of label matchers: all must match (an empty set matches everything).
pub type LabelMatchers = BTreeMap<String, ValueMatcher>;

/// Whether every matcher in `matchers` matches `labels`.
pub fn labels_match(matchers: &LabelMatchers, labels: &BTreeMap<String, String>) -> bool {
    matchers
        .iter()
        .all(|(key, m)| m.matches(labels.get(key).map(String::as_str)))
}

/// A matcher over a whole alert, used by routing rules and maintenance windows. Every field that
/// is set must match; fields left out match anything.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertMatcher {
    /// The alert came from one of these integrations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub integrations: Vec<IntegrationName>,
    /// The alert's source matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ValueMatcher>,
    /// The alert's severity is one of these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub severities: Vec<Severity>,
    /// Every label matcher matches.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: LabelMatchers,
    /// The summary contains a match of this (unanchored) regex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<SearchRegex>,
}

impl AlertMatcher {
    /// Whether `alert` matches (with `severity` as the effective severity).
    pub fn matches(&self, alert: &Alert) -> bool {
        self.matches_parts(
            &alert.integration,
            alert.source.as_deref(),
            alert.severity,
            &alert.labels,
            &alert.summary,
        )
    }

    /// Whether the given alert fields match; lets callers match incidents' stored routing
    /// context without rebuilding an [`Alert`].
    pub fn matches_parts(
        &self,
        integration: &IntegrationName,
        source: Option<&str>,
        severity: Severity,
        labels: &BTreeMap<String, String>,
        summary: &str,
    ) -> bool {
        (self.integrations.is_empty() || self.integrations.contains(integration))
            && self.source.as_ref().is_none_or(|m| m.matches(source))
            && (self.severities.is_empty() || self.severities.contains(&severity))
            && labels_match(&self.labels, labels)
            && self.summary.as_ref().is_none_or(|re| re.is_match(summary))
    }
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
    fn exact_any_and_regex() {
        let l = labels(&[("service", "api-gateway"), ("env", "prod")]);
        assert!(ValueMatcher::Exact("prod".into()).matches(l.get("env").map(String::as_str)));
        assert!(ValueMatcher::Any.matches(Some("")));
        assert!(!ValueMatcher::Any.matches(None));
        let re = ValueMatcher::Regex(FullRegex::new("api-.*").unwrap());
        assert!(re.matches(Some("api-gateway")));
        assert!(!re.matches(Some("my-api-gateway")), "regex is anchored");
    }

    /// The alert every case in [`alert_matcher_fields`] is matched against.
    struct Parts {
        integration: IntegrationName,
        source: Option<&'static str>,
        severity: Severity,
        labels: BTreeMap<String, String>,
        summary: &'static str,
    }

    impl Parts {
        fn new() -> Self {
            Parts {
                integration: IntegrationName::new("alertmanager-prod").unwrap(),
                source: Some("db-primary-2:9100"),
                severity: Severity::Error,
                labels: labels(&[("service", "postgres"), ("env", "prod")]),
                summary: "Replication lag 340s on db-primary-2",
            }
        }

        fn matched_by(&self, matcher: &AlertMatcher) -> bool {
            matcher.matches_parts(
                &self.integration,
                self.source,
                self.severity,
                &self.labels,
                self.summary,
            )
        }
    }

    fn integrations(names: &[&str]) -> AlertMatcher {
        AlertMatcher {
            integrations: names
                .iter()
                .map(|n| IntegrationName::new(*n).unwrap())
                .collect(),
            ..AlertMatcher::default()
        }
    }

    fn severities(list: &[Severity]) -> AlertMatcher {
        AlertMatcher {
            severities: list.to_vec(),
            ..AlertMatcher::default()
        }
    }

    fn summary(pattern: &str) -> AlertMatcher {
        AlertMatcher {
            summary: Some(SearchRegex::new(pattern).unwrap()),
            ..AlertMatcher::default()
        }
    }

    fn source(matcher: ValueMatcher) -> AlertMatcher {
        AlertMatcher {
            source: Some(matcher),
            ..AlertMatcher::default()
        }
    }

    fn source_regex(pattern: &str) -> AlertMatcher {
        source(ValueMatcher::Regex(FullRegex::new(pattern).unwrap()))
    }

    /// One field at a time: (case name, matcher, whether it matches `Parts::new()`).
    fn field_cases() -> Vec<(&'static str, AlertMatcher, bool)> {
        let exact = |text: &str| source(ValueMatcher::Exact(text.into()));
        vec![
            (
                "empty matcher matches anything",
                AlertMatcher::default(),
                true,
            ),
            // integrations: any listed one matches; unlisted never does.
            (
                "integration listed",
                integrations(&["alertmanager-prod"]),
                true,
            ),
            (
                "integration among several",
                integrations(&["grafana", "alertmanager-prod"]),
                true,
            ),
            ("integration not listed", integrations(&["grafana"]), false),
            (
                "integration name is not a prefix match",
                integrations(&["alertmanager"]),
                false,
            ),
            // severities: the alert's severity must be one of the list.
            ("severity listed", severities(&[Severity::Error]), true),
            (
                "severity among several",
                severities(&[Severity::Critical, Severity::Error]),
                true,
            ),
            (
                "severity not listed (no ordering implied)",
                severities(&[Severity::Critical, Severity::Warning]),
                false,
            ),
            // summary: unanchored search.
            ("summary substring", summary("lag [0-9]+s"), true),
            ("summary match in the middle", summary("340s on"), true),
            (
                "summary anchored by the pattern itself",
                summary("^Replication"),
                true,
            ),
            ("summary no match", summary("disk full"), false),
            ("summary anchor that does not hold", summary("^lag"), false),
            ("summary is case-sensitive", summary("replication"), false),
            // source: exact, any, anchored regex.
            ("source exact", exact("db-primary-2:9100"), true),
            ("source exact differs", exact("db-primary-2"), false),
            ("source any", source(ValueMatcher::Any), true),
            (
                "source regex whole value",
                source_regex("db-primary-[0-9]+:.*"),
                true,
            ),
            (
                "source regex is anchored",
                source_regex("db-primary-[0-9]+"),
                false,
            ),
        ]
    }

    #[test]
    fn alert_matcher_fields() {
        let exact = |text: &str| source(ValueMatcher::Exact(text.into()));
        let cases = field_cases();
        let alert = Parts::new();
        for (name, matcher, expected) in &cases {
            assert_eq!(alert.matched_by(matcher), *expected, "{name}");
        }

        // Without a source, no source matcher matches, not even `*`; leaving it out still does.
        let sourceless = Parts {
            source: None,
            ..Parts::new()
        };
        for matcher in [
            exact("db-primary-2:9100"),
            source(ValueMatcher::Any),
            source_regex(".*"),
        ] {
            assert!(!sourceless.matched_by(&matcher), "{matcher:?}");
        }
        assert!(sourceless.matched_by(&AlertMatcher::default()));

        // Every field that is set must match: one failing field fails the whole matcher.
        let mut all = AlertMatcher {
            integrations: integrations(&["alertmanager-prod"]).integrations,
            source: Some(ValueMatcher::Any),
            severities: vec![Severity::Error],
            labels: [("env".to_string(), ValueMatcher::Exact("prod".into()))].into(),
            summary: Some(SearchRegex::new("lag").unwrap()),
        };
        assert!(alert.matched_by(&all));
        all.severities = vec![Severity::Critical];
        assert!(!alert.matched_by(&all));
    }

    #[test]
    fn matchers_deserialize_from_config_shapes() {
        let m: LabelMatchers =
            serde_json::from_str(r#"{"a":"x","b":"*","c":{"regex":"v[0-9]+"}}"#).unwrap();
        assert_eq!(m["a"], ValueMatcher::Exact("x".into()));
        assert_eq!(m["b"], ValueMatcher::Any);
        assert!(matches!(&m["c"], ValueMatcher::Regex(r) if r.as_str() == "v[0-9]+"));
        assert!(serde_json::from_str::<LabelMatchers>(r#"{"c":{"regex":"("}}"#).is_err());
    }
}
