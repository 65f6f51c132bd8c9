//! Walks directory trees in parallel with the `ignore` crate (the walker behind ripgrep)
//! and scans every file, and the entries of every archive; also scans stdin.

use super::archive::{self, ArchiveLimits, ArchiveOutput, Place};
use super::exposure::{Coverage, GitView, is_dependency_dir, local_secret_globs};
use super::image::Layouts;
use super::{Engine, FileScanner, PlaceholderHit, Skipped};
use crate::finding::{Exposure, Finding};
use globset::GlobSet;
use ignore::overrides::Override;
use ignore::{WalkBuilder, WalkState};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// What to scan and how. Build with [`ScanOptions::new`] and the setters.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    paths: Vec<PathBuf>,
    ignore_files: bool,
    hidden: bool,
    follow: bool,
    threads: usize,
    max_filesize: Option<u64>,
    exclude: Vec<String>,
    stdin_path: String,
    local_secret_files: Vec<String>,
    archives: bool,
    archive_limits: ArchiveLimits,
    mmap: bool,
}

impl ScanOptions {
    /// Scan `paths` (`-` is stdin). With none, the current directory.
    pub fn new(paths: Vec<PathBuf>) -> Self {
        let paths = if paths.is_empty() {
            vec![PathBuf::from(".")]
        } else {
            paths
        };
        ScanOptions {
            paths,
            ignore_files: true,
            hidden: true,
            follow: false,
            threads: 0,
            max_filesize: None,
            exclude: Vec::new(),
            stdin_path: "<stdin>".into(),
            local_secret_files: super::exposure::LOCAL_SECRET_FILES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            archives: true,
            archive_limits: ArchiveLimits::default(),
            mmap: true,
        }
    }

    /// Respect `.gitignore`, `.ignore` and git's exclude files. Enabled by default. Inside a
    /// git work tree, tracked files and ignored local secret files are scanned anyway.
    pub fn ignore_files(&mut self, yes: bool) -> &mut Self {
        self.ignore_files = yes;
        self
    }

    /// Scan hidden files and directories (`.env*`, `.github/`). Enabled by default;
    /// `.git/` is never scanned.
    pub fn hidden(&mut self, yes: bool) -> &mut Self {
        self.hidden = yes;
        self
    }

    /// Follow symbolic links (loops are reported, not fatal). Disabled by default: links
    /// are listed as skipped.
    pub fn follow(&mut self, yes: bool) -> &mut Self {
        self.follow = yes;
        self
    }

    /// Worker threads; 0 picks from the machine's cores. 0 by default.
    pub fn threads(&mut self, n: usize) -> &mut Self {
        self.threads = n;
        self
    }

    /// Skip (and list) files larger than this. No limit by default.
    pub fn max_filesize(&mut self, n: Option<u64>) -> &mut Self {
        self.max_filesize = n;
        self
    }

    /// Globs (relative to each scan root) not to scan. None by default.
    pub fn exclude(&mut self, globs: Vec<String>) -> &mut Self {
        self.exclude = globs;
        self
    }

    /// The name stdin's content is reported (and classified) under. `<stdin>` by default.
    pub fn stdin_path(&mut self, name: String) -> &mut Self {
        self.stdin_path = name;
        self
    }

    /// Globs on file names of local secret files (`.env*`, `*.tfvars`, …): ignored,
    /// untracked copies are scanned anyway. [`super::exposure::LOCAL_SECRET_FILES`] by
    /// default.
    pub fn local_secret_files(&mut self, globs: Vec<String>) -> &mut Self {
        self.local_secret_files = globs;
        self
    }

    /// Scan the entries of archives and container images (recognised by their first
    /// bytes) as well as their raw bytes. Enabled by default.
    pub fn archives(&mut self, yes: bool) -> &mut Self {
        self.archives = yes;
        self
    }

    /// Search big files memory-mapped ([`FileScanner::scan_file`]) rather than read.
    /// Enabled by default.
    pub fn mmap(&mut self, yes: bool) -> &mut Self {
        self.mmap = yes;
        self
    }

    /// Bounds on each archive. [`ArchiveLimits::default`] by default.
    pub fn archive_limits(&mut self, limits: ArchiveLimits) -> &mut Self {
        self.archive_limits = limits;
        self
    }

    /// The paths to scan.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }
}

/// Everything a walk found and counted.
#[derive(Debug, Default)]
pub struct WalkResult {
    /// Findings, unsorted.
    pub findings: Vec<Finding>,
    /// Placeholders, unsorted.
    pub placeholders: Vec<PlaceholderHit>,
    /// Files scanned.
    pub files: u64,
    /// Bytes scanned.
    pub bytes: u64,
    /// Files and directories not scanned, with why.
    pub skipped: Vec<Skipped>,
    /// What ignore rules kept out, and what was scanned in spite of them.
    pub coverage: Coverage,
}

#[derive(Default)]
struct Shared {
    out: Mutex<WalkResult>,
    files: AtomicU64,
    bytes: AtomicU64,
    layouts: Layouts,
}

impl Shared {
    fn skip(&self, path: String, reason: String, error: bool) {
        if error {
            tracing::warn!("{path}: {reason}");
        }
        if let Ok(mut o) = self.out.lock() {
            o.skipped.push(Skipped {
                path,
                reason,
                error,
            });
        }
    }

    /// Adds what an archive's scan found and counted.
    fn add_archive(&self, mut a: ArchiveOutput) {
        self.files.fetch_add(a.files, Ordering::Relaxed);
        self.bytes.fetch_add(a.bytes, Ordering::Relaxed);
        let mut o = self.out.lock().unwrap_or_else(|e| e.into_inner());
        o.findings.append(&mut a.findings);
        o.placeholders.append(&mut a.placeholders);
        o.skipped.append(&mut a.skipped);
    }
}

/// Where the archive `file` is reported: its own path, or, for a layer blob of an OCI
/// layout directory, `<layout>!layer n (sha256:…)`.
fn archive_place(layouts: &Layouts, root: &Path, root_rel: &Path, file: &Path, ctx: &str) -> Place {
    match layouts.layer(file) {
        Some((layout, label)) => Place {
            display: format!("{}!{label}", display_path(&layout)),
            repo: format!("{}!{label}", context_path(root, root_rel, &layout)),
        },
        None => Place {
            display: display_path(file),
            repo: ctx.to_string(),
        },
    }
}

/// `/`-separated display form of a path, without a leading `./`.
pub fn display_path(p: &Path) -> String {
    let s = p.to_string_lossy();
    let s = s.strip_prefix("./").unwrap_or(&s);
    if std::path::MAIN_SEPARATOR == '\\' {
        s.replace('\\', "/")
    } else {
        s.to_string()
    }
}

/// The directory context globs are matched from: the git work tree holding `root`, or
/// `root` itself (its parent for a file).
fn context_base(root: &Path) -> PathBuf {
    let abs = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
    let start = if abs.is_dir() {
        abs.clone()
    } else {
        abs.parent().map(Path::to_path_buf).unwrap_or_default()
    };
    start
        .ancestors()
        .find(|d| d.join(".git").exists())
        .map_or(start.clone(), Path::to_path_buf)
}

/// The context path of `file` (found under `root`): `root_rel` (the root relative to the
/// context base) joined with the file's path under the root. No system call.
fn context_path(root: &Path, root_rel: &Path, file: &Path) -> String {
    match file.strip_prefix(root) {
        Ok(rel) if rel.as_os_str().is_empty() => display_path(root_rel),
        Ok(rel) => display_path(&root_rel.join(rel)),
        Err(_) => display_path(file),
    }
}

/// Scans every path in `opts`, in parallel. `on_file` is called once per scanned file
/// (for a progress bar).
pub fn scan(
    engine: &Engine,
    opts: &ScanOptions,
    on_file: &(dyn Fn(u64) + Sync),
) -> crate::Result<WalkResult> {
    let shared = Shared::default();
    let mut roots = Vec::new();
    for p in &opts.paths {
        if p.as_os_str() == "-" {
            scan_stdin(engine, opts, &shared)?;
        } else if std::fs::symlink_metadata(p).is_err() {
            return Err(crate::Error::NoSuchPath(p.clone()));
        } else {
            roots.push(p.clone());
        }
    }
    let mut coverage = Coverage::default();
    for root in &roots {
        coverage.add(&walk_root(engine, opts, root, &shared, on_file)?);
    }
    let mut out = shared.out.into_inner().unwrap_or_else(|e| e.into_inner());
    out.files = shared.files.load(Ordering::Relaxed);
    out.bytes = shared.bytes.load(Ordering::Relaxed);
    out.coverage = coverage;
    Ok(out)
}

fn scan_stdin(engine: &Engine, opts: &ScanOptions, shared: &Shared) -> crate::Result<()> {
    let mut scanner = engine.file_scanner();
    let mut stdin = std::io::stdin().lock();
    let outcome = scanner
        .scan(&opts.stdin_path, &mut stdin)
        .map_err(|e| crate::Error::io("<stdin>", e))?;
    shared.files.fetch_add(1, Ordering::Relaxed);
    shared.bytes.fetch_add(outcome.bytes, Ordering::Relaxed);
    let mut out = shared.out.lock().unwrap_or_else(|e| e.into_inner());
    let out = &mut *out;
    engine.findings(
        &opts.stdin_path,
        outcome,
        Exposure::OutsideGit,
        &mut out.findings,
        &mut out.placeholders,
    );
    Ok(())
}

/// A walk's visitor: what each thread runs on the entries it is handed.
type Visitor<'s> = Box<dyn FnMut(Result<ignore::DirEntry, ignore::Error>) -> WalkState + Send + 's>;

/// Runs `wb`'s walk with a visitor per thread from `visitor`. On one thread (`-j1`) the
/// walk is the plain iterator, in this thread, as ripgrep's: no queue between threads.
fn run_walk<'s>(wb: &WalkBuilder, threads: usize, mut visitor: impl FnMut() -> Visitor<'s> + Send) {
    if threads != 1 {
        wb.build_parallel().run(visitor);
        return;
    }
    let mut visit = visitor();
    for entry in wb.build() {
        match visit(entry) {
            WalkState::Continue => {}
            WalkState::Quit => break,
            // The visitors leave skipping directories to the walker's own filters.
            WalkState::Skip => debug_assert!(false, "a visitor asked to skip"),
        }
    }
}

/// Everything a walk of one root shares between its threads.
struct Root<'a> {
    engine: &'a Engine,
    opts: &'a ScanOptions,
    root: &'a Path,
    /// The root relative to the context base (the git work tree's top).
    root_rel: PathBuf,
    git: Option<GitView>,
    /// Context paths of every entry the ignore-aware walk yielded (in a work tree only).
    seen: Option<Arc<Mutex<HashSet<String>>>>,
    /// Directories whose ignore files are FIFOs or devices, with why: not entered.
    hostile: Arc<Mutex<Vec<(PathBuf, String)>>>,
    shared: &'a Shared,
    on_file: &'a (dyn Fn(u64) + Sync),
}

impl Root<'_> {
    fn ctx(&self, path: &Path) -> String {
        context_path(self.root, &self.root_rel, path)
    }

    /// Scans the regular file at `path` and keeps what it found.
    fn scan_file(&self, scanner: &mut FileScanner<'_>, path: &Path, ctx: &str, exposure: Exposure) {
        let shared = self.shared;
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) => {
                shared.skip(display_path(path), format!("unreadable: {e}"), true);
                return;
            }
        };
        if let Some(max) = self.opts.max_filesize {
            let len = file.metadata().map_or(0, |m| m.len());
            if len > max {
                let reason = format!("larger than --max-filesize ({len} > {max} bytes)");
                shared.skip(display_path(path), reason, false);
                return;
            }
        }
        match scanner.scan_file(ctx, &file, self.opts.mmap) {
            Ok(outcome) => {
                shared.files.fetch_add(1, Ordering::Relaxed);
                let n = shared.bytes.fetch_add(outcome.bytes, Ordering::Relaxed);
                (self.on_file)(n + outcome.bytes);
                let (mut findings, mut placeholders) = (Vec::new(), Vec::new());
                if let Some(kind) = outcome.archive.filter(|_| self.opts.archives) {
                    let place =
                        archive_place(&shared.layouts, self.root, &self.root_rel, path, ctx);
                    let limits = &self.opts.archive_limits;
                    let mut a = archive::scan_file(
                        self.engine,
                        scanner,
                        limits,
                        kind,
                        (&file, exposure),
                        &place,
                    );
                    let display = display_path(path);
                    self.engine.findings(
                        &display,
                        outcome,
                        exposure,
                        &mut findings,
                        &mut placeholders,
                    );
                    a.merge_raw(findings, placeholders);
                    shared.add_archive(a);
                } else if !outcome.hits.is_empty() || self.engine.path_has_key(ctx) {
                    self.engine.findings(
                        &display_path(path),
                        outcome,
                        exposure,
                        &mut findings,
                        &mut placeholders,
                    );
                    let mut o = shared.out.lock().unwrap_or_else(|e| e.into_inner());
                    o.findings.append(&mut findings);
                    o.placeholders.append(&mut placeholders);
                }
            }
            Err(e) => shared.skip(display_path(path), format!("unreadable: {e}"), true),
        }
    }

    /// The ignore-aware walk: what the user asked for.
    fn walk(&self, overrides: Option<&Override>) {
        let opts = self.opts;
        let mut wb = WalkBuilder::new(self.root);
        wb.hidden(!opts.hidden)
            .ignore(opts.ignore_files)
            .git_ignore(opts.ignore_files)
            .git_global(opts.ignore_files)
            .git_exclude(opts.ignore_files)
            .parents(opts.ignore_files)
            .follow_links(opts.follow)
            .threads(opts.threads)
            .filter_entry({
                // The walker reads the ignore files of every directory it enters: one that
                // is a FIFO or a device would hang it or fill memory.
                let guard = opts.ignore_files;
                let hostile = self.hostile.clone();
                move |e| {
                    let dir = e.file_type().is_some_and(|t| t.is_dir());
                    if dir && e.file_name() == ".git" {
                        return false;
                    }
                    if guard
                        && dir
                        && let Some(bad) = crate::bounded::hostile_dir_file(e.path())
                    {
                        lock(&hostile).push(bad);
                        return false;
                    }
                    true
                }
            });
        if let Some(ov) = overrides {
            wb.overrides(ov.clone());
        }
        run_walk(&wb, self.opts.threads, || {
            let mut scanner = self.engine.file_scanner();
            Box::new(move |entry| {
                let entry = match entry {
                    Ok(e) => e,
                    Err(err) => {
                        let path = err_path(&err)
                            .map_or_else(|| self.root.display().to_string(), |p| display_path(&p));
                        self.shared.skip(path, err.to_string(), true);
                        return WalkState::Continue;
                    }
                };
                let Some(ft) = entry.file_type() else {
                    return WalkState::Continue;
                };
                let path = entry.path();
                let ctx = self.ctx(path);
                if ft.is_dir() {
                    self.mark_seen(ctx);
                    return WalkState::Continue;
                }
                if ft.is_symlink() {
                    self.shared.skip(
                        display_path(path),
                        "symbolic link, not followed (use --follow)".into(),
                        false,
                    );
                } else if !ft.is_file() {
                    self.shared
                        .skip(display_path(path), "not a regular file".into(), false);
                } else {
                    let exposure = self
                        .git
                        .as_ref()
                        .map_or(Exposure::OutsideGit, |g| g.exposure(&ctx));
                    self.scan_file(&mut scanner, path, &ctx, exposure);
                }
                self.mark_seen(ctx);
                WalkState::Continue
            })
        });
    }

    fn mark_seen(&self, ctx: String) {
        if let Some(seen) = &self.seen {
            lock(seen).insert(ctx);
        }
    }

    fn was_seen(&self, ctx: &str) -> bool {
        self.seen.as_ref().is_some_and(|s| lock(s).contains(ctx))
    }

    /// Tracked files the walk did not yield (ignore rules hid them): scanned, unless the
    /// user's own filters (`--exclude`, `--no-hidden`) leave them out.
    fn tracked_leftovers(&self, overrides: Option<&Override>, coverage: &mut Coverage) {
        let Some(git) = &self.git else { return };
        let base = self.root_rel_str();
        let mut missed: Vec<String> = git
            .tracked_under(&base)
            .map(crate::git::path_str)
            .filter(|p| !self.was_seen(p))
            .collect();
        missed.sort();
        let mut scanner = self.engine.file_scanner();
        for ctx in missed {
            let rel = match ctx.strip_prefix(base.as_str()) {
                Some(r) if !base.is_empty() => PathBuf::from(r.trim_start_matches('/')),
                _ => PathBuf::from(&ctx),
            };
            if self.filtered_out(&rel, overrides) {
                continue;
            }
            let path = self.root.join(&rel);
            match std::fs::symlink_metadata(&path) {
                Ok(m) if m.is_file() => {
                    coverage.tracked_ignored_scanned += 1;
                    self.scan_file(&mut scanner, &path, &ctx, Exposure::Tracked);
                }
                Ok(m) if m.file_type().is_symlink() => self.shared.skip(
                    display_path(&path),
                    "symbolic link, not followed (use --follow)".into(),
                    false,
                ),
                // Deleted from the work tree, or a sparse checkout: nothing on disk.
                _ => {}
            }
        }
    }

    /// Ignored, untracked files: local secret files are scanned, the rest counted.
    fn ignored_pass(
        &self,
        overrides: Option<&Override>,
        secrets: &GlobSet,
        coverage: &mut Coverage,
    ) {
        let counts = Mutex::new(Coverage::default());
        let dirs = Arc::new(AtomicU64::new(0));
        let mut wb = WalkBuilder::new(self.root);
        wb.standard_filters(false)
            .hidden(!self.opts.hidden)
            .follow_links(false)
            .threads(self.opts.threads);
        if let Some(ov) = overrides {
            wb.overrides(ov.clone());
        }
        // The filter must own what it reads: it outlives this call's borrows.
        let (seen, root, root_rel, dirs_in) = (
            self.seen.clone(),
            self.root.to_path_buf(),
            self.root_rel.clone(),
            dirs.clone(),
        );
        wb.filter_entry(move |e| {
            if !e.file_type().is_some_and(|t| t.is_dir()) {
                return true;
            }
            if e.file_name() == ".git" {
                return false;
            }
            if e.depth() > 0 && is_dependency_dir(e.file_name()) {
                let ctx = context_path(&root, &root_rel, e.path());
                if !seen.as_ref().is_some_and(|s| lock(s).contains(&ctx)) {
                    dirs_in.fetch_add(1, Ordering::Relaxed);
                }
                return false;
            }
            true
        });
        let counts_ref = &counts;
        run_walk(&wb, self.opts.threads, || {
            let mut scanner = self.engine.file_scanner();
            Box::new(move |entry| {
                let Ok(entry) = entry else {
                    return WalkState::Continue;
                };
                if !entry.file_type().is_some_and(|t| t.is_file()) {
                    return WalkState::Continue;
                }
                let path = entry.path();
                let ctx = self.ctx(path);
                if self.was_seen(&ctx) || self.git.as_ref().is_some_and(|g| g.is_tracked(&ctx)) {
                    return WalkState::Continue;
                }
                let secret = secrets.is_match(&ctx);
                {
                    let mut c = counts_ref.lock().unwrap_or_else(|e| e.into_inner());
                    if secret {
                        c.ignored_secret_files_scanned += 1;
                    } else {
                        c.ignored_files_not_scanned += 1;
                    }
                }
                if secret {
                    self.scan_file(&mut scanner, path, &ctx, Exposure::Ignored);
                }
                WalkState::Continue
            })
        });
        let mut counts = counts.into_inner().unwrap_or_else(|e| e.into_inner());
        counts.ignored_dirs_not_scanned = dirs.load(Ordering::Relaxed);
        coverage.add(&counts);
    }

    /// Would `--exclude` or `--no-hidden` leave out `rel` (relative to the root)?
    fn filtered_out(&self, rel: &Path, overrides: Option<&Override>) -> bool {
        if !self.opts.hidden
            && rel
                .components()
                .any(|c| c.as_os_str().to_str().is_some_and(|s| s.starts_with('.')))
        {
            return true;
        }
        let Some(ov) = overrides else { return false };
        let mut dir = rel.parent();
        while let Some(d) = dir.filter(|d| !d.as_os_str().is_empty()) {
            if ov.matched(d, true).is_ignore() {
                return true;
            }
            dir = d.parent();
        }
        ov.matched(rel, false).is_ignore()
    }

    fn root_rel_str(&self) -> String {
        let s = display_path(&self.root_rel);
        if s == "." { String::new() } else { s }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn exclude_overrides(opts: &ScanOptions, root: &Path) -> crate::Result<Option<Override>> {
    if opts.exclude.is_empty() {
        return Ok(None);
    }
    let mut ob = ignore::overrides::OverrideBuilder::new(root);
    for g in &opts.exclude {
        ob.add(&format!("!{g}"))
            .map_err(|e| crate::Error::Usage(format!("exclude glob {g:?} is invalid: {e}")))?;
    }
    let ov = ob
        .build()
        .map_err(|e| crate::Error::Usage(format!("exclude globs are invalid: {e}")))?;
    Ok(Some(ov))
}

fn walk_root(
    engine: &Engine,
    opts: &ScanOptions,
    root: &Path,
    shared: &Shared,
    on_file: &(dyn Fn(u64) + Sync),
) -> crate::Result<Coverage> {
    let base = context_base(root);
    let abs_root = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
    let root_rel = abs_root
        .strip_prefix(&base)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    // Ignore files in the root's ancestors are read too: none may be a FIFO or a device.
    if opts.ignore_files {
        let dir = if abs_root.is_dir() {
            Some(abs_root.as_path())
        } else {
            abs_root.parent()
        };
        for d in dir.into_iter().flat_map(Path::ancestors) {
            if let Some((path, why)) = crate::bounded::hostile_dir_file(d) {
                return Err(crate::Error::io(&path, std::io::Error::other(why)));
            }
        }
    }
    let overrides = exclude_overrides(opts, root)?;
    let secrets = local_secret_globs(&opts.local_secret_files)?;
    let git = GitView::open(&base);
    // Only a walk that applies ignore rules can leave tracked or secret files out.
    let track = git.is_some() && opts.ignore_files;
    let r = Root {
        engine,
        opts,
        root,
        root_rel,
        git,
        seen: track.then(|| Arc::new(Mutex::new(HashSet::new()))),
        hostile: Arc::new(Mutex::new(Vec::new())),
        shared,
        on_file,
    };
    r.walk(overrides.as_ref());
    for (path, why) in std::mem::take(&mut *lock(&r.hostile)) {
        let reason = format!("{why}; the directory was not scanned");
        shared.skip(display_path(&path), reason, true);
    }
    let mut coverage = Coverage::default();
    if track && abs_root.is_dir() {
        r.tracked_leftovers(overrides.as_ref(), &mut coverage);
        r.ignored_pass(overrides.as_ref(), &secrets, &mut coverage);
    }
    Ok(coverage)
}

fn err_path(err: &ignore::Error) -> Option<PathBuf> {
    match err {
        ignore::Error::WithPath { path, .. } => Some(path.clone()),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            err_path(err)
        }
        ignore::Error::Loop { child, .. } => Some(child.clone()),
        _ => None,
    }
}
