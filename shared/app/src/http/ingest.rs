//! Ingest routes. Each answers in the shape its senders expect: PagerDuty's and Opsgenie's own
//! bodies on their compatibility routes (so a sender switches by changing its base URL), the
//! Klaxon error envelope elsewhere.
//!
//! | route | format |
//! |---|---|
//! | `POST /v1/alerts` | native |
//! | `POST /v1/integrations/alertmanager` | Alertmanager webhook v4 |
//! | `POST /v1/integrations/grafana` | Grafana alerting webhook |
//! | `POST /v1/integrations/sns/{key}` | CloudWatch alarms via an SNS HTTPS subscription |
//! | `POST /v2/enqueue` | PagerDuty Events API v2 |
//! | `POST /v2/alerts` | Opsgenie create alert |
//! | `POST /v2/alerts/{identifier}/acknowledge`, `/close` | Opsgenie ack/close by alias |

use super::ApiError;
use super::auth::key_from_headers;
use crate::ports::Queue;
use crate::security::sns::HttpGet;
use crate::usecases::UseCaseError;
use crate::usecases::ingest::{IngestFailure, IngestService, IngestSummary, SnsOutcome};
use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use klaxon_domain::ingest::opsgenie::{OpsgenieAccepted, OpsgenieAction};
use klaxon_domain::ingest::pagerduty::{PagerDutyErrorResponse, PagerDutySuccess};
use klaxon_domain::ingest::{Format, IngestError, IngestErrorKind, MAX_BODY_BYTES};
use klaxon_store::Store;
use serde_json::json;
use std::sync::Arc;

/// Reads a request body, refusing more than [`MAX_BODY_BYTES`] with the domain's `too_large`
/// error (so each route can answer it in its own shape).
pub async fn read_body(body: Body) -> Result<Bytes, IngestError> {
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            IngestError::single(
                IngestErrorKind::TooLarge,
                "$",
                format!("the body is larger than {MAX_BODY_BYTES} bytes"),
            )
        })
}

/// The status for a parse error: 413 for too large, 400 otherwise.
pub fn parse_status(error: &IngestError) -> StatusCode {
    match error.kind {
        IngestErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// A parse error in the Klaxon envelope, with every field error listed.
pub fn parse_error_response(error: &IngestError) -> Response {
    let first = error.errors.first();
    let body = json!({
        "error": {
            "code": error.code(),
            "message": first.map(|f| f.message.clone()).unwrap_or_else(|| error.to_string()),
            "field": first.map(|f| f.field.clone()),
            "errors": error.errors,
        }
    });
    (parse_status(error), Json(body)).into_response()
}

fn failure_response(failure: IngestFailure) -> Response {
    match failure {
        IngestFailure::Parse(error) => parse_error_response(&error),
        IngestFailure::Other(error) => ApiError::from(error).into_response(),
    }
}

fn accepted(summary: IngestSummary) -> Response {
    (
        StatusCode::ACCEPTED,
        Json(json!({"status": "accepted", "summary": summary})),
    )
        .into_response()
}

type Svc<S, Q, H> = Arc<IngestService<S, Q, H>>;

/// The ingest routes over `service`.
pub fn routes<S, Q, H>(service: Svc<S, Q, H>) -> Router
where
    S: Store + 'static,
    Q: Queue + 'static,
    H: HttpGet + 'static,
{
    Router::new()
        .route("/v1/alerts", post(native::<S, Q, H>))
        .route(
            "/v1/integrations/alertmanager",
            post(alertmanager::<S, Q, H>),
        )
        .route("/v1/integrations/grafana", post(grafana::<S, Q, H>))
        .route("/v1/integrations/sns/{key}", post(sns_https::<S, Q, H>))
        .route("/v2/enqueue", post(pagerduty::<S, Q, H>))
        .route("/v2/alerts", post(opsgenie_create::<S, Q, H>))
        .route(
            "/v2/alerts/{identifier}/acknowledge",
            post(opsgenie_ack::<S, Q, H>),
        )
        .route(
            "/v2/alerts/{identifier}/close",
            post(opsgenie_close::<S, Q, H>),
        )
        .with_state(service)
}

const BEARER: &[&str] = &["bearer"];

/// The formats that authenticate with a bearer key: read the body, authenticate, parse, accept.
async fn bearer_format<S: Store, Q: Queue, H: HttpGet>(
    svc: Svc<S, Q, H>,
    headers: HeaderMap,
    body: Body,
    format: Format,
) -> Response {
    let body = match read_body(body).await {
        Ok(body) => body,
        Err(error) => return parse_error_response(&error),
    };
    let key = key_from_headers(&headers, BEARER);
    let result = match format {
        Format::Alertmanager => svc.alertmanager(key.as_deref(), &body).await,
        Format::Grafana => svc.grafana(key.as_deref(), &body).await,
        _ => svc.native(key.as_deref(), &body).await,
    };
    match result {
        Ok(summary) => accepted(summary),
        Err(failure) => failure_response(failure),
    }
}

async fn native<S: Store, Q: Queue, H: HttpGet>(
    State(svc): State<Svc<S, Q, H>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    bearer_format(svc, headers, body, Format::Native).await
}

async fn alertmanager<S: Store, Q: Queue, H: HttpGet>(
    State(svc): State<Svc<S, Q, H>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    bearer_format(svc, headers, body, Format::Alertmanager).await
}

async fn grafana<S: Store, Q: Queue, H: HttpGet>(
    State(svc): State<Svc<S, Q, H>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    bearer_format(svc, headers, body, Format::Grafana).await
}

async fn sns_https<S: Store, Q: Queue, H: HttpGet>(
    State(svc): State<Svc<S, Q, H>>,
    Path(key): Path<String>,
    body: Body,
) -> Response {
    let body = match read_body(body).await {
        Ok(body) => body,
        Err(error) => return parse_error_response(&error),
    };
    match svc.sns_https(Some(&key), &body).await {
        Ok(SnsOutcome::SubscriptionConfirmed) => (
            StatusCode::OK,
            Json(json!({"status": "subscription_confirmed"})),
        )
            .into_response(),
        Ok(SnsOutcome::UnsubscribeNoted) => {
            (StatusCode::OK, Json(json!({"status": "ok"}))).into_response()
        }
        Ok(SnsOutcome::Notification(summary)) => accepted(summary),
        Err(failure) => failure_response(failure),
    }
}

// --- PagerDuty compatibility ---------------------------------------------------------------

fn pagerduty_error(status: StatusCode, errors: Vec<String>) -> Response {
    let body = PagerDutyErrorResponse {
        status: "invalid event".into(),
        message: "Event object is invalid".into(),
        errors,
    };
    (status, Json(body)).into_response()
}

fn pagerduty_failure(failure: IngestFailure) -> Response {
    match failure {
        IngestFailure::Parse(error) => (
            parse_status(&error),
            Json(PagerDutyErrorResponse::from_error(&error)),
        )
            .into_response(),
        IngestFailure::Other(UseCaseError::Unauthorized(_)) => {
            pagerduty_error(StatusCode::BAD_REQUEST, vec!["Invalid routing key".into()])
        }
        IngestFailure::Other(UseCaseError::Forbidden(message)) => pagerduty_error(
            StatusCode::BAD_REQUEST,
            vec![format!("'routing_key' {message}")],
        ),
        // A limit the parsed alert breaks (its labels' total size): still PagerDuty's shape.
        IngestFailure::Other(UseCaseError::Invalid { field, message }) => pagerduty_error(
            StatusCode::BAD_REQUEST,
            vec![format!("'{field}' {message}")],
        ),
        IngestFailure::Other(error)
            if error.is_transient() || matches!(error, UseCaseError::NoConfig) =>
        {
            tracing::warn!(%error, "PagerDuty event throttled");
            // PagerDuty senders back off and retry on 429.
            (
                StatusCode::TOO_MANY_REQUESTS,
                Json(json!({
                    "status": "throttle event",
                    "message": "Requests for this service are arriving too quickly.  Please retry later."
                })),
            )
                .into_response()
        }
        IngestFailure::Other(error) => ApiError::from(error).into_response(),
    }
}

async fn pagerduty<S: Store, Q: Queue, H: HttpGet>(
    State(svc): State<Svc<S, Q, H>>,
    body: Body,
) -> Response {
    let body = match read_body(body).await {
        Ok(body) => body,
        Err(error) => return pagerduty_failure(IngestFailure::Parse(error)),
    };
    match svc.pagerduty(&body).await {
        Ok((_, dedup_key)) => (
            StatusCode::ACCEPTED,
            Json(PagerDutySuccess::new(&dedup_key)),
        )
            .into_response(),
        Err(failure) => pagerduty_failure(failure),
    }
}

// --- Opsgenie compatibility ----------------------------------------------------------------

const GENIE: &[&str] = &["geniekey", "bearer"];

fn request_id<S: Store, Q: Queue, H: HttpGet>(svc: &IngestService<S, Q, H>) -> String {
    svc.core().ids.new_id()
}

fn opsgenie_failure(request_id: String, failure: IngestFailure) -> Response {
    let (status, message) = match failure {
        IngestFailure::Parse(error) => (
            match error.kind {
                IngestErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
                IngestErrorKind::Invalid | IngestErrorKind::Unsupported => {
                    StatusCode::UNPROCESSABLE_ENTITY
                }
                _ => StatusCode::BAD_REQUEST,
            },
            error
                .errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        // A limit the parsed alert breaks: a validation error, which Opsgenie answers with 422.
        IngestFailure::Other(UseCaseError::Invalid { field, message }) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{field}: {message}"),
        ),
        IngestFailure::Other(error) => {
            let api = ApiError::from(error);
            (api.status, api.message)
        }
    };
    (
        status,
        Json(json!({"message": message, "took": 0.0, "requestId": request_id})),
    )
        .into_response()
}

fn opsgenie_accepted(request_id: String) -> Response {
    (
        StatusCode::ACCEPTED,
        Json(OpsgenieAccepted::new(&request_id, 0.0)),
    )
        .into_response()
}

async fn opsgenie_create<S: Store, Q: Queue, H: HttpGet>(
    State(svc): State<Svc<S, Q, H>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let id = request_id(&svc);
    let body = match read_body(body).await {
        Ok(body) => body,
        Err(error) => return opsgenie_failure(id, IngestFailure::Parse(error)),
    };
    match svc
        .opsgenie_create(key_from_headers(&headers, GENIE).as_deref(), &body)
        .await
    {
        Ok(_) => opsgenie_accepted(id),
        Err(failure) => opsgenie_failure(id, failure),
    }
}

/// `?identifierType=alias`.
#[derive(Debug, serde::Deserialize)]
struct IdentifierQuery {
    #[serde(rename = "identifierType")]
    identifier_type: Option<String>,
}

async fn opsgenie_action<S: Store, Q: Queue, H: HttpGet>(
    svc: Svc<S, Q, H>,
    identifier: String,
    query: IdentifierQuery,
    headers: HeaderMap,
    body: Body,
    action: OpsgenieAction,
) -> Response {
    let id = request_id(&svc);
    let body = match read_body(body).await {
        Ok(body) => body,
        Err(error) => return opsgenie_failure(id, IngestFailure::Parse(error)),
    };
    let key = key_from_headers(&headers, GENIE);
    match svc
        .opsgenie_action(
            key.as_deref(),
            &identifier,
            query.identifier_type.as_deref(),
            action,
            &body,
        )
        .await
    {
        Ok(_) => opsgenie_accepted(id),
        Err(failure) => opsgenie_failure(id, failure),
    }
}

async fn opsgenie_ack<S: Store, Q: Queue, H: HttpGet>(
    State(svc): State<Svc<S, Q, H>>,
    Path(identifier): Path<String>,
    Query(query): Query<IdentifierQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    opsgenie_action(
        svc,
        identifier,
        query,
        headers,
        body,
        OpsgenieAction::Acknowledge,
    )
    .await
}

async fn opsgenie_close<S: Store, Q: Queue, H: HttpGet>(
    State(svc): State<Svc<S, Q, H>>,
    Path(identifier): Path<String>,
    Query(query): Query<IdentifierQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    opsgenie_action(svc, identifier, query, headers, body, OpsgenieAction::Close).await
}
