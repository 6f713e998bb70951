//! Opening the stored data a command works on: a local database (`--db`) or a DynamoDB table
//! (`--table`), behind the same repository.

use crate::args::StoreArgs;
use crate::failure::UsageError;
use anyhow::Context;
use klaxon_aws::dynamo::DynamoStore;
use klaxon_domain::Instant;
use klaxon_domain::ids::ScheduleId;
use klaxon_domain::schedule::Override;
use klaxon_domain::timeline::EventSource;
use klaxon_local::runtime::DataDir;
use klaxon_local::store::SqliteStore;
use klaxon_store::repo::Repository;
use klaxon_store::{Clock, SystemClock};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A repository on one of the two stores.
#[derive(Debug)]
pub enum Backend {
    /// The local SQLite database.
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The repository.
        repo: Repository<SqliteStore>,
    },
    /// A DynamoDB table.
    Dynamo {
        /// The table name.
        table: String,
        /// The repository.
        repo: Repository<DynamoStore>,
    },
}

/// Runs `$body` with `$repo` bound to the backend's repository, whatever its store type.
macro_rules! with_repo {
    ($backend:expr, |$repo:ident| $body:expr) => {
        match $backend {
            $crate::commands::store::Backend::Sqlite { repo: $repo, .. } => $body,
            $crate::commands::store::Backend::Dynamo { repo: $repo, .. } => $body,
        }
    };
}
pub(crate) use with_repo;

/// Whether a missing database may be created (`config apply`) or is an error (reading keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// Create the database (and its data directory).
    Create,
    /// Refuse: there is nothing to read.
    Refuse,
}

impl Backend {
    /// Where the data is, for messages: `klaxon-data/klaxon.db` or `DynamoDB table klaxon-prod`.
    pub fn describe(&self) -> String {
        match self {
            Backend::Sqlite { path, .. } => path.display().to_string(),
            Backend::Dynamo { table, .. } => format!("DynamoDB table {table}"),
        }
    }

    /// `sqlite:PATH` or `dynamodb:TABLE`, for JSON output.
    pub fn target(&self) -> String {
        match self {
            Backend::Sqlite { path, .. } => format!("sqlite:{}", path.display()),
            Backend::Dynamo { table, .. } => format!("dynamodb:{table}"),
        }
    }
}

/// The database file `--db PATH` names: PATH itself when it is a file or ends in `.db`,
/// `.sqlite` or `.sqlite3`; otherwise PATH is a data directory and the file is inside it.
pub fn database_path(path: &Path) -> PathBuf {
    let is_file_name = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e, "db" | "sqlite" | "sqlite3"));
    if path.is_file() || (is_file_name && !path.is_dir()) {
        path.to_path_buf()
    } else {
        DataDir::new(path).database()
    }
}

/// Opens the store the arguments name; without `--db` or `--table` it is a usage error.
pub async fn open(args: &StoreArgs, missing: Missing, component: &str) -> anyhow::Result<Backend> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let source = EventSource::klaxon(component)
        .map_err(|error| anyhow::anyhow!("event source {component}: {error}"))?;
    match (&args.db, &args.table) {
        (Some(db), _) => {
            let path = database_path(db);
            if !path.is_file() {
                match missing {
                    Missing::Refuse => anyhow::bail!(
                        "no Klaxon database at {} (start `klaxon serve --data-dir DIR` or run `klaxon config apply FILE --db DIR` first)",
                        path.display()
                    ),
                    Missing::Create => {
                        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
                        {
                            DataDir::new(parent).create()?;
                        }
                    }
                }
            }
            let store = SqliteStore::open(&path, clock.clone())
                .with_context(|| format!("cannot open the database {}", path.display()))?;
            Ok(Backend::Sqlite {
                repo: Repository::new(store, clock, source),
                path,
            })
        }
        (None, Some(table)) => {
            let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .load()
                .await;
            let client = aws_sdk_dynamodb::Client::new(&config);
            let store = DynamoStore::new(client, table.clone(), clock.clone());
            Ok(Backend::Dynamo {
                repo: Repository::new(store, clock, source),
                table: table.clone(),
            })
        }
        (None, None) => Err(UsageError(
            "say where the data is: --db PATH (a local data directory or SQLite file) or --table NAME (DynamoDB), or set KLAXON_DB or KLAXON_TABLE".to_owned(),
        )
        .into()),
    }
}

/// How far beyond a range overrides are read: the on-call and calendar commands look up to 31
/// days past their range for where a stretch starts and ends.
const OVERRIDE_MARGIN_DAYS: i64 = 32;

/// The stored overrides of `schedules` in force at some moment of `[from, to)` (widened by a
/// month on each side), when `--db` or `--table` is given; none otherwise.
pub fn stored_overrides(
    args: &StoreArgs,
    schedules: &[&ScheduleId],
    from: Instant,
    to: Instant,
) -> anyhow::Result<HashMap<ScheduleId, Vec<Override>>> {
    if args.db.is_none() && args.table.is_none() {
        return Ok(HashMap::new());
    }
    let margin = chrono::TimeDelta::days(OVERRIDE_MARGIN_DAYS);
    let from = from.checked_sub_signed(margin).unwrap_or(from);
    let to = to.checked_add_signed(margin).unwrap_or(to);
    block_on(async {
        let backend = open(args, Missing::Refuse, "cli").await?;
        let mut found = HashMap::new();
        for schedule in schedules {
            let list = with_repo!(&backend, |repo| repo.overrides(schedule, from, to).await)
                .with_context(|| format!("cannot read the overrides of {schedule}"))?;
            found.insert((*schedule).clone(), list);
        }
        anyhow::Ok(found)
    })?
}

/// Runs `future` on a tokio runtime (the commands that store or call the API are async).
pub fn block_on<F: std::future::Future>(future: F) -> anyhow::Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    Ok(runtime.block_on(future))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_paths_name_a_file_or_a_data_directory() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("data");
        assert_eq!(database_path(&dir), dir.join("klaxon.db"));
        assert_eq!(
            database_path(&temp.path().join("x.db")),
            temp.path().join("x.db")
        );
        let file = temp.path().join("store");
        std::fs::write(&file, "").unwrap();
        assert_eq!(database_path(&file), file);
    }
}
