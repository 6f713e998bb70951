//! An alert occurrence resolving: its link, the incident's open counter, and auto-resolve.

use super::{
    AlertLinkState, AlertResolvedOutcome, LinkItem, StoredIncident, failed_at, link_key,
    save_actions, timeline_drafts,
};
use crate::key::{n, s};
use crate::repo::codec::{from_item, time_value};
use crate::repo::lock::{Attempt, retry_on_conflict};
use crate::repo::schema::incident_key;
use crate::repo::{MAX_TRANSACTION_ITEMS, RepoError, Repository};
use crate::{Condition, Item, Key, Store, StoreError, TransactOp, UpdateAction};
use klaxon_domain::Instant;
use klaxon_domain::escalation::Effect;
use klaxon_domain::ids::{AlertId, IncidentId};
use klaxon_domain::incident::{AutoResolve, Incident, IncidentError};
use klaxon_domain::timeline::Actor;

/// The two updates of an alert resolve: the link `link` (condition: still open on this
/// incident) and the incident, whose open counter drops by one, saved as `next` as well
/// when `resolves_now` (condition: unchanged since read as `stored`).
fn resolve_updates(
    link: &Key,
    incident_id: &IncidentId,
    stored: &StoredIncident,
    next: &Incident,
    resolves_now: bool,
    at: Instant,
) -> Result<[TransactOp; 2], RepoError> {
    let link_update = TransactOp::Update {
        key: link.clone(),
        actions: vec![
            UpdateAction::set("state", s(AlertLinkState::Resolved.as_str())),
            UpdateAction::set("resolved_at", time_value(at)),
        ],
        condition: Some(
            Condition::equals("state", s(AlertLinkState::Open.as_str()))
                .and(Condition::equals("incident", s(incident_id.as_str()))),
        ),
    };
    let incident_update = if resolves_now {
        let mut actions = save_actions(next, stored.version + 1)?;
        actions.push(UpdateAction::add("alerts_open", -1));
        TransactOp::Update {
            key: incident_key(incident_id.as_str()),
            actions,
            condition: Some(
                Condition::VersionEquals(stored.version).and(Condition::equals(
                    "alerts_open",
                    n(i64::from(stored.incident.alerts().open)),
                )),
            ),
        }
    } else {
        TransactOp::Update {
            key: incident_key(incident_id.as_str()),
            actions: vec![UpdateAction::add("alerts_open", -1)],
            condition: Some(Condition::Exists),
        }
    };
    Ok([link_update, incident_update])
}

impl<S: Store> Repository<S> {
    /// The transaction of an alert resolve: [`resolve_updates`] and the timeline entries of
    /// `effects`.
    fn resolve_ops(
        &self,
        link: &Key,
        stored: &StoredIncident,
        next: &Incident,
        resolves_now: bool,
        effects: &[Effect],
        at: Instant,
    ) -> Result<Vec<TransactOp>, RepoError> {
        let incident_id = stored.incident.id();
        let [link_update, incident_update] =
            resolve_updates(link, incident_id, stored, next, resolves_now, at)?;
        let drafts = timeline_drafts(effects);
        let mut ops = vec![link_update, incident_update];
        ops.extend(self.timeline_ops(incident_id, &drafts)?);
        if ops.len() > MAX_TRANSACTION_ITEMS {
            return Err(RepoError::invalid(
                "timeline",
                "too many entries for one transaction",
            ));
        }
        Ok(ops)
    }

    /// A linked alert occurrence resolved: its link is marked resolved (condition: still open)
    /// and the incident's open counter drops by one, with the `alert.resolved` entry, in one
    /// transaction. When that leaves no open alert and auto-resolve is on, the incident
    /// resolves too: in the same transaction when the incident read beforehand shows this was
    /// its last open alert (conditioned on its version and that count), otherwise by a
    /// versioned save conditioned on the counter being zero (retried on conflict; an alert
    /// linking in between keeps the incident open). A redelivery changes nothing more, but
    /// still completes an auto-resolve a crash interrupted.
    pub async fn alert_resolved(
        &self,
        incident_id: &IncidentId,
        alert_id: &AlertId,
        actor: Actor,
        auto_resolve: AutoResolve,
        at: Instant,
    ) -> Result<AlertResolvedOutcome, RepoError> {
        let link = link_key(alert_id);
        let (link, actor) = (&link, &actor);
        retry_on_conflict("incident", incident_id.to_string(), move || async move {
            let stored = self
                .incident(incident_id)
                .await?
                .ok_or_else(|| RepoError::not_found("incident", incident_id.to_string()))?;
            let mut next = stored.incident.clone();
            let effects = match next.alert_resolved(alert_id, actor.clone(), auto_resolve, at) {
                Ok(effects) => effects,
                // The counter shows no open alert: only a redelivery gets here.
                Err(IncidentError::NoOpenAlerts { .. }) => {
                    let actor = actor.clone();
                    return self
                        .link_already_resolved(incident_id, alert_id, None, actor, auto_resolve, at)
                        .await
                        .map(Attempt::Done);
                }
                Err(other) => return Err(other.into()),
            };
            let resolves_now = stored.incident.is_open() && !next.is_open();
            let ops = self.resolve_ops(link, &stored, &next, resolves_now, &effects, at)?;
            match self.store.transact(ops).await {
                Ok(()) if resolves_now => Ok(Attempt::Done(AlertResolvedOutcome {
                    incident: StoredIncident {
                        incident: next,
                        version: stored.version + 1,
                    },
                    effects,
                })),
                // `next` carries the decremented count, as the domain computed it.
                Ok(()) if auto_resolve == AutoResolve::Never || !stored.incident.is_open() => {
                    Ok(Attempt::Done(AlertResolvedOutcome {
                        incident: StoredIncident {
                            incident: next,
                            version: stored.version,
                        },
                        effects,
                    }))
                }
                Ok(()) => {
                    // A concurrent resolve may have taken the counter to zero unseen.
                    let (incident, more) = self
                        .finish_auto_resolve(incident_id, actor.clone(), auto_resolve, at)
                        .await?;
                    let mut effects = effects;
                    effects.extend(more);
                    Ok(Attempt::Done(AlertResolvedOutcome { incident, effects }))
                }
                Err(StoreError::TransactionCancelled { reasons }) => {
                    if let Some(existing) = failed_at(&reasons, 0) {
                        return self
                            .link_already_resolved(
                                incident_id,
                                alert_id,
                                Some(existing),
                                actor.clone(),
                                auto_resolve,
                                at,
                            )
                            .await
                            .map(Attempt::Done);
                    }
                    if failed_at(&reasons, 1).is_some() {
                        return Ok(Attempt::Retry); // The incident changed since it was read.
                    }
                    Err(StoreError::TransactionCancelled { reasons }.into())
                }
                Err(other) => Err(other.into()),
            }
        })
        .await
    }

    /// The link was not open for this incident: a redelivery (resolved link: finish a pending
    /// auto-resolve, nothing else) or a wrong pairing ([`RepoError::NotFound`]).
    async fn link_already_resolved(
        &self,
        incident_id: &IncidentId,
        alert_id: &AlertId,
        existing: Option<Option<&Item>>,
        actor: Actor,
        auto_resolve: AutoResolve,
        at: Instant,
    ) -> Result<AlertResolvedOutcome, RepoError> {
        let item = match existing {
            Some(item) => item.cloned(),
            None => self.store.get(&link_key(alert_id)).await?,
        };
        let link: Option<LinkItem> = item.map(from_item).transpose()?;
        match link {
            Some(link)
                if &link.incident == incident_id && link.state == AlertLinkState::Resolved =>
            {
                let (incident, effects) = self
                    .finish_auto_resolve(incident_id, actor, auto_resolve, at)
                    .await?;
                Ok(AlertResolvedOutcome { incident, effects })
            }
            Some(link) if &link.incident == incident_id => Err(RepoError::corrupt(
                &incident_key(incident_id.as_str()),
                "alerts_open",
                format!("is 0 while alert {alert_id} is linked and open"),
            )),
            _ => Err(RepoError::not_found(
                "alert link",
                format!("{alert_id} on incident {incident_id}"),
            )),
        }
    }

    /// Resolves the incident if auto-resolve is on, it is open and its open counter is zero
    /// (versioned save conditioned on the counter; retried on conflict).
    async fn finish_auto_resolve(
        &self,
        incident_id: &IncidentId,
        actor: Actor,
        auto_resolve: AutoResolve,
        at: Instant,
    ) -> Result<(StoredIncident, Vec<Effect>), RepoError> {
        let actor = &actor;
        retry_on_conflict("incident", incident_id.to_string(), move || async move {
            let stored = self
                .incident(incident_id)
                .await?
                .ok_or_else(|| RepoError::not_found("incident", incident_id.to_string()))?;
            if auto_resolve != AutoResolve::WhenAllAlertsResolve
                || !stored.incident.is_open()
                || stored.incident.alerts().open > 0
            {
                return Ok(Attempt::Done((stored, Vec::new())));
            }
            let mut next = stored.incident.clone();
            let effects = next.resolve_when_no_alert_is_open(actor.clone(), at)?;
            let drafts = timeline_drafts(&effects);
            match self
                .save_incident_if(
                    &next,
                    stored.version,
                    &drafts,
                    Vec::new(),
                    Some(Condition::equals("alerts_open", n(0))),
                )
                .await
            {
                Ok(version) => Ok(Attempt::Done((
                    StoredIncident {
                        incident: next,
                        version,
                    },
                    effects,
                ))),
                Err(RepoError::Conflict { .. }) => Ok(Attempt::Retry),
                Err(other) => Err(other),
            }
        })
        .await
    }
}
