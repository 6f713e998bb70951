//! Arguments of `klaxon dead-letters list|redrive`.

use super::ApiArgs;
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// `klaxon dead-letters ...`
#[derive(Debug, Subcommand)]
pub enum DeadLettersCommand {
    /// List the messages that failed every attempt.
    #[command(
        long_about = "List the dead letters: messages that failed every attempt (or are not \
            Klaxon messages), with their queue, attempts, when they died and the last error. \
            With --db, those of a `klaxon serve` data directory, read from its file; without, \
            those of a running Klaxon through its API (`klaxon serve` or the AWS deployment's \
            SQS dead-letter queues; --url/KLAXON_URL and --api-key/KLAXON_API_KEY).\n\n\
            Examples:\n  \
            klaxon dead-letters list --db klaxon-data\n  \
            klaxon dead-letters list --db klaxon-data --json\n  \
            KLAXON_URL=https://klaxon.example.com klaxon dead-letters list"
    )]
    List(DeadLettersListArgs),
    /// Put a dead letter back on its queue, for another round of attempts.
    #[command(
        long_about = "Put a dead letter back at the end of its queue with its attempts \
            reset (after fixing what made it fail: an SMTP server that was down, a webhook URL). \
            A running `klaxon serve` picks it up within a second. Without --db, through a \
            running Klaxon's API, which needs the dead letter's --queue.\n\n\
            Examples:\n  \
            klaxon dead-letters redrive 42 --db klaxon-data\n  \
            klaxon dead-letters redrive 5fd7c1f2-0b7e-4a55-9f1e-3c2d1b0a9e8f --queue notifications"
    )]
    Redrive(DeadLettersRedriveArgs),
}

/// Arguments of `klaxon dead-letters list`.
#[derive(Debug, Args)]
pub struct DeadLettersListArgs {
    /// The data directory (as given to `serve --data-dir`) or its SQLite file; without it,
    /// the API of a running Klaxon.
    #[arg(long, value_name = "PATH", env = "KLAXON_DB")]
    pub db: Option<PathBuf>,

    /// Where the server is and the API key (without --db).
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Arguments of `klaxon dead-letters redrive`.
#[derive(Debug, Args)]
pub struct DeadLettersRedriveArgs {
    /// The dead letter's id (from `dead-letters list`).
    #[arg(value_name = "ID")]
    pub id: String,

    /// Its queue (`alerts`, `incidents`, `timers`, `notifications`, `scheduler`): needed
    /// through the API.
    #[arg(long, value_name = "QUEUE")]
    pub queue: Option<String>,

    /// The data directory (as given to `serve --data-dir`) or its SQLite file; without it,
    /// the API of a running Klaxon.
    #[arg(long, value_name = "PATH", env = "KLAXON_DB")]
    pub db: Option<PathBuf>,

    /// Where the server is and the API key (without --db).
    #[command(flatten)]
    pub api: ApiArgs,
}
