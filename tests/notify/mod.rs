//! Notifications end to end: `keywarden scan --notify` and `keywarden outbox` against a
//! real SMTP server (aiosmtpd, started as a subprocess with STARTTLS or implicit TLS and
//! AUTH) and a real HTTP receiver on 127.0.0.1.

mod email;
mod outbox;
mod webhook;

use crate::util::*;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as StdCommand, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Request {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub status: u16,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

#[derive(Default)]
struct State {
    script: VecDeque<u16>,
    default: u16,
    requests: Vec<Request>,
}

/// A small HTTP/1.1 receiver: answers with the scripted statuses, then the default one,
/// and records every request. Status 0 never answers (for timeouts); 3xx answers point
/// elsewhere with `location`; 429 asks for `retry-after: 30`.
pub struct Receiver {
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl Receiver {
    pub fn start(script: &[u16], default: u16) -> Receiver {
        Self::start_with(script, default, None)
    }

    /// The same over TLS (rustls, ring) with a certificate for 127.0.0.1; returns the
    /// receiver and the certificate (PEM) to trust.
    pub fn start_tls(script: &[u16], default: u16) -> (Receiver, String) {
        let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
        let pem = cert.cert.pem();
        let key =
            rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .unwrap();
        (
            Self::start_with(script, default, Some(Arc::new(config))),
            pem,
        )
    }

    fn start_with(
        script: &[u16],
        default: u16,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let url = format!(
            "{scheme}://{}/hooks/keywarden",
            listener.local_addr().unwrap()
        );
        let state = Arc::new(Mutex::new(State {
            script: script.iter().copied().collect(),
            default,
            requests: Vec::new(),
        }));
        let s = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let s = s.clone();
                let tls = tls.clone();
                std::thread::spawn(move || {
                    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
                    match tls {
                        None => {
                            let _ = serve(conn, &s);
                        }
                        Some(cfg) => {
                            let Ok(server) = rustls::ServerConnection::new(cfg) else {
                                return;
                            };
                            let _ = serve(rustls::StreamOwned::new(server, conn), &s);
                        }
                    }
                });
            }
        });
        Receiver { url, state }
    }
    pub fn set_default(&self, status: u16) {
        self.state.lock().unwrap().default = status;
    }
    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }
    /// Waits (failing after 60 s) until `n` requests arrived.
    pub fn wait_for(&self, n: usize) -> Vec<Request> {
        let start = Instant::now();
        loop {
            let r = self.requests();
            if r.len() >= n {
                return r;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "receiver got {} of {n} requests",
                r.len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn serve<S: Read + Write>(conn: S, state: &Mutex<State>) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    let status = {
        let mut s = state.lock().unwrap();
        let status = s.script.pop_front().unwrap_or(s.default);
        s.requests.push(Request {
            path,
            headers,
            body,
            status,
        });
        status
    };
    let conn = reader.get_mut();
    if status == 0 {
        // Never answer: the client's timeout must fire.
        std::thread::sleep(Duration::from_secs(5));
        return Ok(());
    }
    write!(
        conn,
        "HTTP/1.1 {status} X\r\nlocation: /elsewhere\r\n{}content-length: 2\r\nconnection: close\r\n\r\nok",
        if status == 429 {
            "retry-after: 30\r\n"
        } else {
            ""
        }
    )?;
    conn.flush()
}

/// aiosmtpd, or `None` (and a note) when it is not installed and `CI` is not set.
pub fn aiosmtpd_available() -> bool {
    let ok = StdCommand::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "aiosmtpd is missing: `python3 -m pip install aiosmtpd` (.ci/run installs it)"
        );
        crate::util::skipped(
            "notify",
            "aiosmtpd is not installed (python3 -m pip install aiosmtpd)",
        );
    }
    ok
}

/// A running aiosmtpd with a fresh self-signed certificate for 127.0.0.1.
pub struct Smtp {
    child: Child,
    pub port: u16,
    pub out: PathBuf,
    pub ca: PathBuf,
}

pub const SMTP_USER: &str = "keywarden";
pub const SMTP_PASSWORD: &str = "s3cret-smtp-pw";

impl Smtp {
    pub fn start(dir: &Path, mode: &str, fail_first: u32, fail_reply: &str) -> Smtp {
        let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
        let ca = dir.join("smtp-cert.pem");
        let key = dir.join("smtp-key.pem");
        std::fs::write(&ca, cert.cert.pem()).unwrap();
        std::fs::write(&key, cert.signing_key.serialize_pem()).unwrap();
        let out = dir.join("smtp-out");
        std::fs::create_dir_all(&out).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_server.py");
        let mut child = StdCommand::new("python3")
            .arg(script)
            .args([
                "--mode",
                mode,
                "--user",
                SMTP_USER,
                "--password",
                SMTP_PASSWORD,
            ])
            .arg("--cert")
            .arg(&ca)
            .arg("--key")
            .arg(&key)
            .arg("--out")
            .arg(&out)
            .args([
                "--fail-first",
                &fail_first.to_string(),
                "--fail-reply",
                fail_reply,
            ])
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join("smtp-stderr.log")).unwrap())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .strip_prefix("READY ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("aiosmtpd did not start: {line:?}"));
        Smtp {
            child,
            port,
            out,
            ca,
        }
    }

    /// The recorded messages (parsed by Python's email package), in order.
    pub fn messages(&self) -> Vec<(serde_json::Value, Vec<u8>)> {
        let mut out = Vec::new();
        for n in 1.. {
            let j = self.out.join(format!("{n}.json"));
            if !j.exists() {
                break;
            }
            let v = serde_json::from_slice(&std::fs::read(&j).unwrap()).unwrap();
            let raw = std::fs::read(self.out.join(format!("{n}.eml"))).unwrap();
            out.push((v, raw));
        }
        out
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A tree with two leaked keys, and a service config.
pub struct Setup {
    pub tree: Tree,
    pub config: PathBuf,
    pub env: Vec<(String, String)>,
}

impl Setup {
    /// `notify` is the TOML of the channels and `[notify.retry]`.
    pub fn new(notify: &str) -> Setup {
        let tree = Tree::new();
        tree.write("app/.env.production", format!("MASK_KEY={LIVE}\n"));
        tree.write("app/public/app.js", format!("const k = \"{LIVE2}\";\n"));
        let config = tree.write(
            "etc/keywarden.toml",
            format!("[state]\npath = \"state/keywarden.db\"\n\n{notify}"),
        );
        Setup {
            tree,
            config,
            env: Vec::new(),
        }
    }

    /// Sets an environment variable for every command.
    pub fn env(mut self, k: &str, v: &str) -> Setup {
        self.env.push((k.into(), v.into()));
        self
    }

    /// `keywarden ARGS` in the tree, with the test secrets in the environment.
    pub fn cmd(&self) -> assert_cmd::Command {
        let mut c = self.tree.cmd();
        c.env("KW_TEST_SMTP_PASSWORD", SMTP_PASSWORD)
            .env("KW_TEST_WEBHOOK_SECRET", WEBHOOK_SECRETS)
            .env_remove("KEYWARDEN_SERVICE_CONFIG");
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    /// The same as a std command (to kill it).
    pub fn std_cmd(&self, args: &[&str]) -> StdCommand {
        let mut c = StdCommand::new(assert_cmd::cargo::cargo_bin("keywarden"));
        c.current_dir(self.tree.path())
            .args(args)
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .env("KW_TEST_SMTP_PASSWORD", SMTP_PASSWORD)
            .env("KW_TEST_WEBHOOK_SECRET", WEBHOOK_SECRETS);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    pub fn state_db(&self) -> PathBuf {
        self.tree.path().join("etc/state/keywarden.db")
    }

    /// `keywarden scan app --notify --service-config etc/keywarden.toml`.
    pub fn scan_notify(&self) -> std::process::Output {
        self.cmd()
            .args(["scan", "app", "--notify", "--service-config"])
            .arg(&self.config)
            .output()
            .unwrap()
    }

    /// `keywarden outbox ARGS --config etc/keywarden.toml`.
    pub fn outbox(&self, args: &[&str]) -> std::process::Output {
        self.cmd()
            .arg("outbox")
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .output()
            .unwrap()
    }

    /// `outbox list --all --format json`'s messages.
    pub fn outbox_rows(&self) -> Vec<serde_json::Value> {
        let out = self.outbox(&["list", "--all", "--format", "json"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["messages"].as_array().unwrap().clone()
    }

    /// Asserts that no file of the state store holds a full key.
    pub fn assert_store_has_no_secret(&self) {
        let db = self.state_db();
        assert!(db.exists(), "no state store at {}", db.display());
        for suffix in ["", "-wal", "-shm"] {
            let p = PathBuf::from(format!("{}{suffix}", db.display()));
            if suffix.is_empty() || p.exists() {
                let bytes = std::fs::read(&p).unwrap();
                assert_no_secret(&p.display().to_string(), &bytes);
                assert!(
                    !String::from_utf8_lossy(&bytes).contains(SMTP_PASSWORD),
                    "the store holds the SMTP password"
                );
            }
        }
    }
}

/// Two signing secrets (rotation): `whsec_` + base64 of these keys.
pub const WEBHOOK_KEY_OLD: &[u8] = b"old-signing-key-0123456789abcdef";
pub const WEBHOOK_KEY_NEW: &[u8] = b"new-signing-key-0123456789abcdef";
pub const WEBHOOK_SECRETS: &str = "whsec_b2xkLXNpZ25pbmcta2V5LTAxMjM0NTY3ODlhYmNkZWY= whsec_bmV3LXNpZ25pbmcta2V5LTAxMjM0NTY3ODlhYmNkZWY=";

/// The `[[notify.webhook]]` TOML for a receiver URL (in env `var`).
pub fn webhook_toml(name: &str, var: &str, extra: &str) -> String {
    format!(
        "[[notify.webhook]]\nname = \"{name}\"\nurl = {{ env = \"{var}\" }}\nsecret = {{ env = \"KW_TEST_WEBHOOK_SECRET\" }}\ntimeout_secs = 2\n{extra}\n"
    )
}

/// Fast retries for tests.
pub const FAST_RETRY: &str = "[notify.retry]\nbase_delay_ms = 40\nmax_delay_ms = 200\nmax_attempts = 6\nrun_budget_ms = 20000\n";
