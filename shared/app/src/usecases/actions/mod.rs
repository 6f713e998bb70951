//! Responder actions through the API (the `ack` function, which holds the queue and timers
//! ports): snooze, escalate now, reassign, add responders, notes.
//!
//! Each request is checked completely (body, named users, schedules and policies) before the
//! incident is read, so bad input changes nothing. The change then follows the escalation
//! rule in [`super::effects`]: pages are queued and new timers armed *before* the incident is
//! committed under its optimistic lock (all idempotent), the old timer is cancelled *after*.
//! A request carries a token (from its `Idempotency-Key`) that the incident remembers in the
//! same write, so a retried request finds it and changes nothing.

mod request;

pub use request::{IncidentAction, MAX_IDEMPOTENCY_KEY_LEN, MAX_RESPONDER_TARGETS, MAX_SNOOZE};

use super::access::authenticate_api;
use super::ack::AckService;
use super::effects::run_effects;
use super::queries::find_incident;
use super::routing::running_policy;
use super::{Core, LoadedConfig, UseCaseError};
use crate::oncall::{Roster, schedules_of};
use crate::ports::{Queue, Timers};
use chrono::TimeDelta;
use klaxon_domain::escalation::{Effect, EscalationError, EscalationPolicy};
use klaxon_domain::incident::{Incident, IncidentError, RequestToken};
use klaxon_domain::timeline::Actor;
use klaxon_store::Store;
use klaxon_store::repo::{Attempt, RepoError, retry_on_conflict};
use request::{Command, Fields, token};
use std::collections::HashMap;

/// What a responder action did.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentActionResult {
    /// The incident after the call.
    pub incident: Incident,
    /// False when the request had been applied already (a retry): nothing changed.
    pub changed: bool,
    /// Which action.
    pub action: IncidentAction,
    /// Who it is recorded as.
    pub actor: Actor,
}

/// One action request as the HTTP edge received it.
#[derive(Debug, Clone, Copy)]
pub struct ActionRequest<'a> {
    /// The API key.
    pub key: Option<&'a str>,
    /// The incident's id or number.
    pub reference: &'a str,
    /// The client's `Idempotency-Key` header, if sent.
    pub idempotency_key: Option<&'a str>,
    /// The JSON body.
    pub body: &'a [u8],
}

impl<S: Store, Q: Queue, T: Timers> AckService<S, Q, T> {
    /// Performs `action` on an incident with an API key. The body may name a configured
    /// `user` as the actor (otherwise the key is the actor).
    pub async fn incident_action(
        &self,
        action: IncidentAction,
        request: ActionRequest<'_>,
    ) -> Result<IncidentActionResult, UseCaseError> {
        let core = self.core();
        let principal = authenticate_api(core, request.key).await?;
        let config = core.config().await?;
        let fields = Fields::parse(request.body, action)?;
        let actor = match fields.user(&config)? {
            Some(user) => Actor::user(user),
            None => principal.actor(),
        };
        let ports = Ports {
            core,
            queue: self.queue(),
            timers: self.timers(),
        };
        perform(&ports, &config, &fields, action, actor, request).await
    }
}

/// Performs `action` as `actor`, for an edge that has already authenticated the person and
/// checked their role (the console): `request.key` is not read, `request.body` is the JSON the
/// API takes (without `user`) and `request.idempotency_key` plays the header's part. Exactly
/// the API's checks, refusals and effects.
pub async fn act_as<S: Store, Q: Queue, T: Timers>(
    core: &Core<S>,
    queue: &Q,
    timers: &T,
    action: IncidentAction,
    actor: Actor,
    request: ActionRequest<'_>,
) -> Result<IncidentActionResult, UseCaseError> {
    let config = core.config().await?;
    let fields = Fields::parse(request.body, action)?;
    if fields.user(&config)?.is_some() {
        return Err(UseCaseError::invalid(
            "user",
            "is the signed-in person here; it cannot be named",
        ));
    }
    let ports = Ports {
        core,
        queue,
        timers,
    };
    perform(&ports, &config, &fields, action, actor, request).await
}

/// The ports an action uses.
struct Ports<'a, S, Q, T> {
    core: &'a Core<S>,
    queue: &'a Q,
    timers: &'a T,
}

async fn perform<S: Store, Q: Queue, T: Timers>(
    ports: &Ports<'_, S, Q, T>,
    config: &LoadedConfig,
    fields: &Fields,
    action: IncidentAction,
    actor: Actor,
    request: ActionRequest<'_>,
) -> Result<IncidentActionResult, UseCaseError> {
    let core = ports.core;
    let command = fields.command(action, config, core.now())?;
    let stored = find_incident(core, request.reference).await?;
    let id = stored.incident.id().clone();
    let token = token(action, id.as_str(), request.idempotency_key, || {
        core.ids.new_id()
    })?;
    let (incident, changed) = apply(ports, config, &id, &command, &token, &actor).await?;
    Ok(IncidentActionResult {
        incident,
        changed,
        action,
        actor,
    })
}

async fn apply<S: Store, Q: Queue, T: Timers>(
    ports: &Ports<'_, S, Q, T>,
    config: &LoadedConfig,
    id: &klaxon_domain::ids::IncidentId,
    command: &Command,
    token: &RequestToken,
    actor: &Actor,
) -> Result<(Incident, bool), UseCaseError> {
    let core = ports.core;
    retry_on_conflict("incident", id.to_string(), move || async move {
        let stored = core
            .repo
            .incident(id)
            .await?
            .ok_or_else(|| UseCaseError::NotFound {
                what: "incident",
                id: id.to_string(),
            })?;
        let mut incident = stored.incident.clone();
        let now = core.now();
        let Some(effects) =
            changes(core, config, &mut incident, command, token, actor, now).await?
        else {
            return Ok(Attempt::Done((stored.incident, false)));
        };
        let (before, timeline, after) = phases(effects);
        run_effects(ports.queue, ports.timers, before).await?;
        match core
            .repo
            .save_incident(&incident, stored.version, &timeline)
            .await
        {
            Ok(_) => {
                // Committed: the replaced timer is stale now whatever happens to it.
                if let Err(error) = run_effects(ports.queue, ports.timers, after).await {
                    tracing::warn!(incident = %id, %error, "could not cancel a replaced timer");
                }
                Ok(Attempt::Done((incident, true)))
            }
            Err(RepoError::Conflict { .. }) => Ok(Attempt::Retry),
            Err(other) => Err(other.into()),
        }
    })
    .await
}

/// The domain change for `command`; `None` when the token was applied already.
async fn changes<S: Store>(
    core: &Core<S>,
    config: &LoadedConfig,
    incident: &mut Incident,
    command: &Command,
    token: &RequestToken,
    actor: &Actor,
    now: klaxon_domain::Instant,
) -> Result<Option<Vec<Effect>>, UseCaseError> {
    let actor = actor.clone();
    let result = match command {
        Command::Snooze { until } => incident.snooze(*until, token, actor, now),
        Command::Note { text } => incident
            .add_note(text, token, actor, now)
            .map(|draft| draft.map(|d| vec![Effect::Timeline(d)])),
        Command::AddResponders { targets } => {
            incident.add_responders(targets.clone(), token, actor, now)
        }
        Command::Escalate => {
            let policy = incident
                .escalation()
                .and_then(|state| running_policy(config, state))
                .ok_or_else(|| {
                    refused(IncidentError::NoEscalation {
                        incident: incident.id().clone(),
                    })
                })?;
            let roster = roster(core, config, &policy).await?;
            incident
                .escalate_now(&policy, &roster, token, actor, now)
                .map(|update| update.map(|u| u.effects))
        }
        Command::Reassign { policy, assigned } => {
            let roster = roster(core, config, policy).await?;
            incident
                .reassign(policy, assigned.clone(), &roster, token, actor, now)
                .map(|update| update.map(|u| u.effects))
        }
    };
    result.map_err(refused)
}

async fn roster<'a, S: Store>(
    core: &Core<S>,
    config: &'a LoadedConfig,
    policy: &EscalationPolicy,
) -> Result<Roster<'a>, UseCaseError> {
    let now = core.now();
    let mut overrides = HashMap::new();
    for schedule in schedules_of(policy) {
        let list = core
            .repo
            .overrides(&schedule, now, now + TimeDelta::seconds(1))
            .await?;
        overrides.insert(schedule, list);
    }
    Ok(Roster::new(&config.config, overrides))
}

/// Pages and new timers (before the commit), timeline drafts (with it), cancellations (after).
fn phases(
    effects: Vec<Effect>,
) -> (
    Vec<Effect>,
    Vec<klaxon_domain::timeline::TimelineDraft>,
    Vec<Effect>,
) {
    let mut before = Vec::new();
    let mut timeline = Vec::new();
    let mut after = Vec::new();
    for effect in effects {
        match effect {
            Effect::Timeline(draft) => timeline.push(draft),
            cancel @ Effect::CancelTimer { .. } => after.push(cancel),
            other => before.push(other),
        }
    }
    (before, timeline, after)
}

/// An action the incident's state refuses: 409 with a code, or 400 for a bad value.
fn refused(error: IncidentError) -> UseCaseError {
    let code = match &error {
        IncidentError::AlreadyResolved { .. }
        | IncidentError::Escalation(EscalationError::AlreadyResolved) => "incident_resolved",
        IncidentError::Escalation(EscalationError::NotAcknowledged(_)) => "not_acknowledged",
        IncidentError::Escalation(EscalationError::NotEscalating(_)) => "not_escalating",
        IncidentError::NoEscalation { .. } | IncidentError::Suppressed { .. } => "no_escalation",
        IncidentError::BadNote => return UseCaseError::invalid("text", error.to_string()),
        IncidentError::Escalation(EscalationError::BadDeadline { field }) => {
            return UseCaseError::invalid(*field, error.to_string());
        }
        _ => "conflict",
    };
    UseCaseError::StateConflict {
        code,
        message: error.to_string(),
    }
}
