//! Retrying AWS calls: the one place that decides which failures are retried, for every
//! service, with what backoff. Every call goes through one loop, [`retry`], under one policy
//! type, [`RetryPolicy`] (exponential backoff with full jitter, on top of the SDK's own
//! standard-mode retries); only the classification and the numbers differ, on purpose
//! (docs/design.md, "Retries"):
//!
//! - **DynamoDB** ([`retry_dynamo`], and the store's transactions; policy
//!   [`RetryPolicy::default`]: 8 attempts, waits up to 25 ms doubling to 2 s): only the
//!   throttling and write-conflict codes in [`DYNAMO_RETRYABLE_CODES`] are retried; every
//!   other failure (timeouts and 5xx included, which the SDK already retried) is returned at
//!   once. Exhausted retries become [`klaxon_store::StoreError::Throttled`].
//! - **SQS, EventBridge Scheduler, SES, SNS** ([`with_retries`], policy [`default_policy`]: 5
//!   attempts, waits up to 50 ms doubling to 2 s): throttling (any service's spelling, or
//!   HTTP 429), server faults (5xx), timeouts and network failures are retried ([`classify`]);
//!   a request the service refused (validation errors, missing resources, rejected addresses)
//!   fails at once.
//!
//! A burst of throttling during an incident storm then does not drop a page or an alert
//! hand-off.

use aws_sdk_sqs::config::http::HttpResponse;
use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use std::future::Future;
use std::time::Duration;

/// Error codes DynamoDB uses for throttling and transient write conflicts: the only failures
/// the DynamoDB loop ([`retry_dynamo`]) retries.
const DYNAMO_RETRYABLE_CODES: [&str; 4] = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TransactionConflictException",
];

/// Backoff for throttled requests: attempt `n` (from 0) waits a random time between zero and
/// `min(max_delay, base_delay × 2ⁿ)` ("full jitter").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts, the first included.
    pub max_attempts: u32,
    /// Ceiling of the first wait.
    pub base_delay: Duration,
    /// Largest ceiling of any wait.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            base_delay: Duration::from_millis(25),
            max_delay: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (0 for the first retry), scaled by `unit`, a random
    /// number in `[0, 1)`.
    pub fn delay(&self, retry: u32, unit: f64) -> Duration {
        let factor = 2u32.saturating_pow(retry.min(30));
        let ceiling = self.base_delay.saturating_mul(factor).min(self.max_delay);
        ceiling.mul_f64(unit.clamp(0.0, 1.0))
    }

    /// Sleeps a random time up to [`RetryPolicy::delay`]`(retry, 1)`.
    pub(crate) async fn wait(&self, retry: u32) {
        let unit: f64 = rand::random();
        tokio::time::sleep(self.delay(retry, unit)).await;
    }
}

/// Outcome of a DynamoDB call that did not succeed under [`retry_dynamo`].
pub(crate) enum DynamoCallError<E> {
    /// Still throttled (or in conflict) after every attempt.
    Throttled {
        /// Attempts made, the first included.
        attempts: u32,
    },
    /// Failed otherwise, at the first such failure.
    Failed(E),
}

/// Whether the DynamoDB loop retries an error with this code.
pub(crate) fn is_dynamo_retryable(code: Option<&str>) -> bool {
    code.is_some_and(|code| DYNAMO_RETRYABLE_CODES.contains(&code))
}

/// The DynamoDB loop: runs `call` until it succeeds, fails with a code
/// [`is_dynamo_retryable`] refuses, or `policy.max_attempts` throttled attempts are spent.
///
/// A plain function returning [`retry`]'s future, not an `async fn`: one async layer less keeps
/// the Lambda handlers' future types within the compiler's default query depth.
pub(crate) fn retry_dynamo<T, E, F, Fut>(
    policy: &RetryPolicy,
    call: F,
) -> impl Future<Output = Result<T, DynamoCallError<E>>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: ProvideErrorMetadata,
{
    retry(
        policy,
        |error: &E| is_dynamo_retryable(error.code()),
        |gave_up| match gave_up {
            GaveUp::Exhausted { attempts, .. } => DynamoCallError::Throttled { attempts },
            GaveUp::Refused { error, .. } => DynamoCallError::Failed(error),
        },
        call,
    )
}

/// Why [`retry`] stopped without a result.
#[derive(Debug)]
pub(crate) enum GaveUp<E> {
    /// The last error was retryable, but every attempt was spent.
    Exhausted {
        /// Attempts made, the first included.
        attempts: u32,
        /// The last error.
        error: E,
    },
    /// The error is not one to retry.
    Refused {
        /// Attempts made, the first included.
        attempts: u32,
        /// The error.
        error: E,
    },
}

/// The one retry loop every AWS call goes through: runs `call` until it succeeds, fails with
/// an error `retryable` refuses, or `policy.max_attempts` attempts (at least one) are spent,
/// waiting [`RetryPolicy::wait`] between attempts; `gave_up` turns the last failure into the
/// caller's error. Which errors are retryable is the caller's classification
/// ([`is_dynamo_retryable`], [`classify`], or a cancelled transaction's reasons).
pub(crate) async fn retry<T, E, R, F, Fut>(
    policy: &RetryPolicy,
    retryable: impl Fn(&E) -> bool,
    gave_up: impl FnOnce(GaveUp<E>) -> R,
    mut call: F,
) -> Result<T, R>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match call().await {
            Ok(value) => return Ok(value),
            Err(error) if !retryable(&error) => {
                return Err(gave_up(GaveUp::Refused {
                    attempts: attempt,
                    error,
                }));
            }
            Err(error) if attempt >= policy.max_attempts => {
                return Err(gave_up(GaveUp::Exhausted {
                    attempts: attempt,
                    error,
                }));
            }
            Err(_) => policy.wait(attempt - 1).await,
        }
    }
}

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

/// Runs `call` through [`retry`] with the [`classify`] classification, until it succeeds,
/// fails permanently, or `policy.max_attempts` is spent (a plain function returning
/// [`retry`]'s future, like [`retry_dynamo`]).
pub(crate) fn with_retries<T, E, F, Fut>(
    policy: &RetryPolicy,
    call: F,
) -> impl Future<Output = Result<T, CallFailure<E>>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata,
{
    retry(
        policy,
        |error| classify(error).is_retryable(),
        |gave_up| {
            let (GaveUp::Exhausted { attempts, error } | GaveUp::Refused { attempts, error }) =
                gave_up;
            CallFailure {
                kind: classify(&error),
                attempts,
                error,
            }
        },
        call,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_up_to_the_cap_with_full_jitter() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(100),
        };
        assert_eq!(
            policy.delay(0, 0.999_999),
            Duration::from_millis(10).mul_f64(0.999_999)
        );
        assert_eq!(policy.delay(2, 1.0), Duration::from_millis(40));
        assert_eq!(policy.delay(5, 1.0), Duration::from_millis(100));
        assert_eq!(policy.delay(50, 1.0), Duration::from_millis(100));
        assert_eq!(policy.delay(3, 0.0), Duration::ZERO);
        assert_eq!(policy.delay(3, 0.5), Duration::from_millis(40));
    }

    #[test]
    fn throttling_codes_are_retryable_and_others_are_not() {
        for code in DYNAMO_RETRYABLE_CODES {
            assert!(is_dynamo_retryable(Some(code)));
        }
        assert!(!is_dynamo_retryable(Some(
            "ConditionalCheckFailedException"
        )));
        assert!(!is_dynamo_retryable(Some("ValidationException")));
        assert!(!is_dynamo_retryable(None));
    }

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
