//! Why the runtime could not start or stopped with an error.

use crate::smtp::SmtpConfigError;
use klaxon_store::repo::RepoError;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

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
