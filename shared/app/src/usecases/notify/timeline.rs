//! The timeline entry of each delivery attempt.

use super::channels::Job;
use super::{Kind, NotifyService};
use crate::messages::NoticeKind;
use crate::ports::{EmailSender, SmsSender, WebhookSender};
use crate::usecases::UseCaseError;
use klaxon_domain::escalation::StopReason;
use klaxon_domain::timeline::{Actor, EntryKey, TimelineDraft, TimelineEntry};
use klaxon_store::Store;
use klaxon_store::repo::DeliveryOutcome;
use sha2::{Digest, Sha256};

pub(super) fn notice_name(kind: NoticeKind) -> &'static str {
    match kind {
        NoticeKind::Acknowledged => "acknowledged",
        NoticeKind::Resolved => "resolved",
    }
}

fn stop_reason(kind: NoticeKind) -> StopReason {
    match kind {
        NoticeKind::Acknowledged => StopReason::Acknowledged,
        NoticeKind::Resolved => StopReason::Resolved,
    }
}

impl<S, E, M, W> NotifyService<S, E, M, W>
where
    S: Store,
    E: EmailSender,
    M: SmsSender,
    W: WebhookSender,
{
    /// The timeline entry of one attempt. Its key names the attempt, so a failed attempt and
    /// the retry that succeeds are two entries.
    pub(super) fn timeline(
        &self,
        job: &Job,
        kind: Kind,
        attempt: u32,
        outcome: &DeliveryOutcome,
    ) -> Result<TimelineDraft, UseCaseError> {
        let delivery = &job.delivery;
        let (user, channel) = (delivery.user.clone(), delivery.channel);
        let prefix = match kind {
            Kind::Page { round, tier } => format!("delivery.r{round}.t{tier}"),
            Kind::Notice(notice) => format!("notice.{}", notice_name(notice)),
        };
        let tag = job
            .tag
            .as_deref()
            .map(|t| format!(".{t}"))
            .unwrap_or_default();
        // A page of a re-triggered cycle or of added responders has a delivery key of its own
        // (`{incident}/c1/...`, `{incident}/add.{token}/...`): its entry is keyed by that key's
        // digest, so it never meets the first cycle's entry for the same round and tier.
        let first_cycle = match kind {
            Kind::Page { .. } => delivery
                .key
                .starts_with(&format!("{}/r", delivery.incident)),
            Kind::Notice(_) => true,
        };
        let readable = if first_cycle {
            EntryKey::new(format!("{prefix}.{user}.{channel}{tag}.a{attempt}")).ok()
        } else {
            None
        };
        let key = readable
            .ok_or(())
            .or_else(|()| {
                // Unusually long ids: a digest of the delivery key keeps the key short.
                let digest: String = hex::encode(Sha256::digest(delivery.key.as_bytes()))
                    .chars()
                    .take(32)
                    .collect();
                EntryKey::new(format!("delivery.{digest}.a{attempt}"))
            })
            .map_err(|e| UseCaseError::invalid("delivery.key", e.to_string()))?;
        let entry = match (kind, outcome) {
            (Kind::Page { round, tier }, DeliveryOutcome::Sent { provider_id }) => {
                TimelineEntry::NotificationDelivered {
                    user,
                    channel,
                    round,
                    tier,
                    provider_id: provider_id.clone(),
                }
            }
            (Kind::Page { round, tier }, DeliveryOutcome::Failed { permanent, error }) => {
                TimelineEntry::NotificationFailed {
                    user,
                    channel,
                    round,
                    tier,
                    error: error.clone(),
                    retrying: !permanent,
                }
            }
            (Kind::Notice(notice), DeliveryOutcome::Sent { provider_id }) => {
                TimelineEntry::NoticeDelivered {
                    user,
                    channel,
                    notice: stop_reason(notice),
                    provider_id: provider_id.clone(),
                }
            }
            (Kind::Notice(notice), DeliveryOutcome::Failed { permanent, error }) => {
                TimelineEntry::NoticeFailed {
                    user,
                    channel,
                    notice: stop_reason(notice),
                    error: error.clone(),
                    retrying: !permanent,
                }
            }
        };
        Ok(TimelineDraft::new(
            delivery.incident.clone(),
            key,
            self.core.now(),
            Actor::system("notify"),
            entry,
        ))
    }
}
