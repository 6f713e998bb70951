//! Post-mortem routes (the `api` function, beside the incident routes). Each needs an API key;
//! bodies are JSON; a body may add `"user": ID` to record a configured user as the actor.
//! Errors use the `ApiError` envelope: 400 `invalid_field` naming the field, 404 for an
//! unknown incident, post-mortem or action item, 409 with the state's code
//! (`postmortem_exists`, `invalid_transition`, `incident_not_resolved`,
//! `postmortem_published`, `version_conflict`).
//!
//! | route | body | answer |
//! |---|---|---|
//! | `POST /v1/incidents/{id}/postmortem` | `{"template"?}` | 201 (200 for a retry with the same `Idempotency-Key`) |
//! | `GET /v1/incidents/{id}/postmortem` | | the post-mortem; Markdown with `Accept: text/markdown` |
//! | `PATCH /v1/incidents/{id}/postmortem` | `{"sections"?: [{"title", "body"}], "status"?, "version"?}` | 200 |
//! | `POST /v1/incidents/{id}/postmortem/action-items` | `{"title", "owner"?, "due"?}` | 201 (200 for a retry) |
//! | `PATCH /v1/incidents/{id}/postmortem/action-items/{item}` | `{"status"?, "title"?, "owner"?, "due"?}` | 200 |
//! | `GET /v1/action-items?status=open\|all&cursor=&limit=` | | action items across incidents |

use super::ApiError;
use super::actions::IDEMPOTENCY_KEY;
use super::api::{MAX_JSON_BODY_BYTES, Params, read_limited};
use super::auth::key_from_headers;
use crate::usecases::access::ApiPrincipal;
use crate::usecases::postmortems::PostmortemResult;
use crate::usecases::queries::QueryService;
use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use klaxon_domain::postmortem::to_markdown;
use klaxon_store::Store;
use serde_json::json;
use std::sync::Arc;

const BEARER: &[&str] = &["bearer"];

type Svc<S> = Arc<QueryService<S>>;

/// The post-mortem routes over `service`.
pub fn routes<S: Store + 'static>(service: Svc<S>) -> Router {
    Router::new()
        .route(
            "/v1/incidents/{id}/postmortem",
            get(show::<S>).post(create::<S>).patch(update::<S>),
        )
        .route(
            "/v1/incidents/{id}/postmortem/action-items",
            post(add_item::<S>),
        )
        .route(
            "/v1/incidents/{id}/postmortem/action-items/{item}",
            patch(update_item::<S>),
        )
        .route("/v1/action-items", get(list_items::<S>))
        .with_state(service)
}

async fn authenticate<S: Store>(
    svc: &QueryService<S>,
    headers: &HeaderMap,
) -> Result<ApiPrincipal, ApiError> {
    Ok(svc
        .authenticate(key_from_headers(headers, BEARER).as_deref())
        .await?)
}

fn idempotency(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    headers
        .get(IDEMPOTENCY_KEY)
        .map(|value| {
            value
                .to_str()
                .map_err(|_| ApiError::invalid("Idempotency-Key", "must be printable ASCII"))
        })
        .transpose()
}

fn answer(
    status: StatusCode,
    result: &PostmortemResult,
    extra: Option<serde_json::Value>,
) -> Response {
    let mut body = json!({
        "postmortem": result.postmortem,
        "changed": result.changed,
        "actor": result.actor,
    });
    if let (Some(extra), Some(object)) = (extra, body.as_object_mut()) {
        object.insert("action_item".into(), extra);
    }
    (status, Json(body)).into_response()
}

async fn show<S: Store>(
    State(svc): State<Svc<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    authenticate(&svc, &headers).await?;
    let stored = svc.postmortem(&id).await?;
    if !super::accepts(&headers, "text/markdown") {
        return Ok((StatusCode::OK, Json(&stored)).into_response());
    }
    let mut response = (StatusCode::OK, to_markdown(&stored.postmortem)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/markdown; charset=utf-8"),
    );
    if let Ok(disposition) = HeaderValue::from_str(&format!(
        "inline; filename=\"postmortem-{}.md\"",
        stored.postmortem.number
    )) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, disposition);
    }
    Ok(response)
}

async fn create<S: Store>(
    State(svc): State<Svc<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let principal = authenticate(&svc, &headers).await?;
    let body = read_limited(body, MAX_JSON_BODY_BYTES).await?;
    let result = svc
        .create_postmortem(&principal, &id, idempotency(&headers)?, &body)
        .await?;
    let status = if result.changed {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(answer(status, &result, None))
}

async fn update<S: Store>(
    State(svc): State<Svc<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let principal = authenticate(&svc, &headers).await?;
    // Sections may be long: a post-mortem's whole text fits.
    let body = read_limited(body, 8 * MAX_JSON_BODY_BYTES).await?;
    let result = svc.update_postmortem(&principal, &id, &body).await?;
    Ok(answer(StatusCode::OK, &result, None))
}

async fn add_item<S: Store>(
    State(svc): State<Svc<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let principal = authenticate(&svc, &headers).await?;
    let body = read_limited(body, MAX_JSON_BODY_BYTES).await?;
    let (result, item) = svc
        .add_action_item(&principal, &id, idempotency(&headers)?, &body)
        .await?;
    let status = if result.changed {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let shown = result
        .postmortem
        .postmortem
        .action_item(&item)
        .map(|item| json!(item));
    Ok(answer(status, &result, shown))
}

async fn update_item<S: Store>(
    State(svc): State<Svc<S>>,
    headers: HeaderMap,
    Path((id, item)): Path<(String, String)>,
    body: Body,
) -> Result<Response, ApiError> {
    let principal = authenticate(&svc, &headers).await?;
    let body = read_limited(body, MAX_JSON_BODY_BYTES).await?;
    let result = svc
        .update_action_item(&principal, &id, &item, &body)
        .await?;
    let shown = klaxon_domain::ids::ActionItemId::new(item.trim())
        .ok()
        .and_then(|item| result.postmortem.postmortem.action_item(&item).cloned())
        .map(|item| json!(item));
    Ok(answer(StatusCode::OK, &result, shown))
}

async fn list_items<S: Store>(
    State(svc): State<Svc<S>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    authenticate(&svc, &headers).await?;
    let params = Params::parse(query.as_deref())?;
    let page = svc
        .list_action_items(
            params.text("status"),
            params.text("cursor"),
            params.number("limit")?,
        )
        .await?;
    Ok((StatusCode::OK, Json(page)).into_response())
}
