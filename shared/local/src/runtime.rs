//! The local runtime: the whole of Klaxon in one process, as `klaxon serve` runs it.
//!
//! [`LocalRuntime::start`] assembles the same use cases and the same HTTP router as the Lambda
//! deployment (`klaxon_app::http::compose` of the ingest, ack and API route sets), on local
//! adapters that share one SQLite file in the data directory ([`DataDir`]):
//!
//! - the store ([`SqliteStore`]), the four queues ([`SqliteQueue`]) and the escalation timers
//!   ([`SqliteTimers`]), all durable: an alert answered 2xx, a queued message and an armed timer
//!   survive `kill -9`;
//! - one consumer per queue (alerts → grouping, incidents and timers → routing, notifications →
//!   notify), the timer pump, and a sweep sent to routing every [`Tuning::sweep_interval`];
//! - pages recorded in `<data-dir>/outbox.jsonl` and on the console, and sent for real by SMTP
//!   (when configured) and to webhooks (the configuration's `${VAR}` references, resolved from
//!   the environment).
//!
//! On start it takes the data directory's lock (one server per directory), ends the leases of
//! the previous process ([`SqliteQueue::recover_leases`]) so that work in flight when it died is
//! redone at once, applies the configuration as a new snapshot when it changed, and makes sure
//! every integration has a key and there is an API key (see [`keys`]). Timers that fell due
//! while it was down fire on the pump's first round.
//!
//! [`LocalRuntime::shutdown`] stops accepting requests, lets requests in progress finish, then
//! lets each consumer finish the message it is handling; nothing else is lost, because
//! everything not yet handled is still in the queues.

pub mod data_dir;
pub mod keys;

pub use data_dir::DataDir;
pub use keys::{LocalKey, LocalKeys};

use crate::outbox::{LocalSenders, Outbox};
use crate::queue::{QueueOptions, SqliteQueue};
use crate::smtp::{SmtpConfig, SmtpConfigError, SmtpEmail};
use crate::store::SqliteStore;
use crate::timers::SqliteTimers;
use crate::worker::{ConsumerOptions, PumpOptions, spawn_consumer, spawn_timer_pump};
use klaxon_app::console::{ConsoleService, ConsoleSettings, SigninSigner};
use klaxon_app::messages::{QueueMessage, QueueName};
use klaxon_app::ports::{Clock, IdGenerator, Queue, SystemClock, UuidV7Ids};
use klaxon_app::security::links::LinkSigner;
use klaxon_app::security::slack::SlackVerifier;
use klaxon_app::security::sns::{ReqwestHttpGet, SnsVerifier};
use klaxon_app::usecases::ack::AckService;
use klaxon_app::usecases::grouping::GroupingService;
use klaxon_app::usecases::ingest::IngestService;
use klaxon_app::usecases::notify::{EnvLookup, NotifyService, Senders, process_env};
use klaxon_app::usecases::queries::QueryService;
use klaxon_app::usecases::routing::RoutingService;
use klaxon_app::usecases::{ConfigCache, Core};
use klaxon_app::webhook::ReqwestWebhookSender;
use klaxon_domain::config::Config;
use klaxon_domain::timeline::{Actor, EventSource};
use klaxon_store::repo::{RepoError, Repository};
use std::future::Future;
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Why the runtime could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// A file or directory operation failed. The operating system's error is the
    /// [`source`](std::error::Error::source), not part of the message: printers of the error
    /// chain (`{:#}` of anyhow) would show it twice.
    #[error("cannot {action} {}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// On which path.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// Another `klaxon serve` holds the data directory.
    #[error(
        "another klaxon serve is using the data directory {} ({}); stop it first or choose another --data-dir",
        data_dir.display(),
        if holder.is_empty() { "its lock is held" } else { holder.as_str() }
    )]
    Locked {
        /// The data directory.
        data_dir: PathBuf,
        /// What the lock file says about its holder (`pid 1234`).
        holder: String,
    },
    /// A file in the data directory has unusable content.
    #[error("{}: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The database could not be opened.
    #[error("cannot open the database {}: {message}", path.display())]
    Database {
        /// The database file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// Nothing to run with: no configuration given and none stored.
    #[error(
        "no configuration: pass --config FILE (nothing has been applied to {} yet)",
        data_dir.display()
    )]
    NoConfig {
        /// The data directory.
        data_dir: PathBuf,
    },
    /// The stored configuration does not validate.
    #[error("the stored configuration version {version} is invalid: {reason}")]
    StoredConfig {
        /// Its version.
        version: u64,
        /// The validation errors.
        reason: String,
    },
    /// A repository operation failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
    /// The queues failed.
    #[error(transparent)]
    Queue(#[from] klaxon_app::ports::QueueError),
    /// The timers failed.
    #[error(transparent)]
    Timer(#[from] klaxon_app::ports::TimerError),
    /// The listen address cannot be bound (the operating system's error is the source).
    #[error("cannot listen on {address}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// Why.
        source: io::Error,
    },
    /// The SMTP settings are unusable.
    #[error(transparent)]
    Smtp(#[from] SmtpConfigError),
    /// `--public-url` is not an http(s) URL.
    #[error("--public-url: {0}")]
    PublicUrl(String),
    /// An HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(String),
    /// The HTTP server failed.
    #[error("the HTTP server failed: {0}")]
    Server(io::Error),
    /// A background task ended abnormally.
    #[error("a background task failed: {0}")]
    Task(String),
    /// A bug: something that cannot fail did.
    #[error("internal error: {0}")]
    Internal(String),
}

impl RuntimeError {
    pub(crate) fn io(action: &'static str, path: &Path, source: io::Error) -> Self {
        RuntimeError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

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
}

/// Attempts before a message is dead-lettered in `klaxon serve`. With the consumer's backoff
/// (2 s doubling to 5 min) the last attempt comes about 13 minutes after the first: longer than
/// notify's stale-claim time (5 min), so a page whose delivery was claimed by a process killed
/// mid-send is retried until the claim is stale and then sent, not dead-lettered.
pub const SERVE_MAX_ATTEMPTS: u32 = 10;

impl Default for Tuning {
    /// A sweep every minute, configuration re-read every 5 s, [`SERVE_MAX_ATTEMPTS`] attempts,
    /// otherwise the workers' and queue's defaults.
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
    /// Where page summaries are printed.
    pub console: Console,
    /// Timing knobs.
    pub tuning: Tuning,
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
            .field("console", &self.console)
            .field("tuning", &self.tuning)
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
            console: Console::Stdout,
            tuning: Tuning::default(),
        }
    }
}

/// What the configuration step at start did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigStatus {
    /// The version in force.
    pub version: u64,
    /// The version before this start (`None`: the store was empty).
    pub previous: Option<u64>,
    /// Whether the given configuration was already current (or none was given).
    pub unchanged: bool,
    /// Its fingerprint.
    pub fingerprint: String,
}

/// What the runtime found and did at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartReport {
    /// The configuration step.
    pub config: ConfigStatus,
    /// Messages whose consumer died with the previous process, released for redelivery now.
    pub recovered_leases: usize,
    /// Messages waiting in the queues.
    pub queued_messages: usize,
    /// Escalation timers waiting to fire.
    pub pending_timers: usize,
    /// Of those, the ones already due (they fire at once).
    pub overdue_timers: usize,
    /// Messages in the dead-letter tables (inspect them with [`LocalRuntime::queue`]).
    pub dead_letters: usize,
}

/// A running local Klaxon. Stop it with [`LocalRuntime::shutdown`] (dropping it without that
/// aborts nothing: the tasks keep running until the tokio runtime ends).
pub struct LocalRuntime {
    address: SocketAddr,
    public_url: String,
    data_dir: DataDir,
    keys: LocalKeys,
    report: StartReport,
    repo: Repository<SqliteStore>,
    queue: SqliteQueue,
    stop_http: CancellationToken,
    stop_workers: CancellationToken,
    server: JoinHandle<io::Result<()>>,
    workers: Vec<JoinHandle<()>>,
    _lock: std::fs::File,
}

impl std::fmt::Debug for LocalRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalRuntime")
            .field("address", &self.address)
            .field("public_url", &self.public_url)
            .field("data_dir", &self.data_dir)
            .field("report", &self.report)
            .finish_non_exhaustive()
    }
}

type Ingest = IngestService<SqliteStore, SqliteQueue, ReqwestHttpGet>;
type Grouping = GroupingService<SqliteStore, SqliteQueue, SqliteTimers>;
type Routing = RoutingService<SqliteStore, SqliteQueue, SqliteTimers>;
type Notify = NotifyService<SqliteStore, LocalSenders, LocalSenders, LocalSenders>;
type Ack = AckService<SqliteStore, SqliteQueue, SqliteTimers>;

impl LocalRuntime {
    /// Starts everything; returns once the server listens and the workers run.
    pub async fn start(options: RuntimeOptions) -> Result<Self, RuntimeError> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        // Checked before anything is created: a typo must not leave a data directory behind.
        let checked_public_url = options
            .public_url
            .as_deref()
            .map(check_public_url)
            .transpose()?;
        let data_dir = DataDir::new(&options.data_dir);
        data_dir.create()?;
        let lock = data_dir.lock()?;

        let listener = tokio::net::TcpListener::bind(options.listen)
            .await
            .map_err(|source| RuntimeError::Bind {
                address: options.listen,
                source,
            })?;
        let address = listener.local_addr().map_err(|source| RuntimeError::Bind {
            address: options.listen,
            source,
        })?;
        let public_url = checked_public_url.unwrap_or_else(|| default_public_url(address));

        let database = data_dir.database();
        let store = SqliteStore::open(&database, clock.clone()).map_err(|error| {
            RuntimeError::Database {
                path: database.clone(),
                message: error.to_string(),
            }
        })?;
        let queue = SqliteQueue::open(&database, clock.clone())
            .map_err(|error| RuntimeError::Database {
                path: database.clone(),
                message: error.message,
            })?
            .with_options(options.tuning.queue);
        let timers = SqliteTimers::new(queue.clone());
        let recovered_leases = queue.recover_leases().await?;

        let repo = repository(&store, &clock, "serve")?;
        let (config, config_status) =
            apply_config(&repo, options.config.as_ref(), &data_dir).await?;
        let keys_path = data_dir.keys_env();
        let known = match std::fs::read_to_string(&keys_path) {
            Ok(text) => keys::parse_env_file(&text),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Default::default(),
            Err(source) => return Err(RuntimeError::io("read", &keys_path, source)),
        };
        let keys = keys::ensure_keys(&repo, &config, &known, clock.now()).await?;
        data_dir::write_private(
            &keys_path,
            &keys.env_file_text(&public_url, &keys_path.display().to_string()),
        )?;
        let links =
            LinkSigner::new(data_dir.link_secret_or_create()?.into_bytes()).map_err(|error| {
                RuntimeError::Invalid {
                    path: data_dir.link_secret(),
                    reason: error.to_string(),
                }
            })?;

        let outbox_path = data_dir.outbox();
        let outbox = match options.console {
            Console::Stdout => Outbox::open(&outbox_path, clock.clone()),
            Console::Silent => {
                Outbox::with_console(&outbox_path, clock.clone(), Box::new(io::sink()))
            }
            Console::Writer(writer) => Outbox::with_console(&outbox_path, clock.clone(), writer),
        }
        .map_err(|source| RuntimeError::io("open the outbox", &outbox_path, source))?;
        let senders = LocalSenders {
            outbox,
            smtp: options.smtp.as_ref().map(SmtpEmail::new).transpose()?,
            webhooks: if options.webhooks {
                Some(
                    ReqwestWebhookSender::new()
                        .map_err(|error| RuntimeError::HttpClient(error.to_string()))?,
                )
            } else {
                None
            },
        };

        let ids: Arc<dyn IdGenerator> = Arc::new(UuidV7Ids);
        // One cache for every use case: a `PUT /v1/config` reaches all of them at once.
        let config_cache = Arc::new(ConfigCache::new(options.tuning.config_ttl));
        let core = |component: &str| -> Result<Core<SqliteStore>, RuntimeError> {
            Ok(Core::new(
                repository(&store, &clock, component)?,
                Arc::clone(&config_cache),
                clock.clone(),
                ids.clone(),
            ))
        };
        let http_client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|error| RuntimeError::HttpClient(error.to_string()))?;
        let ingest: Arc<Ingest> = Arc::new(IngestService::new(
            core("ingest")?,
            queue.clone(),
            SnsVerifier::new(ReqwestHttpGet::new(http_client)),
        ));
        let grouping: Arc<Grouping> = Arc::new(GroupingService::new(
            core("grouping")?,
            queue.clone(),
            timers.clone(),
        ));
        let routing: Arc<Routing> = Arc::new(RoutingService::new(
            core("routing")?,
            queue.clone(),
            timers.clone(),
        ));

        let notify: Arc<Notify> = Arc::new(NotifyService::new(
            core("notify")?,
            Senders {
                email: senders.clone(),
                sms: senders.clone(),
                webhook: senders.clone(),
            },
            links.clone(),
            &public_url,
            options.env,
        ));
        let slack = match &options.slack_signing_secret {
            Some(secret) => {
                Some(
                    SlackVerifier::new(secret).ok_or_else(|| RuntimeError::Invalid {
                        path: PathBuf::from("KLAXON_SLACK_SIGNING_SECRET"),
                        reason: "the Slack signing secret is empty".to_owned(),
                    })?,
                )
            }
            None => None,
        };
        let console = klaxon_app::console::routes(Arc::new(ConsoleService::new(
            core("console")?,
            queue.clone(),
            timers.clone(),
            senders,
            SigninSigner::new(data_dir.link_secret_or_create()?.as_bytes()).ok_or_else(|| {
                RuntimeError::Invalid {
                    path: data_dir.link_secret(),
                    reason: "the signing secret is too short".to_owned(),
                }
            })?,
            ConsoleSettings::new(public_url.clone()),
        )));
        let ack: Arc<Ack> = Arc::new(AckService::new(
            core("ack")?,
            queue.clone(),
            timers.clone(),
            links,
            slack,
        ));
        let api = Arc::new(QueryService::new(core("api")?));

        let pending = timers.pending().await?;
        let report = StartReport {
            config: config_status,
            recovered_leases,
            queued_messages: queued(&queue).await?,
            pending_timers: pending.len(),
            overdue_timers: pending
                .iter()
                .filter(|timer| timer.due <= clock.now())
                .count(),
            dead_letters: dead_letters(&queue).await?,
        };

        let stop_workers = CancellationToken::new();
        let consumer = options.tuning.consumer;
        let mut workers = vec![spawn_timer_pump(
            timers.clone(),
            options.tuning.pump,
            stop_workers.clone(),
        )];
        workers.push(spawn_consumer(
            queue.clone(),
            QueueName::Alerts,
            consumer,
            move |message| {
                let grouping = Arc::clone(&grouping);
                async move {
                    match message {
                        QueueMessage::Alert(alert) => grouping
                            .handle(&alert)
                            .await
                            .map(|_| ())
                            .map_err(|error| error.to_string()),
                        other => Err(misrouted(&other, QueueName::Alerts)),
                    }
                }
            },
            stop_workers.clone(),
        ));
        for queue_name in [QueueName::Incidents, QueueName::Timers] {
            let routing = Arc::clone(&routing);
            workers.push(spawn_consumer(
                queue.clone(),
                queue_name,
                consumer,
                move |message| {
                    let routing = Arc::clone(&routing);
                    async move {
                        routing
                            .handle(&message)
                            .await
                            .map(|_| ())
                            .map_err(|error| error.to_string())
                    }
                },
                stop_workers.clone(),
            ));
        }
        workers.push(spawn_consumer(
            queue.clone(),
            QueueName::Notifications,
            consumer,
            move |message| {
                let notify = Arc::clone(&notify);
                async move {
                    notify
                        .handle(&message)
                        .await
                        .map(|_| ())
                        .map_err(|error| error.to_string())
                }
            },
            stop_workers.clone(),
        ));
        workers.push(spawn_sweeper(
            queue.clone(),
            store.clone(),
            clock.clone(),
            options.tuning.sweep_interval,
            stop_workers.clone(),
        ));

        let router = klaxon_app::http::compose([
            klaxon_app::http::ingest::routes(ingest),
            klaxon_app::http::ack::routes(ack),
            klaxon_app::http::api::routes(api),
            console,
        ]);
        let stop_http = CancellationToken::new();
        let server = tokio::spawn(
            axum::serve(listener, router)
                .with_graceful_shutdown(stop_http.clone().cancelled_owned())
                .into_future(),
        );
        tracing::info!(%address, %public_url, data_dir = %data_dir.root().display(), "klaxon serve started");

        Ok(Self {
            address,
            public_url,
            data_dir,
            keys,
            report,
            repo,
            queue,
            stop_http,
            stop_workers,
            server,
            workers,
            _lock: lock,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// The base URL of links in pages (no trailing slash).
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// The data directory.
    pub fn data_dir(&self) -> &DataDir {
        &self.data_dir
    }

    /// The integration and API keys (also in `keys.env`).
    pub fn keys(&self) -> &LocalKeys {
        &self.keys
    }

    /// What the start found and did.
    pub fn report(&self) -> &StartReport {
        &self.report
    }

    /// The queues (for dead letters: [`SqliteQueue::dead_letters`], [`SqliteQueue::redrive`]).
    pub fn queue(&self) -> &SqliteQueue {
        &self.queue
    }

    /// A repository over the runtime's store.
    pub fn repository(&self) -> Repository<SqliteStore> {
        self.repo.clone()
    }

    /// Runs until `signal` completes (or the server fails), then shuts down gracefully.
    pub async fn run_until(mut self, signal: impl Future<Output = ()>) -> Result<(), RuntimeError> {
        let failed = tokio::select! {
            () = signal => None,
            ended = &mut self.server => Some(ended),
        };
        match failed {
            None => self.shutdown().await,
            Some(ended) => {
                self.stop_workers.cancel();
                for worker in std::mem::take(&mut self.workers) {
                    let _ = worker.await;
                }
                match ended {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(error)) => Err(RuntimeError::Server(error)),
                    Err(join) => Err(RuntimeError::Task(join.to_string())),
                }
            }
        }
    }

    /// Stops gracefully: no new requests; requests in progress finish; each consumer finishes
    /// the message it is handling (the rest stays queued for the next start).
    pub async fn shutdown(self) -> Result<(), RuntimeError> {
        self.stop_http.cancel();
        let served = self.server.await;
        self.stop_workers.cancel();
        let mut failure = None;
        for worker in self.workers {
            if let Err(join) = worker.await {
                failure.get_or_insert(RuntimeError::Task(join.to_string()));
            }
        }
        match served {
            Ok(Ok(())) => {}
            Ok(Err(error)) => return Err(RuntimeError::Server(error)),
            Err(join) => return Err(RuntimeError::Task(join.to_string())),
        }
        tracing::info!("klaxon serve stopped");
        failure.map_or(Ok(()), Err)
    }
}

fn repository(
    store: &SqliteStore,
    clock: &Arc<dyn Clock>,
    component: &str,
) -> Result<Repository<SqliteStore>, RuntimeError> {
    let source = EventSource::klaxon(component)
        .map_err(|error| RuntimeError::Internal(format!("event source {component}: {error}")))?;
    Ok(Repository::new(store.clone(), clock.clone(), source))
}

/// Applies `given` (if any) as a new snapshot when it changed; returns the configuration in
/// force and what happened.
async fn apply_config(
    repo: &Repository<SqliteStore>,
    given: Option<&Config>,
    data_dir: &DataDir,
) -> Result<(Config, ConfigStatus), RuntimeError> {
    let previous = repo.current_config().await?;
    let previous_version = previous.as_ref().map(|stored| stored.version);
    match given {
        Some(config) => {
            let (canonical, fingerprint) = canonical(config)?;
            let saved = repo
                .save_config(&canonical, &fingerprint, &Actor::system("serve"))
                .await?;
            Ok((
                config.clone(),
                ConfigStatus {
                    version: saved.version,
                    previous: previous_version,
                    unchanged: saved.unchanged,
                    fingerprint: saved.fingerprint,
                },
            ))
        }
        None => {
            let stored = previous.ok_or_else(|| RuntimeError::NoConfig {
                data_dir: data_dir.root().to_path_buf(),
            })?;
            let config =
                Config::from_json(&stored.json).map_err(|errors| RuntimeError::StoredConfig {
                    version: stored.version,
                    reason: errors.to_string(),
                })?;
            Ok((
                config,
                ConfigStatus {
                    version: stored.version,
                    previous: Some(stored.version),
                    unchanged: true,
                    fingerprint: stored.fingerprint,
                },
            ))
        }
    }
}

/// The canonical JSON and fingerprint of a configuration.
fn canonical(config: &Config) -> Result<(String, String), RuntimeError> {
    let invalid = |error: serde_json::Error| RuntimeError::StoredConfig {
        version: 0,
        reason: error.to_string(),
    };
    Ok((
        config.to_canonical_json().map_err(invalid)?,
        config.fingerprint().map_err(invalid)?,
    ))
}

fn misrouted(message: &QueueMessage, queue: QueueName) -> String {
    format!(
        "a {} message arrived on the {} queue",
        message.queue().as_str(),
        queue.as_str()
    )
}

async fn queued(queue: &SqliteQueue) -> Result<usize, RuntimeError> {
    let mut total = 0;
    for name in QueueName::ALL {
        total += queue.len(name).await?;
    }
    Ok(total)
}

async fn dead_letters(queue: &SqliteQueue) -> Result<usize, RuntimeError> {
    let mut total = 0;
    for name in QueueName::ALL {
        total += queue.dead_letters(name).await?.len();
    }
    Ok(total)
}

/// Sends a sweep to routing at once and then every `interval`, and purges expired items.
fn spawn_sweeper(
    queue: SqliteQueue,
    store: SqliteStore,
    clock: Arc<dyn Clock>,
    interval: Duration,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval.max(Duration::from_millis(10)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = ticks.tick() => {}
            }
            let sweep = QueueMessage::Sweep {
                at: Some(clock.now()),
            };
            if let Err(error) = queue.send(&sweep).await {
                tracing::error!(%error, "queueing the sweep failed");
            }
            match store.purge_expired().await {
                Ok(0) => {}
                Ok(purged) => tracing::debug!(purged, "purged expired items"),
                Err(error) => tracing::warn!(%error, "purging expired items failed"),
            }
        }
    })
}

/// `http://<address>`, with a loopback address in place of an unspecified one.
fn default_public_url(address: SocketAddr) -> String {
    let ip = match address.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, address.port()))
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

#[cfg(test)]
mod tests;
