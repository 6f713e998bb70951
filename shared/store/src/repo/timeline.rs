//! Timeline entries: CloudEvents records in time order under their incident's partition.
//!
//! Entries are never written on their own: every write that changes an incident, a link or a
//! delivery puts the entries it produced in the same conditional transaction (see
//! [`Repository::timeline_ops`]). The condition guards the state change, so a redelivered
//! message that finds the change already made writes nothing, and its entries are not
//! duplicated; each put also requires its own key to be free.

use super::codec::{from_item, to_item};
use super::schema::{self, TIMELINE, incident_partition};
use super::{Listing, RepoError, Repository, check_limit};
use crate::{Condition, Cursor, Query, SortCondition, Store, TransactOp};
use klaxon_domain::ids::IncidentId;
use klaxon_domain::timeline::{TimelineDraft, TimelineRecord};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct TimelineItem {
    pk: String,
    sk: String,
    event: TimelineRecord,
}

impl<S: Store> Repository<S> {
    /// The puts that record `drafts` for `incident`, in order: sort key
    /// `TIMELINE#<time>#<position>#<entry key>`, where the position (within this write) keeps
    /// entries of one instant in the order the domain produced them.
    pub(crate) fn timeline_ops(
        &self,
        incident: &IncidentId,
        drafts: &[TimelineDraft],
    ) -> Result<Vec<TransactOp>, RepoError> {
        drafts
            .iter()
            .enumerate()
            .map(|(position, draft)| {
                if &draft.subject != incident {
                    return Err(RepoError::invalid(
                        format!("timeline[{position}].subject"),
                        format!(
                            "is {}, but the write is for incident {incident}",
                            draft.subject
                        ),
                    ));
                }
                let item = TimelineItem {
                    pk: incident_partition(incident.as_str()),
                    sk: schema::timeline_sort(draft.time, position, draft.key.as_str()),
                    event: draft.clone().into_record(self.source.clone()),
                };
                Ok(TransactOp::Put {
                    item: to_item(&item)?,
                    condition: Some(Condition::NotExists),
                })
            })
            .collect()
    }

    /// An incident's timeline in time order, one page at a time.
    pub async fn timeline(
        &self,
        incident: &IncidentId,
        cursor: Option<Cursor>,
        limit: u32,
    ) -> Result<Listing<TimelineRecord>, RepoError> {
        let query = Query::table(incident_partition(incident.as_str()))
            .sort(SortCondition::BeginsWith(TIMELINE.to_owned()))
            .limit(check_limit(limit)?)
            .after(cursor);
        let page = self.store.query(&query).await?;
        let items = page
            .items
            .into_iter()
            .map(|item| from_item::<TimelineItem>(item).map(|entry| entry.event))
            .collect::<Result<_, _>>()?;
        Ok(Listing {
            items,
            next: page.next,
        })
    }
}
