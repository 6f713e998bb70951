//! Quiet hours through routing: a low-urgency page to someone in quiet hours arms one timer at
//! their end, and that timer pages the tier again (same delivery keys, so notify sends each
//! user's page once); high urgency ignores quiet hours.

use super::*;
use klaxon_domain::escalation::TimerKind;
use klaxon_domain::user::Channel;

/// The pipeline fixture with alice (Europe/London) quiet from 22:00 to 07:00. The test clock
/// starts at 2026-01-01 00:00 UTC, which is 00:00 in London: quiet until 07:00 UTC.
async fn quiet_pipeline() -> Pipeline {
    let text = klaxon_tests::pipeline::pipeline_config_text().replacen(
        "    contact: { high: [email], low: [email] }\n",
        "    contact: { high: [email], low: [email] }\n    quiet_hours: [{ from: \"22:00\", to: \"07:00\" }]\n",
        1,
    );
    Pipeline::with_config(&text).await
}

async fn alert(p: &Pipeline, key: &str, severity: &str) {
    let body = json!({"dedup_key": key, "summary": format!("{key} failing"), "severity": severity});
    let auth = bearer(p.key("native"));
    let (status, _) = post(
        p.ingest_router(),
        "/v1/alerts",
        &[("authorization", &auth)],
        body.to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    p.pump().await;
}

fn quiet_timers(p: &Pipeline) -> Vec<klaxon_tests::fakes::ArmedTimer> {
    p.timers
        .armed()
        .into_values()
        .filter(|timer| timer.payload.kind == TimerKind::QuietHoursEnd)
        .collect()
}

#[tokio::test]
async fn a_low_urgency_page_in_quiet_hours_is_paged_again_when_they_end() {
    let p = quiet_pipeline().await;
    alert(&p, "disk-info", "info").await;
    let pages = p.take_pages();
    assert_eq!(pages.len(), 1);
    assert!(pages[0].quiet_hours, "routing planned quiet hours for it");
    let timers = quiet_timers(&p);
    assert_eq!(timers.len(), 1, "{timers:?}");
    let end = chrono::DateTime::parse_from_rfc3339("2026-01-01T07:00:00Z")
        .unwrap()
        .to_utc();
    assert_eq!(timers[0].due, end);

    // At the end of the quiet hours routing queues tier 0 again, resolved then, with the same
    // delivery key for alice (so she gets it once); nobody is quiet now, so no further timer.
    p.clock.set(timers[0].due);
    let fired = QueueMessage::Timer(timers[0].payload.clone());
    assert_eq!(
        p.routing.handle(&fired).await.unwrap(),
        RoutingOutcome::Advanced
    );
    let again = p.take_pages();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].tier, 0);
    assert_eq!(again[0].resolve_at, end);
    let alice = UserId::new("alice").unwrap();
    assert_eq!(
        again[0].dedup_key(&alice, Channel::Email),
        pages[0].dedup_key(&alice, Channel::Email)
    );
    assert_eq!(quiet_timers(&p).len(), 1, "no further quiet-hours timer");

    // Acknowledged, a late or duplicate quiet-hours timer pages nobody.
    let mut stored = only_incident(&p).await;
    assert_eq!(stored.incident.status(), IncidentStatus::Triggered);
    stored
        .incident
        .acknowledge(klaxon_domain::timeline::Actor::system("test"), end)
        .unwrap();
    p.repo
        .save_incident(&stored.incident, stored.version, &[])
        .await
        .unwrap();
    assert_eq!(
        p.routing.handle(&fired).await.unwrap(),
        RoutingOutcome::Unchanged
    );
    assert!(p.take_pages().is_empty());
}

#[tokio::test]
async fn high_urgency_ignores_quiet_hours() {
    let p = quiet_pipeline().await;
    alert(&p, "db-down", "critical").await;
    let pages = p.take_pages();
    assert_eq!(pages.len(), 1);
    assert!(!pages[0].quiet_hours);
    assert!(quiet_timers(&p).is_empty());
}
