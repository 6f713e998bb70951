//! The SQS batch driver for handlers that take a whole FIFO message group's records at once
//! (grouping links a group's alerts in a few transactions instead of one round per alert).

use super::{
    FunctionError, MAX_CONCURRENT_GROUPS, MessageMeta, Outcome, RetryBackoff, SqsBatchResponse,
    SqsEvent, body_prefix, meta_of,
};
use aws_lambda_events::event::sqs::SqsMessage;
use futures::StreamExt;
use futures::future::BoxFuture;
use klaxon_app::messages::QueueMessage;
use lambda_runtime::{LambdaEvent, Service};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

/// Runs `handler` once per FIFO message group of an SQS batch with the group's parsed records
/// in order (each record of a standard queue as a group of its own), and reports the records
/// the handler says failed (one flag per record it got, `true` = failed; a missing flag counts
/// as failed) as batch item failures. A record whose body does not parse fails, and so do the
/// later records of its group without reaching the handler, so the group's order survives the
/// redelivery. Failed records' next deliveries are deferred with `backoff` when given.
pub async fn process_sqs_group_batches<F, Fut>(
    event: SqsEvent,
    handler: &F,
    backoff: Option<&RetryBackoff>,
) -> SqsBatchResponse
where
    F: Fn(Vec<(QueueMessage, MessageMeta)>) -> Fut,
    Fut: Future<Output = Vec<bool>>,
{
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
        let mut parsed = Vec::with_capacity(members.len());
        for (_, record) in &members {
            let meta = meta_of(record);
            let body = record.body.as_deref().unwrap_or_default();
            match QueueMessage::from_json(body) {
                Ok(message) => parsed.push((message, meta)),
                Err(error) => {
                    tracing::error!(
                        message_id = %meta.message_id,
                        receive_count = meta.receive_count,
                        %error,
                        body = %body_prefix(body),
                        "unparseable queue message: reported as failed with the rest of its \
                         group; it will reach the dead-letter queue after maxReceiveCount"
                    );
                    break;
                }
            }
        }
        let handled = parsed.len();
        let flags = if parsed.is_empty() {
            Vec::new()
        } else {
            handler(parsed).await
        };
        members
            .into_iter()
            .enumerate()
            .map(|(position, (index, record))| {
                let meta = meta_of(&record);
                Outcome {
                    index,
                    message_id: meta.message_id,
                    failed: position >= handled || flags.get(position).copied().unwrap_or(true),
                    receive_count: meta.receive_count,
                    receipt_handle: record.receipt_handle.clone(),
                    source_arn: record.event_source_arn.clone(),
                }
            })
            .collect::<Vec<_>>()
    };
    let mut outcomes: Vec<Outcome> = futures::stream::iter(groups)
        .map(run_group)
        .buffer_unordered(MAX_CONCURRENT_GROUPS)
        .flat_map(futures::stream::iter)
        .collect()
        .await;
    outcomes.sort_by_key(|outcome| outcome.index);
    let mut response = SqsBatchResponse::default();
    for outcome in outcomes.into_iter().filter(|outcome| outcome.failed) {
        if let Some(backoff) = backoff {
            backoff.defer(&outcome).await;
        }
        if outcome.message_id.is_empty() {
            tracing::error!("a failed record has no message id: the whole batch will be retried");
        }
        response.add_failure(outcome.message_id);
    }
    response
}

/// The Lambda service for an SQS-triggered function whose handler takes a message group at
/// once ([`process_sqs_group_batches`]).
pub struct SqsGroupBatchService<F> {
    handler: Arc<F>,
    backoff: Option<RetryBackoff>,
}

impl<F> Clone for SqsGroupBatchService<F> {
    fn clone(&self) -> Self {
        Self {
            handler: Arc::clone(&self.handler),
            backoff: self.backoff.clone(),
        }
    }
}

klaxon_app::opaque_debug!(SqsGroupBatchService<F>);

impl<F> SqsGroupBatchService<F> {
    /// Wraps a per-group handler; failed records' retries are deferred with `backoff`.
    pub fn new(handler: F, backoff: Option<RetryBackoff>) -> Self {
        Self {
            handler: Arc::new(handler),
            backoff,
        }
    }
}

impl<F, Fut> Service<LambdaEvent<SqsEvent>> for SqsGroupBatchService<F>
where
    F: Fn(Vec<(QueueMessage, MessageMeta)>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Vec<bool>> + Send,
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
            Ok(process_sqs_group_batches(event.payload, handler.as_ref(), backoff.as_ref()).await)
        })
    }
}
