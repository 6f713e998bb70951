//! Item rules shared by every adapter: DynamoDB's size arithmetic, validation of the generic
//! attributes, TTL expiry and value equality.

use crate::key::{MAX_PARTITION_KEY_BYTES, MAX_SORT_KEY_BYTES, attr};
use crate::number::{Decimal, number_size};
use crate::{AttributeValue, Item, Key, StoreError};
use chrono::{DateTime, Utc};
use std::collections::HashSet;

/// DynamoDB's maximum item size: 400 KB, counting attribute names and values.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

/// The size of an item by DynamoDB's rules: the sum of every attribute name and value.
pub fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

/// The size of one attribute value by DynamoDB's rules (without the attribute name).
///
/// Strings and binaries count their bytes, numbers one byte per two significant digits plus
/// one, booleans and nulls one byte, lists and maps three bytes plus one byte per element plus
/// their elements (and, for maps, the element names), sets the sum of their elements.
pub fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(text) => text.len(),
        AttributeValue::N(number) => number_size(number),
        AttributeValue::B(bytes) => bytes.len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::L(list) => 3 + list.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(name, v)| 1 + name.len() + value_size(v))
                .sum::<usize>()
        }
        AttributeValue::Ss(set) => set.iter().map(String::len).sum(),
        AttributeValue::Ns(set) => set.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(set) => set.iter().map(Vec::len).sum(),
    }
}

/// Rejects an item larger than [`MAX_ITEM_BYTES`] with [`StoreError::ItemTooLarge`].
pub fn check_item_size(key: &Key, item: &Item) -> Result<(), StoreError> {
    let size = item_size(item);
    if size > MAX_ITEM_BYTES {
        return Err(StoreError::ItemTooLarge {
            key: key.clone(),
            size: Some(size),
            limit: MAX_ITEM_BYTES,
        });
    }
    Ok(())
}

/// Validates a whole item before it is written and returns its key.
///
/// Checks what DynamoDB would reject (so both adapters fail the same way): string, non-empty
/// `pk`/`sk` and index keys within their size limits, valid numbers, non-empty sets without
/// duplicates, an integer `ttl`, a numeric `version`, and the item size limit.
pub fn validate_item(item: &Item) -> Result<Key, StoreError> {
    let pk = required_key_string(item, attr::PK, MAX_PARTITION_KEY_BYTES)?;
    let sk = required_key_string(item, attr::SK, MAX_SORT_KEY_BYTES)?;
    let key = Key::new(pk, sk);
    for (name, value) in item.iter() {
        validate_attribute(name, value)?;
    }
    check_item_size(&key, item)?;
    Ok(key)
}

/// Validates a key given on its own (for get, update, delete, condition checks).
pub fn validate_key(key: &Key) -> Result<(), StoreError> {
    validate_key_string(attr::PK, &key.pk, MAX_PARTITION_KEY_BYTES)?;
    validate_key_string(attr::SK, &key.sk, MAX_SORT_KEY_BYTES)
}

/// Validates one top-level attribute: its name, the rules of the generic attributes, and the
/// value itself.
pub fn validate_attribute(name: &str, value: &AttributeValue) -> Result<(), StoreError> {
    if name.is_empty() {
        return Err(StoreError::invalid("<attribute name>", "must not be empty"));
    }
    match name {
        attr::PK | attr::GSI1PK | attr::GSI2PK | attr::GSI3PK => {
            key_string(name, value, MAX_PARTITION_KEY_BYTES)?;
        }
        attr::SK | attr::GSI1SK | attr::GSI2SK | attr::GSI3SK => {
            key_string(name, value, MAX_SORT_KEY_BYTES)?;
        }
        attr::TTL => {
            let AttributeValue::N(number) = value else {
                return Err(StoreError::invalid(
                    name,
                    "must be a number (epoch seconds)",
                ));
            };
            let integer = Decimal::parse(number)
                .ok()
                .and_then(|d| d.to_i128())
                .and_then(|i| i64::try_from(i).ok());
            if integer.is_none() {
                return Err(StoreError::invalid(name, "must be whole epoch seconds"));
            }
        }
        attr::VERSION if !matches!(value, AttributeValue::N(_)) => {
            return Err(StoreError::invalid(name, "must be a number"));
        }
        _ => {}
    }
    validate_value(name, value)
}

fn required_key_string<'a>(
    item: &'a Item,
    name: &str,
    max_bytes: usize,
) -> Result<&'a str, StoreError> {
    match item.get(name) {
        Some(value) => key_string(name, value, max_bytes),
        None => Err(StoreError::invalid(name, "is required")),
    }
}

fn key_string<'a>(
    name: &str,
    value: &'a AttributeValue,
    max_bytes: usize,
) -> Result<&'a str, StoreError> {
    let AttributeValue::S(text) = value else {
        return Err(StoreError::invalid(name, "must be a string"));
    };
    validate_key_string(name, text, max_bytes)?;
    Ok(text)
}

fn validate_key_string(name: &str, text: &str, max_bytes: usize) -> Result<(), StoreError> {
    if text.is_empty() {
        return Err(StoreError::invalid(name, "must not be empty"));
    }
    if text.len() > max_bytes {
        return Err(StoreError::invalid(
            name,
            format!(
                "is {} bytes, over the {max_bytes}-byte key limit",
                text.len()
            ),
        ));
    }
    Ok(())
}

/// Validates a value the way DynamoDB does: numbers must parse, sets must be non-empty and
/// hold no duplicates. `path` names the value in errors.
pub fn validate_value(path: &str, value: &AttributeValue) -> Result<(), StoreError> {
    match value {
        AttributeValue::N(number) => {
            Decimal::parse(number).map_err(|e| StoreError::invalid(path, e.to_string()))?;
        }
        AttributeValue::L(list) => {
            for (position, element) in list.iter().enumerate() {
                validate_value(&format!("{path}[{position}]"), element)?;
            }
        }
        AttributeValue::M(map) => {
            for (name, element) in map {
                validate_value(&format!("{path}.{name}"), element)?;
            }
        }
        AttributeValue::Ss(set) => {
            check_set(path, set.len(), set.iter().collect::<HashSet<_>>().len())?;
        }
        AttributeValue::Bs(set) => {
            check_set(path, set.len(), set.iter().collect::<HashSet<_>>().len())?;
        }
        AttributeValue::Ns(set) => {
            let mut canonical = HashSet::new();
            for number in set {
                let decimal =
                    Decimal::parse(number).map_err(|e| StoreError::invalid(path, e.to_string()))?;
                canonical.insert(decimal.to_canonical_string());
            }
            check_set(path, set.len(), canonical.len())?;
        }
        AttributeValue::S(_)
        | AttributeValue::B(_)
        | AttributeValue::Bool(_)
        | AttributeValue::Null(_) => {}
    }
    Ok(())
}

fn check_set(path: &str, len: usize, distinct: usize) -> Result<(), StoreError> {
    if len == 0 {
        return Err(StoreError::invalid(path, "a set must not be empty"));
    }
    if distinct != len {
        return Err(StoreError::invalid(path, "a set must not hold duplicates"));
    }
    Ok(())
}

/// The item's expiry (`ttl`, epoch seconds), when it has a valid one.
pub fn expires_at(item: &Item) -> Option<i64> {
    match item.get(attr::TTL) {
        Some(AttributeValue::N(number)) => Decimal::parse(number)
            .ok()
            .and_then(|d| d.to_i128())
            .and_then(|i| i64::try_from(i).ok()),
        _ => None,
    }
}

/// Whether the item has expired at `now`: its `ttl` is at or before `now` (in whole seconds).
pub fn is_expired(item: &Item, now: DateTime<Utc>) -> bool {
    expires_at(item).is_some_and(|ttl| ttl <= now.timestamp())
}

/// Equality as DynamoDB's `=` operator sees it: numbers compare as exact decimals, sets ignore
/// order, values of different types are never equal.
pub fn values_equal(left: &AttributeValue, right: &AttributeValue) -> bool {
    match (left, right) {
        (AttributeValue::N(a), AttributeValue::N(b)) => numbers_equal(a, b),
        (AttributeValue::S(a), AttributeValue::S(b)) => a == b,
        (AttributeValue::B(a), AttributeValue::B(b)) => a == b,
        (AttributeValue::Bool(a), AttributeValue::Bool(b)) => a == b,
        (AttributeValue::Null(_), AttributeValue::Null(_)) => true,
        (AttributeValue::L(a), AttributeValue::L(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| values_equal(x, y))
        }
        (AttributeValue::M(a), AttributeValue::M(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(name, x)| b.get(name).is_some_and(|y| values_equal(x, y)))
        }
        (AttributeValue::Ss(a), AttributeValue::Ss(b)) => {
            a.iter().collect::<HashSet<_>>() == b.iter().collect::<HashSet<_>>()
        }
        (AttributeValue::Bs(a), AttributeValue::Bs(b)) => {
            a.iter().collect::<HashSet<_>>() == b.iter().collect::<HashSet<_>>()
        }
        (AttributeValue::Ns(a), AttributeValue::Ns(b)) => {
            let canonical = |set: &Vec<String>| -> HashSet<String> {
                set.iter()
                    .map(|n| {
                        Decimal::parse(n)
                            .map(|d| d.to_canonical_string())
                            .unwrap_or_else(|_| n.clone())
                    })
                    .collect()
            };
            canonical(a) == canonical(b)
        }
        _ => false,
    }
}

fn numbers_equal(a: &str, b: &str) -> bool {
    match (Decimal::parse(a), Decimal::parse(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// A short name of the value's DynamoDB type (`S`, `N`, `M`, ...), for error messages.
pub fn type_name(value: &AttributeValue) -> &'static str {
    match value {
        AttributeValue::S(_) => "S",
        AttributeValue::N(_) => "N",
        AttributeValue::B(_) => "B",
        AttributeValue::Bool(_) => "BOOL",
        AttributeValue::Null(_) => "NULL",
        AttributeValue::L(_) => "L",
        AttributeValue::M(_) => "M",
        AttributeValue::Ss(_) => "SS",
        AttributeValue::Ns(_) => "NS",
        AttributeValue::Bs(_) => "BS",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{n, s};
    use chrono::TimeZone;
    use std::collections::HashMap;

    fn item(pairs: &[(&str, AttributeValue)]) -> Item {
        let mut item = Key::new("p", "s").to_item();
        for (name, value) in pairs {
            item.insert((*name).to_owned(), value.clone());
        }
        item
    }

    #[test]
    fn size_follows_dynamodb_rules() {
        // pk(2) + "p"(1) + sk(2) + "s"(1) = 6
        let base = item(&[]);
        assert_eq!(item_size(&base), 6);
        // name "n"(1) + number 12345: 5 digits -> 3 bytes + 1
        assert_eq!(item_size(&item(&[("n", n(12345))])), 6 + 1 + 4);
        // name "b"(1) + bool(1)
        assert_eq!(
            item_size(&item(&[("b", AttributeValue::Bool(true))])),
            6 + 2
        );
        // list ["ab", true]: 3 + (1+2) + (1+1) = 8, name "l"(1)
        let list = AttributeValue::L(vec![s("ab"), AttributeValue::Bool(true)]);
        assert_eq!(item_size(&item(&[("l", list)])), 6 + 1 + 8);
        // map {"k": "vv"}: 3 + 1 + 1 + 2 = 7, name "m"(1)
        let map = AttributeValue::M(HashMap::from([("k".to_owned(), s("vv"))]));
        assert_eq!(item_size(&item(&[("m", map)])), 6 + 1 + 7);
        // binary counts raw bytes, not base64
        assert_eq!(
            item_size(&item(&[("x", AttributeValue::B(vec![0; 30]))])),
            6 + 1 + 30
        );
        // multi-byte UTF-8 counts bytes
        assert_eq!(item_size(&item(&[("é", s("€"))])), 6 + 2 + 3);
    }

    #[test]
    fn validation_names_the_bad_attribute() {
        let cases: Vec<(Item, &str)> = vec![
            (Item::default(), "pk"),
            (item(&[("pk", n(1))]), "pk"),
            (item(&[("sk", s(""))]), "sk"),
            (item(&[("gsi1pk", AttributeValue::Bool(true))]), "gsi1pk"),
            (item(&[("ttl", s("tomorrow"))]), "ttl"),
            (item(&[("ttl", AttributeValue::N("1.5".to_owned()))]), "ttl"),
            (item(&[("version", s("1"))]), "version"),
            (
                item(&[("count", AttributeValue::N("x".to_owned()))]),
                "count",
            ),
            (item(&[("tags", AttributeValue::Ss(vec![]))]), "tags"),
            (
                item(&[("tags", AttributeValue::Ss(vec!["a".into(), "a".into()]))]),
                "tags",
            ),
            (
                item(&[(
                    "nested",
                    AttributeValue::L(vec![AttributeValue::N("1e999".into())]),
                )]),
                "nested[0]",
            ),
            (item(&[("sk", s("x".repeat(1025)))]), "sk"),
        ];
        for (bad, field) in cases {
            match validate_item(&bad) {
                Err(StoreError::InvalidRequest { field: got, .. }) => assert_eq!(got, field),
                other => panic!("{field}: expected InvalidRequest, got {other:?}"),
            }
        }
    }

    #[test]
    fn oversized_item_is_rejected_with_its_size() {
        let big = item(&[("payload", s("x".repeat(MAX_ITEM_BYTES)))]);
        match validate_item(&big) {
            Err(StoreError::ItemTooLarge { size, limit, .. }) => {
                assert_eq!(size, Some(MAX_ITEM_BYTES + 6 + "payload".len()));
                assert_eq!(limit, MAX_ITEM_BYTES);
            }
            other => panic!("expected ItemTooLarge, got {other:?}"),
        }
        let fits = item(&[("payload", s("x".repeat(MAX_ITEM_BYTES - 6 - 7)))]);
        assert!(validate_item(&fits).is_ok());
    }

    #[test]
    fn expiry_is_inclusive_of_now() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let at = |t: i64| item(&[("ttl", n(t))]);
        assert!(is_expired(&at(now.timestamp()), now));
        assert!(is_expired(&at(now.timestamp() - 1), now));
        assert!(!is_expired(&at(now.timestamp() + 1), now));
        assert!(!is_expired(&item(&[]), now));
    }

    #[test]
    fn equality_is_numeric_and_set_aware() {
        assert!(values_equal(&AttributeValue::N("1.0".into()), &n(1)));
        assert!(!values_equal(&s("1"), &n(1)));
        assert!(values_equal(
            &AttributeValue::Ss(vec!["a".into(), "b".into()]),
            &AttributeValue::Ss(vec!["b".into(), "a".into()])
        ));
        assert!(values_equal(
            &AttributeValue::Ns(vec!["1".into(), "2.50".into()]),
            &AttributeValue::Ns(vec!["2.5".into(), "1".into()])
        ));
        assert!(!values_equal(
            &AttributeValue::L(vec![n(1), n(2)]),
            &AttributeValue::L(vec![n(2), n(1)])
        ));
    }
}
