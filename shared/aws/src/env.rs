//! The Lambda functions' environment: which variables exist, which function needs which, and
//! clear errors that name what is missing or malformed.
//!
//! | variable | meaning | needed by |
//! |---|---|---|
//! | `TABLE_NAME` | the DynamoDB table | every function |
//! | `ALERTS_QUEUE_URL` | `alerts.fifo` (must end in `.fifo`) | ingest, routing (sweep), ack, api (redriven dead letters) |
//! | `INCIDENTS_QUEUE_URL` | incidents queue | grouping, routing (sweep), ack, api (redriven dead letters) |
//! | `NOTIFICATIONS_QUEUE_URL` | notifications queue (pages; notices after an ack or resolve) | grouping, routing, ack, api |
//! | `TIMERS_QUEUE_URL` | timers queue (timers already due go straight there) | grouping, routing, ack, api |
//! | `TIMERS_QUEUE_ARN` | timers queue ARN, the schedules' target | grouping, routing, ack, api |
//! | `SCHEDULER_ROLE_ARN` | the scheduler's execution role | grouping, routing, ack, api |
//! | `SCHEDULE_GROUP_NAME` | the escalation timers' schedule group | grouping, routing, ack, api |
//! | `SCHEDULER_DLQ_ARN` | dead-letter queue for undeliverable timers | optional (timer users) |
//! | `ALERTS_DEAD_LETTER_QUEUE_URL`, `INCIDENTS_DEAD_LETTER_QUEUE_URL`, `TIMERS_DEAD_LETTER_QUEUE_URL`, `NOTIFICATIONS_DEAD_LETTER_QUEUE_URL`, `SCHEDULER_DEAD_LETTER_QUEUE_URL` | the dead-letter queues the console's admin page lists and redrives | api |
//! | `SENDER_EMAIL` | SES sender address | notify, api (console sign-in links) |
//! | `SES_CONFIGURATION_SET` | SES configuration set | optional (notify) |
//! | `SMS_SENDER_ID` | SNS SMS sender id | optional (notify) |
//! | `PUBLIC_BASE_URL` | Klaxon's public URL, no trailing slash (links in pages and sign-in emails) | notify; optional (api: the console is served only when it is set) |
//! | `LINK_SIGNING_KEYS_SECRET_ARN` | Secrets Manager secret of the link signing keys (also console sign-in links) | notify, ack, api |
//! | `SLACK_SIGNING_SECRET_ARN` | secret of the Slack request signing secret | optional (ack) |
//! | `WEBHOOK_SECRETS_ARN` | secret holding the values of the configuration's `${VAR}`s | optional (notify) |
//! | `SELF_HEARTBEAT_URL` | URL the recovery sweep pings after each run | optional (routing) |
//! | `SELF_HEARTBEAT_METHOD` | `GET` (default) or `POST` for the heartbeat | optional (routing) |
//! | `AWS_ENDPOINT_URL` | endpoint override (moto, LocalStack) | optional |
//!
//! No secret is ever an environment variable: functions get the secrets' ARNs and read the
//! values at init ([`crate::secrets`]).
//!
//! An empty value counts as unset: CloudFormation passes optional parameters as `""`.
//! `AWS_ENDPOINT_URL` is also honoured by the SDK's own configuration loader; it is read here
//! too so that [`load_aws_config`] applies it explicitly and logs can show it.

use crate::dead_letters::{SqsDeadLetters, dead_letter_url_variable};
use crate::scheduler::SchedulerSettings;
use crate::ses::SesEmail;
use crate::sns::SnsSms;
use crate::sqs::{SqsQueue, queue_url_variable};
use aws_config::{BehaviorVersion, SdkConfig};
use klaxon_app::dead_letters::DeadLetterQueue;
use klaxon_app::messages::QueueName;

/// Why the environment is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    /// Required variables are unset or empty.
    #[error("missing environment variable{} {}{}", if names.len() == 1 { "" } else { "s" }, names.join(", "), function.map(|f| format!(" (required by the {f} function)")).unwrap_or_default())]
    Missing {
        /// The variables, in the order of the table above.
        names: Vec<&'static str>,
        /// The function that needs them, when known.
        function: Option<&'static str>,
    },
    /// A variable is set but unusable.
    #[error("environment variable {name}: {reason}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// Klaxon's Lambda functions (their binary names match [`Function::name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    /// Webhook ingest (HTTP) → alerts queue.
    Ingest,
    /// Alerts queue → incidents.
    Grouping,
    /// Incidents and timers queues → escalation.
    Routing,
    /// Acknowledge/resolve links, API and Slack actions (HTTP).
    Ack,
    /// Notifications queue → email, SMS, chat, webhooks.
    Notify,
    /// The read/config API (HTTP).
    Api,
}

/// The dead-letter queues' variables, in [`DeadLetterQueue::ALL`] order.
const DEAD_LETTER_VARIABLES: [&str; 5] = [
    "ALERTS_DEAD_LETTER_QUEUE_URL",
    "INCIDENTS_DEAD_LETTER_QUEUE_URL",
    "TIMERS_DEAD_LETTER_QUEUE_URL",
    "NOTIFICATIONS_DEAD_LETTER_QUEUE_URL",
    "SCHEDULER_DEAD_LETTER_QUEUE_URL",
];

/// The variables every timer user needs.
const TIMER_VARIABLES: [&str; 4] = [
    "TIMERS_QUEUE_URL",
    "TIMERS_QUEUE_ARN",
    "SCHEDULER_ROLE_ARN",
    "SCHEDULE_GROUP_NAME",
];

impl Function {
    /// All functions.
    pub const ALL: [Function; 6] = [
        Function::Ingest,
        Function::Grouping,
        Function::Routing,
        Function::Ack,
        Function::Notify,
        Function::Api,
    ];

    /// The binary (and workspace package) name.
    pub fn name(self) -> &'static str {
        match self {
            Function::Ingest => "ingest",
            Function::Grouping => "grouping",
            Function::Routing => "routing",
            Function::Ack => "ack",
            Function::Notify => "notify",
            Function::Api => "api",
        }
    }

    /// The environment variables the function cannot start without.
    pub fn required_variables(self) -> Vec<&'static str> {
        let mut names = vec!["TABLE_NAME"];
        match self {
            Function::Ingest => names.push("ALERTS_QUEUE_URL"),
            Function::Grouping => {
                // Notices go to responders when alerts resolve or acknowledge an incident.
                names.extend(["INCIDENTS_QUEUE_URL", "NOTIFICATIONS_QUEUE_URL"]);
                names.extend(TIMER_VARIABLES);
            }
            Function::Routing => {
                // The sweep re-queues ungrouped alerts and re-announces unrouted incidents.
                names.extend([
                    "ALERTS_QUEUE_URL",
                    "INCIDENTS_QUEUE_URL",
                    "NOTIFICATIONS_QUEUE_URL",
                ]);
                names.extend(TIMER_VARIABLES);
            }
            Function::Ack => {
                // Heartbeat pings resolve the missed-heartbeat alert (alerts queue); declared
                // incidents are announced to routing (incidents queue).
                names.extend([
                    "ALERTS_QUEUE_URL",
                    "INCIDENTS_QUEUE_URL",
                    "NOTIFICATIONS_QUEUE_URL",
                ]);
                names.extend(TIMER_VARIABLES);
                names.push("LINK_SIGNING_KEYS_SECRET_ARN");
            }
            Function::Notify => {
                names.extend([
                    "SENDER_EMAIL",
                    "PUBLIC_BASE_URL",
                    "LINK_SIGNING_KEYS_SECRET_ARN",
                ]);
            }
            Function::Api => {
                // The console: sign-in links by email, and acknowledging from its pages; the
                // admin page redrives dead letters back to every pipeline queue.
                names.extend([
                    "ALERTS_QUEUE_URL",
                    "INCIDENTS_QUEUE_URL",
                    "NOTIFICATIONS_QUEUE_URL",
                ]);
                names.extend(TIMER_VARIABLES);
                // PUBLIC_BASE_URL is optional: without it the console is not served.
                names.extend(["SENDER_EMAIL", "LINK_SIGNING_KEYS_SECRET_ARN"]);
                names.extend(DEAD_LETTER_VARIABLES);
            }
        }
        names
    }
}

/// Everything the functions read from their environment. Fields are optional because each
/// function needs a subset: use [`CloudSettings::for_function`] to check a function's set at
/// start-up, and the `require_*` accessors to get a value or an error naming the variable.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct CloudSettings {
    /// `TABLE_NAME`.
    pub table_name: Option<String>,
    /// `ALERTS_QUEUE_URL`.
    pub alerts_queue_url: Option<String>,
    /// `INCIDENTS_QUEUE_URL`.
    pub incidents_queue_url: Option<String>,
    /// `TIMERS_QUEUE_URL`.
    pub timers_queue_url: Option<String>,
    /// `NOTIFICATIONS_QUEUE_URL`.
    pub notifications_queue_url: Option<String>,
    /// `TIMERS_QUEUE_ARN`.
    pub timers_queue_arn: Option<String>,
    /// `SCHEDULER_ROLE_ARN`.
    pub scheduler_role_arn: Option<String>,
    /// `SCHEDULE_GROUP_NAME`.
    pub schedule_group_name: Option<String>,
    /// `SCHEDULER_DLQ_ARN`.
    pub scheduler_dlq_arn: Option<String>,
    /// `ALERTS_DEAD_LETTER_QUEUE_URL` … `SCHEDULER_DEAD_LETTER_QUEUE_URL`, in
    /// [`DeadLetterQueue::ALL`] order.
    pub dead_letter_queue_urls: [Option<String>; 5],
    /// `SENDER_EMAIL`.
    pub sender_email: Option<String>,
    /// `SES_CONFIGURATION_SET`.
    pub ses_configuration_set: Option<String>,
    /// `SMS_SENDER_ID`.
    pub sms_sender_id: Option<String>,
    /// `PUBLIC_BASE_URL`, without a trailing slash.
    pub public_base_url: Option<String>,
    /// `LINK_SIGNING_KEYS_SECRET_ARN`.
    pub link_signing_keys_secret_arn: Option<String>,
    /// `SLACK_SIGNING_SECRET_ARN`.
    pub slack_signing_secret_arn: Option<String>,
    /// `WEBHOOK_SECRETS_ARN`.
    pub webhook_secrets_arn: Option<String>,
    /// `SELF_HEARTBEAT_URL`.
    pub self_heartbeat_url: Option<String>,
    /// `SELF_HEARTBEAT_METHOD` (`GET` or `POST`).
    pub self_heartbeat_method: Option<String>,
    /// `AWS_ENDPOINT_URL`.
    pub aws_endpoint_url: Option<String>,
}

impl std::fmt::Debug for CloudSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A heartbeat URL often carries its check's token (Healthchecks-style ping URLs).
        let redacted = |secret: &Option<String>| secret.as_ref().map(|_| "<redacted>");
        f.debug_struct("CloudSettings")
            .field("table_name", &self.table_name)
            .field("alerts_queue_url", &self.alerts_queue_url)
            .field("incidents_queue_url", &self.incidents_queue_url)
            .field("timers_queue_url", &self.timers_queue_url)
            .field("notifications_queue_url", &self.notifications_queue_url)
            .field("timers_queue_arn", &self.timers_queue_arn)
            .field("scheduler_role_arn", &self.scheduler_role_arn)
            .field("schedule_group_name", &self.schedule_group_name)
            .field("scheduler_dlq_arn", &self.scheduler_dlq_arn)
            .field("dead_letter_queue_urls", &self.dead_letter_queue_urls)
            .field("sender_email", &self.sender_email)
            .field("ses_configuration_set", &self.ses_configuration_set)
            .field("sms_sender_id", &self.sms_sender_id)
            .field("public_base_url", &self.public_base_url)
            .field(
                "link_signing_keys_secret_arn",
                &self.link_signing_keys_secret_arn,
            )
            .field("slack_signing_secret_arn", &self.slack_signing_secret_arn)
            .field("webhook_secrets_arn", &self.webhook_secrets_arn)
            .field("self_heartbeat_url", &redacted(&self.self_heartbeat_url))
            .field("self_heartbeat_method", &self.self_heartbeat_method)
            .field("aws_endpoint_url", &self.aws_endpoint_url)
            .finish()
    }
}

fn invalid(name: &'static str, reason: impl Into<String>) -> EnvError {
    EnvError::Invalid {
        name,
        reason: reason.into(),
    }
}

fn check_url(name: &'static str, value: &str) -> Result<(), EnvError> {
    if value.starts_with("https://") || value.starts_with("http://") {
        Ok(())
    } else {
        Err(invalid(name, format!("`{value}` is not an http(s) URL")))
    }
}

fn check_arn(name: &'static str, value: &str) -> Result<(), EnvError> {
    if value.starts_with("arn:") {
        Ok(())
    } else {
        Err(invalid(name, format!("`{value}` is not an ARN")))
    }
}

impl CloudSettings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, EnvError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the process environment and checks that `function`'s variables are all set.
    pub fn for_function(function: Function) -> Result<Self, EnvError> {
        let settings = Self::from_env()?;
        settings.check(function)?;
        Ok(settings)
    }

    /// Reads variables through `lookup` (the environment, or a map in tests). Values are
    /// trimmed; empty values count as unset. Fails on a malformed value (not on a missing one).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, EnvError> {
        let get = |name: &str| {
            lookup(name)
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
        };
        let settings = Self {
            table_name: get("TABLE_NAME"),
            alerts_queue_url: get("ALERTS_QUEUE_URL"),
            incidents_queue_url: get("INCIDENTS_QUEUE_URL"),
            timers_queue_url: get("TIMERS_QUEUE_URL"),
            notifications_queue_url: get("NOTIFICATIONS_QUEUE_URL"),
            timers_queue_arn: get("TIMERS_QUEUE_ARN"),
            scheduler_role_arn: get("SCHEDULER_ROLE_ARN"),
            schedule_group_name: get("SCHEDULE_GROUP_NAME"),
            scheduler_dlq_arn: get("SCHEDULER_DLQ_ARN"),
            dead_letter_queue_urls: DEAD_LETTER_VARIABLES.map(get),
            sender_email: get("SENDER_EMAIL"),
            ses_configuration_set: get("SES_CONFIGURATION_SET"),
            sms_sender_id: get("SMS_SENDER_ID"),
            public_base_url: get("PUBLIC_BASE_URL").map(|url| url.trim_end_matches('/').to_owned()),
            link_signing_keys_secret_arn: get("LINK_SIGNING_KEYS_SECRET_ARN"),
            slack_signing_secret_arn: get("SLACK_SIGNING_SECRET_ARN"),
            webhook_secrets_arn: get("WEBHOOK_SECRETS_ARN"),
            self_heartbeat_url: get("SELF_HEARTBEAT_URL"),
            self_heartbeat_method: get("SELF_HEARTBEAT_METHOD")
                .map(|method| method.to_ascii_uppercase()),
            aws_endpoint_url: get("AWS_ENDPOINT_URL"),
        };
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), EnvError> {
        let urls = [
            ("ALERTS_QUEUE_URL", &self.alerts_queue_url),
            ("INCIDENTS_QUEUE_URL", &self.incidents_queue_url),
            ("TIMERS_QUEUE_URL", &self.timers_queue_url),
            ("NOTIFICATIONS_QUEUE_URL", &self.notifications_queue_url),
            ("PUBLIC_BASE_URL", &self.public_base_url),
            ("AWS_ENDPOINT_URL", &self.aws_endpoint_url),
            ("SELF_HEARTBEAT_URL", &self.self_heartbeat_url),
        ];
        let dead_letter_urls = DEAD_LETTER_VARIABLES
            .into_iter()
            .zip(&self.dead_letter_queue_urls);
        for (name, value) in urls.into_iter().chain(dead_letter_urls) {
            if let Some(value) = value {
                check_url(name, value)?;
            }
        }
        if let Some(url) = &self.alerts_queue_url
            && !url.ends_with(".fifo")
        {
            return Err(invalid(
                "ALERTS_QUEUE_URL",
                format!("`{url}` is not a FIFO queue (its name must end in `.fifo`)"),
            ));
        }
        let arns = [
            ("TIMERS_QUEUE_ARN", &self.timers_queue_arn),
            ("SCHEDULER_ROLE_ARN", &self.scheduler_role_arn),
            ("SCHEDULER_DLQ_ARN", &self.scheduler_dlq_arn),
            (
                "LINK_SIGNING_KEYS_SECRET_ARN",
                &self.link_signing_keys_secret_arn,
            ),
            ("SLACK_SIGNING_SECRET_ARN", &self.slack_signing_secret_arn),
            ("WEBHOOK_SECRETS_ARN", &self.webhook_secrets_arn),
        ];
        for (name, value) in arns {
            if let Some(value) = value {
                check_arn(name, value)?;
            }
        }
        if let Some(method) = &self.self_heartbeat_method
            && !matches!(method.as_str(), "GET" | "POST")
        {
            return Err(invalid(
                "SELF_HEARTBEAT_METHOD",
                format!("`{method}` is neither GET nor POST"),
            ));
        }
        if let Some(sender) = &self.sender_email
            && !sender.contains('@')
        {
            return Err(invalid(
                "SENDER_EMAIL",
                format!("`{sender}` is not an email address"),
            ));
        }
        Ok(())
    }

    /// The value of variable `name` (one of the table in the module docs), if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        let value = match name {
            "TABLE_NAME" => &self.table_name,
            "ALERTS_QUEUE_URL" => &self.alerts_queue_url,
            "INCIDENTS_QUEUE_URL" => &self.incidents_queue_url,
            "TIMERS_QUEUE_URL" => &self.timers_queue_url,
            "NOTIFICATIONS_QUEUE_URL" => &self.notifications_queue_url,
            "TIMERS_QUEUE_ARN" => &self.timers_queue_arn,
            "SCHEDULER_ROLE_ARN" => &self.scheduler_role_arn,
            "SCHEDULE_GROUP_NAME" => &self.schedule_group_name,
            "SCHEDULER_DLQ_ARN" => &self.scheduler_dlq_arn,
            "SENDER_EMAIL" => &self.sender_email,
            "SES_CONFIGURATION_SET" => &self.ses_configuration_set,
            "SMS_SENDER_ID" => &self.sms_sender_id,
            "PUBLIC_BASE_URL" => &self.public_base_url,
            "LINK_SIGNING_KEYS_SECRET_ARN" => &self.link_signing_keys_secret_arn,
            "SLACK_SIGNING_SECRET_ARN" => &self.slack_signing_secret_arn,
            "WEBHOOK_SECRETS_ARN" => &self.webhook_secrets_arn,
            "SELF_HEARTBEAT_URL" => &self.self_heartbeat_url,
            "SELF_HEARTBEAT_METHOD" => &self.self_heartbeat_method,
            "AWS_ENDPOINT_URL" => &self.aws_endpoint_url,
            name => {
                let index = DEAD_LETTER_VARIABLES.iter().position(|v| *v == name)?;
                &self.dead_letter_queue_urls[index]
            }
        };
        value.as_deref()
    }

    /// Checks that every variable `function` needs is set; the error lists all missing ones.
    pub fn check(&self, function: Function) -> Result<(), EnvError> {
        let names: Vec<&'static str> = function
            .required_variables()
            .into_iter()
            .filter(|name| self.get(name).is_none())
            .collect();
        if names.is_empty() {
            Ok(())
        } else {
            Err(EnvError::Missing {
                names,
                function: Some(function.name()),
            })
        }
    }

    fn require<'a>(value: &'a Option<String>, name: &'static str) -> Result<&'a str, EnvError> {
        value.as_deref().ok_or(EnvError::Missing {
            names: vec![name],
            function: None,
        })
    }

    /// `TABLE_NAME`.
    pub fn require_table_name(&self) -> Result<&str, EnvError> {
        Self::require(&self.table_name, "TABLE_NAME")
    }

    /// The URL of `queue` (`ALERTS_QUEUE_URL`, …).
    pub fn require_queue_url(&self, queue: QueueName) -> Result<&str, EnvError> {
        let value = match queue {
            QueueName::Alerts => &self.alerts_queue_url,
            QueueName::Incidents => &self.incidents_queue_url,
            QueueName::Timers => &self.timers_queue_url,
            QueueName::Notifications => &self.notifications_queue_url,
        };
        Self::require(value, queue_url_variable(queue))
    }

    /// `SENDER_EMAIL`.
    pub fn require_sender_email(&self) -> Result<&str, EnvError> {
        Self::require(&self.sender_email, "SENDER_EMAIL")
    }

    /// `PUBLIC_BASE_URL` (no trailing slash).
    pub fn require_public_base_url(&self) -> Result<&str, EnvError> {
        Self::require(&self.public_base_url, "PUBLIC_BASE_URL")
    }

    /// `LINK_SIGNING_KEYS_SECRET_ARN`.
    pub fn require_link_signing_keys_secret_arn(&self) -> Result<&str, EnvError> {
        Self::require(
            &self.link_signing_keys_secret_arn,
            "LINK_SIGNING_KEYS_SECRET_ARN",
        )
    }

    /// The timers' settings (`SCHEDULE_GROUP_NAME`, `TIMERS_QUEUE_ARN`, `TIMERS_QUEUE_URL`,
    /// `SCHEDULER_ROLE_ARN`, optional `SCHEDULER_DLQ_ARN`); the error lists all missing ones.
    pub fn scheduler_settings(&self) -> Result<SchedulerSettings, EnvError> {
        let names: Vec<&'static str> = TIMER_VARIABLES
            .into_iter()
            .filter(|name| self.get(name).is_none())
            .collect();
        match (
            &self.schedule_group_name,
            &self.timers_queue_arn,
            &self.timers_queue_url,
            &self.scheduler_role_arn,
        ) {
            (Some(group), Some(arn), Some(url), Some(role)) => Ok(SchedulerSettings {
                group_name: group.clone(),
                timers_queue_arn: arn.clone(),
                timers_queue_url: url.clone(),
                role_arn: role.clone(),
                dead_letter_arn: self.scheduler_dlq_arn.clone(),
            }),
            _ => Err(EnvError::Missing {
                names,
                function: None,
            }),
        }
    }

    /// An [`SqsQueue`] knowing the URL of every queue that is configured.
    pub fn sqs_queue(&self, client: aws_sdk_sqs::Client) -> SqsQueue {
        QueueName::ALL
            .into_iter()
            .fold(SqsQueue::new(client), |queue, name| {
                match self.require_queue_url(name) {
                    Ok(url) => queue.with_queue(name, url),
                    Err(_) => queue,
                }
            })
    }

    /// The URL of dead-letter queue `queue`, if set.
    pub fn dead_letter_queue_url(&self, queue: DeadLetterQueue) -> Option<&str> {
        self.get(dead_letter_url_variable(queue))
    }

    /// An [`SqsDeadLetters`] knowing every dead-letter queue that is configured, redriving to
    /// the queues [`CloudSettings::sqs_queue`] knows.
    pub fn sqs_dead_letters(&self, client: aws_sdk_sqs::Client) -> SqsDeadLetters {
        let sources = self.sqs_queue(client.clone());
        DeadLetterQueue::ALL.into_iter().fold(
            SqsDeadLetters::new(client, sources),
            |letters, queue| match self.dead_letter_queue_url(queue) {
                Some(url) => letters.with_queue(queue, url),
                None => letters,
            },
        )
    }

    /// An [`SesEmail`] from `SENDER_EMAIL` (and `SES_CONFIGURATION_SET` when set).
    pub fn ses_email(&self, client: aws_sdk_sesv2::Client) -> Result<SesEmail, EnvError> {
        let sender = SesEmail::new(client, self.require_sender_email()?);
        Ok(match &self.ses_configuration_set {
            Some(set) => sender.with_configuration_set(set),
            None => sender,
        })
    }

    /// An [`SnsSms`] with `SMS_SENDER_ID` when set.
    pub fn sns_sms(&self, client: aws_sdk_sns::Client) -> SnsSms {
        let sender = SnsSms::new(client);
        match &self.sms_sender_id {
            Some(id) => sender.with_sender_id(id),
            None => sender,
        }
    }
}

/// Loads the SDK configuration the usual way (region, credentials and `AWS_ENDPOINT_URL` from
/// the Lambda environment), applying the settings' endpoint override explicitly when set.
pub async fn load_aws_config(settings: &CloudSettings) -> SdkConfig {
    aws_config_loader(settings).load().await
}

/// How long one attempt of an AWS call may take before the SDK abandons it and retries. The
/// SDK sets no such limit by default: an answer that never comes (a stalled connection) would
/// hold the function until its own timeout, and Lambda would then retry the whole batch.
pub const AWS_ATTEMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// How long connecting to an AWS endpoint may take.
pub const AWS_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// The loader [`load_aws_config`] uses, for adding settings before loading: the latest
/// behaviour version, [`AWS_CONNECT_TIMEOUT`] and [`AWS_ATTEMPT_TIMEOUT`], the endpoint
/// override.
pub fn aws_config_loader(settings: &CloudSettings) -> aws_config::ConfigLoader {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(AWS_CONNECT_TIMEOUT)
        .operation_attempt_timeout(AWS_ATTEMPT_TIMEOUT)
        .build();
    let loader = aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeouts);
    match &settings.aws_endpoint_url {
        Some(endpoint) => loader.endpoint_url(endpoint),
        None => loader,
    }
}

#[cfg(test)]
mod tests;
