//! The pipeline's use cases end to end in one process: ingest over HTTP (the real router),
//! grouping and routing on the SQLite store, with recording queues, timers and senders.
//! Notify, ack and the API have their own tests (`notify_ack_api/`); the same flows against
//! moto and the Lambda handlers are in the end-to-end tests.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use chrono::TimeDelta;
use http_body_util::BodyExt;
use klaxon_app::messages::{AlertAction, QueueMessage, QueueName};
use klaxon_app::ports::Queue;
use klaxon_app::usecases::routing::{RoutingOutcome, SWEEP_BATCH, SWEEP_GRACE};
use klaxon_domain::escalation::{EscalationStatus, Target};
use klaxon_domain::ids::{ScheduleId, UserId};
use klaxon_domain::incident::IncidentStatus;
use klaxon_store::port::Store;
use klaxon_store::repo::StoredIncident;
use klaxon_tests::pipeline::{NowInstant, Pipeline};
use klaxon_tests::workspace_root;
use serde_json::{Value, json};
use tower::ServiceExt;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn event(name: &str) -> String {
    std::fs::read_to_string(workspace_root().join("events/ingest").join(name)).unwrap()
}

async fn post(
    router: axum::Router,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Body>,
) -> (StatusCode, Value) {
    let mut request = Request::post(path).header("content-type", "application/json");
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = router
        .oneshot(request.body(body.into()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, json)
}

/// Any method, with an `authorization` header; an empty body is sent as none.
async fn send(
    router: axum::Router,
    method: &str,
    path: &str,
    authorization: &str,
    body: &str,
) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .header("authorization", authorization)
        .body(Body::from(body.to_string()))
        .unwrap();
    let response = router.oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, json)
}

fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

async fn incidents(p: &Pipeline) -> Vec<StoredIncident> {
    p.repo.recent_incidents(None, 100).await.unwrap().items
}

async fn only_incident(p: &Pipeline) -> StoredIncident {
    let mut all = incidents(p).await;
    assert_eq!(all.len(), 1, "expected exactly one incident");
    all.remove(0)
}

mod formats;
mod opsgenie_api;
mod pagerduty_more;
mod quiet_hours;
mod recovery;
mod refusals;
mod sns;
mod suppression;
