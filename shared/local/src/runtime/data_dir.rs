//! The data directory of `klaxon serve`: where each file lives, private file writes, the
//! single-process lock, and the link signing secret.
//!
//! ```text
//! <data-dir>/            mode 0700
//!   klaxon.db            SQLite: the store, the queues, the timers (+ klaxon.db-wal, -shm)
//!   outbox.jsonl         one JSON line per delivery attempt
//!   keys.env             plaintext integration and API keys (mode 0600)
//!   link-secret          the ack/resolve link signing secret (mode 0600)
//!   link-secret-retired  former link secrets still accepted, `UNTIL:SECRET` (mode 0600)
//!   serve.lock           held by the running `klaxon serve` (one process per data dir)
//! ```

use super::RuntimeError;
use chrono::{DateTime, TimeDelta, Utc};
use klaxon_app::security::links::{LinkKeys, RetiredSecret, Rotation, generate_secret};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The file names inside a data directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir {
    root: PathBuf,
}

/// The database file's name inside the data directory.
pub const DATABASE_FILE: &str = "klaxon.db";
/// The outbox file's name.
pub const OUTBOX_FILE: &str = "outbox.jsonl";
/// The keys file's name.
pub const KEYS_FILE: &str = "keys.env";
/// The link signing secret's file name.
pub const LINK_SECRET_FILE: &str = "link-secret";
/// The retired link secrets' file name.
pub const RETIRED_LINK_SECRETS_FILE: &str = "link-secret-retired";
/// The lock file's name.
pub const LOCK_FILE: &str = "serve.lock";

impl DataDir {
    /// The data directory at `root` (nothing is created until [`DataDir::create`]).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The SQLite database: store, queues and timers.
    pub fn database(&self) -> PathBuf {
        self.root.join(DATABASE_FILE)
    }

    /// The outbox: one JSON line per delivery attempt.
    pub fn outbox(&self) -> PathBuf {
        self.root.join(OUTBOX_FILE)
    }

    /// The plaintext keys, as `NAME=value` lines.
    pub fn keys_env(&self) -> PathBuf {
        self.root.join(KEYS_FILE)
    }

    /// The link signing secret.
    pub fn link_secret(&self) -> PathBuf {
        self.root.join(LINK_SECRET_FILE)
    }

    /// The retired link secrets, each still accepted until its end.
    pub fn retired_link_secrets(&self) -> PathBuf {
        self.root.join(RETIRED_LINK_SECRETS_FILE)
    }

    /// The lock the running server holds.
    pub fn lock_file(&self) -> PathBuf {
        self.root.join(LOCK_FILE)
    }

    /// Creates the directory (and its parents) if needed; a new directory is private (0700).
    pub fn create(&self) -> Result<(), RuntimeError> {
        if self.root.is_dir() {
            return Ok(());
        }
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder
            .create(&self.root)
            .map_err(|source| RuntimeError::io("create the data directory", &self.root, source))
    }

    /// Takes the data directory's lock, so that two servers never consume the same queues
    /// (each would treat the other's leases as dead). The lock is released when the returned
    /// file is dropped, or by the operating system when the process dies, even by `kill -9`.
    pub fn lock(&self) -> Result<File, RuntimeError> {
        let path = self.lock_file();
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|source| RuntimeError::io("open the lock file", &path, source))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&path).unwrap_or_default();
                return Err(RuntimeError::Locked {
                    data_dir: self.root.clone(),
                    holder: holder.trim().to_owned(),
                });
            }
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(RuntimeError::io("lock", &path, source));
            }
        }
        // Records who holds it, for the message another process shows.
        let _ = file
            .set_len(0)
            .and_then(|()| file.write_all(format!("pid {}\n", std::process::id()).as_bytes()));
        Ok(file)
    }

    /// The link signing secret, generated (64 hex digits from 32 random bytes) on first use.
    pub fn link_secret_or_create(&self) -> Result<String, RuntimeError> {
        let path = self.link_secret();
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let secret = text.trim().to_owned();
                if secret.len() < klaxon_app::security::links::MIN_SECRET_LEN {
                    return Err(RuntimeError::Invalid {
                        path,
                        reason: format!(
                            "the link signing secret must be at least {} characters; delete the file to generate a new one (links already sent stop working)",
                            klaxon_app::security::links::MIN_SECRET_LEN
                        ),
                    });
                }
                Ok(secret)
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                let bytes: [u8; 32] = rand::random();
                let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                write_private(&path, &format!("{secret}\n"))?;
                Ok(secret)
            }
            Err(source) => Err(RuntimeError::io("read", &path, source)),
        }
    }
}

impl DataDir {
    /// The link keys: the current secret (generated on first use) and the retired ones.
    pub fn link_keys_or_create(&self) -> Result<LinkKeys, RuntimeError> {
        let current = self.link_secret_or_create()?;
        let path = self.retired_link_secrets();
        let retired = match std::fs::read_to_string(&path) {
            Ok(text) => {
                RetiredSecret::parse_list(&text).map_err(|error| RuntimeError::Invalid {
                    path: path.clone(),
                    reason: error.to_string(),
                })?
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(source) => return Err(RuntimeError::io("read", &path, source)),
        };
        Ok(LinkKeys { current, retired })
    }

    /// Replaces the link secret with a new random one at `now`, keeping the old one accepted
    /// until `now + retire_for` (retired secrets already past their end are dropped). The
    /// retired list is written first: a crash between the two writes leaves the old secret
    /// both current and retired, which is harmless. A running `klaxon serve` signs with the
    /// new secret after a restart (until then it signs with the old one, still accepted).
    pub fn rotate_link_secret(
        &self,
        now: DateTime<Utc>,
        retire_for: TimeDelta,
    ) -> Result<Rotation, RuntimeError> {
        self.create()?;
        let keys = self.link_keys_or_create()?;
        let (rotated, rotation) =
            keys.rotate(generate_secret(), now, retire_for)
                .map_err(|error| RuntimeError::Invalid {
                    path: self.link_secret(),
                    reason: error.to_string(),
                })?;
        write_private(
            &self.retired_link_secrets(),
            &format!("{}\n", RetiredSecret::format_list(&rotated.retired)),
        )?;
        write_private(&self.link_secret(), &format!("{}\n", rotated.current))?;
        Ok(rotation)
    }
}

/// Writes `text` to `path` readable only by its owner (0600), atomically: a crash leaves the
/// old file or the new one, never half of it.
pub fn write_private(path: &Path, text: &str) -> Result<(), RuntimeError> {
    let temporary = path.with_extension("tmp");
    let write = || -> io::Result<()> {
        let mut options = OpenOptions::new();
        options.create(true).write(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&temporary)?;
        // A file that existed with wider permissions keeps them on open: narrow them.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    };
    write().map_err(|source| RuntimeError::io("write", path, source))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_live_under_the_root() {
        let dir = DataDir::new("/srv/klaxon");
        assert_eq!(dir.database(), Path::new("/srv/klaxon/klaxon.db"));
        assert_eq!(dir.outbox(), Path::new("/srv/klaxon/outbox.jsonl"));
        assert_eq!(dir.keys_env(), Path::new("/srv/klaxon/keys.env"));
        assert_eq!(dir.link_secret(), Path::new("/srv/klaxon/link-secret"));
    }

    #[test]
    fn a_second_lock_on_the_same_directory_is_refused_until_the_first_is_dropped() {
        let temp = tempfile::tempdir().unwrap();
        let dir = DataDir::new(temp.path().join("data"));
        dir.create().unwrap();
        let held = dir.lock().unwrap();
        let error = dir.lock().unwrap_err();
        assert!(
            matches!(&error, RuntimeError::Locked { holder, .. } if holder == &format!("pid {}", std::process::id())),
            "{error}"
        );
        assert!(
            error.to_string().contains("another klaxon serve"),
            "{error}"
        );
        drop(held);
        dir.lock().unwrap();
    }

    #[test]
    fn the_link_secret_is_generated_once_and_private() {
        let temp = tempfile::tempdir().unwrap();
        let dir = DataDir::new(temp.path());
        let first = dir.link_secret_or_create().unwrap();
        assert_eq!(first.len(), 64);
        assert!(first.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(dir.link_secret_or_create().unwrap(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.link_secret())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_truncated_link_secret_is_an_error_naming_the_file() {
        let temp = tempfile::tempdir().unwrap();
        let dir = DataDir::new(temp.path());
        std::fs::write(dir.link_secret(), "short\n").unwrap();
        let error = dir.link_secret_or_create().unwrap_err().to_string();
        assert!(error.contains("link-secret"), "{error}");
        assert!(error.contains("at least 32"), "{error}");
    }

    #[test]
    fn rotating_keeps_the_old_secret_accepted_and_signs_with_a_new_one() {
        use chrono::TimeZone;
        use klaxon_app::security::links::{LinkAction, LinkError};
        use klaxon_domain::ids::{IncidentId, UserId};
        let temp = tempfile::tempdir().unwrap();
        let dir = DataDir::new(temp.path().join("data"));
        let now = Utc.timestamp_opt(1_800_000_000, 0).unwrap();
        dir.create().unwrap();
        let before = dir.link_keys_or_create().unwrap();
        let incident = IncidentId::new("0192abc").unwrap();
        let user = UserId::new("alice").unwrap();
        let old_link = before.signer().unwrap().sign(
            &incident,
            &user,
            LinkAction::Ack,
            now + TimeDelta::days(40),
        );

        let rotation = dir.rotate_link_secret(now, TimeDelta::days(30)).unwrap();
        let after = dir.link_keys_or_create().unwrap();
        assert_ne!(after.current, before.current);
        assert_eq!(rotation.retired_until, now + TimeDelta::days(30));
        let signer = after.signer().unwrap();
        assert_eq!(signer.key_id(), rotation.current);
        assert!(signer.verify(&old_link, now + TimeDelta::days(29)).is_ok());
        assert_eq!(
            signer.verify(&old_link, now + TimeDelta::days(30)),
            Err(LinkError::BadSignature)
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.retired_link_secrets())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }

        // A second rotation 31 days later drops the first retiree, past its end.
        let again = dir
            .rotate_link_secret(now + TimeDelta::days(31), TimeDelta::days(30))
            .unwrap();
        assert_eq!(again.dropped, 1);
        assert_eq!(again.retired, rotation.current);
        assert_eq!(dir.link_keys_or_create().unwrap().retired.len(), 1);

        std::fs::write(dir.retired_link_secrets(), "garbage").unwrap();
        let error = dir.link_keys_or_create().unwrap_err().to_string();
        assert!(error.contains("link-secret-retired"), "{error}");
    }
}
