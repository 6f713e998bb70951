//! The store port: item-level operations every adapter implements with the same semantics.

use crate::{
    Condition, Item, Key, Page, Query, ReturnValues, StoreError, TransactOp, UpdateAction,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::future::Future;

/// Item-level access to the single table.
///
/// Semantics every adapter guarantees (the conformance suite in `tests/` checks them):
/// - Reads are strongly consistent on the table (queries on secondary indexes are eventually
///   consistent on DynamoDB).
/// - An item whose `ttl` (epoch seconds) is at or before the clock's now is absent for every
///   operation: `get` and `query` never return it, conditions see it as missing, and `update`
///   starts from an empty item instead of merging into it.
/// - Writes are validated before they are sent (key attributes, numbers, sets, the 400 KB item
///   limit); a failing condition is [`StoreError::ConditionFailed`] with the current item.
/// - Throttling is retried with backoff; only exhausted retries surface as
///   [`StoreError::Throttled`].
pub trait Store: Send + Sync {
    /// Reads one item.
    fn get(&self, key: &Key) -> impl Future<Output = Result<Option<Item>, StoreError>> + Send;

    /// Writes (creates or replaces) a whole item, if the condition holds on the current one.
    fn put(
        &self,
        item: Item,
        condition: Option<Condition>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Applies update actions to an item (creating it when missing), if the condition holds,
    /// and returns what `return_values` asks for.
    fn update(
        &self,
        key: &Key,
        actions: Vec<UpdateAction>,
        condition: Option<Condition>,
        return_values: ReturnValues,
    ) -> impl Future<Output = Result<Option<Item>, StoreError>> + Send;

    /// Deletes an item, if the condition holds, and returns the deleted item (`None` when it
    /// did not exist or had expired).
    fn delete(
        &self,
        key: &Key,
        condition: Option<Condition>,
    ) -> impl Future<Output = Result<Option<Item>, StoreError>> + Send;

    /// Reads one page of a partition of the table or of a secondary index.
    fn query(&self, query: &Query) -> impl Future<Output = Result<Page, StoreError>> + Send;

    /// Applies every operation or none: if any condition fails, the error is
    /// [`StoreError::TransactionCancelled`] with one reason per operation. A transaction the
    /// store cancelled only for throttling or conflicts is retried like any throttled request
    /// and, when retries run out, is [`StoreError::Throttled`].
    fn transact(&self, ops: Vec<TransactOp>)
    -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Typed helpers on top of any [`Store`] (serde through `serde_dynamo`).
pub trait StoreExt: Store {
    /// Reads one item and decodes it; a wrong attribute type is [`StoreError::Corrupt`] naming
    /// the attribute.
    fn get_typed<T: DeserializeOwned>(
        &self,
        key: &Key,
    ) -> impl Future<Output = Result<Option<T>, StoreError>> + Send {
        async move {
            match self.get(key).await? {
                Some(item) => decode_item(key, item).map(Some),
                None => Ok(None),
            }
        }
    }
}

impl<S: Store + ?Sized> StoreExt for S {}

/// Encodes a value as an item (its fields become attributes).
pub fn encode_item<T: Serialize + ?Sized>(value: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(value).map_err(|e| StoreError::invalid("<value>", e.to_string()))
}

/// Decodes an item read from the store; a mismatch is [`StoreError::Corrupt`] naming the
/// attribute path (for example `count` or `labels.env`).
pub fn decode_item<T: DeserializeOwned>(key: &Key, item: Item) -> Result<T, StoreError> {
    let deserializer = serde_dynamo::Deserializer::from_attribute_value(
        serde_dynamo::AttributeValue::M(item.into_inner()),
    );
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let attribute = if path.is_empty() || path == "." {
            "*".to_owned()
        } else {
            path
        };
        StoreError::corrupt(key, attribute, error.inner().to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{n, s};
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Dedup {
        pk: String,
        sk: String,
        count: u64,
        labels: std::collections::BTreeMap<String, String>,
    }

    #[test]
    fn typed_round_trip() {
        let value = Dedup {
            pk: "ALERT#a".into(),
            sk: "DEDUP".into(),
            count: 3,
            labels: [("env".to_owned(), "prod".to_owned())].into(),
        };
        let item = encode_item(&value).unwrap();
        assert_eq!(item.get("count"), Some(&n(3)));
        let key = Key::of_item(&item).unwrap();
        assert_eq!(decode_item::<Dedup>(&key, item).unwrap(), value);
    }

    #[test]
    fn wrong_types_are_corrupt_with_the_attribute_path() {
        let key = Key::new("ALERT#a", "DEDUP");
        let mut item = key.to_item();
        item.insert("count".into(), s("three"));
        item.insert(
            "labels".into(),
            serde_dynamo::AttributeValue::M(Default::default()),
        );
        match decode_item::<Dedup>(&key, item.clone()) {
            Err(StoreError::Corrupt { attribute, .. }) => assert_eq!(attribute, "count"),
            other => panic!("expected Corrupt, got {other:?}"),
        }
        item.insert("count".into(), n(3));
        item.insert(
            "labels".into(),
            serde_dynamo::AttributeValue::M([("env".to_owned(), n(1))].into()),
        );
        match decode_item::<Dedup>(&key, item) {
            Err(StoreError::Corrupt { attribute, .. }) => assert_eq!(attribute, "labels.env"),
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }
}
