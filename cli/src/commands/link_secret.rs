//! `klaxon keys rotate-link-secret`: a new link signing secret for a local data directory or a
//! deployment's Secrets Manager secret, the old one retired (still accepted) for a while.

use super::Output;
use super::store::{block_on, database_path};
use crate::args::KeysRotateLinkSecretArgs;
use crate::output;
use anyhow::Context;
use chrono::{SecondsFormat, SubsecRound, Utc};
use klaxon_app::security::links::{LinkKeys, Rotation, generate_secret};
use klaxon_aws::SecretStore;
use klaxon_local::runtime::data_dir::DataDir;
use serde::Serialize;
use std::process::ExitCode;

/// The report: key ids and times, never a secret.
#[derive(Debug, Serialize)]
struct Report {
    target: String,
    #[serde(flatten)]
    rotation: Rotation,
}

/// Runs `keys rotate-link-secret`.
pub fn run(args: &KeysRotateLinkSecretArgs, output: Output) -> anyhow::Result<ExitCode> {
    let retire_for = args.retire_for.to_delta();
    // Whole seconds: the local file stores Unix seconds, and reports read better.
    let now = Utc::now().trunc_subsecs(0);
    let report = match (&args.db, &args.secret_id) {
        (Some(db), _) => {
            // The data directory of `--db DIR` or of `--db DIR/klaxon.db`.
            let database = database_path(db);
            let root = database
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map(|p| p.to_path_buf())
                .unwrap_or_else(|| std::path::PathBuf::from("."));
            let dir = DataDir::new(&root);
            if !dir.link_secret().is_file() {
                anyhow::bail!(
                    "no link secret at {} (start `klaxon serve --data-dir {}` once first)",
                    dir.link_secret().display(),
                    root.display()
                );
            }
            let rotation = dir.rotate_link_secret(now, retire_for)?;
            Report {
                target: format!("data directory {}", root.display()),
                rotation,
            }
        }
        (None, Some(id)) => block_on(rotate_deployed(id, now, retire_for))??,
        (None, None) => anyhow::bail!(crate::failure::UsageError(
            "give --db DIR or --secret-id ARN".into()
        )),
    };
    let text = if output.json {
        output::json(&report)?
    } else {
        let r = &report.rotation;
        let mut text = format!(
            "Rotated the link signing secret of {}: new links are signed with key {}.\nKey {} stays accepted until {} (links it signed keep working until they expire).\n",
            report.target,
            r.current,
            r.retired,
            r.retired_until.to_rfc3339_opts(SecondsFormat::Secs, true),
        );
        if !r.kept.is_empty() {
            text.push_str(&format!("Still accepted too: {}.\n", r.kept.join(", ")));
        }
        if r.dropped > 0 {
            text.push_str(&format!(
                "Dropped {} retired key(s) past their end.\n",
                r.dropped
            ));
        }
        text.push_str(if args.db.is_some() {
            "Restart `klaxon serve` to sign with the new key.\n"
        } else {
            "The functions read it within 5 minutes.\n"
        });
        text
    };
    output::print(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// Reads the deployed keys, rotates them and stores the result as the secret's new version.
async fn rotate_deployed(
    id: &str,
    now: chrono::DateTime<Utc>,
    retire_for: chrono::TimeDelta,
) -> anyhow::Result<Report> {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let store = SecretStore::from_config(&config);
    let text = store
        .get(id)
        .await
        .context("cannot read the link signing keys")?;
    let keys = LinkKeys::from_json(&text).with_context(|| format!("secret {id}"))?;
    let (rotated, rotation) = keys.rotate(generate_secret(), now, retire_for)?;
    store
        .put(id, &rotated.to_json())
        .await
        .context("cannot store the new link signing keys")?;
    Ok(Report {
        target: format!("secret {id}"),
        rotation,
    })
}
