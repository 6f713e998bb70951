//! The `klaxon` command: the local server, configuration checks and storage, routing dry runs,
//! on-call queries, keys, and incidents and overrides through the API.
//!
//! `main` parses the command line, runs the command, and maps the outcome to an exit status:
//! 0 success, 1 failure (the command could not do its job), 2 usage error. Every error is
//! printed as one `error: ...` message on standard error; nothing reachable from input panics.

mod args;
mod commands;
mod config_file;
mod failure;
mod holiday_calendar;
mod output;
mod time;

use args::Cli;
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // Help and version go to stdout with status 0; usage errors to stderr with 2.
            let _ = error.print();
            return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(failure::EXIT_USAGE));
        }
    };
    match commands::run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            failure::exit_code_for(&error)
        }
    }
}
