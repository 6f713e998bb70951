//! Incidents: resolution and the timeline.

use super::*;

repository!(
    resolved_alerts_auto_resolve_the_incident_once,
    concurrent_alert_resolutions_resolve_the_incident_once,
    timeline_is_in_time_order_across_pages,
);

async fn resolved_alerts_auto_resolve_the_incident_once<S: Store>(f: Fixture<S>) {
    let id = incident_id("inc1");
    let mut incident = new_incident(&f, "g", "inc1", 1).await.incident.incident;
    incident
        .start_escalation(&policy(), Urgency::High, &Everyone, f.now())
        .unwrap();
    f.repo.save_incident(&incident, 1, &[]).await.unwrap();
    new_incident(&f, "g", "x", 2).await;
    f.advance(60);
    let first = f
        .repo
        .alert_resolved(
            &id,
            &alert_id(1),
            prom(),
            AutoResolve::WhenAllAlertsResolve,
            f.now(),
        )
        .await
        .unwrap();
    assert_eq!(first.incident.incident.status(), IncidentStatus::Triggered);
    assert_eq!(first.incident.incident.alerts().open, 1);
    assert_eq!(first.effects.len(), 1, "only the alert.resolved entry");
    // The last one resolves the incident and stops the escalation (its timer is cancelled).
    let last = f
        .repo
        .alert_resolved(
            &id,
            &alert_id(2),
            prom(),
            AutoResolve::WhenAllAlertsResolve,
            f.now(),
        )
        .await
        .unwrap();
    assert_eq!(last.incident.incident.status(), IncidentStatus::Resolved);
    assert_eq!(
        last.incident.incident.resolved().unwrap().reason,
        ResolveReason::AllAlertsResolved
    );
    assert!(
        last.effects
            .iter()
            .any(|e| matches!(e, Effect::CancelTimer { .. }))
    );
    let stored = f.repo.incident(&id).await.unwrap().unwrap();
    assert_eq!(stored, last.incident);
    assert_eq!(stored.incident.alerts().open, 0);
    assert!(
        f.repo
            .open_incidents(None, 10)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        f.repo
            .due_escalations(f.now() + Duration::days(1), 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Redelivered: nothing happens.
    let again = f
        .repo
        .alert_resolved(
            &id,
            &alert_id(2),
            prom(),
            AutoResolve::WhenAllAlertsResolve,
            f.now(),
        )
        .await
        .unwrap();
    assert!(again.effects.is_empty());
    assert_eq!(again.incident, stored);
    let entries = types(&all_timeline(&f, &id).await);
    assert_eq!(
        entries
            .iter()
            .filter(|t| **t == "io.klaxon.alert.resolved")
            .count(),
        2
    );
    assert_eq!(
        entries
            .iter()
            .filter(|t| **t == "io.klaxon.incident.resolved")
            .count(),
        1
    );
    let links = f.repo.incident_alerts(&id).await.unwrap();
    assert!(links.iter().all(|l| l.state == AlertLinkState::Resolved));
    // Auto-resolve off: the incident stays open after its last alert.
    let other = incident_id("inc9");
    new_incident(&f, "h", "inc9", 9).await;
    let kept = f
        .repo
        .alert_resolved(&other, &alert_id(9), prom(), AutoResolve::Never, f.now())
        .await
        .unwrap();
    assert_eq!(kept.incident.incident.status(), IncidentStatus::Triggered);
    assert_eq!(kept.incident.incident.alerts().open, 0);
    // An alert of another incident is not found here.
    match f
        .repo
        .alert_resolved(&other, &alert_id(1), prom(), AutoResolve::Never, f.now())
        .await
    {
        Err(RepoError::NotFound { .. }) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
}

async fn concurrent_alert_resolutions_resolve_the_incident_once<S: Store + Clone + 'static>(
    f: Fixture<S>,
) {
    let id = incident_id("inc0");
    for i in 0..20 {
        new_incident(&f, "g", &format!("inc{i}"), i).await;
    }
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let repo = f.repo.clone();
            let id = id.clone();
            let at = f.now();
            tokio::spawn(async move {
                repo.alert_resolved(
                    &id,
                    &alert_id(i),
                    prom(),
                    AutoResolve::WhenAllAlertsResolve,
                    at,
                )
                .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let stored = f.repo.incident(&id).await.unwrap().unwrap();
    assert_eq!(stored.incident.status(), IncidentStatus::Resolved);
    assert_eq!(stored.incident.alerts().open, 0);
    assert_eq!(stored.incident.alerts().linked, 20);
    let entries = types(&all_timeline(&f, &id).await);
    assert_eq!(
        entries
            .iter()
            .filter(|t| **t == "io.klaxon.incident.resolved")
            .count(),
        1
    );
    assert_eq!(
        entries
            .iter()
            .filter(|t| **t == "io.klaxon.alert.resolved")
            .count(),
        20
    );
}

async fn timeline_is_in_time_order_across_pages<S: Store>(f: Fixture<S>) {
    let linked = new_incident(&f, "g", "inc1", 1).await;
    let id = incident_id("inc1");
    let mut version = linked.incident.version;
    let incident = linked.incident.incident;
    // Entries written later but dated earlier still sort by time.
    for (i, minutes) in [30i64, 10, 20].into_iter().enumerate() {
        let drafts = vec![
            draft(&id, &format!("b{i}"), t0() + Duration::minutes(minutes)),
            draft(&id, &format!("a{i}"), t0() + Duration::minutes(minutes)),
        ];
        version = f
            .repo
            .save_incident(&incident, version, &drafts)
            .await
            .unwrap();
    }
    let mut cursor = None;
    let mut keys = Vec::new();
    loop {
        let page = f.repo.timeline(&id, cursor, 3).await.unwrap();
        assert!(page.items.len() <= 3);
        for record in &page.items {
            assert_eq!(record.source.as_str(), "/klaxon/tests");
            assert_eq!(record.subject, id);
        }
        keys.extend(page.items.into_iter().map(|r| r.id));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let keys: Vec<&str> = keys.iter().map(|k| k.rsplit('/').next().unwrap()).collect();
    // Same instant: the order the domain produced them (b before a), not alphabetical.
    assert_eq!(
        keys,
        vec![
            "triggered",
            "alert.a0001.linked",
            "b1",
            "a1",
            "b2",
            "a2",
            "b0",
            "a0"
        ]
    );
}
