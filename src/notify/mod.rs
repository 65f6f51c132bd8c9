//! Notifications: a report goes into the outbox (the state store) first, then to email
//! and webhook channels, with retries across runs; nothing is lost, nothing doubled.
//!
//! # Entry points
//!
//! - [`enqueue_and_deliver`]: what `keywarden scan --notify` (and `audit --notify`) call:
//!   compute the changes since the last delivered report, render, enqueue one message per
//!   channel and event, then deliver everything due.
//! - [`enqueue`] and [`deliver_due`]: the two halves, for the daemon.
//! - [`ReportModel::from_json`]: the model from audit or scan JSON (the model and its
//!   templates live in [`crate::report`]: `report/` renders, `notify/` sends).
//!
//! # Layout
//!
//! - `config`: `[notify]` (channels, retry policy, secrets).
//! - `email`: SMTP with lettre. `webhook`: Standard Webhooks and Slack with reqwest.
//! - `deliver`: the delivery loop: claim, send, classify, back off, dead-letter.
//! - `outage`: "failing" and "recovered" notices of a persistent outage.

pub mod config;
mod deliver;
pub mod email;
mod ids;
pub mod outage;
pub mod webhook;

pub use crate::report::model::ReportModel;
pub use crate::report::templates::{Renderer, ReportFormat};
pub use config::{NotifyConfig, RetryPolicy, SecretSource};
pub use deliver::{DeliveryStats, deliver_due};
pub use ids::MessageIds;

use crate::error::Result;
use crate::report::model::FindingRef;
use crate::store::{NewMessage, Store, now_ms};

/// The result of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted.
    Delivered,
    /// Try again later (connection refused, timeout, SMTP 4xx, HTTP 5xx/408/429).
    Transient(String),
    /// Transient, and the receiver said when to come back (`Retry-After`, in ms): the next
    /// attempt waits at least that long (capped by `max_delay_ms`).
    RetryAfter(String, u64),
    /// Never going to work as is (SMTP 5xx, HTTP 4xx): dead-letter with the reason.
    Permanent(String),
    /// `410 Gone`: the receiver asks us to stop; the channel is disabled.
    Gone(String),
}

/// Computes the report's changes since the last delivered report of its source, renders
/// it for every configured channel and event, and writes every message to the outbox in
/// one transaction. Returns the outbox ids. Nothing is sent.
pub fn enqueue(cfg: &NotifyConfig, store: &mut Store, report: ReportModel) -> Result<Vec<i64>> {
    let (source, refs, messages) = render(cfg, store, report)?;
    crate::failpoint::hit("before-enqueue");
    let ids = store.enqueue(&source, &refs, &messages, now_ms())?;
    crate::failpoint::hit("after-enqueue");
    log_enqueued(store, &source, ids.len());
    Ok(ids)
}

/// [`enqueue`], and `seen` recorded as the open findings of `job`, in one transaction
/// ([`Store::enqueue_tracked`]).
pub fn enqueue_tracked(
    cfg: &NotifyConfig,
    store: &mut Store,
    report: ReportModel,
    job: &str,
    seen: &[crate::store::Seen],
) -> Result<crate::store::Tracked> {
    let (source, refs, messages) = render(cfg, store, report)?;
    crate::failpoint::hit("before-enqueue");
    let (ids, tracked) = store.enqueue_tracked((&source, &refs, &messages), job, seen, now_ms())?;
    crate::failpoint::hit("after-enqueue");
    log_enqueued(store, &source, ids.len());
    Ok(tracked)
}

fn log_enqueued(store: &Store, source: &str, n: usize) {
    tracing::info!(
        "enqueued {n} notification(s) for {source} in {}",
        store.path().display()
    );
}

/// The report's changes since its source's last delivered report, rendered for every
/// channel and event: (source, finding refs as JSON, messages). Message ids derive from
/// the store, the source, the report it follows and its findings ([`MessageIds`]).
fn render(
    cfg: &NotifyConfig,
    store: &mut Store,
    mut report: ReportModel,
) -> Result<(String, String, Vec<NewMessage>)> {
    let base = store.last_delivered_report(&report.source)?;
    let previous: Option<Vec<FindingRef>> = base
        .as_ref()
        .and_then(|(_, j)| serde_json::from_str(j).ok());
    report.diff_against(previous.as_deref());
    let refs = serde_json::to_string(&report.finding_refs()).unwrap_or_else(|_| "[]".into());
    let follows = base.map_or_else(|| "first".to_string(), |(id, _)| id.to_string());
    let ids = MessageIds::new(&store.instance_id()?, &[&report.source, &follows, &refs]);
    let renderer = Renderer::new(cfg.templates.as_deref())?;
    let mut messages = Vec::new();
    if !cfg.email.is_empty() {
        let payload = email::EmailPayload {
            subject: report.subject(),
            text: renderer.render(&report, ReportFormat::Text)?,
            html: renderer.render(&report, ReportFormat::Html)?,
        };
        let bytes = serde_json::to_vec(&payload).unwrap_or_default();
        for ch in &cfg.email {
            messages.push(NewMessage {
                channel: ch.name.clone(),
                transport: "email",
                event: "keywarden.report".into(),
                message_id: ids.email(&ch.name, &ch.from, "keywarden.report"),
                payload: bytes.clone(),
            });
        }
    }
    if !cfg.webhook.is_empty() {
        let timestamp = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let events = webhook::events(&report);
        let slack = webhook::slack_body(&report);
        for ch in &cfg.webhook {
            for (i, (event, data)) in events.iter().enumerate() {
                if !ch.wants(event) {
                    continue;
                }
                let payload = match ch.format {
                    config::WebhookFormat::Slack => slack.clone(),
                    config::WebhookFormat::Standard => webhook::body(event, &timestamp, data),
                };
                messages.push(NewMessage {
                    channel: ch.name.clone(),
                    transport: "webhook",
                    event: (*event).to_string(),
                    message_id: ids.webhook(&ch.name, event, i),
                    payload,
                });
            }
        }
    }
    Ok((report.source, refs, messages))
}

/// [`enqueue`], then [`deliver_due`] (which also sends what earlier runs left pending).
///
/// ```no_run
/// # fn main() -> keywarden::Result<()> {
/// use keywarden::notify::{self, ReportModel};
/// let loaded = keywarden::service_config::LoadedConfig::load("keywarden.toml".as_ref())?;
/// let mut cfg = loaded.config.notify.clone();
/// cfg.resolve_paths(std::path::Path::new("."));
/// let path = loaded.config.state.resolve_path(std::path::Path::new("."));
/// let mut store = keywarden::store::Store::open(&path)?;
/// let report = ReportModel::from_json(&std::fs::read_to_string("audit.json").unwrap(), "audit.json", None)?;
/// let stats = notify::enqueue_and_deliver(&cfg, &mut store, report)?;
/// # Ok(()) }
/// ```
pub fn enqueue_and_deliver(
    cfg: &NotifyConfig,
    store: &mut Store,
    report: ReportModel,
) -> Result<DeliveryStats> {
    enqueue(cfg, store, report)?;
    deliver_due(cfg, store, None)
}
