//! The analytics page, from the same use case as `GET /v1/analytics`: MTTA and MTTR (median
//! and 90th percentile) per ISO week, incidents per week by severity, the noisiest sources,
//! and the on-call load per person with off-hours pages — each as a server-rendered SVG chart
//! with its numbers in a table, and as CSV (`/console/analytics.csv`, the API's CSV tables).
//! The period is a range of whole UTC days (`from`, `to` inclusive); the default is this ISO
//! week and the seven before it.

use super::charts::{Chart, Series, bar_chart};
use super::handlers::{Svc, error_page, render, require};
use super::service::{ConsoleError, ConsoleService, SignedIn};
use super::views::Chrome;
use crate::http::ApiError;
use crate::http::api::Params;
use crate::ports::{EmailSender, Queue, Timers};
use crate::usecases::UseCaseError;
use crate::usecases::queries::analytics::{CsvTable, report_csv};
use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, Days, NaiveDate, TimeDelta};
use klaxon_domain::Instant;
use klaxon_domain::alert::Severity;
use klaxon_domain::analytics::{GroupBy, GroupRow, Percentiles, Report};
use klaxon_store::Store;

/// The period asked for: whole UTC days, `to` included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// The first day.
    pub from: NaiveDate,
    /// The last day.
    pub to: NaiveDate,
}

fn day_start(day: NaiveDate) -> Instant {
    day.and_time(chrono::NaiveTime::MIN).and_utc()
}

fn parse_day(field: &str, text: Option<&str>) -> Result<Option<NaiveDate>, UseCaseError> {
    text.map(|t| {
        NaiveDate::parse_from_str(t.trim(), "%Y-%m-%d")
            .map_err(|_| UseCaseError::invalid(field, "must be a day like 2026-12-01"))
    })
    .transpose()
}

impl Period {
    /// Reads `from` and `to` (days); missing ones default to the eight ISO weeks up to `today`.
    pub fn parse(
        from: Option<&str>,
        to: Option<&str>,
        today: NaiveDate,
    ) -> Result<Self, UseCaseError> {
        let to = parse_day("to", to)?.unwrap_or(today);
        let monday = to - Days::new(u64::from(to.weekday().num_days_from_monday()));
        let from = parse_day("from", from)?.unwrap_or(monday - Days::new(49));
        if to < from {
            return Err(UseCaseError::invalid("to", "must not be before from"));
        }
        Ok(Self { from, to })
    }

    /// The first instant.
    pub fn start(&self) -> Instant {
        day_start(self.from)
    }

    /// The instant after the last day.
    pub fn end(&self) -> Instant {
        day_start(self.to) + TimeDelta::days(1)
    }

    /// The ISO weeks the period touches: (key like `2026-W49`, start, end) clipped to it.
    pub fn weeks(&self) -> Vec<(String, Instant, Instant)> {
        let mut weeks = Vec::new();
        let mut monday =
            self.from - Days::new(u64::from(self.from.weekday().num_days_from_monday()));
        while monday <= self.to {
            let week = monday.iso_week();
            let start = day_start(monday).max(self.start());
            let end = (day_start(monday) + TimeDelta::days(7)).min(self.end());
            weeks.push((format!("{}-W{:02}", week.year(), week.week()), start, end));
            monday = monday + Days::new(7);
        }
        weeks
    }
}

/// `2 min 5 s`, `1 h 4 min`, `—` for no value.
pub fn duration(seconds: Option<i64>) -> String {
    match seconds {
        None => "—".to_owned(),
        Some(s) if s < 60 => format!("{s} s"),
        Some(s) if s < 3600 => format!("{} min {} s", s / 60, s % 60),
        Some(s) => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

/// One week's row of the page's tables.
#[derive(Debug, Clone)]
pub struct WeekRow {
    /// `2026-W49`.
    pub week: String,
    /// Incidents opened.
    pub incidents: u32,
    /// MTTA median, p90; MTTR median, p90 (formatted).
    pub mtta_median: String,
    /// See `mtta_median`.
    pub mtta_p90: String,
    /// See `mtta_median`.
    pub mttr_median: String,
    /// See `mtta_median`.
    pub mttr_p90: String,
    /// Incidents per severity, in [`Severity::ALL`] order.
    pub severities: Vec<u32>,
}

/// Everything the analytics page shows.
#[derive(Debug, Clone)]
pub struct AnalyticsView {
    /// The form's values.
    pub from: String,
    /// See `from`.
    pub to: String,
    /// The whole period.
    pub totals: GroupRow,
    /// Formatted totals: MTTA median, p90, MTTR median, p90.
    pub total_times: [String; 4],
    /// Per week.
    pub weeks: Vec<WeekRow>,
    /// Severity names, in column order.
    pub severities: Vec<&'static str>,
    /// The report (sources and load are listed from it).
    pub report: Report,
    /// Display names of the load's people.
    pub names: Vec<String>,
    /// The charts.
    pub mtta_chart: Chart,
    /// See `mtta_chart`.
    pub mttr_chart: Chart,
    /// See `mtta_chart`.
    pub severity_chart: Chart,
    /// See `mtta_chart`.
    pub sources_chart: Chart,
    /// See `mtta_chart`.
    pub load_chart: Chart,
    /// The CSV query (`from=…&to=…`).
    pub csv_query: String,
}

fn empty_row() -> GroupRow {
    GroupRow {
        key: String::new(),
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

fn minutes(value: f64) -> String {
    duration(Some(value.round() as i64))
}

fn count(value: f64) -> String {
    format!("{}", value.round() as i64)
}

fn seconds(value: Option<i64>) -> Option<f64> {
    value.map(|v| v as f64)
}

fn time_chart(title: &str, weeks: &[String], rows: &[&GroupRow], mtta: bool) -> Chart {
    let values: Vec<Vec<Option<f64>>> = rows
        .iter()
        .map(|row| {
            let p = if mtta { row.mtta } else { row.mttr };
            vec![seconds(p.median), seconds(p.p90)]
        })
        .collect();
    let series = vec![Series::new("median", 0), Series::new("90th percentile", 1)];
    bar_chart(title, weeks, series, &values, false, &minutes)
}

impl<S: Store, Q: Queue, T: Timers, E: EmailSender> ConsoleService<S, Q, T, E> {
    /// Each week's row of `period` (figures from `by_week`, severities asked per week).
    async fn week_rows(
        &self,
        period: Period,
        by_week: &Report,
    ) -> Result<Vec<WeekRow>, ConsoleError> {
        let empty = empty_row();
        let mut rows = Vec::new();
        for (key, from, to) in &period.weeks() {
            let row = by_week
                .groups
                .iter()
                .find(|g| g.key == *key)
                .unwrap_or(&empty);
            let by_severity = self
                .queries()
                .analytics(Some(*from), Some(*to), GroupBy::Severity)
                .await?;
            let severities: Vec<u32> = Severity::ALL
                .iter()
                .map(|s| {
                    by_severity
                        .groups
                        .iter()
                        .find(|g| g.key == s.as_str())
                        .map_or(0, |g| g.incidents)
                })
                .collect();
            rows.push(WeekRow {
                week: key.clone(),
                incidents: row.incidents,
                mtta_median: duration(row.mtta.median),
                mtta_p90: duration(row.mtta.p90),
                mttr_median: duration(row.mttr.median),
                mttr_p90: duration(row.mttr.p90),
                severities,
            });
        }
        Ok(rows)
    }

    /// The analytics of `period`.
    pub async fn analytics_view(&self, period: Period) -> Result<AnalyticsView, ConsoleError> {
        let (start, end) = (Some(period.start()), Some(period.end()));
        let by_week = self.queries().analytics(start, end, GroupBy::Week).await?;
        let rows = self.week_rows(period, &by_week).await?;
        let severity_values: Vec<Vec<Option<f64>>> = rows
            .iter()
            .map(|r| r.severities.iter().map(|n| Some(f64::from(*n))).collect())
            .collect();
        let empty = empty_row();
        let weeks = period.weeks();
        let keys: Vec<String> = weeks.iter().map(|(k, _, _)| k.clone()).collect();
        let week_rows: Vec<&GroupRow> = keys
            .iter()
            .map(|k| {
                by_week
                    .groups
                    .iter()
                    .find(|g| g.key == *k)
                    .unwrap_or(&empty)
            })
            .collect();
        let severity_series = Severity::ALL
            .iter()
            .enumerate()
            .map(|(i, s)| Series::new(s.as_str(), i))
            .collect();
        let config = self.core().config().await?;
        let names: Vec<String> = by_week
            .on_call_load
            .iter()
            .map(|l| {
                config
                    .user(&l.user)
                    .map_or_else(|| l.user.to_string(), |u| u.name.clone())
            })
            .collect();
        let totals = by_week.totals.clone();
        Ok(AnalyticsView {
            from: period.from.to_string(),
            to: period.to.to_string(),
            total_times: [
                duration(totals.mtta.median),
                duration(totals.mtta.p90),
                duration(totals.mttr.median),
                duration(totals.mttr.p90),
            ],
            mtta_chart: time_chart("Time to acknowledge per week", &keys, &week_rows, true),
            mttr_chart: time_chart("Time to resolve per week", &keys, &week_rows, false),
            severity_chart: bar_chart(
                "Incidents per week by severity",
                &keys,
                severity_series,
                &severity_values,
                true,
                &count,
            ),
            sources_chart: sources_chart(&by_week),
            load_chart: load_chart(&by_week, &names),
            names,
            totals,
            weeks: rows,
            severities: Severity::ALL.iter().map(|s| s.as_str()).collect(),
            csv_query: serde_urlencoded::to_string([
                ("from", period.from.to_string()),
                ("to", period.to.to_string()),
            ])
            .unwrap_or_default(),
            report: by_week,
        })
    }
}

/// `integration / source`, as the tables name a source.
pub fn source_name(row: &klaxon_domain::analytics::SourceRow) -> String {
    match &row.source {
        Some(source) => format!("{} / {source}", row.integration),
        None => row.integration.to_string(),
    }
}

fn sources_chart(report: &Report) -> Chart {
    let names: Vec<String> = report.noisiest_sources.iter().map(source_name).collect();
    let values: Vec<Vec<Option<f64>>> = report
        .noisiest_sources
        .iter()
        .map(|s| vec![Some(f64::from(s.incidents)), Some(f64::from(s.alerts))])
        .collect();
    let series = vec![Series::new("incidents", 0), Series::new("alerts", 2)];
    bar_chart("Noisiest sources", &names, series, &values, false, &count)
}

fn load_chart(report: &Report, names: &[String]) -> Chart {
    let values: Vec<Vec<Option<f64>>> = report
        .on_call_load
        .iter()
        .map(|l| {
            let waking = l.pages.saturating_sub(l.off_hours_pages);
            vec![Some(f64::from(waking)), Some(f64::from(l.off_hours_pages))]
        })
        .collect();
    let series = vec![
        Series::new("pages in waking hours", 0),
        Series::new("off-hours pages", 3),
    ];
    bar_chart("Pages per person", names, series, &values, true, &count)
}

/// The analytics page.
#[derive(Template)]
#[template(path = "analytics.html")]
pub struct AnalyticsPage {
    /// The frame.
    pub chrome: Chrome,
    /// Heading and title.
    pub title: String,
    /// What it shows.
    pub view: AnalyticsView,
}

fn period_of<S: Store, Q: Queue, T: Timers, E: EmailSender>(
    svc: &ConsoleService<S, Q, T, E>,
    params: &Params,
) -> Result<Period, UseCaseError> {
    let today = svc.core().now().date_naive();
    Period::parse(params.text("from"), params.text("to"), today)
}

/// `GET /console/analytics?from&to`.
pub(super) async fn page<S: Store, Q: Queue, T: Timers, E: EmailSender>(
    State(svc): State<Svc<S, Q, T, E>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let who: SignedIn = match require(&svc, &headers).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let params = Params::parse(raw.as_deref()).unwrap_or_default();
    let view = match period_of(&svc, &params) {
        Ok(period) => svc.analytics_view(period).await,
        Err(error) => Err(error.into()),
    };
    match view {
        Ok(view) => render(&AnalyticsPage {
            chrome: Chrome::new(Some(&who)),
            title: "Analytics".to_owned(),
            view,
        }),
        Err(error) => error_page(error, Some(&who)),
    }
}

/// `GET /console/analytics.csv?from&to&table` (`groups` per week, `sources`, `load`,
/// `changes`): the API's CSV for a signed-in person.
pub(super) async fn csv<S: Store, Q: Queue, T: Timers, E: EmailSender>(
    State(svc): State<Svc<S, Q, T, E>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Err(response) = require(&svc, &headers).await {
        if response.status().is_redirection() {
            return ApiError::unauthorized("sign in to the console first").into_response();
        }
        return response;
    }
    let answer = async {
        let params =
            Params::parse(raw.as_deref()).map_err(|e| UseCaseError::invalid("query", e.message))?;
        let table = params
            .text("table")
            .map(CsvTable::parse)
            .transpose()?
            .unwrap_or(CsvTable::Groups);
        let period = period_of(&svc, &params)?;
        let report = svc
            .queries()
            .analytics(Some(period.start()), Some(period.end()), GroupBy::Week)
            .await?;
        Ok::<_, UseCaseError>(report_csv(&report, table))
    };
    match answer.await {
        Ok(body) => {
            let mut response = (StatusCode::OK, body).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8; header=present"),
            );
            response
        }
        Err(error) => ApiError::from(error).into_response(),
    }
}
