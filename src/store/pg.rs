//! PostgreSQL connections: TLS (rustls, ring) when the server offers it, a small pool per
//! URL (the daemon opens the store for each step of a job; a new connection costs a TCP
//! handshake and SCRAM), prepared statements kept per connection, and versioned
//! migrations under an advisory lock so daemons starting together migrate once.

use super::sql::{DbError, DbResult, dollar};
use crate::notify::config::Secret;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Mutex, OnceLock};

/// Idle connections kept per URL.
const POOL_MAX: usize = 8;
/// Prepared statements kept per connection (the store has a few dozen fixed texts; the
/// rest vary with a list's length).
const STMT_MAX: usize = 256;
/// The advisory lock key taken while migrating ("keywarden" in a 64-bit number).
const MIGRATION_LOCK: i64 = 0x6b65_7977_6172_646e;

struct Idle {
    client: postgres::Client,
    stmts: HashMap<String, postgres::Statement>,
}

fn pool() -> &'static Mutex<HashMap<String, Vec<Idle>>> {
    static POOL: OnceLock<Mutex<HashMap<String, Vec<Idle>>>> = OnceLock::new();
    POOL.get_or_init(Default::default)
}

fn migrated() -> &'static Mutex<HashSet<String>> {
    static DONE: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    DONE.get_or_init(Default::default)
}

/// An open connection; back to the pool when dropped, unless it broke.
pub(crate) struct PgConn {
    idle: Option<Idle>,
    url: String,
    poisoned: bool,
}

impl std::fmt::Debug for PgConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PgConn")
    }
}

impl Drop for PgConn {
    fn drop(&mut self) {
        let Some(idle) = self.idle.take() else { return };
        if self.poisoned || idle.client.is_closed() {
            // Closing sends a Terminate on the connection's own runtime: off any runtime.
            off_runtime(move || drop(idle));
            return;
        }
        let mut pool = pool().lock().unwrap_or_else(|p| p.into_inner());
        let idle_list = pool.entry(self.url.clone()).or_default();
        if idle_list.len() < POOL_MAX {
            idle_list.push(idle);
        } else {
            drop(pool);
            off_runtime(move || drop(idle));
        }
    }
}

/// A checked URL: the driver's settings, and the private CA to trust instead of the
/// public roots (`sslrootcert=FILE`, as libpq spells it), if any.
pub(super) struct Parsed {
    config: postgres::Config,
    ca: Option<PathBuf>,
}

/// Checks a `postgresql://` URL without connecting; the error never repeats the URL.
/// `sslrootcert=FILE` (which the driver does not know) is taken out of the query: the
/// server's certificate must then chain to that PEM file's CA, and TLS is required
/// unless `sslmode` says otherwise.
pub(super) fn parse(url: &str) -> std::result::Result<Parsed, String> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err("the URL does not start with postgresql://".into());
    }
    let (url, ca) = take_root_cert(url);
    let mut config = postgres::Config::from_str(&url)
        .map_err(|e| crate::redact::scrub(&e.to_string()).into_owned())?;
    if let Some(ca) = &ca {
        if ca.as_os_str().is_empty() {
            return Err("sslrootcert is empty: name a PEM file with the server's CA".into());
        }
        if !url.contains("sslmode=") {
            config.ssl_mode(postgres::config::SslMode::Require);
        }
    }
    Ok(Parsed { config, ca })
}

impl Parsed {
    /// The private CA file named by `sslrootcert`.
    pub(super) fn ca(&self) -> Option<&std::path::Path> {
        self.ca.as_deref()
    }
}

/// `url` without its `sslrootcert` parameter, and that parameter's value (decoded).
fn take_root_cert(url: &str) -> (String, Option<PathBuf>) {
    let Some((head, query)) = url.split_once('?') else {
        return (url.to_string(), None);
    };
    let mut ca = None;
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            if k != "sslrootcert" {
                return true;
            }
            let v: String = url::form_urlencoded::parse(format!("v={v}").as_bytes())
                .map(|(_, v)| v.into_owned())
                .next()
                .unwrap_or_default();
            ca = Some(PathBuf::from(v));
            false
        })
        .collect();
    if kept.is_empty() {
        (head.to_string(), ca)
    } else {
        (format!("{head}?{}", kept.join("&")), ca)
    }
}

/// The URL without its password or query: what logs, errors and `status` show.
pub(super) fn display(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        }
        Err(_) => "postgresql://(unparsable URL)".into(),
    }
}

/// A connection to `url` (pooled, else new), migrated with `migrations` once per process.
pub(super) fn connect(url: &Secret, migrations: &[&str]) -> DbResult<PgConn> {
    let key = url.expose().to_string();
    let reused = {
        let mut pool = pool().lock().unwrap_or_else(|p| p.into_inner());
        pool.get_mut(&key).and_then(Vec::pop)
    };
    let idle = match reused {
        Some(idle) => idle,
        None => {
            let parsed = parse(&key).map_err(DbError::Other)?;
            let tls = tls(parsed.ca()).map_err(DbError::Other)?;
            let client = off_runtime(move || parsed.config.connect(tls))?;
            Idle {
                client,
                stmts: HashMap::new(),
            }
        }
    };
    let mut conn = PgConn {
        idle: Some(idle),
        url: key.clone(),
        poisoned: false,
    };
    let done = migrated()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .contains(&key);
    if !done {
        migrate(&mut conn, migrations)?;
        migrated()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key);
    }
    Ok(conn)
}

/// TLS trusting Mozilla's roots, or only the certificates of the PEM file `ca`.
fn tls(
    ca: Option<&std::path::Path>,
) -> std::result::Result<tokio_postgres_rustls::MakeRustlsConnect, String> {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    crate::tls::install_provider();
    let roots = match ca {
        None => rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        },
        Some(path) => {
            let why = |e: String| format!("sslrootcert {}: {e}", path.display());
            let pem = crate::bounded::read(path).map_err(|e| why(e.to_string()))?;
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| why(format!("not a PEM certificate: {e}")))?;
                roots.add(cert).map_err(|e| why(e.to_string()))?;
            }
            if roots.is_empty() {
                return Err(why("no certificate in the file".into()));
            }
            roots
        }
    };
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// Applies the missing migrations in one transaction holding an advisory lock: a second
/// daemon starting at the same moment waits, then finds nothing left to do.
fn migrate(c: &mut PgConn, migrations: &[&str]) -> DbResult<()> {
    c.batch("BEGIN")?;
    let r = (|| {
        c.query(
            "SELECT pg_advisory_xact_lock(?1)",
            &[&MIGRATION_LOCK as &(dyn postgres::types::ToSql + Sync)],
        )?;
        c.batch(
            "CREATE TABLE IF NOT EXISTS keywarden_migrations \
             (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        )?;
        let rows = c.query(
            "SELECT COALESCE(MAX(version), 0) FROM keywarden_migrations",
            &[],
        )?;
        let version: i64 = rows.first().map(|r| r.try_get(0)).transpose()?.unwrap_or(0);
        if version > migrations.len() as i64 {
            return Err(DbError::Other(format!(
                "schema version {version} is newer than this keywarden understands ({})",
                migrations.len()
            )));
        }
        for (i, sql) in migrations.iter().enumerate().skip(version as usize) {
            c.batch(sql)?;
            let v = (i + 1) as i64;
            let now = super::now_ms();
            c.execute(
                "INSERT INTO keywarden_migrations (version, applied_at) VALUES (?1, ?2)",
                &[&v, &now],
            )?;
        }
        Ok(())
    })();
    match r {
        Ok(()) => c.batch("COMMIT"),
        Err(e) => {
            if c.batch("ROLLBACK").is_err() {
                c.poison();
            }
            Err(e)
        }
    }
}

impl PgConn {
    fn idle(&mut self) -> &mut Idle {
        self.idle
            .as_mut()
            .expect("a PgConn holds its connection until dropped")
    }

    /// Marks the connection as not to be reused (its transaction state is unknown).
    pub(super) fn poison(&mut self) {
        self.poisoned = true;
    }

    fn statement(&mut self, sql: &str) -> DbResult<postgres::Statement> {
        let sql = dollar(sql);
        let idle = self.idle();
        if let Some(st) = idle.stmts.get(&sql) {
            return Ok(st.clone());
        }
        if idle.stmts.len() >= STMT_MAX {
            idle.stmts.clear();
        }
        let client = &mut idle.client;
        let st = off_runtime(|| client.prepare(&sql));
        let st = self.check(st)?;
        self.idle().stmts.insert(sql, st.clone());
        Ok(st)
    }

    fn check<T>(&mut self, r: Result<T, postgres::Error>) -> DbResult<T> {
        r.map_err(|e| {
            if e.is_closed() {
                self.poisoned = true;
            }
            DbError::Pg(e)
        })
    }

    pub(super) fn execute(
        &mut self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> DbResult<u64> {
        let st = self.statement(sql)?;
        let client = &mut self.idle().client;
        let r = off_runtime(|| client.execute(&st, params));
        self.check(r)
    }

    pub(super) fn query(
        &mut self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> DbResult<Vec<postgres::Row>> {
        let st = self.statement(sql)?;
        let client = &mut self.idle().client;
        let r = off_runtime(|| client.query(&st, params));
        self.check(r)
    }

    pub(super) fn batch(&mut self, sql: &str) -> DbResult<()> {
        let client = &mut self.idle().client;
        let r = off_runtime(|| client.batch_execute(sql));
        self.check(r)
    }
}

/// Runs blocking driver code where blocking is allowed. The sync client drives its
/// connection on a runtime of its own, which tokio forbids inside a task: a
/// multi-threaded runtime lends the thread (`block_in_place`), a current-thread one gets
/// a scoped thread; outside any runtime it simply runs.
pub(super) fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Err(_) => f(),
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        Ok(_) => std::thread::scope(|s| match s.spawn(f).join() {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_shown_without_the_password() {
        assert!(parse("postgresql://kw:pw@127.0.0.1:5432/kw").is_ok());
        assert!(parse("mysql://kw:pw@host/kw").is_err());
        let shown = display("postgresql://kw:s3cr3t@db.example:5432/kw?sslmode=require");
        assert_eq!(shown, "postgresql://kw@db.example:5432/kw");
        assert!(!display("postgres://kw:s3cr3t@[::1/kw").contains("s3cr3t"));
    }

    #[test]
    fn sslrootcert_names_a_private_ca_and_requires_tls() {
        use postgres::config::SslMode;
        let p = parse("postgresql://kw:pw@db:5432/kw?sslrootcert=%2Fetc%2Fca%20x.pem").unwrap();
        assert_eq!(p.ca(), Some(std::path::Path::new("/etc/ca x.pem")));
        assert_eq!(p.config.get_ssl_mode(), SslMode::Require);
        let p =
            parse("postgresql://kw:pw@db/kw?sslmode=disable&sslrootcert=/ca.pem&connect_timeout=5")
                .unwrap();
        assert_eq!(p.ca(), Some(std::path::Path::new("/ca.pem")));
        assert_eq!(p.config.get_ssl_mode(), SslMode::Disable);
        assert_eq!(
            p.config.get_connect_timeout(),
            Some(&std::time::Duration::from_secs(5))
        );
        let p = parse("postgresql://kw:pw@db/kw").unwrap();
        assert_eq!((p.ca(), p.config.get_ssl_mode()), (None, SslMode::Prefer));
        assert!(parse("postgresql://kw:pw@db/kw?sslrootcert=").is_err());
        let e = tls(Some(std::path::Path::new("/nonexistent/ca.pem")))
            .err()
            .unwrap();
        assert!(e.contains("sslrootcert /nonexistent/ca.pem"), "{e}");
    }
}
