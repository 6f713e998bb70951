//! Change events (PagerDuty Change Events): one item per change under its integration
//! (`CHANGE#<integration>`, sorted by when it happened), so analytics can count an
//! integration's changes over a time range with one query; and a `change.recorded` entry on
//! the timeline of each open incident the change concerns, written with it.

use super::codec::{check_key_part, from_item, to_item, to_json};
use super::schema::{self, sort_time};
use super::{MAX_TRANSACTION_ITEMS, RepoError, Repository};
use crate::{Condition, Query, SortCondition, Store, TransactOp};
use klaxon_domain::Instant;
use klaxon_domain::duration::HumanDuration;
use klaxon_domain::ids::{IncidentId, IntegrationName};
use klaxon_domain::timeline::{Actor, EntryKey, TimelineDraft, TimelineEntry};
use serde::{Deserialize, Serialize};

/// How long a change is kept for analytics.
pub const CHANGE_RETENTION: HumanDuration = HumanDuration::from_secs(400 * 24 * 3600);

/// A recorded change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeRecord {
    /// Its id (generated at receipt).
    pub id: String,
    /// The integration that reported it.
    pub integration: IntegrationName,
    /// What changed.
    pub summary: String,
    /// Where, if the sender said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// When it happened (the sender's timestamp, else receipt).
    pub happened_at: Instant,
    /// When Klaxon received it.
    pub received_at: Instant,
    /// The sender's details and links, as JSON text (sender-controlled maps are never stored
    /// as DynamoDB maps).
    pub details: String,
    /// The open incidents it was recorded on.
    #[serde(default)]
    pub incidents: Vec<IncidentId>,
}

#[derive(Serialize, Deserialize)]
struct ChangeItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    change: ChangeRecord,
    ttl: i64,
}

impl<S: Store> Repository<S> {
    /// Records a change and its `change.recorded` entry on each of `change.incidents`, at most
    /// [`MAX_TRANSACTION_ITEMS`] writes per transaction (the change itself with the first).
    /// The change's id is fresh per request; the entries are keyed by it, so a retried
    /// transaction writes none twice.
    pub async fn record_change(&self, change: &ChangeRecord) -> Result<(), RepoError> {
        check_key_part("change id", &change.id, 128)?;
        let entry_key = EntryKey::new(format!("change-{}", change.id))
            .map_err(|e| RepoError::invalid("change id", e.to_string()))?;
        let key = schema::change_key(change.integration.as_str(), change.happened_at, &change.id);
        let item = ChangeItem {
            pk: key.pk,
            sk: key.sk,
            change: change.clone(),
            ttl: self
                .now()
                .timestamp()
                .saturating_add(CHANGE_RETENTION.as_secs()),
        };
        let mut ops = vec![TransactOp::Put {
            item: to_item(&item)?,
            condition: Some(Condition::NotExists),
        }];
        for incident in &change.incidents {
            let draft = TimelineDraft::new(
                incident.clone(),
                entry_key.clone(),
                change.received_at,
                Actor::integration(change.integration.clone()),
                TimelineEntry::ChangeRecorded {
                    change: change.id.clone(),
                    integration: change.integration.clone(),
                    summary: change.summary.clone(),
                    source: change.source.clone(),
                    happened_at: change.happened_at,
                },
            );
            if ops.len() == MAX_TRANSACTION_ITEMS {
                self.store.transact(std::mem::take(&mut ops)).await?;
            }
            ops.extend(self.timeline_ops(incident, &[draft])?);
        }
        self.store.transact(ops).await?;
        Ok(())
    }

    /// An integration's changes that happened in `[from, to]`, oldest first: what analytics
    /// count.
    pub async fn changes(
        &self,
        integration: &IntegrationName,
        from: Instant,
        to: Instant,
    ) -> Result<Vec<ChangeRecord>, RepoError> {
        let query = Query::table(schema::change_partition(integration.as_str())).sort(
            SortCondition::Between {
                low: sort_time(from),
                // `~` sorts after the `#<id>` suffix of every key at `to`.
                high: format!("{}~", sort_time(to)),
            },
        );
        let mut changes = Vec::new();
        let mut cursor = None;
        loop {
            let page = self.store.query(&query.clone().after(cursor)).await?;
            for item in page.items {
                changes.push(from_item::<ChangeItem>(item)?.change);
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(changes),
            }
        }
    }
}

/// The details and links of a change as the JSON text [`ChangeRecord::details`] keeps.
pub fn change_details(
    details: &std::collections::BTreeMap<String, String>,
    links: &[klaxon_domain::alert::Link],
) -> Result<String, RepoError> {
    to_json(
        "details",
        &serde_json::json!({"custom_details": details, "links": links}),
    )
}
