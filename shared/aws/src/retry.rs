//! Retrying AWS calls and sorting their failures into "worth retrying" and "never will work".
//!
//! The SDK already retries throttling, 5xx and timeouts a few times (its standard retry mode);
//! the adapters add a second, longer loop with exponential backoff and full jitter
//! ([`RetryPolicy`]) so a burst of throttling during an incident storm does not drop a page or an
//! alert hand-off. Anything else (validation errors, missing resources, rejected addresses) fails
//! at once.

use crate::dynamo::RetryPolicy;
use aws_sdk_sqs::config::http::HttpResponse;
use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use std::future::Future;
use std::time::Duration;

/// Error codes AWS services use for throttling (the spelling differs between services and
/// between their JSON and query protocols).
const THROTTLING_CODES: [&str; 12] = [
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestThrottled",
    "RequestThrottledException",
    "RequestLimitExceeded",
    "KmsThrottled",
    "KMSThrottlingException",
    "KMSThrottling",
    "KMS.ThrottlingException",
    "AWS.SimpleQueueService.RequestThrottled",
];

/// Error codes for a fault on the service side that a later attempt may not meet.
const SERVER_FAULT_CODES: [&str; 5] = [
    "InternalError",
    "InternalErrorException",
    "InternalServerException",
    "InternalFailure",
    "ServiceUnavailable",
];

/// How a failed call should be treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailureKind {
    /// The service throttled the request.
    Throttled,
    /// A 5xx, a timeout or a network failure: a later attempt may work.
    Transient,
    /// The request itself is wrong, or the resource is missing: retrying will not help.
    Permanent,
}

impl FailureKind {
    fn is_retryable(self) -> bool {
        matches!(self, FailureKind::Throttled | FailureKind::Transient)
    }
}

/// Classifies a service error from its code and HTTP status.
pub(crate) fn classify_service_error(code: Option<&str>, status: Option<u16>) -> FailureKind {
    match code {
        Some(code) if THROTTLING_CODES.contains(&code) => FailureKind::Throttled,
        Some(code) if SERVER_FAULT_CODES.contains(&code) => FailureKind::Transient,
        _ if status == Some(429) => FailureKind::Throttled,
        _ if status.is_some_and(|status| status >= 500) => FailureKind::Transient,
        _ => FailureKind::Permanent,
    }
}

/// Classifies any SDK failure.
pub(crate) fn classify<E: ProvideErrorMetadata>(error: &SdkError<E, HttpResponse>) -> FailureKind {
    match error {
        SdkError::ServiceError(context) => {
            classify_service_error(context.err().code(), Some(context.raw().status().as_u16()))
        }
        // The request could not be built: a programming or input error.
        SdkError::ConstructionFailure(_) => FailureKind::Permanent,
        // Timeouts, connection failures and unparseable responses.
        _ => FailureKind::Transient,
    }
}

/// A call that failed for good, after `attempts` attempts.
#[derive(Debug)]
pub(crate) struct CallFailure<E> {
    /// How the last failure was classified.
    pub kind: FailureKind,
    /// Attempts made, the first included.
    pub attempts: u32,
    /// The last error.
    pub error: SdkError<E, HttpResponse>,
}

impl<E> CallFailure<E>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    /// The service's error code, when it answered with one.
    pub fn code(&self) -> Option<&str> {
        self.error.code()
    }

    /// A one-line description with the error chain and the attempts made.
    pub fn describe(&self) -> String {
        let detail = DisplayErrorContext(&self.error).to_string();
        match self.kind {
            FailureKind::Permanent => detail,
            FailureKind::Throttled => {
                format!("throttled after {} attempts: {detail}", self.attempts)
            }
            FailureKind::Transient => format!("failed after {} attempts: {detail}", self.attempts),
        }
    }
}

/// The retry policy the queue, timer and sender adapters use: up to five attempts, waits up
/// to 50 ms, 100 ms, 200 ms, 400 ms (on top of the SDK's own retries).
pub(crate) fn default_policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 5,
        base_delay: Duration::from_millis(50),
        max_delay: Duration::from_secs(2),
    }
}

/// Runs `call` until it succeeds, fails permanently, or `policy.max_attempts` is spent.
pub(crate) async fn with_retries<T, E, F, Fut>(
    policy: &RetryPolicy,
    mut call: F,
) -> Result<T, CallFailure<E>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match call().await {
            Ok(value) => return Ok(value),
            Err(error) => {
                let kind = classify(&error);
                if !kind.is_retryable() || attempt >= policy.max_attempts.max(1) {
                    return Err(CallFailure {
                        kind,
                        attempts: attempt,
                        error,
                    });
                }
                let unit: f64 = rand::random();
                tokio::time::sleep(policy.delay(attempt - 1, unit)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_codes_of_every_service_are_throttling() {
        for code in [
            "ThrottlingException",
            "RequestThrottled",
            "TooManyRequestsException",
            "Throttling",
            "KMS.ThrottlingException",
        ] {
            assert_eq!(
                classify_service_error(Some(code), Some(400)),
                FailureKind::Throttled,
                "{code}"
            );
        }
        assert_eq!(
            classify_service_error(None, Some(429)),
            FailureKind::Throttled
        );
    }

    #[test]
    fn server_faults_are_transient_and_client_errors_permanent() {
        assert_eq!(
            classify_service_error(Some("InternalServerException"), Some(500)),
            FailureKind::Transient
        );
        assert_eq!(
            classify_service_error(Some("Whatever"), Some(503)),
            FailureKind::Transient
        );
        assert_eq!(
            classify_service_error(Some("MessageRejected"), Some(400)),
            FailureKind::Permanent
        );
        assert_eq!(
            classify_service_error(Some("ValidationException"), Some(400)),
            FailureKind::Permanent
        );
    }
}
