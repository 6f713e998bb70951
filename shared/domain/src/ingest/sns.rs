//! Amazon SNS envelopes, as POSTed to an HTTPS subscription (`POST /v1/integrations/sns`) or
//! handed to a Lambda function subscribed to the topic.
//!
//! This module only parses and exposes what signature verification needs: the canonical
//! [string to sign](SnsEnvelope::string_to_sign), the decoded signature bytes, the algorithm
//! (`SignatureVersion` 1 is SHA1withRSA, 2 is SHA256withRSA) and the signing certificate URL.
//! Fetching the certificate, checking that its URL is an SNS host, and the RSA check itself are
//! I/O and live in `klaxon-app`. A `SubscriptionConfirmation` is confirmed there by fetching its
//! [`subscribe_url`](SnsEnvelope::subscribe_url) after the signature checks out.
//!
//! The alarm inside a `Notification` is parsed by [`cloudwatch`](super::cloudwatch); its dedup
//! key is the alarm ARN.

use super::IngestError;
use super::json::{Errors, Located, Obj, child, item, parse_body};
use base64::Engine;
use serde_json::Value;
use std::collections::BTreeMap;

/// The SNS message `Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SnsMessageType {
    /// A published message (a CloudWatch alarm state change).
    Notification,
    /// Sent once when the subscription is created: confirm it by fetching `SubscribeURL`.
    SubscriptionConfirmation,
    /// Sent when the subscription is deleted.
    UnsubscribeConfirmation,
}

impl SnsMessageType {
    /// The wire name (`Notification`, `SubscriptionConfirmation`, `UnsubscribeConfirmation`).
    pub fn as_str(self) -> &'static str {
        match self {
            SnsMessageType::Notification => "Notification",
            SnsMessageType::SubscriptionConfirmation => "SubscriptionConfirmation",
            SnsMessageType::UnsubscribeConfirmation => "UnsubscribeConfirmation",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "Notification" => Some(SnsMessageType::Notification),
            "SubscriptionConfirmation" => Some(SnsMessageType::SubscriptionConfirmation),
            "UnsubscribeConfirmation" => Some(SnsMessageType::UnsubscribeConfirmation),
            _ => None,
        }
    }
}

/// The signature algorithm a `SignatureVersion` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureAlgorithm {
    /// `SignatureVersion` 1: RSA PKCS#1 v1.5 over SHA-1.
    Sha1WithRsa,
    /// `SignatureVersion` 2: RSA PKCS#1 v1.5 over SHA-256.
    Sha256WithRsa,
}

impl SignatureAlgorithm {
    /// The JCA name AWS documents: `SHA1withRSA` or `SHA256withRSA`.
    pub fn name(self) -> &'static str {
        match self {
            SignatureAlgorithm::Sha1WithRsa => "SHA1withRSA",
            SignatureAlgorithm::Sha256WithRsa => "SHA256withRSA",
        }
    }
}

/// What verifying an envelope's signature needs, besides the string to sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnsSignature {
    version: String,
    algorithm: SignatureAlgorithm,
    bytes: Vec<u8>,
    signing_cert_url: String,
}

impl SnsSignature {
    /// `SignatureVersion` as sent (`1` or `2`).
    pub fn version(&self) -> &str {
        &self.version
    }
    /// The algorithm the version names.
    pub fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }
    /// The signature, base64-decoded.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
    /// `SigningCertURL` (`SigningCertUrl` in Lambda events), not yet checked in any way: the
    /// verifier must accept only https URLs on an SNS host before fetching it.
    pub fn signing_cert_url(&self) -> &str {
        &self.signing_cert_url
    }
}

/// One `MessageAttributes` entry (Lambda events carry them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnsMessageAttribute {
    /// `Type`: `String`, `Number`, `Binary`, `String.Array`.
    pub data_type: String,
    /// `Value`, as text.
    pub value: String,
}

/// One SNS message, from either shape, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnsEnvelope {
    message_type: SnsMessageType,
    message_id: String,
    topic_arn: String,
    subject: Option<String>,
    message: String,
    timestamp: String,
    signature: Option<SnsSignature>,
    subscribe_url: Option<String>,
    token: Option<String>,
    unsubscribe_url: Option<String>,
    message_attributes: BTreeMap<String, SnsMessageAttribute>,
    /// Where the envelope sat in the body (`""`, or `Records[2].Sns`), for error paths.
    path: String,
}

impl SnsEnvelope {
    /// `Type`.
    pub fn message_type(&self) -> SnsMessageType {
        self.message_type
    }
    /// `MessageId`.
    pub fn message_id(&self) -> &str {
        &self.message_id
    }
    /// `TopicArn`: the verifier should also check it is a topic this integration expects.
    pub fn topic_arn(&self) -> &str {
        &self.topic_arn
    }
    /// `Subject`, when the publisher set one.
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }
    /// `Message`: for CloudWatch, the alarm as a JSON string.
    pub fn message(&self) -> &str {
        &self.message
    }
    /// `Timestamp`, exactly as sent (it is part of the signed string).
    pub fn timestamp(&self) -> &str {
        &self.timestamp
    }
    /// The signature, always present for HTTPS deliveries; Lambda events from FIFO topics
    /// carry none.
    pub fn signature(&self) -> Option<&SnsSignature> {
        self.signature.as_ref()
    }
    /// `SubscribeURL`: present on both confirmation types.
    pub fn subscribe_url(&self) -> Option<&str> {
        self.subscribe_url.as_deref()
    }
    /// `Token`: present on both confirmation types.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }
    /// `UnsubscribeURL` (`UnsubscribeUrl` in Lambda events), on notifications.
    pub fn unsubscribe_url(&self) -> Option<&str> {
        self.unsubscribe_url.as_deref()
    }
    /// `MessageAttributes`.
    pub fn message_attributes(&self) -> &BTreeMap<String, SnsMessageAttribute> {
        &self.message_attributes
    }

    /// The path of `field` of this envelope in its body, for error messages.
    pub(crate) fn field_path(&self, field: &str) -> String {
        child(&self.path, field)
    }

    /// The canonical string AWS signs, for signature versions 1 and 2 alike: `Name\nvalue\n`
    /// for each field in AWS's documented order. Notification: `Message`, `MessageId`,
    /// `Subject` (only if present), `Timestamp`, `TopicArn`, `Type`. Subscription and
    /// unsubscribe confirmations: `Message`, `MessageId`, `SubscribeURL`, `Timestamp`, `Token`,
    /// `TopicArn`, `Type`.
    pub fn string_to_sign(&self) -> String {
        let mut fields: Vec<(&str, &str)> =
            vec![("Message", &self.message), ("MessageId", &self.message_id)];
        match self.message_type {
            SnsMessageType::Notification => {
                if let Some(subject) = &self.subject {
                    fields.push(("Subject", subject));
                }
                fields.push(("Timestamp", &self.timestamp));
            }
            SnsMessageType::SubscriptionConfirmation | SnsMessageType::UnsubscribeConfirmation => {
                // Parsing guarantees both are present on confirmations.
                fields.push((
                    "SubscribeURL",
                    self.subscribe_url.as_deref().unwrap_or_default(),
                ));
                fields.push(("Timestamp", &self.timestamp));
                fields.push(("Token", self.token.as_deref().unwrap_or_default()));
            }
        }
        fields.push(("TopicArn", &self.topic_arn));
        fields.push(("Type", self.message_type.as_str()));
        let mut out = String::new();
        for (name, value) in fields {
            out.push_str(name);
            out.push('\n');
            out.push_str(value);
            out.push('\n');
        }
        out
    }
}

/// Which body shape an envelope comes from: the casing of two fields and whether a signature
/// is mandatory differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Https,
    Lambda,
}

/// Parses the body SNS POSTs to an HTTPS subscription. The signature fields are required.
pub fn parse_https(body: &[u8]) -> Result<SnsEnvelope, IngestError> {
    let value = parse_body(body)?;
    let mut errors = Errors::default();
    let Some(root) = Located::new(&value, String::new(), &mut errors) else {
        return Err(errors.into_error());
    };
    match parse_envelope(root.obj(), Shape::Https, &mut errors) {
        Some(envelope) if errors.is_empty() => Ok(envelope),
        _ => Err(errors.into_error()),
    }
}

/// Parses a Lambda SNS event (`{"Records":[{"EventSource":"aws:sns","Sns":{...}}]}`) into its
/// envelopes, in order. Lambda events are delivered by AWS itself, so their signature is
/// optional (FIFO topics send none).
pub fn parse_lambda_event(body: &[u8]) -> Result<Vec<SnsEnvelope>, IngestError> {
    parse_lambda_event_value(&parse_body(body)?)
}

/// [`parse_lambda_event`] for an event the Lambda runtime already decoded.
pub fn parse_lambda_event_value(value: &Value) -> Result<Vec<SnsEnvelope>, IngestError> {
    let mut errors = Errors::default();
    let Some(root) = Located::new(value, String::new(), &mut errors) else {
        return Err(errors.into_error());
    };
    let mut envelopes = Vec::new();
    if let Some(records) = root.obj().required_array("Records", &mut errors) {
        if records.is_empty() {
            errors.push("Records", "must contain at least one record");
        }
        for (index, record) in records.iter().enumerate() {
            let Some(record) = Located::new(record, item("Records", index), &mut errors) else {
                continue;
            };
            let record = record.obj();
            if let Some(source) = record.str("EventSource", &mut errors)
                && source != "aws:sns"
            {
                errors.push(&record.at("EventSource"), "must be aws:sns");
            }
            if let Some(sns) = record.required_object("Sns", &mut errors)
                && let Some(envelope) = parse_envelope(sns.obj(), Shape::Lambda, &mut errors)
            {
                envelopes.push(envelope);
            }
        }
    }
    if errors.is_empty() {
        Ok(envelopes)
    } else {
        Err(errors.into_error())
    }
}

/// The first of `names` present in `obj`, read as an optional string; errors use that name.
fn str_any<'a>(obj: Obj<'a>, names: &[&'static str], errors: &mut Errors) -> Option<&'a str> {
    let name = names.iter().find(|name| obj.get(name).is_some())?;
    obj.str(name, errors)
}

fn parse_envelope(obj: Obj<'_>, shape: Shape, errors: &mut Errors) -> Option<SnsEnvelope> {
    let errors_before = errors.len();
    let message_type = obj.required_str("Type", errors).and_then(|text| {
        let parsed = SnsMessageType::parse(text);
        if parsed.is_none() {
            errors.push(
                &obj.at("Type"),
                "must be one of: Notification, SubscriptionConfirmation, UnsubscribeConfirmation",
            );
        }
        parsed
    });
    let message_id = obj.required_str("MessageId", errors);
    let topic_arn = obj.required_str("TopicArn", errors);
    let subject = obj.str("Subject", errors);
    let message = obj.required_str("Message", errors);
    let timestamp = obj.required_str("Timestamp", errors);
    let signature = parse_signature(obj, shape, errors);
    let (subscribe_url, token) = match message_type {
        Some(
            SnsMessageType::SubscriptionConfirmation | SnsMessageType::UnsubscribeConfirmation,
        ) => (
            obj.required_str("SubscribeURL", errors),
            obj.required_str("Token", errors),
        ),
        _ => (obj.str("SubscribeURL", errors), obj.str("Token", errors)),
    };
    let unsubscribe_url = str_any(obj, &["UnsubscribeURL", "UnsubscribeUrl"], errors);
    let message_attributes = parse_attributes(obj, errors);

    if errors.len() > errors_before {
        return None;
    }
    Some(SnsEnvelope {
        message_type: message_type?,
        message_id: message_id?.to_string(),
        topic_arn: topic_arn?.to_string(),
        subject: subject.map(str::to_string),
        message: message?.to_string(),
        timestamp: timestamp?.to_string(),
        signature,
        subscribe_url: subscribe_url.map(str::to_string),
        token: token.map(str::to_string),
        unsubscribe_url: unsubscribe_url.map(str::to_string),
        message_attributes,
        path: obj.path().to_string(),
    })
}

fn parse_signature(obj: Obj<'_>, shape: Shape, errors: &mut Errors) -> Option<SnsSignature> {
    // Each shape has its documented casing; the other is accepted too.
    let (documented, alternate) = match shape {
        Shape::Https => ("SigningCertURL", "SigningCertUrl"),
        Shape::Lambda => ("SigningCertUrl", "SigningCertURL"),
    };
    if shape == Shape::Lambda && obj.get("SignatureVersion").is_none() {
        return None;
    }
    let version = obj.required_str("SignatureVersion", errors);
    let algorithm = version.and_then(|version| match version {
        "1" => Some(SignatureAlgorithm::Sha1WithRsa),
        "2" => Some(SignatureAlgorithm::Sha256WithRsa),
        _ => {
            errors.push(&obj.at("SignatureVersion"), "must be \"1\" or \"2\"");
            None
        }
    });
    let bytes = obj.required_str("Signature", errors).and_then(|text| {
        match base64::engine::general_purpose::STANDARD.decode(text) {
            Ok(bytes) => Some(bytes),
            Err(_) => {
                errors.push(&obj.at("Signature"), "must be base64");
                None
            }
        }
    });
    let cert_name = if obj.get(documented).is_none() && obj.get(alternate).is_some() {
        alternate
    } else {
        documented
    };
    let signing_cert_url = obj.required_str(cert_name, errors);
    Some(SnsSignature {
        version: version?.to_string(),
        algorithm: algorithm?,
        bytes: bytes?,
        signing_cert_url: signing_cert_url?.to_string(),
    })
}

fn parse_attributes(obj: Obj<'_>, errors: &mut Errors) -> BTreeMap<String, SnsMessageAttribute> {
    let mut attributes = BTreeMap::new();
    let Some(located) = obj.object("MessageAttributes", errors) else {
        return attributes;
    };
    for (name, value) in located.map {
        let Some(entry) = Located::new(value, child(&located.path, name), errors) else {
            continue;
        };
        let entry = entry.obj();
        let data_type = entry.required_str("Type", errors);
        let value = entry.str("Value", errors);
        if let (Some(data_type), Some(value)) = (data_type, value) {
            attributes.insert(
                name.clone(),
                SnsMessageAttribute {
                    data_type: data_type.to_string(),
                    value: value.to_string(),
                },
            );
        }
    }
    attributes
}

#[cfg(test)]
mod tests;
