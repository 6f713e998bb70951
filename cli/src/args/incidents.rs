//! Arguments of `klaxon incidents ...`.

use super::ApiArgs;
use clap::{Args, Subcommand};

/// `klaxon incidents ...`
#[derive(Debug, Subcommand)]
pub enum IncidentsCommand {
    /// List incidents: open ones (oldest first) or all (newest first).
    #[command(
        long_about = "List incidents through the API (GET /v1/incidents): the open ones \
            (triggered or acknowledged), oldest first, or with --all every incident, newest \
            first.\n\n\
            Examples:\n  \
            klaxon incidents list\n  \
            klaxon incidents list --all --limit 20\n  \
            klaxon incidents list --team payments\n  \
            klaxon incidents list --url https://abc123.execute-api.eu-west-1.amazonaws.com --json"
    )]
    List(IncidentsListArgs),
    /// Show one incident with its alerts and timeline.
    #[command(
        long_about = "Show an incident (GET /v1/incidents/{id}): status, severity, \
            urgency, escalation, its alerts and its timeline. ID is the incident's number (42) \
            or its id.\n\n\
            Examples:\n  \
            klaxon incidents show 42\n  \
            klaxon incidents show 42 --json"
    )]
    Show(IncidentArgs),
    /// Acknowledge an incident: escalation stops.
    #[command(
        long_about = "Acknowledge an incident (POST /v1/incidents/{id}/acknowledge): \
            escalation stops and the people already paged are told. Acknowledging twice changes \
            nothing. With --user the timeline names that user, otherwise the API key.\n\n\
            Examples:\n  \
            klaxon incidents ack 42\n  \
            klaxon incidents ack 42 --user anna"
    )]
    Ack(IncidentActionArgs),
    /// Resolve an incident.
    #[command(
        long_about = "Resolve an incident (POST /v1/incidents/{id}/resolve): escalation \
            stops and the people already paged are told.\n\n\
            Examples:\n  \
            klaxon incidents resolve 42\n  \
            klaxon incidents resolve 42 --user anna"
    )]
    Resolve(IncidentActionArgs),
}

/// Arguments of `klaxon incidents list`.
#[derive(Debug, Args)]
pub struct IncidentsListArgs {
    /// Every incident, newest first (default: open ones, oldest first).
    #[arg(long)]
    pub all: bool,

    /// At most this many (1 to 200) [default: 50].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=200))]
    pub limit: Option<u32>,

    /// Only the incidents this team owns (a team id of the configuration's `teams`).
    #[arg(long, value_name = "TEAM")]
    pub team: Option<String>,

    /// The server.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Arguments naming one incident.
#[derive(Debug, Args)]
pub struct IncidentArgs {
    /// The incident's number (42) or id.
    #[arg(value_name = "ID")]
    pub incident: String,

    /// The server.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Arguments of `klaxon incidents ack|resolve`.
#[derive(Debug, Args)]
pub struct IncidentActionArgs {
    /// The incident's number (42) or id.
    #[arg(value_name = "ID")]
    pub incident: String,

    /// The user acting (a user id of the configuration) [default: the API key].
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,

    /// The server.
    #[command(flatten)]
    pub api: ApiArgs,
}
