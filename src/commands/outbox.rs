//! `keywarden outbox`: list, retry, drop or deliver notifications; and [`open`], which
//! `scan --notify` shares: service config → `[notify]` + the state store.

use super::{Exit, emit};
use crate::cli::{OutboxArgs, OutboxCommand, OutboxFormat};
use crate::error::{Error, Result};
use crate::notify::{self, DeliveryStats, NotifyConfig};
use crate::service_config::LoadedConfig;
use crate::store::{OutboxRow, Status, Store, now_ms};
use std::io::Write;
use std::path::Path;

/// Loads the service config at `path`, validates `[notify]` (relative paths resolved
/// against the file's directory) and opens the `[state]` store.
pub fn open(path: &Path) -> Result<(NotifyConfig, Store)> {
    let loaded = LoadedConfig::load(path)?;
    let base = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut cfg = loaded.config.notify;
    cfg.validate(path)?;
    cfg.resolve_paths(base);
    let store = Store::open(&loaded.config.state.location(base, path)?)?;
    Ok((cfg, store))
}

fn time(ms: Option<i64>) -> String {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| "-".into())
}

fn list(store: &Store, all: bool, format: OutboxFormat, out: &mut dyn Write) -> Result<()> {
    let rows = store.list(all)?;
    let disabled = store.disabled_channels()?;
    emit(|| match format {
        OutboxFormat::Json => {
            let doc = serde_json::json!({
                "version": 1,
                "messages": rows,
                "disabled_channels": disabled.iter().map(|(c, at, reason)| serde_json::json!({
                    "channel": c, "disabled_at": at, "reason": reason,
                })).collect::<Vec<_>>(),
            });
            serde_json::to_writer_pretty(&mut *out, &doc)?;
            writeln!(out)
        }
        OutboxFormat::Text => {
            for (c, at, reason) in &disabled {
                writeln!(
                    out,
                    "channel {c} DISABLED since {}: {reason}",
                    time(Some(*at))
                )?;
            }
            if rows.is_empty() {
                return writeln!(
                    out,
                    "outbox is empty{}",
                    if all {
                        ""
                    } else {
                        " (nothing pending or dead)"
                    }
                );
            }
            writeln!(
                out,
                "{:>5}  {:<9}  {:<16}  {:<26}  {:>8}  {:<20}  LAST ERROR",
                "ID", "STATUS", "CHANNEL", "EVENT", "ATTEMPTS", "NEXT/DONE"
            )?;
            for r in &rows {
                let when = match r.status {
                    Status::Pending => time(Some(r.next_attempt_at)),
                    _ => time(r.finished_at),
                };
                writeln!(
                    out,
                    "{:>5}  {:<9}  {:<16}  {:<26}  {:>8}  {:<20}  {}",
                    r.id,
                    r.status.as_str(),
                    r.channel,
                    r.event,
                    r.attempts,
                    when,
                    r.last_error.as_deref().unwrap_or("")
                )?;
            }
            Ok(())
        }
    })
}

fn report(stats: &DeliveryStats, out: &mut dyn Write) -> Result<Exit> {
    emit(|| {
        writeln!(
            out,
            "delivered {}, dead-lettered {}, still pending {}",
            stats.delivered, stats.dead, stats.pending
        )
    })?;
    Ok(if stats.dead > 0 || stats.pending > 0 {
        Exit::Findings
    } else {
        Exit::Clean
    })
}

/// Runs `keywarden outbox`.
pub fn run(args: &OutboxArgs, out: &mut dyn Write) -> Result<Exit> {
    let (cfg, mut store) = open(&args.config)?;
    match &args.action {
        None => list(&store, false, OutboxFormat::Text, out).map(|()| Exit::Clean),
        Some(OutboxCommand::List { all, format }) => {
            list(&store, *all, *format, out).map(|()| Exit::Clean)
        }
        Some(OutboxCommand::Drop { id }) => {
            let row: OutboxRow = store.get(*id)?.ok_or_else(|| {
                Error::Usage(format!(
                    "no outbox message with id {id}\n  hint: `keywarden outbox list --all` shows every id"
                ))
            })?;
            store.drop_message(*id)?;
            emit(|| {
                writeln!(
                    out,
                    "dropped outbox message {id} ({} {} to {}, {})",
                    row.transport,
                    row.event,
                    row.channel,
                    row.status.as_str()
                )
            })?;
            Ok(Exit::Clean)
        }
        Some(OutboxCommand::Retry { id }) => {
            store.requeue(*id, now_ms())?;
            let stats = notify::deliver_due(&cfg, &mut store, Some(*id))?;
            report(&stats, out)
        }
        Some(OutboxCommand::Deliver) => {
            let stats = notify::deliver_due(&cfg, &mut store, None)?;
            report(&stats, out)
        }
    }
}
