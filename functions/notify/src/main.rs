//! The notify Lambda function: builds the table, SES, SNS and webhook senders once per cold
//! start and hands each notifications record to [`notify::NotifyHandler`].

// At most 80 lines per function (clippy.toml), in every crate under shared/ and functions/.
#![warn(clippy::too_many_lines)]

use klaxon_app::usecases::notify::process_env;
use klaxon_aws::env::Function;
use klaxon_aws::lambda::run_sqs_function_with_backoff;
use klaxon_aws::{FunctionContext, init_tracing};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let context = FunctionContext::from_env(Function::Notify).await?;
    let handler =
        Arc::new(notify::CloudNotifyHandler::from_context(&context, process_env()).await?);
    let backoff = context.retry_backoff();
    run_sqs_function_with_backoff(
        move |message, meta| {
            let handler = Arc::clone(&handler);
            async move { handler.handle_message(message, meta).await.map(|_| ()) }
        },
        backoff,
    )
    .await
}
