//! The connection set-up the store and the queues share: both open the same database file.

use rusqlite::Connection;
use std::path::Path;
use std::time::Duration;

/// How durable a commit is before the write that made it is answered.
///
/// Both settings run SQLite in WAL mode, where a commit appends to the write-ahead log.
/// - [`Durability::Normal`] (`synchronous=NORMAL`): a commit is in the operating system's page
///   cache when it returns, so it survives the process crashing or being killed (`kill -9`),
///   but not the operating system crashing or the power failing (the last commits before
///   such a failure may be lost; the database stays consistent). The log is synced at each
///   checkpoint only.
/// - [`Durability::Full`] (`synchronous=FULL`): a commit is synced to the disk (`fsync`) before
///   it returns, so it also survives an operating-system crash and power loss (on a disk that
///   honours flushes). Concurrent commits of one process are queued behind one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Survives process crashes; the default.
    #[default]
    Normal,
    /// Also survives operating-system crashes and power loss: one `fsync` per commit.
    Full,
}

impl Durability {
    /// The setting's name (`normal`, `full`), as `--durability` takes it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Durability::Normal => "normal",
            Durability::Full => "full",
        }
    }
}

/// Opens (creating if needed) the database file at `path` in WAL mode, so readers never block
/// the writer (durability as [`configure`] sets it).
pub(crate) fn open_wal(path: &Path) -> Result<Connection, rusqlite::Error> {
    let connection = Connection::open(path)?;
    connection
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))?;
    Ok(connection)
}

/// Waits up to five seconds for another connection's write lock, and sets how durable a
/// commit is ([`Durability`]).
pub(crate) fn configure(
    connection: &Connection,
    durability: Durability,
) -> Result<(), rusqlite::Error> {
    connection.busy_timeout(Duration::from_secs(5))?;
    let synchronous = match durability {
        Durability::Normal => "NORMAL",
        Durability::Full => "FULL",
    };
    connection.pragma_update(None, "synchronous", synchronous)
}
