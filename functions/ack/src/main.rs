//! The ack Lambda function: builds its adapters once per cold start and answers every API
//! Gateway HTTP API request with [`ack::AckHandler`].

// At most 80 lines per function (clippy.toml), in every crate under shared/ and functions/.
#![warn(clippy::too_many_lines)]
// The handler future (axum router, AWS SDK calls) nests deeper than the default limit allows.
#![recursion_limit = "256"]

use klaxon_aws::env::Function;
use klaxon_aws::{FunctionContext, init_tracing};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let context = FunctionContext::from_env(Function::Ack).await?;
    let handler = Arc::new(ack::AckHandler::from_context(&context).await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let handler = Arc::clone(&handler);
        async move { handler.handle(event.payload).await }
    }))
    .await
}
