//! Batch linking: a storm of one group's alerts joins the group's incident in one transaction
//! per [`LINKS_PER_TRANSACTION`] alerts, and a redelivered alert links once.

use super::*;
use klaxon_store::repo::{BatchMember, LINKS_PER_TRANSACTION};

/// Alerts in the storm on SQLite.
const STORM: usize = 10_000;
/// Alerts in the storm on DynamoDB (moto): for its rollback, moto deep-copies the table once per
/// item of every transaction, so a long storm grows slower and larger with the table (1,000
/// alerts ran past 5 minutes with moto at 10 GB); the transactions per batch are the same at any
/// size.
const STORM_ON_MOTO: usize = 100;

fn storm_alert(n: usize, at: Instant) -> Alert {
    let mut alert = alert(&format!("storm-{n:05}"), Severity::Warning, at);
    alert.raw = serde_json::Value::Null;
    alert
}

/// Records `count` new occurrences of group `g` (16 at a time) and returns the alerts,
/// `alert_id(n)` for alert `n`.
async fn record_storm<S: Store + Clone + 'static>(
    repo: &Repository<S>,
    count: usize,
    at: Instant,
) -> Vec<Alert> {
    let alerts: Vec<Alert> = (0..count).map(|n| storm_alert(n, at)).collect();
    let mut writers = tokio::task::JoinSet::new();
    for lane in 0..16 {
        let repo = repo.clone();
        let mine: Vec<(usize, Alert)> = alerts
            .iter()
            .cloned()
            .enumerate()
            .filter(|(n, _)| n % 16 == lane)
            .collect();
        writers.spawn(async move {
            for (n, alert) in mine {
                repo.record_firing(&alert, &alert_id(n), &group("g"))
                    .await
                    .unwrap();
            }
        });
    }
    while let Some(done) = writers.join_next().await {
        done.unwrap();
    }
    alerts
}

async fn storm_links_in_one_transaction_per_batch<S: Store + Clone + 'static>(
    store: S,
    clock: Arc<ManualClock>,
    storm: usize,
) {
    let plain = Repository::new(store.clone(), clock.clone(), source());
    let alerts = record_storm(&plain, storm, clock.now()).await;
    let counting = CountingStore {
        inner: store,
        cost: Arc::default(),
    };
    let repo = Repository::new(counting.clone(), clock.clone(), source());
    // The first alert opens the incident (the one-alert path).
    let opened = repo
        .find_or_create_incident(
            &group("g"),
            WINDOW,
            &alert_id(0),
            &alerts[0],
            &incident_id("storm"),
        )
        .await
        .unwrap();
    assert!(opened.created);
    repo.mark_grouped(&alerts[0].key(), &alert_id(0), &incident_id("storm"))
        .await
        .unwrap();
    counting.take();

    let keys: Vec<AlertKey> = alerts.iter().map(Alert::key).collect();
    let ids: Vec<AlertId> = (0..storm).map(alert_id).collect();
    let mut linked = 0;
    let mut stored = repo
        .open_group_incident(&group("g"))
        .await
        .unwrap()
        .unwrap();
    for batch in (1..storm).collect::<Vec<_>>().chunks(LINKS_PER_TRANSACTION) {
        let members: Vec<BatchMember<'_>> = batch
            .iter()
            .map(|&n| BatchMember {
                key: &keys[n],
                alert_id: &ids[n],
                alert: &alerts[n],
            })
            .collect();
        let done = repo.link_batch(stored, &members).await.unwrap();
        assert!(
            done.linked.iter().all(|l| *l),
            "every alert of a fresh batch links"
        );
        assert_eq!(done.transactions, 1);
        linked += members.len();
        stored = done.incident;
    }
    let cost = counting.take();
    let batches = (storm - 1).div_ceil(LINKS_PER_TRANSACTION);
    assert_eq!(linked, storm - 1);
    assert_eq!(
        cost.requests.get("TransactWriteItems"),
        Some(&(batches as u32))
    );
    // Nothing written outside the batch transactions.
    assert_eq!(cost.requests.get("UpdateItem"), None);
    assert_eq!(cost.requests.get("PutItem"), None);

    let incident = plain
        .incident(&incident_id("storm"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(incident.incident.alerts().linked, storm as u32);
    assert_eq!(incident.incident.alerts().open, storm as u32);
    // Every alert is marked grouped, so the recovery sweep finds nothing left over.
    let ungrouped = plain
        .ungrouped_alerts(clock.now() + Duration::seconds(1), None, 10)
        .await
        .unwrap();
    assert!(ungrouped.items.is_empty(), "{:?}", ungrouped.items);
    let record = plain.alert(&keys[storm - 1]).await.unwrap().unwrap();
    assert_eq!(record.incident, Some(incident_id("storm")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn storm_of_one_group_links_in_one_transaction_per_batch_sqlite() {
    let clock = manual_clock();
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("klaxon.db"), clock.clone()).unwrap();
    storm_links_in_one_transaction_per_batch(store, clock, STORM).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn storm_of_one_group_links_in_one_transaction_per_batch_dynamodb() {
    let clock = manual_clock();
    let store = dynamo_store(clock.clone()).await;
    storm_links_in_one_transaction_per_batch(store, clock, STORM_ON_MOTO).await;
}

/// A batch holding alerts linked before (a redelivery) links only the others, and the
/// incident counts each alert once.
async fn redelivered_alerts_link_once<S: Store>(f: Fixture<S>) {
    let alerts: Vec<Alert> = (0..12).map(|n| storm_alert(n, f.now())).collect();
    for (n, alert) in alerts.iter().enumerate() {
        f.repo
            .record_firing(alert, &alert_id(n), &group("g"))
            .await
            .unwrap();
    }
    f.repo
        .find_or_create_incident(
            &group("g"),
            WINDOW,
            &alert_id(0),
            &alerts[0],
            &incident_id("i"),
        )
        .await
        .unwrap();
    let keys: Vec<AlertKey> = alerts.iter().map(Alert::key).collect();
    let ids: Vec<AlertId> = (0..12).map(alert_id).collect();
    let member = |n: usize| BatchMember {
        key: &keys[n],
        alert_id: &ids[n],
        alert: &alerts[n],
    };
    let stored = f
        .repo
        .open_group_incident(&group("g"))
        .await
        .unwrap()
        .unwrap();
    let first = f
        .repo
        .link_batch(stored, &[member(1), member(2), member(3)])
        .await
        .unwrap();
    assert_eq!(first.linked, vec![true, true, true]);
    // Delivered again, mixed with new ones, and alert 0 (linked when the incident opened).
    let stored = f
        .repo
        .open_group_incident(&group("g"))
        .await
        .unwrap()
        .unwrap();
    let batch: Vec<BatchMember<'_>> = [2, 0, 4, 1, 5, 3, 6, 7, 8, 9, 10, 11]
        .into_iter()
        .map(member)
        .collect();
    let again = f.repo.link_batch(stored, &batch).await.unwrap();
    assert_eq!(
        again.linked,
        vec![
            false, false, true, false, true, false, true, true, true, true, true, true
        ]
    );
    let incident = f.repo.incident(&incident_id("i")).await.unwrap().unwrap();
    assert_eq!(incident.incident.alerts().linked, 12);
    assert_eq!(again.incident.incident.alerts().linked, 12);
    let linked = all_timeline(&f, &incident_id("i"))
        .await
        .into_iter()
        .filter(|e| matches!(e, TimelineEntry::AlertLinked { .. }))
        .count();
    assert_eq!(linked, 12, "one alert.linked entry per alert");
}

/// Once the incident resolves, a batch links nothing more to it (the one-alert path opens the
/// group's next incident for those alerts).
async fn batch_links_nothing_to_a_resolved_incident<S: Store>(f: Fixture<S>) {
    let alerts: Vec<Alert> = (0..3).map(|n| storm_alert(n, f.now())).collect();
    for (n, alert) in alerts.iter().enumerate() {
        f.repo
            .record_firing(alert, &alert_id(n), &group("g"))
            .await
            .unwrap();
    }
    f.repo
        .find_or_create_incident(
            &group("g"),
            WINDOW,
            &alert_id(0),
            &alerts[0],
            &incident_id("i"),
        )
        .await
        .unwrap();
    let stored = f
        .repo
        .open_group_incident(&group("g"))
        .await
        .unwrap()
        .unwrap();
    f.repo
        .alert_resolved(
            &incident_id("i"),
            &alert_id(0),
            prom(),
            AutoResolve::WhenAllAlertsResolve,
            f.now(),
        )
        .await
        .unwrap();
    assert!(
        f.repo
            .open_group_incident(&group("g"))
            .await
            .unwrap()
            .is_none()
    );
    let keys: Vec<AlertKey> = alerts.iter().map(Alert::key).collect();
    let members: Vec<BatchMember<'_>> = (1..3)
        .map(|n| BatchMember {
            key: &keys[n],
            alert_id: &alerts_ids()[n],
            alert: &alerts[n],
        })
        .collect();
    let done = f.repo.link_batch(stored, &members).await.unwrap();
    assert_eq!(done.linked, vec![false, false]);
    assert_eq!(done.transactions, 0);
    let record = f.repo.alert(&keys[1]).await.unwrap().unwrap();
    assert_eq!(
        record.incident, None,
        "still ungrouped: the one-alert path takes it"
    );
}

fn alerts_ids() -> &'static [AlertId] {
    static IDS: std::sync::OnceLock<Vec<AlertId>> = std::sync::OnceLock::new();
    IDS.get_or_init(|| (0..16).map(alert_id).collect())
}

repository!(
    redelivered_alerts_link_once,
    batch_links_nothing_to_a_resolved_incident
);
