//! History scan targets (`[[daemon.scan]] history = true`): each path is a git repository
//! whose whole history (every blob reachable from any ref) is scanned, incrementally.
//!
//! # What is remembered, and why the findings stay right
//!
//! The state store keeps, per target, the ids of the blobs a run read and found **clean**
//! (no hit, no placeholder), together with a digest of the rules they were judged with.
//! The next run lists the history again (commits and the blobs they introduced, which
//! reads trees but no file contents), skips the clean blobs and reads the rest: the blobs
//! that are new since the last run, plus the few that hold keys.
//!
//! Blobs with keys are deliberately not remembered: they are read again every run, so a
//! run always computes **every** finding of the target from what is reachable now (each
//! path the blob appears under, the earliest commit that introduced it, in HEAD or in
//! history only). The run's findings are therefore complete, and the store's usual
//! bookkeeping ([`crate::store::Store::track`]: the findings of a run are the open set)
//! holds without special cases: a finding from an earlier run stays open as long as its
//! blob is reachable, is not alerted again, and is resolved only when the history no
//! longer holds it (a rewritten branch, a deleted ref). Skipping a clean blob cannot hide
//! a finding: a blob with no hit under one path has none under another (the history scan
//! reads each blob once under its first path on that same assumption).
//!
//! Nothing of a key is stored: blob ids, the findings' fingerprints and redacted forms.
//! When keywarden or its built-in rules change, the digest changes and every blob is
//! read again once.

use crate::error::Result;
use crate::git::{self, history::Selection};
use crate::scan::{self, Engine, WalkResult};
use crate::store::Store;
use gix::ObjectId;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::path::PathBuf;

/// A daemon's history target: `repos`, remembered in `store` under `job`.
pub struct Tracked<'a> {
    /// The state store (clean blobs).
    pub store: &'a mut Store,
    /// The job the blobs are remembered under.
    pub job: &'a str,
    /// The repositories.
    pub repos: &'a [PathBuf],
}

/// What a history run read.
#[derive(Debug, Default)]
pub struct HistoryRun {
    /// Findings (paths prefixed with their repository's directory) and counts.
    pub result: WalkResult,
    /// Repositories scanned.
    pub repos: usize,
    /// Commits listed.
    pub commits: u64,
    /// Blobs read: new since the last run, or holding keys.
    pub read: u64,
    /// Blobs skipped: read clean by an earlier run.
    pub skipped: u64,
}

impl HistoryRun {
    /// The `git` field of the JSON summary.
    pub fn stats(&self) -> serde_json::Value {
        serde_json::json!({
            "repos": self.repos,
            "commits": self.commits,
            "blobs_read": self.read,
            "clean_blobs_skipped": self.skipped,
        })
    }
}

/// The one-line description of a run's [`HistoryRun::stats`] (daemon logs, status).
pub fn describe(stats: &serde_json::Value) -> String {
    format!(
        "history of {} repo(s): {} commits, {} blobs read, {} clean blobs skipped",
        stats["repos"], stats["commits"], stats["blobs_read"], stats["clean_blobs_skipped"]
    )
}

/// A digest of what judges a blob clean: this keywarden and its built-in rules.
pub fn rules_digest() -> String {
    let mut h = Sha256::new();
    h.update(env!("CARGO_PKG_VERSION"));
    for (name, text) in crate::rules::BUILTIN {
        h.update([0u8]);
        h.update(name);
        h.update([0u8]);
        h.update(text);
    }
    hex::encode(h.finalize())
}

/// Scans the history of every repository of `t`, skipping the blobs an earlier run of its
/// job found clean, and records the blobs this run found clean.
pub fn scan(engine: &Engine, t: Tracked<'_>) -> Result<HistoryRun> {
    let Tracked { store, job, repos } = t;
    let skip: HashSet<ObjectId> = store
        .clean_blobs(job, &rules_digest())?
        .iter()
        .filter_map(|b| ObjectId::try_from(b.as_slice()).ok())
        .collect();
    let mut run = HistoryRun::default();
    let mut clean = Vec::new();
    for dir in repos {
        let repo = git::open(dir)?;
        let root = git::workdir(&repo);
        let inc = scan::history::Incremental { skip: Some(&skip) };
        let progress = git::progress::Progress::default();
        let h = scan::history::scan(engine, &repo, &Selection::All, 0, inc, &progress)?;
        // Repository-relative paths, made distinct per repository (and readable in alerts).
        let prefix = |p: &str| format!("{}/{p}", root.display());
        let mut r = h.result;
        for f in &mut r.findings {
            f.path = prefix(&f.path);
        }
        for p in &mut r.placeholders {
            p.path = prefix(&p.path);
        }
        run.result.findings.append(&mut r.findings);
        run.result.placeholders.append(&mut r.placeholders);
        run.result.skipped.append(&mut r.skipped);
        run.result.files += r.files;
        run.result.bytes += r.bytes;
        run.repos += 1;
        run.commits += h.commits;
        run.read += h.unique_blobs;
        run.skipped += h.skipped;
        clean.extend(h.clean);
    }
    // Clean whatever happens next: recording them before the alert loses nothing.
    store.add_clean_blobs(job, clean.iter().map(|id| id.as_bytes()))?;
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rules_digest_is_stable_and_hex() {
        assert_eq!(rules_digest(), rules_digest());
        assert_eq!(rules_digest().len(), 64);
    }
}
