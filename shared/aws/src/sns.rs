//! The SNS adapter of the [`SmsSender`] port.
//!
//! Publishes straight to a phone number (`Publish` with `PhoneNumber`), as a transactional
//! message (`AWS.SNS.SMS.SMSType` = `Transactional`: higher delivery priority, allowed at any
//! hour), with an optional sender id (`AWS.SNS.SMS.SenderID`, honoured only in countries that
//! support alphanumeric sender ids).
//!
//! Failures: throttling, 5xx and network failures are retried with backoff, then reported as
//! [`SendError::Transient`]. An invalid or opted-out number, a refused parameter or missing
//! permission is [`SendError::Permanent`]; KMS throttling is transient.

use crate::retry::RetryPolicy;
use crate::retry::{FailureKind, default_policy, with_retries};
use aws_sdk_sns::Client;
use aws_sdk_sns::types::MessageAttributeValue;
use klaxon_app::ports::{SendError, Sms, SmsSender};

/// The message attribute that sets the SMS type.
pub const SMS_TYPE_ATTRIBUTE: &str = "AWS.SNS.SMS.SMSType";

/// The message attribute that sets the sender id.
pub const SENDER_ID_ATTRIBUTE: &str = "AWS.SNS.SMS.SenderID";

/// The SMS sender on SNS.
#[derive(Clone)]
pub struct SnsSms {
    client: Client,
    sender_id: Option<String>,
    retry: RetryPolicy,
}

impl std::fmt::Debug for SnsSms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnsSms")
            .field("sender_id", &self.sender_id)
            .finish_non_exhaustive()
    }
}

impl SnsSms {
    /// Sends transactional SMS through SNS.
    pub fn new(client: Client) -> Self {
        Self {
            client,
            sender_id: None,
            retry: default_policy(),
        }
    }

    /// Sets the sender id (1 to 11 alphanumeric characters, at least one letter; `SMS_SENDER_ID`).
    pub fn with_sender_id(mut self, sender_id: impl Into<String>) -> Self {
        self.sender_id = Some(sender_id.into());
        self
    }

    /// Replaces the retry policy for throttling and transient failures.
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }
}

fn string_attribute(value: &str) -> Result<MessageAttributeValue, SendError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| SendError::Permanent(format!("SMS attribute: {e}")))
}

impl SmsSender for SnsSms {
    async fn send_sms(&self, sms: &Sms) -> Result<String, SendError> {
        let sms_type = string_attribute("Transactional")?;
        let sender_id = self
            .sender_id
            .as_deref()
            .map(string_attribute)
            .transpose()?;
        let result = with_retries(&self.retry, || {
            let mut request = self
                .client
                .publish()
                .phone_number(&sms.to)
                .message(&sms.text)
                .message_attributes(SMS_TYPE_ATTRIBUTE, sms_type.clone());
            if let Some(sender_id) = &sender_id {
                request = request.message_attributes(SENDER_ID_ATTRIBUTE, sender_id.clone());
            }
            request.send()
        })
        .await;
        match result {
            Ok(output) => output.message_id.ok_or_else(|| {
                SendError::Transient("SNS accepted the SMS but returned no message id".into())
            }),
            Err(failure) => {
                let reason = format!("SNS Publish to {}: {}", sms.to, failure.describe());
                if failure.kind == FailureKind::Permanent {
                    Err(SendError::Permanent(reason))
                } else {
                    Err(SendError::Transient(reason))
                }
            }
        }
    }
}
