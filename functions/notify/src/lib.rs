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

use klaxon_app::consumer::{Consumer, MessageFailure, consume};
use klaxon_app::messages::QueueMessage;
use klaxon_app::ports::{EmailSender, SmsSender, WebhookSender};
use klaxon_app::security::links::LinkSigner;
use klaxon_app::usecases::notify::{EnvLookup, NotifyOutcome, NotifyService, Senders};
use klaxon_app::webhook::ReqwestWebhookSender;
use klaxon_aws::dynamo::DynamoStore;
use klaxon_aws::lambda::{
    FunctionError, MessageMeta, SqsBatchResponse, SqsEvent, process_sqs_batch,
};
use klaxon_aws::{FunctionContext, SesEmail, SnsSms};
use klaxon_store::Store;

/// The timeline source of everything this function records (`/klaxon/notify`).
pub const COMPONENT: &str = Consumer::Notify.name();

/// The notify handler over any store and senders.
pub struct NotifyHandler<S, E, M, W> {
    service: NotifyService<S, E, M, W>,
}

impl<S, E, M, W> std::fmt::Debug for NotifyHandler<S, E, M, W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifyHandler").finish_non_exhaustive()
    }
}

/// The handler as deployed: DynamoDB, SES, SNS and reqwest for webhooks.
pub type CloudNotifyHandler = NotifyHandler<DynamoStore, SesEmail, SnsSms, ReqwestWebhookSender>;

impl CloudNotifyHandler {
    /// Builds the deployed handler: the table, the senders (`SENDER_EMAIL`, optional
    /// `SES_CONFIGURATION_SET` and `SMS_SENDER_ID`), the link signer (`LINK_SIGNING_SECRET`)
    /// and the links' base (`PUBLIC_BASE_URL`). `env` resolves the configuration's `${VAR}`
    /// references (webhook URLs and secrets): the process environment in `main`.
    pub fn from_context(context: &FunctionContext, env: EnvLookup) -> Result<Self, FunctionError> {
        let settings = &context.settings;
        let links = LinkSigner::new(settings.require_link_signing_secret()?.as_bytes())
            .map_err(|e| FunctionError::Failed(format!("LINK_SIGNING_SECRET: {e}")))?;
        let webhook = ReqwestWebhookSender::new()
            .map_err(|e| FunctionError::Failed(format!("building the webhook client: {e}")))?;
        let senders = Senders {
            email: context.email()?,
            sms: context.sms(),
            webhook,
        };
        Ok(Self::new(NotifyService::new(
            context.core(COMPONENT)?,
            senders,
            links,
            settings.require_public_base_url()?,
            env,
        )))
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
        Self { service }
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
