//! The Markdown export of a post-mortem (`klaxon postmortem export 42 > pm.md`,
//! `GET /v1/incidents/{id}/postmortem` with `Accept: text/markdown`). Pure: the same
//! post-mortem always renders to the same text. Times are UTC, to the second.

use super::{ActionStatus, Postmortem};
use crate::Instant;
use std::fmt::Write;

/// An instant as `2026-03-14 09:12:44 UTC`.
fn when(at: Instant) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A length of time as `1h 02m 05s` (`45s`, `3m 00s`).
pub(crate) fn span(seconds: i64) -> String {
    let seconds = seconds.max(0);
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m {s:02}s"),
        _ => format!("{h}h {m:02}m {s:02}s"),
    }
}

/// Text safe inside a Markdown table cell: pipes escaped, line breaks as spaces.
fn cell(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\r', '\n'], " ")
}

/// The post-mortem as a Markdown document: title, status, facts table, responders,
/// timeline, every section (a section not yet written shows its prompt in italics), and
/// the action items as a task list.
pub fn to_markdown(postmortem: &Postmortem) -> String {
    let mut out = String::new();
    let pm = postmortem;
    let _ = writeln!(
        out,
        "# Post-mortem: incident #{} — {}\n",
        pm.number, pm.title
    );
    let _ = writeln!(
        out,
        "Status: **{}** · Template: {} · Created {} by {}{}\n",
        pm.status,
        pm.template,
        when(pm.created_at),
        pm.created_by,
        pm.published_at
            .map(|at| format!(" · Published {}", when(at)))
            .unwrap_or_default()
    );
    facts(&mut out, pm);
    timeline(&mut out, pm);
    for section in &pm.sections {
        let _ = writeln!(out, "## {}\n", section.title);
        let body = section.body.trim_end();
        if body.is_empty() {
            match &section.prompt {
                Some(prompt) => {
                    let _ = writeln!(out, "_{}_\n", prompt.trim());
                }
                None => out.push_str("_Not written yet._\n\n"),
            }
        } else {
            let _ = writeln!(out, "{body}\n");
        }
    }
    action_items(&mut out, pm);
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

fn facts(out: &mut String, pm: &Postmortem) {
    let f = &pm.facts;
    let m = &f.metrics;
    out.push_str("## Facts\n\n| | |\n|---|---|\n");
    let window = match f.resolved_at {
        Some(end) => format!(
            "{} → {} ({})",
            when(f.opened_at),
            when(end),
            span(f.impact_seconds.unwrap_or(0))
        ),
        None => format!("{} → not resolved yet", when(f.opened_at)),
    };
    let rows = [
        ("Impact window", window),
        ("Severity", f.severity.to_string()),
        (
            "Time to acknowledge",
            m.time_to_acknowledge
                .map_or_else(|| "not acknowledged".to_owned(), span),
        ),
        (
            "Time to resolve",
            m.time_to_resolve
                .map_or_else(|| "not resolved".to_owned(), span),
        ),
        (
            "Acknowledged by",
            m.acknowledged_by.clone().unwrap_or_else(|| "—".to_owned()),
        ),
        (
            "Pages",
            format!("{} ({} off-hours)", m.pages, m.off_hours_pages),
        ),
        ("Escalation tiers needed", m.tiers_needed.to_string()),
        (
            "Responders",
            if f.responders.is_empty() {
                "—".to_owned()
            } else {
                f.responders
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        ),
    ];
    for (name, value) in rows {
        let _ = writeln!(out, "| {name} | {} |", cell(&value));
    }
    let _ = writeln!(out, "\nFacts as of {}.\n", when(f.computed_at));
}

fn timeline(out: &mut String, pm: &Postmortem) {
    out.push_str("## Timeline\n\n");
    if pm.facts.timeline.is_empty() {
        out.push_str("_No events recorded._\n\n");
        return;
    }
    out.push_str("| Time (UTC) | Event | By |\n|---|---|---|\n");
    for entry in &pm.facts.timeline {
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            entry.at.format("%Y-%m-%d %H:%M:%S"),
            cell(&entry.summary),
            cell(&entry.actor)
        );
    }
    if pm.facts.timeline_truncated {
        let _ = writeln!(
            out,
            "\n_The first {} events; the incident's timeline has the rest._",
            pm.facts.timeline.len()
        );
    }
    out.push('\n');
}

fn action_items(out: &mut String, pm: &Postmortem) {
    out.push_str("## Action items\n\n");
    if pm.action_items.is_empty() {
        out.push_str("_None._\n");
        return;
    }
    for item in &pm.action_items {
        let mark = match item.status {
            ActionStatus::Open => ' ',
            ActionStatus::Done => 'x',
        };
        let mut details = vec![format!("`{}`", item.id)];
        if let Some(owner) = &item.owner {
            details.push(format!("owner {owner}"));
        }
        if let Some(due) = item.due {
            details.push(format!("due {due}"));
        }
        let _ = writeln!(
            out,
            "- [{mark}] {} ({})",
            item.title.replace(['\r', '\n'], " "),
            details.join(", ")
        );
    }
}
