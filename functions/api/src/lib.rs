//! The api Lambda function: incidents, timelines, who is on call, ICS feeds, overrides and the
//! configuration, served by the shared router (`http::api::routes`) to API Gateway HTTP API
//! events (see [`klaxon_aws::apigw`]). `PUT /v1/config` stores a new snapshot; every function
//! picks it up within its configuration cache's lifetime (30 s).

use klaxon_app::http;
use klaxon_app::usecases::queries::QueryService;
use klaxon_aws::FunctionContext;
use klaxon_aws::apigw::{self, ApiGatewayV2httpResponse};
use klaxon_aws::lambda::FunctionError;
use klaxon_store::Store;
use serde_json::Value;
use std::sync::Arc;

/// The timeline source of everything this function records (`/klaxon/api`).
pub const COMPONENT: &str = "api";

/// The api handler: the read and configuration routes behind API Gateway.
#[derive(Debug, Clone)]
pub struct ApiHandler {
    router: axum::Router,
}

impl ApiHandler {
    /// A handler over `service`.
    pub fn new<S: Store + 'static>(service: QueryService<S>) -> Self {
        Self {
            router: http::compose([http::api::routes(Arc::new(service))]),
        }
    }

    /// Builds the deployed handler over the table.
    pub fn from_context(context: &FunctionContext) -> Result<Self, FunctionError> {
        Ok(Self::new(QueryService::new(context.core(COMPONENT)?)))
    }

    /// Answers one API Gateway HTTP API event.
    pub async fn handle(&self, event: Value) -> Result<ApiGatewayV2httpResponse, FunctionError> {
        apigw::serve_event(self.router.clone(), &event).await
    }
}

#[cfg(test)]
mod tests;
