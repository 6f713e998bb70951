//! Aggregating incident metrics over a period: MTTA and MTTR per group, noisiest sources, and
//! the on-call load per person.

use super::changes::ChangeRow;
use super::{IncidentFacts, WakingHours, count, is_off_hours_page};
use crate::Instant;
use crate::ids::{IntegrationName, UserId};
use crate::schedule::OnCallInterval;
use chrono::Datelike;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How many sources the noisiest-sources list keeps.
pub const NOISIEST_SOURCES: usize = 10;

/// What the groups of a report are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    /// ISO week of the opening, in UTC (`2026-W10`).
    Week,
    /// The incident's severity.
    Severity,
    /// The escalation policy that paged (`(none)` for unrouted or suppressed incidents).
    Policy,
    /// The owning team (`(none)` when no team owns it).
    Team,
    /// The integration of the first alert.
    Integration,
    /// Who acknowledged (`(none)` when nobody did).
    Responder,
}

impl GroupBy {
    /// Every grouping, in documentation order.
    pub const ALL: [GroupBy; 6] = [
        GroupBy::Week,
        GroupBy::Severity,
        GroupBy::Policy,
        GroupBy::Team,
        GroupBy::Integration,
        GroupBy::Responder,
    ];

    /// The name used in `?by=`.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Week => "week",
            GroupBy::Severity => "severity",
            GroupBy::Policy => "policy",
            GroupBy::Team => "team",
            GroupBy::Integration => "integration",
            GroupBy::Responder => "responder",
        }
    }

    /// Parses a `?by=` value; the error lists the accepted ones.
    pub fn parse(text: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|by| by.as_str() == text.trim())
            .ok_or_else(|| {
                let names: Vec<_> = Self::ALL.iter().map(|by| by.as_str()).collect();
                format!("{text:?} is not one of {}", names.join(", "))
            })
    }

    fn key(self, facts: &IncidentFacts) -> String {
        const NONE: &str = "(none)";
        match self {
            GroupBy::Week => {
                let week = facts.opened_at.iso_week();
                format!("{}-W{:02}", week.year(), week.week())
            }
            GroupBy::Severity => facts.severity.as_str().to_owned(),
            GroupBy::Policy => facts
                .policy
                .as_ref()
                .map_or(NONE.to_owned(), ToString::to_string),
            GroupBy::Team => facts.team.clone().unwrap_or_else(|| NONE.to_owned()),
            GroupBy::Integration => facts.integration.to_string(),
            GroupBy::Responder => facts
                .acknowledged
                .as_ref()
                .map_or(NONE.to_owned(), |(_, by)| match by.as_user() {
                    Some(user) => user.to_string(),
                    None => by.to_string(),
                }),
        }
    }
}

/// A median and a 90th percentile, in seconds (nearest rank; absent without values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Percentiles {
    /// The median.
    pub median: Option<i64>,
    /// The 90th percentile.
    pub p90: Option<i64>,
}

impl Percentiles {
    fn of(mut values: Vec<i64>) -> Self {
        values.sort_unstable();
        Self {
            median: percentile(&values, 50),
            p90: percentile(&values, 90),
        }
    }
}

/// The nearest-rank `p`th percentile of `sorted` (ascending): the value at rank
/// ⌈p / 100 × n⌉.
pub fn percentile(sorted: &[i64], p: u32) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len();
    let rank = (usize::try_from(p).unwrap_or(100) * n).div_ceil(100).max(1);
    sorted.get(rank.min(n) - 1).copied()
}

/// The figures of one group (or of the whole period).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRow {
    /// The group's value (`critical`, `2026-W10`, `anna`); `all` for the totals.
    pub key: String,
    /// Incidents.
    pub incidents: u32,
    /// Of those, acknowledged.
    pub acknowledged: u32,
    /// Of those, resolved.
    pub resolved: u32,
    /// Time to acknowledge, seconds.
    pub mtta: Percentiles,
    /// Time to resolve, seconds.
    pub mttr: Percentiles,
    /// Pages sent.
    pub pages: u32,
    /// Pages sent outside the paged person's waking hours.
    pub off_hours_pages: u32,
    /// Change events of the group's integration in the period; only when grouped by
    /// integration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<u32>,
}

/// One alert source and how much noise it made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRow {
    /// The integration.
    pub integration: IntegrationName,
    /// The source within it (host, service), if the alerts named one.
    pub source: Option<String>,
    /// Incidents it opened.
    pub incidents: u32,
    /// Alert occurrences in those incidents.
    pub alerts: u32,
    /// Pages those incidents sent.
    pub pages: u32,
}

/// One person's on-call load over the period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadRow {
    /// The person.
    pub user: UserId,
    /// Pages they received.
    pub pages: u32,
    /// Of those, outside their waking hours.
    pub off_hours_pages: u32,
    /// Incidents they acknowledged.
    pub acknowledged: u32,
    /// Hours on call in the final schedules (overrides included), summed over schedules.
    pub hours_on_call: f64,
}

/// The analytics of a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Start of the period (inclusive).
    pub from: Instant,
    /// End of the period (exclusive).
    pub to: Instant,
    /// How the groups are formed.
    pub by: GroupBy,
    /// Every incident of the period together.
    pub totals: GroupRow,
    /// One row per group value, ordered by key.
    pub groups: Vec<GroupRow>,
    /// The sources that made the most alerts (then incidents), at most [`NOISIEST_SOURCES`].
    pub noisiest_sources: Vec<SourceRow>,
    /// Per person: pages, off-hours pages, acknowledgements, hours on call; ordered by user.
    pub on_call_load: Vec<LoadRow>,
    /// Per integration: the change events of the period ([`Report::with_changes`]).
    #[serde(default)]
    pub changes: Vec<ChangeRow>,
}

/// The hours each person spends on call in `intervals` (final-schedule intervals of any
/// number of schedules), counting only the part inside `[from, to)`.
pub fn on_call_hours(
    intervals: &[OnCallInterval],
    from: Instant,
    to: Instant,
) -> BTreeMap<UserId, f64> {
    let mut hours = BTreeMap::new();
    for interval in intervals {
        let Some(user) = &interval.user else { continue };
        let start = interval.start.max(from);
        let end = interval.end.min(to);
        if end > start {
            let seconds = end.signed_duration_since(start).num_seconds();
            #[allow(clippy::cast_precision_loss)] // seconds of a bounded range fit an f64
            let h = seconds as f64 / 3600.0;
            *hours.entry(user.clone()).or_insert(0.0) += h;
        }
    }
    hours
}

fn group_row(key: String, members: &[(&IncidentFacts, super::IncidentMetrics)]) -> GroupRow {
    let mut tta = Vec::new();
    let mut ttr = Vec::new();
    let (mut pages, mut off_hours) = (0u32, 0u32);
    for (_, metrics) in members {
        tta.extend(metrics.time_to_acknowledge);
        ttr.extend(metrics.time_to_resolve);
        pages = pages.saturating_add(metrics.pages);
        off_hours = off_hours.saturating_add(metrics.off_hours_pages);
    }
    GroupRow {
        key,
        incidents: count(members.len()),
        acknowledged: count(tta.len()),
        resolved: count(ttr.len()),
        mtta: Percentiles::of(tta),
        mttr: Percentiles::of(ttr),
        pages,
        off_hours_pages: off_hours,
        changes: None,
    }
}

fn noisiest(facts: &[IncidentFacts]) -> Vec<SourceRow> {
    let mut sources: BTreeMap<(IntegrationName, Option<String>), SourceRow> = BTreeMap::new();
    for incident in facts {
        let key = (incident.integration.clone(), incident.source.clone());
        let row = sources.entry(key).or_insert_with(|| SourceRow {
            integration: incident.integration.clone(),
            source: incident.source.clone(),
            incidents: 0,
            alerts: 0,
            pages: 0,
        });
        row.incidents += 1;
        row.alerts = row.alerts.saturating_add(incident.alerts);
        row.pages = row.pages.saturating_add(count(incident.pages.len()));
    }
    let mut rows: Vec<_> = sources.into_values().collect();
    // Stable sort: ties keep the (integration, source) order.
    rows.sort_by_key(|row| std::cmp::Reverse((row.alerts, row.incidents)));
    rows.truncate(NOISIEST_SOURCES);
    rows
}

fn load(
    facts: &[IncidentFacts],
    zone_of: &dyn Fn(&UserId) -> Option<Tz>,
    waking: &WakingHours,
    hours: &BTreeMap<UserId, f64>,
) -> Vec<LoadRow> {
    let mut rows: BTreeMap<UserId, LoadRow> = BTreeMap::new();
    fn row<'r>(
        rows: &'r mut BTreeMap<UserId, LoadRow>,
        hours: &BTreeMap<UserId, f64>,
        user: &UserId,
    ) -> &'r mut LoadRow {
        rows.entry(user.clone()).or_insert_with(|| LoadRow {
            user: user.clone(),
            pages: 0,
            off_hours_pages: 0,
            acknowledged: 0,
            hours_on_call: hours.get(user).copied().unwrap_or(0.0),
        })
    }
    for user in hours.keys() {
        row(&mut rows, hours, user);
    }
    for incident in facts {
        for page in &incident.pages {
            let off = is_off_hours_page(page, zone_of, waking);
            let entry = row(&mut rows, hours, &page.user);
            entry.pages += 1;
            entry.off_hours_pages += u32::from(off);
        }
        if let Some(user) = incident
            .acknowledged
            .as_ref()
            .and_then(|(_, by)| by.as_user())
        {
            row(&mut rows, hours, user).acknowledged += 1;
        }
    }
    rows.into_values().collect()
}

/// The report of `facts` (the incidents of `[from, to)`) grouped `by`; `hours` is each
/// person's time on call in the period ([`on_call_hours`]). Change events are added with
/// [`Report::with_changes`].
pub fn report(
    facts: &[IncidentFacts],
    by: GroupBy,
    period: (Instant, Instant),
    zone_of: &dyn Fn(&UserId) -> Option<Tz>,
    waking: &WakingHours,
    hours: &BTreeMap<UserId, f64>,
) -> Report {
    let measured: Vec<_> = facts
        .iter()
        .map(|incident| (incident, incident.metrics(zone_of, waking)))
        .collect();
    let mut groups: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for (incident, metrics) in &measured {
        groups
            .entry(by.key(incident))
            .or_default()
            .push((*incident, metrics.clone()));
    }
    Report {
        from: period.0,
        to: period.1,
        by,
        totals: group_row("all".to_owned(), &measured),
        groups: groups
            .into_iter()
            .map(|(key, members)| group_row(key, &members))
            .collect(),
        noisiest_sources: noisiest(facts),
        on_call_load: load(facts, zone_of, waking, hours),
        changes: Vec::new(),
    }
}
