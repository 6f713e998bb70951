//! One deployment in moto for the chaos run: the table, the four queues with the dead-letter
//! queues and `maxReceiveCount` template.yaml gives them, a schedule group, an SES sender, the
//! pipeline fixture's configuration and keys; and the Lambda handlers the pipeline runs (ingest, grouping, routing, notify, ack) built from exactly the
//! environment template.yaml gives each function, whose SDK clients go through the fault proxy.
//! Set-up, the event-source-mapping and scheduler plumbing and the assertions talk to moto
//! directly.

use ack::AckHandler;
use aws_config::timeout::TimeoutConfig;
use aws_config::{Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_sqs::types::QueueAttributeName;
use grouping::CloudGroupingHandler;
use ingest::CloudIngestHandler;
use klaxon_app::messages::QueueName;
use klaxon_app::ports::UuidV7Ids;
use klaxon_app::security::keys::PlainKey;
use klaxon_aws::FunctionContext;
use klaxon_aws::dynamo::{DynamoStore, create_table_from_definition};
use klaxon_aws::env::{CloudSettings, Function, aws_config_loader};
use klaxon_domain::config::Config;
use klaxon_domain::timeline::{Actor, EventSource};
use klaxon_store::repo::{KeyKind, KeyRecord, Repository};
use klaxon_store::{Clock, ManualClock, TableDefinition};
use klaxon_tests::pipeline::{TestHttpGet, pipeline_config_text};
use klaxon_tests::{
    TEST_REGION, aws_config, create_secret, test_start, unique_name, workspace_root,
};
use notify::CloudNotifyHandler;
use routing::CloudRoutingHandler;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Where notify says Klaxon lives.
pub const PUBLIC_BASE_URL: &str = "https://klaxon.chaos.example.com";

/// The link signing secret.
const LINK_SECRET: &str = "chaos-link-signing-secret-0123456789abcdef";

/// The handlers' SDK attempt timeout in the chaos run: production's (see
/// `klaxon_aws::env::aws_config_loader`). A shorter one (2 s was tried) made a slow but
/// unfaulted moto answer on a loaded 2-core machine look like a timeout, and the SDK's resend
/// of an SES or SNS send that had been applied is a duplicate page no client can prevent,
/// which failed the "paged once" check for a reason the fault plan deliberately excludes.
pub const CHAOS_ATTEMPT_TIMEOUT: Duration = klaxon_aws::env::AWS_ATTEMPT_TIMEOUT;

/// One pipeline queue and its dead-letter queue.
#[derive(Debug, Clone)]
pub struct QueueRef {
    /// Which queue.
    pub name: QueueName,
    /// Its URL.
    pub url: String,
    /// Its ARN.
    pub arn: String,
    /// Its dead-letter queue's URL (the template's redrive policy moves a message there after
    /// its `maxReceiveCount`).
    pub dlq_url: String,
    /// Its `VisibilityTimeout` in template.yaml, in seconds: when a message received but not
    /// deleted shows again.
    pub visibility_timeout: u64,
}

/// The deployment.
pub struct Deployment {
    /// The clock of every handler.
    pub clock: Arc<ManualClock>,
    /// A repository straight on moto, for assertions.
    pub repo: Repository<DynamoStore>,
    /// SQS straight on moto (the event source mapping's side).
    pub sqs: aws_sdk_sqs::Client,
    /// Scheduler straight on moto (the scheduler's side).
    pub scheduler: aws_sdk_scheduler::Client,
    /// The queues.
    pub queues: Vec<QueueRef>,
    /// The schedule group.
    pub group: String,
    /// The SES sender.
    pub sender: String,
    /// Bob's phone number.
    pub phone: String,
    /// The native integration's key.
    pub native_key: String,
    /// An API key.
    pub api_key: String,
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
}

fn template() -> Value {
    let text = std::fs::read_to_string(workspace_root().join("template.yaml")).unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

/// The template's resource name of `queue`.
fn resource_name(queue: QueueName) -> &'static str {
    match queue {
        QueueName::Alerts => "AlertsQueue",
        QueueName::Incidents => "IncidentsQueue",
        QueueName::Timers => "TimersQueue",
        QueueName::Notifications => "NotificationsQueue",
    }
}

/// `VisibilityTimeout` of `queue` in template.yaml.
fn visibility_timeout(template: &Value, queue: QueueName) -> u64 {
    let value = &template["Resources"][resource_name(queue)]["Properties"]["VisibilityTimeout"];
    value
        .as_u64()
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("{}: no VisibilityTimeout", resource_name(queue)))
}

/// `maxReceiveCount` of `queue`'s redrive policy in template.yaml.
fn max_receive_count(template: &Value, queue: QueueName) -> u32 {
    let policy = &template["Resources"][resource_name(queue)]["Properties"]["RedrivePolicy"];
    let count = &policy["maxReceiveCount"];
    count
        .as_u64()
        .or_else(|| count.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("{}: no maxReceiveCount", resource_name(queue))) as u32
}

async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> String {
    sqs.get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()
        .remove(&QueueAttributeName::QueueArn)
        .unwrap()
}

async fn create(sqs: &aws_sdk_sqs::Client, name: &str, fifo: bool) -> String {
    let mut request = sqs.create_queue().queue_name(name);
    if fifo {
        request = request
            .attributes(QueueAttributeName::FifoQueue, "true")
            .attributes(QueueAttributeName::ContentBasedDeduplication, "false");
    }
    request.send().await.unwrap().queue_url.unwrap()
}

async fn create_queue(sqs: &aws_sdk_sqs::Client, template: &Value, name: QueueName) -> QueueRef {
    let fifo = name == QueueName::Alerts;
    let suffix = if fifo { ".fifo" } else { "" };
    let base = unique_name(&format!("chaos-{}", name.as_str()));
    let dlq_url = create(sqs, &format!("{base}-dlq{suffix}"), fifo).await;
    let dlq_arn = queue_arn(sqs, &dlq_url).await;
    let url = create(sqs, &format!("{base}{suffix}"), fifo).await;
    let max_receive_count = max_receive_count(template, name);
    let policy = json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count});
    sqs.set_queue_attributes()
        .queue_url(&url)
        .attributes(QueueAttributeName::RedrivePolicy, policy.to_string())
        .send()
        .await
        .unwrap();
    QueueRef {
        name,
        arn: queue_arn(sqs, &url).await,
        url,
        dlq_url,
        visibility_timeout: visibility_timeout(template, name),
    }
}

/// The environment variable names template.yaml gives `function` (its own and the globals).
fn template_variables(template: &Value, function: Function) -> Vec<String> {
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

/// The SDK configuration the functions' `main`s load (`aws_config_loader`), pointed at the
/// fault proxy, with the test credentials and the chaos run's shorter attempt timeout.
pub async fn handler_sdk_config(proxy_endpoint: &str, attempt_timeout: Duration) -> SdkConfig {
    let settings = CloudSettings::from_lookup(|_| None).unwrap();
    aws_config_loader(&settings)
        .endpoint_url(proxy_endpoint)
        .region(Region::new(TEST_REGION))
        .credentials_provider(Credentials::new("test", "test", None, None, "chaos"))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(attempt_timeout)
                .build(),
        )
        .load()
        .await
}

/// A phone number no other deployment in this moto uses.
fn unique_phone() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!(
        "+1556{:07}",
        (std::process::id() * 89 + n * 7907) % 10_000_000
    )
}

impl Deployment {
    /// A fresh deployment whose handlers send every AWS call through `proxy_endpoint`.
    pub async fn new(proxy_endpoint: &str) -> Self {
        let direct = aws_config().await;
        let sqs = aws_sdk_sqs::Client::new(&direct);
        let scheduler = aws_sdk_scheduler::Client::new(&direct);
        let dynamodb = aws_sdk_dynamodb::Client::new(&direct);
        let template = template();

        let table = unique_name("chaos");
        create_table_from_definition(&dynamodb, &table, &TableDefinition::load().unwrap())
            .await
            .unwrap();
        let mut queues = Vec::new();
        for name in QueueName::ALL {
            queues.push(create_queue(&sqs, &template, name).await);
        }
        let group = unique_name("chaos-escalation");
        scheduler
            .create_schedule_group()
            .name(&group)
            .send()
            .await
            .unwrap();
        let sender = format!("pager@{}.example.com", unique_name("chaos"));
        aws_sdk_sesv2::Client::new(&direct)
            .create_email_identity()
            .email_identity(&sender)
            .send()
            .await
            .unwrap();

        let queue = |name: QueueName| queues.iter().find(|q| q.name == name).unwrap().clone();
        let variables: HashMap<String, String> = HashMap::from([
            ("TABLE_NAME".to_owned(), table.clone()),
            ("ALERTS_QUEUE_URL".to_owned(), queue(QueueName::Alerts).url),
            (
                "INCIDENTS_QUEUE_URL".to_owned(),
                queue(QueueName::Incidents).url,
            ),
            ("TIMERS_QUEUE_URL".to_owned(), queue(QueueName::Timers).url),
            (
                "NOTIFICATIONS_QUEUE_URL".to_owned(),
                queue(QueueName::Notifications).url,
            ),
            ("TIMERS_QUEUE_ARN".to_owned(), queue(QueueName::Timers).arn),
            (
                "SCHEDULER_ROLE_ARN".to_owned(),
                "arn:aws:iam::123456789012:role/klaxon-SchedulerRole".to_owned(),
            ),
            ("SCHEDULE_GROUP_NAME".to_owned(), group.clone()),
            ("SENDER_EMAIL".to_owned(), sender.clone()),
            ("PUBLIC_BASE_URL".to_owned(), PUBLIC_BASE_URL.to_owned()),
            // The secrets as the template's functions get them: by ARN, values in Secrets
            // Manager (created straight in moto; the handlers read them before faults start).
            (
                "LINK_SIGNING_KEYS_SECRET_ARN".to_owned(),
                create_secret(
                    "chaos-link-keys",
                    &serde_json::json!({"current": LINK_SECRET, "retired": []}).to_string(),
                )
                .await,
            ),
            (
                "SLACK_SIGNING_SECRET_ARN".to_owned(),
                create_secret(
                    "chaos-slack",
                    &serde_json::json!({"signing_secret": "chaos-slack"}).to_string(),
                )
                .await,
            ),
        ]);
        let clock = Arc::new(ManualClock::new(test_start()));
        let handler_aws = handler_sdk_config(proxy_endpoint, CHAOS_ATTEMPT_TIMEOUT).await;
        let context = |function: Function| {
            let names = template_variables(&template, function);
            let settings = CloudSettings::from_lookup(|name| {
                names
                    .iter()
                    .any(|n| n == name)
                    .then(|| variables.get(name).cloned())
                    .flatten()
            })
            .unwrap();
            settings
                .check(function)
                .unwrap_or_else(|e| panic!("template.yaml, {}: {e}", function.name()));
            FunctionContext::new(settings, handler_aws.clone())
                .with_clock(clock.clone())
                .with_ids(Arc::new(UuidV7Ids))
        };

        // Configuration and keys, stored straight in moto as the CLI would.
        let repo = Repository::new(
            DynamoStore::new(dynamodb.clone(), table.clone(), clock.clone()),
            clock.clone(),
            EventSource::klaxon("cli").unwrap(),
        );
        let phone = unique_phone();
        let config =
            Config::from_yaml(&pipeline_config_text().replace("+15555550100", &phone)).unwrap();
        repo.save_config(
            &config.to_canonical_json().unwrap(),
            &config.fingerprint().unwrap(),
            &Actor::system("chaos"),
        )
        .await
        .unwrap();
        let mut keys = BTreeMap::new();
        for (name, kind) in [("native", KeyKind::Integration), ("chaos", KeyKind::Api)] {
            let key = PlainKey::generate();
            let record = KeyRecord {
                kind,
                name: name.into(),
                label: None,
                created_at: clock.now(),
            };
            repo.create_key(key.hash().as_str(), &record).await.unwrap();
            keys.insert(name, key.expose().to_string());
        }

        Deployment {
            ingest: CloudIngestHandler::from_context(
                &context(Function::Ingest),
                TestHttpGet::default(),
            )
            .unwrap(),
            grouping: CloudGroupingHandler::from_context(&context(Function::Grouping)).unwrap(),
            routing: CloudRoutingHandler::from_context(&context(Function::Routing)).unwrap(),
            notify: CloudNotifyHandler::from_context(
                &context(Function::Notify),
                Arc::new(|_: &str| None),
            )
            .await
            .unwrap(),
            ack: AckHandler::from_context(&context(Function::Ack))
                .await
                .unwrap(),
            clock,
            repo,
            sqs,
            scheduler,
            queues,
            group,
            sender,
            phone,
            native_key: keys["native"].clone(),
            api_key: keys["chaos"].clone(),
        }
    }

    /// The queue `name`.
    pub fn queue(&self, name: QueueName) -> &QueueRef {
        self.queues.iter().find(|q| q.name == name).unwrap()
    }

    /// The recovery sweep's message: the Input template.yaml gives `RecoverySweepSchedule`.
    pub fn sweep_input() -> String {
        let template = template();
        let target = &template["Resources"]["RecoverySweepSchedule"]["Properties"]["Target"];
        assert_eq!(target["Arn"], "TimersQueue.Arn");
        target["Input"].as_str().unwrap().to_owned()
    }
}
