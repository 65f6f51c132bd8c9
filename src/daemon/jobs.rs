//! The daemon's jobs behind one small trait, [`Job`]: an audit of one workspace and a
//! scan of one target. Each run is the same use case the commands call ([`run::audit`],
//! [`run::scan`]) followed by [`run::publish`] in tracked mode: the findings are recorded
//! as the job's open set and the report is enqueued only for what is new (every run with
//! `digest = true`), in one transaction.

use super::Settings;
use super::config::{ScanTarget, Schedule, Workspace};
use crate::error::{Error, Result};
use crate::notify::{DeliveryStats, ReportModel};
use crate::run::{
    self,
    history::Tracked,
    publish::{Mode, Published},
    scan::{Policy, Source},
};
use crate::scan::ScanOptions;
use crate::settings::AuditSettings;
use crate::store::Store;
use std::path::PathBuf;
use std::sync::Arc;

/// Scheduled work: a name, when it runs, and a blocking run that returns a one-line
/// summary (logged and kept in the state as the run's detail).
pub trait Job: Send + Sync {
    /// State key and log field: `audit:acme`, `scan:configs`.
    fn name(&self) -> String;
    /// When it runs; `None`: at start and on change only.
    fn schedule(&self) -> Option<&Schedule>;
    /// Paths whose changes start a run.
    fn watched(&self) -> Option<&[PathBuf]> {
        None
    }
    /// Runs at start (scans); otherwise a run missed while the daemon was down is caught
    /// up (audits, with `catch_up`).
    fn runs_at_start(&self) -> bool;
    /// Whether daemons sharing a state split each run between them (each part leased on
    /// its own, as a fleet's repositories are) instead of one daemon running it whole.
    fn shared(&self) -> bool {
        false
    }
    /// One run for `tick` (Unix ms). Blocking: call it on a blocking thread.
    fn run(&self, s: &Settings, tick: i64) -> Result<String>;
}

/// The job name of a workspace's audit (state key, log field).
pub fn audit_job(ws: &Workspace) -> String {
    format!("audit:{}", ws.name)
}

/// The job name of a scan target.
pub fn scan_job(t: &ScanTarget) -> String {
    format!("scan:{}", t.name)
}

/// Every job of `s`: its workspaces' audits, then its scan targets.
pub fn all(s: &Settings) -> Vec<Arc<dyn Job>> {
    let audits = s
        .daemon
        .workspace
        .iter()
        .cloned()
        .map(|w| Arc::new(AuditJob(w)) as Arc<dyn Job>);
    let scans = s
        .daemon
        .scan
        .iter()
        .cloned()
        .map(|t| Arc::new(ScanJob(t)) as Arc<dyn Job>);
    audits.chain(scans).collect()
}

/// A workspace's audit through the API.
pub struct AuditJob(pub Workspace);

impl Job for AuditJob {
    fn name(&self) -> String {
        audit_job(&self.0)
    }

    fn schedule(&self) -> Option<&Schedule> {
        Some(&self.0.schedule)
    }

    fn runs_at_start(&self) -> bool {
        false
    }

    fn run(&self, s: &Settings, _tick: i64) -> Result<String> {
        let job = self.name();
        let report = run::audit::audit(&AuditSettings::for_workspace(&s.audit, &self.0))?;
        let keys = report.keys.len();
        let model = ReportModel::from(&report).named(&job);
        let mode = Mode::Tracked {
            job: &job,
            alert_on: crate::finding::Severity::Low,
            digest: s.daemon.digest,
        };
        let p = publish(s, model, mode)?;
        Ok(format!(
            "{keys} keys, {} new finding(s){}",
            p.new,
            if p.enqueued { ", report enqueued" } else { "" }
        ))
    }
}

/// A scan of a target's paths, or with `history` of its repositories' histories
/// (incrementally, [`run::history`]). Built-in rules only.
pub struct ScanJob(pub ScanTarget);

impl Job for ScanJob {
    fn name(&self) -> String {
        scan_job(&self.0)
    }

    fn schedule(&self) -> Option<&Schedule> {
        self.0.schedule.as_ref()
    }

    fn watched(&self) -> Option<&[PathBuf]> {
        self.0.watch.then_some(self.0.paths.as_slice())
    }

    fn runs_at_start(&self) -> bool {
        true
    }

    fn shared(&self) -> bool {
        self.0.source.is_some()
    }

    fn run(&self, s: &Settings, tick: i64) -> Result<String> {
        let (job, target) = (self.name(), &self.0);
        if let Some(source) = &target.source {
            return super::fleet::scan(s, target, source, tick);
        }
        let engine = run::scan::engine(&Default::default(), &[])?;
        let policy = Policy::default();
        let report = if target.history {
            let mut store = Store::open(&s.state)?;
            let source = Source::Incremental(Tracked {
                store: &mut store,
                job: &job,
                repos: &target.paths,
            });
            run::scan::scan(&engine, source, &policy)?
        } else {
            let mut options = ScanOptions::new(target.paths.clone());
            // A daemon guards deployed files: `.gitignore` (which lists `.env`) does not apply.
            options.ignore_files(false);
            let source = Source::Tree {
                options: &options,
                on_file: &|_| {},
            };
            run::scan::scan(&engine, source, &policy)?
        };
        let read = match &report.summary.git {
            Some(stats) => run::history::describe(stats),
            None => format!("{} files", report.summary.files),
        };
        let model = ReportModel::from(&report).named(&job);
        let findings = model.items.len();
        let mode = Mode::Tracked {
            job: &job,
            alert_on: target.alert_on,
            digest: s.daemon.digest,
        };
        let p = publish(s, model, mode)?;
        Ok(format!(
            "{read}, {findings} finding(s), {} new{}",
            p.new,
            if p.enqueued { ", alert enqueued" } else { "" }
        ))
    }
}

/// [`run::publish::publish`] on the state store, delivery bounded by
/// `[daemon] delivery_budget_ms`.
pub(crate) fn publish(s: &Settings, model: ReportModel, mode: Mode<'_>) -> Result<Published> {
    let mut store = Store::open(&s.state)?;
    run::publish::publish(
        &s.notify,
        &mut store,
        model,
        mode,
        Some(s.daemon.delivery_budget_ms),
    )
}

/// A delivery pass over the outbox, bounded by `[daemon] delivery_budget_ms`.
pub fn deliver(s: &Settings) -> Result<DeliveryStats> {
    if s.notify.is_empty() {
        return Ok(DeliveryStats::default());
    }
    let mut store = Store::open(&s.state)?;
    deliver_with(s, &mut store)
}

/// [`deliver`] on an open store.
pub fn deliver_with(s: &Settings, store: &mut Store) -> Result<DeliveryStats> {
    run::publish::deliver(&s.notify, store, Some(s.daemon.delivery_budget_ms))
}

/// When the next pending message is due (Unix ms), if any.
pub fn next_pending(s: &Settings) -> Result<Option<i64>> {
    if s.notify.is_empty() {
        return Ok(None);
    }
    Store::open(&s.state)?.next_pending_at(None, &[])
}

/// Runs `f` on tokio's blocking pool; a panic becomes an error (the daemon goes on).
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(Error::Daemon {
            message: format!("a job panicked: {e}"),
            hint: "this is a bug in keywarden; please report it with the log".into(),
        })
    })
}
