//! The ingest Lambda function: webhooks over the HTTP API, and CloudWatch alarms from SNS topics
//! that invoke the function directly.
//!
//! One handler takes the raw invocation JSON and dispatches on its shape:
//!
//! - an SNS event (`Records[*].EventSource == "aws:sns"`) goes to
//!   [`IngestService::sns_lambda_event`]: the topic names the integration (its
//!   `sns_topic_arns`), IAM has already authenticated the sender;
//! - an API Gateway HTTP API event (payload 2.0) goes through the shared ingest router
//!   (`http::compose([http::ingest::routes(..)])`) and answers in API Gateway's response format;
//! - anything else is refused with an error (Lambda logs it; nothing is stored).
//!
//! An SNS event that cannot be ingested returns an error, so Lambda retries it (asynchronous
//! invocations are retried twice) and then hands it to the function's on-failure destination:
//! an alarm notification is never dropped silently.

// At most 80 lines per function (clippy.toml), in every crate under shared/ and functions/.
#![warn(clippy::too_many_lines)]

use klaxon_app::http;
use klaxon_app::ports::Queue;
use klaxon_app::security::sns::{HttpGet, SnsVerifier};
use klaxon_app::usecases::UseCaseError;
use klaxon_app::usecases::ingest::{IngestFailure, IngestService, IngestSummary};
use klaxon_aws::apigw;
use klaxon_aws::dynamo::DynamoStore;
use klaxon_aws::lambda::FunctionError;
use klaxon_aws::{FunctionContext, SqsQueue};
use klaxon_store::Store;
use lambda_runtime::Diagnostic;
use serde_json::{Value, json};
use std::sync::Arc;

/// The timeline source of everything this function records (`/klaxon/ingest`).
pub const COMPONENT: &str = "ingest";

/// Why an invocation failed (an HTTP request never fails: it gets an HTTP error response).
#[derive(Debug, thiserror::Error)]
pub enum IngestEventError {
    /// An SNS event that cannot be ingested as it is (malformed, or from a topic no
    /// integration lists): retrying will not help.
    #[error("SNS event refused: {0}")]
    SnsRefused(IngestFailure),
    /// An SNS event whose ingestion failed on a dependency: a retry may succeed.
    #[error("SNS event not ingested (transient): {0}")]
    SnsTransient(IngestFailure),
    /// Not an event this function handles, or a wiring failure.
    #[error(transparent)]
    Function(#[from] FunctionError),
}

impl From<IngestEventError> for Diagnostic {
    fn from(error: IngestEventError) -> Self {
        let error_type = match &error {
            IngestEventError::SnsRefused(_) => "Klaxon.SnsEventRefused",
            IngestEventError::SnsTransient(_) => "Klaxon.SnsEventFailed",
            IngestEventError::Function(_) => "Klaxon.FunctionError",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// Whether `event` is an SNS event for a subscribed Lambda function.
pub fn is_sns_event(event: &Value) -> bool {
    event
        .get("Records")
        .and_then(Value::as_array)
        .is_some_and(|records| {
            !records.is_empty()
                && records.iter().all(|record| {
                    record.get("EventSource").and_then(Value::as_str) == Some("aws:sns")
                })
        })
}

/// The ingest handler over any store, queue and certificate fetcher.
#[derive(Debug)]
pub struct IngestHandler<S, Q, H> {
    service: Arc<IngestService<S, Q, H>>,
    router: axum::Router,
}

/// The handler as deployed: DynamoDB and SQS.
pub type CloudIngestHandler<H> = IngestHandler<DynamoStore, SqsQueue, H>;

impl<H: HttpGet + 'static> CloudIngestHandler<H> {
    /// Builds the deployed handler: the table, the alerts queue, and `fetcher` for SNS signing
    /// certificates and subscription confirmations.
    pub fn from_context(context: &FunctionContext, fetcher: H) -> Result<Self, FunctionError> {
        let service = IngestService::new(
            context.core(COMPONENT)?,
            context.queue(),
            SnsVerifier::new(fetcher),
        );
        Ok(Self::new(Arc::new(service)))
    }
}

impl<S, Q, H> IngestHandler<S, Q, H>
where
    S: Store + 'static,
    Q: Queue + 'static,
    H: HttpGet + 'static,
{
    /// A handler over `service` (the router is built once, here).
    pub fn new(service: Arc<IngestService<S, Q, H>>) -> Self {
        let router = http::compose([http::ingest::routes(Arc::clone(&service))]);
        Self { service, router }
    }

    /// The use case.
    pub fn service(&self) -> &IngestService<S, Q, H> {
        &self.service
    }

    /// Handles one invocation: an SNS event or an HTTP API request (see the crate docs).
    pub async fn handle(&self, event: Value) -> Result<Value, IngestEventError> {
        if is_sns_event(&event) {
            let summary = self.sns(&event).await?;
            return Ok(json!({"status": "accepted", "summary": summary}));
        }
        if apigw::is_http_api_event(&event) {
            let response = apigw::serve_event(self.router.clone(), &event).await?;
            return serde_json::to_value(response).map_err(|e| {
                FunctionError::Failed(format!("serialising the HTTP response: {e}")).into()
            });
        }
        Err(FunctionError::Failed(
            "unsupported event: the ingest function takes API Gateway HTTP API (payload 2.0) \
             requests and SNS notifications"
                .to_owned(),
        )
        .into())
    }

    async fn sns(&self, event: &Value) -> Result<IngestSummary, IngestEventError> {
        match self.service.sns_lambda_event(event).await {
            Ok(summary) => {
                tracing::info!(?summary, "SNS event ingested");
                Ok(summary)
            }
            Err(failure) => {
                let transient =
                    matches!(&failure, IngestFailure::Other(error) if is_retryable(error));
                if transient {
                    tracing::warn!(error = %failure, "SNS event not ingested; Lambda retries it");
                    Err(IngestEventError::SnsTransient(failure))
                } else {
                    tracing::error!(error = %failure, "SNS event refused; it goes to the on-failure destination after Lambda's retries");
                    Err(IngestEventError::SnsRefused(failure))
                }
            }
        }
    }
}

/// Transient failures, and a missing configuration (which applying one fixes).
fn is_retryable(error: &UseCaseError) -> bool {
    error.is_transient() || matches!(error, UseCaseError::NoConfig)
}

#[cfg(test)]
mod tests;
