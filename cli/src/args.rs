//! The command line: every command, option and help text (clap derive).
//!
//! One variant of [`Command`] per command group; each group's code lives in
//! `commands/<group>.rs`. Later groups (`serve`, `keys`, `incidents`, `overrides`, `config apply`)
//! are further variants.

use crate::time::{TimeArg, parse_instant, parse_time_or_date};
use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use klaxon_domain::Instant;
use klaxon_domain::ingest::Format;
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
        These commands work on a configuration file alone: check it, dry-run how an alert would \
        be grouped, routed and escalated, and see who is on call.\n\n\
        Examples:\n  \
        klaxon config validate examples/klaxon.yaml\n  \
        klaxon --config examples/klaxon.yaml route test events/ingest/alertmanager-firing.json\n  \
        klaxon --config examples/klaxon.yaml oncall\n  \
        klaxon --config examples/klaxon.yaml schedule show primary --from 2026-03-01 --to 2026-03-08\n\n\
        Exit status: 0 success, 1 failure (invalid configuration, unknown schedule, unreadable \
        file, invalid payload), 2 usage error (unknown option, malformed time or range).",
    after_help = "Run `klaxon help <command>` for examples of each command."
)]
pub struct Cli {
    /// Print JSON instead of text (the shape of each command's JSON is in docs/cli.md).
    #[arg(long, global = true)]
    pub json: bool,

    /// The configuration file, YAML or JSON (chosen by its extension) [default: klaxon.yaml].
    #[arg(long, global = true, value_name = "FILE", env = "KLAXON_CONFIG")]
    pub config: Option<PathBuf>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The command groups.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check configuration files.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Dry-run routing: how an alert payload would be grouped, routed and escalated.
    #[command(subcommand)]
    Route(RouteCommand),
    /// Who is on call on each schedule, now or at a given time.
    #[command(
        long_about = "Who is on call on each schedule (or one), now or at a given time, with the \
            layer that puts them there and when their stretch started and ends, in the \
            schedule's time zone and in UTC.\n\n\
            Overrides are runtime data and are not in the configuration file, so this command \
            shows the schedule as configured.\n\n\
            Examples:\n  \
            klaxon oncall\n  \
            klaxon oncall --schedule primary --at 2026-03-08T06:30:00Z\n  \
            klaxon oncall --at 2026-03-08T09:30:00-04:00 --json"
    )]
    Oncall(OncallArgs),
    /// Show or export a schedule's final schedule (who is on call when).
    #[command(subcommand)]
    Schedule(ScheduleCommand),
}

/// `klaxon config ...`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check a configuration file and list every error with its path.
    #[command(
        long_about = "Check a configuration file and list every error with its exact path \
            (`schedules[2].layers[0].rotation.start: ...`), one per line, then a count. \
            Warnings (rules sharing a priority, severities without a default policy, ...) are \
            printed too but do not make the file invalid.\n\n\
            Exit status: 0 when the file is valid (even with warnings), 1 when it has errors or \
            cannot be read.\n\n\
            Examples:\n  \
            klaxon config validate examples/klaxon.yaml\n  \
            KLAXON_CONFIG=klaxon.yaml klaxon config validate\n  \
            klaxon config validate klaxon.yaml --json"
    )]
    Validate(ValidateArgs),
}

/// Arguments of `klaxon config validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The file to check (default: the --config file).
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
}

/// `klaxon route ...`
#[derive(Debug, Subcommand)]
pub enum RouteCommand {
    /// Dry-run an alert payload through grouping, routing and escalation.
    #[command(
        long_about = "Dry-run an alert payload through parsing, grouping, routing and \
            escalation, with the configuration file, as if it arrived at --at. Nothing is stored \
            and nobody is paged.\n\n\
            For each alert in the payload it shows the dedup key and status, the grouping rule \
            and group key, the routing rule and every step of the routing decision, the policy, \
            severity and urgency, any suppression (rule or maintenance window), and for every \
            tier the escalation would page: when, who (schedules resolved at that moment), and on \
            which channels, round after round until the policy is exhausted. The timeline is \
            computed by the same state machine the routing function runs.\n\n\
            The format is detected from the payload's fields unless --format is given; the \
            integration is the configuration's first one of that format unless --integration is \
            given. Overrides (runtime data) are not taken into account.\n\n\
            Examples:\n  \
            klaxon route test events/ingest/alertmanager-firing.json\n  \
            klaxon route test alert.json --integration deploy-pipeline --at 2026-03-14T02:00:00Z\n  \
            curl -s https://example.com/payload.json | klaxon route test - --format pagerduty --json"
    )]
    Test(RouteTestArgs),
}

/// The wire formats `route test` can parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Klaxon's own JSON.
    Native,
    /// PagerDuty Events API v2.
    Pagerduty,
    /// Opsgenie create-alert API.
    Opsgenie,
    /// Prometheus Alertmanager webhook v4.
    Alertmanager,
    /// Grafana alerting webhook.
    Grafana,
    /// CloudWatch alarm in an SNS message (HTTPS delivery or Lambda event).
    Cloudwatch,
}

impl From<FormatArg> for Format {
    fn from(value: FormatArg) -> Self {
        match value {
            FormatArg::Native => Format::Native,
            FormatArg::Pagerduty => Format::Pagerduty,
            FormatArg::Opsgenie => Format::Opsgenie,
            FormatArg::Alertmanager => Format::Alertmanager,
            FormatArg::Grafana => Format::Grafana,
            FormatArg::Cloudwatch => Format::Cloudwatch,
        }
    }
}

/// Arguments of `klaxon route test`.
#[derive(Debug, Args)]
pub struct RouteTestArgs {
    /// The payload file (JSON, as the sender would POST it); `-` reads standard input.
    #[arg(value_name = "PAYLOAD")]
    pub payload: PathBuf,

    /// The payload's format (default: detected from its fields).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<FormatArg>,

    /// The integration the payload arrives on (default: the first integration of its format).
    #[arg(long, value_name = "NAME")]
    pub integration: Option<String>,

    /// When the payload arrives, RFC 3339 (`2026-03-08T06:30:00Z`, `2026-03-08T07:30:00+01:00`).
    #[arg(long, value_name = "TIME", value_parser = parse_instant, default_value = "now")]
    pub at: Instant,
}

/// Arguments of `klaxon oncall`.
#[derive(Debug, Args)]
pub struct OncallArgs {
    /// Only this schedule (default: every schedule).
    #[arg(long, value_name = "ID")]
    pub schedule: Option<String>,

    /// The moment to ask about, RFC 3339 (`2026-03-08T06:30:00Z`).
    #[arg(long, value_name = "TIME", value_parser = parse_instant, default_value = "now")]
    pub at: Instant,
}

/// `klaxon schedule ...`
#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// The final schedule of a range: who is on call when, and why.
    #[command(
        long_about = "The final schedule over a range: consecutive intervals covering it \
            exactly, each with its start and end in the schedule's time zone (with the UTC \
            offset) and in UTC, who is on call (or nobody) and why (which layer). This is what \
            pages people and what the ICS feed shows. Overrides (runtime data) are not included.\n\n\
            --from and --to take an RFC 3339 time or a date; a date means midnight in the \
            schedule's time zone. The range may be at most 366 days.\n\n\
            Examples:\n  \
            klaxon schedule show primary\n  \
            klaxon schedule show database --from 2026-03-08 --to 2026-03-10\n  \
            klaxon schedule show secondary --from 2026-03-29T00:00:00Z --to 2026-04-05 --json"
    )]
    Show(ShowArgs),
    /// Export a schedule as an iCalendar (.ics) file.
    #[command(
        long_about = "Export a schedule's on-call stretches as an iCalendar file: one \
            event per stretch, titled \"On call: <name>\", with start and end in UTC and a UID \
            that stays the same across exports, so calendar clients update instead of \
            duplicating. Stretches that cross the range's edges keep their real start and end.\n\n\
            Default range: from 7 days ago to 90 days ahead. --from and --to take an RFC 3339 \
            time or a date (midnight in the schedule's zone).\n\n\
            Examples:\n  \
            klaxon schedule export primary --ics > primary.ics\n  \
            klaxon schedule export database --ics --from 2026-03-01 --to 2026-04-01 --output database.ics"
    )]
    #[command(group(ArgGroup::new("export_format").args(["ics"]).required(true)))]
    Export(ExportArgs),
}

/// Arguments of `klaxon schedule show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The schedule's id.
    #[arg(value_name = "ID")]
    pub schedule: String,

    /// Start of the range: RFC 3339 time or a date (midnight in the schedule's zone) [default: now].
    #[arg(long, value_name = "TIME", value_parser = parse_time_or_date)]
    pub from: Option<TimeArg>,

    /// End of the range (exclusive), like --from [default: 7 days after --from].
    #[arg(long, value_name = "TIME", value_parser = parse_time_or_date)]
    pub to: Option<TimeArg>,
}

/// Arguments of `klaxon schedule export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The schedule's id.
    #[arg(value_name = "ID")]
    pub schedule: String,

    /// Write iCalendar (RFC 5545); the only export format so far.
    #[arg(long)]
    pub ics: bool,

    /// Start of the range: RFC 3339 time or a date [default: 7 days ago].
    #[arg(long, value_name = "TIME", value_parser = parse_time_or_date)]
    pub from: Option<TimeArg>,

    /// End of the range (exclusive), like --from [default: 90 days from now].
    #[arg(long, value_name = "TIME", value_parser = parse_time_or_date)]
    pub to: Option<TimeArg>,

    /// Write to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
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
