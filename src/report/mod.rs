//! Renders scan reports: human text, compact lines, JSON (versioned) and SARIF 2.1.0. Only redacted keys
//! and fingerprints ever reach a renderer: [`crate::finding::Finding`] holds nothing else
//! that serializes.
//!
//! [`model`] is the one report model of audits and scans that notifications carry, and
//! [`templates`] renders it (text, Markdown, HTML, JSON) from `templates/`.

mod audit;
mod audit_html;
mod build;
mod compact;
mod input;
mod json;
pub mod model;
mod sarif;
pub mod templates;
mod text;

pub use compact::write_compact;
pub use json::write_json;
pub use sarif::write_sarif;
pub use text::{TextOptions, plural, summary_line, write_text};

use serde::{Deserialize, Serialize};

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Grouped by file, for people.
    Text,
    /// `{"version":1,"findings":[…],"summary":{…}}`.
    Json,
    /// SARIF 2.1.0, for code-scanning dashboards.
    Sarif,
    /// One line per finding, `path:line:col: severity rule context exposure redacted
    /// fp=…`, for editors and grep.
    Compact,
}

/// Formats a byte count as B, KB, MB or GB (powers of 1000).
pub fn human_bytes(n: u64) -> String {
    let n = n as f64;
    if n < 1e3 {
        format!("{n} B")
    } else if n < 1e6 {
        format!("{:.1} KB", n / 1e3)
    } else if n < 1e9 {
        format!("{:.1} MB", n / 1e6)
    } else {
        format!("{:.2} GB", n / 1e9)
    }
}

/// `keywarden audit --format`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum AuditFormat {
    /// For people at a terminal.
    Text,
    /// The versioned model (`"version": 1`).
    Json,
    /// For tickets and chat.
    Markdown,
    /// A standalone page (email).
    Html,
}

/// Writes `report` in `format`.
pub fn write_audit(
    report: &crate::audit::model::AuditReport,
    format: AuditFormat,
    color: bool,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    match format {
        AuditFormat::Text => audit::write_text(report, color, out),
        AuditFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, report)?;
            writeln!(out)
        }
        AuditFormat::Markdown => audit::write_markdown(report, out),
        AuditFormat::Html => audit_html::write_html(report, out),
    }
}
