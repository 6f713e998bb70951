//! `klaxon config validate`.

use super::Output;
use crate::args::ValidateArgs;
use crate::config_file;
use crate::output;
use klaxon_domain::config::{Config, ConfigIssue};
use serde::Serialize;
use std::path::Path;
use std::process::ExitCode;

/// The `--json` report of `config validate`.
#[derive(Debug, Serialize)]
struct ValidationReport {
    file: String,
    valid: bool,
    errors: Vec<Finding>,
    warnings: Vec<Finding>,
    /// What a valid file defines, for the text summary.
    #[serde(skip)]
    contents: Option<String>,
}

/// One error or warning: where, and what.
#[derive(Debug, Serialize)]
struct Finding {
    /// `schedules[2].layers[0].rotation.start`; empty for a problem with the whole file.
    path: String,
    message: String,
}

impl From<&ConfigIssue> for Finding {
    fn from(issue: &ConfigIssue) -> Self {
        Finding {
            path: issue.path.to_string(),
            message: issue.message.clone(),
        }
    }
}

/// Checks the file and prints every error and warning; status 1 when there are errors.
pub fn validate(args: &ValidateArgs, config: &Path, output: Output) -> anyhow::Result<ExitCode> {
    let path = args.file.as_deref().unwrap_or(config);
    let text = config_file::read(path)?;
    let report = match config_file::parse(path, &text) {
        Ok(config) => ValidationReport {
            file: path.display().to_string(),
            valid: true,
            errors: Vec::new(),
            warnings: config.warnings().iter().map(Finding::from).collect(),
            contents: Some(contents(&config)),
        },
        Err(errors) => ValidationReport {
            file: path.display().to_string(),
            valid: false,
            errors: errors.issues.iter().map(Finding::from).collect(),
            warnings: Vec::new(),
            contents: None,
        },
    };
    let text = if output.json {
        output::json(&report)?
    } else {
        render(&report)
    };
    output::print(&text)?;
    Ok(if report.valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `6 users, 3 schedules, 3 escalation policies, 6 integrations`.
fn contents(config: &Config) -> String {
    [
        plural(config.users.len(), "user"),
        plural(config.schedules.len(), "schedule"),
        plural(config.escalation_policies.len(), "escalation policy"),
        plural(config.routing.rules.len(), "routing rule"),
        plural(config.integrations.len(), "integration"),
    ]
    .join(", ")
}

fn plural(count: usize, word: &str) -> String {
    match (count, word.strip_suffix('y')) {
        (1, _) => format!("1 {word}"),
        (_, Some(stem)) => format!("{count} {stem}ies"),
        (_, None) => format!("{count} {word}s"),
    }
}

fn line(finding: &Finding) -> String {
    if finding.path.is_empty() {
        finding.message.clone()
    } else {
        format!("{}: {}", finding.path, finding.message)
    }
}

fn render(report: &ValidationReport) -> String {
    let mut out = String::new();
    for error in &report.errors {
        out.push_str(&line(error));
        out.push('\n');
    }
    for warning in &report.warnings {
        out.push_str(&format!("warning: {}\n", line(warning)));
    }
    if report.valid {
        out.push_str(&format!(
            "{} is valid: {} ({})\n",
            report.file,
            report.contents.as_deref().unwrap_or("no contents"),
            plural(report.warnings.len(), "warning")
        ));
    } else {
        out.push_str(&format!(
            "{} is invalid: {}\n",
            report.file,
            plural(report.errors.len(), "error")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_lists_each_finding_then_a_count() {
        let report = ValidationReport {
            file: "k.yaml".into(),
            valid: false,
            errors: vec![
                Finding {
                    path: "users[1].email".into(),
                    message: "bad".into(),
                },
                Finding {
                    path: String::new(),
                    message: "invalid YAML at line 3".into(),
                },
            ],
            warnings: Vec::new(),
            contents: None,
        };
        assert_eq!(
            render(&report),
            "users[1].email: bad\ninvalid YAML at line 3\nk.yaml is invalid: 2 errors\n"
        );
    }

    #[test]
    fn plurals_read_naturally() {
        assert_eq!(plural(1, "escalation policy"), "1 escalation policy");
        assert_eq!(plural(3, "escalation policy"), "3 escalation policies");
        assert_eq!(plural(0, "warning"), "0 warnings");
    }
}
