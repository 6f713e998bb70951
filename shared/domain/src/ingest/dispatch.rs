//! The format → parser table, written once: the HTTP ingest routes (through `klaxon-app`'s
//! ingest use case) and `klaxon route test` both parse through here, and every match is over
//! [`Format`] with no fallback arm, so a new format does not compile until it has a parser.
//!
//! Parsing is two steps because formats differ in what must happen between them:
//! 1. [`read`] decodes what can be decoded without knowing the integration: PagerDuty's body
//!    (its `routing_key` is the integration key, [`Payload::body_key`]) and an SNS envelope
//!    (whose signature the caller verifies, [`Payload::sns_envelope`]). The other formats only
//!    keep the body: their key comes with the request, and the caller authenticates it first.
//! 2. [`Payload::normalize`] turns the payload into [`AlertEvent`]s for the integration the
//!    request authenticated as.
//!
//! [`parse`] does both at once, for callers that check neither keys nor signatures.

use super::opsgenie::OpsgenieAction;
use super::pagerduty::PagerDutyRequest;
use super::sns::{SnsEnvelope, SnsMessageType};
use super::{
    Format, IngestError, ParseContext, alertmanager, cloudwatch, grafana, native, opsgenie,
    pagerduty, pagerduty_v1, sns,
};
use crate::alert::AlertEvent;
use crate::ids::DedupKey;

/// One ingest request as its route received it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request<'a> {
    /// The body posted to a format's own route (`POST /v1/alerts`, `/v2/enqueue`, ...).
    Body {
        /// The route's format.
        format: Format,
        /// The request body.
        body: &'a [u8],
    },
    /// An Opsgenie acknowledge or close request: the alert is named in the URL.
    OpsgenieAction {
        /// The (URL-decoded) alert identifier from the path.
        identifier: &'a str,
        /// The `identifierType` query parameter, as sent.
        identifier_type: Option<&'a str>,
        /// Acknowledge or close.
        action: OpsgenieAction,
        /// The optional JSON body (`user`, `source`, `note`).
        body: &'a [u8],
    },
    /// A PagerDuty Events API v1 body (`/generic/2010-04-15/create_event.json`): format
    /// `pagerduty`, its `service_key` the integration key.
    PagerdutyV1 {
        /// The request body.
        body: &'a [u8],
    },
}

impl Request<'_> {
    /// The format the request is in.
    pub fn format(&self) -> Format {
        match self {
            Request::Body { format, .. } => *format,
            Request::OpsgenieAction { .. } => Format::Opsgenie,
            Request::PagerdutyV1 { .. } => Format::Pagerduty,
        }
    }
}

/// A request read as far as its format allows before the integration is known.
#[derive(Debug, Clone, PartialEq)]
pub struct Payload<'a>(Read<'a>);

#[derive(Debug, Clone, PartialEq)]
enum Read<'a> {
    /// Klaxon JSON, parsed once the integration is known.
    Native(&'a [u8]),
    /// An Alertmanager webhook, likewise.
    Alertmanager(&'a [u8]),
    /// A Grafana webhook, likewise.
    Grafana(&'a [u8]),
    /// An Opsgenie create-alert body, likewise.
    OpsgenieCreate(&'a [u8]),
    /// An Opsgenie acknowledge or close request, likewise.
    OpsgenieAction {
        identifier: &'a str,
        identifier_type: Option<&'a str>,
        action: OpsgenieAction,
        body: &'a [u8],
    },
    /// A validated PagerDuty event, its `routing_key` still to authenticate.
    Pagerduty(PagerDutyRequest),
    /// An SNS message, its signature still to verify (boxed: it is the largest by far).
    Sns(Box<SnsEnvelope>),
}

/// Reads `request` as far as its format allows without the integration (see the module docs).
pub fn read(request: Request<'_>) -> Result<Payload<'_>, IngestError> {
    let read = match request {
        Request::OpsgenieAction {
            identifier,
            identifier_type,
            action,
            body,
        } => Read::OpsgenieAction {
            identifier,
            identifier_type,
            action,
            body,
        },
        Request::PagerdutyV1 { body } => Read::Pagerduty(pagerduty_v1::parse_request(body)?),
        Request::Body { format, body } => match format {
            Format::Native => Read::Native(body),
            Format::Alertmanager => Read::Alertmanager(body),
            Format::Grafana => Read::Grafana(body),
            Format::Opsgenie => Read::OpsgenieCreate(body),
            Format::Pagerduty => Read::Pagerduty(pagerduty::parse_request(body)?),
            Format::Cloudwatch => Read::Sns(Box::new(sns::parse_https(body)?)),
        },
    };
    Ok(Payload(read))
}

/// What a payload turned into.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Parsed {
    /// The alert events, in payload order.
    pub events: Vec<AlertEvent>,
    /// PagerDuty and Opsgenie only: the one event's dedup key, to answer with or to record in
    /// the request status (the sender's, or the generated one).
    pub dedup_key: Option<DedupKey>,
    /// Messages that carried no event, in payload order, for callers that explain themselves.
    pub remarks: Vec<Remark>,
}

/// Why part of a payload produced no alert event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remark {
    /// An SNS message of a type other than `Notification`: it carries no alarm.
    NoAlarm(SnsMessageType),
    /// A CloudWatch `INSUFFICIENT_DATA` alarm the integration ignores.
    InsufficientDataIgnored,
}

/// A single event with its dedup key.
fn keyed(event: AlertEvent) -> Parsed {
    Parsed {
        dedup_key: Some(event.key().dedup_key),
        events: vec![event],
        remarks: Vec::new(),
    }
}

impl Payload<'_> {
    /// The format of the request it was read from.
    pub fn format(&self) -> Format {
        match &self.0 {
            Read::Native(_) => Format::Native,
            Read::Alertmanager(_) => Format::Alertmanager,
            Read::Grafana(_) => Format::Grafana,
            Read::OpsgenieCreate(_) | Read::OpsgenieAction { .. } => Format::Opsgenie,
            Read::Pagerduty(_) => Format::Pagerduty,
            Read::Sns(_) => Format::Cloudwatch,
        }
    }

    /// The integration key carried in the body (PagerDuty's `routing_key`); every other format
    /// sends its key with the request (a header, or the URL for SNS).
    pub fn body_key(&self) -> Option<&str> {
        match &self.0 {
            Read::Pagerduty(request) => Some(request.routing_key()),
            _ => None,
        }
    }

    /// The SNS message to verify before normalising (CloudWatch over HTTPS).
    pub fn sns_envelope(&self) -> Option<&SnsEnvelope> {
        match &self.0 {
            Read::Sns(envelope) => Some(envelope),
            _ => None,
        }
    }

    /// Turns the payload into alert events for the integration in `ctx`.
    pub fn normalize(self, ctx: &ParseContext<'_>) -> Result<Parsed, IngestError> {
        let events = match self.0 {
            Read::Native(body) => native::parse(body, ctx)?,
            Read::Alertmanager(body) => alertmanager::parse(body, ctx)?,
            Read::Grafana(body) => grafana::parse(body, ctx)?,
            Read::OpsgenieCreate(body) => return Ok(keyed(opsgenie::parse_create(body, ctx)?)),
            Read::OpsgenieAction {
                identifier,
                identifier_type,
                action,
                body,
            } => {
                let event = opsgenie::parse_action(identifier, identifier_type, body, action, ctx)?;
                return Ok(keyed(event));
            }
            Read::Pagerduty(request) => {
                let (event, dedup_key) = request.into_event(ctx);
                return Ok(Parsed {
                    events: vec![event],
                    dedup_key: Some(dedup_key),
                    remarks: Vec::new(),
                });
            }
            Read::Sns(envelope) => {
                let mut parsed = Parsed::default();
                sns_events(&envelope, ctx, &mut parsed)?;
                return Ok(parsed);
            }
        };
        Ok(Parsed {
            events,
            ..Parsed::default()
        })
    }
}

/// The alarm an SNS message carries, if it is a notification.
fn sns_events(
    envelope: &SnsEnvelope,
    ctx: &ParseContext<'_>,
    parsed: &mut Parsed,
) -> Result<(), IngestError> {
    if envelope.message_type() != SnsMessageType::Notification {
        parsed
            .remarks
            .push(Remark::NoAlarm(envelope.message_type()));
        return Ok(());
    }
    let events = cloudwatch::parse_alarm(envelope, ctx)?;
    if events.is_empty() {
        parsed.remarks.push(Remark::InsufficientDataIgnored);
    }
    parsed.events.extend(events);
    Ok(())
}

/// Parses `body`, posted to `format`'s own route, for the integration in `ctx`: [`read`] then
/// [`Payload::normalize`]. Neither the key nor an SNS signature is checked.
pub fn parse(format: Format, body: &[u8], ctx: &ParseContext<'_>) -> Result<Parsed, IngestError> {
    read(Request::Body { format, body })?.normalize(ctx)
}

/// Parses an SNS event delivered to a subscribed Lambda function (every record's alarm) for
/// the integration in `ctx`. IAM authenticated the sender; nothing is verified here.
pub fn parse_sns_lambda_event(body: &[u8], ctx: &ParseContext<'_>) -> Result<Parsed, IngestError> {
    let mut parsed = Parsed::default();
    for envelope in sns::parse_lambda_event(body)? {
        sns_events(&envelope, ctx, &mut parsed)?;
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::InsufficientData;
    use crate::ingest::test_support::Fixture;

    fn sample(name: &str) -> Vec<u8> {
        let path = format!("{}/../../events/ingest/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// A sample payload of each format, as posted to its route.
    fn sample_of(format: Format) -> &'static str {
        match format {
            Format::Native => "native-firing.json",
            Format::Pagerduty => "pagerduty-trigger.json",
            Format::Opsgenie => "opsgenie-create.json",
            Format::Alertmanager => "alertmanager-firing.json",
            Format::Grafana => "grafana-firing.json",
            Format::Cloudwatch => "cloudwatch-sns-notification.json",
        }
    }

    #[test]
    fn every_format_has_a_parser_that_reads_its_sample() {
        let fixture = Fixture::new();
        let mut names: Vec<&str> = Format::ALL.iter().map(|f| f.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Format::ALL.len(), "a format is listed twice");
        for format in Format::ALL {
            let body = sample(sample_of(format));
            let payload = read(Request::Body {
                format,
                body: &body,
            })
            .unwrap_or_else(|e| panic!("{format:?}: {e}"));
            assert_eq!(payload.format(), format);
            let parsed = payload.normalize(&fixture.ctx()).unwrap();
            assert!(!parsed.events.is_empty(), "{format:?} gave no event");
            assert_eq!(
                parse(format, &body, &fixture.ctx()),
                Ok(parsed),
                "{format:?}"
            );
        }
    }

    #[test]
    fn the_same_body_read_as_another_format_is_refused() {
        let fixture = Fixture::new();
        let body = sample("native-firing.json");
        for format in [Format::Pagerduty, Format::Cloudwatch, Format::Alertmanager] {
            assert!(parse(format, &body, &fixture.ctx()).is_err(), "{format:?}");
        }
    }

    #[test]
    fn pagerduty_carries_its_key_in_the_body_and_answers_with_a_dedup_key() {
        let fixture = Fixture::new();
        let body = sample("pagerduty-trigger-no-dedup-key.json");
        let payload = read(Request::Body {
            format: Format::Pagerduty,
            body: &body,
        })
        .unwrap();
        assert!(payload.body_key().is_some_and(|key| !key.is_empty()));
        assert!(payload.sns_envelope().is_none());
        let parsed = payload.normalize(&fixture.ctx()).unwrap();
        assert_eq!(parsed.dedup_key.as_ref(), Some(&fixture.generated));
        let native = read(Request::Body {
            format: Format::Native,
            body: b"not even json",
        })
        .unwrap();
        assert_eq!(native.body_key(), None, "native keys come in a header");
        assert!(native.normalize(&fixture.ctx()).is_err());
    }

    #[test]
    fn sns_messages_without_an_alarm_are_remarked_not_parsed() {
        let fixture = Fixture::new();
        let body = sample("sns-subscription-confirmation.json");
        let payload = read(Request::Body {
            format: Format::Cloudwatch,
            body: &body,
        })
        .unwrap();
        assert_eq!(
            payload.sns_envelope().map(SnsEnvelope::message_type),
            Some(SnsMessageType::SubscriptionConfirmation)
        );
        let parsed = payload.normalize(&fixture.ctx()).unwrap();
        assert!(parsed.events.is_empty());
        assert_eq!(
            parsed.remarks,
            [Remark::NoAlarm(SnsMessageType::SubscriptionConfirmation)]
        );

        let mut ignoring = Fixture::new();
        ignoring.defaults.insufficient_data = InsufficientData::Ignore;
        let body = sample("cloudwatch-sns-insufficient-data.json");
        let parsed = parse(Format::Cloudwatch, &body, &ignoring.ctx()).unwrap();
        assert!(parsed.events.is_empty());
        assert_eq!(parsed.remarks, [Remark::InsufficientDataIgnored]);
    }

    #[test]
    fn a_lambda_event_parses_every_record_and_an_https_route_refuses_it() {
        let fixture = Fixture::new();
        let body = sample("sns-lambda-event.json");
        let parsed = parse_sns_lambda_event(&body, &fixture.ctx()).unwrap();
        assert!(!parsed.events.is_empty());
        assert!(parse(Format::Cloudwatch, &body, &fixture.ctx()).is_err());
    }

    #[test]
    fn opsgenie_actions_name_the_alert_in_the_url() {
        let fixture = Fixture::new();
        let request = Request::OpsgenieAction {
            identifier: "disk-full",
            identifier_type: Some("alias"),
            action: OpsgenieAction::Close,
            body: b"",
        };
        assert_eq!(request.format(), Format::Opsgenie);
        let parsed = read(request).unwrap().normalize(&fixture.ctx()).unwrap();
        assert!(matches!(
            parsed.events.as_slice(),
            [AlertEvent::Resolve { key, .. }] if key.dedup_key.as_str() == "disk-full"
        ));
    }
}
