//! Baselines: the findings a repository already knows about, so that a scan reports only
//! new ones.
//!
//! A baseline entry is (path, rule, context, fingerprint): never the key, and no line
//! number, so moving a key within its file keeps it known while copying it to another
//! file makes a new finding. The file is sorted, de-duplicated, pretty JSON with one
//! entry per finding and no timestamps: it diffs well in review and is stable across runs.
//!
//! ```json
//! {
//!   "version": 1,
//!   "about": "keywarden baseline: known findings …",
//!   "entries": [
//!     {"path": "config/prod.yml", "rule": "mask.live-key", "context": "production-config",
//!      "fingerprint": "9f86d0…"}
//!   ]
//! }
//! ```

use crate::error::{Error, Result};
use crate::finding::{Context, Finding, Suppression};
use crate::secret::Fingerprint;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

const ABOUT: &str = "keywarden baseline: known findings, recorded by fingerprint (SHA-256 of the key), never the key. `keywarden scan --baseline FILE` reports only findings not listed here. Regenerate with `keywarden baseline --output FILE`.";

/// One known finding.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Entry {
    /// Path as reported (`/`-separated).
    pub path: String,
    /// Rule id.
    pub rule: String,
    /// Context.
    pub context: Context,
    /// SHA-256 of the key.
    pub fingerprint: Fingerprint,
}

impl Entry {
    /// The entry of a finding, keyed by its repository-relative path, so a baseline made
    /// at the repository's top applies from any directory (and to staged and history
    /// scans, whose paths are repository-relative already).
    fn of(f: &Finding) -> Entry {
        let path = if f.repo_path.is_empty() {
            &f.path
        } else {
            &f.repo_path
        };
        Entry {
            path: path.clone(),
            rule: f.rule.clone(),
            context: f.context,
            fingerprint: f.fingerprint.clone(),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: u32,
    #[serde(default)]
    about: String,
    entries: Vec<Entry>,
}

/// A set of known findings.
#[derive(Debug, Default, Clone)]
pub struct Baseline {
    entries: BTreeSet<Entry>,
}

impl Baseline {
    /// The findings that count (not suppressed) in `findings`.
    pub fn from_findings<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> Baseline {
        Baseline {
            entries: findings
                .into_iter()
                .filter(|f| f.is_active())
                .map(Entry::of)
                .collect(),
        }
    }

    /// Entries from (path, rule, context, fingerprint) rows.
    pub fn from_rows(
        rows: impl IntoIterator<Item = (String, String, Context, Fingerprint)>,
    ) -> Baseline {
        Baseline {
            entries: rows
                .into_iter()
                .map(|(path, rule, context, fingerprint)| Entry {
                    path,
                    rule,
                    context,
                    fingerprint,
                })
                .collect(),
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Reads a baseline file.
    pub fn load(path: &Path) -> Result<Baseline> {
        let text = crate::bounded::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let file: File = serde_json::from_str(&text).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            line: e.line(),
            column: e.column(),
            message: format!(
                "not a keywarden baseline: {}",
                crate::error::scrub(&e.to_string())
            ),
            hint: "regenerate it with `keywarden baseline --output FILE`".into(),
        })?;
        if file.version != 1 {
            return Err(Error::Config {
                path: path.to_path_buf(),
                line: 1,
                column: 1,
                message: format!(
                    "baseline version {} is not supported (expected 1)",
                    file.version
                ),
                hint: "regenerate it with this keywarden: `keywarden baseline --output FILE`"
                    .into(),
            });
        }
        Ok(Baseline {
            entries: file.entries.into_iter().collect(),
        })
    }

    /// Writes the baseline as sorted, pretty JSON.
    pub fn write(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let file = File {
            version: 1,
            about: ABOUT.into(),
            entries: self.entries.iter().cloned().collect(),
        };
        serde_json::to_writer_pretty(&mut *out, &file)?;
        writeln!(out)
    }

    /// Writes the baseline to `path` (atomically: a temp file renamed over it).
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut bytes = Vec::new();
        self.write(&mut bytes).map_err(|e| Error::io(path, e))?;
        let tmp = path.with_extension("json.tmp");
        let bytes = crate::redact::scrub_bytes(&bytes);
        std::fs::write(&tmp, &bytes).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
    }

    /// Marks findings the baseline knows as suppressed (`kind: "baseline"`). Returns how
    /// many were.
    pub fn apply(&self, findings: &mut [Finding]) -> usize {
        let mut n = 0;
        for f in findings.iter_mut().filter(|f| f.is_active()) {
            if self.entries.contains(&Entry::of(f)) {
                f.suppressed = Some(Suppression {
                    kind: "baseline".into(),
                    reason: None,
                });
                n += 1;
            }
        }
        n
    }
}
