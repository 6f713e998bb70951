//! Reading a responder action's request: the JSON body (every field checked, unknown fields
//! refused, each error naming its field), the acting user, and the idempotency token.

use super::super::{LoadedConfig, UseCaseError};
use klaxon_domain::Instant;
use klaxon_domain::duration::HumanDuration;
use klaxon_domain::escalation::{EscalationPolicy, Target};
use klaxon_domain::ids::{PolicyId, ScheduleId, UserId};
use klaxon_domain::incident::RequestToken;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The longest snooze.
pub const MAX_SNOOZE: HumanDuration = HumanDuration::from_mins(7 * 24 * 60);
/// The longest `Idempotency-Key` accepted.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;
/// The most targets one add-responders request may page.
pub const MAX_RESPONDER_TARGETS: usize = 20;

/// A responder action on an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncidentAction {
    /// `POST /v1/incidents/{id}/snooze`.
    Snooze,
    /// `POST /v1/incidents/{id}/escalate`.
    Escalate,
    /// `POST /v1/incidents/{id}/reassign`.
    Reassign,
    /// `POST /v1/incidents/{id}/responders`.
    AddResponders,
    /// `POST /v1/incidents/{id}/notes`.
    Note,
}

impl IncidentAction {
    /// The action's name in answers (`snooze`, `escalate`, `reassign`, `responders`, `note`).
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentAction::Snooze => "snooze",
            IncidentAction::Escalate => "escalate",
            IncidentAction::Reassign => "reassign",
            IncidentAction::AddResponders => "responders",
            IncidentAction::Note => "note",
        }
    }

    fn fields(self) -> &'static [&'static str] {
        match self {
            IncidentAction::Snooze => &["user", "duration", "until"],
            IncidentAction::Escalate => &["user"],
            IncidentAction::Reassign => &["user", "to"],
            IncidentAction::AddResponders => &["user", "targets"],
            IncidentAction::Note => &["user", "text"],
        }
    }
}

/// What to do, validated against the configuration before anything is read or changed.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Command {
    Snooze {
        until: Instant,
    },
    Escalate,
    Reassign {
        policy: EscalationPolicy,
        assigned: Option<Target>,
    },
    AddResponders {
        targets: Vec<Target>,
    },
    Note {
        text: String,
    },
}

/// A request body: a JSON object (an empty body is `{}`).
pub(super) struct Fields(Map<String, Value>);

impl Fields {
    pub(super) fn parse(body: &[u8], action: IncidentAction) -> Result<Self, UseCaseError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(Map::new()));
        }
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| UseCaseError::invalid("body", format!("is not valid JSON: {e}")))?;
        let Value::Object(object) = value else {
            return Err(UseCaseError::invalid("body", "must be a JSON object"));
        };
        let allowed = action.fields();
        if let Some(unknown) = object.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(UseCaseError::invalid(
                unknown.clone(),
                format!("unknown field (accepted: {})", allowed.join(", ")),
            ));
        }
        Ok(Self(object))
    }

    fn text(&self, name: &str) -> Result<Option<&str>, UseCaseError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(_) => Err(UseCaseError::invalid(name, "must be a string")),
        }
    }

    /// The configured user named in `user`, if any (the actor instead of the API key).
    pub(super) fn user(&self, config: &LoadedConfig) -> Result<Option<UserId>, UseCaseError> {
        self.text("user")?
            .map(|name| known_user(config, "user", name))
            .transpose()
    }

    pub(super) fn command(
        &self,
        action: IncidentAction,
        config: &LoadedConfig,
        now: Instant,
    ) -> Result<Command, UseCaseError> {
        match action {
            IncidentAction::Snooze => self.snooze(now),
            IncidentAction::Escalate => Ok(Command::Escalate),
            IncidentAction::Reassign => self.reassign(config),
            IncidentAction::AddResponders => self.responders(config),
            IncidentAction::Note => {
                let text = self
                    .text("text")?
                    .ok_or_else(|| UseCaseError::invalid("text", "is required"))?;
                Ok(Command::Note {
                    text: text.to_owned(),
                })
            }
        }
    }

    fn snooze(&self, now: Instant) -> Result<Command, UseCaseError> {
        let until = match (self.text("duration")?, self.text("until")?) {
            (Some(text), None) => {
                let duration = HumanDuration::parse(text)
                    .map_err(|e| UseCaseError::invalid("duration", e.to_string()))?;
                if duration.as_secs() < 1 || duration > MAX_SNOOZE {
                    return Err(UseCaseError::invalid(
                        "duration",
                        format!("must be between 1s and {MAX_SNOOZE} (got {duration})"),
                    ));
                }
                now + duration.to_delta()
            }
            (None, Some(text)) => {
                let until = super::super::queries::parse_instant("until", text)?;
                if until <= now || until > now + MAX_SNOOZE.to_delta() {
                    return Err(UseCaseError::invalid(
                        "until",
                        format!("must be in the future and at most {MAX_SNOOZE} away"),
                    ));
                }
                until
            }
            (Some(_), Some(_)) => {
                return Err(UseCaseError::invalid(
                    "until",
                    "give duration or until, not both",
                ));
            }
            (None, None) => {
                return Err(UseCaseError::invalid(
                    "duration",
                    "is required (or until), e.g. {\"duration\": \"30m\"}",
                ));
            }
        };
        Ok(Command::Snooze { until })
    }

    fn reassign(&self, config: &LoadedConfig) -> Result<Command, UseCaseError> {
        let to = self.0.get("to").ok_or_else(|| {
            UseCaseError::invalid("to", "is required, e.g. {\"to\": {\"user\": \"bob\"}}")
        })?;
        match target_or_policy(config, "to", to, true)? {
            Choice::Policy(policy) => Ok(Command::Reassign {
                policy,
                assigned: None,
            }),
            Choice::Target(target) => Ok(Command::Reassign {
                policy: EscalationPolicy::direct(target.clone()),
                assigned: Some(target),
            }),
        }
    }

    fn responders(&self, config: &LoadedConfig) -> Result<Command, UseCaseError> {
        let Some(Value::Array(list)) = self.0.get("targets") else {
            return Err(UseCaseError::invalid(
                "targets",
                "is required: a list like [{\"user\": \"bob\"}, {\"schedule\": \"dba\"}]",
            ));
        };
        if list.is_empty() || list.len() > MAX_RESPONDER_TARGETS {
            return Err(UseCaseError::invalid(
                "targets",
                format!("must list 1 to {MAX_RESPONDER_TARGETS} users or schedules"),
            ));
        }
        let mut targets = Vec::new();
        for (i, value) in list.iter().enumerate() {
            let field = format!("targets[{i}]");
            if let Choice::Target(target) = target_or_policy(config, &field, value, false)?
                && !targets.contains(&target)
            {
                targets.push(target);
            }
        }
        Ok(Command::AddResponders { targets })
    }
}

enum Choice {
    Target(Target),
    Policy(EscalationPolicy),
}

/// `{"user": "bob"}`, `{"schedule": "primary"}` or (if `policies`) `{"policy": "infra"}`,
/// checked against the configuration.
fn target_or_policy(
    config: &LoadedConfig,
    field: &str,
    value: &Value,
    policies: bool,
) -> Result<Choice, UseCaseError> {
    let expected = if policies {
        "must be {\"user\": ID}, {\"schedule\": ID} or {\"policy\": ID}"
    } else {
        "must be {\"user\": ID} or {\"schedule\": ID}"
    };
    let Some((kind, Value::String(id))) = value
        .as_object()
        .filter(|object| object.len() == 1)
        .and_then(|object| object.iter().next())
    else {
        return Err(UseCaseError::invalid(field, expected));
    };
    let path = format!("{field}.{kind}");
    match kind.as_str() {
        "user" => Ok(Choice::Target(Target::User(known_user(config, &path, id)?))),
        "schedule" => ScheduleId::new(id.clone())
            .ok()
            .filter(|s| config.schedule(s).is_some())
            .map(|s| Choice::Target(Target::Schedule(s)))
            .ok_or_else(|| {
                UseCaseError::invalid(
                    path,
                    format!("unknown schedule {id:?} (not defined under schedules)"),
                )
            }),
        "policy" if policies => PolicyId::new(id.clone())
            .ok()
            .and_then(|p| config.policy(&p).cloned())
            .map(Choice::Policy)
            .ok_or_else(|| {
                UseCaseError::invalid(
                    path,
                    format!(
                        "unknown escalation policy {id:?} (not defined under escalation_policies)"
                    ),
                )
            }),
        _ => Err(UseCaseError::invalid(field, expected)),
    }
}

fn known_user(config: &LoadedConfig, field: &str, name: &str) -> Result<UserId, UseCaseError> {
    UserId::new(name.to_owned())
        .ok()
        .filter(|id| config.user(id).is_some())
        .ok_or_else(|| {
            UseCaseError::invalid(
                field,
                format!("unknown user {name:?} (not defined under users)"),
            )
        })
}

/// The request's token: from the client's `Idempotency-Key` (hashed with the action and the
/// incident, so one key reused on another action or incident is another request), or a fresh
/// id when the client sent none (then every call is a new request).
pub(super) fn token(
    action: IncidentAction,
    incident: &str,
    idempotency_key: Option<&str>,
    fresh: impl FnOnce() -> String,
) -> Result<RequestToken, UseCaseError> {
    let text: String = match idempotency_key.map(str::trim) {
        Some(key) => {
            if key.is_empty()
                || key.len() > MAX_IDEMPOTENCY_KEY_LEN
                || !key.bytes().all(|b| b.is_ascii_graphic())
            {
                return Err(UseCaseError::invalid(
                    "Idempotency-Key",
                    format!("must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} printable ASCII characters"),
                ));
            }
            let digest = Sha256::digest(format!("{}\n{incident}\n{key}", action.as_str()));
            hex::encode(digest).chars().take(24).collect()
        }
        None => fresh()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(32)
            .collect(),
    };
    RequestToken::new(text)
        .ok_or_else(|| UseCaseError::invalid("Idempotency-Key", "could not be turned into a token"))
}
