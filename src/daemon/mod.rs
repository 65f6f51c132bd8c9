//! The long-running form: `keywarden daemon --config FILE` under systemd.
//!
//! [`run`] takes loaded [`Settings`], a stream of reload requests and a shutdown future
//! (production passes SIGHUP and SIGTERM from [`signals`]; tests pass their own). It
//! opens the state store, says `READY=1`, then runs one [`scheduler::JobLoop`] per
//! workspace audit and per scan target, a delivery loop over the outbox, the file watcher
//! and the watchdog. A reload validates the new config first: a broken one is logged and
//! the running one kept; a good one stops the job loops (runs in flight finish) and
//! starts new ones. Shutdown says `STOPPING=1`, lets runs in flight finish and returns.
//!
//! # Layout
//!
//! - `config`: `[daemon]`, validated strictly.
//! - `scheduler`: one job's loop: ticks (croner, in the configured zone), no overlap.
//! - `jobs`: the [`jobs::Job`] trait, its audit and scan jobs, the outbox pass.
//! - `lease`: one daemon per job and tick when several share a PostgreSQL state.
//! - `fleet`: `source` scan targets: an organisation's repositories ([`crate::fleet`]).
//! - `outage`: a job or channel failing persistently is reported once, and its recovery.
//! - `watch`: debounced file watching. `signals`: SIGHUP/SIGTERM. `sd`: sd_notify.
//! - `log`: journald or stderr.

pub mod config;
pub mod fleet;
pub mod jobs;
pub mod lease;
pub mod log;
pub mod outage;
pub mod scheduler;
pub mod sd;
pub mod signals;
pub mod watch;

pub use config::DaemonConfig;

use crate::audit::AuditConfig;
use crate::error::Result;
use crate::notify::NotifyConfig;
use crate::service_config::LoadedConfig;
use crate::store::{Store, now_ms};
use chrono::{DateTime, Utc};
use scheduler::{Clock, JobLoop, SystemClock, Trigger};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch as tokio_watch};

/// Everything the daemon needs from the service config, validated, paths resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The config file (reloaded from here).
    pub path: PathBuf,
    /// `[daemon]`.
    pub daemon: DaemonConfig,
    /// `[audit]`.
    pub audit: AuditConfig,
    /// `[notify]`.
    pub notify: NotifyConfig,
    /// The state store: a SQLite file, or a PostgreSQL database shared by several daemons.
    pub state: crate::store::Location,
}

impl Settings {
    /// Loads and validates the whole service config at `path` (what `keywarden config
    /// check` runs): syntax, unknown keys, cron expressions, time zone, `[notify]`
    /// channels, `[daemon]` names and paths. Opens nothing.
    pub fn load(path: &Path) -> Result<Settings> {
        let loaded = LoadedConfig::load(path)?;
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        // Absolute, so that watched paths match the watcher's events after a chdir.
        let base = &std::path::absolute(base).unwrap_or_else(|_| base.to_path_buf());
        let c = loaded.config;
        c.notify.validate(path)?;
        c.daemon.validate(path)?;
        let mut notify = c.notify;
        notify.resolve_paths(base);
        let mut daemon = c.daemon;
        daemon.resolve_paths(base);
        if let Some(url) = daemon
            .workspace
            .iter()
            .filter_map(|w| w.api_url.as_deref())
            .chain(c.audit.api_url.as_deref())
            .next()
        {
            crate::mask::builder::check_base_url(url)?;
        }
        for src in daemon.scan.iter().filter_map(|t| t.source.as_ref()) {
            if src.kind() != crate::fleet::Kind::Urls {
                crate::mask::builder::check_base_url(&src.api())?;
            }
        }
        let settings = Settings {
            path: path.to_path_buf(),
            state: c.state.location(base, path)?,
            daemon,
            audit: c.audit,
            notify,
        };
        settings.check_paths()?;
        Ok(settings)
    }

    /// What the daemon would otherwise find only once running: watched paths exist,
    /// history targets are git repositories, CA files are readable regular files and the
    /// templates directory is a directory. `config check` runs it too, so a unit's
    /// `ExecStartPre=keywarden config check` fails instead of a restart loop.
    fn check_paths(&self) -> Result<()> {
        let err = |message: String, hint: &str| crate::Error::DaemonConfig {
            path: self.path.clone(),
            message,
            hint: hint.to_string(),
        };
        if let Some(t) = self.daemon.scan.iter().find(|t| t.source.is_some())
            && let Err(e) = std::process::Command::new("git")
                .arg("--version")
                .stdout(std::process::Stdio::null())
                .status()
        {
            return Err(err(
                format!(
                    "[[daemon.scan]] {:?}: a source needs the git CLI: {e}",
                    t.name
                ),
                "install git (apt-get install git) where the daemon runs, in its PATH",
            ));
        }
        for t in &self.daemon.scan {
            for p in &t.paths {
                if t.watch && std::fs::symlink_metadata(p).is_err() {
                    return Err(err(
                        format!(
                            "[[daemon.scan]] {:?}: watched path {} does not exist",
                            t.name,
                            p.display()
                        ),
                        "create it, fix the path (relative paths are relative to the config file), or set watch = false",
                    ));
                }
                if t.history
                    && let Err(e) = crate::git::open(p)
                {
                    return Err(err(
                        format!(
                            "[[daemon.scan]] {:?}: history = true but {} is not a git repository: {e}",
                            t.name,
                            p.display()
                        ),
                        "point paths at a work tree or a bare repository, or set history = false",
                    ));
                }
            }
        }
        let n = &self.notify;
        let cas = n.email.iter().map(|c| (&c.name, &c.ca_file));
        let cas = cas.chain(n.webhook.iter().map(|c| (&c.name, &c.ca_file)));
        for (name, ca) in cas {
            if let Some(ca) = ca
                && let Err(e) = crate::bounded::check(ca, crate::bounded::MAX_INPUT)
            {
                return Err(err(
                    format!("[notify] channel {name:?}: ca_file {}: {e}", ca.display()),
                    "point ca_file at a PEM file readable by the keywarden user, or remove it",
                ));
            }
        }
        if let Some(dir) = &n.templates
            && !dir.is_dir()
        {
            return Err(err(
                format!("[notify] templates {} is not a directory", dir.display()),
                "create it (files in it override the built-in templates by name), or remove templates",
            ));
        }
        Ok(())
    }
}

/// Runs the daemon until `shutdown` completes. Each item of `reloads` re-reads
/// `settings.path`.
pub async fn run(
    settings: Settings,
    mut reloads: mpsc::UnboundedReceiver<()>,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let _lock = crate::store::StateLock::acquire(&settings.state)?;
    let mut store = Store::open(&settings.state)?;
    // One daemon per SQLite file (the lock above): a lease of another holder is a killed
    // predecessor's.
    if matches!(store.location(), crate::store::Location::Sqlite(_)) {
        store.expire_leases_of_others(crate::store::holder_id())?;
    }
    drop(store);
    let mut settings = Arc::new(settings);
    let mut generation = Generation::start(settings.clone(), clock.clone())?;
    sd::ready(&status_line(&settings));
    tracing::info!(
        "keywarden daemon ready: {} (state {})",
        status_line(&settings),
        settings.state.display()
    );
    let watchdog = sd::watchdog_interval().map(|every| {
        tokio::spawn(async move {
            loop {
                sd::watchdog();
                tokio::time::sleep(every).await;
            }
        })
    });
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            Some(()) = reloads.recv() => {
                sd::reloading();
                match Settings::load(&settings.path) {
                    Ok(new) => {
                        tracing::info!("SIGHUP: reloading {}", settings.path.display());
                        generation.stop().await;
                        let new = Arc::new(new);
                        generation = match Generation::start(new.clone(), clock.clone()) {
                            Ok(g) => {
                                settings = new;
                                tracing::info!("reloaded: {}", status_line(&settings));
                                g
                            }
                            Err(e) => {
                                // E.g. a watched path that does not exist: back to the old config.
                                tracing::error!("SIGHUP: the new config cannot start, the running one is kept: {e}");
                                Generation::start(settings.clone(), clock.clone())?
                            }
                        };
                    }
                    Err(e) => {
                        tracing::error!("SIGHUP: the new config is rejected, the running one is kept: {e}");
                    }
                }
                sd::ready(&status_line(&settings));
            }
        }
    }
    sd::stopping();
    tracing::info!("stopping: letting runs in flight finish");
    generation.stop().await;
    if let Some(w) = watchdog {
        w.abort();
    }
    tracing::info!("stopped");
    Ok(())
}

fn status_line(s: &Settings) -> String {
    format!(
        "{} workspace(s), {} scan target(s), {} notification channel(s)",
        s.daemon.workspace.len(),
        s.daemon.scan.len(),
        s.notify.email.len() + s.notify.webhook.len()
    )
}

/// The tasks of one config: job loops, delivery loop, watcher.
struct Generation {
    stop: tokio_watch::Sender<bool>,
    tasks: tokio::task::JoinSet<()>,
    _watcher: Option<watch::Watcher>,
}

impl Generation {
    fn start(s: Arc<Settings>, clock: Arc<dyn Clock>) -> Result<Generation> {
        let (stop, stop_rx) = tokio_watch::channel(false);
        // Loops are built first and spawned only once everything fallible (the watcher)
        // has started: a generation that cannot start leaves no half-run job behind.
        let mut pending: Vec<std::pin::Pin<Box<dyn Future<Output = ()> + Send>>> = Vec::new();
        let tz = &s.daemon.time_zone;
        let mut watched = Vec::new();
        for job in jobs::all(&s) {
            let name = job.name();
            let first = if job.runs_at_start() {
                Some(Trigger::Start)
            } else {
                job.schedule()
                    .and_then(|sch| catch_up(&s, &name, sch.clone(), clock.now()))
            };
            let kicks = job.watched().map(|paths| {
                let (tx, rx) = mpsc::unbounded_channel();
                watched.push((paths.to_vec(), tx));
                rx
            });
            let l = JobLoop {
                name: name.clone(),
                schedule: job.schedule().cloned(),
                tz: tz.clone(),
                clock: clock.clone(),
                first,
                kicks,
                stop: stop_rx.clone(),
            };
            let s = s.clone();
            pending.push(Box::pin(l.run(move |trigger, tick| {
                let (s, name, job) = (s.clone(), name.clone(), job.clone());
                async move {
                    // Daemons sharing one state: the lease picks the one that runs this tick.
                    let at = lease::tick_key(&s, job.schedule(), trigger, tick, Utc::now());
                    let lease = if job.shared() {
                        None
                    } else {
                        let Some(l) = lease::take(&s, &name, at).await else {
                            if trigger != Trigger::Schedule {
                                tracing::info!(job = %name, trigger = trigger.as_str(), "this tick is run by another daemon (or was): nothing to do until the next");
                            }
                            return;
                        };
                        Some(l)
                    };
                    let id = start_run(&s, &name, trigger, tick).await;
                    let s2 = s.clone();
                    let r = jobs::blocking(move || job.run(&s2, at)).await;
                    if let Some(l) = lease {
                        l.release(&s, r.is_ok()).await;
                    }
                    finish_run(&s, &name, trigger, id, r).await;
                }
            })));
        }
        let watcher = watch::start(watched, Duration::from_secs(s.daemon.debounce_secs))?;
        let mut tasks = tokio::task::JoinSet::new();
        for f in pending {
            tasks.spawn(f);
        }
        tasks.spawn(delivery_loop(s.clone(), stop_rx));
        Ok(Generation {
            stop,
            tasks,
            _watcher: watcher,
        })
    }

    async fn stop(mut self) {
        let _ = self.stop.send(true);
        while let Some(r) = self.tasks.join_next().await {
            if let Err(e) = r {
                tracing::error!("a daemon task failed: {e}");
            }
        }
    }
}

/// `Some(CatchUp)` when `catch_up` is on and a tick of `schedule` fell between the job's
/// last recorded run and `now`.
fn catch_up(
    s: &Settings,
    job: &str,
    schedule: config::Schedule,
    now: DateTime<Utc>,
) -> Option<Trigger> {
    if !s.daemon.catch_up {
        return None;
    }
    let last = Store::open(&s.state)
        .and_then(|st| st.last_run(job))
        .inspect_err(|e| tracing::warn!(job, "cannot read the last run: {e}"))
        .ok()??;
    let since = DateTime::from_timestamp_millis(last.started_at)?;
    schedule.missed(since, now, &s.daemon.time_zone).then(|| {
        tracing::info!(job, "a run was missed since {since}: catching up");
        Trigger::CatchUp
    })
}

/// Records the start of a run (so `status` and catch-up see it even if it never ends).
async fn start_run(
    s: &Arc<Settings>,
    job: &str,
    trigger: Trigger,
    tick: Option<DateTime<Utc>>,
) -> Option<i64> {
    let (job, s) = (job.to_string(), s.clone());
    jobs::blocking(move || {
        Store::open(&s.state)?.run_started(
            &job,
            trigger.as_str(),
            tick.map(|t| t.timestamp_millis()),
            now_ms(),
        )
    })
    .await
    .inspect_err(|e| tracing::error!("cannot record the run: {e}"))
    .ok()
}

/// Records a finished run in the store and the log; errors are logged with their chain,
/// never propagated (the next tick retries).
async fn finish_run(
    s: &Arc<Settings>,
    job: &str,
    trigger: Trigger,
    id: Option<i64>,
    result: Result<String>,
) {
    let (ok, detail) = match result {
        Ok(summary) => {
            tracing::info!(job, trigger = trigger.as_str(), "run ok: {summary}");
            (true, summary)
        }
        Err(e) => {
            let chain = error_chain(&e);
            tracing::error!(
                job,
                trigger = trigger.as_str(),
                "run failed (retrying at the next tick): {chain}"
            );
            (false, chain)
        }
    };
    let Some(id) = id else { return };
    crate::failpoint::hit("before-run-recorded");
    let s2 = s.clone();
    let r = jobs::blocking(move || Store::open(&s2.state)?.run_finished(id, ok, &detail, now_ms()))
        .await;
    if let Err(e) = r {
        tracing::error!("cannot record the end of the run: {e}");
    }
    check_outages(s).await;
}

/// [`outage::check`], logging its errors (it never stops anything).
async fn check_outages(s: &Arc<Settings>) {
    let s = s.clone();
    if let Err(e) = jobs::blocking(move || outage::check(&s)).await {
        tracing::error!("cannot check for outages: {}", error_chain(&e));
    }
}

/// An error and its sources, `: `-separated.
fn error_chain(e: &dyn std::error::Error) -> String {
    let s = e.to_string();
    let causes = crate::error::causes(&s, e);
    s + &causes
}

/// Delivers what is pending: at start (what a killed daemon left), when the next pending
/// message is due, and every `deliver_every_secs`.
async fn delivery_loop(s: Arc<Settings>, mut stop: tokio_watch::Receiver<bool>) {
    if s.notify.is_empty() {
        return;
    }
    // Consecutive failed passes: each doubles the wait (1 s … 5 min), so a store that
    // cannot be written (a full disk) is not retried, and logged, many times a second.
    let mut failures: u32 = 0;
    loop {
        let s2 = s.clone();
        let backoff = match jobs::blocking(move || jobs::deliver(&s2)).await {
            Err(e) => {
                failures = failures.saturating_add(1);
                let b = Duration::from_secs(1u64 << failures.min(9).saturating_sub(1))
                    .min(Duration::from_secs(300));
                tracing::error!(
                    "outbox delivery failed (retrying in {} s): {e}",
                    b.as_secs()
                );
                Some(b)
            }
            Ok(_) => {
                failures = 0;
                None
            }
        };
        check_outages(&s).await;
        let s2 = s.clone();
        let next = jobs::blocking(move || jobs::next_pending(&s2))
            .await
            .ok()
            .flatten();
        let every = Duration::from_secs(s.daemon.deliver_every_secs.max(1));
        let wait = next
            .map(|at| Duration::from_millis(at.saturating_sub(now_ms()).max(100) as u64))
            .map_or(every, |d| d.min(every));
        let wait = backoff.map_or(wait, |b| wait.max(b));
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}
