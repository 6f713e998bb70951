//! The SES v2 adapter of the [`EmailSender`] port.
//!
//! Sends `SendEmail` with Simple content (subject, text and HTML bodies, UTF-8) from the
//! configured sender address, optionally through a configuration set (for bounce and complaint
//! events). Templates are not used: the app renders the message itself.
//!
//! Failures: throttling, 5xx and network failures are retried with backoff, then reported as
//! [`SendError::Transient`]. A rejected message, an invalid request, an unverified sender or a
//! missing configuration set is [`SendError::Permanent`]. Account-level stops (sending paused,
//! account suspended, daily quota exceeded) are reported as transient on purpose: retrying
//! leaves the page on the queue and, once retries run out, in the dead-letter queue whose alarm
//! tells the operator, instead of quietly marking every page as failed.

use crate::retry::RetryPolicy;
use crate::retry::{FailureKind, default_policy, with_retries};
use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use klaxon_app::ports::{Email, EmailSender, SendError};

/// SES error codes that stop the whole account for a while rather than this one message.
const ACCOUNT_LEVEL_CODES: [&str; 3] = [
    "SendingPausedException",
    "AccountSuspendedException",
    "LimitExceededException",
];

/// The email sender on SES v2.
#[derive(Clone)]
pub struct SesEmail {
    client: Client,
    from: String,
    configuration_set: Option<String>,
    retry: RetryPolicy,
}

impl std::fmt::Debug for SesEmail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SesEmail")
            .field("from", &self.from)
            .field("configuration_set", &self.configuration_set)
            .finish_non_exhaustive()
    }
}

impl SesEmail {
    /// Sends from `from` (`SENDER_EMAIL`: an SES-verified address or an address of a verified
    /// domain).
    pub fn new(client: Client, from: impl Into<String>) -> Self {
        Self {
            client,
            from: from.into(),
            configuration_set: None,
            retry: default_policy(),
        }
    }

    /// Sends through an SES configuration set.
    pub fn with_configuration_set(mut self, name: impl Into<String>) -> Self {
        self.configuration_set = Some(name.into());
        self
    }

    /// Replaces the retry policy for throttling and transient failures.
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The sender address.
    pub fn from_address(&self) -> &str {
        &self.from
    }
}

fn utf8(data: &str, part: &str) -> Result<Content, SendError> {
    Content::builder()
        .data(data)
        .charset("UTF-8")
        .build()
        .map_err(|e| SendError::Permanent(format!("email {part}: {e}")))
}

impl EmailSender for SesEmail {
    async fn send_email(&self, email: &Email) -> Result<String, SendError> {
        let message = Message::builder()
            .subject(utf8(&email.subject, "subject")?)
            .body(
                Body::builder()
                    .text(utf8(&email.text, "text body")?)
                    .html(utf8(&email.html, "HTML body")?)
                    .build(),
            )
            .build();
        let content = EmailContent::builder().simple(message).build();
        let destination = Destination::builder().to_addresses(&email.to).build();
        let result = with_retries(&self.retry, || {
            self.client
                .send_email()
                .from_email_address(&self.from)
                .destination(destination.clone())
                .content(content.clone())
                .set_configuration_set_name(self.configuration_set.clone())
                .send()
        })
        .await;
        match result {
            Ok(output) => output.message_id.ok_or_else(|| {
                SendError::Transient("SES accepted the email but returned no message id".into())
            }),
            Err(failure) => {
                let reason = format!("SES SendEmail to {}: {}", email.to, failure.describe());
                let account_level = failure
                    .code()
                    .is_some_and(|code| ACCOUNT_LEVEL_CODES.contains(&code));
                if failure.kind == FailureKind::Permanent && !account_level {
                    Err(SendError::Permanent(reason))
                } else {
                    Err(SendError::Transient(reason))
                }
            }
        }
    }
}
