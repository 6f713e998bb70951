//! The command line: every command, option and help text (clap derive).
//!
//! One variant of [`Command`] per command group; each group's code lives in
//! `commands/<group>.rs`, and its arguments in `args/<group>.rs`. The arguments several groups
//! share ([`StoreArgs`], [`ApiArgs`]) are here.

mod analytics;
mod config;
mod dead_letters;
mod heartbeats;
mod incidents;
mod keys;
mod overrides;
mod postmortem;
mod route;
mod schedule;
mod serve;

pub use analytics::*;
pub use config::*;
pub use dead_letters::*;
pub use heartbeats::*;
pub use incidents::*;
pub use keys::*;
pub use overrides::*;
pub use postmortem::*;
pub use route::*;
pub use schedule::*;
pub use serve::*;

use clap::{ArgGroup, Args, Parser, Subcommand};
use std::path::PathBuf;

/// The configuration file used when neither `--config` nor `KLAXON_CONFIG` names one.
pub const DEFAULT_CONFIG: &str = "klaxon.yaml";

/// The `klaxon` command line.
#[derive(Debug, Parser)]
#[command(
    name = "klaxon",
    version,
    about = "On-call paging and escalation you run yourself",
    long_about = "On-call paging and escalation you run yourself.\n\n\
        Run all of Klaxon locally with `klaxon serve`; check a configuration file, dry-run how an \
        alert would be grouped, routed and escalated, and see who is on call without running \
        anything; store configuration and keys in a local database or a DynamoDB table; and \
        list, acknowledge and resolve incidents and manage overrides on a running Klaxon (local \
        or deployed) through its API.\n\n\
        Examples:\n  \
        klaxon serve --config examples/klaxon.yaml\n  \
        klaxon config validate examples/klaxon.yaml\n  \
        klaxon --config examples/klaxon.yaml route test events/ingest/alertmanager-firing.json\n  \
        klaxon --config examples/klaxon.yaml oncall\n  \
        klaxon config apply examples/klaxon.yaml --table klaxon-prod\n  \
        klaxon incidents list\n\n\
        Exit status: 0 success, 1 failure (invalid configuration, unknown schedule, unreadable \
        file, invalid payload, server unreachable or answering an error), 2 usage error (unknown \
        option, malformed time or range, missing --db/--table).",
    after_help = "Run `klaxon help <command>` for examples of each command."
)]
pub struct Cli {
    /// Print JSON instead of text (the shape of each command's JSON is in docs/cli.md).
    #[arg(long, global = true)]
    pub json: bool,

    /// The configuration file, YAML or JSON (chosen by its extension); without --config,
    /// KLAXON_CONFIG names it, else ./klaxon.yaml [default: klaxon.yaml].
    #[arg(long, global = true, value_name = "FILE", env = "KLAXON_CONFIG")]
    pub config: Option<PathBuf>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The command groups.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run Klaxon locally: the HTTP API, queues, timers and notifications in one process.
    #[command(
        long_about = "Run Klaxon locally: the same HTTP routes as the AWS deployment (ingest, \
            acknowledge links, API), the pipeline (grouping, routing, escalation timers, \
            notifications) and a recovery sweep, in one process on one SQLite file in the data \
            directory.\n\n\
            On start it applies the --config file as a new configuration version (when it \
            changed), makes sure every integration has a key and there is an API key (new keys \
            are generated; the plaintext is kept in <data-dir>/keys.env, mode 0600), and prints \
            where it listens and which keys to use. Load the keys into a shell with \
            `set -a; . klaxon-data/keys.env; set +a`.\n\n\
            Every page is printed and appended to <data-dir>/outbox.jsonl; email also goes out \
            by SMTP when configured (--smtp-url or --smtp-host), and Slack, Teams and generic \
            webhooks are posted when the configuration's ${VAR} references are set in the \
            environment.\n\n\
            Everything accepted is durable: stopping the process, even with kill -9, loses no \
            alert, and every pending escalation tier fires at its due time after a restart (late \
            ones at once). Ctrl-C or SIGTERM stops gracefully (status 0); a second one while \
            that waits for work in progress exits at once with status 130. See \
            docs/local-mode.md.\n\n\
            Examples:\n  \
            klaxon serve --config examples/klaxon.yaml\n  \
            klaxon serve --config klaxon.yaml --listen 0.0.0.0:8080 --public-url https://klaxon.example.com\n  \
            klaxon serve --smtp-url 'smtp://localhost:1025?tls=none&from=klaxon@localhost'"
    )]
    Serve(ServeArgs),
    /// Check configuration files, and store them in a database or DynamoDB table.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Create, list and revoke integration and API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// List, show, acknowledge and resolve incidents on a running Klaxon.
    #[command(subcommand)]
    Incidents(IncidentsCommand),
    /// List, add and remove schedule overrides on a running Klaxon.
    #[command(subcommand)]
    Overrides(OverridesCommand),
    /// The state of every heartbeat (dead man's switch) on a running Klaxon.
    #[command(subcommand)]
    Heartbeats(HeartbeatsCommand),
    /// Create, edit, review and export incident post-mortems on a running Klaxon.
    #[command(subcommand)]
    Postmortem(PostmortemCommand),
    /// List, add and complete post-mortem action items on a running Klaxon.
    #[command(subcommand)]
    ActionItems(ActionItemsCommand),
    /// List and redrive the dead letters of a local data directory's queues.
    #[command(subcommand)]
    DeadLetters(DeadLettersCommand),
    /// Dry-run routing: how an alert payload would be grouped, routed and escalated.
    #[command(subcommand)]
    Route(RouteCommand),
    /// Who is on call on each schedule, now or at a given time.
    #[command(
        long_about = "Who is on call on each schedule (or one), now or at a given time, with the \
            layer that puts them there and when their stretch started and ends, in the \
            schedule's time zone and in UTC.\n\n\
            Overrides are runtime data, not in the configuration file: with --db or --table \
            the overrides stored there are included, otherwise the schedule is shown as \
            configured.\n\n\
            The configuration is the --config file, else the file KLAXON_CONFIG names, else \
            ./klaxon.yaml.\n\n\
            Examples:\n  \
            klaxon oncall --config examples/klaxon.yaml\n  \
            klaxon oncall --config examples/klaxon.yaml --schedule primary --at 2026-03-08T06:30:00Z\n  \
            klaxon oncall --config examples/klaxon.yaml --at 2026-03-08T09:30:00-04:00 --json\n  \
            klaxon oncall --config examples/klaxon.yaml --db klaxon-data"
    )]
    Oncall(OncallArgs),
    /// Response metrics of a period: MTTA, MTTR, pages, off-hours pages, on-call load.
    #[command(
        long_about = "Response metrics of a period through the API (GET /v1/analytics): \
            incidents, acknowledgements and resolves, time to acknowledge and to resolve \
            (median and p90, nearest rank), pages and off-hours pages per group; the noisiest \
            alert sources; and each person's on-call load (pages, off-hours pages, \
            acknowledgements, hours on call in the final schedules). The period holds the \
            incidents resolved in it and the open ones opened in it.\n\n\
            Examples:\n  \
            klaxon analytics\n  \
            klaxon analytics --from 2026-03-01T00:00:00Z --to 2026-04-01T00:00:00Z --by severity\n  \
            klaxon analytics --by responder --csv > mtta.csv\n  \
            klaxon analytics --csv --table load > load.csv"
    )]
    Analytics(AnalyticsArgs),
    /// Show or export a schedule's final schedule (who is on call when).
    #[command(subcommand)]
    Schedule(ScheduleCommand),
    /// Import an Opsgenie, PagerDuty or Grafana OnCall account as a Klaxon configuration, report and overrides.
    #[command(subcommand)]
    Import(crate::commands::import::ImportCommand),
}

/// Where stored data lives: a local database or a DynamoDB table.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("store").args(["table", "db"]).multiple(false)))]
pub struct StoreArgs {
    /// The DynamoDB table of an AWS deployment.
    #[arg(long, value_name = "NAME", env = "KLAXON_TABLE")]
    pub table: Option<String>,

    /// A local data directory (as given to `serve --data-dir`) or its SQLite file.
    #[arg(long, value_name = "PATH", env = "KLAXON_DB")]
    pub db: Option<PathBuf>,
}

/// Where a running Klaxon is and how to authenticate to its API.
#[derive(Debug, Args)]
pub struct ApiArgs {
    /// Klaxon's base URL: `klaxon serve`'s address or the deployment's API URL.
    #[arg(
        long,
        value_name = "URL",
        env = "KLAXON_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub url: String,

    /// An API key (`klaxon keys create --api NAME`; `klaxon serve` writes one to keys.env).
    #[arg(
        long,
        value_name = "KEY",
        env = "KLAXON_API_KEY",
        hide_env_values = true
    )]
    pub api_key: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_options_work_after_the_subcommand() {
        let cli = Cli::try_parse_from([
            "klaxon",
            "oncall",
            "--json",
            "--config",
            "x.yaml",
            "--at",
            "2026-03-08T06:30:00Z",
        ])
        .unwrap();
        assert!(cli.json);
        assert_eq!(cli.config, Some(PathBuf::from("x.yaml")));
        let Command::Oncall(args) = cli.command else {
            panic!("expected oncall");
        };
        assert_eq!(args.at.to_rfc3339(), "2026-03-08T06:30:00+00:00");
    }

    #[test]
    fn malformed_times_and_formats_are_usage_errors() {
        for argv in [
            vec!["klaxon", "oncall", "--at", "yesterday"],
            vec!["klaxon", "oncall", "--at", "2026-03-08T06:30:00"],
            vec!["klaxon", "schedule", "show", "p", "--from", "2026-13-01"],
            vec!["klaxon", "route", "test", "x.json", "--format", "nagios"],
            vec!["klaxon", "schedule", "export", "p"],
        ] {
            let error = Cli::try_parse_from(&argv).unwrap_err();
            assert_eq!(error.exit_code(), 2, "{argv:?}: {error}");
        }
    }
}
