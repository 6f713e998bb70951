//! The ack Lambda function: signed acknowledge/resolve links, the acknowledge/resolve API and
//! Slack buttons, served by the shared router (`http::ack::routes`) to API Gateway HTTP API
//! events (see [`klaxon_aws::apigw`]).
//!
//! An acknowledgement commits first, then deletes the pending escalation schedule and queues a
//! notice to everyone already paged; a timer that fires anyway finds the escalation stopped.

// At most 80 lines per function (clippy.toml), in every crate under shared/ and functions/.
#![warn(clippy::too_many_lines)]

use klaxon_app::http;
use klaxon_app::ports::{Queue, Timers};
use klaxon_app::usecases::ack::AckService;
use klaxon_aws::apigw::{self, ApiGatewayV2httpResponse};
use klaxon_aws::lambda::FunctionError;
use klaxon_aws::{FunctionContext, LinkKeysSecret, SlackSigningSecret};
use klaxon_store::Store;
use serde_json::Value;
use std::sync::Arc;

/// The timeline source of everything this function records (`/klaxon/ack`).
pub const COMPONENT: &str = "ack";

/// The ack handler: the acknowledge/resolve routes behind API Gateway.
#[derive(Debug, Clone)]
pub struct AckHandler {
    router: axum::Router,
    /// The deployed link keys, re-read every few minutes (a rotation reaches warm instances).
    link_keys: Option<Arc<LinkKeysSecret>>,
    /// The deployed Slack signing secret, re-read the same way (set up or rotated without a
    /// redeploy).
    slack: Option<Arc<SlackSigningSecret>>,
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
            link_keys: None,
            slack: None,
        }
    }

    /// Builds the deployed handler: the table, the notifications queue (notices), the
    /// escalation timers (cancelled), the link keys (secret `LINK_SIGNING_KEYS_SECRET_ARN`)
    /// and the Slack request verifier of secret `SLACK_SIGNING_SECRET_ARN` (Slack actions are
    /// refused with 401 while it holds no signing secret). Both secrets are read now and again
    /// every few minutes.
    pub async fn from_context(context: &FunctionContext) -> Result<Self, FunctionError> {
        let link_keys = Arc::new(context.link_keys().await?);
        let slack = context.slack_signing().await?.map(Arc::new);
        let mut handler = Self::new(AckService::new(
            context.core(COMPONENT)?,
            context.queue(),
            context.timers()?,
            link_keys.signer(),
            slack
                .as_ref()
                .map(|secret| secret.signing())
                .unwrap_or_default(),
        ));
        handler.link_keys = Some(link_keys);
        handler.slack = slack;
        Ok(handler)
    }

    /// Answers one API Gateway HTTP API event (re-reading the secrets first when due).
    pub async fn handle(&self, event: Value) -> Result<ApiGatewayV2httpResponse, FunctionError> {
        if let Some(keys) = &self.link_keys {
            keys.refresh().await;
        }
        if let Some(slack) = &self.slack {
            slack.refresh().await;
        }
        apigw::serve_event(self.router.clone(), &event).await
    }
}

#[cfg(test)]
mod tests;
