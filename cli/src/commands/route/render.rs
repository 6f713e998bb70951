//! The text form of a `route test` report.

use super::{
    DefaultGrouping, EventKind, EventReport, FormatSource, IntegrationSource, RouteReport,
    urgency_name,
};
use klaxon_app::dryrun::simulate::{
    EscalationOutcome, EscalationReport, PagedUser, StepReport, TargetReport,
};
use klaxon_domain::config::Config;
use klaxon_domain::escalation::{ExhaustedReason, Target};
use klaxon_domain::incident::Urgency;
use std::fmt::Write;

/// Width of the field names (`summary:`) in front of each event's details.
const LABEL_WIDTH: usize = 12;

/// Renders the whole report for people.
pub fn text(report: &RouteReport, config: &Config) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Dry run at {}: nothing is stored and nobody is paged.",
        report.at
    );
    field(&mut out, "payload", &report.payload);
    let format = report.format.as_str();
    let format_line = match (report.format_source, &report.format_reason) {
        (FormatSource::Detected, Some(reason)) => format!("{format} (detected from {reason})"),
        (FormatSource::Detected, None) => format!("{format} (detected)"),
        (FormatSource::Option, _) => format!("{format} (from --format)"),
        (FormatSource::Integration, _) => format!("{format} (the integration's format)"),
    };
    field(&mut out, "format", &format_line);
    let integration_line = match report.integration_source {
        IntegrationSource::Option => format!("{} (from --integration)", report.integration),
        IntegrationSource::FirstOfFormat => format!(
            "{} (the first {format} integration in the configuration; choose another with \
             --integration)",
            report.integration
        ),
    };
    field(&mut out, "integration", &integration_line);
    for note in &report.notes {
        field(&mut out, "note", note);
    }
    if report.events.is_empty() {
        out.push_str("\nThe payload carries no alert events.\n");
    }
    let count = report.events.len();
    for (index, event) in report.events.iter().enumerate() {
        out.push('\n');
        event_text(&mut out, event, index, count, config);
    }
    out
}

fn field(out: &mut String, name: &str, value: &str) {
    let label = format!("{name}:");
    let _ = writeln!(out, "{label:<LABEL_WIDTH$} {value}");
}

fn indented_field(out: &mut String, name: &str, value: &str) {
    let label = format!("{name}:");
    let _ = writeln!(out, "  {label:<LABEL_WIDTH$} {value}");
}

fn continuation(out: &mut String, value: &str) {
    let _ = writeln!(out, "  {:<LABEL_WIDTH$} {value}", "");
}

fn event_text(out: &mut String, event: &EventReport, index: usize, count: usize, config: &Config) {
    let kind = match event.kind {
        EventKind::Alert => "alert",
        EventKind::Resolve => "resolve",
        EventKind::Acknowledge => "acknowledge",
    };
    let mut heading = format!("Event {} of {count}: {kind} {}", index + 1, event.dedup_key);
    if let Some(status) = event.status {
        let status = match status {
            klaxon_domain::alert::AlertStatus::Firing => "firing",
            klaxon_domain::alert::AlertStatus::Resolved => "resolved",
        };
        let _ = write!(heading, ", {status}");
    }
    if let Some(severity) = event.severity {
        let _ = write!(heading, ", {severity}");
    }
    let _ = writeln!(out, "{heading}");
    if event.dedup_key_generated {
        indented_field(
            out,
            "dedup key",
            "generated (the payload has none; production generates a new random key for each \
             delivery, so repeats are not deduplicated)",
        );
    }
    if let Some(summary) = &event.summary {
        indented_field(out, "summary", summary);
    }
    if let Some(source) = &event.source {
        indented_field(out, "source", source);
    }
    if !event.labels.is_empty() {
        let labels: Vec<String> = event
            .labels
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect();
        indented_field(out, "labels", &labels.join(", "));
    }
    if let Some(grouping) = &event.grouping {
        let how = match (&grouping.rule, grouping.default) {
            (Some(rule), _) => format!("rule {rule}"),
            (None, Some(DefaultGrouping::SenderGroup)) => {
                "no rule matched: the sender's own group (default grouping)".to_string()
            }
            (None, _) => "no rule matched: one incident per alert (default grouping)".to_string(),
        };
        indented_field(
            out,
            "grouping",
            &format!("{how}, window {}", grouping.window),
        );
        indented_field(out, "group key", grouping.key.as_str());
    }
    if let Some(routing) = &event.routing {
        let mut lines = routing.decision.explanation.iter();
        if let Some(first) = lines.next() {
            indented_field(out, "routing", first);
        }
        for line in lines {
            continuation(out, line);
        }
    }
    indented_field(out, "outcome", &event.outcome);
    if let Some(escalation) = &event.escalation {
        escalation_text(out, escalation, config);
    }
}

fn escalation_text(out: &mut String, escalation: &EscalationReport, config: &Config) {
    let urgency = urgency_name(escalation.urgency);
    let rounds = match (escalation.urgency, escalation.rounds) {
        (Urgency::Low, _) => "tier 0 only".to_string(),
        (Urgency::High, 1) => "1 round".to_string(),
        (Urgency::High, rounds) => format!("{rounds} rounds"),
    };
    indented_field(
        out,
        "escalation",
        &format!(
            "policy {} ({}), {urgency} urgency, {rounds}; if nobody acknowledges:",
            escalation.policy, escalation.policy_name
        ),
    );
    for step in &escalation.steps {
        match step {
            StepReport::Page {
                at,
                round,
                tier,
                targets,
                ..
            } => {
                let prefix = format!("    {at}  round {round} tier {tier}  ");
                let mut first = true;
                for target in targets {
                    let line = target_text(target, escalation.urgency, config);
                    if first {
                        let _ = writeln!(out, "{prefix}{line}");
                        first = false;
                    } else {
                        let _ = writeln!(out, "{:width$}{line}", "", width = prefix.len());
                    }
                }
            }
            StepReport::Skip {
                at,
                round,
                tier,
                targets,
            } => {
                let targets: Vec<String> = targets.iter().map(target_name).collect();
                let _ = writeln!(
                    out,
                    "    {at}  round {round} tier {tier}  skipped: nobody on call for {}",
                    targets.join(", ")
                );
            }
            StepReport::Exhausted { at, reason } => {
                let why = match reason {
                    ExhaustedReason::RoundsCompleted => "every tier of every round has been paged",
                    ExhaustedReason::NobodyOnCall => "no tier has anyone on call",
                    ExhaustedReason::NoTiers => "the policy has no tiers",
                };
                let _ = writeln!(
                    out,
                    "    {at}  exhausted: {why}; the incident stays open, nobody else is paged"
                );
            }
        }
    }
    if escalation.outcome == EscalationOutcome::Waiting {
        out.push_str(
            "    then nothing more is paged until someone acknowledges or resolves (low urgency \
             pages tier 0 only)\n",
        );
    }
}

fn target_name(target: &Target) -> String {
    match target {
        Target::User(user) => format!("user {user}"),
        Target::Schedule(schedule) => format!("schedule {schedule}"),
    }
}

fn target_text(target: &TargetReport, urgency: Urgency, config: &Config) -> String {
    let name = target_name(&target.target);
    if target.users.is_empty() {
        return format!("{name} → nobody on call");
    }
    let users: Vec<String> = target
        .users
        .iter()
        .map(|user| paged_user_text(user, urgency, config))
        .collect();
    format!("{name} → {}", users.join("; "))
}

fn paged_user_text(user: &PagedUser, urgency: Urgency, config: &Config) -> String {
    let who = super::super::user_label(config, &user.id);
    if user.duplicate {
        format!("{who}: already paged in this tier")
    } else if user.channels.is_empty() {
        format!(
            "{who}: has no {} urgency channels, so the page reaches them nowhere",
            urgency_name(urgency)
        )
    } else {
        let channels: Vec<&str> = user.channels.iter().map(|c| c.as_str()).collect();
        format!("{who}: {}", channels.join(", "))
    }
}
