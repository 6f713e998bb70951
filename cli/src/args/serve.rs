//! Arguments of `klaxon serve`.

use clap::{Args, ValueEnum};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

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

    /// Serve HTTPS with this PEM certificate chain (server certificate first; with --tls-key).
    #[arg(
        long,
        value_name = "FILE",
        env = "KLAXON_TLS_CERT",
        requires = "tls_key",
        conflicts_with = "tls_self_signed"
    )]
    pub tls_cert: Option<PathBuf>,

    /// The PEM private key of --tls-cert (PKCS#8, PKCS#1 or SEC1).
    #[arg(
        long,
        value_name = "FILE",
        env = "KLAXON_TLS_KEY",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,

    /// Serve HTTPS with a certificate made at start for localhost and the listen address; the
    /// authority that signed it is written to DATA_DIR/tls/ca.pem (printed at start): point a
    /// client's CA bundle at that file.
    #[arg(long)]
    pub tls_self_signed: bool,

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

    /// Self-heartbeat: ping this URL after every recovery sweep (each minute), so a watcher
    /// (a Healthchecks-style service, another Klaxon) notices when this server stops.
    #[arg(long, value_name = "URL", env = "KLAXON_HEARTBEAT_URL")]
    pub heartbeat_url: Option<String>,

    /// How the heartbeat is sent: GET, or POST with the sweep's counts as JSON.
    #[arg(
        long,
        value_enum,
        value_name = "METHOD",
        env = "KLAXON_HEARTBEAT_METHOD",
        default_value = "get",
        requires = "heartbeat_url"
    )]
    pub heartbeat_method: HeartbeatMethodArg,

    /// How durable an accepted write is before it is answered: `normal` survives the process
    /// crashing or being killed; `full` also survives an operating-system crash or power loss
    /// (an fsync per commit; ingest commits each request on its own).
    #[arg(
        long,
        value_enum,
        value_name = "SETTING",
        env = "KLAXON_DURABILITY",
        default_value = "normal"
    )]
    pub durability: DurabilityArg,
}

/// `--durability`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DurabilityArg {
    /// Survives process crashes and `kill -9` (SQLite `synchronous=NORMAL`).
    Normal,
    /// Also survives OS crashes and power loss (`synchronous=FULL`: fsync per commit).
    Full,
}

/// `--heartbeat-method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum HeartbeatMethodArg {
    /// GET, no body.
    Get,
    /// POST with a JSON body.
    Post,
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
