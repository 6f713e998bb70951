//! A tour of every console page in headless Chromium at 375 px and 1280 px: axe-core finds no
//! serious or critical accessibility violation on any of them, none scrolls sideways, and the
//! page's CSP still refuses inline script while WebDriver runs axe (so the checks do not need
//! the CSP loosened). With `KLAXON_CONSOLE_SCREENSHOTS=DIR` set (`scripts/console-screenshots`
//! does), each page is also saved as `DIR/<page>-<width>.png` for docs/console.md.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use klaxon_app::messages::QueueName;
use klaxon_tests::axe::assert_accessible;
use klaxon_tests::browser::{BrowserWorld, wait_text, wait_url};
use klaxon_tests::console::eventually;
use serde_json::json;
use std::path::PathBuf;

/// Where screenshots go, when they are wanted.
const SCREENSHOTS_VAR: &str = "KLAXON_CONSOLE_SCREENSHOTS";

/// Checks the current page and, when asked to, saves a screenshot of it.
async fn visit(b: &BrowserWorld, name: &str) {
    assert_accessible(&b.browser, name).await;
    b.assert_fits(name).await;
    if let Ok(dir) = std::env::var(SCREENSHOTS_VAR)
        && !dir.trim().is_empty()
    {
        let dir = PathBuf::from(dir.trim());
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}-{}.png", b.width));
        let height = klaxon_tests::browser::height_for(b.width);
        b.browser
            .save_full_page(&path, b.width, height)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

/// The page's CSP refuses an inline script added to it, even while WebDriver's scripts run.
async fn assert_csp_refuses_inline_script(b: &BrowserWorld) {
    let ran = b
        .browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             let refused = false;
             document.addEventListener('securitypolicyviolation', () => { refused = true; });
             const s = document.createElement('script');
             s.textContent = 'window.__inlineRan = true;';
             document.head.appendChild(s);
             setTimeout(() => done({ran: window.__inlineRan === true, refused}), 200);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(ran, json!({"ran": false, "refused": true}), "the CSP holds");
}

async fn tour(width: u32) {
    let b = BrowserWorld::start(width).await;
    let incident = b.world.open_incident("checkout-latency").await;
    let id = incident.incident.id().to_string();
    eventually("the first page", async || {
        (!b.world.pages_to("alice@example.com").is_empty()).then_some(())
    })
    .await;

    b.open("/console/signin").await;
    wait_text(&b.browser, "h1", "Sign in").await;
    assert_csp_refuses_inline_script(&b).await;
    visit(&b, "signin").await;
    let link = b.request_link("alice@example.com").await;
    visit(&b, "signin-sent").await;
    b.browser.goto(&link).await.unwrap();
    wait_text(&b.browser, "h1", "Sign in to Klaxon").await;
    visit(&b, "signin-confirm").await;
    b.browser
        .find("#signin")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_url(&b.browser, "/console/incidents").await;
    wait_text(&b.browser, "#incident-list", "checkout-latency").await;
    visit(&b, "incidents").await;

    b.open(&format!("/console/incidents/{id}")).await;
    wait_text(&b.browser, "#timeline", "incident.triggered").await;
    visit(&b, "incident").await;
    b.browser
        .find("#acknowledge")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&b.browser, "#timeline", "incident.acknowledged").await;
    visit(&b, "incident-acknowledged").await;
    b.browser
        .find("#snooze")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&b.browser, "#timeline", "incident.snoozed").await;
    visit(&b, "incident-snoozed").await;

    b.open("/console/oncall").await;
    wait_text(&b.browser, "#schedules", "Primary").await;
    visit(&b, "oncall").await;
    b.open("/console/schedules/primary").await;
    wait_text(&b.browser, "#rotation", "weekly").await;
    visit(&b, "schedule").await;
    b.browser
        .find("#timeline-month")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_url(&b.browser, "/console/schedules/primary?view=month").await;
    visit(&b, "schedule-month").await;
    b.open("/console/analytics").await;
    wait_text(&b.browser, "#weeks", "-W").await;
    visit(&b, "analytics").await;

    // Policies and routing, and a dry run from the "test an alert" form.
    b.browser
        .find_link("Policies")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&b.browser, "#policies", "Fast").await;
    visit(&b, "policies").await;
    let payload = r#"{"dedup_key": "db-down", "summary": "Database down", "severity": "critical"}"#;
    b.browser
        .find("#payload")
        .await
        .unwrap()
        .send_keys(payload)
        .await
        .unwrap();
    b.browser
        .find("#test-alert")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let result = wait_text(&b.browser, "#dry-run", "escalates with policy fast").await;
    assert!(result.contains("Alice Responder (email)"), "{result}");
    visit(&b, "policies-tested").await;

    b.open("/console/incidents/99999").await;
    wait_text(&b.browser, "main", "not found").await;
    visit(&b, "not-found").await;
    b.browser
        .find("form[action='/console/signout'] button")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&b.browser, "main", "Your session has ended").await;
    visit(&b, "signed-out").await;

    // A page notify cannot read (from a newer version, say) is a dead letter on the admin page.
    let body = format!(r#"{{"kind":"page_from_a_newer_version","incident":"{id}"}}"#);
    let dead = b.world.dead_letter(QueueName::Notifications, &body).await;

    // An admin creates an integration key, sees it once, and a sender can use it.
    b.sign_in("ann@example.com").await;
    b.browser
        .find_link("Admin")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&b.browser, "#integrations", "/v1/alerts").await;
    wait_text(
        &b.browser,
        "#dead-letters-notifications",
        "page_from_a_newer_version",
    )
    .await;
    visit(&b, "admin").await;
    b.browser
        .find("#integration-ci button[type=submit]:not(.secondary)")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&b.browser, "#new-key", "will not show it again").await;
    let secret = b
        .browser
        .find("#new-key-secret")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    visit(&b, "admin-key-created").await;
    let sent = b
        .world
        .client
        .post(b.world.url("/v1/alerts"))
        .bearer_auth(secret.trim())
        .json(&json!({"dedup_key": "new-key", "summary": "s", "severity": "info", "status": "firing"}))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 202, "the new key is accepted");
    b.open("/console/admin").await;
    let page = b.browser.source().await.unwrap();
    assert!(
        !page.contains(secret.trim()),
        "the secret is not shown again"
    );

    // The admin redrives the dead letter: it goes back on the notifications queue.
    b.browser
        .find(&format!("#dead-letter-notifications-{dead} button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&b.browser, "main", "is back on the notifications queue").await;
    visit(&b, "admin-dead-letter-redriven").await;
    let letters = b
        .world
        .runtime
        .queue()
        .dead_letters(QueueName::Notifications)
        .await;
    assert!(
        letters
            .unwrap()
            .iter()
            .all(|letter| letter.id.to_string() != dead),
        "redriven, not left behind"
    );
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_is_accessible_and_fits_at_375_px() {
    tour(375).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_is_accessible_and_fits_at_1280_px() {
    tour(1280).await;
}
