//! The DynamoDB adapter of the [`Store`] port.
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

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, ConditionCheck, Delete, GlobalSecondaryIndex,
    KeySchemaElement, KeyType, PointInTimeRecoverySpecification, Projection, ProjectionType, Put,
    ReturnValue, ReturnValuesOnConditionCheckFailure, ScalarAttributeType, TableStatus,
    TimeToLiveSpecification, TransactWriteItem, Update,
};
use chrono::{DateTime, Utc};
use klaxon_store::item::{
    MAX_ITEM_BYTES, check_item_size, is_expired, validate_item, validate_key,
};
use klaxon_store::table::{self, TableDefinition};
use klaxon_store::transact::validate_transaction;
use klaxon_store::update::{add_target_is_wrong_type, validate_actions};
use klaxon_store::{
    AttributeValue, CancelReason, Clock, Condition, Cursor, Item, Key, Order, Page, Query,
    ReturnValues, SortCondition, Store, StoreError, TransactOp, UpdateAction, attr,
};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

type SdkValue = aws_sdk_dynamodb::types::AttributeValue;
type SdkItem = HashMap<String, SdkValue>;

/// How many times an update or transaction starts over after clearing expired items.
const MAX_EXPIRY_RESTARTS: u32 = 3;

/// Error codes DynamoDB uses for throttling and transient write conflicts.
const RETRYABLE_CODES: [&str; 4] = [
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

    async fn wait(&self, retry: u32) {
        let unit: f64 = rand::random();
        tokio::time::sleep(self.delay(retry, unit)).await;
    }
}

/// The store port on a DynamoDB table created from [`TableDefinition`].
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

/// Outcome of a call retried on throttling.
enum CallError<E> {
    /// Still throttled after every attempt.
    Throttled { attempts: u32 },
    /// Failed otherwise.
    Failed(E),
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

    async fn call<T, E, F, Fut>(&self, mut call: F) -> Result<T, CallError<E>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: ProvideErrorMetadata,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match call().await {
                Ok(value) => return Ok(value),
                Err(error) if is_retryable(error.code()) => {
                    if attempt >= self.retry.max_attempts {
                        return Err(CallError::Throttled { attempts: attempt });
                    }
                    self.retry.wait(attempt - 1).await;
                }
                Err(error) => return Err(CallError::Failed(error)),
            }
        }
    }

    /// Deletes the item at `key` if it is still expired at `now` (a lost race is fine: the
    /// caller starts over and sees whatever is there now).
    async fn purge_expired(&self, key: &Key, now: DateTime<Utc>) -> Result<(), StoreError> {
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
            Err(CallError::Failed(error))
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
    async fn raw_item(&self, key: &Key) -> Result<Option<Item>, StoreError> {
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

impl Store for DynamoStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        validate_key(key)?;
        let now = self.clock.now();
        let item = self.raw_item(key).await?;
        Ok(item.filter(|item| !is_expired(item, now)))
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), StoreError> {
        let key = validate_item(&item)?;
        if let Some(condition) = &condition {
            condition.validate("condition")?;
        }
        let now = self.clock.now();
        let mut expr = Expression::default();
        let expression = expr.guard(condition.as_ref(), now);
        let sdk_item = to_sdk_item(item);
        let result = self
            .call(|| {
                self.client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(sdk_item.clone()))
                    .set_condition_expression(expression.clone())
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values())
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .send()
            })
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(CallError::Failed(error)) => match error.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(failure)) => {
                    let existing = live(failure.item().cloned(), &key, now)?;
                    Err(condition_failed(&key, existing))
                }
                _ => Err(call_error("put", &key, CallError::Failed(error))),
            },
            Err(error) => Err(call_error("put", &key, error)),
        }
    }

    async fn update(
        &self,
        key: &Key,
        actions: Vec<UpdateAction>,
        condition: Option<Condition>,
        return_values: ReturnValues,
    ) -> Result<Option<Item>, StoreError> {
        validate_key(key)?;
        validate_actions("update", &actions)?;
        if let Some(condition) = &condition {
            condition.validate("condition")?;
        }
        check_update_size(key, &actions)?;
        let return_value = match return_values {
            ReturnValues::None => ReturnValue::None,
            ReturnValues::AllOld => ReturnValue::AllOld,
            ReturnValues::AllNew => ReturnValue::AllNew,
        };
        let mut restarts = 0;
        loop {
            let now = self.clock.now();
            let mut expr = Expression::default();
            let update_expression = expr.update(&actions);
            let condition_expression = expr.strict_guard(condition.as_ref(), &actions, now);
            let result = self
                .call(|| {
                    self.client
                        .update_item()
                        .table_name(&self.table)
                        .set_key(Some(to_sdk_item(key.to_item())))
                        .update_expression(&update_expression)
                        .condition_expression(&condition_expression)
                        .set_expression_attribute_names(expr.names())
                        .set_expression_attribute_values(expr.values())
                        .return_values(return_value.clone())
                        .return_values_on_condition_check_failure(
                            ReturnValuesOnConditionCheckFailure::AllOld,
                        )
                        .send()
                })
                .await;
            let error = match result {
                Ok(output) => {
                    return match return_values {
                        ReturnValues::None => Ok(None),
                        _ => output
                            .attributes
                            .filter(|attributes| !attributes.is_empty())
                            .map(|attributes| from_sdk_item(attributes, key))
                            .transpose(),
                    };
                }
                Err(CallError::Failed(error)) => error,
                Err(error) => return Err(call_error("update", key, error)),
            };
            let Some(UpdateItemError::ConditionalCheckFailedException(failure)) =
                error.as_service_error()
            else {
                return Err(call_error("update", key, CallError::Failed(error)));
            };
            let old = match failure.item() {
                Some(item) => Some(from_sdk_item(item.clone(), key)?),
                None => self.raw_item(key).await?,
            };
            match explain_update_failure(key, old, condition.as_ref(), &actions, now) {
                UpdateFailure::Expired if restarts < MAX_EXPIRY_RESTARTS => {
                    restarts += 1;
                    self.purge_expired(key, now).await?;
                }
                UpdateFailure::Expired => return Err(condition_failed(key, None)),
                UpdateFailure::Error(error) => return Err(error),
            }
        }
    }

    async fn delete(
        &self,
        key: &Key,
        condition: Option<Condition>,
    ) -> Result<Option<Item>, StoreError> {
        validate_key(key)?;
        if let Some(condition) = &condition {
            condition.validate("condition")?;
        }
        let now = self.clock.now();
        let mut expr = Expression::default();
        let expression = expr.guard(condition.as_ref(), now);
        let result = self
            .call(|| {
                self.client
                    .delete_item()
                    .table_name(&self.table)
                    .set_key(Some(to_sdk_item(key.to_item())))
                    .set_condition_expression(expression.clone())
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values())
                    .return_values(ReturnValue::AllOld)
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .send()
            })
            .await;
        match result {
            Ok(output) => live(output.attributes, key, now),
            Err(CallError::Failed(error)) => match error.as_service_error() {
                Some(DeleteItemError::ConditionalCheckFailedException(failure)) => {
                    let existing = live(failure.item().cloned(), key, now)?;
                    Err(condition_failed(key, existing))
                }
                _ => Err(call_error("delete", key, CallError::Failed(error))),
            },
            Err(error) => Err(call_error("delete", key, error)),
        }
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        let position = query.validate()?;
        let now = self.clock.now();
        let index = query.index;
        let mut expr = Expression::default();
        let key_condition = expr.key_condition(query);
        let filter = expr.live(now);
        let limit = query.limit.and_then(|l| usize::try_from(l).ok());
        let mut start = position.map(to_sdk_item);
        let mut items = Vec::new();
        let query_key = Key::new(query.partition.clone(), "");
        loop {
            let remaining = limit
                .map(|l| i32::try_from(l.saturating_sub(items.len()).max(1)).unwrap_or(i32::MAX));
            let output = self
                .call(|| {
                    self.client
                        .query()
                        .table_name(&self.table)
                        .set_index_name(index.name().map(str::to_owned))
                        .key_condition_expression(&key_condition)
                        .filter_expression(&filter)
                        .set_expression_attribute_names(expr.names())
                        .set_expression_attribute_values(expr.values())
                        .scan_index_forward(query.order == Order::Ascending)
                        // Secondary indexes only support eventually consistent reads.
                        .consistent_read(index == klaxon_store::Index::Table)
                        .set_limit(remaining)
                        .set_exclusive_start_key(start.clone())
                        .send()
                })
                .await
                .map_err(|e| call_error("query", &query_key, e))?;
            for raw in output.items.unwrap_or_default() {
                let item = from_sdk_item(raw, &query_key)?;
                if !is_expired(&item, now) {
                    items.push(item);
                }
            }
            match output.last_evaluated_key.filter(|k| !k.is_empty()) {
                None => return Ok(Page { items, next: None }),
                Some(last) if limit.is_some_and(|l| items.len() >= l) => {
                    let position = from_sdk_item(last, &query_key)?;
                    return Ok(Page {
                        items,
                        next: Some(Cursor::from_position(index, position)),
                    });
                }
                Some(last) => start = Some(last),
            }
        }
    }

    async fn transact(&self, ops: Vec<TransactOp>) -> Result<(), StoreError> {
        let keys = validate_transaction(&ops)?;
        for op in &ops {
            if let TransactOp::Update { key, actions, .. } = op {
                check_update_size(key, actions)?;
            }
        }
        let mut restarts = 0;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let now = self.clock.now();
            let items = ops
                .iter()
                .map(|op| self.transact_item(op, now))
                .collect::<Result<Vec<_>, _>>()?;
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await;
            let error = match result {
                Ok(_) => return Ok(()),
                Err(error) => error,
            };
            let outcome = match error.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                    explain_cancellation(&ops, &keys, cancelled.cancellation_reasons(), now)?
                }
                _ if is_retryable(error.code()) => Cancellation::Retry,
                _ => {
                    let first_key = keys.first().cloned().unwrap_or_else(|| Key::new("", ""));
                    return Err(sdk_error("transact", &first_key, &error));
                }
            };
            match outcome {
                Cancellation::Expired(expired) if restarts < MAX_EXPIRY_RESTARTS => {
                    restarts += 1;
                    for key in expired {
                        self.purge_expired(&key, now).await?;
                    }
                }
                Cancellation::Expired(_) => {
                    return Err(StoreError::TransactionCancelled {
                        reasons: vec![CancelReason::Other("ExpiredItemChurn".into()); ops.len()],
                    });
                }
                Cancellation::Retry => {
                    if attempt >= self.retry.max_attempts {
                        // Nothing failed a condition: this is the store being busy, which a
                        // caller retries later (a 503, a message left on its queue).
                        return Err(StoreError::Throttled {
                            operation: "transact",
                            attempts: attempt,
                        });
                    }
                    self.retry.wait(attempt - 1).await;
                }
                Cancellation::Final(error) => return Err(error),
            }
        }
    }
}

impl DynamoStore {
    fn transact_item(
        &self,
        op: &TransactOp,
        now: DateTime<Utc>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut expr = Expression::default();
        let built = match op {
            TransactOp::Put { item, condition } => {
                let expression = expr.guard(condition.as_ref(), now);
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(to_sdk_item(item.clone())))
                    .set_condition_expression(expression)
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values())
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .build();
                put.map(|put| TransactWriteItem::builder().put(put).build())
            }
            TransactOp::Update {
                key,
                actions,
                condition,
            } => {
                let update_expression = expr.update(actions);
                let condition_expression = expr.strict_guard(condition.as_ref(), actions, now);
                let update = Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(to_sdk_item(key.to_item())))
                    .update_expression(update_expression)
                    .condition_expression(condition_expression)
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values())
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .build();
                update.map(|update| TransactWriteItem::builder().update(update).build())
            }
            TransactOp::Delete { key, condition } => {
                let expression = expr.guard(condition.as_ref(), now);
                let delete = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(to_sdk_item(key.to_item())))
                    .set_condition_expression(expression)
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values())
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .build();
                delete.map(|delete| TransactWriteItem::builder().delete(delete).build())
            }
            TransactOp::ConditionCheck { key, condition } => {
                let expression = expr.guard(Some(condition), now).unwrap_or_default();
                let check = ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(to_sdk_item(key.to_item())))
                    .condition_expression(expression)
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values())
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .build();
                check.map(|check| TransactWriteItem::builder().condition_check(check).build())
            }
        };
        built.map_err(|error| StoreError::Backend {
            operation: "transact",
            message: error.to_string(),
        })
    }
}

/// What a cancelled transaction means.
#[derive(Debug)]
enum Cancellation {
    /// Some updates met expired items: delete them and start over.
    Expired(Vec<Key>),
    /// Only throttling or conflicts: retry ([`StoreError::Throttled`] once retries run out).
    Retry,
    /// Definitive.
    Final(StoreError),
}

fn explain_cancellation(
    ops: &[TransactOp],
    keys: &[Key],
    reasons: &[aws_sdk_dynamodb::types::CancellationReason],
    now: DateTime<Utc>,
) -> Result<Cancellation, StoreError> {
    let mut mapped = Vec::with_capacity(ops.len());
    let mut expired = Vec::new();
    let mut condition_failed = false;
    let mut retryable = false;
    let mut corrupt = None;
    for (position, (op, key)) in ops.iter().zip(keys).enumerate() {
        let reason = reasons.get(position);
        let code = reason.and_then(|r| r.code()).unwrap_or("None");
        let mapped_reason = match code {
            "None" => CancelReason::None,
            "ConditionalCheckFailed" => {
                let old = reason
                    .and_then(|r| r.item())
                    .map(|item| from_sdk_item(item.clone(), key))
                    .transpose()?;
                match op {
                    TransactOp::Update {
                        actions, condition, ..
                    } => match explain_update_failure(key, old, condition.as_ref(), actions, now) {
                        UpdateFailure::Expired => {
                            expired.push(key.clone());
                            CancelReason::None
                        }
                        UpdateFailure::Error(StoreError::ConditionFailed { existing, .. }) => {
                            condition_failed = true;
                            CancelReason::ConditionFailed { existing }
                        }
                        UpdateFailure::Error(error) => {
                            corrupt.get_or_insert(error);
                            CancelReason::None
                        }
                    },
                    _ => {
                        condition_failed = true;
                        CancelReason::ConditionFailed {
                            existing: old.filter(|item| !is_expired(item, now)).map(Box::new),
                        }
                    }
                }
            }
            "ThrottlingError" | "ProvisionedThroughputExceeded" => {
                retryable = true;
                CancelReason::Throttled
            }
            CancelReason::TRANSACTION_CONFLICT => {
                retryable = true;
                CancelReason::Other(code.to_owned())
            }
            "ValidationError"
                if reason
                    .and_then(|r| r.message())
                    .is_some_and(is_size_message) =>
            {
                return Ok(Cancellation::Final(StoreError::ItemTooLarge {
                    key: key.clone(),
                    size: None,
                    limit: MAX_ITEM_BYTES,
                }));
            }
            other => CancelReason::Other(other.to_owned()),
        };
        mapped.push(mapped_reason);
    }
    if condition_failed {
        return Ok(Cancellation::Final(StoreError::TransactionCancelled {
            reasons: mapped,
        }));
    }
    if !expired.is_empty() {
        return Ok(Cancellation::Expired(expired));
    }
    if let Some(error) = corrupt {
        return Ok(Cancellation::Final(error));
    }
    let only_transient = mapped
        .iter()
        .all(|r| *r == CancelReason::None || r.is_transient());
    if retryable && only_transient {
        return Ok(Cancellation::Retry);
    }
    Ok(Cancellation::Final(StoreError::TransactionCancelled {
        reasons: mapped,
    }))
}

enum UpdateFailure {
    /// The item had expired: clear it and start over.
    Expired,
    /// Report this.
    Error(StoreError),
}

/// Why an update's condition expression (liveness, caller's condition, counter types) failed,
/// given the item as it was.
fn explain_update_failure(
    key: &Key,
    old: Option<Item>,
    condition: Option<&Condition>,
    actions: &[UpdateAction],
    now: DateTime<Utc>,
) -> UpdateFailure {
    let old = match old {
        Some(item) if is_expired(&item, now) => return UpdateFailure::Expired,
        other => other,
    };
    if condition.is_some_and(|c| !c.evaluate(old.as_ref())) {
        return UpdateFailure::Error(condition_failed(key, old));
    }
    for action in actions {
        if let UpdateAction::Add { attribute, .. } = action {
            let current = old.as_ref().and_then(|item| item.get(attribute));
            if add_target_is_wrong_type(current) {
                return UpdateFailure::Error(StoreError::corrupt(
                    key,
                    attribute.as_str(),
                    "cannot add to a value that is not a number",
                ));
            }
        }
    }
    // The item changed between the check and the returned image; report what we saw.
    UpdateFailure::Error(condition_failed(key, old))
}

fn condition_failed(key: &Key, existing: Option<Item>) -> StoreError {
    StoreError::ConditionFailed {
        key: key.clone(),
        existing: existing.map(Box::new),
    }
}

/// Converts a returned item, dropping it when it has expired.
fn live(item: Option<SdkItem>, key: &Key, now: DateTime<Utc>) -> Result<Option<Item>, StoreError> {
    Ok(item
        .filter(|item| !item.is_empty())
        .map(|item| from_sdk_item(item, key))
        .transpose()?
        .filter(|item| !is_expired(item, now)))
}

/// Rejects an update whose own values already exceed the item limit (DynamoDB would reject
/// the merged item; the exact merged size is only known to the service).
fn check_update_size(key: &Key, actions: &[UpdateAction]) -> Result<(), StoreError> {
    let mut image = key.to_item();
    for action in actions {
        if let UpdateAction::Set { attribute, value }
        | UpdateAction::SetIfAbsent { attribute, value } = action
        {
            image.insert(attribute.clone(), value.clone());
        }
    }
    check_item_size(key, &image)
}

fn is_retryable(code: Option<&str>) -> bool {
    code.is_some_and(|code| RETRYABLE_CODES.contains(&code))
}

fn is_size_message(message: &str) -> bool {
    message.contains("Item size")
}

fn call_error<E, R>(
    operation: &'static str,
    key: &Key,
    error: CallError<SdkError<E, R>>,
) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match error {
        CallError::Throttled { attempts } => StoreError::Throttled {
            operation,
            attempts,
        },
        CallError::Failed(error) => sdk_error(operation, key, &error),
    }
}

fn sdk_error<E, R>(operation: &'static str, key: &Key, error: &SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    if error.code() == Some("ValidationException") && error.message().is_some_and(is_size_message) {
        return StoreError::ItemTooLarge {
            key: key.clone(),
            size: None,
            limit: MAX_ITEM_BYTES,
        };
    }
    StoreError::Backend {
        operation,
        message: DisplayErrorContext(error).to_string(),
    }
}

/// Converts a port item to the SDK's representation.
fn to_sdk_item(item: Item) -> SdkItem {
    item.into_inner()
        .into_iter()
        .map(|(name, value)| (name, SdkValue::from(value)))
        .collect()
}

/// Converts an SDK item to the port's representation; a value of a type this SDK does not
/// know is reported as corrupt instead of panicking.
fn from_sdk_item(item: SdkItem, fallback_key: &Key) -> Result<Item, StoreError> {
    let key = match (item.get(attr::PK), item.get(attr::SK)) {
        (Some(SdkValue::S(pk)), Some(SdkValue::S(sk))) => Key::new(pk.clone(), sk.clone()),
        _ => fallback_key.clone(),
    };
    let mut converted = Item::default();
    for (name, value) in item {
        let value = from_sdk_value(value)
            .ok_or_else(|| StoreError::corrupt(&key, name.as_str(), "unknown attribute type"))?;
        converted.insert(name, value);
    }
    Ok(converted)
}

fn from_sdk_value(value: SdkValue) -> Option<AttributeValue> {
    Some(match value {
        SdkValue::S(s) => AttributeValue::S(s),
        SdkValue::N(n) => AttributeValue::N(n),
        SdkValue::B(b) => AttributeValue::B(b.into_inner()),
        SdkValue::Bool(b) => AttributeValue::Bool(b),
        SdkValue::Null(n) => AttributeValue::Null(n),
        SdkValue::Ss(set) => AttributeValue::Ss(set),
        SdkValue::Ns(set) => AttributeValue::Ns(set),
        SdkValue::Bs(set) => AttributeValue::Bs(set.into_iter().map(|b| b.into_inner()).collect()),
        SdkValue::L(list) => AttributeValue::L(
            list.into_iter()
                .map(from_sdk_value)
                .collect::<Option<Vec<_>>>()?,
        ),
        SdkValue::M(map) => AttributeValue::M(
            map.into_iter()
                .map(|(name, value)| from_sdk_value(value).map(|value| (name, value)))
                .collect::<Option<HashMap<_, _>>>()?,
        ),
        _ => return None,
    })
}

/// Builds expressions with placeholders: every attribute name becomes `#nK`, every value
/// `:vK`, so no caller data ever becomes expression syntax.
#[derive(Default)]
struct Expression {
    names: HashMap<String, String>,
    placeholders: HashMap<String, String>,
    values: HashMap<String, SdkValue>,
}

impl Expression {
    fn name(&mut self, attribute: &str) -> String {
        if let Some(placeholder) = self.placeholders.get(attribute) {
            return placeholder.clone();
        }
        let placeholder = format!("#n{}", self.placeholders.len());
        self.placeholders
            .insert(attribute.to_owned(), placeholder.clone());
        self.names.insert(placeholder.clone(), attribute.to_owned());
        placeholder
    }

    fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values
            .insert(placeholder.clone(), SdkValue::from(value));
        placeholder
    }

    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    fn values(&self) -> Option<HashMap<String, SdkValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }

    /// The item has no `ttl` or it is after `now`.
    fn live(&mut self, now: DateTime<Utc>) -> String {
        let ttl = self.name(attr::TTL);
        let now = self.value(AttributeValue::N(now.timestamp().to_string()));
        format!("(attribute_not_exists({ttl}) OR {ttl} > {now})")
    }

    /// The item has a `ttl` at or before `now`.
    fn expired(&mut self, now: DateTime<Utc>) -> String {
        let ttl = self.name(attr::TTL);
        let now = self.value(AttributeValue::N(now.timestamp().to_string()));
        format!("{ttl} <= {now}")
    }

    /// The condition for a put, delete or check: `condition` seen through TTL (an expired
    /// item counts as absent).
    fn guard(&mut self, condition: Option<&Condition>, now: DateTime<Utc>) -> Option<String> {
        let condition = condition?;
        let rendered = self.condition(condition);
        let live = self.live(now);
        if condition.evaluate(None) {
            let expired = self.expired(now);
            Some(format!("(({live} AND {rendered}) OR {expired})"))
        } else {
            Some(format!("({live} AND {rendered})"))
        }
    }

    /// The condition for an update: the item is live, `condition` holds, and every counter
    /// to add to is absent or a number. An expired item fails it, so the caller can clear
    /// the item instead of merging into it.
    fn strict_guard(
        &mut self,
        condition: Option<&Condition>,
        actions: &[UpdateAction],
        now: DateTime<Utc>,
    ) -> String {
        let mut parts = vec![self.live(now)];
        if let Some(condition) = condition {
            parts.push(self.condition(condition));
        }
        for action in actions {
            if let UpdateAction::Add { attribute, .. } = action {
                let name = self.name(attribute);
                let number = self.value(AttributeValue::S("N".to_owned()));
                parts.push(format!(
                    "(attribute_not_exists({name}) OR attribute_type({name}, {number}))"
                ));
            }
        }
        parts.join(" AND ")
    }

    fn condition(&mut self, condition: &Condition) -> String {
        match condition {
            Condition::NotExists => format!("attribute_not_exists({})", self.name(attr::PK)),
            Condition::Exists => format!("attribute_exists({})", self.name(attr::PK)),
            Condition::VersionEquals(version) => {
                let name = self.name(attr::VERSION);
                let value = self.value(AttributeValue::N(version.to_string()));
                format!("{name} = {value}")
            }
            Condition::Equals { attribute, value } => {
                let name = self.name(attribute);
                let value = self.value(value.clone());
                format!("{name} = {value}")
            }
            Condition::NotEquals { attribute, value } => {
                let name = self.name(attribute);
                let value = self.value(value.clone());
                format!("(attribute_not_exists({name}) OR {name} <> {value})")
            }
            Condition::Absent { attribute } => {
                format!("attribute_not_exists({})", self.name(attribute))
            }
            Condition::Present { attribute } => {
                format!("attribute_exists({})", self.name(attribute))
            }
            Condition::LessThan { attribute, value } => {
                let name = self.name(attribute);
                let value = self.value(AttributeValue::N(value.to_string()));
                format!("{name} < {value}")
            }
            Condition::GreaterThan { attribute, value } => {
                let name = self.name(attribute);
                let value = self.value(AttributeValue::N(value.to_string()));
                format!("{name} > {value}")
            }
            Condition::And(all) => self.group(all, " AND "),
            Condition::Or(any) => self.group(any, " OR "),
        }
    }

    fn group(&mut self, conditions: &[Condition], operator: &str) -> String {
        let parts: Vec<String> = conditions.iter().map(|c| self.condition(c)).collect();
        format!("({})", parts.join(operator))
    }

    /// `SET … REMOVE … ADD …` for the actions.
    fn update(&mut self, actions: &[UpdateAction]) -> String {
        let mut set = Vec::new();
        let mut remove = Vec::new();
        let mut add = Vec::new();
        for action in actions {
            match action {
                UpdateAction::Set { attribute, value } => {
                    let name = self.name(attribute);
                    let value = self.value(value.clone());
                    set.push(format!("{name} = {value}"));
                }
                UpdateAction::SetIfAbsent { attribute, value } => {
                    let name = self.name(attribute);
                    let value = self.value(value.clone());
                    set.push(format!("{name} = if_not_exists({name}, {value})"));
                }
                UpdateAction::Remove { attribute } => remove.push(self.name(attribute)),
                UpdateAction::Add { attribute, delta } => {
                    let name = self.name(attribute);
                    let value = self.value(AttributeValue::N(delta.to_string()));
                    add.push(format!("{name} {value}"));
                }
            }
        }
        let mut clauses = Vec::new();
        if !set.is_empty() {
            clauses.push(format!("SET {}", set.join(", ")));
        }
        if !remove.is_empty() {
            clauses.push(format!("REMOVE {}", remove.join(", ")));
        }
        if !add.is_empty() {
            clauses.push(format!("ADD {}", add.join(", ")));
        }
        clauses.join(" ")
    }

    /// The key condition of a query.
    fn key_condition(&mut self, query: &Query) -> String {
        let partition = self.name(query.index.partition_attribute());
        let partition_value = self.value(AttributeValue::S(query.partition.clone()));
        let sort = query.index.sort_attribute();
        let mut value = |v: &String| self.value(AttributeValue::S(v.clone()));
        let sort_clause = match &query.sort {
            SortCondition::All => None,
            SortCondition::Equals(v) => Some(("=", value(v))),
            SortCondition::GreaterOrEqual(v) => Some((">=", value(v))),
            SortCondition::LessOrEqual(v) => Some(("<=", value(v))),
            SortCondition::GreaterThan(v) => Some((">", value(v))),
            SortCondition::LessThan(v) => Some(("<", value(v))),
            SortCondition::BeginsWith(v) => Some(("begins_with", value(v))),
            SortCondition::Between { low, high } => {
                let low = value(low);
                let high = value(high);
                Some(("BETWEEN", format!("{low} AND {high}")))
            }
        };
        let base = format!("{partition} = {partition_value}");
        match sort_clause {
            None => base,
            Some((operator, operand)) => {
                let sort = self.name(sort);
                match operator {
                    "begins_with" => format!("{base} AND begins_with({sort}, {operand})"),
                    "BETWEEN" => format!("{base} AND {sort} BETWEEN {operand}"),
                    _ => format!("{base} AND {sort} {operator} {operand}"),
                }
            }
        }
    }
}

/// Creates `table_name` from the table definition (keys, indexes, billing), waits until it is
/// active, then enables TTL and point-in-time recovery as the definition says.
pub async fn create_table_from_definition(
    client: &Client,
    table_name: &str,
    definition: &TableDefinition,
) -> Result<(), StoreError> {
    let build = |error: aws_sdk_dynamodb::error::BuildError| StoreError::Backend {
        operation: "create table",
        message: error.to_string(),
    };
    let key_schema = |schema: &[table::KeySchemaElement]| {
        schema
            .iter()
            .map(|element| {
                KeySchemaElement::builder()
                    .attribute_name(&element.attribute_name)
                    .key_type(match element.key_type {
                        table::KeyType::Hash => KeyType::Hash,
                        table::KeyType::Range => KeyType::Range,
                    })
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()
    };
    let attributes = definition
        .attribute_definitions
        .iter()
        .map(|attribute| {
            AttributeDefinition::builder()
                .attribute_name(&attribute.attribute_name)
                .attribute_type(ScalarAttributeType::from(attribute.attribute_type.as_str()))
                .build()
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(build)?;
    let indexes = definition
        .global_secondary_indexes
        .iter()
        .map(|index| {
            GlobalSecondaryIndex::builder()
                .index_name(&index.index_name)
                .set_key_schema(Some(key_schema(&index.key_schema)?))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(
                            index.projection.projection_type.as_str(),
                        ))
                        .build(),
                )
                .build()
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(build)?;
    let table_key = Key::new(table_name, "table");
    client
        .create_table()
        .table_name(table_name)
        .billing_mode(BillingMode::from(definition.billing_mode.as_str()))
        .set_attribute_definitions(Some(attributes))
        .set_key_schema(Some(key_schema(&definition.key_schema).map_err(build)?))
        .set_global_secondary_indexes(Some(indexes))
        .send()
        .await
        .map_err(|e| sdk_error("create table", &table_key, &e))?;
    let mut active = false;
    for _ in 0..120 {
        let description = client
            .describe_table()
            .table_name(table_name)
            .send()
            .await
            .map_err(|e| sdk_error("describe table", &table_key, &e))?;
        if description.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            active = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    if !active {
        return Err(StoreError::Backend {
            operation: "create table",
            message: format!("table {table_name} did not become active within 60 s"),
        });
    }
    let ttl = &definition.time_to_live_specification;
    client
        .update_time_to_live()
        .table_name(table_name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(&ttl.attribute_name)
                .enabled(ttl.enabled)
                .build()
                .map_err(build)?,
        )
        .send()
        .await
        .map_err(|e| sdk_error("enable TTL", &table_key, &e))?;
    let recovery = &definition.point_in_time_recovery_specification;
    client
        .update_continuous_backups()
        .table_name(table_name)
        .point_in_time_recovery_specification(
            PointInTimeRecoverySpecification::builder()
                .point_in_time_recovery_enabled(recovery.point_in_time_recovery_enabled)
                .build()
                .map_err(build)?,
        )
        .send()
        .await
        .map_err(|e| sdk_error("enable point-in-time recovery", &table_key, &e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use klaxon_store::key::{n, s};

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
        for code in RETRYABLE_CODES {
            assert!(is_retryable(Some(code)));
        }
        assert!(!is_retryable(Some("ConditionalCheckFailedException")));
        assert!(!is_retryable(Some("ValidationException")));
        assert!(!is_retryable(None));
    }

    #[test]
    fn expressions_use_placeholders_for_every_name_and_value() {
        let mut expr = Expression::default();
        let hostile = "status) OR attribute_exists(pk";
        let rendered = expr.condition(
            &Condition::equals(hostile, s("x\" OR 1=1"))
                .and(Condition::not_equals("state", s("resolved")))
                .or(Condition::VersionEquals(4)),
        );
        assert_eq!(
            rendered,
            "((#n0 = :v0 AND (attribute_not_exists(#n1) OR #n1 <> :v1)) OR #n2 = :v2)"
        );
        let names = expr.names().unwrap();
        assert_eq!(names.get("#n0").map(String::as_str), Some(hostile));
        assert_eq!(names.get("#n2").map(String::as_str), Some("version"));
        assert_eq!(
            expr.values().unwrap().get(":v2"),
            Some(&SdkValue::N("4".into()))
        );
    }

    #[test]
    fn conditions_that_hold_for_a_missing_item_also_accept_an_expired_one() {
        let now = DateTime::from_timestamp(1_000, 0).unwrap();
        let mut expr = Expression::default();
        assert_eq!(
            expr.guard(Some(&Condition::NotExists), now).unwrap(),
            "(((attribute_not_exists(#n1) OR #n1 > :v0) AND attribute_not_exists(#n0)) OR #n1 <= :v1)"
        );
        let mut expr = Expression::default();
        assert_eq!(
            expr.guard(Some(&Condition::Exists), now).unwrap(),
            "((attribute_not_exists(#n1) OR #n1 > :v0) AND attribute_exists(#n0))"
        );
        assert_eq!(Expression::default().guard(None, now), None);
    }

    #[test]
    fn update_expressions_group_actions_and_guard_counters() {
        let now = DateTime::from_timestamp(1_000, 0).unwrap();
        let actions = [
            UpdateAction::add("count", 1),
            UpdateAction::set("last_seen", n(5)),
            UpdateAction::set_if_absent("first_seen", n(5)),
            UpdateAction::remove("gsi1pk"),
        ];
        let mut expr = Expression::default();
        assert_eq!(
            expr.update(&actions),
            "SET #n1 = :v1, #n2 = if_not_exists(#n2, :v2) REMOVE #n3 ADD #n0 :v0"
        );
        let guard = expr.strict_guard(Some(&Condition::Exists), &actions, now);
        assert_eq!(
            guard,
            "(attribute_not_exists(#n4) OR #n4 > :v3) AND attribute_exists(#n5) AND \
             (attribute_not_exists(#n0) OR attribute_type(#n0, :v4))"
        );
    }

    #[test]
    fn unknown_sdk_types_are_corrupt_not_a_panic() {
        let key = Key::new("p", "s");
        let mut item = to_sdk_item(key.to_item());
        item.insert("future".into(), SdkValue::Unknown);
        match from_sdk_item(item, &key) {
            Err(StoreError::Corrupt { attribute, .. }) => assert_eq!(attribute, "future"),
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }

    mod cancellation {
        use super::*;
        use aws_sdk_dynamodb::types::CancellationReason;

        fn now() -> DateTime<Utc> {
            DateTime::from_timestamp(1_000, 0).unwrap()
        }

        fn reason(code: &str) -> CancellationReason {
            CancellationReason::builder().code(code).build()
        }

        fn failed_with(item: Item) -> CancellationReason {
            CancellationReason::builder()
                .code("ConditionalCheckFailed")
                .message("The conditional request failed")
                .set_item(Some(to_sdk_item(item)))
                .build()
        }

        fn record(key: &Key, status: &str, ttl: Option<i64>) -> Item {
            let mut item = key.to_item();
            item.insert("status".into(), s(status));
            if let Some(ttl) = ttl {
                item.insert(attr::TTL.into(), n(ttl));
            }
            item
        }

        /// A put conditioned on absence, an update conditioned on `status = open` and a check
        /// that the third item exists, as the repository writes them.
        fn ops() -> (Vec<TransactOp>, Vec<Key>) {
            let keys = vec![Key::new("A", "1"), Key::new("B", "2"), Key::new("C", "3")];
            let ops = vec![
                TransactOp::Put {
                    item: record(&keys[0], "new", None),
                    condition: Some(Condition::NotExists),
                },
                TransactOp::Update {
                    key: keys[1].clone(),
                    actions: vec![UpdateAction::add("count", 1)],
                    condition: Some(Condition::equals("status", s("open"))),
                },
                TransactOp::ConditionCheck {
                    key: keys[2].clone(),
                    condition: Condition::Exists,
                },
            ];
            (ops, keys)
        }

        fn explain(reasons: &[CancellationReason]) -> Cancellation {
            let (ops, keys) = ops();
            explain_cancellation(&ops, &keys, reasons, now()).unwrap()
        }

        fn cancelled_with(outcome: Cancellation) -> Vec<CancelReason> {
            match outcome {
                Cancellation::Final(StoreError::TransactionCancelled { reasons }) => reasons,
                other => panic!("expected a final TransactionCancelled, got {other:?}"),
            }
        }

        #[test]
        fn a_failed_put_condition_carries_the_item_the_service_returned() {
            let existing = record(&Key::new("A", "1"), "open", None);
            let reasons = cancelled_with(explain(&[
                failed_with(existing.clone()),
                reason("None"),
                reason("None"),
            ]));
            assert_eq!(
                reasons,
                vec![
                    CancelReason::ConditionFailed {
                        existing: Some(Box::new(existing))
                    },
                    CancelReason::None,
                    CancelReason::None,
                ]
            );
        }

        #[test]
        fn a_failed_condition_without_an_item_means_the_item_is_absent() {
            let reasons = cancelled_with(explain(&[
                reason("None"),
                reason("None"),
                reason("ConditionalCheckFailed"),
            ]));
            assert_eq!(
                reasons,
                vec![
                    CancelReason::None,
                    CancelReason::None,
                    CancelReason::ConditionFailed { existing: None },
                ]
            );
        }

        #[test]
        fn an_expired_item_that_failed_a_put_condition_counts_as_absent() {
            let expired = record(&Key::new("A", "1"), "open", Some(now().timestamp()));
            let reasons = cancelled_with(explain(&[
                failed_with(expired),
                reason("None"),
                reason("None"),
            ]));
            assert_eq!(reasons[0], CancelReason::ConditionFailed { existing: None });
        }

        #[test]
        fn an_update_that_met_an_expired_item_starts_over_instead_of_failing() {
            let expired = record(&Key::new("B", "2"), "open", Some(now().timestamp() - 1));
            match explain(&[reason("None"), failed_with(expired), reason("None")]) {
                Cancellation::Expired(keys) => assert_eq!(keys, vec![Key::new("B", "2")]),
                other => panic!("expected Expired, got {other:?}"),
            }
        }

        #[test]
        fn an_update_whose_condition_failed_reports_the_live_item() {
            let resolved = record(&Key::new("B", "2"), "resolved", None);
            let reasons = cancelled_with(explain(&[
                reason("None"),
                failed_with(resolved.clone()),
                reason("None"),
            ]));
            assert_eq!(
                reasons[1],
                CancelReason::ConditionFailed {
                    existing: Some(Box::new(resolved))
                }
            );
        }

        #[test]
        fn throttling_and_conflicts_alone_are_retried() {
            for codes in [
                ["None", "ThrottlingError", "None"],
                ["ProvisionedThroughputExceeded", "None", "None"],
                ["None", "None", "TransactionConflict"],
                ["TransactionConflict", "ThrottlingError", "None"],
            ] {
                let reasons: Vec<_> = codes.iter().map(|code| reason(code)).collect();
                assert!(
                    matches!(explain(&reasons), Cancellation::Retry),
                    "{codes:?} should be retried"
                );
            }
        }

        #[test]
        fn a_failed_condition_beside_throttling_is_final() {
            let reasons = cancelled_with(explain(&[
                reason("ConditionalCheckFailed"),
                reason("ThrottlingError"),
                reason("TransactionConflict"),
            ]));
            assert_eq!(
                reasons,
                vec![
                    CancelReason::ConditionFailed { existing: None },
                    CancelReason::Throttled,
                    CancelReason::Other("TransactionConflict".into()),
                ]
            );
        }

        #[test]
        fn a_size_validation_error_is_item_too_large_for_that_item() {
            let too_large = CancellationReason::builder()
                .code("ValidationError")
                .message("Item size has exceeded the maximum allowed size")
                .build();
            match explain(&[reason("None"), too_large, reason("None")]) {
                Cancellation::Final(StoreError::ItemTooLarge { key, size, limit }) => {
                    assert_eq!(key, Key::new("B", "2"));
                    assert_eq!(size, None);
                    assert_eq!(limit, MAX_ITEM_BYTES);
                }
                other => panic!("expected ItemTooLarge, got {other:?}"),
            }
        }

        #[test]
        fn other_validation_errors_and_unknown_codes_are_final_with_their_code() {
            let invalid = CancellationReason::builder()
                .code("ValidationError")
                .message("One or more parameter values were invalid")
                .build();
            let reasons = cancelled_with(explain(&[
                invalid,
                reason("SomethingNew"),
                reason("ThrottlingError"),
            ]));
            assert_eq!(
                reasons,
                vec![
                    CancelReason::Other("ValidationError".into()),
                    CancelReason::Other("SomethingNew".into()),
                    CancelReason::Throttled,
                ]
            );
        }

        #[test]
        fn no_reasons_or_only_none_is_final_not_retried() {
            let reasons = cancelled_with(explain(&[]));
            assert_eq!(reasons, vec![CancelReason::None; 3]);
            let reasons = cancelled_with(explain(&[
                reason("None"),
                CancellationReason::builder().build(),
                reason("None"),
            ]));
            assert_eq!(reasons, vec![CancelReason::None; 3]);
        }

        #[test]
        fn an_add_to_a_value_that_is_not_a_number_is_corrupt() {
            let mut wrong = record(&Key::new("B", "2"), "open", None);
            wrong.insert("count".into(), s("many"));
            match explain(&[reason("None"), failed_with(wrong), reason("None")]) {
                Cancellation::Final(StoreError::Corrupt { key, attribute, .. }) => {
                    assert_eq!(key, Key::new("B", "2"));
                    assert_eq!(attribute, "count");
                }
                other => panic!("expected Corrupt, got {other:?}"),
            }
        }
    }

    #[test]
    fn sdk_conversion_round_trips_every_type() {
        let key = Key::new("p", "s");
        let mut item = key.to_item();
        item.insert("b".into(), AttributeValue::B(vec![0, 255]));
        item.insert("bs".into(), AttributeValue::Bs(vec![vec![1], vec![2]]));
        item.insert("ns".into(), AttributeValue::Ns(vec!["1".into()]));
        item.insert("ss".into(), AttributeValue::Ss(vec!["a".into()]));
        item.insert("null".into(), AttributeValue::Null(true));
        item.insert("bool".into(), AttributeValue::Bool(false));
        item.insert(
            "m".into(),
            AttributeValue::M([("l".to_owned(), AttributeValue::L(vec![n(1), s("x")]))].into()),
        );
        assert_eq!(
            from_sdk_item(to_sdk_item(item.clone()), &key).unwrap(),
            item
        );
    }
}
