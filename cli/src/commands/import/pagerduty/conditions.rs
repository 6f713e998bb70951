//! PagerDuty event conditions as Klaxon alert matchers, where Klaxon can express them: the
//! PCL expressions of event orchestration rules (`event.summary matches part 'disk'`) and the
//! conditions of legacy service event rules.
//!
//! Klaxon's PagerDuty format keeps `payload.summary` as the summary, `payload.source` as the
//! source, `payload.severity` as the severity and `component`, `group` and `class` as labels of
//! those names, so conditions on those fields are kept; `custom_details` become annotations,
//! which matchers do not see. Each result is a list of matchers, any of which may match (one
//! Klaxon routing rule each); conditions joined by `and` become one matcher.

use crate::commands::import::model::{LabelMatch, Matcher};
use crate::commands::import::regex_escape;
use serde_json::Value;

/// What a condition looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Field {
    Summary,
    Source,
    Severity,
    Label(String),
}

/// How it compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// The whole value equals the text.
    Equals,
    /// The value contains the text.
    Contains,
    /// The value contains a match of the regex.
    Regex,
    /// The field is present.
    Exists,
}

/// One comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Term {
    field: Field,
    op: Op,
    value: String,
}

/// The matchers a PCL expression means (any of them matching), or why Klaxon cannot express
/// it.
pub fn pcl(expression: &str) -> Result<Vec<Matcher>, String> {
    let (parts, any) = split(expression)?;
    let terms = parts
        .iter()
        .map(|p| pcl_term(p.trim()))
        .collect::<Result<Vec<Term>, String>>()?;
    matchers(terms, any)
}

/// The matchers of a legacy service event rule's `conditions`
/// (`{"operator": "and", "subconditions": [{"operator": "contains", "parameters": {"path",
/// "value"}}]}`).
pub fn legacy(conditions: &Value) -> Result<Vec<Matcher>, String> {
    let any = match conditions.get("operator").and_then(Value::as_str) {
        Some("and") | None => false,
        Some("or") => true,
        Some(other) => return Err(format!("condition operator {other:?} is unknown")),
    };
    let subconditions = conditions
        .get("subconditions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut terms = Vec::new();
    for sub in subconditions {
        let op = match sub.get("operator").and_then(Value::as_str).unwrap_or("") {
            "equals" => Op::Equals,
            "contains" => Op::Contains,
            "matches" => Op::Regex,
            "exists" => Op::Exists,
            other => {
                return Err(format!(
                    "operator {other:?}: Klaxon matchers cannot exclude or compare that way"
                ));
            }
        };
        let parameters = sub.get("parameters").cloned().unwrap_or(Value::Null);
        let path = parameters.get("path").and_then(Value::as_str).unwrap_or("");
        let value = parameters
            .get("value")
            .and_then(Value::as_str)
            .unwrap_or("");
        terms.push(Term {
            field: field(path)?,
            op,
            value: value.to_owned(),
        });
    }
    matchers(terms, any)
}

/// One matcher of all `terms`, or one per term when any may match.
fn matchers(terms: Vec<Term>, any: bool) -> Result<Vec<Matcher>, String> {
    if any {
        return terms
            .into_iter()
            .map(|t| {
                let mut m = Matcher::default();
                add(&mut m, t)?;
                Ok(m)
            })
            .collect();
    }
    let mut matcher = Matcher::default();
    for term in terms {
        add(&mut matcher, term)?;
    }
    Ok(vec![matcher])
}

/// The parts of an expression joined by ` and ` or by ` or ` (outside quotes), and whether
/// they are or-ed. Parentheses and a mix of both are not expressible.
fn split(expression: &str) -> Result<(Vec<String>, bool), String> {
    let mut parts = vec![String::new()];
    let (mut and, mut or) = (false, false);
    let mut quote: Option<char> = None;
    let mut chars = expression.chars().peekable();
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            if c == '\\'
                && let Some(&next) = chars.peek()
            {
                chars.next();
                push(&mut parts, c);
                push(&mut parts, next);
                continue;
            }
            if c == q {
                quote = None;
            }
            push(&mut parts, c);
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            '(' | ')' => return Err("a condition with parentheses".to_owned()),
            _ => {}
        }
        push(&mut parts, c);
        let current = parts.last().map(String::as_str).unwrap_or_default();
        for (word, flag) in [(" and ", &mut and), (" or ", &mut or)] {
            if let Some(before) = current.strip_suffix(word) {
                let before = before.to_owned();
                *flag = true;
                if let Some(last) = parts.last_mut() {
                    *last = before;
                }
                parts.push(String::new());
                break;
            }
        }
    }
    if quote.is_some() {
        return Err("an unclosed quote".to_owned());
    }
    if and && or {
        return Err("`and` and `or` in one condition".to_owned());
    }
    Ok((parts, or))
}

fn push(parts: &mut [String], c: char) {
    if let Some(last) = parts.last_mut() {
        last.push(c);
    }
}

/// `event.summary matches part 'disk'`.
fn pcl_term(text: &str) -> Result<Term, String> {
    let (path, rest) = text
        .split_once(char::is_whitespace)
        .ok_or_else(|| format!("{text:?} is not `field operator 'value'`"))?;
    let rest = rest.trim();
    if rest.starts_with("not ") || rest.starts_with("does not ") {
        return Err(format!(
            "{text:?}: Klaxon matchers cannot exclude (a negated condition)"
        ));
    }
    let (op, value) = if rest == "exists" {
        (Op::Exists, String::new())
    } else if let Some(v) = rest.strip_prefix("matches part ") {
        (Op::Contains, quoted(v)?)
    } else if let Some(v) = rest.strip_prefix("matches regex ") {
        (Op::Regex, quoted(v)?)
    } else if let Some(v) = rest
        .strip_prefix("matches ")
        .or_else(|| rest.strip_prefix("equals "))
    {
        (Op::Equals, quoted(v)?)
    } else {
        return Err(format!(
            "{text:?}: the operator is not one Klaxon can express (matches, matches part, matches regex, exists)"
        ));
    };
    Ok(Term {
        field: field(path)?,
        op,
        value,
    })
}

/// The text of one quoted value (`'disk'` or `"disk"`, with `\'` escapes).
fn quoted(text: &str) -> Result<String, String> {
    let text = text.trim();
    let mut chars = text.chars();
    let Some(q @ ('\'' | '"')) = chars.next() else {
        return Err(format!("{text:?} is not a quoted text"));
    };
    let mut value = String::new();
    while let Some(c) = chars.next() {
        match c {
            '\\' => value.extend(chars.next()),
            c if c == q => {
                return if chars.as_str().trim().is_empty() {
                    Ok(value)
                } else {
                    Err(format!("{text:?} is not one quoted text"))
                };
            }
            c => value.push(c),
        }
    }
    Err(format!("{text:?} has no closing quote"))
}

/// The Klaxon field a PagerDuty event path means.
fn field(path: &str) -> Result<Field, String> {
    let name = path
        .strip_prefix("event.")
        .or_else(|| path.strip_prefix("payload."))
        .unwrap_or(path);
    Ok(match name {
        "summary" => Field::Summary,
        "source" => Field::Source,
        "severity" => Field::Severity,
        "component" | "group" | "class" => Field::Label(name.to_owned()),
        _ => {
            return Err(format!(
                "a condition on {path}: Klaxon matches an alert's summary, source, severity and its component, group and class labels (custom details are annotations, which matchers do not see)"
            ));
        }
    })
}

/// Adds one comparison to `matcher` (all must match).
fn add(matcher: &mut Matcher, term: Term) -> Result<(), String> {
    match term.field {
        Field::Summary => {
            let pattern = match term.op {
                Op::Exists => return Ok(()),
                Op::Equals => format!("^{}$", regex_escape(&term.value)),
                Op::Contains => regex_escape(&term.value),
                Op::Regex => checked(&term.value, &term.value)?,
            };
            if matcher.summary.replace(pattern).is_some() {
                return Err("two conditions on the summary".to_owned());
            }
        }
        Field::Source => {
            let wanted = label_match(&term)?;
            if matcher.source.replace(wanted).is_some() {
                return Err("two conditions on the source".to_owned());
            }
        }
        Field::Severity => {
            let severity = term.value.to_ascii_lowercase();
            let known = ["critical", "error", "warning", "info"].contains(&severity.as_str());
            if term.op != Op::Equals || !known {
                return Err(format!(
                    "a severity condition other than equality with critical, error, warning or info ({:?})",
                    term.value
                ));
            }
            if !matcher.severities.is_empty() {
                return Err("two conditions on the severity".to_owned());
            }
            matcher.severities.push(severity);
        }
        Field::Label(ref name) => {
            let wanted = label_match(&term)?;
            if matcher.labels.insert(name.clone(), wanted).is_some() {
                return Err(format!("two conditions on {name}"));
            }
        }
    }
    Ok(())
}

/// A label-matcher form (the whole value must match) for one comparison.
fn label_match(term: &Term) -> Result<LabelMatch, String> {
    Ok(match term.op {
        Op::Exists => LabelMatch::Exact("*".to_owned()),
        // `"*"` means "present" in Klaxon: an exact star is a regex.
        Op::Equals if term.value == "*" => LabelMatch::Regex {
            regex: "\\*".to_owned(),
        },
        Op::Equals => LabelMatch::Exact(term.value.clone()),
        Op::Contains => LabelMatch::Regex {
            regex: format!(".*{}.*", regex_escape(&term.value)),
        },
        Op::Regex => LabelMatch::Regex {
            regex: checked(&format!(".*(?:{}).*", term.value), &term.value)?,
        },
    })
}

/// `pattern`, if Klaxon's regex engine accepts it.
fn checked(pattern: &str, source: &str) -> Result<String, String> {
    regex::Regex::new(pattern)
        .map(|_| pattern.to_owned())
        .map_err(|e| format!("the regex {source:?} is not one Klaxon's regex engine accepts ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(expression: &str) -> Matcher {
        let mut all = pcl(expression).unwrap();
        assert_eq!(all.len(), 1, "{expression}");
        all.remove(0)
    }

    #[test]
    fn pcl_conditions_on_klaxon_fields_become_matchers() {
        let m = one("event.summary matches part 'disk full' and event.severity matches 'critical'");
        assert_eq!(m.summary.as_deref(), Some("disk full"));
        assert_eq!(m.severities, ["critical"]);
        let m = one("event.source matches regex 'db[0-9]+' and event.component matches \"pg\"");
        assert_eq!(
            m.source,
            Some(LabelMatch::Regex {
                regex: ".*(?:db[0-9]+).*".to_owned()
            })
        );
        assert_eq!(m.labels["component"], LabelMatch::Exact("pg".to_owned()));
        let m = one("event.summary matches part 'it\\'s'");
        assert_eq!(m.summary.as_deref(), Some("it's"));
        let m = one("event.summary matches 'a.b (x)'");
        assert_eq!(m.summary.as_deref(), Some("^a\\.b \\(x\\)$"));
        assert_eq!(
            one("event.group exists").labels["group"],
            LabelMatch::Exact("*".to_owned())
        );
    }

    #[test]
    fn or_gives_one_matcher_per_part_and_quotes_protect_keywords() {
        let all = pcl("event.summary matches part 'x' or event.source matches 'web-1'").unwrap();
        assert_eq!(all.len(), 2);
        let m = one("event.summary matches part 'rock and roll'");
        assert_eq!(m.summary.as_deref(), Some("rock and roll"));
    }

    #[test]
    fn what_klaxon_cannot_express_says_why() {
        for (expression, why) in [
            ("event.custom_details.team matches 'db'", "custom details"),
            ("event.summary does not match part 'test'", "cannot exclude"),
            ("event.severity matches part 'crit'", "severity condition"),
            (
                "event.summary matches part 'a' and event.summary matches part 'b'",
                "two conditions on the summary",
            ),
            ("(event.summary matches 'a')", "parentheses"),
            (
                "event.summary matches part 'a' and event.source exists or event.group exists",
                "`and` and `or`",
            ),
            ("event.summary matches regex '(?<=a)b'", "regex engine"),
            ("event.summary matches part 'open", "unclosed quote"),
        ] {
            let error = pcl(expression).unwrap_err();
            assert!(error.contains(why), "{expression}: {error}");
        }
    }

    #[test]
    fn legacy_conditions_become_matchers() {
        let conditions = serde_json::json!({
            "operator": "and",
            "subconditions": [
                {"operator": "contains", "parameters": {"path": "summary", "value": "timeout"}},
                {"operator": "equals", "parameters": {"path": "source", "value": "lb-1"}}
            ]
        });
        let all = legacy(&conditions).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].summary.as_deref(), Some("timeout"));
        assert_eq!(all[0].source, Some(LabelMatch::Exact("lb-1".to_owned())));
        let negated = serde_json::json!({"operator": "and", "subconditions": [
            {"operator": "nContains", "parameters": {"path": "summary", "value": "x"}}]});
        assert!(legacy(&negated).unwrap_err().contains("cannot exclude"));
    }
}
