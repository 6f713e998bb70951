//! `klaxon keys rotate-link-secret`: a new link signing secret for a local data directory or a
//! deployment's Secrets Manager secret, the old one retired (still accepted) for a while; and
//! `klaxon keys import-link-secret`: an old deployment's secret accepted as a retired key.

use super::Output;
use super::store::{block_on, database_path};
use crate::args::{KeysImportLinkSecretArgs, KeysRotateLinkSecretArgs};
use crate::output;
use anyhow::Context;
use chrono::{SecondsFormat, SubsecRound, Utc};
use klaxon_app::security::links::{Import, LinkKeys, Rotation, generate_secret};
use klaxon_aws::SecretStore;
use klaxon_local::runtime::data_dir::DataDir;
use serde::Serialize;
use std::io::Read;
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

/// The import report: key ids and times, never a secret.
#[derive(Debug, Serialize)]
struct ImportReport {
    target: String,
    #[serde(flatten)]
    import: Import,
}

/// Runs `keys import-link-secret`: the old secret from standard input (surrounding whitespace,
/// such as the newline `echo` adds, is not part of it).
pub fn import(args: &KeysImportLinkSecretArgs, output: Output) -> anyhow::Result<ExitCode> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("cannot read the old link secret from standard input")?;
    let secret = text.trim().to_owned();
    if secret.is_empty() {
        anyhow::bail!(crate::failure::UsageError(
            "standard input: give the old link signing secret there (printf %s \"$OLD\" | klaxon keys import-link-secret ...)".into()
        ));
    }
    let now = Utc::now().trunc_subsecs(0);
    let report = block_on(import_deployed(
        &args.secret_id,
        secret,
        now,
        args.retire_for.to_delta(),
    ))??;
    let text = if output.json {
        output::json(&report)?
    } else {
        let i = &report.import;
        format!(
            "{} key {} in {}: links it signed are accepted until {} (or until they expire).\nNew links are still signed with key {}. The functions read it within 5 minutes.\n",
            if i.added {
                "Accepted"
            } else {
                "Already accepted; extended"
            },
            i.imported,
            report.target,
            i.until.to_rfc3339_opts(SecondsFormat::Secs, true),
            i.current,
        )
    };
    output::print(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// Reads the deployed keys, adds `secret` as a retired key and stores the result.
async fn import_deployed(
    id: &str,
    secret: String,
    now: chrono::DateTime<Utc>,
    retire_for: chrono::TimeDelta,
) -> anyhow::Result<ImportReport> {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let store = SecretStore::from_config(&config);
    let text = store
        .get(id)
        .await
        .context("cannot read the link signing keys")?;
    let keys = LinkKeys::from_json(&text).with_context(|| format!("secret {id}"))?;
    let (updated, import) = keys
        .accept_retired(secret, now, retire_for)
        .context("standard input")?;
    store
        .put(id, &updated.to_json())
        .await
        .context("cannot store the link signing keys")?;
    Ok(ImportReport {
        target: format!("secret {id}"),
        import,
    })
}
