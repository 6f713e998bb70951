//! Ingest through the real HTTP router on the embedded store (SQLite in memory), in process:
//! what one alert costs Klaxon itself, without the network.
//!
//! Run: `cargo bench -p klaxon-tests --bench ingest` (figures in `docs/performance.md`).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use axum::http::Request;
use criterion::{Criterion, criterion_group, criterion_main};
use klaxon_app::messages::QueueName;
use klaxon_tests::pipeline::Pipeline;
use std::sync::atomic::{AtomicU64, Ordering};
use tower::ServiceExt;

fn request(key: &str, dedup: &str) -> Request<Body> {
    let body = serde_json::json!({"dedup_key": dedup, "summary": "disk full on db-1", "severity": "critical",
        "labels": {"service": "db", "env": "prod"}});
    Request::post("/v1/alerts")
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn benches(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // Configuration cached for 30 s, as the Lambda functions do.
    let pipeline = runtime.block_on(Pipeline::with_config_cache(
        &klaxon_tests::pipeline::pipeline_config_text(),
        std::time::Duration::from_secs(30),
    ));
    let router = pipeline.ingest_router();
    let key = pipeline.key("native").to_string();

    let n = AtomicU64::new(0);
    c.bench_function(
        "ingest: new alert over HTTP (auth, parse, store, queue) on SQLite",
        |b| {
            b.to_async(&runtime).iter(|| {
                let dedup = format!("alert-{}", n.fetch_add(1, Ordering::Relaxed));
                let router = router.clone();
                let key = key.clone();
                async move {
                    let response = router.oneshot(request(&key, &dedup)).await.unwrap();
                    assert_eq!(response.status(), 202);
                }
            });
        },
    );
    pipeline.queue.drain(QueueName::Alerts);

    runtime.block_on(async {
        router
            .clone()
            .oneshot(request(&key, "repeated"))
            .await
            .unwrap();
    });
    c.bench_function(
        "ingest: duplicate of an open alert over HTTP on SQLite",
        |b| {
            b.to_async(&runtime).iter(|| {
                let router = router.clone();
                let key = key.clone();
                async move {
                    let response = router.oneshot(request(&key, "repeated")).await.unwrap();
                    assert_eq!(response.status(), 202);
                }
            });
        },
    );
}

criterion_group!(ingest, benches);
criterion_main!(ingest);
