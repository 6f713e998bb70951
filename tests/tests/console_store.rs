//! The web console's store items (sessions, one-time sign-in tokens, per-address sign-in
//! counters), on both stores: SQLite and DynamoDB on a moto server (never skipped). Each test
//! is a generic function instantiated once per adapter (`sqlite::name`, `dynamodb::name`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use chrono::Duration;
use klaxon_domain::ids::UserId;
use klaxon_domain::timeline::EventSource;
use klaxon_store::repo::{ConsoleSession, RepoError, SigninToken, schema};
use klaxon_store::{Clock, ManualClock, Repository, Store};
use klaxon_tests::{dynamo_store, manual_clock, sqlite_store};
use std::sync::Arc;

struct World<S> {
    repo: Repository<S>,
    clock: Arc<ManualClock>,
}

async fn sqlite() -> World<klaxon_local::store::SqliteStore> {
    let clock = manual_clock();
    let store = sqlite_store(clock.clone());
    World {
        repo: Repository::new(store, clock.clone(), EventSource::klaxon("test").unwrap()),
        clock,
    }
}

async fn dynamodb() -> World<klaxon_aws::dynamo::DynamoStore> {
    let clock = manual_clock();
    let store = dynamo_store(clock.clone()).await;
    World {
        repo: Repository::new(store, clock.clone(), EventSource::klaxon("test").unwrap()),
        clock,
    }
}

macro_rules! both_stores {
    ($($test:ident),+ $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::sqlite().await).await;
                }
            )+
        }
        mod on_dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::dynamodb().await).await;
                }
            )+
        }
    };
}

both_stores!(
    a_session_lives_until_it_expires_or_is_revoked,
    a_sign_in_token_works_once_and_not_after_it_expires,
    the_sign_in_counter_counts_per_address_within_its_window,
    items_are_keyed_by_hashes_never_by_the_secret,
);

fn alice() -> UserId {
    UserId::new("alice").unwrap()
}

fn session<S: Store>(world: &World<S>, minutes: i64) -> ConsoleSession {
    let now = world.clock.now();
    ConsoleSession {
        user: alice(),
        csrf: "csrf-token".into(),
        created_at: now,
        expires_at: now + Duration::minutes(minutes),
    }
}

async fn a_session_lives_until_it_expires_or_is_revoked<S: Store>(world: World<S>) {
    let repo = &world.repo;
    let stored = session(&world, 10);
    repo.create_session("token-a", &stored).await.unwrap();
    assert_eq!(repo.session("token-a").await.unwrap(), Some(stored.clone()));
    assert_eq!(repo.session("token-b").await.unwrap(), None);
    assert!(matches!(
        repo.create_session("token-a", &stored).await,
        Err(RepoError::AlreadyExists { .. })
    ));

    world.clock.advance(Duration::minutes(9));
    assert!(repo.session("token-a").await.unwrap().is_some());
    world.clock.advance(Duration::minutes(1));
    assert_eq!(repo.session("token-a").await.unwrap(), None, "expired");

    let other = session(&world, 10);
    repo.create_session("token-c", &other).await.unwrap();
    assert!(repo.revoke_session("token-c").await.unwrap());
    assert_eq!(repo.session("token-c").await.unwrap(), None);
    assert!(!repo.revoke_session("token-c").await.unwrap());
    // Garbage in a cookie is simply no session.
    assert_eq!(repo.session("").await.unwrap(), None);
    assert_eq!(repo.session(&"x".repeat(5000)).await.unwrap(), None);
}

async fn a_sign_in_token_works_once_and_not_after_it_expires<S: Store>(world: World<S>) {
    let repo = &world.repo;
    let token = SigninToken {
        user: alice(),
        expires_at: world.clock.now() + Duration::minutes(15),
    };
    repo.create_signin_token("link-1", &token).await.unwrap();
    repo.create_signin_token("link-2", &token).await.unwrap();
    assert_eq!(
        repo.consume_signin_token("link-1").await.unwrap(),
        Some(token.clone())
    );
    assert_eq!(
        repo.consume_signin_token("link-1").await.unwrap(),
        None,
        "a replayed link signs nobody in"
    );
    assert_eq!(
        repo.consume_signin_token("never-issued").await.unwrap(),
        None
    );

    world.clock.advance(Duration::minutes(15));
    assert_eq!(
        repo.consume_signin_token("link-2").await.unwrap(),
        None,
        "an expired link signs nobody in"
    );
}

async fn the_sign_in_counter_counts_per_address_within_its_window<S: Store>(world: World<S>) {
    let repo = &world.repo;
    for expected in 1..=3 {
        assert_eq!(
            repo.count_signin_request("Alice@Example.com", 900)
                .await
                .unwrap(),
            expected
        );
    }
    // Case and surrounding space do not make a new address.
    assert_eq!(
        repo.count_signin_request(" alice@example.com ", 900)
            .await
            .unwrap(),
        4
    );
    assert_eq!(
        repo.count_signin_request("bob@example.com", 900)
            .await
            .unwrap(),
        1
    );
    // The window runs from the first request: later ones do not extend it.
    world.clock.advance(Duration::seconds(899));
    assert_eq!(
        repo.count_signin_request("alice@example.com", 900)
            .await
            .unwrap(),
        5
    );
    world.clock.advance(Duration::seconds(1));
    assert_eq!(
        repo.count_signin_request("alice@example.com", 900)
            .await
            .unwrap(),
        1,
        "a new window starts after the old one ends"
    );
}

async fn items_are_keyed_by_hashes_never_by_the_secret<S: Store>(world: World<S>) {
    let repo = &world.repo;
    repo.create_session("plain-session-token", &session(&world, 10))
        .await
        .unwrap();
    let key = schema::session_key("plain-session-token");
    assert!(key.pk.starts_with(schema::SESSION));
    assert!(!key.pk.contains("plain-session-token"));
    let item = repo.store().get(&key).await.unwrap().expect("stored");
    let text = format!("{item:?}");
    assert!(!text.contains("plain-session-token"), "{text}");
    assert!(!schema::signin_token_key("link").pk.contains("link"));
    assert!(
        !schema::signin_rate_key("alice@example.com")
            .pk
            .contains("alice")
    );
}
