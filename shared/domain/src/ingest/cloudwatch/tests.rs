use super::*;
use crate::alert::Severity;
use crate::ingest::sns::{parse_https, parse_lambda_event};
use crate::ingest::test_support::{Fixture, error_fields};
use crate::ingest::{FALLBACK_SEVERITY, IngestErrorKind};
use chrono::{TimeZone, Utc};
use serde_json::json;

macro_rules! payload {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../events/ingest/",
            $name
        ))
    };
}
const NOTIFICATION: &str = payload!("cloudwatch-sns-notification.json");
const METRIC_MATH: &str = payload!("cloudwatch-sns-metric-math.json");
const OK: &str = payload!("cloudwatch-sns-ok.json");
const INSUFFICIENT: &str = payload!("cloudwatch-sns-insufficient-data.json");
const SUBSCRIBE: &str = payload!("sns-subscription-confirmation.json");
const LAMBDA: &str = payload!("sns-lambda-event.json");

fn alarm_events(body: &str, fixture: &Fixture) -> Result<Vec<AlertEvent>, IngestError> {
    let envelope = parse_https(body.as_bytes()).unwrap();
    parse_alarm(&envelope, &fixture.ctx())
}

fn one_alert(events: Vec<AlertEvent>) -> Alert {
    assert_eq!(events.len(), 1, "{events:?}");
    match events.into_iter().next() {
        Some(AlertEvent::Alert(alert)) => *alert,
        other => panic!("expected an alert, got {other:?}"),
    }
}

/// The notification fixture with its alarm message edited by `edit`.
fn with_alarm(edit: impl FnOnce(&mut Value)) -> String {
    let mut envelope: Value = serde_json::from_str(NOTIFICATION).unwrap();
    let mut alarm: Value = serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap();
    edit(&mut alarm);
    envelope["Message"] = json!(alarm.to_string());
    envelope.to_string()
}

const ARN: &str = "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:checkout-api-high-cpu";

#[test]
fn single_metric_alarm_fires() {
    let fixture = Fixture::new();
    let alert = one_alert(alarm_events(NOTIFICATION, &fixture).unwrap());
    assert_eq!(alert.dedup_key.as_str(), ARN);
    assert_eq!(alert.status, AlertStatus::Firing);
    assert_eq!(alert.severity, fixture.defaults.severity.unwrap());
    assert_eq!(alert.summary, "checkout-api-high-cpu");
    assert_eq!(alert.source.as_deref(), Some("AWS/EC2"));
    assert_eq!(alert.labels["alarm_name"], "checkout-api-high-cpu");
    assert_eq!(alert.labels["region"], "eu-west-1");
    assert_eq!(alert.labels["account_id"], "123456789012");
    assert_eq!(alert.labels["namespace"], "AWS/EC2");
    assert_eq!(alert.labels["metric_name"], "CPUUtilization");
    assert_eq!(
        alert.labels["dimension.AutoScalingGroupName"],
        "checkout-api-asg"
    );
    assert_eq!(
        alert.labels["team"], "platform",
        "integration default label"
    );
    assert_eq!(
        alert.annotations["description"],
        "CPU above 80% on the checkout API Auto Scaling group"
    );
    assert!(alert.annotations["reason"].starts_with("Threshold Crossed: 3 out of"));
    assert_eq!(alert.annotations["old_state"], "OK");
    assert_eq!(alert.annotations["region_name"], "EU (Ireland)");
    assert_eq!(alert.annotations["statistic"], "AVERAGE");
    assert_eq!(alert.annotations["threshold"], "80");
    assert_eq!(
        alert.annotations["comparison_operator"],
        "GreaterThanThreshold"
    );
    assert_eq!(alert.links.len(), 1);
    assert_eq!(
        alert.links[0].href,
        "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#alarmsV2:alarm/checkout-api-high-cpu"
    );
    assert_eq!(
        alert.started_at,
        Some(
            Utc.with_ymd_and_hms(2025, 3, 14, 9, 30, 12).unwrap()
                + chrono::Duration::milliseconds(345)
        )
    );
    assert_eq!(alert.ended_at, None);
    assert_eq!(alert.raw["AlarmName"], "checkout-api-high-cpu");
}

#[test]
fn ok_resolves_the_same_alarm() {
    let fixture = Fixture::new();
    let alert = one_alert(alarm_events(OK, &fixture).unwrap());
    assert_eq!(alert.dedup_key.as_str(), ARN);
    assert_eq!(alert.status, AlertStatus::Resolved);
    assert_eq!(alert.started_at, None);
    assert_eq!(
        alert.ended_at,
        Some(
            Utc.with_ymd_and_hms(2025, 3, 14, 9, 55, 7).unwrap()
                + chrono::Duration::milliseconds(1)
        )
    );
    assert_eq!(alert.annotations["old_state"], "ALARM");
}

#[test]
fn insufficient_data_follows_the_integration_setting() {
    let mut fixture = Fixture::new();
    assert_eq!(fixture.defaults.insufficient_data, InsufficientData::Ignore);
    assert_eq!(alarm_events(INSUFFICIENT, &fixture).unwrap(), vec![]);

    fixture.defaults.insufficient_data = InsufficientData::Firing;
    let alert = one_alert(alarm_events(INSUFFICIENT, &fixture).unwrap());
    assert_eq!(alert.status, AlertStatus::Firing);
    assert_eq!(alert.dedup_key.as_str(), ARN);
    assert_eq!(alert.annotations["new_state"], "INSUFFICIENT_DATA");

    fixture.defaults.insufficient_data = InsufficientData::Resolved;
    let alert = one_alert(alarm_events(INSUFFICIENT, &fixture).unwrap());
    assert_eq!(alert.status, AlertStatus::Resolved);
    assert!(alert.ended_at.is_some());
}

#[test]
fn metric_math_alarm_labels_what_its_metrics_share() {
    let fixture = Fixture::without_defaults();
    let alert = one_alert(alarm_events(METRIC_MATH, &fixture).unwrap());
    assert_eq!(
        alert.dedup_key.as_str(),
        "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:checkout-lambda-error-rate"
    );
    assert_eq!(alert.severity, FALLBACK_SEVERITY);
    assert_eq!(alert.source.as_deref(), Some("AWS/Lambda"));
    assert_eq!(alert.labels["namespace"], "AWS/Lambda");
    // Errors and Invocations differ, so no single metric name.
    assert!(!alert.labels.contains_key("metric_name"));
    assert_eq!(alert.labels["dimension.FunctionName"], "checkout-handler");
    assert_eq!(
        alert.annotations["expression"],
        "100 * errors / invocations"
    );
    assert_eq!(
        alert.annotations["metric.error_rate"],
        "100 * errors / invocations [Error rate (%)]"
    );
    assert_eq!(
        alert.annotations["metric.errors"],
        "AWS/Lambda Errors Sum over 60s (FunctionName=checkout-handler)"
    );
    assert_eq!(alert.annotations["threshold"], "5");
    assert!(!alert.annotations.contains_key("statistic"));
}

#[test]
fn lambda_event_alarm_parses_with_percentile_statistic() {
    let fixture = Fixture::new();
    let envelopes = parse_lambda_event(LAMBDA.as_bytes()).unwrap();
    let alert = one_alert(parse_alarm(&envelopes[0], &fixture.ctx()).unwrap());
    assert_eq!(
        alert.dedup_key.as_str(),
        "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:orders-queue-depth"
    );
    assert_eq!(alert.status, AlertStatus::Firing);
    assert_eq!(alert.annotations["statistic"], "p90");
    assert_eq!(alert.labels["dimension.QueueName"], "orders-intake");
    assert!(
        !alert.annotations.contains_key("description"),
        "null description"
    );
}

#[test]
fn alarm_names_are_encoded_in_the_console_link() {
    let body = with_alarm(|alarm| {
        alarm["AlarmName"] = json!("High CPU / web #1");
    });
    let alert = one_alert(alarm_events(&body, &Fixture::new()).unwrap());
    assert!(
        alert.links[0]
            .href
            .ends_with("#alarmsV2:alarm/High%20CPU%20%2F%20web%20%231")
    );
    let body = with_alarm(|alarm| {
        alarm["AlarmArn"] = json!("arn:aws-cn:cloudwatch:cn-north-1:1:alarm:x");
    });
    let alert = one_alert(alarm_events(&body, &Fixture::new()).unwrap());
    assert!(alert.links.is_empty());
    assert_eq!(alert.labels["region"], "cn-north-1");
}

#[test]
fn severity_comes_from_the_integration_default() {
    let mut fixture = Fixture::new();
    fixture.defaults.severity = Some(Severity::Critical);
    let alert = one_alert(alarm_events(NOTIFICATION, &fixture).unwrap());
    assert_eq!(alert.severity, Severity::Critical);
}

/// Asserts that the alarm without `name` is rejected naming exactly `Message.<name>`.
fn assert_missing_is_named(name: &str) {
    let body = with_alarm(|alarm| {
        alarm.as_object_mut().unwrap().remove(name);
    });
    let error = alarm_events(&body, &Fixture::new()).unwrap_err();
    assert_eq!(error_fields(&error), [format!("Message.{name}").as_str()]);
    assert_eq!(error.errors[0].message, "is required");
}

#[test]
fn missing_alarm_name_is_named() {
    assert_missing_is_named("AlarmName");
}

#[test]
fn missing_alarm_arn_is_named() {
    assert_missing_is_named("AlarmArn");
}

#[test]
fn missing_new_state_value_is_named() {
    assert_missing_is_named("NewStateValue");
}

#[test]
fn wrong_types_are_named_with_message_paths() {
    let body = with_alarm(|alarm| {
        alarm["NewStateValue"] = json!("BROKEN");
        alarm["StateChangeTime"] = json!("later");
        alarm["Trigger"]["Threshold"] = json!("eighty");
        alarm["Trigger"]["Dimensions"] = json!([{"value": "x"}]);
    });
    let error = alarm_events(&body, &Fixture::new()).unwrap_err();
    assert_eq!(
        error_fields(&error),
        [
            "Message.NewStateValue",
            "Message.StateChangeTime",
            "Message.Trigger.Threshold",
            "Message.Trigger.Dimensions[0].name",
        ]
    );
    let body = with_alarm(|alarm| {
        alarm["Trigger"]["Metrics"] = json!([{"Expression": "m1"}, 3]);
    });
    let error = alarm_events(&body, &Fixture::new()).unwrap_err();
    assert_eq!(
        error_fields(&error),
        [
            "Message.Trigger.Metrics[0].Id",
            "Message.Trigger.Metrics[1]"
        ]
    );
}

#[test]
fn message_that_is_not_an_alarm_document_is_named() {
    let mut envelope: Value = serde_json::from_str(NOTIFICATION).unwrap();
    envelope["Message"] = json!("Hello from SNS!");
    let envelope = parse_https(envelope.to_string().as_bytes()).unwrap();
    let error = parse_alarm(&envelope, &Fixture::new().ctx()).unwrap_err();
    assert_eq!(error.kind, IngestErrorKind::Invalid);
    assert_eq!(error_fields(&error), ["Message"]);

    let mut lambda: Value = serde_json::from_str(LAMBDA).unwrap();
    lambda["Records"][0]["Sns"]["Message"] = json!("[1]");
    let envelopes = crate::ingest::sns::parse_lambda_event_value(&lambda).unwrap();
    let error = parse_alarm(&envelopes[0], &Fixture::new().ctx()).unwrap_err();
    assert_eq!(error_fields(&error), ["Records[0].Sns.Message"]);
}

#[test]
fn confirmations_carry_no_alarm() {
    let envelope = parse_https(SUBSCRIBE.as_bytes()).unwrap();
    let error = parse_alarm(&envelope, &Fixture::new().ctx()).unwrap_err();
    assert_eq!(error_fields(&error), ["Type"]);
}

#[test]
fn unknown_fields_are_tolerated() {
    let body = with_alarm(|alarm| {
        alarm["AlarmRule"] = json!("ALARM(a) OR ALARM(b)");
        alarm["Trigger"]["Future"] = json!({"x": 1});
    });
    assert!(alarm_events(&body, &Fixture::new()).is_ok());
}
