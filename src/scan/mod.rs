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
mod mapped;
pub mod matcher;
pub mod outcome;
mod qp;
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

    /// True when `path` itself holds a key (a file named after one): the file must go
    /// through [`Engine::findings`] even when its content holds none.
    pub fn path_has_key(&self, path: &str) -> bool {
        !self.name_keys(path).is_empty()
    }

    /// The keys in a path. Names glue words with `_` and `-` (`creds_mk_live_….txt`), so
    /// the word-boundary check before a prefix is skipped, as in binary data.
    fn name_keys(&self, path: &str) -> Vec<matcher::RawMatch> {
        let mut raw = Vec::new();
        if path.contains("mk_") {
            let bytes = path.as_bytes();
            let text = matcher::Text {
                binary: true,
                ..matcher::Text::default()
            };
            self.matcher
                .find(&self.db, bytes, 0, bytes.len(), text, &mut 0, &mut raw);
        }
        raw
    }

    /// Findings for the keys in `path` itself: encoding `name`, line and column 0, the
    /// context of the file.
    fn name_findings(
        &self,
        (path, shown, repo_path): (&str, &str, &str),
        exposure: Exposure,
        out: &mut Vec<Finding>,
    ) {
        let raw = self.name_keys(path);
        let ctx_src = if repo_path.is_empty() {
            path
        } else {
            repo_path
        };
        let context = file::classify(&self.db, ctx_src, b"", b"");
        for m in raw {
            let rule = &self.db.rules[m.rule];
            out.push(Finding {
                rule: rule.id.clone(),
                severity: rule.judge(context, exposure),
                context,
                exposure,
                path: shown.to_string(),
                line: 0,
                column: 0,
                offset: 0,
                binary: false,
                encoding: crate::finding::Encoding::Name,
                environment: rule.environment,
                redacted: m.key.redacted(),
                last_four: m.key.last_four(),
                fingerprint: m.key.fingerprint(),
                fix: format!(
                    "{} (the key is in the file's name: rename the file)",
                    rule.fix_for(context, exposure)
                ),
                suppressed: None,
                commit: None,
                repository: None,
                repo_path: crate::redact::clean(&self.redact_text(repo_path)),
                column_utf16: 0,
                secret: Some(m.key),
                verified: None,
            });
        }
    }

    /// Turns what a file scan located into findings (and placeholder hits), keeping the
    /// full key only in memory. Keys in the path itself are findings too; the path in
    /// every finding is redacted and made inert for terminals ([`crate::redact::clean`]).
    pub fn findings(
        &self,
        path: &str,
        outcome: FileOutcome,
        exposure: Exposure,
        findings: &mut Vec<Finding>,
        placeholders: &mut Vec<PlaceholderHit>,
    ) {
        let shown = crate::redact::clean(&self.redact_text(path));
        let repo_path = crate::redact::clean(&self.redact_text(&outcome.ctx_path));
        self.name_findings((path, &shown, &outcome.ctx_path), exposure, findings);
        let path = shown.as_str();
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
                repository: None,
                repo_path: repo_path.clone(),
                column_utf16: h.column_utf16,
                secret: Some(h.raw.key),
                verified: None,
            });
        }
    }
}
