//! The console's analytics page over the fixed history of `analytics.rs` (a manual clock from
//! 2026-01-01 00:00 UTC): the tables show the hand-computed MTTA, MTTR, incidents per week by
//! severity, the noisiest source and the on-call load, the charts are drawn, and the CSV link
//! answers the API's CSV for the same period.

use crate::analytics::history;
use crate::harness::World;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::TimeDelta;
use http_body_util::BodyExt;
use klaxon_app::console::{ConsoleService, ConsoleSettings, SigninSigner};
use klaxon_domain::ids::UserId;
use klaxon_store::repo::ConsoleSession;
use std::sync::Arc;
use tower::ServiceExt;

const PERIOD: &str = "from=2026-01-01&to=2026-01-01";

async fn console(world: &World) -> (axum::Router, String) {
    let service = ConsoleService::new(
        world.core("api"),
        world.queue.clone(),
        world.timers.clone(),
        world.senders.clone(),
        SigninSigner::new(&[9; 32]).unwrap(),
        ConsoleSettings::new("http://localhost:8080"),
    );
    let now = world.now();
    let session = ConsoleSession {
        user: UserId::new("bob").unwrap(),
        csrf: "csrf-token".into(),
        created_at: now,
        expires_at: now + TimeDelta::hours(12),
    };
    world
        .repo("test")
        .create_session("analytics-session", &session)
        .await
        .unwrap();
    let router = klaxon_app::console::routes(Arc::new(service));
    (router, "klaxon_session=analytics-session".to_owned())
}

async fn get(router: &axum::Router, path: &str, cookie: &str) -> (StatusCode, String, String) {
    let request = Request::get(path)
        .header("cookie", cookie)
        .body(Body::empty())
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let kind = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, kind, String::from_utf8(body.to_vec()).unwrap())
}

/// The text of the table row whose header cell is `key`, cells joined by `|`.
fn row(html: &str, table: &str, key: &str) -> String {
    let start = html
        .find(&format!("id=\"{table}\""))
        .unwrap_or_else(|| panic!("no {table}"));
    let body = &html[start..];
    let body = &body[..body.find("</table>").unwrap()];
    let marker = format!("<th scope=\"row\">{key}</th>");
    let at = body
        .find(&marker)
        .unwrap_or_else(|| panic!("no row {key} in {body}"));
    let line = &body[at + marker.len()..];
    let line = &line[..line.find("</tr>").unwrap()];
    line.replace("</td><td>", "|")
        .replace("<td>", "")
        .replace("</td>", "")
}

#[tokio::test]
async fn the_analytics_page_shows_the_hand_computed_numbers() {
    let world = World::new().await;
    history(&world).await;
    let (router, cookie) = console(&world).await;
    let (status, _, html) = get(&router, &format!("/console/analytics?{PERIOD}"), &cookie).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    // 1 Jan 2026 is in ISO week 1. TTA 120 s; TTR 300 s and 600 s (nearest rank).
    assert_eq!(
        row(&html, "weeks", "2026-W01"),
        "3|2 min 0 s|2 min 0 s|5 min 0 s|10 min 0 s"
    );
    assert_eq!(
        row(&html, "severities", "2026-W01"),
        "3|0|0|0",
        "all critical"
    );
    assert_eq!(row(&html, "sources", "prom / db-1"), "3|3|6");
    // Every page was off hours (the users' zone is UTC); alice held `primary` all day.
    assert_eq!(row(&html, "load", "Alice Example"), "6|6|1|24.0");
    assert!(html.contains("3 (1 acknowledged, 2 resolved)"), "{html}");
    for chart in [
        "Time to acknowledge per week",
        "Time to resolve per week",
        "Incidents per week by severity",
        "Noisiest sources",
        "Pages per person",
    ] {
        assert!(
            html.contains(&format!("aria-label=\"{chart}")),
            "{chart} drawn"
        );
    }
    assert!(
        html.contains("<title>2026-W01, critical: 3</title>"),
        "{html}"
    );

    let (status, kind, csv) = get(
        &router,
        &format!("/console/analytics.csv?{PERIOD}&table=load"),
        &cookie,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{csv}");
    assert!(kind.starts_with("text/csv"), "{kind}");
    assert!(csv.lines().any(|l| l.starts_with("alice,6,6,1,")), "{csv}");
}

#[tokio::test]
async fn a_bad_period_is_refused_naming_the_field() {
    let world = World::new().await;
    let (router, cookie) = console(&world).await;
    let (status, _, html) = get(&router, "/console/analytics?from=yesterday", &cookie).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("from: must be a day"), "{html}");
    let (status, _, html) = get(
        &router,
        "/console/analytics?from=2026-02-01&to=2026-01-01",
        &cookie,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("to: must not be before from"), "{html}");
    let (status, _, _) = get(&router, "/console/analytics.csv?from=2026-01-01", "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
