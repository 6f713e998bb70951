//! The dead-letter routes of the JSON API (the `api` function and `klaxon serve`), for
//! automation and for operators without the console. An API key is required, as on every
//! route of the API (API keys are admin credentials: they also upload the configuration).
//!
//! | route | answer |
//! |---|---|
//! | `GET /v1/dead-letters?queue=&limit=` | every dead-letter queue (or one) with its count and its oldest dead letters (at most `limit`, default 20, at most 100) |
//! | `POST /v1/dead-letters/{queue}/{id}/redrive` | sends one back to its source queue: `200 {"redriven", "queue", "to"}`; `404 not_found` when it is gone (already redriven) |
//! | `POST /v1/dead-letters/{queue}/redrive-all` | sends up to 100 back: `200 {"redriven": n, "queue", "to"}` |
//!
//! A queue this deployment does not have is a `400 invalid_field` naming `queue`.

use super::ApiError;
use super::api::Params;
use super::auth::key_from_headers;
use crate::dead_letters::{Concern, DeadLetter, DeadLetterListing, DeadLetterQueue, DeadLetters};
use crate::usecases::UseCaseError;
use crate::usecases::access::ApiPrincipal;
use crate::usecases::queries::QueryService;
use axum::Json;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use klaxon_store::Store;
use serde_json::{Value, json};
use std::sync::Arc;

/// How many dead letters per queue `GET` lists by default, and at most.
const DEFAULT_LIMIT: u32 = 20;
const MAX_LIMIT: u32 = 100;

/// How many dead letters one `redrive-all` sends back.
pub const REDRIVE_ALL_LIMIT: usize = 100;

struct DeadLetterApi<S> {
    service: Arc<QueryService<S>>,
    dead_letters: Arc<dyn DeadLetters>,
}

type Svc<S> = Arc<DeadLetterApi<S>>;

/// The dead-letter routes over `service` (authentication) and `dead_letters`.
pub fn routes<S: Store + 'static>(
    service: Arc<QueryService<S>>,
    dead_letters: Arc<dyn DeadLetters>,
) -> Router {
    Router::new()
        .route("/v1/dead-letters", get(list::<S>))
        .route("/v1/dead-letters/{queue}/{id}/redrive", post(redrive::<S>))
        .route(
            "/v1/dead-letters/{queue}/redrive-all",
            post(redrive_all::<S>),
        )
        .with_state(Arc::new(DeadLetterApi {
            service,
            dead_letters,
        }))
}

async fn authenticate<S: Store>(
    svc: &DeadLetterApi<S>,
    headers: &HeaderMap,
) -> Result<ApiPrincipal, ApiError> {
    let key = key_from_headers(headers, &["bearer"]);
    Ok(svc.service.authenticate(key.as_deref()).await?)
}

fn queue_named<S>(svc: &DeadLetterApi<S>, name: &str) -> Result<DeadLetterQueue, ApiError> {
    let known = svc.dead_letters.queues();
    DeadLetterQueue::parse(name)
        .filter(|queue| known.contains(queue))
        .ok_or_else(|| {
            let names: Vec<&str> = known.iter().map(|q| q.as_str()).collect();
            ApiError::invalid("queue", format!("must be one of {}", names.join(", ")))
        })
}

fn letter_json(letter: &DeadLetter) -> Value {
    let concerns = match letter.concerns() {
        Some(Concern::Incident(id)) => json!({ "incident": id }),
        Some(Concern::Alert(id)) => json!({ "alert": id }),
        Some(Concern::Heartbeat(name)) => json!({ "heartbeat": name }),
        None => Value::Null,
    };
    json!({
        "id": letter.id,
        "receives": letter.receives,
        "sent_at": letter.sent_at,
        "dead_at": letter.dead_at,
        "last_error": letter.last_error,
        "concerns": concerns,
        "body": letter.body,
    })
}

fn listing_json(listing: &DeadLetterListing) -> Value {
    json!({
        "queue": listing.queue.as_str(),
        "source": listing.queue.source().as_str(),
        "count": listing.count,
        "letters": listing.letters.iter().map(letter_json).collect::<Vec<_>>(),
    })
}

async fn list<S: Store>(
    State(svc): State<Svc<S>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    authenticate(&svc, &headers).await?;
    let params = Params::parse(query.as_deref())?;
    let limit = params.number("limit")?.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::invalid(
            "limit",
            format!("must be 1 to {MAX_LIMIT}"),
        ));
    }
    let queues = match params.text("queue") {
        Some(name) => vec![queue_named(&svc, name)?],
        None => svc.dead_letters.queues(),
    };
    let mut listed = Vec::new();
    for queue in queues {
        let listing =
            (svc.dead_letters.list(queue, limit as usize).await).map_err(UseCaseError::from)?;
        listed.push(listing_json(&listing));
    }
    Ok(Json(json!({ "queues": listed })))
}

async fn redrive<S: Store>(
    State(svc): State<Svc<S>>,
    headers: HeaderMap,
    Path((queue, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let principal = authenticate(&svc, &headers).await?;
    let queue = queue_named(&svc, &queue)?;
    let redriven = (svc.dead_letters.redrive(queue, &id).await).map_err(UseCaseError::from)?;
    if !redriven {
        return Err(ApiError::not_found(format!(
            "dead letter {id} is not in the {} dead-letter queue (already redriven?)",
            queue.as_str()
        )));
    }
    tracing::info!(key = %principal.name, queue = queue.as_str(), id, "api: dead letter redriven");
    Ok(Json(json!({
        "redriven": id,
        "queue": queue.as_str(),
        "to": queue.source().as_str(),
    })))
}

async fn redrive_all<S: Store>(
    State(svc): State<Svc<S>>,
    headers: HeaderMap,
    Path(queue): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let principal = authenticate(&svc, &headers).await?;
    let queue = queue_named(&svc, &queue)?;
    let count = (svc.dead_letters.redrive_all(queue, REDRIVE_ALL_LIMIT).await)
        .map_err(UseCaseError::from)?;
    tracing::info!(key = %principal.name, queue = queue.as_str(), count, "api: dead letters redriven");
    Ok(Json(json!({
        "redriven": count,
        "queue": queue.as_str(),
        "to": queue.source().as_str(),
    })))
}
