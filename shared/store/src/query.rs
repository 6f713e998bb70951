//! Queries by partition (on the table or a secondary index), sort-key conditions and opaque
//! pagination cursors.

use crate::key::{Index, MAX_PARTITION_KEY_BYTES};
use crate::{AttributeValue, Item, StoreError};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// A condition on the sort key of the queried table or index. Sort keys are strings, compared
/// byte-wise (UTF-8), as DynamoDB does.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SortCondition {
    /// Every sort key.
    #[default]
    All,
    /// Exactly this sort key.
    Equals(String),
    /// Sort keys starting with this prefix.
    BeginsWith(String),
    /// Sort keys from `low` to `high`, both inclusive.
    Between {
        /// Lower bound (inclusive).
        low: String,
        /// Upper bound (inclusive).
        high: String,
    },
    /// Sort keys greater than or equal to this one.
    GreaterOrEqual(String),
    /// Sort keys less than or equal to this one.
    LessOrEqual(String),
    /// Sort keys strictly greater than this one.
    GreaterThan(String),
    /// Sort keys strictly less than this one.
    LessThan(String),
}

impl SortCondition {
    /// Whether a sort key satisfies the condition.
    pub fn matches(&self, sort_key: &str) -> bool {
        match self {
            Self::All => true,
            Self::Equals(value) => sort_key == value,
            Self::BeginsWith(prefix) => sort_key.as_bytes().starts_with(prefix.as_bytes()),
            Self::Between { low, high } => low.as_str() <= sort_key && sort_key <= high.as_str(),
            Self::GreaterOrEqual(value) => sort_key >= value.as_str(),
            Self::LessOrEqual(value) => sort_key <= value.as_str(),
            Self::GreaterThan(value) => sort_key > value.as_str(),
            Self::LessThan(value) => sort_key < value.as_str(),
        }
    }

    fn validate(&self) -> Result<(), StoreError> {
        let field = "query.sort";
        match self {
            Self::All => Ok(()),
            Self::Between { low, high } => {
                if low.is_empty() || high.is_empty() {
                    return Err(StoreError::invalid(field, "bounds must not be empty"));
                }
                if low > high {
                    return Err(StoreError::invalid(
                        field,
                        "the lower bound is greater than the upper bound",
                    ));
                }
                Ok(())
            }
            Self::Equals(value)
            | Self::BeginsWith(value)
            | Self::GreaterOrEqual(value)
            | Self::LessOrEqual(value)
            | Self::GreaterThan(value)
            | Self::LessThan(value) => {
                if value.is_empty() {
                    return Err(StoreError::invalid(field, "the value must not be empty"));
                }
                Ok(())
            }
        }
    }
}

/// Sort order of a query's results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Ascending sort keys.
    #[default]
    Ascending,
    /// Descending sort keys (most recent first for time-ordered keys).
    Descending,
}

/// A query: one partition of the table or of a secondary index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The table or index to read.
    pub index: Index,
    /// The partition key value.
    pub partition: String,
    /// The sort-key condition.
    pub sort: SortCondition,
    /// The result order.
    pub order: Order,
    /// At most this many items per page (`None`: every matching item, in one page).
    pub limit: Option<u32>,
    /// Continue after the page that returned this cursor.
    pub cursor: Option<Cursor>,
}

impl Query {
    /// All items of one table partition, ascending.
    pub fn table(partition: impl Into<String>) -> Self {
        Self::index(Index::Table, partition)
    }

    /// All items of one partition of `index`, ascending.
    pub fn index(index: Index, partition: impl Into<String>) -> Self {
        Self {
            index,
            partition: partition.into(),
            sort: SortCondition::All,
            order: Order::Ascending,
            limit: None,
            cursor: None,
        }
    }

    /// Restricts the sort key.
    pub fn sort(mut self, sort: SortCondition) -> Self {
        self.sort = sort;
        self
    }

    /// Returns results in descending sort-key order.
    pub fn descending(mut self) -> Self {
        self.order = Order::Descending;
        self
    }

    /// Returns at most `limit` items per page.
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Continues after the page that returned `cursor` (no-op for `None`).
    pub fn after(mut self, cursor: Option<Cursor>) -> Self {
        self.cursor = cursor;
        self
    }

    /// Checks the query is well formed, and decodes its cursor into the position to continue
    /// after (the index key plus the table key of the last item returned).
    pub fn validate(&self) -> Result<Option<Item>, StoreError> {
        if self.partition.is_empty() {
            return Err(StoreError::invalid("query.partition", "must not be empty"));
        }
        if self.partition.len() > MAX_PARTITION_KEY_BYTES {
            return Err(StoreError::invalid(
                "query.partition",
                "is longer than a partition key can be",
            ));
        }
        if self.limit == Some(0) {
            return Err(StoreError::invalid("query.limit", "must be at least 1"));
        }
        self.sort.validate()?;
        self.cursor
            .as_ref()
            .map(|cursor| cursor.position(self))
            .transpose()
    }
}

/// One page of query results.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Page {
    /// The items, in the query's order. Expired items are never included.
    pub items: Vec<Item>,
    /// Where the next page starts: `None` when there are no more items. `Some` means there
    /// may be more (the next page can be empty).
    pub next: Option<Cursor>,
}

/// An opaque pagination cursor. Callers may pass it through URLs (`as_str`,
/// `from_token`); a token that was altered or belongs to another query is rejected with
/// [`StoreError::BadCursor`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cursor(String);

#[derive(Serialize, Deserialize)]
struct CursorBody {
    index: String,
    key: Item,
}

impl Cursor {
    /// Wraps a token previously obtained from [`Cursor::as_str`].
    pub fn from_token(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// The token (URL-safe base64).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The cursor that continues after `item` in `index` (the item's position attributes).
    pub fn after_item(index: Index, item: &Item) -> Self {
        let mut key = Item::default();
        for name in index.position_attributes() {
            if let Some(value) = item.get(*name) {
                key.insert((*name).to_owned(), value.clone());
            }
        }
        Self::from_position(index, key)
    }

    /// The cursor for a position (for DynamoDB: `LastEvaluatedKey`).
    pub fn from_position(index: Index, key: Item) -> Self {
        let body = CursorBody {
            index: index.label().to_owned(),
            key,
        };
        // Serialising a map of attribute values to JSON cannot fail; fall back to an empty
        // token (which decodes as a bad cursor) rather than panic.
        let json = serde_json::to_vec(&body).unwrap_or_default();
        Self(URL_SAFE_NO_PAD.encode(json))
    }

    /// Decodes the position this cursor stands for and checks it belongs to `query`.
    pub fn position(&self, query: &Query) -> Result<Item, StoreError> {
        let bad = |reason: &str| StoreError::BadCursor {
            reason: reason.to_owned(),
        };
        let json = URL_SAFE_NO_PAD
            .decode(self.0.as_bytes())
            .map_err(|_| bad("not a cursor token"))?;
        let body: CursorBody =
            serde_json::from_slice(&json).map_err(|_| bad("not a cursor token"))?;
        if body.index != query.index.label() {
            return Err(bad("the cursor belongs to a query on another index"));
        }
        let expected = query.index.position_attributes();
        if body.key.len() != expected.len() {
            return Err(bad("the cursor does not hold a position in this index"));
        }
        for name in expected {
            match body.key.get(*name) {
                Some(AttributeValue::S(value)) if !value.is_empty() => {}
                _ => return Err(bad("the cursor does not hold a position in this index")),
            }
        }
        match query.index.key_of(&body.key) {
            Some((partition, sort)) => {
                if partition != query.partition {
                    return Err(bad("the cursor belongs to another partition"));
                }
                if !query.sort.matches(sort) {
                    return Err(bad("the cursor is outside the query's sort-key range"));
                }
            }
            None => return Err(bad("the cursor does not hold a position in this index")),
        }
        Ok(body.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Key;
    use crate::key::s;

    fn gsi_item(partition: &str, sort: &str) -> Item {
        let mut item = Key::new("INCIDENT#1", "META").to_item();
        item.insert("gsi1pk".into(), s(partition));
        item.insert("gsi1sk".into(), s(sort));
        item.insert("payload".into(), s("not part of the position"));
        item
    }

    #[test]
    fn sort_conditions_compare_bytewise() {
        assert!(SortCondition::BeginsWith("TL#".into()).matches("TL#2026"));
        assert!(!SortCondition::BeginsWith("TL#".into()).matches("TM#"));
        let between = SortCondition::Between {
            low: "b".into(),
            high: "d".into(),
        };
        assert!(between.matches("b") && between.matches("c") && between.matches("d"));
        assert!(!between.matches("a") && !between.matches("da"));
        assert!(SortCondition::GreaterOrEqual("b".into()).matches("b"));
        assert!(!SortCondition::GreaterThan("b".into()).matches("b"));
        assert!(SortCondition::LessOrEqual("b".into()).matches("b"));
        assert!(!SortCondition::LessThan("b".into()).matches("b"));
        // Upper-case sorts before lower-case, as bytes do.
        assert!(SortCondition::LessThan("a".into()).matches("Z"));
    }

    #[test]
    fn cursor_round_trips_and_keeps_only_the_position() {
        let query = Query::index(Index::Gsi1, "OPEN");
        let cursor = Cursor::after_item(Index::Gsi1, &gsi_item("OPEN", "2026-01"));
        let position = query
            .clone()
            .after(Some(cursor))
            .validate()
            .unwrap()
            .unwrap();
        assert_eq!(position.len(), 4);
        assert_eq!(position.get("gsi1sk"), Some(&s("2026-01")));
        assert_eq!(position.get("payload"), None);
    }

    #[test]
    fn foreign_or_damaged_cursors_are_typed_errors() {
        let cursor = Cursor::after_item(Index::Gsi1, &gsi_item("OPEN", "2026-01"));
        let cases = [
            Query::index(Index::Gsi1, "OPEN").after(Some(Cursor::from_token("%%%"))),
            Query::index(Index::Gsi1, "OPEN").after(Some(Cursor::from_token("e30"))),
            Query::index(Index::Gsi2, "OPEN").after(Some(cursor.clone())),
            Query::table("OPEN").after(Some(cursor.clone())),
            Query::index(Index::Gsi1, "CLOSED").after(Some(cursor.clone())),
            Query::index(Index::Gsi1, "OPEN")
                .sort(SortCondition::BeginsWith("2027".into()))
                .after(Some(cursor)),
        ];
        for query in cases {
            assert!(
                matches!(query.validate(), Err(StoreError::BadCursor { .. })),
                "{query:?}"
            );
        }
    }

    #[test]
    fn invalid_queries_are_rejected() {
        assert!(Query::table("").validate().is_err());
        assert!(Query::table("p").limit(0).validate().is_err());
        assert!(
            Query::table("p")
                .sort(SortCondition::Between {
                    low: "z".into(),
                    high: "a".into()
                })
                .validate()
                .is_err()
        );
        assert!(Query::table("p").limit(1).validate().is_ok());
    }
}
