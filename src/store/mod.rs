//! The state store: one SQLite file (WAL, created 0600) and the only module that runs SQL.
//!
//! The schema lives in `schema.sql`; [`Store::open`] checks `PRAGMA user_version` and
//! applies missing migrations in one transaction. A file written by a newer Keywarden is
//! refused with a message that says so. Times are Unix milliseconds.

mod blobs;
mod daemon;
mod fleet;
mod outages;
mod outbox;

pub use daemon::{JobRun, Seen, Tracked};
pub use outages::{FailureStreak, Outage};
pub use outbox::{NewMessage, OutboxRow, Status};

use crate::error::{Error, Result};
use rusqlite::Connection;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Migrations, in order: entry `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    include_str!("schema.sql"),
    // 2: the daemon's tracked findings and job runs.
    include_str!("daemon.sql"),
    // 3: clean blobs of the daemon's history targets (incremental history scans).
    include_str!("blobs.sql"),
    // 4: channel health and persistent outages.
    include_str!("outages.sql"),
    // 5: fleet watermarks (per repository of a `source` scan target).
    include_str!("fleet.sql"),
];

/// An exclusive hold on a state file for one daemon's lifetime (an advisory `flock` on
/// `<state>.lock`, released when the process ends, however it ends). The CLI's store
/// commands do not take it: SQLite's own locking keeps them consistent.
#[derive(Debug)]
pub struct StateLock {
    _file: std::fs::File,
}

impl StateLock {
    /// Takes the lock for `state`, or fails at once when another daemon holds it.
    pub fn acquire(state: &Path) -> Result<StateLock> {
        let mut name = state.as_os_str().to_owned();
        name.push(".lock");
        let path = PathBuf::from(name);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => Ok(StateLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(Error::Daemon {
                message: format!(
                    "another keywarden daemon is already using the state file {}",
                    state.display()
                ),
                hint: "run one daemon per state file: stop the other one (systemctl stop keywarden), or give this one its own [state] path".into(),
            }),
            Err(std::fs::TryLockError::Error(e)) => Err(Error::io(&path, e)),
        }
    }
}

/// The longest error, detail or label the state keeps, in bytes.
const MAX_TEXT: usize = 4096;

/// Text on its way into the state, through the redaction choke point: keys scrubbed, cut
/// to `max` bytes (at a character boundary) so no input can grow the file without bound.
fn stored(text: &str, max: usize) -> String {
    let s = crate::redact::scrub(text);
    if s.len() <= max {
        return s.into_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// `[state]` of the service config.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateConfig {
    /// The SQLite file. Relative paths are relative to the config file's directory.
    /// Default: `$STATE_DIRECTORY/state.db` (systemd's `StateDirectory=`), else
    /// `/var/lib/keywarden/state.db`.
    pub path: Option<PathBuf>,
}

impl StateConfig {
    /// The store's path, resolving a relative `path` against `base` (the config's
    /// directory).
    pub fn resolve_path(&self, base: &Path) -> PathBuf {
        match &self.path {
            Some(p) if p.is_relative() => base.join(p),
            Some(p) => p.clone(),
            None => std::env::var_os("STATE_DIRECTORY")
                .filter(|v| !v.is_empty())
                .map(|d| {
                    // systemd may pass several colon-separated directories: use the first.
                    let first = d
                        .to_string_lossy()
                        .split(':')
                        .next()
                        .unwrap_or("")
                        .to_string();
                    PathBuf::from(first).join("state.db")
                })
                .unwrap_or_else(|| PathBuf::from("/var/lib/keywarden/state.db")),
        }
    }
}

/// An open state store.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (creating it 0600 if missing) and migrates the store at `path`.
    pub fn open(path: &Path) -> Result<Store> {
        create_private(path)?;
        let conn = Connection::open(path).map_err(|e| db_error(path, "opening", e))?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
        };
        store
            .conn
            .busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|e| store.err("configuring", e))?;
        let mode: String = store
            .conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(|e| store.err("switching to WAL", e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!("{}: journal mode is {mode}, not WAL", path.display());
        }
        store
            .conn
            .execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")
            .map_err(|e| store.err("configuring", e))?;
        store.migrate()?;
        Ok(store)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version this build writes.
    pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

    fn migrate(&mut self) -> Result<()> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| db_error(&path, "starting the migration", e))?;
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| db_error(&path, "reading the schema version", e))?;
        if version > Self::SCHEMA_VERSION {
            return Err(Error::Store {
                path,
                message: format!(
                    "schema version {version} is newer than this keywarden understands ({})",
                    Self::SCHEMA_VERSION
                ),
                hint: "upgrade keywarden, or point [state] path at another file".into(),
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(sql)
                .map_err(|e| db_error(&path, &format!("migrating to schema {}", i + 1), e))?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)
                .map_err(|e| db_error(&path, "setting the schema version", e))?;
        }
        tx.commit()
            .map_err(|e| db_error(&path, "committing the migration", e))
    }

    fn err(&self, doing: &str, e: rusqlite::Error) -> Error {
        db_error(&self.path, doing, e)
    }
}

fn db_error(path: &Path, doing: &str, e: rusqlite::Error) -> Error {
    // SQLite reports a full disk as SQLITE_FULL, or as a bare "disk I/O error" when it
    // happens while switching to WAL or growing the shared memory: ask the filesystem.
    let io = matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DiskFull | rusqlite::ErrorCode::SystemIoFailure)
    );
    if io && disk_full(path) {
        return Error::Store {
            path: path.to_path_buf(),
            message: format!("{doing}: disk full (no space left on the filesystem holding the state)"),
            hint: "free space there (or move [state] path to another filesystem); pending messages stay in the outbox and are retried".into(),
        };
    }
    Error::Store {
        path: path.to_path_buf(),
        message: format!("{doing}: {e}"),
        hint: "check that the file is a Keywarden state store, that its directory is writable, and that no other program holds it locked".into(),
    }
}

/// True when the filesystem holding `path` has no room for 64 KiB more.
fn disk_full(path: &Path) -> bool {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let probe = dir.join(format!(".keywarden-space-{}", std::process::id()));
    let result = std::fs::write(&probe, vec![0u8; 64 << 10]);
    let _ = std::fs::remove_file(&probe);
    matches!(
        result,
        Err(e) if matches!(e.kind(), std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded)
    )
}

/// Creates `path` (and its directory) readable by the owner only, if it does not exist.
fn create_private(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    match opts.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_text_is_scrubbed_and_bounded() {
        let s = stored("error: mk_live_Qm7Tz2Xw9Lp4Vn8Rb3Kc6Hd1 refused", MAX_TEXT);
        assert_eq!(s, "error: mk_live_Qm7T…6Hd1 refused");
        let big = "é".repeat(10 << 20);
        let s = stored(&big, MAX_TEXT);
        assert!(s.len() <= MAX_TEXT + '…'.len_utf8(), "{}", s.len());
        assert!(s.ends_with('…'));
    }

    #[test]
    fn a_second_state_lock_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("s.db");
        let first = StateLock::acquire(&state).unwrap();
        let e = StateLock::acquire(&state).unwrap_err().to_string();
        assert!(e.contains("another keywarden daemon"), "{e}");
        drop(first);
        StateLock::acquire(&state).unwrap();
    }

    #[test]
    fn creates_private_wal_store_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/state.db");
        let s = Store::open(&path).unwrap();
        drop(s);
        let s = Store::open(&path).unwrap();
        s.conn
            .execute("INSERT INTO disabled_channels VALUES ('x', 1, 'y')", [])
            .unwrap();
        #[cfg(unix)]
        for suffix in ["", "-wal", "-shm"] {
            use std::os::unix::fs::PermissionsExt;
            let p = format!("{}{suffix}", path.display());
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{p}");
        }
        let v: i64 = s
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, Store::SCHEMA_VERSION);
        let mode: String = s
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        drop(Store::open(&path).unwrap());
        let c = Connection::open(&path).unwrap();
        c.pragma_update(None, "user_version", 99).unwrap();
        drop(c);
        let e = Store::open(&path).unwrap_err().to_string();
        assert!(e.contains("schema version 99"), "{e}");
        assert!(e.contains("upgrade keywarden"), "{e}");
    }
}
