//! Arguments of `klaxon keys create|list|revoke`.

use super::StoreArgs;
use clap::{ArgGroup, Args, Subcommand};
use klaxon_domain::duration::HumanDuration;
use std::path::PathBuf;

/// `klaxon keys ...`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key for an integration or for the API; it is printed once.
    #[command(
        long_about = "Create a key for an integration (monitoring tools send alerts with it) \
            or for the API (the incidents and overrides commands, scripts). The key is printed \
            once: only its SHA-256 is stored. An integration key works only for an integration \
            the current configuration defines, on that integration's route.\n\n\
            Examples:\n  \
            klaxon keys create --integration alertmanager-prod --table klaxon-prod\n  \
            klaxon keys create --api ops-scripts --label 'cron jobs on bastion' --db klaxon-data\n  \
            klaxon keys create --integration grafana --db klaxon-data --json"
    )]
    #[command(group(ArgGroup::new("owner").args(["integration", "api"]).required(true)))]
    Create(KeysCreateArgs),
    /// List every key: kind, name, hash prefix, creation time and label.
    #[command(
        long_about = "List every key (never the key itself, which is not stored): \
            kind, name, the first 12 hex digits of its SHA-256 (what `keys revoke` takes), when \
            it was created and its label.\n\n\
            Examples:\n  \
            klaxon keys list --db klaxon-data\n  \
            klaxon keys list --table klaxon-prod --json"
    )]
    List(KeysListArgs),
    /// Revoke a key by the start of its hash (as `keys list` shows it).
    #[command(
        long_about = "Revoke (delete) the key whose SHA-256 starts with HASH-PREFIX \
            (at least 6 hex digits, as `keys list` shows). It stops working at once. A prefix \
            that matches several keys revokes nothing and lists them.\n\n\
            Examples:\n  \
            klaxon keys revoke 3f2a9c1e7b04 --db klaxon-data\n  \
            klaxon keys revoke 3f2a9c --table klaxon-prod"
    )]
    Revoke(KeysRevokeArgs),
    /// Replace the ack/resolve link signing secret; links already sent keep working.
    #[command(
        name = "rotate-link-secret",
        long_about = "Replace the secret that signs acknowledge/resolve links with a new random \
            one (a new key id), keeping the old secret accepted for --retire-for (default 30d, \
            the longest ack_link_lifetime) so links already sent keep working until they expire. \
            Retired secrets past their end are dropped. Works on a local data directory (--db; \
            restart `klaxon serve` to sign with the new secret) or on a deployment's Secrets \
            Manager secret (--secret-id, the stack's LinkSigningKeysSecretArn output; the \
            functions pick it up within 5 minutes). No secret is printed.\n\n\
            Examples:\n  \
            klaxon keys rotate-link-secret --db klaxon-data\n  \
            klaxon keys rotate-link-secret --secret-id klaxon/link-signing-keys --json\n  \
            klaxon keys rotate-link-secret --db klaxon-data --retire-for 7d"
    )]
    #[command(group(ArgGroup::new("target").args(["db", "secret_id"]).required(true)))]
    RotateLinkSecret(KeysRotateLinkSecretArgs),
    /// Accept an old link signing secret (read from standard input) as a retired key.
    #[command(
        name = "import-link-secret",
        long_about = "Accept an old ack/resolve link signing secret, read from standard input, \
            as a retired key of a deployment's link keys secret (--secret-id, the stack's \
            LinkSigningKeysSecretArn output) for --retire-for (default 30d, the longest \
            ack_link_lifetime), so links it signed keep working until they expire. New links \
            are still signed with the current key. For upgrading a stack deployed with the \
            LinkSigningSecret parameter (docs/operations.md, Upgrades). Importing the same \
            secret again extends its end. No secret is printed.\n\n\
            Example:\n  \
            printf %s \"$OLD_LINK_SECRET\" | klaxon keys import-link-secret --secret-id \"$LINK_KEYS_ARN\""
    )]
    ImportLinkSecret(KeysImportLinkSecretArgs),
}

/// Arguments of `klaxon keys import-link-secret`.
#[derive(Debug, Args)]
pub struct KeysImportLinkSecretArgs {
    /// The deployment's link keys secret in AWS Secrets Manager (ARN or name).
    #[arg(long, value_name = "ARN", env = "KLAXON_LINK_KEYS_SECRET")]
    pub secret_id: String,

    /// How long the old secret stays accepted (at least the links' lifetime, ack_link_lifetime).
    #[arg(long, value_name = "DURATION", default_value = "30d", value_parser = parse_retire_for)]
    pub retire_for: HumanDuration,
}

/// Arguments of `klaxon keys rotate-link-secret`.
#[derive(Debug, Args)]
pub struct KeysRotateLinkSecretArgs {
    /// A local data directory (as given to `serve --data-dir`) or its SQLite file.
    #[arg(long, value_name = "PATH", env = "KLAXON_DB")]
    pub db: Option<PathBuf>,

    /// The deployment's link keys secret in AWS Secrets Manager (ARN or name).
    #[arg(
        long,
        value_name = "ARN",
        env = "KLAXON_LINK_KEYS_SECRET",
        conflicts_with = "db"
    )]
    pub secret_id: Option<String>,

    /// How long the old secret stays accepted (at least the links' lifetime, ack_link_lifetime).
    #[arg(long, value_name = "DURATION", default_value = "30d", value_parser = parse_retire_for)]
    pub retire_for: HumanDuration,
}

/// A `--retire-for` duration: at least one minute (a shorter one would break links at once).
fn parse_retire_for(text: &str) -> Result<HumanDuration, String> {
    let duration = HumanDuration::parse(text).map_err(|e| e.to_string())?;
    if duration.as_secs() < 60 {
        return Err(format!(
            "{text:?} is shorter than a minute: links already sent would stop working"
        ));
    }
    Ok(duration)
}

/// Arguments of `klaxon keys create`.
#[derive(Debug, Args)]
pub struct KeysCreateArgs {
    /// Create an integration key for this integration (as named in the configuration).
    #[arg(long, value_name = "NAME")]
    pub integration: Option<String>,

    /// Create an API key with this name (it appears as the actor of what the key does).
    #[arg(long, value_name = "NAME")]
    pub api: Option<String>,

    /// A note for people: where the key is used.
    #[arg(long, value_name = "TEXT")]
    pub label: Option<String>,

    /// Where keys are stored.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Arguments of `klaxon keys list`.
#[derive(Debug, Args)]
pub struct KeysListArgs {
    /// Where keys are stored.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Arguments of `klaxon keys revoke`.
#[derive(Debug, Args)]
pub struct KeysRevokeArgs {
    /// The first hex digits (at least 6) of the key's SHA-256.
    #[arg(value_name = "HASH-PREFIX", value_parser = parse_hash_prefix)]
    pub prefix: String,

    /// Where keys are stored.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// A hash prefix: 6 to 64 hex digits, compared in lower case.
fn parse_hash_prefix(text: &str) -> Result<String, String> {
    let text = text.trim().to_ascii_lowercase();
    if text.len() < 6 || text.len() > 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "{text:?} is not a hash prefix: give 6 to 64 hex digits, as `klaxon keys list` shows"
        ));
    }
    Ok(text)
}
