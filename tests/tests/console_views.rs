//! The console's views beyond the basics. The incident page's responder actions (snooze,
//! reassign, add responder, escalate now, note) and its escalation state: in headless Chromium
//! a responder snoozes from the page and the timeline shows it, a viewer sees no action form;
//! over HTTP a refused action (a snooze of a resolved incident) is the incident page with the
//! reason and changes nothing, the same form sent twice acts once, and the page names who is
//! paged now and who the next tier pages. The schedule's week/month timeline marks an override
//! created on the page in its final row. The "my shifts" calendar link works without a session
//! and only as signed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use klaxon_app::console::oncall::form_time;
use klaxon_domain::config::Config;
use klaxon_domain::ids::IncidentId;
use klaxon_domain::incident::IncidentStatus;
use klaxon_tests::axe::assert_accessible;
use klaxon_tests::browser::{BrowserWorld, wait_text, wait_url};
use klaxon_tests::console::{CONSOLE_CONFIG, ConsoleWorld, Session, form_value};
use serde_json::json;

async fn timeline_kinds(world: &ConsoleWorld, id: &IncidentId) -> Vec<String> {
    let listing = world
        .runtime
        .repository()
        .timeline(id, None, 500)
        .await
        .unwrap();
    listing
        .items
        .iter()
        .map(|r| r.entry.event_type().to_owned())
        .collect()
}

async fn page_of(world: &ConsoleWorld, id: &IncidentId, session: &Session) -> String {
    let page = world
        .get(&format!("/console/incidents/{id}"), Some(session))
        .await;
    assert_eq!(page.status(), 200);
    page.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_responder_snoozes_from_the_incident_page_at_375_px() {
    let b = BrowserWorld::start(375).await;
    let incident = b.world.open_incident("snooze-me").await;
    let id = incident.incident.id().to_string();
    b.sign_in("alice@example.com").await;
    b.open(&format!("/console/incidents/{id}")).await;
    wait_text(&b.browser, "h1", "snooze-me is on fire").await;
    let escalation = wait_text(&b.browser, "#incident", "Paging now").await;
    assert!(escalation.contains("Alice Responder"), "{escalation}");
    assert!(
        b.browser.find("#snooze").await.is_err(),
        "no snooze before an acknowledgement"
    );
    b.browser
        .find("#acknowledge")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_url(
        &b.browser,
        &format!("/console/incidents/{id}?done=acknowledge"),
    )
    .await;
    assert_accessible(&b.browser, "the incident page with its action forms").await;
    b.assert_fits("the incident page with its action forms")
        .await;

    b.browser
        .find("#snooze-duration option[value='1h']")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.browser
        .find("#snooze")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_url(&b.browser, &format!("/console/incidents/{id}?done=snooze")).await;
    wait_text(&b.browser, "[role=status]", "You snoozed this incident").await;
    let timeline = wait_text(&b.browser, "#timeline", "incident.snoozed").await;
    assert!(timeline.contains("by user:alice"), "{timeline}");
    let facts = wait_text(&b.browser, "#incident", "Snoozed until").await;
    assert!(facts.contains("snoozed"), "{facts}");
    let stored = b
        .world
        .runtime
        .repository()
        .incident(incident.incident.id())
        .await
        .unwrap()
        .unwrap();
    assert!(stored.incident.escalation().unwrap().is_snoozed());
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_sees_no_action_forms_at_1280_px() {
    let b = BrowserWorld::start(1280).await;
    let incident = b.world.open_incident("viewer-looks").await;
    let id = incident.incident.id().to_string();
    b.sign_in("vera@example.com").await;
    b.open(&format!("/console/incidents/{id}")).await;
    wait_text(&b.browser, "h1", "viewer-looks is on fire").await;
    wait_text(&b.browser, "#incident", "Paging now").await;
    for selector in [
        "#respond",
        "#snooze",
        "#escalate",
        "#reassign",
        "#add-responder",
        "#add-note",
    ] {
        let found = b.browser.find(selector).await;
        assert!(
            found.as_ref().is_err_and(|e| e.is_no_such_element()),
            "{selector} shown to a viewer"
        );
    }
    assert_accessible(&b.browser, "the incident page for a viewer").await;
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snoozing_a_resolved_incident_shows_why_on_the_page_and_changes_nothing() {
    let world = ConsoleWorld::start().await;
    let incident = world.open_incident("already-done").await;
    let id = incident.incident.id().clone();
    let alice = world.sign_in("alice@example.com").await;
    let html = page_of(&world, &id, &alice).await;
    let csrf = form_value(&html, "csrf").unwrap();
    let resolved = world
        .post_form(
            &format!("/console/incidents/{id}/resolve"),
            Some(&alice),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(resolved.status(), 303);
    let repo = world.runtime.repository();
    let before = repo.incident(&id).await.unwrap().unwrap();

    let refused = world
        .post_form(
            &format!("/console/incidents/{id}/snooze"),
            Some(&alice),
            &[("csrf", &csrf), ("request", "r1"), ("duration", "30m")],
        )
        .await;
    assert_eq!(refused.status(), 409);
    let body = refused.text().await.unwrap();
    assert!(body.contains("id=\"action-error\""), "{body}");
    assert!(body.contains("Nothing was changed"), "{body}");
    assert!(
        body.contains("already-done is on fire"),
        "the incident page: {body}"
    );
    let bad = world
        .post_form(
            &format!("/console/incidents/{id}/reassign"),
            Some(&alice),
            &[("csrf", &csrf), ("to", "user:nobody-here")],
        )
        .await;
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("to: unknown user"));
    let after = repo.incident(&id).await.unwrap().unwrap();
    assert_eq!(after.incident, before.incident, "nothing changed");
    assert_eq!(after.incident.status(), IncidentStatus::Resolved);
    let kinds = timeline_kinds(&world, &id).await;
    assert!(
        !kinds
            .iter()
            .any(|k| k.ends_with(".snoozed") || k.ends_with(".reassigned")),
        "{kinds:?}"
    );
    world.runtime.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_sent_twice_acts_once_and_each_action_reaches_the_timeline() {
    let world = ConsoleWorld::start().await;
    let incident = world.open_incident("busy-night").await;
    let id = incident.incident.id().clone();
    let ann = world.sign_in("ann@example.com").await;
    let html = page_of(&world, &id, &ann).await;
    let csrf = form_value(&html, "csrf").unwrap();
    let request = form_value(&html, "request").expect("a request id on the forms");
    let path = |action: &str| format!("/console/incidents/{id}/{action}");
    for _ in 0..2 {
        let note = [
            ("csrf", csrf.as_str()),
            ("request", request.as_str()),
            ("text", "looking at the database"),
        ];
        let sent = world.post_form(&path("note"), Some(&ann), &note).await;
        assert_eq!(sent.status(), 303);
    }
    // The same page sent again with another note is another request.
    let other = [
        ("csrf", csrf.as_str()),
        ("request", request.as_str()),
        ("text", "it was the cache"),
    ];
    let sent = world.post_form(&path("note"), Some(&ann), &other).await;
    assert_eq!(sent.status(), 303);
    for (action, field, value) in [
        ("responders", "target", "schedule:primary"),
        ("escalate", "request", ""),
        ("reassign", "to", "user:ann"),
    ] {
        let form = [("csrf", csrf.as_str()), (field, value)];
        let sent = world.post_form(&path(action), Some(&ann), &form).await;
        assert_eq!(sent.status(), 303, "{action}");
    }
    let kinds = timeline_kinds(&world, &id).await;
    let count = |kind: &str| kinds.iter().filter(|k| k.ends_with(kind)).count();
    assert_eq!(
        count(".incident.note"),
        2,
        "one per distinct note: {kinds:?}"
    );
    assert_eq!(count(".incident.responders_added"), 1, "{kinds:?}");
    assert_eq!(count(".escalation.escalated"), 1, "{kinds:?}");
    assert_eq!(count(".incident.reassigned"), 1, "{kinds:?}");
    let html = page_of(&world, &id, &ann).await;
    assert!(html.contains("assigned to user ann"), "{html}");
    assert!(html.contains("Ann Admin"), "paged now: {html}");
    world.runtime.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_override_created_on_the_schedule_page_is_marked_in_the_timelines_final_row() {
    let b = BrowserWorld::start(375).await;
    b.sign_in("alice@example.com").await;
    b.open("/console/schedules/primary").await;
    let zone_line = wait_text(&b.browser, "#timeline-zone", "Times in").await;
    // Alice's configured zone is UTC (the default); the schedule's is named beside it.
    assert!(zone_line.contains("Times in UTC"), "{zone_line}");
    assert!(zone_line.contains("Europe/London"), "{zone_line}");
    let marked = "#schedule-timeline g.final rect.override";
    assert!(b.browser.find(marked).await.is_err(), "no override yet");

    let zone = Config::from_yaml(CONSOLE_CONFIG).unwrap().schedules[0].time_zone;
    let now = chrono::Utc::now();
    let start = form_time(now - chrono::TimeDelta::minutes(1), zone);
    let end = form_time(now + chrono::TimeDelta::hours(3), zone);
    b.browser
        .find("#user option[value=vera]")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    for (field, value) in [("#start", &start), ("#end", &end)] {
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
    let title = b
        .browser
        .execute(
            "const r = document.querySelector(arguments[0]); return r ? r.textContent : null;",
            vec![json!(marked)],
        )
        .await
        .unwrap();
    let title = title.as_str().expect("an override bar in the final row");
    assert!(title.contains("Vera Viewer"), "{title}");
    assert!(title.contains("(override)"), "{title}");
    let in_layers = b
        .browser
        .find_all("#schedule-timeline g.layer rect.override")
        .await
        .unwrap();
    assert!(in_layers.is_empty(), "layer rows show the rotation alone");
    assert_accessible(&b.browser, "the schedule timeline").await;
    b.assert_fits("the schedule timeline").await;

    // The month view, then the same month in the schedule's own zone.
    b.browser
        .find("#timeline-month")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let month = now.format("%B %Y").to_string();
    wait_text(&b.browser, "#timeline-heading", &month).await;
    assert!(
        b.browser.find(marked).await.is_ok(),
        "marked in the month too"
    );
    b.browser
        .find("#zone option[value='Europe/London']")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.browser
        .find("#zone-show")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&b.browser, "#timeline-zone", "Times in Europe/London").await;
    assert!(
        b.browser
            .current_url()
            .await
            .unwrap()
            .contains("view=month")
    );
    b.assert_fits("the month timeline").await;
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn my_shifts_calendar_link_works_without_a_session_and_only_as_signed() {
    let world = ConsoleWorld::start().await;
    let alice = world.sign_in("alice@example.com").await;
    let page = world.get("/console/oncall", Some(&alice)).await;
    let html = page.text().await.unwrap();
    let marker = "id=\"calendar-link\"";
    assert!(html.contains(marker), "{html}");
    let start = html
        .find(&world.url("/console/calendar/"))
        .expect("a feed URL");
    let link = &html[start..start + html[start..].find('"').unwrap()];
    assert!(link.contains("/console/calendar/alice.ics?s="), "{link}");

    // Calendar apps send no cookie: the signed link is enough.
    let feed = world.client.get(link).send().await.unwrap();
    assert_eq!(feed.status(), 200);
    let kind = feed.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(kind.starts_with("text/calendar"), "{kind}");
    let body = feed.text().await.unwrap();
    assert!(body.starts_with("BEGIN:VCALENDAR"), "{body}");
    // The weekly rotation alternates ann and alice: within 97 days alice has shifts, all hers.
    assert!(body.matches("BEGIN:VEVENT").count() >= 6, "{body}");
    assert!(body.contains("SUMMARY:On call: Primary"), "{body}");
    assert!(!body.contains("Ann Admin ("), "only alice's shifts: {body}");

    let swapped = if link.ends_with('A') { 'B' } else { 'A' };
    let altered = format!("{}{swapped}", &link[..link.len() - 1]);
    let refused = world.client.get(&altered).send().await.unwrap();
    assert_eq!(refused.status(), 403);
    let borrowed = link.replace("/alice.ics", "/ann.ics");
    let refused = world.client.get(&borrowed).send().await.unwrap();
    assert_eq!(refused.status(), 403, "alice's signature is not ann's");
    world.runtime.shutdown().await.unwrap();
}
