//! The console at scale: 100,000 incidents in SQLite (in memory; 1 in 100 still open, the
//! rest resolved, one created every five minutes, about a year), then the server's render
//! time of the incidents page (first page, a deep page through its cursor, a time range a
//! year back) and of the schedule page through the real router, with their page weight
//! (HTML + the stylesheet + the script, as served, uncompressed).
//!
//! Run: `cargo bench -p klaxon-tests --bench console` (figures in `docs/performance.md`);
//! `KLAXON_BENCH_INCIDENTS` and `KLAXON_BENCH_SAMPLES` change the 100,000 and the 300.
//! Prints one line per page: p50, p99 and max of the render time, and the bytes.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use chrono::Duration;
use klaxon_app::console::{ConsoleService, ConsoleSettings, SigninSigner};
use klaxon_domain::alert::{Alert, AlertStatus, Severity};
use klaxon_domain::duration::HumanDuration;
use klaxon_domain::ids::{AlertId, DedupKey, GroupKey, IncidentId, IntegrationName, UserId};
use klaxon_domain::timeline::Actor;
use klaxon_store::Clock;
use klaxon_store::repo::ConsoleSession;
use klaxon_test_support::Env;
use klaxon_test_support::fakes::{RecordingQueue, RecordingSenders, RecordingTimers};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;
use tower::ServiceExt;

const SESSION: &str = "bench-session-token-0123456789abcdef0123456789";

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn alert(i: usize, at: klaxon_domain::Instant) -> Alert {
    let severity = [
        Severity::Critical,
        Severity::Error,
        Severity::Warning,
        Severity::Info,
    ][i % 4];
    Alert {
        integration: IntegrationName::new("native").unwrap(),
        dedup_key: DedupKey::new(format!("bench-{i}")).unwrap(),
        status: AlertStatus::Firing,
        severity,
        summary: format!("disk {i} is filling up on db-{}", i % 40),
        source: Some(format!("db-{}", i % 40)),
        labels: BTreeMap::from([("service".to_owned(), "db".to_owned())]),
        annotations: BTreeMap::new(),
        links: Vec::new(),
        received_at: at,
        started_at: Some(at),
        ended_at: None,
        group_hint: None,
        raw: serde_json::json!({"dedup_key": format!("bench-{i}")}),
    }
}

/// Stores `count` incidents the way grouping does; all but every hundredth are resolved.
async fn seed(env: &Env, count: usize) {
    let repo = env.repo("bench");
    let window = HumanDuration::from_secs(60);
    for i in 0..count {
        let now = env.clock.now();
        let linked = repo
            .find_or_create_incident(
                &GroupKey(format!("bench-{i}")),
                window,
                &AlertId::new(format!("a{i:07}")).unwrap(),
                &alert(i, now),
                &IncidentId::new(format!("inc{i:07}")).unwrap(),
            )
            .await
            .unwrap();
        if i % 100 != 0 {
            let mut incident = linked.incident.incident.clone();
            incident.resolve(Actor::system("bench"), now).unwrap();
            repo.save_incident(&incident, linked.incident.version, &[])
                .await
                .unwrap();
        }
        env.clock.advance(Duration::minutes(5));
    }
}

async fn router(env: &Env) -> Router {
    let console = ConsoleService::new(
        env.core("console"),
        RecordingQueue::new(),
        RecordingTimers::new(),
        RecordingSenders::new(),
        SigninSigner::new(&[7u8; 32]).unwrap(),
        ConsoleSettings::new("http://127.0.0.1:8080"),
    );
    let now = env.clock.now();
    let session = ConsoleSession {
        user: UserId::new("alice").unwrap(),
        csrf: "bench-csrf".to_owned(),
        created_at: now,
        expires_at: now + Duration::days(3650),
    };
    env.repo("bench")
        .create_session(SESSION, &session)
        .await
        .unwrap();
    klaxon_app::console::routes(Arc::new(console))
}

async fn get(router: &Router, path: &str) -> (u16, String) {
    let request = Request::get(path)
        .header("cookie", format!("klaxon_session={SESSION}"))
        .body(Body::empty())
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// The `href` values of the stylesheet and the script a page links.
fn assets(html: &str) -> Vec<String> {
    html.split('"')
        .filter(|part| part.starts_with("/console/assets/"))
        .map(str::to_owned)
        .collect()
}

fn percentile(sorted: &[std::time::Duration], p: f64) -> std::time::Duration {
    let rank = ((sorted.len() as f64) * p).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

async fn measure(router: &Router, name: &str, path: &str, samples: usize) {
    let (status, html) = get(router, path).await;
    assert_eq!(status, 200, "{path}: {html}");
    let rows = html.matches("<li>").count();
    let mut asset_bytes = 0;
    for asset in assets(&html) {
        asset_bytes += get(router, &asset).await.1.len();
    }
    let mut times = Vec::with_capacity(samples);
    for _ in 0..samples {
        let started = Instant::now();
        let (status, _) = get(router, path).await;
        times.push(started.elapsed());
        assert_eq!(status, 200);
    }
    times.sort();
    println!(
        "{name}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms over {samples}; {rows} rows; HTML {} B + CSS/JS {} B = {} B",
        percentile(&times, 0.50).as_secs_f64() * 1e3,
        percentile(&times, 0.99).as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3,
        html.len(),
        asset_bytes,
        html.len() + asset_bytes,
    );
}

/// The cursor of the all-incidents listing after `skip` incidents (as "Next page" links
/// carry it).
async fn deep_cursor(env: &Env, skip: usize) -> String {
    let repo = env.repo("bench");
    let mut cursor = None;
    let mut seen = 0;
    while seen < skip {
        let page = repo
            .recent_incidents(cursor, (skip - seen).min(1000) as u32)
            .await
            .unwrap();
        seen += page.items.len();
        cursor = page.next;
    }
    cursor.unwrap().as_str().to_owned()
}

fn main() {
    let count = env_number("KLAXON_BENCH_INCIDENTS", 100_000);
    let samples = env_number("KLAXON_BENCH_SAMPLES", 300);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let env = Env::new().await;
        let started = Instant::now();
        seed(&env, count).await;
        println!(
            "seeded {count} incidents ({} open) in {:.1} s",
            count.div_ceil(100),
            started.elapsed().as_secs_f64()
        );
        let router = router(&env).await;
        let deep = deep_cursor(&env, count * 9 / 10).await;
        let first = env.clock.now() - Duration::minutes(5 * count as i64);
        // One day a tenth of the way into the stored history.
        let day = first + Duration::minutes(5 * count as i64 / 10);
        let day_start = day.format("%Y-%m-%dT%H:%M");
        let day_end = (day + Duration::days(1)).format("%Y-%m-%dT%H:%M");
        let pages = [
            ("incidents, open (default)", "/console/incidents".to_owned()),
            (
                "incidents, all, first page",
                "/console/incidents?status=all".to_owned(),
            ),
            (
                "incidents, all, page at 90 % depth (cursor)",
                format!("/console/incidents?status=all&cursor={deep}"),
            ),
            (
                "incidents, all, one day 10 % into the history (time range)",
                format!("/console/incidents?status=all&from={day_start}&to={day_end}"),
            ),
            (
                "incidents, resolved, critical (filtered)",
                "/console/incidents?status=resolved&severity=critical".to_owned(),
            ),
            (
                "schedule page (primary)",
                "/console/schedules/primary".to_owned(),
            ),
        ];
        for (name, path) in pages {
            measure(&router, name, &path, samples).await;
        }
    });
}
