//! One conformance suite for the store port, run against both adapters: the SQLite store and
//! the DynamoDB store on a moto server (started by the harness; never skipped).
//!
//! Every test is a generic function over [`Store`]; the `conformance!` macro instantiates it
//! once per adapter (`sqlite::name` and `dynamodb::name`). The table-definition tests at the end
//! check that `infra/table.json`, `template.yaml` and the table created in moto agree.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use chrono::Duration;
use klaxon_aws::dynamo::DynamoStore;
use klaxon_local::store::SqliteStore;
use klaxon_store::item::{MAX_ITEM_BYTES, values_equal};
use klaxon_store::key::{n, s};
use klaxon_store::{
    AttributeValue, CancelReason, Clock, Condition, Cursor, Index, Item, Key, ManualClock, Query,
    ReturnValues, SortCondition, Store, StoreError, StoreExt, TableDefinition, TransactOp,
    UpdateAction,
};
use klaxon_tests::{dynamo_store, dynamodb_client, manual_clock, workspace_root};
use serde::Deserialize;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

// ---------------------------------------------------------------------------------------------
// Fixtures and helpers
// ---------------------------------------------------------------------------------------------

struct Fixture<S> {
    store: Arc<S>,
    clock: Arc<ManualClock>,
    _dir: Option<tempfile::TempDir>,
}

impl<S> Fixture<S> {
    fn now(&self) -> i64 {
        self.clock.now().timestamp()
    }

    fn advance(&self, seconds: i64) {
        self.clock.advance(Duration::seconds(seconds));
    }
}

async fn sqlite_fixture() -> Fixture<SqliteStore> {
    let clock = manual_clock();
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("klaxon.db"), clock.clone()).unwrap();
    Fixture {
        store: Arc::new(store),
        clock,
        _dir: Some(dir),
    }
}

async fn dynamodb_fixture() -> Fixture<DynamoStore> {
    let clock = manual_clock();
    let store = dynamo_store(clock.clone()).await;
    Fixture {
        store: Arc::new(store),
        clock,
        _dir: None,
    }
}

macro_rules! conformance {
    ($($test:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    super::$test(super::sqlite_fixture().await).await;
                }
            )+
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    super::$test(super::dynamodb_fixture().await).await;
                }
            )+
        }
    };
}

fn record(key: &Key, attributes: &[(&str, AttributeValue)]) -> Item {
    let mut item = key.to_item();
    for (name, value) in attributes {
        item.insert((*name).to_owned(), value.clone());
    }
    item
}

/// Same attributes with equal values (numbers as decimals, sets in any order).
fn assert_same_item(actual: &Item, expected: &Item) {
    let actual_names: BTreeSet<&String> = actual.keys().collect();
    let expected_names: BTreeSet<&String> = expected.keys().collect();
    assert_eq!(actual_names, expected_names, "attribute names differ");
    for (name, value) in expected.iter() {
        assert!(
            values_equal(&actual[name], value),
            "attribute {name}: expected {value:?}, got {:?}",
            actual[name]
        );
    }
}

fn text(item: &Item, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::S(value)) => value.clone(),
        other => panic!("attribute {name} is not a string: {other:?}"),
    }
}

fn number(item: &Item, name: &str) -> i64 {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value.parse().unwrap(),
        other => panic!("attribute {name} is not a number: {other:?}"),
    }
}

/// Reads every page of a query and returns the pages.
async fn all_pages<S: Store>(store: &S, query: Query) -> Vec<Vec<Item>> {
    let mut pages = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.query(&query.clone().after(cursor)).await.unwrap();
        pages.push(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return pages,
        }
        assert!(pages.len() < 100, "pagination does not terminate");
    }
}

fn sort_keys(items: &[Item], attribute: &str) -> Vec<String> {
    items.iter().map(|item| text(item, attribute)).collect()
}

use items::{Write, conditional_write};

mod bad_data;
mod concurrency;
mod items;
mod queries;
mod table_definition;
mod transactions;
mod ttl;
