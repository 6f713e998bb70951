//! Arguments of `klaxon config validate|apply`.

use super::StoreArgs;
use clap::{Args, Subcommand};
use std::path::PathBuf;

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
            KLAXON_CONFIG=examples/klaxon.yaml klaxon config validate\n  \
            klaxon config validate examples/klaxon.yaml --json"
    )]
    Validate(ValidateArgs),
    /// Store a configuration file as the new current version and show what changed.
    #[command(
        long_about = "Validate a configuration file and store it as the next configuration \
            version in a local database (--db, what `klaxon serve` uses) or a DynamoDB table \
            (--table, the AWS deployment), then print the difference to the version that was \
            current, as a unified diff of the canonical JSON. When the file's fingerprint equals \
            the current version's, nothing is written and it says \"unchanged\". Running \
            services pick the new version up within their cache time (30 s on AWS, 5 s in \
            `klaxon serve`).\n\n\
            --table uses the AWS SDK's default credential and region chain (AWS_PROFILE, \
            AWS_REGION, ...) and honours AWS_ENDPOINT_URL.\n\n\
            Examples:\n  \
            klaxon config apply examples/klaxon.yaml --db klaxon-data\n  \
            klaxon config apply klaxon.yaml --table klaxon-prod\n  \
            KLAXON_TABLE=klaxon-prod klaxon config apply klaxon.yaml --json"
    )]
    Apply(ApplyArgs),
}

/// Arguments of `klaxon config apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The file to apply (default: the --config file).
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// Where to store it.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Arguments of `klaxon config validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The file to check (default: the --config file).
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
}
