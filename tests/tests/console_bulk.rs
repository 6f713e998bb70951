//! Bulk acknowledge in a real browser (headless Chromium over WebDriver), at 375 px and
//! 1280 px: tick two of three incidents on the list, press "Acknowledge selected", and the
//! answer lists each one acknowledged; the third is untouched. The list and the answer fit
//! the phone's width and pass axe-core.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use klaxon_domain::incident::IncidentStatus;
use klaxon_tests::axe::assert_accessible;
use klaxon_tests::browser::{BrowserWorld, wait_text, wait_url};
use std::time::Duration;

async fn bulk_acknowledge(width: u32) {
    let b = BrowserWorld::start(width).await;
    let mut incidents = Vec::new();
    for name in ["bulk-one", "bulk-two", "bulk-three"] {
        incidents.push(b.world.open_incident(name).await.incident);
    }
    b.sign_in("alice@example.com").await;
    wait_text(&b.browser, "#incident-list", "bulk-three is on fire").await;
    b.assert_fits("the incident list with its checkboxes").await;
    assert_accessible(&b.browser, "the incident list with its checkboxes").await;
    for incident in &incidents[..2] {
        let tick = b
            .browser
            .find(&format!("#pick-{}", incident.number()))
            .await
            .unwrap();
        tick.click().await.unwrap();
    }
    // Live refresh (every 5 s) must not untick them while the person decides.
    tokio::time::sleep(Duration::from_secs(6)).await;
    for incident in &incidents[..2] {
        let checked = b
            .browser
            .execute(
                "return document.getElementById(arguments[0]).checked;",
                vec![serde_json::json!(format!("pick-{}", incident.number()))],
            )
            .await
            .unwrap();
        assert_eq!(
            checked,
            serde_json::json!(true),
            "#{} still ticked",
            incident.number()
        );
    }
    b.browser
        .find("button[value=acknowledge]")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_url(&b.browser, "/console/incidents/bulk").await;
    let summary = wait_text(&b.browser, "[role=status]", "2 acknowledged").await;
    assert!(summary.contains("0 refused"), "{summary}");
    let results = b
        .browser
        .find("table.results")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for incident in &incidents[..2] {
        assert!(
            results.contains(&format!("#{} {}", incident.number(), incident.title())),
            "{results}"
        );
    }
    assert!(!results.contains("bulk-three"), "{results}");
    b.assert_fits("the bulk answer").await;
    assert_accessible(&b.browser, "the bulk answer").await;
    let repo = b.world.runtime.repository();
    let expected = [
        IncidentStatus::Acknowledged,
        IncidentStatus::Acknowledged,
        IncidentStatus::Triggered,
    ];
    for (incident, status) in incidents.iter().zip(expected) {
        let stored = repo.incident(incident.id()).await.unwrap().unwrap();
        assert_eq!(stored.incident.status(), status, "#{}", incident.number());
    }
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_acknowledge_at_375_px() {
    bulk_acknowledge(375).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_acknowledge_at_1280_px() {
    bulk_acknowledge(1280).await;
}
