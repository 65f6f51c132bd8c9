//! The history to scan: which commits, and which blobs each one introduced at which path.
//!
//! Each commit's tree is compared with its parents' trees, skipping identical subtrees by
//! id, so a commit costs the trees it changed. A blob introduced by many commits (a file
//! reverted and re-applied, the same config in many branches) is listed once, with every
//! (commit, path) that introduced it.

use super::objects::{CommitRec, ObjectPass, TreeStore, commit_meta};
use super::tree_diff::Differ;
use super::{Repository, fail, path_str};
use crate::error::{Error, Result};
use gix::ObjectId;
use gix::objs::FindExt;
use std::collections::{HashMap, HashSet};

/// `threads` workers, 0 meaning one per core.
pub fn workers(threads: usize) -> usize {
    if threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        threads
    }
}

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

/// A commit's metadata, for reports.
#[derive(Debug, Clone)]
pub struct CommitMeta {
    /// Its id.
    pub id: ObjectId,
    /// Author name.
    pub author: String,
    /// Author time, seconds since the epoch.
    pub time: i64,
    /// Author time zone offset, seconds east of UTC.
    pub offset: i32,
    /// First line of the message.
    pub subject: String,
}

/// A place where a commit introduced a blob.
#[derive(Debug, Clone)]
pub struct Intro {
    /// Index into [`History::commits`].
    pub commit: usize,
    /// Repository-relative path.
    pub path: String,
}

/// What a history scan reads.
#[derive(Debug, Default)]
pub struct History {
    /// Commits in the selection, in walk order.
    pub commits: Vec<CommitMeta>,
    /// Each unique blob, with every place it was introduced.
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

/// Trees and parents of the walked commits, by walk index.
#[derive(Default)]
struct Walked {
    trees: Vec<ObjectId>,
    parents_of: Vec<Vec<ObjectId>>,
    tree_of: HashMap<ObjectId, ObjectId>,
}

impl Walked {
    /// Records an already parsed commit.
    fn push(&mut self, c: &CommitRec, meta: CommitMeta, commits: &mut Vec<CommitMeta>) {
        self.tree_of.insert(meta.id, c.tree);
        commits.push(meta);
        self.trees.push(c.tree);
        self.parents_of.push(c.parents.clone());
    }

    /// Decodes commit `id`, records it, and returns its parents.
    fn record(
        &mut self,
        repo: &Repository,
        id: ObjectId,
        buf: &mut Vec<u8>,
        commits: &mut Vec<CommitMeta>,
    ) -> Result<&[ObjectId]> {
        let data = read_commit(repo, &id, buf)?;
        let c = CommitRec::parse(&id, data, repo.object_hash())?;
        let meta = commit_meta(&id, data, repo.object_hash())?;
        self.push(&c, meta, commits);
        Ok(self.parents_of.last().map_or(&[], Vec::as_slice))
    }
}

type Changed = Vec<(usize, Vec<(Vec<u8>, ObjectId)>)>;

/// What each commit introduced, oldest first. A file's next version is usually a delta
/// of the previous one in packs written by fast-import and pushes, so reading oldest
/// first finds each base in the pack cache. `threads` workers take contiguous slices.
fn diff_all(
    repo: &Repository,
    trees: &[ObjectId],
    parents_of: &[Vec<ObjectId>],
    tree_of: &HashMap<ObjectId, ObjectId>,
    store: Option<&TreeStore>,
    threads: usize,
) -> Result<Changed> {
    let n = trees.len();
    let threads = threads.clamp(1, 16).min(n.div_ceil(500).max(1));
    let work = |repo: &Repository, lo: usize, hi: usize| -> Result<Changed> {
        let mut differ = Differ::new(repo, store);
        let mut buf = Vec::new();
        let mut out = Vec::with_capacity(hi - lo);
        for idx in (lo..hi).rev() {
            let mut parent_trees = Vec::with_capacity(parents_of[idx].len());
            for p in &parents_of[idx] {
                let t = match tree_of.get(p) {
                    Some(t) => *t,
                    // A parent outside the selection (the base of a range).
                    None => repo
                        .objects
                        .find_commit(p, &mut buf)
                        .map_err(|e| fail(format!("reading commit {p}"), e))?
                        .tree(),
                };
                parent_trees.push(t);
            }
            out.push((idx, differ.introduced(repo, trees[idx], &parent_trees)?));
        }
        Ok(out)
    };
    if threads == 1 {
        return work(repo, 0, n);
    }
    let git_dir = repo.git_dir().to_path_buf();
    let chunk = n.div_ceil(threads);
    let results: Vec<Result<Changed>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (lo, hi) = (t * chunk, ((t + 1) * chunk).min(n));
                let git_dir = &git_dir;
                let work = &work;
                s.spawn(move || work(&super::open(git_dir)?, lo, hi))
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
    // Slices hold higher (older) indices last: oldest slice first.
    let mut out = Vec::with_capacity(n);
    for r in results.into_iter().rev() {
        out.extend(r?);
    }
    Ok(out)
}

/// Walks the selected commits and lists the blobs they introduced, with `threads`
/// workers for the tree comparisons (0: one per core).
pub fn plan(repo: &Repository, sel: &Selection, threads: usize) -> Result<History> {
    let threads = workers(threads);
    let shallow: HashSet<ObjectId> = repo
        .shallow_commits()
        .map_err(|e| fail("reading .git/shallow", e))?
        .map(|c| c.iter().copied().collect())
        .unwrap_or_default();
    if !shallow.is_empty() && *sel == Selection::All {
        return Err(shallow_error("--history needs every commit"));
    }
    let (tips, hidden) = endpoints(repo, sel)?;
    let mut out = History::default();
    if tips.is_empty() {
        return Ok(out);
    }
    // Pass 1: every selected commit, decoded once: metadata, tree, parents.
    let started = std::time::Instant::now();
    let mut buf = Vec::new();
    let mut walked = Walked::default();
    if hidden.is_empty() {
        // Everything reachable: a plain depth-first walk that decodes each commit once.
        let mut seen: HashSet<ObjectId> = HashSet::new();
        let mut stack: Vec<ObjectId> = tips.into_iter().rev().collect();
        while let Some(id) = stack.pop() {
            if !seen.insert(id) {
                continue;
            }
            let parents = walked.record(repo, id, &mut buf, &mut out.commits)?;
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
            walked.record(repo, info.id, &mut buf, &mut out.commits)?;
        }
    }
    let Walked {
        trees,
        parents_of,
        tree_of,
    } = walked;
    tracing::debug!(
        "history: {} commits walked in {:?}",
        out.commits.len(),
        started.elapsed()
    );
    let started = std::time::Instant::now();
    // Pass 2: what each commit introduced, against its parents' trees, in contiguous
    // slices of commits on parallel workers (each with its own caches).
    let per_commit = diff_all(repo, &trees, &parents_of, &tree_of, None, threads)?;
    let grouped = group(per_commit, |_| true);
    tracing::debug!(
        "history: {} unique blobs found by tree diffs in {:?}",
        grouped.blobs.len(),
        started.elapsed()
    );
    out.blobs = grouped.blobs;
    Ok(out)
}

/// What each commit introduced, grouped by blob.
struct Grouped {
    /// The blobs `keep` accepted, in first-seen order, with every place they came in.
    blobs: Vec<(ObjectId, Vec<Intro>)>,
    /// (commit, path) places, over all blobs.
    introductions: u64,
    /// Every blob introduced.
    unique: HashSet<ObjectId>,
}

fn group(per_commit: Changed, keep: impl Fn(&ObjectId) -> bool) -> Grouped {
    let mut unique = HashSet::new();
    let mut introductions = 0;
    let mut places: HashMap<ObjectId, Vec<Intro>> = HashMap::new();
    let mut order = Vec::new();
    for (idx, changed) in per_commit {
        for (path, id) in changed {
            introductions += 1;
            unique.insert(id);
            if !keep(&id) {
                continue;
            }
            places
                .entry(id)
                .or_insert_with(|| {
                    order.push(id);
                    Vec::new()
                })
                .push(Intro {
                    commit: idx,
                    path: path_str(&path),
                });
        }
    }
    let blobs = order
        .into_iter()
        .map(|id| (id, places.remove(&id).unwrap_or_default()))
        .collect();
    Grouped {
        blobs,
        introductions,
        unique,
    }
}

/// What a full-history plan made from an [`ObjectPass`] found.
#[derive(Debug, Default)]
pub struct FullPlan {
    /// Reachable commits, and the places where each blob of `targets` was introduced.
    pub history: History,
    /// Unique blobs the reachable commits hold.
    pub unique_blobs: u64,
    /// (commit, path) places that introduced a blob, over all blobs.
    pub introductions: u64,
    /// Unique blobs of the history that were in the skip set.
    pub skipped: u64,
    /// Every blob the history holds.
    pub reachable: HashSet<ObjectId>,
}

/// The commits every ref and HEAD point to: read them before an [`ObjectPass`], so that
/// everything they reach was in the object database when the pass listed it.
pub fn all_tips(repo: &Repository) -> Result<Vec<ObjectId>> {
    Ok(endpoints(repo, &Selection::All)?.0)
}

/// Plans a scan of everything reachable from `tips` (see [`all_tips`]) from one pass over
/// the object database: the commit walk and the tree comparisons run in memory on
/// `pass`, and only the blobs in `targets` (those with keys) keep their introductions.
/// `None` when a reachable commit is not in the pass (the repository changed under it:
/// a repack, or an object the pass could not read): the caller then takes the
/// per-commit path, so that no blob goes unscanned.
pub fn plan_from_pass(
    repo: &Repository,
    pass: &ObjectPass,
    tips: Vec<ObjectId>,
    targets: &HashSet<ObjectId>,
    skip: Option<&HashSet<ObjectId>>,
    threads: usize,
) -> Result<Option<FullPlan>> {
    let threads = workers(threads);
    let mut out = FullPlan::default();
    let started = std::time::Instant::now();
    let mut walked = Walked::default();
    let mut seen: HashSet<ObjectId> = HashSet::new();
    let mut stack: Vec<ObjectId> = tips.into_iter().rev().collect();
    let mut commits = Vec::new();
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        let Some(c) = pass.commits.get(&id) else {
            tracing::debug!("history: commit {id} is not in the object pass; per-commit path");
            return Ok(None);
        };
        // Metadata is parsed below, for the commits a report names.
        let stub = CommitMeta {
            id,
            author: String::new(),
            time: 0,
            offset: 0,
            subject: String::new(),
        };
        walked.push(c, stub, &mut commits);
        let parents = c.parents.as_slice();
        stack.extend(parents.iter().rev().filter(|p| !seen.contains(*p)));
    }
    let Walked {
        trees,
        parents_of,
        tree_of,
    } = walked;
    tracing::debug!(
        "history: {} commits walked in memory in {:?}",
        commits.len(),
        started.elapsed()
    );
    let started = std::time::Instant::now();
    let store = Some(&pass.trees);
    let per_commit = diff_all(repo, &trees, &parents_of, &tree_of, store, threads)?;
    let grouped = group(per_commit, |id| targets.contains(id));
    tracing::debug!(
        "history: {} unique blobs, {} with keys, found by in-memory tree diffs in {:?}",
        grouped.unique.len(),
        grouped.blobs.len(),
        started.elapsed()
    );
    out.introductions = grouped.introductions;
    out.unique_blobs = grouped.unique.len() as u64;
    if let Some(skip) = skip {
        out.skipped = grouped
            .unique
            .iter()
            .filter(|id| skip.contains(*id))
            .count() as u64;
    }
    let named: HashSet<usize> = grouped
        .blobs
        .iter()
        .flat_map(|(_, intros)| intros.iter().map(|i| i.commit))
        .collect();
    let mut buf = Vec::new();
    for idx in named {
        let id = commits[idx].id;
        let data = read_commit(repo, &id, &mut buf)?;
        commits[idx] = commit_meta(&id, data, repo.object_hash())?;
    }
    out.history.commits = commits;
    out.history.blobs = grouped.blobs;
    out.reachable = grouped.unique;
    Ok(Some(out))
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
