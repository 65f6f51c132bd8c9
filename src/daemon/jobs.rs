//! The daemon's jobs: an audit of one workspace, a scan of one target, and the outbox
//! pass. Each turns its result into the notification report model, records the findings
//! in the state store and alerts only on what is new (every run with `digest = true`).
//!
//! Order within a run: enqueue the alert, then record the findings as seen. A crash
//! between the two re-sends the alert on the next run (at least once) instead of losing
//! it.

use super::Settings;
use super::config::{ScanTarget, Workspace};
use crate::audit::{self, AuditInput};
use crate::error::{Error, Result};
use crate::finding::Severity;
use crate::mask::{self, AuditKeyOrigin, ClientBuilder};
use crate::notify::{self, DeliveryStats, ReportModel};
use crate::scan::{self, Engine, ScanOptions};
use crate::store::{Seen, Store, now_ms};
use std::collections::HashSet;

/// The job name of a workspace's audit (state key, log field).
pub fn audit_job(ws: &Workspace) -> String {
    format!("audit:{}", ws.name)
}

/// The job name of a scan target.
pub fn scan_job(t: &ScanTarget) -> String {
    format!("scan:{}", t.name)
}

/// Loads a workspace's audit key: its `key` source, else `[audit] key_env` /
/// `MASK_API_KEY`, else the systemd credential `mask-api-key` (as `keywarden audit`).
fn audit_key(s: &Settings, ws: &Workspace) -> Result<(crate::SecretKey, AuditKeyOrigin)> {
    match &ws.key {
        Some(src) => {
            let what = format!("daemon.workspace[{}].key", ws.name);
            let secret = src.read(&what)?;
            let origin = match (&src.env, &src.file, &src.credential) {
                (Some(v), _, _) => AuditKeyOrigin::Env(v.clone()),
                (_, Some(f), _) => AuditKeyOrigin::File(f.clone()),
                (_, _, Some(c)) => AuditKeyOrigin::Credential(c.into()),
                _ => AuditKeyOrigin::Env(what),
            };
            let key = mask::auth::parse_key(secret.expose().as_bytes(), &origin)?;
            Ok((key, origin))
        }
        None => {
            let env = s.audit.key_env.as_deref().unwrap_or("MASK_API_KEY");
            mask::load_audit_key(None, env)
        }
    }
}

/// Audits `ws` through the API (on its own small runtime: call it on a blocking thread),
/// then records and alerts. Returns a one-line summary.
pub fn audit(s: &Settings, ws: &Workspace) -> Result<String> {
    let job = audit_job(ws);
    let (key, origin) = audit_key(s, ws)?;
    tracing::debug!(job, "audit key {} from {origin}", key.redacted());
    let base = ws
        .api_url
        .clone()
        .or_else(|| s.audit.api_url.clone())
        .unwrap_or_else(|| mask::DEFAULT_BASE_URL.to_string());
    let client = ClientBuilder::new()
        .base_url(&base)
        .concurrency(s.audit.concurrency.unwrap_or(8).max(1))
        .build(key)?;
    let now = chrono::Utc::now();
    let window = chrono::Duration::days(s.audit.observation_days.into());
    let runtime = crate::mask::runtime()?;
    let since = audit::shift(now, -window);
    let inventory = runtime.block_on(client.inventory(false, since, now))?;
    let report = audit::audit(AuditInput {
        inventory: &inventory,
        leaks: &[],
        now,
        config: &s.audit,
        include_revoked: false,
        source: "api",
    });
    let mut json = Vec::new();
    crate::report::write_audit(&report, crate::report::AuditFormat::Json, false, &mut json)
        .map_err(Error::Output)?;
    let mut model = ReportModel::from_json(&String::from_utf8_lossy(&json), &job, None)?;
    model.source = job.clone();
    let keys = inventory.data.len();
    let (alerted, new) = publish(s, &job, model, Severity::Low)?;
    Ok(format!(
        "{keys} keys, {new} new finding(s){}",
        if alerted { ", report enqueued" } else { "" }
    ))
}

/// Scans `target` (built-in rules): its paths, or with `history` the history of its
/// repositories (incrementally, [`super::history`]); then records and alerts. Blocking.
pub fn scan(s: &Settings, target: &ScanTarget) -> Result<String> {
    if let Some(source) = &target.source {
        return super::fleet::scan(s, target, source);
    }
    let job = scan_job(target);
    let started = std::time::Instant::now();
    let engine = Engine::new(crate::rules::load(Vec::new())?)?;
    let (walked, read) = if target.history {
        let run = super::history::scan(s, &job, &engine, &target.paths)?;
        let summary = run.summary();
        (run.result, summary)
    } else {
        let mut opts = ScanOptions::new(target.paths.clone());
        // A daemon guards deployed files: `.gitignore` (which lists `.env`) does not apply.
        opts.ignore_files(false);
        let walked = scan::walk::scan(&engine, &opts, &|_| {})?;
        let files = walked.files;
        (walked, format!("{files} files"))
    };
    let report = scan::outcome::finish(
        &engine.db,
        walked,
        &[],
        chrono::Local::now().date_naive(),
        started.elapsed().as_millis() as u64,
    );
    let model = ReportModel::from_scan(&report, &job)?;
    let findings = model.items.len();
    let (alerted, new) = publish(s, &job, model, target.alert_on)?;
    Ok(format!(
        "{read}, {findings} finding(s), {new} new{}",
        if alerted { ", alert enqueued" } else { "" }
    ))
}

/// Records the report's findings for `job` and enqueues it when something at or above
/// `alert_on` is new (or always with `digest`), then runs a delivery pass. Returns
/// (enqueued, new findings).
pub(crate) fn publish(
    s: &Settings,
    job: &str,
    model: ReportModel,
    alert_on: Severity,
) -> Result<(bool, usize)> {
    let mut store = Store::open(&s.state)?;
    let open: HashSet<String> = store.open_ids(job)?.into_iter().collect();
    let seen: Vec<Seen> = model
        .items
        .iter()
        .map(|e| Seen {
            id: e.id.clone(),
            label: match &e.location {
                Some(l) => format!("{} {} at {l}", e.kind, e.key),
                None => format!("{} {}", e.kind, e.key),
            },
            severity: e.severity.clone(),
        })
        .collect();
    let new: Vec<&Seen> = seen.iter().filter(|f| !open.contains(&f.id)).collect();
    let alert = s.daemon.digest
        || new.iter().any(|f| {
            f.severity
                .parse::<Severity>()
                .is_ok_and(|sev| sev >= alert_on)
        });
    let enqueued = alert && !s.notify.is_empty();
    // The report and the findings it announces are recorded together: killed in between,
    // a restart would see the findings as new and send the report again.
    let tracked = if enqueued {
        notify::enqueue_tracked(&s.notify, &mut store, model, job, &seen)?
    } else {
        store.track(job, &seen, now_ms())?
    };
    for f in &tracked.new {
        tracing::info!(job, severity = %f.severity, "new finding: {}", f.label);
    }
    if enqueued {
        deliver_with(s, &mut store)?;
    }
    Ok((enqueued, new.len()))
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
    let mut cfg = s.notify.clone();
    cfg.retry.run_budget_ms = cfg.retry.run_budget_ms.min(s.daemon.delivery_budget_ms);
    let stats = notify::deliver_due(&cfg, store, None)?;
    if stats.delivered + stats.dead + stats.pending > 0 {
        tracing::info!(
            "outbox: delivered {}, dead-lettered {}, still pending {}",
            stats.delivered,
            stats.dead,
            stats.pending
        );
    }
    Ok(stats)
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
