//! The grouping Lambda function: builds the table, queue and timer adapters once per cold start
//! and hands each `alerts.fifo` message group's records to [`grouping::GroupingHandler`].

// At most 80 lines per function (clippy.toml), in every crate under shared/ and functions/.
#![warn(clippy::too_many_lines)]

use klaxon_aws::env::Function;
use klaxon_aws::lambda::SqsGroupBatchService;
use klaxon_aws::{FunctionContext, init_tracing};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let context = FunctionContext::from_env(Function::Grouping).await?;
    let handler = Arc::new(grouping::CloudGroupingHandler::from_context(&context)?);
    let backoff = context.retry_backoff();
    let service = SqsGroupBatchService::new(
        move |group| {
            let handler = Arc::clone(&handler);
            async move { handler.handle_group(group).await }
        },
        Some(backoff),
    );
    lambda_runtime::run(service).await
}
