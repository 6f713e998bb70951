//! `klaxon import opsgenie|pagerduty|grafana-oncall`: read a whole account from the source's
//! REST API (or a directory saved earlier) and write one Klaxon configuration file, a migration
//! report and the overrides as `klaxon overrides add` commands.
//!
//! Two halves: each source module has an async `fetch` that pages through the API with the
//! [`client::Fetcher`] (the thin HTTP side), and a pure `map` from the documents read to the
//! configuration file and the [`report::Report`] (tested like a parser). Nothing is written
//! until everything was read, mapped and the configuration passed Klaxon's own validation.

mod apply;
mod client;
mod grafana_oncall;
mod model;
mod opsgenie;
mod pagerduty;
mod report;
mod week;

use super::Output;
use super::store::block_on;
use crate::failure::UsageError;
use crate::output;
use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand};
use client::{Fetcher, Live, Origin};
use klaxon_domain::config::Config;
use model::ConfigFile;
use report::Report;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// `klaxon import ...`
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import users, teams, schedules, overrides, escalations, integrations and maintenance from Opsgenie.
    #[command(long_about = IMPORT_HELP)]
    Opsgenie(ImportArgs),
    /// Import users, teams, schedules, overrides, escalation policies, services and maintenance from PagerDuty.
    #[command(long_about = IMPORT_HELP)]
    Pagerduty(ImportArgs),
    /// Import users, schedules, overrides, escalation chains, integrations and routes from Grafana OnCall (--api-url is required).
    #[command(long_about = IMPORT_HELP)]
    GrafanaOncall(ImportArgs),
}

const IMPORT_HELP: &str = "Read a whole account from the source's REST API (every page of \
    every list; 429 answers wait for Retry-After, 5xx answers are retried) and write one Klaxon \
    configuration file (--out), a migration report (migration-report.md and \
    migration-report.json beside it: every source object, what it became, and everything that \
    could not be mapped with the reason) and overrides.sh (the source's overrides as `klaxon \
    overrides add` commands: overrides are runtime data). The configuration is checked with \
    Klaxon's own validation before anything is written; nothing is written when the import \
    fails. The same input always gives the same files.\n\n\
    --save-dir DIR keeps every API response read, so --from-dir DIR can repeat the import \
    offline. The API key is never written to any file. --apply-overrides then adds the \
    overrides to a running Klaxon (KLAXON_URL, KLAXON_API_KEY), like overrides.sh, skipping \
    those Klaxon already holds (safe to repeat). Grafana Cloud with a service account token \
    also needs --grafana-url (the stack's URL, sent as X-Grafana-URL).\n\n\
    Examples:\n  \
    klaxon import opsgenie --api-key $OPSGENIE_KEY --out klaxon.yaml --save-dir opsgenie-export\n  \
    klaxon import opsgenie --api-url https://api.eu.opsgenie.com --api-key $OPSGENIE_KEY\n  \
    klaxon import opsgenie --from-dir opsgenie-export --out klaxon.yaml\n  \
    klaxon import pagerduty --api-key $PAGERDUTY_KEY --out klaxon.yaml --save-dir pagerduty-export\n\n\
    See docs/migrating.md.";

/// Options shared by every source.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The source's API key (read access to the whole account); or KLAXON_IMPORT_API_KEY.
    #[arg(
        long,
        value_name = "KEY",
        env = "KLAXON_IMPORT_API_KEY",
        hide_env_values = true
    )]
    pub api_key: Option<String>,
    /// The source's API base URL [default: the vendor's public API].
    #[arg(long, value_name = "URL")]
    pub api_url: Option<String>,
    /// Read the API responses saved earlier with --save-dir instead of calling the API.
    #[arg(long, value_name = "DIR")]
    pub from_dir: Option<PathBuf>,
    /// Save every API response read into DIR (written only when the import succeeds).
    #[arg(long, value_name = "DIR")]
    pub save_dir: Option<PathBuf>,
    /// grafana-oncall only: the Grafana stack URL (`https://acme.grafana.net`), sent as
    /// `X-Grafana-URL`, which Grafana Cloud needs when --api-key is a service account token.
    #[arg(long, value_name = "URL")]
    pub grafana_url: Option<String>,
    /// The configuration file to write (.yaml, .yml or .json).
    #[arg(long, value_name = "FILE", default_value = "klaxon.yaml")]
    pub out: PathBuf,
    /// After writing the files, add the imported overrides to the Klaxon at --klaxon-url (what
    /// overrides.sh does, skipping those it already holds: safe to repeat).
    #[arg(long)]
    pub apply_overrides: bool,
    /// Klaxon's URL for --apply-overrides.
    #[arg(long, value_name = "URL", env = "KLAXON_URL")]
    pub klaxon_url: Option<String>,
    /// A Klaxon API key for --apply-overrides.
    #[arg(
        long,
        value_name = "KEY",
        env = "KLAXON_API_KEY",
        hide_env_values = true
    )]
    pub klaxon_api_key: Option<String>,
}

/// A source's fixed facts.
pub struct SourceSpec {
    /// `opsgenie`.
    pub name: &'static str,
    /// The public API base.
    pub default_url: Option<&'static str>,
    /// The least time between requests (documented rate limits).
    pub min_interval: Duration,
}

/// What a mapping produced.
pub struct Imported {
    /// The configuration file.
    pub config: ConfigFile,
    /// The migration report.
    pub report: Report,
}

/// Runs `klaxon import SOURCE`.
pub fn run(command: &ImportCommand, output: Output) -> anyhow::Result<ExitCode> {
    let args = match command {
        ImportCommand::Opsgenie(args) | ImportCommand::Pagerduty(args) => {
            if args.grafana_url.is_some() {
                bail!(UsageError(
                    "--grafana-url is only for `klaxon import grafana-oncall`".into()
                ));
            }
            args
        }
        ImportCommand::GrafanaOncall(args) => args,
    };
    // Checked before anything is read, so a missing URL or key costs no import.
    let target = if args.apply_overrides {
        Some(apply::Target::new(
            args.klaxon_url.as_deref(),
            args.klaxon_api_key.as_deref(),
        )?)
    } else {
        None
    };
    import(command, output, target.as_ref())
}

/// Reads, maps and writes for one source.
fn import(
    command: &ImportCommand,
    output: Output,
    target: Option<&apply::Target>,
) -> anyhow::Result<ExitCode> {
    match command {
        ImportCommand::Opsgenie(args) => {
            let origin = origin(
                args,
                &opsgenie::SPEC,
                |key| format!("GenieKey {key}"),
                Vec::new(),
            )?;
            let imported = block_on(async {
                let mut fetcher = Fetcher::new(opsgenie::SPEC.name, origin)?;
                let documents = opsgenie::fetch(&mut fetcher).await?;
                fetcher.finish(args.save_dir.as_deref())?;
                anyhow::Ok(opsgenie::map(&documents))
            })??;
            write(args, imported, output, target)
        }
        ImportCommand::Pagerduty(args) => {
            let accept = (
                "Accept".to_owned(),
                "application/vnd.pagerduty+json;version=2".to_owned(),
            );
            let origin = origin(
                args,
                &pagerduty::SPEC,
                |key| format!("Token token={key}"),
                vec![accept],
            )?;
            let imported = block_on(async {
                let mut fetcher = Fetcher::new(pagerduty::SPEC.name, origin)?;
                let documents = pagerduty::fetch(&mut fetcher).await?;
                fetcher.finish(args.save_dir.as_deref())?;
                anyhow::Ok(pagerduty::map(&documents))
            })??;
            write(args, imported, output, target)
        }
        ImportCommand::GrafanaOncall(args) => {
            let headers = grafana_headers(args)?;
            let origin = origin(args, &grafana_oncall::SPEC, str::to_owned, headers)?;
            let imported = block_on(async {
                let mut fetcher = Fetcher::new(grafana_oncall::SPEC.name, origin)?;
                let documents = grafana_oncall::fetch(&mut fetcher).await?;
                fetcher.finish(args.save_dir.as_deref())?;
                anyhow::Ok(grafana_oncall::map(&documents))
            })??;
            write(args, imported, output, target)
        }
    }
}

/// `X-Grafana-URL` for Grafana Cloud, when --grafana-url is given.
fn grafana_headers(args: &ImportArgs) -> anyhow::Result<Vec<(String, String)>> {
    let Some(url) = &args.grafana_url else {
        return Ok(Vec::new());
    };
    let url = url.trim().trim_end_matches('/').to_owned();
    let parsed = url::Url::parse(&url)
        .map_err(|e| UsageError(format!("--grafana-url {url:?} is not a URL ({e})")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        bail!(UsageError(format!(
            "--grafana-url {url:?} must start with http:// or https://"
        )));
    }
    Ok(vec![("X-Grafana-URL".to_owned(), url)])
}

/// Where to read from, checked before any request.
fn origin(
    args: &ImportArgs,
    spec: &SourceSpec,
    authorization: impl Fn(&str) -> String,
    headers: Vec<(String, String)>,
) -> anyhow::Result<Origin> {
    if let Some(dir) = &args.from_dir {
        if args.save_dir.is_some() {
            bail!(UsageError(
                "--save-dir and --from-dir cannot be used together".into()
            ));
        }
        return Ok(Origin::Saved(dir.clone()));
    }
    let key = args
        .api_key
        .as_deref()
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            UsageError(format!(
                "an API key is needed: --api-key KEY or KLAXON_IMPORT_API_KEY (or --from-dir DIR to import a saved directory) for {}",
                spec.name
            ))
        })?;
    let base = match (&args.api_url, spec.default_url) {
        (Some(url), _) => url.trim().trim_end_matches('/').to_owned(),
        (None, Some(url)) => url.to_owned(),
        (None, None) => bail!(UsageError(format!("--api-url is needed for {}", spec.name))),
    };
    let parsed = url::Url::parse(&base)
        .map_err(|e| UsageError(format!("--api-url {base:?} is not a URL ({e})")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        bail!(UsageError(format!(
            "--api-url {base:?} must start with http:// or https://"
        )));
    }
    Ok(Origin::Live(Live {
        base,
        authorization: authorization(key),
        headers,
        min_interval: spec.min_interval,
    }))
}

/// Validates the configuration, then writes it, the report and the overrides script; then
/// applies the overrides to `target`, if given.
fn write(
    args: &ImportArgs,
    mut imported: Imported,
    output: Output,
    target: Option<&apply::Target>,
) -> anyhow::Result<ExitCode> {
    imported.report.finish();
    let out = &args.out;
    let file_name = out.to_string_lossy();
    let text = if file_name.ends_with(".json") {
        serde_json::to_string_pretty(&imported.config)? + "\n"
    } else if file_name.ends_with(".yaml") || file_name.ends_with(".yml") {
        let header = format!(
            "# Imported from {} by `klaxon import`; review it with migration-report.md (docs/migrating.md).\n",
            imported.report.source
        );
        header
            + &serde_saphyr::to_string(&imported.config)
                .map_err(|e| anyhow!("cannot write YAML: {e}"))?
    } else {
        bail!(UsageError(format!(
            "--out {}: use a .yaml, .yml or .json file name",
            out.display()
        )));
    };
    if let Err(errors) = Config::from_file(&file_name, &text) {
        let lines: Vec<String> = errors.issues.iter().map(|i| format!("  {i}")).collect();
        bail!(
            "the imported configuration does not validate (an importer bug; please report it with the saved directory); nothing was written:\n{}",
            lines.join("\n")
        );
    }
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let report = &imported.report;
    let json = serde_json::to_string_pretty(report)? + "\n";
    let files = [
        (out.clone(), text),
        (dir.join("migration-report.md"), report.markdown()),
        (dir.join("migration-report.json"), json.clone()),
        (dir.join("overrides.sh"), overrides_script(report)),
    ];
    for (path, text) in &files {
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if output.json {
        output::print(&json)?;
    } else {
        output::print(&summary(report, &files.map(|(path, _)| path)))?;
    }
    if let Some(target) = target {
        let applied = block_on(target.apply(report))??;
        if !output.json {
            output::print(&format!(
                "added {} overrides to Klaxon ({} were there already)\n",
                applied.added, applied.present
            ))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn summary(report: &Report, files: &[PathBuf; 4]) -> String {
    let unmapped = report
        .objects
        .iter()
        .filter(|o| o.outcome == report::Outcome::Unmapped)
        .count();
    format!(
        "imported {} objects from {} ({} not mapped, {} unmapped items, {} behaviour differences, {} overrides)\nwrote {}\n      {} (review it)\n      {}\n      {} (run it against the new Klaxon)\n",
        report.objects.len(),
        report.source,
        unmapped,
        report.unmapped.len(),
        report.semantics.len(),
        report.overrides.len(),
        files[0].display(),
        files[1].display(),
        files[2].display(),
        files[3].display(),
    )
}

fn overrides_script(report: &Report) -> String {
    let mut text = format!(
        "#!/bin/sh\n# Overrides imported from {}: runtime data, applied to a running Klaxon\n# (KLAXON_URL and KLAXON_API_KEY, see docs/cli.md). Run once, after `klaxon config apply`.\nset -e\n",
        report.source
    );
    for o in &report.overrides {
        text.push_str(&o.command_line());
        text.push('\n');
    }
    text
}

/// Hands out unique slugs (1 to 64 of `a-z0-9-_`) within one id namespace.
#[derive(Debug, Default)]
pub struct Slugs {
    used: BTreeSet<String>,
}

impl Slugs {
    /// A unique slug made from `wanted` (`Anna Schmidt` → `anna-schmidt`, then `anna-schmidt-2`).
    pub fn take(&mut self, wanted: &str) -> String {
        self.take_at_most(wanted, 64)
    }

    /// A unique slug of at most `max` characters (heartbeat names: 40) made from `wanted`.
    pub fn take_at_most(&mut self, wanted: &str, max: usize) -> String {
        let base: String = slugify(wanted).chars().take(max).collect();
        let base = match base.trim_end_matches('-') {
            "" => "imported".to_owned(),
            trimmed => trimmed.to_owned(),
        };
        let mut candidate = base.clone();
        let mut n = 2;
        while self.used.contains(&candidate) {
            let suffix = format!("-{n}");
            let keep = max.saturating_sub(suffix.len());
            candidate = format!("{}{suffix}", base.chars().take(keep).collect::<String>());
            n += 1;
        }
        self.used.insert(candidate.clone());
        candidate
    }
}

/// Lowercase letters and digits kept, everything else one `-`, at most 64 characters.
pub fn slugify(text: &str) -> String {
    let mut slug = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug: String = slug.trim_end_matches('-').chars().take(64).collect();
    let slug = slug.trim_end_matches('-').to_owned();
    if slug.is_empty() {
        "imported".to_owned()
    } else {
        slug
    }
}

/// The priority of the next routing rule of `config`: rules keep the source's order, 10 apart.
pub fn next_priority(config: &ConfigFile) -> u32 {
    u32::try_from(config.routing.rules.len())
        .map_or(u32::MAX, |n| n.saturating_add(1).saturating_mul(10))
}

/// `text` as a regex matching it literally.
pub fn regex_escape(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Seconds as a Klaxon duration (`"1h 30m"`); at least `1s`.
pub fn duration_text(seconds: u64) -> String {
    let seconds = seconds.max(1);
    let parts = [(86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")];
    let mut rest = seconds;
    let mut text = Vec::new();
    for (size, unit) in parts {
        if rest >= size {
            text.push(format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    text.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_valid_and_unique() {
        let mut slugs = Slugs::default();
        assert_eq!(slugs.take("Anna Schmidt"), "anna-schmidt");
        assert_eq!(slugs.take("anna.schmidt"), "anna-schmidt-2");
        assert_eq!(slugs.take("  ---  "), "imported");
        assert_eq!(slugs.take("Chloé"), "chlo");
        let long = slugs.take(&"x".repeat(80));
        assert_eq!(long.len(), 64);
        assert_eq!(slugs.take(&"x".repeat(80)).len(), 64);
    }

    #[test]
    fn durations_read_like_config() {
        assert_eq!(duration_text(0), "1s");
        assert_eq!(duration_text(300), "5m");
        assert_eq!(duration_text(5_400), "1h 30m");
        assert_eq!(duration_text(90_061), "1d 1h 1m 1s");
    }
}
