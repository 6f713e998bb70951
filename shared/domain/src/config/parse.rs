//! From text to a [`Config`], collecting every error.
//!
//! Serde stops at the first error, so the text is first read into a generic JSON value, then
//! each section and each list element is deserialized on its own (with `serde_path_to_error` for
//! the path inside the element). Elements that fail are left out, their errors recorded, and
//! the semantic checks run on the rest; references to an element that failed to parse are not
//! reported again as unknown.

use super::error::{ConfigErrors, ConfigPath, Issues, PathSegment, SECTIONS};
use super::holidays::{HolidayCalendars, NoHolidayCalendars, expand_holiday_calendars};
use super::sections::{GenericWebhook, INTEGRATION_SECRET_FIELDS, Notifications, Settings};
use super::validate::{ListOrigin, Origins, check};
use super::{CONFIG_VERSION, Config};
use crate::duration::HumanDuration;
use crate::grouping::{DEFAULT_GROUP_WINDOW, GroupingConfig};
use crate::matcher::FullRegex;
use crate::routing::{RoutingConfig, RoutingDefaults};
use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde_json::{Map, Value};

/// Reads YAML into a generic value. YAML 1.1 booleans (`yes`, `no`, `on`, `off`) stay text:
/// `country: no` must not become `false`.
pub(crate) fn yaml_value(text: &str) -> Result<Value, ConfigErrors> {
    let options = serde_saphyr::options! {
        strict_booleans: true,
        with_snippet: false,
    };
    serde_saphyr::from_str_with_options::<Value>(text, options)
        .map_err(|e| ConfigErrors::single(ConfigPath::root(), format!("invalid YAML: {e}")))
}

/// Reads JSON into a generic value.
pub(crate) fn json_value(text: &str) -> Result<Value, ConfigErrors> {
    serde_json::from_str::<Value>(text)
        .map_err(|e| ConfigErrors::single(ConfigPath::root(), format!("invalid JSON: {e}")))
}

/// Builds and validates a configuration from a generic value; `holidays_ics` is an error.
pub(crate) fn config_from_value(root: Value) -> Result<Config, ConfigErrors> {
    config_from_value_with(root, &NoHolidayCalendars)
}

/// Builds and validates a configuration from a generic value, reading `holidays_ics` files
/// through `calendars`.
pub(crate) fn config_from_value_with(
    root: Value,
    calendars: &dyn HolidayCalendars,
) -> Result<Config, ConfigErrors> {
    let mut sections = Sections::of(root)?;
    let root = ConfigPath::root();
    let version = sections.value_or("version", CONFIG_VERSION);

    let mut origins = Origins::default();
    let (users, origin) = sections.list("users", "id", no_hook);
    origins.users = origin;
    if let Some(mut schedules) = sections.take("schedules") {
        expand_holiday_calendars(
            &mut schedules,
            &root.key("schedules"),
            calendars,
            &mut sections.issues,
        );
        sections.map.insert("schedules".to_string(), schedules);
    }
    let (schedules, origin) = sections.list("schedules", "id", no_hook);
    origins.schedules = origin;
    let (escalation_policies, origin) = sections.list("escalation_policies", "id", no_hook);
    origins.policies = origin;

    let grouping = parse_grouping(
        sections.take("grouping"),
        &root.key("grouping"),
        &mut sections.issues,
        &mut origins,
    );
    let routing = parse_routing(
        sections.take("routing"),
        &root.key("routing"),
        &mut sections.issues,
        &mut origins,
    );

    let (maintenance_windows, origin) =
        sections.list("maintenance_windows", "id", check_matcher_regexes);
    origins.windows = origin;
    let (integrations, origin) = sections.list("integrations", "name", reject_integration_secrets);
    origins.integrations = origin;
    let (teams, origin) = sections.list("teams", "id", no_hook);
    origins.teams = origin;
    let (heartbeats, origin) = sections.list("heartbeats", "name", no_hook);
    origins.heartbeats = origin;
    let (postmortem_templates, origin) = sections.list("postmortem_templates", "name", no_hook);
    origins.postmortem_templates = origin;

    let notifications = parse_notifications(
        sections.take("notifications"),
        &root.key("notifications"),
        &mut sections.issues,
        &mut origins,
    );
    let settings = sections.value_or("settings", Settings::default());

    let config = Config {
        version,
        users,
        schedules,
        escalation_policies,
        grouping,
        routing,
        maintenance_windows,
        integrations,
        teams,
        heartbeats,
        postmortem_templates,
        notifications,
        settings,
    };
    let mut issues = sections.issues;
    check(&config, &origins, &mut issues);
    if issues.is_empty() {
        Ok(config)
    } else {
        Err(ConfigErrors {
            issues: issues.into_sorted(),
        })
    }
}

/// The document's top-level sections, taken out one at a time, and the issues found so far.
struct Sections {
    map: Map<String, Value>,
    issues: Issues,
}

impl Sections {
    /// Splits the document into its sections and notes the unknown ones. A document that is
    /// not a mapping (nor empty) is a single error: there is nothing else to check.
    fn of(root: Value) -> Result<Self, ConfigErrors> {
        let map = match root {
            Value::Null => Map::new(),
            Value::Object(map) => map,
            other => {
                return Err(ConfigErrors::single(
                    ConfigPath::root(),
                    format!(
                        "the configuration must be a mapping of sections (users, schedules, ...), not {}",
                        kind(&other)
                    ),
                ));
            }
        };
        let mut issues = Issues::default();
        for key in map.keys() {
            if !SECTIONS.contains(&key.as_str()) {
                issues.push(
                    ConfigPath::root().key(key.clone()),
                    format!("unknown section (expected one of: {})", SECTIONS.join(", ")),
                );
            }
        }
        Ok(Self { map, issues })
    }

    /// Takes section `name` out of the document (`None` when it is absent).
    fn take(&mut self, name: &str) -> Option<Value> {
        self.map.remove(name)
    }

    /// Parses section `name` as a `T`; `default` when it is absent, empty or invalid (the error
    /// is recorded).
    fn value_or<T: DeserializeOwned>(&mut self, name: &str, default: T) -> T {
        match self.take(name) {
            None | Some(Value::Null) => default,
            Some(value) => parse_at::<T>(value, &ConfigPath::root().key(name), &mut self.issues)
                .unwrap_or(default),
        }
    }

    /// Parses the list section `name`, whose elements are identified by their `id_field`.
    fn list<T: DeserializeOwned>(
        &mut self,
        name: &str,
        id_field: &str,
        hook: Hook,
    ) -> (Vec<T>, ListOrigin) {
        let value = self.take(name);
        parse_list(
            value,
            &ConfigPath::root().key(name),
            id_field,
            &mut self.issues,
            hook,
        )
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// Deserializes `value` as a `T`, recording the error (at `base` plus the path inside) if any.
fn parse_at<T: DeserializeOwned>(
    value: Value,
    base: &ConfigPath,
    issues: &mut Issues,
) -> Option<T> {
    match serde_path_to_error::deserialize::<_, T>(value) {
        Ok(parsed) => Some(parsed),
        Err(error) => {
            let mut path = base.clone();
            for segment in error.path().iter() {
                path = match segment {
                    serde_path_to_error::Segment::Seq { index } => path.index(*index),
                    serde_path_to_error::Segment::Map { key } => path.key(key.clone()),
                    serde_path_to_error::Segment::Enum { variant } => path.key(variant.clone()),
                    serde_path_to_error::Segment::Unknown => path,
                };
            }
            let (path, message) = explain(path, error.inner().to_string());
            issues.push(path, message);
            None
        }
    }
}

/// Rewrites serde's messages so they name the field and read well in a config file.
fn explain(path: ConfigPath, message: String) -> (ConfigPath, String) {
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some((field, expected)) = rest.split_once('`')
    {
        let expected = expected.trim_start_matches(", ");
        let hint = if expected.is_empty() {
            String::new()
        } else {
            format!(" ({expected})")
        };
        return (with_last_key(path, field), format!("unknown field{hint}"));
    }
    if let Some(rest) = message.strip_prefix("missing field `")
        && let Some((field, _)) = rest.split_once('`')
    {
        return (
            with_last_key(path, field),
            "required field is missing".to_string(),
        );
    }
    if message.starts_with("data did not match any variant of untagged enum ValueMatcherRepr") {
        return (
            path,
            "expected text (exact match; quote numbers), \"*\" (any value) or { regex: \"...\" }"
                .to_string(),
        );
    }
    if message.contains("regex parse error") {
        return (path, one_line_regex_error(&message));
    }
    if message.starts_with("failed to parse timezone") {
        return (
            path,
            format!("{message}: use an IANA zone name such as \"Europe/Berlin\" or \"UTC\""),
        );
    }
    if CHRONO_PARSE_ERRORS.contains(&message.as_str()) {
        let hint = time_hint(&path);
        return (path, format!("{message}: {hint}"));
    }
    let scalar = [
        "invalid type: integer",
        "invalid type: floating point",
        "invalid type: boolean",
    ];
    if scalar.iter().any(|p| message.starts_with(p)) && message.ends_with("expected a string") {
        return (path, format!("{message} (quote the value to make it text)"));
    }
    (path, message)
}

/// chrono's parse error texts, which say nothing about the expected form.
const CHRONO_PARSE_ERRORS: [&str; 7] = [
    "input contains invalid characters",
    "input is out of range",
    "premature end of input",
    "trailing input",
    "input is not enough for unique date and time",
    "no possible date and time matching input",
    "bad or unsupported format string",
];

/// What a date or time at `path` should look like.
fn time_hint(path: &ConfigPath) -> &'static str {
    let keys: Vec<&str> = path
        .segments()
        .iter()
        .filter_map(|segment| match segment {
            PathSegment::Key(key) => Some(key.as_str()),
            PathSegment::Index(_) => None,
        })
        .collect();
    match keys.as_slice() {
        [.., "rotation", "start"] => {
            "expected a local date and time such as \"2026-01-05T09:00:00\" (no zone: the \
             schedule's time_zone applies)"
        }
        [.., "from" | "to"] => "expected a time of day such as \"09:00\"",
        [.., "holidays"] => {
            "expected a date such as \"2026-12-25\" (a local day in the schedule's time_zone)"
        }
        _ => "expected an RFC 3339 instant such as \"2026-03-14T01:00:00Z\"",
    }
}

/// regex errors draw a multi-line diagram; keep the line that says what is wrong.
fn one_line_regex_error(message: &str) -> String {
    match message
        .lines()
        .find_map(|line| line.trim().strip_prefix("error: "))
    {
        Some(reason) => format!("invalid regex: {reason}"),
        None => format!(
            "invalid regex: {}",
            message.split_whitespace().collect::<Vec<_>>().join(" ")
        ),
    }
}

/// A regex inside a label or source matcher is behind an untagged enum, whose error would only
/// say "did not match any variant". Check those regexes first, report the real reason at
/// `...labels.<key>.regex`, and drop the matcher so the rest of the element is still checked.
fn check_matcher_regexes(element: &mut Value, path: &ConfigPath, issues: &mut Issues) {
    let Some(matcher) = element.get_mut("match").and_then(Value::as_object_mut) else {
        return;
    };
    let match_path = path.key("match");
    if let Some(Value::Object(labels)) = matcher.get_mut("labels") {
        labels.retain(|key, value| {
            regex_is_valid(value, &match_path.key("labels").key(key.clone()), issues)
        });
    }
    let source_ok = matcher
        .get("source")
        .is_none_or(|source| regex_is_valid(source, &match_path.key("source"), issues));
    if !source_ok {
        matcher.remove("source");
    }
}

fn regex_is_valid(value: &Value, path: &ConfigPath, issues: &mut Issues) -> bool {
    match value.get("regex").and_then(Value::as_str) {
        Some(pattern) => match FullRegex::new(pattern) {
            Ok(_) => true,
            Err(error) => {
                issues.push(path.key("regex"), one_line_regex_error(&error.to_string()));
                false
            }
        },
        None => true,
    }
}

/// `path` ending in `field` (serde_path_to_error already includes the key for some errors).
fn with_last_key(path: ConfigPath, field: &str) -> ConfigPath {
    match path.segments().last() {
        Some(PathSegment::Key(last)) if last == field => path,
        _ => path.key(field),
    }
}

/// A per-element hook run on the raw value before it is deserialized.
type Hook = fn(&mut Value, &ConfigPath, &mut Issues);

fn no_hook(_: &mut Value, _: &ConfigPath, _: &mut Issues) {}

/// Integration keys are secrets: say so, instead of a bare "unknown field", and drop the field
/// so the rest of the entry is still checked.
fn reject_integration_secrets(value: &mut Value, path: &ConfigPath, issues: &mut Issues) {
    if let Value::Object(map) = value {
        for field in INTEGRATION_SECRET_FIELDS {
            if map.remove(field).is_some() {
                issues.push(
                    path.key(field),
                    "integration keys are secrets and never go in the config file: create one \
                     with the klaxon CLI, which stores only its hash (see the deployment docs)",
                );
            }
        }
    }
}

/// Deserializes a list section element by element.
fn parse_list<T: DeserializeOwned>(
    value: Option<Value>,
    path: &ConfigPath,
    id_field: &str,
    issues: &mut Issues,
    hook: Hook,
) -> (Vec<T>, ListOrigin) {
    let mut items = Vec::new();
    let mut origin = ListOrigin::default();
    let elements = match value {
        None | Some(Value::Null) => return (items, origin),
        Some(Value::Array(elements)) => elements,
        Some(other) => {
            issues.push(
                path.clone(),
                format!("expected a list, found {}", kind(&other)),
            );
            return (items, origin);
        }
    };
    for (index, mut element) in elements.into_iter().enumerate() {
        let element_path = path.index(index);
        hook(&mut element, &element_path, issues);
        let id = element
            .get(id_field)
            .and_then(Value::as_str)
            .map(str::to_string);
        match parse_at::<T>(element, &element_path, issues) {
            Some(item) => {
                items.push(item);
                origin.indices.push(index);
            }
            None => {
                if let Some(id) = id {
                    origin.broken_ids.insert(id);
                }
            }
        }
    }
    (items, origin)
}

/// Splits a section mapping into its `key` list and the rest.
fn split_section(
    value: Option<Value>,
    path: &ConfigPath,
    list_key: &str,
    issues: &mut Issues,
) -> Option<(Option<Value>, Value)> {
    match value {
        None | Some(Value::Null) => None,
        Some(Value::Object(mut map)) => {
            let list = map.remove(list_key);
            Some((list, Value::Object(map)))
        }
        Some(other) => {
            issues.push(
                path.clone(),
                format!("expected a mapping, found {}", kind(&other)),
            );
            None
        }
    }
}

fn parse_grouping(
    value: Option<Value>,
    path: &ConfigPath,
    issues: &mut Issues,
    origins: &mut Origins,
) -> GroupingConfig {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)] // `rules` is only here so "unknown field" messages list it.
    struct Rest {
        #[serde(default)]
        default_window: Option<HumanDuration>,
        #[serde(default)]
        rules: Option<IgnoredAny>,
    }
    let Some((rules, rest)) = split_section(value, path, "rules", issues) else {
        return GroupingConfig::default();
    };
    let rest = parse_at::<Rest>(rest, path, issues);
    let (rules, origin) = parse_list(
        rules,
        &path.key("rules"),
        "id",
        issues,
        check_matcher_regexes,
    );
    origins.grouping_rules = origin;
    GroupingConfig {
        default_window: rest
            .and_then(|r| r.default_window)
            .unwrap_or(DEFAULT_GROUP_WINDOW),
        rules,
    }
}

fn parse_routing(
    value: Option<Value>,
    path: &ConfigPath,
    issues: &mut Issues,
    origins: &mut Origins,
) -> RoutingConfig {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)] // `rules` is only here so "unknown field" messages list it.
    struct Rest {
        #[serde(default)]
        defaults: RoutingDefaults,
        #[serde(default)]
        rules: Option<IgnoredAny>,
    }
    let Some((rules, rest)) = split_section(value, path, "rules", issues) else {
        return RoutingConfig::default();
    };
    let rest = parse_at::<Rest>(rest, path, issues);
    let (rules, origin) = parse_list(
        rules,
        &path.key("rules"),
        "id",
        issues,
        check_matcher_regexes,
    );
    origins.routing_rules = origin;
    RoutingConfig {
        defaults: rest.map(|r| r.defaults).unwrap_or_default(),
        rules,
    }
}

fn parse_notifications(
    value: Option<Value>,
    path: &ConfigPath,
    issues: &mut Issues,
    origins: &mut Origins,
) -> Notifications {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)] // `webhooks` is only here so "unknown field" messages list it.
    struct Rest {
        #[serde(default)]
        slack: Option<super::sections::IncomingWebhook>,
        #[serde(default)]
        teams: Option<super::sections::IncomingWebhook>,
        #[serde(default)]
        webhooks: Option<IgnoredAny>,
    }
    let Some((webhooks, rest)) = split_section(value, path, "webhooks", issues) else {
        return Notifications::default();
    };
    let rest = parse_at::<Rest>(rest, path, issues);
    let (webhooks, origin): (Vec<GenericWebhook>, _) =
        parse_list(webhooks, &path.key("webhooks"), "name", issues, no_hook);
    origins.webhooks = origin;
    let (slack, teams) = rest.map(|r| (r.slack, r.teams)).unwrap_or_default();
    Notifications {
        slack,
        teams,
        webhooks,
    }
}
