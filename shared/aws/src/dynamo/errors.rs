//! Sorting DynamoDB failures into the store port's errors.

use crate::retry::DynamoCallError;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use chrono::{DateTime, Utc};
use klaxon_store::item::{MAX_ITEM_BYTES, check_item_size, is_expired};
use klaxon_store::update::add_target_is_wrong_type;
use klaxon_store::{Condition, Item, Key, StoreError, UpdateAction};

pub(super) enum UpdateFailure {
    /// The item had expired: clear it and start over.
    Expired,
    /// Report this.
    Error(StoreError),
}

/// Why an update's condition expression (liveness, caller's condition, counter types) failed,
/// given the item as it was.
pub(super) fn explain_update_failure(
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

pub(super) fn condition_failed(key: &Key, existing: Option<Item>) -> StoreError {
    StoreError::ConditionFailed {
        key: key.clone(),
        existing: existing.map(Box::new),
    }
}

/// Rejects an update whose own values already exceed the item limit (DynamoDB would reject
/// the merged item; the exact merged size is only known to the service).
pub(super) fn check_update_size(key: &Key, actions: &[UpdateAction]) -> Result<(), StoreError> {
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

pub(super) fn is_size_message(message: &str) -> bool {
    message.contains("Item size")
}

pub(super) fn call_error<E, R>(
    operation: &'static str,
    key: &Key,
    error: DynamoCallError<SdkError<E, R>>,
) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match error {
        DynamoCallError::Throttled { attempts } => StoreError::Throttled {
            operation,
            attempts,
        },
        DynamoCallError::Failed(error) => sdk_error(operation, key, &error),
    }
}

pub(super) fn sdk_error<E, R>(
    operation: &'static str,
    key: &Key,
    error: &SdkError<E, R>,
) -> StoreError
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
