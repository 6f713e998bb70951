//! The web console in a real browser (headless Chromium over WebDriver), at 375 px and
//! 1280 px: signing in through the link from the outbox, opening the incident from a page's
//! link and acknowledging it (the timeline shows it, no further page is sent), a viewer who
//! cannot act, signing out, a replayed sign-in link, and an override created on the schedule
//! page that "on call now" then shows.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use klaxon_app::console::oncall::form_time;
use klaxon_domain::config::Config;
use klaxon_domain::incident::IncidentStatus;
use klaxon_tests::browser::{BrowserWorld, wait_text, wait_url};
use klaxon_tests::console::{CONSOLE_CONFIG, eventually};
use serde_json::json;
use std::time::Duration;

/// Runs `flow` at each width, as one test each.
macro_rules! at_both_widths {
    ($flow:ident, $narrow:ident, $wide:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $narrow() {
            $flow(375).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $wide() {
            $flow(1280).await;
        }
    };
}

async fn acknowledge_from_a_page_link(width: u32) {
    let b = BrowserWorld::start(width).await;
    let incident = b.world.open_incident("disk-full").await;
    let id = incident.incident.id().to_string();
    let page = eventually("the first page", async || {
        b.world.pages_to("alice@example.com").into_iter().next()
    })
    .await;
    b.sign_in("alice@example.com").await;
    b.assert_fits("the incidents page").await;

    // The page's acknowledge link shows a confirmation page that leads into the console.
    let ack_link = page.links.iter().find(|l| l.contains("a=ack")).unwrap();
    b.browser.goto(ack_link).await.unwrap();
    b.browser
        .find_link("in the console")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_url(&b.browser, &format!("/console/incidents/{id}")).await;
    wait_text(&b.browser, "h1", "disk-full is on fire").await;
    b.assert_fits("the incident page").await;
    let button = b.browser.find("#acknowledge").await.unwrap();
    assert!(button.displayed().await.unwrap());
    button.click().await.unwrap();

    wait_url(
        &b.browser,
        &format!("/console/incidents/{id}?done=acknowledge"),
    )
    .await;
    wait_text(
        &b.browser,
        "[role=status]",
        "You acknowledged this incident",
    )
    .await;
    assert_eq!(
        b.browser
            .find("#status")
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "acknowledged"
    );
    let timeline = wait_text(&b.browser, "#timeline", "incident.acknowledged").await;
    assert!(timeline.contains("by user:alice"), "{timeline}");
    assert!(
        b.browser.find("#acknowledge").await.is_err(),
        "no acknowledge button on an acknowledged incident"
    );
    let pages_at_ack = b.world.pages_to("alice@example.com").len();
    // The tier repeats every 2 s while unacknowledged: wait three times that.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(
        b.world.pages_to("alice@example.com").len(),
        pages_at_ack,
        "no page after the acknowledgement"
    );
    b.finish().await;
}
at_both_widths!(
    acknowledge_from_a_page_link,
    acknowledging_from_a_page_link_at_375_px,
    acknowledging_from_a_page_link_at_1280_px
);

async fn a_viewer_cannot_act(width: u32) {
    let b = BrowserWorld::start(width).await;
    let incident = b.world.open_incident("viewer-only").await;
    let id = incident.incident.id().to_string();
    b.sign_in("vera@example.com").await;
    b.open(&format!("/console/incidents/{id}")).await;
    wait_text(&b.browser, "h1", "viewer-only is on fire").await;
    for button in ["#acknowledge", "#resolve"] {
        let found = b.browser.find(button).await;
        assert!(
            found.as_ref().is_err_and(|e| e.is_no_such_element()),
            "{button} shown to a viewer"
        );
    }
    // Posting the form anyway, from the viewer's own page with their cookie and CSRF token.
    let status = b
        .browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const csrf = document.querySelector('input[name=csrf]').value;
             fetch(arguments[0], {method: 'POST', credentials: 'same-origin',
                 headers: {'content-type': 'application/x-www-form-urlencoded'},
                 body: 'csrf=' + encodeURIComponent(csrf)})
               .then(r => done(r.status), e => done(String(e)));",
            vec![json!(format!("/console/incidents/{id}/acknowledge"))],
        )
        .await
        .unwrap();
    assert_eq!(status, json!(403), "the acknowledge POST is refused");
    let stored = b
        .world
        .runtime
        .repository()
        .incident(incident.incident.id())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.incident.status(), IncidentStatus::Triggered);
    b.open("/console/schedules/primary").await;
    wait_text(&b.browser, "main", "Europe/London").await;
    let form = b.browser.find("#create-override").await;
    assert!(
        form.is_err_and(|e| e.is_no_such_element()),
        "no override form for a viewer"
    );
    b.finish().await;
}
at_both_widths!(
    a_viewer_cannot_act,
    a_viewer_cannot_act_at_375_px,
    a_viewer_cannot_act_at_1280_px
);

async fn sign_out_ends_the_session(width: u32) {
    let b = BrowserWorld::start(width).await;
    b.sign_in("alice@example.com").await;
    let cookies = b.browser.cookies().await.unwrap();
    let session = cookies
        .iter()
        .find(|(name, _, _)| name == "klaxon_session")
        .expect("a session cookie");
    assert!(session.2, "the session cookie is HttpOnly");
    let from_script = b
        .browser
        .execute("return document.cookie;", vec![])
        .await
        .unwrap();
    assert!(
        !from_script
            .as_str()
            .unwrap_or_default()
            .contains(&session.1),
        "scripts cannot read the session"
    );
    let old = session.1.clone();

    b.browser
        .find("form[action='/console/signout'] button")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&b.browser, "main", "Your session has ended").await;
    b.open("/console/incidents").await;
    wait_url(&b.browser, "/console/signin").await;
    // The old cookie, put back by hand, is no good either: the session is gone on the server.
    let status = b
        .world
        .client
        .get(b.world.url("/console/incidents"))
        .header("cookie", format!("klaxon_session={old}"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 303, "the ended session is refused");
    b.finish().await;
}
at_both_widths!(
    sign_out_ends_the_session,
    signing_out_ends_the_session_at_375_px,
    signing_out_ends_the_session_at_1280_px
);

async fn a_replayed_link_fails(width: u32) {
    let b = BrowserWorld::start(width).await;
    let link = b.sign_in("alice@example.com").await;
    b.browser.delete_cookies().await.unwrap();
    b.use_link(&link).await;
    wait_text(&b.browser, "main", "already used").await;
    b.assert_fits("the refused sign-in").await;
    b.open("/console/incidents").await;
    wait_url(&b.browser, "/console/signin").await;
    b.finish().await;
}
at_both_widths!(
    a_replayed_link_fails,
    a_replayed_sign_in_link_fails_at_375_px,
    a_replayed_sign_in_link_fails_at_1280_px
);

async fn an_override_shows_on_call_now(width: u32) {
    let b = BrowserWorld::start(width).await;
    b.sign_in("alice@example.com").await;
    b.open("/console/oncall").await;
    let before = wait_text(&b.browser, "#schedules", "Primary").await;
    assert!(!before.contains("Vera Viewer"), "{before}");
    b.assert_fits("on call now").await;
    b.browser
        .find_link("Primary")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_url(&b.browser, "/console/schedules/primary").await;
    wait_text(&b.browser, "main", "Europe/London").await;
    b.assert_fits("the schedule page").await;

    // Vera takes over from a minute ago for two hours (the form reads the schedule's zone).
    let zone = Config::from_yaml(CONSOLE_CONFIG).unwrap().schedules[0].time_zone;
    let now = chrono::Utc::now();
    let start = form_time(now - chrono::TimeDelta::minutes(1), zone);
    let end = form_time(now + chrono::TimeDelta::hours(2), zone);
    b.browser
        .find("#user option[value=vera]")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    for (field, value) in [("#start", &start), ("#end", &end)] {
        // A date picker is what a person uses here; setting the value is what it does.
        b.browser
            .execute(
                "document.querySelector(arguments[0]).value = arguments[1];",
                vec![json!(field), json!(value)],
            )
            .await
            .unwrap();
    }
    b.browser
        .find("#create-override")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_url(&b.browser, "/console/schedules/primary?done=created").await;
    let overrides = wait_text(&b.browser, "#overrides", "Vera Viewer").await;
    assert!(overrides.contains("Remove override"), "{overrides}");
    let rotation = b
        .browser
        .find("#rotation")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(rotation.contains("Vera Viewer"), "{rotation}");

    b.browser
        .find_link("On call")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_url(&b.browser, "/console/oncall").await;
    let now_text = wait_text(&b.browser, "#schedules", "Vera Viewer").await;
    assert!(now_text.contains("(override)"), "{now_text}");
    b.finish().await;
}
at_both_widths!(
    an_override_shows_on_call_now,
    an_override_created_on_the_schedule_page_shows_on_call_now_at_375_px,
    an_override_created_on_the_schedule_page_shows_on_call_now_at_1280_px
);
