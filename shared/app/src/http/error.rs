//! The JSON error envelope every Klaxon endpoint (except the PagerDuty and Opsgenie
//! compatibility routes, which answer in their vendor's shape) returns:
//!
//! ```json
//! {"error": {"code": "invalid_field", "message": "…", "field": "payload.summary"}}
//! ```
//!
//! `code` is stable and machine-readable; `message` is for humans; `field` names the offending
//! input when there is one.

use crate::usecases::UseCaseError;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use klaxon_store::repo::RepoError;
use serde::Serialize;

/// An HTTP error with a machine-readable code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code (`unauthorized`, `not_found`, `invalid_field`, …).
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
    /// The offending field, if any.
    pub field: Option<String>,
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: Body<'a>,
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    /// Names the offending field.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// 400 `invalid_field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_field", message).with_field(field)
    }

    /// 401 `unauthorized`.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403 `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 409 `conflict`.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// 413 `too_large`.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the body is larger than {limit} bytes"),
        )
    }

    /// 503 `unavailable` (a dependency is down or throttled; retry later).
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// 500 `internal` (details go to the log, not the client).
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; see the service log",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Envelope {
            error: Body {
                code: self.code,
                message: &self.message,
                field: self.field.as_deref(),
            },
        };
        (self.status, Json(body)).into_response()
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

/// The HTTP answer to a use case's failure: 4xx for what the caller can fix, 503 for what a
/// retry may fix, 500 (details in the log only) for the rest.
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
            UseCaseError::StateConflict { code, message } => {
                ApiError::new(StatusCode::CONFLICT, code, message.clone())
            }
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
    use klaxon_store::StoreError;
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
