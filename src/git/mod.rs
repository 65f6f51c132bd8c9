//! Read-only access to a git repository with `gix`, in-process (no `git` subprocess):
//! the index against HEAD ([`staged`]), the commit graph and trees ([`history`]), and
//! the hooks directory ([`hooks`]).
//!
//! Object ids and paths leave this module as plain values; blob bytes are read by the
//! scan sources in `crate::scan::{staged, history}`.

pub mod commits;
pub mod history;
pub mod hooks;
pub mod objects;
mod pack_map;
pub mod progress;
pub mod staged;
mod tree_check;
mod tree_diff;
mod tree_store;

use crate::error::{Error, Result};
use gix::ObjectId;
use gix::objs::FindExt;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

pub use gix::Repository;

/// Opens the repository that holds `dir` (searching upwards, like git does).
pub fn open(dir: &Path) -> Result<Repository> {
    let mut repo = gix::discover(dir).map_err(|e| {
        Error::git(
            format!("{}: not in a git repository ({e})", dir.display()),
            "run the command inside a git work tree, or `git init` one",
        )
    })?;
    // Trees and small blobs are read many times over in a history walk, and consecutive
    // versions of a file are deltas of each other in packs: cache both, or every blob
    // costs its whole delta chain.
    repo.object_cache_size_if_unset(16 * 1024 * 1024);
    repo.objects.set_pack_cache(|| {
        Box::new(gix::odb::pack::cache::lru::MemoryCappedHashmap::new(
            64 * 1024 * 1024,
        ))
    });
    Ok(repo)
}

/// `threads` workers, 0 meaning one per core.
pub fn workers(threads: usize) -> usize {
    if threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        threads
    }
}

/// Delta bases a history worker keeps decoded ([`open_worker`]).
const WORKER_PACK_CACHE: usize = 24 * 1024 * 1024;

/// Opens `git_dir` for one of a history scan's workers: no object cache (the tree
/// comparisons keep their own, and a blob is read once) and a smaller delta-base cache,
/// so that the workers' memory stays bounded however many there are.
pub fn open_worker(git_dir: &Path) -> Result<Repository> {
    let repo = gix::open(git_dir).map_err(|e| {
        Error::git(
            format!("{}: cannot open the repository ({e})", git_dir.display()),
            "check the repository with `git fsck`",
        )
    })?;
    let mut repo = repo;
    repo.objects.set_pack_cache(|| {
        Box::new(gix::odb::pack::cache::lru::MemoryCappedHashmap::new(
            WORKER_PACK_CACHE,
        ))
    });
    Ok(repo)
}

/// The top directory of the work tree (the git dir for a bare repository).
pub fn workdir(repo: &Repository) -> PathBuf {
    repo.workdir()
        .map_or_else(|| repo.git_dir().to_path_buf(), Path::to_path_buf)
}

/// Wraps a gix error: `what` failed, with the underlying cause.
pub(crate) fn fail(what: impl std::fmt::Display, e: impl std::fmt::Display) -> Error {
    Error::git(
        format!("{what}: {e}"),
        "check the repository with `git fsck`; run with -vv for details",
    )
}

/// The index (an empty one when the repository has none). Read-only use: the trailing
/// checksum is not verified (SHA-1 of the whole file, a third of the time on large
/// indexes); git reads its index the same way.
pub fn read_index(repo: &Repository) -> Result<gix::index::File> {
    let path = repo.index_path();
    if !path.exists() {
        return Ok(gix::index::File::from_state(
            gix::index::State::new(repo.object_hash()),
            path,
        ));
    }
    gix::index::File::at(
        &path,
        repo.object_hash(),
        true,
        gix::index::decode::Options::default(),
    )
    .map_err(|e| fail(format!("reading the index ({})", path.display()), e))
}

/// The `/`-separated paths of every file and symlink the index tracks (submodules left
/// out: their files belong to another repository).
pub fn tracked_paths(repo: &Repository) -> Result<HashSet<Vec<u8>>> {
    let index = read_index(repo)?;
    Ok(index
        .entries()
        .iter()
        .filter(|e| e.mode != gix::index::entry::Mode::COMMIT)
        .map(|e| e.path(&index).to_vec())
        .collect())
}

/// The tree HEAD points to, or `None` on an unborn branch (a repository without commits).
pub fn head_tree(repo: &Repository) -> Result<Option<ObjectId>> {
    let head = repo.head().map_err(|e| fail("reading HEAD", e))?;
    if head.is_unborn() {
        return Ok(None);
    }
    let id = repo
        .head_tree_id()
        .map_err(|e| fail("reading HEAD's tree", e))?;
    Ok(Some(id.detach()))
}

/// A blob entry of a tree, flattened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobEntry {
    /// The blob.
    pub id: ObjectId,
    /// A regular (or executable) file, as opposed to a symlink or a submodule.
    pub regular: bool,
}

/// Every blob, symlink and submodule of `tree`, by `/`-separated path.
pub fn flatten_tree(repo: &Repository, tree: ObjectId) -> Result<HashMap<Vec<u8>, BlobEntry>> {
    let mut out = HashMap::new();
    let mut buf = Vec::new();
    let mut stack = vec![(tree, Vec::new())];
    while let Some((id, prefix)) = stack.pop() {
        let t = repo
            .objects
            .find_tree(&id, &mut buf)
            .map_err(|e| fail(format!("reading tree {id}"), e))?;
        for e in &t.entries {
            let mut path = prefix.clone();
            if !path.is_empty() {
                path.push(b'/');
            }
            path.extend_from_slice(e.filename);
            if e.mode.is_tree() {
                stack.push((e.oid.to_owned(), path));
            } else {
                out.insert(
                    path,
                    BlobEntry {
                        id: e.oid.to_owned(),
                        regular: e.mode.is_blob(),
                    },
                );
            }
        }
    }
    Ok(out)
}

/// Reads a blob into `buf`.
pub fn read_blob<'a>(repo: &Repository, id: &ObjectId, buf: &'a mut Vec<u8>) -> Result<&'a [u8]> {
    repo.objects
        .find_blob(id, buf)
        .map(|b| b.data)
        .map_err(|e| fail(format!("reading blob {id}"), e))
}

/// `/`-separated display form of a git path (lossy for non-UTF-8 names).
pub fn path_str(p: &[u8]) -> String {
    String::from_utf8_lossy(p).into_owned()
}
