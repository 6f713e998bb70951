//! `klaxon analytics`: the response metrics of a period, from a running Klaxon's API.

use super::Output;
use super::api::{Client, http_error, print};
use super::store::block_on;
use crate::args::{AnalyticsArgs, AnalyticsBy, AnalyticsTable};
use crate::output;
use serde_json::Value;
use std::process::ExitCode;

fn by_name(by: AnalyticsBy) -> &'static str {
    match by {
        AnalyticsBy::Week => "week",
        AnalyticsBy::Severity => "severity",
        AnalyticsBy::Policy => "policy",
        AnalyticsBy::Team => "team",
        AnalyticsBy::Integration => "integration",
        AnalyticsBy::Responder => "responder",
    }
}

fn table_name(table: AnalyticsTable) -> &'static str {
    match table {
        AnalyticsTable::Groups => "groups",
        AnalyticsTable::Sources => "sources",
        AnalyticsTable::Load => "load",
        AnalyticsTable::Changes => "changes",
    }
}

/// Seconds as a short duration (`45s`, `12m30s`, `3h05m`), `-` when absent.
fn duration(value: &Value) -> String {
    let Some(seconds) = value.as_i64() else {
        return "-".to_owned();
    };
    match seconds {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

fn number(value: &Value, field: &str) -> String {
    value
        .get(field)
        .map_or_else(String::new, ToString::to_string)
}

fn group_row(row: &Value) -> Vec<String> {
    vec![
        row.get("key")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        number(row, "incidents"),
        number(row, "acknowledged"),
        number(row, "resolved"),
        duration(&row["mtta"]["median"]),
        duration(&row["mtta"]["p90"]),
        duration(&row["mttr"]["median"]),
        duration(&row["mttr"]["p90"]),
        number(row, "pages"),
        number(row, "off_hours_pages"),
    ]
}

fn render(report: &Value) -> String {
    let mut rows: Vec<Vec<String>> = report["groups"]
        .as_array()
        .map(|groups| groups.iter().map(group_row).collect())
        .unwrap_or_default();
    rows.push(group_row(&report["totals"]));
    let by = report["by"].as_str().unwrap_or("group").to_uppercase();
    let mut out = format!(
        "{} to {}\n\n",
        report["from"].as_str().unwrap_or(""),
        report["to"].as_str().unwrap_or("")
    );
    out.push_str(&output::table(
        &[
            &by,
            "INCIDENTS",
            "ACKED",
            "RESOLVED",
            "MTTA",
            "MTTA P90",
            "MTTR",
            "MTTR P90",
            "PAGES",
            "OFF-HOURS",
        ],
        &rows,
    ));
    let sources: Vec<Vec<String>> = report["noisiest_sources"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|row| {
                    vec![
                        row["integration"].as_str().unwrap_or("").to_owned(),
                        row["source"].as_str().unwrap_or("-").to_owned(),
                        number(row, "alerts"),
                        number(row, "incidents"),
                        number(row, "pages"),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    out.push_str("\nnoisiest sources\n");
    out.push_str(&output::table(
        &["INTEGRATION", "SOURCE", "ALERTS", "INCIDENTS", "PAGES"],
        &sources,
    ));
    let load: Vec<Vec<String>> = report["on_call_load"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|row| {
                    vec![
                        row["user"].as_str().unwrap_or("").to_owned(),
                        number(row, "pages"),
                        number(row, "off_hours_pages"),
                        number(row, "acknowledged"),
                        format!("{:.1}", row["hours_on_call"].as_f64().unwrap_or(0.0)),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    out.push_str("\non-call load\n");
    out.push_str(&output::table(
        &["USER", "PAGES", "OFF-HOURS", "ACKED", "HOURS ON CALL"],
        &load,
    ));
    out.push_str(&changes_line(report));
    out
}

/// `changes: ci 2 (latest 2026-01-01T00:30:00+00:00 deploy api v2), deployer 1 (…)`, or
/// `changes: none`.
fn changes_line(report: &Value) -> String {
    let parts: Vec<String> = report["changes"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|row| {
                    let latest = &row["latest"][0];
                    format!(
                        "{} {} (latest {} {})",
                        row["integration"].as_str().unwrap_or(""),
                        number(row, "count"),
                        latest["at"].as_str().unwrap_or("-"),
                        latest["summary"].as_str().unwrap_or("-"),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    if parts.is_empty() {
        "\nchanges: none\n".to_owned()
    } else {
        format!("\nchanges: {}\n", parts.join(", "))
    }
}

impl Client {
    /// Sends a GET asking for `accept`; returns the body of a 2xx answer as text (the CSV
    /// analytics, the Markdown post-mortem).
    pub(super) async fn get_text(
        &self,
        path: &str,
        query: &[(&str, String)],
        accept: &str,
    ) -> anyhow::Result<String> {
        let url = format!("{}{path}", self.base);
        let response = self
            .http
            .get(&url)
            .bearer_auth(&self.key)
            .header(reqwest::header::ACCEPT, accept)
            .query(query)
            .send()
            .await
            .map_err(|error| self.send_error(&reqwest::Method::GET, &url, &error))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if status.is_success() {
            return Ok(text);
        }
        Err(http_error(status, &text))
    }
}

/// Runs `analytics`.
pub fn run(args: &AnalyticsArgs, output: Output) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args.api)?;
    let mut query = vec![("by", by_name(args.by).to_owned())];
    if let Some(from) = args.from {
        query.push(("from", from.to_rfc3339()));
    }
    if let Some(to) = args.to {
        query.push(("to", to.to_rfc3339()));
    }
    if args.csv {
        query.push(("table", table_name(args.table).to_owned()));
        let csv = block_on(client.get_text("/v1/analytics", &query, "text/csv"))??;
        output::print(&csv)?;
        return Ok(ExitCode::SUCCESS);
    }
    let report = block_on(client.call(reqwest::Method::GET, "/v1/analytics", &query, None))??;
    print(output, &report, render)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_text_output_ends_with_each_integrations_change_count_and_latest_change() {
        let report = json!({"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z",
            "by": "integration", "totals": {"key": "all", "incidents": 0},
            "changes": [{"integration": "deploys", "count": 2, "latest": [
                {"integration": "deploys", "summary": "deploy api v2", "at": "2026-01-01T00:16:00Z"},
                {"integration": "deploys", "summary": "deploy api v1", "at": "2026-01-01T00:00:00Z"}]}]});
        assert!(
            render(&report)
                .ends_with("\nchanges: deploys 2 (latest 2026-01-01T00:16:00Z deploy api v2)\n")
        );
        assert_eq!(changes_line(&json!({"changes": []})), "\nchanges: none\n");
    }
}
