//! Bad data.

use super::*;

conformance!(
    oversized_items_are_rejected,
    corrupt_items_are_typed_errors,
    invalid_requests_are_rejected_before_writing,
);

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
