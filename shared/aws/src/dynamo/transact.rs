//! Transactions: each operation as a DynamoDB transact item, and what a cancellation means.

use super::DynamoStore;
use super::convert::{from_sdk_item, to_sdk_item};
use super::errors::{UpdateFailure, explain_update_failure, is_size_message};
use super::expression::Expression;
use aws_sdk_dynamodb::types::{
    ConditionCheck, Delete, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use chrono::{DateTime, Utc};
use klaxon_store::item::{MAX_ITEM_BYTES, is_expired};
use klaxon_store::{CancelReason, Key, StoreError, TransactOp};

impl DynamoStore {
    pub(super) fn transact_item(
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
pub(super) enum Cancellation {
    /// Some updates met expired items: delete them and start over.
    Expired(Vec<Key>),
    /// Only throttling or conflicts: retry ([`StoreError::Throttled`] once retries run out).
    Retry,
    /// Definitive.
    Final(StoreError),
}

/// What the cancellation reasons of one transaction add up to, besides each item's reason.
#[derive(Default)]
struct Tally {
    expired: Vec<Key>,
    condition_failed: bool,
    retryable: bool,
    corrupt: Option<StoreError>,
}

pub(super) fn explain_cancellation(
    ops: &[TransactOp],
    keys: &[Key],
    reasons: &[aws_sdk_dynamodb::types::CancellationReason],
    now: DateTime<Utc>,
) -> Result<Cancellation, StoreError> {
    let mut mapped = Vec::with_capacity(ops.len());
    let mut tally = Tally::default();
    for (position, (op, key)) in ops.iter().zip(keys).enumerate() {
        let reason = reasons.get(position);
        let code = reason.and_then(|r| r.code()).unwrap_or("None");
        let mapped_reason = match code {
            "None" => CancelReason::None,
            "ConditionalCheckFailed" => condition_failure(op, key, reason, now, &mut tally)?,
            "ThrottlingError" | "ProvisionedThroughputExceeded" => {
                tally.retryable = true;
                CancelReason::Throttled
            }
            CancelReason::TRANSACTION_CONFLICT => {
                tally.retryable = true;
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
    Ok(decide(mapped, tally))
}

/// One item's failed condition: an update of an item that had only expired restarts the
/// transaction ([`Cancellation::Expired`]); anything else is a real condition failure.
fn condition_failure(
    op: &TransactOp,
    key: &Key,
    reason: Option<&aws_sdk_dynamodb::types::CancellationReason>,
    now: DateTime<Utc>,
    tally: &mut Tally,
) -> Result<CancelReason, StoreError> {
    let old = reason
        .and_then(|r| r.item())
        .map(|item| from_sdk_item(item.clone(), key))
        .transpose()?;
    let TransactOp::Update {
        actions, condition, ..
    } = op
    else {
        tally.condition_failed = true;
        return Ok(CancelReason::ConditionFailed {
            existing: old.filter(|item| !is_expired(item, now)).map(Box::new),
        });
    };
    Ok(
        match explain_update_failure(key, old, condition.as_ref(), actions, now) {
            UpdateFailure::Expired => {
                tally.expired.push(key.clone());
                CancelReason::None
            }
            UpdateFailure::Error(StoreError::ConditionFailed { existing, .. }) => {
                tally.condition_failed = true;
                CancelReason::ConditionFailed { existing }
            }
            UpdateFailure::Error(error) => {
                tally.corrupt.get_or_insert(error);
                CancelReason::None
            }
        },
    )
}

/// The verdict, in this order: a failed condition is final; expired items restart the
/// transaction; a corrupt stored item is final; only throttling or conflicts retry.
fn decide(mapped: Vec<CancelReason>, tally: Tally) -> Cancellation {
    if tally.condition_failed {
        return Cancellation::Final(StoreError::TransactionCancelled { reasons: mapped });
    }
    if !tally.expired.is_empty() {
        return Cancellation::Expired(tally.expired);
    }
    if let Some(error) = tally.corrupt {
        return Cancellation::Final(error);
    }
    let only_transient = mapped
        .iter()
        .all(|r| *r == CancelReason::None || r.is_transient());
    if tally.retryable && only_transient {
        return Cancellation::Retry;
    }
    Cancellation::Final(StoreError::TransactionCancelled { reasons: mapped })
}
