//! What the next commit would contain: index entries whose content differs from HEAD.
//!
//! Read in-process: the index file and HEAD's trees, no `git` subprocess. Entries are
//! compared by blob id, so unchanged files cost a hash comparison each.

use super::{BlobEntry, Repository, fail, flatten_tree, head_tree, path_str};
use crate::error::Result;
use crate::scan::Skipped;
use gix::ObjectId;
use std::collections::{HashMap, HashSet};

/// One added or modified file in the index.
#[derive(Debug, Clone)]
pub struct StagedFile {
    /// Repository-relative, `/`-separated path.
    pub path: String,
    /// The staged blob.
    pub id: ObjectId,
    /// The version it replaces: the blob at the same path in HEAD, or, for a file renamed
    /// in this commit, the deleted file of the same name. `None` for a new file.
    pub old: Option<ObjectId>,
}

/// The staged changes of a repository.
#[derive(Debug, Default)]
pub struct Staged {
    /// Added and modified regular files, in index order.
    pub files: Vec<StagedFile>,
    /// Staged entries not scanned (submodules, symlinks, conflicts), with why.
    pub skipped: Vec<Skipped>,
    /// Index entries compared with HEAD.
    pub entries: u64,
    /// Files staged unchanged under a new name (pure renames): nothing added.
    pub renamed: u64,
    /// The repository has no commit yet: every staged line is new.
    pub first_commit: bool,
}

/// Compares the index with HEAD.
pub fn staged(repo: &Repository) -> Result<Staged> {
    let index = repo
        .index_or_empty()
        .map_err(|e| fail("reading the index (.git/index)", e))?;
    let head = match head_tree(repo)? {
        Some(t) => flatten_tree(repo, t)?,
        None => HashMap::new(),
    };
    let mut out = Staged {
        first_commit: head.is_empty(),
        entries: index.entries().len() as u64,
        ..Staged::default()
    };
    let mut in_index: HashSet<&[u8]> = HashSet::with_capacity(index.entries().len());
    let mut added = Vec::new();
    for entry in index.entries() {
        let path: &[u8] = entry.path(&index);
        in_index.insert(path);
        let skip = |reason: &str| Skipped {
            path: path_str(path),
            reason: reason.to_string(),
            error: false,
        };
        if entry.stage_raw() != 0 {
            // Conflicted paths have several stages; git refuses to commit them anyway.
            if entry.stage_raw() == 2 {
                out.skipped
                    .push(skip("merge conflict: resolve it and `git add` the file"));
            }
            continue;
        }
        if entry
            .flags
            .contains(gix::index::entry::Flags::INTENT_TO_ADD)
        {
            continue;
        }
        let old = head.get(path);
        if old.is_some_and(|o| o.id == entry.id) {
            continue;
        }
        match entry.mode {
            gix::index::entry::Mode::COMMIT => {
                out.skipped
                    .push(skip("submodule: scan it in its own repository"));
                continue;
            }
            gix::index::entry::Mode::SYMLINK => {
                out.skipped.push(skip("symbolic link"));
                continue;
            }
            _ => {}
        }
        let old = old.filter(|o| o.regular).map(|o| o.id);
        if old.is_none() {
            added.push(out.files.len());
        }
        out.files.push(StagedFile {
            path: path_str(path),
            id: entry.id,
            old,
        });
    }
    if !added.is_empty() && !head.is_empty() {
        pair_renames(&head, &in_index, &mut out, &added);
    }
    Ok(out)
}

/// New paths whose content a path deleted in this commit had (an unchanged rename) add
/// nothing (a copy is scanned: the key reaches a new place, maybe a worse context);
/// a new path whose file name matches a path deleted in this commit is diffed against it
/// (a rename with edits).
fn pair_renames(
    head: &HashMap<Vec<u8>, BlobEntry>,
    in_index: &HashSet<&[u8]>,
    out: &mut Staged,
    added: &[usize],
) {
    let mut deleted_ids: HashSet<ObjectId> = HashSet::new();
    let mut deleted: HashMap<&[u8], Vec<ObjectId>> = HashMap::new();
    for (p, b) in head {
        if b.regular && !in_index.contains(p.as_slice()) {
            deleted.entry(file_name(p)).or_default().push(b.id);
            deleted_ids.insert(b.id);
        }
    }
    let mut drop = HashSet::new();
    for &i in added {
        let f = &mut out.files[i];
        if deleted_ids.contains(&f.id) {
            drop.insert(i);
            continue;
        }
        if let Some(ids) = deleted.get(file_name(f.path.as_bytes()))
            && ids.len() == 1
        {
            f.old = Some(ids[0]);
        }
    }
    out.renamed = drop.len() as u64;
    let mut i = 0;
    out.files.retain(|_| {
        i += 1;
        !drop.contains(&(i - 1))
    });
}

fn file_name(p: &[u8]) -> &[u8] {
    p.rsplit(|b| *b == b'/').next().unwrap_or(p)
}
