//! Loading the configuration file with errors that name the file and every problem.

use crate::holiday_calendar::IcsFiles;
use anyhow::{Context, anyhow};
use klaxon_domain::config::{Config, ConfigErrors};
use std::path::Path;

/// Reads a configuration file's text.
pub fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))
}

/// Parses and validates a configuration file's text (YAML or JSON by extension). A schedule's
/// `holidays_ics` is read relative to the file's folder.
pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigErrors> {
    let calendars = IcsFiles {
        base: path.parent().map(Path::to_path_buf).unwrap_or_default(),
    };
    Config::from_file_with_calendars(&path.to_string_lossy(), text, &calendars)
}

/// Reads, parses and validates the configuration file, or says exactly what is wrong with it.
pub fn load(path: &Path) -> anyhow::Result<Config> {
    let text = read(path)?;
    parse(path, &text).map_err(|errors| {
        let count = errors.issues.len();
        let lines: Vec<String> = errors
            .issues
            .iter()
            .map(|issue| format!("  {issue}"))
            .collect();
        anyhow!(
            "config file {} is invalid ({count} error{}):\n{}",
            path.display(),
            if count == 1 { "" } else { "s" },
            lines.join("\n")
        )
    })
}
