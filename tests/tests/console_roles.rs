//! The role × route matrix of the web console: every route, asked by nobody, a viewer, a
//! responder and an admin, answers with the status its role allows (every HTML answer with
//! the strict headers), and what a refused request would have changed is still unchanged.
//! Each row of [`routes`] is one route; a new route is a new row.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use klaxon_app::messages::QueueName;
use klaxon_domain::ids::ScheduleId;
use klaxon_domain::incident::IncidentStatus;
use klaxon_tests::console::{ConsoleWorld, Session, form_value};

/// Who asks, in the order each row's statuses are given.
const WHO: [&str; 4] = ["nobody", "viewer", "responder", "admin"];

/// A status, or `None`: that role does not ask (the route changes state, and another row
/// has the role act on its own target).
type Expect = [Option<u16>; 4];

const READ: Expect = [Some(303), Some(200), Some(200), Some(200)];
const ACT_RESPONDER: Expect = [Some(401), Some(403), Some(303), None];
const ACT_ADMIN: Expect = [Some(401), Some(403), None, Some(303)];
const ADMIN_ONLY: Expect = [Some(401), Some(403), Some(403), Some(200)];

/// One route and what each role gets.
struct Row {
    post: bool,
    path: String,
    form: Vec<(&'static str, String)>,
    expect: Expect,
}

fn get(path: impl Into<String>, expect: Expect) -> Row {
    Row {
        post: false,
        path: path.into(),
        form: Vec::new(),
        expect,
    }
}

fn post(path: impl Into<String>, form: &[(&'static str, &str)], expect: Expect) -> Row {
    Row {
        post: true,
        path: path.into(),
        form: form.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
        expect,
    }
}

/// What the rows act on.
struct Targets {
    first: String,
    second: String,
    third: String,
    fourth: String,
    fifth: String,
    sixth: String,
    bulk_a: String,
    bulk_b: String,
    override_a: String,
    override_b: String,
    key: String,
    /// A dead letter of the incidents queue.
    dead_letter: String,
    /// Alice's calendar feed path (with its signature).
    calendar: String,
}

fn routes(t: &Targets) -> Vec<Row> {
    let incident = |id: &str, action: &str| format!("/console/incidents/{id}/{action}");
    let removal = |id: &str| format!("/console/schedules/primary/overrides/{id}/remove");
    let override_form = [
        ("user", "vera"),
        ("start", "2031-01-01T09:00"),
        ("end", "2031-01-01T17:00"),
    ];
    let payload = r#"{"dedup_key": "x", "summary": "test", "severity": "critical"}"#;
    vec![
        get("/", [Some(303); 4]),
        get(
            "/console/signin",
            [Some(200), Some(303), Some(303), Some(303)],
        ),
        get("/console/sso", [Some(404); 4]),
        get("/console/sso/callback", [Some(400); 4]),
        get("/console/incidents", READ),
        get(format!("/console/incidents/{}", t.first), READ),
        get("/console/oncall", READ),
        get("/console/schedules/primary", READ),
        get("/console/policies", READ),
        get(
            "/console/admin",
            [Some(303), Some(403), Some(403), Some(200)],
        ),
        get("/console/schedules/primary?view=month&zone=UTC", READ),
        get(
            "/console/schedules/primary?zone=Mars/Olympus",
            [Some(303), Some(400), Some(400), Some(400)],
        ),
        get("/console/analytics", READ),
        get(
            "/console/analytics.csv?table=sources",
            [Some(401), Some(200), Some(200), Some(200)],
        ),
        // The feed's signature is its credential (calendar apps send no cookie).
        get(t.calendar.clone(), [Some(200); 4]),
        get(format!("{}x", t.calendar), [Some(403); 4]),
        post(incident(&t.first, "acknowledge"), &[], ACT_RESPONDER),
        post(incident(&t.second, "acknowledge"), &[], ACT_ADMIN),
        post(incident(&t.third, "resolve"), &[], ACT_RESPONDER),
        post(incident(&t.fourth, "resolve"), &[], ACT_ADMIN),
        post(
            incident(&t.first, "snooze"),
            &[("duration", "30m")],
            ACT_RESPONDER,
        ),
        post(
            incident(&t.second, "snooze"),
            &[("duration", "1h")],
            ACT_ADMIN,
        ),
        post(
            incident(&t.fifth, "note"),
            &[("text", "responder note")],
            ACT_RESPONDER,
        ),
        post(
            incident(&t.sixth, "note"),
            &[("text", "admin note")],
            ACT_ADMIN,
        ),
        post(
            incident(&t.fifth, "responders"),
            &[("target", "user:ann")],
            ACT_RESPONDER,
        ),
        post(
            incident(&t.sixth, "responders"),
            &[("target", "user:ann")],
            ACT_ADMIN,
        ),
        post(incident(&t.fifth, "escalate"), &[], ACT_RESPONDER),
        post(incident(&t.sixth, "escalate"), &[], ACT_ADMIN),
        post(
            incident(&t.fifth, "reassign"),
            &[("to", "schedule:primary")],
            ACT_RESPONDER,
        ),
        post(
            incident(&t.sixth, "reassign"),
            &[("to", "policy:fast")],
            ACT_ADMIN,
        ),
        post(
            "/console/incidents/bulk",
            &[("action", "acknowledge"), ("incident", &t.bulk_a)],
            [Some(401), Some(403), Some(200), None],
        ),
        post(
            "/console/incidents/bulk",
            &[("action", "resolve"), ("incident", &t.bulk_b)],
            [Some(401), Some(403), None, Some(200)],
        ),
        post(
            "/console/schedules/primary/overrides",
            &override_form,
            [Some(401), Some(403), Some(303), Some(303)],
        ),
        post(removal(&t.override_a), &[], ACT_RESPONDER),
        post(removal(&t.override_b), &[], ACT_ADMIN),
        post(
            "/console/policies/test",
            &[("payload", payload), ("integration", "ci")],
            [Some(401), Some(200), Some(200), Some(200)],
        ),
        post(
            "/console/admin/keys",
            &[("kind", "api"), ("name", "roles-test")],
            ADMIN_ONLY,
        ),
        post(
            format!("/console/admin/keys/{}/revoke", t.key),
            &[],
            ADMIN_ONLY,
        ),
        // The admin's 200 shows the refused requests before it redrove nothing (it would be
        // a 404 for a dead letter already redriven).
        post(
            format!(
                "/console/admin/dead-letters/incidents/{}/redrive",
                t.dead_letter
            ),
            &[],
            ADMIN_ONLY,
        ),
        post(
            "/console/admin/dead-letters/notifications/redrive-all",
            &[],
            ADMIN_ONLY,
        ),
    ]
}

async fn csrf_of(world: &ConsoleWorld, session: &Session) -> String {
    let page = world.get("/console/oncall", Some(session)).await;
    form_value(&page.text().await.unwrap(), "csrf").expect("a CSRF field")
}

async fn ask(
    world: &ConsoleWorld,
    row: &Row,
    who: Option<&(Session, String)>,
) -> reqwest::Response {
    if !row.post {
        return world.get(&row.path, who.map(|(s, _)| s)).await;
    }
    let csrf = who.map_or("none", |(_, csrf)| csrf.as_str());
    let mut form: Vec<(&str, &str)> = vec![("csrf", csrf)];
    form.extend(row.form.iter().map(|(k, v)| (*k, v.as_str())));
    world.post_form(&row.path, who.map(|(s, _)| s), &form).await
}

fn assert_strict(response: &reqwest::Response, what: &str) {
    let html = response
        .headers()
        .get("content-type")
        .is_some_and(|v| v.to_str().unwrap().starts_with("text/html"));
    if html || response.status().is_redirection() {
        let csp = response.headers().get("content-security-policy");
        let csp = csp.map(|v| v.to_str().unwrap()).unwrap_or_default();
        assert!(
            csp.contains("frame-ancestors 'none'"),
            "{what}: CSP {csp:?}"
        );
    }
}

async fn overrides(world: &ConsoleWorld) -> Vec<String> {
    let repo = world.runtime.repository();
    let schedule = ScheduleId::new("primary").unwrap();
    let from = "2030-01-01T00:00:00Z".parse().unwrap();
    let until = "2032-01-01T00:00:00Z".parse().unwrap();
    let found = repo.overrides(&schedule, from, until).await.unwrap();
    found.into_iter().map(|o| o.id.to_string()).collect()
}

async fn targets(world: &ConsoleWorld, responder: &(Session, String)) -> Targets {
    let mut ids = Vec::new();
    for name in [
        "roles-one",
        "roles-two",
        "roles-three",
        "roles-four",
        "roles-five",
        "roles-six",
        "roles-seven",
        "roles-eight",
    ] {
        ids.push(world.open_incident(name).await.incident.id().to_string());
    }
    for day in ["2030-01-01", "2030-01-02"] {
        let (start, end) = (format!("{day}T09:00"), format!("{day}T17:00"));
        let form = [
            ("csrf", responder.1.as_str()),
            ("user", "vera"),
            ("start", &start),
            ("end", &end),
        ];
        let created = world
            .post_form(
                "/console/schedules/primary/overrides",
                Some(&responder.0),
                &form,
            )
            .await;
        assert_eq!(created.status(), 303);
    }
    let made = overrides(world).await;
    let oncall = world.get("/console/oncall", Some(&responder.0)).await;
    let html = oncall.text().await.unwrap();
    let start = html.find("/console/calendar/").expect("a calendar link");
    let calendar = html[start..start + html[start..].find('"').unwrap()].to_owned();
    let key = world.runtime.repository().list_keys().await.unwrap();
    let dead_letter = world
        .dead_letter(
            QueueName::Incidents,
            r#"{"kind":"unknown","incident":"roles"}"#,
        )
        .await;
    Targets {
        dead_letter,
        first: ids[0].clone(),
        second: ids[1].clone(),
        third: ids[2].clone(),
        fourth: ids[3].clone(),
        fifth: ids[4].clone(),
        sixth: ids[5].clone(),
        bulk_a: ids[6].clone(),
        bulk_b: ids[7].clone(),
        override_a: made[0].clone(),
        override_b: made[1].clone(),
        calendar,
        key: key
            .iter()
            .find(|k| k.record.name == "ci")
            .unwrap()
            .hash
            .clone(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_enforces_its_role() {
    let world = ConsoleWorld::start().await;
    let mut sessions = Vec::new();
    for address in ["vera@example.com", "alice@example.com", "ann@example.com"] {
        let session = world.sign_in(address).await;
        let csrf = csrf_of(&world, &session).await;
        sessions.push((session, csrf));
    }
    let t = targets(&world, &sessions[1]).await;
    for row in routes(&t) {
        for (index, expected) in row.expect.iter().enumerate() {
            let Some(expected) = *expected else { continue };
            let who = index.checked_sub(1).map(|i| &sessions[i]);
            let response = ask(&world, &row, who).await;
            let what = format!(
                "{} {} as {}",
                if row.post { "POST" } else { "GET" },
                row.path,
                WHO[index]
            );
            assert_eq!(response.status().as_u16(), expected, "{what}");
            assert_strict(&response, &what);
        }
    }
    // What the refused requests asked for did not happen before the allowed ones did it.
    let repo = world.runtime.repository();
    for (id, status) in [
        (&t.first, IncidentStatus::Acknowledged),
        (&t.second, IncidentStatus::Acknowledged),
        (&t.third, IncidentStatus::Resolved),
        (&t.fourth, IncidentStatus::Resolved),
        (&t.bulk_a, IncidentStatus::Acknowledged),
        (&t.bulk_b, IncidentStatus::Resolved),
    ] {
        let id = klaxon_domain::ids::IncidentId::new(id.as_str()).unwrap();
        let stored = repo.incident(&id).await.unwrap().unwrap();
        assert_eq!(stored.incident.status(), status, "{id}");
    }
    for (id, note) in [(&t.fifth, "responder note"), (&t.sixth, "admin note")] {
        let id = klaxon_domain::ids::IncidentId::new(id.as_str()).unwrap();
        let timeline = repo.timeline(&id, None, 500).await.unwrap();
        let kinds: Vec<String> = timeline
            .items
            .iter()
            .map(|r| r.entry.event_type().to_owned())
            .collect();
        let count = |kind: &str| kinds.iter().filter(|k| k.ends_with(kind)).count();
        assert_eq!(
            count(".incident.note"),
            1,
            "{id}: one note ({note}), {kinds:?}"
        );
        assert_eq!(
            count(".incident.reassigned"),
            1,
            "{id}: one reassignment, {kinds:?}"
        );
    }
    for id in [&t.first, &t.second] {
        let id = klaxon_domain::ids::IncidentId::new(id.as_str()).unwrap();
        let stored = repo.incident(&id).await.unwrap().unwrap();
        let state = stored.incident.escalation().unwrap();
        assert!(state.is_snoozed(), "{id} snoozed once, by the allowed role");
    }
    let left = overrides(&world).await;
    assert!(!left.contains(&t.override_a) && !left.contains(&t.override_b));
    assert_eq!(
        left.len(),
        2,
        "the responder's and the admin's new overrides"
    );
    let keys = repo.list_keys().await.unwrap();
    assert!(keys.iter().all(|k| k.hash != t.key), "the admin revoked it");
    assert_eq!(
        keys.iter()
            .filter(|k| k.record.name == "roles-test")
            .count(),
        1,
        "only the admin created a key"
    );
    world.runtime.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_gets_no_forms_that_change_anything() {
    let world = ConsoleWorld::start().await;
    let incident = world.open_incident("viewer-forms").await;
    let viewer = world.sign_in("vera@example.com").await;
    let id = incident.incident.id();
    let page = world
        .get(&format!("/console/incidents/{id}"), Some(&viewer))
        .await;
    let html = page.text().await.unwrap();
    assert!(!html.contains("/acknowledge\"") && !html.contains("/resolve\""));
    for action in ["snooze", "escalate", "reassign", "responders", "note"] {
        assert!(!html.contains(&format!("/{action}\"")), "no {action} form");
    }
    let list = world.get("/console/incidents", Some(&viewer)).await;
    let list = list.text().await.unwrap();
    assert!(
        !list.contains("/console/incidents/bulk") && !list.contains("type=\"checkbox\""),
        "no bulk form for a viewer"
    );
    let schedule = world.get("/console/schedules/primary", Some(&viewer)).await;
    assert!(!schedule.text().await.unwrap().contains("/overrides\""));
    let nav = world.get("/console/oncall", Some(&viewer)).await;
    assert!(
        !nav.text().await.unwrap().contains("/console/admin\""),
        "no admin link"
    );
    world.runtime.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_override_is_refused_with_its_field_named_and_nothing_created() {
    let world = ConsoleWorld::start().await;
    let responder = world.sign_in("alice@example.com").await;
    let csrf = csrf_of(&world, &responder).await;
    for (start, end, field) in [
        ("2030-01-01T17:00", "2030-01-01T09:00", "end"),
        ("9am", "2030-01-01T09:00", "start"),
    ] {
        let form = [
            ("csrf", csrf.as_str()),
            ("user", "vera"),
            ("start", start),
            ("end", end),
        ];
        let refused = world
            .post_form(
                "/console/schedules/primary/overrides",
                Some(&responder),
                &form,
            )
            .await;
        assert_eq!(refused.status(), 400, "{start} {end}");
        assert!(refused.text().await.unwrap().contains(field), "{field}");
    }
    assert!(overrides(&world).await.is_empty());
    world.runtime.shutdown().await.unwrap();
}
