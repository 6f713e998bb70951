//! `klaxon dead-letters list|redrive`: the dead letters of `klaxon serve`'s queues, read from
//! its file (`--db`), or of a running Klaxon through its API (`/v1/dead-letters`, which on AWS
//! are the SQS dead-letter queues).

use super::Output;
use super::api::{Client, print};
use super::store::{block_on, database_path};
use crate::args::{DeadLettersListArgs, DeadLettersRedriveArgs};
use crate::failure::UsageError;
use crate::output;
use anyhow::{Context, bail};
use klaxon_app::messages::QueueName;
use klaxon_local::queue::{MessageId, SqliteQueue};
use klaxon_store::{Clock, SystemClock};
use serde::Serialize;
use serde_json::Value;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

/// A dead letter as listed.
#[derive(Debug, Serialize)]
struct Letter {
    id: i64,
    queue: &'static str,
    attempts: u32,
    sent_at: String,
    dead_at: String,
    reason: String,
    body: String,
}

fn open(db: &Path) -> anyhow::Result<SqliteQueue> {
    let path = database_path(db);
    if !path.is_file() {
        bail!(
            "no Klaxon database at {} (the data directory of `klaxon serve`)",
            path.display()
        );
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    SqliteQueue::open(&path, clock)
        .with_context(|| format!("cannot open the queues in {}", path.display()))
}

async fn letters(queue: &SqliteQueue) -> anyhow::Result<Vec<Letter>> {
    let mut all = Vec::new();
    for name in QueueName::ALL {
        for letter in queue.dead_letters(name).await? {
            all.push(Letter {
                id: letter.id.0,
                queue: name.as_str(),
                attempts: letter.attempts,
                sent_at: crate::time::utc_seconds(letter.sent_at),
                dead_at: crate::time::utc_seconds(letter.dead_at),
                reason: letter.reason,
                body: letter.body,
            });
        }
    }
    all.sort_by_key(|letter| letter.id);
    Ok(all)
}

/// The API's listing as a table.
fn render_remote(report: &Value) -> String {
    let text = |letter: &Value, field: &str| match &letter[field] {
        Value::Null => "-".to_owned(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    let mut rows = Vec::new();
    for queue in report["queues"].as_array().into_iter().flatten() {
        for letter in queue["letters"].as_array().into_iter().flatten() {
            let concerns = (letter["concerns"].as_object())
                .and_then(|c| c.iter().next())
                .map_or_else(
                    || "-".to_owned(),
                    |(k, v)| format!("{k} {}", v.as_str().unwrap_or("")),
                );
            rows.push(vec![
                text(letter, "id"),
                text(queue, "queue"),
                text(letter, "receives"),
                text(letter, "sent_at"),
                concerns,
                text(letter, "last_error"),
            ]);
        }
    }
    if rows.is_empty() {
        return "no dead letters\n".to_owned();
    }
    output::table(
        &["ID", "QUEUE", "RECEIVES", "SENT", "CONCERNS", "LAST ERROR"],
        &rows,
    )
}

/// Runs `dead-letters list`.
pub fn list(args: &DeadLettersListArgs, output: Output) -> anyhow::Result<ExitCode> {
    let Some(db) = &args.db else {
        let client = Client::new(&args.api)?;
        let report = block_on(client.call(reqwest::Method::GET, "/v1/dead-letters", &[], None))??;
        print(output, &report, render_remote)?;
        return Ok(ExitCode::SUCCESS);
    };
    let queue = open(db)?;
    let letters = block_on(letters(&queue))??;
    let text = if output.json {
        output::json(&letters)?
    } else if letters.is_empty() {
        "no dead letters\n".to_owned()
    } else {
        let rows: Vec<Vec<String>> = letters
            .iter()
            .map(|letter| {
                vec![
                    letter.id.to_string(),
                    letter.queue.to_owned(),
                    letter.attempts.to_string(),
                    letter.dead_at.clone(),
                    letter.reason.clone(),
                ]
            })
            .collect();
        output::table(&["ID", "QUEUE", "ATTEMPTS", "DEAD SINCE", "REASON"], &rows)
    };
    output::print(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `dead-letters redrive` through the API.
fn redrive_remote(args: &DeadLettersRedriveArgs, output: Output) -> anyhow::Result<ExitCode> {
    let Some(queue) = args.queue.as_deref() else {
        return Err(UsageError(
            "--queue is needed to redrive through the API (the QUEUE column of `klaxon dead-letters list`)".into(),
        )
        .into());
    };
    let client = Client::new(&args.api)?;
    let encode =
        |text: &str| url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
    let path = format!(
        "/v1/dead-letters/{}/{}/redrive",
        encode(queue),
        encode(&args.id)
    );
    let answer = block_on(client.call(reqwest::Method::POST, &path, &[], None))??;
    print(output, &answer, |answer| {
        format!(
            "dead letter {} is back on the {} queue\n",
            args.id,
            answer["to"].as_str().unwrap_or(queue)
        )
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `dead-letters redrive`.
pub fn redrive(args: &DeadLettersRedriveArgs, output: Output) -> anyhow::Result<ExitCode> {
    let Some(db) = &args.db else {
        return redrive_remote(args, output);
    };
    let Ok(id) = args.id.parse::<i64>() else {
        return Err(UsageError(format!(
            "ID: {:?} is not a local dead letter id (a number from `klaxon dead-letters list`)",
            args.id
        ))
        .into());
    };
    let queue = open(db)?;
    let found = block_on(async {
        let letter = letters(&queue).await?.into_iter().find(|l| l.id == id);
        let Some(letter) = letter.filter(|l| args.queue.as_deref().is_none_or(|q| q == l.queue))
        else {
            bail!("no dead letter {id} (see `klaxon dead-letters list`)");
        };
        if !queue.redrive(MessageId(id)).await? {
            bail!("dead letter {id} was redriven meanwhile");
        }
        anyhow::Ok(letter)
    })??;
    let text = if output.json {
        output::json(&serde_json::json!({ "redriven": id, "queue": found.queue }))?
    } else {
        format!(
            "dead letter {id} is back on the {} queue with fresh attempts\n",
            found.queue
        )
    };
    output::print(&text)?;
    Ok(ExitCode::SUCCESS)
}
