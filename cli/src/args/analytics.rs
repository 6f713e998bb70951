//! Arguments of `klaxon analytics`.

use super::ApiArgs;
use crate::time::parse_instant;
use clap::{Args, ValueEnum};
use klaxon_domain::Instant;

/// How the groups of the report are formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AnalyticsBy {
    /// ISO week of the incident's opening (UTC).
    Week,
    /// Severity.
    Severity,
    /// Escalation policy.
    Policy,
    /// Owning team.
    Team,
    /// Integration of the first alert.
    Integration,
    /// Who acknowledged.
    Responder,
}

/// Which table `--csv` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AnalyticsTable {
    /// One row per group, then the totals.
    Groups,
    /// The noisiest alert sources.
    Sources,
    /// The on-call load per person.
    Load,
    /// The change events per integration (the latest few of each).
    Changes,
}

/// Arguments of `klaxon analytics`.
#[derive(Debug, Args)]
pub struct AnalyticsArgs {
    /// Start of the period (RFC 3339) [default: 30 days before --to].
    #[arg(long, value_name = "TIME", value_parser = parse_instant)]
    pub from: Option<Instant>,

    /// End of the period, exclusive (RFC 3339) [default: now].
    #[arg(long, value_name = "TIME", value_parser = parse_instant)]
    pub to: Option<Instant>,

    /// How to group the incidents.
    #[arg(long, value_enum, default_value = "week")]
    pub by: AnalyticsBy,

    /// Print CSV (the server's `text/csv` answer) instead of tables (wins over --json).
    #[arg(long)]
    pub csv: bool,

    /// The table --csv prints.
    #[arg(long, value_enum, default_value = "groups", requires = "csv")]
    pub table: AnalyticsTable,

    /// The server.
    #[command(flatten)]
    pub api: ApiArgs,
}
