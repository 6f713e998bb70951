//! TTL.

use super::*;

conformance!(
    expired_items_are_invisible_to_reads,
    expired_items_count_as_absent_for_conditions,
    update_of_an_expired_item_starts_fresh,
    pagination_skips_expired_items,
);

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
