//! Walks directory trees in parallel with the `ignore` crate (the walker behind ripgrep)
//! and scans every file, and the entries of every archive; also scans stdin.

use super::archive::{self, ArchiveLimits, ArchiveOutput, Place};
use super::image::Layouts;
use super::{Engine, PlaceholderHit, Skipped};
use crate::finding::Finding;
use ignore::{WalkBuilder, WalkState};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

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
    archives: bool,
    archive_limits: ArchiveLimits,
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
            archives: true,
            archive_limits: ArchiveLimits::default(),
        }
    }

    /// Respect `.gitignore`, `.ignore` and git's exclude files. Enabled by default.
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

    /// Scan the entries of archives and container images (recognised by their first
    /// bytes) as well as their raw bytes. Enabled by default.
    pub fn archives(&mut self, yes: bool) -> &mut Self {
        self.archives = yes;
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
    for root in &roots {
        walk_root(engine, opts, root, &shared, on_file)?;
    }
    let mut out = shared.out.into_inner().unwrap_or_else(|e| e.into_inner());
    out.files = shared.files.load(Ordering::Relaxed);
    out.bytes = shared.bytes.load(Ordering::Relaxed);
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
        &mut out.findings,
        &mut out.placeholders,
    );
    Ok(())
}

fn walk_root(
    engine: &Engine,
    opts: &ScanOptions,
    root: &Path,
    shared: &Shared,
    on_file: &(dyn Fn(u64) + Sync),
) -> crate::Result<()> {
    let base = context_base(root);
    let abs_root = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
    let root_rel = abs_root
        .strip_prefix(&base)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut wb = WalkBuilder::new(root);
    wb.hidden(!opts.hidden)
        .ignore(opts.ignore_files)
        .git_ignore(opts.ignore_files)
        .git_global(opts.ignore_files)
        .git_exclude(opts.ignore_files)
        .parents(opts.ignore_files)
        .follow_links(opts.follow)
        .threads(opts.threads)
        .filter_entry(|e| !(e.file_name() == ".git" && e.file_type().is_some_and(|t| t.is_dir())));
    if !opts.exclude.is_empty() {
        let mut ob = ignore::overrides::OverrideBuilder::new(root);
        for g in &opts.exclude {
            ob.add(&format!("!{g}"))
                .map_err(|e| crate::Error::Usage(format!("exclude glob {g:?} is invalid: {e}")))?;
        }
        let ov = ob
            .build()
            .map_err(|e| crate::Error::Usage(format!("exclude globs are invalid: {e}")))?;
        wb.overrides(ov);
    }
    let max = opts.max_filesize;
    wb.build_parallel().run(|| {
        let mut scanner = engine.file_scanner();
        let mut findings = Vec::new();
        let mut placeholders = Vec::new();
        let root_rel = &root_rel;
        Box::new(move |entry| {
            let entry = match entry {
                Ok(e) => e,
                Err(err) => {
                    let path = err_path(&err)
                        .map_or_else(|| root.display().to_string(), |p| display_path(&p));
                    shared.skip(path, err.to_string(), true);
                    return WalkState::Continue;
                }
            };
            let Some(ft) = entry.file_type() else {
                return WalkState::Continue;
            };
            if ft.is_dir() {
                return WalkState::Continue;
            }
            let path = entry.path();
            if ft.is_symlink() {
                shared.skip(
                    display_path(path),
                    "symbolic link, not followed (use --follow)".into(),
                    false,
                );
                return WalkState::Continue;
            }
            if !ft.is_file() {
                shared.skip(display_path(path), "not a regular file".into(), false);
                return WalkState::Continue;
            }
            let file = match std::fs::File::open(path) {
                Ok(f) => f,
                Err(e) => {
                    shared.skip(display_path(path), format!("unreadable: {e}"), true);
                    return WalkState::Continue;
                }
            };
            let len = max.map(|_| file.metadata().map_or(0, |m| m.len()));
            if let (Some(max), Some(len)) = (max, len)
                && len > max
            {
                let reason = format!("larger than --max-filesize ({len} > {max} bytes)");
                shared.skip(display_path(path), reason, false);
                return WalkState::Continue;
            }
            let ctx = context_path(root, root_rel, path);
            match scanner.scan(&ctx, &mut &file) {
                Ok(outcome) => {
                    shared.files.fetch_add(1, Ordering::Relaxed);
                    let n = shared.bytes.fetch_add(outcome.bytes, Ordering::Relaxed);
                    on_file(n + outcome.bytes);
                    if let Some(kind) = outcome.archive.filter(|_| opts.archives) {
                        let place = archive_place(&shared.layouts, root, root_rel, path, &ctx);
                        let limits = &opts.archive_limits;
                        let mut a =
                            archive::scan_file(engine, &mut scanner, limits, kind, &file, &place);
                        engine.findings(
                            &display_path(path),
                            outcome,
                            &mut findings,
                            &mut placeholders,
                        );
                        a.merge_raw(
                            std::mem::take(&mut findings),
                            std::mem::take(&mut placeholders),
                        );
                        shared.add_archive(a);
                    } else if !outcome.hits.is_empty() {
                        engine.findings(
                            &display_path(path),
                            outcome,
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
            WalkState::Continue
        })
    });
    Ok(())
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
