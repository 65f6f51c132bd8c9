//! A fleet target shared by several daemons on one real PostgreSQL (a server in a temp dir,
//! `util::postgres`), its repositories served over git's smart HTTP: the run at start is
//! split between the daemons like a scheduled tick (and a daemon started after it leaves it
//! alone); a daemon killed in the middle of a pass (a debug failpoint aborts it holding a
//! repository's lease) is finished by the other once the lease expires, and every planted
//! key reaches a loopback webhook receiver exactly once, with no full key, token or
//! database password in the database, the logs or the bodies.

use crate::daemon::{Daemon, eventually};
use crate::fleet::Host;
use crate::notify::{FAST_RETRY, Receiver, WEBHOOK_SECRETS, webhook_toml};
use crate::util::git::Repo;
use crate::util::postgres;
use crate::util::*;
use std::collections::BTreeMap;

/// A key built at run time: 32 random letters and digits (never a placeholder).
fn random_key() -> String {
    let body: String = (0..30).map(|_| fastrand::alphanumeric()).collect();
    format!("mk_live_Q7{body}")
}

/// `n` repositories `acme/r<i>` on `host`, each with one live key of its own in history.
/// Returns (name, key).
fn plant(host: &Host, n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| {
            let (name, key) = (format!("acme/r{i}"), random_key());
            let work = Repo::new();
            work.write("README.md", format!("# r{i}\n"));
            work.write(
                &format!("src/m{i}.rs"),
                format!("pub fn f() -> u32 {{ {i} }}\n"),
            );
            work.commit_all("init");
            work.write("deploy/prod.env", format!("MASK_API_KEY={key}\n"));
            work.commit_all("config");
            host.push(&work, &name);
            (name, key)
        })
        .collect()
}

/// A config for fleet target `fleet` over `repos` on `host`, on the PostgreSQL URL in
/// `KW_STATE_URL`, with `extra` appended.
fn config(
    t: &Tree,
    host: &Host,
    repos: &[(String, String)],
    schedule: &str,
    extra: &str,
) -> std::path::PathBuf {
    let urls = repos
        .iter()
        .map(|(n, _)| format!("\"{}\"", host.url(n)))
        .collect::<Vec<_>>()
        .join(", ");
    t.write(
        "etc/keywarden.toml",
        format!(
            "[state]\nurl = {{ env = \"KW_STATE_URL\" }}\n\n[daemon]\nlease_ttl_secs = 3\n\n\
             [[daemon.scan]]\nname = \"fleet\"\nschedule = \"{schedule}\"\nhistory = true\n\
             source = {{ urls = [{urls}], concurrency = 2 }}\n\n{extra}"
        ),
    )
}

/// (trigger, taken, run by another daemon) of every finished run of the fleet target.
fn runs(db: &mut ::postgres::Client) -> Vec<(String, u64, u64)> {
    let count = regex::Regex::new(
        r"(\d+) scanned, (\d+) unchanged, (\d+) failed(?:, \d+ gone)?(?:, (\d+) run by another daemon)?",
    )
    .unwrap();
    db.query(
        "SELECT trigger, detail FROM job_runs WHERE outcome = 'ok' ORDER BY id",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| {
        let detail: String = r.get(1);
        let c = count
            .captures(&detail)
            .unwrap_or_else(|| panic!("{detail}"));
        let n = |i: usize| c.get(i).map_or(0, |m| m.as_str().parse::<u64>().unwrap());
        (r.get(0), n(1) + n(2), n(4))
    })
    .collect()
}

/// The daemons' environment: the database, and each its own state directory (the mirrors
/// of daemons on different machines are not shared).
fn env_of<'a>(
    t: &Tree,
    db: &'a str,
    n: usize,
    extra: &[(&'a str, &'a str)],
) -> Vec<(String, String)> {
    let dir = t.path().join(format!("state-{n}"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut env = vec![
        ("KW_STATE_URL".to_string(), db.to_string()),
        (
            "STATE_DIRECTORY".to_string(),
            dir.to_str().unwrap().to_string(),
        ),
    ];
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env
}

fn start(t: &Tree, config: &std::path::Path, env: &[(String, String)], n: usize) -> Daemon {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Daemon::start(t, config, &env, n)
}

/// The run at start of a fleet target, with a schedule whose next tick is months away:
/// two daemons started together split it (each repository taken once in total), and a
/// third started once it is done takes none (without the shared start-up tick each daemon
/// keyed its run by its own start time and ran every repository again).
#[test]
fn the_start_up_run_is_split_between_daemons_like_a_tick() {
    let Some(pg) = postgres::server() else {
        postgres::skipped("the_start_up_run_is_split_between_daemons_like_a_tick");
        return;
    };
    let db = pg.fresh_db();
    let host = Host::start(None);
    let repos = plant(&host, 6);
    let t = Tree::new();
    let config = config(&t, &host, &repos, "0 0 0 1 1 *", "");
    let n = repos.len() as u64;
    let mut sql = ::postgres::Client::connect(&db, ::postgres::NoTls).unwrap();
    let mut daemons: Vec<Daemon> = (1..=2)
        .map(|i| start(&t, &config, &env_of(&t, &db, i, &[]), i))
        .collect();
    for d in &daemons {
        d.expect("READY=1");
    }
    let first = eventually("both daemons' runs at start", || {
        let r = runs(&mut sql);
        (r.len() == 2).then_some(r)
    });
    assert!(first.iter().all(|(tr, ..)| tr == "start"), "{first:?}");
    let taken: u64 = first.iter().map(|r| r.1).sum();
    let elsewhere: u64 = first.iter().map(|r| r.2).sum();
    assert_eq!(
        (taken, elsewhere),
        (n, n),
        "each repository once: {first:?}"
    );

    // Trends per fleet target: its repositories summed (one key each, all open).
    let out = t
        .cmd()
        .env("KW_STATE_URL", &db)
        .args(["status", "--format", "json", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let g = &v["trends"]["groups"][0];
    assert_eq!(g["source"], "scan:fleet", "{v}");
    assert_eq!(
        (g["opened"].as_u64(), g["open"].as_u64()),
        (Some(n), Some(n)),
        "{v}"
    );
    assert_eq!(
        v["trends"]["sources"].as_array().unwrap().len() as u64,
        n,
        "{v}"
    );

    daemons.push(start(&t, &config, &env_of(&t, &db, 3, &[]), 3));
    let all = eventually("the third daemon's run at start", || {
        let r = runs(&mut sql);
        (r.len() == 3).then_some(r)
    });
    assert_eq!(all[2], ("start".into(), 0, n), "already run: {all:?}");
    for d in &mut daemons {
        d.signal("-TERM");
        assert_eq!(d.wait(), Some(0), "{}", d.log_text());
        assert!(!d.log_text().contains(pg.password()));
    }
}

/// Two daemons on one PostgreSQL, a fleet of 8 repositories with a key each, a webhook
/// receiver on loopback. The first daemon dies in its pass holding a repository's lease:
/// a failpoint aborts it (as SIGKILL would) before it enqueued that repository's
/// notifications, or right after (its watermark not recorded), the second daemon joining
/// the pass while it runs; or both run the pass and the first gets a real SIGKILL. The
/// second finishes the pass once the lease expires: every repository scanned, every key's
/// `finding.opened` delivered exactly once (for the SIGKILL: once per webhook-id, as a
/// kill between a send and its record is resent under the same id), none after.
#[test]
fn a_daemon_killed_mid_pass_is_finished_by_the_other() {
    if !cfg!(debug_assertions) {
        skipped(
            "fleet_shared",
            "failpoints are compiled out of release builds",
        );
        return;
    }
    let Some(pg) = postgres::server() else {
        postgres::skipped("a_daemon_killed_mid_pass_is_finished_by_the_other");
        return;
    };
    std::thread::scope(|s| {
        for step in ["before-enqueue:3", "after-enqueue:3", "SIGKILL"] {
            s.spawn(move || kill_mid_pass(pg, step));
        }
    });
}

fn kill_mid_pass(pg: &postgres::PgServer, step: &str) {
    let db = pg.fresh_db();
    let host = Host::start(None);
    let repos = plant(&host, 8);
    let rx = Receiver::start(&[], 200);
    let t = Tree::new();
    let hooks = webhook_toml(
        "hooks",
        "KW_TEST_WEBHOOK_URL",
        "events = [\"keywarden.finding.opened\"]",
    );
    let config = config(&t, &host, &repos, "*/2 * * * * *", &(hooks + FAST_RETRY));
    let hook_env = [
        ("KW_TEST_WEBHOOK_URL", rx.url.as_str()),
        ("KW_TEST_WEBHOOK_SECRET", WEBHOOK_SECRETS),
    ];
    let mut sql = ::postgres::Client::connect(&db, ::postgres::NoTls).unwrap();
    let held_by = |sql: &mut ::postgres::Client, a: &Daemon| -> i64 {
        let pid = format!(":{}:", a.child.id());
        sql.query_one(
            "SELECT count(*) FROM leases WHERE finished_at IS NULL AND position($1 in holder) > 0",
            &[&pid],
        )
        .unwrap()
        .get(0)
    };
    let sigkill = step == "SIGKILL";
    let mut killed = hook_env.to_vec();
    if !sigkill {
        killed.push(("KEYWARDEN_FAILPOINT", step));
    }
    let mut a = start(&t, &config, &env_of(&t, &db, 1, &killed), 1);
    a.expect("READY=1");
    let mut b;
    if sigkill {
        // Both run the pass; the first is killed while it holds a repository's lease.
        b = start(&t, &config, &env_of(&t, &db, 2, &hook_env), 2);
        eventually("the first daemon holding a repository", || {
            (held_by(&mut sql, &a) > 0).then_some(())
        });
        a.signal("-KILL");
    } else {
        // The second daemon joins once the first is into its pass.
        eventually(&format!("{step}: a first repository enqueued"), || {
            let n: i64 = sql
                .query_one("SELECT count(*) FROM outbox", &[])
                .unwrap()
                .get(0);
            (n > 0).then_some(())
        });
        b = start(&t, &config, &env_of(&t, &db, 2, &hook_env), 2);
    }
    assert_eq!(a.wait(), None, "{step}: not killed:\n{}", a.log_text());
    assert!(
        sigkill || a.log_text().contains("failpoint"),
        "{}",
        a.log_text()
    );
    // It died holding a repository's lease (the second daemon waits for it to expire).
    assert!(
        held_by(&mut sql, &a) > 0,
        "{step}: no lease left by the dead daemon"
    );

    let names: Vec<&str> = repos.iter().map(|(n, _)| n.as_str()).collect();
    let opened = |rx: &Receiver| -> BTreeMap<String, usize> {
        let mut per_repo = BTreeMap::new();
        let mut ids = std::collections::HashSet::new();
        for r in rx.requests().iter().filter(|r| r.status == 200) {
            // Killed between a send and its record, a daemon's message is sent again by
            // the other under the same id (at least once); failpoints elsewhere: once.
            let id = r.header("webhook-id").unwrap_or_default().to_string();
            if sigkill && !ids.insert(id) {
                continue;
            }
            let v = r.json();
            assert_eq!(v["type"], "keywarden.finding.opened", "{v}");
            let at = v["data"]["finding"].to_string();
            let repo = names
                .iter()
                .find(|n| at.contains(&format!("{n}/")) || at.contains(&format!("{n}:")))
                .unwrap_or_else(|| panic!("{step}: which repository? {at}"));
            *per_repo.entry(repo.to_string()).or_insert(0) += 1;
        }
        per_repo
    };
    eventually(
        &format!("{step}: every repository scanned and notified"),
        || {
            let scanned: i64 = sql
                .query_one("SELECT count(*) FROM fleet_repos", &[])
                .unwrap()
                .get(0);
            (scanned == repos.len() as i64 && opened(&rx).len() == repos.len()).then_some(())
        },
    );
    // Two more ticks: nothing is sent again.
    std::thread::sleep(std::time::Duration::from_secs(4));
    let per_repo = opened(&rx);
    assert!(
        per_repo.values().all(|n| *n == 1),
        "{step}: each key once: {per_repo:?}\n{}",
        b.log_text()
    );
    assert_eq!(per_repo.len(), repos.len(), "{step}: {per_repo:?}");
    b.signal("-TERM");
    assert_eq!(b.wait(), Some(0), "{}", b.log_text());

    // No full key, token or password: bodies, logs, every row of the database.
    let mut dump = String::new();
    let tables = sql
        .query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
            &[],
        )
        .unwrap();
    for row in tables {
        let table: String = row.get(0);
        let q = format!("SELECT coalesce(string_agg(t::text, E'\\n'), '') FROM \"{table}\" t");
        dump.push_str(&sql.query_one(&q, &[]).unwrap().get::<_, String>(0));
    }
    assert!(dump.contains("acme/r0"), "the dump reads the state");
    let bodies: Vec<String> = rx
        .requests()
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).to_string())
        .collect();
    for (what, text) in [
        ("database", dump),
        ("first log", a.log_text()),
        ("second log", b.log_text()),
        ("webhook bodies", bodies.join("\n")),
    ] {
        for (_, key) in &repos {
            assert!(!text.contains(&key[8..]), "{step}: {what} holds a full key");
        }
        assert!(
            !text.contains(pg.password()),
            "{step}: {what} holds the password"
        );
    }
}

/// The shared state over TLS with a private CA: `sslrootcert=FILE` in the URL. The server
/// (TLS only, its certificate issued by a CA of the test's own) is reached and verified
/// with that CA; with the public roots alone its certificate is refused, and a plain
/// connection is refused by the server. No password in any output.
#[test]
fn the_shared_state_over_tls_trusts_a_private_ca() {
    let Some((pg, ca)) = postgres::tls_server() else {
        postgres::skipped("the_shared_state_over_tls_trusts_a_private_ca");
        return;
    };
    let db = pg.fresh_db();
    let t = Tree::new();
    let ca_path = t.write("ca.pem", ca);
    t.write("watched/a.txt", "nothing\n");
    let config = t.write(
        "etc/keywarden.toml",
        "[state]\nurl = { env = \"KW_STATE_URL\" }\n\n[[daemon.scan]]\nname = \"tree\"\n\
         paths = [\"../watched\"]\nschedule = \"0 0 0 1 1 *\"\n",
    );
    let run = |cmd: &str, url: &str| {
        let out = t
            .cmd()
            .env("KW_STATE_URL", url)
            .args(cmd.split(' '))
            .arg(&config)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!text.contains(pg.password()), "{text}");
        (out.status.code(), text)
    };
    let with_ca = format!("{db}?sslrootcert={}", ca_path.display());
    let (code, text) = run("status --format json --config", &with_ca);
    assert_eq!(code, Some(0), "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let name = db.rsplit('/').next().unwrap();
    assert_eq!(
        v["state"],
        format!("postgresql://kw@127.0.0.1:{}/{name}", pg.port())
    );
    assert_eq!(run("config check", &with_ca).0, Some(0));

    let (code, text) = run(
        "status --format json --config",
        &format!("{db}?sslmode=require"),
    );
    assert_ne!(
        code,
        Some(0),
        "the public roots do not know the private CA: {text}"
    );
    assert!(text.to_lowercase().contains("certificate"), "{text}");
    let (code, text) = run("status --format json --config", &db);
    assert_ne!(code, Some(0), "the server takes TLS only: {text}");

    let missing = format!("{db}?sslrootcert=/nonexistent/ca.pem");
    let (code, text) = run("config check", &missing);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("sslrootcert /nonexistent/ca.pem"), "{text}");
}
