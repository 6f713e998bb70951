//! The migration report: every source object and what it became, every field or object that
//! could not be mapped (with the reason), semantics that differ, the endpoint each sender must
//! be pointed at, and the overrides to apply. Rendered as Markdown, or JSON with `--json`.

use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeSet;
use std::fmt::Write;

/// What happened to one source object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Everything about it was mapped.
    Mapped,
    /// It was mapped, but some fields were not (listed under `unmapped`).
    Partial,
    /// Nothing of it is in the Klaxon configuration.
    Unmapped,
}

/// One object read from the source.
#[derive(Debug, Clone, Serialize)]
pub struct SourceObject {
    /// `user`, `schedule`, `rotation`, `escalation`, ...
    pub kind: String,
    /// The source's id.
    pub id: String,
    /// The source's display name.
    pub name: String,
    /// What it became (`user anna`, `schedule primary layer 0`), if anything.
    pub became: Vec<String>,
    /// Mapped, partial or unmapped (derived from `unmapped`).
    pub outcome: Outcome,
}

/// A field or object that could not be mapped.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Unmapped {
    /// The object's kind.
    pub kind: String,
    /// The object's source id.
    pub id: String,
    /// The field (a dotted path inside the object); `None` when the whole object is not mapped.
    pub field: Option<String>,
    /// Why.
    pub reason: String,
}

/// A behaviour that Klaxon maps to its nearest equivalent.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Semantics {
    /// The object's kind.
    pub kind: String,
    /// The object's source id.
    pub id: String,
    /// What differs and what Klaxon does instead.
    pub note: String,
}

/// Where a sender must send alerts now.
#[derive(Debug, Clone, Serialize)]
pub struct Endpoint {
    /// The Klaxon integration.
    pub integration: String,
    /// The source integration it replaces (name and type).
    pub replaces: String,
    /// Klaxon wire format.
    pub format: String,
    /// The URL (below the Klaxon base URL) and how the key is presented.
    pub url: String,
}

/// One override to create with `klaxon overrides add`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct OverrideCommand {
    /// Klaxon schedule id.
    pub schedule: String,
    /// Klaxon user id.
    pub user: String,
    /// RFC 3339 UTC.
    pub start: String,
    /// RFC 3339 UTC.
    pub end: String,
}

impl OverrideCommand {
    /// The shell command line that creates it.
    pub fn command_line(&self) -> String {
        format!(
            "klaxon overrides add {} --user {} --start {} --end {}",
            self.schedule, self.user, self.start, self.end
        )
    }
}

/// The whole report.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// `opsgenie`, `pagerduty`, `grafana-oncall`.
    pub source: String,
    /// Every object read, in a stable order.
    pub objects: Vec<SourceObject>,
    /// Everything that was not mapped.
    pub unmapped: Vec<Unmapped>,
    /// Behaviours mapped to the nearest Klaxon equivalent.
    pub semantics: Vec<Semantics>,
    /// Where to point each sender.
    pub endpoints: Vec<Endpoint>,
    /// Overrides, as runtime data.
    pub overrides: Vec<OverrideCommand>,
}

impl Report {
    /// A report for `source`.
    pub fn new(source: &str) -> Self {
        Self {
            source: source.to_owned(),
            ..Self::default()
        }
    }

    /// Records a source object; `became` may be extended later with [`Report::became`].
    pub fn object(&mut self, kind: &str, id: &str, name: &str) {
        self.objects.push(SourceObject {
            kind: kind.to_owned(),
            id: id.to_owned(),
            name: name.to_owned(),
            became: Vec::new(),
            outcome: Outcome::Mapped,
        });
    }

    /// Adds what the object `kind`/`id` became.
    pub fn became(&mut self, kind: &str, id: &str, what: impl Into<String>) {
        let what = what.into();
        if let Some(object) = self
            .objects
            .iter_mut()
            .rev()
            .find(|o| o.kind == kind && o.id == id)
        {
            object.became.push(what);
        }
    }

    /// The whole object was not mapped.
    pub fn skip(&mut self, kind: &str, id: &str, reason: impl Into<String>) {
        self.unmapped.push(Unmapped {
            kind: kind.to_owned(),
            id: id.to_owned(),
            field: None,
            reason: reason.into(),
        });
    }

    /// One field of the object was not mapped.
    pub fn field(&mut self, kind: &str, id: &str, field: &str, reason: impl Into<String>) {
        self.unmapped.push(Unmapped {
            kind: kind.to_owned(),
            id: id.to_owned(),
            field: Some(field.to_owned()),
            reason: reason.into(),
        });
    }

    /// A behaviour mapped to the nearest Klaxon equivalent.
    pub fn semantics(&mut self, kind: &str, id: &str, note: impl Into<String>) {
        self.semantics.push(Semantics {
            kind: kind.to_owned(),
            id: id.to_owned(),
            note: note.into(),
        });
    }

    /// Reports every key of `object` that is not in `known` (recursing into nothing): fields the
    /// importer does not know are listed, never silently dropped.
    pub fn unknown_fields(
        &mut self,
        kind: &str,
        id: &str,
        prefix: &str,
        object: &Value,
        known: &[&str],
    ) {
        let Some(map) = object.as_object() else {
            return;
        };
        for key in map.keys() {
            if !known.contains(&key.as_str()) {
                let field = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                self.field(
                    kind,
                    id,
                    &field,
                    "unknown field: the importer does not know it, so nothing was made of it",
                );
            }
        }
    }

    /// Sorts everything and derives each object's outcome; call once, at the end.
    pub fn finish(&mut self) {
        self.unmapped.sort();
        self.unmapped.dedup();
        self.semantics.sort();
        self.semantics.dedup();
        self.overrides.sort();
        self.endpoints
            .sort_by(|a, b| a.integration.cmp(&b.integration));
        let skipped: BTreeSet<(&str, &str)> = self
            .unmapped
            .iter()
            .filter(|u| u.field.is_none())
            .map(|u| (u.kind.as_str(), u.id.as_str()))
            .collect();
        let partial: BTreeSet<(&str, &str)> = self
            .unmapped
            .iter()
            .map(|u| (u.kind.as_str(), u.id.as_str()))
            .collect();
        for object in &mut self.objects {
            let key = (object.kind.as_str(), object.id.as_str());
            object.outcome = if skipped.contains(&key) {
                Outcome::Unmapped
            } else if partial.contains(&key) {
                Outcome::Partial
            } else {
                Outcome::Mapped
            };
        }
    }

    /// The report as Markdown.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let count = |outcome| self.objects.iter().filter(|o| o.outcome == outcome).count();
        let _ = writeln!(out, "# Migration report: {}\n", self.source);
        let _ = writeln!(
            out,
            "{} objects read: {} mapped, {} partly mapped, {} not mapped; {} unmapped items; {} behaviour differences; {} overrides.\n",
            self.objects.len(),
            count(Outcome::Mapped),
            count(Outcome::Partial),
            count(Outcome::Unmapped),
            self.unmapped.len(),
            self.semantics.len(),
            self.overrides.len()
        );
        out.push_str(
            "## Objects\n\n| kind | source id | name | outcome | became |\n|---|---|---|---|---|\n",
        );
        for o in &self.objects {
            let outcome = match o.outcome {
                Outcome::Mapped => "mapped",
                Outcome::Partial => "partly mapped",
                Outcome::Unmapped => "not mapped",
            };
            let _ = writeln!(
                out,
                "| {} | `{}` | {} | {outcome} | {} |",
                o.kind,
                o.id,
                cell(&o.name),
                cell(&o.became.join("; "))
            );
        }
        out.push_str(
            "\n## Not mapped\n\n| kind | source id | field | reason |\n|---|---|---|---|\n",
        );
        for u in &self.unmapped {
            let field = u
                .field
                .as_deref()
                .map_or("(whole object)".to_owned(), |f| format!("`{f}`"));
            let _ = writeln!(
                out,
                "| {} | `{}` | {field} | {} |",
                u.kind,
                u.id,
                cell(&u.reason)
            );
        }
        out.push_str("\n## Behaviour that differs\n\n| kind | source id | what Klaxon does |\n|---|---|---|\n");
        for s in &self.semantics {
            let _ = writeln!(out, "| {} | `{}` | {} |", s.kind, s.id, cell(&s.note));
        }
        out.push_str("\n## Point senders at Klaxon\n\nReplace `$KLAXON` with Klaxon's base URL and `klx_…` with the key `klaxon keys create` prints for the integration (docs/migrating.md).\n\n| Klaxon integration | replaces | format | endpoint |\n|---|---|---|---|\n");
        for e in &self.endpoints {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} |",
                e.integration,
                cell(&e.replaces),
                e.format,
                cell(&e.url)
            );
        }
        out.push_str("\n## Overrides (runtime data)\n\nApply with `sh overrides.sh` against the running Klaxon (`KLAXON_URL`, `KLAXON_API_KEY`).\n\n");
        for o in &self.overrides {
            let _ = writeln!(out, "- `{}`", o.command_line());
        }
        out
    }
}

/// Text safe inside a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}
