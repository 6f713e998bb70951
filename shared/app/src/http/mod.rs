//! The HTTP surface shared by the Lambda functions and `klaxon serve`: one router, not a copy.
//! Each function serves its own routes ([`ingest::routes`] and, for `ack` and `api`, theirs);
//! `klaxon serve` merges all of them with [`compose`].
//!
//! How the router is served:
//! - **Lambda**: the functions do not use `lambda_http`'s runtime. Each takes the raw invocation
//!   JSON through `lambda_runtime` and hands an API Gateway HTTP API (payload 2.0) event to
//!   `klaxon_aws::apigw::serve_event`, which builds the request with `lambda_http`'s event
//!   conversion, calls the router once (`tower::ServiceExt::oneshot`) and writes the API Gateway
//!   response itself. That lets the ingest function take SNS events on the same handler.
//! - **`klaxon serve`**: `klaxon_local` binds a TCP listener and serves the composed router with
//!   `axum::serve`, with graceful shutdown.

pub mod ack;
pub mod actions;
pub mod api;
pub mod auth;
pub mod dead_letters;
pub mod error;
pub mod heartbeats;
pub mod ingest;
pub mod opsgenie;
pub mod pages;
pub mod postmortems;

pub use error::ApiError;

use axum::Router;
use axum::http::{HeaderMap, Method, Uri, header};

/// Merges route sets into one router, with a JSON 404 for unknown paths and request tracing.
pub fn compose(parts: impl IntoIterator<Item = Router>) -> Router {
    let router = parts.into_iter().fold(Router::new(), Router::merge);
    router
        .fallback(not_found)
        .layer(tower_http::trace::TraceLayer::new_for_http())
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!("no route for {method} {}", uri.path()))
}

/// Whether the `Accept` header names `media_type` (any of its comma-separated entries,
/// parameters such as `q=` ignored, case-insensitive).
pub(crate) fn accepts(headers: &HeaderMap, media_type: &str) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|kind| {
            kind.split(';')
                .next()
                .is_some_and(|kind| kind.trim().eq_ignore_ascii_case(media_type))
        })
}
