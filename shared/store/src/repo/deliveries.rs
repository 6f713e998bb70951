//! Delivery records: one per page (incident, round, tier, user, channel) and per notice
//! (incident, notice kind, user, channel), claimed before sending and finished after, so each is
//! sent once even when its message is delivered twice.
//!
//! A sender claims the record (conditional: absent, failed transiently, or claimed longer ago
//! than `stale_after` by a sender that crashed), sends, then finishes it conditioned on still
//! holding its claim (status `claimed` and its attempt number), together with the timeline
//! entry. A second copy of the message finds the record sent or in flight and sends nothing.
//! The one gap: a sender that crashes after the provider accepted the message but before it
//! finished the record is taken over after `stale_after`, and that page goes out twice.

use super::codec::{check_key_part, from_item, time_value};
use super::lock::{Attempt, retry_on_conflict};
use super::schema::{self, DELIVERY, incident_partition};
use super::{RepoError, Repository};
use crate::key::{n, s};
use crate::{
    CancelReason, Condition, Key, Query, ReturnValues, SortCondition, Store, StoreError,
    TransactOp, UpdateAction,
};
use klaxon_domain::Instant;
use klaxon_domain::duration::HumanDuration;
use klaxon_domain::escalation::PageRequest;
use klaxon_domain::ids::{IncidentId, UserId};
use klaxon_domain::timeline::TimelineDraft;
use klaxon_domain::user::Channel;
use serde::{Deserialize, Serialize};

/// Why a delivery is sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DeliveryPurpose {
    /// A page of an escalation tier.
    Page {
        /// The round.
        round: u32,
        /// The tier.
        tier: u32,
    },
    /// A notice to someone already paged (`acknowledged`, `resolved`).
    Notice {
        /// The notice kind.
        notice: String,
    },
}

/// One delivery to claim: who, on which channel, why, under which key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The incident.
    pub incident: IncidentId,
    /// The delivery key (unique within the incident).
    pub key: String,
    /// Who.
    pub user: UserId,
    /// On which channel.
    pub channel: Channel,
    /// Why.
    pub purpose: DeliveryPurpose,
}

impl Delivery {
    /// The page of `request` to `user` on `channel`, keyed by [`PageRequest::dedup_key`].
    pub fn page(request: &PageRequest, user: &UserId, channel: Channel) -> Self {
        Self {
            incident: request.incident.clone(),
            key: request.dedup_key(user, channel),
            user: user.clone(),
            channel,
            purpose: DeliveryPurpose::Page {
                round: request.round,
                tier: request.tier,
            },
        }
    }

    /// A notice of kind `notice` (`acknowledged`, `resolved`) to `user` on `channel`, keyed
    /// `{incident}/notice/{notice}/{user}/{channel}` (the page key's shape).
    pub fn notice(incident: &IncidentId, notice: &str, user: &UserId, channel: Channel) -> Self {
        Self {
            incident: incident.clone(),
            key: format!("{incident}/notice/{notice}/{user}/{channel}"),
            user: user.clone(),
            channel,
            purpose: DeliveryPurpose::Notice {
                notice: notice.to_owned(),
            },
        }
    }
}

/// Where a delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// A sender holds it and is sending.
    Claimed,
    /// The provider accepted it.
    Sent,
    /// It failed in a way worth retrying: the next claim takes it.
    FailedTransient,
    /// It failed for good (rejected address): nobody sends it again.
    FailedPermanent,
}

impl DeliveryStatus {
    fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Claimed => "claimed",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::FailedTransient => "failed_transient",
            DeliveryStatus::FailedPermanent => "failed_permanent",
        }
    }
}

/// What [`Repository::claim_delivery`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This caller holds the delivery: send it, then finish it with this attempt number.
    Claimed {
        /// 1 for the first attempt, then 2, 3, … after transient failures or stale claims.
        attempt: u32,
    },
    /// It was sent before: send nothing.
    AlreadySent,
    /// Another sender holds a fresh claim: send nothing (its message will be retried if it
    /// fails).
    InFlight,
    /// It failed for good before: send nothing.
    FailedPermanently,
}

/// How a send ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The provider accepted it.
    Sent {
        /// The provider's message id, when it returns one.
        provider_id: Option<String>,
    },
    /// It failed.
    Failed {
        /// Whether retrying is pointless.
        permanent: bool,
        /// What went wrong.
        error: String,
    },
}

/// A stored delivery record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    /// The incident.
    pub incident: IncidentId,
    /// The delivery key.
    pub key: String,
    /// Who.
    pub user: UserId,
    /// On which channel.
    pub channel: Channel,
    /// Why.
    pub purpose: DeliveryPurpose,
    /// Where it is.
    pub status: DeliveryStatus,
    /// The latest attempt number.
    pub attempt: u32,
    /// When the latest attempt was claimed.
    pub claimed_at: Instant,
    /// When the latest attempt finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Instant>,
    /// The provider's message id, once sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<String>,
    /// The latest failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct DeliveryItem {
    pk: String,
    sk: String,
    incident: IncidentId,
    #[serde(rename = "delivery_key")]
    key: String,
    user: UserId,
    channel: Channel,
    purpose: DeliveryPurpose,
    status: DeliveryStatus,
    attempt: u32,
    claimed_at: Instant,
    /// `claimed_at` in epoch seconds, for the stale-claim condition.
    claimed_epoch: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    finished_at: Option<Instant>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    provider_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl From<DeliveryItem> for DeliveryRecord {
    fn from(item: DeliveryItem) -> Self {
        DeliveryRecord {
            incident: item.incident,
            key: item.key,
            user: item.user,
            channel: item.channel,
            purpose: item.purpose,
            status: item.status,
            attempt: item.attempt,
            claimed_at: item.claimed_at,
            finished_at: item.finished_at,
            provider_id: item.provider_id,
            error: item.error,
        }
    }
}

/// A token no other claim carries: a per-process counter hashed with a freshly (randomly)
/// keyed hasher, so two processes (two Lambda instances) do not share tokens either.
fn claim_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(count);
    format!("{:016x}{count:x}", hasher.finish())
}

/// Tries [`Repository::claim_delivery`] makes to release a claim of unknown outcome.
const RELEASE_ATTEMPTS: u32 = 3;

/// The error a released claim of unknown outcome records.
const RELEASED_CLAIM: &str = "the claim's outcome was unknown (its write failed); released";

fn delivery_key(incident: &IncidentId, key: &str) -> Result<Key, RepoError> {
    check_key_part("delivery.key", key, 900)?;
    Ok(schema::delivery_key(incident.as_str(), key))
}

impl<S: Store> Repository<S> {
    /// Claims a delivery before sending it: [`Claim::Claimed`] when the record is absent, its
    /// last attempt failed transiently, or its claim is older than `stale_after` (a sender that
    /// crashed); otherwise what stops this caller from sending.
    pub async fn claim_delivery(
        &self,
        delivery: &Delivery,
        stale_after: HumanDuration,
    ) -> Result<Claim, RepoError> {
        let key = delivery_key(&delivery.incident, &delivery.key)?;
        let purpose = super::codec::to_item_value(&delivery.purpose)?;
        // This call's own mark: when the claim was written but its answer lost, the retried
        // write (the SDK's, or the store's) finds the claim is its own, not another sender's.
        let token = claim_token();
        let claimed = self
            .try_claim(delivery, stale_after, &key, &purpose, &token)
            .await;
        if let Err(RepoError::Store(error)) = &claimed
            && error.is_transient()
        {
            // The claim's outcome is unknown: it may have been applied with its answer lost
            // (every retry failed too). Left standing, nobody would finish it and every
            // redelivery would find it "in flight" until it went stale; released by this
            // call's token, the next delivery claims it at once.
            self.release_claim(&key, &token).await;
        }
        claimed
    }

    /// Marks a claim this caller may hold (`token`) failed transiently, so the next sender
    /// claims it at once; a claim that is not this token's (never applied, taken over, or
    /// finished) is left as it is. Best effort, a few tries: if none succeeds, the claim goes
    /// stale as a crashed sender's would.
    async fn release_claim(&self, key: &Key, token: &str) {
        for _ in 0..RELEASE_ATTEMPTS {
            let mine = Condition::equals("status", s(DeliveryStatus::Claimed.as_str()))
                .and(Condition::equals("claim_token", s(token.to_owned())));
            let released = self
                .store
                .update(
                    key,
                    vec![
                        UpdateAction::set("status", s(DeliveryStatus::FailedTransient.as_str())),
                        UpdateAction::set("error", s(RELEASED_CLAIM)),
                    ],
                    Some(mine),
                    ReturnValues::None,
                )
                .await;
            match released {
                Err(error) if error.is_transient() => {}
                Ok(_) | Err(_) => return,
            }
        }
    }

    /// One claim attempt of [`Repository::claim_delivery`], under `token`.
    async fn try_claim(
        &self,
        delivery: &Delivery,
        stale_after: HumanDuration,
        key: &Key,
        purpose: &crate::AttributeValue,
        token: &str,
    ) -> Result<Claim, RepoError> {
        let token = token.to_owned();
        let (key, purpose, token) = (key, purpose, &token);
        retry_on_conflict("delivery", delivery.key.clone(), move || async move {
            let now = self.now();
            let stale_before = now.timestamp() - stale_after.as_secs();
            let claimable = Condition::NotExists
                .or(Condition::equals(
                    "status",
                    s(DeliveryStatus::FailedTransient.as_str()),
                ))
                .or(
                    Condition::equals("status", s(DeliveryStatus::Claimed.as_str()))
                        .and(Condition::less_than("claimed_epoch", stale_before)),
                )
                .or(
                    Condition::equals("status", s(DeliveryStatus::Claimed.as_str()))
                        .and(Condition::equals("claim_token", s(token.clone()))),
                );
            let result = self
                .store
                .update(
                    key,
                    vec![
                        UpdateAction::set("incident", s(delivery.incident.as_str())),
                        UpdateAction::set("delivery_key", s(delivery.key.clone())),
                        UpdateAction::set("user", s(delivery.user.as_str())),
                        UpdateAction::set("channel", s(delivery.channel.as_str())),
                        UpdateAction::set("purpose", purpose.clone()),
                        UpdateAction::set("status", s(DeliveryStatus::Claimed.as_str())),
                        UpdateAction::add("attempt", 1),
                        UpdateAction::set("claimed_at", time_value(now)),
                        UpdateAction::set("claimed_epoch", n(now.timestamp())),
                        UpdateAction::set("claim_token", s(token.clone())),
                    ],
                    Some(claimable),
                    ReturnValues::AllNew,
                )
                .await;
            match result {
                Ok(Some(item)) => {
                    let record: DeliveryItem = from_item(item)?;
                    return Ok(Attempt::Done(Claim::Claimed {
                        attempt: record.attempt,
                    }));
                }
                Ok(None) => {
                    return Err(RepoError::corrupt(key, "*", "the update returned no item"));
                }
                Err(StoreError::ConditionFailed {
                    existing: Some(existing),
                    ..
                }) => {
                    let record: DeliveryItem = from_item(*existing)?;
                    match record.status {
                        DeliveryStatus::Sent => return Ok(Attempt::Done(Claim::AlreadySent)),
                        DeliveryStatus::Claimed => return Ok(Attempt::Done(Claim::InFlight)),
                        DeliveryStatus::FailedPermanent => {
                            return Ok(Attempt::Done(Claim::FailedPermanently));
                        }
                        // Became claimable after all (a finish in between): try again.
                        DeliveryStatus::FailedTransient => {}
                    }
                }
                Err(StoreError::ConditionFailed { existing: None, .. }) => {}
                Err(other) => return Err(other.into()),
            }
            Ok(Attempt::Retry)
        })
        .await
    }

    /// Finishes attempt `attempt` of a delivery with its outcome and timeline entry, in one
    /// transaction conditioned on the claim still being this attempt's.
    /// [`RepoError::Conflict`] when it is not (the claim went stale and another sender took it,
    /// or it was finished already): nothing is written.
    pub async fn finish_delivery(
        &self,
        incident: &IncidentId,
        key: &str,
        attempt: u32,
        outcome: &DeliveryOutcome,
        timeline: &TimelineDraft,
    ) -> Result<(), RepoError> {
        let item_key = delivery_key(incident, key)?;
        let now = self.now();
        let mut actions = vec![UpdateAction::set("finished_at", time_value(now))];
        match outcome {
            DeliveryOutcome::Sent { provider_id } => {
                actions.push(UpdateAction::set(
                    "status",
                    s(DeliveryStatus::Sent.as_str()),
                ));
                match provider_id {
                    Some(id) => actions.push(UpdateAction::set("provider_id", s(id.clone()))),
                    None => actions.push(UpdateAction::remove("provider_id")),
                }
            }
            DeliveryOutcome::Failed { permanent, error } => {
                let status = if *permanent {
                    DeliveryStatus::FailedPermanent
                } else {
                    DeliveryStatus::FailedTransient
                };
                actions.push(UpdateAction::set("status", s(status.as_str())));
                actions.push(UpdateAction::set("error", s(error.clone())));
            }
        }
        let condition = Condition::equals("status", s(DeliveryStatus::Claimed.as_str()))
            .and(Condition::equals("attempt", n(i64::from(attempt))));
        let mut ops = vec![TransactOp::Update {
            key: item_key,
            actions,
            condition: Some(condition),
        }];
        ops.extend(self.timeline_ops(incident, std::slice::from_ref(timeline))?);
        match self.store.transact(ops).await {
            Ok(()) => Ok(()),
            Err(StoreError::TransactionCancelled { reasons })
                if matches!(reasons.first(), Some(CancelReason::ConditionFailed { .. })) =>
            {
                Err(RepoError::conflict("delivery", key))
            }
            Err(other) => Err(other.into()),
        }
    }

    /// Every delivery record of an incident, by delivery key (who was paged on which channel,
    /// for acknowledgement and resolve notices).
    pub async fn deliveries(
        &self,
        incident: &IncidentId,
    ) -> Result<Vec<DeliveryRecord>, RepoError> {
        let query = Query::table(incident_partition(incident.as_str()))
            .sort(SortCondition::BeginsWith(DELIVERY.to_owned()));
        let page = self.store.query(&query).await?;
        page.items
            .into_iter()
            .map(|item| from_item::<DeliveryItem>(item).map(DeliveryRecord::from))
            .collect()
    }
}
