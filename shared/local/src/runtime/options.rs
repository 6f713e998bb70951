//! What to start, and how: [`RuntimeOptions`], [`Tuning`], where pages are printed, and the
//! check of `--public-url`.

use super::RuntimeError;
use crate::Durability;
use crate::queue::QueueOptions;
use crate::smtp::SmtpConfig;
use crate::worker::{ConsumerOptions, PumpOptions};
use klaxon_app::heartbeat::Heartbeat;
use klaxon_app::usecases::notify::{EnvLookup, process_env};
use klaxon_domain::config::Config;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// Where the console summary of each page goes.
pub enum Console {
    /// Standard output.
    Stdout,
    /// Nowhere (the outbox file still has every page).
    Silent,
    /// A writer (tests).
    Writer(Box<dyn Write + Send>),
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Console::Stdout => "Console::Stdout",
            Console::Silent => "Console::Silent",
            Console::Writer(_) => "Console::Writer",
        })
    }
}

/// Timing knobs; the defaults are what `klaxon serve` uses.
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    /// How often the recovery sweep runs (also once at start).
    pub sweep_interval: Duration,
    /// How long the configuration is kept before it is read again (so `klaxon config apply
    /// --db` from another process takes effect within this time; `PUT /v1/config` at once).
    pub config_ttl: Duration,
    /// Consumers' receive batch, visibility, polling and retry backoff.
    pub consumer: ConsumerOptions,
    /// The timer pump's longest sleep.
    pub pump: PumpOptions,
    /// Attempts before a message is dead-lettered; the dedup window.
    pub queue: QueueOptions,
    /// How durable a commit is before the write is answered (`--durability`).
    pub durability: Durability,
}

/// Attempts before a message is dead-lettered in `klaxon serve`. With the consumer's backoff
/// (2 s doubling to 5 min) the last attempt comes about 13 minutes after the first: longer than
/// notify's stale-claim time (5 min), so a page whose delivery was claimed by a process killed
/// mid-send is retried until the claim is stale and then sent, not dead-lettered.
pub const SERVE_MAX_ATTEMPTS: u32 = 10;

impl Default for Tuning {
    /// A sweep every minute, configuration re-read every 5 s, [`SERVE_MAX_ATTEMPTS`] attempts,
    /// [`Durability::Normal`], otherwise the workers' and queue's defaults.
    fn default() -> Self {
        Self {
            sweep_interval: Duration::from_secs(60),
            config_ttl: Duration::from_secs(5),
            consumer: ConsumerOptions::default(),
            pump: PumpOptions::default(),
            queue: QueueOptions {
                max_attempts: SERVE_MAX_ATTEMPTS,
                ..QueueOptions::default()
            },
            durability: Durability::default(),
        }
    }
}

impl Tuning {
    /// How long after its first attempt a failing message gets its last one (the sum of the
    /// backoffs between attempts; consumers may be up to a poll late on each).
    pub fn retry_span(&self) -> Duration {
        (1..self.queue.max_attempts.max(1))
            .map(|attempt| self.consumer.backoff(attempt))
            .sum()
    }
}

/// What to start.
pub struct RuntimeOptions {
    /// The data directory (created if needed).
    pub data_dir: PathBuf,
    /// The address to listen on (port 0: any free port; see [`LocalRuntime::local_addr`]).
    pub listen: SocketAddr,
    /// The base URL links in pages point at (default: `http://` + the bound address, with
    /// `127.0.0.1`/`[::1]` for an unspecified address).
    pub public_url: Option<String>,
    /// The configuration to apply at start (a new snapshot when its fingerprint differs from
    /// the stored one). `None`: run with the stored configuration.
    pub config: Option<Config>,
    /// Send email by SMTP too (otherwise email goes to the outbox only).
    pub smtp: Option<SmtpConfig>,
    /// Post webhooks (Slack, Teams, generic) for real, besides recording them.
    pub webhooks: bool,
    /// Resolves the configuration's `${VAR}` references (webhook URLs and secrets).
    pub env: EnvLookup,
    /// The Slack app's signing secret, for `POST /v1/slack/actions` (refused without it).
    pub slack_signing_secret: Option<String>,
    /// The self-heartbeat every recovery sweep pings (`--heartbeat-url`), if any.
    pub heartbeat: Option<Heartbeat>,
    /// Where page summaries are printed.
    pub console: Console,
    /// Timing knobs.
    pub tuning: Tuning,
    /// Serve HTTPS with this certificate (`None`: plain HTTP).
    pub tls: Option<super::tls::TlsSource>,
}

impl std::fmt::Debug for RuntimeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeOptions")
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .field("public_url", &self.public_url)
            .field("config", &self.config.is_some())
            .field("smtp", &self.smtp)
            .field("webhooks", &self.webhooks)
            .field("slack", &self.slack_signing_secret.is_some())
            .field("heartbeat", &self.heartbeat)
            .field("console", &self.console)
            .field("tuning", &self.tuning)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl RuntimeOptions {
    /// Options for `data_dir` and `listen` with everything else at its default: the stored
    /// configuration, no SMTP, real webhooks with `${VAR}` read from the process environment,
    /// no Slack actions, pages printed to stdout.
    pub fn new(data_dir: impl Into<PathBuf>, listen: SocketAddr) -> Self {
        Self {
            data_dir: data_dir.into(),
            listen,
            public_url: None,
            config: None,
            smtp: None,
            webhooks: true,
            env: process_env(),
            slack_signing_secret: None,
            heartbeat: None,
            console: Console::Stdout,
            tuning: Tuning::default(),
            tls: None,
        }
    }
}

/// `http://<address>`, with a loopback address in place of an unspecified one.
pub(super) fn default_public_url(address: SocketAddr, https: bool) -> String {
    let ip = match address.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let scheme = if https { "https" } else { "http" };
    format!("{scheme}://{}", SocketAddr::new(ip, address.port()))
}

/// Checks a `--public-url` (an http or https URL with a host, no query or fragment) and returns
/// it without a trailing slash; [`LocalRuntime::start`] does the same before creating anything.
pub fn check_public_url(url: &str) -> Result<String, RuntimeError> {
    let parsed = url::Url::parse(url)
        .map_err(|error| RuntimeError::PublicUrl(format!("{url:?} is not a URL ({error})")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(RuntimeError::PublicUrl(format!(
            "{url:?} must be an http:// or https:// URL with a host"
        )));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(RuntimeError::PublicUrl(format!(
            "{url:?} must not have a query or fragment"
        )));
    }
    Ok(url.trim_end_matches('/').to_owned())
}
