//! Conversion between the port's items and the SDK's.

use super::{SdkItem, SdkValue};
use chrono::{DateTime, Utc};
use klaxon_store::item::is_expired;
use klaxon_store::{AttributeValue, Item, Key, StoreError, attr};
use std::collections::HashMap;

/// Converts a returned item, dropping it when it has expired.
pub(super) fn live(
    item: Option<SdkItem>,
    key: &Key,
    now: DateTime<Utc>,
) -> Result<Option<Item>, StoreError> {
    Ok(item
        .filter(|item| !item.is_empty())
        .map(|item| from_sdk_item(item, key))
        .transpose()?
        .filter(|item| !is_expired(item, now)))
}

/// Converts a port item to the SDK's representation.
pub(super) fn to_sdk_item(item: Item) -> SdkItem {
    item.into_inner()
        .into_iter()
        .map(|(name, value)| (name, SdkValue::from(value)))
        .collect()
}

/// Converts an SDK item to the port's representation; a value of a type this SDK does not
/// know is reported as corrupt instead of panicking.
pub(super) fn from_sdk_item(item: SdkItem, fallback_key: &Key) -> Result<Item, StoreError> {
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

pub(super) fn from_sdk_value(value: SdkValue) -> Option<AttributeValue> {
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
