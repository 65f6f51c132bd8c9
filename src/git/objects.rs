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
//! reaches. Partial clones (promisor packs) are not read this way: their missing blobs
//! must be an error, which only the per-commit path reports. Nor is a database with an
//! object this pass cannot read or parse (a corrupt pack, a damaged loose object, a
//! malformed commit): git tolerates such garbage while nothing reaches it, so the
//! per-commit path decides, and fails only if the history needs it.

use super::history::CommitMeta;
use super::{Repository, fail};
use crate::error::Result;
use gix::ObjectId;
use gix::objs::FindExt;
use gix::odb::pack;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Trees kept in memory at most; past it, the rest are read from the store on demand.
const TREE_BUDGET: usize = 512 * 1024 * 1024;

/// Receives every blob of the object database once. Each worker thread gets a clone.
pub trait BlobVisitor: Clone + Send {
    /// Called with a blob's id and content.
    fn blob(&mut self, id: &gix::oid, data: &[u8]);
}

/// A commit as the history walk needs it: its tree and parents. Author, date and subject
/// are read again for the few commits a report names ([`commit_meta`]): keeping every
/// commit object would cost a big repository's whole commit history in memory.
#[derive(Debug, Clone)]
pub struct CommitRec {
    /// Its root tree.
    pub tree: ObjectId,
    /// Its parents, in order.
    pub parents: Vec<ObjectId>,
}

impl CommitRec {
    /// Parses the tree and parents of commit `id`.
    pub fn parse(id: &gix::oid, data: &[u8], hash: gix::hash::Kind) -> Result<CommitRec> {
        use gix::objs::commit::ref_iter::Token;
        // Not the parser's message: it may quote the object (a key in a message).
        let bad = |_: &dyn std::fmt::Display| fail(format!("parsing commit {id}"), "malformed");
        let mut tokens = gix::objs::CommitRefIter::from_bytes(data, hash);
        let tree = tokens.tree_id().map_err(|e| bad(&e))?;
        let mut parents = Vec::new();
        for t in tokens {
            match t {
                Ok(Token::Parent { id }) => parents.push(id),
                Ok(_) => break,
                Err(e) => return Err(bad(&e)),
            }
        }
        Ok(CommitRec { tree, parents })
    }
}

/// Author, time and subject of commit `id` (its object `data`), for reports.
pub fn commit_meta(id: &gix::oid, data: &[u8], hash: gix::hash::Kind) -> Result<CommitMeta> {
    let c = gix::objs::CommitRef::from_bytes(data, hash)
        .map_err(|_| fail(format!("parsing commit {id}"), "malformed"))?;
    let (author, time, offset) = match c.author() {
        Ok(a) => {
            let t = a.time().unwrap_or_default();
            (a.name.to_string(), t.seconds, t.offset)
        }
        Err(_) => (String::new(), 0, 0),
    };
    Ok(CommitMeta {
        id: id.to_owned(),
        author,
        time,
        offset,
        subject: c.message().summary().to_string(),
    })
}

/// Bytes of one arena block (blocks are never reallocated, so never copied).
const BLOCK: usize = 4 * 1024 * 1024;

/// Decoded trees, raw (git's tree format), by id.
#[derive(Debug, Default)]
pub struct TreeStore {
    /// Id → (block, start, length).
    index: gix::hashtable::HashMap<ObjectId, (u32, u32, u32)>,
    blocks: Vec<Vec<u8>>,
    size: usize,
    /// A tree was left out (over budget): said once in the log.
    full: bool,
}

impl TreeStore {
    /// The raw bytes of tree `id`, if it was kept.
    pub fn get(&self, id: &ObjectId) -> Option<&[u8]> {
        let (block, start, len) = *self.index.get(id)?;
        let (start, len) = (start as usize, len as usize);
        self.blocks.get(block as usize)?.get(start..start + len)
    }

    fn insert(&mut self, id: ObjectId, data: &[u8]) {
        if self.index.contains_key(&id) {
            return;
        }
        if self.size + data.len() > TREE_BUDGET {
            if !self.full {
                self.full = true;
                tracing::debug!(
                    "history: trees over {} MiB are read again when compared",
                    TREE_BUDGET >> 20
                );
            }
            return;
        }
        let fits = self
            .blocks
            .last()
            .is_some_and(|b| b.capacity() - b.len() >= data.len());
        if !fits {
            self.blocks.push(Vec::with_capacity(BLOCK.max(data.len())));
        }
        let n = self.blocks.len();
        let Some(block) = self.blocks.last_mut() else {
            return;
        };
        // Bounded by TREE_BUDGET and BLOCK (or one tree's size), so these fit in u32.
        let at = (n - 1, block.len(), data.len());
        block.extend_from_slice(data);
        self.size += data.len();
        // Otherwise not kept: compared from the object database instead.
        if let (Ok(b), Ok(s), Ok(l)) = (
            u32::try_from(at.0),
            u32::try_from(at.1),
            u32::try_from(at.2),
        ) {
            self.index.insert(id, (b, s, l));
        }
    }
}

/// What one pass over the object database collected.
#[derive(Debug, Default)]
pub struct ObjectPass {
    /// Every commit object, by id.
    pub commits: gix::hashtable::HashMap<ObjectId, CommitRec>,
    /// Every tree object, up to a memory budget (the rest are read again when needed).
    pub trees: TreeStore,
    /// Blob objects read (each once, even when several packs hold it).
    pub blobs: u64,
    /// Their bytes.
    pub blob_bytes: u64,
}

/// Shared between the traversal workers.
struct Shared {
    commits: Mutex<gix::hashtable::HashMap<ObjectId, CommitRec>>,
    trees: Mutex<TreeStore>,
    /// Blob ids already visited; only kept when more than one source may hold a blob.
    seen: Option<Mutex<gix::hashtable::HashSet<ObjectId>>>,
    blobs: AtomicU64,
    blob_bytes: AtomicU64,
    /// An object could not be read or parsed.
    damaged: AtomicBool,
    hash: gix::hash::Kind,
}

impl Shared {
    fn object<V: BlobVisitor>(
        &self,
        visitor: &mut V,
        kind: gix::objs::Kind,
        id: &gix::oid,
        data: &[u8],
    ) {
        match kind {
            gix::objs::Kind::Blob => {
                if let Some(seen) = &self.seen
                    && let Ok(mut s) = seen.lock()
                    && !s.insert(id.to_owned())
                {
                    return;
                }
                self.blobs.fetch_add(1, Ordering::Relaxed);
                self.blob_bytes
                    .fetch_add(data.len() as u64, Ordering::Relaxed);
                visitor.blob(id, data);
            }
            gix::objs::Kind::Tree => {
                if let Ok(mut t) = self.trees.lock() {
                    t.insert(id.to_owned(), data);
                }
            }
            gix::objs::Kind::Commit => match CommitRec::parse(id, data, self.hash) {
                Ok(c) => {
                    if let Ok(mut m) = self.commits.lock() {
                        m.insert(id.to_owned(), c);
                    }
                }
                // Not the parser's message: it may quote the object (a key in a message).
                Err(_) => self.damaged(&format!("commit {id} does not parse")),
            },
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

/// Reads every object of `repo`'s object database once with `threads` workers (0: one
/// per core), handing blobs to `visitor`. `None` when the repository is a partial clone
/// or an object cannot be read (the caller takes the per-commit path, which reports
/// what the history needs and cannot read).
pub fn read_all<V: BlobVisitor>(
    repo: &Repository,
    threads: usize,
    visitor: V,
) -> Result<Option<ObjectPass>> {
    let dirs = object_dirs(repo)?;
    let mut indexes = Vec::new();
    for d in &dirs {
        let (found, promisor) = packs(d)?;
        if promisor {
            return Ok(None);
        }
        indexes.extend(found);
    }
    let loose: Vec<gix::odb::loose::Store> = dirs
        .iter()
        .map(|d| gix::odb::loose::Store::at(d, repo.object_hash()))
        .collect();
    // One pack and no loose objects (a fresh clone, a gc'd repository): no blob can be
    // met twice. Otherwise a blob may sit in two packs, or loose and packed.
    let mut loose_ids = Vec::new();
    for store in &loose {
        for id in store.iter() {
            loose_ids.push(id.map_err(|e| fail("listing loose objects", e))?);
        }
    }
    let sources = indexes.len() + usize::from(!loose_ids.is_empty());
    let shared = Shared {
        commits: Mutex::new(gix::hashtable::HashMap::default()),
        trees: Mutex::new(TreeStore::default()),
        seen: (sources > 1).then(|| Mutex::new(gix::hashtable::HashSet::default())),
        blobs: AtomicU64::new(0),
        blob_bytes: AtomicU64::new(0),
        damaged: AtomicBool::new(false),
        hash: repo.object_hash(),
    };
    let threads = super::history::workers(threads);
    let stop = AtomicBool::new(false);
    for idx in &indexes {
        let started = std::time::Instant::now();
        let bundle = match pack::Bundle::at(idx, repo.object_hash()) {
            Ok(b) => b,
            Err(e) => {
                shared.damaged(&format!("opening pack {}: {e}", idx.display()));
                return Ok(None);
            }
        };
        let shared_ref = &shared;
        let mut visitor = visitor.clone();
        let traversed = bundle.index.traverse(
            &bundle.pack,
            &mut gix::progress::Discard,
            &stop,
            move |kind, data, entry: &pack::index::Entry, _| {
                shared_ref.object(&mut visitor, kind, &entry.oid, data);
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
            bundle.index.num_objects(),
            started.elapsed()
        );
    }
    let mut buf = Vec::new();
    let mut visitor = visitor;
    for id in &loose_ids {
        match repo.objects.find(id, &mut buf) {
            Ok(obj) => shared.object(&mut visitor, obj.kind, id, obj.data),
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
        trees: shared.trees.into_inner().unwrap_or_else(|e| e.into_inner()),
        blobs: shared.blobs.into_inner(),
        blob_bytes: shared.blob_bytes.into_inner(),
    }))
}
