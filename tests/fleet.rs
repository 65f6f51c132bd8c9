//! The fleet (`[[daemon.scan]] source = …`) against real components on loopback: a fake
//! Git host API (wiremock: a GitHub organisation paginated with `Link`, archived and
//! forked repositories; a GitLab group with subgroups), and real repositories served over
//! git's smart HTTP (`git http-backend` behind `util::git_http`, which demands the
//! token). Listing is in `fleet_list`. Here: mirror and scan naming the repository; a second run that
//! reads only the new blobs; the daemon end to end; and no token anywhere on disk, in the
//! logs or in the errors.

use crate::util::git::{Repo, isolate};
use crate::util::git_http::GitHttp;
use crate::util::*;
use base64::Engine as _;
use keywarden::fleet::{self, Fleet, GitAuth, Kind};
use keywarden::notify::config::Secret;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A token built at run time (no literal secret in the source).
pub fn token() -> String {
    format!("ghp_{}", fastrand_string(30))
}

fn fastrand_string(n: usize) -> String {
    (0..n).map(|_| fastrand::alphanumeric()).collect()
}

fn basic(user: &str, token: &str) -> String {
    let b = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{token}"));
    format!("Basic {b}")
}

/// A Git host: bare repositories under a root, served over smart HTTP.
pub struct Host {
    root: Tree,
    server: GitHttp,
}

impl Host {
    pub fn start(auth: Option<String>) -> Host {
        let root = Tree::new();
        let server = GitHttp::start(root.path(), auth, 0);
        Host { root, server }
    }

    fn bare(&self, name: &str) -> PathBuf {
        self.root.path().join(format!("{name}.git"))
    }

    /// Pushes `work`'s main branch to bare repository `name` (created if missing).
    pub fn push(&self, work: &Repo, name: &str) {
        let bare = self.bare(name);
        if !bare.exists() {
            std::fs::create_dir_all(&bare).unwrap();
            let ok = isolate(&mut Command::new("git"))
                .args(["init", "-q", "--bare", "-b", "main"])
                .arg(&bare)
                .status()
                .unwrap();
            assert!(ok.success());
        }
        work.git(&["push", "-q", bare.to_str().unwrap(), "HEAD:refs/heads/main"]);
    }

    pub fn url(&self, name: &str) -> String {
        format!("{}/{name}.git", self.server.url())
    }
}

/// acme/app (a live key in config/prod.env, in history), acme/lib (clean), acme/old
/// (archived) and acme/fork (a fork), pushed to `host`. Returns the work trees.
fn plant(host: &Host) -> Vec<(String, Repo)> {
    let app = Repo::new();
    app.write("README.md", "# app\n");
    app.write("src/main.rs", "fn main() {}\n");
    app.commit_all("init");
    app.write("config/prod.env", format!("MASK_API_KEY={LIVE}\n"));
    app.commit_all("config");
    let lib = Repo::new();
    for i in 0..20 {
        lib.write(
            &format!("src/m{i}.rs"),
            format!("pub fn f{i}() -> u32 {{ {i} }}\n"),
        );
    }
    lib.commit_all("lib");
    let old = Repo::new();
    old.write("config/prod.env", format!("MASK_API_KEY={LIVE2}\n"));
    old.commit_all("old");
    let fork = Repo::new();
    fork.write("a.txt", "fork\n");
    fork.commit_all("fork");
    let all = vec![
        ("acme/app".to_string(), app),
        ("acme/lib".to_string(), lib),
        ("acme/old".to_string(), old),
        ("acme/fork".to_string(), fork),
    ];
    for (name, work) in &all {
        host.push(work, name);
    }
    all
}

fn gh_repo(host: &Host, name: &str, archived: bool, fork: bool) -> serde_json::Value {
    serde_json::json!({
        "id": 1, "name": name.rsplit('/').next(), "full_name": name,
        "clone_url": host.url(name), "archived": archived, "fork": fork,
        "private": true, "html_url": format!("https://github.example/{name}"),
    })
}

/// A GitHub API for org `acme`: two pages, linked with `Link`, behind `Bearer token`.
pub async fn github(host: &Host, token: &str) -> MockServer {
    let api = MockServer::start().await;
    let page2 = format!("{}/organizations/7/repos?per_page=100&page=2", api.uri());
    Mock::given(method("GET"))
        .and(path("/orgs/acme/repos"))
        .and(query_param("per_page", "100"))
        .and(header("authorization", format!("Bearer {token}").as_str()))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header(
                    "link",
                    format!("<{page2}>; rel=\"next\", <{page2}>; rel=\"last\"").as_str(),
                )
                .set_body_json(serde_json::json!([
                    gh_repo(host, "acme/app", false, false),
                    gh_repo(host, "acme/old", true, false),
                ])),
        )
        .mount(&api)
        .await;
    Mock::given(method("GET"))
        .and(path("/organizations/7/repos"))
        .and(query_param("page", "2"))
        .and(header("authorization", format!("Bearer {token}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([
            gh_repo(host, "acme/lib", false, false),
            gh_repo(host, "acme/fork", false, true),
        ])))
        .mount(&api)
        .await;
    api
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Every file under `dir`, read, must hold none of `needles`.
fn assert_absent_under(dir: &Path, needles: &[&str]) {
    for entry in files_under(dir) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        for n in needles {
            assert!(
                memchr::memmem::find(&bytes, n.as_bytes()).is_none(),
                "{} holds a token",
                entry.display()
            );
        }
    }
}

#[test]
fn mirror_and_scan_name_the_repository_and_a_second_run_reads_only_new_blobs() {
    let tok = token();
    let host = Host::start(Some(basic("x-access-token", &tok)));
    let works = plant(&host);
    let state_dir = Tree::new();
    let state = keywarden::store::Location::Sqlite(state_dir.path().join("state.db"));
    let engine = keywarden::scan::Engine::new(keywarden::rules::load(Vec::new()).unwrap()).unwrap();
    let auth = GitAuth::new(Kind::GitHub, &Secret::new(tok.clone()));
    let f = Fleet {
        target: "acme-org",
        state: &state,
        mirrors: state_dir.path().join("mirrors"),
        engine: &engine,
        auth: Some(&auth),
        threads: 1,
    };
    let app = fleet::Repo {
        name: "acme/app".into(),
        clone_url: host.url("acme/app"),
        archived: false,
        fork: false,
    };
    let first = fleet::scan_repository(&f, &app).unwrap();
    assert_eq!(first.mirrored, fleet::Mirrored::Cloned);
    assert_eq!(
        first.result.findings.len(),
        1,
        "{:?}",
        first.result.findings
    );
    let finding = &first.result.findings[0];
    assert_eq!(finding.path, "acme/app/config/prod.env");
    assert_eq!(finding.repository.as_deref(), Some("acme/app"));
    let json = serde_json::to_value(finding).unwrap();
    assert_eq!(json["repository"], "acme/app");
    assert_no_secret("finding JSON", json.to_string().as_bytes());
    let blobs = first.read;
    assert!(blobs >= 3, "{}", first.summary());
    fleet::record(&state, "acme-org", &first).unwrap();

    // Nothing pushed: the watermark matches, nothing is read.
    let again = fleet::scan_repository(&f, &app).unwrap();
    assert_eq!(again.mirrored, fleet::Mirrored::Fetched);
    assert!(again.unchanged, "{}", again.summary());
    assert_eq!(again.read, 0);

    // One new file pushed: only it (and the blob with the key, re-read every run).
    let work = &works[0].1;
    work.write("docs/new.md", "# new\n");
    work.commit_all("docs");
    host.push(work, "acme/app");
    let third = fleet::scan_repository(&f, &app).unwrap();
    assert!(!third.unchanged);
    assert_eq!(third.read, 2, "{}", third.summary());
    assert_eq!(third.skipped, blobs - 1, "{}", third.summary());
    assert_eq!(third.result.findings.len(), 1);
    fleet::record(&state, "acme-org", &third).unwrap();

    // The token went to the server in the header, and is nowhere on disk.
    assert!(
        host.server.seen().iter().any(|s| s.status == 200
            && s.authorization.as_deref() == Some(&basic("x-access-token", &tok)))
    );
    let b64 = basic("x-access-token", &tok);
    let b64 = b64.trim_start_matches("Basic ");
    assert_absent_under(state_dir.path(), &[&tok, b64]);

    // A wrong token: git's failure is reported, sanitized.
    let wrong = token();
    let bad_auth = GitAuth::new(Kind::GitHub, &Secret::new(wrong.clone()));
    let f2 = Fleet {
        auth: Some(&bad_auth),
        mirrors: state_dir.path().join("mirrors2"),
        ..f
    };
    let e = fleet::scan_repository(&f2, &app).unwrap_err().to_string();
    assert!(
        e.contains("acme/app") && e.contains("git clone --mirror failed"),
        "{e}"
    );
    let wb64 = basic("x-access-token", &wrong);
    assert!(
        !e.contains(&wrong) && !e.contains(wb64.trim_start_matches("Basic ")),
        "{e}"
    );
    assert!(
        !state_dir
            .path()
            .join("mirrors2")
            .read_dir()
            .unwrap()
            .any(|e| e.unwrap().file_name().to_string_lossy().ends_with(".git"))
    );
}

/// `keywarden daemon` until its fleet job's run has ended (its start-up run), then
/// SIGTERM. Returns the log.
fn daemon_pass(dir: &Path, config: &Path, env: &[(&str, &str)], n: usize) -> String {
    let log = dir.join(format!("daemon-{n}.log"));
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("keywarden"));
    c.args(["daemon", "--config"])
        .arg(config)
        .env("RUST_LOG", "keywarden=debug")
        .env("NO_COLOR", "1")
        .env_remove("NOTIFY_SOCKET")
        .env_remove("JOURNAL_STREAM")
        .env_remove("GITHUB_TOKEN")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c.spawn().unwrap();
    let start = Instant::now();
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("run ok") || text.contains("run failed") {
            break text;
        }
        if let Some(s) = child.try_wait().unwrap() {
            panic!("daemon exited ({s}):\n{text}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no run:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let _ = text;
    std::fs::read_to_string(&log).unwrap()
}

#[test]
fn daemon_mirrors_an_organisation_and_rescans_incrementally() {
    let tok = token();
    let host = Host::start(Some(basic("x-access-token", &tok)));
    let works = plant(&host);
    let rt = runtime();
    let api = rt.block_on(github(&host, &tok));
    let dir = Tree::new();
    let config = dir.write(
        "keywarden.toml",
        format!(
            "[state]\npath = \"state/state.db\"\n\n[[daemon.scan]]\nname = \"acme-org\"\nschedule = \"0 0 0 1 1 *\"\nhistory = true\nsource = {{ github_org = \"acme\", api_url = \"{}\", token = {{ env = \"GITHUB_TOKEN\" }} }}\n",
            api.uri()
        ),
    );
    let check = dir
        .cmd()
        .args(["config", "check"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );

    let log1 = daemon_pass(dir.path(), &config, &[("GITHUB_TOKEN", &tok)], 1);
    assert!(
        log1.contains("run ok: 2 repositories: 2 scanned, 0 unchanged, 0 failed"),
        "{log1}"
    );
    assert!(
        log1.contains("new finding:") && log1.contains("acme/app/config/prod.env"),
        "{log1}"
    );
    assert!(
        log1.contains("4 repositories listed, 2 kept by the filters"),
        "{log1}"
    );
    let db = rusqlite::Connection::open(dir.path().join("state/state.db")).unwrap();
    let sources: Vec<String> = db
        .prepare("SELECT source FROM tracked_findings WHERE resolved_at IS NULL")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(sources, ["scan:acme-org/acme/app"]);
    drop(db);
    let mirrors = dir.path().join("state/mirrors/acme-org");
    assert_eq!(
        std::fs::read_dir(&mirrors).unwrap().count(),
        2,
        "archived and fork skipped"
    );

    // A push to acme/lib: the next pass reads its new blob only; acme/app is unchanged.
    let lib = &works[1].1;
    lib.write("src/extra.rs", "pub fn extra() {}\n");
    lib.commit_all("extra");
    host.push(lib, "acme/lib");
    let log2 = daemon_pass(dir.path(), &config, &[("GITHUB_TOKEN", &tok)], 2);
    assert!(
        log2.contains("run ok: 2 repositories: 1 scanned, 1 unchanged, 0 failed; 1 blobs read"),
        "{log2}"
    );
    assert!(
        log2.contains("acme/app: fetched, unchanged since the last scan"),
        "{log2}"
    );
    assert!(!log2.contains("new finding:"), "{log2}");

    // A wrong token: the run fails (the listing is refused), and says so without it.
    let wrong = token();
    let log3 = daemon_pass(dir.path(), &config, &[("GITHUB_TOKEN", &wrong)], 3);
    assert!(log3.contains("run failed"), "{log3}");

    let b64 = basic("x-access-token", &tok);
    let wb64 = basic("x-access-token", &wrong);
    let needles = [
        tok.as_str(),
        b64.trim_start_matches("Basic "),
        wrong.as_str(),
        wb64.trim_start_matches("Basic "),
    ];
    for log in [&log1, &log2, &log3] {
        for n in needles {
            assert!(!log.contains(n), "a log holds a token:\n{log}");
        }
        assert_no_secret("daemon log", log.as_bytes());
    }
    assert_absent_under(&dir.path().join("state"), &needles);
    assert_no_secret(
        "state db",
        &std::fs::read(dir.path().join("state/state.db")).unwrap(),
    );
}

#[test]
fn config_check_refuses_bad_sources() {
    let dir = Tree::new();
    for (body, want) in [
        (
            "source = { github_org = \"acme\" }\n",
            "source needs history = true",
        ),
        (
            "history = true\nsource = { urls = [\"http://git.example.com/a.git\"] }\n",
            "plain http is refused",
        ),
        (
            "history = true\nsource = { github_org = \"acme\", api_url = \"http://api.example.com\" }\n",
            "plain http is refused",
        ),
        (
            "history = true\npaths = [\".\"]\nsource = { github_org = \"acme\" }\n",
            "alternatives",
        ),
    ] {
        let config = dir.write(
            "k.toml",
            format!("[[daemon.scan]]\nname = \"org\"\nschedule = \"@hourly\"\n{body}"),
        );
        let out = dir
            .cmd()
            .args(["config", "check"])
            .arg(&config)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{body}: {err}");
        assert!(err.contains(want), "{body}: {err}");
    }
}

/// Two daemons on one PostgreSQL state split a fleet target: at each scheduled tick both
/// run it, and each repository is taken by exactly one of them (its lease); the other
/// counts it as run by another daemon.
#[test]
fn two_daemons_on_postgresql_run_each_repository_once_per_tick() {
    use crate::daemon::{Daemon, eventually};
    use crate::util::postgres;
    let Some(pg) = postgres::server() else {
        postgres::skipped("two_daemons_on_postgresql_run_each_repository_once_per_tick");
        return;
    };
    let db_url = pg.fresh_db();
    let host = Host::start(None);
    let works = plant(&host);
    let dir = Tree::new();
    let urls = works
        .iter()
        .map(|(n, _)| format!("\"{}\"", host.url(n)))
        .collect::<Vec<_>>()
        .join(", ");
    let config = dir.write(
        "keywarden.toml",
        format!(
            "[state]\nurl = {{ env = \"KW_STATE_URL\" }}\n\n[[daemon.scan]]\nname = \"fleet\"\n\
             schedule = \"*/2 * * * * *\"\nhistory = true\nsource = {{ urls = [{urls}] }}\n"
        ),
    );
    let env = [("KW_STATE_URL", db_url.as_str())];
    let mut daemons: Vec<Daemon> = (1..=2)
        .map(|n| Daemon::start(&dir, &config, &env, n))
        .collect();
    for d in &daemons {
        d.expect("READY=1");
    }
    let mut db = ::postgres::Client::connect(&db_url, ::postgres::NoTls).unwrap();
    let count = regex::Regex::new(
        r"(\d+) scanned, (\d+) unchanged, (\d+) failed(?:, \d+ gone)?(?:, (\d+) run by another daemon)?",
    )
    .unwrap();
    // Ticks both daemons ran: (repositories taken by each, run by the other, per daemon).
    let shared_ticks = |db: &mut ::postgres::Client| -> Vec<(i64, Vec<(u64, u64)>)> {
        let rows = db
            .query(
                "SELECT scheduled_for, detail FROM job_runs WHERE trigger = 'schedule' \
                 AND outcome = 'ok' ORDER BY scheduled_for",
                &[],
            )
            .unwrap();
        let mut ticks: Vec<(i64, Vec<(u64, u64)>)> = Vec::new();
        for r in rows {
            let (tick, detail): (Option<i64>, Option<String>) = (r.get(0), r.get(1));
            let (Some(tick), Some(detail)) = (tick, detail) else {
                continue;
            };
            let c = count
                .captures(&detail)
                .unwrap_or_else(|| panic!("{detail}"));
            let n = |i: usize| c.get(i).map_or(0, |m| m.as_str().parse::<u64>().unwrap());
            let run = (n(1) + n(2), n(4));
            match ticks.last_mut() {
                Some((t, runs)) if *t == tick => runs.push(run),
                _ => ticks.push((tick, vec![run])),
            }
        }
        ticks.retain(|(_, runs)| runs.len() == 2);
        ticks
    };
    let ticks = eventually("two ticks run by both daemons", || {
        let t = shared_ticks(&mut db);
        (t.len() >= 2).then_some(t)
    });
    for (tick, runs) in &ticks {
        let taken: u64 = runs.iter().map(|r| r.0).sum();
        let elsewhere: u64 = runs.iter().map(|r| r.1).sum();
        let n = works.len() as u64;
        assert_eq!(taken, n, "tick {tick}: each repository once: {runs:?}");
        assert_eq!(elsewhere, n, "tick {tick}: {runs:?}");
    }
    for d in &mut daemons {
        d.signal("-TERM");
        assert_eq!(d.wait(), Some(0), "{}", d.log_text());
    }
}
