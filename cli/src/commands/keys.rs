//! `klaxon keys create|list|revoke`: integration and API keys in a database or DynamoDB table.

use super::Output;
use super::store::{self, Missing, with_repo};
use crate::args::{KeysCreateArgs, KeysListArgs, KeysRevokeArgs};
use crate::output;
use anyhow::{Context, bail};
use klaxon_app::security::keys::PlainKey;
use klaxon_domain::Instant;
use klaxon_domain::config::Config;
use klaxon_store::Store;
use klaxon_store::repo::{KeyKind, KeyRecord, Repository, StoredKey};
use serde::Serialize;
use std::process::ExitCode;

/// How many hex digits of a hash are shown.
const HASH_SHOWN: usize = 12;

/// A key as `list` and `revoke` show it (never the key itself).
#[derive(Debug, Serialize)]
struct KeyInfo {
    kind: KeyKind,
    name: String,
    hash: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<String>,
    created_at: Instant,
}

impl From<StoredKey> for KeyInfo {
    fn from(stored: StoredKey) -> Self {
        KeyInfo {
            kind: stored.record.kind,
            name: stored.record.name,
            hash: stored.hash,
            label: stored.record.label,
            created_at: stored.record.created_at,
        }
    }
}

fn kind_name(kind: KeyKind) -> &'static str {
    match kind {
        KeyKind::Integration => "integration",
        KeyKind::Api => "api",
    }
}

fn short(hash: &str) -> &str {
    hash.get(..HASH_SHOWN).unwrap_or(hash)
}

/// The `create` report: the key, shown once.
#[derive(Debug, Serialize)]
struct Created {
    #[serde(flatten)]
    info: KeyInfo,
    key: String,
    target: String,
}

/// Runs `keys create`.
pub fn create(args: &KeysCreateArgs, output: Output) -> anyhow::Result<ExitCode> {
    let (kind, name) = match (&args.integration, &args.api) {
        (Some(name), _) => (KeyKind::Integration, name.trim().to_owned()),
        (None, Some(name)) => (KeyKind::Api, name.trim().to_owned()),
        (None, None) => bail!(crate::failure::UsageError(
            "give --integration NAME or --api NAME".into()
        )),
    };
    let created = store::block_on(async {
        let backend = store::open(&args.store, Missing::Refuse, "cli").await?;
        let info = with_repo!(&backend, |repo| {
            create_key(repo, kind, &name, args.label.clone()).await
        })?;
        anyhow::Ok((info, backend.target()))
    })??;
    let ((info, key), target) = created;
    let report = Created {
        info,
        key: key.expose().to_owned(),
        target,
    };
    let text = if output.json {
        output::json(&report)?
    } else {
        format!(
            "Created {} key {} for {} (hash {}…).\nIt is shown only this once; Klaxon stores only its SHA-256:\n\n{}\n",
            if kind == KeyKind::Api {
                "an API"
            } else {
                "an integration"
            },
            report.info.name,
            if kind == KeyKind::Api {
                "the API"
            } else {
                "alerts of that integration"
            },
            short(&report.info.hash),
            report.key
        )
    };
    output::print(&text)?;
    Ok(ExitCode::SUCCESS)
}

async fn create_key<S: Store>(
    repo: &Repository<S>,
    kind: KeyKind,
    name: &str,
    label: Option<String>,
) -> anyhow::Result<(KeyInfo, PlainKey)> {
    if name.is_empty() {
        bail!("the key's name is empty");
    }
    if kind == KeyKind::Integration {
        let Some(current) = repo
            .current_config()
            .await
            .context("cannot read the current configuration")?
        else {
            bail!(
                "no configuration has been applied yet: run `klaxon config apply FILE` first (integration keys are for integrations it defines)"
            );
        };
        let config = Config::from_json(&current.json).map_err(|errors| {
            anyhow::anyhow!(
                "the stored configuration version {} is invalid: {errors}",
                current.version
            )
        })?;
        if !config
            .integrations
            .iter()
            .any(|integration| integration.name.as_str() == name)
        {
            let known: Vec<&str> = config
                .integrations
                .iter()
                .map(|integration| integration.name.as_str())
                .collect();
            bail!(
                "unknown integration '{name}' (configuration version {} defines: {})",
                current.version,
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            );
        }
    }
    let key = PlainKey::generate();
    let record = KeyRecord {
        kind,
        name: name.to_owned(),
        label,
        created_at: crate::time::now(),
    };
    repo.create_key(key.hash().as_str(), &record)
        .await
        .context("cannot store the key")?;
    Ok((
        KeyInfo {
            kind,
            name: record.name,
            hash: key.hash().as_str().to_owned(),
            label: record.label,
            created_at: record.created_at,
        },
        key,
    ))
}

/// Runs `keys list`.
pub fn list(args: &KeysListArgs, output: Output) -> anyhow::Result<ExitCode> {
    let keys = store::block_on(async {
        let backend = store::open(&args.store, Missing::Refuse, "cli").await?;
        with_repo!(&backend, |repo| repo.list_keys().await).context("cannot list the keys")
    })??;
    let keys: Vec<KeyInfo> = keys.into_iter().map(KeyInfo::from).collect();
    let text = if output.json {
        output::json(&keys)?
    } else if keys.is_empty() {
        "no keys\n".to_owned()
    } else {
        let rows: Vec<Vec<String>> = keys
            .iter()
            .map(|key| {
                vec![
                    kind_name(key.kind).to_owned(),
                    key.name.clone(),
                    short(&key.hash).to_owned(),
                    crate::time::utc_seconds(key.created_at),
                    key.label.clone().unwrap_or_default(),
                ]
            })
            .collect();
        output::table(&["KIND", "NAME", "HASH", "CREATED", "LABEL"], &rows)
    };
    output::print(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `keys revoke`.
pub fn revoke(args: &KeysRevokeArgs, output: Output) -> anyhow::Result<ExitCode> {
    let revoked = store::block_on(async {
        let backend = store::open(&args.store, Missing::Refuse, "cli").await?;
        with_repo!(&backend, |repo| revoke_prefix(repo, &args.prefix).await)
    })??;
    let text = if output.json {
        output::json(&serde_json::json!({ "revoked": revoked }))?
    } else {
        format!(
            "revoked {} key {} (hash {}…)\n",
            kind_name(revoked.kind),
            revoked.name,
            short(&revoked.hash)
        )
    };
    output::print(&text)?;
    Ok(ExitCode::SUCCESS)
}

async fn revoke_prefix<S: Store>(repo: &Repository<S>, prefix: &str) -> anyhow::Result<KeyInfo> {
    let keys = repo.list_keys().await.context("cannot list the keys")?;
    let mut matching: Vec<StoredKey> = keys
        .into_iter()
        .filter(|key| key.hash.starts_with(prefix))
        .collect();
    match matching.len() {
        0 => bail!("no key's hash starts with {prefix} (see `klaxon keys list`)"),
        1 => {}
        n => {
            let names: Vec<String> = matching
                .iter()
                .map(|key| {
                    format!(
                        "{} {} ({})",
                        kind_name(key.record.kind),
                        key.record.name,
                        short(&key.hash)
                    )
                })
                .collect();
            bail!(
                "{n} keys' hashes start with {prefix}: {}; give more digits",
                names.join(", ")
            );
        }
    }
    let key = matching.remove(0);
    if !repo
        .revoke_key(&key.hash)
        .await
        .context("cannot revoke the key")?
    {
        bail!("the key {} was revoked meanwhile", short(&key.hash));
    }
    Ok(key.into())
}
