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

conformance!(
    put_and_get_round_trip_every_attribute_type,
    put_replaces_the_whole_item,
    every_condition_on_an_existing_item_for_every_write,
    every_condition_on_a_missing_item_for_every_write,
    update_actions_and_return_values,
    optimistic_lock_conflict_is_detected,
    concurrent_optimistic_writers_all_land_once,
    delete_returns_the_old_item,
    table_pagination_across_pages,
    index_pagination_across_pages_on_each_gsi,
    sparse_indexes_hold_only_items_with_both_keys,
    sort_key_conditions_and_order,
    malformed_or_foreign_cursors_are_typed_errors,
    expired_items_are_invisible_to_reads,
    expired_items_count_as_absent_for_conditions,
    update_of_an_expired_item_starts_fresh,
    pagination_skips_expired_items,
    transaction_commits_every_operation,
    transaction_with_one_failing_condition_writes_nothing,
    transaction_treats_expired_items_as_absent,
    transaction_limits_are_enforced,
    concurrent_conditional_puts_have_exactly_one_winner,
    concurrent_counter_adds_are_exact,
    oversized_items_are_rejected,
    corrupt_items_are_typed_errors,
    invalid_requests_are_rejected_before_writing,
);

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

// ---------------------------------------------------------------------------------------------
// Items and conditions
// ---------------------------------------------------------------------------------------------

async fn put_and_get_round_trip_every_attribute_type<S: Store>(f: Fixture<S>) {
    let key = Key::new("TYPES", "all");
    let stored = record(
        &key,
        &[
            ("string", s("héllo ✓")),
            ("number", AttributeValue::N("-12.5".into())),
            (
                "big",
                AttributeValue::N("12345678901234567890123456789012345678".into()),
            ),
            ("binary", AttributeValue::B(vec![0, 1, 254, 255])),
            ("flag", AttributeValue::Bool(true)),
            ("nothing", AttributeValue::Null(true)),
            (
                "list",
                AttributeValue::L(vec![s("a"), n(1), AttributeValue::M(HashMap::new())]),
            ),
            (
                "map",
                AttributeValue::M(HashMap::from([
                    ("nested".to_owned(), AttributeValue::L(vec![])),
                    ("n".to_owned(), n(2)),
                ])),
            ),
            ("strings", AttributeValue::Ss(vec!["a".into(), "b".into()])),
            (
                "numbers",
                AttributeValue::Ns(vec!["1".into(), "2.5".into()]),
            ),
            ("binaries", AttributeValue::Bs(vec![vec![1], vec![2, 3]])),
        ],
    );
    f.store.put(stored.clone(), None).await.unwrap();
    let read = f
        .store
        .get(&key)
        .await
        .unwrap()
        .expect("the item was stored");
    assert_same_item(&read, &stored);
    assert_eq!(
        f.store.get(&Key::new("TYPES", "missing")).await.unwrap(),
        None
    );
}

async fn put_replaces_the_whole_item<S: Store>(f: Fixture<S>) {
    let key = Key::new("REPLACE", "x");
    f.store
        .put(record(&key, &[("old", s("1")), ("shared", n(1))]), None)
        .await
        .unwrap();
    f.store
        .put(record(&key, &[("shared", n(2))]), None)
        .await
        .unwrap();
    let read = f.store.get(&key).await.unwrap().unwrap();
    assert_same_item(&read, &record(&key, &[("shared", n(2))]));
}

#[derive(Debug, Clone, Copy)]
enum Write {
    Put,
    Update,
    Delete,
    Check,
}

const WRITES: [Write; 4] = [Write::Put, Write::Update, Write::Delete, Write::Check];

/// Runs one conditional write and returns its result (a check runs as a one-op transaction).
async fn conditional_write<S: Store>(
    store: &S,
    write: Write,
    key: &Key,
    condition: Condition,
) -> Result<(), StoreError> {
    match write {
        Write::Put => {
            store
                .put(record(key, &[("marker", s("put"))]), Some(condition))
                .await
        }
        Write::Update => store
            .update(
                key,
                vec![UpdateAction::set("marker", s("update"))],
                Some(condition),
                ReturnValues::None,
            )
            .await
            .map(|_| ()),
        Write::Delete => store.delete(key, Some(condition)).await.map(|_| ()),
        Write::Check => {
            store
                .transact(vec![TransactOp::ConditionCheck {
                    key: key.clone(),
                    condition,
                }])
                .await
        }
    }
}

fn base_item(key: &Key) -> Item {
    record(
        key,
        &[
            ("status", s("open")),
            ("version", n(3)),
            ("window_end", n(1000)),
            ("count", n(7)),
        ],
    )
}

fn cases_on_existing_item() -> Vec<(&'static str, Condition, bool)> {
    vec![
        ("not exists", Condition::NotExists, false),
        ("exists", Condition::Exists, true),
        ("version equals", Condition::VersionEquals(3), true),
        ("version differs", Condition::VersionEquals(2), false),
        ("equals", Condition::equals("status", s("open")), true),
        (
            "equals other value",
            Condition::equals("status", s("resolved")),
            false,
        ),
        (
            "equals number spelled differently",
            Condition::equals("count", AttributeValue::N("7.0".into())),
            true,
        ),
        (
            "equals other type",
            Condition::equals("count", s("7")),
            false,
        ),
        (
            "equals missing attribute",
            Condition::equals("missing", s("x")),
            false,
        ),
        (
            "not equals",
            Condition::not_equals("status", s("resolved")),
            true,
        ),
        (
            "not equals same value",
            Condition::not_equals("status", s("open")),
            false,
        ),
        (
            "not equals missing attribute",
            Condition::not_equals("missing", s("x")),
            true,
        ),
        ("absent", Condition::absent("missing"), true),
        ("absent but present", Condition::absent("status"), false),
        ("present", Condition::present("status"), true),
        ("present but missing", Condition::present("missing"), false),
        ("less than", Condition::less_than("window_end", 1001), true),
        (
            "less than at bound",
            Condition::less_than("window_end", 1000),
            false,
        ),
        (
            "less than missing",
            Condition::less_than("missing", 1),
            false,
        ),
        (
            "greater than",
            Condition::greater_than("window_end", 999),
            true,
        ),
        (
            "greater than at bound",
            Condition::greater_than("window_end", 1000),
            false,
        ),
        (
            "and all true",
            Condition::Exists.and(Condition::VersionEquals(3)),
            true,
        ),
        (
            "and one false",
            Condition::Exists.and(Condition::VersionEquals(9)),
            false,
        ),
        (
            "or one true",
            Condition::NotExists.or(Condition::equals("status", s("open"))),
            true,
        ),
        (
            "or all false",
            Condition::NotExists.or(Condition::VersionEquals(9)),
            false,
        ),
        (
            "nested",
            Condition::Or(vec![
                Condition::And(vec![Condition::Exists, Condition::absent("status")]),
                Condition::And(vec![
                    Condition::less_than("window_end", 2000),
                    Condition::not_equals("status", s("resolved")),
                ]),
            ]),
            true,
        ),
    ]
}

async fn every_condition_on_an_existing_item_for_every_write<S: Store>(f: Fixture<S>) {
    let key = Key::new("COND", "existing");
    let base = base_item(&key);
    for (name, condition, holds) in cases_on_existing_item() {
        for write in WRITES {
            f.store.put(base.clone(), None).await.unwrap();
            let result = conditional_write(&*f.store, write, &key, condition.clone()).await;
            let after = f.store.get(&key).await.unwrap();
            let context = format!("{name} / {write:?}");
            if holds {
                result.unwrap_or_else(|e| panic!("{context}: expected success, got {e:?}"));
                match write {
                    Write::Put => assert_eq!(text(&after.unwrap(), "marker"), "put", "{context}"),
                    Write::Update => {
                        let after = after.unwrap();
                        assert_eq!(text(&after, "marker"), "update", "{context}");
                        assert_eq!(text(&after, "status"), "open", "{context}");
                    }
                    Write::Delete => assert_eq!(after, None, "{context}"),
                    Write::Check => assert_same_item(&after.unwrap(), &base),
                }
            } else {
                match (write, result) {
                    (Write::Check, Err(StoreError::TransactionCancelled { reasons })) => {
                        assert_eq!(reasons.len(), 1, "{context}");
                        match &reasons[0] {
                            CancelReason::ConditionFailed { existing } => {
                                assert_same_item(existing.as_deref().unwrap(), &base)
                            }
                            other => panic!("{context}: unexpected reason {other:?}"),
                        }
                    }
                    (
                        _,
                        Err(StoreError::ConditionFailed {
                            key: failed,
                            existing,
                        }),
                    ) => {
                        assert_eq!(failed, key, "{context}");
                        assert_same_item(
                            existing.as_deref().unwrap_or_else(|| {
                                panic!("{context}: the existing item was not returned")
                            }),
                            &base,
                        );
                    }
                    (_, other) => panic!("{context}: expected a condition failure, got {other:?}"),
                }
                assert_same_item(&after.unwrap(), &base);
            }
        }
    }
}

async fn every_condition_on_a_missing_item_for_every_write<S: Store>(f: Fixture<S>) {
    let cases = vec![
        ("not exists", Condition::NotExists, true),
        ("exists", Condition::Exists, false),
        ("version equals", Condition::VersionEquals(1), false),
        ("equals", Condition::equals("status", s("open")), false),
        (
            "not equals",
            Condition::not_equals("status", s("open")),
            true,
        ),
        ("absent", Condition::absent("status"), true),
        ("present", Condition::present("status"), false),
        ("less than", Condition::less_than("window_end", 10), false),
        (
            "greater than",
            Condition::greater_than("window_end", -10),
            false,
        ),
        (
            "and",
            Condition::NotExists.and(Condition::absent("status")),
            true,
        ),
        ("or", Condition::Exists.or(Condition::NotExists), true),
    ];
    for (position, (name, condition, holds)) in cases.into_iter().enumerate() {
        for write in WRITES {
            let key = Key::new("COND", format!("missing-{position}-{write:?}"));
            let result = conditional_write(&*f.store, write, &key, condition.clone()).await;
            let after = f.store.get(&key).await.unwrap();
            let context = format!("{name} / {write:?}");
            if holds {
                result.unwrap_or_else(|e| panic!("{context}: expected success, got {e:?}"));
                match write {
                    Write::Put | Write::Update => assert!(after.is_some(), "{context}"),
                    Write::Delete | Write::Check => assert_eq!(after, None, "{context}"),
                }
            } else {
                match (write, result) {
                    (Write::Check, Err(StoreError::TransactionCancelled { reasons })) => {
                        assert_eq!(
                            reasons,
                            vec![CancelReason::ConditionFailed { existing: None }],
                            "{context}"
                        );
                    }
                    (_, Err(StoreError::ConditionFailed { existing, .. })) => {
                        assert_eq!(existing, None, "{context}");
                    }
                    (_, other) => panic!("{context}: expected a condition failure, got {other:?}"),
                }
                assert_eq!(after, None, "{context}");
            }
        }
    }
}

async fn update_actions_and_return_values<S: Store>(f: Fixture<S>) {
    let key = Key::new("ALERT#int#dedup", "DEDUP");
    let created = f
        .store
        .update(
            &key,
            vec![
                UpdateAction::add("count", 1),
                UpdateAction::set_if_absent("first_seen", n(100)),
                UpdateAction::set("last_seen", n(100)),
                UpdateAction::set("status", s("open")),
            ],
            Some(Condition::NotExists),
            ReturnValues::AllNew,
        )
        .await
        .unwrap()
        .expect("ALL_NEW returns the created item");
    assert_same_item(
        &created,
        &record(
            &key,
            &[
                ("count", n(1)),
                ("first_seen", n(100)),
                ("last_seen", n(100)),
                ("status", s("open")),
            ],
        ),
    );
    let old = f
        .store
        .update(
            &key,
            vec![
                UpdateAction::add("count", 1),
                UpdateAction::set_if_absent("first_seen", n(200)),
                UpdateAction::set("last_seen", n(200)),
            ],
            Some(Condition::equals("status", s("open"))),
            ReturnValues::AllOld,
        )
        .await
        .unwrap()
        .expect("ALL_OLD returns the previous item");
    assert_same_item(&old, &created);
    let nothing = f
        .store
        .update(
            &key,
            vec![
                UpdateAction::remove("status"),
                UpdateAction::add("count", -5),
            ],
            None,
            ReturnValues::None,
        )
        .await
        .unwrap();
    assert_eq!(nothing, None);
    let current = f.store.get(&key).await.unwrap().unwrap();
    assert_same_item(
        &current,
        &record(
            &key,
            &[
                ("count", n(-3)),
                ("first_seen", n(100)),
                ("last_seen", n(200)),
            ],
        ),
    );
    let fresh = f
        .store
        .update(
            &Key::new("ALERT#int#other", "DEDUP"),
            vec![UpdateAction::add("count", 1)],
            None,
            ReturnValues::AllOld,
        )
        .await
        .unwrap();
    assert_eq!(fresh, None, "ALL_OLD of a created item is nothing");
}

async fn optimistic_lock_conflict_is_detected<S: Store>(f: Fixture<S>) {
    let key = Key::new("INCIDENT#1", "INCIDENT");
    f.store
        .put(
            record(&key, &[("version", n(1)), ("status", s("triggered"))]),
            Some(Condition::NotExists),
        )
        .await
        .unwrap();
    // Two writers both read version 1.
    let write = |status: &'static str| {
        let store = f.store.clone();
        let key = key.clone();
        async move {
            store
                .update(
                    &key,
                    vec![
                        UpdateAction::set("status", s(status)),
                        UpdateAction::add("version", 1),
                    ],
                    Some(Condition::VersionEquals(1)),
                    ReturnValues::AllNew,
                )
                .await
        }
    };
    let first = write("acknowledged").await.unwrap().unwrap();
    assert_eq!(number(&first, "version"), 2);
    match write("resolved").await {
        Err(StoreError::ConditionFailed { existing, .. }) => {
            let existing = existing.unwrap();
            assert_eq!(number(&existing, "version"), 2);
            assert_eq!(text(&existing, "status"), "acknowledged");
        }
        other => panic!("expected a version conflict, got {other:?}"),
    }
    let current = f.store.get(&key).await.unwrap().unwrap();
    assert_eq!(text(&current, "status"), "acknowledged");
}

async fn concurrent_optimistic_writers_all_land_once<S: Store + 'static>(f: Fixture<S>) {
    let key = Key::new("INCIDENT#2", "INCIDENT");
    f.store
        .put(record(&key, &[("version", n(1))]), None)
        .await
        .unwrap();
    let writers = 20;
    let tasks: Vec<_> = (0..writers)
        .map(|writer| {
            let store = f.store.clone();
            let key = key.clone();
            tokio::spawn(async move {
                loop {
                    let current = store.get(&key).await.unwrap().unwrap();
                    let version = number(&current, "version");
                    let mut notes = match current.get("notes") {
                        Some(AttributeValue::L(notes)) => notes.clone(),
                        _ => Vec::new(),
                    };
                    notes.push(n(writer));
                    let result = store
                        .update(
                            &key,
                            vec![
                                UpdateAction::set("notes", AttributeValue::L(notes)),
                                UpdateAction::add("version", 1),
                            ],
                            Some(Condition::VersionEquals(version as u64)),
                            ReturnValues::None,
                        )
                        .await;
                    match result {
                        Ok(_) => return,
                        Err(StoreError::ConditionFailed { .. }) => continue,
                        Err(other) => panic!("writer {writer}: {other:?}"),
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let current = f.store.get(&key).await.unwrap().unwrap();
    assert_eq!(number(&current, "version"), 1 + writers);
    let Some(AttributeValue::L(notes)) = current.get("notes") else {
        panic!("notes missing");
    };
    let writers_seen: BTreeSet<String> = notes
        .iter()
        .map(|note| match note {
            AttributeValue::N(value) => value.clone(),
            other => panic!("unexpected note {other:?}"),
        })
        .collect();
    assert_eq!(
        notes.len(),
        writers as usize,
        "no write was lost or doubled"
    );
    assert_eq!(writers_seen.len(), writers as usize);
}

async fn delete_returns_the_old_item<S: Store>(f: Fixture<S>) {
    let key = Key::new("DELETE", "x");
    let stored = record(&key, &[("status", s("open"))]);
    f.store.put(stored.clone(), None).await.unwrap();
    let deleted = f.store.delete(&key, None).await.unwrap().unwrap();
    assert_same_item(&deleted, &stored);
    assert_eq!(f.store.get(&key).await.unwrap(), None);
    assert_eq!(f.store.delete(&key, None).await.unwrap(), None);
}

// ---------------------------------------------------------------------------------------------
// Queries and pagination
// ---------------------------------------------------------------------------------------------

async fn table_pagination_across_pages<S: Store>(f: Fixture<S>) {
    for i in 0..25 {
        let key = Key::new("PAGED", format!("item#{i:02}"));
        f.store
            .put(record(&key, &[("i", n(i))]), None)
            .await
            .unwrap();
    }
    // A neighbouring partition must not leak in.
    f.store
        .put(Key::new("PAGED2", "item#00").to_item(), None)
        .await
        .unwrap();
    let expected: Vec<String> = (0..25).map(|i| format!("item#{i:02}")).collect();

    let pages = all_pages(&*f.store, Query::table("PAGED").limit(10)).await;
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![10, 10, 5]
    );
    assert_eq!(sort_keys(&pages.concat(), "sk"), expected);

    let pages = all_pages(&*f.store, Query::table("PAGED").limit(10).descending()).await;
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![10, 10, 5]
    );
    let mut reversed = expected.clone();
    reversed.reverse();
    assert_eq!(sort_keys(&pages.concat(), "sk"), reversed);

    let everything = f.store.query(&Query::table("PAGED")).await.unwrap();
    assert_eq!(everything.next, None);
    assert_eq!(sort_keys(&everything.items, "sk"), expected);
}

async fn index_pagination_across_pages_on_each_gsi<S: Store>(f: Fixture<S>) {
    for i in 0..25 {
        let key = Key::new(format!("INCIDENT#{i:02}"), "INCIDENT");
        let item = record(
            &key,
            &[
                ("gsi1pk", s("OPEN")),
                ("gsi1sk", s(format!("2026-01-01T00:00:{i:02}Z#{i:02}"))),
                ("gsi2pk", s("ALL")),
                ("gsi2sk", s(format!("{:020}", 1000 + i))),
                ("gsi3pk", s("DUE")),
                ("gsi3sk", s(format!("2026-01-02T00:{i:02}:00Z#{i:02}"))),
            ],
        );
        f.store.put(item, None).await.unwrap();
    }
    let expected: Vec<String> = (0..25).map(|i| format!("INCIDENT#{i:02}")).collect();
    let partitions = [
        (Index::Gsi1, "OPEN"),
        (Index::Gsi2, "ALL"),
        (Index::Gsi3, "DUE"),
    ];
    assert_eq!(
        partitions.map(|(index, _)| index),
        Index::SECONDARY,
        "every secondary index is exercised"
    );
    for (index, partition) in partitions {
        let pages = all_pages(&*f.store, Query::index(index, partition).limit(10)).await;
        assert_eq!(
            pages.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![10, 10, 5],
            "{index:?}"
        );
        assert_eq!(sort_keys(&pages.concat(), "pk"), expected, "{index:?}");
        let pages = all_pages(
            &*f.store,
            Query::index(index, partition).limit(7).descending(),
        )
        .await;
        let mut reversed = expected.clone();
        reversed.reverse();
        assert_eq!(sort_keys(&pages.concat(), "pk"), reversed, "{index:?}");
    }
    // Lookup by an exact index sort key (incident by number).
    let page = f
        .store
        .query(
            &Query::index(Index::Gsi2, "ALL").sort(SortCondition::Equals(format!("{:020}", 1007))),
        )
        .await
        .unwrap();
    assert_eq!(sort_keys(&page.items, "pk"), vec!["INCIDENT#07".to_owned()]);
}

async fn sparse_indexes_hold_only_items_with_both_keys<S: Store>(f: Fixture<S>) {
    let open = Key::new("INCIDENT#A", "INCIDENT");
    f.store
        .put(
            record(&open, &[("gsi1pk", s("OPEN")), ("gsi1sk", s("1"))]),
            None,
        )
        .await
        .unwrap();
    f.store
        .put(
            record(
                &Key::new("INCIDENT#B", "INCIDENT"),
                &[("gsi1pk", s("OPEN"))],
            ),
            None,
        )
        .await
        .unwrap();
    f.store
        .put(Key::new("INCIDENT#C", "INCIDENT").to_item(), None)
        .await
        .unwrap();
    let page = f
        .store
        .query(&Query::index(Index::Gsi1, "OPEN"))
        .await
        .unwrap();
    assert_eq!(sort_keys(&page.items, "pk"), vec!["INCIDENT#A".to_owned()]);
    // Resolving removes the index keys: the item leaves the index.
    f.store
        .update(
            &open,
            vec![
                UpdateAction::remove("gsi1pk"),
                UpdateAction::remove("gsi1sk"),
            ],
            None,
            ReturnValues::None,
        )
        .await
        .unwrap();
    let page = f
        .store
        .query(&Query::index(Index::Gsi1, "OPEN"))
        .await
        .unwrap();
    assert!(page.items.is_empty());
    // Moving an item between partitions of an index.
    f.store
        .update(
            &open,
            vec![
                UpdateAction::set("gsi1pk", s("ESCALATION_DUE")),
                UpdateAction::set("gsi1sk", s("2026-01-01T00:05:00Z")),
            ],
            None,
            ReturnValues::None,
        )
        .await
        .unwrap();
    let page = f
        .store
        .query(&Query::index(Index::Gsi1, "ESCALATION_DUE"))
        .await
        .unwrap();
    assert_eq!(sort_keys(&page.items, "pk"), vec!["INCIDENT#A".to_owned()]);
    // One item in a partition of each index at once (an open incident whose escalation is due
    // sits in the open list on gsi1 and in the due list on gsi3).
    f.store
        .update(
            &open,
            vec![
                UpdateAction::set("gsi1pk", s("OPEN")),
                UpdateAction::set("gsi3pk", s("DUE")),
                UpdateAction::set("gsi3sk", s("2026-01-01T00:05:00Z")),
            ],
            None,
            ReturnValues::None,
        )
        .await
        .unwrap();
    for (index, partition) in [(Index::Gsi1, "OPEN"), (Index::Gsi3, "DUE")] {
        let page = f
            .store
            .query(&Query::index(index, partition))
            .await
            .unwrap();
        assert_eq!(
            sort_keys(&page.items, "pk"),
            vec!["INCIDENT#A".to_owned()],
            "{index:?}"
        );
    }
}

async fn sort_key_conditions_and_order<S: Store>(f: Fixture<S>) {
    let sort_keys_stored = ["a#1", "a#2", "a#3", "b#1", "b#2", "c"];
    for sk in sort_keys_stored {
        f.store
            .put(Key::new("SORTED", sk).to_item(), None)
            .await
            .unwrap();
    }
    let strings = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let cases: Vec<(SortCondition, Vec<String>)> = vec![
        (SortCondition::All, strings(&sort_keys_stored)),
        (SortCondition::Equals("b#1".into()), strings(&["b#1"])),
        (
            SortCondition::BeginsWith("a#".into()),
            strings(&["a#1", "a#2", "a#3"]),
        ),
        (
            SortCondition::Between {
                low: "a#2".into(),
                high: "b#1".into(),
            },
            strings(&["a#2", "a#3", "b#1"]),
        ),
        (
            SortCondition::GreaterOrEqual("b#1".into()),
            strings(&["b#1", "b#2", "c"]),
        ),
        (
            SortCondition::LessOrEqual("a#2".into()),
            strings(&["a#1", "a#2"]),
        ),
        (
            SortCondition::GreaterThan("b#1".into()),
            strings(&["b#2", "c"]),
        ),
        (SortCondition::LessThan("a#2".into()), strings(&["a#1"])),
        (SortCondition::BeginsWith("d".into()), vec![]),
    ];
    for (condition, expected) in cases {
        let query = Query::table("SORTED").sort(condition.clone());
        let page = f.store.query(&query).await.unwrap();
        assert_eq!(sort_keys(&page.items, "sk"), expected, "{condition:?}");
        let paged = all_pages(&*f.store, query.clone().limit(2)).await.concat();
        assert_eq!(sort_keys(&paged, "sk"), expected, "{condition:?} paged");
        let backwards = all_pages(&*f.store, query.descending().limit(2))
            .await
            .concat();
        let mut reversed = expected.clone();
        reversed.reverse();
        assert_eq!(
            sort_keys(&backwards, "sk"),
            reversed,
            "{condition:?} descending"
        );
    }
}

async fn malformed_or_foreign_cursors_are_typed_errors<S: Store>(f: Fixture<S>) {
    for i in 0..3 {
        let item = record(
            &Key::new("CURSOR", format!("{i}")),
            &[("gsi1pk", s("CURSOR")), ("gsi1sk", s(format!("{i}")))],
        );
        f.store.put(item, None).await.unwrap();
    }
    let first = f
        .store
        .query(&Query::table("CURSOR").limit(1))
        .await
        .unwrap();
    let cursor = first.next.expect("more pages");
    let bad = [
        Query::table("CURSOR").after(Some(Cursor::from_token("not a cursor!"))),
        Query::table("CURSOR").after(Some(Cursor::from_token("eyJ4IjoxfQ"))),
        Query::table("OTHER").after(Some(cursor.clone())),
        Query::index(Index::Gsi1, "CURSOR").after(Some(cursor.clone())),
        Query::table("CURSOR")
            .sort(SortCondition::BeginsWith("9".into()))
            .after(Some(cursor.clone())),
    ];
    for query in bad {
        match f.store.query(&query).await {
            Err(StoreError::BadCursor { .. }) => {}
            other => panic!("{query:?}: expected BadCursor, got {other:?}"),
        }
    }
    let next = f
        .store
        .query(&Query::table("CURSOR").limit(1).after(Some(cursor)))
        .await
        .unwrap();
    assert_eq!(sort_keys(&next.items, "sk"), vec!["1".to_owned()]);
}

// ---------------------------------------------------------------------------------------------
// TTL
// ---------------------------------------------------------------------------------------------

async fn expired_items_are_invisible_to_reads<S: Store>(f: Fixture<S>) {
    let key = Key::new("IDEMP#m1", "IDEMP");
    let expiring = record(
        &key,
        &[
            ("ttl", n(f.now() + 60)),
            ("gsi1pk", s("EXPIRING")),
            ("gsi1sk", s("1")),
        ],
    );
    f.store.put(expiring, None).await.unwrap();
    f.store
        .put(
            record(
                &Key::new("IDEMP#m1", "KEEP"),
                &[("gsi1pk", s("EXPIRING")), ("gsi1sk", s("2"))],
            ),
            None,
        )
        .await
        .unwrap();
    f.advance(59);
    assert!(f.store.get(&key).await.unwrap().is_some());
    assert_eq!(
        f.store
            .query(&Query::table("IDEMP#m1"))
            .await
            .unwrap()
            .items
            .len(),
        2
    );
    f.advance(1); // ttl == now: expired
    assert_eq!(f.store.get(&key).await.unwrap(), None);
    let table = f.store.query(&Query::table("IDEMP#m1")).await.unwrap();
    assert_eq!(sort_keys(&table.items, "sk"), vec!["KEEP".to_owned()]);
    let index = f
        .store
        .query(&Query::index(Index::Gsi1, "EXPIRING"))
        .await
        .unwrap();
    assert_eq!(sort_keys(&index.items, "sk"), vec!["KEEP".to_owned()]);
    assert_eq!(f.store.delete(&key, None).await.unwrap(), None);
}

async fn expired_items_count_as_absent_for_conditions<S: Store>(f: Fixture<S>) {
    let key = Key::new("IDEMP#m2", "IDEMP");
    let first = record(
        &key,
        &[
            ("status", s("done")),
            ("result", s("202")),
            ("ttl", n(f.now() + 60)),
        ],
    );
    f.store
        .put(first.clone(), Some(Condition::NotExists))
        .await
        .unwrap();
    match f
        .store
        .put(
            record(&key, &[("status", s("processing"))]),
            Some(Condition::NotExists),
        )
        .await
    {
        Err(StoreError::ConditionFailed { existing, .. }) => {
            assert_same_item(existing.as_deref().unwrap(), &first)
        }
        other => panic!("a live record must block a duplicate, got {other:?}"),
    }
    // One expiring record per kind of write, so no write disturbs another's record.
    let others: Vec<(Write, Key)> = [Write::Update, Write::Delete, Write::Check]
        .into_iter()
        .map(|write| (write, Key::new("IDEMP#m2", format!("{write:?}"))))
        .collect();
    for (_, other) in &others {
        let expiring = record(other, &[("status", s("done")), ("ttl", n(f.now() + 60))]);
        f.store.put(expiring, None).await.unwrap();
    }
    f.advance(60);
    // An expired record reads as absent: NotExists lets a new record replace it, without any
    // of its attributes ...
    let second = record(
        &key,
        &[("status", s("processing")), ("ttl", n(f.now() + 60))],
    );
    f.store
        .put(second.clone(), Some(Condition::NotExists))
        .await
        .unwrap();
    assert_same_item(&f.store.get(&key).await.unwrap().unwrap(), &second);
    // ... and Exists fails, with no existing item to report.
    for (write, other) in &others {
        match conditional_write(&*f.store, *write, other, Condition::Exists).await {
            Err(StoreError::ConditionFailed { existing, .. }) => assert_eq!(existing, None),
            Err(StoreError::TransactionCancelled { reasons }) => {
                assert_eq!(
                    reasons,
                    vec![CancelReason::ConditionFailed { existing: None }]
                )
            }
            result => panic!("{write:?}: expected a condition failure, got {result:?}"),
        }
    }
}

async fn update_of_an_expired_item_starts_fresh<S: Store>(f: Fixture<S>) {
    let conditions = [
        None,
        Some(Condition::NotExists),
        Some(Condition::absent("count")),
    ];
    let keys: Vec<Key> = (0..conditions.len())
        .map(|i| Key::new("ALERT#int#expired", format!("DEDUP#{i}")))
        .collect();
    for key in &keys {
        let stale = record(
            key,
            &[
                ("count", n(5)),
                ("first_seen", n(1)),
                ("stale", s("from the old record")),
                ("ttl", n(f.now() + 10)),
            ],
        );
        f.store.put(stale, None).await.unwrap();
    }
    f.advance(10);
    for (key, condition) in keys.iter().zip(conditions) {
        let old = f
            .store
            .update(
                key,
                vec![
                    UpdateAction::add("count", 1),
                    UpdateAction::set_if_absent("first_seen", n(2)),
                ],
                condition.clone(),
                ReturnValues::AllOld,
            )
            .await
            .unwrap_or_else(|e| panic!("{condition:?}: {e:?}"));
        assert_eq!(
            old, None,
            "{condition:?}: the expired record is not the old value"
        );
        let current = f.store.get(key).await.unwrap().unwrap();
        assert_same_item(
            &current,
            &record(key, &[("count", n(1)), ("first_seen", n(2))]),
        );
    }
}

async fn pagination_skips_expired_items<S: Store>(f: Fixture<S>) {
    for i in 0..25 {
        let mut attributes = vec![("i", n(i))];
        if i % 5 == 2 {
            attributes.push(("ttl", n(f.now() + 30)));
        }
        let key = Key::new("MIXED", format!("item#{i:02}"));
        f.store.put(record(&key, &attributes), None).await.unwrap();
    }
    f.advance(30);
    let expected: Vec<String> = (0..25)
        .filter(|i| i % 5 != 2)
        .map(|i| format!("item#{i:02}"))
        .collect();
    let pages = all_pages(&*f.store, Query::table("MIXED").limit(10)).await;
    assert!(pages.iter().all(|page| page.len() <= 10));
    // Every page but the last is full: expired items do not make short pages.
    let full_pages = pages.iter().filter(|page| page.len() == 10).count();
    assert_eq!(
        full_pages,
        2,
        "{:?}",
        pages.iter().map(Vec::len).collect::<Vec<_>>()
    );
    assert_eq!(sort_keys(&pages.concat(), "sk"), expected);
}

// ---------------------------------------------------------------------------------------------
// Transactions
// ---------------------------------------------------------------------------------------------

async fn transaction_setup<S: Store>(f: &Fixture<S>, prefix: &str) -> [Key; 4] {
    let keys = [
        Key::new(format!("{prefix}#A"), "x"),
        Key::new(format!("{prefix}#B"), "x"),
        Key::new(format!("{prefix}#C"), "x"),
        Key::new(format!("{prefix}#D"), "x"),
    ];
    f.store
        .put(record(&keys[1], &[("count", n(1))]), None)
        .await
        .unwrap();
    f.store.put(keys[2].to_item(), None).await.unwrap();
    f.store
        .put(record(&keys[3], &[("status", s("open"))]), None)
        .await
        .unwrap();
    keys
}

fn transaction_ops(keys: &[Key; 4], check_status: &str) -> Vec<TransactOp> {
    vec![
        TransactOp::Put {
            item: record(&keys[0], &[("new", AttributeValue::Bool(true))]),
            condition: Some(Condition::NotExists),
        },
        TransactOp::Update {
            key: keys[1].clone(),
            actions: vec![UpdateAction::add("count", 1)],
            condition: Some(Condition::Exists),
        },
        TransactOp::Delete {
            key: keys[2].clone(),
            condition: Some(Condition::Exists),
        },
        TransactOp::ConditionCheck {
            key: keys[3].clone(),
            condition: Condition::equals("status", s(check_status)),
        },
    ]
}

async fn transaction_commits_every_operation<S: Store>(f: Fixture<S>) {
    let keys = transaction_setup(&f, "TXOK").await;
    f.store
        .transact(transaction_ops(&keys, "open"))
        .await
        .unwrap();
    assert!(f.store.get(&keys[0]).await.unwrap().is_some());
    assert_eq!(
        number(&f.store.get(&keys[1]).await.unwrap().unwrap(), "count"),
        2
    );
    assert_eq!(f.store.get(&keys[2]).await.unwrap(), None);
    assert_eq!(
        text(&f.store.get(&keys[3]).await.unwrap().unwrap(), "status"),
        "open"
    );
}

async fn transaction_with_one_failing_condition_writes_nothing<S: Store>(f: Fixture<S>) {
    let keys = transaction_setup(&f, "TXFAIL").await;
    match f.store.transact(transaction_ops(&keys, "resolved")).await {
        Err(StoreError::TransactionCancelled { reasons }) => {
            assert_eq!(reasons.len(), 4);
            assert_eq!(
                reasons[..3],
                [CancelReason::None, CancelReason::None, CancelReason::None]
            );
            match &reasons[3] {
                CancelReason::ConditionFailed { existing } => assert_same_item(
                    existing.as_deref().unwrap(),
                    &record(&keys[3], &[("status", s("open"))]),
                ),
                other => panic!("unexpected reason {other:?}"),
            }
        }
        other => panic!("expected a cancelled transaction, got {other:?}"),
    }
    assert_eq!(
        f.store.get(&keys[0]).await.unwrap(),
        None,
        "put was not applied"
    );
    assert_eq!(
        number(&f.store.get(&keys[1]).await.unwrap().unwrap(), "count"),
        1
    );
    assert!(
        f.store.get(&keys[2]).await.unwrap().is_some(),
        "delete was not applied"
    );

    // The first operation failing instead: the reason sits at its position.
    f.store
        .put(record(&keys[0], &[("winner", s("earlier"))]), None)
        .await
        .unwrap();
    match f.store.transact(transaction_ops(&keys, "open")).await {
        Err(StoreError::TransactionCancelled { reasons }) => {
            assert!(matches!(
                reasons[0],
                CancelReason::ConditionFailed { existing: Some(_) }
            ));
            assert_eq!(
                reasons[1..],
                [CancelReason::None, CancelReason::None, CancelReason::None]
            );
        }
        other => panic!("expected a cancelled transaction, got {other:?}"),
    }
    assert_eq!(
        number(&f.store.get(&keys[1]).await.unwrap().unwrap(), "count"),
        1
    );
    assert!(f.store.get(&keys[2]).await.unwrap().is_some());
}

async fn transaction_treats_expired_items_as_absent<S: Store>(f: Fixture<S>) {
    let idempotency = Key::new("TXTTL#IDEMP", "IDEMP");
    let counter = Key::new("TXTTL#COUNTER", "DEDUP");
    let expires = f.now() + 10;
    f.store
        .put(record(&idempotency, &[("ttl", n(expires))]), None)
        .await
        .unwrap();
    f.store
        .put(
            record(&counter, &[("count", n(41)), ("ttl", n(expires))]),
            None,
        )
        .await
        .unwrap();
    f.advance(10);
    f.store
        .transact(vec![
            TransactOp::Put {
                item: record(&idempotency, &[("status", s("processing"))]),
                condition: Some(Condition::NotExists),
            },
            TransactOp::Update {
                key: counter.clone(),
                actions: vec![UpdateAction::add("count", 1)],
                condition: Some(Condition::NotExists),
            },
        ])
        .await
        .unwrap();
    assert_eq!(
        text(&f.store.get(&idempotency).await.unwrap().unwrap(), "status"),
        "processing"
    );
    let counted = f.store.get(&counter).await.unwrap().unwrap();
    assert_same_item(&counted, &record(&counter, &[("count", n(1))]));
}

async fn transaction_limits_are_enforced<S: Store>(f: Fixture<S>) {
    let put = |i: usize| TransactOp::Put {
        item: Key::new(format!("TXLIMIT#{i}"), "x").to_item(),
        condition: Some(Condition::NotExists),
    };
    let invalid: Vec<(&str, Vec<TransactOp>)> = vec![
        ("empty", vec![]),
        ("too many", (0..101).map(put).collect()),
        ("same item twice", vec![put(1), put(1)]),
    ];
    for (name, ops) in invalid {
        match f.store.transact(ops).await {
            Err(StoreError::InvalidRequest { .. }) => {}
            other => panic!("{name}: expected InvalidRequest, got {other:?}"),
        }
    }
    assert_eq!(
        f.store.get(&Key::new("TXLIMIT#1", "x")).await.unwrap(),
        None
    );
    // 25 operations (moto's own transaction limit; DynamoDB allows 100).
    f.store.transact((0..25).map(put).collect()).await.unwrap();
    for i in 0..25 {
        assert!(
            f.store
                .get(&Key::new(format!("TXLIMIT#{i}"), "x"))
                .await
                .unwrap()
                .is_some()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------------------------

async fn concurrent_conditional_puts_have_exactly_one_winner<S: Store + 'static>(f: Fixture<S>) {
    let key = Key::new("GROUP#g1", "OPEN");
    let tasks: Vec<_> = (0..200)
        .map(|contender| {
            let store = f.store.clone();
            let key = key.clone();
            tokio::spawn(async move {
                let item = record(&key, &[("incident", n(contender))]);
                (contender, store.put(item, Some(Condition::NotExists)).await)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        let (contender, result) = task.await.unwrap();
        match result {
            Ok(()) => winners.push(contender),
            Err(StoreError::ConditionFailed { existing, .. }) => {
                assert!(existing.is_some(), "the losing write sees the winner");
            }
            Err(other) => panic!("contender {contender}: {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    let stored = f.store.get(&key).await.unwrap().unwrap();
    assert_eq!(number(&stored, "incident"), winners[0]);
}

async fn concurrent_counter_adds_are_exact<S: Store + 'static>(f: Fixture<S>) {
    let key = Key::new("ALERT#int#storm", "DEDUP");
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let store = f.store.clone();
            let key = key.clone();
            tokio::spawn(async move {
                store
                    .update(
                        &key,
                        vec![
                            UpdateAction::add("count", 1),
                            UpdateAction::set_if_absent("first_seen", n(1)),
                        ],
                        None,
                        ReturnValues::AllNew,
                    )
                    .await
            })
        })
        .collect();
    let mut seen = BTreeSet::new();
    for task in tasks {
        let item = task.await.unwrap().unwrap().unwrap();
        seen.insert(number(&item, "count"));
    }
    // Each add saw a distinct count: no two read the same value.
    assert_eq!(seen, (1..=100).collect::<BTreeSet<i64>>());
    assert_eq!(
        number(&f.store.get(&key).await.unwrap().unwrap(), "count"),
        100
    );
}

// ---------------------------------------------------------------------------------------------
// Bad data
// ---------------------------------------------------------------------------------------------

async fn oversized_items_are_rejected<S: Store>(f: Fixture<S>) {
    let key = Key::new("BIG", "payload");
    let too_big = record(&key, &[("raw", s("x".repeat(500 * 1024)))]);
    match f.store.put(too_big.clone(), None).await {
        Err(StoreError::ItemTooLarge {
            key: k,
            size,
            limit,
        }) => {
            assert_eq!(k, key);
            assert!(size.unwrap() > limit);
            assert_eq!(limit, MAX_ITEM_BYTES);
        }
        other => panic!("expected ItemTooLarge, got {other:?}"),
    }
    assert_eq!(f.store.get(&key).await.unwrap(), None);
    match f
        .store
        .update(
            &key,
            vec![UpdateAction::set("raw", s("x".repeat(500 * 1024)))],
            None,
            ReturnValues::None,
        )
        .await
    {
        Err(StoreError::ItemTooLarge { .. }) => {}
        other => panic!("expected ItemTooLarge, got {other:?}"),
    }
    match f
        .store
        .transact(vec![TransactOp::Put {
            item: too_big,
            condition: None,
        }])
        .await
    {
        Err(StoreError::ItemTooLarge { .. }) => {}
        other => panic!("expected ItemTooLarge, got {other:?}"),
    }
    assert_eq!(f.store.get(&key).await.unwrap(), None);
    // A large item under the limit is fine, and growing it past the limit is refused.
    let large = record(&key, &[("raw", s("y".repeat(300 * 1024)))]);
    f.store.put(large.clone(), None).await.unwrap();
    assert_same_item(&f.store.get(&key).await.unwrap().unwrap(), &large);
    match f
        .store
        .update(
            &key,
            vec![UpdateAction::set("more", s("z".repeat(200 * 1024)))],
            None,
            ReturnValues::None,
        )
        .await
    {
        Err(StoreError::ItemTooLarge { key: k, .. }) => assert_eq!(k, key),
        other => panic!("expected ItemTooLarge, got {other:?}"),
    }
    assert_same_item(&f.store.get(&key).await.unwrap().unwrap(), &large);
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct DedupRecord {
    pk: String,
    sk: String,
    count: u64,
    status: String,
}

async fn corrupt_items_are_typed_errors<S: Store>(f: Fixture<S>) {
    let key = Key::new("ALERT#int#corrupt", "DEDUP");
    let corrupt = record(&key, &[("count", s("many")), ("status", s("open"))]);
    f.store.put(corrupt.clone(), None).await.unwrap();
    match f.store.get_typed::<DedupRecord>(&key).await {
        Err(StoreError::Corrupt {
            key: k, attribute, ..
        }) => {
            assert_eq!(k, key);
            assert_eq!(attribute, "count");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    match f
        .store
        .update(
            &key,
            vec![UpdateAction::add("count", 1)],
            None,
            ReturnValues::None,
        )
        .await
    {
        Err(StoreError::Corrupt { attribute, .. }) => assert_eq!(attribute, "count"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    match f
        .store
        .transact(vec![TransactOp::Update {
            key: key.clone(),
            actions: vec![UpdateAction::add("count", 1)],
            condition: Some(Condition::Exists),
        }])
        .await
    {
        Err(StoreError::Corrupt { attribute, .. }) => assert_eq!(attribute, "count"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    assert_same_item(&f.store.get(&key).await.unwrap().unwrap(), &corrupt);
    // A well-formed record decodes.
    let good = Key::new("ALERT#int#good", "DEDUP");
    f.store
        .put(
            record(&good, &[("count", n(2)), ("status", s("open"))]),
            None,
        )
        .await
        .unwrap();
    let decoded = f
        .store
        .get_typed::<DedupRecord>(&good)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(decoded.count, 2);
}

async fn invalid_requests_are_rejected_before_writing<S: Store>(f: Fixture<S>) {
    let key = Key::new("INVALID", "x");
    let mut no_sort_key = key.to_item();
    no_sort_key.remove("sk");
    let cases: Vec<(&str, Result<(), StoreError>)> = vec![
        ("missing sk", f.store.put(no_sort_key, None).await),
        (
            "ttl not a number",
            f.store.put(record(&key, &[("ttl", s("soon"))]), None).await,
        ),
        (
            "index key not a string",
            f.store.put(record(&key, &[("gsi1pk", n(1))]), None).await,
        ),
        (
            "empty set",
            f.store
                .put(record(&key, &[("tags", AttributeValue::Ss(vec![]))]), None)
                .await,
        ),
        (
            "empty And",
            f.store
                .put(key.to_item(), Some(Condition::And(vec![])))
                .await,
        ),
        (
            "update of the key",
            f.store
                .update(
                    &key,
                    vec![UpdateAction::set("pk", s("other"))],
                    None,
                    ReturnValues::None,
                )
                .await
                .map(|_| ()),
        ),
        (
            "update without actions",
            f.store
                .update(&key, vec![], None, ReturnValues::None)
                .await
                .map(|_| ()),
        ),
        (
            "empty key",
            f.store.get(&Key::new("", "x")).await.map(|_| ()),
        ),
        (
            "limit zero",
            f.store
                .query(&Query::table("INVALID").limit(0))
                .await
                .map(|_| ()),
        ),
    ];
    for (name, result) in cases {
        match result {
            Err(StoreError::InvalidRequest { .. }) => {}
            other => panic!("{name}: expected InvalidRequest, got {other:?}"),
        }
    }
    assert_eq!(f.store.get(&key).await.unwrap(), None);
}

// ---------------------------------------------------------------------------------------------
// Table definition: infra/table.json, template.yaml and the table created in moto agree
// ---------------------------------------------------------------------------------------------

/// The `Table` resource block of template.yaml, between its `# BEGIN klaxon-table` and
/// `# END klaxon-table` markers (the rest of the template may use CloudFormation tags that a
/// plain YAML parser does not know; the block does not).
fn template_table_resource() -> serde_json::Value {
    let template = std::fs::read_to_string(workspace_root().join("template.yaml"))
        .expect("template.yaml exists at the workspace root");
    let lines: Vec<&str> = template.lines().collect();
    let begin = lines
        .iter()
        .position(|l| l.trim() == "# BEGIN klaxon-table")
        .expect("template.yaml marks the table block with `# BEGIN klaxon-table`");
    let end = lines
        .iter()
        .position(|l| l.trim() == "# END klaxon-table")
        .expect("template.yaml marks the table block with `# END klaxon-table`");
    assert!(begin < end);
    // The block must sit inside the top-level Resources section.
    let section = lines[..begin]
        .iter()
        .rev()
        .find(|l| !l.starts_with(' ') && !l.starts_with('#') && !l.trim().is_empty())
        .expect("a top-level section precedes the table block");
    assert_eq!(
        section.trim(),
        "Resources:",
        "the table block is not under Resources"
    );
    let block: Vec<&str> = lines[begin + 1..end].to_vec();
    let indent = block
        .iter()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .expect("the table block is not empty");
    let dedented: String = block
        .iter()
        .map(|l| {
            if l.len() >= indent {
                &l[indent..]
            } else {
                l.trim_start()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let parsed: serde_json::Value =
        serde_saphyr::from_str(&dedented).expect("the table block is plain YAML");
    assert_eq!(
        template.matches("AWS::DynamoDB::Table").count(),
        1,
        "template.yaml has exactly one table, the one in the marked block"
    );
    parsed
}

#[test]
fn template_table_matches_the_table_definition() {
    let resource = template_table_resource();
    let table = &resource["Table"];
    assert_eq!(table["Type"], "AWS::DynamoDB::Table");
    let definition: serde_json::Value =
        serde_json::from_str(klaxon_store::table::TABLE_DEFINITION_JSON).unwrap();
    assert_eq!(
        table["Properties"], definition,
        "template.yaml's Table properties drifted from infra/table.json"
    );
    // And both satisfy the port (key names, indexes, TTL attribute).
    let typed: TableDefinition = serde_json::from_value(table["Properties"].clone()).unwrap();
    typed.check_port().unwrap();
    assert!(
        typed
            .point_in_time_recovery_specification
            .point_in_time_recovery_enabled
    );
}

#[tokio::test]
async fn table_created_in_moto_matches_the_definition() {
    let store = dynamo_store(manual_clock()).await;
    let client = dynamodb_client().await;
    let definition = TableDefinition::load().unwrap();
    let description = client
        .describe_table()
        .table_name(store.table_name())
        .send()
        .await
        .unwrap();
    let table = description.table().unwrap();
    let keys = |schema: &[aws_sdk_dynamodb::types::KeySchemaElement]| {
        schema
            .iter()
            .map(|k| {
                (
                    k.attribute_name().to_owned(),
                    k.key_type().as_str().to_owned(),
                )
            })
            .collect::<Vec<_>>()
    };
    let expected_keys = |schema: &[klaxon_store::table::KeySchemaElement]| {
        schema
            .iter()
            .map(|k| {
                let kind = match k.key_type {
                    klaxon_store::table::KeyType::Hash => "HASH",
                    klaxon_store::table::KeyType::Range => "RANGE",
                };
                (k.attribute_name.clone(), kind.to_owned())
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        keys(table.key_schema()),
        expected_keys(&definition.key_schema)
    );
    let indexes = table.global_secondary_indexes();
    assert_eq!(indexes.len(), definition.global_secondary_indexes.len());
    for expected in &definition.global_secondary_indexes {
        let index = indexes
            .iter()
            .find(|i| i.index_name() == Some(expected.index_name.as_str()))
            .unwrap_or_else(|| panic!("index {} missing", expected.index_name));
        assert_eq!(
            keys(index.key_schema()),
            expected_keys(&expected.key_schema)
        );
        assert_eq!(
            index
                .projection()
                .and_then(|p| p.projection_type())
                .map(|p| p.as_str()),
            Some(expected.projection.projection_type.as_str())
        );
    }
    assert_eq!(
        table
            .billing_mode_summary()
            .and_then(|b| b.billing_mode())
            .map(|b| b.as_str()),
        Some(definition.billing_mode.as_str())
    );
    let ttl = client
        .describe_time_to_live()
        .table_name(store.table_name())
        .send()
        .await
        .unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    assert_eq!(
        ttl.attribute_name(),
        Some(
            definition
                .time_to_live_specification
                .attribute_name
                .as_str()
        )
    );
    assert_eq!(
        ttl.time_to_live_status().map(|s| s.as_str()),
        Some("ENABLED")
    );
    let backups = client
        .describe_continuous_backups()
        .table_name(store.table_name())
        .send()
        .await
        .unwrap();
    let recovery = backups
        .continuous_backups_description()
        .and_then(|d| d.point_in_time_recovery_description())
        .and_then(|p| p.point_in_time_recovery_status())
        .map(|s| s.as_str().to_owned());
    assert_eq!(recovery.as_deref(), Some("ENABLED"));
}
