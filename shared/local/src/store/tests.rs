use super::*;
use klaxon_store::key::{n, s};
use klaxon_store::{ManualClock, StoreExt};

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc),
    ))
}

fn item(pk: &str, sk: &str) -> Item {
    Key::new(pk, sk).to_item()
}

#[tokio::test]
async fn data_survives_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("klaxon.db");
    let mut record = item("p", "s");
    record.insert(
        "blob".into(),
        klaxon_store::AttributeValue::B(vec![0, 159, 255]),
    );
    record.insert(
        "set".into(),
        klaxon_store::AttributeValue::Ns(vec!["1".into(), "2.5".into()]),
    );
    {
        let store = SqliteStore::open(&path, clock()).unwrap();
        store.put(record.clone(), None).await.unwrap();
    }
    let store = SqliteStore::open(&path, clock()).unwrap();
    assert_eq!(store.get(&Key::new("p", "s")).await.unwrap(), Some(record));
}

#[tokio::test]
async fn undecodable_row_is_corrupt_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("klaxon.db");
    let store = SqliteStore::open(&path, clock()).unwrap();
    store.put(item("p", "s"), None).await.unwrap();
    let other = Connection::open(&path).unwrap();
    other
        .execute("UPDATE items SET body = '{\"pk\":{\"X\":1}}'", [])
        .unwrap();
    match store.get(&Key::new("p", "s")).await {
        Err(StoreError::Corrupt { key, attribute, .. }) => {
            assert_eq!(key, Key::new("p", "s"));
            assert_eq!(attribute, "*");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    match store.query(&Query::table("p")).await {
        Err(StoreError::Corrupt { .. }) => {}
        other => panic!("expected Corrupt, got {other:?}"),
    }
    let typed: Result<Option<serde_json::Value>, _> = store.get_typed(&Key::new("p", "s")).await;
    assert!(matches!(typed, Err(StoreError::Corrupt { .. })));
}

#[tokio::test]
async fn purge_removes_only_expired_rows() {
    let clock = clock();
    let store = SqliteStore::open_in_memory(clock.clone()).unwrap();
    let now = clock.now().timestamp();
    let mut old = item("p", "old");
    old.insert("ttl".into(), n(now + 10));
    let mut fresh = item("p", "fresh");
    fresh.insert("ttl".into(), n(now + 1000));
    let mut forever = item("p", "forever");
    forever.insert("name".into(), s("kept"));
    for record in [old, fresh, forever] {
        store.put(record, None).await.unwrap();
    }
    assert_eq!(store.purge_expired().await.unwrap(), 0);
    clock.advance(chrono::Duration::seconds(10));
    assert_eq!(store.purge_expired().await.unwrap(), 1);
    let page = store.query(&Query::table("p")).await.unwrap();
    assert_eq!(page.items.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_handles_on_one_file_keep_counters_exact() {
    // Two connections (as two processes would have) serialise through BEGIN IMMEDIATE.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("klaxon.db");
    let first = SqliteStore::open(&path, clock()).unwrap();
    let second = SqliteStore::open(&path, clock()).unwrap();
    let key = Key::new("ALERT#i#d", "DEDUP");
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let store = if i % 2 == 0 {
                first.clone()
            } else {
                second.clone()
            };
            let key = key.clone();
            tokio::spawn(async move {
                store
                    .update(
                        &key,
                        vec![UpdateAction::add("count", 1)],
                        None,
                        ReturnValues::None,
                    )
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let item = second.get(&key).await.unwrap().unwrap();
    assert_eq!(item.get("count"), Some(&n(100)));
}

#[tokio::test]
async fn a_schema_1_database_gains_index_gsi3_with_its_items() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("klaxon.db");
    {
        // The schema as version 1 created it, with one item already carrying gsi3 keys.
        let connection = Connection::open(&path).unwrap();
        connection
            .execute_batch(
                "CREATE TABLE items (pk TEXT NOT NULL, sk TEXT NOT NULL, gsi1pk TEXT,
                     gsi1sk TEXT, gsi2pk TEXT, gsi2sk TEXT, ttl INTEGER, body TEXT NOT NULL,
                     PRIMARY KEY (pk, sk)) WITHOUT ROWID;
                 INSERT INTO items (pk, sk, body) VALUES ('p', 's',
                     '{\"pk\":{\"S\":\"p\"},\"sk\":{\"S\":\"s\"},\"gsi3pk\":{\"S\":\"DUE\"},\"gsi3sk\":{\"S\":\"1\"}}');
                 PRAGMA user_version = 1;",
            )
            .unwrap();
    }
    let store = SqliteStore::open(&path, clock()).unwrap();
    let page = store
        .query(&Query::index(Index::Gsi3, "DUE"))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    let version: i64 = Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    // New writes land in the index too.
    let mut item = item("q", "s");
    item.insert("gsi3pk".into(), klaxon_store::key::s("DUE"));
    item.insert("gsi3sk".into(), klaxon_store::key::s("2"));
    store.put(item, None).await.unwrap();
    let page = store
        .query(&Query::index(Index::Gsi3, "DUE"))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 2);
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("klaxon.db");
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    assert!(matches!(
        SqliteStore::open(&path, clock()),
        Err(StoreError::Backend { .. })
    ));
}
