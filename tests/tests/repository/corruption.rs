//! Corruption and validation.

use super::*;

repository!(
    corrupt_items_are_typed_errors,
    invalid_arguments_are_refused_before_writing,
);

async fn corrupt_items_are_typed_errors<S: Store>(f: Fixture<S>) {
    new_incident(&f, "g", "inc1", 1).await;
    let key = schema::incident_key("inc1");
    // The document names a status the domain does not know.
    let item = f.store.get(&key).await.unwrap().unwrap();
    let AttributeValue::S(json) = item.get("incident").unwrap().clone() else {
        panic!("incident document is not text");
    };
    let broken = json.replace("\"triggered\"", "\"on-fire\"");
    f.store
        .update(
            &key,
            vec![UpdateAction::set("incident", s(broken))],
            None,
            ReturnValues::None,
        )
        .await
        .unwrap();
    match f.repo.incident(&incident_id("inc1")).await {
        Err(RepoError::Corrupt { attribute, .. }) => assert_eq!(attribute, "incident.status"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    // A counter that is not a number.
    f.store
        .update(
            &key,
            vec![UpdateAction::set("alerts_open", s("many"))],
            None,
            ReturnValues::None,
        )
        .await
        .unwrap();
    match f.repo.open_incidents(None, 10).await {
        Err(RepoError::Corrupt { attribute, .. }) => assert_eq!(attribute, "alerts_open"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    // An alert whose compressed body is not gzip.
    let a = alert("d9", Severity::Info, f.now());
    f.repo
        .record_firing(&a, &alert_id(9), &group("g"))
        .await
        .unwrap();
    let record_key = Key::new(f_pk(&a.key()), schema::OCCURRENCE);
    f.store
        .update(
            &record_key,
            vec![UpdateAction::set(
                "body",
                AttributeValue::B(b"garbage".to_vec()),
            )],
            None,
            ReturnValues::None,
        )
        .await
        .unwrap();
    match f.repo.alert(&a.key()).await {
        Err(RepoError::Corrupt { attribute, .. }) => assert_eq!(attribute, "body"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    // A key record with a kind nobody knows.
    let hash = "f".repeat(64);
    f.repo
        .create_key(
            &hash,
            &KeyRecord {
                kind: KeyKind::Api,
                name: "ci".into(),
                label: None,
                created_at: t0(),
            },
        )
        .await
        .unwrap();
    f.store
        .update(
            &Key::new(format!("{}{hash}", schema::API_KEY), schema::KEY),
            vec![UpdateAction::set("kind", s("root"))],
            None,
            ReturnValues::None,
        )
        .await
        .unwrap();
    match f.repo.key(&hash).await {
        Err(RepoError::Corrupt { attribute, .. }) => assert_eq!(attribute, "kind"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

async fn invalid_arguments_are_refused_before_writing<S: Store>(f: Fixture<S>) {
    let record = KeyRecord {
        kind: KeyKind::Api,
        name: "ci".into(),
        label: None,
        created_at: t0(),
    };
    for bad in ["", "ABC", &"g".repeat(64), &"a".repeat(63)] {
        assert!(
            matches!(
                f.repo.create_key(bad, &record).await,
                Err(RepoError::Invalid { .. })
            ),
            "{bad}"
        );
    }
    let mut resolved = alert("r", Severity::Info, f.now());
    resolved.status = AlertStatus::Resolved;
    match f
        .repo
        .record_firing(&resolved, &alert_id(1), &group("g"))
        .await
    {
        Err(RepoError::Invalid { field, .. }) => assert_eq!(field, "alert.status"),
        other => panic!("expected Invalid, got {other:?}"),
    }
    let firing = alert("r", Severity::Info, f.now());
    assert!(matches!(
        f.repo
            .record_firing(&firing, &alert_id(1), &group(""))
            .await,
        Err(RepoError::Invalid { .. })
    ));
    // A resolved alert cannot open an incident (the domain refuses; nothing is written).
    match f
        .repo
        .find_or_create_incident(
            &group("g"),
            WINDOW,
            &alert_id(1),
            &resolved,
            &incident_id("i"),
        )
        .await
    {
        Err(RepoError::Domain(_)) => {}
        other => panic!("expected a domain error, got {other:?}"),
    }
    assert_eq!(f.repo.incident(&incident_id("i")).await.unwrap(), None);
    assert!(matches!(
        f.repo
            .begin_idempotent("a#b", "x", HumanDuration::from_mins(1))
            .await,
        Err(RepoError::Invalid { .. })
    ));
    let page: Page = f.store.query(&Query::table(schema::COUNTER)).await.unwrap();
    assert!(page.items.is_empty(), "no incident number was taken");
}
