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
mod tests {
    use super::*;
    use crate::queue::tests::start;
    use crate::smtp::tests::{email, sender, sink};
    use klaxon_store::ManualClock;

    #[derive(Clone, Default)]
    struct Console(Arc<Mutex<Vec<u8>>>);

    impl Write for Console {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Console {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    fn outbox(dir: &tempfile::TempDir) -> (Outbox, Console) {
        let console = Console::default();
        let outbox = Outbox::with_console(
            dir.path().join("out").join("outbox.jsonl"),
            Arc::new(ManualClock::new(start())),
            Box::new(console.clone()),
        )
        .unwrap();
        (outbox, console)
    }

    fn slack_post() -> WebhookPost {
        WebhookPost {
            channel: "slack",
            url: "https://hooks.slack.com/services/T0/B0/x".to_owned(),
            headers: vec![],
            body: r##"{"text":"#12 Disk full <http://localhost:8080/i/12|open>","blocks":[{"url":"http://localhost:8080/a?i=12\u0026a=ack"}]}"##.to_owned(),
        }
    }

    #[tokio::test]
    async fn every_delivery_is_a_json_line_that_parses_back_and_a_console_line() {
        let dir = tempfile::tempdir().unwrap();
        let (outbox, console) = outbox(&dir);
        let email_id = outbox.send_email(&email()).await.unwrap();
        let sms = Sms {
            to: "+15551234567".to_owned(),
            text: "KLAXON #12 Disk full. Ack: http://localhost:8080/a?i=12&a=ack".to_owned(),
        };
        let sms_id = outbox.send_sms(&sms).await.unwrap();
        assert_eq!(outbox.post(&slack_post()).await, Ok(200));
        assert_ne!(email_id, sms_id);

        let records = Outbox::read_records(outbox.path()).unwrap();
        assert_eq!(records.len(), 3);
        let (mail, text, slack) = (&records[0], &records[1], &records[2]);
        assert_eq!(mail.id, email_id);
        assert_eq!(mail.time, start());
        assert_eq!(mail.channel, "email");
        assert_eq!(mail.recipient, "alice@example.com");
        assert_eq!(
            mail.subject.as_deref(),
            Some("[Klaxon] #12 Disk full on db-1")
        );
        assert_eq!(mail.text, email().text);
        assert_eq!(mail.links, ["http://localhost:8080/a?i=12&a=ack"]);
        assert_eq!(mail.delivered_by, None);
        assert_eq!(
            (text.channel.as_str(), text.recipient.as_str()),
            ("sms", "+15551234567")
        );
        assert_eq!(text.subject, None);
        assert_eq!(text.links, ["http://localhost:8080/a?i=12&a=ack"]);
        assert_eq!(slack.channel, "slack");
        assert_eq!(slack.recipient, "https://hooks.slack.com/services/T0/B0/x");
        assert_eq!(
            slack.links,
            // `blocks` sorts before `text`.
            [
                "http://localhost:8080/a?i=12&a=ack",
                "http://localhost:8080/i/12"
            ]
        );

        let console = console.text();
        assert!(
            console.contains(
                "2026-03-29T00:59:00Z email   → alice@example.com: [Klaxon] #12 Disk full on db-1"
            ),
            "{console}"
        );
        assert!(
            console.contains("sms     → +15551234567: KLAXON #12 Disk full."),
            "{console}"
        );
        assert!(
            console.contains("\n    http://localhost:8080/a?i=12&a=ack\n"),
            "{console}"
        );
    }

    #[tokio::test]
    async fn reopening_appends_to_the_same_file() {
        let dir = tempfile::tempdir().unwrap();
        let (first, _) = outbox(&dir);
        first.send_email(&email()).await.unwrap();
        drop(first);
        let (second, _) = outbox(&dir);
        second.send_email(&email()).await.unwrap();
        assert_eq!(Outbox::read_records(second.path()).unwrap().len(), 2);
    }

    #[test]
    fn links_are_found_in_text_markdown_html_and_slack_markup() {
        let text = "Ack: https://k.example/a?i=1&s=x_y-z. See [runbook](https://wiki/run), \
                    <a href=\"http://grafana/d/1\">graph</a>, <https://k.example/i/1|open> \
                    and again https://k.example/a?i=1&s=x_y-z, plus http:// and ftp://x.";
        assert_eq!(
            extract_links(text),
            [
                "https://k.example/a?i=1&s=x_y-z",
                "https://wiki/run",
                "http://grafana/d/1",
                "https://k.example/i/1",
            ]
        );
        assert!(extract_links("no links here").is_empty());
    }

    #[tokio::test]
    async fn local_senders_deliver_by_smtp_and_record_the_outcome() {
        let dir = tempfile::tempdir().unwrap();
        let (outbox, console) = outbox(&dir);
        let (port, captured) = sink("250 OK").await;
        let senders: LocalSenders = LocalSenders {
            outbox: outbox.clone(),
            smtp: Some(sender(port)),
            webhooks: None,
        };
        let message_id = senders.send_email(&email()).await.unwrap();
        assert!(message_id.starts_with('<'), "{message_id}");
        assert_eq!(captured.lock().unwrap().len(), 1);

        let (port, _) = sink("550 5.1.1 no such user").await;
        let rejecting: LocalSenders = LocalSenders {
            smtp: Some(sender(port)),
            ..senders.clone()
        };
        let error = rejecting.send_email(&email()).await.unwrap_err();
        assert!(matches!(error, SendError::Permanent(_)), "{error:?}");

        let records = Outbox::read_records(outbox.path()).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].delivered_by.as_deref(), Some("smtp"));
        assert_eq!(records[0].provider_id.as_deref(), Some(message_id.as_str()));
        assert_eq!(records[0].error, None);
        assert_eq!(records[1].delivered_by.as_deref(), Some("smtp"));
        assert!(
            records[1]
                .error
                .as_deref()
                .unwrap()
                .contains("no such user")
        );
        assert!(
            console.text().contains("[smtp FAILED: permanent: smtp:"),
            "{}",
            console.text()
        );
    }

    /// A webhook sender that answers with a fixed result and counts calls.
    #[derive(Clone)]
    struct FixedWebhook(Result<u16, SendError>, Arc<Mutex<usize>>);

    impl WebhookSender for FixedWebhook {
        async fn post(&self, _post: &WebhookPost) -> Result<u16, SendError> {
            *self.1.lock().unwrap() += 1;
            self.0.clone()
        }
    }

    #[tokio::test]
    async fn local_senders_post_webhooks_when_enabled_and_keep_sms_in_the_outbox() {
        let dir = tempfile::tempdir().unwrap();
        let (outbox, _) = outbox(&dir);
        let calls = Arc::new(Mutex::new(0));
        let ok = LocalSenders {
            outbox: outbox.clone(),
            smtp: None,
            webhooks: Some(FixedWebhook(Ok(202), Arc::clone(&calls))),
        };
        assert_eq!(ok.post(&slack_post()).await, Ok(202));
        let down = LocalSenders {
            webhooks: Some(FixedWebhook(
                Err(SendError::Transient("HTTP 503".into())),
                Arc::clone(&calls),
            )),
            ..ok.clone()
        };
        assert_eq!(
            down.post(&slack_post()).await,
            Err(SendError::Transient("HTTP 503".into()))
        );
        let sms = Sms {
            to: "+15551234567".to_owned(),
            text: "page".to_owned(),
        };
        down.send_sms(&sms).await.unwrap();
        // Without SMTP, email goes to the outbox only.
        down.send_email(&email()).await.unwrap();
        assert_eq!(*calls.lock().unwrap(), 2);

        let records = Outbox::read_records(outbox.path()).unwrap();
        let outcomes: Vec<_> = records
            .iter()
            .map(|r| {
                (
                    r.channel.as_str(),
                    r.delivered_by.as_deref(),
                    r.provider_id.as_deref(),
                    r.error.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            outcomes,
            [
                ("slack", Some("webhook"), Some("202"), None),
                ("slack", Some("webhook"), None, Some("transient: HTTP 503")),
                ("sms", None, None, None),
                ("email", None, None, None),
            ]
        );
    }
}
