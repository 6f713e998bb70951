//! The phases of [`LocalRuntime::start`](super::LocalRuntime::start), in the order it runs
//! them: open the data directory, listen, open the adapters, prepare the configuration and
//! keys, open the senders, build the services, take stock ([`StartReport`]), and serve. (The
//! workers are spawned by [`super::workers`].)

use super::RuntimeError;
use super::data_dir::{self, DataDir};
use super::keys::{self, LocalKeys};
use super::options::{Console, RuntimeOptions, check_public_url, default_public_url};
use crate::Durability;
use crate::outbox::{LocalSenders, Outbox};
use crate::queue::{QueueOptions, SqliteQueue};
use crate::smtp::{SmtpConfig, SmtpEmail};
use crate::store::SqliteStore;
use crate::timers::SqliteTimers;
use klaxon_app::console::{ConsoleService, ConsoleSettings, SigninSigner};
use klaxon_app::dead_letters::DeadLetters;
use klaxon_app::heartbeat::Heartbeat;
use klaxon_app::messages::QueueName;
use klaxon_app::ports::{Clock, IdGenerator, UuidV7Ids};
use klaxon_app::security::links::LinkSigner;
use klaxon_app::security::slack::SlackVerifier;
use klaxon_app::security::sns::{ReqwestHttpGet, SnsVerifier};
use klaxon_app::usecases::ack::AckService;
use klaxon_app::usecases::grouping::GroupingService;
use klaxon_app::usecases::ingest::IngestService;
use klaxon_app::usecases::notify::{EnvLookup, NotifyService, Senders};
use klaxon_app::usecases::queries::QueryService;
use klaxon_app::usecases::routing::RoutingService;
use klaxon_app::usecases::{ConfigCache, Core};
use klaxon_app::webhook::ReqwestWebhookSender;
use klaxon_domain::config::Config;
use klaxon_domain::timeline::{Actor, EventSource};
use klaxon_store::repo::Repository;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

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

pub(super) type Ingest = IngestService<SqliteStore, SqliteQueue, ReqwestHttpGet>;
pub(super) type Grouping = GroupingService<SqliteStore, SqliteQueue, SqliteTimers>;
pub(super) type Routing = RoutingService<SqliteStore, SqliteQueue, SqliteTimers>;
pub(super) type Notify = NotifyService<SqliteStore, LocalSenders, LocalSenders, LocalSenders>;
pub(super) type Ack = AckService<SqliteStore, SqliteQueue, SqliteTimers>;
pub(super) type WebConsole = ConsoleService<SqliteStore, SqliteQueue, SqliteTimers, LocalSenders>;

/// The data directory, created and locked (one server per directory).
pub(super) struct OpenedDir {
    pub(super) data_dir: DataDir,
    pub(super) lock: std::fs::File,
    /// The checked `--public-url`, if one was given.
    pub(super) public_url: Option<String>,
}

/// Phase 1: checks `--public-url` before anything is created (a typo must not leave a data
/// directory behind), then creates and locks the data directory.
pub(super) fn open_data_dir(options: &RuntimeOptions) -> Result<OpenedDir, RuntimeError> {
    let public_url = options
        .public_url
        .as_deref()
        .map(check_public_url)
        .transpose()?;
    let data_dir = DataDir::new(&options.data_dir);
    data_dir.create()?;
    let lock = data_dir.lock()?;
    Ok(OpenedDir {
        data_dir,
        lock,
        public_url,
    })
}

/// Phase 2: binds the listen address; returns the listener, the bound address and the public
/// URL (the given one, or `http://` + the bound address).
pub(super) async fn listen(
    listen: SocketAddr,
    public_url: Option<String>,
    https: bool,
) -> Result<(TcpListener, SocketAddr, String), RuntimeError> {
    let bind_error = |source| RuntimeError::Bind {
        address: listen,
        source,
    };
    let listener = TcpListener::bind(listen).await.map_err(bind_error)?;
    let address = listener.local_addr().map_err(bind_error)?;
    let public_url = public_url.unwrap_or_else(|| default_public_url(address, https));
    Ok((listener, address, public_url))
}

/// The store, the queues and the timers on the data directory's database.
pub(super) struct Adapters {
    pub(super) store: SqliteStore,
    pub(super) queue: SqliteQueue,
    pub(super) timers: SqliteTimers,
    /// Leases of the previous process ended at start.
    pub(super) recovered_leases: usize,
}

/// Phase 3: opens the store, the queues and the timers, and ends the previous process's
/// leases so that work in flight when it died is redone at once.
pub(super) async fn open_adapters(
    data_dir: &DataDir,
    clock: &Arc<dyn Clock>,
    queue_options: QueueOptions,
    durability: Durability,
) -> Result<Adapters, RuntimeError> {
    let database = data_dir.database();
    let store = SqliteStore::open_with(&database, clock.clone(), durability).map_err(|error| {
        RuntimeError::Database {
            path: database.clone(),
            message: error.to_string(),
        }
    })?;
    let queue = SqliteQueue::open_with(&database, clock.clone(), durability)
        .map_err(|error| RuntimeError::Database {
            path: database.clone(),
            message: error.message,
        })?
        .with_options(queue_options);
    let timers = SqliteTimers::new(queue.clone());
    let recovered_leases = queue.recover_leases().await?;
    Ok(Adapters {
        store,
        queue,
        timers,
        recovered_leases,
    })
}

/// The configuration in force, the keys, and the signers of links and console sign-in links.
pub(super) struct Prepared {
    pub(super) repo: Repository<SqliteStore>,
    pub(super) config_status: ConfigStatus,
    pub(super) keys: LocalKeys,
    pub(super) links: LinkSigner,
    pub(super) signin: SigninSigner,
}

/// Phase 4: applies the configuration (a new snapshot when it changed), makes sure every
/// integration has a key and there is an API key (written to `keys.env`), and loads or creates
/// the link-signing secret (which also signs the console's sign-in links).
pub(super) async fn prepare_config_and_keys(
    adapters: &Adapters,
    data_dir: &DataDir,
    given: Option<&Config>,
    public_url: &str,
    clock: &Arc<dyn Clock>,
) -> Result<Prepared, RuntimeError> {
    let repo = repository(&adapters.store, clock, "serve")?;
    let (config, config_status) = apply_config(&repo, given, data_dir).await?;
    let keys_path = data_dir.keys_env();
    let known = match std::fs::read_to_string(&keys_path) {
        Ok(text) => keys::parse_env_file(&text),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Default::default(),
        Err(source) => return Err(RuntimeError::io("read", &keys_path, source)),
    };
    let keys = keys::ensure_keys(&repo, &config, &known, clock.now()).await?;
    data_dir::write_private(
        &keys_path,
        &keys.env_file_text(public_url, &keys_path.display().to_string()),
    )?;
    let link_keys = data_dir.link_keys_or_create()?;
    let links = link_keys.signer().map_err(|error| RuntimeError::Invalid {
        path: data_dir.link_secret(),
        reason: error.to_string(),
    })?;
    // Sign-in links live 15 minutes: they use the current secret only, never a retired one.
    let signin =
        SigninSigner::new(link_keys.current.as_bytes()).ok_or_else(|| RuntimeError::Invalid {
            path: data_dir.link_secret(),
            reason: "the signing secret is too short".to_owned(),
        })?;
    Ok(Prepared {
        repo,
        config_status,
        keys,
        links,
        signin,
    })
}

/// Phase 5: the senders: the outbox (and the console), SMTP when configured, and webhooks
/// when enabled.
pub(super) fn open_senders(
    data_dir: &DataDir,
    console: Console,
    smtp: Option<&SmtpConfig>,
    webhooks: bool,
    clock: &Arc<dyn Clock>,
) -> Result<LocalSenders, RuntimeError> {
    let outbox_path = data_dir.outbox();
    let outbox = match console {
        Console::Stdout => Outbox::open(&outbox_path, clock.clone()),
        Console::Silent => Outbox::with_console(&outbox_path, clock.clone(), Box::new(io::sink())),
        Console::Writer(writer) => Outbox::with_console(&outbox_path, clock.clone(), writer),
    }
    .map_err(|source| RuntimeError::io("open the outbox", &outbox_path, source))?;
    let webhooks = if webhooks {
        Some(
            ReqwestWebhookSender::new()
                .map_err(|error| RuntimeError::HttpClient(error.to_string()))?,
        )
    } else {
        None
    };
    Ok(LocalSenders {
        outbox,
        smtp: smtp.map(SmtpEmail::new).transpose()?,
        webhooks,
    })
}

/// Every use case, over the local adapters.
pub(super) struct Services {
    pub(super) ingest: Arc<Ingest>,
    pub(super) grouping: Arc<Grouping>,
    pub(super) routing: Arc<Routing>,
    pub(super) notify: Arc<Notify>,
    pub(super) ack: Arc<Ack>,
    pub(super) api: Arc<QueryService<SqliteStore>>,
    pub(super) console: Arc<WebConsole>,
    pub(super) dead_letters: Arc<dyn DeadLetters>,
}

/// What the services need besides the adapters and the senders.
pub(super) struct ServiceSettings<'a> {
    pub(super) config_ttl: Duration,
    pub(super) public_url: &'a str,
    pub(super) links: LinkSigner,
    pub(super) signin: SigninSigner,
    pub(super) env: EnvLookup,
    pub(super) slack_signing_secret: Option<&'a str>,
    pub(super) heartbeat: Option<Heartbeat>,
}

/// Phase 6: builds every use case over the adapters, sharing one configuration cache (a
/// `PUT /v1/config` reaches all of them at once).
pub(super) fn build_services(
    adapters: &Adapters,
    clock: &Arc<dyn Clock>,
    senders: LocalSenders,
    settings: ServiceSettings<'_>,
) -> Result<Services, RuntimeError> {
    let cores = Cores {
        store: &adapters.store,
        clock,
        ids: Arc::new(UuidV7Ids),
        cache: Arc::new(ConfigCache::new(settings.config_ttl)),
    };
    let (queue, timers) = (&adapters.queue, &adapters.timers);
    let http_client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|error| RuntimeError::HttpClient(error.to_string()))?;
    let dead_letters: Arc<dyn DeadLetters> = Arc::new(queue.clone());
    let console = ConsoleService::new(
        cores.core("console")?,
        queue.clone(),
        timers.clone(),
        senders.clone(),
        settings.signin,
        ConsoleSettings::new(settings.public_url.to_owned()),
    )
    .with_env(settings.env.clone())
    .with_dead_letters(Arc::clone(&dead_letters));
    let notify = NotifyService::new(
        cores.core("notify")?,
        Senders {
            email: senders.clone(),
            sms: senders.clone(),
            webhook: senders,
        },
        settings.links.clone(),
        settings.public_url,
        settings.env,
    );
    let slack = slack_verifier(settings.slack_signing_secret)?;
    Ok(Services {
        ingest: Arc::new(IngestService::new(
            cores.core("ingest")?,
            queue.clone(),
            SnsVerifier::new(ReqwestHttpGet::new(http_client)),
        )),
        grouping: Arc::new(GroupingService::new(
            cores.core("grouping")?,
            queue.clone(),
            timers.clone(),
        )),
        routing: Arc::new({
            let routing =
                RoutingService::new(cores.core("routing")?, queue.clone(), timers.clone());
            match settings.heartbeat {
                Some(heartbeat) => routing.with_heartbeat(heartbeat),
                None => routing,
            }
        }),
        notify: Arc::new(notify),
        ack: Arc::new(AckService::new(
            cores.core("ack")?,
            queue.clone(),
            timers.clone(),
            settings.links,
            slack,
        )),
        api: Arc::new(QueryService::new(cores.core("api")?)),
        console: Arc::new(console),
        dead_letters,
    })
}

/// Makes each use case's [`Core`]: one store, clock, id generator and configuration cache.
struct Cores<'a> {
    store: &'a SqliteStore,
    clock: &'a Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    cache: Arc<ConfigCache>,
}

impl Cores<'_> {
    fn core(&self, component: &str) -> Result<Core<SqliteStore>, RuntimeError> {
        Ok(Core::new(
            repository(self.store, self.clock, component)?,
            Arc::clone(&self.cache),
            self.clock.clone(),
            self.ids.clone(),
        ))
    }
}

/// The Slack request verifier, when a signing secret is given (refused when empty).
fn slack_verifier(secret: Option<&str>) -> Result<Option<SlackVerifier>, RuntimeError> {
    secret
        .map(|secret| {
            SlackVerifier::new(secret).ok_or_else(|| RuntimeError::Invalid {
                path: PathBuf::from("KLAXON_SLACK_SIGNING_SECRET"),
                reason: "the Slack signing secret is empty".to_owned(),
            })
        })
        .transpose()
}

/// Phase 7: takes stock of the work waiting from before this start.
pub(super) async fn start_report(
    adapters: &Adapters,
    config: ConfigStatus,
    clock: &Arc<dyn Clock>,
) -> Result<StartReport, RuntimeError> {
    let pending = adapters.timers.pending().await?;
    Ok(StartReport {
        config,
        recovered_leases: adapters.recovered_leases,
        queued_messages: queued(&adapters.queue).await?,
        pending_timers: pending.len(),
        overdue_timers: pending
            .iter()
            .filter(|timer| timer.due <= clock.now())
            .count(),
        dead_letters: dead_letters(&adapters.queue).await?,
    })
}

/// Phase 9 (after the workers): serves the ingest, ack, API and console routes until `stop` is
/// cancelled, letting requests in progress finish.
pub(super) fn serve(
    listener: TcpListener,
    services: &Services,
    tls: Option<&super::tls::Tls>,
    stop: &CancellationToken,
) -> JoinHandle<io::Result<()>> {
    let router = klaxon_app::http::compose([
        klaxon_app::http::ingest::routes(Arc::clone(&services.ingest)),
        klaxon_app::http::ack::routes(Arc::clone(&services.ack)),
        klaxon_app::http::api::routes(Arc::clone(&services.api)),
        klaxon_app::console::routes(Arc::clone(&services.console)),
        klaxon_app::http::dead_letters::routes(
            Arc::clone(&services.api),
            Arc::clone(&services.dead_letters),
        ),
    ]);
    if let Some(tls) = tls {
        let serving = super::tls::serve(listener, router, tls.acceptor.clone(), stop.clone());
        return tokio::spawn(serving);
    }
    tokio::spawn(
        axum::serve(listener, router)
            .with_graceful_shutdown(stop.clone().cancelled_owned())
            .into_future(),
    )
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
