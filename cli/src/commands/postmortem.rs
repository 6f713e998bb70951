//! `klaxon postmortem create|show|edit|status|export` and `klaxon action-items
//! list|add|done`: post-mortems through the API of a running Klaxon (local `klaxon serve` or
//! the AWS deployment). Creates and additions carry a fresh `Idempotency-Key`, so a request
//! resent after a dropped connection is applied once.

use super::Output;
use super::api::{Client, actor, print, segment, text};
use super::responder::idempotency_key;
use super::store::block_on;
use crate::args::{
    ActionItemAddArgs, ActionItemDoneArgs, ActionItemsCommand, ActionItemsListArgs, ApiArgs,
    PostmortemArgs, PostmortemCommand, PostmortemCreateArgs, PostmortemEditArgs,
    PostmortemStatusArgs,
};
use crate::output;
use anyhow::Context;
use serde_json::{Map, Value, json};
use std::fmt::Write;
use std::io::Read;
use std::process::ExitCode;

/// Runs a `postmortem` command.
pub fn run(command: &PostmortemCommand, output: Output) -> anyhow::Result<ExitCode> {
    match command {
        PostmortemCommand::Create(args) => create(args, output),
        PostmortemCommand::Show(args) => show(args, output),
        PostmortemCommand::Edit(args) => edit(args, output),
        PostmortemCommand::Status(args) => status(args, output),
        PostmortemCommand::Export(args) => export(args),
    }
}

/// Runs an `action-items` command.
pub fn action_items(command: &ActionItemsCommand, output: Output) -> anyhow::Result<ExitCode> {
    match command {
        ActionItemsCommand::List(args) => list(args, output),
        ActionItemsCommand::Add(args) => add(args, output),
        ActionItemsCommand::Done(args) => done(args, output),
    }
}

fn path(incident: &str) -> String {
    format!("/v1/incidents/{}/postmortem", segment(incident))
}

/// Sends `body` (with `user` when given) and returns the answer.
fn send(
    api: &ApiArgs,
    method: reqwest::Method,
    path: &str,
    mut body: Map<String, Value>,
    user: Option<&String>,
    idempotent: bool,
) -> anyhow::Result<Value> {
    let client = Client::new(api)?;
    if let Some(user) = user {
        body.insert("user".into(), json!(user));
    }
    let key = idempotent.then(idempotency_key);
    block_on(client.send(method, path, &[], Some(Value::Object(body)), key.as_deref()))?
}

/// One line about the post-mortem in an answer.
fn summary(answer: &Value, what: &str) -> String {
    let pm = &answer["postmortem"];
    let number = pm["number"].as_u64().unwrap_or(0);
    let changed = answer["changed"].as_bool().unwrap_or(true);
    format!(
        "post-mortem of incident #{number} {}{} (status {}, version {})\n",
        if changed { what } else { "unchanged" },
        if changed {
            format!(" by {}", actor(&answer["actor"]))
        } else {
            String::new()
        },
        text(pm, "status"),
        pm["version"].as_u64().unwrap_or(0)
    )
}

fn create(args: &PostmortemCreateArgs, output: Output) -> anyhow::Result<ExitCode> {
    let mut body = Map::new();
    if let Some(template) = &args.template {
        body.insert("template".into(), json!(template));
    }
    let answer = send(
        &args.api,
        reqwest::Method::POST,
        &path(&args.incident),
        body,
        args.user.as_ref(),
        true,
    )?;
    print(output, &answer, |a| {
        let template = text(&a["postmortem"], "template").to_owned();
        summary(a, &format!("created from template {template}"))
    })?;
    Ok(ExitCode::SUCCESS)
}

fn render(pm: &Value) -> String {
    let mut out = format!(
        "post-mortem of incident #{} {}\nstatus {}, version {}, template {}\n",
        pm["number"].as_u64().unwrap_or(0),
        text(pm, "title"),
        text(pm, "status"),
        pm["version"].as_u64().unwrap_or(0),
        text(pm, "template"),
    );
    let facts = &pm["facts"];
    let _ = writeln!(
        out,
        "impact: {} → {}",
        text(facts, "opened_at"),
        facts["resolved_at"].as_str().unwrap_or("not resolved")
    );
    let responders: Vec<&str> = facts["responders"]
        .as_array()
        .map(|list| list.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let _ = writeln!(out, "responders: {}", responders.join(", "));
    out.push_str("\nsections:\n");
    for section in pm["sections"].as_array().into_iter().flatten() {
        let body = text(section, "body");
        let _ = writeln!(
            out,
            "  {} ({})",
            text(section, "title"),
            if body.trim().is_empty() {
                "empty".to_owned()
            } else {
                format!("{} characters", body.chars().count())
            }
        );
    }
    out.push_str("\naction items:\n");
    let items: Vec<Vec<String>> = pm["action_items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(item_row)
        .collect();
    if items.is_empty() {
        out.push_str("  none\n");
    } else {
        out.push_str(&output::table(
            &["ID", "STATUS", "OWNER", "DUE", "TITLE"],
            &items,
        ));
    }
    out
}

fn item_row(item: &Value) -> Vec<String> {
    let or_dash = |field: &str| item[field].as_str().unwrap_or("-").to_owned();
    vec![
        or_dash("id"),
        or_dash("status"),
        or_dash("owner"),
        or_dash("due"),
        or_dash("title"),
    ]
}

fn show(args: &PostmortemArgs, output: Output) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args.api)?;
    let pm = block_on(client.call(reqwest::Method::GET, &path(&args.incident), &[], None))??;
    print(output, &pm, render)?;
    Ok(ExitCode::SUCCESS)
}

fn edit(args: &PostmortemEditArgs, output: Output) -> anyhow::Result<ExitCode> {
    let body_text = match (&args.body, &args.file) {
        (Some(text), _) => text.clone(),
        (None, Some(file)) if file.as_os_str() == "-" => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("--file -: cannot read standard input")?;
            text
        }
        (None, Some(file)) => std::fs::read_to_string(file)
            .with_context(|| format!("--file {}: cannot read it", file.display()))?,
        // clap requires one of them.
        (None, None) => String::new(),
    };
    let mut body = Map::new();
    body.insert(
        "sections".into(),
        json!([{"title": args.section, "body": body_text}]),
    );
    if let Some(version) = args.version {
        body.insert("version".into(), json!(version));
    }
    let answer = send(
        &args.api,
        reqwest::Method::PATCH,
        &path(&args.incident),
        body,
        args.user.as_ref(),
        false,
    )?;
    let section = args.section.clone();
    print(output, &answer, |a| {
        summary(a, &format!("section {section:?} written"))
    })?;
    Ok(ExitCode::SUCCESS)
}

fn status(args: &PostmortemStatusArgs, output: Output) -> anyhow::Result<ExitCode> {
    let mut body = Map::new();
    body.insert("status".into(), json!(args.status.replace('-', "_")));
    if let Some(version) = args.version {
        body.insert("version".into(), json!(version));
    }
    let answer = send(
        &args.api,
        reqwest::Method::PATCH,
        &path(&args.incident),
        body,
        args.user.as_ref(),
        false,
    )?;
    print(output, &answer, |a| summary(a, "moved"))?;
    Ok(ExitCode::SUCCESS)
}

fn export(args: &PostmortemArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args.api)?;
    let markdown = block_on(client.get_text(&path(&args.incident), &[], "text/markdown"))??;
    output::print(&markdown)?;
    Ok(ExitCode::SUCCESS)
}

fn list(args: &ActionItemsListArgs, output: Output) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args.api)?;
    let mut query = vec![("status", if args.open { "open" } else { "all" }.to_owned())];
    if let Some(limit) = args.limit {
        query.push(("limit", limit.to_string()));
    }
    let page = block_on(client.call(reqwest::Method::GET, "/v1/action-items", &query, None))??;
    print(output, &page, |page| {
        let rows: Vec<Vec<String>> = page["action_items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|item| {
                let mut row = vec![format!("#{}", item["number"].as_u64().unwrap_or(0))];
                row.extend(item_row(item));
                row
            })
            .collect();
        if rows.is_empty() {
            return "no action items\n".to_owned();
        }
        output::table(
            &["INCIDENT", "ID", "STATUS", "OWNER", "DUE", "TITLE"],
            &rows,
        )
    })?;
    Ok(ExitCode::SUCCESS)
}

fn add(args: &ActionItemAddArgs, output: Output) -> anyhow::Result<ExitCode> {
    let mut body = Map::new();
    body.insert("title".into(), json!(args.title));
    if let Some(owner) = &args.owner {
        body.insert("owner".into(), json!(owner));
    }
    if let Some(due) = &args.due {
        body.insert("due".into(), json!(due));
    }
    let answer = send(
        &args.api,
        reqwest::Method::POST,
        &format!("{}/action-items", path(&args.incident)),
        body,
        args.user.as_ref(),
        true,
    )?;
    print(output, &answer, |a| {
        format!(
            "action item {} added to the post-mortem of incident #{}\n",
            text(&a["action_item"], "id"),
            a["postmortem"]["number"].as_u64().unwrap_or(0)
        )
    })?;
    Ok(ExitCode::SUCCESS)
}

fn done(args: &ActionItemDoneArgs, output: Output) -> anyhow::Result<ExitCode> {
    let mut body = Map::new();
    let status = if args.reopen { "open" } else { "done" };
    body.insert("status".into(), json!(status));
    let answer = send(
        &args.api,
        reqwest::Method::PATCH,
        &format!(
            "{}/action-items/{}",
            path(&args.incident),
            segment(&args.item)
        ),
        body,
        args.user.as_ref(),
        false,
    )?;
    print(output, &answer, |a| {
        format!(
            "action item {} is {status}{}\n",
            text(&a["action_item"], "id"),
            if a["changed"].as_bool().unwrap_or(true) {
                ""
            } else {
                " (unchanged)"
            }
        )
    })?;
    Ok(ExitCode::SUCCESS)
}
