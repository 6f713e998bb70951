//! The HTTP surface shared by the Lambda functions (through `lambda_http`) and `klaxon serve`
//! (through `axum::serve`): one router, not a copy.

pub mod ack;
pub mod api;
pub mod auth;
pub mod error;
pub mod ingest;
pub mod pages;

pub use error::ApiError;
