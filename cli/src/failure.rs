//! Exit statuses and the error that means "the command line is wrong".

use std::fmt;
use std::process::ExitCode;

/// The command could not do its job: invalid configuration or payload, unknown schedule or
/// integration, unreadable file.
pub const EXIT_FAILURE: u8 = 1;
/// The command line is wrong: clap's own errors, malformed times, impossible ranges.
pub const EXIT_USAGE: u8 = 2;

/// An error in the command line that clap could not catch by itself (it depends on several
/// arguments together, like a range whose end is before its start). Reported like clap's own
/// usage errors, with exit status 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// The exit status for an error a command returned.
pub fn exit_code_for(error: &anyhow::Error) -> ExitCode {
    if error.downcast_ref::<UsageError>().is_some() {
        ExitCode::from(EXIT_USAGE)
    } else {
        ExitCode::from(EXIT_FAILURE)
    }
}
