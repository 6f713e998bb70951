//! The ingest Lambda function: builds the table, queue and SNS verifier once per cold start and
//! hands every invocation (HTTP API request or SNS event) to [`ingest::IngestHandler`].

// At most 80 lines per function (clippy.toml), in every crate under shared/ and functions/.
#![warn(clippy::too_many_lines)]
// The handler future (axum router, AWS SDK calls) nests deeper than the default limit allows.
#![recursion_limit = "256"]

use anyhow::Context as _;
use klaxon_app::security::sns::ReqwestHttpGet;
use klaxon_aws::env::Function;
use klaxon_aws::{FunctionContext, init_tracing};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// How long fetching an SNS signing certificate or confirming a subscription may take (the
/// function's own timeout is 25 s).
const SNS_HTTP_TIMEOUT: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let context = FunctionContext::from_env(Function::Ingest).await?;
    let client = reqwest::Client::builder()
        .timeout(SNS_HTTP_TIMEOUT)
        .build()
        .context("building the HTTP client for SNS certificates")?;
    let handler = Arc::new(ingest::CloudIngestHandler::from_context(
        &context,
        ReqwestHttpGet::new(client),
    )?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let handler = Arc::clone(&handler);
        async move { handler.handle(event.payload).await }
    }))
    .await
}
