//! The admin page's dead letters on `klaxon serve`: an admin sees each queue's dead letters
//! with what they concern and redrives one (back on its queue, gone from the list; a second
//! redrive is a 404, not a second message); a forged form or another role changes nothing;
//! a bad queue name is a 400 naming `queue`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use klaxon_app::messages::QueueName;
use klaxon_tests::console::{ConsoleWorld, Session, eventually, form_value};

/// A body the consumers cannot read, naming an incident: dead-lettered on its first receive
/// (and again after a redrive, under a new id, which shows it went back on the queue).
const BODY: &str = r#"{"kind":"from_a_newer_version","incident":"0192dead0001"}"#;

async fn admin_page(world: &ConsoleWorld, session: &Session) -> String {
    let page = world.get("/console/admin", Some(session)).await;
    assert_eq!(page.status(), 200);
    page.text().await.unwrap()
}

async fn dead_ids(world: &ConsoleWorld, queue: QueueName) -> Vec<String> {
    let letters = world.runtime.queue().dead_letters(queue).await.unwrap();
    letters.iter().map(|l| l.id.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_sees_a_dead_letter_and_redrives_it_once() {
    let world = ConsoleWorld::start().await;
    let id = world.dead_letter(QueueName::Incidents, BODY).await;
    let admin = world.sign_in("ann@example.com").await;
    let html = admin_page(&world, &admin).await;
    let card = &html[html.find("id=\"dead-letters-incidents\"").unwrap()..];
    let card = &card[..card.find("id=\"dead-letters-timers\"").unwrap()];
    assert!(
        card.contains("<span class=\"dead-letter-count\">1</span> dead letter;"),
        "{card}"
    );
    assert!(
        card.contains(&format!("id=\"dead-letter-incidents-{id}\"")),
        "{card}"
    );
    assert!(
        card.contains("href=\"/console/incidents/0192dead0001\""),
        "{card}"
    );
    assert!(card.contains("Last error: unparseable body"), "{card}");
    assert!(
        card.contains("from_a_newer_version"),
        "the body's start: {card}"
    );
    let csrf = form_value(&html, "csrf").unwrap();
    let path = format!("/console/admin/dead-letters/incidents/{id}/redrive");

    for forged in [vec![], vec![("csrf", "wrong")]] {
        let refused = world.post_form(&path, Some(&admin), &forged).await;
        assert_eq!(refused.status(), 403, "{forged:?}");
    }
    assert_eq!(
        dead_ids(&world, QueueName::Incidents).await,
        vec![id.clone()]
    );

    let done = world
        .post_form(&path, Some(&admin), &[("csrf", &csrf)])
        .await;
    assert_eq!(done.status(), 200);
    let text = done.text().await.unwrap();
    assert!(
        text.contains(&format!("Dead letter {id} is back on the incidents queue.")),
        "{text}"
    );
    let again = world
        .post_form(&path, Some(&admin), &[("csrf", &csrf)])
        .await;
    assert_eq!(again.status(), 404, "already redriven");
    // Back on the queue exactly once: its consumer reads it again and, still unable to,
    // dead-letters it again under one new id.
    let renewed = eventually("the redriven message to die again", async || {
        let ids = dead_ids(&world, QueueName::Incidents).await;
        (ids.len() == 1 && ids[0] != id).then_some(ids)
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        dead_ids(&world, QueueName::Incidents).await,
        renewed,
        "not doubled"
    );
    world.runtime.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redrive_all_empties_a_queue_and_other_roles_change_nothing() {
    let world = ConsoleWorld::start().await;
    let first = world
        .dead_letter(QueueName::Notifications, r#"{"kind":"x","incident":"a"}"#)
        .await;
    let second = world
        .dead_letter(QueueName::Notifications, r#"{"kind":"x","incident":"b"}"#)
        .await;
    let path = "/console/admin/dead-letters/notifications/redrive-all";
    for address in ["vera@example.com", "alice@example.com"] {
        let session = world.sign_in(address).await;
        let page = world.get("/console/oncall", Some(&session)).await;
        let csrf = form_value(&page.text().await.unwrap(), "csrf").unwrap();
        assert_eq!(
            world.get("/console/admin", Some(&session)).await.status(),
            403
        );
        let refused = world
            .post_form(path, Some(&session), &[("csrf", &csrf)])
            .await;
        assert_eq!(refused.status(), 403, "{address}");
        let one = format!("/console/admin/dead-letters/notifications/{first}/redrive");
        let refused = world
            .post_form(&one, Some(&session), &[("csrf", &csrf)])
            .await;
        assert_eq!(refused.status(), 403, "{address}");
    }
    assert_eq!(
        dead_ids(&world, QueueName::Notifications).await,
        [first.clone(), second.clone()]
    );

    let admin = world.sign_in("ann@example.com").await;
    let html = admin_page(&world, &admin).await;
    assert!(
        html.contains("Redrive all notifications dead letters"),
        "{html}"
    );
    let csrf = form_value(&html, "csrf").unwrap();
    let bad = world
        .post_form(
            "/console/admin/dead-letters/scheduler/redrive-all",
            Some(&admin),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(
        bad.status(),
        400,
        "serve has no scheduler dead-letter queue"
    );
    assert!(
        bad.text()
            .await
            .unwrap()
            .contains("queue: must be one of alerts, incidents, timers, notifications")
    );
    let done = world
        .post_form(path, Some(&admin), &[("csrf", &csrf)])
        .await;
    assert_eq!(done.status(), 200);
    let text = done.text().await.unwrap();
    assert!(
        text.contains("2 dead letters of notifications went back on the notifications queue."),
        "{text}"
    );
    let ids = dead_ids(&world, QueueName::Notifications).await;
    assert!(!ids.contains(&first) && !ids.contains(&second), "{ids:?}");
    world.runtime.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_json_api_lists_and_redrives_dead_letters_with_an_api_key() {
    let world = ConsoleWorld::start().await;
    let id = world.dead_letter(QueueName::Incidents, BODY).await;
    let key = world.runtime.keys().api.key.expose().to_owned();
    let listed = world
        .client
        .get(world.url("/v1/dead-letters?queue=incidents"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    let listed: serde_json::Value = listed.json().await.unwrap();
    let letter = &listed["queues"][0]["letters"][0];
    assert_eq!(letter["id"], id.as_str(), "{listed}");
    assert_eq!(letter["concerns"]["incident"], "0192dead0001");
    assert!(
        letter["last_error"]
            .as_str()
            .unwrap()
            .starts_with("unparseable body")
    );

    let path = format!("/v1/dead-letters/incidents/{id}/redrive");
    let anonymous = world.client.post(world.url(&path)).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(
        dead_ids(&world, QueueName::Incidents).await,
        vec![id.clone()]
    );
    let post = async || {
        let response = (world.client.post(world.url(&path)))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json::<serde_json::Value>().await.unwrap())
    };
    let (status, done) = post().await;
    assert_eq!(
        (status, &done["to"]),
        (200, &serde_json::json!("incidents")),
        "{done}"
    );
    let (status, again) = post().await;
    assert_eq!(status, 404, "{again}");
    let bad = (world
        .client
        .get(world.url("/v1/dead-letters?queue=scheduler")))
    .bearer_auth(&key)
    .send()
    .await
    .unwrap();
    assert_eq!(bad.status(), 400);
    let bad: serde_json::Value = bad.json().await.unwrap();
    assert_eq!(bad["error"]["field"], "queue");
    world.runtime.shutdown().await.unwrap();
}
