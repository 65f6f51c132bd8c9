//! `keywarden scan` (tree, staged and history sources): [`ScanSettings`].
//!
//! Precedence, highest first:
//! 1. command-line flags;
//! 2. environment variables (`KEYWARDEN_FORMAT`, `KEYWARDEN_FAIL_ON`, `KEYWARDEN_CONFIG`,
//!    read by clap as flag fallbacks);
//! 3. the repository config (`.keywarden.toml`, `[scan]` section), found at the top of
//!    the git work tree;
//! 4. built-in defaults (text format, fail on low, no size limit, archives opened).

use super::color_enabled;
use crate::cli::{ColorChoice, ScanArgs};
use crate::config::{self, RepoConfig};
use crate::error::Result;
use crate::finding::Severity;
use crate::git::history::Selection;
use crate::report::Format;
use crate::scan::ScanOptions;
use std::io::IsTerminal;
use std::path::PathBuf;

/// Which git source a scan reads, when it reads one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitSource {
    /// `--staged`: the index against HEAD (`whole_files`: every line, not just added ones).
    Staged {
        /// `--whole-files`.
        whole_files: bool,
    },
    /// `--history`, `--since REV`, `--range A..B`.
    History(Selection),
}

/// The git source `args` ask for (`None`: a tree scan).
fn git_source(args: &ScanArgs) -> Result<Option<GitSource>> {
    Ok(if args.staged {
        Some(GitSource::Staged {
            whole_files: args.whole_files,
        })
    } else {
        match (&args.since, &args.range, args.history) {
            (_, Some(r), _) => Some(GitSource::History(Selection::range(r)?)),
            (Some(rev), None, _) => Some(GitSource::History(Selection::Since(rev.clone()))),
            (None, None, true) => Some(GitSource::History(Selection::All)),
            (None, None, false) => None,
        }
    })
}

/// Everything `keywarden scan` needs, resolved.
#[derive(Debug)]
pub struct ScanSettings {
    /// The git source, or `None` for the tree (or stdin) in `options`.
    pub git: Option<GitSource>,
    /// Walk options.
    pub options: ScanOptions,
    /// Output format.
    pub format: Format,
    /// Report file, or stdout.
    pub output: Option<PathBuf>,
    /// Lowest failing severity.
    pub fail_on: Severity,
    /// Extra rules files.
    pub rules: Vec<PathBuf>,
    /// Worker threads (0: one per core).
    pub threads: usize,
    /// The repository config (empty when none).
    pub repo: RepoConfig,
    /// Colors in text output.
    pub color: bool,
    /// List placeholders.
    pub show_placeholders: bool,
    /// List suppressed findings in text.
    pub show_suppressed: bool,
    /// Show a progress bar on stderr.
    pub progress: bool,
    /// `--quiet`: nothing but errors on stderr.
    pub quiet: bool,
}

/// Where `keywarden scan PATH…` looks for `.keywarden.toml`: at the top of the git work
/// tree holding the first path (as `--staged` and `--history` do), so `scan src` reads the
/// repository's config; outside git, in the first scanned directory (or the current one).
pub fn default_config(paths: &[PathBuf]) -> PathBuf {
    let first = paths
        .first()
        .filter(|p| p.as_os_str() != "-")
        .cloned()
        .unwrap_or_else(|| PathBuf::from("."));
    let dir = if first.is_dir() {
        first
    } else {
        first
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), PathBuf::from)
    };
    let top = crate::git::open(&dir)
        .ok()
        .and_then(|r| r.workdir().map(std::path::Path::to_path_buf));
    match top {
        Some(top) => top.join(config::FILE_NAME),
        None => dir.join(config::FILE_NAME),
    }
}

impl ScanSettings {
    /// Resolves `args` against the repository config and defaults.
    pub fn resolve(args: &ScanArgs, color: ColorChoice, quiet: bool) -> Result<ScanSettings> {
        let mut options = ScanOptions::new(args.paths.clone());
        let repo = if args.no_config {
            RepoConfig::default()
        } else if let Some(path) = &args.config {
            RepoConfig::load(path, false)?
        } else if git_source(args)?.is_some() {
            // The repository's config is at its top, wherever the command runs from.
            let cwd = std::env::current_dir().map_err(|e| crate::Error::io(".", e))?;
            let root = crate::git::workdir(&crate::git::open(&cwd)?);
            RepoConfig::load(&root.join(config::FILE_NAME), true)?
        } else {
            RepoConfig::load(&default_config(options.paths()), true)?
        };
        let mut exclude = repo.scan.exclude.clone();
        exclude.extend(args.exclude.iter().cloned());
        options
            .ignore_files(!args.no_ignore)
            .hidden(!args.no_hidden)
            .follow(args.follow)
            .threads(args.threads.unwrap_or(0))
            .max_filesize(args.max_filesize.or(repo.scan.max_filesize))
            .archives(!args.no_archives && repo.scan.archives.unwrap_or(true))
            .mmap(!args.no_mmap)
            .exclude(exclude);
        if let Some(globs) = &repo.scan.local_secret_files {
            options.local_secret_files(globs.clone());
        }
        if let Some(name) = &args.stdin_path {
            options.stdin_path(name.clone());
        }
        Ok(ScanSettings {
            git: git_source(args)?,
            options,
            format: args.format.unwrap_or(Format::Text),
            fail_on: args.fail_on.or(repo.scan.fail_on).unwrap_or(Severity::Low),
            color: color_enabled(color, args.output.is_some()),
            output: args.output.clone(),
            rules: args.rules.clone(),
            threads: args.threads.unwrap_or(0),
            repo,
            show_placeholders: args.show_placeholders,
            show_suppressed: args.show_suppressed,
            progress: !quiet && std::io::stderr().is_terminal(),
            quiet,
        })
    }
}
