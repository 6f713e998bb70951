//! Concurrency.

use super::*;

conformance!(
    concurrent_conditional_puts_have_exactly_one_winner,
    concurrent_counter_adds_are_exact,
);

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
