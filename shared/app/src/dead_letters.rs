//! The dead-letters port: messages a consumer could not process, listed for inspection and
//! redriven (sent back to the queue they came from) by an admin.
//!
//! Locally the dead letters are a table of the SQLite queue (`klaxon-local`); on AWS they are
//! the SQS dead-letter queues of template.yaml (`klaxon-aws`), one per pipeline queue, plus the
//! scheduler's dead-letter queue of timers EventBridge Scheduler could not deliver (redriven to
//! the timers queue). The trait is object safe (boxed futures) so the console holds it as
//! `Arc<dyn DeadLetters>` without another type parameter on every handler.

use crate::messages::{QueueMessage, QueueName};
use crate::ports::QueueError;
use chrono::{DateTime, Utc};
use std::future::Future;
use std::pin::Pin;

/// How many characters of a body the preview shows.
pub const PREVIEW_CHARS: usize = 160;

/// A dead-letter queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeadLetterQueue {
    /// Alert messages grouping could not process (FIFO on AWS).
    Alerts,
    /// Incident messages routing could not process.
    Incidents,
    /// Timer messages routing could not process.
    Timers,
    /// Pages and notices notify could not process.
    Notifications,
    /// Timers EventBridge Scheduler could not deliver to the timers queue (AWS only).
    Scheduler,
}

impl DeadLetterQueue {
    /// Every dead-letter queue, in pipeline order.
    pub const ALL: [DeadLetterQueue; 5] = [
        DeadLetterQueue::Alerts,
        DeadLetterQueue::Incidents,
        DeadLetterQueue::Timers,
        DeadLetterQueue::Notifications,
        DeadLetterQueue::Scheduler,
    ];

    /// The name used in URLs and forms (`alerts`, …, `scheduler`).
    pub fn as_str(self) -> &'static str {
        match self {
            DeadLetterQueue::Alerts => "alerts",
            DeadLetterQueue::Incidents => "incidents",
            DeadLetterQueue::Timers => "timers",
            DeadLetterQueue::Notifications => "notifications",
            DeadLetterQueue::Scheduler => "scheduler",
        }
    }

    /// The queue named `name`, if any.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|queue| queue.as_str() == name)
    }

    /// The dead-letter queue of pipeline queue `queue`.
    pub fn of(queue: QueueName) -> Self {
        match queue {
            QueueName::Alerts => DeadLetterQueue::Alerts,
            QueueName::Incidents => DeadLetterQueue::Incidents,
            QueueName::Timers => DeadLetterQueue::Timers,
            QueueName::Notifications => DeadLetterQueue::Notifications,
        }
    }

    /// The queue a redriven message goes back to (the scheduler's timers go to the timers
    /// queue, which is where the scheduler would have delivered them).
    pub fn source(self) -> QueueName {
        match self {
            DeadLetterQueue::Alerts => QueueName::Alerts,
            DeadLetterQueue::Incidents => QueueName::Incidents,
            DeadLetterQueue::Timers | DeadLetterQueue::Scheduler => QueueName::Timers,
            DeadLetterQueue::Notifications => QueueName::Notifications,
        }
    }
}

/// What a dead letter's body says it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Concern {
    /// An incident (incident, timer, page and notice messages).
    Incident(String),
    /// An alert occurrence (alert messages).
    Alert(String),
    /// A heartbeat (heartbeat timers).
    Heartbeat(String),
}

/// One dead letter. Fields a deployment cannot know are `None` (SQS keeps no time of death
/// and no error for a message its consumer failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Its queue.
    pub queue: DeadLetterQueue,
    /// Its identifier within the queue (the local message id; the SQS `MessageId`): what
    /// [`DeadLetters::redrive`] takes.
    pub id: String,
    /// How many times it was handed to a consumer (SQS's `ApproximateReceiveCount`, which
    /// also counts the receives that listed it).
    pub receives: Option<u32>,
    /// When it was first sent.
    pub sent_at: Option<DateTime<Utc>>,
    /// When it was dead-lettered.
    pub dead_at: Option<DateTime<Utc>>,
    /// The last error, when kept (local queue; the scheduler's `ERROR_MESSAGE`).
    pub last_error: Option<String>,
    /// The raw body.
    pub body: String,
}

impl DeadLetter {
    /// The start of the body, at most [`PREVIEW_CHARS`] characters (an ellipsis marks a cut).
    pub fn preview(&self) -> String {
        let mut chars = self.body.chars();
        let preview: String = chars.by_ref().take(PREVIEW_CHARS).collect();
        if chars.next().is_some() {
            format!("{preview}…")
        } else {
            preview
        }
    }

    /// The incident, alert or heartbeat the body names: from the Klaxon message it holds, or,
    /// for a body that is JSON but not a message this version reads, from its `incident` or
    /// `alert_id` field.
    pub fn concerns(&self) -> Option<Concern> {
        match QueueMessage::from_json(&self.body) {
            Ok(message) => concern_of(&message),
            Err(_) => {
                let value: serde_json::Value = serde_json::from_str(&self.body).ok()?;
                let field = |name: &str| value.get(name)?.as_str().map(str::to_owned);
                field("incident")
                    .map(Concern::Incident)
                    .or_else(|| field("alert_id").map(Concern::Alert))
            }
        }
    }
}

fn concern_of(message: &QueueMessage) -> Option<Concern> {
    let incident = |id: &klaxon_domain::ids::IncidentId| Some(Concern::Incident(id.to_string()));
    match message {
        QueueMessage::Alert(alert) => Some(Concern::Alert(alert.alert_id.to_string())),
        QueueMessage::Incident(message) => incident(&message.incident),
        QueueMessage::Timer(timer) => incident(&timer.incident),
        QueueMessage::Page(page) => incident(&page.incident),
        QueueMessage::Notice(notice) => incident(&notice.incident),
        QueueMessage::HeartbeatTimer(timer) => {
            Some(Concern::Heartbeat(timer.heartbeat.to_string()))
        }
        QueueMessage::Sweep { .. } => None,
    }
}

/// The dead letters of one queue, as far as they were looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterListing {
    /// The queue.
    pub queue: DeadLetterQueue,
    /// How many dead letters it holds (SQS: `ApproximateNumberOfMessages` plus those in
    /// flight), which may be more than `letters` holds.
    pub count: u64,
    /// The dead letters looked at, oldest first where the queue keeps an order.
    pub letters: Vec<DeadLetter>,
}

/// A dead-letter operation's future.
pub type DeadLetterFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, QueueError>> + Send + 'a>>;

/// Lists and redrives dead letters.
pub trait DeadLetters: Send + Sync {
    /// The dead-letter queues this deployment has.
    fn queues(&self) -> Vec<DeadLetterQueue>;

    /// The dead letters of `queue`, at most `limit` of them.
    fn list(&self, queue: DeadLetterQueue, limit: usize)
    -> DeadLetterFuture<'_, DeadLetterListing>;

    /// Sends dead letter `id` of `queue` back to [`DeadLetterQueue::source`] and removes it
    /// from the dead letters. `false` when `queue` holds no such dead letter (already
    /// redriven: a repeated redrive is not a second message).
    fn redrive<'a>(&'a self, queue: DeadLetterQueue, id: &'a str) -> DeadLetterFuture<'a, bool>;

    /// Redrives every dead letter of `queue` (at most `limit`); returns how many.
    fn redrive_all(&self, queue: DeadLetterQueue, limit: usize) -> DeadLetterFuture<'_, u64>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter(body: &str) -> DeadLetter {
        DeadLetter {
            queue: DeadLetterQueue::Incidents,
            id: "1".into(),
            receives: None,
            sent_at: None,
            dead_at: None,
            last_error: None,
            body: body.into(),
        }
    }

    #[test]
    fn every_queue_parses_back_from_its_name_and_redrives_to_its_source() {
        for queue in DeadLetterQueue::ALL {
            assert_eq!(DeadLetterQueue::parse(queue.as_str()), Some(queue));
        }
        assert_eq!(DeadLetterQueue::parse("alerts.fifo"), None);
        assert_eq!(DeadLetterQueue::Scheduler.source(), QueueName::Timers);
        for name in QueueName::ALL {
            assert_eq!(DeadLetterQueue::of(name).source(), name);
        }
    }

    #[test]
    fn the_concern_comes_from_the_message_or_from_a_json_field() {
        let message = r#"{"kind":"incident","incident":"0192abcd","event":"triggered"}"#;
        assert_eq!(
            letter(message).concerns(),
            Some(Concern::Incident("0192abcd".into()))
        );
        let unknown = r#"{"kind":"from_the_future","incident":"0192ffff"}"#;
        assert_eq!(
            letter(unknown).concerns(),
            Some(Concern::Incident("0192ffff".into()))
        );
        assert_eq!(letter("{not json").concerns(), None);
        assert_eq!(letter(r#"{"kind":"sweep"}"#).concerns(), None);
    }

    #[test]
    fn a_long_body_is_cut_at_a_character_with_an_ellipsis() {
        let long = "é".repeat(PREVIEW_CHARS + 1);
        let preview = letter(&long).preview();
        assert_eq!(preview.chars().count(), PREVIEW_CHARS + 1);
        assert!(preview.ends_with('…'));
        assert_eq!(letter("short").preview(), "short");
    }
}
