//! Response metrics (SLA): what one incident cost its responders ([`IncidentFacts::metrics`]),
//! and the same figures aggregated over a period ([`report`]).
//!
//! The rules, precisely:
//! - **Time to acknowledge** is the acknowledgement's time minus the incident's opening time;
//!   an incident resolved without an acknowledgement has none (it does not count in MTTA).
//! - **Time to resolve** is the resolve time minus the opening time (the impact window).
//! - **Pages** are page deliveries the provider accepted (notices after an ack or resolve are
//!   not pages). **Tiers needed** counts the distinct (round, tier) steps that paged someone.
//! - **Off-hours pages** are pages sent outside the paged person's waking hours
//!   ([`WakingHours`], 08:00–22:00 unless `settings.waking_hours` says otherwise) in that
//!   person's own `time_zone`. A user no longer in the configuration is judged in UTC.
//! - **Median and p90** use the nearest-rank method: the smallest value such that at least
//!   p % of the values are less than or equal to it (of 4 values, the median is the 2nd and
//!   the p90 the 4th). No value: no figure.
//! - **Changes** (change events, which never page) are counted per integration apart from the
//!   incidents ([`Report::with_changes`]): never in MTTA, MTTR or pages.

use crate::Instant;
use crate::alert::Severity;
use crate::ids::{IncidentId, IntegrationName, PolicyId, UserId};
use crate::incident::Incident;
use crate::timeline::Actor;
use crate::user::Channel;
use chrono::{NaiveTime, Timelike};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

mod changes;
mod report;
#[cfg(test)]
mod tests;

pub use changes::{ChangeFact, ChangeRow, LATEST_CHANGES};
pub use report::{
    GroupBy, GroupRow, LoadRow, Percentiles, Report, SourceRow, on_call_hours, percentile, report,
};

/// The hours of the day a person is expected to be awake, in their own time zone: a page
/// outside them is an off-hours page. `start` equal to `end` means every hour is waking.
/// When `end` is before `start` the waking window wraps past midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WakingHours {
    /// Local start of the waking day (`"08:00"`), inclusive.
    pub start: NaiveTime,
    /// Local end of the waking day (`"22:00"`), exclusive.
    pub end: NaiveTime,
}

impl Default for WakingHours {
    fn default() -> Self {
        Self {
            start: NaiveTime::from_hms_opt(8, 0, 0).unwrap_or(NaiveTime::MIN),
            end: NaiveTime::from_hms_opt(22, 0, 0).unwrap_or(NaiveTime::MIN),
        }
    }
}

impl WakingHours {
    /// Whether `at`, read on the wall clock of `zone`, falls outside the waking hours.
    pub fn is_off_hours(&self, at: Instant, zone: Tz) -> bool {
        let local = at.with_timezone(&zone).time();
        // Leap seconds are read as the second before.
        let local = local.with_nanosecond(0).unwrap_or(local);
        let waking = match self.start.cmp(&self.end) {
            std::cmp::Ordering::Equal => true,
            std::cmp::Ordering::Less => self.start <= local && local < self.end,
            std::cmp::Ordering::Greater => local >= self.start || local < self.end,
        };
        !waking
    }
}

/// One page that reached someone: who, how, when, and which escalation step sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageFact {
    /// The person paged.
    pub user: UserId,
    /// The channel.
    pub channel: Channel,
    /// When the provider accepted it.
    pub at: Instant,
    /// The escalation round.
    pub round: u32,
    /// The tier within the round.
    pub tier: u32,
}

/// What storage knows about one incident, as the metrics need it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentFacts {
    /// The incident.
    pub id: IncidentId,
    /// Its number.
    pub number: u64,
    /// Its title.
    pub title: String,
    /// Its severity.
    pub severity: Severity,
    /// The escalation policy that paged for it, if any.
    pub policy: Option<PolicyId>,
    /// The owning team, if a team owns its integration or policy.
    pub team: Option<String>,
    /// The integration of its first alert.
    pub integration: IntegrationName,
    /// The source of its first alert (host, service), if given.
    pub source: Option<String>,
    /// How many alert occurrences it gathered.
    pub alerts: u32,
    /// When it opened (its first alert).
    pub opened_at: Instant,
    /// When it was acknowledged, and by whom.
    pub acknowledged: Option<(Instant, Actor)>,
    /// When it resolved.
    pub resolved_at: Option<Instant>,
    /// The pages it sent.
    pub pages: Vec<PageFact>,
}

impl IncidentFacts {
    /// The facts of `incident` with its `pages` and owning `team`.
    pub fn of(incident: &Incident, pages: Vec<PageFact>, team: Option<String>) -> Self {
        let context = incident.context();
        Self {
            id: incident.id().clone(),
            number: incident.number(),
            title: incident.title().to_owned(),
            severity: incident.severity(),
            policy: incident.escalation().map(|state| state.policy().clone()),
            team,
            integration: context.integration.clone(),
            source: context.source.clone(),
            alerts: incident.alerts().linked,
            opened_at: incident.created_at(),
            acknowledged: incident
                .acknowledged()
                .map(|stamp| (stamp.at, stamp.by.clone())),
            resolved_at: incident.resolved().map(|resolution| resolution.at),
            pages,
        }
    }

    /// The incident's response metrics; `zone_of` gives a person's time zone.
    pub fn metrics(
        &self,
        zone_of: &dyn Fn(&UserId) -> Option<Tz>,
        waking: &WakingHours,
    ) -> IncidentMetrics {
        let seconds = |at: Instant| {
            at.signed_duration_since(self.opened_at)
                .num_seconds()
                .max(0)
        };
        let steps: BTreeSet<(u32, u32)> = self.pages.iter().map(|p| (p.round, p.tier)).collect();
        IncidentMetrics {
            time_to_acknowledge: self.acknowledged.as_ref().map(|(at, _)| seconds(*at)),
            time_to_resolve: self.resolved_at.map(seconds),
            pages: count(self.pages.len()),
            acknowledged_by: self.acknowledged.as_ref().map(|(_, by)| by.to_string()),
            tiers_needed: count(steps.len()),
            off_hours_pages: count(
                self.pages
                    .iter()
                    .filter(|page| is_off_hours_page(page, zone_of, waking))
                    .count(),
            ),
        }
    }
}

/// Whether `page` reached its person outside their waking hours.
pub(crate) fn is_off_hours_page(
    page: &PageFact,
    zone_of: &dyn Fn(&UserId) -> Option<Tz>,
    waking: &WakingHours,
) -> bool {
    waking.is_off_hours(page.at, zone_of(&page.user).unwrap_or(Tz::UTC))
}

pub(crate) fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// One incident's response metrics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentMetrics {
    /// Seconds from opening to the acknowledgement (none if never acknowledged).
    pub time_to_acknowledge: Option<i64>,
    /// Seconds from opening to the resolve (none while open).
    pub time_to_resolve: Option<i64>,
    /// Pages sent.
    pub pages: u32,
    /// Who acknowledged (`user:anna`, `apikey:ops`).
    pub acknowledged_by: Option<String>,
    /// Distinct escalation steps (round, tier) that paged someone.
    pub tiers_needed: u32,
    /// Pages sent outside the paged person's waking hours.
    pub off_hours_pages: u32,
}
