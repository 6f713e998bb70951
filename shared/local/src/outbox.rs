//! The outbox: every page `klaxon serve` sends, written to a file and to the console.
//!
//! [`Outbox`] implements [`EmailSender`], [`SmsSender`] and [`WebhookSender`]. Each delivery
//! attempt appends one JSON line ([`OutboxRecord`]) to the outbox file and prints a readable
//! summary, with the links it contains, to the console:
//!
//! ```text
//! {"time":"2026-03-29T01:00:03.120Z","id":"outbox-1774746003120-1","channel":"email",
//!  "recipient":"alice@example.com","subject":"[Klaxon] #12 Disk full","text":"…",
//!  "links":["http://localhost:8080/a?i=…&a=ack&…"]}
//! ```
//!
//! (one line in the file). `channel` is `email`, `sms`, or the webhook's channel (`slack`,
//! `teams`, `webhook`); `recipient` is the address, phone number or URL; `subject` is set for
//! email only; `text` is the plain-text body (the JSON body for webhooks); `links` are the
//! `http(s)` URLs found in the text, in order of first appearance (for webhooks, in the JSON
//! body's string values, with escapes decoded, objects visited in key order). When a real sender delivered it too ([`LocalSenders`]), `delivered_by`
//! names it (`smtp`, `webhook`) with the provider's id or HTTP status in `provider_id`, or the
//! failure in `error`: every attempt is a line, so a retried delivery shows each try.
//!
//! Each line is written with one `write` call on a file opened for appending and flushed at
//! once, so `tail -f` shows pages as they go out.

use crate::smtp::SmtpEmail;
use chrono::{DateTime, SecondsFormat, Utc};
use klaxon_app::ports::{
    Clock, Email, EmailSender, SendError, Sms, SmsSender, WebhookPost, WebhookSender,
};
use klaxon_app::webhook::ReqwestWebhookSender;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// One line of the outbox file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxRecord {
    /// When it was recorded.
    pub time: DateTime<Utc>,
    /// The outbox's id for it (what the sender returns when nothing else delivered it).
    pub id: String,
    /// `email`, `sms`, `slack`, `teams` or `webhook`.
    pub channel: String,
    /// Email address, phone number or URL.
    pub recipient: String,
    /// Email subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Plain text (for webhooks, the JSON body).
    pub text: String,
    /// The `http(s)` links in the text, in order of first appearance.
    #[serde(default)]
    pub links: Vec<String>,
    /// Which real sender also delivered it (`smtp`, `webhook`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_by: Option<String>,
    /// The real sender's message id or HTTP status, when it succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<String>,
    /// Why the real sender failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Appends deliveries to the outbox file and prints them to the console. Cheap to clone.
#[derive(Clone)]
pub struct Outbox {
    inner: Arc<OutboxInner>,
}

struct OutboxInner {
    path: PathBuf,
    file: Mutex<File>,
    console: Mutex<Box<dyn Write + Send>>,
    clock: Arc<dyn Clock>,
    sequence: AtomicU64,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl Outbox {
    /// Opens (creating it and its folder if needed) the outbox file at `path` for appending;
    /// console lines go to stdout.
    pub fn open(path: impl AsRef<Path>, clock: Arc<dyn Clock>) -> io::Result<Self> {
        Self::with_console(path, clock, Box::new(io::stdout()))
    }

    /// Like [`Outbox::open`], with console lines going to `console`.
    pub fn with_console(
        path: impl AsRef<Path>,
        clock: Arc<dyn Clock>,
        console: Box<dyn Write + Send>,
    ) -> io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        Ok(Self {
            inner: Arc::new(OutboxInner {
                path,
                file: Mutex::new(file),
                console: Mutex::new(console),
                clock,
                sequence: AtomicU64::new(0),
            }),
        })
    }

    /// The outbox file's path.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Reads every record of an outbox file (lines that do not parse are skipped).
    pub fn read_records(path: impl AsRef<Path>) -> io::Result<Vec<OutboxRecord>> {
        let text = std::fs::read_to_string(path)?;
        Ok(text
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect())
    }

    fn record(&self, delivery: Delivery<'_>, outcome: Outcome) -> Result<String, SendError> {
        let time = self.inner.clock.now();
        let sequence = self.inner.sequence.fetch_add(1, Ordering::Relaxed) + 1;
        let id = format!("outbox-{}-{sequence}", time.timestamp_millis());
        let links = match delivery.channel {
            "email" | "sms" => extract_links(delivery.text),
            _ => json_links(delivery.text),
        };
        let (delivered_by, provider_id, error) = match outcome {
            Outcome::OutboxOnly => (None, None, None),
            Outcome::Delivered { by, provider_id } => {
                (Some(by.to_owned()), Some(provider_id), None)
            }
            Outcome::Failed { by, error } => (Some(by.to_owned()), None, Some(error)),
        };
        let record = OutboxRecord {
            time,
            id: id.clone(),
            channel: delivery.channel.to_owned(),
            recipient: delivery.recipient.to_owned(),
            subject: delivery.subject.map(str::to_owned),
            text: delivery.text.to_owned(),
            links,
            delivered_by,
            provider_id,
            error,
        };
        let mut line = serde_json::to_string(&record)
            .map_err(|error| SendError::Transient(format!("outbox: {error}")))?;
        line.push('\n');
        {
            let mut file = self
                .inner
                .file
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            file.write_all(line.as_bytes())
                .and_then(|()| file.flush())
                .map_err(|error| {
                    SendError::Transient(format!("outbox {}: {error}", self.inner.path.display()))
                })?;
        }
        let summary = console_lines(&record);
        let mut console = self
            .inner
            .console
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // The console is a convenience: a closed stdout must not fail the delivery.
        let _ = console
            .write_all(summary.as_bytes())
            .and_then(|()| console.flush());
        Ok(id)
    }
}

/// What is being delivered, channel-independently.
struct Delivery<'a> {
    channel: &'a str,
    recipient: &'a str,
    subject: Option<&'a str>,
    text: &'a str,
}

impl<'a> Delivery<'a> {
    fn email(email: &'a Email) -> Self {
        Self {
            channel: "email",
            recipient: &email.to,
            subject: Some(&email.subject),
            text: &email.text,
        }
    }

    fn sms(sms: &'a Sms) -> Self {
        Self {
            channel: "sms",
            recipient: &sms.to,
            subject: None,
            text: &sms.text,
        }
    }

    fn webhook(post: &'a WebhookPost) -> Self {
        Self {
            channel: post.channel,
            recipient: &post.url,
            subject: None,
            text: &post.body,
        }
    }
}

/// What a real sender did with it.
enum Outcome {
    OutboxOnly,
    Delivered {
        by: &'static str,
        provider_id: String,
    },
    Failed {
        by: &'static str,
        error: String,
    },
}

/// The console form: `HH:MM:SSZ channel → recipient: summary`, then one indented line per link.
fn console_lines(record: &OutboxRecord) -> String {
    let summary = record
        .subject
        .clone()
        .or_else(|| {
            record
                .text
                .lines()
                .find(|line| !line.trim().is_empty())
                .map(str::to_owned)
        })
        .unwrap_or_default();
    let summary: String = summary.chars().take(160).collect();
    let mut out = format!(
        "{} {:<7} → {}: {}",
        record.time.to_rfc3339_opts(SecondsFormat::Secs, true),
        record.channel,
        record.recipient,
        summary
    );
    match (&record.delivered_by, &record.error) {
        (Some(by), Some(error)) => out.push_str(&format!(" [{by} FAILED: {error}]")),
        (Some(by), None) => out.push_str(&format!(" [sent by {by}]")),
        _ => {}
    }
    out.push('\n');
    for link in &record.links {
        out.push_str("    ");
        out.push_str(link);
        out.push('\n');
    }
    out
}

/// The `http(s)` URLs in free text, in order of first appearance, without duplicates. A URL
/// ends at whitespace or at a character that delimits URLs in text, Markdown, HTML or Slack
/// markup (`"'<>|()[]{}\` and the backtick); trailing sentence punctuation is dropped.
pub fn extract_links(text: &str) -> Vec<String> {
    let mut links = Vec::new();
    collect_links(text, &mut links);
    links
}

fn collect_links(text: &str, links: &mut Vec<String>) {
    let mut rest = text;
    while let Some(start) = find_scheme(rest) {
        let candidate = &rest[start..];
        let end = candidate
            .find(|c: char| c.is_whitespace() || "\"'<>|()[]{}\\`".contains(c))
            .unwrap_or(candidate.len());
        let url = candidate[..end].trim_end_matches(['.', ',', ';', ':', '!', '?']);
        if url.len() > "https://".len() && !links.iter().any(|known| known == url) {
            links.push(url.to_owned());
        }
        rest = &candidate[end.max(1)..];
    }
}

/// The byte offset of the next `http://` or `https://`.
fn find_scheme(text: &str) -> Option<usize> {
    match (text.find("http://"), text.find("https://")) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Links in a JSON body: collected from its string values (so JSON escapes are decoded),
/// objects visited in key order; a body that is not JSON is scanned as text.
fn json_links(body: &str) -> Vec<String> {
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(value) => {
            let mut links = Vec::new();
            walk_json(&value, &mut links);
            links
        }
        Err(_) => extract_links(body),
    }
}

fn walk_json(value: &serde_json::Value, links: &mut Vec<String>) {
    match value {
        serde_json::Value::String(text) => collect_links(text, links),
        serde_json::Value::Array(items) => items.iter().for_each(|item| walk_json(item, links)),
        serde_json::Value::Object(fields) => {
            fields.values().for_each(|item| walk_json(item, links))
        }
        _ => {}
    }
}

impl EmailSender for Outbox {
    async fn send_email(&self, email: &Email) -> Result<String, SendError> {
        self.record(Delivery::email(email), Outcome::OutboxOnly)
    }
}

impl SmsSender for Outbox {
    async fn send_sms(&self, sms: &Sms) -> Result<String, SendError> {
        self.record(Delivery::sms(sms), Outcome::OutboxOnly)
    }
}

impl WebhookSender for Outbox {
    /// Records the post and answers 200 (nothing is posted).
    async fn post(&self, post: &WebhookPost) -> Result<u16, SendError> {
        self.record(Delivery::webhook(post), Outcome::OutboxOnly)
            .map(|_| 200)
    }
}

/// The senders of `klaxon serve`: every delivery is recorded in the outbox, and email and
/// webhooks are also delivered for real when an SMTP server or webhook sender is configured.
/// SMS has no local provider: it goes to the outbox only.
///
/// With a real sender, its result is the delivery's result (a failure is recorded in the
/// outbox line's `error` and returned, so the notify use case retries or gives up as it would
/// in the cloud).
#[derive(Debug, Clone)]
pub struct LocalSenders<W = ReqwestWebhookSender> {
    /// Where every delivery is recorded.
    pub outbox: Outbox,
    /// Real email delivery, when configured.
    pub smtp: Option<SmtpEmail>,
    /// Real webhook delivery (Slack, Teams, generic), when enabled.
    pub webhooks: Option<W>,
}

impl<W: WebhookSender> EmailSender for LocalSenders<W> {
    async fn send_email(&self, email: &Email) -> Result<String, SendError> {
        let Some(smtp) = &self.smtp else {
            return self.outbox.send_email(email).await;
        };
        match smtp.send_email(email).await {
            Ok(message_id) => {
                self.outbox.record(
                    Delivery::email(email),
                    Outcome::Delivered {
                        by: "smtp",
                        provider_id: message_id.clone(),
                    },
                )?;
                Ok(message_id)
            }
            Err(error) => {
                self.outbox.record(
                    Delivery::email(email),
                    Outcome::Failed {
                        by: "smtp",
                        error: error.to_string(),
                    },
                )?;
                Err(error)
            }
        }
    }
}

impl<W: WebhookSender> SmsSender for LocalSenders<W> {
    async fn send_sms(&self, sms: &Sms) -> Result<String, SendError> {
        self.outbox.send_sms(sms).await
    }
}

impl<W: WebhookSender> WebhookSender for LocalSenders<W> {
    async fn post(&self, post: &WebhookPost) -> Result<u16, SendError> {
        let Some(webhooks) = &self.webhooks else {
            return self.outbox.post(post).await;
        };
        match webhooks.post(post).await {
            Ok(status) => {
                self.outbox.record(
                    Delivery::webhook(post),
                    Outcome::Delivered {
                        by: "webhook",
                        provider_id: status.to_string(),
                    },
                )?;
                Ok(status)
            }
            Err(error) => {
                self.outbox.record(
                    Delivery::webhook(post),
                    Outcome::Failed {
                        by: "webhook",
                        error: error.to_string(),
                    },
                )?;
                Err(error)
            }
        }
    }
}

#[cfg(test)]
mod tests;
