//! Suppression and maintenance.

use super::*;

#[tokio::test]
async fn a_suppress_rule_records_the_incident_and_pages_nobody() {
    let p = Pipeline::new().await;
    let auth = bearer(p.key("native"));
    let body = json!({"dedup_key": "canary-1", "summary": "canary failing", "severity": "critical", "labels": {"canary": "true"}});
    let (status, _) = post(
        p.ingest_router(),
        "/v1/alerts",
        &[("authorization", &auth)],
        body.to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    p.pump().await;
    let incident = only_incident(&p).await;
    assert!(incident.incident.suppressed().is_some());
    assert!(p.take_pages().is_empty());
    assert!(p.timers.armed().is_empty());
    let timeline = p
        .repo
        .timeline(incident.incident.id(), None, 50)
        .await
        .unwrap()
        .items;
    assert!(
        timeline
            .iter()
            .any(|r| r.to_cloud_event().unwrap()["type"] == "io.klaxon.incident.suppressed"),
        "the suppression is on the timeline"
    );
}

#[tokio::test]
async fn a_maintenance_window_records_matching_incidents_without_paging_until_it_ends() {
    // The tests start at 2026-01-01T00:00:00Z; the window covers the first two hours.
    let config = format!(
        "{}\nmaintenance_windows:\n  - id: payments-migration\n    start: \"2025-12-31T23:00:00Z\"\n    end: \"2026-01-01T02:00:00Z\"\n    match:\n      labels: {{ service: payments }}\n    reason: moving the payments queue\n",
        klaxon_tests::pipeline::pipeline_config_text()
    );
    let p = Pipeline::with_config(&config).await;
    let auth = bearer(p.key("native"));
    let fire = |dedup_key: &str, service: &str| {
        json!({"dedup_key": dedup_key, "summary": format!("{service} down"), "severity": "critical", "labels": {"service": service}})
            .to_string()
    };
    for body in [fire("payments-1", "payments"), fire("search-1", "search")] {
        let (status, _) = post(
            p.ingest_router(),
            "/v1/alerts",
            &[("authorization", &auth)],
            body,
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    p.pump().await;
    let all = incidents(&p).await;
    assert_eq!(all.len(), 2, "both are recorded");
    let payments = all
        .iter()
        .find(|i| i.incident.title() == "payments down")
        .unwrap();
    let suppressed = payments.incident.suppressed().expect("inside the window");
    assert_eq!(
        suppressed.reason,
        klaxon_domain::incident::SuppressionReason::MaintenanceWindow {
            window: klaxon_domain::ids::RuleId::new("payments-migration").unwrap()
        }
    );
    let pages = p.take_pages();
    assert_eq!(
        pages.len(),
        1,
        "only the unmatched incident pages: {pages:?}"
    );
    assert_ne!(pages[0].incident, *payments.incident.id());

    // After the window a new payments incident pages as usual.
    p.clock.advance(TimeDelta::hours(3));
    let (status, _) = post(
        p.ingest_router(),
        "/v1/alerts",
        &[("authorization", &auth)],
        fire("payments-2", "payments"),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    p.pump().await;
    assert_eq!(p.take_pages().len(), 1, "the window is over");
}
