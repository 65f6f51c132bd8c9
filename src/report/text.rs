//! The human report: findings grouped by file, then a summary with counts, size and speed.

use super::human_bytes;
use crate::finding::Severity;
use crate::scan::ScanReport;
use std::io::Write;

/// How to print text.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextOptions {
    /// ANSI colors.
    pub color: bool,
    /// List placeholder matches too.
    pub placeholders: bool,
    /// List suppressed findings too.
    pub suppressed: bool,
}

struct Paint(bool);

impl Paint {
    fn s(&self, code: &str, text: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    fn sev(&self, s: Severity) -> String {
        let code = match s {
            Severity::Critical => "1;31",
            Severity::High => "31",
            Severity::Medium => "33",
            Severity::Low => "36",
        };
        self.s(code, &format!("{:<8}", s.as_str()))
    }
}

/// The aligned columns of a finding: location, rule, context, exposure, redacted key.
fn columns(f: &crate::finding::Finding) -> [String; 5] {
    let at = if f.encoding == crate::finding::Encoding::Name {
        "file name".to_string()
    } else if f.binary {
        format!("offset {}", f.offset)
    } else {
        format!("{}:{}", f.line, f.column)
    };
    [
        at,
        f.rule.clone(),
        f.context.to_string(),
        f.exposure.to_string(),
        f.redacted.clone(),
    ]
}

fn pad(s: &str, width: usize) -> String {
    format!("{s}{}", " ".repeat(width.saturating_sub(s.chars().count())))
}

/// The fix of each rule once, after the findings: `fix (mask.live-key): …`. A rule whose
/// fix depends on the context (a test key in a production config) gets one line per
/// distinct fix, labelled with its contexts.
fn write_fixes(
    shown: &[&crate::finding::Finding],
    p: &Paint,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    // (rule, fix, contexts) in order of first appearance.
    let mut fixes: Vec<(&str, &str, Vec<String>)> = Vec::new();
    let mut shown = shown.to_vec();
    shown.sort_by(|a, b| a.rule.cmp(&b.rule));
    for f in shown {
        let ctx = f.context.to_string();
        match fixes
            .iter_mut()
            .find(|(r, x, _)| *r == f.rule && *x == f.fix)
        {
            Some((_, _, cs)) if !cs.contains(&ctx) => cs.push(ctx),
            Some(_) => {}
            None => fixes.push((&f.rule, &f.fix, vec![ctx])),
        }
    }
    if fixes.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    for (rule, fix, contexts) in &fixes {
        let several = fixes.iter().filter(|(r, _, _)| r == rule).count() > 1;
        let label = if several {
            format!("{rule} in {}", contexts.join(", "))
        } else {
            rule.to_string()
        };
        writeln!(out, "{} {fix}", p.s("1", &format!("fix ({label}):")))?;
    }
    Ok(())
}

/// `2 findings: 1 critical, 1 high, 0 medium, 0 low (0 suppressed, 0 placeholders
/// ignored)`: the summary's first line, plain.
pub fn summary_line(report: &ScanReport) -> String {
    counts_line(report, &Paint(false))
}

fn counts_line(report: &ScanReport, p: &Paint) -> String {
    let s = &report.summary;
    let counts: Vec<String> = Severity::ALL
        .iter()
        .map(|sev| format!("{} {}", s.by_severity.get(sev).copied().unwrap_or(0), sev))
        .collect();
    let head = if s.findings == 0 {
        p.s("32", "no findings")
    } else {
        p.s("1;31", &plural(s.findings, "finding"))
    };
    format!(
        "{head}: {} ({} suppressed, {} placeholder{} ignored)",
        counts.join(", "),
        s.suppressed,
        s.placeholders,
        if s.placeholders == 1 { "" } else { "s" }
    )
}

/// `1 file`, `2 files`.
pub fn plural(n: u64, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// Writes `report` for people.
pub fn write_text(
    report: &ScanReport,
    opts: TextOptions,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let p = Paint(opts.color);
    let shown: Vec<&crate::finding::Finding> = report
        .findings
        .iter()
        .filter(|f| opts.suppressed || f.is_active())
        .collect();
    let rows: Vec<[String; 5]> = shown.iter().map(|f| columns(f)).collect();
    // Column widths across all findings, so that severities, rules and keys line up.
    let mut width = [0usize; 5];
    for r in &rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut current: Option<&str> = None;
    for (f, r) in shown.iter().zip(&rows) {
        if current != Some(f.path.as_str()) {
            if current.is_some() {
                writeln!(out)?;
            }
            writeln!(out, "{}", p.s("1;35", &f.path))?;
            current = Some(f.path.as_str());
        }
        let enc = match f.encoding {
            crate::finding::Encoding::Plain => String::new(),
            crate::finding::Encoding::Base64 => " (base64)".to_string(),
            crate::finding::Encoding::Utf16 => " (utf16)".to_string(),
            crate::finding::Encoding::Name => " (file name)".to_string(),
        };
        writeln!(
            out,
            "  {}  {} {}  {}  {}  {}  fp {}{}",
            p.s("32", &pad(&r[0], width[0])),
            p.sev(f.severity),
            pad(&r[1], width[1]),
            pad(&r[2], width[2]),
            pad(&r[3], width[3]),
            p.s("1", &pad(&r[4], width[4])),
            f.fingerprint.short(),
            enc
        )?;
        if let Some(v) = f.verified {
            let v = serde_json::to_value(v)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            writeln!(out, "      verified: {v} (MASK API)")?;
        }
        if let Some(c) = &f.commit {
            writeln!(
                out,
                "      introduced in {} ({}, {}): {}\n      {}",
                c.commit.get(..12).unwrap_or(&c.commit),
                c.date,
                c.author,
                c.subject,
                p.s(if c.in_head { "33" } else { "1;31" }, &c.status)
            )?;
        }
        if let Some(s) = &f.suppressed {
            writeln!(
                out,
                "      suppressed ({}){}",
                s.kind,
                s.reason
                    .as_ref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            )?;
        }
    }
    write_fixes(&shown, &p, out)?;
    if opts.placeholders && !report.placeholders.is_empty() {
        if current.is_some() {
            writeln!(out)?;
        }
        writeln!(out, "{}", p.s("1", "placeholders (not findings):"))?;
        for h in &report.placeholders {
            writeln!(
                out,
                "  {}:{}:{}  {}  {}",
                h.path, h.line, h.column, h.redacted, h.placeholder
            )?;
        }
    }
    let s = &report.summary;
    if current.is_some() || (opts.placeholders && !report.placeholders.is_empty()) {
        writeln!(out)?;
    }
    writeln!(out, "{}", counts_line(report, &p))?;
    let secs = s.elapsed_ms as f64 / 1000.0;
    let speed = if secs > 0.0 {
        format!(", {}/s", human_bytes((s.bytes as f64 / secs) as u64))
    } else {
        String::new()
    };
    let mut line = format!(
        "scanned {}, {} in {secs:.2} s{speed}",
        plural(s.files, "file"),
        human_bytes(s.bytes)
    );
    if let Some(obj) = s.git.as_ref().and_then(|g| g.as_object()) {
        let parts: Vec<String> = obj
            .iter()
            .filter(|(_, v)| v.is_number())
            .map(|(k, v)| {
                let noun = k.replace('_', " ");
                // `1 commit`, `1 index entry`: the keys are plural nouns.
                let noun = match v.as_u64() {
                    Some(1) if noun.ends_with("ies") => format!("{}y", &noun[..noun.len() - 3]),
                    Some(1) if noun.ends_with('s') => noun[..noun.len() - 1].to_string(),
                    _ => noun,
                };
                format!("{v} {noun}")
            })
            .collect();
        line.push_str(&format!("; git: {}", parts.join(", ")));
        if obj.contains_key("introductions_not_computed") {
            line.push_str(" (no key found, no blob missing: introducing commits not computed)");
        }
    }
    if !s.skipped.is_empty() {
        line.push_str(&format!(
            "; {} skipped ({})",
            s.skipped.len(),
            plural(s.errors, "error")
        ));
    }
    writeln!(out, "{line}")?;
    for note in s.coverage.lines() {
        writeln!(out, "  {note}")?;
    }
    for sk in s.skipped.iter().take(20) {
        writeln!(out, "  skipped {}: {}", sk.path, sk.reason)?;
    }
    if s.skipped.len() > 20 {
        writeln!(
            out,
            "  … and {} more (see --format json)",
            s.skipped.len() - 20
        )?;
    }
    for st in &s.stale_allowlist {
        writeln!(
            out,
            "{} allowlist entry {}: {}",
            p.s("33", "warning:"),
            st.location,
            st.reason
        )?;
    }
    Ok(())
}
