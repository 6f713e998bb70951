//! Incidents.

use super::*;

repository!(
    incidents_are_created_joined_and_replaced_per_window,
    concurrent_alerts_of_one_group_make_one_incident,
    a_more_severe_alert_raises_the_incident_severity,
    a_cancelled_creation_writes_nothing,
    save_incident_detects_lost_optimistic_locks,
    indexes_follow_the_incident_state,
    incident_listings_paginate,
);

async fn incidents_are_created_joined_and_replaced_per_window<S: Store>(f: Fixture<S>) {
    let first = new_incident(&f, "g", "inc1", 1).await;
    assert!(first.created && first.newly_linked);
    assert_eq!(first.incident.version, 1);
    let incident = &first.incident.incident;
    assert_eq!(incident.alerts().linked, 1);
    assert_eq!(incident.status(), IncidentStatus::Triggered);
    let number = incident.number();
    // A second alert within the window joins.
    f.advance(600);
    let second = new_incident(&f, "g", "inc2", 2).await;
    assert!(!second.created && second.newly_linked);
    assert_eq!(second.incident.incident.id(), &incident_id("inc1"));
    assert_eq!(second.incident.incident.alerts().linked, 2);
    // The same occurrence again (a redelivered message): nothing changes.
    let again = new_incident(&f, "g", "inc3", 2).await;
    assert!(!again.created && !again.newly_linked);
    assert_eq!(again.incident.incident.id(), &incident_id("inc1"));
    let stored = f
        .repo
        .incident(&incident_id("inc1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.incident.alerts().linked, 2);
    assert_eq!(stored.incident.alerts().open, 2);
    assert_eq!(stored.version, 1, "linking never takes the optimistic lock");
    assert_eq!(
        types(&all_timeline(&f, &incident_id("inc1")).await),
        vec![
            "io.klaxon.incident.triggered",
            "io.klaxon.alert.linked",
            "io.klaxon.alert.linked"
        ]
    );
    let linked = f.repo.incident_alerts(&incident_id("inc1")).await.unwrap();
    assert_eq!(
        linked
            .iter()
            .map(|l| l.alert_id.clone())
            .collect::<Vec<_>>(),
        vec![alert_id(1), alert_id(2)]
    );
    assert!(linked.iter().all(|l| l.state == AlertLinkState::Open));
    assert_eq!(linked[1].summary, "d2 is broken");
    // After the window: a new incident with the next number.
    f.advance(3000);
    let later = new_incident(&f, "g", "inc4", 4).await;
    assert!(later.created);
    assert_eq!(later.incident.incident.number(), number + 1);
    // Within the new window but its incident resolved: another new incident.
    let mut resolved = f
        .repo
        .incident(&incident_id("inc4"))
        .await
        .unwrap()
        .unwrap();
    let effects = resolved
        .incident
        .resolve(Actor::user(alice()), f.now())
        .unwrap();
    let drafts: Vec<TimelineDraft> = effects
        .into_iter()
        .filter_map(|e| match e {
            Effect::Timeline(d) => Some(d),
            _ => None,
        })
        .collect();
    f.repo
        .save_incident(&resolved.incident, resolved.version, &drafts)
        .await
        .unwrap();
    f.advance(10);
    let after_resolve = new_incident(&f, "g", "inc5", 5).await;
    assert!(after_resolve.created);
    assert_eq!(after_resolve.incident.incident.id(), &incident_id("inc5"));
    // Another group is independent.
    let other = new_incident(&f, "h", "inc6", 6).await;
    assert!(other.created);
    assert_eq!(
        f.repo
            .incident_by_number(number)
            .await
            .unwrap()
            .unwrap()
            .incident
            .id(),
        &incident_id("inc1")
    );
    assert_eq!(f.repo.incident_by_number(9999).await.unwrap(), None);
}

async fn concurrent_alerts_of_one_group_make_one_incident<S: Store + Clone + 'static>(
    f: Fixture<S>,
) {
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let repo = f.repo.clone();
            let alert = alert(&format!("c{i}"), Severity::Warning, t0());
            tokio::spawn(async move {
                repo.find_or_create_incident(
                    &group("storm"),
                    WINDOW,
                    &alert_id(i),
                    &alert,
                    &incident_id(&format!("inc{i}")),
                )
                .await
            })
        })
        .collect();
    let mut created = Vec::new();
    let mut incidents = HashSet::new();
    for task in tasks {
        let linked = task.await.unwrap().unwrap();
        assert!(linked.newly_linked);
        if linked.created {
            created.push(linked.incident.incident.id().clone());
        }
        incidents.insert(linked.incident.incident.id().clone());
    }
    assert_eq!(created.len(), 1, "exactly one incident");
    assert_eq!(incidents, HashSet::from([created[0].clone()]));
    let stored = f.repo.incident(&created[0]).await.unwrap().unwrap();
    assert_eq!(stored.incident.alerts().linked, 200);
    assert_eq!(stored.incident.alerts().open, 200);
    assert_eq!(
        f.repo.incident_alerts(&created[0]).await.unwrap().len(),
        200
    );
    let open = f.repo.open_incidents(None, 10).await.unwrap();
    assert_eq!(open.items.len(), 1);
    let entries = all_timeline(&f, &created[0]).await;
    assert_eq!(entries.len(), 201, "one trigger and 200 links");
}

async fn a_more_severe_alert_raises_the_incident_severity<S: Store>(f: Fixture<S>) {
    new_incident(&f, "g", "inc1", 1).await;
    f.advance(5);
    let critical = alert("worse", Severity::Critical, f.now());
    let linked = f
        .repo
        .find_or_create_incident(
            &group("g"),
            WINDOW,
            &alert_id(2),
            &critical,
            &incident_id("x"),
        )
        .await
        .unwrap();
    assert_eq!(linked.incident.incident.severity(), Severity::Critical);
    assert_eq!(linked.incident.incident.alerts().linked, 2);
    assert_eq!(linked.incident.version, 2);
    let stored = f
        .repo
        .incident(&incident_id("inc1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.incident.severity(), Severity::Critical);
    assert_eq!(stored.version, 2);
    assert_eq!(stored.incident.alerts().linked, 2);
    let entries = all_timeline(&f, &incident_id("inc1")).await;
    assert_eq!(
        types(&entries),
        vec![
            "io.klaxon.incident.triggered",
            "io.klaxon.alert.linked",
            "io.klaxon.alert.linked",
            "io.klaxon.incident.severity_changed"
        ]
    );
    // A less severe one links without a save.
    let info = alert("meh", Severity::Info, f.now());
    f.repo
        .find_or_create_incident(&group("g"), WINDOW, &alert_id(3), &info, &incident_id("y"))
        .await
        .unwrap();
    let stored = f
        .repo
        .incident(&incident_id("inc1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (stored.version, stored.incident.severity()),
        (2, Severity::Critical)
    );
    assert_eq!(stored.incident.alerts().linked, 3);
}

async fn a_cancelled_creation_writes_nothing<S: Store>(f: Fixture<S>) {
    new_incident(&f, "g", "inc1", 1).await;
    // A caller reusing an existing incident id for another group: the creation transaction is
    // cancelled as a whole, so neither the pointer, nor the link, nor timeline entries appear.
    let a = alert("d2", Severity::Warning, f.now());
    match f
        .repo
        .find_or_create_incident(&group("h"), WINDOW, &alert_id(2), &a, &incident_id("inc1"))
        .await
    {
        Err(RepoError::AlreadyExists {
            entity: "incident", ..
        }) => {}
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    assert_eq!(
        f.store
            .get(&Key::new(format!("{}h", schema::GROUP), schema::POINTER))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        f.store
            .get(&Key::new(
                format!("{}{}", schema::ALERT_LINK, alert_id(2)),
                schema::LINK
            ))
            .await
            .unwrap(),
        None
    );
    assert_eq!(all_timeline(&f, &incident_id("inc1")).await.len(), 2);
    let stored = f
        .repo
        .incident(&incident_id("inc1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.incident.alerts().linked, 1);
    // The alert can still be grouped properly afterwards.
    let linked = f
        .repo
        .find_or_create_incident(&group("h"), WINDOW, &alert_id(2), &a, &incident_id("inc2"))
        .await
        .unwrap();
    assert!(linked.created);
}

async fn save_incident_detects_lost_optimistic_locks<S: Store>(f: Fixture<S>) {
    let linked = new_incident(&f, "g", "inc1", 1).await;
    let id = incident_id("inc1");
    let StoredIncident { incident, version } = linked.incident;
    f.advance(1);
    let mut first = incident.clone();
    let assigned = first.assign(alice(), Actor::system("tests"), f.now());
    let v2 = f
        .repo
        .save_incident(&first, version, &assigned)
        .await
        .unwrap();
    assert_eq!(v2, version + 1);
    // A writer that read the old version loses, and its timeline entries are not written.
    let mut second = incident.clone();
    let ack = second.acknowledge(Actor::user(alice()), f.now()).unwrap();
    let drafts: Vec<TimelineDraft> = ack
        .into_iter()
        .filter_map(|e| match e {
            Effect::Timeline(d) => Some(d),
            _ => None,
        })
        .collect();
    match f.repo.save_incident(&second, version, &drafts).await {
        Err(RepoError::Conflict {
            entity: "incident", ..
        }) => {}
        other => panic!("expected Conflict, got {other:?}"),
    }
    match f.repo.save_incident(&second, version, &[]).await {
        Err(RepoError::Conflict { .. }) => {}
        other => panic!("expected Conflict, got {other:?}"),
    }
    let stored = f.repo.incident(&id).await.unwrap().unwrap();
    assert_eq!(stored.version, v2);
    assert_eq!(stored.incident.status(), IncidentStatus::Triggered);
    assert_eq!(stored.incident.assignees(), &[alice()]);
    assert_eq!(
        types(&all_timeline(&f, &id).await),
        vec![
            "io.klaxon.incident.triggered",
            "io.klaxon.alert.linked",
            "io.klaxon.incident.assigned"
        ]
    );
    // Re-read, re-apply, save: works.
    let mut third = stored.incident.clone();
    third.acknowledge(Actor::user(alice()), f.now()).unwrap();
    assert_eq!(
        f.repo
            .save_incident(&third, stored.version, &[])
            .await
            .unwrap(),
        v2 + 1
    );
    // Saves never overwrite the counters, whatever the document says.
    let stale_counts = third.clone();
    f.repo
        .find_or_create_incident(
            &group("g"),
            WINDOW,
            &alert_id(2),
            &alert("d2", Severity::Warning, f.now()),
            &incident_id("x"),
        )
        .await
        .unwrap();
    f.repo
        .save_incident(&stale_counts, v2 + 1, &[])
        .await
        .unwrap();
    let stored = f.repo.incident(&id).await.unwrap().unwrap();
    assert_eq!(stored.incident.alerts().linked, 2);
    // Missing incidents are not found; a draft for another incident is refused.
    let (ghost, _) = Incident::open(
        incident_id("ghost"),
        99,
        group("z"),
        alert_id(9),
        &alert("z", Severity::Info, f.now()),
        f.now(),
    )
    .unwrap();
    match f.repo.save_incident(&ghost, 1, &[]).await {
        Err(RepoError::NotFound { .. }) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
    let foreign = draft(&incident_id("other"), "x", f.now());
    match f
        .repo
        .save_incident(&stored.incident, stored.version, &[foreign])
        .await
    {
        Err(RepoError::Invalid { field, .. }) => assert_eq!(field, "timeline[0].subject"),
        other => panic!("expected Invalid, got {other:?}"),
    }
    let too_many: Vec<TimelineDraft> = (0..25)
        .map(|i| draft(&id, &format!("k{i}"), f.now()))
        .collect();
    assert!(matches!(
        f.repo
            .save_incident(&stored.incident, stored.version, &too_many)
            .await,
        Err(RepoError::Invalid { .. })
    ));
}

async fn indexes_follow_the_incident_state<S: Store>(f: Fixture<S>) {
    let id = incident_id("inc1");
    let linked = new_incident(&f, "g", "inc1", 1).await;
    let mut incident = linked.incident.incident;
    let open = f.repo.open_incidents(None, 10).await.unwrap();
    assert_eq!(open.items.len(), 1);
    assert!(
        f.repo
            .due_escalations(f.now() + Duration::days(1), 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Routing starts the escalation: the timer is due in 5 minutes.
    let update = incident
        .start_escalation(&policy(), Urgency::High, &Everyone, f.now())
        .unwrap();
    let drafts: Vec<TimelineDraft> = update
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::Timeline(d) => Some(d.clone()),
            _ => None,
        })
        .collect();
    let v2 = f.repo.save_incident(&incident, 1, &drafts).await.unwrap();
    let due = t0() + Duration::minutes(5);
    assert_eq!(
        incident.escalation().unwrap().status(),
        EscalationStatus::Active
    );
    assert!(
        f.repo
            .due_escalations(due - Duration::seconds(1), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        f.repo.due_escalations(due, 10).await.unwrap(),
        vec![(id.clone(), due)],
        "due_by is inclusive"
    );
    // Acknowledged: off the due list, still open.
    incident.acknowledge(Actor::user(alice()), f.now()).unwrap();
    let v3 = f.repo.save_incident(&incident, v2, &[]).await.unwrap();
    assert!(
        f.repo
            .due_escalations(due + Duration::days(1), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        f.repo.open_incidents(None, 10).await.unwrap().items.len(),
        1
    );
    // Resolved: off the open list, still listed by number.
    incident.resolve(Actor::user(alice()), f.now()).unwrap();
    f.repo.save_incident(&incident, v3, &[]).await.unwrap();
    assert!(
        f.repo
            .open_incidents(None, 10)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let recent = f.repo.recent_incidents(None, 10).await.unwrap();
    assert_eq!(recent.items.len(), 1);
    assert_eq!(recent.items[0].incident.status(), IncidentStatus::Resolved);
    // ... and on the resolved list, by resolve time: `from` inclusive, `to` exclusive.
    let resolved_at = f.now();
    let resolved = |from: Instant, to: Instant| {
        let repo = &f.repo;
        async move {
            let page = repo.resolved_incidents(from, to, None, 10).await.unwrap();
            page.items
                .into_iter()
                .map(|stored| stored.incident.id().clone())
                .collect::<Vec<_>>()
        }
    };
    let second = Duration::seconds(1);
    assert_eq!(
        resolved(resolved_at, resolved_at + second).await,
        std::slice::from_ref(&id)
    );
    assert!(resolved(resolved_at - second, resolved_at).await.is_empty());
    assert!(
        resolved(resolved_at + second, resolved_at + Duration::days(1))
            .await
            .is_empty()
    );
    assert_eq!(resolved(t0(), resolved_at + Duration::days(1)).await, [id]);
}

async fn incident_listings_paginate<S: Store>(f: Fixture<S>) {
    for i in 0..5 {
        new_incident(&f, &format!("g{i}"), &format!("inc{i}"), i).await;
        f.advance(1);
    }
    let mut cursor = None;
    let mut recent = Vec::new();
    loop {
        let page = f.repo.recent_incidents(cursor, 2).await.unwrap();
        assert!(page.items.len() <= 2);
        recent.extend(page.items.into_iter().map(|s| s.incident.number()));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(recent, vec![5, 4, 3, 2, 1], "newest first");
    let mut cursor = None;
    let mut open = Vec::new();
    loop {
        let page = f.repo.open_incidents(cursor, 3).await.unwrap();
        open.extend(page.items.into_iter().map(|s| s.incident.id().to_string()));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(
        open,
        vec!["inc0", "inc1", "inc2", "inc3", "inc4"],
        "oldest first"
    );
    assert!(matches!(
        f.repo.open_incidents(None, 0).await,
        Err(RepoError::Invalid { .. })
    ));
}
