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
//! | `POST /generic/2010-04-15/create_event.json` | PagerDuty Events API v1 |
//! | `POST /v2/change/enqueue` | PagerDuty Change Events (recorded, never paging) |
//! | `POST /v2/alerts` | Opsgenie create alert (the rest of its alert API: [`super::opsgenie`]) |
//!
//! [`route`] and the handler table are exhaustive matches over [`Format`]: a new format has no
//! route until it is given one. Every handler calls the one entry point,
//! [`IngestService::ingest`], and differs only in where the key is and how it answers.

use super::ApiError;
use super::auth::key_from_headers;
use crate::ports::Queue;
use crate::security::sns::HttpGet;
use crate::usecases::UseCaseError;
use crate::usecases::ingest::{IngestFailure, IngestService, IngestSummary, Ingested};
use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, post};
use klaxon_domain::ingest::pagerduty::{PagerDutyErrorResponse, PagerDutySuccess};
use klaxon_domain::ingest::pagerduty_change::ChangeAccepted;
use klaxon_domain::ingest::pagerduty_v1::PagerDutyV1Success;
use klaxon_domain::ingest::{Format, IngestError, IngestErrorKind, MAX_BODY_BYTES, Request};
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

/// The ingest routes' state.
pub type Svc<S, Q, H> = Arc<IngestService<S, Q, H>>;

/// The route each format is posted to (the rest of Opsgenie's alert API comes on top, from
/// [`super::opsgenie::routes`]).
pub fn route(format: Format) -> &'static str {
    match format {
        Format::Native => "/v1/alerts",
        Format::Alertmanager => "/v1/integrations/alertmanager",
        Format::Grafana => "/v1/integrations/grafana",
        Format::Cloudwatch => "/v1/integrations/sns/{key}",
        Format::Pagerduty => "/v2/enqueue",
        Format::Opsgenie => "/v2/alerts",
    }
}

/// The handler of `format`'s route.
fn handler<S, Q, H>(format: Format) -> MethodRouter<Svc<S, Q, H>>
where
    S: Store + 'static,
    Q: Queue + 'static,
    H: HttpGet + 'static,
{
    match format {
        Format::Native | Format::Alertmanager | Format::Grafana => post(
            move |State(svc): State<Svc<S, Q, H>>, headers: HeaderMap, body: Body| {
                bearer_format(svc, headers, body, format)
            },
        ),
        Format::Cloudwatch => post(sns_https::<S, Q, H>),
        Format::Pagerduty => post(pagerduty::<S, Q, H>),
        Format::Opsgenie => super::opsgenie::alerts_route::<S, Q, H>(),
    }
}

/// The ingest routes over `service`.
pub fn routes<S, Q, H>(service: Svc<S, Q, H>) -> Router
where
    S: Store + 'static,
    Q: Queue + 'static,
    H: HttpGet + 'static,
{
    Format::ALL
        .into_iter()
        .fold(Router::new(), |router, format| {
            router.route(route(format), handler::<S, Q, H>(format))
        })
        .route(PAGERDUTY_V1_ROUTE, post(pagerduty_v1::<S, Q, H>))
        .route(PAGERDUTY_CHANGE_ROUTE, post(pagerduty_change::<S, Q, H>))
        .merge(super::opsgenie::routes::<S, Q, H>())
        .with_state(service)
}

const BEARER: &[&str] = &["bearer"];

/// The formats that authenticate with a bearer key and answer in the Klaxon envelope.
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
    let request = Request::Body {
        format,
        body: &body,
    };
    klaxon_answer(svc.ingest(key.as_deref(), request).await)
}

/// A result in the Klaxon shape: 202 with the summary, 200 for SNS confirmations, the error
/// envelope otherwise.
fn klaxon_answer(result: Result<Ingested, IngestFailure>) -> Response {
    match result {
        Ok(Ingested::Events { summary, .. }) => accepted(summary),
        Ok(Ingested::SubscriptionConfirmed) => (
            StatusCode::OK,
            Json(json!({"status": "subscription_confirmed"})),
        )
            .into_response(),
        Ok(Ingested::UnsubscribeNoted) => {
            (StatusCode::OK, Json(json!({"status": "ok"}))).into_response()
        }
        Err(failure) => failure_response(failure),
    }
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
    let request = Request::Body {
        format: Format::Cloudwatch,
        body: &body,
    };
    klaxon_answer(svc.ingest(Some(&key), request).await)
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

/// An error in PagerDuty's shape; `key` names the body's credential (`routing_key` in v2,
/// `service_key` in v1).
fn pagerduty_failure(failure: IngestFailure, key: &str) -> Response {
    match failure {
        IngestFailure::Parse(error) => (
            parse_status(&error),
            Json(PagerDutyErrorResponse::from_error(&error)),
        )
            .into_response(),
        IngestFailure::Other(UseCaseError::Unauthorized(_)) => pagerduty_error(
            StatusCode::BAD_REQUEST,
            vec![format!("Invalid {}", key.replace('_', " "))],
        ),
        IngestFailure::Other(UseCaseError::Forbidden(message)) => {
            pagerduty_error(StatusCode::BAD_REQUEST, vec![format!("'{key}' {message}")])
        }
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
        Err(error) => return pagerduty_failure(IngestFailure::Parse(error), "routing_key"),
    };
    let request = Request::Body {
        format: Format::Pagerduty,
        body: &body,
    };
    // The routing key is in the body.
    match svc.ingest(None, request).await {
        Ok(Ingested::Events {
            dedup_key: Some(dedup_key),
            ..
        }) => (
            StatusCode::ACCEPTED,
            Json(PagerDutySuccess::new(&dedup_key)),
        )
            .into_response(),
        Ok(other) => {
            tracing::error!(?other, "a PagerDuty event was accepted without a dedup key");
            ApiError::internal().into_response()
        }
        Err(failure) => pagerduty_failure(failure, "routing_key"),
    }
}

/// PagerDuty Change Events' route.
pub const PAGERDUTY_CHANGE_ROUTE: &str = "/v2/change/enqueue";

/// Change Events: 202 `{"status":"success","message":"Change event processed"}`, errors as for
/// alert events.
async fn pagerduty_change<S: Store, Q: Queue, H: HttpGet>(
    State(svc): State<Svc<S, Q, H>>,
    body: Body,
) -> Response {
    let body = match read_body(body).await {
        Ok(body) => body,
        Err(error) => return pagerduty_failure(IngestFailure::Parse(error), "routing_key"),
    };
    match svc.change_event(&body).await {
        Ok(_) => (StatusCode::ACCEPTED, Json(ChangeAccepted::default())).into_response(),
        Err(failure) => pagerduty_failure(failure, "routing_key"),
    }
}

/// Events API v1's route.
pub const PAGERDUTY_V1_ROUTE: &str = "/generic/2010-04-15/create_event.json";

/// Events API v1: 200 with `incident_key` on success; PagerDuty's v1 answers 403 (not 429)
/// when it wants the sender to back off.
async fn pagerduty_v1<S: Store, Q: Queue, H: HttpGet>(
    State(svc): State<Svc<S, Q, H>>,
    body: Body,
) -> Response {
    let body = match read_body(body).await {
        Ok(body) => body,
        Err(error) => return pagerduty_failure(IngestFailure::Parse(error), "service_key"),
    };
    match svc.ingest(None, Request::PagerdutyV1 { body: &body }).await {
        Ok(Ingested::Events {
            dedup_key: Some(incident_key),
            ..
        }) => (StatusCode::OK, Json(PagerDutyV1Success::new(&incident_key))).into_response(),
        Ok(other) => {
            tracing::error!(?other, "a PagerDuty v1 event was accepted without a key");
            ApiError::internal().into_response()
        }
        Err(failure) => {
            let mut response = pagerduty_failure(failure, "service_key");
            if response.status() == StatusCode::TOO_MANY_REQUESTS {
                *response.status_mut() = StatusCode::FORBIDDEN;
            }
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::QueueMessage;
    use crate::ports::{QueueError, UuidV7Ids};
    use crate::security::sns::SnsVerifier;
    use crate::usecases::{ConfigCache, Core};
    use klaxon_domain::timeline::EventSource;
    use klaxon_store::repo::Repository;
    use klaxon_store::{
        Condition, Item, Key, Page, Query, ReturnValues, StoreError, SystemClock, TransactOp,
        UpdateAction,
    };
    use std::time::Duration;
    use tower::ServiceExt;

    /// A table with nothing in it: every integration key is unknown.
    struct EmptyStore;

    impl Store for EmptyStore {
        async fn get(&self, _: &Key) -> Result<Option<Item>, StoreError> {
            Ok(None)
        }
        async fn put(&self, _: Item, _: Option<Condition>) -> Result<(), StoreError> {
            Ok(())
        }
        async fn update(
            &self,
            _: &Key,
            _: Vec<UpdateAction>,
            _: Option<Condition>,
            _: ReturnValues,
        ) -> Result<Option<Item>, StoreError> {
            Ok(None)
        }
        async fn delete(&self, _: &Key, _: Option<Condition>) -> Result<Option<Item>, StoreError> {
            Ok(None)
        }
        async fn query(&self, _: &Query) -> Result<Page, StoreError> {
            Ok(Page {
                items: Vec::new(),
                next: None,
            })
        }
        async fn transact(&self, _: Vec<TransactOp>) -> Result<(), StoreError> {
            Ok(())
        }
    }

    struct NoQueue;

    impl Queue for NoQueue {
        async fn send(&self, _: &QueueMessage) -> Result<(), QueueError> {
            Ok(())
        }
    }

    struct NoFetch;

    impl HttpGet for NoFetch {
        async fn get(&self, url: &str) -> Result<Vec<u8>, String> {
            Err(format!("no network in unit tests ({url})"))
        }
    }

    fn sample(format: Format) -> Vec<u8> {
        let name = match format {
            Format::Native => "native-firing.json",
            Format::Pagerduty => "pagerduty-trigger.json",
            Format::Opsgenie => "opsgenie-create.json",
            Format::Alertmanager => "alertmanager-firing.json",
            Format::Grafana => "grafana-firing.json",
            Format::Cloudwatch => "cloudwatch-sns-notification.json",
        };
        let path = format!("{}/../../events/ingest/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap()
    }

    #[tokio::test]
    async fn every_format_has_its_own_route_into_the_ingest_entry_point() {
        let clock = Arc::new(SystemClock);
        let core = Core::new(
            Repository::new(
                EmptyStore,
                clock.clone(),
                EventSource::klaxon("ingest").unwrap(),
            ),
            ConfigCache::new(Duration::from_secs(30)),
            clock,
            Arc::new(UuidV7Ids),
        );
        let service = IngestService::new(core, NoQueue, SnsVerifier::new(NoFetch));
        let router = routes(Arc::new(service));
        let mut paths: Vec<&str> = Format::ALL.into_iter().map(route).collect();
        paths.sort_unstable();
        paths.dedup();
        assert_eq!(paths.len(), Format::ALL.len(), "two formats share a route");
        for format in Format::ALL {
            let path = route(format).replace("{key}", "klx_unknown");
            let request = axum::http::Request::post(&path)
                .header("authorization", "Bearer klx_unknown")
                .header("content-type", "application/json")
                .body(Body::from(sample(format)))
                .unwrap();
            let response = router.clone().oneshot(request).await.unwrap();
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), MAX_BODY_BYTES)
                .await
                .unwrap();
            let text = String::from_utf8_lossy(&body);
            // The sample parsed as far as the key (PagerDuty's is in the body), which the empty
            // table does not know; each route answers in its senders' shape.
            match format {
                Format::Pagerduty => {
                    assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {text}");
                    assert!(text.contains("Invalid routing key"), "{path}: {text}");
                }
                Format::Opsgenie => {
                    assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {text}");
                    assert!(text.contains("requestId"), "{path}: {text}");
                }
                Format::Native | Format::Alertmanager | Format::Grafana | Format::Cloudwatch => {
                    assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {text}");
                    assert!(text.contains("\"unauthorized\""), "{path}: {text}");
                }
            }
        }
    }
}
