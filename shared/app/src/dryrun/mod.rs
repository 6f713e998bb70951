//! The dry run of one payload through parsing, grouping, routing and escalation, with the
//! domain's own functions: what `klaxon route test` prints and the console's "test an alert"
//! form shows. Nothing is stored, nobody is paged.

pub mod detect;
pub mod simulate;

use chrono::SecondsFormat;
use klaxon_domain::Instant;
use klaxon_domain::alert::{Alert, AlertEvent, AlertStatus, Severity};
use klaxon_domain::config::{Config, Integration};
use klaxon_domain::grouping::Grouping;
use klaxon_domain::ids::{DedupKey, GroupKey};
use klaxon_domain::ingest::{self, Format, IngestError, ParseContext, Remark};
use klaxon_domain::routing::{RoutingContext, RoutingDecision};
use serde::Serialize;
use simulate::EscalationReport;
use std::collections::{BTreeMap, HashMap};

/// Why a dry run could not run: the message names what is wrong (the payload, a field, the
/// integration or format asked for).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DryRunError(pub String);

impl From<klaxon_domain::ids::IdError> for DryRunError {
    fn from(error: klaxon_domain::ids::IdError) -> Self {
        DryRunError(error.to_string())
    }
}

macro_rules! refuse {
    ($($arg:tt)*) => {
        return Err(DryRunError(format!($($arg)*)))
    };
}

/// An instant as RFC 3339 in UTC (`2026-03-08T13:00:00Z`).
pub(crate) fn utc(at: Instant) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// The dedup key a dry run gives alerts whose format invents one (PagerDuty trigger without
/// `dedup_key`, Opsgenie create without `alias`). Production generates a random one each time.
const GENERATED_DEDUP_KEY: &str = "generated-by-route-test";

/// The whole dry run, as `--json` prints it.
#[derive(Debug, Serialize)]
pub struct RouteReport {
    /// When the payload is taken to arrive (UTC).
    pub at: String,
    /// The payload file (`-` for standard input).
    pub payload: String,
    /// The format it was parsed as.
    pub format: Format,
    /// How the format was chosen.
    pub format_source: FormatSource,
    /// Why the format was detected (only when detected).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format_reason: Option<String>,
    /// The integration it arrives on.
    pub integration: String,
    /// How the integration was chosen.
    pub integration_source: IntegrationSource,
    /// Things the dry run does differently from production, and format-specific remarks.
    pub notes: Vec<String>,
    /// One entry per event in the payload, in order.
    pub events: Vec<EventReport>,
}

/// How the format was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FormatSource {
    /// `--format`.
    Option,
    /// The format of the `--integration`.
    Integration,
    /// Detected from the payload's fields.
    Detected,
}

/// How the integration was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IntegrationSource {
    /// `--integration`.
    Option,
    /// The configuration's first integration of the format.
    FirstOfFormat,
}

/// What one event of the payload would do.
#[derive(Debug, Serialize)]
pub struct EventReport {
    /// `alert` (a full alert, firing or resolved), `resolve` or `acknowledge` (by key only).
    pub kind: EventKind,
    /// The alert's dedup key.
    pub dedup_key: String,
    /// True when the format invented the key (production uses a fresh random one each time).
    pub dedup_key_generated: bool,
    /// Firing or resolved (full alerts only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<AlertStatus>,
    /// Severity as received (full alerts only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// Summary (full alerts only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Source (full alerts only, when known).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Labels after integration defaults (full alerts only).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// How the alert is grouped (full alerts only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grouping: Option<GroupingReport>,
    /// The index (in `events`, from 0) of an earlier firing alert of this payload with the same
    /// group key: this one joins that alert's incident instead of opening one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub joins_event: Option<usize>,
    /// The routing decision (firing alerts that open an incident only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routing: Option<RoutingReport>,
    /// The escalation timeline (when the decision pages).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalation: Option<EscalationReport>,
    /// One sentence: what happens.
    pub outcome: String,
}

/// The kind of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A full alert.
    Alert,
    /// Resolve an alert by key.
    Resolve,
    /// Acknowledge the incident of an alert, by key.
    Acknowledge,
}

/// How an alert is grouped.
#[derive(Debug, Serialize)]
pub struct GroupingReport {
    /// The grouping rule that matched, if any.
    pub rule: Option<String>,
    /// Without a rule: `sender_group` (the sender's own group, e.g. Alertmanager's `groupKey`)
    /// or `single_alert` (the alert is its own group).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<DefaultGrouping>,
    /// The group key.
    pub key: GroupKey,
    /// How long after the incident opened alerts of the group still join it.
    pub window: String,
}

/// Which default grouping applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DefaultGrouping {
    /// The sender's group hint.
    SenderGroup,
    /// One incident per alert.
    SingleAlert,
}

/// The routing decision, exactly as the domain makes it, and whether it pages.
#[derive(Debug, Serialize)]
pub struct RoutingReport {
    /// The domain's decision (rule, policy, severity, urgency, suppression, explanation).
    #[serde(flatten)]
    pub decision: RoutingDecision,
    /// Whether escalation starts.
    pub pages: bool,
}

/// The dry run of `body` against `config` at `at`.
pub fn dry_run(
    config: &Config,
    body: &[u8],
    payload_name: &str,
    format_option: Option<Format>,
    integration_option: Option<&str>,
    at: Instant,
) -> Result<RouteReport, DryRunError> {
    let json: Result<serde_json::Value, serde_json::Error> = serde_json::from_slice(body);
    let detected = json.as_ref().ok().map(detect::detect);
    let (integration, integration_source) = choose_integration(
        config,
        &json,
        payload_name,
        format_option,
        integration_option,
    )?;
    let format = integration.format;
    let (format_source, format_reason) = match (format_option, integration_option, &detected) {
        (Some(_), _, _) => (FormatSource::Option, None),
        (None, Some(_), _) => (FormatSource::Integration, None),
        (None, None, Some(Ok(found))) => (FormatSource::Detected, Some(found.reason.to_string())),
        (None, None, _) => (FormatSource::Detected, None),
    };

    let generated = DedupKey::new(GENERATED_DEDUP_KEY)?;
    let context = ParseContext {
        integration: &integration.name,
        defaults: &integration.defaults,
        received_at: at,
        generated_dedup_key: &generated,
    };
    let mut notes =
        vec!["Assumes no alert or incident is open yet, and no schedule overrides.".to_string()];
    let events = parse(format, body, &context, &mut notes).map_err(|error| {
        let hint = match &detected {
            Some(Ok(found)) if found.format != format => format!(
                "\n(the payload looks like {} instead: {})",
                found.format.as_str(),
                found.reason
            ),
            _ => String::new(),
        };
        DryRunError(format!(
            "the payload is not a valid {} payload ({}):\n{}{hint}",
            format.as_str(),
            error.code(),
            error
                .errors
                .iter()
                .map(|field| format!("  {field}"))
                .collect::<Vec<_>>()
                .join("\n")
        ))
    })?;

    let mut opened: HashMap<GroupKey, usize> = HashMap::new();
    let mut reports = Vec::new();
    for (index, event) in events.into_iter().enumerate() {
        reports.push(event_report(
            config,
            event,
            index,
            &generated,
            &mut opened,
            at,
        )?);
    }
    Ok(RouteReport {
        at: utc(at),
        payload: payload_name.to_string(),
        format,
        format_source,
        format_reason,
        integration: integration.name.to_string(),
        integration_source,
        notes,
        events: reports,
    })
}

/// The integration the payload arrives on, and how it was chosen.
fn choose_integration<'a>(
    config: &'a Config,
    json: &Result<serde_json::Value, serde_json::Error>,
    payload_name: &str,
    format_option: Option<Format>,
    integration_option: Option<&str>,
) -> Result<(&'a Integration, IntegrationSource), DryRunError> {
    let (integration, source) = match integration_option {
        Some(name) => (find_integration(config, name)?, IntegrationSource::Option),
        None => {
            let format = match (format_option, json) {
                (Some(format), _) => format,
                (None, Err(error)) => refuse!("the payload {payload_name} is not JSON ({error})"),
                (None, Ok(value)) => detect::detect(value).map_err(DryRunError)?.format,
            };
            (
                first_of_format(config, format)?,
                IntegrationSource::FirstOfFormat,
            )
        }
    };
    if let Some(asked) = format_option
        && asked != integration.format
    {
        refuse!(
            "integration {} receives {} payloads, not {}: leave out --format or choose another \
             --integration",
            integration.name,
            integration.format.as_str(),
            asked.as_str()
        );
    }
    Ok((integration, source))
}

fn find_integration<'a>(config: &'a Config, name: &str) -> Result<&'a Integration, DryRunError> {
    config
        .integrations
        .iter()
        .find(|integration| integration.name.as_str() == name)
        .ok_or_else(|| {
            DryRunError(format!(
                "unknown integration '{name}' (known: {})",
                known_integrations(config)
            ))
        })
}

fn first_of_format(config: &Config, format: Format) -> Result<&Integration, DryRunError> {
    config
        .integrations
        .iter()
        .find(|integration| integration.format == format)
        .ok_or_else(|| {
            DryRunError(format!(
                "no integration in the configuration receives {} payloads (integrations: {})",
                format.as_str(),
                known_integrations(config)
            ))
        })
}

fn known_integrations(config: &Config) -> String {
    if config.integrations.is_empty() {
        return "none".to_string();
    }
    config
        .integrations
        .iter()
        .map(|integration| format!("{} ({})", integration.name, integration.format.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses `body` with the format's real parser (the domain's one format table, as the ingest
/// routes do). Signatures and keys are not checked: a dry run has neither.
fn parse(
    format: Format,
    body: &[u8],
    context: &ParseContext<'_>,
    notes: &mut Vec<String>,
) -> Result<Vec<AlertEvent>, IngestError> {
    let lambda_event = format == Format::Cloudwatch
        && serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .is_some_and(|value| value.get("Records").is_some());
    let parsed = if lambda_event {
        ingest::parse_sns_lambda_event(body, context)?
    } else {
        ingest::parse(format, body, context)?
    };
    match format {
        Format::Opsgenie => notes.push(
            "Opsgenie acknowledge and close requests name the alert in the URL; only \
             create-alert bodies can be dry-run."
                .to_string(),
        ),
        Format::Pagerduty => notes.push(
            "The PagerDuty routing_key is not checked: the integration comes from \
             --integration (or the format)."
                .to_string(),
        ),
        Format::Cloudwatch if !lambda_event => {
            notes.push("The SNS signature is not verified in a dry run.".to_string());
        }
        Format::Native | Format::Alertmanager | Format::Grafana | Format::Cloudwatch => {}
    }
    for remark in parsed.remarks {
        notes.push(match remark {
            Remark::InsufficientDataIgnored => format!(
                "An INSUFFICIENT_DATA alarm is ignored: integration {} has \
                 insufficient_data: ignore.",
                context.integration
            ),
            Remark::NoAlarm(kind) => format!(
                "An SNS {} carries no alarm: Klaxon {} it and records no alert.",
                kind.as_str(),
                if kind == ingest::sns::SnsMessageType::SubscriptionConfirmation {
                    "confirms the subscription from"
                } else {
                    "acknowledges"
                }
            ),
        });
    }
    Ok(parsed.events)
}

fn event_report(
    config: &Config,
    event: AlertEvent,
    index: usize,
    generated: &DedupKey,
    opened: &mut HashMap<GroupKey, usize>,
    at: Instant,
) -> Result<EventReport, DryRunError> {
    let key = event.key();
    let mut report = EventReport {
        kind: EventKind::Alert,
        dedup_key: key.dedup_key.to_string(),
        dedup_key_generated: &key.dedup_key == generated,
        status: None,
        severity: None,
        summary: None,
        source: None,
        labels: BTreeMap::new(),
        grouping: None,
        joins_event: None,
        routing: None,
        escalation: None,
        outcome: String::new(),
    };
    let alert = match event {
        AlertEvent::Alert(alert) => *alert,
        AlertEvent::Resolve { .. } => {
            report.kind = EventKind::Resolve;
            report.outcome =
                "resolves the open alert with this dedup key (if any); pages nobody".to_string();
            return Ok(report);
        }
        AlertEvent::Acknowledge { .. } => {
            report.kind = EventKind::Acknowledge;
            report.outcome = "acknowledges the incident of the open alert with this dedup key \
                              (if any), which stops its escalation"
                .to_string();
            return Ok(report);
        }
    };
    report.status = Some(alert.status);
    report.severity = Some(alert.severity);
    report.summary = Some(alert.summary.clone());
    report.source = alert.source.clone();
    report.labels = alert.labels.clone();
    let grouping = config.group(&alert);
    report.grouping = Some(grouping_report(&alert, &grouping));

    if alert.status == AlertStatus::Resolved {
        report.outcome =
            "resolves the open alert with this dedup key (if any); pages nobody".to_string();
        return Ok(report);
    }
    if let Some(&first) = opened.get(&grouping.key) {
        report.joins_event = Some(first);
        report.outcome = format!(
            "joins the incident opened by event {} (same group key): linked to it, no second \
             escalation",
            first + 1
        );
        return Ok(report);
    }
    opened.insert(grouping.key.clone(), index);

    let decision = config.route(&RoutingContext::from_alert(&alert), at);
    let pages = decision.pages();
    report.outcome = outcome(config, &decision);
    if pages && let Some(policy) = decision.policy.as_ref().and_then(|id| config.policy(id)) {
        report.escalation = Some(simulate::simulate(config, policy, decision.urgency, at)?);
    }
    report.routing = Some(RoutingReport { decision, pages });
    Ok(report)
}

fn grouping_report(alert: &Alert, grouping: &Grouping) -> GroupingReport {
    GroupingReport {
        rule: grouping.rule.as_ref().map(ToString::to_string),
        default: match (&grouping.rule, &alert.group_hint) {
            (Some(_), _) => None,
            (None, Some(_)) => Some(DefaultGrouping::SenderGroup),
            (None, None) => Some(DefaultGrouping::SingleAlert),
        },
        key: grouping.key.clone(),
        window: grouping.window.to_string(),
    }
}

fn outcome(config: &Config, decision: &RoutingDecision) -> String {
    use klaxon_domain::routing::SuppressedBy;
    let policy = decision.policy.as_ref().map(|id| match config.policy(id) {
        Some(policy) => format!("{id} ({})", policy.name),
        None => id.to_string(),
    });
    match (&decision.suppressed, policy) {
        (Some(suppression), policy) => {
            let by = match &suppression.by {
                SuppressedBy::Rule(rule) => format!("routing rule {rule}"),
                SuppressedBy::MaintenanceWindow(window) => match &suppression.reason {
                    Some(reason) => format!("maintenance window {window} ({reason})"),
                    None => format!("maintenance window {window}"),
                },
            };
            match policy {
                Some(policy) => format!(
                    "opens an incident; suppressed by {by}: nobody is paged (policy {policy} \
                     would have applied)"
                ),
                None => format!("opens an incident; suppressed by {by}: nobody is paged"),
            }
        }
        (None, Some(policy)) => format!(
            "opens an incident and escalates with policy {policy}, {} urgency",
            urgency_name(decision.urgency)
        ),
        (None, None) => format!(
            "opens an incident but pages nobody: no rule sets a policy and {} has no default \
             policy",
            decision.severity
        ),
    }
}

/// `high` or `low`.
pub fn urgency_name(urgency: klaxon_domain::incident::Urgency) -> &'static str {
    match urgency {
        klaxon_domain::incident::Urgency::High => "high",
        klaxon_domain::incident::Urgency::Low => "low",
    }
}
