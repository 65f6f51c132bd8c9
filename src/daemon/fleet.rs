//! A `source` scan target (`[[daemon.scan]] source = { github_org = … }`): list the
//! repositories, then mirror and scan several at once ([`crate::fleet::scan_repository`]),
//! publishing each repository's findings under its own state source, and resolve the
//! findings of repositories that left the fleet. Called by the scan job of a
//! target with a `source`.

use super::Settings;
use super::config::ScanTarget;
use crate::error::{Error, Result};
use crate::finding::Severity;
use crate::fleet::{self, Fleet, GitAuth, HttpOptions, Repo, Source};
use crate::notify::ReportModel;
use crate::run::publish::Mode;
use crate::scan::Engine;
use crate::store::{Location, Store, now_ms};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Where the mirrors of fleet target `target` live: `mirrors/<target>/` in systemd's
/// `StateDirectory=` when set, else next to the SQLite state file, else (a PostgreSQL
/// state) next to the config file.
pub fn mirrors_dir(s: &Settings, target: &str) -> PathBuf {
    let safe: String = target
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let base = match (std::env::var_os("STATE_DIRECTORY"), &s.state) {
        (Some(dir), _) if !dir.is_empty() => PathBuf::from(dir),
        (_, Location::Sqlite(db)) => db.parent().unwrap_or(Path::new(".")).to_path_buf(),
        _ => s.path.parent().unwrap_or(Path::new(".")).to_path_buf(),
    };
    base.join("mirrors").join(safe.trim_start_matches('.'))
}

/// What one repository's run did.
#[derive(Default)]
struct Tally {
    scanned: usize,
    unchanged: usize,
    findings: usize,
    new: usize,
    read: u64,
    skipped: u64,
    alerted: usize,
    /// Run by another daemon sharing the state.
    elsewhere: usize,
    failed: Vec<String>,
}

/// Runs fleet target `target` once. Blocking. Returns the run's summary; an error when
/// the listing failed or any repository failed (after every other one was done).
pub fn scan(s: &Settings, target: &ScanTarget, source: &Source, tick: i64) -> Result<String> {
    let job = format!("scan:{}", target.name);
    let token = source
        .token
        .as_ref()
        .map(|t| t.read(&format!("daemon.scan[{}].source.token", target.name)))
        .transpose()?;
    let listed = fleet::list(source, token.as_ref(), &HttpOptions::default())?;
    let filter = source.filter();
    let repos: Vec<Repo> = listed.iter().filter(|r| filter.keeps(r)).cloned().collect();
    tracing::info!(
        job,
        "{} repositories listed, {} kept by the filters",
        listed.len(),
        repos.len()
    );
    let auth = token.as_ref().map(|t| GitAuth::new(source.kind(), t));
    let engine = Engine::new(crate::rules::load(Vec::new())?)?;
    let workers = source.concurrency().min(repos.len()).max(1);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let f = Fleet {
        target: &target.name,
        state: &s.state,
        mirrors: mirrors_dir(s, &target.name),
        engine: &engine,
        auth: auth.as_ref(),
        threads: (cores / workers).max(1),
    };
    let next = AtomicUsize::new(0);
    let tally = Mutex::new(Tally::default());
    std::thread::scope(|sc| {
        for _ in 0..workers {
            sc.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(repo) = repos.get(i) else { break };
                    let r = leased(s, &f, repo, target.alert_on, tick);
                    let mut t = tally.lock().unwrap_or_else(|e| e.into_inner());
                    match r {
                        Ok(add) => t.add(add),
                        Err(e) => {
                            tracing::warn!(job, "{}: {e}", crate::redact::clean_name(&repo.name));
                            t.failed.push(repo.name.clone());
                        }
                    }
                }
            });
        }
    });
    let t = tally.into_inner().unwrap_or_else(|e| e.into_inner());
    let gone = forget_departed(s, &target.name, &repos, &f.mirrors)?;
    let summary = format!(
        "{} repositories: {} scanned, {} unchanged, {} failed{}{}; {} blobs read, {} clean blobs skipped; {} finding(s), {} new{}",
        repos.len(),
        t.scanned,
        t.unchanged,
        t.failed.len(),
        if gone > 0 {
            format!(", {gone} gone")
        } else {
            String::new()
        },
        if t.elsewhere > 0 {
            format!(", {} run by another daemon", t.elsewhere)
        } else {
            String::new()
        },
        t.read,
        t.skipped,
        t.findings,
        t.new,
        if t.alerted > 0 {
            format!(", {} alert(s) enqueued", t.alerted)
        } else {
            String::new()
        }
    );
    if t.failed.is_empty() {
        return Ok(summary);
    }
    let mut names: Vec<String> = t
        .failed
        .iter()
        .take(5)
        .map(|n| crate::redact::clean_name(n))
        .collect();
    if t.failed.len() > 5 {
        names.push("…".into());
    }
    Err(Error::Fleet {
        message: format!("{summary}; failed: {}", names.join(", ")),
        hint: "each failure is logged with its cause; the next run retries them (the others are not read again)".into(),
    })
}

impl Tally {
    fn add(&mut self, o: Tally) {
        self.scanned += o.scanned;
        self.unchanged += o.unchanged;
        self.findings += o.findings;
        self.new += o.new;
        self.read += o.read;
        self.skipped += o.skipped;
        self.alerted += o.alerted;
        self.elsewhere += o.elsewhere;
    }
}

/// [`one`] under the repository's lease for `tick`: daemons sharing a state split the
/// fleet, each repository run by one of them; a repository another daemon holds is left
/// to it (if that daemon dies, its lease expires and the next tick takes it over).
fn leased(
    s: &Settings,
    f: &Fleet<'_>,
    repo: &Repo,
    alert_on: Severity,
    tick: i64,
) -> Result<Tally> {
    let key = fleet::repo_source(f.target, &repo.name);
    let ran = super::lease::run_leased(s, &key, tick, || one(s, f, repo, alert_on))?;
    Ok(ran.unwrap_or(Tally {
        elsewhere: 1,
        ..Tally::default()
    }))
}

/// Mirrors and scans one repository, publishes its findings, then records its watermark.
fn one(s: &Settings, f: &Fleet<'_>, repo: &Repo, alert_on: Severity) -> Result<Tally> {
    let started = std::time::Instant::now();
    let mut r = fleet::scan_repository(f, repo)?;
    tracing::info!(
        job = r.source,
        "{}: {}",
        crate::redact::clean_name(&repo.name),
        r.summary()
    );
    let mut t = Tally {
        read: r.read,
        skipped: r.skipped,
        ..Tally::default()
    };
    if r.unchanged {
        t.unchanged = 1;
        fleet::record(&s.state, f.target, &r)?;
        return Ok(t);
    }
    t.scanned = 1;
    let report = crate::scan::outcome::finish(
        &f.engine.db,
        std::mem::take(&mut r.result),
        &[],
        chrono::Local::now().date_naive(),
        started.elapsed().as_millis() as u64,
    );
    let model = ReportModel::from(&report).named(&r.source);
    t.findings = model.items.len();
    let mode = Mode::Tracked {
        job: &r.source,
        alert_on,
        digest: s.daemon.digest,
    };
    let p = {
        let _turn = fleet::store_turn();
        let mut store = Store::open(&s.state)?;
        crate::run::publish::publish(
            &s.notify,
            &mut store,
            model,
            mode,
            Some(s.daemon.delivery_budget_ms),
        )?
    };
    t.new = p.new;
    t.alerted = usize::from(p.enqueued);
    fleet::record(&s.state, f.target, &r)?;
    Ok(t)
}

/// Resolves the findings of the repositories recorded for `target` that are no longer
/// listed (deleted, archived, excluded), forgets them and removes their mirrors. Returns
/// how many left.
fn forget_departed(s: &Settings, target: &str, repos: &[Repo], mirrors: &Path) -> Result<usize> {
    let mut store = Store::open(&s.state)?;
    let listed: HashSet<String> = repos
        .iter()
        .map(|r| fleet::repo_source(target, &r.name))
        .collect();
    let mut gone = 0;
    for source in store.fleet_sources(target)? {
        if listed.contains(&source) {
            continue;
        }
        store.track(&source, &[], now_ms())?;
        store.forget_fleet_repo(&source)?;
        let name = source
            .strip_prefix(&format!("scan:{target}/"))
            .unwrap_or(&source);
        fleet::remove_mirror(mirrors, name);
        tracing::info!("{source}: left the fleet: its findings are resolved");
        gone += 1;
    }
    Ok(gone)
}
