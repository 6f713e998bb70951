//! All-or-nothing multi-item writes.

use crate::item::{item_size, validate_item, validate_key, value_size};
use crate::update::validate_actions;
use crate::{Condition, Item, Key, StoreError, UpdateAction};
use std::collections::HashSet;

/// DynamoDB's maximum number of operations in one transaction.
pub const MAX_TRANSACTION_OPS: usize = 100;
/// DynamoDB's maximum aggregate size of the items in one transaction (4 MB).
pub const MAX_TRANSACTION_BYTES: usize = 4 * 1024 * 1024;

/// One write of a transaction. Every operation may carry a condition; if any condition is
/// false, nothing is written.
#[derive(Debug, Clone, PartialEq)]
pub enum TransactOp {
    /// Writes (creates or replaces) a whole item.
    Put {
        /// The item, including `pk` and `sk`.
        item: Item,
        /// Condition on the item being replaced.
        condition: Option<Condition>,
    },
    /// Updates (or creates) an item.
    Update {
        /// The item's key.
        key: Key,
        /// The changes.
        actions: Vec<UpdateAction>,
        /// Condition on the current item.
        condition: Option<Condition>,
    },
    /// Deletes an item.
    Delete {
        /// The item's key.
        key: Key,
        /// Condition on the current item.
        condition: Option<Condition>,
    },
    /// Checks a condition on an item without writing it.
    ConditionCheck {
        /// The item's key.
        key: Key,
        /// The condition that must hold.
        condition: Condition,
    },
}

impl TransactOp {
    /// The condition of this operation, if any.
    pub fn condition(&self) -> Option<&Condition> {
        match self {
            Self::Put { condition, .. }
            | Self::Update { condition, .. }
            | Self::Delete { condition, .. } => condition.as_ref(),
            Self::ConditionCheck { condition, .. } => Some(condition),
        }
    }
}

/// Validates a transaction and returns the key of each operation, in order.
///
/// Rejects what DynamoDB rejects: no operations, more than [`MAX_TRANSACTION_OPS`], two
/// operations on one item, more than [`MAX_TRANSACTION_BYTES`] in total, and any invalid item,
/// key, update or condition (named `transaction[i]`).
pub fn validate_transaction(ops: &[TransactOp]) -> Result<Vec<Key>, StoreError> {
    if ops.is_empty() {
        return Err(StoreError::invalid(
            "transaction",
            "needs at least one operation",
        ));
    }
    if ops.len() > MAX_TRANSACTION_OPS {
        return Err(StoreError::invalid(
            "transaction",
            format!(
                "has {} operations, over the limit of {MAX_TRANSACTION_OPS}",
                ops.len()
            ),
        ));
    }
    let mut keys = Vec::with_capacity(ops.len());
    let mut seen = HashSet::new();
    let mut total_bytes = 0usize;
    for (position, op) in ops.iter().enumerate() {
        let field = format!("transaction[{position}]");
        let (key, bytes) = match op {
            TransactOp::Put { item, .. } => (validate_item(item)?, item_size(item)),
            TransactOp::Update { key, actions, .. } => {
                validate_key(key)?;
                validate_actions(&field, actions)?;
                let values: usize = actions
                    .iter()
                    .map(|action| match action {
                        UpdateAction::Set { attribute, value }
                        | UpdateAction::SetIfAbsent { attribute, value } => {
                            attribute.len() + value_size(value)
                        }
                        UpdateAction::Remove { attribute }
                        | UpdateAction::Add { attribute, .. } => attribute.len(),
                    })
                    .sum();
                (key.clone(), item_size(&key.to_item()) + values)
            }
            TransactOp::Delete { key, .. } | TransactOp::ConditionCheck { key, .. } => {
                validate_key(key)?;
                (key.clone(), item_size(&key.to_item()))
            }
        };
        if let Some(condition) = op.condition() {
            condition.validate(&format!("{field}.condition"))?;
        }
        if !seen.insert(key.clone()) {
            return Err(StoreError::invalid(
                field,
                format!("a transaction may touch each item once; {key} appears twice"),
            ));
        }
        total_bytes += bytes;
        keys.push(key);
    }
    if total_bytes > MAX_TRANSACTION_BYTES {
        return Err(StoreError::invalid(
            "transaction",
            format!("holds {total_bytes} bytes, over the limit of {MAX_TRANSACTION_BYTES}"),
        ));
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::s;

    fn put(pk: &str) -> TransactOp {
        TransactOp::Put {
            item: Key::new(pk, "x").to_item(),
            condition: Some(Condition::NotExists),
        }
    }

    #[test]
    fn valid_transaction_returns_keys_in_order() {
        let ops = vec![
            put("a"),
            TransactOp::ConditionCheck {
                key: Key::new("b", "x"),
                condition: Condition::Exists,
            },
        ];
        assert_eq!(
            validate_transaction(&ops).unwrap(),
            vec![Key::new("a", "x"), Key::new("b", "x")]
        );
    }

    #[test]
    fn limits_are_enforced() {
        assert!(validate_transaction(&[]).is_err());
        let many: Vec<TransactOp> = (0..=MAX_TRANSACTION_OPS)
            .map(|i| put(&i.to_string()))
            .collect();
        assert!(validate_transaction(&many).is_err());
        assert!(validate_transaction(&many[..MAX_TRANSACTION_OPS]).is_ok());
        match validate_transaction(&[put("a"), put("a")]) {
            Err(StoreError::InvalidRequest { field, .. }) => assert_eq!(field, "transaction[1]"),
            other => panic!("expected InvalidRequest, got {other:?}"),
        }
        let big = |pk: &str| {
            let mut item = Key::new(pk, "x").to_item();
            item.insert("blob".into(), s("x".repeat(400_000)));
            TransactOp::Put {
                item,
                condition: None,
            }
        };
        let heavy: Vec<TransactOp> = (0..11).map(|i| big(&i.to_string())).collect();
        assert!(validate_transaction(&heavy).is_err());
        assert!(validate_transaction(&heavy[..10]).is_ok());
    }
}
