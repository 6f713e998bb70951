//! The use cases' error type. It knows nothing of HTTP: `http::error` maps it to status codes
//! at the edge.

use crate::ports::{QueueError, SendError, TimerError};
use klaxon_store::StoreError;
use klaxon_store::repo::RepoError;

/// Why a use case failed.
#[derive(Debug, thiserror::Error)]
pub enum UseCaseError {
    /// No configuration has been applied yet.
    #[error("no configuration has been applied yet (run `klaxon config apply`)")]
    NoConfig,
    /// The stored configuration no longer validates (it was written by an incompatible version).
    #[error("the stored configuration version {version} is invalid: {reason}")]
    BadStoredConfig {
        /// Its version.
        version: u64,
        /// The validation errors.
        reason: String,
    },
    /// A caller's input is wrong.
    #[error("{field}: {message}")]
    Invalid {
        /// The offending field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// Credentials missing or wrong.
    #[error("{0}")]
    Unauthorized(String),
    /// Credentials valid but not for this.
    #[error("{0}")]
    Forbidden(String),
    /// Something named does not exist.
    #[error("{what} {id} not found")]
    NotFound {
        /// What kind of thing.
        what: &'static str,
        /// Which.
        id: String,
    },
    /// The request conflicts with the current state (acknowledging a resolved incident).
    #[error("{0}")]
    Conflict(String),
    /// The incident's state refuses the action, with a machine-readable code
    /// (`incident_resolved`, `not_acknowledged`, `not_escalating`, `no_escalation`).
    #[error("{message}")]
    StateConflict {
        /// The code.
        code: &'static str,
        /// For humans.
        message: String,
    },
    /// The repository failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
    /// A queue send failed.
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// A timer operation failed.
    #[error(transparent)]
    Timer(#[from] TimerError),
    /// A send failed transiently (the message is retried).
    #[error("delivery failed: {0}")]
    Send(#[from] SendError),
    /// A timer fired before the write that armed it committed (its version is ahead of the
    /// incident's escalation): retried, so the timer is neither lost nor fired twice.
    #[error(
        "timer of incident {incident} (version {timer}) fired before the write that armed it \
         committed (escalation version {state}); retried"
    )]
    TimerAhead {
        /// The incident.
        incident: String,
        /// The timer payload's version.
        timer: u64,
        /// The stored escalation's version (0 when it has not started).
        state: u64,
    },
    /// A page of a re-trigger reached notify before the write that re-triggered its incident
    /// committed (routing queues pages before it commits): the incident still reads as
    /// acknowledged in an earlier cycle. Retried, so the page is neither skipped nor sent twice.
    #[error(
        "page of incident {incident} (cycle {page}) arrived before the re-trigger that queued \
         it committed (escalation cycle {state}); retried"
    )]
    PageAhead {
        /// The incident.
        incident: String,
        /// The page's re-trigger cycle.
        page: u32,
        /// The stored escalation's cycle.
        state: u32,
    },
}

impl UseCaseError {
    /// A 400 naming `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        UseCaseError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Whether retrying later may succeed (throttling, a transaction cancelled only by
    /// throttling or conflicts, a lost optimistic lock, a dependency down). Queue consumers
    /// retry these; the HTTP edge answers 503.
    pub fn is_transient(&self) -> bool {
        match self {
            UseCaseError::Repo(RepoError::Store(error)) => StoreError::is_transient(error),
            UseCaseError::Repo(RepoError::Conflict { .. })
            | UseCaseError::Queue(_)
            | UseCaseError::Timer(_)
            | UseCaseError::TimerAhead { .. }
            | UseCaseError::PageAhead { .. }
            | UseCaseError::Send(SendError::Transient(_)) => true,
            _ => false,
        }
    }
}
