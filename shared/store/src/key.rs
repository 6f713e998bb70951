//! The generic key attributes of the single table, item keys and indexes.

use crate::{AttributeValue, Item};
use std::fmt;

/// Names of the generic attributes every adapter understands.
pub mod attr {
    /// Partition key of the table.
    pub const PK: &str = "pk";
    /// Sort key of the table.
    pub const SK: &str = "sk";
    /// Partition key of index `gsi1` (sparse: only items that set it appear in the index).
    pub const GSI1PK: &str = "gsi1pk";
    /// Sort key of index `gsi1`.
    pub const GSI1SK: &str = "gsi1sk";
    /// Partition key of index `gsi2` (sparse).
    pub const GSI2PK: &str = "gsi2pk";
    /// Sort key of index `gsi2`.
    pub const GSI2SK: &str = "gsi2sk";
    /// Partition key of index `gsi3` (sparse).
    pub const GSI3PK: &str = "gsi3pk";
    /// Sort key of index `gsi3`.
    pub const GSI3SK: &str = "gsi3sk";
    /// Optimistic-lock counter (a number), checked with `Condition::VersionEquals`.
    pub const VERSION: &str = "version";
    /// Expiry time in epoch seconds (an integer number). Items whose `ttl` is at or before the
    /// current time are treated as absent by every operation.
    pub const TTL: &str = "ttl";
}

/// Maximum size in bytes of a partition key value (DynamoDB's limit).
pub const MAX_PARTITION_KEY_BYTES: usize = 2048;
/// Maximum size in bytes of a sort key value (DynamoDB's limit).
pub const MAX_SORT_KEY_BYTES: usize = 1024;

/// The primary key of an item: partition key `pk` and sort key `sk`, both strings.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    /// Partition key value.
    pub pk: String,
    /// Sort key value.
    pub sk: String,
}

impl Key {
    /// A key from its partition and sort key values.
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
        }
    }

    /// The key as an item holding only `pk` and `sk`.
    pub fn to_item(&self) -> Item {
        let mut item = Item::default();
        item.insert(attr::PK.to_owned(), AttributeValue::S(self.pk.clone()));
        item.insert(attr::SK.to_owned(), AttributeValue::S(self.sk.clone()));
        item
    }

    /// The key of an item, when it has string `pk` and `sk` attributes.
    pub fn of_item(item: &Item) -> Option<Self> {
        match (item.get(attr::PK), item.get(attr::SK)) {
            (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) => {
                Some(Self::new(pk.clone(), sk.clone()))
            }
            _ => None,
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(pk={:?}, sk={:?})", self.pk, self.sk)
    }
}

/// Where a query looks: the table itself or one of the overloaded global secondary indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Index {
    /// The table's primary key (`pk`, `sk`); reads are strongly consistent.
    Table,
    /// Index `gsi1` (`gsi1pk`, `gsi1sk`), sparse; reads are eventually consistent on DynamoDB.
    Gsi1,
    /// Index `gsi2` (`gsi2pk`, `gsi2sk`), sparse; reads are eventually consistent on DynamoDB.
    Gsi2,
    /// Index `gsi3` (`gsi3pk`, `gsi3sk`), sparse; reads are eventually consistent on DynamoDB.
    Gsi3,
}

impl Index {
    /// Every secondary index, in definition order.
    pub const SECONDARY: [Index; 3] = [Index::Gsi1, Index::Gsi2, Index::Gsi3];

    /// The index name in the table definition (`None` for the table itself).
    pub fn name(self) -> Option<&'static str> {
        match self {
            Index::Table => None,
            Index::Gsi1 => Some("gsi1"),
            Index::Gsi2 => Some("gsi2"),
            Index::Gsi3 => Some("gsi3"),
        }
    }

    /// The partition key attribute of this index.
    pub fn partition_attribute(self) -> &'static str {
        match self {
            Index::Table => attr::PK,
            Index::Gsi1 => attr::GSI1PK,
            Index::Gsi2 => attr::GSI2PK,
            Index::Gsi3 => attr::GSI3PK,
        }
    }

    /// The sort key attribute of this index.
    pub fn sort_attribute(self) -> &'static str {
        match self {
            Index::Table => attr::SK,
            Index::Gsi1 => attr::GSI1SK,
            Index::Gsi2 => attr::GSI2SK,
            Index::Gsi3 => attr::GSI3SK,
        }
    }

    /// The index with this name (`"table"` for the table itself).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "table" => Some(Index::Table),
            "gsi1" => Some(Index::Gsi1),
            "gsi2" => Some(Index::Gsi2),
            "gsi3" => Some(Index::Gsi3),
            _ => None,
        }
    }

    /// The attributes that identify a position in this index: the index key plus the table key.
    pub fn position_attributes(self) -> &'static [&'static str] {
        match self {
            Index::Table => &[attr::PK, attr::SK],
            Index::Gsi1 => &[attr::GSI1PK, attr::GSI1SK, attr::PK, attr::SK],
            Index::Gsi2 => &[attr::GSI2PK, attr::GSI2SK, attr::PK, attr::SK],
            Index::Gsi3 => &[attr::GSI3PK, attr::GSI3SK, attr::PK, attr::SK],
        }
    }

    /// The index key of an item (partition and sort values), when the item appears in it.
    pub fn key_of(self, item: &Item) -> Option<(&str, &str)> {
        match (
            item.get(self.partition_attribute()),
            item.get(self.sort_attribute()),
        ) {
            (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) => {
                Some((pk.as_str(), sk.as_str()))
            }
            _ => None,
        }
    }

    /// The name used in cursors and messages (`"table"` for the table).
    pub fn label(self) -> &'static str {
        self.name().unwrap_or("table")
    }
}

/// Builds a string attribute value.
pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// Builds a number attribute value from an integer.
pub fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_round_trips_through_an_item() {
        let key = Key::new("INCIDENT#1", "META");
        assert_eq!(Key::of_item(&key.to_item()), Some(key));
    }

    #[test]
    fn key_of_item_requires_string_keys() {
        let mut item = Key::new("a", "b").to_item();
        item.insert(attr::SK.to_owned(), n(1));
        assert_eq!(Key::of_item(&item), None);
    }

    #[test]
    fn index_names_round_trip() {
        for index in [Index::Table, Index::Gsi1, Index::Gsi2, Index::Gsi3] {
            assert_eq!(Index::from_name(index.label()), Some(index));
        }
        assert_eq!(Index::from_name("gsi4"), None);
    }

    #[test]
    fn sparse_index_membership_needs_both_key_attributes() {
        let mut item = Key::new("a", "b").to_item();
        item.insert(attr::GSI1PK.to_owned(), s("OPEN"));
        assert_eq!(Index::Gsi1.key_of(&item), None);
        item.insert(attr::GSI1SK.to_owned(), s("2026"));
        assert_eq!(Index::Gsi1.key_of(&item), Some(("OPEN", "2026")));
        assert_eq!(Index::Gsi2.key_of(&item), None);
    }
}
