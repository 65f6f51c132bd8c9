//! What the next commit would contain: index entries whose content differs from HEAD.
//!
//! Read in-process: the index file and HEAD's trees, no `git` subprocess. Entries are
//! compared by blob id, so unchanged files cost a hash comparison each.

use super::{BlobEntry, Repository, fail, flatten_tree, head_tree, path_str};
use crate::error::Result;
use crate::scan::Skipped;
use gix::ObjectId;
use gix::objs::FindExt;
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
    let started = std::time::Instant::now();
    let index = super::read_index(repo)?;
    tracing::debug!("staged: index read in {:?}", started.elapsed());
    let head_id = head_tree(repo)?;
    let mut out = Staged {
        first_commit: head_id.is_none(),
        entries: index.entries().len() as u64,
        ..Staged::default()
    };
    // The entries that may differ from HEAD, with HEAD's blob at their path. Fast path:
    // the index's cache-tree extension names the tree of every directory git has not
    // touched since; where that equals HEAD's, the whole directory is skipped.
    let mut full: Option<HashMap<Vec<u8>, BlobEntry>> = None;
    let candidates = match head_id.and_then(|h| fast_candidates(repo, &index, h).transpose()) {
        Some(c) => c?,
        None => {
            let head = match head_id {
                Some(t) => flatten_tree(repo, t)?,
                None => HashMap::new(),
            };
            let c = (0..index.entries().len())
                .map(|i| {
                    (
                        i,
                        head.get(index.entries()[i].path(&index) as &[u8]).copied(),
                    )
                })
                .collect();
            full = Some(head);
            c
        }
    };
    tracing::debug!(
        "staged: {} candidates in {:?}",
        candidates.len(),
        started.elapsed()
    );
    let mut added = Vec::new();
    for (i, old) in candidates {
        let entry = &index.entries()[i];
        let path: &[u8] = entry.path(&index);
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
    tracing::debug!(
        "staged: index compared with HEAD in {:?}",
        started.elapsed()
    );
    if let Some(h) = head_id
        && !added.is_empty()
    {
        let head = match full {
            Some(head) => head,
            None => flatten_tree(repo, h)?,
        };
        let in_index: HashSet<&[u8]> = index
            .entries()
            .iter()
            .map(|e| e.path(&index) as &[u8])
            .collect();
        pair_renames(repo, &head, &in_index, &mut out, &added)?;
    }
    Ok(out)
}

/// Index entries (by position) that may differ from HEAD, with HEAD's blob at their path.
type Candidates = Vec<(usize, Option<BlobEntry>)>;

type Decoded = Vec<(Vec<u8>, gix::objs::tree::EntryMode, ObjectId)>;

fn decode<'c>(
    repo: &Repository,
    cache: &'c mut HashMap<ObjectId, Decoded>,
    id: ObjectId,
) -> Result<&'c Decoded> {
    match cache.entry(id) {
        std::collections::hash_map::Entry::Occupied(e) => Ok(e.into_mut()),
        std::collections::hash_map::Entry::Vacant(e) => {
            let mut buf = Vec::new();
            let t = repo
                .objects
                .find_tree(&id, &mut buf)
                .map_err(|e| fail(format!("reading tree {id}"), e))?;
            Ok(e.insert(
                t.entries
                    .iter()
                    .map(|e| (e.filename.to_vec(), e.mode, e.oid.to_owned()))
                    .collect(),
            ))
        }
    }
}

/// Directories whose cache-tree entry is valid and equal to HEAD's tree, with their
/// entry counts.
fn unchanged_dirs(
    repo: &Repository,
    cache: &mut HashMap<ObjectId, Decoded>,
    node: &gix::index::extension::Tree,
    head: Option<ObjectId>,
    prefix: &[u8],
    out: &mut HashMap<Vec<u8>, u32>,
) -> Result<()> {
    if let (Some(n), Some(h)) = (node.num_entries, head)
        && node.id == h
    {
        out.insert(prefix.to_vec(), n);
        return Ok(());
    }
    let subtrees: Vec<(Vec<u8>, ObjectId)> = match head {
        Some(h) => decode(repo, cache, h)?
            .iter()
            .filter(|(_, m, _)| m.is_tree())
            .map(|(n, _, i)| (n.clone(), *i))
            .collect(),
        None => Vec::new(),
    };
    for child in &node.children {
        let name: &[u8] = &child.name;
        let sub = subtrees.iter().find(|(n, _)| n == name).map(|(_, i)| *i);
        let mut p = prefix.to_vec();
        if !p.is_empty() {
            p.push(b'/');
        }
        p.extend_from_slice(name);
        unchanged_dirs(repo, cache, child, sub, &p, out)?;
    }
    Ok(())
}

/// HEAD's blob at `path`.
fn lookup(
    repo: &Repository,
    cache: &mut HashMap<ObjectId, Decoded>,
    root: ObjectId,
    path: &[u8],
) -> Result<Option<BlobEntry>> {
    let mut at = root;
    let mut parts = path.split(|b| *b == b'/').peekable();
    while let Some(part) = parts.next() {
        let last = parts.peek().is_none();
        let found = decode(repo, cache, at)?
            .iter()
            .find(|(n, m, _)| n == part && m.is_tree() != last)
            .map(|(_, m, i)| (*m, *i));
        match found {
            Some((m, id)) if last => {
                return Ok(Some(BlobEntry {
                    id,
                    regular: m.is_blob(),
                }));
            }
            Some((_, id)) => at = id,
            None => return Ok(None),
        }
    }
    Ok(None)
}

/// The candidates by the cache-tree, or `None` when the index has no usable cache-tree
/// (then every entry is compared with a flattened HEAD).
fn fast_candidates(
    repo: &Repository,
    index: &gix::index::File,
    head: ObjectId,
) -> Result<Option<Candidates>> {
    let Some(tree) = index.tree() else {
        return Ok(None);
    };
    let mut cache = HashMap::new();
    let mut skip = HashMap::new();
    unchanged_dirs(repo, &mut cache, tree, Some(head), b"", &mut skip)?;
    let entries = index.entries();
    if skip.contains_key(&b""[..]) {
        return Ok(Some(Vec::new()));
    }
    let mut out = Vec::new();
    let mut i = 0;
    'entries: while i < entries.len() {
        let path: &[u8] = entries[i].path(index);
        for (k, _) in path.iter().enumerate().filter(|(_, b)| **b == b'/') {
            let dir = &path[..k];
            if let Some(&n) = skip.get(dir) {
                // The count cannot be trusted blindly: the block must be exactly the
                // directory's entries, else fall back to the full comparison.
                let end = i + n as usize;
                let inside = |j: usize| {
                    entries.get(j).is_some_and(|e| {
                        let p: &[u8] = e.path(index);
                        p.len() > k && p.starts_with(dir) && p[k] == b'/'
                    })
                };
                if n == 0 || !inside(end - 1) || inside(end) {
                    return Ok(None);
                }
                i = end;
                continue 'entries;
            }
        }
        out.push((i, lookup(repo, &mut cache, head, path)?));
        i += 1;
    }
    Ok(Some(out))
}

/// New paths whose content a path deleted in this commit had (an unchanged rename) add
/// nothing (a copy is scanned: the key reaches a new place, maybe a worse context). A new
/// path is diffed against a deleted one when git would call the pair a rename with edits:
/// the same file name, or else at least half of their lines in common (git's default
/// similarity), the most similar first.
fn pair_renames(
    repo: &Repository,
    head: &HashMap<Vec<u8>, BlobEntry>,
    in_index: &HashSet<&[u8]>,
    out: &mut Staged,
    added: &[usize],
) -> Result<()> {
    let mut deleted_ids: HashSet<ObjectId> = HashSet::new();
    let mut deleted: HashMap<&[u8], Vec<ObjectId>> = HashMap::new();
    for (p, b) in head {
        if b.regular && !in_index.contains(p.as_slice()) {
            deleted.entry(file_name(p)).or_default().push(b.id);
            deleted_ids.insert(b.id);
        }
    }
    let mut drop = HashSet::new();
    let mut unpaired = Vec::new();
    let mut used = HashSet::new();
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
            used.insert(ids[0]);
        } else {
            unpaired.push(i);
        }
    }
    let left: Vec<ObjectId> = deleted_ids.difference(&used).copied().collect();
    // git's own rename detection gives up past diff.renameLimit (1,000 files); this
    // compares line sets, so it stops earlier.
    if !unpaired.is_empty() && !left.is_empty() && unpaired.len() * left.len() <= 40_000 {
        let mut buf = Vec::new();
        let mut old_lines = Vec::new();
        for id in &left {
            old_lines.push(Lines::of(super::read_blob(repo, id, &mut buf)?));
        }
        let mut taken = vec![false; left.len()];
        for i in unpaired {
            let new = Lines::of(super::read_blob(repo, &out.files[i].id, &mut buf)?);
            let best = (0..left.len())
                .filter(|&j| !taken[j])
                .map(|j| (new.similarity(&old_lines[j]), j))
                .filter(|&(score, _)| score >= 0.5)
                .max_by(|a, b| a.0.total_cmp(&b.0));
            if let Some((_, j)) = best {
                taken[j] = true;
                out.files[i].old = Some(left[j]);
            }
        }
    }
    out.renamed = drop.len() as u64;
    let mut i = 0;
    out.files.retain(|_| {
        i += 1;
        !drop.contains(&(i - 1))
    });
    Ok(())
}

/// A file's lines as a multiset of hashes, for rename similarity.
struct Lines {
    counts: HashMap<u64, u32>,
    total: usize,
}

impl Lines {
    fn of(data: &[u8]) -> Lines {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let hasher = BuildHasherDefault::<DefaultHasher>::default();
        let mut counts = HashMap::new();
        let mut total = 0;
        for line in data.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            *counts.entry(hasher.hash_one(line)).or_insert(0) += 1;
            total += 1;
        }
        Lines { counts, total }
    }

    /// Lines in common over the longer file's line count (0 to 1).
    fn similarity(&self, other: &Lines) -> f64 {
        let common: u32 = self
            .counts
            .iter()
            .map(|(h, n)| (*n).min(other.counts.get(h).copied().unwrap_or(0)))
            .sum();
        let longer = self.total.max(other.total);
        if longer == 0 {
            return 0.0;
        }
        f64::from(common) / longer as f64
    }
}

fn file_name(p: &[u8]) -> &[u8] {
    p.rsplit(|b| *b == b'/').next().unwrap_or(p)
}
