//! The `ack` function's use cases: acknowledge or resolve an incident through a signed link,
//! the API, or a Slack button. Each path authenticates its caller its own way, then calls
//! [`stop_incident`], which commits the change, cancels the escalation timer and queues the
//! notices to responders already paged.

use super::access::authenticate_api;
use super::lifecycle::{StopAction, StopOutcome, stop_incident};
use super::queries::find_incident;
use super::{Core, UseCaseError};
use crate::ports::{Queue, Timers};
use crate::security::links::{LinkAction, LinkError, LinkSigner, SignedLink};
use crate::security::slack::SlackSigning;
use klaxon_domain::ids::{IncidentId, UserId};
use klaxon_domain::incident::Incident;
use klaxon_domain::timeline::Actor;
use klaxon_store::Store;
use serde::Deserialize;
use serde_json::Value;

/// The Slack button that acknowledges (see `render::slack`).
pub const SLACK_ACK_ACTION: &str = "klaxon_ack";
/// The Slack button that resolves.
pub const SLACK_RESOLVE_ACTION: &str = "klaxon_resolve";

/// Why a signed link could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LinkFailure {
    /// The link is altered, expired or malformed.
    #[error(transparent)]
    Link(#[from] LinkError),
    /// The link is good but the action could not be taken (unknown incident, acknowledging a
    /// resolved incident, storage).
    #[error(transparent)]
    Other(#[from] UseCaseError),
}

/// What a valid link would do, for its confirmation page.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkPreview {
    /// The incident as it is now.
    pub incident: Incident,
    /// The user the link was sent to.
    pub user: UserId,
    /// What it does.
    pub action: LinkAction,
}

/// What an acknowledge or resolve did.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionResult {
    /// The incident after the call.
    pub incident: Incident,
    /// False when it already was in that state (nothing changed).
    pub changed: bool,
    /// Which action.
    pub action: StopAction,
    /// Who it is recorded as.
    pub actor: Actor,
}

impl ActionResult {
    fn new(outcome: StopOutcome, action: StopAction, actor: Actor) -> Self {
        let changed = matches!(outcome, StopOutcome::Changed(_));
        let incident = match outcome {
            StopOutcome::Changed(stored) | StopOutcome::Unchanged(stored) => stored.incident,
        };
        Self {
            incident,
            changed,
            action,
            actor,
        }
    }
}

/// The action a link performs.
pub fn stop_action(action: LinkAction) -> StopAction {
    match action {
        LinkAction::Ack => StopAction::Acknowledge,
        LinkAction::Resolve => StopAction::Resolve,
    }
}

#[derive(Deserialize)]
struct SlackPayload {
    #[serde(rename = "type")]
    kind: String,
    user: SlackUser,
    #[serde(default)]
    actions: Vec<SlackAction>,
}

#[derive(Deserialize)]
struct SlackUser {
    id: String,
}

#[derive(Deserialize)]
struct SlackAction {
    action_id: String,
    #[serde(default)]
    value: String,
}

/// The `ack` function's use cases.
pub struct AckService<S, Q, T> {
    core: Core<S>,
    queue: Q,
    timers: T,
    links: LinkSigner,
    slack: SlackSigning,
}

crate::fmt_hidden::opaque_debug!(AckService<S, Q, T>);

impl<S: Store, Q: Queue, T: Timers> AckService<S, Q, T> {
    /// Assembles the service. `links` verifies signed links (the secret notify signs with);
    /// `slack` verifies Slack requests (an `Option<SlackVerifier>`, or a [`SlackSigning`] whose
    /// verifier a refreshed secret replaces), `None` when no Slack signing secret is configured
    /// (Slack actions are then refused).
    pub fn new(
        core: Core<S>,
        queue: Q,
        timers: T,
        links: LinkSigner,
        slack: impl Into<SlackSigning>,
    ) -> Self {
        Self {
            core,
            queue,
            timers,
            links,
            slack: slack.into(),
        }
    }

    /// The shared core.
    pub fn core(&self) -> &Core<S> {
        &self.core
    }

    /// The queue port (pages, notices).
    pub fn queue(&self) -> &Q {
        &self.queue
    }

    /// The timers port.
    pub fn timers(&self) -> &T {
        &self.timers
    }

    /// Checks a link and shows what it would do. Changes nothing (mail scanners fetch links).
    pub async fn preview_link(&self, link: &SignedLink) -> Result<LinkPreview, LinkFailure> {
        let verified = self.links.verify(link, self.core.now())?;
        let stored = self
            .core
            .repo
            .incident(&verified.incident)
            .await
            .map_err(UseCaseError::from)?
            .ok_or_else(|| UseCaseError::NotFound {
                what: "incident",
                id: verified.incident.to_string(),
            })?;
        Ok(LinkPreview {
            incident: stored.incident,
            user: verified.user,
            action: verified.action,
        })
    }

    /// Checks a link and performs its action as the user it was sent to.
    pub async fn follow_link(&self, link: &SignedLink) -> Result<ActionResult, LinkFailure> {
        let verified = self.links.verify(link, self.core.now())?;
        let action = stop_action(verified.action);
        let actor = Actor::user(verified.user);
        Ok(self.stop(&verified.incident, action, actor).await?)
    }

    /// Acknowledges or resolves incident `reference` (id or number) with an API key. `body` is
    /// empty or `{"user": "alice"}` to record a configured user as the actor (otherwise the
    /// key is the actor).
    pub async fn api_action(
        &self,
        key: Option<&str>,
        reference: &str,
        action: StopAction,
        body: &[u8],
    ) -> Result<ActionResult, UseCaseError> {
        let principal = authenticate_api(&self.core, key).await?;
        let actor = match self.requested_user(body).await? {
            Some(user) => Actor::user(user),
            None => principal.actor(),
        };
        let stored = find_incident(&self.core, reference).await?;
        self.stop(stored.incident.id(), action, actor).await
    }

    /// The user named in an API action's body, checked against the configuration.
    async fn requested_user(&self, body: &[u8]) -> Result<Option<UserId>, UseCaseError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| UseCaseError::invalid("body", format!("is not valid JSON: {e}")))?;
        let Value::Object(object) = value else {
            return Err(UseCaseError::invalid(
                "body",
                "must be a JSON object like {\"user\": \"alice\"}",
            ));
        };
        if let Some(unknown) = object.keys().find(|k| k.as_str() != "user") {
            return Err(UseCaseError::invalid(
                unknown.clone(),
                "unknown field (only \"user\" is accepted)",
            ));
        }
        let name = match object.get("user") {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::String(name)) => name,
            Some(_) => return Err(UseCaseError::invalid("user", "must be a string")),
        };
        let config = self.core.config().await?;
        UserId::new(name.clone())
            .ok()
            .filter(|id| config.user(id).is_some())
            .map(Some)
            .ok_or_else(|| {
                UseCaseError::invalid(
                    "user",
                    format!("unknown user {name:?} (not defined under users)"),
                )
            })
    }

    /// Handles a Slack interactive request (`block_actions` from a page's buttons). The
    /// signature is checked on the raw body first; the Slack member who clicked must be a
    /// configured user (by `slack_id`).
    pub async fn slack_action(
        &self,
        timestamp: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<ActionResult, UseCaseError> {
        let verifier = self.slack.current().ok_or_else(|| {
            UseCaseError::Unauthorized(
                "Slack actions are disabled: no Slack signing secret is configured".into(),
            )
        })?;
        verifier
            .verify(timestamp, signature, body, self.core.now())
            .map_err(|e| UseCaseError::Unauthorized(format!("Slack signature rejected: {e}")))?;
        let form: Vec<(String, String)> = serde_urlencoded::from_bytes(body).map_err(|e| {
            UseCaseError::invalid(
                "body",
                format!("is not a form (application/x-www-form-urlencoded): {e}"),
            )
        })?;
        let payload = form
            .iter()
            .find(|(name, _)| name == "payload")
            .map(|(_, value)| value)
            .ok_or_else(|| UseCaseError::invalid("payload", "is required"))?;
        let payload: SlackPayload = serde_json::from_str(payload).map_err(|e| {
            UseCaseError::invalid("payload", format!("is not a Slack payload: {e}"))
        })?;
        if payload.kind != "block_actions" {
            return Err(UseCaseError::invalid(
                "payload.type",
                format!("only block_actions are handled (got {:?})", payload.kind),
            ));
        }
        let button = payload
            .actions
            .first()
            .ok_or_else(|| UseCaseError::invalid("payload.actions", "is empty"))?;
        let action = match button.action_id.as_str() {
            SLACK_ACK_ACTION => StopAction::Acknowledge,
            SLACK_RESOLVE_ACTION => StopAction::Resolve,
            other => {
                return Err(UseCaseError::invalid(
                    "payload.actions[0].action_id",
                    format!("must be {SLACK_ACK_ACTION} or {SLACK_RESOLVE_ACTION} (got {other:?})"),
                ));
            }
        };
        let incident = IncidentId::new(button.value.clone()).map_err(|e| {
            UseCaseError::invalid(
                "payload.actions[0].value",
                format!("is not an incident id: {e}"),
            )
        })?;
        let config = self.core.config().await?;
        let user = config
            .users
            .iter()
            .find(|u| u.slack_id.as_deref() == Some(payload.user.id.as_str()))
            .ok_or_else(|| {
                UseCaseError::Forbidden(format!(
                    "Slack user {} is not a Klaxon user (no user has this slack_id)",
                    payload.user.id
                ))
            })?;
        self.stop(&incident, action, Actor::user(user.id.clone()))
            .await
    }

    async fn stop(
        &self,
        incident: &IncidentId,
        action: StopAction,
        actor: Actor,
    ) -> Result<ActionResult, UseCaseError> {
        let outcome = stop_incident(
            &self.core,
            &self.queue,
            &self.timers,
            incident,
            action,
            actor.clone(),
        )
        .await?;
        Ok(ActionResult::new(outcome, action, actor))
    }
}
