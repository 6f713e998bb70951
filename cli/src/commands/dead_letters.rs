//! `klaxon dead-letters list|redrive`: the dead letters of `klaxon serve`'s queues.

use super::Output;
use super::store::{block_on, database_path};
use crate::args::{DeadLettersListArgs, DeadLettersRedriveArgs};
use crate::output;
use anyhow::{Context, bail};
use klaxon_app::messages::QueueName;
use klaxon_local::queue::{MessageId, SqliteQueue};
use klaxon_store::{Clock, SystemClock};
use serde::Serialize;
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

/// Runs `dead-letters list`.
pub fn list(args: &DeadLettersListArgs, output: Output) -> anyhow::Result<ExitCode> {
    let queue = open(&args.db)?;
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

/// Runs `dead-letters redrive`.
pub fn redrive(args: &DeadLettersRedriveArgs, output: Output) -> anyhow::Result<ExitCode> {
    let queue = open(&args.db)?;
    let id = args.id;
    let found = block_on(async {
        let letter = letters(&queue).await?.into_iter().find(|l| l.id == id);
        let Some(letter) = letter else {
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
