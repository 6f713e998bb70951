//! In-memory port doubles for use-case tests: they record what the use cases asked for, and can
//! be told to fail, so tests assert on pages, timers and sends a user would notice.

use chrono::{DateTime, Utc};
use klaxon_app::messages::{QueueMessage, QueueName};
use klaxon_app::ports::{
    Email, EmailSender, IdGenerator, Queue, QueueError, SendError, Sms, SmsSender, TimerError,
    Timers, WebhookPost, WebhookSender,
};
use klaxon_domain::escalation::{TimerName, TimerPayload};
use klaxon_domain::heartbeat::HeartbeatTimer;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A queue that keeps every message, per queue, in order.
#[derive(Debug, Clone, Default)]
pub struct RecordingQueue {
    inner: Arc<Mutex<QueueState>>,
}

#[derive(Debug, Default)]
struct QueueState {
    messages: BTreeMap<&'static str, VecDeque<QueueMessage>>,
    fail_next: usize,
}

impl RecordingQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes the next `n` sends fail.
    pub fn fail_next(&self, n: usize) {
        self.inner.lock().unwrap().fail_next = n;
    }

    /// Removes and returns every message queued on `queue`, oldest first.
    pub fn drain(&self, queue: QueueName) -> Vec<QueueMessage> {
        self.inner
            .lock()
            .unwrap()
            .messages
            .get_mut(queue.as_str())
            .map(|q| q.drain(..).collect())
            .unwrap_or_default()
    }

    /// Removes and returns the oldest message on `queue`.
    pub fn pop(&self, queue: QueueName) -> Option<QueueMessage> {
        self.inner
            .lock()
            .unwrap()
            .messages
            .get_mut(queue.as_str())
            .and_then(VecDeque::pop_front)
    }

    /// A copy of every message on `queue`, oldest first.
    pub fn peek(&self, queue: QueueName) -> Vec<QueueMessage> {
        self.inner
            .lock()
            .unwrap()
            .messages
            .get(queue.as_str())
            .map(|q| q.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// A copy of every message still queued, queue by queue (by queue name), each queue's
    /// oldest first.
    pub fn all(&self) -> Vec<QueueMessage> {
        self.inner
            .lock()
            .unwrap()
            .messages
            .values()
            .flat_map(|q| q.iter().cloned())
            .collect()
    }
}

impl Queue for RecordingQueue {
    async fn send(&self, message: &QueueMessage) -> Result<(), QueueError> {
        let mut state = self.inner.lock().unwrap();
        if state.fail_next > 0 {
            state.fail_next -= 1;
            return Err(QueueError {
                queue: message.queue().as_str(),
                message: "injected failure".into(),
            });
        }
        state
            .messages
            .entry(message.queue().as_str())
            .or_default()
            .push_back(message.clone());
        Ok(())
    }
}

/// An armed timer.
#[derive(Debug, Clone, PartialEq)]
pub struct ArmedTimer {
    /// When it fires.
    pub due: DateTime<Utc>,
    /// What it delivers.
    pub payload: TimerPayload,
}

/// Armed heartbeat timers by name: (due, payload).
pub type ArmedHeartbeats = BTreeMap<String, (DateTime<Utc>, HeartbeatTimer)>;

/// Timers kept in a map by name (arming an existing name keeps the first, like the adapters).
#[derive(Debug, Clone, Default)]
pub struct RecordingTimers {
    armed: Arc<Mutex<BTreeMap<String, ArmedTimer>>>,
    heartbeats: Arc<Mutex<ArmedHeartbeats>>,
    cancelled: Arc<Mutex<Vec<String>>>,
}

impl RecordingTimers {
    /// No timers.
    pub fn new() -> Self {
        Self::default()
    }

    /// The armed timers by name.
    pub fn armed(&self) -> BTreeMap<String, ArmedTimer> {
        self.armed.lock().unwrap().clone()
    }

    /// The armed heartbeat timers by name: (due, payload).
    pub fn armed_heartbeats(&self) -> ArmedHeartbeats {
        self.heartbeats.lock().unwrap().clone()
    }

    /// Names cancelled so far (in order).
    pub fn cancelled(&self) -> Vec<String> {
        self.cancelled.lock().unwrap().clone()
    }

    /// Removes and returns the timer due first (as the scheduler would fire it).
    pub fn take_next(&self) -> Option<ArmedTimer> {
        let mut armed = self.armed.lock().unwrap();
        let name = armed
            .iter()
            .min_by_key(|(_, t)| t.due)
            .map(|(n, _)| n.clone())?;
        armed.remove(&name)
    }
}

impl Timers for RecordingTimers {
    async fn arm(
        &self,
        name: &TimerName,
        due: DateTime<Utc>,
        payload: &TimerPayload,
    ) -> Result<(), TimerError> {
        self.armed
            .lock()
            .unwrap()
            .entry(name.as_str().to_string())
            .or_insert(ArmedTimer {
                due,
                payload: payload.clone(),
            });
        Ok(())
    }

    async fn arm_heartbeat(
        &self,
        name: &TimerName,
        due: DateTime<Utc>,
        payload: &HeartbeatTimer,
    ) -> Result<(), TimerError> {
        self.heartbeats
            .lock()
            .unwrap()
            .entry(name.as_str().to_string())
            .or_insert((due, payload.clone()));
        Ok(())
    }

    async fn cancel(&self, name: &TimerName) -> Result<(), TimerError> {
        self.armed.lock().unwrap().remove(name.as_str());
        self.heartbeats.lock().unwrap().remove(name.as_str());
        self.cancelled
            .lock()
            .unwrap()
            .push(name.as_str().to_string());
        Ok(())
    }
}

/// Everything sent, by channel.
#[derive(Debug, Clone, Default)]
pub struct Sent {
    /// Emails.
    pub emails: Vec<Email>,
    /// SMS.
    pub sms: Vec<Sms>,
    /// Webhook posts (Slack, Teams, generic).
    pub webhooks: Vec<WebhookPost>,
}

/// Senders that record every send and can be told to fail.
#[derive(Debug, Clone, Default)]
pub struct RecordingSenders {
    sent: Arc<Mutex<Sent>>,
    failures: Arc<Mutex<VecDeque<SendError>>>,
    counter: Arc<AtomicU64>,
}

impl RecordingSenders {
    /// Nothing sent yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// What was sent so far.
    pub fn sent(&self) -> Sent {
        self.sent.lock().unwrap().clone()
    }

    /// Makes the next sends fail with these errors, in order.
    pub fn fail_with(&self, errors: impl IntoIterator<Item = SendError>) {
        self.failures.lock().unwrap().extend(errors);
    }

    fn next(&self) -> Result<String, SendError> {
        if let Some(error) = self.failures.lock().unwrap().pop_front() {
            return Err(error);
        }
        Ok(format!(
            "msg-{}",
            self.counter.fetch_add(1, Ordering::SeqCst)
        ))
    }
}

impl EmailSender for RecordingSenders {
    async fn send_email(&self, email: &Email) -> Result<String, SendError> {
        let id = self.next()?;
        self.sent.lock().unwrap().emails.push(email.clone());
        Ok(id)
    }
}

impl SmsSender for RecordingSenders {
    async fn send_sms(&self, sms: &Sms) -> Result<String, SendError> {
        let id = self.next()?;
        self.sent.lock().unwrap().sms.push(sms.clone());
        Ok(id)
    }
}

impl WebhookSender for RecordingSenders {
    async fn post(&self, post: &WebhookPost) -> Result<u16, SendError> {
        self.next()?;
        self.sent.lock().unwrap().webhooks.push(post.clone());
        Ok(200)
    }
}

/// Deterministic ids: a prefix and a counter, as 32 hex-ish characters.
#[derive(Debug, Default)]
pub struct SequentialIds {
    next: AtomicU64,
}

impl IdGenerator for SequentialIds {
    fn new_id(&self) -> String {
        format!("{:032x}", self.next.fetch_add(1, Ordering::SeqCst) + 1)
    }
}
