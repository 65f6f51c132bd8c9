//! The state store, behind one interface over two backends: a SQLite file (WAL, created
//! 0600; the default, one daemon) or a PostgreSQL database shared by several daemons.
//! This is the only module that runs SQL.
//!
//! Queries are written once (`db`: portable SQL, `?N` placeholders) and run on either
//! connection. The schema is versioned: SQLite keeps it in `PRAGMA user_version`,
//! PostgreSQL in a `keywarden_migrations` table migrated under an advisory lock; a store
//! written by a newer Keywarden is refused with a message that says so. Times are Unix
//! milliseconds.

mod blobs;
mod daemon;
mod db;
mod fleet;
mod leases;
mod location;
mod outages;
mod outbox;
mod pg;
mod sql;
mod trends;

#[cfg(test)]
mod shared_tests;
#[cfg(test)]
mod testing;

pub use daemon::{JobRun, Seen, Tracked};
pub use leases::{Lease, holder_id};
pub use location::{Location, StateAt, StateConfig, StateLock};
pub use outages::{FailureStreak, Outage};
pub use outbox::{NewMessage, OutboxRow, Status};
pub use trends::{SourceTrend, Trends};

use crate::error::{Error, Result};
use db::{DbError, DbResult, Ex};
use rusqlite::Connection;
use std::cell::RefCell;
use std::path::Path;

/// SQLite migrations, in order: entry `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    include_str!("schema.sql"),
    // 2: the daemon's tracked findings and job runs.
    include_str!("daemon.sql"),
    // 3: clean blobs of the daemon's history targets (incremental history scans).
    include_str!("blobs.sql"),
    // 4: channel health and persistent outages.
    include_str!("outages.sql"),
    // 5: job leases and progress (several daemons on one database).
    include_str!("leases.sql"),
    // 6: fleet watermarks (per repository of a `source` scan target).
    include_str!("fleet.sql"),
    // 7: the store's instance id (message ids derive from it).
    include_str!("meta.sql"),
];

/// The same migrations for PostgreSQL (its types: BIGINT, BYTEA, identity columns), one
/// file with a `-- migration N` line before each.
const PG_MIGRATIONS: &str = include_str!("pg.sql");

fn pg_migrations() -> Vec<&'static str> {
    PG_MIGRATIONS
        .split("\n-- migration ")
        .skip(1)
        .map(|m| m.split_once('\n').map_or("", |(_, sql)| sql))
        .collect()
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

/// An open state store.
#[derive(Debug)]
pub struct Store {
    conn: RefCell<Conn>,
    at: Location,
}

#[derive(Debug)]
enum Conn {
    Lite(Connection),
    Pg(Box<pg::PgConn>),
}

impl Store {
    /// Opens and migrates the store at `at`: a SQLite file (a path; created 0600 if
    /// missing) or a PostgreSQL [`Location`].
    pub fn open<S: StateAt + ?Sized>(at: &S) -> Result<Store> {
        let at = at.location();
        let conn = match &at {
            Location::Sqlite(path) => Conn::Lite(open_sqlite(path)?),
            Location::Postgres { url, .. } => Conn::Pg(Box::new(
                pg::connect(url, &pg_migrations())
                    .map_err(|e| location_error(&at, "connecting to PostgreSQL", e))?,
            )),
        };
        Ok(Store {
            conn: RefCell::new(conn),
            at,
        })
    }

    /// The file (or, for PostgreSQL, the URL without its password).
    pub fn path(&self) -> &Path {
        self.at.as_path()
    }

    /// Where the store is.
    pub fn location(&self) -> &Location {
        &self.at
    }

    /// The store's random instance id, made with the store (schema 7).
    pub fn instance_id(&self) -> Result<String> {
        self.run("reading the instance id", |ex| {
            ex.query_one("SELECT value FROM meta WHERE key = 'instance'", &[], |r| {
                r.get(0)
            })
        })
    }

    /// The schema version this build writes.
    pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

    /// Runs `f` on the connection; errors say what was being done (`doing`).
    fn run<T>(&self, doing: &str, f: impl FnOnce(&mut Ex<'_>) -> DbResult<T>) -> Result<T> {
        let mut conn = self.conn.borrow_mut();
        let mut ex = match &mut *conn {
            Conn::Lite(c) => Ex::Lite(c),
            Conn::Pg(c) => Ex::Pg(c),
        };
        f(&mut ex).map_err(|e| self.err(doing, e))
    }

    /// Runs `f` in one transaction ([`Ex::transaction`]).
    fn tx<T>(&self, doing: &str, f: impl FnOnce(&mut Ex<'_>) -> DbResult<T>) -> Result<T> {
        self.run(doing, |ex| ex.transaction(f))
    }

    fn err(&self, doing: &str, e: impl Into<DbError>) -> Error {
        location_error(&self.at, doing, e.into())
    }
}

fn open_sqlite(path: &Path) -> Result<Connection> {
    create_private(path)?;
    let mut conn = Connection::open(path).map_err(|e| db_error(path, "opening", e))?;
    let e = |doing: &str, x| db_error(path, doing, x);
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(|x| e("configuring", x))?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(|x| e("switching to WAL", x))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!("{}: journal mode is {mode}, not WAL", path.display());
    }
    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")
        .map_err(|x| e("configuring", x))?;
    migrate_sqlite(&mut conn, path)?;
    Ok(conn)
}

fn migrate_sqlite(conn: &mut Connection, path: &Path) -> Result<()> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(|e| db_error(path, "starting the migration", e))?;
    let version: i64 = tx
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| db_error(path, "reading the schema version", e))?;
    if version > Store::SCHEMA_VERSION {
        return Err(Error::Store {
            path: path.to_path_buf(),
            message: format!(
                "schema version {version} is newer than this keywarden understands ({})",
                Store::SCHEMA_VERSION
            ),
            hint: "upgrade keywarden, or point [state] path at another file".into(),
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.execute_batch(sql)
            .map_err(|e| db_error(path, &format!("migrating to schema {}", i + 1), e))?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)
            .map_err(|e| db_error(path, "setting the schema version", e))?;
    }
    tx.commit()
        .map_err(|e| db_error(path, "committing the migration", e))
}

/// A store error: SQLite's are worded by [`db_error`] (disk full, locked file); the
/// others say what failed, scrubbed (a server message may quote a value).
fn location_error(at: &Location, doing: &str, e: DbError) -> Error {
    match (at, e) {
        (Location::Sqlite(path), DbError::Lite(e)) => db_error(path, doing, e),
        (Location::Sqlite(path), e) => Error::Store {
            path: path.clone(),
            message: format!("{doing}: {e}"),
            hint: "check that the file is a Keywarden state store".into(),
        },
        (Location::Postgres { .. }, e) => {
            let newer = e.to_string().contains("is newer than this keywarden");
            Error::Store {
                path: at.as_path().to_path_buf(),
                message: crate::redact::scrub(&format!("{doing}: {e}")).into_owned(),
                hint: if newer {
                    "upgrade keywarden (every daemon sharing the database), or point [state] url at another database".into()
                } else {
                    "check that the server is up and reachable, that the URL's user, password and database are right, and that the user may create tables there".into()
                },
            }
        }
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
    use crate::notify::config::Secret;

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
    fn creates_private_wal_store_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/state.db");
        let s = Store::open(&path).unwrap();
        drop(s);
        let s = Store::open(&path).unwrap();
        s.exec_raw("INSERT INTO disabled_channels VALUES ('x', 1, 'y')");
        #[cfg(unix)]
        for suffix in ["", "-wal", "-shm"] {
            use std::os::unix::fs::PermissionsExt;
            let p = format!("{}{suffix}", path.display());
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{p}");
        }
        let v: i64 = s
            .run("test", |ex| {
                ex.query_one("PRAGMA user_version", &[], |r| r.get(0))
            })
            .unwrap();
        assert_eq!(v, Store::SCHEMA_VERSION);
        let mode: String = s
            .run("test", |ex| {
                ex.query_one("PRAGMA journal_mode", &[], |r| r.get(0))
            })
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

    #[test]
    fn postgres_refuses_a_newer_schema_without_showing_the_password() {
        let Some(at) = testing::pg_location("postgres_refuses_a_newer_schema") else {
            return;
        };
        let s = Store::open(&at).unwrap();
        s.exec_raw("INSERT INTO keywarden_migrations VALUES (99, 0)");
        drop(s);
        let Location::Postgres { url, .. } = &at else {
            unreachable!()
        };
        // Another URL for the same database: this process has not migrated that one yet.
        let again = Secret::new(format!("{}?application_name=newer", url.expose()));
        let e = pg::connect(&again, &pg_migrations()).map(drop).unwrap_err();
        let e = location_error(&at, "connecting to PostgreSQL", e).to_string();
        assert!(e.contains("schema version 99"), "{e}");
        assert!(e.contains("upgrade keywarden"), "{e}");
        let password = testing::pg_server::server().unwrap().password();
        assert!(!e.contains(password), "{e}");
    }

    #[test]
    fn an_unreachable_or_refusing_server_is_an_error_without_the_password() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let at = Location::postgres(Secret::new(format!(
            "postgresql://kw:hunter2pw@127.0.0.1:{port}/kw?connect_timeout=5"
        )));
        let e = Store::open(&at).unwrap_err().to_string();
        assert!(e.contains("connecting to PostgreSQL"), "{e}");
        assert!(!e.contains("hunter2pw"), "{e}");
        let Some(at) = testing::pg_location("wrong_password") else {
            return;
        };
        let Location::Postgres { url, .. } = &at else {
            unreachable!()
        };
        let password = testing::pg_server::server().unwrap().password();
        let wrong = url.expose().replace(password, "hunter2pw");
        let e = Store::open(&Location::postgres(Secret::new(wrong)))
            .unwrap_err()
            .to_string();
        assert!(e.contains("password authentication failed"), "{e}");
        assert!(!e.contains("hunter2pw") && !e.contains(password), "{e}");
    }

    #[test]
    fn both_backends_have_the_same_migrations_and_columns() {
        assert_eq!(pg_migrations().len(), MIGRATIONS.len());
        for (i, m) in PG_MIGRATIONS.split("\n-- migration ").skip(1).enumerate() {
            assert!(m.starts_with(&format!("{}\n", i + 1)), "{m}");
        }
        assert!(pg_migrations().iter().all(|m| m.contains("CREATE TABLE")));
        let Some(at) = testing::pg_location("same_columns") else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let columns = |s: &Store| -> Vec<(String, String)> {
            s.run("test", |ex| {
                let sql = if ex.is_pg() {
                    "SELECT table_name::text, column_name::text FROM information_schema.columns \
                     WHERE table_schema = 'public' AND table_name != 'keywarden_migrations' \
                     ORDER BY 1, 2"
                } else {
                    "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p \
                     WHERE m.type = 'table' ORDER BY 1, 2"
                };
                ex.query(sql, &[], |r| Ok((r.get(0)?, r.get(1)?)))
            })
            .unwrap()
        };
        let lite = columns(&Store::open(&dir.path().join("s.db")).unwrap());
        assert_eq!(lite, columns(&Store::open(&at).unwrap()));
    }
}
