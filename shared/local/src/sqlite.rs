//! The connection set-up the store and the queues share: both open the same database file.

use rusqlite::Connection;
use std::path::Path;
use std::time::Duration;

/// Opens (creating if needed) the database file at `path` in WAL mode, so readers never block
/// the writer and a write is durable once committed (with [`configure`]'s `synchronous=FULL`).
pub(crate) fn open_wal(path: &Path) -> Result<Connection, rusqlite::Error> {
    let connection = Connection::open(path)?;
    connection
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))?;
    Ok(connection)
}

/// Waits up to five seconds for another connection's write lock, and makes every commit
/// durable (`synchronous=FULL`).
pub(crate) fn configure(connection: &Connection) -> Result<(), rusqlite::Error> {
    connection.busy_timeout(Duration::from_secs(5))?;
    connection.pragma_update(None, "synchronous", "FULL")
}
