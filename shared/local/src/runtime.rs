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
mod error;
pub mod keys;
mod options;
mod startup;
mod tls;
mod workers;

pub use data_dir::DataDir;
pub use error::RuntimeError;
pub use keys::{LocalKey, LocalKeys};
pub use options::{Console, RuntimeOptions, SERVE_MAX_ATTEMPTS, Tuning, check_public_url};
pub use startup::{ConfigStatus, StartReport};
pub use tls::{TlsSource, self_signed_ca_path};

use crate::queue::SqliteQueue;
use crate::store::SqliteStore;
use klaxon_app::ports::{Clock, SystemClock};
use klaxon_store::repo::Repository;
#[cfg(test)]
use options::default_public_url;
use startup::ServiceSettings;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A running local Klaxon. Stop it with [`LocalRuntime::shutdown`] (dropping it without that
/// aborts nothing: the tasks keep running until the tokio runtime ends).
pub struct LocalRuntime {
    address: SocketAddr,
    public_url: String,
    tls_trust_file: Option<PathBuf>,
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

impl LocalRuntime {
    /// Starts everything; returns once the server listens and the workers run. The phases are
    /// in [`startup`] (and the workers in [`workers`]), in this order.
    pub async fn start(options: RuntimeOptions) -> Result<Self, RuntimeError> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let opened = startup::open_data_dir(&options)?;
        let (listener, address, public_url) =
            startup::listen(options.listen, opened.public_url, options.tls.is_some()).await?;
        let tls = options
            .tls
            .as_ref()
            .map(|source| tls::prepare(source, &opened.data_dir, address))
            .transpose()?;
        let adapters = startup::open_adapters(
            &opened.data_dir,
            &clock,
            options.tuning.queue,
            options.tuning.durability,
        )
        .await?;
        let prepared = startup::prepare_config_and_keys(
            &adapters,
            &opened.data_dir,
            options.config.as_ref(),
            &public_url,
            &clock,
        )
        .await?;
        let senders = startup::open_senders(
            &opened.data_dir,
            options.console,
            options.smtp.as_ref(),
            options.webhooks,
            &clock,
        )?;
        let settings = ServiceSettings {
            config_ttl: options.tuning.config_ttl,
            public_url: &public_url,
            links: prepared.links,
            signin: prepared.signin,
            env: options.env,
            slack_signing_secret: options.slack_signing_secret.as_deref(),
            heartbeat: options.heartbeat.clone(),
        };
        let services = startup::build_services(&adapters, &clock, senders, settings)?;
        let report = startup::start_report(&adapters, prepared.config_status, &clock).await?;
        let stop_workers = CancellationToken::new();
        let workers =
            workers::spawn_workers(&adapters, &services, &options.tuning, &clock, &stop_workers);
        let stop_http = CancellationToken::new();
        let server = startup::serve(listener, &services, tls.as_ref(), &stop_http);
        let data_dir = opened.data_dir;
        tracing::info!(%address, %public_url, data_dir = %data_dir.root().display(), "klaxon serve started");
        Ok(Self {
            address,
            public_url,
            tls_trust_file: tls.map(|tls| tls.trust_file),
            data_dir,
            keys: prepared.keys,
            report,
            repo: prepared.repo,
            queue: adapters.queue,
            stop_http,
            stop_workers,
            server,
            workers,
            _lock: opened.lock,
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

    /// When serving HTTPS: the PEM file a client trusts (the self-signed authority, or the
    /// given certificate).
    pub fn tls_trust_file(&self) -> Option<&Path> {
        self.tls_trust_file.as_deref()
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

#[cfg(test)]
mod tests;
