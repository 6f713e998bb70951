//! Incident listings: open, recent, an incident's alerts, escalations due.

use super::{IncidentAlert, LinkItem, StoredIncident, decode_incident};
use crate::repo::codec::from_item;
use crate::repo::schema::{
    self, ESCALATION_DUE, INCIDENTS, OPEN_INCIDENTS, RESOLVED_INCIDENTS, sort_time,
};
use crate::repo::{Listing, RepoError, Repository, check_limit};
use crate::{Cursor, Index, Key, Query, SortCondition, Store};
use klaxon_domain::Instant;
use klaxon_domain::ids::IncidentId;

impl<S: Store> Repository<S> {
    /// Incidents not resolved, oldest first (`gsi1` partition `OPEN_INCIDENTS`).
    pub async fn open_incidents(
        &self,
        cursor: Option<Cursor>,
        limit: u32,
    ) -> Result<Listing<StoredIncident>, RepoError> {
        let query = Query::index(Index::Gsi1, OPEN_INCIDENTS)
            .limit(check_limit(limit)?)
            .after(cursor);
        self.incident_listing(query).await
    }

    /// Incidents resolved in `[from, to)`, in resolve order (`gsi1` partition
    /// `RESOLVED_INCIDENTS`, sort `<resolved>#<id>`): one query reads only the period.
    pub async fn resolved_incidents(
        &self,
        from: Instant,
        to: Instant,
        cursor: Option<Cursor>,
        limit: u32,
    ) -> Result<Listing<StoredIncident>, RepoError> {
        // '#' follows every time; '"' sorts before '#', so `<to>"` excludes `to` itself.
        let query = Query::index(Index::Gsi1, RESOLVED_INCIDENTS)
            .sort(SortCondition::Between {
                low: sort_time(from),
                high: format!("{}\"", sort_time(to)),
            })
            .limit(check_limit(limit)?)
            .after(cursor);
        self.incident_listing(query).await
    }

    /// Every incident, newest (highest number) first (`gsi2` partition `INCIDENTS`).
    pub async fn recent_incidents(
        &self,
        cursor: Option<Cursor>,
        limit: u32,
    ) -> Result<Listing<StoredIncident>, RepoError> {
        let query = Query::index(Index::Gsi2, INCIDENTS)
            .descending()
            .limit(check_limit(limit)?)
            .after(cursor);
        self.incident_listing(query).await
    }

    async fn incident_listing(&self, query: Query) -> Result<Listing<StoredIncident>, RepoError> {
        let page = self.store.query(&query).await?;
        let items = page
            .items
            .into_iter()
            .map(decode_incident)
            .collect::<Result<_, _>>()?;
        Ok(Listing {
            items,
            next: page.next,
        })
    }

    /// The alert occurrences linked to an incident, in the order they were linked (`gsi2`
    /// partition `INCIDENT_ALERTS#<id>`).
    pub async fn incident_alerts(&self, id: &IncidentId) -> Result<Vec<IncidentAlert>, RepoError> {
        let page = self
            .store
            .query(&Query::index(
                Index::Gsi2,
                schema::incident_alerts_partition(id.as_str()),
            ))
            .await?;
        page.items
            .into_iter()
            .map(|item| from_item::<LinkItem>(item).map(IncidentAlert::from))
            .collect()
    }

    /// Escalations whose timer is due at or before `due_by`, earliest first, with their due
    /// time (`gsi3` partition `ESCALATION_DUE`): the recovery sweep's work list.
    pub async fn due_escalations(
        &self,
        due_by: Instant,
        limit: u32,
    ) -> Result<Vec<(IncidentId, Instant)>, RepoError> {
        // Sort keys are `<due>#<id>`; '$' sorts right after '#', so this bound includes `due_by`.
        let query = Query::index(Index::Gsi3, ESCALATION_DUE)
            .sort(SortCondition::LessThan(format!("{}$", sort_time(due_by))))
            .limit(check_limit(limit)?);
        let page = self.store.query(&query).await?;
        page.items
            .into_iter()
            .map(|item| {
                let key = Key::of_item(&item).unwrap_or_else(|| Key::new("?", "?"));
                let stored = decode_incident(item)?;
                let due = stored
                    .incident
                    .escalation()
                    .and_then(|state| state.next_due())
                    .ok_or_else(|| {
                        RepoError::corrupt(&key, "gsi3pk", "listed as due without a due time")
                    })?;
                Ok((stored.incident.id().clone(), due))
            })
            .collect()
    }
}
