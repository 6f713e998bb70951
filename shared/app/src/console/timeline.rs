//! A schedule drawn as a week or a month: one row per layer (what its rotation alone puts on
//! call) and the final row (layers in priority order with the overrides, as paging resolves
//! it), overrides marked. Days and hand-offs are placed in the viewer's time zone (their
//! configured one, or the one they choose), the schedule's own zone named beside it. Drawn as
//! server-rendered SVG with percentage coordinates: no script, no inline style (the CSP
//! allows neither), and it scales to any width.

use super::oncall::local;
use super::service::{ConsoleError, ConsoleService, SignedIn};
use crate::ports::{EmailSender, Queue, Timers};
use crate::usecases::UseCaseError;
use chrono::{Datelike, Days, Months, NaiveDate, NaiveTime, TimeZone};
use chrono_tz::Tz;
use klaxon_domain::Instant;
use klaxon_domain::config::Config;
use klaxon_domain::ids::UserId;
use klaxon_domain::schedule::{OnCallInterval, OnCallSource, Override, Schedule};
use klaxon_store::Store;

/// How many distinct fills the bars use (`fill-0` … in the stylesheet), one per participant.
pub const PALETTE: usize = 8;

/// A week or a month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    /// Monday to Sunday.
    Week,
    /// A calendar month.
    Month,
}

impl Span {
    /// `week` or `month`.
    pub fn as_str(self) -> &'static str {
        match self {
            Span::Week => "week",
            Span::Month => "month",
        }
    }
}

/// The range a timeline shows: its first and last day (local), and the instants they span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// Week or month.
    pub span: Span,
    /// The first day.
    pub first: NaiveDate,
    /// The day after the last.
    pub end: NaiveDate,
    /// The zone the days are in.
    pub zone: Tz,
}

/// Local midnight of `day` in `zone` (the first instant of the day, across DST changes).
pub fn midnight(zone: Tz, day: NaiveDate) -> Instant {
    let mut time = day.and_time(NaiveTime::MIN);
    // A zone may skip midnight (a DST change at 00:00): take the first hour that exists.
    for _ in 0..4 {
        if let Some(at) = zone.from_local_datetime(&time).earliest() {
            return at.with_timezone(&chrono::Utc);
        }
        time += chrono::TimeDelta::hours(1);
    }
    day.and_time(NaiveTime::MIN).and_utc()
}

impl Range {
    /// The week (from Monday) or month holding `day`.
    pub fn around(span: Span, day: NaiveDate, zone: Tz) -> Self {
        let (first, end) = match span {
            Span::Week => {
                let first = day - Days::new(u64::from(day.weekday().num_days_from_monday()));
                (first, first + Days::new(7))
            }
            Span::Month => {
                let first = day.with_day(1).unwrap_or(day);
                (first, first + Months::new(1))
            }
        };
        Self {
            span,
            first,
            end,
            zone,
        }
    }

    /// The first instant shown.
    pub fn from(&self) -> Instant {
        midnight(self.zone, self.first)
    }

    /// The instant after the last one shown.
    pub fn to(&self) -> Instant {
        midnight(self.zone, self.end)
    }

    /// The range before this one.
    pub fn previous(&self) -> Self {
        let day = match self.span {
            Span::Week => self.first - Days::new(7),
            Span::Month => self.first - Months::new(1),
        };
        Self::around(self.span, day, self.zone)
    }

    /// The range after this one.
    pub fn next(&self) -> Self {
        Self::around(self.span, self.end, self.zone)
    }

    /// `where` in percent of the range's width, clamped to it.
    fn percent(&self, at: Instant) -> f64 {
        let (from, to) = (self.from(), self.to());
        let whole = (to - from).num_seconds().max(1) as f64;
        let part = (at.clamp(from, to) - from).num_seconds() as f64;
        (part / whole * 100.0).clamp(0.0, 100.0)
    }
}

/// One bar: someone on call for a stretch.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// Left edge, percent.
    pub x: String,
    /// Width, percent.
    pub width: String,
    /// Middle, percent (for the label).
    pub middle: String,
    /// Who.
    pub who: String,
    /// Shown inside the bar when it is wide enough.
    pub label: String,
    /// The bar's tooltip: who, from, until, why.
    pub title: String,
    /// The fill class (`fill-0` …).
    pub fill: String,
    /// Whether an override put them there.
    pub is_override: bool,
}

/// One row: a layer or the final schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// "Final" or the layer's name.
    pub name: String,
    /// Whether this is the final row.
    pub is_final: bool,
    /// Its bars (nobody on call: no bar).
    pub bars: Vec<Bar>,
    /// The row name's baseline (px).
    pub name_y: u32,
    /// The bars' top edge (px).
    pub bar_y: u32,
    /// The bar labels' baseline (px).
    pub text_y: u32,
}

/// A day (or, in a month, a week) mark on the axis.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    /// Position, percent.
    pub x: String,
    /// Text (`Mon 7`), empty for an unlabelled line.
    pub label: String,
}

/// A drawn timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    /// Week or month.
    pub span: &'static str,
    /// "Week of Mon 30 Nov 2026" or "December 2026".
    pub heading: String,
    /// The zone of the axis.
    pub zone: String,
    /// Day lines.
    pub ticks: Vec<Tick>,
    /// The layer rows and the final row, last.
    pub rows: Vec<Row>,
    /// The drawing's height (px).
    pub height: u32,
    /// Where "now" is, percent, when it is within the range.
    pub now: Option<String>,
    /// Who appears, with their fill: (name, fill class).
    pub legend: Vec<(String, String)>,
}

/// Row height (a name line and an 18 px bar) and the axis band above the rows, in px.
const ROW: u32 = 36;
const AXIS: u32 = 22;
/// A bar narrower than this (percent) carries no label (the tooltip and the table have it).
const LABEL_MIN: f64 = 9.0;

fn pct(value: f64) -> String {
    format!("{value:.3}%")
}

fn user_name(config: &Config, id: &UserId) -> String {
    config
        .user(id)
        .map_or_else(|| id.to_string(), |u| u.name.clone())
}

/// The fill of `user`: their place in the configuration's user list, modulo the palette.
fn fill(config: &Config, user: &UserId) -> String {
    let index = config.users.iter().position(|u| u.id == *user).unwrap_or(0);
    format!("fill-{}", index % PALETTE)
}

fn bar(config: &Config, range: &Range, interval: &OnCallInterval) -> Option<Bar> {
    let user = interval.user.as_ref()?;
    let (x, end) = (range.percent(interval.start), range.percent(interval.end));
    let width = end - x;
    if width <= 0.0 {
        return None;
    }
    let who = user_name(config, user);
    let is_override = matches!(interval.source, Some(OnCallSource::Override { .. }));
    let why = match &interval.source {
        Some(OnCallSource::Override { .. }) => "override".to_owned(),
        Some(OnCallSource::Layer { name, .. }) => name.clone(),
        None => String::new(),
    };
    let zone = range.zone;
    let label = if width < LABEL_MIN {
        String::new()
    } else if is_override {
        format!("{who} (override)")
    } else {
        who.clone()
    };
    Some(Bar {
        x: pct(x),
        width: pct(width),
        middle: pct(x + width / 2.0),
        title: format!(
            "{who}: {} until {} ({why})",
            local(interval.start, zone),
            local(interval.end, zone)
        ),
        label,
        fill: fill(config, user),
        who,
        is_override,
    })
}

fn ticks(range: &Range) -> Vec<Tick> {
    let mut ticks = Vec::new();
    let mut day = range.first;
    while day < range.end {
        let label = match range.span {
            Span::Week => day.format("%a %-d").to_string(),
            Span::Month if day.weekday() == chrono::Weekday::Mon || day == range.first => {
                day.format("%-d").to_string()
            }
            Span::Month => String::new(),
        };
        ticks.push(Tick {
            x: pct(range.percent(midnight(range.zone, day))),
            label,
        });
        day = day + Days::new(1);
    }
    ticks
}

/// Draws `schedule` over `range` with `overrides`, marking `now`.
pub fn draw(
    config: &Config,
    schedule: &Schedule,
    overrides: &[Override],
    range: &Range,
    now: Instant,
) -> Timeline {
    let (from, to) = (range.from(), range.to());
    let mut lines: Vec<(String, bool, Vec<OnCallInterval>)> = schedule
        .layers
        .iter()
        .map(|layer| {
            let alone = Schedule {
                layers: vec![layer.clone()],
                ..schedule.clone()
            };
            (
                layer.name.clone(),
                false,
                alone.final_schedule(&[], from, to),
            )
        })
        .collect();
    lines.push((
        "Final".to_owned(),
        true,
        schedule.final_schedule(overrides, from, to),
    ));
    let mut legend: Vec<(String, String)> = Vec::new();
    let rows: Vec<Row> = (0u32..)
        .zip(lines)
        .map(|(index, (name, is_final, intervals))| {
            let bars: Vec<Bar> = intervals
                .iter()
                .filter_map(|i| bar(config, range, i))
                .collect();
            for b in &bars {
                if !legend.iter().any(|(who, _)| *who == b.who) {
                    legend.push((b.who.clone(), b.fill.clone()));
                }
            }
            let y = AXIS + index * ROW;
            Row {
                name,
                is_final,
                bars,
                name_y: y + 11,
                bar_y: y + 14,
                text_y: y + 27,
            }
        })
        .collect();
    let height = AXIS + u32::try_from(rows.len()).unwrap_or(0) * ROW;
    let heading = match range.span {
        Span::Week => format!("Week of {}", range.first.format("%a %-d %b %Y")),
        Span::Month => range.first.format("%B %Y").to_string(),
    };
    Timeline {
        span: range.span.as_str(),
        heading,
        zone: range.zone.name().to_owned(),
        ticks: ticks(range),
        rows,
        height,
        now: (from <= now && now < to).then(|| pct(range.percent(now))),
        legend,
    }
}

/// What the schedule page's timeline is asked for: `view` (`week`, the default, or `month`),
/// `start` (a day in it, `2026-12-01`; default today) and `zone` (an IANA zone; default the
/// viewer's configured zone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineQuery {
    /// Week or month.
    pub span: Span,
    /// A day in the range, if given.
    pub day: Option<NaiveDate>,
    /// The zone, if given.
    pub zone: Option<Tz>,
}

impl TimelineQuery {
    /// Reads the query's fields; a bad one is refused naming it.
    pub fn parse(
        view: Option<&str>,
        start: Option<&str>,
        zone: Option<&str>,
    ) -> Result<Self, UseCaseError> {
        let span = match view {
            None | Some("week") => Span::Week,
            Some("month") => Span::Month,
            Some(_) => return Err(UseCaseError::invalid("view", "must be week or month")),
        };
        let day = start
            .map(|text| {
                NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
                    .map_err(|_| UseCaseError::invalid("start", "must be a day like 2026-12-01"))
            })
            .transpose()?;
        let zone = zone
            .map(|text| {
                text.trim().parse::<Tz>().map_err(|_| {
                    UseCaseError::invalid("zone", format!("{text:?} is not an IANA time zone"))
                })
            })
            .transpose()?;
        Ok(Self { span, day, zone })
    }
}

/// The schedule page's timeline with its navigation.
#[derive(Debug, Clone)]
pub struct TimelineView {
    /// The drawing.
    pub timeline: Timeline,
    /// The schedule's own zone.
    pub schedule_zone: String,
    /// Links: previous, next, this week, this month (each keeps the zone).
    pub previous: String,
    /// See `previous`.
    pub next: String,
    /// See `previous`.
    pub week: String,
    /// See `previous`.
    pub month: String,
    /// The zone chooser's choices, the current one first.
    pub zones: Vec<String>,
    /// The `start` field's value (the first day shown).
    pub start: String,
}

fn href(id: &str, range: &Range, span: Span) -> String {
    let pairs = [
        ("view", span.as_str().to_owned()),
        ("start", range.first.to_string()),
        ("zone", range.zone.name().to_owned()),
    ];
    format!(
        "/console/schedules/{id}?{}",
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    )
}

fn zone_choices(config: &Config, current: Tz, viewer: Tz, schedule: Tz) -> Vec<String> {
    let mut zones = vec![current.name().to_owned()];
    let others = [viewer, schedule, chrono_tz::UTC]
        .into_iter()
        .chain(config.users.iter().map(|u| u.time_zone))
        .chain(config.schedules.iter().map(|s| s.time_zone));
    for zone in others {
        if !zones.iter().any(|z| z == zone.name()) {
            zones.push(zone.name().to_owned());
        }
    }
    zones
}

impl<S: Store, Q: Queue, T: Timers, E: EmailSender> ConsoleService<S, Q, T, E> {
    /// Schedule `id` drawn as `query` asks, for `who` (whose configured zone is the default).
    pub async fn schedule_timeline(
        &self,
        who: &SignedIn,
        id: &str,
        query: &TimelineQuery,
    ) -> Result<TimelineView, ConsoleError> {
        let config = self.core().config().await?;
        let Some(schedule) = config.schedules.iter().find(|s| s.id.as_str() == id) else {
            return Err(UseCaseError::NotFound {
                what: "schedule",
                id: id.to_owned(),
            }
            .into());
        };
        let viewer = config
            .user(&who.user)
            .map_or(chrono_tz::UTC, |u| u.time_zone);
        let zone = query.zone.unwrap_or(viewer);
        let now = self.core().now();
        let today = now.with_timezone(&zone).date_naive();
        let range = Range::around(query.span, query.day.unwrap_or(today), zone);
        let overrides = self
            .core()
            .repo
            .overrides(&schedule.id, range.from(), range.to())
            .await?;
        let this = |span: Span| Range::around(span, query.day.unwrap_or(today), zone);
        Ok(TimelineView {
            timeline: draw(&config, schedule, &overrides, &range, now),
            schedule_zone: schedule.time_zone.name().to_owned(),
            previous: href(id, &range.previous(), range.span),
            next: href(id, &range.next(), range.span),
            week: href(id, &this(Span::Week), Span::Week),
            month: href(id, &this(Span::Month), Span::Month),
            zones: zone_choices(&config, zone, viewer, schedule.time_zone),
            start: range.first.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_week_starts_on_monday_and_a_month_on_the_first_in_the_viewers_zone() {
        let zone = chrono_tz::Europe::London;
        let day = NaiveDate::from_ymd_opt(2026, 10, 29).unwrap(); // a Thursday
        let week = Range::around(Span::Week, day, zone);
        assert_eq!(week.first.to_string(), "2026-10-26");
        assert_eq!(week.end.to_string(), "2026-11-02");
        // British Summer Time ends on 25 October 2026: this week is all GMT.
        assert_eq!(week.from().to_rfc3339(), "2026-10-26T00:00:00+00:00");
        let month = Range::around(Span::Month, day, zone);
        assert_eq!(month.from().to_rfc3339(), "2026-09-30T23:00:00+00:00");
        assert_eq!(month.to().to_rfc3339(), "2026-11-01T00:00:00+00:00");
        assert_eq!(month.previous().first.to_string(), "2026-09-01");
        assert_eq!(month.next().first.to_string(), "2026-11-01");
        assert_eq!(week.previous().first.to_string(), "2026-10-19");
        // A day that begins at 01:00 (Santiago skips midnight when DST starts).
        let santiago = chrono_tz::America::Santiago;
        let skipped = NaiveDate::from_ymd_opt(2026, 9, 6).unwrap();
        assert_eq!(
            midnight(santiago, skipped).to_rfc3339(),
            "2026-09-06T04:00:00+00:00"
        );
    }

    #[test]
    fn a_holiday_cover_layer_is_drawn_on_the_holiday_only() {
        let config = Config::from_yaml(
            r#"
users:
  - { id: alice, name: Alice, email: alice@example.com }
  - { id: hana, name: Hana, email: hana@example.com }
schedules:
  - id: support
    name: Support
    time_zone: UTC
    holidays: ["2026-12-02"]
    layers:
      - name: Holiday cover
        holidays: only
        rotation: { participants: [hana], start: "2026-01-05T00:00:00", shift: { weeks: 1 } }
      - name: Weekly
        holidays: except
        rotation: { participants: [alice], start: "2026-01-05T00:00:00", shift: { weeks: 1 } }
"#,
        )
        .unwrap();
        let schedule = &config.schedules[0];
        // Monday 30 November to Sunday 6 December: the holiday, Wednesday, is the third day.
        let week = Range::around(
            Span::Week,
            NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            chrono_tz::UTC,
        );
        let now = "2026-12-01T12:00:00Z".parse().unwrap();
        let timeline = draw(&config, schedule, &[], &week, now);
        let spans = |row: &Row| -> Vec<(String, String, String)> {
            row.bars
                .iter()
                .map(|bar| (bar.who.clone(), bar.x.clone(), bar.width.clone()))
                .collect()
        };
        let names: Vec<&str> = timeline.rows.iter().map(|row| row.name.as_str()).collect();
        assert_eq!(names, ["Holiday cover", "Weekly", "Final"]);
        let span =
            |who: &str, x: &str, width: &str| (who.to_owned(), x.to_owned(), width.to_owned());
        assert_eq!(
            spans(&timeline.rows[0]),
            [span("Hana", "28.571%", "14.286%")]
        );
        assert_eq!(
            spans(&timeline.rows[1]),
            [
                span("Alice", "0.000%", "28.571%"),
                span("Alice", "42.857%", "57.143%")
            ]
        );
        assert_eq!(
            spans(&timeline.rows[2]),
            [
                span("Alice", "0.000%", "28.571%"),
                span("Hana", "28.571%", "14.286%"),
                span("Alice", "42.857%", "57.143%")
            ]
        );
    }

    #[test]
    fn a_range_places_instants_in_percent() {
        let zone = chrono_tz::UTC;
        let day = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(); // a Monday
        let week = Range::around(Span::Week, day, zone);
        let noon_thursday = "2026-12-03T12:00:00Z".parse().unwrap();
        assert_eq!(pct(week.percent(noon_thursday)), "50.000%");
        let before = "2026-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(pct(week.percent(before)), "0.000%");
    }
}
