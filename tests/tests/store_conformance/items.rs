//! Items and conditions.

use super::*;

conformance!(
    put_and_get_round_trip_every_attribute_type,
    put_replaces_the_whole_item,
    every_condition_on_an_existing_item_for_every_write,
    every_condition_on_a_missing_item_for_every_write,
    update_actions_and_return_values,
    optimistic_lock_conflict_is_detected,
    concurrent_optimistic_writers_all_land_once,
    delete_returns_the_old_item,
);

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
pub(crate) enum Write {
    Put,
    Update,
    Delete,
    Check,
}

const WRITES: [Write; 4] = [Write::Put, Write::Update, Write::Delete, Write::Check];

/// Runs one conditional write and returns its result (a check runs as a one-op transaction).
pub(crate) async fn conditional_write<S: Store>(
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
