//! Post-mortems: one per incident, created from a template (config `postmortem_templates:`, or
//! the shipped [`default_template`]) and pre-filled with what Klaxon knows about the incident
//! ([`PostmortemFacts`]: impact window, responders, timeline, response metrics).
//!
//! The rules, precisely:
//! - **Status** goes draft → in review → published; in review may go back to draft. A
//!   post-mortem may be *created* (as a draft) while its incident is still open, as
//!   incident.io and PagerDuty allow, but it goes to review only once the incident is
//!   resolved. Its facts are computed at creation and computed again on the move to review,
//!   then frozen. Setting the status it already has is a no-op (publishing twice changes
//!   nothing); any other move is refused ([`PostmortemError::InvalidTransition`]).
//! - **Sections** are free Markdown under a title. An edit names the section by title:
//!   an existing one gets the new body, a new title is appended. A published post-mortem's
//!   sections are final ([`PostmortemError::Published`]); its action items still change,
//!   because follow-up work outlives the review.
//! - **Action items** have a title, an optional owner (a configured user; checked by the
//!   caller, who holds the configuration), an optional due date and a status open/done.
//!   Adding an item whose id is already there is a no-op, so a retried request (the id is
//!   derived from its idempotency key) adds it once.
//!
//! Nothing here reads a clock: `now` is a parameter.

mod facts;
mod render;
#[cfg(test)]
mod tests;

pub use facts::{FactEntry, MAX_FACT_ENTRIES, PostmortemFacts};
pub use render::to_markdown;

use crate::Instant;
use crate::ids::{ActionItemId, IncidentId, TemplateName, UserId};
use crate::timeline::Actor;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

pub use crate::vocabulary::{ActionStatus, PostmortemStatus};

/// The most sections a template or a post-mortem holds.
pub const MAX_SECTIONS: usize = 16;
/// The longest section title, in characters.
pub const MAX_SECTION_TITLE_CHARS: usize = 120;
/// The longest section body, in bytes (16 sections of this size keep the stored item well
/// under DynamoDB's 400 KB item limit).
pub const MAX_SECTION_BODY_BYTES: usize = 16 * 1024;
/// The longest template prompt or default text, in bytes.
pub const MAX_PROMPT_BYTES: usize = 4 * 1024;
/// The most action items one post-mortem holds.
pub const MAX_ACTION_ITEMS: usize = 50;
/// The longest action item title, in characters.
pub const MAX_ACTION_TITLE_CHARS: usize = 300;
/// The name of the template shipped with Klaxon, used when the configuration names none.
pub const DEFAULT_TEMPLATE: &str = "default";

/// One section of a template: its title and, optionally, a prompt (shown to the writer, not
/// part of the text) and a default body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateSection {
    /// The section's title (`Root cause`).
    pub title: String,
    /// A question that helps the writer (`What made this possible?`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// The section's initial Markdown body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// A post-mortem template (config `postmortem_templates:`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostmortemTemplate {
    /// The template's name (`security`).
    pub name: TemplateName,
    /// What the template is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether a post-mortem created without a template name uses this one (at most one).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub default: bool,
    /// Its sections, in order.
    pub sections: Vec<TemplateSection>,
}

fn section(title: &str, prompt: &str) -> TemplateSection {
    TemplateSection {
        title: title.to_owned(),
        prompt: Some(prompt.to_owned()),
        body: None,
    }
}

/// The template shipped with Klaxon (`default`): the sections PagerDuty's and Google's SRE
/// post-mortem templates share.
pub fn default_template() -> PostmortemTemplate {
    PostmortemTemplate {
        name: TemplateName::shipped_default(),
        description: Some("Klaxon's default post-mortem".to_owned()),
        default: true,
        sections: vec![
            section("Summary", "What happened, in two or three sentences?"),
            section("Impact", "Who was affected, how, and for how long?"),
            section(
                "Root cause",
                "Why did it happen? What made it possible (ask why five times)?",
            ),
            section(
                "Resolution",
                "What stopped the impact, and how was it found?",
            ),
            section("What went well", "Which tools, people and runbooks helped?"),
            section(
                "What went wrong",
                "Where did detection, paging or response fall short?",
            ),
            section(
                "Lessons learned",
                "What would you do differently next time?",
            ),
        ],
    }
}

/// One section of a post-mortem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    /// Its title.
    pub title: String,
    /// The template's prompt, if any (not part of the text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// Its Markdown body (empty until written).
    pub body: String,
}

/// Follow-up work agreed in a post-mortem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionItem {
    /// Its id, unique within the post-mortem.
    pub id: ActionItemId,
    /// What to do.
    pub title: String,
    /// Who does it (a configured user).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<UserId>,
    /// By when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<NaiveDate>,
    /// Open or done.
    pub status: ActionStatus,
    /// When it was added.
    pub created_at: Instant,
    /// Who added it.
    pub created_by: Actor,
    /// When it was marked done (cleared when reopened).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_at: Option<Instant>,
}

/// A change to an action item; absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActionItemEdit {
    /// A new title.
    pub title: Option<String>,
    /// A new owner (`Some(None)` clears it).
    pub owner: Option<Option<UserId>>,
    /// A new due date (`Some(None)` clears it).
    pub due: Option<Option<NaiveDate>>,
    /// A new status.
    pub status: Option<ActionStatus>,
}

/// Why a post-mortem change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostmortemError {
    /// The status cannot move this way.
    #[error(
        "a {from} post-mortem cannot become {to} (draft → in_review → published; in_review → draft)"
    )]
    InvalidTransition {
        /// The current status.
        from: PostmortemStatus,
        /// The status asked for.
        to: PostmortemStatus,
    },
    /// Review needs the incident's whole story: it must be resolved first.
    #[error("the incident is not resolved yet; a post-mortem goes to review after the resolve")]
    IncidentNotResolved,
    /// A published post-mortem's sections are final.
    #[error("the post-mortem is published; its sections are final")]
    Published,
    /// No action item has this id.
    #[error("no action item {0} in this post-mortem")]
    UnknownActionItem(ActionItemId),
    /// A value is out of bounds; `field` names it.
    #[error("{field}: {message}")]
    Invalid {
        /// The offending field (`sections[0].body`, `title`).
        field: String,
        /// What is wrong.
        message: String,
    },
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> PostmortemError {
    PostmortemError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// A change to one section: the section titled `title` gets `body` (a new title appends a
/// section).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SectionEdit {
    /// The section's title.
    pub title: String,
    /// Its new Markdown body.
    pub body: String,
}

/// Checks a section title; `field` names it in the error.
pub fn check_section_title(title: &str, field: &str) -> Result<(), PostmortemError> {
    let chars = title.trim().chars().count();
    if chars == 0 {
        return Err(invalid(field, "must not be empty"));
    }
    if chars > MAX_SECTION_TITLE_CHARS {
        return Err(invalid(
            field,
            format!("must be at most {MAX_SECTION_TITLE_CHARS} characters (got {chars})"),
        ));
    }
    if title.chars().any(char::is_control) {
        return Err(invalid(
            field,
            "must be one line without control characters",
        ));
    }
    Ok(())
}

/// Checks an action item title.
pub fn check_action_title(title: &str, field: &str) -> Result<(), PostmortemError> {
    let chars = title.trim().chars().count();
    if chars == 0 || chars > MAX_ACTION_TITLE_CHARS {
        return Err(invalid(
            field,
            format!("must be 1 to {MAX_ACTION_TITLE_CHARS} characters (got {chars})"),
        ));
    }
    if title.chars().any(char::is_control) {
        return Err(invalid(
            field,
            "must be one line without control characters",
        ));
    }
    Ok(())
}

/// One incident's post-mortem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Postmortem {
    /// The incident.
    pub incident: IncidentId,
    /// The incident's number.
    pub number: u64,
    /// The incident's title.
    pub title: String,
    /// The template it was created from.
    pub template: TemplateName,
    /// Where it is in its review.
    pub status: PostmortemStatus,
    /// What Klaxon knew about the incident (at creation, or on the move to review).
    pub facts: PostmortemFacts,
    /// Its sections, in order.
    pub sections: Vec<Section>,
    /// Follow-up work, in the order it was added.
    pub action_items: Vec<ActionItem>,
    /// When it was created.
    pub created_at: Instant,
    /// Who created it.
    pub created_by: Actor,
    /// When it last changed.
    pub updated_at: Instant,
    /// When it was published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_at: Option<Instant>,
    /// The token of the request that created it (a hash of its idempotency key), so a retried
    /// create is recognised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
}

impl Postmortem {
    /// A new draft from `template`, with `facts`.
    pub fn new(
        template: &PostmortemTemplate,
        facts: PostmortemFacts,
        created_by: Actor,
        request: Option<String>,
        now: Instant,
    ) -> Self {
        Self {
            incident: facts.incident.clone(),
            number: facts.number,
            title: facts.title.clone(),
            template: template.name.clone(),
            status: PostmortemStatus::Draft,
            facts,
            sections: template
                .sections
                .iter()
                .map(|s| Section {
                    title: s.title.trim().to_owned(),
                    prompt: s.prompt.clone(),
                    body: s.body.clone().unwrap_or_default(),
                })
                .collect(),
            action_items: Vec::new(),
            created_at: now,
            created_by,
            updated_at: now,
            published_at: None,
            request,
        }
    }

    /// Moves to `to`. `Ok(false)` when it is there already (nothing changes). The move to
    /// review needs `facts` (computed now) to show a resolved incident; they replace the
    /// stored ones.
    pub fn set_status(
        &mut self,
        to: PostmortemStatus,
        facts: Option<PostmortemFacts>,
        now: Instant,
    ) -> Result<bool, PostmortemError> {
        if self.status == to {
            return Ok(false);
        }
        if !self.status.may_become(to) {
            return Err(PostmortemError::InvalidTransition {
                from: self.status,
                to,
            });
        }
        if to == PostmortemStatus::InReview {
            let facts = facts.unwrap_or_else(|| self.facts.clone());
            if facts.resolved_at.is_none() {
                return Err(PostmortemError::IncidentNotResolved);
            }
            self.facts = facts;
        }
        if to == PostmortemStatus::Published {
            self.published_at = Some(now);
        }
        self.status = to;
        self.updated_at = now;
        Ok(true)
    }

    /// Applies section edits (all or none); `Ok(false)` when every body is already as asked.
    pub fn edit_sections(
        &mut self,
        edits: &[SectionEdit],
        now: Instant,
    ) -> Result<bool, PostmortemError> {
        let mut sections = self.sections.clone();
        for (i, edit) in edits.iter().enumerate() {
            check_section_title(&edit.title, &format!("sections[{i}].title"))?;
            if edit.body.len() > MAX_SECTION_BODY_BYTES {
                return Err(invalid(
                    format!("sections[{i}].body"),
                    format!(
                        "must be at most {MAX_SECTION_BODY_BYTES} bytes (got {})",
                        edit.body.len()
                    ),
                ));
            }
            let title = edit.title.trim();
            match sections.iter_mut().find(|s| s.title == title) {
                Some(section) => section.body.clone_from(&edit.body),
                None => sections.push(Section {
                    title: title.to_owned(),
                    prompt: None,
                    body: edit.body.clone(),
                }),
            }
        }
        if sections.len() > MAX_SECTIONS {
            return Err(invalid(
                "sections",
                format!("a post-mortem holds at most {MAX_SECTIONS} sections"),
            ));
        }
        if sections == self.sections {
            return Ok(false);
        }
        if self.status == PostmortemStatus::Published {
            return Err(PostmortemError::Published);
        }
        self.sections = sections;
        self.updated_at = now;
        Ok(true)
    }

    /// The action item `id`.
    pub fn action_item(&self, id: &ActionItemId) -> Option<&ActionItem> {
        self.action_items.iter().find(|item| &item.id == id)
    }

    /// Adds `item` (status open). `Ok(false)` when an item with its id is there already (a
    /// retried request).
    pub fn add_action_item(
        &mut self,
        item: ActionItem,
        now: Instant,
    ) -> Result<bool, PostmortemError> {
        if self.action_item(&item.id).is_some() {
            return Ok(false);
        }
        check_action_title(&item.title, "title")?;
        if self.action_items.len() >= MAX_ACTION_ITEMS {
            return Err(invalid(
                "action_items",
                format!("a post-mortem holds at most {MAX_ACTION_ITEMS} action items"),
            ));
        }
        self.action_items.push(ActionItem {
            title: item.title.trim().to_owned(),
            ..item
        });
        self.updated_at = now;
        Ok(true)
    }

    /// Changes action item `id`; `Ok(false)` when it already is as asked.
    pub fn edit_action_item(
        &mut self,
        id: &ActionItemId,
        edit: &ActionItemEdit,
        now: Instant,
    ) -> Result<bool, PostmortemError> {
        if let Some(title) = &edit.title {
            check_action_title(title, "title")?;
        }
        let item = self
            .action_items
            .iter_mut()
            .find(|item| &item.id == id)
            .ok_or_else(|| PostmortemError::UnknownActionItem(id.clone()))?;
        let mut next = item.clone();
        if let Some(title) = &edit.title {
            title.trim().clone_into(&mut next.title);
        }
        if let Some(owner) = &edit.owner {
            next.owner.clone_from(owner);
        }
        if let Some(due) = edit.due {
            next.due = due;
        }
        if let Some(status) = edit.status
            && status != next.status
        {
            next.status = status;
            next.done_at = (status == ActionStatus::Done).then_some(now);
        }
        if next == *item {
            return Ok(false);
        }
        *item = next;
        self.updated_at = now;
        Ok(true)
    }
}
