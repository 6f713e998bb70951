//! What every Lambda function builds once per cold start: its settings, the SDK configuration,
//! a clock, an id generator and the configuration cache's lifetime, with constructors for the
//! adapters and the use cases' [`Core`]. `main` uses [`FunctionContext::from_env`]; tests build
//! one with [`FunctionContext::new`] and replace the clock and ids.

use crate::dynamo::DynamoStore;
use crate::env::{CloudSettings, EnvError, Function, load_aws_config};
use crate::lambda::FunctionError;
use crate::scheduler::SchedulerTimers;
use crate::secrets::{
    LinkKeysSecret, SECRET_REFRESH, SecretStore, SlackSigningSecret, WebhookSecrets,
};
use crate::ses::SesEmail;
use crate::sns::SnsSms;
use crate::sqs::SqsQueue;
use aws_config::SdkConfig;
use klaxon_app::ports::{IdGenerator, UuidV7Ids};
use klaxon_app::usecases::{ConfigCache, Core};
use klaxon_domain::timeline::EventSource;
use klaxon_store::repo::Repository;
use klaxon_store::{Clock, SystemClock};
use std::sync::Arc;
use std::time::Duration;

/// How long a function keeps the parsed configuration before re-reading the table's pointer.
pub const CONFIG_CACHE_TTL: Duration = Duration::from_secs(30);

/// Settings, SDK configuration, clock and ids of one function instance.
#[derive(Clone)]
pub struct FunctionContext {
    /// The function's environment.
    pub settings: CloudSettings,
    /// The SDK configuration every client is built from.
    pub aws: SdkConfig,
    /// The clock every use case and adapter reads.
    pub clock: Arc<dyn Clock>,
    /// The identifier generator.
    pub ids: Arc<dyn IdGenerator>,
    /// How long the configuration is cached.
    pub config_ttl: Duration,
    /// How long a secret's value is used before it is read again.
    pub secret_refresh: Duration,
}

impl std::fmt::Debug for FunctionContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FunctionContext")
            .field("settings", &self.settings)
            .field("config_ttl", &self.config_ttl)
            .field("secret_refresh", &self.secret_refresh)
            .finish_non_exhaustive()
    }
}

impl FunctionContext {
    /// A context on the system clock with UUIDv7 ids and a [`CONFIG_CACHE_TTL`] cache.
    pub fn new(settings: CloudSettings, aws: SdkConfig) -> Self {
        Self {
            settings,
            aws,
            clock: Arc::new(SystemClock),
            ids: Arc::new(UuidV7Ids),
            config_ttl: CONFIG_CACHE_TTL,
            secret_refresh: SECRET_REFRESH,
        }
    }

    /// Reads the environment, checks that `function` has every variable it needs, and loads
    /// the SDK configuration: what a `main` does first.
    pub async fn from_env(function: Function) -> Result<Self, FunctionError> {
        let settings = CloudSettings::for_function(function)?;
        let aws = load_aws_config(&settings).await;
        Ok(Self::new(settings, aws))
    }

    /// Replaces the clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Replaces the identifier generator.
    pub fn with_ids(mut self, ids: Arc<dyn IdGenerator>) -> Self {
        self.ids = ids;
        self
    }

    /// Replaces the configuration cache's lifetime.
    pub fn with_config_ttl(mut self, ttl: Duration) -> Self {
        self.config_ttl = ttl;
        self
    }

    /// Replaces how often secrets are read again (tests use zero: every request).
    pub fn with_secret_refresh(mut self, refresh: Duration) -> Self {
        self.secret_refresh = refresh;
        self
    }

    /// The DynamoDB store on `TABLE_NAME`.
    pub fn store(&self) -> Result<DynamoStore, EnvError> {
        let table = self.settings.require_table_name()?;
        Ok(DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&self.aws),
            table,
            Arc::clone(&self.clock),
        ))
    }

    /// A repository over the store whose timeline entries name `component` as their source
    /// (`/klaxon/{component}`).
    pub fn repository(&self, component: &str) -> Result<Repository<DynamoStore>, FunctionError> {
        let source = EventSource::klaxon(component).map_err(|e| {
            FunctionError::Failed(format!("timeline source for {component:?}: {e}"))
        })?;
        Ok(Repository::new(
            self.store()?,
            Arc::clone(&self.clock),
            source,
        ))
    }

    /// The use cases' core for `component`: repository, configuration cache, clock and ids.
    pub fn core(&self, component: &str) -> Result<Core<DynamoStore>, FunctionError> {
        Ok(Core::new(
            self.repository(component)?,
            ConfigCache::new(self.config_ttl),
            Arc::clone(&self.clock),
            Arc::clone(&self.ids),
        ))
    }

    /// The backoff that defers failed SQS records' retries (30 s doubling, at most 15 min).
    pub fn retry_backoff(&self) -> crate::lambda::RetryBackoff {
        crate::lambda::RetryBackoff::new(aws_sdk_sqs::Client::new(&self.aws))
    }

    /// The SQS queue adapter, knowing every queue URL the environment sets.
    pub fn queue(&self) -> SqsQueue {
        self.settings.sqs_queue(aws_sdk_sqs::Client::new(&self.aws))
    }

    /// The dead-letter queues (`*_DEAD_LETTER_QUEUE_URL`), redriving to the queues
    /// [`FunctionContext::queue`] knows.
    pub fn dead_letters(&self) -> crate::dead_letters::SqsDeadLetters {
        self.settings
            .sqs_dead_letters(aws_sdk_sqs::Client::new(&self.aws))
    }

    /// The EventBridge Scheduler timers (`SCHEDULE_GROUP_NAME`, `TIMERS_QUEUE_*`,
    /// `SCHEDULER_ROLE_ARN`, optional `SCHEDULER_DLQ_ARN`).
    pub fn timers(&self) -> Result<SchedulerTimers, EnvError> {
        Ok(SchedulerTimers::new(
            aws_sdk_scheduler::Client::new(&self.aws),
            aws_sdk_sqs::Client::new(&self.aws),
            self.settings.scheduler_settings()?,
            Arc::clone(&self.clock),
        ))
    }

    /// The SES email sender (`SENDER_EMAIL`, optional `SES_CONFIGURATION_SET`).
    pub fn email(&self) -> Result<SesEmail, EnvError> {
        self.settings
            .ses_email(aws_sdk_sesv2::Client::new(&self.aws))
    }

    /// Secrets Manager.
    pub fn secret_store(&self) -> SecretStore {
        SecretStore::new(aws_sdk_secretsmanager::Client::new(&self.aws))
    }

    /// The link signing keys of `LINK_SIGNING_KEYS_SECRET_ARN`, read now.
    pub async fn link_keys(&self) -> Result<LinkKeysSecret, FunctionError> {
        let id = self.settings.require_link_signing_keys_secret_arn()?;
        LinkKeysSecret::load(self.secret_store(), id)
            .await
            .map(|keys| keys.with_refresh(self.secret_refresh))
            .map_err(|e| FunctionError::Failed(format!("LINK_SIGNING_KEYS_SECRET_ARN: {e}")))
    }

    /// The Slack signing secret of `SLACK_SIGNING_SECRET_ARN`, read now and re-read like the
    /// other secrets: `None` when the variable is unset; a secret whose `signing_secret` is
    /// empty (Slack not set up) refuses Slack requests until a value is stored.
    pub async fn slack_signing(&self) -> Result<Option<SlackSigningSecret>, FunctionError> {
        let Some(id) = &self.settings.slack_signing_secret_arn else {
            return Ok(None);
        };
        SlackSigningSecret::load(self.secret_store(), id)
            .await
            .map(|secret| Some(secret.with_refresh(self.secret_refresh)))
            .map_err(|e| FunctionError::Failed(format!("SLACK_SIGNING_SECRET_ARN: {e}")))
    }

    /// The webhook secrets of `WEBHOOK_SECRETS_ARN`, read now (`None` when unset).
    pub async fn webhook_secrets(&self) -> Result<Option<WebhookSecrets>, FunctionError> {
        let Some(id) = &self.settings.webhook_secrets_arn else {
            return Ok(None);
        };
        WebhookSecrets::load(self.secret_store(), id)
            .await
            .map(|secrets| Some(secrets.with_refresh(self.secret_refresh)))
            .map_err(|e| FunctionError::Failed(format!("WEBHOOK_SECRETS_ARN: {e}")))
    }

    /// The SNS SMS sender (optional `SMS_SENDER_ID`).
    pub fn sms(&self) -> SnsSms {
        self.settings.sns_sms(aws_sdk_sns::Client::new(&self.aws))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_config::{BehaviorVersion, Region};

    fn context(vars: &[(&str, &str)]) -> FunctionContext {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let settings = CloudSettings::from_lookup(|name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
        .unwrap();
        let aws = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .build();
        FunctionContext::new(settings, aws)
    }

    #[test]
    fn adapters_name_the_variable_they_miss() {
        let context = context(&[]);
        assert_eq!(
            context.store().unwrap_err().to_string(),
            "missing environment variable TABLE_NAME"
        );
        assert!(
            context
                .timers()
                .unwrap_err()
                .to_string()
                .contains("SCHEDULE_GROUP_NAME")
        );
        assert!(
            context
                .email()
                .unwrap_err()
                .to_string()
                .contains("SENDER_EMAIL")
        );
    }

    #[test]
    fn the_queue_knows_every_configured_url() {
        let context = context(&[
            ("TABLE_NAME", "klaxon"),
            (
                "INCIDENTS_QUEUE_URL",
                "https://sqs.us-east-1.amazonaws.com/1/incidents",
            ),
        ]);
        let queue = context.queue();
        assert_eq!(
            queue.url(klaxon_app::messages::QueueName::Incidents),
            Some("https://sqs.us-east-1.amazonaws.com/1/incidents")
        );
        assert_eq!(queue.url(klaxon_app::messages::QueueName::Alerts), None);
        assert_eq!(context.store().unwrap().table_name(), "klaxon");
        assert_eq!(context.config_ttl, CONFIG_CACHE_TTL);
    }
}
