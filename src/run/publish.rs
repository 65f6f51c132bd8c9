//! A finished report on its way out: into the outbox (with the findings it announces, for
//! a daemon job), then one delivery pass. `scan --notify`, `audit --notify` and the
//! daemon's jobs all come through [`publish`].

use crate::error::Result;
use crate::finding::Severity;
use crate::notify::{self, DeliveryStats, NotifyConfig, ReportModel};
use crate::report::model::Entry;
use crate::store::{Seen, Store, now_ms};
use std::collections::HashSet;

/// How a report is published.
#[derive(Debug, Clone, Copy)]
pub enum Mode<'a> {
    /// Once, as asked (`--notify`): always enqueued.
    Once,
    /// A daemon job's run: its findings are recorded as the job's open set and the report
    /// is enqueued when something new reaches `alert_on` (every run with `digest`).
    Tracked {
        /// The job (state key).
        job: &'a str,
        /// The lowest new severity that alerts.
        alert_on: Severity,
        /// Alert every run.
        digest: bool,
    },
}

/// What publishing did.
#[derive(Debug, Default)]
pub struct Published {
    /// The report went into the outbox.
    pub enqueued: bool,
    /// Findings that were not open before (tracked mode).
    pub new: usize,
    /// The delivery pass that followed.
    pub delivery: DeliveryStats,
}

/// Publishes `model` through `cfg`'s channels: enqueue (in tracked mode in one transaction
/// with the findings, so a crash in between cannot send the report twice) and, when
/// something was enqueued, a delivery pass bounded by `budget_ms`.
pub fn publish(
    cfg: &NotifyConfig,
    store: &mut Store,
    model: ReportModel,
    mode: Mode<'_>,
    budget_ms: Option<u64>,
) -> Result<Published> {
    let mut out = Published::default();
    match mode {
        Mode::Once => {
            notify::enqueue(cfg, store, model)?;
            out.enqueued = true;
        }
        Mode::Tracked {
            job,
            alert_on,
            digest,
        } => {
            let open: HashSet<String> = store.open_ids(job)?.into_iter().collect();
            let new: Vec<&Entry> = model
                .items
                .iter()
                .filter(|e| !open.contains(&e.id))
                .collect();
            out.new = new.len();
            let alert = digest
                || new
                    .iter()
                    .any(|e| e.severity.is_some_and(|sev| sev >= alert_on));
            let seen: Vec<Seen> = model.items.iter().map(seen).collect();
            out.enqueued = alert && !cfg.is_empty();
            let tracked = if out.enqueued {
                notify::enqueue_tracked(cfg, store, model, job, &seen)?
            } else {
                store.track(job, &seen, now_ms())?
            };
            for f in &tracked.new {
                tracing::info!(job, severity = %f.severity, "new finding: {}", f.label);
            }
        }
    }
    if out.enqueued {
        out.delivery = deliver(cfg, store, budget_ms)?;
    }
    Ok(out)
}

/// One delivery pass over the outbox (what earlier runs left pending too), its time
/// bounded by `budget_ms` as well as the retry policy's own budget.
pub fn deliver(
    cfg: &NotifyConfig,
    store: &mut Store,
    budget_ms: Option<u64>,
) -> Result<DeliveryStats> {
    if cfg.is_empty() {
        return Ok(DeliveryStats::default());
    }
    let stats = match budget_ms {
        Some(ms) => {
            let mut cfg = cfg.clone();
            cfg.retry.run_budget_ms = cfg.retry.run_budget_ms.min(ms);
            notify::deliver_due(&cfg, store, None)?
        }
        None => notify::deliver_due(cfg, store, None)?,
    };
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

/// An entry as the state store tracks it (no key material: the redacted key, where).
fn seen(e: &Entry) -> Seen {
    Seen {
        id: e.id.clone(),
        label: match &e.location {
            Some(l) => format!("{} {} at {l}", e.kind_text(), e.key),
            None => format!("{} {}", e.kind_text(), e.key),
        },
        severity: e.severity_text().to_string(),
    }
}
