//! The history to scan: which commits, and which blobs each one introduced at which path.
//!
//! Each commit's tree is compared with its parents' trees, skipping identical subtrees by
//! id, so a commit costs the trees it changed. A blob introduced by many commits (a file
//! reverted and re-applied, the same config in many branches) is counted once.
//!
//! Memory: what grows with the history is ids (each commit's id, tree and parents; each
//! unique blob's id) and, for the few blobs that hold keys, every place they came in.
//! Commit metadata is read only for the commits a report names.

use super::commits::{CommitMeta, Commits, commit_meta};
use super::objects::Presence;
use super::progress::{Phase, Progress};
use super::tree_diff::Differ;
use super::tree_store::TreeStore;
use super::{Repository, fail, path_str};
use crate::error::{Error, Result};
use gix::ObjectId;
use gix::objs::FindExt;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Which commits to scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Everything reachable from any ref (branches, tags, remotes, stash) and HEAD.
    All,
    /// Commits reachable from HEAD and not from REV (`REV..HEAD`).
    Since(String),
    /// `A..B`: commits reachable from B and not from A.
    Range(String, String),
}

impl Selection {
    /// Parses `--range A..B` (`A...B` is refused: it means something else in git).
    pub fn range(spec: &str) -> Result<Selection> {
        match spec.split_once("..") {
            Some((a, b)) if !a.is_empty() && !b.is_empty() && !b.starts_with('.') => {
                Ok(Selection::Range(a.to_string(), b.to_string()))
            }
            _ => Err(Error::Usage(format!(
                "--range {spec:?}: expected A..B, two revisions (e.g. origin/main..HEAD, or the before..after of a push)"
            ))),
        }
    }
}

/// A place where a commit introduced a blob.
#[derive(Debug, Clone)]
pub struct Intro {
    /// Index into [`History::commits`].
    pub commit: usize,
    /// Repository-relative path.
    pub path: String,
}

/// The named part of a history: blobs with keys and the commits that introduced them.
#[derive(Debug, Default)]
pub struct History {
    /// The commits [`Intro`]s name, in walk order (children before parents).
    pub commits: Vec<CommitMeta>,
    /// Each target blob, with every place it was introduced.
    pub blobs: Vec<(ObjectId, Vec<Intro>)>,
}

/// `git fetch` arguments that bring `spec`: `origin/main` is branch `main` of remote
/// `origin` (`git fetch origin main`); anything else is asked of `origin`.
fn fetch_args(repo: &Repository, spec: &str) -> String {
    if let Some((remote, branch)) = spec.split_once('/')
        && repo.remote_names().iter().any(|r| *r == remote)
    {
        return format!("{remote} {branch}");
    }
    format!("origin {spec}")
}

fn resolve(repo: &Repository, spec: &str, flag: &str) -> Result<ObjectId> {
    let id = repo.rev_parse_single(spec).map_err(|e| {
        Error::git(
            format!("{flag}: cannot resolve {spec:?} to a commit ({e})"),
            format!(
                "fetch it first (`git fetch {}`, or `git fetch --unshallow`; in GitHub Actions use actions/checkout with `fetch-depth: 0`)",
                fetch_args(repo, spec)
            ),
        )
    })?;
    let commit = id
        .object()
        .and_then(|o| o.peel_to_commit())
        .map_err(|e| fail(format!("{flag}: {spec:?} is not a commit"), e))?;
    Ok(commit.id)
}

fn shallow_error(what: &str) -> Error {
    Error::git(
        format!(
            "this is a shallow clone: {what}; scanning it would miss history and report a false clean result"
        ),
        "fetch the full history with `git fetch --unshallow` (GitHub Actions: actions/checkout with `fetch-depth: 0`; GitLab: GIT_DEPTH: 0)",
    )
}

/// The tips and hidden commits of `sel`.
fn endpoints(repo: &Repository, sel: &Selection) -> Result<(Vec<ObjectId>, Vec<ObjectId>)> {
    Ok(match sel {
        Selection::All => {
            let mut tips = Vec::new();
            let refs = repo.references().map_err(|e| fail("listing refs", e))?;
            let all = refs.all().map_err(|e| fail("listing refs", e))?;
            for r in all {
                let Ok(mut r) = r else { continue };
                // Tags of trees or blobs are not history; skip them.
                if let Ok(c) = r.peel_to_commit() {
                    tips.push(c.id);
                }
            }
            if let Ok(h) = repo.head_id() {
                tips.push(h.detach());
            }
            tips.sort();
            tips.dedup();
            (tips, Vec::new())
        }
        Selection::Since(rev) => {
            let head = resolve(repo, "HEAD", "HEAD")?;
            (vec![head], vec![resolve(repo, rev, "--since")?])
        }
        Selection::Range(a, b) => (
            vec![resolve(repo, b, "--range")?],
            vec![resolve(repo, a, "--range")?],
        ),
    })
}

/// The object of commit `id`.
fn read_commit<'b>(repo: &Repository, id: &ObjectId, buf: &'b mut Vec<u8>) -> Result<&'b [u8]> {
    let obj = repo
        .objects
        .find(id, buf)
        .map_err(|e| fail(format!("reading commit {id}"), e))?;
    if obj.kind != gix::objs::Kind::Commit {
        return Err(fail(
            format!("reading commit {id}"),
            format!("a {}", obj.kind),
        ));
    }
    Ok(obj.data)
}

/// The selected commits: their trees and parents ([`Commits`]), and the walk order
/// (slots; children before parents).
#[derive(Debug, Default)]
pub struct Walk {
    /// Tree and parents of each commit (for a full-history pass, every commit of the
    /// database, reachable or not).
    pub commits: Commits,
    /// Slots of the selected commits, in walk order.
    pub order: Vec<u32>,
}

/// Walks the commits `sel` selects, decoding each once (per-commit path).
pub fn walk(repo: &Repository, sel: &Selection, progress: &Progress) -> Result<Walk> {
    let shallow: HashSet<ObjectId> = repo
        .shallow_commits()
        .map_err(|e| fail("reading .git/shallow", e))?
        .map(|c| c.iter().copied().collect())
        .unwrap_or_default();
    if !shallow.is_empty() && *sel == Selection::All {
        return Err(shallow_error("--history needs every commit"));
    }
    let (tips, hidden) = endpoints(repo, sel)?;
    let mut out = Walk::default();
    progress.start(Phase::Walking, 0);
    let started = std::time::Instant::now();
    let mut buf = Vec::new();
    let hash = repo.object_hash();
    let mut record = |out: &mut Walk, id: ObjectId| -> Result<u32> {
        let data = read_commit(repo, &id, &mut buf)?;
        let slot = out.commits.insert(&id, data, hash)?;
        out.order.push(slot);
        progress.add(1);
        Ok(slot)
    };
    if hidden.is_empty() {
        // Everything reachable: a plain depth-first walk that decodes each commit once.
        let mut seen: HashSet<ObjectId> = HashSet::new();
        let mut stack: Vec<ObjectId> = tips.into_iter().rev().collect();
        while let Some(id) = stack.pop() {
            if !seen.insert(id) {
                continue;
            }
            let slot = record(&mut out, id)?;
            let parents = out.commits.parents(slot);
            stack.extend(parents.iter().rev().filter(|p| !seen.contains(*p)));
        }
    } else {
        let walk = repo
            .rev_walk(tips)
            .with_hidden(hidden)
            .all()
            .map_err(|e| fail("walking commits", e))?;
        for info in walk {
            let info = info.map_err(|e| {
                if shallow.is_empty() {
                    fail("walking commits", e)
                } else {
                    shallow_error("the range reaches past the fetched commits")
                }
            })?;
            if shallow.contains(&info.id) {
                return Err(shallow_error(&format!(
                    "commit {} is a shallow boundary inside the range",
                    info.id
                )));
            }
            record(&mut out, info.id)?;
        }
    }
    tracing::debug!(
        "history: {} commits walked in {:?}",
        out.order.len(),
        started.elapsed()
    );
    Ok(out)
}

/// Walks everything reachable from `tips` (see [`all_tips`]) in `commits`, the commits an
/// [`ObjectPass`](super::objects::ObjectPass) collected. `None` when a reachable commit is not there (the repository
/// changed under the pass: the caller takes the per-commit path, so that no blob goes
/// unscanned).
pub fn walk_pass(commits: &Commits, tips: Vec<ObjectId>) -> Option<Vec<u32>> {
    let started = std::time::Instant::now();
    let mut seen = vec![false; commits.len()];
    let mut order = Vec::new();
    let mut stack: Vec<ObjectId> = tips.into_iter().rev().collect();
    while let Some(id) = stack.pop() {
        let Some(slot) = commits.slot(&id) else {
            tracing::debug!("history: commit {id} is not in the object pass; per-commit path");
            return None;
        };
        if std::mem::replace(&mut seen[slot as usize], true) {
            continue;
        }
        order.push(slot);
        let parents = commits.parents(slot);
        stack.extend(
            parents
                .iter()
                .rev()
                .filter(|p| commits.slot(p).is_none_or(|s| !seen[s as usize])),
        );
    }
    tracing::debug!(
        "history: {} commits walked in memory in {:?}",
        order.len(),
        started.elapsed()
    );
    Some(order)
}

/// A blob the history holds and the object database does not.
#[derive(Debug, Clone)]
pub struct Missing {
    /// The blob.
    pub id: ObjectId,
    /// A path it was introduced at.
    pub path: String,
    /// The commit that introduced it there.
    pub commit: ObjectId,
}

/// What the tree comparisons of a walk found.
#[derive(Debug, Default)]
pub struct Diffed {
    /// Every blob the selected commits introduced.
    pub unique: HashSet<ObjectId>,
    /// The same blobs, but for the missing ones, in the order they were met, oldest
    /// commits first (when asked for: versions of a file then follow each other, as
    /// deltas do in packs).
    pub order: Vec<ObjectId>,
    /// (commit, path) places that introduced a blob, over all blobs.
    pub introductions: u64,
    /// Every place a target blob was introduced: (walk index, path, blob).
    pub(crate) kept: Vec<(usize, Vec<u8>, ObjectId)>,
    /// Blobs the database does not hold, each with one place that introduced it.
    pub(crate) missing: Vec<(ObjectId, usize, Vec<u8>)>,
}

/// What the tree comparisons look for.
pub struct DiffOptions<'a> {
    /// Trees kept by an object pass, read before the object database.
    pub store: Option<&'a TreeStore>,
    /// What the database holds (missing blobs are listed).
    pub presence: &'a Presence,
    /// Blobs whose every introduction is kept (those with keys).
    pub targets: Option<&'a HashSet<ObjectId>>,
    /// Keep the order blobs were met in ([`Diffed::order`]).
    pub order: bool,
    /// Workers (0: one per core).
    pub threads: usize,
}

/// Shards of the set of blobs met, so that the workers rarely wait for each other.
const SHARDS: usize = 16;

/// Slices of the walk per worker ([`diff`] hands them out one at a time)...
const SLICES_PER_WORKER: usize = 16;
/// ...of at least this many commits (a slice's first commit misses the differ's cache).
const MIN_SLICE: usize = 250;

/// What one worker found in one slice of the walk.
#[derive(Default)]
struct Found {
    order: Vec<ObjectId>,
    introductions: u64,
    kept: Vec<(usize, Vec<u8>, ObjectId)>,
    missing: Vec<(ObjectId, usize, Vec<u8>)>,
}

/// Compares each walked commit's tree with its parents' trees: which blobs it introduced,
/// at which path. Oldest first: a file's next version is usually a delta of the previous
/// one in packs written by fast-import and pushes, so reading oldest first finds each
/// base in the pack cache. Workers take contiguous slices of the walk, one at a time,
/// and keep only counts, the blob ids met, and the places of target and missing blobs.
pub fn diff(
    repo: &Repository,
    walk: &Walk,
    opts: &DiffOptions<'_>,
    progress: &Progress,
) -> Result<Diffed> {
    let n = walk.order.len();
    let threads = super::workers(opts.threads)
        .clamp(1, 16)
        .min(n.div_ceil(500).max(1));
    progress.start(Phase::Trees, n as u64);
    let started = std::time::Instant::now();
    let shards: Vec<Mutex<HashSet<ObjectId>>> =
        (0..SHARDS).map(|_| Mutex::new(HashSet::new())).collect();
    let work =
        |repo: &Repository, differ: &mut Differ<'_>, lo: usize, hi: usize| -> Result<Found> {
            let mut buf = Vec::new();
            let mut found = Found::default();
            let mut parent_trees = Vec::new();
            for idx in (lo..hi).rev() {
                let slot = walk.order[idx];
                parent_trees.clear();
                for p in walk.commits.parents(slot) {
                    let t = match walk.commits.slot(p) {
                        Some(s) => walk.commits.tree(s),
                        // A parent outside the selection (the base of a range).
                        None => repo
                            .objects
                            .find_commit(p, &mut buf)
                            .map_err(|e| fail(format!("reading commit {p}"), e))?
                            .tree(),
                    };
                    parent_trees.push(t);
                }
                let changed = differ.introduced(repo, walk.commits.tree(slot), &parent_trees)?;
                progress.add(1);
                for (path, id) in changed {
                    found.introductions += 1;
                    let shard = &shards[usize::from(id.as_bytes()[0]) % SHARDS];
                    let new = shard.lock().map(|mut s| s.insert(id)).unwrap_or(false);
                    if new {
                        if !opts.presence.has(&id) {
                            found.missing.push((id, idx, path));
                            continue;
                        }
                        if opts.order {
                            found.order.push(id);
                        }
                    }
                    if opts.targets.is_some_and(|t| t.contains(&id)) {
                        found.kept.push((idx, path, id));
                    }
                }
            }
            Ok(found)
        };
    let mut slices: Vec<(usize, Found)> = if threads == 1 {
        vec![(0, work(repo, &mut Differ::new(repo, opts.store), 0, n)?)]
    } else {
        // Slices of the walk handed out one at a time: newer commits have bigger trees,
        // and a worker may be descheduled on a busy machine, so fixed halves finish
        // unevenly. Each worker keeps its differ (and its cache) from slice to slice.
        let slice = n.div_ceil(threads * SLICES_PER_WORKER).max(MIN_SLICE);
        let next = AtomicUsize::new(0);
        let git_dir = repo.git_dir().to_path_buf();
        let results: Vec<Result<Vec<(usize, Found)>>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    let (git_dir, work, next) = (&git_dir, &work, &next);
                    s.spawn(move || {
                        let repo = super::open_worker(git_dir)?;
                        let mut differ = Differ::new(&repo, opts.store);
                        let mut done = Vec::new();
                        loop {
                            let c = next.fetch_add(1, Ordering::Relaxed);
                            let lo = c.saturating_mul(slice);
                            if lo >= n {
                                return Ok(done);
                            }
                            match work(&repo, &mut differ, lo, (lo + slice).min(n)) {
                                Ok(f) => done.push((c, f)),
                                Err(e) => {
                                    next.store(n, Ordering::Relaxed);
                                    return Err(e);
                                }
                            }
                        }
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(fail("diffing trees", "a worker thread panicked")))
                })
                .collect()
        });
        let mut all = Vec::new();
        for r in results {
            all.extend(r?);
        }
        all
    };
    let mut out = Diffed::default();
    // Slices hold higher (older) indices last: oldest slice first.
    slices.sort_unstable_by_key(|s| std::cmp::Reverse(s.0));
    for (_, f) in slices {
        out.order.extend(f.order);
        out.introductions += f.introductions;
        out.kept.extend(f.kept);
        out.missing.extend(f.missing);
    }
    for shard in shards {
        out.unique
            .extend(shard.into_inner().unwrap_or_else(|e| e.into_inner()));
    }
    tracing::debug!(
        "history: {} commits compared, {} unique blobs ({} missing), {} places kept, in {:?}",
        n,
        out.unique.len(),
        out.missing.len(),
        out.kept.len(),
        started.elapsed()
    );
    Ok(out)
}

/// The named part of a history: the target blobs with every place they were introduced,
/// the commits those places name (author, date and subject read now), and the missing
/// blobs.
pub fn name(
    repo: &Repository,
    walk: &Walk,
    diffed: &mut Diffed,
) -> Result<(History, Vec<Missing>)> {
    // Oldest first (walk indices descending), then by path: a stable order.
    let mut kept = std::mem::take(&mut diffed.kept);
    kept.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    // Walk indices named, renumbered in walk order (which breaks ties between equal dates).
    let mut named: Vec<usize> = kept.iter().map(|k| k.0).collect();
    named.sort_unstable();
    named.dedup();
    let mut buf = Vec::new();
    let mut commits = Vec::with_capacity(named.len());
    for idx in &named {
        let id = walk.commits.id(walk.order[*idx]);
        let data = read_commit(repo, &id, &mut buf)?;
        commits.push(commit_meta(&id, data, repo.object_hash())?);
    }
    let renumber = |idx: usize| named.binary_search(&idx).unwrap_or(0);
    let mut places: HashMap<ObjectId, Vec<Intro>> = HashMap::new();
    let mut order = Vec::new();
    for (idx, path, id) in kept {
        places
            .entry(id)
            .or_insert_with(|| {
                order.push(id);
                Vec::new()
            })
            .push(Intro {
                commit: renumber(idx),
                path: path_str(&path),
            });
    }
    let blobs = order
        .into_iter()
        .map(|id| (id, places.remove(&id).unwrap_or_default()))
        .collect();
    let mut missing: Vec<Missing> = std::mem::take(&mut diffed.missing)
        .into_iter()
        .map(|(id, idx, path)| Missing {
            id,
            path: path_str(&path),
            commit: walk.commits.id(walk.order[idx]),
        })
        .collect();
    missing.sort_by(|a, b| a.path.cmp(&b.path).then_with(|| a.id.cmp(&b.id)));
    Ok((History { commits, blobs }, missing))
}

/// The commits every ref and HEAD point to: read them before an [`ObjectPass`](super::objects::ObjectPass), so that
/// everything they reach was in the object database when the pass listed it.
pub fn all_tips(repo: &Repository) -> Result<Vec<ObjectId>> {
    Ok(endpoints(repo, &Selection::All)?.0)
}

/// Refuses a full-history scan of a shallow clone.
pub fn check_not_shallow(repo: &Repository) -> Result<()> {
    let shallow = repo
        .shallow_commits()
        .map_err(|e| fail("reading .git/shallow", e))?
        .is_some_and(|c| !c.is_empty());
    if shallow {
        return Err(shallow_error("--history needs every commit"));
    }
    Ok(())
}
