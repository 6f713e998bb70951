//! Klaxon's AWS adapters: the DynamoDB store, SQS queues, EventBridge Scheduler timers, SES v2
//! email, SNS SMS and Secrets Manager secrets ([`secrets`]), plus the plumbing every Lambda function shares: the environment
//! ([`env`]), the wiring of adapters and use cases ([`wiring`]), the SQS batch driver
//! ([`lambda`]; the consumers' failure policy is [`klaxon_app::consumer`]'s), the API Gateway
//! HTTP API adapter ([`apigw`]), and logging. Clients are built once per function and passed
//! in.

// At most 80 lines per function (clippy.toml), in every crate under shared/ and functions/.
#![warn(clippy::too_many_lines)]

pub mod apigw;
pub mod dead_letters;
pub mod dynamo;
pub mod env;
pub mod lambda;
pub mod metrics;
mod retry;
pub mod scheduler;
pub mod secrets;
pub mod ses;
pub mod sns;
pub mod sqs;
pub mod wiring;

pub use env::{CloudSettings, EnvError, Function, aws_config_loader, load_aws_config};
pub use lambda::{FunctionError, MessageMeta, SqsBatchService, init_tracing, process_sqs_batch};
pub use scheduler::{SchedulerSettings, SchedulerTimers};
pub use secrets::{LinkKeysSecret, SecretError, SecretStore, SlackSigningSecret, WebhookSecrets};
pub use ses::SesEmail;
pub use sns::SnsSms;
pub use sqs::SqsQueue;
pub use wiring::FunctionContext;
