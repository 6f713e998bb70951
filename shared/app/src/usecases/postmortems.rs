//! Post-mortems through the API (the `api` function): create one for an incident from a
//! template, pre-filled with the incident's facts; read it (JSON or Markdown); edit its
//! sections and status; add and change action items; list action items across incidents.
//!
//! Every request body is checked completely (unknown fields refused, each error naming its
//! field, owners must be configured users) before anything is read or written, so bad input
//! changes nothing. Writes are conditional on the version read (retried on a lost race unless
//! the caller sent an expected `version`, which then must match: 409 `version_conflict`).
//! Retries are no-ops: a create with the same `Idempotency-Key` answers the post-mortem it
//! created, an action item's id is derived from the request's `Idempotency-Key`, and setting a
//! status, a section body or an item's fields to what they already are changes nothing.
//!
//! Refusals (409, with a code): `postmortem_exists` (another request created it),
//! `invalid_transition`, `incident_not_resolved` (review waits for the resolve),
//! `postmortem_published` (sections are final once published), `version_conflict`.

mod request;

pub use request::{ActionItemPatch, NewActionItem, NewPostmortem, PostmortemPatch};

use super::access::ApiPrincipal;
use super::queries::analytics::pages_of;
use super::queries::{QueryService, cursor, cursor_error, find_incident, page_size};
use super::{LoadedConfig, UseCaseError};
use klaxon_domain::analytics::IncidentFacts;
use klaxon_domain::ids::{ActionItemId, IncidentId};
use klaxon_domain::postmortem::{
    ActionItem, ActionStatus, Postmortem, PostmortemError, PostmortemFacts, PostmortemStatus,
};
use klaxon_domain::timeline::{Actor, EntryKey, TimelineDraft, TimelineEntry, TimelineRecord};
use klaxon_store::Store;
use klaxon_store::repo::{
    Attempt, ListedActionItem, RepoError, StoredIncident, StoredPostmortem, retry_on_conflict,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The most timeline records read to compute a post-mortem's facts (the facts keep the first
/// [`klaxon_domain::postmortem::MAX_FACT_ENTRIES`] that matter; an alert storm's thousands of
/// alert links are skipped on the way).
pub const MAX_TIMELINE_READ: usize = 5_000;
/// Page size of the action item listing when the caller sets none.
pub const DEFAULT_ACTION_ITEM_PAGE: u32 = 100;
/// Timeline records read per query.
const TIMELINE_PAGE: u32 = 200;

/// What a post-mortem request did.
#[derive(Debug, Clone, Serialize)]
pub struct PostmortemResult {
    /// The post-mortem after the call.
    pub postmortem: StoredPostmortem,
    /// False when nothing changed (a retry, or already as asked).
    pub changed: bool,
    /// Who it is recorded as.
    pub actor: Actor,
}

/// One page of action items across incidents.
#[derive(Debug, Clone, Serialize)]
pub struct ActionItemPage {
    /// The items.
    pub action_items: Vec<ListedActionItem>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A post-mortem refusal as the API answers it.
fn refused(error: PostmortemError) -> UseCaseError {
    let code = match &error {
        PostmortemError::InvalidTransition { .. } => "invalid_transition",
        PostmortemError::IncidentNotResolved => "incident_not_resolved",
        PostmortemError::Published => "postmortem_published",
        PostmortemError::UnknownActionItem(id) => {
            return UseCaseError::NotFound {
                what: "action item",
                id: id.to_string(),
            };
        }
        PostmortemError::Invalid { field, message } => {
            return UseCaseError::invalid(field.clone(), message.clone());
        }
    };
    UseCaseError::StateConflict {
        code,
        message: error.to_string(),
    }
}

fn version_conflict(expected: u64, stored: u64) -> UseCaseError {
    UseCaseError::StateConflict {
        code: "version_conflict",
        message: format!(
            "the post-mortem is at version {stored}, not {expected}: read it again and re-apply the change"
        ),
    }
}

fn entry_key(text: String) -> Result<EntryKey, UseCaseError> {
    EntryKey::new(text).map_err(|e| UseCaseError::invalid("id", e.to_string()))
}

/// A 12-hex-digit digest of `parts`.
fn digest(parts: &[&str]) -> String {
    hex::encode(Sha256::digest(parts.join("\n")))
        .chars()
        .take(12)
        .collect()
}

fn no_postmortem(incident: &StoredIncident) -> UseCaseError {
    UseCaseError::NotFound {
        what: "post-mortem of incident",
        id: incident.incident.number().to_string(),
    }
}

impl<S: Store> QueryService<S> {
    /// The facts of `stored` as of now: its analytics facts and metrics, assignees, and the
    /// first [`MAX_TIMELINE_READ`] timeline records.
    async fn postmortem_facts(
        &self,
        config: &LoadedConfig,
        stored: &StoredIncident,
    ) -> Result<PostmortemFacts, UseCaseError> {
        let repo = &self.core().repo;
        let incident = &stored.incident;
        let pages = pages_of(repo.deliveries(incident.id()).await?);
        let facts = IncidentFacts::of(incident, pages, None);
        let zone_of = |user: &_| config.user(user).map(|u| u.time_zone);
        let metrics = facts.metrics(&zone_of, &config.settings.waking_hours);
        let mut records: Vec<TimelineRecord> = Vec::new();
        let mut next = None;
        loop {
            let page = repo.timeline(incident.id(), next, TIMELINE_PAGE).await?;
            records.extend(page.items);
            next = page.next;
            if next.is_none() || records.len() >= MAX_TIMELINE_READ {
                break;
            }
        }
        Ok(PostmortemFacts::compute(
            &facts,
            metrics,
            incident.assignees(),
            &records,
            self.core().now(),
        ))
    }

    /// The post-mortem of incident `reference` (id or number); 404 when it has none.
    pub async fn postmortem(&self, reference: &str) -> Result<StoredPostmortem, UseCaseError> {
        let stored = find_incident(self.core(), reference).await?;
        self.core()
            .repo
            .postmortem(stored.incident.id())
            .await?
            .ok_or_else(|| no_postmortem(&stored))
    }

    /// Creates the post-mortem of incident `reference` from the request's template (the
    /// default one when it names none). A retry with the same `idempotency_key` answers the
    /// post-mortem it created (`changed: false`); otherwise an existing one is 409
    /// `postmortem_exists`.
    pub async fn create_postmortem(
        &self,
        principal: &ApiPrincipal,
        reference: &str,
        idempotency_key: Option<&str>,
        body: &[u8],
    ) -> Result<PostmortemResult, UseCaseError> {
        let config = self.core().config().await?;
        let request = NewPostmortem::parse(body, &config)?;
        let key = request::idempotency(idempotency_key)?;
        let actor = request
            .actor
            .clone()
            .map_or_else(|| principal.actor(), Actor::user);
        let stored = find_incident(self.core(), reference).await?;
        let id = stored.incident.id().clone();
        let token = key.map(|key| digest(&["postmortem", id.as_str(), key]));
        let existing = |found: StoredPostmortem| {
            if token.is_some() && found.postmortem.request == token {
                Ok(PostmortemResult {
                    postmortem: found,
                    changed: false,
                    actor: actor.clone(),
                })
            } else {
                Err(UseCaseError::StateConflict {
                    code: "postmortem_exists",
                    message: format!(
                        "incident {} has a post-mortem already (status {})",
                        found.postmortem.number, found.postmortem.status
                    ),
                })
            }
        };
        if let Some(found) = self.core().repo.postmortem(&id).await? {
            return existing(found);
        }
        let facts = self.postmortem_facts(&config, &stored).await?;
        let now = self.core().now();
        let postmortem =
            Postmortem::new(&request.template, facts, actor.clone(), token.clone(), now);
        let draft = TimelineDraft::new(
            id.clone(),
            entry_key("postmortem.created".to_owned())?,
            now,
            actor.clone(),
            TimelineEntry::PostmortemCreated {
                template: request.template.name.clone(),
            },
        );
        match self
            .core()
            .repo
            .create_postmortem(&postmortem, &[draft])
            .await
        {
            Ok(version) => Ok(PostmortemResult {
                postmortem: StoredPostmortem {
                    postmortem,
                    version,
                },
                changed: true,
                actor,
            }),
            Err(RepoError::AlreadyExists { .. }) => match self.core().repo.postmortem(&id).await? {
                Some(found) => existing(found),
                None => Err(UseCaseError::Conflict(
                    "the post-mortem was created and removed concurrently; retry".into(),
                )),
            },
            Err(other) => Err(other.into()),
        }
    }

    /// Edits the sections and/or the status of incident `reference`'s post-mortem.
    pub async fn update_postmortem(
        &self,
        principal: &ApiPrincipal,
        reference: &str,
        body: &[u8],
    ) -> Result<PostmortemResult, UseCaseError> {
        let config = self.core().config().await?;
        let patch = PostmortemPatch::parse(body, &config)?;
        let actor = patch
            .actor
            .clone()
            .map_or_else(|| principal.actor(), Actor::user);
        let stored = find_incident(self.core(), reference).await?;
        let facts = match patch.status {
            Some(PostmortemStatus::InReview) => {
                Some(self.postmortem_facts(&config, &stored).await?)
            }
            _ => None,
        };
        let apply = |pm: &mut Postmortem, version: u64| {
            let now = self.core().now();
            let edited = pm.edit_sections(&patch.sections, now).map_err(refused)?;
            let mut drafts = Vec::new();
            if let Some(to) = patch.status {
                let from = pm.status;
                if pm.set_status(to, facts.clone(), now).map_err(refused)? {
                    drafts.push(status_draft(pm, from, to, version + 1, &actor, now)?);
                }
            }
            Ok((edited || !drafts.is_empty(), drafts, Vec::new()))
        };
        self.change(&stored, patch.version, &actor, apply).await
    }

    /// Adds an action item to incident `reference`'s post-mortem; its id comes from the
    /// `idempotency_key` (a retry adds nothing), or is fresh without one.
    pub async fn add_action_item(
        &self,
        principal: &ApiPrincipal,
        reference: &str,
        idempotency_key: Option<&str>,
        body: &[u8],
    ) -> Result<(PostmortemResult, ActionItemId), UseCaseError> {
        let config = self.core().config().await?;
        let request = NewActionItem::parse(body, &config)?;
        let key = request::idempotency(idempotency_key)?;
        let actor = request
            .actor
            .clone()
            .map_or_else(|| principal.actor(), Actor::user);
        let stored = find_incident(self.core(), reference).await?;
        let incident = stored.incident.id().as_str();
        let seed = match key {
            Some(key) => digest(&["action_item", incident, key]),
            None => digest(&[&self.core().ids.new_id()]),
        };
        let item_id = ActionItemId::new(format!("ai-{seed}"))
            .map_err(|e| UseCaseError::invalid("id", e.to_string()))?;
        let apply = |pm: &mut Postmortem, _version: u64| {
            let now = self.core().now();
            let item = ActionItem {
                id: item_id.clone(),
                title: request.title.clone(),
                owner: request.owner.clone(),
                due: request.due,
                status: ActionStatus::Open,
                created_at: now,
                created_by: actor.clone(),
                done_at: None,
            };
            if !pm.add_action_item(item, now).map_err(refused)? {
                return Ok((false, Vec::new(), Vec::new()));
            }
            let draft = TimelineDraft::new(
                pm.incident.clone(),
                entry_key(format!("postmortem.item.{item_id}.added"))?,
                now,
                actor.clone(),
                TimelineEntry::ActionItemAdded {
                    item: item_id.clone(),
                    title: request.title.trim().to_owned(),
                    owner: request.owner.clone(),
                },
            );
            Ok((true, vec![draft], vec![item_id.clone()]))
        };
        let result = self.change(&stored, None, &actor, apply).await?;
        Ok((result, item_id))
    }

    /// Changes action item `item` of incident `reference`'s post-mortem.
    pub async fn update_action_item(
        &self,
        principal: &ApiPrincipal,
        reference: &str,
        item: &str,
        body: &[u8],
    ) -> Result<PostmortemResult, UseCaseError> {
        let config = self.core().config().await?;
        let patch = ActionItemPatch::parse(body, &config)?;
        let actor = patch
            .actor
            .clone()
            .map_or_else(|| principal.actor(), Actor::user);
        let item_id = ActionItemId::new(item.trim()).map_err(|_| UseCaseError::NotFound {
            what: "action item",
            id: item.to_owned(),
        })?;
        let stored = find_incident(self.core(), reference).await?;
        let apply = |pm: &mut Postmortem, version: u64| {
            let now = self.core().now();
            if !pm
                .edit_action_item(&item_id, &patch.edit, now)
                .map_err(refused)?
            {
                return Ok((false, Vec::new(), Vec::new()));
            }
            let status = pm
                .action_item(&item_id)
                .map_or(ActionStatus::Open, |i| i.status);
            let draft = TimelineDraft::new(
                pm.incident.clone(),
                entry_key(format!("postmortem.item.{item_id}.v{}", version + 1))?,
                now,
                actor.clone(),
                TimelineEntry::ActionItemUpdated {
                    item: item_id.clone(),
                    status,
                },
            );
            Ok((true, vec![draft], vec![item_id.clone()]))
        };
        self.change(&stored, None, &actor, apply).await
    }

    /// Action items across incidents: `status` `open` (default) or `all`.
    pub async fn list_action_items(
        &self,
        status: Option<&str>,
        cursor_token: Option<&str>,
        limit: Option<u32>,
    ) -> Result<ActionItemPage, UseCaseError> {
        let open_only = match status.unwrap_or("open") {
            "open" => true,
            "all" => false,
            other => {
                return Err(UseCaseError::invalid(
                    "status",
                    format!("must be \"open\" or \"all\" (got {other:?})"),
                ));
            }
        };
        let limit = page_size("limit", limit, DEFAULT_ACTION_ITEM_PAGE, 200)?;
        let listing = self
            .core()
            .repo
            .action_items(open_only, cursor(cursor_token), limit)
            .await
            .map_err(cursor_error("cursor"))?;
        Ok(ActionItemPage {
            action_items: listing.items,
            next_cursor: listing.next.map(|c| c.as_str().to_owned()),
        })
    }

    /// Reads the post-mortem of `incident`, applies `apply` (given the version read; it
    /// answers whether anything changed, the timeline drafts and the action items to save) and
    /// saves under the optimistic lock, retrying a lost race unless the caller pinned
    /// `expected` (then a different stored version is 409 `version_conflict`, unless the
    /// change is a no-op on the stored post-mortem).
    async fn change<F>(
        &self,
        incident: &StoredIncident,
        expected: Option<u64>,
        actor: &Actor,
        apply: F,
    ) -> Result<PostmortemResult, UseCaseError>
    where
        F: Fn(
                &mut Postmortem,
                u64,
            ) -> Result<(bool, Vec<TimelineDraft>, Vec<ActionItemId>), UseCaseError>
            + Sync,
    {
        let id: &IncidentId = incident.incident.id();
        let apply = &apply;
        retry_on_conflict("postmortem", id.to_string(), move || async move {
            let repo = &self.core().repo;
            let stored = repo
                .postmortem(id)
                .await?
                .ok_or_else(|| no_postmortem(incident))?;
            let mut next = stored.postmortem.clone();
            let (changed, drafts, items) = apply(&mut next, stored.version)?;
            if !changed {
                return Ok(Attempt::Done(PostmortemResult {
                    postmortem: stored,
                    changed: false,
                    actor: actor.clone(),
                }));
            }
            if let Some(expected) = expected
                && expected != stored.version
            {
                return Err(version_conflict(expected, stored.version));
            }
            let refs: Vec<&ActionItemId> = items.iter().collect();
            match repo
                .save_postmortem(&next, stored.version, &refs, &drafts)
                .await
            {
                Ok(version) => Ok(Attempt::Done(PostmortemResult {
                    postmortem: StoredPostmortem {
                        postmortem: next,
                        version,
                    },
                    changed: true,
                    actor: actor.clone(),
                })),
                Err(RepoError::Conflict { .. }) if expected.is_none() => Ok(Attempt::Retry),
                Err(RepoError::Conflict { .. }) => Err(version_conflict(
                    expected.unwrap_or_default(),
                    stored.version + 1,
                )),
                Err(other) => Err(other.into()),
            }
        })
        .await
    }
}

/// The timeline entry of a status change: `published` for publication, `status_changed`
/// otherwise; keyed by the version it makes, so a retried write records it once.
fn status_draft(
    pm: &Postmortem,
    from: PostmortemStatus,
    to: PostmortemStatus,
    version: u64,
    actor: &Actor,
    now: klaxon_domain::Instant,
) -> Result<TimelineDraft, UseCaseError> {
    let entry = match to {
        PostmortemStatus::Published => TimelineEntry::PostmortemPublished {},
        _ => TimelineEntry::PostmortemStatusChanged { from, to },
    };
    Ok(TimelineDraft::new(
        pm.incident.clone(),
        entry_key(format!("postmortem.v{version}.status"))?,
        now,
        actor.clone(),
        entry,
    ))
}
