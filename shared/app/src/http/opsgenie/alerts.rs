//! Opsgenie's reads (request status, get, list) and changes (update, note, tags), and the
//! calls Klaxon answers as not supported.

use super::{Call, GENIE, IdentifierQuery, Outcome, Target, resolve};
use crate::http::auth::key_from_headers;
use crate::http::ingest::{Svc, read_body};
use crate::ports::Queue;
use crate::security::sns::HttpGet;
use crate::usecases::ingest::IngestService;
use crate::usecases::opsgenie::OpsgenieAlert;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use klaxon_domain::Instant;
use klaxon_domain::alert::AlertChange;
use klaxon_domain::chrono::SecondsFormat;
use klaxon_domain::ids::IntegrationName;
use klaxon_domain::ingest::opsgenie_api::{
    ListParams, UpdateCall, parse_list, parse_tag_removal, parse_update, unsupported,
};
use klaxon_store::Store;
use serde_json::{Value, json};
use std::collections::BTreeMap;

fn time(at: Instant) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Authenticates a read; the error is the response.
async fn authenticate<S: Store, Q: Queue, H: HttpGet>(
    svc: &IngestService<S, Q, H>,
    call: &Call,
    headers: &HeaderMap,
) -> Result<IntegrationName, Response> {
    let key = key_from_headers(headers, GENIE);
    svc.opsgenie_integration(key.as_deref())
        .await
        .map_err(|e| call.failure(svc, e))
}

/// 200 `{"data": …, "took", "requestId"}`.
fn data<S: Store, Q: Queue, H: HttpGet>(
    svc: &IngestService<S, Q, H>,
    call: &Call,
    data: Value,
) -> Response {
    let body = json!({"data": data, "took": call.took(svc), "requestId": call.id});
    (StatusCode::OK, Json(body)).into_response()
}

/// `GET /v2/alerts/requests/{requestId}`.
pub(super) async fn request_status<S: Store, Q: Queue, H: HttpGet>(
    State(svc): State<Svc<S, Q, H>>,
    Path(request_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let call = Call::start(&svc);
    let integration = match authenticate(&svc, &call, &headers).await {
        Ok(integration) => integration,
        Err(response) => return response,
    };
    match svc.opsgenie_request(&integration, &request_id).await {
        Ok(Some(request)) => {
            let mut status = json!({
                "success": request.is_success,
                "action": request.action,
                "processedAt": time(request.processed_at),
                "integrationId": request.integration.as_str(),
                "isSuccess": request.is_success,
                "status": request.status,
            });
            if let Some(object) = status.as_object_mut() {
                if let Some(alert_id) = &request.alert_id {
                    object.insert("alertId".into(), json!(alert_id.as_str()));
                }
                if let Some(alias) = &request.alias {
                    object.insert("alias".into(), json!(alias));
                }
            }
            data(&svc, &call, status)
        }
        Ok(None) => call.error(
            &svc,
            StatusCode::NOT_FOUND,
            "Request not found. It might not be processed, yet.",
            None,
        ),
        Err(error) => call.failure(&svc, error),
    }
}

/// The alert in Opsgenie's `Alert` shape (`full` adds `description` and `details`, which the
/// list leaves out).
fn alert_json(alert: &OpsgenieAlert, integration: &IntegrationName, full: bool) -> Value {
    let record = &alert.record;
    let mut body = json!({
        "id": record.alert_id.as_str(),
        "tinyId": alert.tiny_id().map(|n| n.to_string()).unwrap_or_default(),
        "alias": record.alert.dedup_key.as_str(),
        "message": alert.message(),
        "status": if alert.is_open() { "open" } else { "closed" },
        "acknowledged": alert.acknowledged(),
        "isSeen": alert.acknowledged(),
        "tags": alert.tags(),
        "snoozed": false,
        "count": record.count,
        "lastOccurredAt": time(record.last_seen),
        "createdAt": time(record.first_seen),
        "updatedAt": time(alert.edits.updated_at.unwrap_or(record.last_seen).max(record.last_seen)),
        "source": record.alert.source,
        "owner": "",
        "priority": alert.priority(),
        "responders": [],
        "integration": {"id": integration.as_str(), "name": integration.as_str(), "type": "API"},
    });
    if let (true, Some(object)) = (full, body.as_object_mut()) {
        let details: BTreeMap<&str, &str> = record
            .alert
            .annotations
            .iter()
            .filter(|(name, _)| !matches!(name.as_str(), "description" | "note"))
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        object.insert(
            "description".into(),
            json!(alert.description().unwrap_or("")),
        );
        object.insert("details".into(), json!(details));
        if let Some(entity) = record.alert.labels.get("entity") {
            object.insert("entity".into(), json!(entity));
        }
    }
    body
}

/// `GET /v2/alerts/{identifier}`.
pub(super) async fn get_alert<S: Store, Q: Queue, H: HttpGet>(
    State(svc): State<Svc<S, Q, H>>,
    Path(identifier): Path<String>,
    Query(query): Query<IdentifierQuery>,
    headers: HeaderMap,
) -> Response {
    let call = Call::start(&svc);
    let target = Target { identifier, query };
    let (integration, found) = match resolve(&svc, &call, &headers, &target).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let alert = match found {
        Some(key) => svc.opsgenie_alert(&key).await,
        None => Ok(None),
    };
    match alert {
        Ok(Some(alert)) => data(&svc, &call, alert_json(&alert, &integration, true)),
        Ok(None) => call.error(&svc, StatusCode::NOT_FOUND, "Alert does not exist", None),
        Err(error) => call.failure(&svc, error),
    }
}

/// The list's query parameters, as sent.
#[derive(Debug, Default, serde::Deserialize)]
pub(super) struct ListQueryParams {
    query: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
    sort: Option<String>,
    order: Option<String>,
}

/// `GET /v2/alerts`.
pub(super) async fn list<S: Store, Q: Queue, H: HttpGet>(
    State(svc): State<Svc<S, Q, H>>,
    Query(params): Query<ListQueryParams>,
    headers: HeaderMap,
) -> Response {
    let call = Call::start(&svc);
    let integration = match authenticate(&svc, &call, &headers).await {
        Ok(integration) => integration,
        Err(response) => return response,
    };
    let query = match parse_list(ListParams {
        query: params.query.as_deref(),
        limit: params.limit.as_deref(),
        offset: params.offset.as_deref(),
        sort: params.sort.as_deref(),
        order: params.order.as_deref(),
    }) {
        Ok(query) => query,
        Err(error) => return call.parse_error(&svc, &error),
    };
    match svc.opsgenie_list(&integration, &query).await {
        Ok((alerts, _total)) => {
            let items: Vec<Value> = alerts
                .iter()
                .map(|alert| alert_json(alert, &integration, false))
                .collect();
            data(&svc, &call, Value::Array(items))
        }
        Err(error) => call.failure(&svc, error),
    }
}

/// `PUT …/message|description|priority`, `POST …/notes|tags`.
pub(super) async fn update<S: Store, Q: Queue, H: HttpGet>(
    svc: Svc<S, Q, H>,
    target: Target,
    headers: HeaderMap,
    body: Body,
    update: UpdateCall,
) -> Response {
    let call = Call::start(&svc);
    let body = match read_body(body).await {
        Ok(body) => body,
        Err(error) => return call.parse_error(&svc, &error),
    };
    let change = match parse_update(update, &body) {
        Ok(change) => change,
        Err(error) => return call.parse_error(&svc, &error),
    };
    apply(&svc, &call, &headers, &target, &change, update.action()).await
}

/// `DELETE /v2/alerts/{identifier}/tags?tags=a,b`.
pub(super) async fn remove_tags<S: Store, Q: Queue, H: HttpGet>(
    State(svc): State<Svc<S, Q, H>>,
    Path(identifier): Path<String>,
    Query(query): Query<IdentifierQuery>,
    headers: HeaderMap,
) -> Response {
    let call = Call::start(&svc);
    let change = match parse_tag_removal(query.tags.as_deref()) {
        Ok(change) => change,
        Err(error) => return call.parse_error(&svc, &error),
    };
    let target = Target { identifier, query };
    apply(&svc, &call, &headers, &target, &change, "RemoveTags").await
}

/// Applies a checked change to the alert the call names and answers 202.
async fn apply<S: Store, Q: Queue, H: HttpGet>(
    svc: &IngestService<S, Q, H>,
    call: &Call,
    headers: &HeaderMap,
    target: &Target,
    change: &AlertChange,
    action: &'static str,
) -> Response {
    let (integration, found) = match resolve(svc, call, headers, target).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let outcome = match found {
        None => Outcome::missing(integration, action, &target.identifier),
        Some(key) => match svc.opsgenie_change(&key, change, &call.id).await {
            Ok(Some(changed)) => Outcome {
                integration,
                action,
                success: true,
                status: if changed.on_timeline {
                    "Updated alert".into()
                } else {
                    "Updated alert (not on an incident yet)".into()
                },
                alert_id: Some(changed.alert_id),
                alias: Some(key.dedup_key.as_str().to_string()),
            },
            Ok(None) => Outcome::missing(integration, action, &target.identifier),
            Err(error) => return call.failure(svc, error),
        },
    };
    call.record(svc, outcome).await;
    call.accepted(svc)
}

/// `POST /v2/alerts/{identifier}/actions/{action}`: Klaxon has no custom actions.
pub(super) async fn custom_action<S: Store, Q: Queue, H: HttpGet>(
    State(svc): State<Svc<S, Q, H>>,
    Path((_identifier, action)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let call = Call::start(&svc);
    if let Err(response) = authenticate(&svc, &call, &headers).await {
        return response;
    }
    let error = unsupported(&format!("the custom action {action:?}"));
    call.parse_error(&svc, &error)
}

/// `DELETE /v2/alerts/{identifier}`: Klaxon keeps alerts (close them instead).
pub(super) async fn delete<S: Store, Q: Queue, H: HttpGet>(
    State(svc): State<Svc<S, Q, H>>,
    headers: HeaderMap,
) -> Response {
    let call = Call::start(&svc);
    if let Err(response) = authenticate(&svc, &call, &headers).await {
        return response;
    }
    let error = unsupported("deleting an alert (close it instead)");
    call.parse_error(&svc, &error)
}
