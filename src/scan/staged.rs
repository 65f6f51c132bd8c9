//! Source: the staged index (`scan --staged`), for the pre-commit hook.
//!
//! Each added or modified file is scanned as the index holds it (after `git add -p`, only
//! the staged part), with the same [`FileScanner`](super::FileScanner) and
//! [`Engine::findings`] as a tree scan. Without `whole_files`, only keys on lines the
//! commit adds are kept, and not a key the file already had in HEAD: editing a line that
//! holds an old key is not a new leak, and deleting one never blocks.

use super::{Engine, WalkResult};
use crate::error::Result;
use crate::finding::Exposure;
use crate::git::{self, Repository, staged::StagedFile};
use crate::secret::Fingerprint;
use imara_diff::{Algorithm, Diff, InternedInput, sources::byte_lines};
use std::collections::HashSet;

/// Scans what the next commit would add. Paths are relative to the top of the work tree.
pub fn scan(engine: &Engine, repo: &Repository, whole_files: bool) -> Result<StagedScan> {
    let staged = git::staged::staged(repo)?;
    let mut out = WalkResult {
        skipped: staged.skipped,
        ..WalkResult::default()
    };
    let mut scanner = engine.file_scanner();
    let mut buf = Vec::new();
    let mut old_buf = Vec::new();
    for f in &staged.files {
        let data = git::read_blob(repo, &f.id, &mut buf)?;
        let outcome = scanner.scan_bytes(&f.path, data);
        out.files += 1;
        out.bytes += outcome.bytes;
        if outcome.hits.is_empty() && !engine.path_has_key(&f.path) {
            continue;
        }
        let mut found = Vec::new();
        engine.findings(
            &f.path,
            outcome,
            Exposure::Staged,
            &mut found,
            &mut out.placeholders,
        );
        if !whole_files && let Some(old) = &f.old {
            let old_data = git::read_blob(repo, old, &mut old_buf)?;
            let keep = NewKeys::new(engine, f, old_data, data)?;
            found.retain(|x| keep.is_new(x.line, x.binary, &x.fingerprint));
        }
        out.findings.append(&mut found);
    }
    Ok(StagedScan {
        result: out,
        entries: staged.entries,
        renamed: staged.renamed,
        first_commit: staged.first_commit,
    })
}

/// What `scan --staged` read.
#[derive(Debug)]
pub struct StagedScan {
    /// Findings and counts, for [`super::outcome::finish`].
    pub result: WalkResult,
    /// Index entries compared with HEAD.
    pub entries: u64,
    /// Unchanged renames (nothing added).
    pub renamed: u64,
    /// No commit yet: every line counted as added.
    pub first_commit: bool,
}

/// Decides which keys of a modified file are new.
struct NewKeys {
    /// 0-based lines of the new version that the commit adds.
    added: Vec<bool>,
    /// Keys the old version already had.
    old_keys: HashSet<Fingerprint>,
}

impl NewKeys {
    fn new(engine: &Engine, f: &StagedFile, old: &[u8], new: &[u8]) -> Result<NewKeys> {
        let mut scanner = engine.file_scanner();
        let outcome = scanner.scan_bytes(&f.path, old);
        let old_keys = outcome
            .hits
            .iter()
            .map(|h| h.raw.key.fingerprint())
            .collect();
        let input = InternedInput::new(byte_lines(old), byte_lines(new));
        let diff = Diff::compute(Algorithm::Histogram, &input);
        let added = (0..input.after.len() as u32)
            .map(|i| diff.is_added(i))
            .collect();
        Ok(NewKeys { added, old_keys })
    }

    fn is_new(&self, line: u64, binary: bool, fp: &Fingerprint) -> bool {
        if self.old_keys.contains(fp) {
            return false;
        }
        // Lines of a binary file mean little: a key it did not have before is new.
        binary
            || self
                .added
                .get((line as usize).saturating_sub(1))
                .copied()
                .unwrap_or(true)
    }
}
