//! Acknowledge/resolve routes (the `ack` function).
//!
//! | route | who | answer |
//! |---|---|---|
//! | `GET /v1/links?i&u&a&e&s` | anyone with a signed link | HTML confirmation page with a button; changes nothing |
//! | `POST /v1/links` (form body, or the query) | anyone with a signed link | performs the action; HTML result page |
//! | `POST /v1/incidents/{id}/acknowledge`, `/resolve` | API key; optional `{"user": "alice"}` | JSON `{incident, changed, action, actor}` |
//! | `POST /v1/slack/actions` | Slack, signed with the app's signing secret | JSON `{text}` |
//! | `POST /v1/incidents/{id}/snooze`, `/escalate`, `/reassign`, `/responders`, `/notes` | API key | see [`super::actions`] |
//!
//! Link pages: 403 altered link, 410 expired, 400 malformed, 404 unknown incident, 409
//! acknowledging a resolved incident. JSON routes answer errors in the `ApiError` envelope.

use super::ApiError;
use super::api::{MAX_JSON_BODY_BYTES, read_limited};
use super::auth::key_from_headers;
use super::pages::{confirmation_page, error_page, link_failure_page, result_page};
use crate::ports::{Queue, Timers};
use crate::security::links::SignedLink;
use crate::usecases::ack::{AckService, ActionResult};
use crate::usecases::lifecycle::StopAction;
use crate::usecases::notify::LINKS_PATH;
use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use klaxon_store::Store;
use serde_json::json;
use std::sync::Arc;

/// The largest form body a link POST may have.
const MAX_LINK_FORM_BYTES: usize = 8 * 1024;
/// The largest Slack interaction body (it carries the whole message the button was in).
pub const MAX_SLACK_BODY_BYTES: usize = 1024 * 1024;

const BEARER: &[&str] = &["bearer"];

type Svc<S, Q, T> = Arc<AckService<S, Q, T>>;

/// The acknowledge/resolve routes over `service`, with the responder actions
/// ([`super::actions::routes`]).
pub fn routes<S, Q, T>(service: Svc<S, Q, T>) -> Router
where
    S: Store + 'static,
    Q: Queue + 'static,
    T: Timers + 'static,
{
    let actions = super::actions::routes(Arc::clone(&service));
    let heartbeats = super::heartbeats::routes(Arc::clone(&service));
    Router::new()
        .route(
            LINKS_PATH,
            get(link_page::<S, Q, T>).post(link_action::<S, Q, T>),
        )
        .route(
            "/v1/incidents/{id}/acknowledge",
            post(api_acknowledge::<S, Q, T>),
        )
        .route("/v1/incidents/{id}/resolve", post(api_resolve::<S, Q, T>))
        .route("/v1/slack/actions", post(slack_action::<S, Q, T>))
        .with_state(service)
        .merge(actions)
        .merge(heartbeats)
}

fn malformed_link(reason: &str) -> Response {
    error_page(
        StatusCode::BAD_REQUEST,
        "This link is incomplete",
        &format!(
            "The link is missing a part or has one that cannot be read ({reason}). Open the link exactly as it arrived in the page."
        ),
    )
}

fn parse_link(text: &str) -> Result<SignedLink, String> {
    serde_urlencoded::from_str::<SignedLink>(text).map_err(|e| e.to_string())
}

async fn link_page<S: Store, Q: Queue, T: Timers>(
    State(svc): State<Svc<S, Q, T>>,
    RawQuery(query): RawQuery,
) -> Response {
    let link = match parse_link(query.as_deref().unwrap_or_default()) {
        Ok(link) => link,
        Err(reason) => return malformed_link(&reason),
    };
    match svc.preview_link(&link).await {
        Ok(preview) => confirmation_page(&preview, &link),
        Err(failure) => link_failure_page(failure),
    }
}

async fn link_action<S: Store, Q: Queue, T: Timers>(
    State(svc): State<Svc<S, Q, T>>,
    RawQuery(query): RawQuery,
    body: Body,
) -> Response {
    let body = match read_limited(body, MAX_LINK_FORM_BYTES).await {
        Ok(body) => body,
        Err(error) => return error_page(error.status, "Request too large", &error.message),
    };
    // The confirmation form posts the link's fields; a client may also POST the link URL
    // itself with an empty body.
    let form = String::from_utf8_lossy(&body);
    let text = if form.trim().is_empty() {
        query.unwrap_or_default()
    } else {
        form.into_owned()
    };
    let link = match parse_link(&text) {
        Ok(link) => link,
        Err(reason) => return malformed_link(&reason),
    };
    match svc.follow_link(&link).await {
        Ok(result) => result_page(&result),
        Err(failure) => link_failure_page(failure),
    }
}

fn action_json(result: &ActionResult) -> Response {
    let action = match result.action {
        StopAction::Acknowledge => "acknowledge",
        StopAction::Resolve => "resolve",
    };
    (
        StatusCode::OK,
        Json(json!({
            "incident": result.incident,
            "changed": result.changed,
            "action": action,
            "actor": result.actor,
        })),
    )
        .into_response()
}

async fn api_action<S: Store, Q: Queue, T: Timers>(
    svc: Svc<S, Q, T>,
    headers: HeaderMap,
    id: String,
    body: Body,
    action: StopAction,
) -> Result<Response, ApiError> {
    let body = read_limited(body, MAX_JSON_BODY_BYTES).await?;
    let key = key_from_headers(&headers, BEARER);
    let result = svc.api_action(key.as_deref(), &id, action, &body).await?;
    Ok(action_json(&result))
}

async fn api_acknowledge<S: Store, Q: Queue, T: Timers>(
    State(svc): State<Svc<S, Q, T>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    api_action(svc, headers, id, body, StopAction::Acknowledge).await
}

async fn api_resolve<S: Store, Q: Queue, T: Timers>(
    State(svc): State<Svc<S, Q, T>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    api_action(svc, headers, id, body, StopAction::Resolve).await
}

async fn slack_action<S: Store, Q: Queue, T: Timers>(
    State(svc): State<Svc<S, Q, T>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = read_limited(body, MAX_SLACK_BODY_BYTES).await?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let result = svc
        .slack_action(
            header("x-slack-request-timestamp"),
            header("x-slack-signature"),
            &body,
        )
        .await?;
    let incident = &result.incident;
    let text = match (result.action, result.changed) {
        (StopAction::Acknowledge, true) => format!(
            "Incident #{} acknowledged by {}.",
            incident.number(),
            result.actor
        ),
        (StopAction::Resolve, true) => {
            format!(
                "Incident #{} resolved by {}.",
                incident.number(),
                result.actor
            )
        }
        (StopAction::Acknowledge, false) => {
            format!("Incident #{} was already acknowledged.", incident.number())
        }
        (StopAction::Resolve, false) => {
            format!("Incident #{} was already resolved.", incident.number())
        }
    };
    Ok((StatusCode::OK, Json(json!({ "text": text }))).into_response())
}
