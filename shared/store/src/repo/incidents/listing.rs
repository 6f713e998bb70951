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
use std::ops::RangeInclusive;

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

    /// Incidents not resolved and created in `[from, to)` (either bound optional), oldest
    /// first: one range Query on `gsi1` partition `OPEN_INCIDENTS` (sort `<created>#<id>`).
    pub async fn open_incidents_created(
        &self,
        from: Option<Instant>,
        to: Option<Instant>,
        cursor: Option<Cursor>,
        limit: u32,
    ) -> Result<Listing<StoredIncident>, RepoError> {
        // '#' follows every time; '"' sorts before '#', so `<to>"` excludes `to` itself.
        let sort = match (from, to) {
            (None, None) => SortCondition::All,
            (Some(from), None) => SortCondition::GreaterOrEqual(sort_time(from)),
            (None, Some(to)) => SortCondition::LessThan(sort_time(to)),
            (Some(from), Some(to)) => SortCondition::Between {
                low: sort_time(from),
                high: format!("{}\"", sort_time(to)),
            },
        };
        let query = Query::index(Index::Gsi1, OPEN_INCIDENTS)
            .sort(sort)
            .limit(check_limit(limit)?)
            .after(cursor);
        self.incident_listing(query).await
    }

    /// Incidents numbered within `numbers`, newest (highest number) first: one range Query on
    /// `gsi2` partition `INCIDENTS` (sort `<number:020>`).
    pub async fn recent_incidents_numbered(
        &self,
        numbers: RangeInclusive<u64>,
        cursor: Option<Cursor>,
        limit: u32,
    ) -> Result<Listing<StoredIncident>, RepoError> {
        let query = Query::index(Index::Gsi2, INCIDENTS)
            .sort(SortCondition::Between {
                low: schema::incident_number_sort(*numbers.start()),
                high: schema::incident_number_sort(*numbers.end()),
            })
            .descending()
            .limit(check_limit(limit)?)
            .after(cursor);
        self.incident_listing(query).await
    }

    /// The numbers of the incidents created in `[from, to)` (either bound optional), when any
    /// were: incident numbers are given in creation order, so the range is found by binary
    /// search over point Queries on `gsi2` (`INCIDENTS`, sort at or below a number, limit 1),
    /// about 2 × log2(incidents) reads, never a scan.
    pub async fn incident_numbers_created(
        &self,
        from: Option<Instant>,
        to: Option<Instant>,
    ) -> Result<Option<RangeInclusive<u64>>, RepoError> {
        let Some(newest) = self.incident_at_or_below(u64::MAX / 2).await? else {
            return Ok(None);
        };
        let newest = newest.incident.number();
        // The highest number created before `to`, the highest created before `from`.
        let high = match to {
            Some(to) => self.last_number_created_before(to, newest).await?,
            None => Some(newest),
        };
        let Some(high) = high else {
            return Ok(None);
        };
        let low = match from {
            Some(from) => match self.last_number_created_before(from, high).await? {
                Some(before) => before + 1,
                None => 0,
            },
            None => 0,
        };
        Ok((low <= high).then_some(low..=high))
    }

    /// The highest incident number at or below `ceiling` whose incident was created before
    /// `at`.
    async fn last_number_created_before(
        &self,
        at: Instant,
        ceiling: u64,
    ) -> Result<Option<u64>, RepoError> {
        // Invariant: every incident numbered at most `low` (if any) was created before `at`;
        // none numbered above `high` counts.
        let (mut low, mut high) = (0u64, ceiling);
        let mut found = None;
        while low <= high {
            let middle = low + (high - low) / 2;
            match self.incident_at_or_below(middle).await? {
                Some(stored) if stored.incident.created_at() < at => {
                    let number = stored.incident.number();
                    found = Some(number);
                    low = middle + 1;
                }
                Some(stored) => {
                    let number = stored.incident.number();
                    if number == 0 {
                        break;
                    }
                    high = number - 1;
                }
                None => low = middle + 1,
            }
        }
        Ok(found)
    }

    /// The incident with the highest number at or below `number`.
    async fn incident_at_or_below(&self, number: u64) -> Result<Option<StoredIncident>, RepoError> {
        let query = Query::index(Index::Gsi2, INCIDENTS)
            .sort(SortCondition::LessOrEqual(schema::incident_number_sort(
                number,
            )))
            .descending()
            .limit(1);
        let page = self.store.query(&query).await?;
        page.items
            .into_iter()
            .next()
            .map(decode_incident)
            .transpose()
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
