//! The api Lambda function: incidents, timelines, who is on call, ICS feeds, overrides and the
//! configuration, served by the shared router (`http::api::routes`) to API Gateway HTTP API
//! events (see [`klaxon_aws::apigw`]), and the web console at `/` and `/console/...` from the
//! same router `klaxon serve` uses (`console::routes`). `PUT /v1/config` stores a new
//! snapshot; every function picks it up within its configuration cache's lifetime (30 s).

use klaxon_app::console::{ConsoleService, ConsoleSettings, SigninSigner};
use klaxon_app::http;
use klaxon_app::ports::{EmailSender, Queue, Timers};
use klaxon_app::usecases::queries::QueryService;
use klaxon_aws::FunctionContext;
use klaxon_aws::apigw::{self, ApiGatewayV2httpResponse};
use klaxon_aws::lambda::FunctionError;
use klaxon_store::Store;
use serde_json::Value;
use std::sync::Arc;

/// The timeline source of everything this function records through the API (`/klaxon/api`).
pub const COMPONENT: &str = "api";

/// The timeline source of what people do in the console (`/klaxon/console`, as with
/// `klaxon serve`).
pub const CONSOLE_COMPONENT: &str = "console";

/// The api handler: the read and configuration routes and the console behind API Gateway.
#[derive(Debug, Clone)]
pub struct ApiHandler {
    router: axum::Router,
}

impl ApiHandler {
    /// A handler with the JSON API only, over `service`.
    pub fn new<S: Store + 'static>(service: QueryService<S>) -> Self {
        Self {
            router: http::compose([http::api::routes(Arc::new(service))]),
        }
    }

    /// A handler with the JSON API and the web console.
    pub fn with_console<S, Q, T, E>(
        service: QueryService<S>,
        console: ConsoleService<S, Q, T, E>,
    ) -> Self
    where
        S: Store + 'static,
        Q: Queue + 'static,
        T: Timers + 'static,
        E: EmailSender + 'static,
    {
        Self {
            router: http::compose([
                http::api::routes(Arc::new(service)),
                klaxon_app::console::routes(Arc::new(console)),
            ]),
        }
    }

    /// Builds the deployed handler over the table: the console sends sign-in links through
    /// SES (`SENDER_EMAIL`), signs them with `LINK_SIGNING_SECRET`, starts them with
    /// `PUBLIC_BASE_URL`, and acknowledging needs the notifications queue and the timers.
    pub fn from_context(context: &FunctionContext) -> Result<Self, FunctionError> {
        let settings = &context.settings;
        let signer = SigninSigner::new(settings.require_link_signing_secret()?.as_bytes())
            .ok_or_else(|| FunctionError::Failed("LINK_SIGNING_SECRET is too short".into()))?;
        let console = ConsoleService::new(
            context.core(CONSOLE_COMPONENT)?,
            context.queue(),
            context.timers()?,
            context.email()?,
            signer,
            ConsoleSettings::new(settings.require_public_base_url()?),
        );
        Ok(Self::with_console(
            QueryService::new(context.core(COMPONENT)?),
            console,
        ))
    }

    /// Answers one API Gateway HTTP API event.
    pub async fn handle(&self, event: Value) -> Result<ApiGatewayV2httpResponse, FunctionError> {
        apigw::serve_event(self.router.clone(), &event).await
    }
}

#[cfg(test)]
mod tests;
