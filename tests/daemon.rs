//! `keywarden daemon` end to end: the real binary with `NOTIFY_SOCKET` on a Unix datagram
//! socket the test reads, a watched directory, SIGHUP (valid and broken config), SIGTERM,
//! SIGKILL and restart; a per-second audit against a fake MASK API on loopback whose
//! report arrives by email (aiosmtpd) and webhook. Also `config check` and `status`.

use crate::notify::{Receiver, Smtp, aiosmtpd_available, webhook_toml};
use crate::util::*;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

/// Polls `f` until it returns `Some` (failing after 60 s: a generous bound, not a timing
/// assertion).
pub(crate) fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A running daemon with its notify socket and log file.
pub(crate) struct Daemon {
    pub(crate) child: Child,
    sock: UnixDatagram,
    log: PathBuf,
}

impl Daemon {
    pub(crate) fn start(tree: &Tree, config: &Path, env: &[(&str, &str)], n: usize) -> Daemon {
        let sock_path = tree.path().join(format!("notify-{n}.sock"));
        let sock = UnixDatagram::bind(&sock_path).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let log = tree.path().join(format!("daemon-{n}.log"));
        let mut c = StdCommand::new(assert_cmd::cargo::cargo_bin("keywarden"));
        c.current_dir(tree.path())
            .args(["daemon", "--config"])
            .arg(config)
            .env("NOTIFY_SOCKET", &sock_path)
            .env("RUST_LOG", "keywarden=debug")
            .env("NO_COLOR", "1")
            .env_remove("JOURNAL_STREAM")
            .env_remove("WATCHDOG_USEC")
            .env_remove("MASK_API_KEY")
            .env_remove("CREDENTIALS_DIRECTORY")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        for (k, v) in env {
            c.env(k, v);
        }
        let child = c.spawn().unwrap();
        Daemon { child, sock, log }
    }

    /// Reads notifications until one contains `what`; returns it.
    pub(crate) fn expect(&self, what: &str) -> String {
        let mut buf = vec![0; 4096];
        loop {
            let n = self.sock.recv(&mut buf).unwrap_or_else(|e| {
                panic!("no {what} from the daemon ({e}); log:\n{}", self.log_text())
            });
            let msg = String::from_utf8_lossy(&buf[..n]).to_string();
            if msg.lines().any(|l| l == what) {
                return msg;
            }
        }
    }

    pub(crate) fn signal(&self, sig: &str) {
        let ok = StdCommand::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub(crate) fn wait(&mut self) -> Option<i32> {
        let start = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.code();
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "daemon did not exit"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn status(tree: &Tree, config: &Path) -> serde_json::Value {
    let out = tree
        .cmd()
        .args(["status", "--format", "json", "--config"])
        .arg(config)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_no_secret("status", &out.stdout);
    serde_json::from_slice(&out.stdout).unwrap()
}

fn bodies(rx: &Receiver) -> String {
    rx.requests()
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).to_string())
        .collect()
}

pub(crate) fn outbox_rows(tree: &Tree, config: &Path) -> Vec<serde_json::Value> {
    let out = tree
        .cmd()
        .args(["outbox", "list", "--all", "--format", "json", "--config"])
        .arg(config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["messages"].as_array().unwrap().clone()
}

fn assert_files_have_no_secret(dir: &Path) {
    assert!(dir.is_dir(), "{} is not a directory", dir.display());
    for e in files_under(dir) {
        if e.extension().is_some_and(|x| x == "db" || x == "log")
            || e.to_string_lossy().ends_with("-wal")
        {
            assert_no_secret(&e.display().to_string(), &std::fs::read(&e).unwrap());
        }
    }
}

const WATCH_CONFIG: &str = "[state]\npath = \"state/kw.db\"\n\n[daemon]\ndebounce_secs = 1\n\n[[daemon.scan]]\nname = \"watched\"\npaths = [\"../watched\"]\nwatch = true\n\n";

#[test]
fn ready_watch_alert_sighup_valid_and_broken_sigterm() {
    let t = Tree::new();
    t.write("watched/README.md", "nothing here\n");
    let rx = Receiver::start(&[], 200);
    let hooks = webhook_toml("hooks", "KW_TEST_WEBHOOK_URL", "");
    let config = t.write("etc/keywarden.toml", format!("{WATCH_CONFIG}{hooks}"));
    let env = [
        ("KW_TEST_WEBHOOK_URL", rx.url.as_str()),
        ("KW_TEST_WEBHOOK_SECRET", crate::notify::WEBHOOK_SECRETS),
        // WatchdogSec=2s: pings every second.
        ("WATCHDOG_USEC", "2000000"),
    ];
    let mut d = Daemon::start(&t, &config, &env, 1);
    d.expect("READY=1");
    d.expect("WATCHDOG=1");
    // The start scan found nothing: no alert.
    eventually("the start scan", || {
        d.log_text().contains("job=\"scan:watched\"").then_some(())
    });
    assert!(rx.requests().is_empty());

    // A file gains a live key: alerted without waiting for a schedule (there is none).
    t.write("watched/.env.production", format!("MASK_KEY={LIVE}\n"));
    let all = eventually("the alert", || {
        let all = bodies(&rx);
        all.contains(".env.production").then_some(all)
    });
    assert!(all.contains("mk_live_4eC3…p7dc"), "{all}");

    // SIGHUP with a valid config: RELOADING=1 (with MONOTONIC_USEC), then READY=1.
    std::fs::write(
        &config,
        format!("{WATCH_CONFIG}{hooks}")
            .replace("debounce_secs = 1", "debounce_secs = 1\ndigest = false"),
    )
    .unwrap();
    d.signal("-HUP");
    let reloading = d.expect("RELOADING=1");
    assert!(reloading.contains("MONOTONIC_USEC="), "{reloading}");
    d.expect("READY=1");
    eventually("the reload log", || {
        d.log_text().contains("reloaded:").then_some(())
    });

    // SIGHUP with a broken config: rejected, the running one kept.
    std::fs::write(&config, "[daemon]\ncatchup = true\n").unwrap();
    d.signal("-HUP");
    d.expect("RELOADING=1");
    d.expect("READY=1");
    eventually("the rejection", || {
        d.log_text()
            .contains("rejected, the running one is kept")
            .then_some(())
    });
    let log = d.log_text();
    assert!(log.contains("did you mean `catch_up`?"), "{log}");
    // A config that parses but cannot start (a watched path that does not exist): the
    // running one is restarted.
    std::fs::write(
        &config,
        format!("{WATCH_CONFIG}{hooks}").replace("../watched", "../missing"),
    )
    .unwrap();
    d.signal("-HUP");
    d.expect("RELOADING=1");
    d.expect("READY=1");
    // `config check` and a reload run the same checks: refused before anything starts.
    eventually("the second rejection", || {
        let log = d.log_text();
        (log.matches("rejected, the running one is kept").count() == 2
            && log.contains("watched path"))
        .then_some(())
    });
    // Still watching with the old config: a critical finding is alerted too.
    t.write("watched/public/app.js", format!("const k = \"{LIVE2}\";\n"));
    eventually("the second alert", || {
        bodies(&rx).contains("public/app.js").then_some(())
    });

    // SIGTERM: STOPPING=1, exit 0.
    d.signal("-TERM");
    d.expect("STOPPING=1");
    assert_eq!(d.wait(), Some(0), "{}", d.log_text());

    // Restore a valid config for `status`; the state says what happened.
    std::fs::write(&config, format!("{WATCH_CONFIG}{hooks}")).unwrap();
    let st = status(&t, &config);
    assert_eq!(st["open_findings"]["high"], 1, "{st}");
    assert_eq!(st["open_findings"]["critical"], 1, "{st}");
    assert_eq!(st["jobs"][0]["job"], "scan:watched");
    assert_eq!(st["jobs"][0]["last_run"]["outcome"], "ok", "{st}");
    assert_eq!(st["outbox"]["pending"], 0, "{st}");
    assert!(st["outbox"]["delivered"].as_u64().unwrap() >= 2, "{st}");
    for r in rx.requests() {
        assert_no_secret("webhook", &r.body);
    }
    assert_no_secret("daemon log", d.log_text().as_bytes());
    assert_files_have_no_secret(t.path());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_second_audit_reports_by_email_and_webhook_once_across_sigkill() {
    if !aiosmtpd_available() {
        return;
    }
    use crate::mask_client::api_key;
    let server = crate::audit_cli::fake_api(vec![
        api_key(
            "key_me",
            "live",
            "9Mh4",
            &["workspace:read"],
            "2026-10-01T00:00:00Z",
            Some("2026-11-26T00:00:00Z"),
        ),
        api_key(
            "key_old",
            "live",
            "zzzz",
            &["links:read"],
            "2025-01-01T00:00:00Z",
            Some("2025-02-01T00:00:00Z"),
        ),
    ])
    .await;
    let t = Tree::new();
    // The first SMTP DATA and the first webhook fail transiently: still pending when killed.
    let smtp = Smtp::start(t.path(), "starttls", 1, "451 4.3.0 try again later");
    let rx = Receiver::start(&[503], 200);
    let retry = "[notify.retry]\nbase_delay_ms = 4000\nmax_delay_ms = 4000\nmax_attempts = 10\nrun_budget_ms = 300\n";
    let config = t.write(
        "etc/keywarden.toml",
        format!(
            "[state]\npath = \"state/kw.db\"\n\n[daemon]\ncatch_up = true\n\n[[daemon.workspace]]\nname = \"fake\"\nschedule = \"* * * * * *\"\napi_url = \"{}/v1\"\nkey = {{ env = \"KW_TEST_AUDIT_KEY\" }}\n\n[[notify.email]]\nname = \"security\"\nhost = \"127.0.0.1\"\nport = {}\ntls = \"starttls\"\nca_file = \"{}\"\nfrom = \"Keywarden <keywarden@example.com>\"\nto = [\"sec@example.com\"]\nusername = \"{}\"\npassword = {{ env = \"KW_TEST_SMTP_PASSWORD\" }}\ntimeout_secs = 3\n\n{}{}",
            server.uri(),
            smtp.port,
            smtp.ca.display(),
            crate::notify::SMTP_USER,
            webhook_toml("hooks", "KW_TEST_WEBHOOK_URL", "events = [\"keywarden.report\"]")
                .replace("timeout_secs = 5", "timeout_secs = 3"),
            retry
        ),
    );
    let check = t
        .cmd()
        .args(["config", "check"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let env = [
        ("KW_TEST_AUDIT_KEY", LIVE2),
        ("KW_TEST_SMTP_PASSWORD", crate::notify::SMTP_PASSWORD),
        ("KW_TEST_WEBHOOK_URL", rx.url.as_str()),
        ("KW_TEST_WEBHOOK_SECRET", crate::notify::WEBHOOK_SECRETS),
    ];
    let (t2, config2) = (&t, config.clone());
    let mut d = Daemon::start(&t, &config, &env, 1);
    d.expect("READY=1");
    // Both messages were tried once and failed: pending, with an error recorded.
    let rows = eventually("two failed attempts", || {
        let rows = outbox_rows(t2, &config2);
        (rows.len() == 2 && rows.iter().all(|r| !r["last_error"].is_null())).then_some(rows)
    });
    assert!(rows.iter().all(|r| r["status"] == "pending"), "{rows:?}");
    d.child.kill().unwrap();
    d.child.wait().unwrap();
    let first_log = d.log_text();
    // Down for more than a second: at least one per-second tick is missed.
    std::thread::sleep(Duration::from_millis(1500));

    // Restart: the pending report is delivered, once per channel.
    let mut d = Daemon::start(&t, &config, &env, 2);
    d.expect("READY=1");
    let rows = eventually("delivery after the restart", || {
        let rows = outbox_rows(t2, &config2);
        rows.iter()
            .all(|r| r["status"] == "delivered")
            .then_some(rows)
    });
    // The per-second audit kept running (and caught up) without re-alerting.
    eventually("a few more audits", || {
        (d.log_text().matches("run ok: 2 keys").count() >= 3).then_some(())
    });
    assert!(
        d.log_text().contains("trigger=\"catch-up\""),
        "the ticks missed while killed run once at start: {}",
        d.log_text()
    );
    d.signal("-TERM");
    assert_eq!(d.wait(), Some(0));
    assert_eq!(
        rows.len(),
        2,
        "one report, one message per channel: {rows:?}"
    );
    assert_eq!(outbox_rows(&t, &config).len(), 2, "no report re-sent");
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1, "one email");
    let ok: Vec<_> = rx
        .requests()
        .into_iter()
        .filter(|r| r.status == 200)
        .collect();
    assert_eq!(ok.len(), 1, "one webhook delivered");
    let body = ok[0].json();
    assert_eq!(body["type"], "keywarden.report");
    for (what, bytes) in [
        ("first log", first_log.as_bytes().to_vec()),
        ("second log", d.log_text().into_bytes()),
        ("email", mails[0].1.clone()),
        ("webhook", ok[0].body.clone()),
    ] {
        assert_no_secret(what, &bytes);
    }
    let st = status(&t, &config);
    assert_eq!(st["jobs"][0]["job"], "audit:fake");
    assert_eq!(st["jobs"][0]["last_run"]["outcome"], "ok", "{st}");
    assert_files_have_no_secret(t.path());
}

#[test]
fn config_check_points_at_the_bad_field() {
    let t = Tree::new();
    let bad = t.write(
        "k.toml",
        "[daemon]\ntime_zone = \"UTC\"\n\n[[daemon.scan]]\nname = \"x\"\npaths = [\".\"]\nschedule = \"0 61 * * *\"\n",
    );
    let out = t
        .cmd()
        .args(["config", "check"])
        .arg(&bad)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("k.toml:7:12: [[daemon.scan]] schedule: bad cron expression \"0 61 * * *\""),
        "{err}"
    );

    let typo = t.write(
        "t.toml",
        "[daemon]\n\n[[daemon.workspace]]\nname = \"a\"\nshedule = \"@daily\"\n",
    );
    let out = t
        .cmd()
        .args(["config", "check"])
        .arg(&typo)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("t.toml:5:1: [[daemon.workspace]]: unknown field `shedule`"),
        "{err}"
    );
    assert!(err.contains("did you mean `schedule`?"), "{err}");

    let dup = t.write(
        "d.toml",
        "[[daemon.scan]]\nname = \"a\"\npaths = [\".\"]\nwatch = true\n[[daemon.scan]]\nname = \"a\"\npaths = [\".\"]\nwatch = true\n",
    );
    let out = t
        .cmd()
        .args(["config", "check"])
        .arg(&dup)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("the name \"a\" is used twice"), "{err}");

    // The example, with its paths moved to places that exist here (config check checks
    // that watched paths exist and that history paths are git repositories).
    let example = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/keywarden.toml"),
    )
    .unwrap();
    let repo = crate::util::git::Repo::new();
    std::fs::create_dir_all(t.path().join("app-config")).unwrap();
    let example = example
        .replace(
            "/srv/app/config",
            &t.path().join("app-config").display().to_string(),
        )
        .replace("/srv/git/app.git", &repo.path().display().to_string());
    let example = t.write("example.toml", example);
    let out = t
        .cmd()
        .args(["config", "check"])
        .arg(&example)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("ok: 1 workspace(s), 2 scan target(s) (1 watched, 1 git history)")
    );
}

#[test]
fn daemon_with_a_broken_config_exits_2_before_ready() {
    let t = Tree::new();
    let config = t.write("k.toml", "[daemon]\ncatchup = true\n");
    let mut d = Daemon::start(&t, &config, &[], 1);
    assert_eq!(d.wait(), Some(2));
    d.sock
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0; 256];
    assert!(
        d.sock.recv(&mut buf).is_err(),
        "no READY=1 for a broken config"
    );
    assert!(
        d.log_text().contains("did you mean `catch_up`?"),
        "{}",
        d.log_text()
    );
}

/// A temp dir whose `etc/keywarden.toml` keeps state in `etc/state/kw.db`, holds `body`,
/// and sends to a webhook channel `hooks` (all events) on a fresh receiver.
fn with_webhook(body: &str) -> (Tree, Receiver, PathBuf) {
    let t = Tree::new();
    let rx = Receiver::start(&[], 200);
    let config = t.write(
        "etc/keywarden.toml",
        format!(
            "[state]\npath = \"state/kw.db\"\n\n{body}\n{}",
            webhook_toml("hooks", "KW_TEST_WEBHOOK_URL", "")
        ),
    );
    (t, rx, config)
}

/// The environment the `hooks` channel of [`with_webhook`] reads, and `extra`.
fn webhook_env<'a>(rx: &'a Receiver, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut env = vec![
        ("KW_TEST_WEBHOOK_URL", rx.url.as_str()),
        ("KW_TEST_WEBHOOK_SECRET", crate::notify::WEBHOOK_SECRETS),
    ];
    env.extend_from_slice(extra);
    env
}

/// The `run ok:` summaries the daemon logged for `job`, in order.
fn run_summaries(d: &Daemon, job: &str) -> Vec<String> {
    d.log_text()
        .lines()
        .filter(|l| l.contains(&format!("job=\"{job}\"")))
        .filter_map(|l| l.split_once("run ok: ").map(|(_, r)| r.to_string()))
        .collect()
}

/// The number before `what` in `text` ("3 blobs read" → 3).
fn count_before(text: &str, what: &str) -> u64 {
    let head = &text[..text
        .find(what)
        .unwrap_or_else(|| panic!("no {what:?} in {text}"))];
    head.trim_end()
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count before {what:?} in {text}"))
}

/// The `data.finding.location` of every `keywarden.finding.opened` event received.
fn opened_locations(rx: &Receiver) -> Vec<String> {
    rx.requests()
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| r.json())
        .filter(|v| v["type"] == "keywarden.finding.opened")
        .map(|v| {
            v["data"]["finding"]["location"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[test]
fn git_history_target_reads_only_new_blobs_and_keeps_old_findings_open() {
    use crate::util::git::Repo;
    let repo = Repo::new();
    repo.write("README.md", "hello\n");
    repo.write("src/main.rs", "fn main() {}\n");
    repo.write(".env.production", format!("MASK_KEY={LIVE}\n"));
    repo.commit_all("add the app");
    repo.git(&["rm", "-q", ".env.production"]);
    repo.commit_all("drop the key (still in history)");
    let old_blob = repo.git(&["rev-parse", "HEAD~1:.env.production"]);

    let (t, rx, config) = with_webhook(&format!(
        "[[daemon.scan]]\nname = \"repo\"\npaths = [\"{}\"]\nhistory = true\nschedule = \"* * * * * *\"\n",
        repo.path().display()
    ));
    let env = webhook_env(&rx, &[]);
    let mut d = Daemon::start(&t, &config, &env, 1);
    d.expect("READY=1");
    // Run 1 reads every blob; run 2 only the one with the key (never remembered as clean).
    let runs = eventually("two history runs", || {
        let r = run_summaries(&d, "scan:repo");
        (r.len() >= 2).then_some(r)
    });
    assert!(
        runs[0].starts_with("history of 1 repo(s): 2 commits"),
        "{runs:?}"
    );
    assert_eq!(count_before(&runs[0], "blobs read"), 3, "{runs:?}");
    assert_eq!(count_before(&runs[0], "clean blobs skipped"), 0, "{runs:?}");
    assert_eq!(count_before(&runs[0], "new"), 1, "{runs:?}");
    assert_eq!(count_before(&runs[1], "blobs read"), 1, "{runs:?}");
    assert_eq!(count_before(&runs[1], "clean blobs skipped"), 2, "{runs:?}");
    assert_eq!(count_before(&runs[1], "new"), 0, "{runs:?}");
    eventually("the first alert", || {
        (opened_locations(&rx).len() == 1).then_some(())
    });

    // A new commit with another key and a clean file: the next run reads those two and
    // the old key's blob, alerts on the new key only, and keeps the old finding open.
    repo.write("web/app.js", format!("const k = \"{LIVE2}\";\n"));
    repo.write("docs/notes.md", "notes\n");
    repo.commit_all("add the web app");
    let after = eventually("the run after the commit", || {
        let r = run_summaries(&d, "scan:repo");
        let i = r.iter().position(|s| s.contains("2 finding(s), 1 new"))?;
        (r.len() > i + 1).then(|| r[i..].to_vec())
    });
    assert_eq!(count_before(&after[0], "blobs read"), 3, "{after:?}");
    assert_eq!(
        count_before(&after[0], "clean blobs skipped"),
        2,
        "{after:?}"
    );
    assert!(
        after[1].contains("2 blobs read, 3 clean blobs skipped"),
        "{after:?}"
    );
    assert!(after[1].contains("2 finding(s), 0 new"), "{after:?}");
    let opened = eventually("the second alert", || {
        let o = opened_locations(&rx);
        (o.len() >= 2).then_some(o)
    });
    d.signal("-TERM");
    assert_eq!(d.wait(), Some(0), "{}", d.log_text());
    let opened = {
        let mut o = opened_locations(&rx);
        o.sort();
        assert!(o.len() >= opened.len());
        o
    };
    let repo_dir = repo.path().display().to_string();
    assert_eq!(
        opened,
        vec![
            format!("{repo_dir}/.env.production:1"),
            format!("{repo_dir}/web/app.js:1"),
        ],
        "each key alerted once"
    );
    let st = status(&t, &config);
    let open: u64 = st["open_findings"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(open, 2, "the old finding stays open: {st}");
    assert!(
        st["jobs"][0]["last_run"]["detail"]
            .as_str()
            .unwrap()
            .contains("clean blobs skipped"),
        "{st}"
    );

    // Restarted, the daemon still knows what it read: only the blobs with keys.
    let mut d = Daemon::start(&t, &config, &env, 2);
    d.expect("READY=1");
    let first = eventually("a run after the restart", || {
        run_summaries(&d, "scan:repo").into_iter().next()
    });
    assert!(
        first.contains("2 blobs read, 3 clean blobs skipped"),
        "{first}"
    );
    assert!(first.contains("2 finding(s), 0 new"), "{first}");
    d.signal("-TERM");
    assert_eq!(d.wait(), Some(0));

    // Blobs with keys are never remembered as clean; nothing stored holds a key.
    let db = rusqlite::Connection::open(t.path().join("etc/state/kw.db")).unwrap();
    let clean: Vec<String> = db
        .prepare("SELECT hex(blob) FROM clean_blobs")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(clean.len(), 3, "{clean:?}");
    assert!(!clean.contains(&old_blob.to_uppercase()), "{clean:?}");
    assert_files_have_no_secret(t.path());
    for r in rx.requests() {
        assert_no_secret("webhook", &r.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persistent_api_outage_is_reported_once_and_so_is_its_recovery() {
    use wiremock::matchers::any;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let (t, rx, config) = with_webhook(&format!(
        "[daemon]\noutage_after_failures = 2\n\n[[daemon.workspace]]\nname = \"fake\"\nschedule = \"* * * * * *\"\napi_url = \"{}/v1\"\nkey = {{ env = \"KW_TEST_AUDIT_KEY\" }}\n",
        server.uri()
    ));
    let env = webhook_env(&rx, &[("KW_TEST_AUDIT_KEY", LIVE2)]);
    let outages = |rx: &Receiver| -> Vec<serde_json::Value> {
        rx.requests()
            .iter()
            .filter(|r| r.status == 200)
            .map(|r| r.json())
            .filter(|v| v["type"] == "keywarden.outage")
            .map(|v| v["data"].clone())
            .collect()
    };
    let (t2, config2) = (&t, config.clone());
    let mut d = Daemon::start(&t, &config, &env, 1);
    d.expect("READY=1");
    let first = eventually("the outage notice", || outages(&rx).into_iter().next());
    assert_eq!(first["subject"], "audit:fake", "{first}");
    assert_eq!(first["state"], "started", "{first}");
    assert!(first["failures"].as_u64().unwrap() >= 2, "{first}");
    assert!(first["detail"].as_str().unwrap().contains("503"), "{first}");
    let st = status(&t, &config);
    assert_eq!(st["outages"][0]["subject"], "audit:fake", "{st}");
    // More failed runs: still one notice.
    let failed_before = d.log_text().matches("run failed").count();
    eventually("two more failed runs", || {
        (d.log_text().matches("run failed").count() >= failed_before + 2).then_some(())
    });
    assert_eq!(outages(&rx).len(), 1, "reported once: {:?}", outages(&rx));
    assert!(d.log_text().contains("ERROR"), "{}", d.log_text());
    assert!(
        d.log_text().contains("OUTAGE: audit:fake failing since"),
        "{}",
        d.log_text()
    );

    // The API is back: one recovery notice, then nothing more.
    server.reset().await;
    crate::audit_cli::mount_fake_api(&server, Vec::new()).await;
    let notices = eventually("the recovery notice", || {
        let o = outages(&rx);
        (o.len() >= 2).then_some(o)
    });
    assert_eq!(notices[1]["state"], "recovered", "{notices:?}");
    eventually("two more audits", || {
        (d.log_text().matches("run ok: 0 keys").count() >= 2).then_some(())
    });
    assert_eq!(outages(&rx).len(), 2, "{:?}", outages(&rx));
    assert_eq!(status(t2, &config2)["outages"], serde_json::json!([]));
    d.signal("-TERM");
    assert_eq!(d.wait(), Some(0), "{}", d.log_text());
    assert_no_secret("daemon log", d.log_text().as_bytes());
    assert_files_have_no_secret(t.path());
}

/// Two daemons on one state file: the second exits 2 at once, saying why, and the first
/// keeps running.
#[test]
fn a_second_daemon_on_the_same_state_exits_2() {
    let t = Tree::new();
    t.write("watched/README.md", "nothing here\n");
    let config = t.write("etc/keywarden.toml", WATCH_CONFIG);
    let first = Daemon::start(&t, &config, &[], 1);
    first.expect("READY=1");
    let mut second = Daemon::start(&t, &config, &[], 2);
    assert_eq!(second.wait(), Some(2), "{}", second.log_text());
    assert!(
        second
            .log_text()
            .contains("another keywarden daemon is already using the state file"),
        "{}",
        second.log_text()
    );
    first.signal("-TERM");
    let mut first = first;
    assert_eq!(first.wait(), Some(0), "{}", first.log_text());
}

/// A watched directory nobody touches is scanned once at start: the daemon's own reads
/// are not changes. A real change still triggers a run.
#[test]
fn the_watcher_does_not_trigger_itself() {
    let t = Tree::new();
    for i in 0..20 {
        t.write(&format!("watched/f{i}.txt"), "nothing here\n");
    }
    let config = t.write("etc/keywarden.toml", WATCH_CONFIG);
    let d = Daemon::start(&t, &config, &[], 1);
    d.expect("READY=1");
    eventually("the start scan", || {
        (run_summaries(&d, "scan:watched").len() == 1).then_some(())
    });
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(
        run_summaries(&d, "scan:watched").len(),
        1,
        "untouched: {}",
        d.log_text()
    );
    t.write("watched/new.txt", "changed\n");
    eventually("a run after a change", || {
        (run_summaries(&d, "scan:watched").len() == 2).then_some(())
    });
}

/// `config check` refuses what the daemon would refuse at start, and the daemon creates
/// no state file before its config is valid.
#[test]
fn config_check_matches_the_daemon_and_nothing_is_created_early() {
    let t = Tree::new();
    t.write("notgit/a.txt", "x\n");
    let cases = [
        ("watched path", WATCH_CONFIG.replace("../watched", "../missing"), "does not exist"),
        (
            "history",
            "[state]\npath = \"state/kw.db\"\n[[daemon.scan]]\nname = \"h\"\npaths = [\"../notgit\"]\nhistory = true\nschedule = \"@daily\"\n".to_string(),
            "is not a git repository",
        ),
        (
            "ca_file",
            "[state]\npath = \"state/kw.db\"\n[[notify.webhook]]\nname = \"w\"\nformat = \"slack\"\nurl = { env = \"KW_URL\" }\nca_file = \"missing.pem\"\n".to_string(),
            "ca_file",
        ),
        (
            "templates",
            "[state]\npath = \"state/kw.db\"\n[notify]\ntemplates = \"missing-dir\"\n".to_string(),
            "templates",
        ),
    ];
    for (i, (what, body, expect)) in cases.iter().enumerate() {
        let config = t.write(&format!("etc/c{i}.toml"), body);
        let out = t
            .cmd()
            .args(["config", "check"])
            .arg(&config)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: {err}");
        assert!(err.contains(expect), "{what}: {err}");
        let mut d = Daemon::start(&t, &config, &[], 10 + i);
        assert_eq!(d.wait(), Some(2), "{what}: {}", d.log_text());
        assert!(
            !t.path().join("etc/state").exists(),
            "{what}: the daemon created its state before failing"
        );
    }
}

/// A workspace whose API names are hostile (a 10 MB workspace name, a key name holding a
/// key and escape sequences): the daemon's audit stores and sends bounded, redacted,
/// inert text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_api_names_do_not_grow_the_state_or_leak() {
    use wiremock::matchers::{method, path, path_regex};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    let huge = format!("Acme {LIVE} {}", "W".repeat(10 << 20));
    Mock::given(method("GET"))
        .and(path("/v1/workspace"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"id": "ws_9", "name": huge})),
        )
        .mount(&server)
        .await;
    let mut key = crate::mask_client::api_key(
        "key_old",
        "live",
        "zzzz",
        &["links:read"],
        "2025-01-01T00:00:00Z",
        Some("2025-02-01T00:00:00Z"),
    );
    key["name"] = format!("dash\u{1b}[2J\r\n{TEST} {}", "N".repeat(1 << 20)).into();
    Mock::given(method("GET"))
        .and(path("/v1/api-keys"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            serde_json::json!({"data": [key], "has_more": false, "next_cursor": null}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex("^/v1/api-keys/.*/usage$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "key_id": "key_old", "since": "2026-08-29T12:00:00Z", "until": "2026-11-27T12:00:00Z",
            "scopes": [{"scope": "links:read", "requests": 0}]})))
        .mount(&server)
        .await;
    let t = Tree::new();
    let rx = Receiver::start(&[], 200);
    let config = t.write(
        "etc/keywarden.toml",
        format!(
            "[state]\npath = \"state/kw.db\"\n\n[[daemon.workspace]]\nname = \"fake\"\nschedule = \"* * * * * *\"\napi_url = \"{}/v1\"\nkey = {{ env = \"KW_TEST_AUDIT_KEY\" }}\n\n{}",
            server.uri(),
            webhook_toml("hooks", "KW_TEST_WEBHOOK_URL", "")
        ),
    );
    let env = [
        ("KW_TEST_AUDIT_KEY", LIVE2),
        ("KW_TEST_WEBHOOK_URL", rx.url.as_str()),
        ("KW_TEST_WEBHOOK_SECRET", crate::notify::WEBHOOK_SECRETS),
    ];
    let mut d = Daemon::start(&t, &config, &env, 1);
    d.expect("READY=1");
    eventually("a delivered report", || {
        rx.requests().iter().any(|r| r.status == 200).then_some(())
    });
    eventually("two audits", || {
        (d.log_text().matches("run ok: 1 keys").count() >= 2).then_some(())
    });
    d.signal("-TERM");
    assert_eq!(d.wait(), Some(0), "{}", d.log_text());
    let size: u64 = std::fs::read_dir(t.path().join("etc/state"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert!(size < 2 << 20, "the state grew to {size} bytes");
    for r in rx.requests() {
        assert_no_secret("webhook", &r.body);
        assert!(!r.body.contains(&0x1b), "raw ESC in a webhook");
        assert!(
            r.body.len() < 256 << 10,
            "webhook body of {} bytes",
            r.body.len()
        );
    }
    assert_no_secret("daemon log", d.log_text().as_bytes());
    assert!(
        d.log_text().len() < 1 << 20,
        "the log holds the names in full"
    );
    assert_files_have_no_secret(t.path());
}

/// Two daemons on one PostgreSQL database (`[state] url`), started at once on an empty
/// database: no state-file lock stands between them, both record their runs in the shared state, `status` reads it, and the
/// database password appears in no log and no output.
#[test]
fn two_daemons_share_one_postgresql_state() {
    use crate::util::postgres;
    let Some(pg) = postgres::server() else {
        postgres::skipped("two_daemons_share_one_postgresql_state");
        return;
    };
    let url = pg.fresh_db();
    let t = Tree::new();
    t.write("watched/README.md", "nothing here\n");
    let config = t.write(
        "etc/keywarden.toml",
        "[state]\nurl = { env = \"KW_STATE_URL\" }\n\n[[daemon.scan]]\nname = \"tree\"\n\
         paths = [\"../watched\"]\nschedule = \"* * * * * *\"\n",
    );
    let env = [("KW_STATE_URL", url.as_str())];
    // Started together on an empty database: both migrate it at once (one does).
    let mut daemons: Vec<Daemon> = (1..=2)
        .map(|n| Daemon::start(&t, &config, &env, n))
        .collect();
    for d in &daemons {
        d.expect("READY=1");
    }
    let status = || {
        let out = t
            .cmd()
            .env("KW_STATE_URL", &url)
            .args(["status", "--format", "json", "--config"])
            .arg(&config)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!String::from_utf8_lossy(&out.stdout).contains(pg.password()));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let v = eventually("a scheduled run recorded in PostgreSQL", || {
        let v = status();
        (v["jobs"][0]["last_run"]["outcome"] == "ok").then_some(v)
    });
    assert_eq!(
        v["state"],
        format!(
            "postgresql://kw@127.0.0.1:{}/{}",
            pg.port(),
            url.rsplit('/').next().unwrap()
        )
    );
    assert_eq!(v["trends"]["total"]["open"], 0, "{v}");
    // Both daemons run the job every second; the lease gives each tick to one of them.
    let mut db = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
    let scheduled = |db: &mut ::postgres::Client| -> Vec<(Option<i64>, i64)> {
        db.query(
            "SELECT scheduled_for, count(*) FROM job_runs WHERE trigger = 'schedule' \
             GROUP BY scheduled_for ORDER BY scheduled_for",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
    };
    eventually("six scheduled ticks run", || {
        (scheduled(&mut db).len() >= 6).then_some(())
    });
    let ticks = scheduled(&mut db);
    assert!(
        ticks.iter().all(|(_, n)| *n == 1),
        "a tick ran twice: {ticks:?}"
    );
    for d in &mut daemons {
        d.signal("-TERM");
        assert_eq!(d.wait(), Some(0), "{}", d.log_text());
        assert!(!d.log_text().contains(pg.password()), "{}", d.log_text());
    }
}
