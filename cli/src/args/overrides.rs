//! Arguments of `klaxon overrides add|list|remove`.

use super::ApiArgs;
use crate::time::parse_instant;
use clap::{Args, Subcommand};
use klaxon_domain::Instant;

/// `klaxon overrides ...`
#[derive(Debug, Subcommand)]
pub enum OverridesCommand {
    /// Put someone on call on a schedule for a while.
    #[command(
        long_about = "Add an override (POST /v1/schedules/{id}/overrides): USER is on \
            call on the schedule from --start until --end, whatever its layers say. Times are \
            RFC 3339 with a zone.\n\n\
            Examples:\n  \
            klaxon overrides add primary --user ben --start 2026-03-14T18:00:00Z --end 2026-03-15T08:00:00Z\n  \
            klaxon overrides add database --user emma --start now --end 2026-03-14T22:00:00-04:00"
    )]
    Add(OverrideAddArgs),
    /// List a schedule's overrides in a range.
    #[command(
        long_about = "List the overrides of a schedule in force at some moment of a \
            range (GET /v1/schedules/{id}/overrides) [default range: now to 90 days ahead].\n\n\
            Examples:\n  \
            klaxon overrides list primary\n  \
            klaxon overrides list primary --from 2026-03-01T00:00:00Z --to 2026-04-01T00:00:00Z --json"
    )]
    List(OverrideListArgs),
    /// Remove an override.
    #[command(
        long_about = "Remove an override (DELETE /v1/schedules/{id}/overrides/{override_id}); \
            `overrides list` shows the ids.\n\n\
            Examples:\n  \
            klaxon overrides remove primary 0192f7a3c4d5e6f7a8b9c0d1e2f3a4b5"
    )]
    Remove(OverrideRemoveArgs),
}

/// Arguments of `klaxon overrides add`.
#[derive(Debug, Args)]
pub struct OverrideAddArgs {
    /// The schedule's id.
    #[arg(value_name = "SCHEDULE")]
    pub schedule: String,

    /// Who is on call instead (a user id of the configuration).
    #[arg(long, value_name = "USER")]
    pub user: String,

    /// From (RFC 3339, or `now`).
    #[arg(long, value_name = "TIME", value_parser = parse_instant)]
    pub start: Instant,

    /// Until (exclusive, RFC 3339).
    #[arg(long, value_name = "TIME", value_parser = parse_instant)]
    pub end: Instant,

    /// The server.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Arguments of `klaxon overrides list`.
#[derive(Debug, Args)]
pub struct OverrideListArgs {
    /// The schedule's id.
    #[arg(value_name = "SCHEDULE")]
    pub schedule: String,

    /// Start of the range (RFC 3339) [default: now].
    #[arg(long, value_name = "TIME", value_parser = parse_instant)]
    pub from: Option<Instant>,

    /// End of the range (RFC 3339) [default: 90 days after --from].
    #[arg(long, value_name = "TIME", value_parser = parse_instant)]
    pub to: Option<Instant>,

    /// The server.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Arguments of `klaxon overrides remove`.
#[derive(Debug, Args)]
pub struct OverrideRemoveArgs {
    /// The schedule's id.
    #[arg(value_name = "SCHEDULE")]
    pub schedule: String,

    /// The override's id (from `overrides list`).
    #[arg(value_name = "OVERRIDE_ID")]
    pub id: String,

    /// The server.
    #[command(flatten)]
    pub api: ApiArgs,
}
