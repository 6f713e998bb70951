//! Ingest: authenticate the integration, parse its format, deduplicate, queue for grouping.
//!
//! A repeat of an open alert costs one conditional write and queues nothing. A new alert is
//! written (with a sparse "ungrouped" index entry) before it is queued, so once the sender has
//! its 2xx the alert is durable: if the queue send fails, the recovery sweep finds the ungrouped
//! entry and queues it again. Resolves and acknowledgements are queued after their write; if
//! that send fails the request fails (5xx) so the sender retries, and a retried resolve queues
//! its message again (grouping's handling is idempotent).

use super::{Core, UseCaseError};
use crate::messages::{AlertAction, AlertMessage, QueueMessage};
use crate::ports::Queue;
use crate::security::keys::{KeyHash, PlainKey};
use crate::security::sns::{HttpGet, SnsSignatureVersion, SnsVerifier, SnsVerifyError};
use klaxon_domain::alert::{AlertEvent, AlertKey, AlertStatus};
use klaxon_domain::config::{Config, Integration};
use klaxon_domain::ids::{AlertId, DedupKey, IntegrationName};
use klaxon_domain::ingest::sns::{SignatureAlgorithm, SnsEnvelope, SnsMessageType};
use klaxon_domain::ingest::{self, Format, IngestError, ParseContext, Request, cloudwatch, sns};
use klaxon_store::Store;
use klaxon_store::repo::{Firing, KeyKind, Resolved};

/// Why an ingest request failed.
#[derive(Debug, thiserror::Error)]
pub enum IngestFailure {
    /// The body is malformed (400, or 413 when too large).
    #[error(transparent)]
    Parse(#[from] IngestError),
    /// Anything else (auth, storage, queue).
    #[error(transparent)]
    Other(#[from] UseCaseError),
}

impl From<klaxon_store::repo::RepoError> for IngestFailure {
    fn from(error: klaxon_store::repo::RepoError) -> Self {
        IngestFailure::Other(error.into())
    }
}

/// What an accepted request did, per alert event.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct IngestSummary {
    /// New alert occurrences queued for grouping.
    pub new: usize,
    /// Repeats of open alerts (counted, nobody paged).
    pub repeats: usize,
    /// Alerts resolved.
    pub resolved: usize,
    /// Acknowledgements queued.
    pub acknowledged: usize,
    /// Events about alerts Klaxon never saw firing (a resolve or ack for an unknown key).
    pub ignored: usize,
}

/// The ingest use case.
pub struct IngestService<S, Q, H> {
    core: Core<S>,
    queue: Q,
    sns: SnsVerifier<H>,
}

crate::fmt_hidden::opaque_debug!(IngestService<S, Q, H>);

/// What an accepted ingest request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingested {
    /// Alert events were stored and queued.
    Events {
        /// What happened to each.
        summary: IngestSummary,
        /// PagerDuty and Opsgenie only: the event's dedup key (the sender's, or the generated
        /// one).
        dedup_key: Option<DedupKey>,
        /// The integration the request authenticated as.
        integration: IntegrationName,
    },
    /// An SNS subscription was confirmed.
    SubscriptionConfirmed,
    /// An SNS unsubscribe confirmation (nothing to do).
    UnsubscribeNoted,
}

impl<S: Store, Q: Queue, H: HttpGet> IngestService<S, Q, H> {
    /// Assembles the service.
    pub fn new(core: Core<S>, queue: Q, sns: SnsVerifier<H>) -> Self {
        Self { core, queue, sns }
    }

    /// The shared core.
    pub fn core(&self) -> &Core<S> {
        &self.core
    }

    /// Finds the integration a key belongs to and checks it speaks `format`.
    pub async fn authenticate(
        &self,
        key: Option<&str>,
        format: Format,
    ) -> Result<(Integration, std::sync::Arc<super::LoadedConfig>), UseCaseError> {
        let key = key
            .filter(|k| !k.trim().is_empty())
            .ok_or_else(|| UseCaseError::Unauthorized("an integration key is required".into()))?;
        let hash = PlainKey::from_client(key).hash();
        let stored = self
            .core
            .repo
            .key(hash.as_str())
            .await?
            .filter(|stored| KeyHash(stored.hash.clone()).matches(&hash))
            .ok_or_else(|| {
                UseCaseError::Unauthorized("unknown or revoked integration key".into())
            })?;
        if stored.record.kind != KeyKind::Integration {
            return Err(UseCaseError::Forbidden(
                "this is an API key, not an integration key".into(),
            ));
        }
        let config = self.core.config().await?;
        let integration = config
            .integrations
            .iter()
            .find(|i| i.name.as_str() == stored.record.name)
            .cloned()
            .ok_or_else(|| {
                UseCaseError::Forbidden(format!(
                    "the key belongs to integration {:?}, which the current configuration does not define",
                    stored.record.name
                ))
            })?;
        if integration.format != format {
            return Err(UseCaseError::Forbidden(format!(
                "integration {} is configured for the {} format; post to its own endpoint",
                integration.name,
                integration.format.as_str()
            )));
        }
        Ok((integration, config))
    }

    fn context<'a>(
        &self,
        integration: &'a Integration,
        generated: &'a DedupKey,
    ) -> ParseContext<'a> {
        ParseContext {
            integration: &integration.name,
            defaults: &integration.defaults,
            received_at: self.core.now(),
            generated_dedup_key: generated,
        }
    }

    fn generated_key(&self) -> Result<DedupKey, UseCaseError> {
        DedupKey::new(self.core.ids.new_id())
            .map_err(|e| UseCaseError::invalid("dedup_key", e.to_string()))
    }

    /// Ingests one request received on a format's route: authenticates `key` (the header's or
    /// the URL's; PagerDuty's is the body's `routing_key`), parses the body with the format's
    /// parser, verifies an SNS message's signature and topic, then stores and queues the events.
    pub async fn ingest(
        &self,
        key: Option<&str>,
        request: Request<'_>,
    ) -> Result<Ingested, IngestFailure> {
        let format = request.format();
        let (payload, (integration, config)) = match format {
            // The key is in the body: read it first.
            Format::Pagerduty => {
                let payload = ingest::read(request)?;
                let found = self.authenticate(payload.body_key(), format).await?;
                (payload, found)
            }
            // The key comes with the request: a wrong key is refused whatever the body holds.
            Format::Native
            | Format::Alertmanager
            | Format::Grafana
            | Format::Opsgenie
            | Format::Cloudwatch => {
                let found = self.authenticate(key, format).await?;
                (ingest::read(request)?, found)
            }
        };
        if let Some(envelope) = payload.sns_envelope()
            && let Some(answered) = self.sns_https(&integration, envelope).await?
        {
            return Ok(answered);
        }
        let generated = self.generated_key()?;
        let parsed = payload.normalize(&self.context(&integration, &generated))?;
        let summary = self.accept(&config, parsed.events).await?;
        Ok(Ingested::Events {
            summary,
            dedup_key: parsed.dedup_key,
            integration: integration.name,
        })
    }

    /// CloudWatch alarms over an SNS HTTPS subscription (the key is in the URL path). The
    /// message signature is verified before anything else is looked at; a subscription
    /// confirmation is confirmed by visiting its SNS URL. `None` for a notification, whose
    /// alarm the caller parses and accepts.
    async fn sns_https(
        &self,
        integration: &Integration,
        envelope: &SnsEnvelope,
    ) -> Result<Option<Ingested>, IngestFailure> {
        self.verify_sns(envelope).await?;
        if !integration.sns_topic_arns.is_empty()
            && !integration
                .sns_topic_arns
                .iter()
                .any(|t| t == envelope.topic_arn())
        {
            return Err(UseCaseError::Forbidden(format!(
                "topic {} is not listed in integration {}'s sns_topic_arns",
                envelope.topic_arn(),
                integration.name
            ))
            .into());
        }
        match envelope.message_type() {
            SnsMessageType::SubscriptionConfirmation => {
                let url = envelope.subscribe_url().unwrap_or_default();
                self.sns
                    .confirm_subscription(url)
                    .await
                    .map_err(|e| match e {
                        SnsVerifyError::UntrustedCertUrl(_) => UseCaseError::invalid(
                            "SubscribeURL",
                            "is not an SNS ConfirmSubscription URL",
                        ),
                        other => UseCaseError::Unauthorized(format!(
                            "could not confirm the subscription: {other}"
                        )),
                    })?;
                tracing::info!(topic = envelope.topic_arn(), integration = %integration.name, "SNS subscription confirmed");
                Ok(Some(Ingested::SubscriptionConfirmed))
            }
            SnsMessageType::UnsubscribeConfirmation => {
                tracing::info!(topic = envelope.topic_arn(), integration = %integration.name, "SNS unsubscribe confirmation received");
                Ok(Some(Ingested::UnsubscribeNoted))
            }
            SnsMessageType::Notification => Ok(None),
        }
    }

    /// CloudWatch alarms delivered by a Lambda SNS subscription (authenticated by IAM: the
    /// integration is the one listing the record's topic in `sns_topic_arns`).
    pub async fn sns_lambda_event(
        &self,
        event: &serde_json::Value,
    ) -> Result<IngestSummary, IngestFailure> {
        let envelopes = sns::parse_lambda_event_value(event)?;
        let config = self.core.config().await?;
        let mut total = IngestSummary::default();
        for envelope in envelopes {
            let integration = config
                .integrations
                .iter()
                .find(|i| {
                    i.format == Format::Cloudwatch
                        && i.sns_topic_arns.iter().any(|t| t == envelope.topic_arn())
                })
                .ok_or_else(|| {
                    UseCaseError::Forbidden(format!(
                        "no cloudwatch integration lists topic {} in sns_topic_arns",
                        envelope.topic_arn()
                    ))
                })?;
            if envelope.message_type() != SnsMessageType::Notification {
                continue;
            }
            let generated = self.generated_key()?;
            let events =
                cloudwatch::parse_alarm(&envelope, &self.context(integration, &generated))?;
            let summary = self.accept(&config, events).await?;
            total.new += summary.new;
            total.repeats += summary.repeats;
            total.resolved += summary.resolved;
            total.acknowledged += summary.acknowledged;
            total.ignored += summary.ignored;
        }
        Ok(total)
    }

    async fn verify_sns(&self, envelope: &SnsEnvelope) -> Result<(), UseCaseError> {
        let signature = envelope
            .signature()
            .ok_or_else(|| UseCaseError::Unauthorized("the SNS message is not signed".into()))?;
        let version = match signature.algorithm() {
            SignatureAlgorithm::Sha1WithRsa => SnsSignatureVersion::V1,
            SignatureAlgorithm::Sha256WithRsa => SnsSignatureVersion::V2,
        };
        self.sns
            .verify(
                signature.signing_cert_url(),
                version,
                &envelope.string_to_sign(),
                signature.bytes(),
            )
            .await
            .map_err(|e| UseCaseError::Unauthorized(format!("SNS signature rejected: {e}")))
    }

    /// Stores and queues parsed events (after authentication and parsing).
    pub async fn accept(
        &self,
        config: &Config,
        events: Vec<AlertEvent>,
    ) -> Result<IngestSummary, UseCaseError> {
        // Check every event before storing any, so a refused request changes nothing.
        for (i, event) in events.iter().enumerate() {
            if let AlertEvent::Alert(alert) = event
                && let Err((field, message)) = alert.check_limits()
            {
                let path = if events.len() > 1 {
                    format!("alerts[{i}].{field}")
                } else {
                    field.to_string()
                };
                return Err(UseCaseError::invalid(path, message));
            }
        }
        let mut summary = IngestSummary::default();
        for event in events {
            match event {
                AlertEvent::Alert(alert) if alert.status == AlertStatus::Firing => {
                    let grouping = config.group(&alert);
                    let alert_id = AlertId::new(self.core.ids.new_id())
                        .map_err(|e| UseCaseError::invalid("alert_id", e.to_string()))?;
                    match self
                        .core
                        .repo
                        .record_firing(&alert, &alert_id, &grouping.key)
                        .await?
                    {
                        Firing::New { alert_id } => {
                            summary.new += 1;
                            let message = AlertMessage {
                                alert_id,
                                key: alert.key(),
                                action: AlertAction::Fire,
                                group_key: grouping.key,
                                at: alert.received_at,
                            };
                            // Stored already: if this send fails, the sweep queues it again.
                            if let Err(error) = self.queue.send(&QueueMessage::Alert(message)).await
                            {
                                tracing::warn!(%error, "queueing a new alert failed; the recovery sweep will queue it");
                            }
                        }
                        Firing::Repeat { .. } => summary.repeats += 1,
                    }
                }
                AlertEvent::Alert(alert) => {
                    let at = alert.ended_at.unwrap_or(alert.received_at);
                    self.resolve(&alert.key(), at, &mut summary).await?;
                }
                AlertEvent::Resolve { key, at } => self.resolve(&key, at, &mut summary).await?,
                AlertEvent::Acknowledge { key, at } => match self.core.repo.alert(&key).await? {
                    Some(record) if record.state == klaxon_store::repo::AlertState::Open => {
                        let message = AlertMessage {
                            alert_id: record.alert_id,
                            key,
                            action: AlertAction::Acknowledge,
                            group_key: record.group_key,
                            at,
                        };
                        self.queue.send(&QueueMessage::Alert(message)).await?;
                        summary.acknowledged += 1;
                    }
                    _ => summary.ignored += 1,
                },
            }
        }
        Ok(summary)
    }

    async fn resolve(
        &self,
        key: &AlertKey,
        at: klaxon_domain::Instant,
        summary: &mut IngestSummary,
    ) -> Result<(), UseCaseError> {
        let (alert_id, group_key) = match self.core.repo.record_resolved(key, at).await? {
            Resolved::Resolved {
                alert_id,
                group_key,
                ..
            } => (alert_id, group_key),
            // A repeated resolve queues its message again, in case the first send failed;
            // grouping handles it idempotently and SQS FIFO drops it within five minutes.
            Resolved::AlreadyResolved => match self.core.repo.alert(key).await? {
                Some(record) => (record.alert_id, record.group_key),
                None => {
                    summary.ignored += 1;
                    return Ok(());
                }
            },
            Resolved::Unknown => {
                summary.ignored += 1;
                return Ok(());
            }
        };
        let message = AlertMessage {
            alert_id,
            key: key.clone(),
            action: AlertAction::Resolve,
            group_key,
            at,
        };
        self.queue.send(&QueueMessage::Alert(message)).await?;
        summary.resolved += 1;
        Ok(())
    }
}
