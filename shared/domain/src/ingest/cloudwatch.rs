//! CloudWatch alarm state changes, delivered by SNS (the `Message` of a `Notification`
//! envelope, see [`sns`](super::sns)).
//!
//! **Dedup key:** `AlarmArn`, so every state change of one alarm concerns the same alert.
//!
//! `NewStateValue` `ALARM` is firing, `OK` is resolved, and `INSUFFICIENT_DATA` follows the
//! integration's [`insufficient_data`](super::IntegrationDefaults::insufficient_data) setting
//! (`ignore`, the default, yields no event at all). The summary is `AlarmName`; severity is the
//! integration default (CloudWatch alarms carry none), else warning; source is the metric
//! namespace (`AWS/EC2`), else the integration default.
//!
//! Labels: `alarm_name`, `region` and `account_id` (from the alarm ARN and `AWSAccountId`),
//! `namespace` and `metric_name`, and `dimension.<Name>` for each metric dimension. For a
//! metric-math alarm, `namespace`, `metric_name` and each `dimension.<Name>` are set only when
//! every metric in the expression agrees on them. Annotations: `description`, `reason`,
//! `new_state`, `old_state`, `region_name`, `statistic`, `comparison_operator`, `threshold`,
//! `period`, `evaluation_periods`, `treat_missing_data`, `expression`, and `metric.<Id>` for
//! each metric of a metric-math alarm. One link: the alarm in the AWS console (commercial
//! partition only).

use super::json::{Errors, Located, Obj, item};
use super::normalize::{
    dedup_key, merge_labels, severity_or_default, source_or_default, truncate_summary,
};
use super::sns::{SnsEnvelope, SnsMessageType};
use super::{IngestError, InsufficientData, ParseContext};
use crate::alert::{Alert, AlertEvent, AlertStatus, Link, LinkKind};
use serde_json::Value;
use std::collections::BTreeMap;

/// The alarm JSON inside an SNS `Notification`'s `Message` string.
fn alarm_json(envelope: &SnsEnvelope) -> Result<Value, IngestError> {
    if envelope.message_type() != SnsMessageType::Notification {
        return Err(IngestError::invalid(
            envelope.field_path("Type"),
            format!(
                "must be Notification to carry a CloudWatch alarm (got {})",
                envelope.message_type().as_str()
            ),
        ));
    }
    serde_json::from_str(envelope.message()).map_err(|error| {
        let path = envelope.field_path("Message");
        IngestError::invalid(
            path,
            format!("must be a CloudWatch alarm as a JSON string ({error})"),
        )
    })
}

/// The alert status for `NewStateValue`: `Some(None)` when the integration ignores
/// `INSUFFICIENT_DATA`, `None` when the field is missing or invalid (recorded in `errors`).
fn alarm_status(
    new_state: Option<&str>,
    alarm: &Obj<'_>,
    ctx: &ParseContext<'_>,
    errors: &mut Errors,
) -> Option<Option<AlertStatus>> {
    match new_state {
        Some("ALARM") => Some(Some(AlertStatus::Firing)),
        Some("OK") => Some(Some(AlertStatus::Resolved)),
        Some("INSUFFICIENT_DATA") => Some(match ctx.defaults.insufficient_data {
            InsufficientData::Ignore => None,
            InsufficientData::Firing => Some(AlertStatus::Firing),
            InsufficientData::Resolved => Some(AlertStatus::Resolved),
        }),
        Some(_) => {
            errors.push(
                &alarm.at("NewStateValue"),
                "must be one of: ALARM, OK, INSUFFICIENT_DATA",
            );
            None
        }
        None => None,
    }
}

/// Parses the CloudWatch alarm inside an SNS `Notification`. Returns no event for
/// `INSUFFICIENT_DATA` when the integration ignores it, else exactly one.
pub fn parse_alarm(
    envelope: &SnsEnvelope,
    ctx: &ParseContext<'_>,
) -> Result<Vec<AlertEvent>, IngestError> {
    let path = envelope.field_path("Message");
    let value = alarm_json(envelope)?;
    let mut errors = Errors::default();
    let Some(alarm) = Located::new(&value, path, &mut errors) else {
        return Err(errors.into_error());
    };
    let alarm = alarm.obj();

    let name = alarm.required_str("AlarmName", &mut errors);
    let arn = alarm.required_str("AlarmArn", &mut errors);
    let key = arn.and_then(|arn| dedup_key(arn, &alarm.at("AlarmArn"), &mut errors));
    let new_state = alarm.required_str("NewStateValue", &mut errors);
    let status = alarm_status(new_state, &alarm, ctx, &mut errors);
    let old_state = alarm.str("OldStateValue", &mut errors);
    let description = alarm.non_empty_str("AlarmDescription", &mut errors);
    let account = alarm.non_empty_str("AWSAccountId", &mut errors);
    let reason = alarm.non_empty_str("NewStateReason", &mut errors);
    let changed_at = alarm.timestamp("StateChangeTime", &mut errors);
    let region_name = alarm.non_empty_str("Region", &mut errors);
    let trigger = alarm
        .object("Trigger", &mut errors)
        .map(|trigger| parse_trigger(trigger.obj(), &mut errors))
        .unwrap_or_default();

    let (Some(name), Some(arn), Some(key), Some(status), true) =
        (name, arn, key, status, errors.is_empty())
    else {
        return Err(errors.into_error());
    };
    let Some(status) = status else {
        // INSUFFICIENT_DATA and the integration ignores it: accepted, nothing to do.
        return Ok(Vec::new());
    };

    let arn_parts = ArnParts::parse(arn);
    let mut labels = BTreeMap::from([("alarm_name".to_string(), name.to_string())]);
    if let Some(region) = arn_parts.region {
        labels.insert("region".to_string(), region.to_string());
    }
    if let Some(account) = account.or(arn_parts.account) {
        labels.insert("account_id".to_string(), account.to_string());
    }
    labels.extend(trigger.labels);

    let mut annotations = trigger.annotations;
    for (name, value) in [
        ("description", description),
        ("reason", reason),
        ("new_state", new_state),
        ("old_state", old_state),
        ("region_name", region_name),
    ] {
        if let Some(value) = value {
            annotations.insert(name.to_string(), value.to_string());
        }
    }

    let links = arn_parts.console_link(name).into_iter().collect();
    let source = trigger.namespace.as_deref();
    let (started_at, ended_at) = match status {
        AlertStatus::Firing => (changed_at, None),
        AlertStatus::Resolved => (None, changed_at),
    };
    Ok(vec![AlertEvent::Alert(Box::new(Alert {
        integration: ctx.integration.clone(),
        dedup_key: key,
        status,
        severity: severity_or_default(None, ctx.defaults),
        summary: truncate_summary(name),
        source: source_or_default(source, ctx.defaults),
        labels: merge_labels(ctx.defaults, labels),
        annotations,
        links,
        received_at: ctx.received_at,
        started_at,
        ended_at,
        group_hint: None,
        raw: value.clone(),
    }))])
}

/// The parts of `arn:partition:cloudwatch:region:account:alarm:name` Klaxon uses.
struct ArnParts<'a> {
    partition: Option<&'a str>,
    region: Option<&'a str>,
    account: Option<&'a str>,
}

impl<'a> ArnParts<'a> {
    fn parse(arn: &'a str) -> Self {
        let mut parts = arn.splitn(6, ':');
        let non_empty = |part: Option<&'a str>| part.filter(|part| !part.is_empty());
        let prefix = parts.next();
        let partition = non_empty(parts.next());
        let _service = parts.next();
        let region = non_empty(parts.next());
        let account = non_empty(parts.next());
        if prefix != Some("arn") {
            return ArnParts {
                partition: None,
                region: None,
                account: None,
            };
        }
        ArnParts {
            partition,
            region,
            account,
        }
    }

    /// The alarm's page in the AWS console. Other partitions (China, GovCloud) have other
    /// console hosts, so no link is made for them.
    fn console_link(&self, alarm_name: &str) -> Option<Link> {
        let region = self.region?;
        if self.partition != Some("aws")
            || !region
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return None;
        }
        Some(Link {
            href: format!(
                "https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#alarmsV2:alarm/{}",
                percent_encode(alarm_name)
            ),
            text: Some("CloudWatch alarm".to_string()),
            kind: LinkKind::Link,
        })
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// What the `Trigger` contributes.
#[derive(Default)]
struct TriggerInfo {
    namespace: Option<String>,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
}

/// One metric a trigger watches: namespace, name and dimensions.
#[derive(Default, Clone, PartialEq)]
struct MetricIdentity {
    namespace: Option<String>,
    metric_name: Option<String>,
    dimensions: BTreeMap<String, String>,
}

fn parse_trigger(trigger: Obj<'_>, errors: &mut Errors) -> TriggerInfo {
    let mut info = TriggerInfo::default();
    let mut note = |name: &str, value: Option<String>| {
        if let Some(value) = value {
            info.annotations.insert(name.to_string(), value);
        }
    };
    note(
        "statistic",
        trigger
            .non_empty_str("Statistic", errors)
            .or_else(|| trigger.non_empty_str("ExtendedStatistic", errors))
            .map(str::to_string),
    );
    note(
        "comparison_operator",
        trigger
            .non_empty_str("ComparisonOperator", errors)
            .map(str::to_string),
    );
    note(
        "threshold",
        trigger.number("Threshold", errors).map(|t| t.to_string()),
    );
    note(
        "period",
        trigger.unsigned("Period", errors).map(|p| p.to_string()),
    );
    note(
        "evaluation_periods",
        trigger
            .unsigned("EvaluationPeriods", errors)
            .map(|p| p.to_string()),
    );
    note(
        "treat_missing_data",
        trigger
            .non_empty_str("TreatMissingData", errors)
            .map(str::to_string),
    );

    let metrics: Vec<MetricIdentity> = match trigger.array("Metrics", errors) {
        Some(items) => parse_metric_math(trigger, items, &mut info.annotations, errors),
        None => vec![metric_identity(trigger, errors)],
    };
    let common = common_identity(&metrics);
    info.namespace = common.namespace.clone();
    if let Some(namespace) = common.namespace {
        info.labels.insert("namespace".to_string(), namespace);
    }
    if let Some(metric_name) = common.metric_name {
        info.labels.insert("metric_name".to_string(), metric_name);
    }
    for (name, value) in common.dimensions {
        info.labels.insert(format!("dimension.{name}"), value);
    }
    info
}

/// `Namespace`, `MetricName` and `Dimensions` of a single-metric trigger or a `MetricStat.Metric`.
fn metric_identity(obj: Obj<'_>, errors: &mut Errors) -> MetricIdentity {
    let mut identity = MetricIdentity {
        namespace: obj.non_empty_str("Namespace", errors).map(str::to_string),
        metric_name: obj.non_empty_str("MetricName", errors).map(str::to_string),
        dimensions: BTreeMap::new(),
    };
    if let Some(dimensions) = obj.array("Dimensions", errors) {
        for (index, dimension) in dimensions.iter().enumerate() {
            let Some(dimension) =
                Located::new(dimension, item(&obj.at("Dimensions"), index), errors)
            else {
                continue;
            };
            let dimension = dimension.obj();
            let (name, value) = (
                dimension.required_str("name", errors),
                dimension.str("value", errors),
            );
            if let (Some(name), Some(value)) = (name, value) {
                identity
                    .dimensions
                    .insert(name.to_string(), value.to_string());
            }
        }
    }
    identity
}

/// Reads `Trigger.Metrics[]`, annotating each; returns the identities of the `MetricStat`s.
fn parse_metric_math(
    trigger: Obj<'_>,
    items: &[Value],
    annotations: &mut BTreeMap<String, String>,
    errors: &mut Errors,
) -> Vec<MetricIdentity> {
    let mut identities = Vec::new();
    for (index, metric) in items.iter().enumerate() {
        let Some(metric) = Located::new(metric, item(&trigger.at("Metrics"), index), errors) else {
            continue;
        };
        let metric = metric.obj();
        let id = metric.required_str("Id", errors);
        let expression = metric.non_empty_str("Expression", errors);
        let label = metric.non_empty_str("Label", errors);
        let returns_data = metric.boolean("ReturnData", errors).unwrap_or(false);
        let mut description = None;
        if let Some(expression) = expression {
            if returns_data {
                annotations.insert("expression".to_string(), expression.to_string());
            }
            description = Some(expression.to_string());
        }
        if let Some(stat) = metric.object("MetricStat", errors) {
            let stat = stat.obj();
            let identity = match stat.required_object("Metric", errors) {
                Some(inner) => metric_identity(inner.obj(), errors),
                None => MetricIdentity::default(),
            };
            let statistic = stat.non_empty_str("Stat", errors);
            let period = stat.unsigned("Period", errors);
            let mut parts: Vec<String> = [&identity.namespace, &identity.metric_name]
                .into_iter()
                .flatten()
                .cloned()
                .collect();
            parts.extend(statistic.map(str::to_string));
            parts.extend(period.map(|period| format!("over {period}s")));
            if !identity.dimensions.is_empty() {
                let dimensions: Vec<String> = identity
                    .dimensions
                    .iter()
                    .map(|(name, value)| format!("{name}={value}"))
                    .collect();
                parts.push(format!("({})", dimensions.join(", ")));
            }
            description = Some(parts.join(" "));
            identities.push(identity);
        }
        if let (Some(id), Some(description)) = (id, description) {
            let text = match label {
                Some(label) => format!("{description} [{label}]"),
                None => description,
            };
            annotations.insert(format!("metric.{id}"), text);
        }
    }
    identities
}

/// What every metric agrees on.
fn common_identity(metrics: &[MetricIdentity]) -> MetricIdentity {
    let Some((first, rest)) = metrics.split_first() else {
        return MetricIdentity::default();
    };
    let mut common = first.clone();
    for other in rest {
        if common.namespace != other.namespace {
            common.namespace = None;
        }
        if common.metric_name != other.metric_name {
            common.metric_name = None;
        }
        common
            .dimensions
            .retain(|name, value| other.dimensions.get(name) == Some(value));
    }
    common
}

#[cfg(test)]
mod tests;
