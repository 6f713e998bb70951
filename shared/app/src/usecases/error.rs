//! The use cases' error type and its mapping to HTTP.

use crate::http::ApiError;
use crate::ports::{QueueError, SendError, TimerError};
use axum::http::StatusCode;
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
    /// retry these; HTTP answers 503.
    pub fn is_transient(&self) -> bool {
        match self {
            UseCaseError::Repo(RepoError::Store(error)) => StoreError::is_transient(error),
            UseCaseError::Repo(RepoError::Conflict { .. })
            | UseCaseError::Queue(_)
            | UseCaseError::Timer(_)
            | UseCaseError::Send(SendError::Transient(_)) => true,
            _ => false,
        }
    }
}

impl From<UseCaseError> for ApiError {
    fn from(error: UseCaseError) -> Self {
        match &error {
            UseCaseError::Invalid { field, message } => {
                ApiError::invalid(field.clone(), message.clone())
            }
            UseCaseError::Unauthorized(m) => ApiError::unauthorized(m.clone()),
            UseCaseError::Forbidden(m) => ApiError::forbidden(m.clone()),
            UseCaseError::NotFound { .. } => ApiError::not_found(error.to_string()),
            UseCaseError::Conflict(m) => ApiError::conflict(m.clone()),
            UseCaseError::NoConfig => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "no_config",
                error.to_string(),
            ),
            UseCaseError::Repo(RepoError::Invalid { field, reason }) => {
                ApiError::invalid(field.clone(), reason.clone())
            }
            UseCaseError::Repo(RepoError::NotFound { .. }) => {
                ApiError::not_found(error.to_string())
            }
            _ if error.is_transient() => {
                tracing::warn!(%error, "transient failure");
                ApiError::unavailable("a dependency is busy or unavailable; retry shortly")
            }
            _ => {
                tracing::error!(%error, "request failed");
                ApiError::internal()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use klaxon_store::{CancelReason, Key};

    fn store(error: StoreError) -> UseCaseError {
        UseCaseError::Repo(RepoError::Store(error))
    }

    fn cancelled(reasons: Vec<CancelReason>) -> UseCaseError {
        store(StoreError::TransactionCancelled { reasons })
    }

    #[test]
    fn a_transaction_cancelled_by_throttling_or_conflicts_is_transient_and_answers_503() {
        let conflict = CancelReason::Other(CancelReason::TRANSACTION_CONFLICT.to_owned());
        for error in [
            cancelled(vec![CancelReason::None, CancelReason::Throttled]),
            cancelled(vec![conflict.clone(), CancelReason::None]),
            store(StoreError::Throttled {
                operation: "transact",
                attempts: 8,
            }),
        ] {
            assert!(error.is_transient(), "{error}");
            assert_eq!(
                ApiError::from(error).status,
                StatusCode::SERVICE_UNAVAILABLE
            );
        }
    }

    #[test]
    fn a_transaction_with_a_failed_condition_is_permanent_and_answers_500() {
        let error = cancelled(vec![
            CancelReason::ConditionFailed { existing: None },
            CancelReason::Throttled,
        ]);
        assert!(!error.is_transient(), "{error}");
        assert_eq!(
            ApiError::from(error).status,
            StatusCode::INTERNAL_SERVER_ERROR
        );
        let corrupt = store(StoreError::InvalidRequest {
            field: "pk".into(),
            reason: "empty".into(),
        });
        assert!(!corrupt.is_transient());
        let failed = store(StoreError::ConditionFailed {
            key: Key::new("a", "b"),
            existing: None,
        });
        assert!(!failed.is_transient());
    }
}
