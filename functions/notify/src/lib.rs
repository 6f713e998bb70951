//! The notify Lambda function: consumes the notifications queue and sends pages and notices by
//! email (SES v2), SMS (SNS) and webhooks (Slack, Teams, generic) through
//! [`NotifyService::handle`].
//!
//! Exactly-once sending is the use case's: each (incident, round, tier, user, channel) has one
//! delivery record, claimed before sending, so a redelivered or duplicated page sends nothing
//! twice. A provider's permanent refusal is recorded on the timeline and not retried; a
//! transient one fails the record so SQS redelivers it (only the failed deliveries are
//! retried), ending in the dead-letter queue after `maxReceiveCount` receives. A message of
//! another kind, or a use-case error, fails the record as for every consumer (see
//! [`klaxon_app::consumer`]).

// At most 80 lines per function (clippy.toml), in every crate under shared/ and functions/.
#![warn(clippy::too_many_lines)]

use klaxon_app::consumer::{Consumer, MessageFailure, consume};
use klaxon_app::messages::QueueMessage;
use klaxon_app::ports::{EmailSender, SmsSender, WebhookSender};
use klaxon_app::usecases::notify::{EnvLookup, NotifyOutcome, NotifyService, Senders};
use klaxon_app::webhook::ReqwestWebhookSender;
use klaxon_aws::dynamo::DynamoStore;
use klaxon_aws::lambda::{
    FunctionError, MessageMeta, SqsBatchResponse, SqsEvent, process_sqs_batch,
};
use klaxon_aws::{FunctionContext, LinkKeysSecret, SesEmail, SnsSms, WebhookSecrets};
use klaxon_store::Store;
use std::sync::Arc;

/// The timeline source of everything this function records (`/klaxon/notify`).
pub const COMPONENT: &str = Consumer::Notify.name();

/// The notify handler over any store and senders.
pub struct NotifyHandler<S, E, M, W> {
    service: NotifyService<S, E, M, W>,
    /// Deployed secrets re-read every few minutes, so rotations reach warm instances.
    secrets: DeployedSecrets,
}

/// The secrets a deployed handler refreshes before each message.
#[derive(Debug, Default)]
struct DeployedSecrets {
    link_keys: Option<Arc<LinkKeysSecret>>,
    webhooks: Option<WebhookSecrets>,
}

klaxon_app::opaque_debug!(NotifyHandler<S, E, M, W>);

/// The handler as deployed: DynamoDB, SES, SNS and reqwest for webhooks.
pub type CloudNotifyHandler = NotifyHandler<DynamoStore, SesEmail, SnsSms, ReqwestWebhookSender>;

impl CloudNotifyHandler {
    /// Builds the deployed handler: the table, the senders (`SENDER_EMAIL`, optional
    /// `SES_CONFIGURATION_SET` and `SMS_SENDER_ID`), the link keys (secret
    /// `LINK_SIGNING_KEYS_SECRET_ARN`) and the links' base (`PUBLIC_BASE_URL`). The
    /// configuration's `${VAR}` references (webhook URLs and secrets) resolve from secret
    /// `WEBHOOK_SECRETS_ARN` when set, then from `env` (the process environment in `main`).
    pub async fn from_context(
        context: &FunctionContext,
        env: EnvLookup,
    ) -> Result<Self, FunctionError> {
        let settings = &context.settings;
        let link_keys = Arc::new(context.link_keys().await?);
        let webhooks = context.webhook_secrets().await?;
        let env = match &webhooks {
            Some(secrets) => secrets.lookup(env),
            None => env,
        };
        let webhook = ReqwestWebhookSender::new()
            .map_err(|e| FunctionError::Failed(format!("building the webhook client: {e}")))?;
        let senders = Senders {
            email: context.email()?,
            sms: context.sms(),
            webhook,
        };
        let mut handler = Self::new(NotifyService::new(
            context.core(COMPONENT)?,
            senders,
            link_keys.signer(),
            settings.require_public_base_url()?,
            env,
        ));
        handler.secrets = DeployedSecrets {
            link_keys: Some(link_keys),
            webhooks,
        };
        Ok(handler)
    }
}

impl<S, E, M, W> NotifyHandler<S, E, M, W>
where
    S: Store,
    E: EmailSender,
    M: SmsSender,
    W: WebhookSender,
{
    /// A handler over `service`.
    pub fn new(service: NotifyService<S, E, M, W>) -> Self {
        Self {
            service,
            secrets: DeployedSecrets::default(),
        }
    }

    /// The use case.
    pub fn service(&self) -> &NotifyService<S, E, M, W> {
        &self.service
    }

    /// Handles one queue message: a page or a notice.
    pub async fn handle_message(
        &self,
        message: QueueMessage,
        meta: MessageMeta,
    ) -> Result<NotifyOutcome, MessageFailure> {
        if let Some(keys) = &self.secrets.link_keys {
            keys.refresh().await;
        }
        if let Some(webhooks) = &self.secrets.webhooks {
            webhooks.refresh().await;
        }
        consume(&self.service, message, &meta.delivery()).await
    }

    /// Handles one SQS event (a batch), reporting the failed records.
    pub async fn handle_batch(&self, event: SqsEvent) -> SqsBatchResponse {
        process_sqs_batch(event, &|message, meta| async move {
            self.handle_message(message, meta).await.map(|_| ())
        })
        .await
    }
}

#[cfg(test)]
mod tests;
