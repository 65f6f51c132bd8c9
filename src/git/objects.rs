//! The whole object database in one pass, for full-history scans.
//!
//! Walking commits and asking the object store for each tree and blob costs a delta chain
//! per object. Instead each pack is traversed along its delta tree (every base inflated
//! once, on parallel workers, the way `git verify-pack` works), then the loose objects
//! are read: blobs go to a [`BlobVisitor`] (the scanner) as they are decoded, commits are
//! parsed, and trees are kept raw in one arena so that the history can be diffed in
//! memory afterwards. Nosey Parker reads repositories the same way.
//!
//! Every object is read, reachable or not; the caller keeps only what the commit walk
//! reaches. Promisor packs (partial clones, mirrors) are read the same way: a blob the
//! history holds but the database does not is found by [`Presence`] and reported by the
//! caller. A database with an object this pass cannot read or parse (a corrupt pack, a
//! damaged loose object, a malformed commit) is not: git tolerates such garbage while
//! nothing reaches it, so the per-commit path decides, and fails only if the history
//! needs it.
//!
//! Memory: the pass keeps commits as ids ([`Commits`]) and at most [`TREE_BUDGET`] bytes
//! of trees (the rest go to a temporary file, [`TreeStore`]); blobs are scanned and
//! dropped as they are decoded.

use super::commits::Commits;
use super::pack_map::PackMap;
use super::progress::{Phase, Progress};
pub use super::tree_check::Links;
use super::tree_check::TreeCheck;
pub use super::tree_store::{TREE_BUDGET, TreeStore};
use super::{Repository, fail};
use crate::error::Result;
use gix::ObjectId;
use gix::objs::FindExt;
use gix::odb::pack;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Receives every blob of the object database once. Each worker thread gets a clone.
pub trait BlobVisitor: Clone + Send {
    /// Called with a blob's id and content.
    fn blob(&mut self, id: &gix::oid, data: &[u8]);
}

/// Which objects the database holds: every pack index and loose object directory, the
/// repository's and its alternates'. Looking an id up costs a binary search in a mapped
/// index, and no memory per object.
pub struct Presence {
    indexes: Vec<pack::index::File>,
    loose: Vec<gix::odb::loose::Store>,
    /// A promisor pack or `extensions.partialClone`: objects may be missing by design.
    partial: bool,
}

impl std::fmt::Debug for Presence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Presence")
            .field("packs", &self.indexes.len())
            .field("loose", &self.loose.len())
            .field("partial", &self.partial)
            .finish()
    }
}

impl Presence {
    /// The object directories of `repo`, and the pack index files in them.
    pub fn open(repo: &Repository) -> Result<(Presence, Vec<PathBuf>)> {
        let dirs = object_dirs(repo)?;
        let mut paths = Vec::new();
        let mut partial = repo
            .config_snapshot()
            .string("extensions.partialClone")
            .is_some();
        for d in &dirs {
            let (found, promisor) = packs(d)?;
            partial |= promisor;
            paths.extend(found);
        }
        let mut indexes = Vec::with_capacity(paths.len());
        for p in &paths {
            indexes.push(
                pack::index::File::at(p, repo.object_hash())
                    .map_err(|e| fail(format!("opening pack index {}", p.display()), e))?,
            );
        }
        let loose = dirs
            .iter()
            .map(|d| gix::odb::loose::Store::at(d, repo.object_hash()))
            .collect();
        Ok((
            Presence {
                indexes,
                loose,
                partial,
            },
            paths,
        ))
    }

    /// Whether the database holds object `id`.
    pub fn has(&self, id: &gix::oid) -> bool {
        self.in_packs(id, self.indexes.len()) || self.loose.iter().any(|l| l.contains(id))
    }

    /// Whether one of the first `n` packs holds `id`.
    fn in_packs(&self, id: &gix::oid, n: usize) -> bool {
        self.indexes[..n].iter().any(|i| i.lookup(id).is_some())
    }

    /// A partial clone: missing objects are expected (promisor packs or
    /// `extensions.partialClone`).
    pub fn partial(&self) -> bool {
        self.partial
    }
}

/// What one pass over the object database collected.
#[derive(Debug)]
pub struct ObjectPass {
    /// Every commit object, by id.
    pub commits: Commits,
    /// Every tree object: up to [`TREE_BUDGET`] bytes in memory, the rest in a temporary
    /// file.
    pub trees: TreeStore,
    /// Blob objects read (each once, even when several packs hold it).
    pub blobs: u64,
    /// Their bytes.
    pub blob_bytes: u64,
    /// What the database holds, to tell a missing blob from a present one.
    pub presence: Presence,
    /// Trees that name objects the database lacks, and what may reach them: whether the
    /// history can miss a blob ([`Links::may_reach_absent`]).
    pub links: Links,
}

/// Shared between the traversal workers.
struct Shared<'p> {
    commits: Mutex<Commits>,
    trees: Mutex<TreeStore>,
    presence: &'p Presence,
    blobs: AtomicU64,
    blob_bytes: AtomicU64,
    /// An object could not be read or parsed.
    damaged: AtomicBool,
    /// Trees that name objects the database lacks, and links to them.
    links: Mutex<Links>,
    hash: gix::hash::Kind,
    progress: &'p Progress,
}

impl Shared<'_> {
    /// One object, from pack number `pack` (`None`: loose). A blob that an earlier pack
    /// holds too was visited there.
    fn object<V: BlobVisitor>(
        &self,
        (visitor, check, edges): (&mut V, &mut TreeCheck, &mut Vec<(ObjectId, ObjectId)>),
        pack: Option<usize>,
        kind: gix::objs::Kind,
        id: &gix::oid,
        data: &[u8],
    ) {
        self.progress.add(1);
        match kind {
            gix::objs::Kind::Blob => {
                let earlier = pack.unwrap_or(self.presence.indexes.len());
                if earlier > 0 && self.presence.in_packs(id, earlier) {
                    return;
                }
                self.blobs.fetch_add(1, Ordering::Relaxed);
                self.blob_bytes
                    .fetch_add(data.len() as u64, Ordering::Relaxed);
                visitor.blob(id, data);
            }
            gix::objs::Kind::Tree => {
                // Packed trees are checked in a partial clone only: elsewhere git keeps
                // every object a packed tree names (fetch checks connectivity, repack and
                // prune keep what is reachable), and `git fsck` is the tool for damage.
                // Loose trees are checked anywhere: few, and where a bad prune strikes.
                if pack.is_none() || self.presence.partial {
                    if pack.is_none() {
                        // Loose objects come in id order: no version of each other.
                        *check = TreeCheck::new(self.hash);
                    }
                    let ok = check.check(id, data, |o| self.presence.has(o), edges);
                    if let Ok(mut l) = self.links.lock() {
                        l.add(edges, (!ok).then(|| id.to_owned()));
                    }
                }
                if let Ok(mut t) = self.trees.lock() {
                    t.insert(id.to_owned(), data);
                }
            }
            gix::objs::Kind::Commit => {
                let parsed = match self.commits.lock() {
                    Ok(mut m) => m.insert(id, data, self.hash).map(|_| ()),
                    Err(_) => Ok(()),
                };
                if parsed.is_err() {
                    // Not the parser's message: it may quote the object (a key in a message).
                    self.damaged(&format!("commit {id} does not parse"));
                }
            }
            gix::objs::Kind::Tag => {}
        }
    }

    fn damaged(&self, e: &dyn std::fmt::Display) {
        tracing::debug!("history: {e}; the per-commit path will decide");
        self.damaged.store(true, Ordering::Relaxed);
    }
}

/// The object directories: the repository's and its alternates'.
fn object_dirs(repo: &Repository) -> Result<Vec<PathBuf>> {
    let own = repo.objects.store_ref().path().to_path_buf();
    let cwd = std::env::current_dir().unwrap_or_else(|_| own.clone());
    let mut dirs = vec![own.clone()];
    let alternates = gix::odb::alternate::resolve(own, &cwd)
        .map_err(|e| fail("reading objects/info/alternates", e))?;
    dirs.extend(alternates);
    Ok(dirs)
}

/// Pack index files of an object directory, and whether any pack is a promisor pack.
fn packs(objects: &Path) -> Result<(Vec<PathBuf>, bool)> {
    let dir = objects.join("pack");
    let mut out = Vec::new();
    let mut promisor = false;
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((out, false)),
        Err(e) => return Err(crate::Error::io(&dir, e)),
    };
    for entry in entries {
        let path = entry.map_err(|e| crate::Error::io(&dir, e))?.path();
        match path.extension().and_then(|e| e.to_str()) {
            Some("idx") => out.push(path),
            Some("promisor") => promisor = true,
            _ => {}
        }
    }
    out.sort();
    Ok((out, promisor))
}

/// Objects the pass reads between two releases of the pack's mapped pages
/// ([`PackMap::release`]): on cargo's pack, 16,384 objects touch about 8 MB.
const RELEASE_EVERY: u64 = 16 * 1024;

/// Pack `idx`'s index, its data through a [`PackMap`], and the map (to release its pages);
/// `None` (and the pass marked damaged) if they cannot be opened.
fn open_pack(
    shared: &Shared<'_>,
    idx: &Path,
    hash: gix::hash::Kind,
) -> Option<(pack::index::File, pack::data::File<PackMap>, PackMap)> {
    let path = idx.with_extension("pack");
    let opened = pack::index::File::at(idx, hash)
        .map_err(|e| e.to_string())
        .and_then(|index| {
            let map = PackMap::open(&path).map_err(|e| e.to_string())?;
            let data = pack::data::File::from_data(map.clone(), path.clone(), hash)
                .map_err(|e| e.to_string())?;
            Ok((index, data, map))
        });
    match opened {
        Ok(o) => Some(o),
        Err(e) => {
            shared.damaged(&format!("opening pack {}: {e}", path.display()));
            None
        }
    }
}

/// Reads every object of `repo`'s object database once with `threads` workers (0: one
/// per core), handing blobs to `visitor`: every pack (promisor packs of a partial clone
/// too), then the loose objects. `None` when an object cannot be read or parsed (the
/// caller takes the per-commit path, which fails only if the history needs it).
pub fn read_all<V: BlobVisitor>(
    repo: &Repository,
    threads: usize,
    visitor: V,
    progress: &Progress,
) -> Result<Option<ObjectPass>> {
    let (presence, index_paths) = Presence::open(repo)?;
    let mut loose_ids = Vec::new();
    for store in &presence.loose {
        for id in store.iter() {
            loose_ids.push(id.map_err(|e| fail("listing loose objects", e))?);
        }
    }
    loose_ids.sort();
    loose_ids.dedup();
    let total: u64 = presence
        .indexes
        .iter()
        .map(|i| u64::from(i.num_objects()))
        .sum::<u64>()
        + loose_ids.len() as u64;
    progress.start(Phase::Objects, total);
    let shared = Shared {
        commits: Mutex::new(Commits::default()),
        trees: Mutex::new(TreeStore::new(TREE_BUDGET)),
        presence: &presence,
        blobs: AtomicU64::new(0),
        blob_bytes: AtomicU64::new(0),
        damaged: AtomicBool::new(false),
        links: Mutex::new(Links::default()),
        hash: repo.object_hash(),
        progress,
    };
    let threads = super::workers(threads);
    let stop = AtomicBool::new(false);
    for (n, idx) in index_paths.iter().enumerate() {
        let started = std::time::Instant::now();
        let Some((index, data, map)) = open_pack(&shared, idx, repo.object_hash()) else {
            return Ok(None);
        };
        let shared_ref = &shared;
        let mut visitor = visitor.clone();
        let mut check = TreeCheck::new(repo.object_hash());
        let mut edges = Vec::new();
        let seen = AtomicU64::new(0);
        let (seen, map) = (&seen, &map);
        let traversed = index.traverse(
            &data,
            &mut gix::progress::Discard,
            &stop,
            move |kind, data, entry: &pack::index::Entry, _| {
                shared_ref.object(
                    (&mut visitor, &mut check, &mut edges),
                    Some(n),
                    kind,
                    &entry.oid,
                    data,
                );
                if seen.fetch_add(1, Ordering::Relaxed) % RELEASE_EVERY == RELEASE_EVERY - 1 {
                    map.release();
                }
                Ok(())
            },
            pack::index::traverse::Options {
                traversal: pack::index::traverse::Algorithm::DeltaTreeLookup,
                thread_limit: Some(threads),
                // Git verified the pack and its objects when it wrote or received
                // it (`index-pack`); hashing every object again would double the
                // cost. A pack that cannot be decoded sends the scan to the
                // per-commit path.
                check: pack::index::traverse::SafetyCheck::SkipFileAndObjectChecksumVerification,
                alloc_limit_bytes: None,
                make_pack_lookup_cache: || pack::cache::Never,
            },
        );
        if let Err(e) = traversed {
            shared.damaged(&format!("reading pack {}: {e}", idx.display()));
            return Ok(None);
        }
        tracing::debug!(
            "history: pack {} ({} objects) read in {:?}",
            idx.display(),
            index.num_objects(),
            started.elapsed()
        );
    }
    let mut buf = Vec::new();
    let mut visitor = visitor;
    let mut check = TreeCheck::new(repo.object_hash());
    let mut edges = Vec::new();
    for id in &loose_ids {
        match repo.objects.find(id, &mut buf) {
            Ok(obj) => shared.object(
                (&mut visitor, &mut check, &mut edges),
                None,
                obj.kind,
                id,
                obj.data,
            ),
            Err(e) => shared.damaged(&format!("reading object {id}: {e}")),
        }
    }
    if shared.damaged.load(Ordering::Relaxed) {
        return Ok(None);
    }
    Ok(Some(ObjectPass {
        commits: shared
            .commits
            .into_inner()
            .unwrap_or_else(|e| e.into_inner()),
        trees: shared
            .trees
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .finish(),
        blobs: shared.blobs.into_inner(),
        blob_bytes: shared.blob_bytes.into_inner(),
        links: shared.links.into_inner().unwrap_or_else(|e| e.into_inner()),
        presence,
    }))
}
