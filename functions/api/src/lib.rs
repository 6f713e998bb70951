//! The api Lambda function: incidents, timelines, who is on call, ICS feeds, overrides and the
//! configuration, served by the shared router (`http::api::routes`) to API Gateway HTTP API
//! events (see [`klaxon_aws::apigw`]), and the web console at `/` and `/console/...` from the
//! same router `klaxon serve` uses (`console::routes`). `PUT /v1/config` stores a new
//! snapshot; every function picks it up within its configuration cache's lifetime (30 s).

// At most 80 lines per function (clippy.toml), in every crate under shared/ and functions/.
#![warn(clippy::too_many_lines)]

use klaxon_app::console::{ConsoleService, ConsoleSettings, SigninSigner};
use klaxon_app::http;
use klaxon_app::ports::{EmailSender, Queue, Timers};
use klaxon_app::security::links::LinkKeys;
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
    /// SES (`SENDER_EMAIL`), signs them with the current link signing key (secret
    /// `LINK_SIGNING_KEYS_SECRET_ARN`, read now), starts them with `PUBLIC_BASE_URL`, and
    /// acknowledging needs the notifications queue and the timers.
    ///
    /// Sign-in links live 15 minutes and are checked against the key read at cold start: after
    /// a rotation, a link signed by an instance that already has the new key fails on one
    /// that does not, and the person asks for another link.
    ///
    /// Without `PUBLIC_BASE_URL` (the template's `PublicBaseUrl` left empty) there is no
    /// address to put in sign-in links, so the handler serves the JSON API only.
    pub async fn from_context(context: &FunctionContext) -> Result<Self, FunctionError> {
        let settings = &context.settings;
        let Some(public_base_url) = settings.public_base_url.as_deref() else {
            tracing::warn!("PUBLIC_BASE_URL is not set: the web console is not served");
            return Ok(Self::new(QueryService::new(context.core(COMPONENT)?)));
        };
        let id = settings.require_link_signing_keys_secret_arn()?;
        let failed = |reason: String| {
            FunctionError::Failed(format!("LINK_SIGNING_KEYS_SECRET_ARN: {reason}"))
        };
        let text = context
            .secret_store()
            .get(id)
            .await
            .map_err(|error| failed(error.to_string()))?;
        let keys = LinkKeys::from_json(&text).map_err(|error| failed(error.to_string()))?;
        let signer = SigninSigner::new(keys.current.as_bytes())
            .ok_or_else(|| failed("the current key is too short".into()))?;
        let console = ConsoleService::new(
            context.core(CONSOLE_COMPONENT)?,
            context.queue(),
            context.timers()?,
            context.email()?,
            signer,
            ConsoleSettings::new(public_base_url),
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
