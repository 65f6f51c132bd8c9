//! A real PostgreSQL server for the tests: `initdb` and `postgres` in a temporary
//! directory, listening on a free loopback port, with password (SCRAM) authentication.
//! PostgreSQL refuses to run as root, and CI runs as root: then the server runs as an
//! unprivileged user (`KEYWARDEN_PG_USER`, else `postgres` as the Debian package creates
//! it, else `nobody`) through `runuser`.
//!
//! One server per test process, started on first use. It is run by a small shell that
//! waits on a pipe from this process: when the test process ends (however it ends) the
//! pipe closes, the shell stops the server and removes the directory, so no server
//! outlives its tests. The binaries are found in `KEYWARDEN_PG_BIN`, else the newest
//! `/usr/lib/postgresql/<version>/bin`, else on `PATH`. Without them the tests are
//! skipped, or fail when `CI` is set (`.ci/run` installs the `postgresql` package).
//!
//! Shared by the library's unit tests (`src/store/testing.rs`) and the integration tests.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The user tests connect as.
pub const USER: &str = "kw";

/// A running server.
pub struct PgServer {
    port: u16,
    password: String,
    dir: PathBuf,
    /// The shell holding the server; its stdin is the pipe that keeps it alive.
    _keeper: Child,
}

/// The server of this test process, or `None` (with a note on stderr) when PostgreSQL
/// is not installed and `CI` is not set.
pub fn server() -> Option<&'static PgServer> {
    static SERVER: OnceLock<Option<PgServer>> = OnceLock::new();
    SERVER
        .get_or_init(|| match bin_dir() {
            Some(bin) => Some(start(&bin, None)),
            None => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "PostgreSQL (initdb, postgres) is not installed, and CI is set: .ci/run must install it"
                );
                None
            }
        })
        .as_ref()
}

/// A second server of this test process that speaks TLS only, with a certificate for
/// 127.0.0.1 issued by a private CA (rcgen); returns it and the CA's PEM. `None` as for
/// [`server`].
pub fn tls_server() -> Option<&'static (PgServer, String)> {
    static SERVER: OnceLock<Option<(PgServer, String)>> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            server()?;
            let bin = bin_dir()?;
            let ca_key = rcgen::KeyPair::generate().unwrap();
            let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
            ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            ca_params
                .distinguished_name
                .push(rcgen::DnType::CommonName, "keywarden test CA");
            let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
            let key = rcgen::KeyPair::generate().unwrap();
            let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
                .unwrap()
                .signed_by(&key, &ca)
                .unwrap();
            let tls = Tls {
                cert: cert.pem(),
                key: key.serialize_pem(),
            };
            Some((start(&bin, Some(&tls)), ca.pem()))
        })
        .as_ref()
}

/// A server certificate and its key (PEM).
struct Tls {
    cert: String,
    key: String,
}

/// Prints that a test was skipped for want of PostgreSQL (see [`server`]).
pub fn skipped(test: &str) {
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: PostgreSQL is not installed (apt-get install postgresql)"
    );
}

impl PgServer {
    /// A URL for a new, empty database of its own.
    pub fn fresh_db(&self) -> String {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "kw_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = postgres::Client::connect(&self.url("postgres"), postgres::NoTls)
            .expect("connecting to the test server");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("creating a test database");
        self.url(&name)
    }

    /// The URL of database `db`, with the password.
    pub fn url(&self, db: &str) -> String {
        url_of(&self.password, self.port, db)
    }

    /// The password (to check that it is stored nowhere).
    pub fn password(&self) -> &str {
        &self.password
    }

    /// The loopback port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's directory (its log is `log` in it).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn bin_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("KEYWARDEN_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .find(|d| d.join("initdb").is_file() && d.join("postgres").is_file())
}

/// The effective uid, from `/proc/self/status` (no libc needed for one number).
fn euid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// The user to run the server as when we are root: its name, uid and gid.
fn unprivileged_user() -> (String, u32, u32) {
    let candidates = std::env::var("KEYWARDEN_PG_USER")
        .map(|u| vec![u])
        .unwrap_or_else(|_| vec!["postgres".into(), "nobody".into()]);
    for name in candidates {
        let id = |flag: &str| -> Option<u32> {
            let out = Command::new("id").args([flag, &name]).output().ok()?;
            String::from_utf8(out.stdout).ok()?.trim().parse().ok()
        };
        if let (Some(uid), Some(gid)) = (id("-u"), id("-g")) {
            return (name, uid, gid);
        }
    }
    panic!("running as root, and no unprivileged user (postgres, nobody) to run PostgreSQL as")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding a loopback port")
}

fn start(bin: &Path, tls: Option<&Tls>) -> PgServer {
    let dir = tempfile::Builder::new()
        .prefix("keywarden-pg-")
        .tempdir()
        .expect("creating the server's directory")
        .keep();
    let password = format!(
        "pw{:016x}{:016x}",
        rand::random::<u64>(),
        rand::random::<u64>()
    );
    std::fs::write(dir.join("pw"), &password).unwrap();
    let mut files = vec![dir.clone(), dir.join("pw")];
    // TLS only, but for the `postgres` database the harness administers over plain TCP;
    // the key readable by the server's user alone.
    let ssl = match tls {
        None => String::new(),
        Some(t) => {
            use std::os::unix::fs::PermissionsExt;
            std::fs::write(dir.join("server.crt"), &t.cert).unwrap();
            std::fs::write(dir.join("server.key"), &t.key).unwrap();
            std::fs::set_permissions(
                dir.join("server.key"),
                std::fs::Permissions::from_mode(0o600),
            )
            .unwrap();
            std::fs::write(
                dir.join("pg_hba.conf"),
                "local all all trust\nhost postgres all 127.0.0.1/32 scram-sha-256\nhostssl all all 127.0.0.1/32 scram-sha-256\n",
            )
            .unwrap();
            files.extend(["server.crt", "server.key", "pg_hba.conf"].map(|f| dir.join(f)));
            format!(
                "-c ssl=on -c ssl_cert_file={d}/server.crt -c ssl_key_file={d}/server.key -c hba_file={d}/pg_hba.conf",
                d = dir.display()
            )
        }
    };
    let as_user = (euid() == Some(0)).then(unprivileged_user);
    if let Some((_, uid, gid)) = &as_user {
        for p in &files {
            std::os::unix::fs::chown(p, Some(*uid), Some(*gid))
                .expect("handing the directory over");
        }
    }
    let port = free_port();
    // fsync off: a test server's data need not survive a power cut.
    let script = r#"
        D="$1"; BIN="$2"; PORT="$3"; SSL="$4"
        "$BIN/initdb" -D "$D/data" -U kw --pwfile="$D/pw" --auth-host=scram-sha-256 \
            --auth-local=trust -E UTF8 --locale=C --no-sync >"$D/initdb.log" 2>&1 || exit 1
        "$BIN/postgres" -D "$D/data" -p "$PORT" -c listen_addresses=127.0.0.1 \
            -c unix_socket_directories= -c fsync=off -c synchronous_commit=off \
            -c full_page_writes=off -c max_connections=300 $SSL >"$D/log" 2>&1 &
        pid=$!
        cat >/dev/null
        kill -INT "$pid"; wait "$pid"; rm -rf "$D"
    "#;
    let sh_args = [
        "-c",
        script,
        "sh",
        dir.to_str().unwrap(),
        bin.to_str().unwrap(),
        &port.to_string(),
        &ssl,
    ];
    let mut cmd = match &as_user {
        Some((name, ..)) => {
            let mut c = Command::new("runuser");
            c.args(["-u", name, "--", "sh"]).args(sh_args);
            c
        }
        None => {
            let mut c = Command::new("sh");
            c.args(sh_args);
            c
        }
    };
    let mut keeper = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting PostgreSQL's keeper shell");
    let admin = url_of(&password, port, "postgres");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if postgres::Client::connect(&admin, postgres::NoTls).is_ok() {
            break;
        }
        let exited = keeper.try_wait().ok().flatten();
        if exited.is_some() || Instant::now() > deadline {
            let mut err = String::new();
            if let Some(mut e) = keeper.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            let log = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_default();
            panic!(
                "PostgreSQL did not start on 127.0.0.1:{port} ({exited:?}): {err}\n{}\n{}",
                log("initdb.log"),
                log("log")
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    PgServer {
        port,
        password,
        dir,
        _keeper: keeper,
    }
}

fn url_of(password: &str, port: u16, db: &str) -> String {
    format!("postgresql://{USER}:{password}@127.0.0.1:{port}/{db}")
}
