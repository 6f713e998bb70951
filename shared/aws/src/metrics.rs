//! Klaxon's own CloudWatch metrics, written as embedded metric format (EMF) lines on standard
//! output: Lambda sends standard output to the function's log group, and CloudWatch Logs turns
//! every line in that format into a metric data point. No `PutMetricData` call, no extra IAM
//! permission, no request latency.
//!
//! | metric | namespace | dimension | value |
//! |---|---|---|---|
//! | [`SELF_HEARTBEAT_FAILURES`] | [`NAMESPACE`] | `FunctionName` (the routing function) | 1 per failed self-heartbeat ping, 0 per delivered one |
//!
//! `template.yaml`'s `SelfHeartbeatFailedAlarm` watches it.

use chrono::{DateTime, Utc};
use klaxon_app::heartbeat::PingObserver;
use klaxon_store::Clock;
use std::io::Write;
use std::sync::Arc;

/// The CloudWatch namespace of Klaxon's own metrics.
pub const NAMESPACE: &str = "Klaxon";

/// Failed self-heartbeat pings (1 per failure, 0 per delivered ping).
pub const SELF_HEARTBEAT_FAILURES: &str = "SelfHeartbeatFailures";

/// The dimension every Klaxon metric carries: the function that emitted it.
pub const FUNCTION_DIMENSION: &str = "FunctionName";

/// One EMF log line (JSON, no trailing newline) carrying `value` of metric `name` (unit
/// `Count`) in [`NAMESPACE`], with dimension [`FUNCTION_DIMENSION`] = `function`, at `at`.
pub fn emf_line(name: &str, function: &str, value: f64, at: DateTime<Utc>) -> String {
    let mut line = serde_json::json!({
        "_aws": {
            "Timestamp": at.timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [[FUNCTION_DIMENSION]],
                "Metrics": [{ "Name": name, "Unit": "Count" }],
            }],
        },
        FUNCTION_DIMENSION: function,
    });
    line[name] = serde_json::json!(value);
    line.to_string()
}

/// A self-heartbeat observer that writes [`SELF_HEARTBEAT_FAILURES`] for every ping to `out`,
/// timestamped by `clock`, as function `function` (`AWS_LAMBDA_FUNCTION_NAME` on Lambda).
/// A write that fails is ignored: the ping's outcome is logged anyway.
pub fn self_heartbeat_metric<W>(function: String, clock: Arc<dyn Clock>, out: W) -> PingObserver
where
    W: Fn() -> Box<dyn Write> + Send + Sync + 'static,
{
    Arc::new(move |delivered: bool| {
        let value = if delivered { 0.0 } else { 1.0 };
        let line = emf_line(SELF_HEARTBEAT_FAILURES, &function, value, clock.now());
        let mut writer = out();
        // One write of the whole line, so it never interleaves with a log line.
        let _ = writer.write_all(format!("{line}\n").as_bytes());
        let _ = writer.flush();
    })
}

/// [`self_heartbeat_metric`] on standard output, as this Lambda function
/// (`AWS_LAMBDA_FUNCTION_NAME`, which Lambda sets; `klaxon-routing` elsewhere).
pub fn self_heartbeat_metric_on_stdout(clock: Arc<dyn Clock>) -> PingObserver {
    let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME")
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "klaxon-routing".to_owned());
    self_heartbeat_metric(function, clock, || Box::new(std::io::stdout()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::sync::Mutex;

    struct Fixed;
    impl Clock for Fixed {
        fn now(&self) -> DateTime<Utc> {
            Utc.with_ymd_and_hms(2026, 12, 4, 1, 0, 0).unwrap()
        }
    }

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What CloudWatch reads from each line: the EMF specification's root `_aws` member, the
    /// metric's value under its own name and the dimension's value under its name.
    #[test]
    fn each_ping_writes_one_emf_line_with_the_failure_count() {
        let sink = Sink::default();
        let writer = sink.clone();
        let observer = self_heartbeat_metric(
            "klaxon-RoutingFunction-abc".into(),
            Arc::new(Fixed),
            move || Box::new(writer.clone()),
        );
        observer(false);
        observer(true);
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        let failed = &lines[0];
        let directive = &failed["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "Klaxon");
        assert_eq!(
            directive["Dimensions"],
            serde_json::json!([["FunctionName"]])
        );
        assert_eq!(directive["Metrics"][0]["Name"], "SelfHeartbeatFailures");
        assert_eq!(directive["Metrics"][0]["Unit"], "Count");
        assert_eq!(failed["_aws"]["Timestamp"], 1_796_346_000_000_i64);
        assert_eq!(failed["FunctionName"], "klaxon-RoutingFunction-abc");
        assert_eq!(failed["SelfHeartbeatFailures"], 1.0);
        assert_eq!(lines[1]["SelfHeartbeatFailures"], 0.0);
    }
}
