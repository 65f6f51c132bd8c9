//! The scan engine: sources of bytes (a directory tree, stdin, and, from the git module,
//! staged and historical blobs) → [`matcher`] → [`file`] (line, context, placeholders,
//! directives) → findings → [`outcome`] (allowlist, baseline, cross-environment, summary).
//! In tree scans, files that are archives ([`archive`]) or container images ([`image`])
//! also have their entries scanned.
//!
//! This module never touches the network.

pub mod archive;
pub mod exposure;
pub mod file;
pub mod history;
pub mod image;
pub mod matcher;
pub mod outcome;
mod scope;
mod simd;
pub mod staged;
pub mod walk;

pub use archive::ArchiveLimits;
pub use file::{FileOutcome, FileScanner, Located};
pub use matcher::Matcher;
pub use outcome::{PlaceholderHit, ScanReport, Skipped, Summary};
pub use walk::{ScanOptions, WalkResult};

use crate::finding::{Exposure, Finding, Suppression};
use crate::rules::RuleDb;

/// Rules and their prefilter, compiled once per run and shared by every thread.
#[derive(Debug)]
pub struct Engine {
    /// The rules.
    pub db: RuleDb,
    /// Their prefilter.
    pub matcher: Matcher,
}

impl Engine {
    /// Compiles the prefilter for `db`.
    pub fn new(db: RuleDb) -> crate::Result<Engine> {
        let matcher = Matcher::new(&db)?;
        Ok(Engine { db, matcher })
    }

    /// `text` with every key in it replaced by its redacted form (for text that comes
    /// from the scanned material itself: commit subjects, author names).
    pub fn redact_text(&self, text: &str) -> String {
        let mut raw = Vec::new();
        let bytes = text.as_bytes();
        self.matcher.find(
            &self.db,
            bytes,
            0,
            bytes.len(),
            matcher::Text::default(),
            &mut 0,
            &mut raw,
        );
        if raw.is_empty() {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for m in raw.into_iter() {
            if m.start < last {
                continue;
            }
            out.push_str(&String::from_utf8_lossy(&bytes[last..m.start]));
            out.push_str(&m.key.redacted());
            last = m.end;
        }
        out.push_str(&String::from_utf8_lossy(&bytes[last..]));
        out
    }

    /// A per-thread scanner.
    pub fn file_scanner(&self) -> FileScanner<'_> {
        FileScanner::new(&self.db, &self.matcher)
    }

    /// Turns what a file scan located into findings (and placeholder hits), keeping the
    /// full key only in memory.
    pub fn findings(
        &self,
        path: &str,
        outcome: FileOutcome,
        exposure: Exposure,
        findings: &mut Vec<Finding>,
        placeholders: &mut Vec<PlaceholderHit>,
    ) {
        for h in outcome.hits {
            let rule = &self.db.rules[h.raw.rule];
            if let Some(id) = h.placeholder {
                placeholders.push(PlaceholderHit {
                    path: path.to_string(),
                    line: h.line,
                    column: h.column,
                    redacted: h.raw.key.redacted(),
                    placeholder: id,
                    rule: rule.id.clone(),
                });
                continue;
            }
            findings.push(Finding {
                rule: rule.id.clone(),
                severity: rule.judge(h.context, exposure),
                context: h.context,
                exposure,
                path: path.to_string(),
                line: h.line,
                column: h.column,
                offset: h.offset,
                binary: outcome.binary,
                encoding: h.raw.encoding,
                environment: rule.environment,
                redacted: h.raw.key.redacted(),
                last_four: h.raw.key.last_four(),
                fingerprint: h.raw.key.fingerprint(),
                fix: rule.fix_for(h.context, exposure),
                suppressed: h.inline_allow.map(|reason| Suppression {
                    kind: "inline".into(),
                    reason: (!reason.is_empty()).then_some(reason),
                }),
                commit: None,
                repo_path: outcome.ctx_path.clone(),
                column_utf16: h.column_utf16,
                secret: Some(h.raw.key),
                verified: None,
            });
        }
    }
}
