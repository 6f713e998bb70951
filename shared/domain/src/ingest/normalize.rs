//! Rules shared by every format: severity words, defaults, summaries, dedup keys.

use super::IntegrationDefaults;
use super::json::Errors;
use crate::alert::{Link, LinkKind, Severity};
use crate::ids::DedupKey;
use serde_json::Value;
use std::collections::BTreeMap;

/// The severity used when neither the payload nor the integration's defaults give one.
pub const FALLBACK_SEVERITY: Severity = Severity::Warning;

/// The longest summary Klaxon keeps (PagerDuty's limit). Formats with an explicit summary field
/// reject longer ones; summaries derived from annotations are cut to this length.
pub const MAX_SUMMARY_CHARS: usize = 1024;

/// Maps a free-form severity word (Alertmanager and Grafana `severity` labels) to a severity,
/// case-insensitively. `None` for words it does not know, so the integration default applies.
///
/// | words | severity |
/// |---|---|
/// | `critical`, `crit`, `page`, `fatal`, `emergency`, `p1` | critical |
/// | `error`, `err`, `high`, `major`, `p2` | error |
/// | `warning`, `warn`, `medium`, `minor`, `p3` | warning |
/// | `info`, `informational`, `notice`, `low`, `none`, `p4`, `p5` | info |
pub fn severity_from_label(value: &str) -> Option<Severity> {
    match value.trim().to_ascii_lowercase().as_str() {
        "critical" | "crit" | "page" | "fatal" | "emergency" | "p1" => Some(Severity::Critical),
        "error" | "err" | "high" | "major" | "p2" => Some(Severity::Error),
        "warning" | "warn" | "medium" | "minor" | "p3" => Some(Severity::Warning),
        "info" | "informational" | "notice" | "low" | "none" | "p4" | "p5" => Some(Severity::Info),
        _ => None,
    }
}

/// The payload's severity, else the integration default, else [`FALLBACK_SEVERITY`].
pub(crate) fn severity_or_default(
    found: Option<Severity>,
    defaults: &IntegrationDefaults,
) -> Severity {
    found.or(defaults.severity).unwrap_or(FALLBACK_SEVERITY)
}

/// The payload's source, else the integration default.
pub(crate) fn source_or_default(
    found: Option<&str>,
    defaults: &IntegrationDefaults,
) -> Option<String> {
    found
        .filter(|source| !source.trim().is_empty())
        .map(str::to_string)
        .or_else(|| defaults.source.clone())
}

/// The integration's default labels overlaid with the payload's (the payload wins).
pub(crate) fn merge_labels(
    defaults: &IntegrationDefaults,
    payload: BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut labels = defaults.labels.clone();
    labels.extend(payload);
    labels
}

/// Cuts a derived summary to [`MAX_SUMMARY_CHARS`] characters, on a character boundary.
pub(crate) fn truncate_summary(text: &str) -> String {
    let trimmed = text.trim();
    match trimmed.char_indices().nth(MAX_SUMMARY_CHARS) {
        None => trimmed.to_string(),
        Some((cut, _)) => {
            // Leave room for the ellipsis so the result stays within the limit.
            let keep = trimmed
                .char_indices()
                .nth(MAX_SUMMARY_CHARS - 1)
                .map_or(cut, |(index, _)| index);
            format!("{}…", &trimmed[..keep])
        }
    }
}

/// Records an error unless `text` has at most `max` characters.
pub(crate) fn check_max_chars(text: &str, max: usize, path: &str, errors: &mut Errors) -> bool {
    let count = text.chars().count();
    if count > max {
        errors.push(
            path,
            format!("must be at most {max} characters (got {count})"),
        );
        false
    } else {
        true
    }
}

/// Validates `text` as a dedup key, recording an error at `path` if it is not one.
pub(crate) fn dedup_key(text: &str, path: &str, errors: &mut Errors) -> Option<DedupKey> {
    match DedupKey::new(text) {
        Ok(key) => Some(key),
        Err(error) => {
            errors.push(path, error.to_string());
            None
        }
    }
}

/// Whether `text` is an absolute `http` or `https` URL. Links are shown to responders in email,
/// chat and the web UI, so other schemes (`javascript:`, `file:`) are never kept.
pub(crate) fn is_web_url(text: &str) -> bool {
    let lower = text.trim_start().to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    rest.is_some_and(|host| !host.is_empty() && !text.chars().any(char::is_whitespace))
}

/// A link if `href` is a web URL, else nothing (for links derived from optional fields).
pub(crate) fn web_link(href: Option<&str>, text: &str, kind: LinkKind) -> Option<Link> {
    href.filter(|href| is_web_url(href)).map(|href| Link {
        href: href.to_string(),
        text: Some(text.to_string()),
        kind,
    })
}

/// A JSON scalar as annotation text: strings as they are, everything else as compact JSON.
pub(crate) fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Flattens a JSON object into dotted annotation keys: `{"db": {"host": "a"}}` becomes
/// `db.host = a`. Arrays and scalars become text; `null` is skipped.
pub(crate) fn flatten_into(prefix: &str, value: &Value, out: &mut BTreeMap<String, String>) {
    match value {
        Value::Null => {}
        Value::Object(map) => {
            for (key, nested) in map {
                let name = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten_into(&name, nested, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), value_text(other));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn severity_words_map_case_insensitively_and_unknown_words_fall_through() {
        assert_eq!(severity_from_label("CRITICAL"), Some(Severity::Critical));
        assert_eq!(severity_from_label("page"), Some(Severity::Critical));
        assert_eq!(severity_from_label("warn"), Some(Severity::Warning));
        assert_eq!(severity_from_label("none"), Some(Severity::Info));
        assert_eq!(severity_from_label("error"), Some(Severity::Error));
        assert_eq!(severity_from_label("sev-banana"), None);
    }

    #[test]
    fn defaults_fill_gaps_but_payload_wins() {
        let defaults = IntegrationDefaults {
            severity: Some(Severity::Error),
            source: Some("default-source".into()),
            labels: BTreeMap::from([
                ("team".to_string(), "infra".to_string()),
                ("env".to_string(), "prod".to_string()),
            ]),
            ..IntegrationDefaults::default()
        };
        assert_eq!(severity_or_default(None, &defaults), Severity::Error);
        assert_eq!(
            severity_or_default(Some(Severity::Info), &defaults),
            Severity::Info
        );
        assert_eq!(
            severity_or_default(None, &IntegrationDefaults::default()),
            FALLBACK_SEVERITY
        );
        assert_eq!(
            source_or_default(None, &defaults).as_deref(),
            Some("default-source")
        );
        assert_eq!(
            source_or_default(Some("host-1"), &defaults).as_deref(),
            Some("host-1")
        );
        let labels = merge_labels(
            &defaults,
            BTreeMap::from([("env".to_string(), "staging".to_string())]),
        );
        assert_eq!(labels["env"], "staging");
        assert_eq!(labels["team"], "infra");
    }

    #[test]
    fn long_derived_summaries_are_cut_to_the_limit() {
        let long = "é".repeat(MAX_SUMMARY_CHARS + 10);
        let cut = truncate_summary(&long);
        assert_eq!(cut.chars().count(), MAX_SUMMARY_CHARS);
        assert!(cut.ends_with('…'));
        assert_eq!(truncate_summary("  short  "), "short");
        let exact = "a".repeat(MAX_SUMMARY_CHARS);
        assert_eq!(truncate_summary(&exact), exact);
    }

    #[test]
    fn only_http_and_https_urls_become_links() {
        assert!(is_web_url("https://grafana.example.com/d/abc"));
        assert!(is_web_url("HTTP://example.com"));
        assert!(!is_web_url("javascript:alert(1)"));
        assert!(!is_web_url("https://"));
        assert!(!is_web_url("https://exa mple.com"));
        assert!(web_link(Some("ftp://x"), "x", LinkKind::Link).is_none());
    }

    #[test]
    fn nested_details_flatten_to_dotted_keys() {
        let mut out = BTreeMap::new();
        flatten_into(
            "",
            &json!({"free space": "1%", "load": 0.75, "db": {"host": "a", "ports": [1, 2]}, "gone": null}),
            &mut out,
        );
        assert_eq!(out["free space"], "1%");
        assert_eq!(out["load"], "0.75");
        assert_eq!(out["db.host"], "a");
        assert_eq!(out["db.ports"], "[1,2]");
        assert!(!out.contains_key("gone"));
    }
}
