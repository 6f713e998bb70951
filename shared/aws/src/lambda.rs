//! Shared plumbing for the Lambda function binaries: the SQS batch driver, the function error
//! type, and logging set-up.
//!
//! An SQS-triggered `main` builds everything once and hands the use case to the driver:
//!
//! ```text
//! #[tokio::main]
//! async fn main() -> Result<(), lambda_runtime::Error> {
//!     klaxon_aws::init_tracing();
//!     let settings = CloudSettings::for_function(Function::Routing)?;
//!     let aws = klaxon_aws::load_aws_config(&settings).await;
//!     let use_case = Arc::new(/* adapters from settings and SDK clients built from `aws` */);
//!     klaxon_aws::lambda::run_sqs_function(move |message, meta| {
//!         let use_case = Arc::clone(&use_case);
//!         async move { use_case.handle(message, meta.receive_count).await }
//!     })
//!     .await
//! }
//! ```
//!
//! The event source mappings must set `FunctionResponseTypes: [ReportBatchItemFailures]`
//! (template.yaml does): the driver answers with the failed message ids only, so one bad message
//! never makes Lambda redeliver the whole batch.

use crate::retry::{default_policy, with_retries};
use aws_lambda_events::event::sqs::SqsMessage;
use futures::StreamExt;
use futures::future::BoxFuture;
use klaxon_app::messages::QueueMessage;
use lambda_runtime::Diagnostic;
use std::collections::HashMap;
use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

pub use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
/// Re-exported so function binaries and tests build events and call services without naming
/// the runtime crate themselves.
pub use lambda_runtime::{Context, LambdaEvent, Service};

mod groups;

pub use groups::{SqsGroupBatchService, process_sqs_group_batches};

/// How many message groups (or, on a standard queue, messages) are handled at once.
pub const MAX_CONCURRENT_GROUPS: usize = 10;

/// The longest body prefix written to the log for a message that cannot be parsed.
const LOGGED_BODY_CHARS: usize = 256;

/// What the handler learns about a message besides its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageMeta {
    /// The SQS message id.
    pub message_id: String,
    /// How many times SQS has delivered it, this time included (`ApproximateReceiveCount`).
    pub receive_count: u32,
    /// The FIFO message group, for messages from a FIFO queue.
    pub group_id: Option<String>,
}

impl MessageMeta {
    /// The delivery as the shared consumer table logs it ([`klaxon_app::consumer::consume`]).
    pub fn delivery(&self) -> klaxon_app::consumer::Delivery {
        klaxon_app::consumer::Delivery {
            message_id: self.message_id.clone(),
            receive_count: self.receive_count,
        }
    }
}

/// A handler-level failure of a function invocation (as opposed to one failed message, which
/// is reported in the batch response). Lambda logs it and, for SQS, redelivers the whole batch.
#[derive(Debug, thiserror::Error)]
pub enum FunctionError {
    /// The function's environment is incomplete or malformed.
    #[error(transparent)]
    Config(#[from] crate::env::EnvError),
    /// Anything else that stops the whole invocation.
    #[error("{0}")]
    Failed(String),
}

impl From<FunctionError> for Diagnostic {
    fn from(error: FunctionError) -> Self {
        let error_type = match &error {
            FunctionError::Config(_) => "Klaxon.ConfigurationError",
            FunctionError::Failed(_) => "Klaxon.FunctionError",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// Sets up JSON logs on stdout (Lambda sends them to CloudWatch Logs). The level filter comes
/// from `RUST_LOG` (e.g. `info,klaxon_app=debug`), else from Lambda's `AWS_LAMBDA_LOG_LEVEL`,
/// else `info`. Safe to call more than once: later calls do nothing.
pub fn init_tracing() {
    let directives = log_directives(
        std::env::var("RUST_LOG").ok(),
        std::env::var("AWS_LAMBDA_LOG_LEVEL").ok(),
    );
    let _ = json_subscriber(&directives, std::io::stdout).try_init();
}

/// The filter directives: `RUST_LOG` when set, else Lambda's log level, else `info`.
pub fn log_directives(rust_log: Option<String>, lambda_log_level: Option<String>) -> String {
    let set = |value: Option<String>| value.filter(|value| !value.trim().is_empty());
    set(rust_log)
        .or_else(|| set(lambda_log_level).map(|level| level.to_lowercase()))
        .unwrap_or_else(|| "info".to_owned())
}

/// A JSON-lines subscriber writing to `writer`, filtered by `directives` (invalid directives
/// fall back to `info`).
pub fn json_subscriber<W>(
    directives: &str,
    writer: W,
) -> tracing_subscriber::fmt::SubscriberBuilder<
    tracing_subscriber::fmt::format::JsonFields,
    tracing_subscriber::fmt::format::Format<tracing_subscriber::fmt::format::Json>,
    tracing_subscriber::EnvFilter,
    W,
>
where
    W: for<'writer> tracing_subscriber::fmt::MakeWriter<'writer> + Send + Sync + 'static,
{
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_new(directives).unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_target(true)
        .with_writer(writer)
}

/// One record's outcome.
struct Outcome {
    index: usize,
    message_id: String,
    failed: bool,
    receive_count: u32,
    receipt_handle: Option<String>,
    source_arn: Option<String>,
}

/// Spaces out the retries of failed records. SQS redelivers a failed record when its visibility
/// timeout ends, which by default is the same short wait every time; after a record fails this
/// sets its visibility timeout to `base × 2^(receive count − 1)`, capped at `max`, so a provider
/// outage is retried after 30 s, 1 min, 2 min, 4 min… until the queue's redrive policy
/// (`maxReceiveCount`) moves the record to the dead-letter queue. Failing to defer is logged,
/// never fatal: the record is then retried at the queue's own pace.
#[derive(Debug, Clone)]
pub struct RetryBackoff {
    client: aws_sdk_sqs::Client,
    base: std::time::Duration,
    max: std::time::Duration,
}

impl RetryBackoff {
    /// Backoff from 30 s, doubling, at most 15 minutes.
    pub fn new(client: aws_sdk_sqs::Client) -> Self {
        Self {
            client,
            base: std::time::Duration::from_secs(30),
            max: std::time::Duration::from_secs(15 * 60),
        }
    }

    /// The wait before the next delivery of a record received `receive_count` times.
    pub fn delay(&self, receive_count: u32) -> std::time::Duration {
        let doublings = receive_count.saturating_sub(1).min(20);
        self.base.saturating_mul(1 << doublings).min(self.max)
    }

    async fn defer(&self, outcome: &Outcome) {
        let (Some(receipt), Some(url)) = (
            outcome.receipt_handle.as_deref(),
            outcome.source_arn.as_deref().and_then(queue_url_from_arn),
        ) else {
            return;
        };
        let delay = self.delay(outcome.receive_count);
        let seconds = i32::try_from(delay.as_secs()).unwrap_or(i32::MAX);
        let policy = default_policy();
        // Boxed: keeps the batch driver's future within the compiler's default query depth.
        let result = Box::pin(with_retries(&policy, || {
            self.client
                .change_message_visibility()
                .queue_url(&url)
                .receipt_handle(receipt)
                .visibility_timeout(seconds)
                .send()
        }))
        .await;
        if let Err(failure) = result {
            tracing::warn!(
                message_id = %outcome.message_id,
                error = %failure.describe(),
                "could not defer the retry of a failed record"
            );
        }
    }
}

/// The queue URL of an SQS queue ARN (`arn:aws:sqs:eu-west-1:123456789012:name` →
/// `https://sqs.eu-west-1.amazonaws.com/123456789012/name`).
pub fn queue_url_from_arn(arn: &str) -> Option<String> {
    let parts: Vec<&str> = arn.split(':').collect();
    match parts.as_slice() {
        ["arn", partition, "sqs", region, account, name]
            if !region.is_empty() && !account.is_empty() && !name.is_empty() =>
        {
            let domain = if partition.ends_with("-cn") {
                "amazonaws.com.cn"
            } else {
                "amazonaws.com"
            };
            Some(format!("https://sqs.{region}.{domain}/{account}/{name}"))
        }
        _ => None,
    }
}

fn meta_of(record: &SqsMessage) -> MessageMeta {
    MessageMeta {
        message_id: record.message_id.clone().unwrap_or_default(),
        receive_count: record
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|count| count.parse().ok())
            .unwrap_or(1),
        group_id: record.attributes.get("MessageGroupId").cloned(),
    }
}

fn body_prefix(body: &str) -> String {
    body.chars().take(LOGGED_BODY_CHARS).collect()
}

/// Handles one record; returns whether it failed.
async fn handle_record<F, Fut, E>(record: &SqsMessage, meta: MessageMeta, handler: &F) -> bool
where
    F: Fn(QueueMessage, MessageMeta) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: Display,
{
    let body = record.body.as_deref().unwrap_or_default();
    let message = match QueueMessage::from_json(body) {
        Ok(message) => message,
        Err(error) => {
            tracing::error!(
                message_id = %meta.message_id,
                receive_count = meta.receive_count,
                source = record.event_source_arn.as_deref().unwrap_or_default(),
                %error,
                body = %body_prefix(body),
                "unparseable queue message: reported as failed, it will reach the dead-letter \
                 queue after the queue's maxReceiveCount deliveries"
            );
            return true;
        }
    };
    let message_id = meta.message_id.clone();
    let receive_count = meta.receive_count;
    match handler(message, meta).await {
        Ok(()) => false,
        Err(error) => {
            tracing::warn!(
                message_id = %message_id,
                receive_count,
                %error,
                "message handler failed: reported as failed for redelivery"
            );
            true
        }
    }
}

/// Runs `handler` on every record of an SQS batch and reports exactly the records that failed
/// (unparseable bodies and handler errors) as batch item failures.
///
/// Records of one FIFO message group run one after another in their order; once one fails, the
/// later records of that group are reported as failed without running, so the group's order
/// survives the redelivery. Different groups, and the records of a standard queue, run
/// concurrently (at most [`MAX_CONCURRENT_GROUPS`] at a time).
///
/// A failed record without a message id cannot be reported alone: it is reported with an empty
/// id, which makes Lambda retry the whole batch (the only way not to lose it).
pub async fn process_sqs_batch<F, Fut, E>(event: SqsEvent, handler: &F) -> SqsBatchResponse
where
    F: Fn(QueueMessage, MessageMeta) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: Display,
{
    process_sqs_batch_with_backoff(event, handler, None).await
}

/// [`process_sqs_batch`], deferring each failed record's next delivery with `backoff`.
pub async fn process_sqs_batch_with_backoff<F, Fut, E>(
    event: SqsEvent,
    handler: &F,
    backoff: Option<&RetryBackoff>,
) -> SqsBatchResponse
where
    F: Fn(QueueMessage, MessageMeta) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: Display,
{
    // Group records: FIFO records by message group, every other record on its own.
    let mut groups: Vec<Vec<(usize, SqsMessage)>> = Vec::new();
    let mut group_index: HashMap<String, usize> = HashMap::new();
    for (index, record) in event.records.into_iter().enumerate() {
        match record.attributes.get("MessageGroupId").cloned() {
            Some(group) => match group_index.get(&group) {
                Some(&at) => {
                    if let Some(members) = groups.get_mut(at) {
                        members.push((index, record));
                    }
                }
                None => {
                    group_index.insert(group, groups.len());
                    groups.push(vec![(index, record)]);
                }
            },
            None => groups.push(vec![(index, record)]),
        }
    }

    let run_group = |members: Vec<(usize, SqsMessage)>| async move {
        let mut outcomes = Vec::with_capacity(members.len());
        let mut group_failed = false;
        for (index, record) in members {
            let meta = meta_of(&record);
            let message_id = meta.message_id.clone();
            let failed = if group_failed {
                tracing::warn!(
                    message_id = %message_id,
                    group_id = meta.group_id.as_deref().unwrap_or_default(),
                    "skipped: an earlier message of its FIFO group failed in this batch"
                );
                true
            } else {
                handle_record(&record, meta, handler).await
            };
            group_failed |= failed;
            outcomes.push(Outcome {
                index,
                message_id,
                failed,
                receive_count: meta_of(&record).receive_count,
                receipt_handle: record.receipt_handle.clone(),
                source_arn: record.event_source_arn.clone(),
            });
        }
        outcomes
    };

    let mut outcomes: Vec<Outcome> = futures::stream::iter(groups)
        .map(run_group)
        .buffer_unordered(MAX_CONCURRENT_GROUPS)
        .flat_map(futures::stream::iter)
        .collect()
        .await;
    outcomes.sort_by_key(|outcome| outcome.index);

    let mut response = SqsBatchResponse::default();
    if let Some(backoff) = backoff {
        for outcome in outcomes.iter().filter(|outcome| outcome.failed) {
            backoff.defer(outcome).await;
        }
    }
    for outcome in outcomes.into_iter().filter(|outcome| outcome.failed) {
        if outcome.message_id.is_empty() {
            tracing::error!("a failed record has no message id: the whole batch will be retried");
        }
        response.add_failure(outcome.message_id);
    }
    response
}

/// The Lambda service for an SQS-triggered function: hand it to `lambda_runtime::run`.
pub struct SqsBatchService<F> {
    handler: Arc<F>,
    backoff: Option<RetryBackoff>,
}

impl<F> Clone for SqsBatchService<F> {
    fn clone(&self) -> Self {
        Self {
            handler: Arc::clone(&self.handler),
            backoff: self.backoff.clone(),
        }
    }
}

klaxon_app::opaque_debug!(SqsBatchService<F>);

impl<F> SqsBatchService<F> {
    /// Wraps a per-message handler.
    pub fn new(handler: F) -> Self {
        Self {
            handler: Arc::new(handler),
            backoff: None,
        }
    }

    /// Defers failed records' retries with `backoff`.
    pub fn with_backoff(mut self, backoff: RetryBackoff) -> Self {
        self.backoff = Some(backoff);
        self
    }
}

impl<F, Fut, E> Service<LambdaEvent<SqsEvent>> for SqsBatchService<F>
where
    F: Fn(QueueMessage, MessageMeta) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send,
    E: Display,
{
    type Response = SqsBatchResponse;
    type Error = FunctionError;
    type Future = BoxFuture<'static, Result<SqsBatchResponse, FunctionError>>;

    fn poll_ready(&mut self, _: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, event: LambdaEvent<SqsEvent>) -> Self::Future {
        let handler = Arc::clone(&self.handler);
        let backoff = self.backoff.clone();
        Box::pin(async move {
            Ok(
                process_sqs_batch_with_backoff(event.payload, handler.as_ref(), backoff.as_ref())
                    .await,
            )
        })
    }
}

/// Runs an SQS-triggered function until the Lambda runtime stops it.
pub async fn run_sqs_function<F, Fut, E>(handler: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(QueueMessage, MessageMeta) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send,
    E: Display,
{
    lambda_runtime::run(SqsBatchService::new(handler)).await
}

/// [`run_sqs_function`], deferring failed records' retries with `backoff`.
pub async fn run_sqs_function_with_backoff<F, Fut, E>(
    handler: F,
    backoff: RetryBackoff,
) -> Result<(), lambda_runtime::Error>
where
    F: Fn(QueueMessage, MessageMeta) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send,
    E: Display,
{
    lambda_runtime::run(SqsBatchService::new(handler).with_backoff(backoff)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_backoff_doubles_from_30_seconds_up_to_15_minutes() {
        let config = aws_sdk_sqs::Config::builder()
            .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
            .build();
        let backoff = RetryBackoff::new(aws_sdk_sqs::Client::from_conf(config));
        let secs: Vec<u64> = [1, 2, 3, 4, 5, 6, 50]
            .iter()
            .map(|n| backoff.delay(*n).as_secs())
            .collect();
        assert_eq!(secs, [30, 60, 120, 240, 480, 900, 900]);
        assert_eq!(backoff.delay(0).as_secs(), 30);
    }

    #[test]
    fn queue_urls_come_from_arns() {
        assert_eq!(
            queue_url_from_arn("arn:aws:sqs:eu-west-1:123456789012:klaxon-Notifications")
                .as_deref(),
            Some("https://sqs.eu-west-1.amazonaws.com/123456789012/klaxon-Notifications")
        );
        assert_eq!(
            queue_url_from_arn("arn:aws-cn:sqs:cn-north-1:1:q").as_deref(),
            Some("https://sqs.cn-north-1.amazonaws.com.cn/1/q")
        );
        assert_eq!(queue_url_from_arn("arn:aws:sns:eu-west-1:1:topic"), None);
        assert_eq!(queue_url_from_arn("garbage"), None);
    }
    use std::io::Write;
    use std::sync::Mutex;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    #[test]
    fn rust_log_wins_over_the_lambda_level_which_wins_over_info() {
        let some = |s: &str| Some(s.to_owned());
        assert_eq!(
            log_directives(some("debug,hyper=warn"), some("ERROR")),
            "debug,hyper=warn"
        );
        assert_eq!(log_directives(some(" "), some("WARN")), "warn");
        assert_eq!(log_directives(None, None), "info");
    }

    #[test]
    fn logs_are_json_lines_filtered_by_level() {
        let buffer = Buffer::default();
        let subscriber = json_subscriber("info", buffer.clone()).finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!("hidden");
            tracing::warn!(message_id = "m-1", "handler failed");
        });
        let output = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = output
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines.len(), 1, "{output}");
        assert_eq!(lines[0]["level"], "WARN");
        assert_eq!(lines[0]["fields"]["message"], "handler failed");
        assert_eq!(lines[0]["fields"]["message_id"], "m-1");
    }

    #[test]
    fn function_errors_become_typed_diagnostics() {
        let config = FunctionError::Config(crate::env::EnvError::Missing {
            names: vec!["TABLE_NAME"],
            function: Some("api"),
        });
        let diagnostic = Diagnostic::from(config);
        assert_eq!(diagnostic.error_type, "Klaxon.ConfigurationError");
        assert_eq!(
            diagnostic.error_message,
            "missing environment variable TABLE_NAME (required by the api function)"
        );
        let failed = Diagnostic::from(FunctionError::Failed("store unavailable".into()));
        assert_eq!(failed.error_type, "Klaxon.FunctionError");
        assert_eq!(failed.error_message, "store unavailable");
    }
}
