//! `klaxon heartbeats list`: every heartbeat's state, from a running Klaxon's API.

use super::Output;
use super::api::{Client, print};
use super::store::block_on;
use crate::args::HeartbeatsListArgs;
use crate::output;
use serde_json::Value;
use std::process::ExitCode;

fn text(row: &Value, field: &str) -> String {
    row.get(field)
        .and_then(Value::as_str)
        .unwrap_or("-")
        .to_owned()
}

fn render(report: &Value) -> String {
    let rows: Vec<Vec<String>> = report["heartbeats"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|row| {
                    vec![
                        text(row, "name"),
                        text(row, "status"),
                        text(row, "last_ping_at"),
                        text(row, "deadline"),
                        format!("{}+{}", text(row, "interval"), text(row, "grace")),
                        text(row, "integration"),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    if rows.is_empty() {
        return "no heartbeats are configured\n".to_owned();
    }
    output::table(
        &[
            "NAME",
            "STATE",
            "LAST PING",
            "NEXT DEADLINE",
            "INTERVAL+GRACE",
            "INTEGRATION",
        ],
        &rows,
    )
}

/// Runs `heartbeats list`.
pub fn list(args: &HeartbeatsListArgs, output: Output) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args.api)?;
    let report = block_on(client.call(reqwest::Method::GET, "/v1/heartbeats", &[], None))??;
    print(output, &report, render)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_table_shows_state_last_ping_and_deadline() {
        let text = render(&json!({"heartbeats": [
            {"name": "backup", "status": "ok", "last_ping_at": "2026-01-01T00:00:00Z",
             "deadline": "2026-01-01T01:10:00Z", "interval": "1h", "grace": "10m",
             "integration": "cron", "pings": 3},
            {"name": "etl", "status": "inactive", "interval": "5m", "grace": "0s",
             "integration": "cron", "pings": 0}
        ]}));
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("NAME"), "{text}");
        assert!(
            lines[1].contains("backup") && lines[1].contains(" ok "),
            "{text}"
        );
        assert!(lines[1].contains("2026-01-01T01:10:00Z"), "{text}");
        assert!(
            lines[2].contains("inactive") && lines[2].contains(" - "),
            "{text}"
        );
        assert_eq!(
            render(&json!({"heartbeats": []})),
            "no heartbeats are configured\n"
        );
    }
}
