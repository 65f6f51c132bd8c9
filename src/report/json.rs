//! The JSON report: `{"version": 1, "tool", "generated_at", "findings", "placeholders"?,
//! "summary"}`.

use crate::scan::ScanReport;
use serde_json::json;
use std::io::Write;

/// Writes `report` as pretty JSON; placeholders are included when `placeholders` is set.
pub fn write_json(
    report: &ScanReport,
    placeholders: bool,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let mut doc = json!({
        "version": 1,
        "tool": {"name": "keywarden", "version": env!("CARGO_PKG_VERSION")},
        "generated_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "findings": report.findings,
        "summary": report.summary,
    });
    if placeholders {
        doc["placeholders"] = serde_json::to_value(&report.placeholders)?;
    }
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}
