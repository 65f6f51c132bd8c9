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

/// Writes `report` for people.
pub fn write_text(
    report: &ScanReport,
    opts: TextOptions,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let p = Paint(opts.color);
    let mut current: Option<&str> = None;
    for f in report
        .findings
        .iter()
        .filter(|f| opts.suppressed || f.is_active())
    {
        if current != Some(f.path.as_str()) {
            if current.is_some() {
                writeln!(out)?;
            }
            writeln!(out, "{}", p.s("1;35", &f.path))?;
            current = Some(f.path.as_str());
        }
        let at = if f.encoding == crate::finding::Encoding::Name {
            "file name".to_string()
        } else if f.binary {
            format!("offset {}", f.offset)
        } else {
            format!("{}:{}", f.line, f.column)
        };
        let enc = match f.encoding {
            crate::finding::Encoding::Plain => String::new(),
            e => format!(
                " ({})",
                serde_json::to_value(e)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            ),
        };
        writeln!(
            out,
            "  {}  {} {}  {}  {}  {}{}  fp {}",
            p.s("32", &at),
            p.sev(f.severity),
            f.rule,
            f.context,
            f.exposure,
            p.s("1", &f.redacted),
            enc,
            f.fingerprint.short()
        )?;
        writeln!(out, "      fix: {}", f.fix)?;
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
    let counts: Vec<String> = Severity::ALL
        .iter()
        .map(|sev| format!("{} {}", s.by_severity.get(sev).copied().unwrap_or(0), sev))
        .collect();
    let head = if s.findings == 0 {
        p.s("32", "no findings")
    } else {
        p.s(
            "1;31",
            &format!(
                "{} finding{}",
                s.findings,
                if s.findings == 1 { "" } else { "s" }
            ),
        )
    };
    writeln!(
        out,
        "{head}: {} ({} suppressed, {} placeholders ignored)",
        counts.join(", "),
        s.suppressed,
        s.placeholders
    )?;
    let secs = s.elapsed_ms as f64 / 1000.0;
    let speed = if secs > 0.0 {
        format!(", {}/s", human_bytes((s.bytes as f64 / secs) as u64))
    } else {
        String::new()
    };
    let mut line = format!(
        "scanned {} file{}, {} in {secs:.2} s{speed}",
        s.files,
        if s.files == 1 { "" } else { "s" },
        human_bytes(s.bytes)
    );
    if let Some(obj) = s.git.as_ref().and_then(|g| g.as_object()) {
        let parts: Vec<String> = obj
            .iter()
            .filter(|(_, v)| v.is_number())
            .map(|(k, v)| format!("{v} {}", k.replace('_', " ")))
            .collect();
        line.push_str(&format!("; git: {}", parts.join(", ")));
    }
    if !s.skipped.is_empty() {
        line.push_str(&format!(
            "; {} skipped ({} errors)",
            s.skipped.len(),
            s.errors
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
