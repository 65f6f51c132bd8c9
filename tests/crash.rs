//! Crash safety: a daemon killed at every step of a run (the debug-build failpoints of
//! `src/failpoint.rs`) and restarted delivers every notification: never lost, at least
//! once, under the same `Message-ID` / `webhook-id` when sent again, and exactly once
//! wherever the store's transactions make it possible. `scan --notify` killed after a
//! send and rerun sends again under the same id, not a second report.

use crate::daemon::{Daemon, eventually, outbox_rows};
use crate::notify::{Receiver, Smtp, aiosmtpd_available, webhook_toml};
use crate::util::*;
use std::collections::BTreeMap;

/// Where the first daemon dies, and whether each message then arrives exactly once.
/// Messages go out in outbox order: the email, then the webhook's report,
/// `keywarden.finding.opened` and `keywarden.leak.detected`; `NAME:N` is the N-th time
/// the point is reached.
const STEPS: &[(&str, bool)] = &[
    ("before-enqueue", true),
    ("after-enqueue", true),
    ("before-send", true),
    // The receiver accepted it; the store did not hear of it: sent again, same id.
    ("after-send", false),
    ("after-delivered", true),
    ("before-send:2", true),
    ("after-send:3", false),
    ("after-delivered:2", true),
    ("before-run-recorded", true),
];

/// The failpoints exist only in debug builds (what `cargo test` builds).
fn failpoints_compiled_in() -> bool {
    if !cfg!(debug_assertions) {
        skipped("crash", "failpoints are compiled out of release builds");
    }
    cfg!(debug_assertions)
}

#[test]
fn a_daemon_killed_at_every_step_delivers_everything_once_or_again_under_the_same_id() {
    if !failpoints_compiled_in() || !aiosmtpd_available() {
        return;
    }
    // The steps are independent (own tree, receivers, daemon): run them side by side.
    std::thread::scope(|s| {
        for &(step, exactly_once) in STEPS {
            s.spawn(move || kill_at(step, exactly_once));
        }
    });
}

fn kill_at(step: &str, exactly_once: bool) {
    let t = Tree::new();
    t.write("app/.env.production", format!("MASK_KEY={LIVE}\n"));
    let smtp = Smtp::start(t.path(), "starttls", 0, "451 unused");
    let rx = Receiver::start(&[], 200);
    // One-second timeouts: a message claimed by the killed daemon is due again 8 s later.
    let config = t.write(
        "etc/keywarden.toml",
        format!(
            "[state]\npath = \"state/kw.db\"\n\n[[daemon.scan]]\nname = \"app\"\npaths = [\"../app\"]\nschedule = \"0 0 0 1 1 *\"\n\n[[notify.email]]\nname = \"security\"\nhost = \"127.0.0.1\"\nport = {}\ntls = \"starttls\"\nca_file = \"{}\"\nfrom = \"Keywarden <keywarden@example.com>\"\nto = [\"sec@example.com\"]\nusername = \"{}\"\npassword = {{ env = \"KW_TEST_SMTP_PASSWORD\" }}\ntimeout_secs = 1\n\n{}{}",
            smtp.port,
            smtp.ca.display(),
            crate::notify::SMTP_USER,
            webhook_toml("hooks", "KW_TEST_WEBHOOK_URL", "").replace("timeout_secs = 2", "timeout_secs = 1"),
            crate::notify::FAST_RETRY,
        ),
    );
    let env = vec![
        ("KW_TEST_SMTP_PASSWORD", crate::notify::SMTP_PASSWORD),
        ("KW_TEST_WEBHOOK_URL", rx.url.as_str()),
        ("KW_TEST_WEBHOOK_SECRET", crate::notify::WEBHOOK_SECRETS),
    ];
    let mut killed = env.clone();
    killed.push(("KEYWARDEN_FAILPOINT", step));
    let mut d = Daemon::start(&t, &config, &killed, 1);
    assert_eq!(d.wait(), None, "{step}: the daemon was not killed");
    let first_log = d.log_text();
    let name = step.split(':').next().unwrap();
    assert!(
        first_log.contains(&format!("failpoint {name}")),
        "{step}: died elsewhere:\n{first_log}"
    );

    let mut d = Daemon::start(&t, &config, &env, 2);
    d.expect("READY=1");
    let rows = eventually(&format!("{step}: every message delivered"), || {
        let rows = outbox_rows(&t, &config);
        (rows.len() >= 4 && rows.iter().all(|r| r["status"] == "delivered")).then_some(rows)
    });
    d.signal("-TERM");
    assert_eq!(d.wait(), Some(0), "{step}");
    assert_eq!(rows.len(), 4, "{step}: one report, not two: {rows:?}");

    // What the receivers got: per message kind, every copy under one id.
    let mut got: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (mail, raw) in smtp.messages() {
        assert_no_secret(step, &raw);
        let id = mail["headers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h[0].as_str().unwrap().eq_ignore_ascii_case("message-id"))
            .map(|h| h[1].as_str().unwrap().to_string())
            .unwrap();
        got.entry("email".into()).or_default().push(id);
    }
    for r in rx.requests().into_iter().filter(|r| r.status == 200) {
        assert_no_secret(step, &r.body);
        let kind = r.json()["type"].as_str().unwrap().to_string();
        let id = r.header("webhook-id").unwrap().to_string();
        got.entry(kind).or_default().push(id);
    }
    let stored: Vec<String> = rows
        .iter()
        .map(|r| r["message_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        [
            "email",
            "keywarden.finding.opened",
            "keywarden.leak.detected",
            "keywarden.report"
        ],
        "{step}: nothing lost: {got:?}"
    );
    for (kind, ids) in &got {
        assert!(
            ids.iter().all(|id| *id == ids[0]),
            "{step}: {kind} sent again under another id: {ids:?}"
        );
        assert!(
            stored.contains(&ids[0]),
            "{step}: {kind}: {ids:?} vs {stored:?}"
        );
        if exactly_once {
            assert_eq!(ids.len(), 1, "{step}: {kind} sent {} times", ids.len());
        }
    }
    if !exactly_once {
        assert!(
            got.values().any(|ids| ids.len() == 2),
            "{step}: the message accepted before the kill is sent again: {got:?}"
        );
    }
    for log in [first_log, d.log_text()] {
        assert_no_secret(step, log.as_bytes());
    }
}

/// `scan --notify` killed after the receiver took the report, before the store recorded
/// it, then run again: the rerun renders the same report under the same ids, so the
/// outbox keeps one message and the receiver gets the same `webhook-id` twice (it can
/// drop the second), not a second report under a new id.
#[test]
fn scan_notify_killed_after_a_send_resends_under_the_same_id() {
    if !failpoints_compiled_in() {
        return;
    }
    let rx = Receiver::start(&[], 200);
    let s = crate::notify::Setup::new(&format!(
        "{}{}",
        webhook_toml(
            "hooks",
            "KW_TEST_WEBHOOK_URL",
            "events = [\"keywarden.report\"]"
        )
        .replace("timeout_secs = 2", "timeout_secs = 1"),
        crate::notify::FAST_RETRY
    ))
    .env("KW_TEST_WEBHOOK_URL", &rx.url);
    let out = s
        .cmd()
        .env("KEYWARDEN_FAILPOINT", "after-send")
        .args(["scan", "app", "--notify", "--service-config"])
        .arg(&s.config)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        None,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(rx.requests().len(), 1);
    // The rerun waits out the killed run's lease (8 s) within its delivery budget.
    let out = s.scan_notify();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = s.outbox_rows();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["status"], "delivered");
    let got = rx.requests();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].header("webhook-id"), got[1].header("webhook-id"));
    assert_eq!(got[0].header("webhook-id"), rows[0]["message_id"].as_str());
}

/// A full disk under the state (a real one: a 1 MiB tmpfs in a private mount namespace,
/// filled while the daemon runs) is logged as "disk full", and the delivery loop backs
/// off (1 s, 2 s, 4 s …) instead of retrying its due message ten times a second.
#[test]
fn a_full_disk_says_disk_full_and_the_delivery_loop_backs_off() {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let works = Command::new("unshare")
        .args(["-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !works {
        skipped(
            "disk full",
            "`unshare -rm` cannot mount a tmpfs here (util-linux, and mount namespaces)",
        );
        return;
    }
    let t = Tree::new();
    t.write("app/.env.production", format!("MASK_KEY={LIVE}\n"));
    let state = t.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    // Every attempt fails (503), so a message is always due again within a second.
    let rx = Receiver::start(&[], 503);
    let config = t.write(
        "etc/keywarden.toml",
        format!(
            "[state]\npath = \"{}/kw.db\"\n\n[daemon]\ndeliver_every_secs = 1\n\n[[daemon.scan]]\nname = \"app\"\npaths = [\"../app\"]\nschedule = \"0 0 0 1 1 *\"\n\n{}[notify.retry]\nbase_delay_ms = 100\nmax_delay_ms = 200\nmax_attempts = 100000\nrun_budget_ms = 100\n",
            state.display(),
            webhook_toml("hooks", "KW_TEST_WEBHOOK_URL", "events = [\"keywarden.report\"]"),
        ),
    );
    let log = t.path().join("daemon.log");
    let mut child = Command::new("unshare")
        .args([
            "-rm",
            "sh",
            "-c",
            "mount -t tmpfs -o size=1m tmpfs \"$0\" && exec \"$@\"",
        ])
        .arg(&state)
        .arg(assert_cmd::cargo::cargo_bin("keywarden"))
        .args(["daemon", "--config"])
        .arg(&config)
        .env("KW_TEST_WEBHOOK_URL", &rx.url)
        .env("KW_TEST_WEBHOOK_SECRET", crate::notify::WEBHOOK_SECRETS)
        .env("NO_COLOR", "1")
        .env_remove("NOTIFY_SOCKET")
        .env_remove("JOURNAL_STREAM")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let text = || std::fs::read_to_string(&log).unwrap_or_default();
    rx.wait_for(2);
    // A reader in the daemon's mount namespace holds the store open (as `status` or a
    // job would): its WAL stays, so reads work (a message is due) while writes fail.
    let db = state.join("kw.db");
    let mut reader = Command::new("nsenter")
        .args(["-t", &child.id().to_string(), "-m", "python3", "-c"])
        .arg("import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('SELECT COUNT(*) FROM outbox').fetchall(); print('open', flush=True); sys.stdin.read()")
        .arg(&db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(reader.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "open");
    // Fill the tmpfs, seen through the daemon's own root.
    let root = format!("/proc/{}/root{}", child.id(), state.display());
    let fill = format!("{root}/fill");
    let mut f = std::fs::File::create(&fill).unwrap();
    let chunk = vec![0u8; 64 << 10];
    while std::io::Write::write_all(&mut f, &chunk).is_ok() {}
    drop(f);
    let failed = || text().matches("outbox delivery failed").count();
    let start = Instant::now();
    while failed() == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no failure logged:\n{}",
            text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let first = failed();
    std::thread::sleep(Duration::from_secs(6));
    let more = failed() - first;
    let _ = child.kill();
    let _ = child.wait();
    let _ = reader.kill();
    let _ = reader.wait();
    let log = text();
    let line = log
        .lines()
        .find(|l| l.contains("outbox delivery failed"))
        .unwrap();
    assert!(line.contains("disk full"), "{line}");
    assert!(!line.contains("disk I/O error"), "{line}");
    assert!(line.contains("retrying in 1 s"), "{line}");
    // Backing off 1 s, 2 s, 4 s: a handful in 6 s (about 60 without a back-off).
    assert!(more <= 6, "{more} more delivery failures in 6 s:\n{log}");
}

/// Two daemons on one PostgreSQL state: the one running a job dies in the middle of the
/// run (a failpoint aborts it before it enqueues, its lease still held). The other daemon
/// waits for that lease to expire, takes the job over at its next tick and delivers the
/// report: once, nothing lost.
#[test]
fn a_daemon_killed_mid_run_on_postgresql_is_taken_over_by_the_other() {
    use crate::util::postgres;
    if !failpoints_compiled_in() {
        return;
    }
    let Some(pg) = postgres::server() else {
        postgres::skipped("a_daemon_killed_mid_run_on_postgresql_is_taken_over_by_the_other");
        return;
    };
    let db = pg.fresh_db();
    let t = Tree::new();
    t.write("app/.env.production", format!("MASK_KEY={LIVE}\n"));
    let rx = Receiver::start(&[], 200);
    let config = t.write(
        "etc/keywarden.toml",
        format!(
            "[state]\nurl = {{ env = \"KW_STATE_URL\" }}\n\n[daemon]\nlease_ttl_secs = 2\n\n\
             [[daemon.scan]]\nname = \"app\"\npaths = [\"../app\"]\nschedule = \"* * * * * *\"\n\n{}{}",
            webhook_toml("hooks", "KW_TEST_WEBHOOK_URL", "events = [\"keywarden.report\"]"),
            crate::notify::FAST_RETRY,
        ),
    );
    let env = vec![
        ("KW_STATE_URL", db.as_str()),
        ("KW_TEST_WEBHOOK_URL", rx.url.as_str()),
        ("KW_TEST_WEBHOOK_SECRET", crate::notify::WEBHOOK_SECRETS),
    ];
    let mut killed = env.clone();
    killed.push(("KEYWARDEN_FAILPOINT", "before-enqueue"));
    let mut a = Daemon::start(&t, &config, &killed, 1);
    assert_eq!(a.wait(), None, "the first daemon was not killed");
    assert!(
        a.log_text().contains("failpoint before-enqueue"),
        "{}",
        a.log_text()
    );

    let mut b = Daemon::start(&t, &config, &env, 2);
    b.expect("READY=1");
    eventually("the report delivered by the other daemon", || {
        rx.requests().iter().any(|r| r.status == 200).then_some(())
    });
    // A few more ticks: the finding is open now, nothing is sent again.
    std::thread::sleep(std::time::Duration::from_secs(3));
    b.signal("-TERM");
    assert_eq!(b.wait(), Some(0), "{}", b.log_text());
    let sent: Vec<_> = rx
        .requests()
        .into_iter()
        .filter(|r| r.status == 200)
        .collect();
    assert_eq!(sent.len(), 1, "one report, not two: {}", b.log_text());
    assert_eq!(sent[0].json()["type"], "keywarden.report");
    assert!(
        b.log_text().contains("new finding"),
        "the second daemon ran the job:\n{}",
        b.log_text()
    );
    for log in [a.log_text(), b.log_text()] {
        assert!(!log.contains(LIVE) && !log.contains(pg.password()), "{log}");
    }
}
