//! The policies and routing page: every escalation policy's tiers and targets, the grouping
//! and routing rules in the order they are tried, the per-severity defaults and maintenance
//! windows, and a "test an alert" form that runs the same dry run as `klaxon route test`
//! ([`crate::dryrun`]) on a pasted payload and shows what would happen. Nothing is stored.

use super::handlers::{Svc, error_page, render, require, require_form_fields};
use super::service::{ConsoleError, ConsoleService};
use super::views::Chrome;
use crate::dryrun::simulate::{EscalationOutcome, StepReport};
use crate::dryrun::{EventReport, RouteReport, dry_run, urgency_name};
use crate::ports::{EmailSender, Queue, Timers};
use crate::usecases::UseCaseError;
use askama::Template;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use klaxon_domain::alert::Severity;
use klaxon_domain::config::Config;
use klaxon_domain::escalation::Target;
use klaxon_store::Store;

/// The largest payload the form takes (the form body limit is larger, for the encoding).
const MAX_PAYLOAD_CHARS: usize = 6 * 1024;

/// One tier of a policy as the page lists it.
#[derive(Debug, Clone)]
pub struct TierRow {
    /// 1-based.
    pub number: usize,
    /// The tier's delay.
    pub delay: String,
    /// Each target: `(kind, name, link)`; the link is the schedule's page.
    pub targets: Vec<(String, String, Option<String>)>,
}

/// A policy as the page lists it.
#[derive(Debug, Clone)]
pub struct PolicyRow {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// How many more rounds after the first.
    pub repeat: u32,
    /// Its tiers.
    pub tiers: Vec<TierRow>,
}

/// A grouping or routing rule, a default or a maintenance window as a table row.
#[derive(Debug, Clone)]
pub struct RuleRow {
    /// Its id (or the severity, for defaults).
    pub id: String,
    /// Its priority (empty for defaults and windows).
    pub priority: String,
    /// What it matches, as compact JSON (`everything` when it matches all).
    pub matches: String,
    /// What it does.
    pub does: String,
}

/// Everything the page lists.
#[derive(Debug, Clone)]
pub struct PoliciesView {
    /// The policies, in file order.
    pub policies: Vec<PolicyRow>,
    /// Grouping rules in priority order.
    pub grouping: Vec<RuleRow>,
    /// The default grouping window.
    pub default_window: String,
    /// Routing rules in priority order.
    pub routing: Vec<RuleRow>,
    /// Per-severity defaults.
    pub defaults: Vec<RuleRow>,
    /// Maintenance windows.
    pub windows: Vec<RuleRow>,
    /// The integrations' names, for the form's select.
    pub integrations: Vec<String>,
}

fn matcher_text(value: &impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::Object(map)) if map.is_empty() => "everything".to_owned(),
        Ok(serde_json::Value::Null) => "everything".to_owned(),
        Ok(value) => value.to_string(),
        Err(_) => String::new(),
    }
}

fn policy_rows(config: &Config) -> Vec<PolicyRow> {
    let user = |id: &klaxon_domain::ids::UserId| {
        config
            .user(id)
            .map_or_else(|| id.to_string(), |u| u.name.clone())
    };
    config
        .escalation_policies
        .iter()
        .map(|policy| PolicyRow {
            id: policy.id.to_string(),
            name: policy.name.clone(),
            repeat: policy.repeat,
            tiers: (policy.tiers.iter().enumerate())
                .map(|(i, tier)| TierRow {
                    number: i + 1,
                    delay: tier.delay.to_string(),
                    targets: (tier.targets.iter())
                        .map(|target| match target {
                            Target::User(id) => ("user".to_owned(), user(id), None),
                            Target::Schedule(id) => (
                                "schedule".to_owned(),
                                id.to_string(),
                                Some(format!("/console/schedules/{id}")),
                            ),
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect()
}

fn routing_does(rule: &klaxon_domain::routing::RoutingRule) -> String {
    let mut does = Vec::new();
    if let Some(policy) = &rule.policy {
        does.push(format!("policy {policy}"));
    }
    if rule.suppress {
        does.push("suppress (page nobody)".to_owned());
    }
    if let Some(severity) = rule.severity {
        does.push(format!("severity {severity}"));
    }
    if let Some(urgency) = rule.urgency {
        does.push(format!("{} urgency", urgency_name(urgency)));
    }
    does.join(", ")
}

/// Builds the page's lists from `config`.
pub fn policies_view(config: &Config) -> PoliciesView {
    let mut grouping: Vec<_> = config.grouping.rules.iter().collect();
    grouping.sort_by_key(|rule| rule.priority);
    let mut routing: Vec<_> = config.routing.rules.iter().collect();
    routing.sort_by_key(|rule| rule.priority);
    let window = |w: Option<klaxon_domain::duration::HumanDuration>| {
        w.unwrap_or(config.grouping.default_window).to_string()
    };
    PoliciesView {
        policies: policy_rows(config),
        grouping: (grouping.into_iter())
            .map(|rule| RuleRow {
                id: rule.id.to_string(),
                priority: rule.priority.to_string(),
                matches: matcher_text(&rule.matcher),
                does: format!(
                    "group by [{}] for {}{}",
                    rule.group_by.join(", "),
                    window(rule.window),
                    if rule.cross_source {
                        ", across integrations"
                    } else {
                        ""
                    }
                ),
            })
            .collect(),
        default_window: config.grouping.default_window.to_string(),
        routing: (routing.into_iter())
            .map(|rule| RuleRow {
                id: rule.id.to_string(),
                priority: rule.priority.to_string(),
                matches: matcher_text(&rule.matcher),
                does: routing_does(rule),
            })
            .collect(),
        defaults: defaults_rows(config),
        windows: (config.maintenance_windows.iter())
            .map(|w| RuleRow {
                id: w.id.to_string(),
                priority: String::new(),
                matches: matcher_text(&w.matcher),
                does: format!("suppress from {} to {} ({})", w.start, w.end, w.reason),
            })
            .collect(),
        integrations: (config.integrations.iter())
            .map(|i| i.name.to_string())
            .collect(),
    }
}

fn defaults_rows(config: &Config) -> Vec<RuleRow> {
    Severity::ALL
        .iter()
        .map(|&severity| {
            let defaults = config.routing.defaults.for_severity(severity);
            let policy = defaults
                .policy
                .as_ref()
                .map_or("no policy: pages nobody".to_owned(), |p| {
                    format!("policy {p}")
                });
            RuleRow {
                id: severity.to_string(),
                priority: String::new(),
                matches: String::new(),
                does: format!(
                    "{policy}, {} urgency",
                    urgency_name(config.routing.defaults.urgency(severity))
                ),
            }
        })
        .collect()
}

/// One event of a dry run, as the page shows it.
#[derive(Debug, Clone)]
pub struct EventView {
    /// 1-based.
    pub number: usize,
    /// `alert`, `resolve` or `acknowledge`, the severity and summary.
    pub heading: String,
    /// The dedup key.
    pub dedup_key: String,
    /// How it is grouped.
    pub grouping: String,
    /// The routing steps (the domain's explanation) and decision.
    pub routing: Vec<String>,
    /// The escalation, one line per step.
    pub escalation: Vec<String>,
    /// One sentence: what happens.
    pub outcome: String,
}

fn step_line(step: &StepReport) -> String {
    match step {
        StepReport::Page {
            at,
            round,
            tier,
            targets,
            ..
        } => {
            let people: Vec<String> = (targets.iter())
                .flat_map(|t| t.users.iter().filter(|u| !u.duplicate))
                .map(|u| {
                    let channels: Vec<&str> = u.channels.iter().map(|c| c.as_str()).collect();
                    format!("{} ({})", u.name, channels.join(", "))
                })
                .collect();
            let people = if people.is_empty() {
                "nobody".to_owned()
            } else {
                people.join(", ")
            };
            format!(
                "{at}: round {}, tier {} pages {people}",
                round + 1,
                tier + 1
            )
        }
        StepReport::Skip {
            at, round, tier, ..
        } => format!(
            "{at}: round {}, tier {} reaches nobody and is skipped",
            round + 1,
            tier + 1
        ),
        StepReport::Exhausted { at, .. } => format!("{at}: nobody is left to page"),
    }
}

fn event_view(number: usize, event: &EventReport) -> EventView {
    let mut heading = format!("{:?}", event.kind).to_lowercase();
    if let Some(severity) = event.severity {
        heading.push_str(&format!(" · {severity}"));
    }
    if let Some(summary) = &event.summary {
        heading.push_str(&format!(" · {summary}"));
    }
    let grouping = event.grouping.as_ref().map_or(String::new(), |g| {
        let rule = g.rule.as_deref().unwrap_or("the default grouping");
        format!("by {rule}: group key {}, window {}", g.key, g.window)
    });
    let routing = event
        .routing
        .as_ref()
        .map(|r| r.decision.explanation.clone())
        .unwrap_or_default();
    let mut escalation: Vec<String> = event
        .escalation
        .iter()
        .flat_map(|e| e.steps.iter().map(step_line))
        .collect();
    if let Some(report) = &event.escalation
        && report.outcome == EscalationOutcome::Waiting
    {
        escalation.push("then waits for someone to act (low urgency)".to_owned());
    }
    EventView {
        number,
        heading,
        dedup_key: event.dedup_key.clone(),
        grouping,
        routing,
        escalation,
        outcome: event.outcome.clone(),
    }
}

/// A dry run's result as the page shows it.
#[derive(Debug, Clone)]
pub struct DryRunView {
    /// The format and integration, and how they were chosen.
    pub summary: String,
    /// The dry run's caveats and the format's remarks.
    pub notes: Vec<String>,
    /// Each event.
    pub events: Vec<EventView>,
}

fn dry_run_view(report: &RouteReport) -> DryRunView {
    DryRunView {
        summary: format!(
            "Read as {} on integration {}, arriving at {}.",
            report.format.as_str(),
            report.integration,
            report.at
        ),
        notes: report.notes.clone(),
        events: (report.events.iter().enumerate())
            .map(|(i, e)| event_view(i + 1, e))
            .collect(),
    }
}

impl<S: Store, Q: Queue, T: Timers, E: EmailSender> ConsoleService<S, Q, T, E> {
    /// The policies page's lists.
    pub async fn policies(&self) -> Result<PoliciesView, ConsoleError> {
        let config = self.core().config().await?;
        Ok(policies_view(&config))
    }

    /// The dry run of `payload` arriving now on `integration` (empty: told from the payload),
    /// exactly as `klaxon route test` runs it. A payload that cannot be read is a `400` naming
    /// the `payload` field; nothing is stored either way.
    pub async fn test_alert(
        &self,
        payload: &str,
        integration: &str,
    ) -> Result<DryRunView, ConsoleError> {
        if payload.trim().is_empty() {
            return Err(UseCaseError::invalid("payload", "paste an alert payload (JSON)").into());
        }
        if payload.chars().count() > MAX_PAYLOAD_CHARS {
            let limit = format!("must be at most {MAX_PAYLOAD_CHARS} characters");
            return Err(UseCaseError::invalid("payload", limit).into());
        }
        let config = self.core().config().await?;
        let integration = Some(integration.trim()).filter(|name| !name.is_empty());
        let report = dry_run(
            &config,
            payload.as_bytes(),
            "the pasted payload",
            None,
            integration,
            self.core().now(),
        )
        .map_err(|error| UseCaseError::invalid("payload", error.0))?;
        Ok(dry_run_view(&report))
    }
}

/// The policies and routing page.
#[derive(Template)]
#[template(path = "policies.html")]
pub struct PoliciesPage {
    /// The frame.
    pub chrome: Chrome,
    /// Heading and title.
    pub title: String,
    /// The lists.
    pub view: PoliciesView,
    /// The form's CSRF token.
    pub csrf: String,
    /// The payload last tested (kept in the form).
    pub payload: String,
    /// The integration last chosen.
    pub integration: String,
    /// The dry run's result, after a test.
    pub result: Option<DryRunView>,
    /// Why the test could not run, after a bad payload.
    pub problem: Option<String>,
}

pub(super) async fn page<S: Store, Q: Queue, T: Timers, E: EmailSender>(
    State(svc): State<Svc<S, Q, T, E>>,
    headers: HeaderMap,
) -> Response {
    let who = match require(&svc, &headers).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    match svc.policies().await {
        Ok(view) => render(&PoliciesPage {
            chrome: Chrome::new(Some(&who)),
            title: "Policies and routing".to_owned(),
            view,
            csrf: who.csrf.clone(),
            payload: String::new(),
            integration: String::new(),
            result: None,
            problem: None,
        }),
        Err(error) => error_page(error, Some(&who)),
    }
}

/// `POST /console/policies/test` (`csrf`, `payload`, `integration`): the page again with the
/// dry run's result, or with the reason the payload could not be read (`400`).
pub(super) async fn test<S: Store, Q: Queue, T: Timers, E: EmailSender>(
    State(svc): State<Svc<S, Q, T, E>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (who, form) = match require_form_fields(&svc, &headers, body).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let view = match svc.policies().await {
        Ok(view) => view,
        Err(error) => return error_page(error, Some(&who)),
    };
    let payload = form.text("payload").unwrap_or_default().to_owned();
    let integration = form.text("integration").unwrap_or_default().to_owned();
    let (result, problem) = match svc.test_alert(&payload, &integration).await {
        Ok(result) => (Some(result), None),
        Err(ConsoleError::UseCase(UseCaseError::Invalid { field, message })) => {
            (None, Some(format!("{field}: {message}")))
        }
        Err(error) => return error_page(error, Some(&who)),
    };
    let status = if problem.is_some() {
        axum::http::StatusCode::BAD_REQUEST
    } else {
        axum::http::StatusCode::OK
    };
    let mut response = render(&PoliciesPage {
        chrome: Chrome::new(Some(&who)),
        title: "Policies and routing".to_owned(),
        view,
        csrf: who.csrf.clone(),
        payload,
        integration,
        result,
        problem,
    });
    *response.status_mut() = status;
    response
}
