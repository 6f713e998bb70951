//! Transactions.

use super::*;

conformance!(
    transaction_commits_every_operation,
    transaction_with_one_failing_condition_writes_nothing,
    transaction_treats_expired_items_as_absent,
    transaction_limits_are_enforced,
);

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
