//! Source: git history (`scan --history`, `--since`, `--range`).
//!
//! Every unique blob the selected commits introduced is read from the object database
//! and scanned once, in parallel. A blob with keys is classified again for each other
//! path it appeared under (context depends on the path). Findings are kept once per
//! (key, rule, path), naming the earliest commit that introduced the key there, and are
//! flagged as still in HEAD or in history only.

use super::{Engine, FileOutcome, WalkResult};
use crate::error::Result;
use crate::finding::{Exposure, Finding, Introduced};
use crate::git::history::{CommitMeta, History, Intro, Selection};
use crate::git::{self, Repository};
use crate::secret::Fingerprint;
use gix::ObjectId;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// What a history scan found and read.
#[derive(Debug)]
pub struct HistoryScan {
    /// Findings and counts, for [`super::outcome::finish`].
    pub result: WalkResult,
    /// Commits walked.
    pub commits: u64,
    /// Unique blobs scanned (each once, however many commits hold it).
    pub unique_blobs: u64,
    /// (commit, path) places that introduced a blob.
    pub introductions: u64,
    /// Blobs of the selection left unread because they were in the caller's skip set.
    pub skipped: u64,
    /// With a skip set ([`Incremental`]): blobs read in this scan in which nothing was
    /// found (no hit, no placeholder), for the caller's next skip set.
    pub clean: Vec<ObjectId>,
}

/// What an incremental caller (the daemon) already knows: blobs an earlier scan with the
/// same rules found clean. They are not read, as if no commit had introduced them. A
/// blob with keys must never be in it: its findings (paths, introducing commit, in HEAD
/// or not) are computed only from the blobs read.
#[derive(Debug, Default, Clone, Copy)]
pub struct Incremental<'a> {
    /// Blob ids not to read.
    pub skip: Option<&'a HashSet<ObjectId>>,
}

impl Incremental<'_> {
    fn skips(&self, id: &gix::oid) -> bool {
        self.skip.is_some_and(|s| s.contains(id))
    }
}

impl HistoryScan {
    /// The `git` field of the JSON summary.
    pub fn stats(&self, sel: &Selection) -> serde_json::Value {
        let selection = match sel {
            Selection::All => "all refs".to_string(),
            Selection::Since(r) => format!("{r}..HEAD"),
            Selection::Range(a, b) => format!("{a}..{b}"),
        };
        serde_json::json!({
            "commits": self.commits,
            "unique_blobs": self.unique_blobs,
            "bytes": self.result.bytes,
            "introductions": self.introductions,
            "selection": selection,
        })
    }
}

/// Scans the history `sel` selects with `threads` workers (0: one per core), skipping
/// what `inc` says is known clean.
///
/// Everything reachable (`--history`) is read in one pass over the object database (see
/// [`crate::git::objects`]); a range or `--since` walks its commits and reads the blobs
/// they introduced.
pub fn scan(
    engine: &Engine,
    repo: &Repository,
    sel: &Selection,
    threads: usize,
    inc: Incremental<'_>,
) -> Result<HistoryScan> {
    if *sel == Selection::All {
        git::history::check_not_shallow(repo)?;
        if let Some(done) = scan_all(engine, repo, threads, inc)? {
            return Ok(done);
        }
    }
    let mut plan = git::history::plan(repo, sel, threads)?;
    let planned = plan.blobs.len();
    plan.blobs.retain(|(id, _)| !inc.skips(id));
    let skipped = (planned - plan.blobs.len()) as u64;
    let started = std::time::Instant::now();
    let (hits, bytes) = scan_blobs(engine, repo, &plan, threads)?;
    tracing::debug!(
        "history: {} blobs, {bytes} bytes scanned in {:?}",
        plan.blobs.len(),
        started.elapsed()
    );
    let introductions = plan.blobs.iter().map(|(_, i)| i.len() as u64).sum();
    let clean = match inc.skip {
        Some(_) => {
            let with_hits: HashSet<usize> = hits.iter().map(|(i, _)| *i).collect();
            (0..plan.blobs.len())
                .filter(|i| !with_hits.contains(i))
                .map(|i| plan.blobs[i].0)
                .collect()
        }
        None => Vec::new(),
    };
    let totals = Totals {
        unique_blobs: plan.blobs.len() as u64,
        bytes,
        introductions,
        skipped,
        clean,
    };
    attribute(engine, repo, &plan, hits, totals)
}

/// Scans each blob of the object database once (path-less: only whether it holds a key
/// matters here), then plans the reachable history in memory and classifies the blobs
/// with keys at every path they were introduced under. `None` for a partial clone.
fn scan_all(
    engine: &Engine,
    repo: &Repository,
    threads: usize,
    inc: Incremental<'_>,
) -> Result<Option<HistoryScan>> {
    let started = std::time::Instant::now();
    let with_keys = Mutex::new(Vec::new());
    let clean = Mutex::new(Vec::new());
    let visitor = KeyFinder {
        engine,
        scanner: None,
        with_keys: &with_keys,
        inc,
        clean: inc.skip.map(|_| &clean),
    };
    // Refs first: whatever they reach is then in the database the pass lists.
    let tips = git::history::all_tips(repo)?;
    let Some(pass) = git::objects::read_all(repo, threads, visitor)? else {
        return Ok(None);
    };
    let targets: HashSet<ObjectId> = with_keys
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .collect();
    tracing::debug!(
        "history: object database read, {} blobs ({} bytes), {} with keys, in {:?}",
        pass.blobs,
        pass.blob_bytes,
        targets.len(),
        started.elapsed()
    );
    let Some(full) = git::history::plan_from_pass(repo, &pass, tips, &targets, inc.skip, threads)?
    else {
        return Ok(None);
    };
    let bytes = pass.blob_bytes;
    drop(pass);
    let plan = full.history;
    let mut scanner = engine.file_scanner();
    let mut buf = Vec::new();
    let mut hits = Vec::with_capacity(plan.blobs.len());
    for (i, (id, intros)) in plan.blobs.iter().enumerate() {
        let path = intros.first().map_or("", |x| x.path.as_str());
        let data = git::read_blob(repo, id, &mut buf)?;
        let outcome = scanner
            .scan(path, &mut &data[..])
            .map_err(|e| crate::Error::io(path, e))?;
        hits.push((i, outcome));
    }
    let totals = Totals {
        unique_blobs: full.unique_blobs - full.skipped,
        bytes,
        introductions: full.introductions,
        skipped: full.skipped,
        // Only what the history holds: a dangling blob is no use to the next skip set.
        clean: clean
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .into_iter()
            .filter(|id| full.reachable.contains(id))
            .collect(),
    };
    let t = std::time::Instant::now();
    let r = attribute(engine, repo, &plan, hits, totals).map(Some);
    tracing::debug!(
        "history: attributed in {:?}; scan_all total {:?}",
        t.elapsed(),
        started.elapsed()
    );
    r
}

/// A [`git::objects::BlobVisitor`] that notes which blobs hold a key (or a placeholder)
/// and, for an incremental caller, which are clean. Each worker gets its own scanner.
struct KeyFinder<'e> {
    engine: &'e Engine,
    scanner: Option<super::file::FileScanner<'e>>,
    with_keys: &'e Mutex<Vec<ObjectId>>,
    inc: Incremental<'e>,
    clean: Option<&'e Mutex<Vec<ObjectId>>>,
}

impl Clone for KeyFinder<'_> {
    fn clone(&self) -> Self {
        KeyFinder {
            engine: self.engine,
            scanner: None,
            with_keys: self.with_keys,
            inc: self.inc,
            clean: self.clean,
        }
    }
}

impl git::objects::BlobVisitor for KeyFinder<'_> {
    fn blob(&mut self, id: &gix::oid, data: &[u8]) {
        if self.inc.skips(id) {
            return;
        }
        let engine = self.engine;
        let scanner = self.scanner.get_or_insert_with(|| engine.file_scanner());
        // Reading from memory cannot fail.
        let Ok(o) = scanner.scan("", &mut &data[..]) else {
            return;
        };
        let set = if o.hits.is_empty() {
            match self.clean {
                Some(c) => c,
                None => return,
            }
        } else {
            self.with_keys
        };
        if let Ok(mut v) = set.lock() {
            v.push(id.to_owned());
        }
    }
}

/// Counts for the summary, and the clean blobs for an incremental caller.
struct Totals {
    unique_blobs: u64,
    bytes: u64,
    introductions: u64,
    skipped: u64,
    clean: Vec<ObjectId>,
}

/// Turns the blobs with keys (`hits`, by index into `plan.blobs`, scanned under their
/// first path) into findings: one per (key, rule, path), naming the earliest commit that
/// introduced it there, flagged as in HEAD or in history only.
fn attribute(
    engine: &Engine,
    repo: &Repository,
    plan: &History,
    hits: Vec<(usize, FileOutcome)>,
    totals: Totals,
) -> Result<HistoryScan> {
    let mut result = WalkResult {
        files: totals.unique_blobs,
        bytes: totals.bytes,
        ..WalkResult::default()
    };
    // Keys per blob with hits, for the in-HEAD check.
    let mut blob_keys: HashMap<ObjectId, HashSet<Fingerprint>> = HashMap::new();
    let mut best: HashMap<(Fingerprint, String, String), (Finding, usize)> = HashMap::new();
    let mut scanner = engine.file_scanner();
    let mut buf = Vec::new();
    for (i, outcome) in hits {
        let (id, intros) = &plan.blobs[i];
        blob_keys.insert(
            *id,
            outcome
                .hits
                .iter()
                .map(|h| h.raw.key.fingerprint())
                .collect(),
        );
        let mut paths: Vec<&str> = Vec::new();
        for intro in intros {
            if !paths.contains(&intro.path.as_str()) {
                paths.push(&intro.path);
            }
        }
        let mut first = Some(outcome);
        for path in paths {
            let is_first = first.is_some();
            let outcome = match first.take() {
                Some(o) => o,
                None => {
                    let data = git::read_blob(repo, id, &mut buf)?;
                    scanner
                        .scan(path, &mut &data[..])
                        .map_err(|e| crate::Error::io(path, e))?
                }
            };
            let mut found = Vec::new();
            let mut ph = Vec::new();
            engine.findings(path, outcome, Exposure::History, &mut found, &mut ph);
            if is_first {
                result.placeholders.append(&mut ph);
            }
            let commit = earliest(plan, intros, path);
            for f in found {
                let key = (f.fingerprint.clone(), f.rule.clone(), f.path.clone());
                match best.get(&key) {
                    Some((_, c)) if !earlier(&plan.commits, commit, *c) => {}
                    _ => {
                        best.insert(key, (f, commit));
                    }
                }
            }
        }
    }
    let head = match git::head_tree(repo)? {
        Some(t) if !best.is_empty() => git::flatten_tree(repo, t)?,
        _ => HashMap::new(),
    };
    for (_, (mut f, c)) in best {
        let in_head = match head.get(f.path.as_bytes()) {
            Some(b) => match blob_keys.entry(b.id) {
                std::collections::hash_map::Entry::Occupied(e) => e.get().contains(&f.fingerprint),
                std::collections::hash_map::Entry::Vacant(e) => {
                    // Scanned blobs without hits are not in `blob_keys`; HEAD's blob may
                    // also lie outside a --range. Either way, look at it now.
                    let data = git::read_blob(repo, &b.id, &mut buf)?;
                    let o = scanner
                        .scan(&f.path, &mut &data[..])
                        .map_err(|e| crate::Error::io(&f.path, e))?;
                    let keys: HashSet<Fingerprint> =
                        o.hits.iter().map(|h| h.raw.key.fingerprint()).collect();
                    e.insert(keys).contains(&f.fingerprint)
                }
            },
            None => false,
        };
        f.commit = Some(introduced(engine, &plan.commits[c], in_head));
        result.findings.push(f);
    }
    Ok(HistoryScan {
        commits: plan.commits.len() as u64,
        unique_blobs: totals.unique_blobs,
        introductions: totals.introductions,
        skipped: totals.skipped,
        clean: totals.clean,
        result,
    })
}

/// Blobs a worker takes at a time.
const RUN: usize = 256;

/// Scans every blob of `plan` once; returns the outcomes that have hits (by blob index)
/// and the bytes read.
fn scan_blobs(
    engine: &Engine,
    repo: &Repository,
    plan: &History,
    threads: usize,
) -> Result<(Vec<(usize, FileOutcome)>, u64)> {
    let threads = git::history::workers(threads)
        .clamp(1, 16)
        .min(plan.blobs.len().max(1));
    // gix without its `parallel` feature has thread-local handles: each worker opens its own.
    let git_dir = repo.git_dir().to_path_buf();
    let next = AtomicUsize::new(0);
    let bytes = AtomicU64::new(0);
    let hits = Mutex::new(Vec::new());
    let error = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let repo = match git::open(&git_dir) {
                    Ok(r) => r,
                    Err(e) => {
                        if let Ok(mut slot) = error.lock() {
                            slot.get_or_insert(e);
                        }
                        return;
                    }
                };
                let mut scanner = engine.file_scanner();
                let mut buf = Vec::new();
                // Contiguous runs of blobs per worker: versions of a file that are deltas
                // of each other then share the worker's pack cache.
                let mut run = 0..0;
                loop {
                    let i = match run.next() {
                        Some(i) => i,
                        None => {
                            let lo = next.fetch_add(RUN, Ordering::Relaxed);
                            run = lo..(lo + RUN).min(plan.blobs.len());
                            match run.next() {
                                Some(i) => i,
                                None => break,
                            }
                        }
                    };
                    let Some((id, intros)) = plan.blobs.get(i) else {
                        break;
                    };
                    let path = intros.first().map_or("", |x| x.path.as_str());
                    let outcome = git::read_blob(&repo, id, &mut buf).and_then(|data| {
                        scanner
                            .scan(path, &mut &data[..])
                            .map_err(|e| crate::Error::io(path, e))
                    });
                    match outcome {
                        Ok(o) => {
                            bytes.fetch_add(o.bytes, Ordering::Relaxed);
                            if !o.hits.is_empty()
                                && let Ok(mut h) = hits.lock()
                            {
                                h.push((i, o));
                            }
                        }
                        Err(e) => {
                            if let Ok(mut slot) = error.lock() {
                                slot.get_or_insert(e);
                            }
                            next.store(plan.blobs.len(), Ordering::Relaxed);
                            break;
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = error.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(e);
    }
    let mut hits = hits.into_inner().unwrap_or_else(|e| e.into_inner());
    hits.sort_by_key(|(i, _)| *i);
    Ok((hits, bytes.into_inner()))
}

/// Is commit `a` older than commit `b`? Author time; on equal times the walk order (which
/// visits children before parents) decides: the later-visited one is older.
fn earlier(commits: &[CommitMeta], a: usize, b: usize) -> bool {
    let (ca, cb) = (&commits[a], &commits[b]);
    ca.time < cb.time || (ca.time == cb.time && a > b)
}

/// The earliest commit that introduced the blob at `path`.
fn earliest(plan: &History, intros: &[Intro], path: &str) -> usize {
    intros
        .iter()
        .filter(|i| i.path == path)
        .map(|i| i.commit)
        .reduce(|a, b| if earlier(&plan.commits, b, a) { b } else { a })
        .unwrap_or(0)
}

/// The commit that introduced a key; its author and subject come from the repository,
/// so keys in them are redacted too.
fn introduced(engine: &Engine, c: &CommitMeta, in_head: bool) -> Introduced {
    let date = chrono::FixedOffset::east_opt(c.offset)
        .and_then(|tz| {
            chrono::DateTime::from_timestamp(c.time, 0).map(|d| d.with_timezone(&tz).to_rfc3339())
        })
        .unwrap_or_default();
    Introduced {
        commit: c.id.to_string(),
        author: engine.redact_text(&c.author),
        date,
        subject: engine.redact_text(&c.subject),
        in_head,
        status: if in_head {
            "in HEAD".into()
        } else {
            "in history only: still leaked, revoke it".into()
        },
    }
}
