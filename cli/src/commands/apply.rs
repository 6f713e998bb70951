//! `klaxon config apply`: store a configuration file as the next version and show the diff.

use super::Output;
use super::store::{self, Missing, with_repo};
use crate::args::ApplyArgs;
use crate::{config_file, output};
use anyhow::Context;
use klaxon_app::usecases::config::{SectionChange, summarize};
use klaxon_domain::timeline::Actor;
use klaxon_store::Store;
use klaxon_store::repo::Repository;
use serde::Serialize;
use similar::TextDiff;
use std::path::Path;
use std::process::ExitCode;

/// The `--json` report.
#[derive(Debug, Serialize)]
struct ApplyReport {
    file: String,
    /// `sqlite:PATH` or `dynamodb:TABLE`.
    target: String,
    /// The current version after the command.
    version: u64,
    /// The version that was current before (null: none).
    previous_version: Option<u64>,
    /// True when the file equals the current version (nothing was written).
    unchanged: bool,
    fingerprint: String,
    /// Per list section, the ids added, removed and changed (empty when unchanged or first).
    sections: Vec<SectionChange>,
    /// Other parts that changed (`settings`, `routing.defaults`, …).
    other_changes: Vec<&'static str>,
    /// Unified diff of the canonical JSON against the previous version (null when unchanged
    /// or when there was no previous version).
    diff: Option<String>,
    /// `path: message` warnings of the file (they do not stop it).
    warnings: Vec<String>,
    /// For the text form.
    #[serde(skip)]
    target_description: String,
}

/// Runs `config apply`.
pub fn run(args: &ApplyArgs, config: &Path, output: Output) -> anyhow::Result<ExitCode> {
    let path = args.file.as_deref().unwrap_or(config);
    let loaded = config_file::load(path)?;
    let canonical = loaded
        .to_canonical_json()
        .context("cannot serialise the configuration")?;
    let fingerprint = loaded
        .fingerprint()
        .context("cannot fingerprint the configuration")?;
    let warnings: Vec<String> = loaded.warnings().iter().map(ToString::to_string).collect();
    let report = store::block_on(async {
        let backend = store::open(&args.store, Missing::Create, "cli").await?;
        let (version, previous, unchanged, diff) =
            with_repo!(&backend, |repo| save(repo, &canonical, &fingerprint, path)
                .await)?;
        let (sections, other_changes) = match &diff {
            Some(diff) => {
                let (sections, others) = summarize(&diff.old, &diff.new);
                let changed = |s: &SectionChange| {
                    !(s.added.is_empty() && s.removed.is_empty() && s.changed.is_empty())
                };
                (sections.into_iter().filter(changed).collect(), others)
            }
            None => (Vec::new(), Vec::new()),
        };
        anyhow::Ok(ApplyReport {
            file: path.display().to_string(),
            target: backend.target(),
            version,
            previous_version: previous,
            unchanged,
            fingerprint: fingerprint.clone(),
            sections,
            other_changes,
            diff: diff.map(|diff| diff.text),
            warnings,
            target_description: backend.describe(),
        })
    })??;
    let text = if output.json {
        output::json(&report)?
    } else {
        for warning in &report.warnings {
            eprintln!("warning: {warning}");
        }
        render(&report)
    };
    output::print(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// What changed between the previous version and the applied one.
struct Changes {
    old: serde_json::Value,
    new: serde_json::Value,
    text: String,
}

/// Saves the configuration; returns (version, previous version, unchanged, changes).
async fn save<S: Store>(
    repo: &Repository<S>,
    canonical: &str,
    fingerprint: &str,
    path: &Path,
) -> anyhow::Result<(u64, Option<u64>, bool, Option<Changes>)> {
    let current = repo
        .current_config()
        .await
        .context("cannot read the current configuration")?;
    let saved = repo
        .save_config(canonical, fingerprint, &Actor::system("cli"))
        .await
        .context("cannot store the configuration")?;
    let diff = match (&current, saved.unchanged) {
        (Some(current), false) => Some(Changes {
            old: serde_json::from_str(&current.json).unwrap_or_default(),
            new: serde_json::from_str(canonical).unwrap_or_default(),
            text: diff(
                &current.json,
                canonical,
                &format!("version {}", current.version),
                &format!("version {} ({})", saved.version, path.display()),
            ),
        }),
        _ => None,
    };
    Ok((
        saved.version,
        current.map(|c| c.version),
        saved.unchanged,
        diff,
    ))
}

/// A unified diff of two canonical JSON documents, pretty-printed so each value is a line.
pub fn diff(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    let pretty = |json: &str| {
        serde_json::from_str::<serde_json::Value>(json)
            .and_then(|value| serde_json::to_string_pretty(&value))
            .map(|mut text| {
                text.push('\n');
                text
            })
            .unwrap_or_else(|_| json.to_owned())
    };
    let (old, new) = (pretty(old), pretty(new));
    TextDiff::from_lines(&old, &new)
        .unified_diff()
        .context_radius(3)
        .header(old_name, new_name)
        .to_string()
}

fn render(report: &ApplyReport) -> String {
    if report.unchanged {
        return format!(
            "{} is unchanged: version {} is current in {} (nothing written)\n",
            report.file, report.version, report.target_description
        );
    }
    let mut text = match report.previous_version {
        Some(previous) => format!(
            "applied {} to {}: version {} (was version {previous})\n",
            report.file, report.target_description, report.version
        ),
        None => format!(
            "applied {} to {}: version {} (the first configuration)\n",
            report.file, report.target_description, report.version
        ),
    };
    for section in &report.sections {
        let mut parts = Vec::new();
        for (verb, ids) in [
            ("added", &section.added),
            ("removed", &section.removed),
            ("changed", &section.changed),
        ] {
            if !ids.is_empty() {
                parts.push(format!("{verb} {}", ids.join(", ")));
            }
        }
        text.push_str(&format!("  {}: {}\n", section.section, parts.join("; ")));
    }
    for other in &report.other_changes {
        text.push_str(&format!("  {other}: changed\n"));
    }
    if let Some(diff) = &report.diff {
        text.push_str(diff);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_diff_shows_changed_values_line_by_line() {
        let old = r#"{"settings":{"auto_resolve":true,"ack_link_lifetime":"12h"},"version":1}"#;
        let new = r#"{"settings":{"auto_resolve":false,"ack_link_lifetime":"12h"},"version":1}"#;
        let text = diff(old, new, "version 1", "version 2 (k.yaml)");
        assert!(
            text.starts_with("--- version 1\n+++ version 2 (k.yaml)\n@@"),
            "{text}"
        );
        assert!(text.contains("\n-    \"auto_resolve\": true\n"), "{text}");
        assert!(text.contains("\n+    \"auto_resolve\": false\n"), "{text}");
        assert!(!text.contains("-    \"ack_link_lifetime\""), "{text}");
    }
}
