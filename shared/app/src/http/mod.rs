//! The HTTP surface shared by the Lambda functions (through `lambda_http`) and `klaxon serve`
//! (through `axum::serve`): one router, not a copy. Each function serves its own routes
//! ([`ingest::routes`] and, for `ack` and `api`, theirs); `klaxon serve` merges all of them
//! with [`compose`].

pub mod ack;
pub mod api;
pub mod auth;
pub mod error;
pub mod ingest;
pub mod pages;

pub use error::ApiError;

use axum::Router;
use axum::http::{Method, Uri};

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
