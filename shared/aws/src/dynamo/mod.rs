//! The DynamoDB adapter of the [`Store`](klaxon_store::Store) port.
//!
//! Conditions become condition expressions with placeholder names (`#n0`) and values (`:v0`)
//! only; no caller data is ever spliced into an expression. TTL is enforced on read because
//! DynamoDB deletes expired items late (up to days): reads filter `ttl > now`, conditions on
//! puts, deletes and checks treat an expired item as absent, and an update that meets an
//! expired item deletes it (conditionally, only while it is still expired) and starts over,
//! so an expired counter or idempotency record never leaks into its successor.
//!
//! Throttling (`ProvisionedThroughputExceeded`, `ThrottlingException`, `RequestLimitExceeded`,
//! `TransactionConflict`) is retried with exponential backoff and full jitter (on top of the
//! SDK's own retries); only exhausted retries surface, as [`StoreError::Throttled`] (transient).
//! That includes a transaction cancelled only because some of its items were throttled or in
//! conflict: nothing failed a condition, so it is not a [`StoreError::TransactionCancelled`].

mod convert;
mod create;
mod errors;
mod expression;
mod store;
#[cfg(test)]
mod tests;
mod transact;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use chrono::{DateTime, Utc};
use klaxon_store::{Clock, Item, Key, StoreError};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

pub(super) type SdkValue = aws_sdk_dynamodb::types::AttributeValue;
pub(super) type SdkItem = HashMap<String, SdkValue>;

pub use crate::retry::RetryPolicy;
use crate::retry::{DynamoCallError, retry_dynamo};
use convert::{from_sdk_item, to_sdk_item};
pub use create::create_table_from_definition;
use errors::call_error;
use expression::Expression;

/// How many times an update or transaction starts over after clearing expired items.
pub(super) const MAX_EXPIRY_RESTARTS: u32 = 3;

/// The store port on a DynamoDB table created from its
/// [`TableDefinition`](klaxon_store::TableDefinition).
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    clock: Arc<dyn Clock>,
    retry: RetryPolicy,
}

impl std::fmt::Debug for DynamoStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoStore")
            .field("table", &self.table)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl DynamoStore {
    /// A store on `table_name`, reading time (for TTL) from `clock`.
    pub fn new(client: Client, table_name: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        Self {
            client,
            table: table_name.into(),
            clock,
            retry: RetryPolicy::default(),
        }
    }

    /// Replaces the throttling retry policy.
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The table name.
    pub fn table_name(&self) -> &str {
        &self.table
    }

    /// The SDK client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Runs `call` with [`retry_dynamo`]'s throttling retries under this store's policy.
    pub(super) fn call<T, E, F, Fut>(
        &self,
        call: F,
    ) -> impl Future<Output = Result<T, DynamoCallError<E>>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: ProvideErrorMetadata,
    {
        retry_dynamo(&self.retry, call)
    }

    /// Deletes the item at `key` if it is still expired at `now` (a lost race is fine: the
    /// caller starts over and sees whatever is there now).
    pub(super) async fn purge_expired(
        &self,
        key: &Key,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut expr = Expression::default();
        let condition = expr.expired(now);
        let result = self
            .call(|| {
                self.client
                    .delete_item()
                    .table_name(&self.table)
                    .set_key(Some(to_sdk_item(key.to_item())))
                    .condition_expression(&condition)
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values())
                    .send()
            })
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(DynamoCallError::Failed(error))
                if matches!(
                    error.as_service_error(),
                    Some(DeleteItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(())
            }
            Err(error) => Err(call_error("purge", key, error)),
        }
    }

    /// The current raw item (expired or not), for explaining a failed condition when the
    /// service did not return it.
    pub(super) async fn raw_item(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let output = self
            .call(|| {
                self.client
                    .get_item()
                    .table_name(&self.table)
                    .set_key(Some(to_sdk_item(key.to_item())))
                    .consistent_read(true)
                    .send()
            })
            .await
            .map_err(|e| call_error("get", key, e))?;
        output.item.map(|item| from_sdk_item(item, key)).transpose()
    }
}
