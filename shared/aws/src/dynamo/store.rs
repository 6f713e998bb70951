//! The [`Store`] port's operations on DynamoDB.

use super::convert::{from_sdk_item, live, to_sdk_item};
use super::errors::{
    UpdateFailure, call_error, check_update_size, condition_failed, explain_update_failure,
    sdk_error,
};
use super::expression::Expression;
use super::transact::{Cancellation, explain_cancellation};
use super::{DynamoStore, MAX_EXPIRY_RESTARTS};
use crate::retry::{DynamoCallError, GaveUp, is_dynamo_retryable, retry};
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, Utc};
use klaxon_store::item::{is_expired, validate_item, validate_key};
use klaxon_store::transact::validate_transaction;
use klaxon_store::update::validate_actions;
use klaxon_store::{
    CancelReason, Clock, Condition, Cursor, Item, Key, Order, Page, Query, ReturnValues, Store,
    StoreError, TransactOp, UpdateAction,
};

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
            Err(DynamoCallError::Failed(error)) => match error.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(failure)) => {
                    let existing = live(failure.item().cloned(), &key, now)?;
                    Err(condition_failed(&key, existing))
                }
                _ => Err(call_error("put", &key, DynamoCallError::Failed(error))),
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
                Err(DynamoCallError::Failed(error)) => error,
                Err(error) => return Err(call_error("update", key, error)),
            };
            let Some(UpdateItemError::ConditionalCheckFailedException(failure)) =
                error.as_service_error()
            else {
                return Err(call_error("update", key, DynamoCallError::Failed(error)));
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
            Err(DynamoCallError::Failed(error)) => match error.as_service_error() {
                Some(DeleteItemError::ConditionalCheckFailedException(failure)) => {
                    let existing = live(failure.item().cloned(), key, now)?;
                    Err(condition_failed(key, existing))
                }
                _ => Err(call_error("delete", key, DynamoCallError::Failed(error))),
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
        loop {
            // Boxed: the transaction's retry loop would otherwise nest the Lambda handlers'
            // future types past the compiler's default query depth.
            let result = Box::pin(retry(
                &self.retry,
                |(outcome, _): &(Cancellation, DateTime<Utc>)| {
                    matches!(outcome, Cancellation::Retry)
                },
                |gave_up| gave_up,
                || self.transact_once(&ops, &keys),
            ))
            .await;
            match result {
                Ok(()) => return Ok(()),
                Err(GaveUp::Refused {
                    error: (Cancellation::Expired(expired), now),
                    ..
                }) if restarts < MAX_EXPIRY_RESTARTS => {
                    restarts += 1;
                    for key in expired {
                        self.purge_expired(&key, now).await?;
                    }
                }
                Err(GaveUp::Refused {
                    error: (Cancellation::Expired(_), _),
                    ..
                }) => {
                    return Err(StoreError::TransactionCancelled {
                        reasons: vec![CancelReason::Other("ExpiredItemChurn".into()); ops.len()],
                    });
                }
                Err(GaveUp::Refused {
                    error: (Cancellation::Final(error), _),
                    ..
                }) => return Err(error),
                // Nothing failed a condition: this is the store being busy, which a caller
                // retries later (a 503, a message left on its queue).
                Err(
                    GaveUp::Exhausted { attempts, .. }
                    | GaveUp::Refused {
                        attempts,
                        error: (Cancellation::Retry, _),
                    },
                ) => {
                    return Err(StoreError::Throttled {
                        operation: "transact",
                        attempts,
                    });
                }
            }
        }
    }
}

impl DynamoStore {
    /// One `TransactWriteItems` attempt; a failure comes with the time its conditions were
    /// written for (expired items are purged as of that time).
    async fn transact_once(
        &self,
        ops: &[TransactOp],
        keys: &[Key],
    ) -> Result<(), (Cancellation, DateTime<Utc>)> {
        let now = self.clock.now();
        let fail = |error| (Cancellation::Final(error), now);
        let items = ops
            .iter()
            .map(|op| self.transact_item(op, now))
            .collect::<Result<Vec<_>, _>>()
            .map_err(fail)?;
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
                explain_cancellation(ops, keys, cancelled.cancellation_reasons(), now)
                    .map_err(fail)?
            }
            _ if is_dynamo_retryable(error.code()) => Cancellation::Retry,
            _ => {
                let first_key = keys.first().cloned().unwrap_or_else(|| Key::new("", ""));
                Cancellation::Final(sdk_error("transact", &first_key, &error))
            }
        };
        Err((outcome, now))
    }
}
