//! Klaxon's AWS adapters: the DynamoDB store, SQS queues, EventBridge Scheduler timers, SES v2
//! email and SNS SMS, plus the plumbing every Lambda function shares: the environment
//! ([`env`]), the wiring of adapters and use cases ([`wiring`]), the SQS batch driver
//! ([`lambda`]; the consumers' failure policy is [`klaxon_app::consumer`]'s), the API Gateway
//! HTTP API adapter ([`apigw`]), and logging. Clients are built once per function and passed
//! in.

pub mod apigw;
pub mod dynamo;
pub mod env;
pub mod lambda;
mod retry;
pub mod scheduler;
pub mod ses;
pub mod sns;
pub mod sqs;
pub mod wiring;

pub use env::{CloudSettings, EnvError, Function, aws_config_loader, load_aws_config};
pub use lambda::{FunctionError, MessageMeta, SqsBatchService, init_tracing, process_sqs_batch};
pub use scheduler::{SchedulerSettings, SchedulerTimers};
pub use ses::SesEmail;
pub use sns::SnsSms;
pub use sqs::SqsQueue;
pub use wiring::FunctionContext;
