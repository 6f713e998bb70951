//! The incident list at work: the team and time-range filters (bad values are a 400 naming
//! the parameter), and bulk acknowledge/resolve (one CSRF form, each incident's state checked,
//! the answer says what happened to each; refused forms change nothing).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use klaxon_domain::ids::IncidentId;
use klaxon_domain::incident::IncidentStatus;
use klaxon_domain::timeline::TimelineEntry;
use klaxon_tests::console::{CONSOLE_CONFIG, ConsoleWorld, Session, form_value};
use std::time::Duration;

fn config() -> String {
    format!(
        "{CONSOLE_CONFIG}teams:\n  - id: payments\n    members: [alice]\n    integrations: [ci]\n  - id: search\n    members: [ann]\n"
    )
}

async fn page(world: &ConsoleWorld, path: &str, session: &Session) -> (u16, String) {
    let response = world.get(path, Some(session)).await;
    (response.status().as_u16(), response.text().await.unwrap())
}

fn listed(html: &str, title: &str) -> bool {
    html.contains(&format!("{title} is on fire</a>"))
}

async fn status(world: &ConsoleWorld, id: &str) -> IncidentStatus {
    let id = IncidentId::new(id).unwrap();
    let stored = world.runtime.repository().incident(&id).await.unwrap();
    stored.unwrap().incident.status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_team_and_time_filters_narrow_the_list() {
    let world = ConsoleWorld::start_with(&config()).await;
    let early = world.open_incident("early-one").await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let boundary = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    tokio::time::sleep(Duration::from_millis(100)).await;
    world.open_incident("late-one").await;
    let viewer = world.sign_in("vera@example.com").await;

    let encoded = |t: &str| t.replace('+', "%2B").replace(':', "%3A");
    for status in ["open", "all"] {
        let (code, html) = page(
            &world,
            &format!(
                "/console/incidents?status={status}&from={}",
                encoded(&boundary)
            ),
            &viewer,
        )
        .await;
        assert_eq!(code, 200);
        assert!(
            listed(&html, "late-one") && !listed(&html, "early-one"),
            "{status} from"
        );
        let (_, html) = page(
            &world,
            &format!(
                "/console/incidents?status={status}&to={}",
                encoded(&boundary)
            ),
            &viewer,
        )
        .await;
        assert!(
            listed(&html, "early-one") && !listed(&html, "late-one"),
            "{status} to"
        );
    }
    // A datetime-local value (UTC) a day ahead: nothing yet.
    let tomorrow = (early.incident.created_at() + chrono::Duration::days(1))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let (_, html) = page(
        &world,
        &format!("/console/incidents?status=all&from={}", encoded(&tomorrow)),
        &viewer,
    )
    .await;
    assert!(html.contains("No incidents match."), "{html}");

    // The team owning the integration sees both; the other team none.
    let (_, html) = page(&world, "/console/incidents?team=payments", &viewer).await;
    assert!(listed(&html, "early-one") && listed(&html, "late-one"));
    assert!(
        html.contains("<option value=\"payments\" selected>"),
        "the choice is kept"
    );
    let (_, html) = page(&world, "/console/incidents?team=search", &viewer).await;
    assert!(html.contains("No incidents match."));

    for (query, field) in [
        ("team=nobody", "team"),
        ("from=yesterday", "from"),
        ("to=2026-13-01", "to"),
        ("from=2026-03-02&to=2026-03-01", "to"),
        ("status=closed", "status"),
    ] {
        let (code, html) = page(&world, &format!("/console/incidents?{query}"), &viewer).await;
        assert_eq!(code, 400, "{query}");
        assert!(
            html.contains(&format!("{field}: ")),
            "{query} names {field}: {html}"
        );
    }
    world.runtime.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_acknowledge_reports_each_incident_and_refusals_change_nothing() {
    let world = ConsoleWorld::start().await;
    let mut ids = Vec::new();
    for name in ["bulk-a", "bulk-b", "bulk-c"] {
        ids.push(world.open_incident(name).await.incident.id().to_string());
    }
    let responder = world.sign_in("alice@example.com").await;
    let viewer = world.sign_in("vera@example.com").await;
    let (_, list) = page(&world, "/console/incidents", &responder).await;
    assert!(list.contains("action=\"/console/incidents/bulk\""));
    for id in &ids {
        assert!(
            list.contains(&format!("name=\"incident\" value=\"{id}\"")),
            "{id} has a box"
        );
    }
    let csrf = form_value(&list, "csrf").unwrap();
    let (_, viewer_list) = page(&world, "/console/incidents", &viewer).await;
    let viewer_csrf = form_value(&viewer_list, "csrf").unwrap();

    // Refused: a viewer, a wrong token, no incident, an unknown action. Nothing changes.
    let all = |csrf: &str, action: &str| -> Vec<(String, String)> {
        let mut form = vec![("csrf".to_owned(), csrf.to_owned())];
        form.push(("action".to_owned(), action.to_owned()));
        form.extend(ids.iter().map(|id| ("incident".to_owned(), id.clone())));
        form
    };
    let send = async |session: &Session, form: Vec<(String, String)>| {
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let response = world
            .post_form("/console/incidents/bulk", Some(session), &form)
            .await;
        (response.status().as_u16(), response.text().await.unwrap())
    };
    assert_eq!(send(&viewer, all(&viewer_csrf, "acknowledge")).await.0, 403);
    assert_eq!(send(&responder, all("wrong", "acknowledge")).await.0, 403);
    let (code, html) = send(&responder, all(&csrf, "snooze")).await;
    assert_eq!(code, 400);
    assert!(html.contains("action: "), "{html}");
    let none = vec![
        ("csrf".to_owned(), csrf.clone()),
        ("action".to_owned(), "acknowledge".to_owned()),
    ];
    let (code, html) = send(&responder, none).await;
    assert_eq!(code, 400);
    assert!(html.contains("incident: "), "{html}");
    for id in &ids {
        assert_eq!(status(&world, id).await, IncidentStatus::Triggered, "{id}");
    }

    // Resolve the third alone, then acknowledge all three plus an unknown one.
    let one = vec![
        ("csrf".to_owned(), csrf.clone()),
        ("action".to_owned(), "resolve".to_owned()),
        ("incident".to_owned(), ids[2].clone()),
    ];
    let (code, html) = send(&responder, one).await;
    assert_eq!(code, 200);
    assert!(
        html.contains("1 resolved, 0 already resolved, 0 refused."),
        "{html}"
    );
    let mut form = all(&csrf, "acknowledge");
    form.push(("incident".to_owned(), "no-such-incident".to_owned()));
    let (code, html) = send(&responder, form.clone()).await;
    assert_eq!(code, 200);
    assert!(
        html.contains("2 acknowledged, 0 already acknowledged, 2 refused."),
        "{html}"
    );
    assert!(html.contains("no such incident"), "{html}");
    assert_eq!(status(&world, &ids[0]).await, IncidentStatus::Acknowledged);
    assert_eq!(status(&world, &ids[1]).await, IncidentStatus::Acknowledged);
    assert_eq!(status(&world, &ids[2]).await, IncidentStatus::Resolved);
    // The same form again changes nothing and says so.
    let (_, html) = send(&responder, form).await;
    assert!(
        html.contains("0 acknowledged, 2 already acknowledged, 2 refused."),
        "{html}"
    );
    let timeline = world
        .runtime
        .repository()
        .timeline(&IncidentId::new(ids[0].as_str()).unwrap(), None, 50)
        .await
        .unwrap();
    let acks = timeline
        .items
        .iter()
        .filter(|r| matches!(r.entry, TimelineEntry::IncidentAcknowledged {}))
        .count();
    assert_eq!(acks, 1, "one acknowledgement on the timeline");
    world.runtime.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_incident_page_shows_its_post_mortem_once_one_is_started() {
    let world = ConsoleWorld::start_with(&config()).await;
    let stored = world.open_incident("pm-page").await;
    let number = stored.incident.number();
    let viewer = world.sign_in("vera@example.com").await;
    let path = format!("/console/incidents/{}", stored.incident.id());
    let (code, html) = page(&world, &path, &viewer).await;
    assert_eq!(code, 200);
    assert!(
        html.contains(&format!(
            "None yet (<code>klaxon postmortem create {number}</code>)"
        )),
        "{html}"
    );

    let api_key = world.runtime.keys().api.key.expose().to_owned();
    let base = world.url(&format!("/v1/incidents/{number}/postmortem"));
    let created = world
        .client
        .post(&base)
        .bearer_auth(&api_key)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let added = world
        .client
        .post(format!("{base}/action-items"))
        .bearer_auth(&api_key)
        .json(&serde_json::json!({"title": "Add a disk alert"}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 201);

    let (_, html) = page(&world, &path, &viewer).await;
    assert!(
        html.contains(r#"<dl class="facts" id="postmortem">"#),
        "{html}"
    );
    for fact in [
        "<dt>Status</dt><dd>draft</dd>",
        "<dt>Version</dt><dd>2</dd>",
        "<dt>Action items</dt><dd>1 (1 open)</dd>",
    ] {
        assert!(html.contains(fact), "{fact} in {html}");
    }
}
