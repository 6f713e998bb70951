//! Responder action routes (the `ack` function, beside acknowledge and resolve). Each needs an
//! API key and takes a JSON body; `Idempotency-Key` makes a retried request a no-op (answered
//! 200 with `"changed": false`). Errors use the `ApiError` envelope: 400 `invalid_field` naming
//! the field, 404 for an unknown incident, 409 with the state's code.
//!
//! | route | body |
//! |---|---|
//! | `POST /v1/incidents/{id}/snooze` | `{"duration": "30m"}` or `{"until": RFC 3339}` |
//! | `POST /v1/incidents/{id}/escalate` | `{}` |
//! | `POST /v1/incidents/{id}/reassign` | `{"to": {"user"\|"schedule"\|"policy": ID}}` |
//! | `POST /v1/incidents/{id}/responders` | `{"targets": [{"user"\|"schedule": ID}, ...]}` |
//! | `POST /v1/incidents/{id}/notes` | `{"text": "..."}` |
//! | `POST /v1/incidents` (declare) | `{"title", "severity"?, "urgency"?, "policy"?, "description"?}`: 201 with the incident, 200 `"created": false` for a repeated `Idempotency-Key` |
//!
//! Every body may add `"user": ID` to record a configured user as the actor.

use super::ApiError;
use super::api::{MAX_JSON_BODY_BYTES, read_limited};
use super::auth::key_from_headers;
use crate::ports::{Queue, Timers};
use crate::usecases::ack::AckService;
use crate::usecases::actions::{ActionRequest, IncidentAction};
use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use klaxon_store::Store;
use serde_json::json;
use std::sync::Arc;

/// The header that makes a responder action idempotent.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

const BEARER: &[&str] = &["bearer"];

type Svc<S, Q, T> = Arc<AckService<S, Q, T>>;

/// The responder action routes over `service`.
pub fn routes<S, Q, T>(service: Svc<S, Q, T>) -> Router
where
    S: Store + 'static,
    Q: Queue + 'static,
    T: Timers + 'static,
{
    Router::new()
        .route("/v1/incidents/{id}/snooze", post(snooze::<S, Q, T>))
        .route("/v1/incidents/{id}/escalate", post(escalate::<S, Q, T>))
        .route("/v1/incidents/{id}/reassign", post(reassign::<S, Q, T>))
        .route("/v1/incidents/{id}/responders", post(responders::<S, Q, T>))
        .route("/v1/incidents/{id}/notes", post(note::<S, Q, T>))
        .route("/v1/incidents", post(declare::<S, Q, T>))
        .with_state(service)
}

async fn act<S: Store, Q: Queue, T: Timers>(
    svc: Svc<S, Q, T>,
    headers: HeaderMap,
    id: String,
    body: Body,
    action: IncidentAction,
) -> Result<Response, ApiError> {
    let body = read_limited(body, MAX_JSON_BODY_BYTES).await?;
    let key = key_from_headers(&headers, BEARER);
    let idempotency = match headers.get(IDEMPOTENCY_KEY) {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| ApiError::invalid("Idempotency-Key", "must be printable ASCII"))?,
        ),
    };
    let request = ActionRequest {
        key: key.as_deref(),
        reference: &id,
        idempotency_key: idempotency,
        body: &body,
    };
    let result = svc.incident_action(action, request).await?;
    let status = if result.changed && action == IncidentAction::Note {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(json!({
            "incident": result.incident,
            "changed": result.changed,
            "action": result.action.as_str(),
            "actor": result.actor,
        })),
    )
        .into_response())
}

async fn declare<S: Store, Q: Queue, T: Timers>(
    State(svc): State<Svc<S, Q, T>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = read_limited(body, MAX_JSON_BODY_BYTES).await?;
    let key = key_from_headers(&headers, BEARER);
    let idempotency = match headers.get(IDEMPOTENCY_KEY) {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| ApiError::invalid("Idempotency-Key", "must be printable ASCII"))?,
        ),
    };
    let declared = svc
        .declare_incident(key.as_deref(), idempotency, &body)
        .await?;
    let status = if declared.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(json!({
            "incident": declared.incident,
            "created": declared.created,
            "actor": declared.actor,
        })),
    )
        .into_response())
}

macro_rules! action_handler {
    ($name:ident, $action:expr) => {
        async fn $name<S: Store, Q: Queue, T: Timers>(
            State(svc): State<Svc<S, Q, T>>,
            headers: HeaderMap,
            Path(id): Path<String>,
            body: Body,
        ) -> Result<Response, ApiError> {
            act(svc, headers, id, body, $action).await
        }
    };
}

action_handler!(snooze, IncidentAction::Snooze);
action_handler!(escalate, IncidentAction::Escalate);
action_handler!(reassign, IncidentAction::Reassign);
action_handler!(responders, IncidentAction::AddResponders);
action_handler!(note, IncidentAction::Note);
