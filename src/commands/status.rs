//! `keywarden status --config FILE`: last and next runs, open findings by severity,
//! persistent outages, and the outbox, read from the state store (the daemon need not be
//! running).

use super::{Exit, emit};
use crate::cli::{OutboxFormat, StatusArgs};
use crate::daemon::{Settings, jobs};
use crate::error::Result;
use crate::store::{Status, Store};
use std::io::Write;

fn time(ms: Option<i64>) -> String {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| "-".into())
}

/// Runs `keywarden status`.
pub fn run(args: &StatusArgs, out: &mut dyn Write) -> Result<Exit> {
    let s = Settings::load(&args.config)?;
    let store = Store::open(&s.state)?;
    let now = chrono::Utc::now();
    let tz = &s.daemon.time_zone;
    let mut jobs_out = Vec::new();
    for ws in &s.daemon.workspace {
        let name = jobs::audit_job(ws);
        jobs_out.push((
            store.last_run(&name)?,
            ws.schedule.next_after(now, tz),
            name,
        ));
    }
    for t in &s.daemon.scan {
        let name = jobs::scan_job(t);
        let next = t.schedule.as_ref().and_then(|sch| sch.next_after(now, tz));
        jobs_out.push((store.last_run(&name)?, next, name));
    }
    let mut open = store.open_findings_by_severity()?;
    let rank = |s: &str| {
        ["critical", "high", "medium", "low", "info"]
            .iter()
            .position(|x| *x == s)
    };
    open.sort_by_key(|(sev, _)| rank(sev).unwrap_or(9));
    let outages = store.outages()?;
    let groups: Vec<String> = jobs_out.iter().map(|(.., name)| name.clone()).collect();
    let trends = store.trends(None, &groups)?;
    let rows = store.list(true)?;
    let count = |st: Status| rows.iter().filter(|r| r.status == st).count();
    let (pending, dead, delivered) = (
        count(Status::Pending),
        count(Status::Dead),
        count(Status::Delivered),
    );
    emit(|| match args.format {
        OutboxFormat::Json => {
            let doc = serde_json::json!({
                "version": 1,
                "state": s.state,
                "jobs": jobs_out.iter().map(|(last, next, name)| serde_json::json!({
                    "job": name,
                    "last_run": last,
                    "next_run": next.map(|n| n.to_rfc3339()),
                })).collect::<Vec<_>>(),
                "open_findings": open.iter().map(|(s, n)| (s.clone(), serde_json::Value::from(*n))).collect::<serde_json::Map<_, _>>(),
                "outages": outages.iter().map(|o| serde_json::json!({
                    "subject": o.subject,
                    "since": time(Some(o.since)),
                    "reported_at": time(Some(o.reported_at)),
                    "detail": o.detail,
                })).collect::<Vec<_>>(),
                "outbox": {"pending": pending, "dead": dead, "delivered": delivered},
                "trends": trends,
            });
            serde_json::to_writer_pretty(&mut *out, &doc)?;
            writeln!(out)
        }
        OutboxFormat::Text => {
            writeln!(out, "state: {}", s.state.display())?;
            writeln!(
                out,
                "{:<24}  {:<20}  {:<9}  {:<20}  DETAIL",
                "JOB", "LAST RUN", "OUTCOME", "NEXT RUN"
            )?;
            for (last, next, name) in &jobs_out {
                writeln!(
                    out,
                    "{:<24}  {:<20}  {:<9}  {:<20}  {}",
                    name,
                    time(last.as_ref().map(|l| l.started_at)),
                    last.as_ref()
                        .map(|l| l.outcome.as_deref().unwrap_or("running"))
                        .unwrap_or("-"),
                    time(next.map(|n| n.timestamp_millis())),
                    last.as_ref()
                        .and_then(|l| l.detail.as_deref())
                        .unwrap_or("")
                )?;
            }
            let total: i64 = open.iter().map(|(_, n)| n).sum();
            let by = open
                .iter()
                .map(|(s, n)| format!("{s} {n}"))
                .collect::<Vec<_>>()
                .join(", ");
            writeln!(
                out,
                "open findings: {total}{}",
                if by.is_empty() {
                    String::new()
                } else {
                    format!(" ({by})")
                }
            )?;
            let line = |t: &crate::store::SourceTrend| {
                format!(
                    "{} opened, {} resolved, {} open; median time to fix {}",
                    t.opened,
                    t.resolved,
                    t.open,
                    t.median_fix_ms
                        .map(|ms| format!("{:.1} h", ms as f64 / 3_600_000.0))
                        .unwrap_or_else(|| "-".into())
                )
            };
            writeln!(out, "all time: {}", line(&trends.total))?;
            for g in trends.groups.iter().filter(|g| g.opened + g.open > 0) {
                writeln!(out, "  {}: {}", g.source, line(g))?;
            }
            for o in &outages {
                writeln!(
                    out,
                    "OUTAGE: {} failing since {}: {}",
                    o.subject,
                    time(Some(o.since)),
                    o.detail
                )?;
            }
            writeln!(
                out,
                "outbox: {pending} pending, {dead} dead-lettered, {delivered} delivered"
            )
        }
    })?;
    Ok(Exit::Clean)
}
