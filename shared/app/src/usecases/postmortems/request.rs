//! Reading post-mortem request bodies: JSON objects whose unknown fields are refused and
//! whose every error names its field; users (the actor, an item's owner) must be configured.

use super::super::actions::MAX_IDEMPOTENCY_KEY_LEN;
use super::super::{LoadedConfig, UseCaseError};
use chrono::NaiveDate;
use klaxon_domain::ids::{TemplateName, UserId};
use klaxon_domain::postmortem::{
    ActionItemEdit, ActionStatus, MAX_SECTIONS, PostmortemStatus, PostmortemTemplate, SectionEdit,
    check_action_title,
};
use serde_json::{Map, Value};

/// A request body: a JSON object (an empty body is `{}`), its fields checked against
/// `allowed`.
struct Fields(Map<String, Value>);

impl Fields {
    fn parse(body: &[u8], allowed: &[&str]) -> Result<Self, UseCaseError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(Map::new()));
        }
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| UseCaseError::invalid("body", format!("is not valid JSON: {e}")))?;
        let Value::Object(object) = value else {
            return Err(UseCaseError::invalid("body", "must be a JSON object"));
        };
        if let Some(unknown) = object.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(UseCaseError::invalid(
                unknown.clone(),
                format!("unknown field (accepted: {})", allowed.join(", ")),
            ));
        }
        Ok(Self(object))
    }

    fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    fn text(&self, name: &str) -> Result<Option<&str>, UseCaseError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(_) => Err(UseCaseError::invalid(name, "must be a string")),
        }
    }

    fn user(&self, config: &LoadedConfig, name: &str) -> Result<Option<UserId>, UseCaseError> {
        self.text(name)?
            .map(|id| {
                UserId::new(id.to_owned())
                    .ok()
                    .filter(|user| config.user(user).is_some())
                    .ok_or_else(|| {
                        UseCaseError::invalid(
                            name,
                            format!("unknown user {id:?} (not defined under users)"),
                        )
                    })
            })
            .transpose()
    }

    fn date(&self, name: &str) -> Result<Option<NaiveDate>, UseCaseError> {
        self.text(name)?
            .map(|text| {
                NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
                    UseCaseError::invalid(
                        name,
                        format!("must be a date like 2026-04-01 (got {text:?})"),
                    )
                })
            })
            .transpose()
    }
}

/// Checks an `Idempotency-Key` header's value.
pub(super) fn idempotency(key: Option<&str>) -> Result<Option<&str>, UseCaseError> {
    match key.map(str::trim) {
        None => Ok(None),
        Some(key)
            if !key.is_empty()
                && key.len() <= MAX_IDEMPOTENCY_KEY_LEN
                && key.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Ok(Some(key))
        }
        Some(_) => Err(UseCaseError::invalid(
            "Idempotency-Key",
            format!("must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} printable ASCII characters"),
        )),
    }
}

/// `POST /v1/incidents/{id}/postmortem`: `{"template"?, "user"?}`.
#[derive(Debug, Clone)]
pub struct NewPostmortem {
    /// The template (the configuration's default when the body names none).
    pub template: PostmortemTemplate,
    /// The configured user recorded as the actor (else the API key).
    pub actor: Option<UserId>,
}

impl NewPostmortem {
    /// Parses and checks a body.
    pub fn parse(body: &[u8], config: &LoadedConfig) -> Result<Self, UseCaseError> {
        let fields = Fields::parse(body, &["template", "user"])?;
        let name = fields
            .text("template")?
            .map(|name| {
                TemplateName::new(name.trim().to_owned()).map_err(|e| {
                    UseCaseError::invalid(
                        "template",
                        format!("{name:?} is not a template name: {e}"),
                    )
                })
            })
            .transpose()?;
        let template = config.postmortem_template(name.as_ref()).ok_or_else(|| {
            UseCaseError::invalid(
                "template",
                format!(
                    "unknown template {:?} (not defined under postmortem_templates; `default` is always there)",
                    name.as_ref().map(TemplateName::as_str).unwrap_or_default()
                ),
            )
        })?;
        Ok(Self {
            template,
            actor: fields.user(config, "user")?,
        })
    }
}

/// `PATCH /v1/incidents/{id}/postmortem`: `{"sections"?: [{"title", "body"}], "status"?,
/// "version"?, "user"?}`.
#[derive(Debug, Clone)]
pub struct PostmortemPatch {
    /// Section edits, applied in order.
    pub sections: Vec<SectionEdit>,
    /// The status asked for.
    pub status: Option<PostmortemStatus>,
    /// The version the caller read (the change applies only to it).
    pub version: Option<u64>,
    /// The configured user recorded as the actor.
    pub actor: Option<UserId>,
}

impl PostmortemPatch {
    /// Parses and checks a body; it must change something.
    pub fn parse(body: &[u8], config: &LoadedConfig) -> Result<Self, UseCaseError> {
        let fields = Fields::parse(body, &["sections", "status", "version", "user"])?;
        let status = fields
            .text("status")?
            .map(|text| {
                PostmortemStatus::parse(text).map_err(|m| UseCaseError::invalid("status", m))
            })
            .transpose()?;
        let version = match fields.0.get("version") {
            None | Some(Value::Null) => None,
            Some(value) => Some(value.as_u64().filter(|v| *v > 0).ok_or_else(|| {
                UseCaseError::invalid(
                    "version",
                    "must be a whole number from 1 (the post-mortem's `version`)",
                )
            })?),
        };
        let sections = sections(fields.0.get("sections"))?;
        if sections.is_empty() && status.is_none() {
            return Err(UseCaseError::invalid(
                "body",
                "must change something: give `sections` or `status`",
            ));
        }
        Ok(Self {
            sections,
            status,
            version,
            actor: fields.user(config, "user")?,
        })
    }
}

fn sections(value: Option<&Value>) -> Result<Vec<SectionEdit>, UseCaseError> {
    let list = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(_) => {
            return Err(UseCaseError::invalid(
                "sections",
                "must be a list of {\"title\", \"body\"}",
            ));
        }
    };
    if list.len() > MAX_SECTIONS {
        return Err(UseCaseError::invalid(
            "sections",
            format!("at most {MAX_SECTIONS} sections per request"),
        ));
    }
    list.iter()
        .enumerate()
        .map(|(i, value)| {
            let path = format!("sections[{i}]");
            let Value::Object(object) = value else {
                return Err(UseCaseError::invalid(path, "must be {\"title\", \"body\"}"));
            };
            if let Some(unknown) = object
                .keys()
                .find(|k| !["title", "body"].contains(&k.as_str()))
            {
                return Err(UseCaseError::invalid(
                    format!("{path}.{unknown}"),
                    "unknown field (accepted: title, body)",
                ));
            }
            let text = |name: &str| match object.get(name) {
                Some(Value::String(text)) => Ok(text.clone()),
                _ => Err(UseCaseError::invalid(
                    format!("{path}.{name}"),
                    "must be a string",
                )),
            };
            Ok(SectionEdit {
                title: text("title")?,
                body: text("body")?,
            })
        })
        .collect()
}

/// `POST /v1/incidents/{id}/postmortem/action-items`: `{"title", "owner"?, "due"?, "user"?}`.
#[derive(Debug, Clone)]
pub struct NewActionItem {
    /// What to do.
    pub title: String,
    /// Who does it.
    pub owner: Option<UserId>,
    /// By when (`2026-04-01`).
    pub due: Option<NaiveDate>,
    /// The configured user recorded as the actor.
    pub actor: Option<UserId>,
}

impl NewActionItem {
    /// Parses and checks a body.
    pub fn parse(body: &[u8], config: &LoadedConfig) -> Result<Self, UseCaseError> {
        let fields = Fields::parse(body, &["title", "owner", "due", "user"])?;
        let title = fields
            .text("title")?
            .ok_or_else(|| UseCaseError::invalid("title", "is required"))?;
        check_action_title(title, "title")
            .map_err(|e| UseCaseError::invalid("title", e.to_string()))?;
        Ok(Self {
            title: title.trim().to_owned(),
            owner: fields.user(config, "owner")?,
            due: fields.date("due")?,
            actor: fields.user(config, "user")?,
        })
    }
}

/// `PATCH /v1/incidents/{id}/postmortem/action-items/{item}`: `{"title"?, "owner"?, "due"?,
/// "status"?, "user"?}`; `null` clears the owner or the due date.
#[derive(Debug, Clone)]
pub struct ActionItemPatch {
    /// The change.
    pub edit: ActionItemEdit,
    /// The configured user recorded as the actor.
    pub actor: Option<UserId>,
}

impl ActionItemPatch {
    /// Parses and checks a body; it must change something.
    pub fn parse(body: &[u8], config: &LoadedConfig) -> Result<Self, UseCaseError> {
        let fields = Fields::parse(body, &["title", "owner", "due", "status", "user"])?;
        let title = fields.text("title")?.map(str::to_owned);
        if let Some(title) = &title {
            check_action_title(title, "title")
                .map_err(|e| UseCaseError::invalid("title", e.to_string()))?;
        }
        let status = fields
            .text("status")?
            .map(|text| ActionStatus::parse(text).map_err(|m| UseCaseError::invalid("status", m)))
            .transpose()?;
        let edit = ActionItemEdit {
            title,
            owner: fields
                .has("owner")
                .then(|| fields.user(config, "owner"))
                .transpose()?,
            due: fields.has("due").then(|| fields.date("due")).transpose()?,
            status,
        };
        if edit == ActionItemEdit::default() {
            return Err(UseCaseError::invalid(
                "body",
                "must change something: give `status`, `title`, `owner` or `due`",
            ));
        }
        Ok(Self {
            edit,
            actor: fields.user(config, "user")?,
        })
    }
}
