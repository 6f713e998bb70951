//! Heartbeat routes (the `ack` function, which holds the timers port, and `klaxon serve`):
//!
//! | route | auth | answer |
//! |---|---|---|
//! | `GET`, `POST /v1/heartbeats/{name}/ping` | the heartbeat's integration key (`Authorization: Bearer`, `X-Klaxon-Key` or `?key=`) | 200 `{"heartbeat","status":"ok","deadline","recovered"}` |
//! | `GET`, `POST`, `PUT`, `PATCH /v2/heartbeats/{name}/ping` | `Authorization: GenieKey …` (or `?apiKey=`), Opsgenie's ping | 202 `{"result":"PONG - Heartbeat received","took","requestId"}` |
//! | `GET /v1/heartbeats` | an API key | 200 `{"heartbeats":[…]}` |
//!
//! Errors on `/v1` use the `ApiError` envelope: 401 `unauthorized`, 403 `forbidden` (another
//! integration's key, or an API key), 404 `heartbeat_not_found`. On `/v2` they use Opsgenie's
//! `{"message","took","requestId"}` with the same statuses. A refused ping changes nothing.
//! A ping body is accepted whatever it holds (Opsgenie ignores it too), so any sender's payload
//! counts as a ping, except a resolved Alertmanager or Grafana alerting notification
//! (`{"status":"resolved","alerts":[…]}`): that one is authenticated, answered 200
//! `{"heartbeat","status":"ignored","reason":"resolved_notification"}` (202 on `/v2`) and
//! changes nothing, because a resolved `Watchdog` means Prometheus stopped firing it.

use super::ApiError;
use super::auth::key_from_headers;
use crate::ports::{Queue, Timers};
use crate::usecases::UseCaseError;
use crate::usecases::ack::AckService;
use crate::usecases::heartbeats::PingAnswer;
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use klaxon_store::Store;
use serde_json::json;
use std::sync::Arc;

type Svc<S, Q, T> = Arc<AckService<S, Q, T>>;

const BEARER: &[&str] = &["bearer"];
const GENIE: &[&str] = &["geniekey", "bearer"];

/// `?key=` (Klaxon's ping) or `?apiKey=` (Opsgenie's): for senders that cannot set headers.
#[derive(Debug, Default, serde::Deserialize)]
pub struct KeyQuery {
    key: Option<String>,
    #[serde(rename = "apiKey")]
    api_key: Option<String>,
}

/// The heartbeat routes over `service`.
pub fn routes<S, Q, T>(service: Svc<S, Q, T>) -> Router
where
    S: Store + 'static,
    Q: Queue + 'static,
    T: Timers + 'static,
{
    Router::new()
        .route("/v1/heartbeats", get(list::<S, Q, T>))
        .route(
            "/v1/heartbeats/{name}/ping",
            get(ping::<S, Q, T>).post(ping::<S, Q, T>),
        )
        .route(
            "/v2/heartbeats/{name}/ping",
            get(genie_ping::<S, Q, T>)
                .post(genie_ping::<S, Q, T>)
                .put(genie_ping::<S, Q, T>)
                .patch(genie_ping::<S, Q, T>),
        )
        .with_state(service)
}

fn edge_error(error: UseCaseError) -> ApiError {
    match error {
        UseCaseError::NotFound {
            what: "heartbeat",
            id,
        } => ApiError::new(
            StatusCode::NOT_FOUND,
            "heartbeat_not_found",
            format!("no heartbeat named {id:?} is configured"),
        ),
        other => ApiError::from(other),
    }
}

async fn ping<S: Store, Q: Queue, T: Timers>(
    State(svc): State<Svc<S, Q, T>>,
    Path(name): Path<String>,
    Query(query): Query<KeyQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let key = key_from_headers(&headers, BEARER).or(query.key);
    let answer = svc
        .heartbeat_ping(key.as_deref(), &name, &body)
        .await
        .map_err(edge_error)?;
    Ok(match answer {
        PingAnswer::Pinged(pinged) => Json(json!({
            "heartbeat": pinged.heartbeat,
            "status": "ok",
            "deadline": pinged.deadline,
            "recovered": pinged.recovered,
        })),
        PingAnswer::Ignored { heartbeat, reason } => Json(json!({
            "heartbeat": heartbeat,
            "status": "ignored",
            "reason": reason.as_str(),
        })),
    }
    .into_response())
}

async fn genie_ping<S: Store, Q: Queue, T: Timers>(
    State(svc): State<Svc<S, Q, T>>,
    Path(name): Path<String>,
    Query(query): Query<KeyQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = svc.core().now();
    let request_id = svc.core().ids.new_id();
    let key = key_from_headers(&headers, GENIE).or(query.api_key);
    let result = svc.heartbeat_ping(key.as_deref(), &name, &body).await;
    let took = (svc.core().now() - started)
        .num_microseconds()
        .unwrap_or(0)
        .max(0) as f64
        / 1e6;
    match result {
        Ok(answer) => (
            StatusCode::ACCEPTED,
            Json(json!({
                "result": match answer {
                    PingAnswer::Pinged(_) => "PONG - Heartbeat received",
                    PingAnswer::Ignored { .. } => "Ignored - a resolved notification is not a heartbeat",
                },
                "took": took,
                "requestId": request_id,
            })),
        )
            .into_response(),
        Err(error) => {
            let error = edge_error(error);
            (
                error.status,
                Json(json!({
                    "message": error.message,
                    "took": took,
                    "requestId": request_id,
                })),
            )
                .into_response()
        }
    }
}

async fn list<S: Store, Q: Queue, T: Timers>(
    State(svc): State<Svc<S, Q, T>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let key = key_from_headers(&headers, BEARER);
    let heartbeats = svc.heartbeat_list(key.as_deref()).await?;
    Ok(Json(json!({ "heartbeats": heartbeats })).into_response())
}
