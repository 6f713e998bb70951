//! Alerts.

use super::*;

repository!(
    alert_occurrences_repeat_resolve_and_fire_again,
    concurrent_firings_make_one_occurrence_and_count_every_call,
    a_one_mebibyte_raw_payload_round_trips,
    a_repeat_is_counted_without_compressing_its_payload,
    ungrouped_alerts_are_listed_until_grouped,
);

async fn alert_occurrences_repeat_resolve_and_fire_again<S: Store>(f: Fixture<S>) {
    let first = alert("disk", Severity::Warning, f.now());
    let key = first.key();
    let firing = f
        .repo
        .record_firing(&first, &alert_id(1), &group("g"))
        .await
        .unwrap();
    assert_eq!(
        firing,
        Firing::New {
            alert_id: alert_id(1)
        }
    );
    f.advance(30);
    let repeat = alert("disk", Severity::Critical, f.now());
    match f
        .repo
        .record_firing(&repeat, &alert_id(2), &group("other"))
        .await
        .unwrap()
    {
        Firing::Repeat {
            alert_id: id,
            count,
            incident,
            group_key,
        } => {
            assert_eq!(id, alert_id(1));
            assert_eq!(count, 2);
            assert_eq!(incident, None);
            assert_eq!(group_key, group("g"), "the recorded group key wins");
        }
        other => panic!("expected Repeat, got {other:?}"),
    }
    let record = f.repo.alert(&key).await.unwrap().unwrap();
    assert_eq!(
        record.alert, first,
        "the alert as first received, raw included"
    );
    assert_eq!(record.state, AlertState::Open);
    assert_eq!(record.count, 2);
    assert_eq!(record.first_seen, t0());
    assert_eq!(record.last_seen, t0() + Duration::seconds(30));
    f.repo
        .mark_grouped(&key, &alert_id(1), &incident_id("inc1"))
        .await
        .unwrap();
    // Resolve: once; then already resolved; an unknown alert is unknown.
    match f.repo.record_resolved(&key, f.now()).await.unwrap() {
        Resolved::Resolved {
            alert_id: id,
            group_key,
            incident,
        } => {
            assert_eq!(id, alert_id(1));
            assert_eq!(group_key, group("g"));
            assert_eq!(incident, Some(incident_id("inc1")));
        }
        other => panic!("expected Resolved, got {other:?}"),
    }
    assert_eq!(
        f.repo.record_resolved(&key, f.now()).await.unwrap(),
        Resolved::AlreadyResolved
    );
    let unknown = AlertKey {
        integration: integration("prom"),
        dedup_key: DedupKey::new("nope").unwrap(),
    };
    assert_eq!(
        f.repo.record_resolved(&unknown, f.now()).await.unwrap(),
        Resolved::Unknown
    );
    assert_eq!(f.repo.alert(&unknown).await.unwrap(), None);
    let resolved = f.repo.alert(&key).await.unwrap().unwrap();
    assert_eq!(resolved.state, AlertState::Resolved);
    assert_eq!(resolved.resolved_at, Some(f.now()));
    // Firing again after the resolve: a new occurrence, counted from 1.
    f.advance(60);
    let again = alert("disk", Severity::Error, f.now());
    assert_eq!(
        f.repo
            .record_firing(&again, &alert_id(3), &group("g2"))
            .await
            .unwrap(),
        Firing::New {
            alert_id: alert_id(3)
        }
    );
    let record = f.repo.alert(&key).await.unwrap().unwrap();
    assert_eq!(
        (record.alert_id, record.count, record.state),
        (alert_id(3), 1, AlertState::Open)
    );
    assert_eq!(record.group_key, group("g2"));
    assert_eq!(record.incident, None);
    assert_eq!(record.alert.severity, Severity::Error);
    // A resolved record expires after the retention period; firing after that is new too.
    f.repo.record_resolved(&key, f.now()).await.unwrap();
    f.advance(klaxon_store::repo::ALERT_RETENTION.as_secs() + 1);
    assert_eq!(f.repo.alert(&key).await.unwrap(), None);
    let late = alert("disk", Severity::Info, f.now());
    assert_eq!(
        f.repo
            .record_firing(&late, &alert_id(4), &group("g3"))
            .await
            .unwrap(),
        Firing::New {
            alert_id: alert_id(4)
        }
    );
}

async fn concurrent_firings_make_one_occurrence_and_count_every_call<S: Store + Clone + 'static>(
    f: Fixture<S>,
) {
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let repo = f.repo.clone();
            let alert = alert(
                "flappy",
                Severity::Error,
                t0() + Duration::seconds(i as i64),
            );
            tokio::spawn(async move { repo.record_firing(&alert, &alert_id(i), &group("g")).await })
        })
        .collect();
    let mut new = Vec::new();
    let mut counts = BTreeSet::new();
    for task in tasks {
        match task.await.unwrap().unwrap() {
            Firing::New { alert_id } => new.push(alert_id),
            Firing::Repeat { count, .. } => {
                assert!(counts.insert(count), "count {count} reported twice");
            }
        }
    }
    assert_eq!(new.len(), 1, "exactly one new occurrence");
    assert_eq!(counts, (2..=100).collect::<BTreeSet<u64>>());
    let record = f
        .repo
        .alert(&alert("flappy", Severity::Error, t0()).key())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.count, 100);
    assert_eq!(record.alert_id, new[0]);
    let ungrouped = f
        .repo
        .ungrouped_alerts(f.now() + Duration::days(1), None, 10)
        .await;
    assert_eq!(ungrouped.unwrap().items.len(), 1);
}

async fn a_one_mebibyte_raw_payload_round_trips<S: Store>(f: Fixture<S>) {
    let mut big = alert("huge", Severity::Critical, f.now());
    big.raw = serde_json::json!({ "payload": noise(1024 * 1024, 42) });
    let key = big.key();
    assert_eq!(
        f.repo
            .record_firing(&big, &alert_id(1), &group("g"))
            .await
            .unwrap(),
        Firing::New {
            alert_id: alert_id(1)
        }
    );
    let chunks = |id: AlertId| {
        let pk = f_pk(&key);
        let store = &f.store;
        async move {
            store
                .query(
                    &Query::table(pk).sort(klaxon_store::SortCondition::BeginsWith(format!(
                        "{}{id}#",
                        schema::CHUNK
                    ))),
                )
                .await
                .unwrap()
                .items
                .len()
        }
    };
    assert!(
        chunks(alert_id(1)).await >= 3,
        "1 MiB of noise needs three chunks"
    );
    let record = f.repo.alert(&key).await.unwrap().unwrap();
    assert_eq!(record.alert, big, "nothing accepted is lost");
    // A repeat of the big alert is still one small update.
    assert!(matches!(
        f.repo
            .record_firing(&big, &alert_id(2), &group("g"))
            .await
            .unwrap(),
        Firing::Repeat { count: 2, .. }
    ));
    // Resolved and fired again small: the old chunks go with the old occurrence.
    f.repo.record_resolved(&key, f.now()).await.unwrap();
    let small = alert("huge", Severity::Critical, f.now());
    f.repo
        .record_firing(&small, &alert_id(3), &group("g"))
        .await
        .unwrap();
    assert_eq!(chunks(alert_id(1)).await, 0);
    assert_eq!(f.repo.alert(&key).await.unwrap().unwrap().alert, small);
}

/// A repeat stores nothing of the alert, so its payload is not even compressed: a repeat whose
/// payload grew past what a new occurrence could store is still counted, while storing that
/// payload as a new occurrence is refused.
async fn a_repeat_is_counted_without_compressing_its_payload<S: Store>(f: Fixture<S>) {
    let small = alert("growing", Severity::Error, f.now());
    let key = small.key();
    f.repo
        .record_firing(&small, &alert_id(1), &group("g"))
        .await
        .unwrap();
    // 5 MiB of noise compresses to about 3.75 MiB, over the 3.5 MiB a body may have.
    let mut grown = alert("growing", Severity::Error, f.now());
    grown.raw = serde_json::json!({ "payload": noise(5 * 1024 * 1024, 7) });
    assert_eq!(
        f.repo
            .record_firing(&grown, &alert_id(2), &group("g"))
            .await
            .unwrap(),
        Firing::Repeat {
            alert_id: alert_id(1),
            count: 2,
            incident: None,
            group_key: group("g"),
        }
    );
    assert_eq!(f.repo.alert(&key).await.unwrap().unwrap().alert, small);
    f.repo.record_resolved(&key, f.now()).await.unwrap();
    match f
        .repo
        .record_firing(&grown, &alert_id(3), &group("g"))
        .await
    {
        Err(RepoError::Invalid { field, reason }) => {
            assert_eq!(field, "alert");
            assert!(reason.contains("over the limit"), "{reason}");
        }
        other => panic!("expected the oversized new occurrence refused, got {other:?}"),
    }
    let record = f.repo.alert(&key).await.unwrap().unwrap();
    assert_eq!(
        (record.alert_id, record.state),
        (alert_id(1), AlertState::Resolved)
    );
}

/// The partition of an alert's dedup record.
pub(crate) fn f_pk(key: &AlertKey) -> String {
    schema::alert_record_key(key).pk
}

async fn ungrouped_alerts_are_listed_until_grouped<S: Store>(f: Fixture<S>) {
    for i in 0..5 {
        let a = alert(
            &format!("u{i}"),
            Severity::Info,
            t0() + Duration::seconds(i),
        );
        f.repo
            .record_firing(&a, &alert_id(i as usize), &group("g"))
            .await
            .unwrap();
    }
    let before = t0() + Duration::seconds(4);
    let first = f.repo.ungrouped_alerts(before, None, 3).await.unwrap();
    let second = f
        .repo
        .ungrouped_alerts(before, first.next.clone(), 3)
        .await
        .unwrap();
    let ids: Vec<AlertId> = first
        .items
        .iter()
        .chain(&second.items)
        .map(|u| u.alert_id.clone())
        .collect();
    assert_eq!(
        ids,
        (0..4).map(alert_id).collect::<Vec<_>>(),
        "oldest first"
    );
    assert_eq!(first.items[1].key.dedup_key.as_str(), "u1");
    assert_eq!(first.items[1].received_at, t0() + Duration::seconds(1));
    assert_eq!(first.items[1].group_key, group("g"));
    // Grouping takes them off the list; a stale occurrence id changes nothing.
    let key0 = alert("u0", Severity::Info, t0()).key();
    assert!(
        !f.repo
            .mark_grouped(&key0, &alert_id(99), &incident_id("inc"))
            .await
            .unwrap()
    );
    assert!(
        f.repo
            .mark_grouped(&key0, &alert_id(0), &incident_id("inc"))
            .await
            .unwrap()
    );
    let unknown = alert("never", Severity::Info, t0()).key();
    assert!(
        !f.repo
            .mark_grouped(&unknown, &alert_id(0), &incident_id("inc"))
            .await
            .unwrap()
    );
    let left = f
        .repo
        .ungrouped_alerts(t0() + Duration::days(1), None, 10)
        .await
        .unwrap();
    assert_eq!(
        left.items
            .iter()
            .map(|u| u.alert_id.clone())
            .collect::<Vec<_>>(),
        (1..5).map(alert_id).collect::<Vec<_>>()
    );
    assert_eq!(
        f.repo.alert(&key0).await.unwrap().unwrap().incident,
        Some(incident_id("inc"))
    );
}
