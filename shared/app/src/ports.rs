//! Ports: what the use cases need from the outside world. Cloud adapters live in `klaxon-aws`,
//! local ones in `klaxon-local`; both are held to the same tests.
//!
//! The store port and the clock live in `klaxon-store` and are re-exported here.

use crate::messages::QueueMessage;
use chrono::{DateTime, Utc};
use klaxon_domain::escalation::{TimerName, TimerPayload};
use klaxon_domain::heartbeat::HeartbeatTimer;
use std::future::Future;

pub use klaxon_store::{Clock, SystemClock};

/// Why a queue send failed.
#[derive(Debug, thiserror::Error)]
#[error("queue {queue}: {message}")]
pub struct QueueError {
    /// Which queue.
    pub queue: &'static str,
    /// What went wrong.
    pub message: String,
}

/// Sends messages between functions (SQS in the cloud, a durable SQLite queue locally).
pub trait Queue: Send + Sync {
    /// Sends one message. Implementations route by [`QueueMessage::queue`] and use
    /// [`QueueMessage::group_id`] / [`QueueMessage::dedup_id`] where the queue supports them.
    fn send(&self, message: &QueueMessage) -> impl Future<Output = Result<(), QueueError>> + Send;
}

/// Why a timer operation failed.
#[derive(Debug, thiserror::Error)]
#[error("timer {name}: {message}")]
pub struct TimerError {
    /// The timer's name.
    pub name: String,
    /// What went wrong.
    pub message: String,
}

/// One-shot timers (EventBridge Scheduler in the cloud, a durable SQLite table locally). A fired
/// timer delivers its payload to the routing use case as a [`QueueMessage::Timer`].
pub trait Timers: Send + Sync {
    /// Arms a timer. Arming a name that already exists succeeds without change (deterministic
    /// names make re-arming after a crash idempotent).
    fn arm(
        &self,
        name: &TimerName,
        due: DateTime<Utc>,
        payload: &TimerPayload,
    ) -> impl Future<Output = Result<(), TimerError>> + Send;

    /// Arms a heartbeat's timer: like [`Timers::arm`], but the timer delivers a
    /// [`QueueMessage::HeartbeatTimer`].
    fn arm_heartbeat(
        &self,
        name: &TimerName,
        due: DateTime<Utc>,
        payload: &HeartbeatTimer,
    ) -> impl Future<Output = Result<(), TimerError>> + Send;

    /// Cancels a timer. Cancelling a timer that does not exist (fired, or never armed) succeeds.
    fn cancel(&self, name: &TimerName) -> impl Future<Output = Result<(), TimerError>> + Send;
}

/// Whether a failed send is worth retrying.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Might work later (throttling, 5xx, timeouts): the message is retried, then dead-lettered.
    #[error("transient: {0}")]
    Transient(String),
    /// Will never work (rejected address, 4xx): recorded as failed, not retried.
    #[error("permanent: {0}")]
    Permanent(String),
}

/// An email to send.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Email {
    /// Recipient address.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: String,
}

/// Sends email (SES v2 in the cloud; SMTP and/or the outbox locally).
pub trait EmailSender: Send + Sync {
    /// Sends; returns the provider's message id.
    fn send_email(&self, email: &Email) -> impl Future<Output = Result<String, SendError>> + Send;
}

/// An SMS to send.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Sms {
    /// E.164 phone number.
    pub to: String,
    /// The text (kept short: one segment where possible).
    pub text: String,
}

/// Sends SMS (SNS in the cloud; the outbox locally).
pub trait SmsSender: Send + Sync {
    /// Sends; returns the provider's message id.
    fn send_sms(&self, sms: &Sms) -> impl Future<Output = Result<String, SendError>> + Send;
}

/// A JSON POST to a chat or generic webhook.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WebhookPost {
    /// Which channel this is for (`slack`, `teams`, `webhook`), for logs and the outbox.
    pub channel: &'static str,
    /// Target URL.
    pub url: String,
    /// Extra headers (e.g. the HMAC signature).
    pub headers: Vec<(String, String)>,
    /// JSON body.
    pub body: String,
}

/// Posts webhooks (reqwest in both modes; the outbox records them locally too).
pub trait WebhookSender: Send + Sync {
    /// Posts; returns the HTTP status on success (2xx).
    fn post(&self, post: &WebhookPost) -> impl Future<Output = Result<u16, SendError>> + Send;
}

/// Generates identifiers (UUIDv7 in simple hex form, so they sort by creation time).
pub trait IdGenerator: Send + Sync {
    /// A new identifier: 32 lowercase hex characters.
    fn new_id(&self) -> String;
}

/// [`IdGenerator`] backed by UUIDv7.
#[derive(Debug, Clone, Copy, Default)]
pub struct UuidV7Ids;

impl IdGenerator for UuidV7Ids {
    fn new_id(&self) -> String {
        uuid::Uuid::now_v7().simple().to_string()
    }
}
