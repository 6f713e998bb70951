//! `klaxon incidents snooze|reassign|add-responder|escalate|note|declare`: the responder actions,
//! through the API. Each request carries a fresh `Idempotency-Key`, so the server applies it
//! once even if the connection drops after it was sent and the same request arrives again.

use super::Output;
use super::api::{Client, actor, print, segment, text};
use super::store::block_on;
use crate::args::{
    AddResponderArgs, DeclareArgs, IncidentActionArgs, NoteArgs, ReassignArgs, SnoozeArgs,
};
use serde_json::{Value, json};
use std::process::ExitCode;

/// A key unique to this invocation.
pub(super) fn idempotency_key() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("cli-{}-{nanos}", std::process::id())
}

fn run(
    args: &IncidentActionArgs,
    output: Output,
    action: &str,
    mut body: Value,
    done: impl FnOnce(&Value) -> String,
) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args.api)?;
    if let (Some(user), Some(object)) = (&args.user, body.as_object_mut()) {
        object.insert("user".into(), json!(user));
    }
    let path = format!("/v1/incidents/{}/{action}", segment(&args.incident));
    let key = idempotency_key();
    let result = block_on(client.send(reqwest::Method::POST, &path, &[], Some(body), Some(&key)))??;
    print(output, &result, |result| {
        let null = Value::Null;
        let incident = result.get("incident").unwrap_or(&null);
        let number = incident.get("number").and_then(Value::as_u64).unwrap_or(0);
        format!(
            "incident #{number} {} by {} ({})\n",
            done(incident),
            actor(result.get("actor").unwrap_or(&null)),
            text(incident, "title")
        )
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `incidents snooze`.
pub fn snooze(args: &SnoozeArgs, output: Output) -> anyhow::Result<ExitCode> {
    let duration = args.duration.clone();
    run(
        &args.action,
        output,
        "snooze",
        json!({"duration": args.duration}),
        move |incident| {
            let until = incident
                .pointer("/escalation/next_due")
                .and_then(Value::as_str)
                .unwrap_or("?");
            format!("snoozed for {duration} (pages again at {until})")
        },
    )
}

/// Runs `incidents reassign`.
pub fn reassign(args: &ReassignArgs, output: Output) -> anyhow::Result<ExitCode> {
    let to = match (&args.to_user, &args.to_schedule, &args.to_policy) {
        (Some(user), _, _) => json!({"user": user}),
        (_, Some(schedule), _) => json!({"schedule": schedule}),
        (_, _, Some(policy)) => json!({"policy": policy}),
        // clap requires one of them.
        _ => json!({}),
    };
    let shown = to
        .as_object()
        .and_then(|o| o.iter().next())
        .map(|(k, v)| format!("{k} {}", v.as_str().unwrap_or_default()))
        .unwrap_or_default();
    run(
        &args.action,
        output,
        "reassign",
        json!({"to": to}),
        move |_| format!("reassigned to {shown}"),
    )
}

/// Runs `incidents add-responder`.
pub fn add_responder(args: &AddResponderArgs, output: Output) -> anyhow::Result<ExitCode> {
    let mut targets: Vec<Value> = args
        .responder_user
        .iter()
        .map(|user| json!({"user": user}))
        .collect();
    targets.extend(
        args.responder_schedule
            .iter()
            .map(|schedule| json!({"schedule": schedule})),
    );
    let count = targets.len();
    run(
        &args.action,
        output,
        "responders",
        json!({"targets": targets}),
        move |_| format!("paged {count} more responder target(s)"),
    )
}

/// Runs `incidents escalate`.
pub fn escalate(args: &IncidentActionArgs, output: Output) -> anyhow::Result<ExitCode> {
    run(args, output, "escalate", json!({}), |incident| {
        let tier = incident
            .pointer("/escalation/tier")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let status = incident
            .pointer("/escalation/status")
            .and_then(Value::as_str)
            .unwrap_or("?");
        format!("escalated (now at tier {tier}, {status})")
    })
}

/// Runs `incidents note`.
pub fn note(args: &NoteArgs, output: Output) -> anyhow::Result<ExitCode> {
    run(
        &args.action,
        output,
        "notes",
        json!({"text": args.text}),
        |_| "noted".to_owned(),
    )
}

/// Runs `incidents declare`.
pub fn declare(args: &DeclareArgs, output: Output) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args.api)?;
    let mut body = serde_json::Map::new();
    body.insert("title".into(), json!(args.title));
    let optional = [
        ("severity", &args.severity),
        ("urgency", &args.urgency),
        ("policy", &args.policy),
        ("description", &args.description),
        ("user", &args.user),
    ];
    for (field, value) in optional {
        if let Some(value) = value {
            body.insert(field.into(), json!(value));
        }
    }
    let key = args.idempotency_key.clone().unwrap_or_else(idempotency_key);
    let result = block_on(client.send(
        reqwest::Method::POST,
        "/v1/incidents",
        &[],
        Some(Value::Object(body)),
        Some(&key),
    ))??;
    print(output, &result, |result| {
        let null = Value::Null;
        let incident = result.get("incident").unwrap_or(&null);
        let number = incident.get("number").and_then(Value::as_u64).unwrap_or(0);
        let what = if result.get("created").and_then(Value::as_bool) == Some(false) {
            "was declared already (same key)"
        } else {
            "declared"
        };
        format!(
            "incident #{number} {what} by {} ({})\n",
            actor(result.get("actor").unwrap_or(&null)),
            text(incident, "title")
        )
    })?;
    Ok(ExitCode::SUCCESS)
}
