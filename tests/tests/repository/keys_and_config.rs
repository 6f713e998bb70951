//! Keys and configuration.

use super::*;

repository!(
    keys_are_created_once_listed_and_revoked,
    config_versions_advance_only_on_change,
    concurrent_config_saves_number_versions_without_gaps,
    large_configs_are_split_and_oversized_ones_refused,
);

async fn keys_are_created_once_listed_and_revoked<S: Store>(f: Fixture<S>) {
    let hash = |c: char| c.to_string().repeat(64);
    let record = |kind, name: &str| KeyRecord {
        kind,
        name: name.to_owned(),
        label: Some(format!("{name} key")),
        created_at: t0(),
    };
    let prom = record(KeyKind::Integration, "prom");
    f.repo.create_key(&hash('a'), &prom).await.unwrap();
    f.repo
        .create_key(&hash('b'), &record(KeyKind::Api, "ci"))
        .await
        .unwrap();
    // The hash is taken: refused, the first record stays.
    match f
        .repo
        .create_key(&hash('a'), &record(KeyKind::Api, "other"))
        .await
    {
        Err(RepoError::AlreadyExists { entity: "key", .. }) => {}
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    let found = f.repo.key(&hash('a')).await.unwrap().unwrap();
    assert_eq!(found.hash, hash('a'));
    assert_eq!(found.record, prom);
    assert_eq!(f.repo.key(&hash('c')).await.unwrap(), None);
    let listed: Vec<(KeyKind, String)> = f
        .repo
        .list_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| (k.record.kind, k.record.name))
        .collect();
    assert_eq!(
        listed,
        vec![
            (KeyKind::Api, "ci".to_owned()),
            (KeyKind::Integration, "prom".to_owned())
        ]
    );
    assert!(f.repo.revoke_key(&hash('a')).await.unwrap());
    assert!(!f.repo.revoke_key(&hash('a')).await.unwrap());
    assert_eq!(f.repo.key(&hash('a')).await.unwrap(), None);
    assert_eq!(f.repo.list_keys().await.unwrap().len(), 1);
}

async fn config_versions_advance_only_on_change<S: Store>(f: Fixture<S>) {
    let actor = Actor::system("cli");
    assert_eq!(f.repo.current_config().await.unwrap(), None);
    let first = f
        .repo
        .save_config(r#"{"users":[]}"#, "fp1", &actor)
        .await
        .unwrap();
    assert_eq!((first.version, first.unchanged), (1, false));
    f.advance(60);
    let again = f
        .repo
        .save_config(r#"{"users":[]}"#, "fp1", &actor)
        .await
        .unwrap();
    assert_eq!((again.version, again.unchanged), (1, true));
    let second = f
        .repo
        .save_config(r#"{"users":["alice"]}"#, "fp2", &Actor::system("api"))
        .await
        .unwrap();
    assert_eq!((second.version, second.unchanged), (2, false));
    let current = f.repo.current_config().await.unwrap().unwrap();
    assert_eq!(current.version, 2);
    assert_eq!(current.fingerprint, "fp2");
    assert_eq!(current.json, r#"{"users":["alice"]}"#);
    assert_eq!(current.applied_by, Actor::system("api"));
    assert_eq!(current.applied_at, t0() + Duration::seconds(60));
    let old = f.repo.config_version(1).await.unwrap().unwrap();
    assert_eq!(
        (old.json.as_str(), old.fingerprint.as_str()),
        (r#"{"users":[]}"#, "fp1")
    );
    assert_eq!(old.applied_at, t0());
    assert_eq!(f.repo.config_version(3).await.unwrap(), None);
    // Going back to an old configuration is a change too: a new version.
    let third = f
        .repo
        .save_config(r#"{"users":[]}"#, "fp1", &actor)
        .await
        .unwrap();
    assert_eq!((third.version, third.unchanged), (3, false));
}

async fn concurrent_config_saves_number_versions_without_gaps<S: Store + Clone + 'static>(
    f: Fixture<S>,
) {
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let repo = f.repo.clone();
            tokio::spawn(async move {
                repo.save_config(
                    &format!("{{\"n\":{i}}}"),
                    &format!("fp{i}"),
                    &Actor::system("cli"),
                )
                .await
            })
        })
        .collect();
    let mut versions = Vec::new();
    for task in tasks {
        let saved = task.await.unwrap().unwrap();
        assert!(!saved.unchanged);
        versions.push(saved.version);
    }
    versions.sort_unstable();
    assert_eq!(versions, (1..=8).collect::<Vec<u64>>());
    let mut fingerprints = HashSet::new();
    for version in 1..=8 {
        let config = f.repo.config_version(version).await.unwrap().unwrap();
        let n: serde_json::Value = serde_json::from_str(&config.json).unwrap();
        assert_eq!(config.fingerprint, format!("fp{}", n["n"]));
        fingerprints.insert(config.fingerprint);
    }
    assert_eq!(fingerprints.len(), 8);
    assert_eq!(f.repo.current_config().await.unwrap().unwrap().version, 8);
}

async fn large_configs_are_split_and_oversized_ones_refused<S: Store>(f: Fixture<S>) {
    // ~1 MB of incompressible JSON: three parts of 350 KiB.
    let json = serde_json::json!({ "blob": noise(1_000_000, 7) }).to_string();
    let saved = f
        .repo
        .save_config(&json, "big", &Actor::system("cli"))
        .await
        .unwrap();
    let parts =
        f.store
            .query(
                &Query::table(schema::CONFIG).sort(klaxon_store::SortCondition::BeginsWith(
                    format!("{}{:020}#", schema::VERSION, saved.version),
                )),
            )
            .await
            .unwrap();
    assert!(parts.items.len() >= 2, "split into parts");
    assert_eq!(f.repo.current_config().await.unwrap().unwrap().json, json);
    // Beyond what one transaction can carry: refused, nothing written.
    let huge = serde_json::json!({ "blob": noise(5_000_000, 8) }).to_string();
    match f
        .repo
        .save_config(&huge, "huge", &Actor::system("cli"))
        .await
    {
        Err(RepoError::Invalid { field, .. }) => assert_eq!(field, "config"),
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert_eq!(
        f.repo.current_config().await.unwrap().unwrap().fingerprint,
        "big"
    );
}
