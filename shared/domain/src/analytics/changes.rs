//! Change events (PagerDuty Change Events) in a report: counted per integration, with the
//! latest summaries, and per group when the groups are integrations. Changes never page, so
//! they never count in MTTA, MTTR or pages.

use super::report::{GroupBy, GroupRow, Percentiles, Report};
use crate::Instant;
use crate::ids::IntegrationName;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How many of an integration's latest changes a report lists.
pub const LATEST_CHANGES: usize = 5;

/// One change an integration reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeFact {
    /// The integration that reported it.
    pub integration: IntegrationName,
    /// What changed.
    pub summary: String,
    /// Where, if the sender said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// When it happened.
    pub at: Instant,
}

/// One integration's changes over the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeRow {
    /// The integration.
    pub integration: IntegrationName,
    /// Changes that happened in the period.
    pub count: u32,
    /// The latest of them, newest first, at most [`LATEST_CHANGES`].
    pub latest: Vec<ChangeFact>,
}

impl Report {
    /// The report with `changes` counted: those that happened in `[from, to)` go into
    /// [`Report::changes`] (one row per integration, ordered by integration) and, when the
    /// groups are integrations, into each group's `changes` (an integration with changes but
    /// no incident gets a group of its own) and the totals'.
    #[must_use]
    pub fn with_changes(mut self, changes: &[ChangeFact]) -> Self {
        let mut per: BTreeMap<IntegrationName, Vec<&ChangeFact>> = BTreeMap::new();
        for change in changes
            .iter()
            .filter(|change| self.from <= change.at && change.at < self.to)
        {
            per.entry(change.integration.clone())
                .or_default()
                .push(change);
        }
        self.changes = per
            .iter()
            .map(|(integration, list)| {
                let mut latest: Vec<ChangeFact> = list.iter().map(|c| (*c).clone()).collect();
                latest.sort_by_key(|change| std::cmp::Reverse(change.at));
                latest.truncate(LATEST_CHANGES);
                ChangeRow {
                    integration: integration.clone(),
                    count: super::count(list.len()),
                    latest,
                }
            })
            .collect();
        if self.by == GroupBy::Integration {
            self.count_per_group();
        }
        self
    }

    fn count_per_group(&mut self) {
        let counts: BTreeMap<&str, u32> = self
            .changes
            .iter()
            .map(|row| (row.integration.as_str(), row.count))
            .collect();
        for group in &mut self.groups {
            group.changes = Some(counts.get(group.key.as_str()).copied().unwrap_or(0));
        }
        for (integration, count) in &counts {
            if !self.groups.iter().any(|group| group.key == *integration) {
                self.groups.push(GroupRow {
                    changes: Some(*count),
                    ..GroupRow::empty((*integration).to_owned())
                });
            }
        }
        self.groups.sort_by(|a, b| a.key.cmp(&b.key));
        self.totals.changes = Some(counts.values().fold(0u32, |sum, n| sum.saturating_add(*n)));
    }
}

impl GroupRow {
    /// A group with no incident.
    fn empty(key: String) -> Self {
        Self {
            key,
            incidents: 0,
            acknowledged: 0,
            resolved: 0,
            mtta: Percentiles::default(),
            mttr: Percentiles::default(),
            pages: 0,
            off_hours_pages: 0,
            changes: None,
        }
    }
}
