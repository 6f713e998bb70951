//! Measured cost of the two hot flows.

use super::*;

/// Request and capacity-unit counts, by DynamoDB's pricing rules: a write unit per started KB of
/// the larger of the item before and after (at least one, also for a failed condition), doubled
/// inside transactions; a read unit per started 4 KB (strongly consistent; half on an index);
/// and one index write per index partition an item enters, leaves or changes in (two when it
/// moves between partitions).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Cost {
    pub(crate) requests: BTreeMap<&'static str, u32>,
    pub(crate) transaction_items: u32,
    pub(crate) write_units: u32,
    pub(crate) index_write_units: u32,
    pub(crate) read_units_x2: u32,
}

impl Cost {
    fn total_requests(&self) -> u32 {
        self.requests.values().sum()
    }
}

/// A store decorator that counts what the repository asks of the store. It peeks at items
/// before and after each write through the inner store (not counted) to size them.
#[derive(Clone)]
pub(crate) struct CountingStore<S> {
    pub(crate) inner: S,
    pub(crate) cost: Arc<Mutex<Cost>>,
}

fn kb(size: usize, unit: usize) -> u32 {
    u32::try_from(size.div_ceil(unit).max(1)).unwrap()
}

fn index_writes(before: Option<&Item>, after: Option<&Item>) -> u32 {
    let size = before
        .map(item_size)
        .unwrap_or(0)
        .max(after.map(item_size).unwrap_or(0));
    let mut units = 0;
    for index in Index::SECONDARY {
        let old = before.and_then(|i| index.key_of(i));
        let new = after.and_then(|i| index.key_of(i));
        let writes = match (old, new) {
            (None, None) => 0,
            (Some(a), Some(b)) if a == b => u32::from(before != after),
            (Some(_), Some(_)) => 2,
            _ => 1,
        };
        units += writes * kb(size, 1024);
    }
    units
}

impl<S: Store> CountingStore<S> {
    fn record(&self, request: &'static str, f: impl FnOnce(&mut Cost)) {
        let mut cost = self.cost.lock().unwrap();
        *cost.requests.entry(request).or_default() += 1;
        f(&mut cost);
    }

    async fn write_cost(&self, key: &Key, before: Option<Item>, factor: u32) -> (u32, u32) {
        let after = self.inner.get(key).await.unwrap();
        let size = before
            .as_ref()
            .map(item_size)
            .unwrap_or(0)
            .max(after.as_ref().map(item_size).unwrap_or(0));
        (
            kb(size, 1024) * factor,
            index_writes(before.as_ref(), after.as_ref()),
        )
    }

    pub(crate) fn take(&self) -> Cost {
        std::mem::take(&mut *self.cost.lock().unwrap())
    }
}

impl<S: Store> Store for CountingStore<S> {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let result = self.inner.get(key).await;
        let size = result
            .as_ref()
            .ok()
            .and_then(|i| i.as_ref())
            .map_or(0, item_size);
        self.record("GetItem", |c| c.read_units_x2 += 2 * kb(size, 4096));
        result
    }

    async fn put(
        &self,
        item: Item,
        condition: Option<klaxon_store::Condition>,
    ) -> Result<(), StoreError> {
        let key = Key::of_item(&item).unwrap();
        let before = self.inner.get(&key).await.unwrap();
        let result = self.inner.put(item, condition).await;
        let (units, index) = match &result {
            Ok(()) => self.write_cost(&key, before, 1).await,
            Err(_) => (kb(before.as_ref().map_or(0, item_size), 1024), 0),
        };
        self.record("PutItem", |c| {
            c.write_units += units;
            c.index_write_units += index;
        });
        result
    }

    async fn update(
        &self,
        key: &Key,
        actions: Vec<UpdateAction>,
        condition: Option<klaxon_store::Condition>,
        return_values: ReturnValues,
    ) -> Result<Option<Item>, StoreError> {
        let before = self.inner.get(key).await.unwrap();
        let result = self
            .inner
            .update(key, actions, condition, return_values)
            .await;
        let (units, index) = match &result {
            Ok(_) => self.write_cost(key, before, 1).await,
            Err(_) => (kb(before.as_ref().map_or(0, item_size), 1024), 0),
        };
        self.record("UpdateItem", |c| {
            c.write_units += units;
            c.index_write_units += index;
        });
        result
    }

    async fn delete(
        &self,
        key: &Key,
        condition: Option<klaxon_store::Condition>,
    ) -> Result<Option<Item>, StoreError> {
        let before = self.inner.get(key).await.unwrap();
        let result = self.inner.delete(key, condition).await;
        let (units, index) = match &result {
            Ok(_) => self.write_cost(key, before, 1).await,
            Err(_) => (1, 0),
        };
        self.record("DeleteItem", |c| {
            c.write_units += units;
            c.index_write_units += index;
        });
        result
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        let result = self.inner.query(query).await;
        let size: usize = result
            .as_ref()
            .map(|p| p.items.iter().map(item_size).sum())
            .unwrap_or(0);
        let consistent = query.index == Index::Table;
        self.record("Query", |c| {
            c.read_units_x2 += kb(size, 4096) * if consistent { 2 } else { 1 }
        });
        result
    }

    async fn transact(&self, ops: Vec<TransactOp>) -> Result<(), StoreError> {
        let keys: Vec<Key> = ops
            .iter()
            .map(|op| match op {
                TransactOp::Put { item, .. } => Key::of_item(item).unwrap(),
                TransactOp::Update { key, .. }
                | TransactOp::Delete { key, .. }
                | TransactOp::ConditionCheck { key, .. } => key.clone(),
            })
            .collect();
        let mut befores = Vec::new();
        for key in &keys {
            befores.push(self.inner.get(key).await.unwrap());
        }
        let count = u32::try_from(ops.len()).unwrap();
        let result = self.inner.transact(ops).await;
        let mut units = 0;
        let mut index = 0;
        for (key, before) in keys.iter().zip(befores) {
            let (u, i) = match &result {
                Ok(()) => self.write_cost(key, before, 2).await,
                Err(_) => (2 * kb(before.as_ref().map_or(0, item_size), 1024), 0),
            };
            units += u;
            index += i;
        }
        self.record("TransactWriteItems", |c| {
            c.transaction_items += count;
            c.write_units += units;
            c.index_write_units += index;
        });
        result
    }
}

fn report(flow: &str, cost: &Cost) {
    println!(
        "{flow}: {} requests {:?}, {} transaction items, {} write units (transactions doubled), \
         {} index write units, {} read units",
        cost.total_requests(),
        cost.requests,
        cost.transaction_items,
        cost.write_units,
        cost.index_write_units,
        f64::from(cost.read_units_x2) / 2.0
    );
}

async fn measure_cost<S: Store + Clone>(store: S, clock: Arc<ManualClock>) {
    let counting = CountingStore {
        inner: store,
        cost: Arc::default(),
    };
    let repo = Repository::new(counting.clone(), clock.clone(), source());
    let first = alert("disk-full", Severity::Error, clock.now());
    let key = first.key();

    // New incident: ingest records a new occurrence; grouping creates the incident, links the
    // alert and takes it off the ungrouped list.
    let firing = repo
        .record_firing(&first, &alert_id(1), &group("g"))
        .await
        .unwrap();
    assert_eq!(
        firing,
        Firing::New {
            alert_id: alert_id(1)
        }
    );
    let ingest = counting.take();
    report("new alert (ingest)", &ingest);
    let linked = repo
        .find_or_create_incident(
            &group("g"),
            WINDOW,
            &alert_id(1),
            &first,
            &incident_id("inc1"),
        )
        .await
        .unwrap();
    assert!(linked.created);
    repo.mark_grouped(&key, &alert_id(1), &incident_id("inc1"))
        .await
        .unwrap();
    let grouping = counting.take();
    report("new incident (grouping)", &grouping);

    // Duplicate: a repeat of the open alert.
    clock.advance(Duration::seconds(60));
    let repeat = alert("disk-full", Severity::Error, clock.now());
    assert!(matches!(
        repo.record_firing(&repeat, &alert_id(2), &group("g"))
            .await
            .unwrap(),
        Firing::Repeat { count: 2, .. }
    ));
    let duplicate = counting.take();
    report("duplicate alert (ingest)", &duplicate);

    // Another alert of the group joining the open incident.
    let second = alert("disk-slow", Severity::Warning, clock.now());
    repo.record_firing(&second, &alert_id(3), &group("g"))
        .await
        .unwrap();
    counting.take();
    repo.find_or_create_incident(
        &group("g"),
        WINDOW,
        &alert_id(3),
        &second,
        &incident_id("x"),
    )
    .await
    .unwrap();
    repo.mark_grouped(&second.key(), &alert_id(3), &incident_id("inc1"))
        .await
        .unwrap();
    let join = counting.take();
    report("alert joining an open incident (grouping)", &join);

    // Item sizes (DynamoDB's rules) of the items these flows wrote, for the doc's size column.
    let inner = &counting.inner;
    let sized = [
        (
            "alert dedup record",
            Key::new(f_pk(&key), schema::OCCURRENCE),
        ),
        ("incident", schema::incident_key("inc1")),
        (
            "group pointer",
            Key::new(format!("{}g", schema::GROUP), schema::POINTER),
        ),
        (
            "alert link",
            Key::new(
                format!("{}{}", schema::ALERT_LINK, alert_id(1)),
                schema::LINK,
            ),
        ),
        (
            "counter",
            Key::new(schema::COUNTER, schema::INCIDENT_NUMBER),
        ),
    ];
    for (what, key) in sized {
        let item = inner.get(&key).await.unwrap().unwrap();
        println!("size of {what}: {} bytes", item_size(&item));
    }
    let timeline = inner
        .query(&Query::table(schema::incident_partition("inc1")).sort(
            klaxon_store::SortCondition::BeginsWith(schema::TIMELINE.to_owned()),
        ))
        .await
        .unwrap();
    for item in &timeline.items {
        println!("size of timeline entry: {} bytes", item_size(item));
    }

    // The figures docs/data-model.md states.
    assert_eq!(
        duplicate.requests,
        BTreeMap::from([("UpdateItem", 1)]),
        "a duplicate costs exactly one write request"
    );
    assert_eq!(duplicate.write_units, 1);
    assert_eq!(duplicate.index_write_units, 0);
    assert_eq!(
        ingest.requests,
        BTreeMap::from([("PutItem", 1), ("UpdateItem", 1)])
    );
    assert_eq!((ingest.write_units, ingest.index_write_units), (2, 1));
    assert_eq!(
        grouping.requests,
        BTreeMap::from([("GetItem", 1), ("TransactWriteItems", 1), ("UpdateItem", 2)])
    );
    assert_eq!(grouping.transaction_items, 5);
    assert_eq!((grouping.write_units, grouping.index_write_units), (12, 4));
    assert_eq!(
        join.requests,
        BTreeMap::from([("GetItem", 2), ("TransactWriteItems", 1), ("UpdateItem", 1)])
    );
    assert_eq!(join.transaction_items, 3);
    assert_eq!((join.write_units, join.index_write_units), (7, 4));
    assert_eq!(
        [&duplicate, &ingest, &grouping, &join].map(|c| c.read_units_x2),
        [0, 0, 2, 4],
        "read units ×2: a duplicate and a new alert read nothing; grouping reads the pointer \
         (and, to join, the incident) strongly consistently"
    );

    // Every figure of the doc's cost table is the measured one.
    let doc = std::fs::read_to_string(workspace_root().join("docs/data-model.md")).unwrap();
    let table = documented_costs(&doc);
    for (flow, cost) in [
        ("duplicate alert (ingest)", &duplicate),
        ("new alert (ingest)", &ingest),
        ("new incident (grouping)", &grouping),
        ("alert joining an open incident (grouping)", &join),
    ] {
        let documented = table
            .get(flow)
            .unwrap_or_else(|| panic!("docs/data-model.md has no cost row for {flow:?}"));
        let measured = DocumentedCost {
            requests: cost.total_requests(),
            write_units: cost.write_units,
            index_write_units: cost.index_write_units,
            read_units_x2: cost.read_units_x2,
        };
        assert_eq!(
            *documented, measured,
            "docs/data-model.md's cost row for {flow:?}"
        );
    }
}

/// One row of the doc's cost table (read units doubled, to keep halves exact).
#[derive(Debug, PartialEq, Eq)]
struct DocumentedCost {
    requests: u32,
    write_units: u32,
    index_write_units: u32,
    read_units_x2: u32,
}

/// The rows of the table headed `| flow | requests | write units … | index write units | read
/// units |`, by flow (the first cell up to its colon).
fn documented_costs(doc: &str) -> BTreeMap<String, DocumentedCost> {
    let mut rows = BTreeMap::new();
    let mut in_table = false;
    for line in doc.lines().map(str::trim) {
        if !line.starts_with('|') {
            in_table = false;
            continue;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        if cells.first() == Some(&"flow") {
            assert_eq!(
                cells.get(4),
                Some(&"read units"),
                "the cost table's columns changed: {line}"
            );
            in_table = true;
            continue;
        }
        if !in_table || cells.iter().all(|c| c.chars().all(|c| c == '-')) {
            continue;
        }
        let number = |i: usize| -> f64 {
            cells[i]
                .parse()
                .unwrap_or_else(|_| panic!("cost table cell {i} of {line:?} is not a number"))
        };
        let flow = cells[0].split(':').next().unwrap().trim().to_owned();
        rows.insert(
            flow,
            DocumentedCost {
                requests: number(1) as u32,
                write_units: number(2) as u32,
                index_write_units: number(3) as u32,
                read_units_x2: (number(4) * 2.0) as u32,
            },
        );
    }
    rows
}

#[tokio::test]
async fn cost_of_duplicate_alert_and_new_incident_sqlite() {
    let clock = manual_clock();
    let store = SqliteStore::open_in_memory(clock.clone()).unwrap();
    measure_cost(store, clock).await;
}

#[tokio::test]
async fn cost_of_duplicate_alert_and_new_incident_dynamodb() {
    let clock = manual_clock();
    let store = dynamo_store(clock.clone()).await;
    measure_cost(store, clock).await;
}
