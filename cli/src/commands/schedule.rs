//! `klaxon schedule show` and `klaxon schedule export`.

use super::oncall::{Moment, UserRef, source_text};
use super::{Output, find_schedule, store};
use crate::args::{ExportArgs, ShowArgs};
use crate::failure::UsageError;
use crate::time::{self, TimeArg};
use crate::{config_file, output};
use anyhow::Context;
use chrono::TimeDelta;
use klaxon_app::ics::{self, ScheduleRange};
use klaxon_domain::Instant;
use klaxon_domain::schedule::{OnCallSource, Schedule};
use serde::Serialize;
use std::path::Path;
use std::process::ExitCode;

/// `schedule show`'s default range length after `--from`.
const SHOW_DEFAULT_DAYS: i64 = 7;
/// `schedule export`'s default range: this many days back ...
const EXPORT_DEFAULT_PAST_DAYS: i64 = 7;
/// ... to this many days ahead.
const EXPORT_DEFAULT_FUTURE_DAYS: i64 = 90;

/// The `--json` report of `schedule show`.
#[derive(Debug, Serialize)]
struct ShowReport {
    schedule: ScheduleRef,
    from: Moment,
    to: Moment,
    intervals: Vec<IntervalReport>,
}

#[derive(Debug, Serialize)]
struct ScheduleRef {
    id: String,
    name: String,
    time_zone: String,
}

#[derive(Debug, Serialize)]
struct IntervalReport {
    start: Moment,
    end: Moment,
    /// Who is on call (null: nobody).
    user: Option<UserRef>,
    /// Why (null when nobody).
    source: Option<OnCallSource>,
}

/// The range `--from`/`--to` give in `schedule`'s zone, with defaults, checked.
fn range(
    schedule: &Schedule,
    from: Option<TimeArg>,
    to: Option<TimeArg>,
    default_from: Instant,
    default_length: TimeDelta,
) -> anyhow::Result<ScheduleRange> {
    let zone = schedule.time_zone;
    let resolve = |arg: TimeArg, option: &str| {
        arg.resolve(zone).ok_or_else(|| {
            UsageError(format!(
                "--{option}: the date is outside the range of times Klaxon can represent"
            ))
        })
    };
    let from = match from {
        Some(arg) => resolve(arg, "from")?,
        None => default_from,
    };
    let to = match to {
        Some(arg) => resolve(arg, "to")?,
        None => from
            .checked_add_signed(default_length)
            .ok_or_else(|| UsageError("--from is too far in the future".to_string()))?,
    };
    ScheduleRange::new(from, to).map_err(|error| UsageError(format!("--from/--to: {error}")).into())
}

/// Runs `schedule show`.
pub fn show(args: &ShowArgs, config: &Path, output: Output) -> anyhow::Result<ExitCode> {
    let config = config_file::load(config)?;
    let schedule = find_schedule(&config, &args.schedule)?;
    let range = range(
        schedule,
        args.from,
        args.to,
        time::now(),
        TimeDelta::days(SHOW_DEFAULT_DAYS),
    )?;
    let overrides =
        store::stored_overrides(&args.store, &[&schedule.id], range.from(), range.to())?
            .remove(&schedule.id)
            .unwrap_or_default();
    let intervals = schedule.final_schedule(&overrides, range.from(), range.to());
    let report = ShowReport {
        schedule: ScheduleRef {
            id: schedule.id.to_string(),
            name: schedule.name.clone(),
            time_zone: schedule.time_zone.name().to_string(),
        },
        from: Moment::new(range.from(), schedule),
        to: Moment::new(range.to(), schedule),
        intervals: intervals
            .into_iter()
            .map(|interval| IntervalReport {
                start: Moment::new(interval.start, schedule),
                end: Moment::new(interval.end, schedule),
                user: interval.user.as_ref().map(|id| UserRef::new(&config, id)),
                source: interval.source,
            })
            .collect(),
    };
    let text = if output.json {
        output::json(&report)?
    } else {
        let zone = schedule.time_zone;
        let mut text = format!(
            "Schedule {} \"{}\" ({})\nFrom {} ({}) to {} ({})\n\n",
            schedule.id,
            schedule.name,
            zone.name(),
            time::local_human(range.from(), zone),
            time::utc(range.from()),
            time::local_human(range.to(), zone),
            time::utc(range.to()),
        );
        let rows: Vec<Vec<String>> = report
            .intervals
            .iter()
            .map(|interval| {
                vec![
                    time::local_human(interval.start.at, zone),
                    time::local_human(interval.end.at, zone),
                    interval.start.utc.clone(),
                    interval.end.utc.clone(),
                    interval
                        .user
                        .as_ref()
                        .map_or_else(|| "nobody".to_string(), |user| user.label().to_owned()),
                    source_text(interval.source.as_ref()),
                ]
            })
            .collect();
        let start_header = format!("START ({})", zone.name());
        text.push_str(&output::table(
            &[
                &start_header,
                "END",
                "START (UTC)",
                "END (UTC)",
                "ON CALL",
                "SOURCE",
            ],
            &rows,
        ));
        text
    };
    output::print(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// The `--json` summary of `schedule export --output FILE`.
#[derive(Debug, Serialize)]
struct ExportReport {
    file: String,
    schedule: String,
    from: String,
    to: String,
    events: usize,
}

/// Runs `schedule export`.
pub fn export(args: &ExportArgs, config: &Path, output: Output) -> anyhow::Result<ExitCode> {
    if output.json && args.output.is_none() {
        return Err(UsageError(
            "--json needs --output FILE with --ics: the calendar on standard output is \
             iCalendar, not JSON (with --output FILE, --json prints a summary of the file written)"
                .to_owned(),
        )
        .into());
    }
    let config = config_file::load(config)?;
    let schedule = find_schedule(&config, &args.schedule)?;
    let now = time::now();
    let default_from = now
        .checked_sub_signed(TimeDelta::days(EXPORT_DEFAULT_PAST_DAYS))
        .unwrap_or(now);
    let default_to = now
        .checked_add_signed(TimeDelta::days(EXPORT_DEFAULT_FUTURE_DAYS))
        .unwrap_or(now);
    let from = args.from.unwrap_or(TimeArg::Instant(default_from));
    let to = args.to.unwrap_or(TimeArg::Instant(default_to));
    let range = range(schedule, Some(from), Some(to), now, TimeDelta::zero())?;
    let overrides =
        store::stored_overrides(&args.store, &[&schedule.id], range.from(), range.to())?
            .remove(&schedule.id)
            .unwrap_or_default();
    let calendar = ics::schedule_calendar(&config, schedule, &overrides, range, now);
    match &args.output {
        None => output::print(&calendar)?,
        Some(path) => {
            std::fs::write(path, &calendar)
                .with_context(|| format!("cannot write {}", path.display()))?;
            let report = ExportReport {
                file: path.display().to_string(),
                schedule: schedule.id.to_string(),
                from: time::utc(range.from()),
                to: time::utc(range.to()),
                events: ics::on_call_events(schedule, &overrides, range).len(),
            };
            let text = if output.json {
                output::json(&report)?
            } else {
                format!(
                    "wrote {} on-call event{} of schedule {} ({} to {}) to {}\n",
                    report.events,
                    if report.events == 1 { "" } else { "s" },
                    report.schedule,
                    report.from,
                    report.to,
                    report.file
                )
            };
            output::print(&text)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
