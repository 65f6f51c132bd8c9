//! Renders an [`AuditReport`]: text (people at a terminal), JSON (the versioned model),
//! Markdown (tickets, chat) and HTML (email). Most severe keys first, then a summary.
//! An audit report holds no secret: keys appear by id, name and last four only.

use crate::audit::model::{AuditReport, KeyReport, KeyStatus};
use crate::finding::Severity;
use std::io::Write;

pub(crate) fn key_label(k: &KeyReport) -> String {
    let revoked = if k.status == KeyStatus::Revoked {
        ", revoked"
    } else {
        ""
    };
    format!(
        "{} ({}, {} …{}{revoked})",
        k.name,
        k.id,
        k.environment.as_str(),
        k.last_four
    )
}

pub(crate) fn summary_line(r: &AuditReport) -> String {
    let s = &r.summary;
    let sev: Vec<String> = Severity::ALL
        .iter()
        .map(|v| format!("{} {}", s.by_severity.get(v).copied().unwrap_or(0), v))
        .collect();
    let acts: Vec<String> = s
        .actions
        .iter()
        .map(|(a, n)| format!("{} {n}", serde_plain(a)))
        .collect();
    let mut line = format!(
        "{} keys ({} active, {} revoked listed), {} with findings; {} findings: {}; actions: {}",
        s.keys,
        s.active,
        s.revoked,
        s.keys_with_findings,
        s.findings,
        sev.join(", "),
        acts.join(", ")
    );
    if s.excepted > 0 || s.expired_exceptions > 0 {
        line.push_str(&format!(
            "; {} excepted, {} expired exception(s)",
            s.excepted, s.expired_exceptions
        ));
    }
    line
}

pub(crate) fn serde_plain<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn paint(color: bool, s: Severity, text: &str) -> String {
    if !color {
        return text.to_string();
    }
    let code = match s {
        Severity::Critical => "1;31",
        Severity::High => "31",
        Severity::Medium => "33",
        Severity::Low => "36",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

pub(super) fn write_text(r: &AuditReport, color: bool, out: &mut dyn Write) -> std::io::Result<()> {
    let t = &r.thresholds;
    writeln!(
        out,
        "MASK workspace {} ({}): audit as of {} (source: {})",
        r.workspace.name,
        r.workspace.id,
        r.generated_at.format("%Y-%m-%d %H:%M UTC"),
        r.source
    )?;
    writeln!(
        out,
        "thresholds: inactive {}d, rotation {}d (due soon {}d before), usage window {}d\n",
        t.inactive_days, t.rotation_days, t.due_soon_days, t.observation_days
    )?;
    for k in &r.keys {
        match k.worst() {
            Some(w) => writeln!(
                out,
                "{} {}",
                paint(color, w, &format!("{:<8}", w.as_str())),
                key_label(k)
            )?,
            None => writeln!(out, "{:<8} {}: no findings", "ok", key_label(k))?,
        }
        for f in &k.findings {
            writeln!(
                out,
                "  {:<18} {} {}",
                f.kind.as_str(),
                paint(color, f.severity, &format!("{:<8}", f.severity.as_str())),
                f.message
            )?;
            if let Some(e) = &f.expired_exception {
                writeln!(
                    out,
                    "  {:<18} exception expired {}: {}",
                    "", e.until, e.reason
                )?;
            }
        }
        for e in &k.excepted {
            writeln!(
                out,
                "  {:<18} excepted until {}: {} ({})",
                e.finding.kind.as_str(),
                e.exception.until,
                e.exception.reason,
                e.finding.message
            )?;
        }
        if !k.recommendation.text.is_empty() {
            writeln!(out, "  → {}", k.recommendation.text)?;
        }
    }
    if !r.warnings.is_empty() {
        writeln!(out)?;
        for w in &r.warnings {
            writeln!(out, "warning: {w}")?;
        }
    }
    writeln!(out, "\n{}", summary_line(r))
}

fn md_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '|' | '*' | '_' | '`' | '<' | '>' | '[' | ']' | '\\') {
            o.push('\\');
        }
        o.push(c);
    }
    o
}

pub(super) fn write_markdown(r: &AuditReport, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "# MASK key audit: {}\n", md_escape(&r.workspace.name))?;
    writeln!(
        out,
        "Workspace `{}`, as of {} (source: {}).\n\n{}\n",
        r.workspace.id,
        r.generated_at.format("%Y-%m-%d %H:%M UTC"),
        r.source,
        summary_line(r)
    )?;
    for w in &r.warnings {
        writeln!(out, "> **Warning:** {}\n", md_escape(w))?;
    }
    writeln!(
        out,
        "| severity | key | findings | recommendation |\n| --- | --- | --- | --- |"
    )?;
    for k in &r.keys {
        let mut findings: Vec<String> = k
            .findings
            .iter()
            .map(|f| format!("**{}** ({}): {}", f.kind, f.severity, md_escape(&f.message)))
            .collect();
        findings.extend(k.excepted.iter().map(|e| {
            format!(
                "~~{}~~ excepted until {}: {}",
                e.finding.kind,
                e.exception.until,
                md_escape(&e.exception.reason)
            )
        }));
        writeln!(
            out,
            "| {} | {} | {} | {} |",
            k.worst().map_or("ok", Severity::as_str),
            md_escape(&key_label(k)),
            if findings.is_empty() {
                "none".to_string()
            } else {
                findings.join("<br>")
            },
            md_escape(&k.recommendation.text)
        )?;
    }
    Ok(())
}
