//! The command line: every command, option and help text (clap derive).
//!
//! One variant of [`Command`] per command group; each group's code lives in
//! `commands/<group>.rs`.

use crate::time::{TimeArg, parse_instant, parse_time_or_date};
use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use klaxon_domain::Instant;
use klaxon_domain::ingest::Format;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

/// The configuration file used when neither `--config` nor `KLAXON_CONFIG` names one.
pub const DEFAULT_CONFIG: &str = "klaxon.yaml";

/// The `klaxon` command line.
#[derive(Debug, Parser)]
#[command(
    name = "klaxon",
    version,
    about = "On-call paging and escalation you run yourself",
    long_about = "On-call paging and escalation you run yourself.\n\n\
        Run all of Klaxon locally with `klaxon serve`; check a configuration file, dry-run how an \
        alert would be grouped, routed and escalated, and see who is on call without running \
        anything; store configuration and keys in a local database or a DynamoDB table; and \
        list, acknowledge and resolve incidents and manage overrides on a running Klaxon (local \
        or deployed) through its API.\n\n\
        Examples:\n  \
        klaxon serve --config examples/klaxon.yaml\n  \
        klaxon config validate examples/klaxon.yaml\n  \
        klaxon --config examples/klaxon.yaml route test events/ingest/alertmanager-firing.json\n  \
        klaxon --config examples/klaxon.yaml oncall\n  \
        klaxon config apply examples/klaxon.yaml --table klaxon-prod\n  \
        klaxon incidents list\n\n\
        Exit status: 0 success, 1 failure (invalid configuration, unknown schedule, unreadable \
        file, invalid payload, server unreachable or answering an error), 2 usage error (unknown \
        option, malformed time or range, missing --db/--table).",
    after_help = "Run `klaxon help <command>` for examples of each command."
)]
pub struct Cli {
    /// Print JSON instead of text (the shape of each command's JSON is in docs/cli.md).
    #[arg(long, global = true)]
    pub json: bool,

    /// The configuration file, YAML or JSON (chosen by its extension); without --config,
    /// KLAXON_CONFIG names it, else ./klaxon.yaml [default: klaxon.yaml].
    #[arg(long, global = true, value_name = "FILE", env = "KLAXON_CONFIG")]
    pub config: Option<PathBuf>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The command groups.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run Klaxon locally: the HTTP API, queues, timers and notifications in one process.
    #[command(
        long_about = "Run Klaxon locally: the same HTTP routes as the AWS deployment (ingest, \
            acknowledge links, API), the pipeline (grouping, routing, escalation timers, \
            notifications) and a recovery sweep, in one process on one SQLite file in the data \
            directory.\n\n\
            On start it applies the --config file as a new configuration version (when it \
            changed), makes sure every integration has a key and there is an API key (new keys \
            are generated; the plaintext is kept in <data-dir>/keys.env, mode 0600), and prints \
            where it listens and which keys to use. Load the keys into a shell with \
            `set -a; . klaxon-data/keys.env; set +a`.\n\n\
            Every page is printed and appended to <data-dir>/outbox.jsonl; email also goes out \
            by SMTP when configured (--smtp-url or --smtp-host), and Slack, Teams and generic \
            webhooks are posted when the configuration's ${VAR} references are set in the \
            environment.\n\n\
            Everything accepted is durable: stopping the process, even with kill -9, loses no \
            alert, and every pending escalation tier fires at its due time after a restart (late \
            ones at once). Ctrl-C or SIGTERM stops gracefully (status 0); a second one while \
            that waits for work in progress exits at once with status 130. See \
            docs/local-mode.md.\n\n\
            Examples:\n  \
            klaxon serve --config examples/klaxon.yaml\n  \
            klaxon serve --config klaxon.yaml --listen 0.0.0.0:8080 --public-url https://klaxon.example.com\n  \
            klaxon serve --smtp-url 'smtp://localhost:1025?tls=none&from=klaxon@localhost'"
    )]
    Serve(ServeArgs),
    /// Check configuration files, and store them in a database or DynamoDB table.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Create, list and revoke integration and API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// List, show, acknowledge and resolve incidents on a running Klaxon.
    #[command(subcommand)]
    Incidents(IncidentsCommand),
    /// List, add and remove schedule overrides on a running Klaxon.
    #[command(subcommand)]
    Overrides(OverridesCommand),
    /// List and redrive the dead letters of a local data directory's queues.
    #[command(subcommand)]
    DeadLetters(DeadLettersCommand),
    /// Dry-run routing: how an alert payload would be grouped, routed and escalated.
    #[command(subcommand)]
    Route(RouteCommand),
    /// Who is on call on each schedule, now or at a given time.
    #[command(
        long_about = "Who is on call on each schedule (or one), now or at a given time, with the \
            layer that puts them there and when their stretch started and ends, in the \
            schedule's time zone and in UTC.\n\n\
            Overrides are runtime data, not in the configuration file: with --db or --table \
            the overrides stored there are included, otherwise the schedule is shown as \
            configured.\n\n\
            The configuration is the --config file, else the file KLAXON_CONFIG names, else \
            ./klaxon.yaml.\n\n\
            Examples:\n  \
            klaxon oncall --config examples/klaxon.yaml\n  \
            klaxon oncall --config examples/klaxon.yaml --schedule primary --at 2026-03-08T06:30:00Z\n  \
            klaxon oncall --config examples/klaxon.yaml --at 2026-03-08T09:30:00-04:00 --json\n  \
            klaxon oncall --config examples/klaxon.yaml --db klaxon-data"
    )]
    Oncall(OncallArgs),
    /// Show or export a schedule's final schedule (who is on call when).
    #[command(subcommand)]
    Schedule(ScheduleCommand),
    /// Import an Opsgenie or PagerDuty account as a Klaxon configuration, report and overrides.
    #[command(subcommand)]
    Import(crate::commands::import::ImportCommand),
}

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

/// Where stored data lives: a local database or a DynamoDB table.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("store").args(["table", "db"]).multiple(false)))]
pub struct StoreArgs {
    /// The DynamoDB table of an AWS deployment.
    #[arg(long, value_name = "NAME", env = "KLAXON_TABLE")]
    pub table: Option<String>,

    /// A local data directory (as given to `serve --data-dir`) or its SQLite file.
    #[arg(long, value_name = "PATH", env = "KLAXON_DB")]
    pub db: Option<PathBuf>,
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

/// How `klaxon serve` reaches an SMTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SmtpSecurityArg {
    /// Plain text: only for local test servers (MailHog, Mailpit).
    None,
    /// STARTTLS, required (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// Arguments of `klaxon serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where to listen: HOST:PORT, or a port alone for 127.0.0.1.
    #[arg(
        long,
        value_name = "ADDR",
        env = "KLAXON_LISTEN",
        default_value = "127.0.0.1:8080",
        value_parser = parse_listen
    )]
    pub listen: SocketAddr,

    /// The data directory: database, outbox, keys.
    #[arg(
        long,
        value_name = "DIR",
        env = "KLAXON_DATA_DIR",
        default_value = "klaxon-data"
    )]
    pub data_dir: PathBuf,

    /// The base URL people reach this server at, for links in pages [default: http://ADDR].
    #[arg(long, value_name = "URL", env = "KLAXON_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// SMTP server as a URL: smtp://[USER@]HOST[:PORT] (STARTTLS, port 587), smtps://... (TLS,
    /// port 465), ?tls=none for a plain local server, &from=ADDRESS for the sender. The
    /// password comes from KLAXON_SMTP_PASSWORD.
    #[arg(long, value_name = "URL", env = "KLAXON_SMTP_URL")]
    pub smtp_url: Option<String>,

    /// SMTP server host (instead of --smtp-url).
    #[arg(
        long,
        value_name = "HOST",
        env = "KLAXON_SMTP_HOST",
        conflicts_with = "smtp_url"
    )]
    pub smtp_host: Option<String>,

    /// SMTP port [default: 587 for starttls, 465 for tls, 25 for none].
    #[arg(
        long,
        value_name = "PORT",
        env = "KLAXON_SMTP_PORT",
        requires = "smtp_host"
    )]
    pub smtp_port: Option<u16>,

    /// SMTP connection security [default: starttls].
    #[arg(
        long,
        value_enum,
        value_name = "MODE",
        env = "KLAXON_SMTP_SECURITY",
        requires = "smtp_host"
    )]
    pub smtp_security: Option<SmtpSecurityArg>,

    /// SMTP user name (the password comes from KLAXON_SMTP_PASSWORD).
    #[arg(
        long,
        value_name = "USER",
        env = "KLAXON_SMTP_USER",
        requires = "smtp_host"
    )]
    pub smtp_user: Option<String>,

    /// The sender of emails, e.g. 'Klaxon <klaxon@example.com>'.
    #[arg(long, value_name = "ADDRESS", env = "KLAXON_SMTP_FROM")]
    pub smtp_from: Option<String>,

    /// Record webhooks (Slack, Teams, generic) in the outbox without posting them.
    #[arg(long)]
    pub no_webhooks: bool,
}

/// `HOST:PORT` (a name is resolved), or a port alone meaning 127.0.0.1.
fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    if let Ok(port) = text.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    if let Ok(address) = text.parse::<SocketAddr>() {
        return Ok(address);
    }
    match text.to_socket_addrs() {
        Ok(mut addresses) => addresses
            .next()
            .ok_or_else(|| format!("{text:?} resolves to no address")),
        Err(error) => Err(format!(
            "{text:?} is not HOST:PORT or a port (e.g. 127.0.0.1:8080, 0.0.0.0:8080, 8080): {error}"
        )),
    }
}

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

/// Where a running Klaxon is and how to authenticate to its API.
#[derive(Debug, Args)]
pub struct ApiArgs {
    /// Klaxon's base URL: `klaxon serve`'s address or the deployment's API URL.
    #[arg(
        long,
        value_name = "URL",
        env = "KLAXON_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub url: String,

    /// An API key (`klaxon keys create --api NAME`; `klaxon serve` writes one to keys.env).
    #[arg(
        long,
        value_name = "KEY",
        env = "KLAXON_API_KEY",
        hide_env_values = true
    )]
    pub api_key: Option<String>,
}

/// `klaxon incidents ...`
#[derive(Debug, Subcommand)]
pub enum IncidentsCommand {
    /// List incidents: open ones (oldest first) or all (newest first).
    #[command(
        long_about = "List incidents through the API (GET /v1/incidents): the open ones \
            (triggered or acknowledged), oldest first, or with --all every incident, newest \
            first.\n\n\
            Examples:\n  \
            klaxon incidents list\n  \
            klaxon incidents list --all --limit 20\n  \
            klaxon incidents list --url https://abc123.execute-api.eu-west-1.amazonaws.com --json"
    )]
    List(IncidentsListArgs),
    /// Show one incident with its alerts and timeline.
    #[command(
        long_about = "Show an incident (GET /v1/incidents/{id}): status, severity, \
            urgency, escalation, its alerts and its timeline. ID is the incident's number (42) \
            or its id.\n\n\
            Examples:\n  \
            klaxon incidents show 42\n  \
            klaxon incidents show 42 --json"
    )]
    Show(IncidentArgs),
    /// Acknowledge an incident: escalation stops.
    #[command(
        long_about = "Acknowledge an incident (POST /v1/incidents/{id}/acknowledge): \
            escalation stops and the people already paged are told. Acknowledging twice changes \
            nothing. With --user the timeline names that user, otherwise the API key.\n\n\
            Examples:\n  \
            klaxon incidents ack 42\n  \
            klaxon incidents ack 42 --user anna"
    )]
    Ack(IncidentActionArgs),
    /// Resolve an incident.
    #[command(
        long_about = "Resolve an incident (POST /v1/incidents/{id}/resolve): escalation \
            stops and the people already paged are told.\n\n\
            Examples:\n  \
            klaxon incidents resolve 42\n  \
            klaxon incidents resolve 42 --user anna"
    )]
    Resolve(IncidentActionArgs),
}

/// Arguments of `klaxon incidents list`.
#[derive(Debug, Args)]
pub struct IncidentsListArgs {
    /// Every incident, newest first (default: open ones, oldest first).
    #[arg(long)]
    pub all: bool,

    /// At most this many (1 to 200) [default: 50].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=200))]
    pub limit: Option<u32>,

    /// The server.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Arguments naming one incident.
#[derive(Debug, Args)]
pub struct IncidentArgs {
    /// The incident's number (42) or id.
    #[arg(value_name = "ID")]
    pub incident: String,

    /// The server.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Arguments of `klaxon incidents ack|resolve`.
#[derive(Debug, Args)]
pub struct IncidentActionArgs {
    /// The incident's number (42) or id.
    #[arg(value_name = "ID")]
    pub incident: String,

    /// The user acting (a user id of the configuration) [default: the API key].
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,

    /// The server.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `klaxon overrides ...`
#[derive(Debug, Subcommand)]
pub enum OverridesCommand {
    /// Put someone on call on a schedule for a while.
    #[command(
        long_about = "Add an override (POST /v1/schedules/{id}/overrides): USER is on \
            call on the schedule from --start until --end, whatever its layers say. Times are \
            RFC 3339 with a zone.\n\n\
            Examples:\n  \
            klaxon overrides add primary --user ben --start 2026-03-14T18:00:00Z --end 2026-03-15T08:00:00Z\n  \
            klaxon overrides add database --user emma --start now --end 2026-03-14T22:00:00-04:00"
    )]
    Add(OverrideAddArgs),
    /// List a schedule's overrides in a range.
    #[command(
        long_about = "List the overrides of a schedule in force at some moment of a \
            range (GET /v1/schedules/{id}/overrides) [default range: now to 90 days ahead].\n\n\
            Examples:\n  \
            klaxon overrides list primary\n  \
            klaxon overrides list primary --from 2026-03-01T00:00:00Z --to 2026-04-01T00:00:00Z --json"
    )]
    List(OverrideListArgs),
    /// Remove an override.
    #[command(
        long_about = "Remove an override (DELETE /v1/schedules/{id}/overrides/{override_id}); \
            `overrides list` shows the ids.\n\n\
            Examples:\n  \
            klaxon overrides remove primary 0192f7a3c4d5e6f7a8b9c0d1e2f3a4b5"
    )]
    Remove(OverrideRemoveArgs),
}

/// Arguments of `klaxon overrides add`.
#[derive(Debug, Args)]
pub struct OverrideAddArgs {
    /// The schedule's id.
    #[arg(value_name = "SCHEDULE")]
    pub schedule: String,

    /// Who is on call instead (a user id of the configuration).
    #[arg(long, value_name = "USER")]
    pub user: String,

    /// From (RFC 3339, or `now`).
    #[arg(long, value_name = "TIME", value_parser = parse_instant)]
    pub start: Instant,

    /// Until (exclusive, RFC 3339).
    #[arg(long, value_name = "TIME", value_parser = parse_instant)]
    pub end: Instant,

    /// The server.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Arguments of `klaxon overrides list`.
#[derive(Debug, Args)]
pub struct OverrideListArgs {
    /// The schedule's id.
    #[arg(value_name = "SCHEDULE")]
    pub schedule: String,

    /// Start of the range (RFC 3339) [default: now].
    #[arg(long, value_name = "TIME", value_parser = parse_instant)]
    pub from: Option<Instant>,

    /// End of the range (RFC 3339) [default: 90 days after --from].
    #[arg(long, value_name = "TIME", value_parser = parse_instant)]
    pub to: Option<Instant>,

    /// The server.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Arguments of `klaxon overrides remove`.
#[derive(Debug, Args)]
pub struct OverrideRemoveArgs {
    /// The schedule's id.
    #[arg(value_name = "SCHEDULE")]
    pub schedule: String,

    /// The override's id (from `overrides list`).
    #[arg(value_name = "OVERRIDE_ID")]
    pub id: String,

    /// The server.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Arguments of `klaxon config validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The file to check (default: the --config file).
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
}

/// `klaxon route ...`
#[derive(Debug, Subcommand)]
pub enum RouteCommand {
    /// Dry-run an alert payload through grouping, routing and escalation.
    #[command(
        long_about = "Dry-run an alert payload through parsing, grouping, routing and \
            escalation, with the configuration file, as if it arrived at --at. Nothing is stored \
            and nobody is paged.\n\n\
            For each alert in the payload it shows the dedup key and status, the grouping rule \
            and group key, the routing rule and every step of the routing decision, the policy, \
            severity and urgency, any suppression (rule or maintenance window), and for every \
            tier the escalation would page: when, who (schedules resolved at that moment), and on \
            which channels, round after round until the policy is exhausted. The timeline is \
            computed by the same state machine the routing function runs.\n\n\
            The format is detected from the payload's fields unless --format is given; the \
            integration is the configuration's first one of that format unless --integration is \
            given. Overrides (runtime data) are not taken into account. The configuration is \
            the --config file, else the file KLAXON_CONFIG names, else ./klaxon.yaml.\n\n\
            Examples:\n  \
            klaxon route test events/ingest/alertmanager-firing.json --config examples/klaxon.yaml\n  \
            klaxon route test events/ingest/native-firing.json --config examples/klaxon.yaml \\\n      \
            --integration deploy-pipeline --at 2026-03-14T02:00:00Z\n  \
            klaxon route test - --config examples/klaxon.yaml --format pagerduty --json \\\n      \
            < events/ingest/pagerduty-trigger.json"
    )]
    Test(RouteTestArgs),
}

/// The wire formats `route test` can parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Klaxon's own JSON.
    Native,
    /// PagerDuty Events API v2.
    Pagerduty,
    /// Opsgenie create-alert API.
    Opsgenie,
    /// Prometheus Alertmanager webhook v4.
    Alertmanager,
    /// Grafana alerting webhook.
    Grafana,
    /// CloudWatch alarm in an SNS message (HTTPS delivery or Lambda event).
    Cloudwatch,
}

impl From<FormatArg> for Format {
    fn from(value: FormatArg) -> Self {
        match value {
            FormatArg::Native => Format::Native,
            FormatArg::Pagerduty => Format::Pagerduty,
            FormatArg::Opsgenie => Format::Opsgenie,
            FormatArg::Alertmanager => Format::Alertmanager,
            FormatArg::Grafana => Format::Grafana,
            FormatArg::Cloudwatch => Format::Cloudwatch,
        }
    }
}

/// Arguments of `klaxon route test`.
#[derive(Debug, Args)]
pub struct RouteTestArgs {
    /// The payload file (JSON, as the sender would POST it); `-` reads standard input.
    #[arg(value_name = "PAYLOAD")]
    pub payload: PathBuf,

    /// The payload's format (default: detected from its fields).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<FormatArg>,

    /// The integration the payload arrives on (default: the first integration of its format).
    #[arg(long, value_name = "NAME")]
    pub integration: Option<String>,

    /// When the payload arrives, RFC 3339 (`2026-03-08T06:30:00Z`, `2026-03-08T07:30:00+01:00`).
    #[arg(long, value_name = "TIME", value_parser = parse_instant, default_value = "now")]
    pub at: Instant,
}

/// Arguments of `klaxon oncall`.
#[derive(Debug, Args)]
pub struct OncallArgs {
    /// Only this schedule (default: every schedule).
    #[arg(long, value_name = "ID")]
    pub schedule: Option<String>,

    /// The moment to ask about, RFC 3339 (`2026-03-08T06:30:00Z`).
    #[arg(long, value_name = "TIME", value_parser = parse_instant, default_value = "now")]
    pub at: Instant,

    /// Include the overrides stored here.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `klaxon schedule ...`
#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// The final schedule of a range: who is on call when, and why.
    #[command(
        long_about = "The final schedule over a range: consecutive intervals covering it \
            exactly, each with its start and end in the schedule's time zone (with the UTC \
            offset) and in UTC, who is on call (or nobody) and why (which layer). This is what \
            pages people and what the ICS feed shows. Overrides (runtime data) are included \
            with --db or --table.\n\n\
            --from and --to take an RFC 3339 time or a date; a date means midnight in the \
            schedule's time zone. The range may be at most 366 days. The configuration is the \
            --config file, else the file KLAXON_CONFIG names, else ./klaxon.yaml.\n\n\
            Examples:\n  \
            klaxon schedule show primary --config examples/klaxon.yaml\n  \
            klaxon schedule show database --config examples/klaxon.yaml --from 2026-03-08 --to 2026-03-10\n  \
            klaxon schedule show secondary --config examples/klaxon.yaml \\\n      \
            --from 2026-03-29T00:00:00Z --to 2026-04-05 --json"
    )]
    Show(ShowArgs),
    /// Export a schedule as an iCalendar (.ics) file.
    #[command(
        long_about = "Export a schedule's on-call stretches as an iCalendar file: one \
            event per stretch, titled \"On call: <name>\", with start and end in UTC and a UID \
            that stays the same across exports, so calendar clients update instead of \
            duplicating. Stretches that cross the range's edges keep their real start and end.\n\n\
            Default range: from 7 days ago to 90 days ahead. --from and --to take an RFC 3339 \
            time or a date (midnight in the schedule's zone). Overrides are included with --db \
            or --table. The calendar goes to standard output, or to --output FILE (then --json \
            prints a summary of the file written). The configuration is the --config file, else \
            the file KLAXON_CONFIG names, else ./klaxon.yaml.\n\n\
            Examples:\n  \
            klaxon schedule export primary --config examples/klaxon.yaml --ics > primary.ics\n  \
            klaxon schedule export database --config examples/klaxon.yaml --ics \\\n      \
            --from 2026-03-01 --to 2026-04-01 --output database.ics"
    )]
    #[command(group(ArgGroup::new("export_format").args(["ics"]).required(true)))]
    Export(ExportArgs),
}

/// Arguments of `klaxon schedule show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The schedule's id.
    #[arg(value_name = "ID")]
    pub schedule: String,

    /// Start of the range: RFC 3339 time or a date (midnight in the schedule's zone) [default: now].
    #[arg(long, value_name = "TIME", value_parser = parse_time_or_date)]
    pub from: Option<TimeArg>,

    /// End of the range (exclusive), like --from [default: 7 days after --from].
    #[arg(long, value_name = "TIME", value_parser = parse_time_or_date)]
    pub to: Option<TimeArg>,

    /// Include the overrides stored here.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Arguments of `klaxon schedule export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The schedule's id.
    #[arg(value_name = "ID")]
    pub schedule: String,

    /// Write iCalendar (RFC 5545); the only export format so far.
    #[arg(long)]
    pub ics: bool,

    /// Start of the range: RFC 3339 time or a date [default: 7 days ago].
    #[arg(long, value_name = "TIME", value_parser = parse_time_or_date)]
    pub from: Option<TimeArg>,

    /// End of the range (exclusive), like --from [default: 90 days from now].
    #[arg(long, value_name = "TIME", value_parser = parse_time_or_date)]
    pub to: Option<TimeArg>,

    /// Write to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Include the overrides stored here.
    #[command(flatten)]
    pub store: StoreArgs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_options_work_after_the_subcommand() {
        let cli = Cli::try_parse_from([
            "klaxon",
            "oncall",
            "--json",
            "--config",
            "x.yaml",
            "--at",
            "2026-03-08T06:30:00Z",
        ])
        .unwrap();
        assert!(cli.json);
        assert_eq!(cli.config, Some(PathBuf::from("x.yaml")));
        let Command::Oncall(args) = cli.command else {
            panic!("expected oncall");
        };
        assert_eq!(args.at.to_rfc3339(), "2026-03-08T06:30:00+00:00");
    }

    #[test]
    fn malformed_times_and_formats_are_usage_errors() {
        for argv in [
            vec!["klaxon", "oncall", "--at", "yesterday"],
            vec!["klaxon", "oncall", "--at", "2026-03-08T06:30:00"],
            vec!["klaxon", "schedule", "show", "p", "--from", "2026-13-01"],
            vec!["klaxon", "route", "test", "x.json", "--format", "nagios"],
            vec!["klaxon", "schedule", "export", "p"],
        ] {
            let error = Cli::try_parse_from(&argv).unwrap_err();
            assert_eq!(error.exit_code(), 2, "{argv:?}: {error}");
        }
    }
}
