//! `klaxon oncall`: who is on call on each schedule at one moment.

use super::{Output, find_schedule, store, user_label};
use crate::args::OncallArgs;
use crate::{config_file, output, time};
use chrono::TimeDelta;
use klaxon_domain::Instant;
use klaxon_domain::config::Config;
use klaxon_domain::ids::ScheduleId;
use klaxon_domain::schedule::{OnCallSource, Override, Schedule};
use serde::Serialize;
use std::fmt::Write;
use std::path::Path;
use std::process::ExitCode;

/// How far before and after the moment the start and end of the current stretch are looked
/// for; a stretch reaching beyond is reported without that end.
const LOOKAROUND_DAYS: i64 = 31;

/// The `--json` report.
#[derive(Debug, Serialize)]
struct OncallReport {
    /// The moment asked about (UTC).
    at: String,
    schedules: Vec<ScheduleOnCall>,
}

/// One schedule's answer.
#[derive(Debug, Serialize)]
struct ScheduleOnCall {
    id: String,
    name: String,
    time_zone: String,
    /// The moment in the schedule's zone, with offset.
    at_local: String,
    /// Who is on call (null: nobody).
    user: Option<UserRef>,
    /// Why (null when nobody).
    source: Option<OnCallSource>,
    /// When the current stretch (of this user, or of nobody) began, if within 31 days.
    since: Option<Moment>,
    /// When it ends, if within 31 days.
    until: Option<Moment>,
}

/// A user as reports show them.
#[derive(Debug, Serialize)]
pub struct UserRef {
    id: String,
    name: String,
    /// `Chloé Martin (chloe)`, for the text form.
    #[serde(skip)]
    label: String,
}

impl UserRef {
    /// User `id` (named by id alone when the configuration no longer has them).
    pub fn new(config: &Config, id: &klaxon_domain::ids::UserId) -> Self {
        Self {
            id: id.to_string(),
            name: config
                .user(id)
                .map_or_else(|| id.to_string(), |user| user.name.clone()),
            label: user_label(config, id),
        }
    }

    /// `Chloé Martin (chloe)`.
    pub fn label(&self) -> &str {
        &self.label
    }
}

/// An instant in UTC and in the schedule's zone.
#[derive(Debug, Serialize)]
pub struct Moment {
    /// RFC 3339 UTC.
    pub utc: String,
    /// RFC 3339 with the schedule zone's offset.
    pub local: String,
    /// The instant itself, for the text form.
    #[serde(skip)]
    pub at: Instant,
}

impl Moment {
    /// `at` in UTC and in `schedule`'s zone.
    pub fn new(at: Instant, schedule: &Schedule) -> Self {
        Self {
            utc: time::utc(at),
            local: time::local_rfc3339(at, schedule.time_zone),
            at,
        }
    }
}

/// Runs `oncall`.
pub fn run(args: &OncallArgs, config: &Path, output: Output) -> anyhow::Result<ExitCode> {
    let config = config_file::load(config)?;
    let schedules: Vec<&Schedule> = match &args.schedule {
        Some(id) => vec![find_schedule(&config, id)?],
        None => config.schedules.iter().collect(),
    };
    let ids: Vec<&ScheduleId> = schedules.iter().map(|schedule| &schedule.id).collect();
    let overrides = store::stored_overrides(&args.store, &ids, args.at, args.at)?;
    let report = OncallReport {
        at: time::utc(args.at),
        schedules: schedules
            .iter()
            .map(|schedule| {
                let overrides = overrides.get(&schedule.id).map_or(&[][..], Vec::as_slice);
                on_call(&config, schedule, overrides, args.at)
            })
            .collect(),
    };
    let text = if output.json {
        output::json(&report)?
    } else {
        render(&report, &schedules, args.at)
    };
    output::print(&text)?;
    Ok(ExitCode::SUCCESS)
}

fn on_call(
    config: &Config,
    schedule: &Schedule,
    overrides: &[Override],
    at: Instant,
) -> ScheduleOnCall {
    let current = schedule.on_call_at(overrides, at);
    let around = TimeDelta::days(LOOKAROUND_DAYS);
    let from = at.checked_sub_signed(around).unwrap_or(at);
    let to = at.checked_add_signed(around).unwrap_or(at);
    let stretch = schedule
        .final_schedule(overrides, from, to)
        .into_iter()
        .find(|interval| interval.start <= at && at < interval.end);
    let (since, until) = match stretch {
        Some(interval) => (
            (interval.start > from).then(|| Moment::new(interval.start, schedule)),
            (interval.end < to).then(|| Moment::new(interval.end, schedule)),
        ),
        None => (None, None),
    };
    ScheduleOnCall {
        id: schedule.id.to_string(),
        name: schedule.name.clone(),
        time_zone: schedule.time_zone.name().to_string(),
        at_local: time::local_rfc3339(at, schedule.time_zone),
        user: current
            .as_ref()
            .map(|on_call| UserRef::new(config, &on_call.user)),
        source: current.map(|on_call| on_call.source),
        since,
        until,
    }
}

/// `layer 0 "EMEA daytime"` or `override o-123`.
pub fn source_text(source: Option<&OnCallSource>) -> String {
    match source {
        Some(OnCallSource::Layer { index, name }) => format!("layer {index} \"{name}\""),
        Some(OnCallSource::Override { id }) => format!("override {id}"),
        None => "no layer has anyone on call".to_string(),
    }
}

fn moment_text(at: Instant, schedule: &Schedule) -> String {
    format!(
        "{} = {}",
        time::local_human(at, schedule.time_zone),
        time::utc(at)
    )
}

fn render(report: &OncallReport, schedules: &[&Schedule], at: Instant) -> String {
    let mut out = format!("On call at {}\n", report.at);
    if schedules.is_empty() {
        out.push_str("\nThe configuration defines no schedules.\n");
    }
    for (answer, schedule) in report.schedules.iter().zip(schedules) {
        let _ = writeln!(
            out,
            "\n{} \"{}\" ({})",
            answer.id, answer.name, answer.time_zone
        );
        let who = answer
            .user
            .as_ref()
            .map_or("nobody", |user| user.label.as_str());
        let edge = |moment: &Option<Moment>, otherwise: &str| match moment {
            Some(moment) => moment_text(moment.at, schedule),
            None => format!("more than {LOOKAROUND_DAYS} days {otherwise}"),
        };
        let _ = writeln!(out, "  on call  {who}");
        let _ = writeln!(out, "  source   {}", source_text(answer.source.as_ref()));
        let _ = writeln!(out, "  at       {}", moment_text(at, schedule));
        let _ = writeln!(out, "  since    {}", edge(&answer.since, "ago"));
        let _ = writeln!(out, "  until    {}", edge(&answer.until, "ahead"));
    }
    out
}
