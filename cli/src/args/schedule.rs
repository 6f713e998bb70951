//! Arguments of `klaxon oncall` and `klaxon schedule show|export`.

use super::StoreArgs;
use crate::time::{TimeArg, parse_instant, parse_time_or_date};
use clap::{ArgGroup, Args, Subcommand};
use klaxon_domain::Instant;
use std::path::PathBuf;

/// Arguments of `klaxon oncall`.
#[derive(Debug, Args)]
pub struct OncallArgs {
    /// Only this schedule (default: every schedule).
    #[arg(long, value_name = "ID")]
    pub schedule: Option<String>,

    /// The moment to ask about, RFC 3339 (`2026-03-08T06:30:00Z`).
    #[arg(long, value_name = "TIME", value_parser = parse_instant, default_value = "now")]
    pub at: Instant,

    /// Include the overrides stored here.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `klaxon schedule ...`
#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// The final schedule of a range: who is on call when, and why.
    #[command(
        long_about = "The final schedule over a range: consecutive intervals covering it \
            exactly, each with its start and end in the schedule's time zone (with the UTC \
            offset) and in UTC, who is on call (or nobody) and why (which layer). This is what \
            pages people and what the ICS feed shows. Overrides (runtime data) are included \
            with --db or --table.\n\n\
            --from and --to take an RFC 3339 time or a date; a date means midnight in the \
            schedule's time zone. The range may be at most 366 days. The configuration is the \
            --config file, else the file KLAXON_CONFIG names, else ./klaxon.yaml.\n\n\
            Examples:\n  \
            klaxon schedule show primary --config examples/klaxon.yaml\n  \
            klaxon schedule show database --config examples/klaxon.yaml --from 2026-03-08 --to 2026-03-10\n  \
            klaxon schedule show secondary --config examples/klaxon.yaml \\\n      \
            --from 2026-03-29T00:00:00Z --to 2026-04-05 --json"
    )]
    Show(ShowArgs),
    /// Export a schedule as an iCalendar (.ics) file.
    #[command(
        long_about = "Export a schedule's on-call stretches as an iCalendar file: one \
            event per stretch, titled \"On call: <name>\", with start and end in UTC and a UID \
            that stays the same across exports, so calendar clients update instead of \
            duplicating. Stretches that cross the range's edges keep their real start and end.\n\n\
            Default range: from 7 days ago to 90 days ahead. --from and --to take an RFC 3339 \
            time or a date (midnight in the schedule's zone). Overrides are included with --db \
            or --table. The calendar goes to standard output, or to --output FILE (then --json \
            prints a summary of the file written). The configuration is the --config file, else \
            the file KLAXON_CONFIG names, else ./klaxon.yaml.\n\n\
            Examples:\n  \
            klaxon schedule export primary --config examples/klaxon.yaml --ics > primary.ics\n  \
            klaxon schedule export database --config examples/klaxon.yaml --ics \\\n      \
            --from 2026-03-01 --to 2026-04-01 --output database.ics"
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

    /// Include the overrides stored here.
    #[command(flatten)]
    pub store: StoreArgs,
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

    /// Include the overrides stored here.
    #[command(flatten)]
    pub store: StoreArgs,
}
