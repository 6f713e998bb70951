//! Post-mortems: one item per incident (`INCIDENT#<id>`, `POSTMORTEM`) holding the domain
//! [`Postmortem`] as JSON text with a `version` for optimistic locking, and one small item per
//! action item (`INCIDENT#<id>`, `ACTION_ITEM#<item id>`) that exists to be listed across
//! incidents: while open it sits in the sparse `gsi1` partition `OPEN_ACTION_ITEMS` (ordered by
//! due date), and always in the `gsi2` partition `ACTION_ITEMS` (ordered by creation). So
//! `action-items list --open` reads only open items, never the table.
//!
//! Every write is one transaction: the post-mortem put (create: the item must not exist;
//! update: its version must be the one read), the changed action items, and the timeline
//! entries the change produced (each key must be free), so a retried write records nothing
//! twice.

use super::codec::{from_item, from_json, to_item, to_json};
use super::schema::{self, ACTION_ITEMS, OPEN_ACTION_ITEMS};
use super::{Listing, MAX_TRANSACTION_ITEMS, RepoError, Repository, check_limit};
use crate::{CancelReason, Condition, Cursor, Index, Item, Query, Store, StoreError, TransactOp};
use klaxon_domain::ids::{ActionItemId, IncidentId};
use klaxon_domain::postmortem::{ActionItem, ActionStatus, Postmortem, PostmortemStatus};
use klaxon_domain::timeline::TimelineDraft;
use serde::{Deserialize, Serialize};

/// The largest post-mortem document stored, in bytes of JSON (DynamoDB items hold 400 KB).
pub const MAX_POSTMORTEM_BYTES: usize = 350 * 1024;

/// A post-mortem as stored, with its optimistic-lock version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredPostmortem {
    /// The post-mortem.
    #[serde(flatten)]
    pub postmortem: Postmortem,
    /// Its version: pass it to [`Repository::save_postmortem`].
    pub version: u64,
}

/// An action item in the listing across incidents, with its incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListedActionItem {
    /// The incident whose post-mortem holds it.
    pub incident: IncidentId,
    /// The incident's number.
    pub number: u64,
    /// The incident's title.
    pub incident_title: String,
    /// The item.
    #[serde(flatten)]
    pub item: ActionItem,
}

#[derive(Serialize, Deserialize)]
struct PostmortemItem {
    pk: String,
    sk: String,
    incident: IncidentId,
    number: u64,
    status: PostmortemStatus,
    version: u64,
    /// The domain post-mortem as JSON text (sections are free Markdown of any shape).
    postmortem: String,
}

#[derive(Serialize, Deserialize)]
struct ActionItemRow {
    pk: String,
    sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi1pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi1sk: Option<String>,
    gsi2pk: String,
    gsi2sk: String,
    #[serde(flatten)]
    listed: ListedActionItem,
}

fn row(postmortem: &Postmortem, item: &ActionItem) -> ActionItemRow {
    let key = schema::action_item_key(postmortem.incident.as_str(), item.id.as_str());
    let open = item.status == ActionStatus::Open;
    ActionItemRow {
        pk: key.pk,
        sk: key.sk,
        gsi1pk: open.then(|| OPEN_ACTION_ITEMS.to_owned()),
        gsi1sk: open.then(|| {
            schema::open_action_items_sort(item.due, postmortem.incident.as_str(), item.id.as_str())
        }),
        gsi2pk: ACTION_ITEMS.to_owned(),
        gsi2sk: schema::action_items_sort(
            item.created_at,
            postmortem.incident.as_str(),
            item.id.as_str(),
        ),
        listed: ListedActionItem {
            incident: postmortem.incident.clone(),
            number: postmortem.number,
            incident_title: postmortem.title.clone(),
            item: item.clone(),
        },
    }
}

fn document(postmortem: &Postmortem, version: u64) -> Result<Item, RepoError> {
    let text = to_json("postmortem", postmortem)?;
    if text.len() > MAX_POSTMORTEM_BYTES {
        return Err(RepoError::invalid(
            "postmortem",
            format!(
                "is {} bytes as stored, more than the {MAX_POSTMORTEM_BYTES} allowed; shorten its sections",
                text.len()
            ),
        ));
    }
    let key = schema::postmortem_key(postmortem.incident.as_str());
    to_item(&PostmortemItem {
        pk: key.pk,
        sk: key.sk,
        incident: postmortem.incident.clone(),
        number: postmortem.number,
        status: postmortem.status,
        version,
        postmortem: text,
    })
}

fn failed(reasons: &[CancelReason], position: usize) -> Option<bool> {
    match reasons.get(position) {
        Some(CancelReason::ConditionFailed { existing }) => Some(existing.is_some()),
        _ => None,
    }
}

impl<S: Store> Repository<S> {
    /// The post-mortem of `incident`, if one was created.
    pub async fn postmortem(
        &self,
        incident: &IncidentId,
    ) -> Result<Option<StoredPostmortem>, RepoError> {
        let key = schema::postmortem_key(incident.as_str());
        let Some(item) = self.store.get(&key).await? else {
            return Ok(None);
        };
        let record: PostmortemItem = from_item(item)?;
        let postmortem: Postmortem = from_json(&key, "postmortem", record.postmortem.as_bytes())?;
        if &postmortem.incident != incident {
            return Err(RepoError::corrupt(
                &key,
                "postmortem.incident",
                format!(
                    "is {}, the item is incident {incident}",
                    postmortem.incident
                ),
            ));
        }
        Ok(Some(StoredPostmortem {
            postmortem,
            version: record.version,
        }))
    }

    /// Stores a new post-mortem (version 1) with its action items and `timeline` entries.
    /// [`RepoError::AlreadyExists`] when the incident has one.
    pub async fn create_postmortem(
        &self,
        postmortem: &Postmortem,
        timeline: &[TimelineDraft],
    ) -> Result<u64, RepoError> {
        let items: Vec<&ActionItemId> = postmortem.action_items.iter().map(|i| &i.id).collect();
        self.write_postmortem(postmortem, None, &items, timeline)
            .await
    }

    /// Saves a changed post-mortem if its version is still `expected_version`, with the action
    /// items named in `changed` and the `timeline` entries, in one transaction; returns the new
    /// version. [`RepoError::Conflict`] when it changed since it was read,
    /// [`RepoError::NotFound`] when there is none.
    pub async fn save_postmortem(
        &self,
        postmortem: &Postmortem,
        expected_version: u64,
        changed: &[&ActionItemId],
        timeline: &[TimelineDraft],
    ) -> Result<u64, RepoError> {
        self.write_postmortem(postmortem, Some(expected_version), changed, timeline)
            .await
    }

    async fn write_postmortem(
        &self,
        postmortem: &Postmortem,
        expected: Option<u64>,
        changed: &[&ActionItemId],
        timeline: &[TimelineDraft],
    ) -> Result<u64, RepoError> {
        if 1 + changed.len() + timeline.len() > MAX_TRANSACTION_ITEMS {
            return Err(RepoError::invalid(
                "postmortem",
                format!("one change may write at most {MAX_TRANSACTION_ITEMS} items"),
            ));
        }
        let id = postmortem.incident.as_str();
        let version = match expected {
            None => 1,
            Some(v) => v
                .checked_add(1)
                .ok_or_else(|| RepoError::invalid("expected_version", "cannot be incremented"))?,
        };
        let mut ops = vec![TransactOp::Put {
            item: document(postmortem, version)?,
            condition: Some(match expected {
                None => Condition::NotExists,
                Some(v) => Condition::VersionEquals(v),
            }),
        }];
        for item_id in changed {
            let item = postmortem.action_item(item_id).ok_or_else(|| {
                RepoError::invalid("action_items", format!("no action item {item_id} to save"))
            })?;
            ops.push(TransactOp::Put {
                item: to_item(&row(postmortem, item))?,
                condition: None,
            });
        }
        ops.extend(self.timeline_ops(&postmortem.incident, timeline)?);
        match self.store.transact(ops).await {
            Ok(()) => Ok(version),
            Err(StoreError::TransactionCancelled { reasons }) => {
                match (expected, failed(&reasons, 0)) {
                    (None, Some(_)) => Err(RepoError::AlreadyExists {
                        entity: "postmortem",
                        id: id.to_owned(),
                    }),
                    (Some(_), Some(true)) => Err(RepoError::conflict("postmortem", id)),
                    (Some(_), Some(false)) => Err(RepoError::not_found("postmortem", id)),
                    (_, None) if (1..reasons.len()).any(|p| failed(&reasons, p).is_some()) => {
                        Err(RepoError::conflict("postmortem", id))
                    }
                    _ => Err(StoreError::TransactionCancelled { reasons }.into()),
                }
            }
            Err(other) => Err(other.into()),
        }
    }

    /// Action items across every post-mortem, a page at a time: with `open_only`, the open
    /// ones by due date (soonest first, undated last; read from the sparse `gsi1` partition of
    /// open items), otherwise all of them, newest first.
    pub async fn action_items(
        &self,
        open_only: bool,
        cursor: Option<Cursor>,
        limit: u32,
    ) -> Result<Listing<ListedActionItem>, RepoError> {
        let query = if open_only {
            Query::index(Index::Gsi1, OPEN_ACTION_ITEMS)
        } else {
            Query::index(Index::Gsi2, ACTION_ITEMS).descending()
        }
        .limit(check_limit(limit)?)
        .after(cursor);
        let page = self.store.query(&query).await?;
        let items = page
            .items
            .into_iter()
            .map(|item| from_item::<ActionItemRow>(item).map(|row| row.listed))
            .collect::<Result<_, _>>()?;
        Ok(Listing {
            items,
            next: page.next,
        })
    }
}
