//! The ack Lambda function: signed acknowledge/resolve links, the acknowledge/resolve API and
//! Slack buttons, served by the shared router (`http::ack::routes`) to API Gateway HTTP API
//! events (see [`klaxon_aws::apigw`]).
//!
//! An acknowledgement commits first, then deletes the pending escalation schedule and queues a
//! notice to everyone already paged; a timer that fires anyway finds the escalation stopped.

use klaxon_app::http;
use klaxon_app::ports::{Queue, Timers};
use klaxon_app::security::links::LinkSigner;
use klaxon_app::security::slack::SlackVerifier;
use klaxon_app::usecases::ack::AckService;
use klaxon_aws::FunctionContext;
use klaxon_aws::apigw::{self, ApiGatewayV2httpResponse};
use klaxon_aws::lambda::FunctionError;
use klaxon_store::Store;
use serde_json::Value;
use std::sync::Arc;

/// The timeline source of everything this function records (`/klaxon/ack`).
pub const COMPONENT: &str = "ack";

/// The ack handler: the acknowledge/resolve routes behind API Gateway.
#[derive(Debug, Clone)]
pub struct AckHandler {
    router: axum::Router,
}

impl AckHandler {
    /// A handler over `service`.
    pub fn new<S, Q, T>(service: AckService<S, Q, T>) -> Self
    where
        S: Store + 'static,
        Q: Queue + 'static,
        T: Timers + 'static,
    {
        Self {
            router: http::compose([http::ack::routes(Arc::new(service))]),
        }
    }

    /// Builds the deployed handler: the table, the notifications queue (notices), the
    /// escalation timers (cancelled), the link verifier (`LINK_SIGNING_SECRET`) and, when
    /// `SLACK_SIGNING_SECRET` is set, the Slack request verifier (otherwise Slack actions are
    /// refused with 401).
    pub fn from_context(context: &FunctionContext) -> Result<Self, FunctionError> {
        let settings = &context.settings;
        let links = LinkSigner::new(settings.require_link_signing_secret()?.as_bytes())
            .map_err(|e| FunctionError::Failed(format!("LINK_SIGNING_SECRET: {e}")))?;
        let slack = settings
            .slack_signing_secret
            .as_deref()
            .and_then(SlackVerifier::new);
        Ok(Self::new(AckService::new(
            context.core(COMPONENT)?,
            context.queue(),
            context.timers()?,
            links,
            slack,
        )))
    }

    /// Answers one API Gateway HTTP API event.
    pub async fn handle(&self, event: Value) -> Result<ApiGatewayV2httpResponse, FunctionError> {
        apigw::serve_event(self.router.clone(), &event).await
    }
}

#[cfg(test)]
mod tests;
