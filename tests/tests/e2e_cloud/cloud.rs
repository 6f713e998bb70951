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
use klaxon_app::messages::{QueueMessage, QueueName};
use klaxon_app::ports::UuidV7Ids;
use klaxon_app::security::keys::PlainKey;
use klaxon_aws::FunctionContext;
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
        let variables: HashMap<String, String> = HashMap::from([
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
            api: ApiHandler::from_context(&context(Function::Api)).unwrap(),
            clock,
            table,
            dynamodb,
            repo,
            sqs,
            scheduler,
            queues,
            group,
            sender,
            phone,
            keys,
            api_key: api.expose().to_string(),
            link_keys_secret: variables["LINK_SIGNING_KEYS_SECRET_ARN"].clone(),
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

    // --- SQS, as Lambda's event source mapping uses it ----------------------------------------

    /// Receives every visible message of `queue` (up to 10 per call, until none is left),
    /// without deleting them.
    pub async fn receive(&self, queue: &QueueRef) -> Vec<Message> {
        let mut all = Vec::new();
        loop {
            let received = self
                .sqs
                .receive_message()
                .queue_url(&queue.url)
                .max_number_of_messages(10)
                .wait_time_seconds(0)
                .visibility_timeout(300)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send()
                .await
                .unwrap()
                .messages
                .unwrap_or_default();
            if received.is_empty() {
                return all;
            }
            all.extend(received);
        }
    }

    /// Deletes a received message.
    pub async fn delete(&self, queue: &QueueRef, message: &Message) {
        self.sqs
            .delete_message()
            .queue_url(&queue.url)
            .receipt_handle(message.receipt_handle.clone().unwrap())
            .send()
            .await
            .unwrap();
    }

    /// Runs the consumer of `queue` on an SQS event holding `messages`, as Lambda would.
    pub async fn consume(&self, queue: &QueueRef, messages: &[Message]) -> SqsBatchResponse {
        let event = sqs_event(queue, messages);
        match queue.name {
            QueueName::Alerts => self.grouping.handle_batch(event).await,
            QueueName::Incidents | QueueName::Timers => self.routing.handle_batch(event).await,
            QueueName::Notifications => self.notify.handle_batch(event).await,
        }
    }

    /// Delivers every message of every queue to its consumer until the queues are empty, as
    /// Lambda's event source mapping does: batches of up to 10, a record that succeeded is
    /// deleted, a failed one becomes visible again and is redelivered (a transient failure,
    /// such as a page another concurrent delivery is sending, heals on the retry). Panics when
    /// a message fails as often as the queue's `maxReceiveCount` (5): it would reach the
    /// dead-letter queue. Returns how many records it delivered.
    pub async fn pump(&self) -> usize {
        let mut delivered = 0;
        loop {
            let mut any = false;
            for name in QueueName::ALL {
                let queue = self.queue(name).clone();
                let messages = self.receive(&queue).await;
                if messages.is_empty() {
                    continue;
                }
                any = true;
                for batch in messages.chunks(10) {
                    let response = self.consume(&queue, batch).await;
                    let failed: Vec<&str> = response
                        .batch_item_failures
                        .iter()
                        .map(|f| f.item_identifier.as_str())
                        .collect();
                    for message in batch {
                        if failed.contains(&message.message_id.as_deref().unwrap_or_default()) {
                            self.retry_later(&queue, message).await;
                        } else {
                            self.delete(&queue, message).await;
                        }
                    }
                    delivered += batch.len();
                }
            }
            if !any {
                return delivered;
            }
        }
    }

    /// Makes a failed message visible again for redelivery; panics when it has failed as often
    /// as the queue's `maxReceiveCount` allows.
    async fn retry_later(&self, queue: &QueueRef, message: &Message) {
        let receives: u32 = message
            .attributes
            .as_ref()
            .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
            .and_then(|count| count.parse().ok())
            .unwrap_or(1);
        assert!(
            receives < MAX_RECEIVE_COUNT,
            "a {} message failed {receives} times and would reach the dead-letter queue: {:?}",
            queue.name.as_str(),
            message.body
        );
        self.sqs
            .change_message_visibility()
            .queue_url(&queue.url)
            .receipt_handle(message.receipt_handle.clone().unwrap())
            .visibility_timeout(0)
            .send()
            .await
            .unwrap();
    }

    /// Like [`Cloud::pump`], but every message is delivered twice, in an order shuffled with
    /// `rng` across queues and message groups. Within one FIFO message group the order is kept
    /// (SQS FIFO never reorders a group; a redelivery comes before the group's next message).
    pub async fn pump_twice_shuffled(&self, rng: &mut StdRng) -> usize {
        let mut delivered = 0;
        loop {
            // Each delivery remembers its position in receive order: a FIFO queue returns a
            // group's messages in order, and that order must survive the shuffle.
            let mut deliveries: Vec<(usize, QueueRef, Message)> = Vec::new();
            for name in QueueName::ALL {
                let queue = self.queue(name).clone();
                for message in self.receive(&queue).await {
                    let position = deliveries.len();
                    deliveries.push((position, queue.clone(), message.clone()));
                    deliveries.push((position + 1, queue.clone(), message));
                }
            }
            if deliveries.is_empty() {
                return delivered;
            }
            deliveries.shuffle(rng);
            keep_fifo_group_order(&mut deliveries);
            let mut failed = BTreeSet::new();
            for (_, queue, message) in &deliveries {
                let response = self.consume(queue, std::slice::from_ref(message)).await;
                if !response.batch_item_failures.is_empty() {
                    failed.insert(message.receipt_handle.clone().unwrap());
                }
                delivered += 1;
            }
            // Each message was received once and delivered twice: delete it or, when a copy
            // failed, let SQS deliver it again.
            let mut settled = BTreeSet::new();
            for (_, queue, message) in &deliveries {
                let handle = message.receipt_handle.clone().unwrap();
                if !settled.insert(handle.clone()) {
                    continue;
                }
                if failed.contains(&handle) {
                    self.retry_later(queue, message).await;
                } else {
                    self.delete(queue, message).await;
                }
            }
        }
    }

    /// What notify sent for this deployment, read back from moto (`/moto-api/data.json`).
    pub async fn sent(&self) -> Sent {
        let data = moto_data().await;
        let emails = data["ses"]["Message"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| m["source"] == json!(self.sender))
            .map(|m| {
                let to = m["destinations"]["ToAddresses"][0]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let subject = m["subject"].as_str().unwrap_or_default().to_owned();
                let body = m["body"].as_str().unwrap_or_default().to_owned();
                (to, subject, body)
            })
            .collect();
        let sms = data["sns"]["SMS"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| m["phone_number"] == json!(self.phone))
            .map(|m| m["message"].as_str().unwrap_or_default().to_owned())
            .collect();
        Sent { emails, sms }
    }

    /// How many messages are visible on `name` (received and made visible again).
    pub async fn visible(&self, name: QueueName) -> usize {
        let queue = self.queue(name).clone();
        let messages = self.receive(&queue).await;
        for message in &messages {
            self.sqs
                .change_message_visibility()
                .queue_url(&queue.url)
                .receipt_handle(message.receipt_handle.clone().unwrap())
                .visibility_timeout(0)
                .send()
                .await
                .unwrap();
        }
        messages.len()
    }

    // --- EventBridge Scheduler ----------------------------------------------------------------

    /// The names of the schedules in the escalation group.
    pub async fn schedule_names(&self) -> Vec<String> {
        self.scheduler
            .list_schedules()
            .group_name(&self.group)
            .send()
            .await
            .unwrap()
            .schedules
            .into_iter()
            .filter_map(|s| s.name)
            .collect()
    }

    /// Reads schedule `name` back: its `at()` time and the timer its target delivers.
    pub async fn schedule(&self, name: &str) -> Option<(DateTime<Utc>, TimerPayload)> {
        let schedule = match self
            .scheduler
            .get_schedule()
            .name(name)
            .group_name(&self.group)
            .send()
            .await
        {
            Ok(schedule) => schedule,
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                return None;
            }
            Err(error) => panic!("get_schedule {name}: {error:?}"),
        };
        let expression = schedule.schedule_expression.unwrap();
        let at = expression
            .strip_prefix("at(")
            .and_then(|rest| rest.strip_suffix(')'))
            .unwrap();
        let at = NaiveDateTime::parse_from_str(at, "%Y-%m-%dT%H:%M:%S")
            .unwrap()
            .and_utc();
        assert_eq!(
            schedule.schedule_expression_timezone.as_deref(),
            Some("UTC")
        );
        let target = schedule.target.unwrap();
        assert_eq!(target.arn, self.queue(QueueName::Timers).arn);
        let QueueMessage::Timer(payload) =
            QueueMessage::from_json(target.input.as_deref().unwrap()).unwrap()
        else {
            panic!("the schedule's Input is not a timer message");
        };
        Some((at, payload))
    }

    /// Plays the scheduler firing schedule `name`: moves the clock to its `at()` time, sends its
    /// Input to the timers queue (the schedule's target) `copies` times, and deletes the schedule
    /// (ActionAfterCompletion DELETE). Returns the timer.
    pub async fn fire_schedule(&self, name: &str, copies: usize) -> TimerPayload {
        let (at, payload) = self.schedule(name).await.unwrap();
        if at > self.clock.now() {
            self.clock.set(at);
        }
        for _ in 0..copies {
            self.send_timer(&payload).await;
        }
        self.scheduler
            .delete_schedule()
            .name(name)
            .group_name(&self.group)
            .send()
            .await
            .unwrap();
        payload
    }

    /// Sends a timer message to the timers queue, as the scheduler's SQS target does.
    pub async fn send_timer(&self, payload: &TimerPayload) {
        self.sqs
            .send_message()
            .queue_url(&self.queue(QueueName::Timers).url)
            .message_body(QueueMessage::Timer(payload.clone()).to_json())
            .send()
            .await
            .unwrap();
    }

    /// Sends the recovery sweep's message to the timers queue: the Input template.yaml gives
    /// the recurring `RecoverySweepSchedule`, read from the template itself.
    pub async fn send_sweep(&self) {
        let text = std::fs::read_to_string(workspace_root().join("template.yaml")).unwrap();
        let template: Value = serde_saphyr::from_str(&text).unwrap();
        let target = &template["Resources"]["RecoverySweepSchedule"]["Properties"]["Target"];
        assert_eq!(
            target["Arn"], "TimersQueue.Arn",
            "the sweep targets the timers queue"
        );
        let input = target["Input"].as_str().unwrap();
        self.sqs
            .send_message()
            .queue_url(&self.queue(QueueName::Timers).url)
            .message_body(input)
            .send()
            .await
            .unwrap();
    }

    /// Loses every message waiting on queue `name` (received and deleted unhandled, as if a
    /// send had failed after its write). Returns how many there were.
    pub async fn lose(&self, name: QueueName) -> usize {
        let queue = self.queue(name).clone();
        let messages = self.receive(&queue).await;
        for message in &messages {
            self.delete(&queue, message).await;
        }
        messages.len()
    }

    /// Delivers what is waiting on queue `name` only, once, to its consumer (deleting what
    /// succeeded); the other queues keep their messages.
    pub async fn pump_only(&self, name: QueueName) {
        let queue = self.queue(name).clone();
        let messages = self.receive(&queue).await;
        for batch in messages.chunks(10) {
            let response = self.consume(&queue, batch).await;
            assert!(
                response.batch_item_failures.is_empty(),
                "{:?}",
                response.batch_item_failures
            );
            for message in batch {
                self.delete(&queue, message).await;
            }
        }
    }

    // --- Assertions ---------------------------------------------------------------------------

    /// How many items of the table have a partition key starting with `prefix` (a scan).
    pub async fn items_with_pk_prefix(&self, prefix: &str) -> usize {
        let mut count = 0;
        let mut start = None;
        loop {
            let page = self
                .dynamodb
                .scan()
                .table_name(&self.table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap();
            count += page
                .items()
                .iter()
                .filter(|item| {
                    item.get("pk")
                        .and_then(|pk| pk.as_s().ok())
                        .is_some_and(|pk| pk.starts_with(prefix))
                })
                .count();
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return count,
            }
        }
    }

    /// Every incident, newest first.
    pub async fn incidents(&self) -> Vec<StoredIncident> {
        self.repo.recent_incidents(None, 100).await.unwrap().items
    }

    /// The only incident.
    pub async fn only_incident(&self) -> StoredIncident {
        let mut all = self.incidents().await;
        assert_eq!(all.len(), 1, "expected exactly one incident");
        all.remove(0)
    }
}

/// Puts the deliveries of each FIFO message group back in their receive order, in the
/// positions the shuffle gave that group.
fn keep_fifo_group_order(deliveries: &mut [(usize, QueueRef, Message)]) {
    let group_of = |message: &Message| {
        message
            .attributes
            .as_ref()
            .and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId))
            .cloned()
    };
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (index, (_, _, message)) in deliveries.iter().enumerate() {
        if let Some(group) = group_of(message) {
            groups.entry(group).or_default().push(index);
        }
    }
    for positions in groups.values() {
        let mut members: Vec<(usize, QueueRef, Message)> =
            positions.iter().map(|&i| deliveries[i].clone()).collect();
        members.sort_by_key(|(order, _, _)| *order);
        for (&position, member) in positions.iter().zip(members) {
            deliveries[position] = member;
        }
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
