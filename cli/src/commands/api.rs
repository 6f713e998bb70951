//! `klaxon incidents ...` and `klaxon overrides ...`: clients of a running Klaxon's API (local
//! `klaxon serve` or the AWS deployment; the routes are the same).
//!
//! Every HTTP error prints the server's error code and message (`error: 404 not_found: incident
//! 7 not found`) and exits 1; an unreachable server says where it looked and how to point
//! elsewhere.

use super::Output;
use super::store::block_on;
use crate::args::{
    ApiArgs, IncidentActionArgs, IncidentArgs, IncidentsListArgs, OverrideAddArgs,
    OverrideListArgs, OverrideRemoveArgs,
};
use crate::failure::UsageError;
use crate::output;
use anyhow::{anyhow, bail};
use serde_json::{Value, json};
use std::fmt::Write;
use std::process::ExitCode;
use std::time::Duration;

/// How long one API call may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// An API client for one server and key.
pub(super) struct Client {
    pub(super) http: reqwest::Client,
    pub(super) base: String,
    pub(super) key: String,
}

impl Client {
    pub(super) fn new(args: &ApiArgs) -> anyhow::Result<Self> {
        let base = args.url.trim().trim_end_matches('/').to_owned();
        let parsed = url::Url::parse(&base)
            .map_err(|e| UsageError(format!("--url {base:?} is not a URL ({e})")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            bail!(UsageError(format!(
                "--url {base:?} must start with http:// or https://"
            )));
        }
        let key = args
            .api_key
            .clone()
            .filter(|k| !k.trim().is_empty())
            .ok_or_else(|| {
                UsageError(
                    "an API key is needed: --api-key KEY or KLAXON_API_KEY (`klaxon serve` writes one to <data-dir>/keys.env; `klaxon keys create --api NAME` makes one)".into(),
                )
            })?;
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .user_agent(concat!("klaxon-cli/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { http, base, key })
    }

    pub(super) fn send_error(
        &self,
        method: &reqwest::Method,
        url: &str,
        error: &reqwest::Error,
    ) -> anyhow::Error {
        if error.is_connect() {
            anyhow!(
                "cannot reach Klaxon at {}: {} (is `klaxon serve` running? point elsewhere with --url or KLAXON_URL)",
                self.base,
                root_cause(error)
            )
        } else if error.is_timeout() {
            anyhow!("{method} {url}: no answer within {}s", TIMEOUT.as_secs())
        } else {
            anyhow!("{method} {url}: {}", root_cause(error))
        }
    }

    /// Sends a request; returns the JSON body of a 2xx answer (null for an empty one).
    pub(super) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        self.send(method, path, query, body, None).await
    }

    /// [`Client::call`] with an `Idempotency-Key` header when `idempotency` is given.
    pub(super) async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Value>,
        idempotency: Option<&str>,
    ) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        let mut request = self
            .http
            .request(method.clone(), &url)
            .bearer_auth(&self.key)
            .query(query);
        if let Some(key) = idempotency {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .map_err(|error| self.send_error(&method, &url, &error))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if status.is_success() {
            if text.trim().is_empty() {
                return Ok(Value::Null);
            }
            return serde_json::from_str(&text)
                .map_err(|e| anyhow!("{method} {url}: the answer is not JSON ({e})"));
        }
        Err(http_error(status, &text))
    }
}

/// The deepest cause of a reqwest error ("Connection refused (os error 111)").
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// `404 not_found: incident 7 not found (field: x)` from the Klaxon error envelope, or the
/// status and the start of the body for anything else.
pub(super) fn http_error(status: reqwest::StatusCode, body: &str) -> anyhow::Error {
    let envelope: Option<Value> = serde_json::from_str(body).ok();
    let error = envelope.as_ref().and_then(|v| v.get("error"));
    match error {
        Some(error) => {
            let code = error.get("code").and_then(Value::as_str).unwrap_or("error");
            let message = error.get("message").and_then(Value::as_str).unwrap_or("");
            let mut text = format!("{} {code}: {message}", status.as_u16());
            if let Some(field) = error.get("field").and_then(Value::as_str) {
                let _ = write!(text, " (field: {field})");
            }
            anyhow!(text)
        }
        None => {
            let excerpt: String = body.trim().chars().take(300).collect();
            anyhow!(
                "{} {}: {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("error"),
                if excerpt.is_empty() {
                    "(no body)".to_owned()
                } else {
                    excerpt
                }
            )
        }
    }
}

/// A path segment, percent-encoded (ids typed by people may hold anything).
pub(super) fn segment(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.trim().as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

pub(super) fn text<'a>(value: &'a Value, field: &str) -> &'a str {
    value.get(field).and_then(Value::as_str).unwrap_or("")
}

/// An RFC 3339 field to the second (`2026-03-14T09:12:44Z`); other text as it is.
fn time(value: &Value, field: &str) -> String {
    let raw = text(value, field);
    chrono::DateTime::parse_from_rfc3339(raw)
        .map(|at| crate::time::utc_seconds(at.to_utc()))
        .unwrap_or_else(|_| raw.to_owned())
}

/// Data fields of a timeline entry worth a glance: scalars, and lists of one-key objects
/// (`targets: schedule:primary`); identifiers only machines need are left out.
fn data_summary(data: &Value) -> String {
    const SKIPPED: [&str; 4] = ["group_key", "alert", "provider_id", "escalates_at"];
    let Some(fields) = data.as_object() else {
        return String::new();
    };
    let mut parts = Vec::new();
    for (name, value) in fields {
        if SKIPPED.contains(&name.as_str()) {
            continue;
        }
        let shown = match value {
            Value::String(text) => text.clone(),
            Value::Number(number) => number.to_string(),
            Value::Bool(flag) => flag.to_string(),
            Value::Array(items) => items
                .iter()
                .filter_map(|item| {
                    let object = item.as_object()?;
                    let (key, value) = object.iter().next()?;
                    Some(format!("{key}:{}", value.as_str()?))
                })
                .collect::<Vec<_>>()
                .join(","),
            _ => continue,
        };
        if !shown.is_empty() {
            parts.push(format!("{name}={shown}"));
        }
    }
    parts.join(" ")
}

pub(super) fn print(
    output: Output,
    value: &Value,
    render: impl FnOnce(&Value) -> String,
) -> anyhow::Result<()> {
    let text = if output.json {
        output::json(value)?
    } else {
        render(value)
    };
    output::print(&text)?;
    Ok(())
}

/// Actors are strings on the wire (`apikey:local`, `user:anna`, `system:routing`).
pub(super) fn actor(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

// --- incidents ------------------------------------------------------------------------------

/// Runs `incidents list`.
pub fn list(args: &IncidentsListArgs, output: Output) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args.api)?;
    let mut query = vec![("status", if args.all { "all" } else { "open" }.to_owned())];
    if let Some(limit) = args.limit {
        query.push(("limit", limit.to_string()));
    }
    if let Some(team) = &args.team {
        query.push(("team", team.clone()));
    }
    let page = block_on(client.call(reqwest::Method::GET, "/v1/incidents", &query, None))??;
    print(output, &page, |page| {
        let incidents = page
            .get("incidents")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if incidents.is_empty() {
            return if args.all {
                "no incidents\n".to_owned()
            } else {
                "no open incidents\n".to_owned()
            };
        }
        let rows: Vec<Vec<String>> = incidents
            .iter()
            .map(|incident| {
                vec![
                    format!(
                        "#{}",
                        incident.get("number").and_then(Value::as_u64).unwrap_or(0)
                    ),
                    text(incident, "status").to_owned(),
                    text(incident, "severity").to_owned(),
                    text(incident, "urgency").to_owned(),
                    time(incident, "created_at"),
                    text(incident, "title").to_owned(),
                ]
            })
            .collect();
        let mut out = output::table(
            &[
                "NUMBER", "STATUS", "SEVERITY", "URGENCY", "CREATED", "TITLE",
            ],
            &rows,
        );
        if page.get("next_cursor").is_some_and(|c| !c.is_null()) {
            out.push_str("(more: raise --limit, or use the API's cursor)\n");
        }
        out
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `incidents show`.
pub fn show(args: &IncidentArgs, output: Output) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args.api)?;
    let path = format!("/v1/incidents/{}", segment(&args.incident));
    let detail = block_on(client.call(reqwest::Method::GET, &path, &[], None))??;
    print(output, &detail, render_detail)?;
    Ok(ExitCode::SUCCESS)
}

fn render_detail(detail: &Value) -> String {
    let null = Value::Null;
    let incident = detail.get("incident").unwrap_or(&null);
    let mut out = format!(
        "Incident #{} {}\n",
        incident.get("number").and_then(Value::as_u64).unwrap_or(0),
        text(incident, "title")
    );
    let mut field = |label: &str, value: String| {
        if !value.is_empty() {
            let _ = writeln!(out, "  {label:<12} {value}");
        }
    };
    field("id", text(incident, "id").to_owned());
    field("status", text(incident, "status").to_owned());
    field("severity", text(incident, "severity").to_owned());
    field("urgency", text(incident, "urgency").to_owned());
    field("created", time(incident, "created_at"));
    if let Some(ack) = incident.get("acknowledged").filter(|v| !v.is_null()) {
        field(
            "acknowledged",
            format!(
                "{} by {}",
                time(ack, "at"),
                actor(ack.get("by").unwrap_or(&null))
            ),
        );
    }
    if let Some(resolved) = incident.get("resolved").filter(|v| !v.is_null()) {
        field(
            "resolved",
            format!(
                "{} by {} ({})",
                time(resolved, "at"),
                actor(resolved.get("by").unwrap_or(&null)),
                text(resolved, "reason")
            ),
        );
    }
    if let Some(escalation) = incident.get("escalation").filter(|v| !v.is_null()) {
        field(
            "escalation",
            format!(
                "policy {}, {} (round {}, tier {})",
                text(escalation, "policy"),
                text(escalation, "status"),
                escalation.get("round").and_then(Value::as_u64).unwrap_or(0),
                escalation.get("tier").and_then(Value::as_u64).unwrap_or(0),
            ),
        );
    }
    let alerts = detail
        .get("alerts")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let _ = writeln!(out, "\nAlerts ({})", alerts.len());
    for alert in &alerts {
        let _ = writeln!(
            out,
            "  {}  {:<8} {:<8} {}  [{} {}]",
            time(alert, "linked_at"),
            text(alert, "state"),
            text(alert, "severity"),
            text(alert, "summary"),
            text(alert, "integration"),
            text(alert, "dedup_key")
        );
    }
    let timeline = detail
        .get("timeline")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let _ = writeln!(out, "\nTimeline ({})", timeline.len());
    let rows: Vec<Vec<String>> = timeline
        .iter()
        .map(|entry| {
            let kind = text(entry, "type");
            vec![
                time(entry, "time"),
                kind.strip_prefix("io.klaxon.").unwrap_or(kind).to_owned(),
                actor(entry.get("actor").unwrap_or(&null)),
                data_summary(entry.get("data").unwrap_or(&null)),
            ]
        })
        .collect();
    if !rows.is_empty() {
        for line in output::table(&["TIME", "EVENT", "BY", "DETAILS"], &rows).lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
    out
}

/// Runs `incidents ack`.
pub fn acknowledge(args: &IncidentActionArgs, output: Output) -> anyhow::Result<ExitCode> {
    act(args, output, "acknowledge", "acknowledged")
}

/// Runs `incidents resolve`.
pub fn resolve(args: &IncidentActionArgs, output: Output) -> anyhow::Result<ExitCode> {
    act(args, output, "resolve", "resolved")
}

fn act(
    args: &IncidentActionArgs,
    output: Output,
    action: &str,
    done: &str,
) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args.api)?;
    let path = format!("/v1/incidents/{}/{action}", segment(&args.incident));
    let body = args.user.as_ref().map(|user| json!({ "user": user }));
    let result = block_on(client.call(reqwest::Method::POST, &path, &[], body))??;
    print(output, &result, |result| {
        let null = Value::Null;
        let incident = result.get("incident").unwrap_or(&null);
        let number = incident.get("number").and_then(Value::as_u64).unwrap_or(0);
        let changed = result
            .get("changed")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        if changed {
            format!(
                "incident #{number} {done} by {} ({})\n",
                actor(result.get("actor").unwrap_or(&null)),
                text(incident, "title")
            )
        } else {
            format!(
                "incident #{number} was already {} (nothing changed)\n",
                text(incident, "status")
            )
        }
    })?;
    Ok(ExitCode::SUCCESS)
}

// --- overrides ------------------------------------------------------------------------------

/// Runs `overrides add`.
pub fn add_override(args: &OverrideAddArgs, output: Output) -> anyhow::Result<ExitCode> {
    if args.end <= args.start {
        bail!(UsageError(format!(
            "--end ({}) must be after --start ({})",
            crate::time::utc(args.end),
            crate::time::utc(args.start)
        )));
    }
    let client = Client::new(&args.api)?;
    let path = format!("/v1/schedules/{}/overrides", segment(&args.schedule));
    let body = json!({
        "user": args.user,
        "start": crate::time::utc(args.start),
        "end": crate::time::utc(args.end),
    });
    let created = block_on(client.call(reqwest::Method::POST, &path, &[], Some(body)))??;
    print(output, &created, |created| {
        format!(
            "override {} added: {} is on call on {} from {} to {}\n",
            text(created, "id"),
            text(created, "user"),
            text(created, "schedule"),
            time(created, "start"),
            time(created, "end")
        )
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `overrides list`.
pub fn list_overrides(args: &OverrideListArgs, output: Output) -> anyhow::Result<ExitCode> {
    if let (Some(from), Some(to)) = (args.from, args.to)
        && to <= from
    {
        bail!(UsageError(format!(
            "--to ({}) must be after --from ({})",
            crate::time::utc(to),
            crate::time::utc(from)
        )));
    }
    let client = Client::new(&args.api)?;
    let path = format!("/v1/schedules/{}/overrides", segment(&args.schedule));
    let mut query = Vec::new();
    if let Some(from) = args.from {
        query.push(("from", crate::time::utc(from)));
    }
    if let Some(to) = args.to {
        query.push(("to", crate::time::utc(to)));
    }
    let listing = block_on(client.call(reqwest::Method::GET, &path, &query, None))??;
    print(output, &listing, |listing| {
        let overrides = listing
            .get("overrides")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut out = format!(
            "Overrides of {} from {} to {}\n",
            text(listing, "schedule"),
            time(listing, "from"),
            time(listing, "to")
        );
        if overrides.is_empty() {
            out.push_str("none\n");
            return out;
        }
        let rows: Vec<Vec<String>> = overrides
            .iter()
            .map(|o| {
                vec![
                    text(o, "id").to_owned(),
                    text(o, "user").to_owned(),
                    time(o, "start"),
                    time(o, "end"),
                ]
            })
            .collect();
        out.push_str(&output::table(&["ID", "USER", "START", "END"], &rows));
        out
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `overrides remove`.
pub fn remove_override(args: &OverrideRemoveArgs, output: Output) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args.api)?;
    let path = format!(
        "/v1/schedules/{}/overrides/{}",
        segment(&args.schedule),
        segment(&args.id)
    );
    block_on(client.call(reqwest::Method::DELETE, &path, &[], None))??;
    let report = json!({ "removed": args.id.trim(), "schedule": args.schedule.trim() });
    print(output, &report, |_| {
        format!(
            "override {} removed from {}\n",
            args.id.trim(),
            args.schedule.trim()
        )
    })?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_errors_show_the_servers_code_message_and_field() {
        let error = http_error(
            reqwest::StatusCode::BAD_REQUEST,
            r#"{"error":{"code":"invalid_field","message":"unknown user","field":"user"}}"#,
        );
        assert_eq!(
            error.to_string(),
            "400 invalid_field: unknown user (field: user)"
        );
        let error = http_error(reqwest::StatusCode::BAD_GATEWAY, "<html>upstream</html>");
        assert_eq!(error.to_string(), "502 Bad Gateway: <html>upstream</html>");
    }

    #[test]
    fn timeline_data_shows_scalars_and_targets_without_machine_ids() {
        let data = json!({
            "policy": "infra", "round": 0, "tier": 1, "targets": [{"schedule": "primary"}, {"user": "farid"}],
            "group_key": "388d23", "escalates_at": "2026-03-14T10:00:00Z", "nested": {"a": 1}
        });
        assert_eq!(
            data_summary(&data),
            "policy=infra round=0 targets=schedule:primary,user:farid tier=1"
        );
        assert_eq!(
            time(&json!({"t": "2026-11-23T03:14:33.253678024Z"}), "t"),
            "2026-11-23T03:14:33Z"
        );
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(segment("a b/c"), "a%20b%2Fc");
        assert_eq!(segment(" 42 "), "42");
    }

    #[test]
    fn actors_are_shown_as_sent() {
        assert_eq!(actor(&json!("user:anna")), "user:anna");
        assert_eq!(actor(&Value::Null), "");
    }
}
