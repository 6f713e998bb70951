//! API routes (the `api` function). Every route needs an API key (`Authorization: Bearer`,
//! or `X-Klaxon-Key`); the calendar feed also takes `?key=`, because calendar apps cannot set
//! headers. Errors use the JSON envelope (`http::ApiError`); a malformed query parameter names
//! the parameter in `field`.
//!
//! | route | answer |
//! |---|---|
//! | `GET /v1/incidents?status=open\|all&team=&cursor=&limit=` | a page of incidents (of one team) |
//! | `GET /v1/incidents/{id}?timeline_cursor=&timeline_limit=` | one incident (id or number), its alerts and timeline |
//! | `GET /v1/oncall?schedule=&at=` | who is on call (every schedule, or one) |
//! | `GET /v1/schedules/{id}/ics?key=&from=&to=` | iCalendar feed (`text/calendar`) |
//! | `GET /v1/schedules/{id}/overrides?from=&to=` | overrides in a range |
//! | `POST /v1/schedules/{id}/overrides` | create one: `{"user", "start", "end"}` → 201 |
//! | `DELETE /v1/schedules/{id}/overrides/{override_id}` | 204 |
//! | `GET /v1/analytics?from=&to=&by=&table=` | response metrics of a period (JSON, or CSV with `Accept: text/csv`) |
//! | `GET /v1/config` | the current configuration snapshot |
//! | `PUT /v1/config` | upload YAML or JSON; 400 `invalid_config` lists every error |
//!
//! The post-mortem routes (`/v1/incidents/{id}/postmortem…`, `/v1/action-items`) are in
//! [`super::postmortems`], merged here.

use super::ApiError;
use super::auth::key_from_headers;
use crate::usecases::access::ApiPrincipal;
use crate::usecases::config::{ConfigUploadError, MAX_CONFIG_BYTES};
use crate::usecases::queries::analytics::{CsvTable, report_csv};
use crate::usecases::queries::{IncidentFilter, OverrideRequest, QueryService, parse_instant};
use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use klaxon_domain::Instant;
use klaxon_domain::analytics::GroupBy;
use klaxon_store::Store;
use serde_json::json;
use std::sync::Arc;

/// The largest JSON body of an API request other than a configuration upload.
pub const MAX_JSON_BODY_BYTES: usize = 64 * 1024;

const BEARER: &[&str] = &["bearer"];

/// Reads a body of at most `limit` bytes (413 `too_large` beyond).
pub async fn read_limited(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::too_large(limit))
}

/// A request's query parameters, parsed once, with typed accessors whose errors name the
/// parameter.
#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Parses a raw query string (absent: no parameters).
    pub fn parse(query: Option<&str>) -> Result<Self, ApiError> {
        match query {
            None => Ok(Self::default()),
            Some(query) => serde_urlencoded::from_str(query).map(Self).map_err(|e| {
                ApiError::invalid("query", format!("is not a valid query string: {e}"))
            }),
        }
    }

    /// The parameter's value (the first, if repeated); empty values count as absent.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, value)| key == name && !value.is_empty())
            .map(|(_, value)| value.as_str())
    }

    /// Every non-empty value of a repeated parameter (checkboxes), in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(key, value)| key == name && !value.is_empty())
            .map(|(_, value)| value.as_str())
    }

    /// An RFC 3339 instant.
    pub fn instant(&self, name: &str) -> Result<Option<Instant>, ApiError> {
        self.text(name)
            .map(|text| parse_instant(name, text))
            .transpose()
            .map_err(ApiError::from)
    }

    /// A non-negative whole number.
    pub fn number(&self, name: &str) -> Result<Option<u32>, ApiError> {
        self.text(name)
            .map(|text| {
                text.parse::<u32>().map_err(|_| {
                    ApiError::invalid(name, format!("must be a whole number (got {text:?})"))
                })
            })
            .transpose()
    }
}

type Svc<S> = Arc<QueryService<S>>;

/// The API routes over `service`.
pub fn routes<S: Store + 'static>(service: Svc<S>) -> Router {
    let postmortems = super::postmortems::routes(Arc::clone(&service));
    Router::new()
        .route("/v1/incidents", get(list_incidents::<S>))
        .route("/v1/incidents/{id}", get(show_incident::<S>))
        .route("/v1/oncall", get(on_call::<S>))
        .route("/v1/schedules/{id}/ics", get(ics::<S>))
        .route(
            "/v1/schedules/{id}/overrides",
            get(list_overrides::<S>).post(create_override::<S>),
        )
        .route(
            "/v1/schedules/{id}/overrides/{override_id}",
            delete(delete_override::<S>),
        )
        .route("/v1/analytics", get(analytics::<S>))
        .route("/v1/config", get(get_config::<S>).put(put_config::<S>))
        .with_state(service)
        .merge(postmortems)
}

async fn authenticate<S: Store>(
    svc: &QueryService<S>,
    headers: &HeaderMap,
) -> Result<ApiPrincipal, ApiError> {
    Ok(svc
        .authenticate(key_from_headers(headers, BEARER).as_deref())
        .await?)
}

fn json_ok<T: serde::Serialize>(value: &T) -> Response {
    (StatusCode::OK, Json(value)).into_response()
}

async fn list_incidents<S: Store>(
    State(svc): State<Svc<S>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    authenticate(&svc, &headers).await?;
    let params = Params::parse(query.as_deref())?;
    let filter = params
        .text("status")
        .map(IncidentFilter::parse)
        .transpose()?
        .unwrap_or(IncidentFilter::Open);
    let limit = params.number("limit")?;
    let page = svc
        .incidents(filter, params.text("team"), params.text("cursor"), limit)
        .await?;
    Ok(json_ok(&page))
}

async fn show_incident<S: Store>(
    State(svc): State<Svc<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    authenticate(&svc, &headers).await?;
    let params = Params::parse(query.as_deref())?;
    let limit = params.number("timeline_limit")?;
    let detail = svc
        .incident(&id, params.text("timeline_cursor"), limit)
        .await?;
    Ok(json_ok(&detail))
}

async fn on_call<S: Store>(
    State(svc): State<Svc<S>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    authenticate(&svc, &headers).await?;
    let params = Params::parse(query.as_deref())?;
    let at = params.instant("at")?;
    let report = svc.on_call(params.text("schedule"), at).await?;
    Ok(json_ok(&report))
}

async fn ics<S: Store>(
    State(svc): State<Svc<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::parse(query.as_deref())?;
    let key = key_from_headers(&headers, BEARER).or_else(|| params.text("key").map(str::to_owned));
    svc.authenticate(key.as_deref()).await?;
    let calendar = svc
        .ics(&id, params.instant("from")?, params.instant("to")?)
        .await?;
    let mut response = (StatusCode::OK, calendar).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/calendar; charset=utf-8"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=300"),
    );
    // The id was found in the configuration, so it is a slug: safe in a header.
    if let Ok(disposition) = HeaderValue::from_str(&format!("inline; filename=\"{id}.ics\"")) {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    Ok(response)
}

async fn list_overrides<S: Store>(
    State(svc): State<Svc<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    authenticate(&svc, &headers).await?;
    let params = Params::parse(query.as_deref())?;
    let list = svc
        .overrides(&id, params.instant("from")?, params.instant("to")?)
        .await?;
    Ok(json_ok(&list))
}

async fn create_override<S: Store>(
    State(svc): State<Svc<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let principal = authenticate(&svc, &headers).await?;
    let body = read_limited(body, MAX_JSON_BODY_BYTES).await?;
    let request = OverrideRequest::from_json(&body)?;
    let created = svc
        .create_override(&id, request, &principal.actor())
        .await?;
    let mut response = (StatusCode::CREATED, Json(&created)).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!(
        "/v1/schedules/{}/overrides/{}",
        created.override_.schedule, created.override_.id
    )) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

async fn delete_override<S: Store>(
    State(svc): State<Svc<S>>,
    headers: HeaderMap,
    Path((id, override_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    authenticate(&svc, &headers).await?;
    svc.delete_override(&id, &override_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn analytics<S: Store>(
    State(svc): State<Svc<S>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    authenticate(&svc, &headers).await?;
    let params = Params::parse(query.as_deref())?;
    let by = params
        .text("by")
        .map(GroupBy::parse)
        .transpose()
        .map_err(|message| ApiError::invalid("by", message))?
        .unwrap_or(GroupBy::Week);
    let table = params
        .text("table")
        .map(CsvTable::parse)
        .transpose()?
        .unwrap_or(CsvTable::Groups);
    let (from, to) = (params.instant("from")?, params.instant("to")?);
    let report = svc.analytics(from, to, by).await?;
    if !super::accepts(&headers, "text/csv") {
        return Ok(json_ok(&report));
    }
    let mut response = (StatusCode::OK, report_csv(&report, table)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8; header=present"),
    );
    Ok(response)
}

async fn get_config<S: Store>(
    State(svc): State<Svc<S>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authenticate(&svc, &headers).await?;
    Ok(json_ok(&svc.current_config().await?))
}

async fn put_config<S: Store>(
    State(svc): State<Svc<S>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let principal = authenticate(&svc, &headers).await?;
    let body = read_limited(body, MAX_CONFIG_BYTES).await?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    match svc
        .upload_config(&body, content_type, &principal.actor())
        .await
    {
        Ok(applied) => Ok(json_ok(&applied)),
        Err(ConfigUploadError::Invalid(errors)) => {
            let first = errors.issues.first();
            let list: Vec<_> = errors
                .issues
                .iter()
                .map(|issue| json!({"path": issue.path.to_string(), "message": issue.message}))
                .collect();
            let body = json!({
                "error": {
                    "code": "invalid_config",
                    "message": first.map(ToString::to_string).unwrap_or_else(|| errors.to_string()),
                    "field": first.map(|issue| issue.path.to_string()).filter(|p| !p.is_empty()),
                    "errors": list,
                }
            });
            Ok((StatusCode::BAD_REQUEST, Json(body)).into_response())
        }
        Err(ConfigUploadError::Other(error)) => Err(error.into()),
    }
}
