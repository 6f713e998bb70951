//! Declaring an incident by hand (`POST /v1/incidents`, the `ack` function, which holds the
//! queues). The declaration is stored as an alert of the reserved `declared` integration in a
//! group of its own ([`klaxon_domain::declare`]), linked to a new incident here (as grouping
//! would, so the answer names the incident), and the incident is announced to routing: routing,
//! paging, escalation, acknowledge and resolve are the normal pipeline's.
//!
//! Idempotent: the alert's dedup key comes from the `Idempotency-Key`, so a retry is a repeat of
//! an open alert: it finds the same incident, creates nothing and pages nobody again (it
//! re-announces the incident only while routing has not started it, as grouping does after a
//! crash). The `io.klaxon.incident.declared` entry, with the actor, is written when the
//! incident is created.

use super::access::authenticate_api;
use super::ack::AckService;
use super::{LoadedConfig, UseCaseError};
use crate::messages::{IncidentEvent, IncidentMessage, QueueMessage};
use crate::ports::{Queue, Timers};
use klaxon_domain::alert::Severity;
use klaxon_domain::declare::{self, Declaration, MAX_DESCRIPTION_CHARS, MAX_TITLE_CHARS};
use klaxon_domain::ids::{AlertId, IncidentId, PolicyId, UserId};
use klaxon_domain::incident::{Incident, IncidentStatus};
use klaxon_domain::timeline::{Actor, EntryKey, TimelineDraft, TimelineEntry};
use klaxon_domain::vocabulary::Urgency;
use klaxon_store::Store;
use klaxon_store::repo::Firing;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The longest `Idempotency-Key` accepted.
pub const MAX_DECLARE_KEY_LEN: usize = 255;

/// The fields a declaration body may have.
const FIELDS: [&str; 6] = [
    "title",
    "severity",
    "urgency",
    "policy",
    "description",
    "user",
];

/// What a declaration did.
#[derive(Debug, Clone, PartialEq)]
pub struct Declared {
    /// The incident.
    pub incident: Incident,
    /// False when this request had been made before (same `Idempotency-Key`): nothing changed.
    pub created: bool,
    /// Who it is recorded as.
    pub actor: Actor,
}

impl<S: Store, Q: Queue, T: Timers> AckService<S, Q, T> {
    /// Declares an incident with an API key; the body may name a configured `user` as the
    /// actor (otherwise the key is). Every field is checked before anything is stored.
    pub async fn declare_incident(
        &self,
        key: Option<&str>,
        idempotency_key: Option<&str>,
        body: &[u8],
    ) -> Result<Declared, UseCaseError> {
        let core = self.core();
        let principal = authenticate_api(core, key).await?;
        let config = core.config().await?;
        let (declaration, user) = parse(body, &config)?;
        let actor = user.map_or_else(|| principal.actor(), Actor::user);
        let request = request_id(idempotency_key, || core.ids.new_id())?;
        let now = core.now();
        let alert = declaration
            .alert(&request, now)
            .map_err(|e| UseCaseError::invalid("Idempotency-Key", e.to_string()))?;
        let group_key = declare::group_key(&alert);
        let alert_id = AlertId::new(core.ids.new_id())
            .map_err(|e| UseCaseError::invalid("alert_id", e.to_string()))?;
        let alert_id = match core
            .repo
            .record_firing(&alert, &alert_id, &group_key)
            .await?
        {
            Firing::New { alert_id } => alert_id,
            Firing::Repeat { .. } => match core.repo.alert(&alert.key()).await? {
                Some(record) => record.alert_id,
                None => alert_id,
            },
        };
        let new_id = IncidentId::new(core.ids.new_id())
            .map_err(|e| UseCaseError::invalid("incident_id", e.to_string()))?;
        let window = config.group(&alert).window;
        let linked = core
            .repo
            .find_or_create_incident(&group_key, window, &alert_id, &alert, &new_id)
            .await?;
        let id = linked.incident.incident.id().clone();
        core.repo.mark_grouped(&alert.key(), &alert_id, &id).await?;
        let mut stored = linked.incident;
        if linked.created {
            let entry = TimelineEntry::IncidentDeclared {
                policy: declaration.policy.clone(),
                description: declaration.description.clone(),
            };
            let key = EntryKey::new("declared")
                .map_err(|e| UseCaseError::invalid("timeline", e.to_string()))?;
            let draft = TimelineDraft::new(id.clone(), key, now, actor.clone(), entry);
            let version = core
                .repo
                .save_incident(&stored.incident, stored.version, &[draft])
                .await?;
            stored.version = version;
        }
        let incident = stored.incident;
        let needs_routing = incident.escalation().is_none()
            && incident.suppressed().is_none()
            && incident.status() == IncidentStatus::Triggered;
        if needs_routing {
            let event = IncidentMessage {
                incident: id,
                event: IncidentEvent::Triggered,
            };
            // Stored already: if this send fails, the sweep re-announces unrouted incidents.
            if let Err(error) = self.queue().send(&QueueMessage::Incident(event)).await {
                tracing::warn!(%error, "announcing a declared incident failed; the recovery sweep will");
            }
        }
        Ok(Declared {
            incident,
            created: linked.created,
            actor,
        })
    }
}

/// The declaration and the acting user named in a request body.
fn parse(
    body: &[u8],
    config: &LoadedConfig,
) -> Result<(Declaration, Option<UserId>), UseCaseError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| UseCaseError::invalid("body", format!("is not valid JSON: {e}")))?;
    let Value::Object(fields) = value else {
        return Err(UseCaseError::invalid("body", "must be a JSON object"));
    };
    if let Some(unknown) = fields.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(UseCaseError::invalid(
            unknown.clone(),
            format!("unknown field (accepted: {})", FIELDS.join(", ")),
        ));
    }
    let title = text(&fields, "title")?
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| UseCaseError::invalid("title", "is required"))?;
    if title.chars().count() > MAX_TITLE_CHARS || title.contains(['\n', '\r']) {
        return Err(UseCaseError::invalid(
            "title",
            format!("must be one line of at most {MAX_TITLE_CHARS} characters"),
        ));
    }
    let severity = severity_field(&fields)?;
    let urgency = urgency_field(&fields)?;
    let policy = policy_field(&fields, config)?;
    let description = text(&fields, "description")?.map(str::to_owned);
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_CHARS)
    {
        return Err(UseCaseError::invalid(
            "description",
            format!("must be at most {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    let user = user_field(&fields, config)?;
    Ok((
        Declaration {
            title: title.to_owned(),
            severity,
            urgency,
            policy,
            description,
        },
        user,
    ))
}

fn severity_field(fields: &Map<String, Value>) -> Result<Severity, UseCaseError> {
    Ok(match text(fields, "severity")? {
        None => Severity::Critical,
        Some(name) => Severity::parse(name).ok_or_else(|| {
            UseCaseError::invalid(
                "severity",
                format!("unknown severity {name:?} (critical, error, warning or info)"),
            )
        })?,
    })
}

fn urgency_field(fields: &Map<String, Value>) -> Result<Option<Urgency>, UseCaseError> {
    Ok(match text(fields, "urgency")? {
        None => None,
        Some("high") => Some(Urgency::High),
        Some("low") => Some(Urgency::Low),
        Some(other) => {
            return Err(UseCaseError::invalid(
                "urgency",
                format!("unknown urgency {other:?} (high or low)"),
            ));
        }
    })
}

fn policy_field(
    fields: &Map<String, Value>,
    config: &LoadedConfig,
) -> Result<Option<PolicyId>, UseCaseError> {
    Ok(match text(fields, "policy")? {
        None => None,
        Some(id) => Some(
            PolicyId::new(id.to_owned())
                .ok()
                .filter(|p| config.policy(p).is_some())
                .ok_or_else(|| {
                    UseCaseError::invalid(
                        "policy",
                        format!(
                            "unknown escalation policy {id:?} (not defined under escalation_policies)"
                        ),
                    )
                })?,
        ),
    })
}

fn user_field(
    fields: &Map<String, Value>,
    config: &LoadedConfig,
) -> Result<Option<UserId>, UseCaseError> {
    Ok(match text(fields, "user")? {
        None => None,
        Some(name) => Some(
            UserId::new(name.to_owned())
                .ok()
                .filter(|id| config.user(id).is_some())
                .ok_or_else(|| {
                    UseCaseError::invalid(
                        "user",
                        format!("unknown user {name:?} (not defined under users)"),
                    )
                })?,
        ),
    })
}

fn text<'a>(fields: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, UseCaseError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(UseCaseError::invalid(name, "must be a string")),
    }
}

/// The request's id in the dedup key: a digest of the client's `Idempotency-Key` (so any
/// printable key fits a dedup key), or a fresh id (every call a new declaration).
fn request_id(
    idempotency_key: Option<&str>,
    fresh: impl FnOnce() -> String,
) -> Result<String, UseCaseError> {
    match idempotency_key.map(str::trim) {
        Some(key) => {
            if key.is_empty()
                || key.len() > MAX_DECLARE_KEY_LEN
                || !key.bytes().all(|b| b.is_ascii_graphic())
            {
                return Err(UseCaseError::invalid(
                    "Idempotency-Key",
                    format!("must be 1 to {MAX_DECLARE_KEY_LEN} printable ASCII characters"),
                ));
            }
            Ok(hex::encode(Sha256::digest(key.as_bytes()))
                .chars()
                .take(32)
                .collect())
        }
        None => Ok(fresh()),
    }
}
