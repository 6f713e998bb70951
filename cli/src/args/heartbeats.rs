//! Arguments of `klaxon heartbeats`.

use super::ApiArgs;
use clap::{Args, Subcommand};

/// `klaxon heartbeats …`.
#[derive(Debug, Subcommand)]
pub enum HeartbeatsCommand {
    /// Every configured heartbeat: state (inactive, ok, expired), last ping, next deadline.
    #[command(
        long_about = "Every configured heartbeat with its state on a running Klaxon: \
        inactive (never pinged since it was configured), ok (pinged, deadline ahead) or expired \
        (the deadline passed without a ping; its incident is open until the next ping), the \
        last ping and the next deadline.\n\n\
        Examples:\n  \
        klaxon heartbeats list\n  \
        klaxon heartbeats list --json"
    )]
    List(HeartbeatsListArgs),
}

/// Arguments of `klaxon heartbeats list`.
#[derive(Debug, Args)]
pub struct HeartbeatsListArgs {
    /// Where the server is and the API key.
    #[command(flatten)]
    pub api: ApiArgs,
}
