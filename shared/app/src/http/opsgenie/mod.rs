//! Opsgenie's alert API, in Opsgenie's own shapes: `{"result","took","requestId"}` with 202 for
//! every accepted call, `{"data",…,"took","requestId"}` for reads, and
//! `{"message","took","requestId"}` (plus `errors` naming each bad field) with Opsgenie's status
//! codes for errors: 401 for a missing or unknown key, 403 for a key of another format, 404
//! for an unknown alert or request on reads, 422 for a body or parameter Opsgenie would refuse
//! and for what Klaxon does not serve, 400 for a body that is not JSON, 413 for a body too large.
//!
//! | route | call |
//! |---|---|
//! | `POST /v2/alerts` | create |
//! | `GET /v2/alerts` | list (`query`, `limit`, `offset`, `sort`, `order`) |
//! | `GET /v2/alerts/requests/{requestId}` | request status |
//! | `GET /v2/alerts/{identifier}` | get |
//! | `POST /v2/alerts/{identifier}/acknowledge`, `/close` | acknowledge, close |
//! | `PUT /v2/alerts/{identifier}/message`, `/description`, `/priority` | update |
//! | `POST /v2/alerts/{identifier}/notes` | add note |
//! | `POST`, `DELETE /v2/alerts/{identifier}/tags` | add, remove tags |
//! | `POST /v2/alerts/{identifier}/actions/{action}` | custom action: 422, not supported |
//!
//! `identifierType` is `id` (the default), `alias` or `tiny`. Like Opsgenie, Klaxon answers a
//! change to an alert that does not exist with 202 and says so in the request status
//! (`isSuccess: false`, `Alert does not exist`); reads answer 404.

mod alerts;

use super::ApiError;
use super::auth::key_from_headers;
use super::ingest::{Svc, read_body};
use crate::ports::Queue;
use crate::security::sns::HttpGet;
use crate::usecases::UseCaseError;
use crate::usecases::ingest::{IngestFailure, IngestService, Ingested};
use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post, put};
use klaxon_domain::Instant;
use klaxon_domain::alert::AlertKey;
use klaxon_domain::ids::IntegrationName;
use klaxon_domain::ingest::opsgenie::{OpsgenieAccepted, OpsgenieAction};
use klaxon_domain::ingest::opsgenie_api::{IdentifierType, UpdateCall};
use klaxon_domain::ingest::{IngestError, IngestErrorKind, Request};
use klaxon_store::Store;
use klaxon_store::repo::SenderRequest;
use serde_json::{Map, Value, json};

const GENIE: &[&str] = &["geniekey", "bearer"];

/// `POST /v2/alerts` (create) and `GET /v2/alerts` (list).
pub(super) fn alerts_route<S, Q, H>() -> MethodRouter<Svc<S, Q, H>>
where
    S: Store + 'static,
    Q: Queue + 'static,
    H: HttpGet + 'static,
{
    post(create::<S, Q, H>).get(alerts::list::<S, Q, H>)
}

/// The rest of the alert API (the create route is the format's, [`alerts_route`]).
pub(super) fn routes<S, Q, H>() -> Router<Svc<S, Q, H>>
where
    S: Store + 'static,
    Q: Queue + 'static,
    H: HttpGet + 'static,
{
    let update = |call: UpdateCall| {
        move |State(svc): State<Svc<S, Q, H>>,
              Path(identifier): Path<String>,
              Query(query): Query<IdentifierQuery>,
              headers: HeaderMap,
              body: Body| {
            alerts::update(svc, Target { identifier, query }, headers, body, call)
        }
    };
    Router::new()
        .route(
            "/v2/alerts/requests/{request_id}",
            get(alerts::request_status::<S, Q, H>),
        )
        .route(
            "/v2/alerts/{identifier}",
            get(alerts::get_alert::<S, Q, H>).delete(alerts::delete::<S, Q, H>),
        )
        .route(
            "/v2/alerts/{identifier}/acknowledge",
            post(acknowledge::<S, Q, H>),
        )
        .route("/v2/alerts/{identifier}/close", post(close::<S, Q, H>))
        .route(
            "/v2/alerts/{identifier}/message",
            put(update(UpdateCall::Message)),
        )
        .route(
            "/v2/alerts/{identifier}/description",
            put(update(UpdateCall::Description)),
        )
        .route(
            "/v2/alerts/{identifier}/priority",
            put(update(UpdateCall::Priority)),
        )
        .route(
            "/v2/alerts/{identifier}/notes",
            post(update(UpdateCall::Note)),
        )
        .route(
            "/v2/alerts/{identifier}/tags",
            post(update(UpdateCall::AddTags)).delete(alerts::remove_tags::<S, Q, H>),
        )
        .route(
            "/v2/alerts/{identifier}/actions/{action}",
            post(alerts::custom_action::<S, Q, H>),
        )
}

/// `?identifierType=…` (and, for tag removal, `tags=…`).
#[derive(Debug, Default, serde::Deserialize)]
pub(super) struct IdentifierQuery {
    #[serde(rename = "identifierType")]
    identifier_type: Option<String>,
    tags: Option<String>,
}

/// The alert a call names.
#[derive(Debug)]
pub(super) struct Target {
    identifier: String,
    query: IdentifierQuery,
}

/// One Opsgenie call: its request id and when it started (for `took`).
pub(super) struct Call {
    id: String,
    started: Instant,
}

impl Call {
    fn start<S: Store, Q: Queue, H: HttpGet>(svc: &IngestService<S, Q, H>) -> Self {
        Call {
            id: svc.core().ids.new_id(),
            started: svc.core().now(),
        }
    }

    fn took<S: Store, Q: Queue, H: HttpGet>(&self, svc: &IngestService<S, Q, H>) -> f64 {
        let elapsed = svc.core().now() - self.started;
        elapsed.num_microseconds().unwrap_or(0).max(0) as f64 / 1e6
    }

    /// An error in Opsgenie's shape.
    fn error<S: Store, Q: Queue, H: HttpGet>(
        &self,
        svc: &IngestService<S, Q, H>,
        status: StatusCode,
        message: impl Into<String>,
        errors: Option<Map<String, Value>>,
    ) -> Response {
        let mut body = json!({
            "message": message.into(),
            "took": self.took(svc),
            "requestId": self.id,
        });
        if let (Some(errors), Some(object)) = (errors, body.as_object_mut()) {
            object.insert("errors".into(), Value::Object(errors));
        }
        (status, Json(body)).into_response()
    }

    /// A parse error: 400 for a body that is not JSON, 413 too large, 422 otherwise.
    fn parse_error<S: Store, Q: Queue, H: HttpGet>(
        &self,
        svc: &IngestService<S, Q, H>,
        error: &IngestError,
    ) -> Response {
        let status = match error.kind {
            IngestErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            IngestErrorKind::Invalid | IngestErrorKind::Unsupported => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            _ => StatusCode::BAD_REQUEST,
        };
        let message = error
            .errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ");
        let errors = error
            .errors
            .iter()
            .map(|e| (e.field.clone(), Value::String(e.message.clone())))
            .collect();
        self.error(svc, status, message, Some(errors))
    }

    /// A use-case error (authentication, storage) in Opsgenie's shape.
    fn failure<S: Store, Q: Queue, H: HttpGet>(
        &self,
        svc: &IngestService<S, Q, H>,
        error: UseCaseError,
    ) -> Response {
        match error {
            // A limit the parsed alert breaks: a validation error, which Opsgenie answers 422.
            UseCaseError::Invalid { field, message } => {
                let errors = Map::from_iter([(field.clone(), Value::String(message.clone()))]);
                self.error(
                    svc,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("{field}: {message}"),
                    Some(errors),
                )
            }
            other => {
                let api = ApiError::from(other);
                self.error(svc, api.status, api.message, None)
            }
        }
    }

    fn ingest_failure<S: Store, Q: Queue, H: HttpGet>(
        &self,
        svc: &IngestService<S, Q, H>,
        failure: IngestFailure,
    ) -> Response {
        match failure {
            IngestFailure::Parse(error) => self.parse_error(svc, &error),
            IngestFailure::Other(error) => self.failure(svc, error),
        }
    }

    /// 202 `{"result":"Request will be processed",…}`.
    fn accepted<S: Store, Q: Queue, H: HttpGet>(&self, svc: &IngestService<S, Q, H>) -> Response {
        (
            StatusCode::ACCEPTED,
            Json(OpsgenieAccepted::new(&self.id, self.took(svc))),
        )
            .into_response()
    }

    /// Records what the call did (a failure to record is logged: the effect stands, only the
    /// SDK's status poll will not find it).
    async fn record<S: Store, Q: Queue, H: HttpGet>(
        &self,
        svc: &IngestService<S, Q, H>,
        outcome: Outcome,
    ) {
        let request = SenderRequest {
            id: self.id.clone(),
            integration: outcome.integration,
            action: outcome.action.to_string(),
            is_success: outcome.success,
            status: outcome.status,
            alert_id: outcome.alert_id,
            alias: outcome.alias,
            processed_at: svc.core().now(),
        };
        if let Err(error) = svc.record_opsgenie_request(request).await {
            tracing::warn!(%error, request = %self.id, "recording an Opsgenie request status failed");
        }
    }
}

/// What one call did, for its request status.
pub(super) struct Outcome {
    integration: IntegrationName,
    action: &'static str,
    success: bool,
    status: String,
    alert_id: Option<klaxon_domain::ids::AlertId>,
    alias: Option<String>,
}

impl Outcome {
    fn missing(integration: IntegrationName, action: &'static str, identifier: &str) -> Self {
        Outcome {
            integration,
            action,
            success: false,
            status: "Alert does not exist".into(),
            alert_id: None,
            alias: Some(identifier.to_string()),
        }
    }
}

/// Authenticates the call and reads which alert it names; the error is the response.
async fn resolve<S: Store, Q: Queue, H: HttpGet>(
    svc: &IngestService<S, Q, H>,
    call: &Call,
    headers: &HeaderMap,
    target: &Target,
) -> Result<(IntegrationName, Option<AlertKey>), Response> {
    let key = key_from_headers(headers, GENIE);
    let integration = svc
        .opsgenie_integration(key.as_deref())
        .await
        .map_err(|e| call.failure(svc, e))?;
    let kind = IdentifierType::parse(target.query.identifier_type.as_deref())
        .map_err(|e| call.parse_error(svc, &e))?;
    let found = svc
        .find_opsgenie_alert(&integration, &target.identifier, kind)
        .await
        .map_err(|e| call.failure(svc, e))?;
    Ok((integration, found))
}

async fn create<S: Store, Q: Queue, H: HttpGet>(
    State(svc): State<Svc<S, Q, H>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let call = Call::start(&svc);
    let body = match read_body(body).await {
        Ok(body) => body,
        Err(error) => return call.parse_error(&svc, &error),
    };
    let key = key_from_headers(&headers, GENIE);
    let request = Request::Body {
        format: klaxon_domain::ingest::Format::Opsgenie,
        body: &body,
    };
    match svc.ingest(key.as_deref(), request).await {
        Ok(Ingested::Events {
            summary,
            dedup_key: Some(dedup_key),
            integration,
        }) => {
            let key = AlertKey {
                integration: integration.clone(),
                dedup_key,
            };
            let alert_id = svc.current_alert_id(&key).await.ok().flatten();
            let status = if summary.new > 0 {
                "Created alert"
            } else {
                "Alert already exists; its count was increased"
            };
            let outcome = Outcome {
                integration,
                action: crate::usecases::opsgenie::CREATE,
                success: true,
                status: status.into(),
                alert_id,
                alias: Some(key.dedup_key.as_str().to_string()),
            };
            call.record(&svc, outcome).await;
            call.accepted(&svc)
        }
        Ok(other) => {
            tracing::error!(
                ?other,
                "an Opsgenie create was accepted without a dedup key"
            );
            call.failure(&svc, UseCaseError::NoConfig)
        }
        Err(failure) => call.ingest_failure(&svc, failure),
    }
}

async fn action<S: Store, Q: Queue, H: HttpGet>(
    svc: Svc<S, Q, H>,
    target: Target,
    headers: HeaderMap,
    body: Body,
    action: OpsgenieAction,
) -> Response {
    let call = Call::start(&svc);
    let body = match read_body(body).await {
        Ok(body) => body,
        Err(error) => return call.parse_error(&svc, &error),
    };
    let name = match action {
        OpsgenieAction::Acknowledge => "Acknowledge",
        OpsgenieAction::Close => "Close",
    };
    let (integration, found) = match resolve(&svc, &call, &headers, &target).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let Some(alert) = found else {
        let outcome = Outcome::missing(integration, name, &target.identifier);
        call.record(&svc, outcome).await;
        return call.accepted(&svc);
    };
    // Found by id, alias or tiny id: act on it by alias.
    let key = key_from_headers(&headers, GENIE);
    let request = Request::OpsgenieAction {
        identifier: alert.dedup_key.as_str(),
        identifier_type: Some("alias"),
        action,
        body: &body,
    };
    match svc.ingest(key.as_deref(), request).await {
        Ok(Ingested::Events { summary, .. }) => {
            let success = summary.ignored == 0;
            let alert_id = svc.current_alert_id(&alert).await.ok().flatten();
            let status = match (success, action) {
                (false, _) => "Alert does not exist".to_string(),
                (true, OpsgenieAction::Acknowledge) => "Acknowledged alert".to_string(),
                (true, OpsgenieAction::Close) => "Closed alert".to_string(),
            };
            let outcome = Outcome {
                integration,
                action: name,
                success,
                status,
                alert_id,
                alias: Some(alert.dedup_key.as_str().to_string()),
            };
            call.record(&svc, outcome).await;
            call.accepted(&svc)
        }
        Ok(_) => call.accepted(&svc),
        Err(failure) => call.ingest_failure(&svc, failure),
    }
}

async fn acknowledge<S: Store, Q: Queue, H: HttpGet>(
    State(svc): State<Svc<S, Q, H>>,
    Path(identifier): Path<String>,
    Query(query): Query<IdentifierQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let target = Target { identifier, query };
    action(svc, target, headers, body, OpsgenieAction::Acknowledge).await
}

async fn close<S: Store, Q: Queue, H: HttpGet>(
    State(svc): State<Svc<S, Q, H>>,
    Path(identifier): Path<String>,
    Query(query): Query<IdentifierQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let target = Target { identifier, query };
    action(svc, target, headers, body, OpsgenieAction::Close).await
}
