//! Playing Lambda's event source mapping and EventBridge Scheduler against moto, the way they
//! misbehave in production: every message delivered at least once, a share twice and (on the
//! standard queues) out of order; a share of handled messages not deleted (the function timed
//! out, or the mapping's delete failed) and so redelivered after their visibility timeout;
//! failed batch items redelivered until the queue's redrive policy moves them to the
//! dead-letter queue; every timer fired once, twice or late.
//!
//! Time is the handlers' injected clock, not moto's: a message is received with a 12-hour
//! visibility timeout (so moto never shows it again by itself) and made visible again when the
//! injected clock reaches the time SQS would show it: a failed record after the functions'
//! retry backoff (`klaxon_aws::lambda::RetryBackoff`, which the functions' `main`s wire: 30 s
//! doubling), an undeleted one after its queue's `VisibilityTimeout` from template.yaml. When
//! nothing is visible but something is waiting, the clock moves to the earliest such time, and
//! every timer due by then fires first, as EventBridge Scheduler would have fired it meanwhile.

use super::deploy::{Deployment, QueueRef};
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use klaxon_app::messages::{QueueMessage, QueueName};
use klaxon_aws::lambda::{RetryBackoff, SqsBatchResponse, SqsEvent};
use klaxon_domain::escalation::TimerPayload;
use klaxon_store::Clock;
use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

/// How often the event source mapping and the scheduler misbehave.
#[derive(Debug, Clone, Copy)]
pub struct Delivery {
    /// Share of messages (or FIFO batches) delivered a second time.
    pub duplicate: f64,
    /// Share of handled messages left undeleted (redelivered after the visibility timeout).
    pub undeleted: f64,
    /// Share of timers fired twice.
    pub timer_twice: f64,
    /// Share of timers fired late (minutes after their time).
    pub timer_late: f64,
}

/// What the plumbing did.
#[derive(Debug, Clone, Default)]
pub struct PlumbingStats {
    /// Batches handed to a handler.
    pub batches: u64,
    /// Records handed to a handler (copies included).
    pub records: u64,
    /// Extra copies delivered on purpose.
    pub duplicates: u64,
    /// Records a handler reported failed.
    pub failed_items: u64,
    /// Messages received again after their visibility timeout (failed or left undeleted).
    pub redeliveries: u64,
    /// Timers fired (copies included), fired twice, fired late.
    pub timers_fired: u64,
    /// Timers fired twice.
    pub timers_twice: u64,
    /// Timers fired late.
    pub timers_late: u64,
    /// Times the clock was moved on to the next redelivery (nothing else was visible).
    pub waits: u64,
    /// Injected time those waits added up to, in seconds.
    pub waited_seconds: i64,
    /// Where the plumbing's wall time went.
    pub wall: PlumbingWall,
}

/// Wall-clock seconds the plumbing spent on each of its activities (what a run waits on).
#[derive(Debug, Clone, Copy, Default)]
pub struct PlumbingWall {
    /// Receiving from the queues (moto, directly).
    pub receiving: f64,
    /// Rounds of handlers running (from the first batch handed over to the last answer).
    pub handling: f64,
    /// Deleting handled messages and hiding the rest (moto, directly).
    pub settling: f64,
    /// Making hidden messages visible again (moto, directly).
    pub releasing: f64,
    /// Listing, reading, firing and deleting schedules (moto, directly).
    pub scheduling: f64,
}

/// A received message that SQS will show again at `visible_at` (injected clock).
struct Hidden {
    url: String,
    handle: String,
    visible_at: DateTime<Utc>,
}

/// The mapping, the scheduler and their randomness.
pub struct Plumbing {
    deployment: Arc<Deployment>,
    rng: Mutex<StdRng>,
    delivery: Delivery,
    stats: Mutex<PlumbingStats>,
    /// Messages received and neither deleted nor yet visible again.
    pending: Mutex<Vec<Hidden>>,
    /// Timers already fired once, for late copies.
    fired: Mutex<Vec<TimerPayload>>,
}

/// Rounds of delivery (passes of receives that found messages) in one drain before a queue
/// that never drains fails the test.
const MAX_ROUNDS: usize = 4_000;

/// How long the plumbing waits for a running handler before it polls the queues again.
const POLL_WHILE_RUNNING: std::time::Duration = std::time::Duration::from_millis(200);

/// What one lane's handlers answered: each batch with its response.
type LaneResults = Vec<(Vec<Message>, SqsBatchResponse)>;

/// One pass of receives whose lanes are still running: settled when the last is done.
struct Round {
    /// Every message received in the pass (copies not repeated).
    received: Vec<(QueueRef, Message)>,
    /// Receipt handles some handler reported failed.
    failed: BTreeSet<String>,
    /// Lanes not finished yet.
    lanes_left: usize,
}

/// The visibility timeout of every receive (SQS's maximum, 12 hours): moto shows a message
/// again only when the plumbing says so.
const HIDDEN_SECONDS: i32 = 43_200;

impl Plumbing {
    /// Plumbing for `deployment`.
    pub fn new(deployment: Arc<Deployment>, rng: StdRng, delivery: Delivery) -> Self {
        Self {
            deployment,
            rng: Mutex::new(rng),
            delivery,
            stats: Mutex::default(),
            pending: Mutex::default(),
            fired: Mutex::default(),
        }
    }

    /// What the plumbing did so far.
    pub fn stats(&self) -> PlumbingStats {
        self.stats.lock().unwrap().clone()
    }

    fn chance(&self, p: f64) -> bool {
        self.rng.lock().unwrap().random_bool(p.clamp(0.0, 1.0))
    }

    async fn receive(&self, url: &str) -> Vec<Message> {
        let mut all = Vec::new();
        loop {
            let received = self
                .deployment
                .sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .wait_time_seconds(0)
                .visibility_timeout(HIDDEN_SECONDS)
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

    /// Makes visible again every message whose time has come on the injected clock.
    async fn release_due(&self) {
        let now = self.deployment.clock.now();
        let due: Vec<Hidden> = {
            let mut pending = self.pending.lock().unwrap();
            let (due, waiting) = std::mem::take(&mut *pending)
                .into_iter()
                .partition(|hidden| hidden.visible_at <= now);
            *pending = waiting;
            due
        };
        for hidden in due {
            let _ = self
                .deployment
                .sqs
                .change_message_visibility()
                .queue_url(hidden.url)
                .receipt_handle(hidden.handle)
                .visibility_timeout(0)
                .send()
                .await;
        }
    }

    /// Nothing is visible: moves the clock to the earliest time a message of one of `urls`
    /// shows again, firing on the way every timer due by then. False when none is waiting.
    async fn wait_for_next(&self, urls: &[&str]) -> bool {
        let next = self
            .pending
            .lock()
            .unwrap()
            .iter()
            .filter(|hidden| urls.contains(&hidden.url.as_str()))
            .map(|hidden| hidden.visible_at)
            .min();
        let Some(next) = next else { return false };
        let clock = &self.deployment.clock;
        let before = clock.now();
        let fired = self.fire_schedules(next).await;
        self.fired.lock().unwrap().extend(fired);
        if next > clock.now() {
            clock.set(next);
        }
        let mut stats = self.stats.lock().unwrap();
        stats.waits += 1;
        stats.waited_seconds += (clock.now() - before).num_seconds();
        true
    }

    /// The batches of one round for `queue`: FIFO batches in receive order (a duplicate batch
    /// right after its original, so a group's order holds), standard queues shuffled with extra
    /// copies placed at random.
    fn batches(&self, queue: &QueueRef, messages: Vec<Message>) -> Vec<Vec<Message>> {
        let mut stats = self.stats.lock().unwrap();
        if queue.name == QueueName::Alerts {
            let mut batches = Vec::new();
            for chunk in messages.chunks(10) {
                batches.push(chunk.to_vec());
                if self.chance(self.delivery.duplicate) {
                    stats.duplicates += chunk.len() as u64;
                    batches.push(chunk.to_vec());
                }
            }
            return batches;
        }
        let mut copies = Vec::new();
        for message in messages {
            if self.chance(self.delivery.duplicate) {
                stats.duplicates += 1;
                copies.push(message.clone());
            }
            copies.push(message);
        }
        copies.shuffle(&mut *self.rng.lock().unwrap());
        copies.chunks(10).map(<[Message]>::to_vec).collect()
    }

    /// Delivers until every queue is empty. Returns the records delivered.
    pub async fn drain(&self) -> u64 {
        self.drain_queues(&QueueName::ALL).await
    }

    /// Delivers until queue `name` is empty (the others keep their messages).
    pub async fn drain_only(&self, name: QueueName) -> u64 {
        self.drain_queues(&[name]).await
    }

    async fn drain_queues(&self, names: &[QueueName]) -> u64 {
        let before = self.stats().records;
        let urls: Vec<String> = self
            .deployment
            .queues
            .iter()
            .filter(|q| names.contains(&q.name))
            .map(|q| q.url.clone())
            .collect();
        let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
        // Lanes of handler work in flight, tagged with the round (one pass of receives) they
        // came from; a round is settled when its last lane is done. Like an event source
        // mapping, the plumbing keeps polling while handlers run, so one slow call (a held
        // answer waits for the SDK's attempt timeout) delays only its own lane, not every
        // message received with it.
        let mut lanes: tokio::task::JoinSet<(usize, LaneResults)> = tokio::task::JoinSet::new();
        let mut rounds: BTreeMap<usize, Round> = BTreeMap::new();
        let mut started = 0;
        loop {
            let releasing = std::time::Instant::now();
            self.release_due().await;
            self.stats.lock().unwrap().wall.releasing += releasing.elapsed().as_secs_f64();
            let mut round = Vec::new();
            for queue in self
                .deployment
                .queues
                .iter()
                .filter(|q| names.contains(&q.name))
            {
                let receiving = std::time::Instant::now();
                let messages = self.receive(&queue.url).await;
                self.stats.lock().unwrap().wall.receiving += receiving.elapsed().as_secs_f64();
                let redelivered = messages.iter().filter(|m| receive_count(m) > 1).count();
                self.stats.lock().unwrap().redeliveries += redelivered as u64;
                round.push((queue.clone(), messages));
            }
            if round.iter().any(|(_, messages)| !messages.is_empty()) {
                assert!(
                    started < MAX_ROUNDS,
                    "the queues did not drain in {MAX_ROUNDS} rounds"
                );
                started += 1;
                let lanes_started = self.start_round(started, round, &mut lanes);
                rounds.insert(started, lanes_started);
            } else if lanes.is_empty() {
                // Nothing visible, nothing running: only now may the clock move on.
                if !self.wait_for_next(&urls).await {
                    return self.stats().records - before;
                }
                continue;
            }
            // Wait for a lane to finish, or a moment: running handlers queue new messages.
            let handling = std::time::Instant::now();
            let mut finished = Vec::new();
            tokio::select! {
                Some(joined) = lanes.join_next() => finished.push(joined),
                () = tokio::time::sleep(POLL_WHILE_RUNNING) => {}
            }
            while let Some(joined) = lanes.try_join_next() {
                finished.push(joined);
            }
            self.stats.lock().unwrap().wall.handling += handling.elapsed().as_secs_f64();
            for joined in finished {
                let (id, results) = joined.expect("a handler panicked");
                let done = {
                    let round = rounds.get_mut(&id).expect("a lane of an unknown round");
                    let mut stats = self.stats.lock().unwrap();
                    for (batch, response) in results {
                        stats.batches += 1;
                        stats.records += batch.len() as u64;
                        stats.failed_items += response.batch_item_failures.len() as u64;
                        round.failed.extend(failed_handles(&batch, &response));
                    }
                    round.lanes_left -= 1;
                    round.lanes_left == 0
                };
                if done && let Some(round) = rounds.remove(&id) {
                    let settling = std::time::Instant::now();
                    self.settle(round.received, &round.failed).await;
                    self.stats.lock().unwrap().wall.settling += settling.elapsed().as_secs_f64();
                }
            }
        }
    }

    /// Hands one round's messages to the handlers: the FIFO queue's batches of one message
    /// group one after another (the group's order holds), its groups concurrently, as Lambda
    /// scales a FIFO queue's consumers by message group; the standard queues' batches
    /// concurrently, as parallel function instances.
    fn start_round(
        &self,
        id: usize,
        round: Vec<(QueueRef, Vec<Message>)>,
        lanes: &mut tokio::task::JoinSet<(usize, LaneResults)>,
    ) -> Round {
        let mut received = Vec::new();
        let mut count = 0;
        for (queue, messages) in round {
            received.extend(messages.iter().map(|m| (queue.clone(), m.clone())));
            let queue_lanes: Vec<Vec<Vec<Message>>> = if queue.name == QueueName::Alerts {
                by_message_group(messages)
                    .into_iter()
                    .map(|group| self.batches(&queue, group))
                    .collect()
            } else {
                self.batches(&queue, messages)
                    .into_iter()
                    .map(|batch| vec![batch])
                    .collect()
            };
            for lane in queue_lanes {
                let deployment = Arc::clone(&self.deployment);
                let queue = queue.clone();
                count += 1;
                lanes.spawn(async move {
                    let mut results = Vec::new();
                    for batch in lane {
                        let response = consume(&deployment, &queue, &batch).await;
                        results.push((batch, response));
                    }
                    (id, results)
                });
            }
        }
        Round {
            received,
            failed: BTreeSet::new(),
            lanes_left: count,
        }
    }

    /// Deletes what was handled, but leaves a share undeleted (shown again after its queue's
    /// visibility timeout); what failed is shown again after the functions' retry backoff for
    /// its receive count.
    async fn settle(&self, received: Vec<(QueueRef, Message)>, failed: &BTreeSet<String>) {
        let now = self.deployment.clock.now();
        let backoff = RetryBackoff::new(self.deployment.sqs.clone());
        for (queue, message) in received {
            let handle = message.receipt_handle.clone().unwrap();
            let wait = if failed.contains(&handle) {
                Some(backoff.delay(receive_count(&message)))
            } else if self.chance(self.delivery.undeleted) {
                Some(std::time::Duration::from_secs(queue.visibility_timeout))
            } else {
                None
            };
            if let Some(wait) = wait {
                self.pending.lock().unwrap().push(Hidden {
                    url: queue.url.clone(),
                    handle,
                    visible_at: now + TimeDelta::from_std(wait).unwrap(),
                });
                continue;
            }
            self.deployment
                .sqs
                .delete_message()
                .queue_url(&queue.url)
                .receipt_handle(handle)
                .send()
                .await
                .unwrap();
        }
    }

    // --- the scheduler ----------------------------------------------------------------------

    /// Every schedule in the escalation group: (name, at, timer).
    pub async fn schedules(&self) -> Vec<(String, DateTime<Utc>, TimerPayload)> {
        let d = &self.deployment;
        let mut names = Vec::new();
        let mut token = None;
        loop {
            let page = d
                .scheduler
                .list_schedules()
                .group_name(&d.group)
                .set_next_token(token)
                .send()
                .await
                .unwrap();
            names.extend(page.schedules.into_iter().filter_map(|s| s.name));
            match page.next_token {
                Some(next) if !next.is_empty() => token = Some(next),
                _ => break,
            }
        }
        let mut schedules = Vec::new();
        for name in names {
            let Ok(schedule) = d
                .scheduler
                .get_schedule()
                .name(&name)
                .group_name(&d.group)
                .send()
                .await
            else {
                continue;
            };
            let expression = schedule.schedule_expression.unwrap_or_default();
            let at = expression
                .strip_prefix("at(")
                .and_then(|rest| rest.strip_suffix(')'))
                .and_then(|at| NaiveDateTime::parse_from_str(at, "%Y-%m-%dT%H:%M:%S").ok())
                .unwrap_or_else(|| panic!("schedule {name}: {expression:?}"))
                .and_utc();
            let input = schedule.target.and_then(|t| t.input).unwrap_or_default();
            let QueueMessage::Timer(payload) = QueueMessage::from_json(&input).unwrap() else {
                panic!("schedule {name}: its Input is not a timer");
            };
            schedules.push((name, at, payload));
        }
        schedules
    }

    /// Fires every schedule due by `until` (moving the clock to each one's time, or minutes
    /// later for a late one), once or twice, deleting it afterwards (ActionAfterCompletion
    /// DELETE); also fires again a few timers fired before (late copies). Returns how many.
    pub async fn fire_due(&self, until: DateTime<Utc>) -> usize {
        let due = self.fire_schedules(until).await;
        // Late copies of timers fired in an earlier phase.
        let old: Vec<TimerPayload> = {
            let fired = self.fired.lock().unwrap();
            fired
                .iter()
                .filter(|_| self.chance(self.delivery.timer_late))
                .cloned()
                .collect()
        };
        for payload in &old {
            self.send(&QueueMessage::Timer(payload.clone()).to_json())
                .await;
        }
        {
            let mut stats = self.stats.lock().unwrap();
            stats.timers_fired += old.len() as u64;
            stats.timers_late += old.len() as u64;
        }
        let count = due.len();
        let mut fired = self.fired.lock().unwrap();
        fired.clear();
        fired.extend(due);
        count
    }

    /// Fires the schedules due by `until` (see [`Plumbing::fire_due`]), without late copies of
    /// earlier ones; the timers fired.
    async fn fire_schedules(&self, until: DateTime<Utc>) -> Vec<TimerPayload> {
        let scheduling = std::time::Instant::now();
        let fired = self.fire_schedules_untimed(until).await;
        self.stats.lock().unwrap().wall.scheduling += scheduling.elapsed().as_secs_f64();
        fired
    }

    async fn fire_schedules_untimed(&self, until: DateTime<Utc>) -> Vec<TimerPayload> {
        let d = &self.deployment;
        let mut due: Vec<_> = self
            .schedules()
            .await
            .into_iter()
            .filter(|(_, at, _)| *at <= until)
            .collect();
        due.sort_by_key(|(_, at, _)| *at);
        for (name, at, payload) in &due {
            let late = self.chance(self.delivery.timer_late);
            let when = if late {
                *at + TimeDelta::minutes(3)
            } else {
                *at
            };
            if when > d.clock.now() {
                d.clock.set(when);
            }
            let twice = self.chance(self.delivery.timer_twice);
            self.send(&QueueMessage::Timer(payload.clone()).to_json())
                .await;
            if twice {
                self.send(&QueueMessage::Timer(payload.clone()).to_json())
                    .await;
            }
            let _ = d
                .scheduler
                .delete_schedule()
                .name(name)
                .group_name(&d.group)
                .send()
                .await;
            let mut stats = self.stats.lock().unwrap();
            stats.timers_fired += 1 + u64::from(twice);
            stats.timers_twice += u64::from(twice);
            stats.timers_late += u64::from(late);
        }
        due.into_iter().map(|(_, _, payload)| payload).collect()
    }

    /// Sends a message to the timers queue, as the scheduler's SQS target does.
    pub async fn send(&self, body: &str) {
        self.deployment
            .sqs
            .send_message()
            .queue_url(&self.deployment.queue(QueueName::Timers).url)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }

    // --- dead letters -------------------------------------------------------------------------

    /// Every message in the dead-letter queues, moved back to its source queue (what
    /// `aws sqs start-message-move-task` does): (queue, body) of each.
    pub async fn redrive(&self) -> Vec<(QueueName, String)> {
        let d = &self.deployment;
        let mut moved = Vec::new();
        for queue in &d.queues {
            for message in self.receive(&queue.dlq_url).await {
                let body = message.body.clone().unwrap_or_default();
                let attributes = message.attributes.clone().unwrap_or_default();
                let mut send = d
                    .sqs
                    .send_message()
                    .queue_url(&queue.url)
                    .message_body(&body);
                if let Some(group) = attributes.get(&MessageSystemAttributeName::MessageGroupId) {
                    let dedup = attributes
                        .get(&MessageSystemAttributeName::MessageDeduplicationId)
                        .cloned()
                        .unwrap_or_else(|| message.message_id.clone().unwrap_or_default());
                    // A fresh deduplication id: the original's is still remembered for 5 min.
                    send = send
                        .message_group_id(group)
                        .message_deduplication_id(format!("redrive-{dedup}"));
                }
                send.send().await.unwrap();
                d.sqs
                    .delete_message()
                    .queue_url(&queue.dlq_url)
                    .receipt_handle(message.receipt_handle.clone().unwrap())
                    .send()
                    .await
                    .unwrap();
                moved.push((queue.name, body));
            }
        }
        moved
    }
}

/// A FIFO queue's messages split by message group, each group's in the order received.
fn by_message_group(messages: Vec<Message>) -> Vec<Vec<Message>> {
    let mut groups: Vec<(String, Vec<Message>)> = Vec::new();
    for message in messages {
        let group = message
            .attributes
            .as_ref()
            .and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId))
            .cloned()
            .unwrap_or_default();
        match groups.iter_mut().find(|(name, _)| *name == group) {
            Some((_, list)) => list.push(message),
            None => groups.push((group, vec![message])),
        }
    }
    groups.into_iter().map(|(_, list)| list).collect()
}

fn receive_count(message: &Message) -> u32 {
    message
        .attributes
        .as_ref()
        .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
        .and_then(|count| count.parse().ok())
        .unwrap_or(1)
}

/// Receipt handles of the batch's records the response reports failed (all of them when it
/// names an empty id: Lambda then retries the whole batch).
fn failed_handles(batch: &[Message], response: &SqsBatchResponse) -> Vec<String> {
    let ids: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    let whole = ids.iter().any(|id| id.is_empty());
    batch
        .iter()
        .filter(|m| whole || ids.contains(&m.message_id.as_deref().unwrap_or_default()))
        .filter_map(|m| m.receipt_handle.clone())
        .collect()
}

/// Runs the consumer of `queue` on an SQS event holding `messages`, as Lambda would.
pub async fn consume(
    deployment: &Deployment,
    queue: &QueueRef,
    messages: &[Message],
) -> SqsBatchResponse {
    let event = sqs_event(queue, messages);
    match queue.name {
        QueueName::Alerts => deployment.grouping.handle_batch(event).await,
        QueueName::Incidents | QueueName::Timers => deployment.routing.handle_batch(event).await,
        QueueName::Notifications => deployment.notify.handle_batch(event).await,
    }
}

/// An SQS event holding `messages`, shaped like the samples in `events/sqs/`.
fn sqs_event(queue: &QueueRef, messages: &[Message]) -> SqsEvent {
    let records: Vec<Value> = messages
        .iter()
        .map(|message| {
            let attributes: serde_json::Map<String, Value> = message
                .attributes
                .iter()
                .flatten()
                .map(|(name, value)| (name.as_str().to_owned(), json!(value)))
                .collect();
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
