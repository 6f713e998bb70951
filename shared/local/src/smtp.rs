//! Real email for local mode: the [`EmailSender`] port over SMTP (lettre, tokio transport).
//!
//! Each email is `multipart/alternative` with the plain-text and HTML bodies. Connection
//! security is configurable: [`SmtpSecurity::None`] for local development servers (MailHog,
//! Mailpit on `localhost:1025`), [`SmtpSecurity::StartTls`] (required, never downgraded) and
//! [`SmtpSecurity::Tls`] (implicit TLS, "SMTPS"). Errors map to [`SendError`]: a 5xx reply is
//! [`SendError::Permanent`] (the address or message is rejected), a bad recipient address too;
//! a 4xx reply, a refused or dropped connection, a timeout or a TLS failure is
//! [`SendError::Transient`] (worth retrying).

use klaxon_app::ports::{Email, EmailSender, SendError};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SmtpSecurity {
    /// Plain text: only for trusted local servers (MailHog, Mailpit).
    None,
    /// Plain connection upgraded with STARTTLS; fails if the server does not offer it.
    #[default]
    StartTls,
    /// TLS from the first byte (usually port 465).
    Tls,
}

/// Where and how to send email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    /// Server host name (also the name its TLS certificate must carry).
    pub host: String,
    /// Server port (1025 for MailHog/Mailpit, 587 for STARTTLS submission, 465 for TLS).
    pub port: u16,
    /// Connection security.
    pub security: SmtpSecurity,
    /// User name and password, if the server requires authentication.
    pub credentials: Option<(String, String)>,
    /// The sender, e.g. `Klaxon <klaxon@example.com>`.
    pub from: String,
    /// Timeout for each SMTP command.
    pub timeout: Duration,
}

impl SmtpConfig {
    /// A plain-text local development server (MailHog, Mailpit) at `host:port`.
    pub fn local(host: impl Into<String>, port: u16, from: impl Into<String>) -> Self {
        Self {
            host: host.into(),
            port,
            security: SmtpSecurity::None,
            credentials: None,
            from: from.into(),
            timeout: Duration::from_secs(10),
        }
    }
}

/// Why an [`SmtpEmail`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SmtpConfigError {
    /// `from` is not a mailbox.
    #[error("smtp.from: not an email address ({0})")]
    From(String),
    /// The TLS settings for `host` could not be built.
    #[error("smtp.host: TLS setup failed ({0})")]
    Tls(String),
}

/// Sends email over SMTP. Cheap to clone.
#[derive(Clone)]
pub struct SmtpEmail {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for SmtpEmail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpEmail")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpEmail {
    /// Builds the sender (no connection is made until the first email).
    pub fn new(config: &SmtpConfig) -> Result<Self, SmtpConfigError> {
        let from: Mailbox =
            config
                .from
                .parse()
                .map_err(|error: lettre::address::AddressError| {
                    SmtpConfigError::From(format!("{:?}: {error}", config.from))
                })?;
        let tls = match config.security {
            SmtpSecurity::None => Tls::None,
            SmtpSecurity::StartTls => Tls::Required(tls_parameters(&config.host)?),
            SmtpSecurity::Tls => Tls::Wrapper(tls_parameters(&config.host)?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
            .port(config.port)
            .tls(tls)
            .timeout(Some(config.timeout));
        if let Some((user, password)) = &config.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(Self {
            transport: builder.build(),
            from,
        })
    }

    fn message(&self, email: &Email) -> Result<Message, SendError> {
        let to: Mailbox = email.to.parse().map_err(|error| {
            SendError::Permanent(format!(
                "recipient {:?} is not an email address: {error}",
                email.to
            ))
        })?;
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject.clone())
            .message_id(None)
            .multipart(MultiPart::alternative_plain_html(
                email.text.clone(),
                email.html.clone(),
            ))
            .map_err(|error| SendError::Permanent(format!("email cannot be built: {error}")))
    }
}

fn tls_parameters(host: &str) -> Result<TlsParameters, SmtpConfigError> {
    TlsParameters::new(host.to_owned()).map_err(|error| SmtpConfigError::Tls(error.to_string()))
}

impl EmailSender for SmtpEmail {
    /// Sends; returns the email's `Message-ID` header.
    async fn send_email(&self, email: &Email) -> Result<String, SendError> {
        let message = self.message(email)?;
        let message_id = message
            .headers()
            .get_raw("Message-ID")
            .unwrap_or_default()
            .to_owned();
        self.transport.send(message).await.map_err(classify)?;
        Ok(message_id)
    }
}

/// 5xx replies are permanent; everything else (4xx, connection, timeout, TLS) is transient.
fn classify(error: lettre::transport::smtp::Error) -> SendError {
    if error.is_permanent() {
        SendError::Permanent(format!("smtp: {error}"))
    } else {
        SendError::Transient(format!("smtp: {error}"))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tokio::net::TcpListener;

    /// One email the sink accepted.
    #[derive(Debug, Clone)]
    pub(crate) struct Captured {
        pub(crate) from: String,
        pub(crate) to: Vec<String>,
        pub(crate) data: String,
    }

    /// A tiny SMTP server on a free loopback port speaking just enough SMTP (EHLO, MAIL, RCPT,
    /// DATA, RSET, QUIT) for lettre. `rcpt_reply` is its answer to every RCPT TO.
    pub(crate) async fn sink(rcpt_reply: &'static str) -> (u16, Arc<Mutex<Vec<Captured>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let captured: Arc<Mutex<Vec<Captured>>> = Arc::default();
        let store = Arc::clone(&captured);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut lines = BufReader::new(read).lines();
                    write.write_all(b"220 sink ESMTP\r\n").await.unwrap();
                    let (mut from, mut to) = (String::new(), Vec::new());
                    while let Ok(Some(line)) = lines.next_line().await {
                        let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
                        let reply: &str = match verb.as_str() {
                            "EHLO" | "HELO" => "250-sink\r\n250 8BITMIME",
                            "MAIL" => {
                                from = line.clone();
                                "250 2.1.0 OK"
                            }
                            "RCPT" => {
                                to.push(line.clone());
                                rcpt_reply
                            }
                            "DATA" => {
                                write.write_all(b"354 go ahead\r\n").await.unwrap();
                                let mut data = String::new();
                                while let Ok(Some(line)) = lines.next_line().await {
                                    if line == "." {
                                        break;
                                    }
                                    data.push_str(&line);
                                    data.push('\n');
                                }
                                store.lock().unwrap().push(Captured {
                                    from: from.clone(),
                                    to: to.clone(),
                                    data,
                                });
                                "250 2.0.0 queued"
                            }
                            "QUIT" => {
                                let _ = write.write_all(b"221 bye\r\n").await;
                                return;
                            }
                            _ => "250 OK",
                        };
                        write
                            .write_all(format!("{reply}\r\n").as_bytes())
                            .await
                            .unwrap();
                    }
                });
            }
        });
        (port, captured)
    }

    pub(crate) fn email() -> Email {
        Email {
            to: "alice@example.com".to_owned(),
            subject: "[Klaxon] #12 Disk full on db-1".to_owned(),
            text: "Disk full on db-1\nAck: http://localhost:8080/a?i=12&a=ack".to_owned(),
            html: "<p>Disk full on <b>db-1</b></p>".to_owned(),
        }
    }

    pub(crate) fn sender(port: u16) -> SmtpEmail {
        SmtpEmail::new(&SmtpConfig::local(
            "127.0.0.1",
            port,
            "Klaxon <klaxon@localhost>",
        ))
        .unwrap()
    }

    #[tokio::test]
    async fn an_email_arrives_with_its_text_and_html_parts() {
        let (port, captured) = sink("250 2.1.5 OK").await;
        let message_id = sender(port).send_email(&email()).await.unwrap();
        let captured = captured.lock().unwrap();
        assert_eq!(captured.len(), 1);
        let mail = &captured[0];
        assert!(mail.from.contains("<klaxon@localhost>"), "{}", mail.from);
        assert_eq!(mail.to.len(), 1);
        assert!(mail.to[0].contains("<alice@example.com>"), "{:?}", mail.to);
        let data = &mail.data;
        assert!(
            data.contains("Subject: [Klaxon] #12 Disk full on db-1"),
            "{data}"
        );
        assert!(data.contains("multipart/alternative"), "{data}");
        assert!(data.contains("Content-Type: text/plain"), "{data}");
        assert!(data.contains("Content-Type: text/html"), "{data}");
        assert!(
            data.contains("Ack: http://localhost:8080/a?i=12&a=ack"),
            "{data}"
        );
        assert!(data.contains("<p>Disk full on <b>db-1</b></p>"), "{data}");
        assert!(
            message_id.starts_with('<') && message_id.ends_with('>'),
            "{message_id}"
        );
        assert!(
            data.contains(&format!("Message-ID: {message_id}")),
            "{data}"
        );
    }

    #[tokio::test]
    async fn a_5xx_rejection_is_permanent_and_a_4xx_transient() {
        let (port, captured) = sink("550 5.1.1 no such user").await;
        let rejected = sender(port).send_email(&email()).await;
        assert!(
            matches!(&rejected, Err(SendError::Permanent(m)) if m.contains("no such user")),
            "{rejected:?}"
        );
        let (port, _) = sink("451 4.3.0 try again later").await;
        let deferred = sender(port).send_email(&email()).await;
        assert!(
            matches!(deferred, Err(SendError::Transient(_))),
            "{deferred:?}"
        );
        assert!(captured.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_refused_connection_is_transient() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let refused = sender(port).send_email(&email()).await;
        assert!(
            matches!(refused, Err(SendError::Transient(_))),
            "{refused:?}"
        );
    }

    #[tokio::test]
    async fn a_bad_recipient_is_permanent_and_a_bad_sender_a_config_error() {
        let (port, _) = sink("250 OK").await;
        let mut bad = email();
        bad.to = "not an address".to_owned();
        let result = sender(port).send_email(&bad).await;
        assert!(
            matches!(&result, Err(SendError::Permanent(m)) if m.contains("not an address")),
            "{result:?}"
        );
        let config = SmtpConfig::local("127.0.0.1", port, "klaxon");
        assert!(matches!(
            SmtpEmail::new(&config),
            Err(SmtpConfigError::From(_))
        ));
    }

    #[tokio::test]
    async fn starttls_is_required_when_configured() {
        // The sink offers no STARTTLS: a sender that requires it must not send in plain text.
        let (port, captured) = sink("250 OK").await;
        let config = SmtpConfig {
            security: SmtpSecurity::StartTls,
            ..SmtpConfig::local("127.0.0.1", port, "klaxon@localhost")
        };
        let result = SmtpEmail::new(&config).unwrap().send_email(&email()).await;
        assert!(
            matches!(&result, Err(SendError::Transient(m)) if m.contains("STARTTLS")),
            "{result:?}"
        );
        assert!(captured.lock().unwrap().is_empty());
    }
}
