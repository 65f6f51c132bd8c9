//! A `source` scan target (`[[daemon.scan]] source = { github_org = … }`): list the
//! repositories, then mirror and scan several at once ([`crate::fleet::scan_repository`]),
//! publishing each repository's findings under its own state source, and resolve the
//! findings of repositories that left the fleet. Called from [`super::jobs::scan`]; kept
//! apart so that it can move with the job layer.

use super::Settings;
use super::config::ScanTarget;
use super::jobs;
use crate::error::{Error, Result};
use crate::finding::Severity;
use crate::fleet::{self, Fleet, GitAuth, HttpOptions, Repo, Source};
use crate::notify::ReportModel;
use crate::scan::Engine;
use crate::store::{Store, now_ms};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Where the mirrors of fleet target `target` live: `mirrors/<target>/` next to the state
/// store (systemd's `StateDirectory=`).
pub fn mirrors_dir(state: &Path, target: &str) -> PathBuf {
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
    state
        .parent()
        .unwrap_or(Path::new("."))
        .join("mirrors")
        .join(safe.trim_start_matches('.'))
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
    failed: Vec<String>,
}

/// Runs fleet target `target` once. Blocking. Returns the run's summary; an error when
/// the listing failed or any repository failed (after every other one was done).
pub fn scan(s: &Settings, target: &ScanTarget, source: &Source) -> Result<String> {
    let job = jobs::scan_job(target);
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
        mirrors: mirrors_dir(&s.state, &target.name),
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
                    let r = one(s, &f, repo, target.alert_on);
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
        "{} repositories: {} scanned, {} unchanged, {} failed{}; {} blobs read, {} clean blobs skipped; {} finding(s), {} new{}",
        repos.len(),
        t.scanned,
        t.unchanged,
        t.failed.len(),
        if gone > 0 {
            format!(", {gone} gone")
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
    }
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
    let model = ReportModel::from_scan(&report, &r.source)?;
    t.findings = model.items.len();
    let (alerted, new) = {
        let _turn = fleet::store_turn();
        jobs::publish(s, &r.source, model, alert_on)?
    };
    t.new = new;
    t.alerted = usize::from(alerted);
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
