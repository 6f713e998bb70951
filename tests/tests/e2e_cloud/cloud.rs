//! One deployment's worth of AWS resources in moto, the Lambda handlers wired to them exactly as
//! their `main`s wire them (from a [`CloudSettings`] environment), and the plumbing that plays
//! Lambda's part: receiving from SQS, wrapping records into SQS events, deleting what succeeded,
//! and playing EventBridge Scheduler's part by reading a schedule back and sending its Input.

use ack::AckHandler;
use api::ApiHandler;
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName, QueueAttributeName};
use chrono::{DateTime, NaiveDateTime, Utc};
use grouping::CloudGroupingHandler;
use ingest::CloudIngestHandler;
use klaxon_app::dead_letters::DeadLetterQueue;
use klaxon_app::messages::{QueueMessage, QueueName};
use klaxon_app::ports::UuidV7Ids;
use klaxon_app::security::keys::PlainKey;
use klaxon_aws::FunctionContext;
use klaxon_aws::dead_letters::dead_letter_url_variable;
use klaxon_aws::dynamo::{DynamoStore, create_table_from_definition};
use klaxon_aws::env::{CloudSettings, Function};
use klaxon_aws::lambda::{SqsBatchResponse, SqsEvent};
use klaxon_domain::config::Config;
use klaxon_domain::escalation::TimerPayload;
use klaxon_domain::timeline::{Actor, EventSource};
use klaxon_store::repo::{KeyKind, KeyRecord, Repository, StoredIncident};
use klaxon_store::{Clock, ManualClock, TableDefinition};
use klaxon_tests::pipeline::{TestHttpGet, pipeline_config_text};
use klaxon_tests::{aws_config, create_secret, moto_data, test_start, unique_name, workspace_root};
use notify::CloudNotifyHandler;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use routing::CloudRoutingHandler;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// The link signing secret of every test deployment.
pub const LINK_SECRET: &str = "e2e-link-signing-secret-0123456789abcdef";

/// The Slack app's signing secret of every test deployment.
pub const SLACK_SECRET: &str = "e2e-slack-signing-secret-8f742231b10e";

/// Where notify says Klaxon lives (links in pages point here).
pub const PUBLIC_BASE_URL: &str = "https://klaxon.e2e.example.com";

/// How many receives the template's redrive policies allow before the dead-letter queue.
const MAX_RECEIVE_COUNT: u32 = 5;

/// One SQS queue.
#[derive(Debug, Clone)]
pub struct QueueRef {
    /// Which pipeline queue.
    pub name: QueueName,
    /// Its URL.
    pub url: String,
    /// Its ARN.
    pub arn: String,
}

/// A deployment in moto with every handler.
pub struct Cloud {
    /// The clock every handler and adapter reads.
    pub clock: Arc<ManualClock>,
    /// The table's name.
    pub table: String,
    /// DynamoDB, for looking at the raw table.
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// A repository for set-up and assertions.
    pub repo: Repository<DynamoStore>,
    /// SQS.
    pub sqs: aws_sdk_sqs::Client,
    /// EventBridge Scheduler.
    pub scheduler: aws_sdk_scheduler::Client,
    /// The four queues.
    pub queues: Vec<QueueRef>,
    /// The dead-letter queues' URLs and ARNs (no redrive policy points at them: a test that
    /// wants messages to die attaches one, see `dead_letters.rs`).
    pub dead_letter_queues: BTreeMap<DeadLetterQueue, (String, String)>,
    /// The escalation schedule group.
    pub group: String,
    /// The SES sender address (unique to this deployment).
    pub sender: String,
    /// Bob's phone number (unique to this deployment).
    pub phone: String,
    /// Integration keys by integration name.
    pub keys: BTreeMap<String, String>,
    /// An API key.
    pub api_key: String,
    /// The link signing keys' secret (ARN).
    pub link_keys_secret: String,
    /// The Slack signing secret's secret (ARN).
    pub slack_secret: String,
    /// What the SNS verifier fetched.
    pub http: TestHttpGet,
    /// The ingest function.
    pub ingest: CloudIngestHandler<TestHttpGet>,
    /// The grouping function.
    pub grouping: CloudGroupingHandler,
    /// The routing function.
    pub routing: CloudRoutingHandler,
    /// The notify function.
    pub notify: CloudNotifyHandler,
    /// The ack function.
    pub ack: AckHandler,
    /// The api function.
    pub api: ApiHandler,
}

/// What the notify function sent through moto, in moto's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sent {
    /// Emails from this deployment's sender: (recipient, subject, HTML body).
    pub emails: Vec<(String, String, String)>,
    /// SMS to this deployment's phone number (bob): their text.
    pub sms: Vec<String>,
}

async fn create_queue(sqs: &aws_sdk_sqs::Client, name: QueueName) -> QueueRef {
    let mut queue_name = unique_name(&format!("e2e-{}", name.as_str()));
    let mut request = sqs.create_queue();
    if name == QueueName::Alerts {
        queue_name.push_str(".fifo");
        request = request
            .attributes(QueueAttributeName::FifoQueue, "true")
            .attributes(QueueAttributeName::ContentBasedDeduplication, "false");
    }
    let url = request
        .queue_name(&queue_name)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()
        .remove(&QueueAttributeName::QueueArn)
        .unwrap();
    QueueRef { name, url, arn }
}

/// A dead-letter queue like template.yaml's (FIFO for the alerts queue's): its URL and ARN.
async fn create_dead_letter_queue(
    sqs: &aws_sdk_sqs::Client,
    queue: DeadLetterQueue,
) -> (String, String) {
    let mut queue_name = unique_name(&format!("e2e-{}-dlq", queue.as_str()));
    let mut request = sqs.create_queue();
    if queue == DeadLetterQueue::Alerts {
        queue_name.push_str(".fifo");
        request = request.attributes(QueueAttributeName::FifoQueue, "true");
    }
    let url = request
        .queue_name(&queue_name)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()
        .remove(&QueueAttributeName::QueueArn)
        .unwrap();
    (url, arn)
}

/// The environment variable names template.yaml gives `function` (its own and the globals).
fn template_variables(function: Function) -> Vec<String> {
    let text = std::fs::read_to_string(workspace_root().join("template.yaml")).unwrap();
    let template: Value = serde_saphyr::from_str(&text).unwrap();
    let mut names: Vec<String> = template["Globals"]["Function"]["Environment"]["Variables"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let resource = template["Resources"]
        .as_object()
        .unwrap()
        .values()
        .find(|r| r["Metadata"]["BuildProperties"]["Binary"] == json!(function.name()))
        .unwrap_or_else(|| panic!("no {} function in template.yaml", function.name()));
    if let Some(own) = resource["Properties"]["Environment"]["Variables"].as_object() {
        names.extend(own.keys().cloned());
    }
    names
}

/// The context `function`'s `main` would build: exactly the variables template.yaml gives it
/// (so a variable the template forgets fails here too), on the test clock.
pub fn function_context(
    function: Function,
    values: &HashMap<String, String>,
    aws: &aws_config::SdkConfig,
    clock: Arc<ManualClock>,
) -> FunctionContext {
    let names = template_variables(function);
    let settings = CloudSettings::from_lookup(|name| {
        names
            .iter()
            .any(|n| n == name)
            .then(|| values.get(name).cloned())
            .flatten()
    })
    .unwrap();
    settings
        .check(function)
        .unwrap_or_else(|e| panic!("template.yaml, {}: {e}", function.name()));
    // Secrets are read again on every request, so a test sees a rotation at once.
    FunctionContext::new(settings, aws.clone())
        .with_clock(clock)
        .with_ids(Arc::new(UuidV7Ids))
        .with_secret_refresh(std::time::Duration::ZERO)
}

/// A phone number no other deployment in this moto uses.
fn unique_phone() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!(
        "+1555{:07}",
        (std::process::id() * 97 + n * 7919) % 10_000_000
    )
}

impl Cloud {
    /// A fresh deployment: table, queues, schedule group, SES sender, the pipeline test
    /// configuration (with bob's number made unique) and a key per integration.
    pub async fn new() -> Self {
        let aws = aws_config().await;
        let sqs = aws_sdk_sqs::Client::new(&aws);
        let scheduler = aws_sdk_scheduler::Client::new(&aws);
        let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
        let ses = aws_sdk_sesv2::Client::new(&aws);

        let table = unique_name("e2e");
        let definition = TableDefinition::load().unwrap();
        create_table_from_definition(&dynamodb, &table, &definition)
            .await
            .unwrap();
        let mut queues = Vec::new();
        for name in QueueName::ALL {
            queues.push(create_queue(&sqs, name).await);
        }
        let mut dead_letter_queues = BTreeMap::new();
        for queue in DeadLetterQueue::ALL {
            dead_letter_queues.insert(queue, create_dead_letter_queue(&sqs, queue).await);
        }
        let group = unique_name("e2e-escalation");
        scheduler
            .create_schedule_group()
            .name(&group)
            .send()
            .await
            .unwrap();
        let sender = format!("pager@{}.example.com", unique_name("e2e"));
        ses.create_email_identity()
            .email_identity(&sender)
            .send()
            .await
            .unwrap();

        let url = |name: QueueName| {
            queues
                .iter()
                .find(|q| q.name == name)
                .map(|q| q.url.clone())
                .unwrap()
        };
        let timers_arn = queues
            .iter()
            .find(|q| q.name == QueueName::Timers)
            .map(|q| q.arn.clone())
            .unwrap();
        let mut variables: HashMap<String, String> = HashMap::from([
            ("TABLE_NAME".to_owned(), table.clone()),
            ("ALERTS_QUEUE_URL".to_owned(), url(QueueName::Alerts)),
            ("INCIDENTS_QUEUE_URL".to_owned(), url(QueueName::Incidents)),
            ("TIMERS_QUEUE_URL".to_owned(), url(QueueName::Timers)),
            (
                "NOTIFICATIONS_QUEUE_URL".to_owned(),
                url(QueueName::Notifications),
            ),
            ("TIMERS_QUEUE_ARN".to_owned(), timers_arn),
            (
                "SCHEDULER_ROLE_ARN".to_owned(),
                "arn:aws:iam::123456789012:role/klaxon-SchedulerRole".to_owned(),
            ),
            ("SCHEDULE_GROUP_NAME".to_owned(), group.clone()),
            ("SENDER_EMAIL".to_owned(), sender.clone()),
            ("PUBLIC_BASE_URL".to_owned(), PUBLIC_BASE_URL.to_owned()),
            // The secrets as the template's functions get them: by ARN, values in Secrets Manager.
            (
                "LINK_SIGNING_KEYS_SECRET_ARN".to_owned(),
                create_secret(
                    "e2e-link-keys",
                    &json!({"current": LINK_SECRET, "retired": []}).to_string(),
                )
                .await,
            ),
            (
                "SLACK_SIGNING_SECRET_ARN".to_owned(),
                create_secret(
                    "e2e-slack",
                    &json!({ "signing_secret": SLACK_SECRET }).to_string(),
                )
                .await,
            ),
        ]);
        for (queue, (url, _)) in &dead_letter_queues {
            variables.insert(dead_letter_url_variable(*queue).to_owned(), url.clone());
        }
        let clock = Arc::new(ManualClock::new(test_start()));
        let every_variable = variables.clone();
        let context =
            |function: Function| function_context(function, &every_variable, &aws, clock.clone());
        let admin_context = FunctionContext::new(
            CloudSettings::from_lookup(|name| variables.get(name).cloned()).unwrap(),
            aws.clone(),
        )
        .with_clock(clock.clone());

        // The configuration and keys, as `klaxon config apply` and `klaxon keys create` store them.
        let phone = unique_phone();
        let text = pipeline_config_text().replace("+15555550100", &phone);
        let config = Config::from_yaml(&text).unwrap();
        let repo = Repository::new(
            admin_context.store().unwrap(),
            clock.clone(),
            EventSource::klaxon("cli").unwrap(),
        );
        repo.save_config(
            &config.to_canonical_json().unwrap(),
            &config.fingerprint().unwrap(),
            &Actor::system("e2e"),
        )
        .await
        .unwrap();
        let mut keys = BTreeMap::new();
        for integration in &config.integrations {
            let key = PlainKey::generate();
            repo.create_key(
                key.hash().as_str(),
                &KeyRecord {
                    kind: KeyKind::Integration,
                    name: integration.name.to_string(),
                    label: None,
                    created_at: clock.now(),
                },
            )
            .await
            .unwrap();
            keys.insert(integration.name.to_string(), key.expose().to_string());
        }
        let api = PlainKey::generate();
        repo.create_key(
            api.hash().as_str(),
            &KeyRecord {
                kind: KeyKind::Api,
                name: "e2e".into(),
                label: None,
                created_at: clock.now(),
            },
        )
        .await
        .unwrap();

        let http = TestHttpGet::default();
        Cloud {
            ingest: CloudIngestHandler::from_context(&context(Function::Ingest), http.clone())
                .unwrap(),
            grouping: CloudGroupingHandler::from_context(&context(Function::Grouping)).unwrap(),
            routing: CloudRoutingHandler::from_context(&context(Function::Routing)).unwrap(),
            // No `${VAR}` references in the test configuration: nothing to resolve.
            notify: CloudNotifyHandler::from_context(
                &context(Function::Notify),
                Arc::new(|_: &str| None),
            )
            .await
            .unwrap(),
            ack: AckHandler::from_context(&context(Function::Ack))
                .await
                .unwrap(),
            api: ApiHandler::from_context(&context(Function::Api))
                .await
                .unwrap(),
            clock,
            table,
            dynamodb,
            repo,
            sqs,
            scheduler,
            queues,
            dead_letter_queues,
            group,
            sender,
            phone,
            keys,
            api_key: api.expose().to_string(),
            link_keys_secret: variables["LINK_SIGNING_KEYS_SECRET_ARN"].clone(),
            slack_secret: variables["SLACK_SIGNING_SECRET_ARN"].clone(),
            http,
        }
    }

    /// The key of integration `name`.
    pub fn key(&self, name: &str) -> &str {
        &self.keys[name]
    }

    /// The queue `name`.
    pub fn queue(&self, name: QueueName) -> &QueueRef {
        self.queues.iter().find(|q| q.name == name).unwrap()
    }
}

/// A deterministic generator for the shuffled runs.
pub fn seeded(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// An SQS event holding `messages` of `queue`, shaped exactly like the samples in `events/sqs/`
/// (what Lambda's event source mapping delivers).
pub fn sqs_event(queue: &QueueRef, messages: &[Message]) -> SqsEvent {
    let records: Vec<Value> = messages
        .iter()
        .map(|message| {
            let attributes: serde_json::Map<String, Value> = message
                .attributes
                .as_ref()
                .map(|attributes| {
                    attributes
                        .iter()
                        .map(|(name, value)| (name.as_str().to_owned(), json!(value)))
                        .collect()
                })
                .unwrap_or_default();
            json!({
                "messageId": message.message_id,
                "receiptHandle": message.receipt_handle,
                "body": message.body,
                "attributes": attributes,
                "messageAttributes": {},
                "md5OfBody": message.md5_of_body,
                "eventSource": "aws:sqs",
                "eventSourceARN": queue.arn,
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

mod scheduler;
mod sqs;
