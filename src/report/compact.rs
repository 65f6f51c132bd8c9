//! The compact report: one line per finding, `path:line:col: …`, for editors and grep.
//!
//! ```text
//! src/app.js:3:12: critical mask.live-key client-side tracked mk_live_4eC3…p7dc fp=1f2e3d4c5b6a
//! ```
//!
//! Fields after the location, space-separated and in this order: severity, rule, context,
//! exposure, redacted key, `fp=` and the fingerprint's first 12 hex digits (enough for an
//! allowlist entry). Optional `key=value` fields follow: `offset=` (binary files),
//! `encoding=` (base64, utf16), `commit=` (history), `verified=`, `suppressed=`.
//! Nothing else goes to stdout; no summary, so `wc -l` counts findings.

use crate::scan::ScanReport;
use std::io::Write;

/// Writes one line per active finding (and per suppressed one when `suppressed`).
pub fn write_compact(
    report: &ScanReport,
    suppressed: bool,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    for f in report
        .findings
        .iter()
        .filter(|f| suppressed || f.is_active())
    {
        write!(
            out,
            "{}:{}:{}: {} {} {} {} {} fp={}",
            f.path,
            f.line,
            f.column,
            f.severity,
            f.rule,
            f.context,
            f.exposure,
            f.redacted,
            f.fingerprint.short()
        )?;
        if f.binary {
            write!(out, " offset={}", f.offset)?;
        }
        match f.encoding {
            crate::finding::Encoding::Plain => {}
            crate::finding::Encoding::Base64 => write!(out, " encoding=base64")?,
            crate::finding::Encoding::Utf16 => write!(out, " encoding=utf16")?,
            crate::finding::Encoding::Name => write!(out, " encoding=name")?,
        }
        if let Some(c) = &f.commit {
            write!(out, " commit={}", c.commit.get(..12).unwrap_or(&c.commit))?;
        }
        if let Some(v) = f.verified {
            let v = match v {
                crate::finding::Verification::Active => "active",
                crate::finding::Verification::Revoked => "revoked",
                crate::finding::Verification::Unknown => "unknown",
            };
            write!(out, " verified={v}")?;
        }
        if let Some(s) = &f.suppressed {
            write!(out, " suppressed={}", s.kind)?;
        }
        writeln!(out)?;
    }
    Ok(())
}
