//! Source: git history (`scan --history`, `--since`, `--range`).
//!
//! Every unique blob the selected commits introduced is read from the object database
//! and scanned once, in parallel. A blob with keys is classified again for each other
//! path it appeared under (context depends on the path). Findings are kept once per
//! (key, rule, path), naming the earliest commit that introduced the key there, and are
//! flagged as still in HEAD or in history only.

use super::{Engine, FileOutcome, Skipped, WalkResult};
use crate::error::Result;
use crate::finding::{Exposure, Finding, Introduced};
use crate::git::commits::CommitMeta;
use crate::git::history::{DiffOptions, History, Intro, Missing, Selection, Walk};
use crate::git::objects::{BlobVisitor, Presence};
use crate::git::progress::{Phase, Progress};
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
    /// (commit, path) places that introduced a blob; `None` when not computed (a full
    /// history in which no blob holds a key and none is missing: nothing to attribute).
    pub introductions: Option<u64>,
    /// Blobs of the selection left unread because they were in the caller's skip set.
    pub skipped: u64,
    /// Blobs the history holds and the object database does not (named in
    /// `result.skipped`, as errors).
    pub missing: u64,
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
        let mut v = serde_json::json!({
            "commits": self.commits,
            "unique_blobs": self.unique_blobs,
            "bytes": self.result.bytes,
            "introductions": self.introductions,
            "missing_blobs": self.missing,
            "selection": selection,
        });
        if self.introductions.is_none() {
            v["introductions_not_computed"] = NOT_COMPUTED.into();
        }
        v
    }
}

/// Why a summary has no `introductions`.
const NOT_COMPUTED: &str = "no key found and no blob missing: which commits introduced \
     each blob was not worked out (unique_blobs counts every blob of the object database, \
     reachable or not)";

/// Scans the history `sel` selects with `threads` workers (0: one per core), skipping
/// what `inc` says is known clean, and advancing `progress` as it goes.
///
/// Everything reachable (`--history`) is read in one pass over the object database (see
/// [`crate::git::objects`]); a range or `--since` walks its commits and reads the blobs
/// they introduced. Either way a blob the history holds and the database does not (a
/// partial clone, a damaged repository) is listed among the summary's errors.
pub fn scan(
    engine: &Engine,
    repo: &Repository,
    sel: &Selection,
    threads: usize,
    inc: Incremental<'_>,
    progress: &Progress,
) -> Result<HistoryScan> {
    let r = scan_selection(engine, repo, sel, threads, inc, progress);
    progress.finish();
    if let Some(kib) = peak_rss_kib() {
        tracing::debug!("history: peak RSS {kib} KiB (now {})", rss_now());
    }
    r
}

/// The process's peak resident set so far (Linux: `VmHWM`), for `-vv` and the tests that
/// check the memory bound.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The resident set now, by kind (Linux), for `-vv`: anonymous memory is the process's
/// own, file pages are the mapped packs (page cache, shared and reclaimable).
fn rss_now() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("?")
            .to_string()
    };
    format!(
        "{} KiB anonymous, {} KiB of mapped files",
        field("RssAnon:"),
        field("RssFile:")
    )
}

fn scan_selection(
    engine: &Engine,
    repo: &Repository,
    sel: &Selection,
    threads: usize,
    inc: Incremental<'_>,
    progress: &Progress,
) -> Result<HistoryScan> {
    if *sel == Selection::All {
        git::history::check_not_shallow(repo)?;
        if let Some(done) = scan_all(engine, repo, threads, inc, progress)? {
            return Ok(done);
        }
    }
    let walk = git::history::walk(repo, sel, progress)?;
    let (presence, _) = Presence::open(repo)?;
    let mut opts = DiffOptions {
        store: None,
        presence: &presence,
        targets: None,
        order: true,
        threads,
    };
    let mut diffed = git::history::diff(repo, &walk, &opts, progress)?;
    let mut to_read = std::mem::take(&mut diffed.order);
    let listed = to_read.len();
    to_read.retain(|id| !inc.skips(id));
    let skipped = (listed - to_read.len()) as u64;
    let started = std::time::Instant::now();
    let with_keys = Mutex::new(Vec::new());
    let clean = Mutex::new(Vec::new());
    let not_read = AtomicU64::new(0);
    let visitor = KeyFinder {
        engine,
        scanner: None,
        with_keys: &with_keys,
        inc,
        clean: inc.skip.map(|_| &clean),
        skipped: &not_read,
    };
    let bytes = scan_blobs(repo, &to_read, threads, visitor, progress)?;
    let targets: HashSet<ObjectId> = with_keys
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .collect();
    tracing::debug!(
        "history: {} blobs, {bytes} bytes scanned, {} with keys, in {:?}",
        to_read.len(),
        targets.len(),
        started.elapsed()
    );
    if !targets.is_empty() {
        // The places of the few blobs with keys: the comparisons again, keeping them.
        opts.targets = Some(&targets);
        opts.order = false;
        let again = git::history::diff(repo, &walk, &opts, progress)?;
        diffed.kept = again.kept;
    }
    let (plan, missing) = git::history::name(repo, &walk, &mut diffed)?;
    let hits = classify(engine, repo, &plan)?;
    let totals = Totals {
        unique_blobs: to_read.len() as u64,
        bytes,
        introductions: Some(diffed.introductions),
        skipped,
        clean: clean.into_inner().unwrap_or_else(|e| e.into_inner()),
        missing,
        partial: presence.partial(),
        commits: walk.order.len() as u64,
    };
    attribute(engine, repo, &plan, hits, totals)
}

/// Scans each blob of the object database once (path-less: only whether it holds a key
/// matters here), then plans the reachable history in memory and classifies the blobs
/// with keys at every path they were introduced under. `None` when the pass or the walk
/// cannot be trusted (a damaged object, a repository changed under the scan).
fn scan_all(
    engine: &Engine,
    repo: &Repository,
    threads: usize,
    inc: Incremental<'_>,
    progress: &Progress,
) -> Result<Option<HistoryScan>> {
    let started = std::time::Instant::now();
    let with_keys = Mutex::new(Vec::new());
    let clean = Mutex::new(Vec::new());
    let not_read = AtomicU64::new(0);
    let visitor = KeyFinder {
        engine,
        scanner: None,
        with_keys: &with_keys,
        inc,
        clean: inc.skip.map(|_| &clean),
        skipped: &not_read,
    };
    // Refs first: whatever they reach is then in the database the pass lists.
    let tips = git::history::all_tips(repo)?;
    let Some(pass) = git::objects::read_all(repo, threads, visitor, progress)? else {
        return Ok(None);
    };
    let targets: HashSet<ObjectId> = with_keys
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .collect();
    tracing::debug!(
        "history: object database read, {} blobs ({} bytes), {} with keys, in {:?} (peak RSS {} KiB; now {})",
        pass.blobs,
        pass.blob_bytes,
        targets.len(),
        started.elapsed(),
        peak_rss_kib().unwrap_or(0),
        rss_now()
    );
    let git::objects::ObjectPass {
        commits,
        trees,
        blobs,
        blob_bytes,
        presence,
        links,
    } = pass;
    let Some(order) = git::history::walk_pass(&commits, tips) else {
        return Ok(None);
    };
    let walk = Walk { commits, order };
    // No key to attribute, and every blob the history can hold was read (the pass checked
    // what its trees name; here the commits' root trees): comparing the trees could change
    // nothing in the findings.
    let roots = || walk.order.iter().map(|s| walk.commits.tree(*s));
    tracing::debug!(
        "history: {} trees name objects the database lacks; {} links",
        links.flagged(),
        links.len()
    );
    if targets.is_empty() && roots().all(|t| presence.has(&t)) && !links.may_reach_absent(roots()) {
        tracing::debug!(
            "history: no key found, no blob missing ({} trees name absent objects, none reached): tree comparisons skipped; scan_all total {:?}",
            links.flagged(),
            started.elapsed()
        );
        let skipped = not_read.into_inner();
        let scanned = blobs.saturating_sub(skipped);
        return Ok(Some(HistoryScan {
            result: WalkResult {
                files: scanned,
                bytes: blob_bytes,
                ..WalkResult::default()
            },
            commits: walk.order.len() as u64,
            unique_blobs: scanned,
            introductions: None,
            skipped,
            missing: 0,
            clean: clean.into_inner().unwrap_or_else(|e| e.into_inner()),
        }));
    }
    drop(links);
    let opts = DiffOptions {
        store: Some(&trees),
        presence: &presence,
        targets: Some(&targets),
        order: false,
        threads,
    };
    let mut diffed = git::history::diff(repo, &walk, &opts, progress)?;
    drop(trees);
    let skipped = match inc.skip {
        Some(skip) => diffed.unique.iter().filter(|id| skip.contains(*id)).count() as u64,
        None => 0,
    };
    let (plan, missing) = git::history::name(repo, &walk, &mut diffed)?;
    let hits = classify(engine, repo, &plan)?;
    let totals = Totals {
        unique_blobs: (diffed.unique.len() - missing.len()) as u64 - skipped,
        bytes: blob_bytes,
        introductions: Some(diffed.introductions),
        skipped,
        // Only what the history holds: a dangling blob is no use to the next skip set.
        clean: clean
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .into_iter()
            .filter(|id| diffed.unique.contains(id))
            .collect(),
        missing,
        partial: presence.partial(),
        commits: walk.order.len() as u64,
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

/// Scans each blob with keys under the first path it was introduced at.
fn classify(
    engine: &Engine,
    repo: &Repository,
    plan: &History,
) -> Result<Vec<(usize, FileOutcome)>> {
    let mut scanner = engine.file_scanner();
    let mut buf = Vec::new();
    let mut hits = Vec::with_capacity(plan.blobs.len());
    for (i, (id, intros)) in plan.blobs.iter().enumerate() {
        let path = intros.first().map_or("", |x| x.path.as_str());
        let data = git::read_blob(repo, id, &mut buf)?;
        let outcome = scanner.scan_bytes(path, data);
        hits.push((i, outcome));
    }
    Ok(hits)
}

/// A [`git::objects::BlobVisitor`] that notes which blobs hold a key (or a placeholder)
/// and, for an incremental caller, which are clean. Each worker gets its own scanner.
struct KeyFinder<'e> {
    engine: &'e Engine,
    scanner: Option<super::file::FileScanner<'e>>,
    with_keys: &'e Mutex<Vec<ObjectId>>,
    inc: Incremental<'e>,
    clean: Option<&'e Mutex<Vec<ObjectId>>>,
    /// Blobs not read because `inc` skips them.
    skipped: &'e AtomicU64,
}

impl Clone for KeyFinder<'_> {
    fn clone(&self) -> Self {
        KeyFinder {
            engine: self.engine,
            scanner: None,
            with_keys: self.with_keys,
            inc: self.inc,
            clean: self.clean,
            skipped: self.skipped,
        }
    }
}

impl git::objects::BlobVisitor for KeyFinder<'_> {
    fn blob(&mut self, id: &gix::oid, data: &[u8]) {
        if self.inc.skips(id) {
            self.skipped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let engine = self.engine;
        let scanner = self.scanner.get_or_insert_with(|| engine.file_scanner());
        let o = scanner.scan_bytes("", data);
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

/// Counts for the summary, the clean blobs for an incremental caller, and what could not
/// be read.
struct Totals {
    commits: u64,
    unique_blobs: u64,
    bytes: u64,
    introductions: Option<u64>,
    skipped: u64,
    clean: Vec<ObjectId>,
    missing: Vec<Missing>,
    /// The repository is a partial clone (says why blobs are missing).
    partial: bool,
}

/// Missing blobs named one by one in the summary; the rest are counted.
const NAMED_MISSING: usize = 100;

/// The summary's entries for blobs the history holds and the database does not.
fn missing_entries(missing: &[Missing], partial: bool) -> Vec<Skipped> {
    let why = if partial {
        "this is a partial clone (`git clone --filter`, or a mirror with promisor packs): \
         blobs it never fetched cannot be scanned, so the history is not known to be clean; \
         scan a full clone (without --filter; in CI, no `filter:` on actions/checkout), or \
         fetch every blob first (`git config --unset remote.origin.partialclonefilter && \
         git fetch --refetch origin`)"
    } else {
        "the repository is damaged or objects were deleted (run `git fsck`); a blob that \
         cannot be read cannot be said to be clean"
    };
    let mut out: Vec<Skipped> = missing
        .iter()
        .take(NAMED_MISSING)
        .map(|m| Skipped {
            path: m.path.clone(),
            reason: format!(
                "blob {} (introduced in commit {}) is not in the object database: {why}",
                m.id,
                &m.commit.to_string()[..12]
            ),
            error: true,
        })
        .collect();
    if missing.len() > NAMED_MISSING {
        out.push(Skipped {
            path: format!("({} more missing blobs)", missing.len() - NAMED_MISSING),
            reason: format!("not in the object database: {why}"),
            error: true,
        });
    }
    out
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
                    scanner.scan_bytes(path, data)
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
                    let o = scanner.scan_bytes(&f.path, data);
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
    if !totals.missing.is_empty() {
        tracing::warn!(
            "history: {} blob(s) the history holds are not in the object database",
            totals.missing.len()
        );
    }
    result
        .skipped
        .extend(missing_entries(&totals.missing, totals.partial));
    Ok(HistoryScan {
        commits: totals.commits,
        missing: totals.missing.len() as u64,
        unique_blobs: totals.unique_blobs,
        introductions: totals.introductions,
        skipped: totals.skipped,
        clean: totals.clean,
        result,
    })
}

/// Blobs a worker takes at a time.
const RUN: usize = 256;

/// Reads every blob of `ids` once, on `threads` workers, handing each to a clone of
/// `visitor`; returns the bytes read.
fn scan_blobs<V: BlobVisitor>(
    repo: &Repository,
    ids: &[ObjectId],
    threads: usize,
    visitor: V,
    progress: &Progress,
) -> Result<u64> {
    let threads = git::workers(threads)
        .clamp(1, 16)
        .min(ids.len().div_ceil(RUN).max(1));
    progress.start(Phase::Blobs, ids.len() as u64);
    // gix without its `parallel` feature has thread-local handles: each worker opens its own.
    let git_dir = repo.git_dir().to_path_buf();
    let next = AtomicUsize::new(0);
    let bytes = AtomicU64::new(0);
    let error = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..threads {
            let mut visitor = visitor.clone();
            let (git_dir, next, bytes, error) = (&git_dir, &next, &bytes, &error);
            s.spawn(move || {
                let repo = match git::open_worker(git_dir) {
                    Ok(r) => r,
                    Err(e) => {
                        if let Ok(mut slot) = error.lock() {
                            slot.get_or_insert(e);
                        }
                        return;
                    }
                };
                let mut buf = Vec::new();
                // Contiguous runs of blobs per worker: versions of a file that are deltas
                // of each other then share the worker's pack cache.
                loop {
                    let lo = next.fetch_add(RUN, Ordering::Relaxed);
                    let Some(run) = ids.get(lo..(lo + RUN).min(ids.len())) else {
                        break;
                    };
                    if run.is_empty() {
                        break;
                    }
                    for id in run {
                        match git::read_blob(&repo, id, &mut buf) {
                            Ok(data) => {
                                bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
                                visitor.blob(id, data);
                                progress.add(1);
                            }
                            Err(e) => {
                                if let Ok(mut slot) = error.lock() {
                                    slot.get_or_insert(e);
                                }
                                next.store(ids.len(), Ordering::Relaxed);
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = error.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(e);
    }
    Ok(bytes.into_inner())
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
