//! Queries and pagination.

use super::*;

conformance!(
    table_pagination_across_pages,
    index_pagination_across_pages_on_each_gsi,
    a_cursor_over_a_sort_range_is_a_keyset_position,
    sparse_indexes_hold_only_items_with_both_keys,
    sort_key_conditions_and_order,
    malformed_or_foreign_cursors_are_typed_errors,
);

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

/// The console's deep pages: a descending Query over a sort-key range (`INCIDENTS` by number
/// between two bounds, `OPEN_INCIDENTS` between two times), continued by cursors. A cursor is a
/// position, not an offset: items written before or after it while someone pages neither
/// repeat nor shift the rest, and each page reads at most the limit.
async fn a_cursor_over_a_sort_range_is_a_keyset_position<S: Store>(f: Fixture<S>) {
    let put = |number: u32| {
        let key = Key::new(format!("INCIDENT#{number:03}"), "META");
        record(
            &key,
            &[("gsi2pk", s("ALL")), ("gsi2sk", s(format!("{number:020}")))],
        )
    };
    for number in 1..=60 {
        f.store.put(put(number), None).await.unwrap();
    }
    let range = SortCondition::Between {
        low: format!("{:020}", 11),
        high: format!("{:020}", 50),
    };
    let query = Query::index(Index::Gsi2, "ALL")
        .sort(range.clone())
        .descending()
        .limit(8);
    let first = f.store.query(&query).await.unwrap();
    assert_eq!(first.items.len(), 8);
    let numbers = |items: &[Item]| -> Vec<u32> {
        items
            .iter()
            .map(|item| text(item, "gsi2sk").parse().unwrap())
            .collect()
    };
    assert_eq!(numbers(&first.items), (43..=50).rev().collect::<Vec<_>>());
    // While the reader looks at the first page: new items above the range, one it saw
    // rewritten, two it saw deleted, and one it has yet to reach deleted.
    for number in [45, 47, 30] {
        f.store
            .delete(&Key::new(format!("INCIDENT#{number:03}"), "META"), None)
            .await
            .unwrap();
    }
    for number in [49, 61, 62] {
        f.store.put(put(number + 100), None).await.unwrap();
    }
    f.store.put(put(50), None).await.unwrap();
    let mut rest = Vec::new();
    let mut cursor = first.next.clone();
    let mut reads = 0;
    while let Some(next) = cursor {
        let page = f
            .store
            .query(&query.clone().after(Some(next)))
            .await
            .unwrap();
        assert!(page.items.len() <= 8, "a page reads at most its limit");
        rest.extend(numbers(&page.items));
        cursor = page.next;
        reads += 1;
        assert!(reads < 20, "pagination does not terminate");
    }
    assert_eq!(
        rest,
        (11..=42).rev().filter(|n| *n != 30).collect::<Vec<_>>(),
        "the rest of the range, exactly once each, as it is now"
    );
    // The cursor belongs to its range: a query over another range refuses it.
    let other = Query::index(Index::Gsi2, "ALL")
        .sort(SortCondition::Between {
            low: format!("{:020}", 51),
            high: format!("{:020}", 60),
        })
        .descending()
        .after(first.next);
    assert!(
        matches!(
            f.store.query(&other).await,
            Err(StoreError::BadCursor { .. })
        ),
        "a cursor outside the query's range is refused"
    );
}
