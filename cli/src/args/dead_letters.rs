//! Arguments of `klaxon dead-letters list|redrive`.

use clap::{Args, Subcommand};
use std::path::PathBuf;

/// `klaxon dead-letters ...`
#[derive(Debug, Subcommand)]
pub enum DeadLettersCommand {
    /// List the messages that failed every attempt.
    #[command(
        long_about = "List the dead letters of `klaxon serve`'s queues: messages that \
            failed every attempt (or are not Klaxon messages), with their queue, attempts, when \
            they died and the last error. (On AWS, dead letters are in the SQS dead-letter \
            queues; see docs/deployment.md.)\n\n\
            Examples:\n  \
            klaxon dead-letters list --db klaxon-data\n  \
            klaxon dead-letters list --db klaxon-data --json"
    )]
    List(DeadLettersListArgs),
    /// Put a dead letter back on its queue, for another round of attempts.
    #[command(
        long_about = "Put a dead letter back at the end of its queue with its attempts \
            reset (after fixing what made it fail: an SMTP server that was down, a webhook URL). \
            A running `klaxon serve` picks it up within a second.\n\n\
            Examples:\n  \
            klaxon dead-letters redrive 42 --db klaxon-data"
    )]
    Redrive(DeadLettersRedriveArgs),
}

/// Arguments of `klaxon dead-letters list`.
#[derive(Debug, Args)]
pub struct DeadLettersListArgs {
    /// The data directory (as given to `serve --data-dir`) or its SQLite file.
    #[arg(long, value_name = "PATH", env = "KLAXON_DB")]
    pub db: PathBuf,
}

/// Arguments of `klaxon dead-letters redrive`.
#[derive(Debug, Args)]
pub struct DeadLettersRedriveArgs {
    /// The dead letter's id (from `dead-letters list`).
    #[arg(value_name = "ID")]
    pub id: i64,

    /// The data directory (as given to `serve --data-dir`) or its SQLite file.
    #[arg(long, value_name = "PATH", env = "KLAXON_DB")]
    pub db: PathBuf,
}
