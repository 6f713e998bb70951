//! Typed store errors shared by every adapter.

use crate::{Item, Key};

/// Why one operation of a cancelled transaction did not go through.
#[derive(Debug, Clone, PartialEq)]
pub enum CancelReason {
    /// This operation was fine; another one cancelled the transaction.
    None,
    /// This operation's condition was false.
    ConditionFailed {
        /// The item as it was (absent when it did not exist or had expired).
        existing: Option<Box<Item>>,
    },
    /// The store throttled this operation (retries were exhausted).
    Throttled,
    /// Any other reason, with the store's reason code (for example `TransactionConflict`).
    Other(String),
}

impl CancelReason {
    /// The store's code for an operation that lost a race with a concurrent transaction.
    pub const TRANSACTION_CONFLICT: &'static str = "TransactionConflict";

    /// Whether this operation may go through if the transaction is tried again later
    /// (throttled, or in conflict with a concurrent transaction): nothing was wrong with it.
    pub fn is_transient(&self) -> bool {
        match self {
            CancelReason::Throttled => true,
            CancelReason::Other(code) => code == Self::TRANSACTION_CONFLICT,
            CancelReason::None | CancelReason::ConditionFailed { .. } => false,
        }
    }
}

/// Errors of the store port.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A write's condition was false.
    #[error("condition failed for item {key}")]
    ConditionFailed {
        /// The key the write addressed.
        key: Key,
        /// The item as it was, when the store returned it (absent if missing or expired).
        existing: Option<Box<Item>>,
    },
    /// A transaction was cancelled as a whole: nothing was written.
    #[error("transaction cancelled: {}", describe_reasons(reasons))]
    TransactionCancelled {
        /// One reason per operation, in the order the operations were given.
        reasons: Vec<CancelReason>,
    },
    /// The store kept throttling the request after every retry.
    #[error("store throttled {operation} after {attempts} attempts")]
    Throttled {
        /// The operation that was throttled.
        operation: &'static str,
        /// How many attempts were made.
        attempts: u32,
    },
    /// An item would exceed the store's item size limit.
    #[error("item {key} is too large ({}; limit {limit} bytes)", describe_size(*size))]
    ItemTooLarge {
        /// The item's key.
        key: Key,
        /// The item's size in bytes, when known before sending (DynamoDB's size rules).
        size: Option<usize>,
        /// The limit in bytes.
        limit: usize,
    },
    /// An item read back does not have the shape the caller expects.
    #[error("item {key} is corrupt at `{attribute}`: {reason}")]
    Corrupt {
        /// The item's key.
        key: Key,
        /// The attribute (or path inside it) that is wrong; `*` for the whole item.
        attribute: String,
        /// What is wrong.
        reason: String,
    },
    /// The request itself is invalid (a programming error or a limit of the store).
    #[error("invalid store request at `{field}`: {reason}")]
    InvalidRequest {
        /// The part of the request that is wrong (an attribute name, `transaction[3]`, ...).
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// A pagination cursor could not be decoded or does not belong to the query.
    #[error("invalid pagination cursor: {reason}")]
    BadCursor {
        /// What is wrong with the cursor.
        reason: String,
    },
    /// The backend failed in a way the port has no specific error for.
    #[error("store backend failed during {operation}: {message}")]
    Backend {
        /// The operation that failed.
        operation: &'static str,
        /// The backend's description of the failure.
        message: String,
    },
}

impl StoreError {
    /// A [`StoreError::InvalidRequest`] for `field`.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidRequest {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// A [`StoreError::Corrupt`] for `attribute` of the item at `key`.
    pub fn corrupt(key: &Key, attribute: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Corrupt {
            key: key.clone(),
            attribute: attribute.into(),
            reason: reason.into(),
        }
    }

    /// Whether this is a [`StoreError::ConditionFailed`].
    pub fn is_condition_failed(&self) -> bool {
        matches!(self, Self::ConditionFailed { .. })
    }

    /// Whether retrying later may succeed: throttling, a backend failure, or a transaction
    /// cancelled only by throttling or conflicts (every reason is [`CancelReason::None`] or
    /// [`CancelReason::is_transient`], at least one the latter: no condition failed).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Throttled { .. } | Self::Backend { .. } => true,
            Self::TransactionCancelled { reasons } => {
                reasons.iter().any(CancelReason::is_transient)
                    && reasons
                        .iter()
                        .all(|reason| *reason == CancelReason::None || reason.is_transient())
            }
            Self::ConditionFailed { .. }
            | Self::ItemTooLarge { .. }
            | Self::Corrupt { .. }
            | Self::InvalidRequest { .. }
            | Self::BadCursor { .. } => false,
        }
    }
}

fn describe_size(size: Option<usize>) -> String {
    match size {
        Some(size) => format!("{size} bytes"),
        None => "size reported by the store".to_owned(),
    }
}

fn describe_reasons(reasons: &[CancelReason]) -> String {
    let parts: Vec<String> = reasons
        .iter()
        .enumerate()
        .filter_map(|(position, reason)| match reason {
            CancelReason::None => None,
            CancelReason::ConditionFailed { .. } => {
                Some(format!("operation {position}: condition failed"))
            }
            CancelReason::Throttled => Some(format!("operation {position}: throttled")),
            CancelReason::Other(code) => Some(format!("operation {position}: {code}")),
        })
        .collect();
    if parts.is_empty() {
        "no reason given".to_owned()
    } else {
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancellation_message_names_the_failing_operations() {
        let error = StoreError::TransactionCancelled {
            reasons: vec![
                CancelReason::None,
                CancelReason::ConditionFailed { existing: None },
                CancelReason::Other("TransactionConflict".to_owned()),
            ],
        };
        assert_eq!(
            error.to_string(),
            "transaction cancelled: operation 1: condition failed, operation 2: TransactionConflict"
        );
    }

    #[test]
    fn a_transaction_cancelled_only_by_throttling_or_conflicts_is_transient() {
        let cancelled = |reasons: Vec<CancelReason>| StoreError::TransactionCancelled { reasons };
        let conflict = || CancelReason::Other(CancelReason::TRANSACTION_CONFLICT.to_owned());
        let failed = || CancelReason::ConditionFailed { existing: None };
        assert!(cancelled(vec![CancelReason::None, CancelReason::Throttled]).is_transient());
        assert!(cancelled(vec![conflict(), CancelReason::None]).is_transient());
        assert!(cancelled(vec![CancelReason::Throttled, conflict()]).is_transient());
        // A failed condition is an answer, not a hiccup: retrying gives the same result.
        assert!(!cancelled(vec![failed(), CancelReason::Throttled]).is_transient());
        assert!(!cancelled(vec![conflict(), failed()]).is_transient());
        assert!(
            !cancelled(vec![
                CancelReason::Throttled,
                CancelReason::Other("ValidationError".into())
            ])
            .is_transient()
        );
        assert!(!cancelled(vec![CancelReason::None, CancelReason::None]).is_transient());
        assert!(!cancelled(Vec::new()).is_transient());
    }

    #[test]
    fn throttling_and_backend_failures_are_transient_and_answers_are_not() {
        let key = Key::new("a", "b");
        assert!(
            StoreError::Throttled {
                operation: "put",
                attempts: 8
            }
            .is_transient()
        );
        assert!(
            StoreError::Backend {
                operation: "get",
                message: "connection reset".into()
            }
            .is_transient()
        );
        assert!(
            !StoreError::ConditionFailed {
                key: key.clone(),
                existing: None
            }
            .is_transient()
        );
        assert!(!StoreError::corrupt(&key, "status", "not a string").is_transient());
        assert!(!StoreError::invalid("pk", "empty").is_transient());
    }

    #[test]
    fn too_large_message_shows_the_size() {
        let error = StoreError::ItemTooLarge {
            key: Key::new("a", "b"),
            size: Some(500_000),
            limit: 409_600,
        };
        assert_eq!(
            error.to_string(),
            "item (pk=\"a\", sk=\"b\") is too large (500000 bytes; limit 409600 bytes)"
        );
    }
}
