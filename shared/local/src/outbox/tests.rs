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
