//! One scan, whatever its source: a directory tree, the staged changes, a history
//! selection, or the incremental history of a daemon's repositories. The command and the
//! daemon both come through [`scan`].

use super::history::{self as tracked, Tracked};
use crate::baseline::Baseline;
use crate::config::{AllowEntry, RepoConfig};
use crate::error::Result;
use crate::git::{self, Repository, history::Selection, progress::Progress};
use crate::rules::{self, Source as RulesSource};
use crate::scan::{self, Engine, ScanOptions, ScanReport, WalkResult};
use chrono::NaiveDate;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Builds the rule engine: built-ins, then the repository config's rules, then `extra`
/// rules files (`--rules`).
pub fn engine(repo: &RepoConfig, extra: &[PathBuf]) -> Result<Engine> {
    let mut sources = Vec::new();
    if let Some(src) = &repo.rules {
        sources.push(RulesSource::parse(&src.origin, &src.text)?);
    }
    for path in extra {
        sources.push(RulesSource::read(path)?);
    }
    Engine::new(rules::load(sources)?)
}

/// Where the bytes come from.
pub enum Source<'a> {
    /// A directory tree (or stdin); `on_file` sees each file's size (for progress).
    Tree {
        /// What to walk.
        options: &'a ScanOptions,
        /// Called once per file scanned with the bytes scanned so far.
        on_file: &'a (dyn Fn(u64) + Sync),
    },
    /// The changes staged in `repo`'s index (only added lines unless `whole_files`).
    Staged {
        /// The repository.
        repo: &'a Repository,
        /// Scan whole staged files, not just their added lines.
        whole_files: bool,
    },
    /// The commits `selection` picks in `repo`.
    History {
        /// The repository.
        repo: &'a Repository,
        /// All refs, `--since REV` or `--range A..B`.
        selection: &'a Selection,
        /// Worker threads (0: one per core).
        threads: usize,
        /// Progress counters (the caller draws them).
        progress: &'a Progress,
    },
    /// The whole history of `repos`, skipping blobs that an earlier run of `job` found
    /// clean ([`super::history`]); the daemon's history targets.
    Incremental(Tracked<'a>),
}

/// What decides a finding's fate once found.
#[derive(Debug, Default)]
pub struct Policy<'a> {
    /// `[[allow]]` entries.
    pub allow: &'a [AllowEntry],
    /// `--baseline FILE`: findings it records are reported as suppressed.
    pub baseline: Option<&'a Path>,
    /// The day allowlist expiries are judged against (default: today, local time).
    pub today: Option<NaiveDate>,
}

/// Scans `source` with `engine` and judges what it found by `policy`.
pub fn scan(engine: &Engine, source: Source<'_>, policy: &Policy<'_>) -> Result<ScanReport> {
    let started = Instant::now();
    let (mut walked, git_stats): (WalkResult, Option<serde_json::Value>) = match source {
        Source::Tree { options, on_file } => (scan::walk::scan(engine, options, on_file)?, None),
        Source::Staged { repo, whole_files } => {
            let s = scan::staged::scan(engine, repo, whole_files)?;
            let stats = serde_json::json!({
                "staged_files": s.result.files,
                "index_entries": s.entries,
                "renamed_unchanged": s.renamed,
                "first_commit": s.first_commit,
            });
            (s.result, Some(stats))
        }
        Source::History {
            repo,
            selection,
            threads,
            progress,
        } => {
            let h = scan::history::scan(
                engine,
                repo,
                selection,
                threads,
                scan::history::Incremental::default(),
                progress,
            )?;
            let stats = h.stats(selection);
            (h.result, Some(stats))
        }
        Source::Incremental(t) => {
            let run = tracked::scan(engine, t)?;
            let stats = run.stats();
            (run.result, Some(stats))
        }
    };
    if let Some(path) = policy.baseline {
        Baseline::load(path)?.apply(&mut walked.findings);
    }
    let today = policy
        .today
        .unwrap_or_else(|| chrono::Local::now().date_naive());
    let mut report = scan::outcome::finish(
        &engine.db,
        walked,
        policy.allow,
        today,
        started.elapsed().as_millis() as u64,
    );
    report.summary.git = git_stats;
    Ok(report)
}

/// Opens the git repository holding the current directory (for the git sources).
pub fn current_repo() -> Result<Repository> {
    let cwd = std::env::current_dir().map_err(|e| crate::Error::io(".", e))?;
    git::open(&cwd)
}
