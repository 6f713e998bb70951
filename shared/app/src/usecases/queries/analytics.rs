//! Response analytics over a period (`GET /v1/analytics`, `klaxon analytics`).
//!
//! Which incidents a period holds: those **resolved** in `[from, to)` (read from the
//! time-ordered `RESOLVED_INCIDENTS` index, so a request reads only the period, never the
//! whole table) and those still **open** that opened in it (the open list is a small work
//! list). Each incident's pages come from its delivery records (one query in its own
//! partition). Hours on call come from every schedule's final schedule, overrides included.

use super::{QueryService, cursor_error};
use crate::usecases::UseCaseError;
use chrono::TimeDelta;
use klaxon_domain::Instant;
use klaxon_domain::analytics::{self, ChangeFact, GroupBy, IncidentFacts, PageFact, Report};
use klaxon_domain::config::Config;
use klaxon_domain::schedule::OnCallInterval;
use klaxon_store::Store;
use klaxon_store::repo::{DeliveryPurpose, DeliveryStatus, StoredIncident};
use std::collections::BTreeMap;
use std::fmt::Write;

/// How far back a report starts when the caller sets no `from`, in days.
pub const ANALYTICS_DEFAULT_DAYS: i64 = 30;
/// The longest period one report covers, in days.
pub const ANALYTICS_MAX_DAYS: i64 = 366;
/// Incidents read per query page.
const PAGE: u32 = 200;

/// Checks a period: `to` after `from`, at most [`ANALYTICS_MAX_DAYS`] long.
fn check_period(from: Instant, to: Instant) -> Result<(), UseCaseError> {
    if to <= from {
        return Err(UseCaseError::invalid(
            "to",
            format!("must be after from ({})", from.to_rfc3339()),
        ));
    }
    if to - from > TimeDelta::days(ANALYTICS_MAX_DAYS) {
        return Err(UseCaseError::invalid(
            "to",
            format!("the period is longer than {ANALYTICS_MAX_DAYS} days"),
        ));
    }
    Ok(())
}

/// The pages of `incident`: page deliveries the provider accepted.
pub(crate) fn pages_of(deliveries: Vec<klaxon_store::repo::DeliveryRecord>) -> Vec<PageFact> {
    deliveries
        .into_iter()
        .filter(|d| d.status == DeliveryStatus::Sent)
        .filter_map(|d| match d.purpose {
            DeliveryPurpose::Page { round, tier } => Some(PageFact {
                user: d.user,
                channel: d.channel,
                at: d.finished_at.unwrap_or(d.claimed_at),
                round,
                tier,
            }),
            DeliveryPurpose::Notice { .. } => None,
        })
        .collect()
}

impl<S: Store> QueryService<S> {
    /// The analytics of `[from, to)` (default: the last 30 days up to now) grouped `by`.
    pub async fn analytics(
        &self,
        from: Option<Instant>,
        to: Option<Instant>,
        by: GroupBy,
    ) -> Result<Report, UseCaseError> {
        let config = self.core().config().await?;
        let to = to.unwrap_or_else(|| self.core().now());
        let from = from.unwrap_or(to - TimeDelta::days(ANALYTICS_DEFAULT_DAYS));
        check_period(from, to)?;
        let mut facts = Vec::new();
        for stored in self.period_incidents(from, to).await? {
            let incident = &stored.incident;
            let pages = pages_of(self.core().repo.deliveries(incident.id()).await?);
            let team = config
                .team_of(
                    incident.escalation().map(|state| state.policy()),
                    &incident.context().integration,
                )
                .map(ToString::to_string);
            facts.push(IncidentFacts::of(incident, pages, team));
        }
        let hours = self.on_call_hours(&config, from, to).await?;
        let changes = self.period_changes(&config, from, to).await?;
        let zone_of = |user: &_| config.user(user).map(|u| u.time_zone);
        Ok(analytics::report(
            &facts,
            by,
            (from, to),
            &zone_of,
            &config.settings.waking_hours,
            &hours,
        )
        .with_changes(&changes))
    }

    /// The change events of every integration of `config` that happened in `[from, to)`.
    async fn period_changes(
        &self,
        config: &Config,
        from: Instant,
        to: Instant,
    ) -> Result<Vec<ChangeFact>, UseCaseError> {
        let mut found = Vec::new();
        for integration in &config.integrations {
            let changes = self
                .core()
                .repo
                .changes(&integration.name, from, to)
                .await?;
            found.extend(
                changes
                    .into_iter()
                    .filter(|change| change.happened_at < to)
                    .map(|change| ChangeFact {
                        integration: change.integration,
                        summary: change.summary,
                        source: change.source,
                        at: change.happened_at,
                    }),
            );
        }
        Ok(found)
    }

    /// The incidents resolved in `[from, to)` and the open ones opened in it.
    async fn period_incidents(
        &self,
        from: Instant,
        to: Instant,
    ) -> Result<Vec<StoredIncident>, UseCaseError> {
        let repo = &self.core().repo;
        let mut found = Vec::new();
        let mut cursor = None;
        loop {
            let page = repo
                .resolved_incidents(from, to, cursor, PAGE)
                .await
                .map_err(cursor_error("cursor"))?;
            found.extend(page.items);
            cursor = page.next;
            if cursor.is_none() {
                break;
            }
        }
        loop {
            let page = repo.open_incidents(cursor, PAGE).await?;
            found.extend(page.items.into_iter().filter(|stored| {
                let opened = stored.incident.created_at();
                from <= opened && opened < to
            }));
            cursor = page.next;
            if cursor.is_none() {
                break;
            }
        }
        Ok(found)
    }

    /// Each person's hours on call in `[from, to)` over every schedule's final schedule.
    async fn on_call_hours(
        &self,
        config: &Config,
        from: Instant,
        to: Instant,
    ) -> Result<BTreeMap<klaxon_domain::ids::UserId, f64>, UseCaseError> {
        let mut intervals: Vec<OnCallInterval> = Vec::new();
        for schedule in &config.schedules {
            let overrides = self.core().repo.overrides(&schedule.id, from, to).await?;
            intervals.extend(schedule.final_schedule(&overrides, from, to));
        }
        Ok(analytics::on_call_hours(&intervals, from, to))
    }
}

/// Which table of a report a CSV answer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvTable {
    /// One row per group, then the totals (`all`).
    Groups,
    /// The noisiest sources.
    Sources,
    /// The on-call load per person.
    Load,
    /// The change events per integration: one row per listed (latest) change.
    Changes,
}

impl CsvTable {
    /// Parses `?table=` (`groups`, `sources`, `load`, `changes`).
    pub fn parse(text: &str) -> Result<Self, UseCaseError> {
        match text.trim() {
            "groups" => Ok(Self::Groups),
            "sources" => Ok(Self::Sources),
            "load" => Ok(Self::Load),
            "changes" => Ok(Self::Changes),
            other => Err(UseCaseError::invalid(
                "table",
                format!("{other:?} is not one of groups, sources, load, changes"),
            )),
        }
    }
}

/// A CSV field: quoted when it holds a comma, quote or line break; a leading `=`, `+`, `-`
/// or `@` is prefixed with `'` so a spreadsheet does not run it as a formula.
fn field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

fn opt(value: Option<i64>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// One table of `report` as CSV (RFC 4180: CRLF line ends, a header row; seconds for
/// durations, empty when there is no value).
pub fn report_csv(report: &Report, table: CsvTable) -> String {
    let mut out = String::new();
    match table {
        CsvTable::Groups => {
            out.push_str(&format!("{},incidents,acknowledged,resolved,mtta_median_s,mtta_p90_s,mttr_median_s,mttr_p90_s,pages,off_hours_pages\r\n", report.by.as_str()));
            for row in report.groups.iter().chain(std::iter::once(&report.totals)) {
                let _ = write!(
                    out,
                    "{},{},{},{},{},{},{},{},{},{}\r\n",
                    field(&row.key),
                    row.incidents,
                    row.acknowledged,
                    row.resolved,
                    opt(row.mtta.median),
                    opt(row.mtta.p90),
                    opt(row.mttr.median),
                    opt(row.mttr.p90),
                    row.pages,
                    row.off_hours_pages
                );
            }
        }
        CsvTable::Sources => {
            out.push_str("integration,source,incidents,alerts,pages\r\n");
            for row in &report.noisiest_sources {
                let _ = write!(
                    out,
                    "{},{},{},{},{}\r\n",
                    field(row.integration.as_str()),
                    field(row.source.as_deref().unwrap_or("")),
                    row.incidents,
                    row.alerts,
                    row.pages
                );
            }
        }
        CsvTable::Changes => changes_csv(report, &mut out),
        CsvTable::Load => {
            out.push_str("user,pages,off_hours_pages,acknowledged,hours_on_call\r\n");
            for row in &report.on_call_load {
                let _ = write!(
                    out,
                    "{},{},{},{},{:.2}\r\n",
                    field(row.user.as_str()),
                    row.pages,
                    row.off_hours_pages,
                    row.acknowledged,
                    row.hours_on_call
                );
            }
        }
    }
    out
}

/// The `changes` table: one row per listed change (newest first within an integration),
/// with the integration's count of changes in the period.
fn changes_csv(report: &Report, out: &mut String) {
    out.push_str("integration,changes,happened_at,summary,source\r\n");
    for row in &report.changes {
        for change in &row.latest {
            let _ = write!(
                out,
                "{},{},{},{},{}\r\n",
                field(row.integration.as_str()),
                row.count,
                change.at.to_rfc3339(),
                field(&change.summary),
                field(change.source.as_deref().unwrap_or(""))
            );
        }
    }
}
