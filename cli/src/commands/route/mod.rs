//! `klaxon route test`: a dry run of one payload through parsing, grouping, routing and
//! escalation, with the domain's own functions (the dry run itself is
//! [`klaxon_app::dryrun`], which the console's "test an alert" form runs too). Nothing is
//! stored, nobody is paged.

mod render;

use super::Output;
use crate::args::RouteTestArgs;
use crate::{config_file, output};
use anyhow::Context;
use klaxon_domain::ingest::Format;
use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

pub use klaxon_app::dryrun::*;

/// Runs `route test`.
pub fn test(args: &RouteTestArgs, config: &Path, output: Output) -> anyhow::Result<ExitCode> {
    let config = config_file::load(config)?;
    let body = read_payload(&args.payload)?;
    let report = dry_run(
        &config,
        &body,
        &args.payload.display().to_string(),
        args.format.map(Format::from),
        args.integration.as_deref(),
        args.at,
    )
    .map_err(|error| anyhow::anyhow!(error))?;
    let text = if output.json {
        output::json(&report)?
    } else {
        render::text(&report, &config)
    };
    output::print(&text)?;
    Ok(ExitCode::SUCCESS)
}

fn read_payload(path: &Path) -> anyhow::Result<Vec<u8>> {
    if path == Path::new("-") {
        let mut body = Vec::new();
        std::io::stdin()
            .read_to_end(&mut body)
            .context("cannot read the payload from standard input")?;
        Ok(body)
    } else {
        std::fs::read(path).with_context(|| format!("cannot read payload {}", path.display()))
    }
}
