//! Heartbeats (dead man's switch): pings, the expiry a heartbeat's timer triggers, and the
//! listing. The rules are the pure state machine in `klaxon_domain::heartbeat`; this module
//! orders the writes so that nothing is lost when a handler dies half-way:
//!
//! - **Ping** (the `ack` function and `klaxon serve`): authenticate the heartbeat's integration
//!   key, read the state, resolve the missed-heartbeat alert if it was expired, arm the new
//!   timer, then commit the state conditional on the version read. The old timer is cancelled
//!   after the commit (a late fire of it is a no-op: its version is no longer the armed one).
//!   Resolving and arming before the commit are idempotent, so a retry after a crash repeats
//!   them harmlessly. Cost in a warm function: two `GetItem` (the key, the state), one
//!   conditional `PutItem`, one `CreateSchedule` and one `DeleteSchedule` (counted in
//!   `tests/tests/e2e_cloud/heartbeats.rs`, priced in `docs/heartbeats.md`).
//! - **Expiry** (routing, on a fired heartbeat timer): a stale or duplicate timer is a no-op;
//!   the armed timer past its deadline commits the expired state, then sends the alert through
//!   the normal pipeline (stored, queued for grouping). A redelivery of that timer sends the
//!   alert again, which is then a repeat. If a ping won the race after the commit, the alert
//!   just sent is resolved again, so the heartbeat's alert ends as the state says.

use super::{Core, UseCaseError};
use crate::messages::{AlertAction, AlertMessage, QueueMessage};
use crate::ports::{Queue, Timers};
use crate::security::keys::{KeyHash, PlainKey};
use klaxon_domain::Instant;
use klaxon_domain::alert::AlertKey;
use klaxon_domain::config::Config;
use klaxon_domain::heartbeat::{
    self, Expiry, Heartbeat, HeartbeatName, HeartbeatState, HeartbeatStatus, HeartbeatTimer,
    IgnoredPing,
};
use klaxon_domain::ids::AlertId;
use klaxon_store::Store;
use klaxon_store::repo::{Attempt, Firing, KeyKind, RepoError, Resolved, retry_on_conflict};
use serde::Serialize;

/// What a ping did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pinged {
    /// The heartbeat.
    pub heartbeat: HeartbeatName,
    /// When the next ping is due at the latest.
    pub deadline: Instant,
    /// The heartbeat had expired and this ping resolved its alert.
    pub recovered: bool,
}

/// What a ping request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PingAnswer {
    /// It counted: the deadline moved.
    Pinged(Pinged),
    /// It was authenticated and did not count (nothing changed).
    Ignored {
        /// The heartbeat.
        heartbeat: HeartbeatName,
        /// Why.
        reason: IgnoredPing,
    },
}

/// One heartbeat as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeartbeatView {
    /// Its name.
    pub name: HeartbeatName,
    /// Its integration.
    pub integration: String,
    /// The expected interval (`5m`).
    pub interval: String,
    /// The grace after it (`1m`).
    pub grace: String,
    /// What it watches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `inactive`, `ok` or `expired`.
    pub status: HeartbeatStatus,
    /// The last ping.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_ping_at: Option<Instant>,
    /// The next deadline (after which it counts as missed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline: Option<Instant>,
    /// When it was found missed (while expired).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expired_at: Option<Instant>,
    /// Pings received.
    pub pings: u64,
}

/// What handling a fired heartbeat timer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryOutcome {
    /// The heartbeat expired: its alert was sent.
    Expired,
    /// A redelivery of the expiring timer: the alert was sent again (a repeat).
    Resent,
    /// Nothing: a stale, duplicate or early timer, or a heartbeat no longer configured.
    Unchanged,
}

/// Finds the heartbeat `name` and checks that `key` is its integration's key. No key or an
/// unknown one is 401; an unknown heartbeat 404; another integration's (or an API) key 403.
pub async fn authenticate_ping<S: Store>(
    core: &Core<S>,
    key: Option<&str>,
    name: &str,
) -> Result<(Heartbeat, std::sync::Arc<super::LoadedConfig>), UseCaseError> {
    let key = key
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| UseCaseError::Unauthorized("an integration key is required".into()))?;
    let hash = PlainKey::from_client(key).hash();
    let stored = core
        .repo
        .key(hash.as_str())
        .await?
        .filter(|stored| KeyHash(stored.hash.clone()).matches(&hash))
        .ok_or_else(|| UseCaseError::Unauthorized("unknown or revoked integration key".into()))?;
    if stored.record.kind != KeyKind::Integration {
        return Err(UseCaseError::Forbidden(
            "this is an API key; a heartbeat is pinged with its integration's key".into(),
        ));
    }
    let config = core.config().await?;
    let heartbeat = HeartbeatName::new(name)
        .ok()
        .and_then(|name| config.heartbeat(&name).cloned())
        .ok_or_else(|| UseCaseError::NotFound {
            what: "heartbeat",
            id: name.to_owned(),
        })?;
    if heartbeat.integration.as_str() != stored.record.name {
        return Err(UseCaseError::Forbidden(format!(
            "heartbeat {} is pinged with integration {}'s key, not {}'s",
            heartbeat.name, heartbeat.integration, stored.record.name
        )));
    }
    Ok((heartbeat, config))
}

/// Records a ping of `heartbeat` (already authenticated).
pub async fn ping<S: Store, Q: Queue, T: Timers>(
    core: &Core<S>,
    queue: &Q,
    timers: &T,
    heartbeat: &Heartbeat,
) -> Result<Pinged, UseCaseError> {
    let (pinged, cancel) = retry_on_conflict::<_, UseCaseError, _, _>(
        "heartbeat",
        heartbeat.name.to_string(),
        move || async move {
            let state = core.repo.heartbeat_state(&heartbeat.name).await?;
            let now = core.now();
            let outcome = heartbeat::ping(heartbeat, state.as_ref(), now);
            if outcome.recovered {
                resolve_alert(core, queue, heartbeat, now).await?;
            }
            timers
                .arm_heartbeat(
                    &outcome.arm.timer_name(),
                    outcome.state.deadline,
                    &outcome.arm,
                )
                .await?;
            match core
                .repo
                .save_heartbeat_state(
                    &heartbeat.name,
                    &outcome.state,
                    state.as_ref().map(|s| s.version),
                )
                .await
            {
                Ok(()) => {}
                Err(RepoError::Conflict { .. }) => return Ok(Attempt::Retry),
                Err(other) => return Err(other.into()),
            }
            let pinged = Pinged {
                heartbeat: heartbeat.name.clone(),
                deadline: outcome.state.deadline,
                recovered: outcome.recovered,
            };
            Ok(Attempt::Done((pinged, outcome.cancel)))
        },
    )
    .await?;
    if let Some(old) = cancel
        && let Err(error) = timers.cancel(&old.timer_name()).await
    {
        // Harmless: when it fires, its version is no longer the armed one.
        tracing::warn!(%error, heartbeat = %heartbeat.name, "cancelling the previous heartbeat timer failed");
    }
    Ok(pinged)
}

/// Handles a fired heartbeat timer (routing).
pub async fn expire<S: Store, Q: Queue>(
    core: &Core<S>,
    queue: &Q,
    timer: &HeartbeatTimer,
) -> Result<ExpiryOutcome, UseCaseError> {
    let config = core.config().await?;
    let Some(heartbeat) = config.heartbeat(&timer.heartbeat).cloned() else {
        tracing::warn!(heartbeat = %timer.heartbeat, "timer of a heartbeat no longer configured");
        return Ok(ExpiryOutcome::Unchanged);
    };
    let heartbeat = &heartbeat;
    let outcome = retry_on_conflict::<_, UseCaseError, _, _>(
        "heartbeat",
        timer.heartbeat.to_string(),
        move || async move {
            let state = core.repo.heartbeat_state(&timer.heartbeat).await?;
            let now = core.now();
            match heartbeat::expire(state.as_ref(), timer, now) {
                Expiry::Stale | Expiry::NotDue => Ok(Attempt::Done(None)),
                Expiry::AlreadyExpired => Ok(Attempt::Done(state.map(|s| (s, false)))),
                Expiry::Expired(next) => {
                    let read = state.as_ref().map(|s| s.version);
                    match core
                        .repo
                        .save_heartbeat_state(&timer.heartbeat, &next, read)
                        .await
                    {
                        Ok(()) => Ok(Attempt::Done(Some((next, true)))),
                        Err(RepoError::Conflict { .. }) => Ok(Attempt::Retry),
                        Err(other) => Err(other.into()),
                    }
                }
            }
        },
    )
    .await?;
    let Some((expired, first)) = outcome else {
        return Ok(ExpiryOutcome::Unchanged);
    };
    fire_alert(core, queue, &config, heartbeat, &expired).await?;
    // A ping that committed after the expiry resolved the alert, perhaps before it was sent:
    // resolve what was just sent, so the alert ends as the state says.
    let now_state = core.repo.heartbeat_state(&timer.heartbeat).await?;
    if now_state.is_some_and(|s| s.expired_at.is_none()) {
        resolve_alert(core, queue, heartbeat, core.now()).await?;
    }
    Ok(if first {
        ExpiryOutcome::Expired
    } else {
        ExpiryOutcome::Resent
    })
}

/// Every configured heartbeat with its state, in configuration order.
pub async fn list<S: Store>(core: &Core<S>) -> Result<Vec<HeartbeatView>, UseCaseError> {
    let config = core.config().await?;
    let now = core.now();
    let mut views = Vec::with_capacity(config.heartbeats.len());
    for heartbeat in &config.heartbeats {
        let state = core.repo.heartbeat_state(&heartbeat.name).await?;
        views.push(view(heartbeat, state.as_ref(), now));
    }
    Ok(views)
}

fn view(heartbeat: &Heartbeat, state: Option<&HeartbeatState>, now: Instant) -> HeartbeatView {
    HeartbeatView {
        name: heartbeat.name.clone(),
        integration: heartbeat.integration.to_string(),
        interval: heartbeat.interval.to_string(),
        grace: heartbeat.grace.to_string(),
        description: heartbeat.description.clone(),
        status: HeartbeatState::status(state, now),
        last_ping_at: state.map(|s| s.last_ping_at),
        deadline: state.map(|s| s.deadline),
        expired_at: state.and_then(|s| s.expired_at),
        pings: state.map_or(0, |s| s.pings),
    }
}

fn alert_key(heartbeat: &Heartbeat) -> Result<AlertKey, UseCaseError> {
    Ok(AlertKey {
        integration: heartbeat.integration.clone(),
        dedup_key: heartbeat
            .dedup_key()
            .map_err(|e| UseCaseError::invalid("heartbeat", e.to_string()))?,
    })
}

/// Stores the missed-heartbeat alert and queues it for grouping (a repeat when it is open).
async fn fire_alert<S: Store, Q: Queue>(
    core: &Core<S>,
    queue: &Q,
    config: &Config,
    heartbeat: &Heartbeat,
    state: &HeartbeatState,
) -> Result<(), UseCaseError> {
    let alert = heartbeat
        .missed_alert(state.last_ping_at, core.now())
        .map_err(|e| UseCaseError::invalid("heartbeat", e.to_string()))?;
    let grouping = config.group(&alert);
    let alert_id = AlertId::new(core.ids.new_id())
        .map_err(|e| UseCaseError::invalid("alert_id", e.to_string()))?;
    if let Firing::New { alert_id } = core
        .repo
        .record_firing(&alert, &alert_id, &grouping.key)
        .await?
    {
        let message = AlertMessage {
            alert_id,
            key: alert.key(),
            action: AlertAction::Fire,
            group_key: grouping.key,
            at: alert.received_at,
        };
        // Stored already: if this send fails, the recovery sweep queues it.
        if let Err(error) = queue.send(&QueueMessage::Alert(message)).await {
            tracing::warn!(%error, heartbeat = %heartbeat.name, "queueing the missed-heartbeat alert failed; the recovery sweep will queue it");
        }
    }
    tracing::warn!(heartbeat = %heartbeat.name, "heartbeat expired");
    Ok(())
}

/// Resolves the missed-heartbeat alert (grouping then resolves its incident, with a timeline
/// entry, when `settings.auto_resolve` is on). A repeated resolve queues again (idempotent).
async fn resolve_alert<S: Store, Q: Queue>(
    core: &Core<S>,
    queue: &Q,
    heartbeat: &Heartbeat,
    at: Instant,
) -> Result<(), UseCaseError> {
    let key = alert_key(heartbeat)?;
    let (alert_id, group_key) = match core.repo.record_resolved(&key, at).await? {
        Resolved::Resolved {
            alert_id,
            group_key,
            ..
        } => (alert_id, group_key),
        Resolved::AlreadyResolved => match core.repo.alert(&key).await? {
            Some(record) => (record.alert_id, record.group_key),
            None => return Ok(()),
        },
        Resolved::Unknown => return Ok(()),
    };
    let message = AlertMessage {
        alert_id,
        key,
        action: AlertAction::Resolve,
        group_key,
        at,
    };
    queue.send(&QueueMessage::Alert(message)).await?;
    Ok(())
}

impl<S: Store, Q: Queue, T: Timers> super::ack::AckService<S, Q, T> {
    /// A ping of heartbeat `name` with integration key `key` (see [`authenticate_ping`])
    /// carrying `body`. A body that means "not a ping" ([`heartbeat::ignored_ping`]: a
    /// resolved Alertmanager notification) is authenticated like any ping, then changes
    /// nothing.
    pub async fn heartbeat_ping(
        &self,
        key: Option<&str>,
        name: &str,
        body: &[u8],
    ) -> Result<PingAnswer, UseCaseError> {
        let (heartbeat, _config) = authenticate_ping(self.core(), key, name).await?;
        if let Some(reason) = heartbeat::ignored_ping(body) {
            tracing::info!(heartbeat = %heartbeat.name, reason = reason.as_str(), "ping not counted");
            return Ok(PingAnswer::Ignored {
                heartbeat: heartbeat.name,
                reason,
            });
        }
        ping(self.core(), self.queue(), self.timers(), &heartbeat)
            .await
            .map(PingAnswer::Pinged)
    }

    /// Every heartbeat with its state, for an API key.
    pub async fn heartbeat_list(
        &self,
        key: Option<&str>,
    ) -> Result<Vec<HeartbeatView>, UseCaseError> {
        super::access::authenticate_api(self.core(), key).await?;
        list(self.core()).await
    }
}
