//! One repository of a fleet: mirror it, then scan what is new in its history.
//!
//! Incremental in two ways. Within a repository, the blobs an earlier run found clean are
//! skipped (the store's clean blobs, as for local history targets, see
//! [`crate::daemon::history`]). Across a pass, each repository has a watermark: a digest
//! of its refs (names and ids) and of the rules, recorded once its findings are published
//! ([`record`]). A repository whose refs and rules match its watermark is not read at
//! all, so a pass interrupted halfway (a restart, a SIGKILL) resumes where it stopped:
//! the repositories already done cost one `git fetch` each.
//!
//! Each repository is its own state source, `scan:<target>/<repository>`: its findings
//! open and resolve on their own, and an unchanged repository keeps its open findings
//! without being read.

use super::Repo;
use super::mirror::{GitAuth, Mirrored, mirror};
use crate::error::{Error, Result};
use crate::git::{self, history::Selection};
use crate::scan::{self, Engine, WalkResult};
use crate::store::{Store, now_ms};
use gix::ObjectId;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// One fleet worker at a time in the state store: SQLite has a single writer, and a
/// worker that finds it busy sleeps in SQLite's busy handler (steps of up to 100 ms)
/// instead of waking as soon as the other is done. Store work per repository is a few
/// milliseconds; taking turns in-process keeps it that.
static STORE_TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Takes this process's turn in the state store (see [`scan_repository`]); hold it while
/// a fleet worker reads or writes the store.
pub fn store_turn() -> std::sync::MutexGuard<'static, ()> {
    STORE_TURN.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a fleet pass shares between its repositories.
pub struct Fleet<'a> {
    /// The `[[daemon.scan]]` name.
    pub target: &'a str,
    /// The state store.
    pub state: &'a crate::store::Location,
    /// The directory the mirrors live in (one bare repository per repository).
    pub mirrors: PathBuf,
    /// The rules.
    pub engine: &'a Engine,
    /// git's authentication, if a token is configured.
    pub auth: Option<&'a GitAuth>,
    /// History-scan threads per repository (0: one per core).
    pub threads: usize,
}

/// What [`scan_repository`] did for one repository.
#[derive(Debug)]
pub struct RepoScan {
    /// The repository's full name.
    pub repository: String,
    /// Its state source, `scan:<target>/<repository>`.
    pub source: String,
    /// Cloned or fetched.
    pub mirrored: Mirrored,
    /// Its refs and the rules match the watermark: nothing was read, and its findings
    /// are those already recorded.
    pub unchanged: bool,
    /// Findings (path `<repository>/<path>`, `repository` set) and counts; empty when
    /// unchanged.
    pub result: WalkResult,
    /// Commits listed.
    pub commits: u64,
    /// Blobs read (new since the last run, or holding keys).
    pub read: u64,
    /// Blobs skipped: found clean by an earlier run.
    pub skipped: u64,
    clean: Vec<ObjectId>,
    refs: String,
    rules: String,
}

impl RepoScan {
    /// A one-line summary for the log.
    pub fn summary(&self) -> String {
        let how = match self.mirrored {
            Mirrored::Cloned => "cloned",
            Mirrored::Fetched => "fetched",
        };
        if self.unchanged {
            return format!("{how}, unchanged since the last scan");
        }
        format!(
            "{how}, {} commits, {} blobs read, {} clean blobs skipped, {} finding(s)",
            self.commits,
            self.read,
            self.skipped,
            self.result.findings.len()
        )
    }
}

/// The state source of `repository` in fleet target `target`.
pub fn repo_source(target: &str, repository: &str) -> String {
    format!("scan:{target}/{repository}")
}

/// The mirror directory of a repository: its name made a safe file name, plus a short
/// digest of the full name (two names that sanitize alike stay apart).
fn mirror_dir(root: &Path, name: &str) -> PathBuf {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    let digest = hex::encode(&Sha256::digest(name.as_bytes())[..4]);
    root.join(format!("{}-{digest}.git", safe.trim_start_matches('.')))
}

/// Removes the mirror of `name` under `root` (a repository that left the fleet); a
/// failure is only logged (the directory is reused if the repository comes back).
pub fn remove_mirror(root: &Path, name: &str) {
    let dir = mirror_dir(root, name);
    if dir.exists()
        && let Err(e) = std::fs::remove_dir_all(&dir)
    {
        tracing::warn!("cannot remove the mirror {}: {e}", dir.display());
    }
}

/// A digest of every ref of `repo` (name and target), and how many refs there are.
fn refs_digest(repo: &git::Repository) -> Result<(String, usize)> {
    let fail = |e: &dyn std::fmt::Display| {
        Error::git(
            format!("listing refs: {e}"),
            "the mirror may be damaged: delete it and the next run clones it again",
        )
    };
    let platform = repo.references().map_err(|e| fail(&e))?;
    let mut refs: Vec<(Vec<u8>, String)> = Vec::new();
    for r in platform.all().map_err(|e| fail(&e))? {
        let r = r.map_err(|e| fail(&e))?;
        let target = match r.target() {
            gix::refs::TargetRef::Object(id) => id.to_string(),
            gix::refs::TargetRef::Symbolic(n) => n.as_bstr().to_string(),
        };
        refs.push((r.name().as_bstr().to_vec(), target));
    }
    refs.sort();
    let n = refs.len();
    let mut h = Sha256::new();
    for (name, target) in refs {
        h.update(&name);
        h.update([0u8]);
        h.update(target.as_bytes());
        h.update([0u8]);
    }
    Ok((hex::encode(h.finalize()), n))
}

/// Mirrors `repo` (clone or fetch) and scans its history incrementally. Publishing the
/// findings is the caller's; then [`record`] makes the run count for the next one.
pub fn scan_repository(f: &Fleet<'_>, repo: &Repo) -> Result<RepoScan> {
    let source = repo_source(f.target, &repo.name);
    let dir = mirror_dir(&f.mirrors, &repo.name);
    let mirrored = mirror(&repo.name, &repo.clone_url, &dir, f.auth)?;
    let g = git::open(&dir)?;
    let (refs, n_refs) = refs_digest(&g)?;
    let rules = crate::run::history::rules_digest();
    let turn = store_turn();
    let mut store = Store::open(f.state)?;
    let mut out = RepoScan {
        repository: repo.name.clone(),
        source: source.clone(),
        mirrored,
        unchanged: false,
        result: WalkResult::default(),
        commits: 0,
        read: 0,
        skipped: 0,
        clean: Vec::new(),
        refs,
        rules,
    };
    if store.fleet_watermark(&source)?.as_ref() == Some(&(out.refs.clone(), out.rules.clone())) {
        out.unchanged = true;
        return Ok(out);
    }
    let skip: HashSet<ObjectId> = store
        .clean_blobs(&source, &out.rules)?
        .iter()
        .filter_map(|b| ObjectId::try_from(b.as_slice()).ok())
        .collect();
    drop(store);
    drop(turn);
    if n_refs == 0 {
        // An empty repository: nothing to read.
        return Ok(out);
    }
    let inc = scan::history::Incremental { skip: Some(&skip) };
    let progress = git::progress::Progress::default();
    let h = scan::history::scan(f.engine, &g, &Selection::All, f.threads, inc, &progress)?;
    let mut r = h.result;
    for x in &mut r.findings {
        x.path = format!("{}/{}", repo.name, x.path);
        x.repository = Some(repo.name.clone());
    }
    for p in &mut r.placeholders {
        p.path = format!("{}/{}", repo.name, p.path);
    }
    for s in &mut r.skipped {
        s.path = format!("{}/{}", repo.name, s.path);
    }
    out.result = r;
    out.commits = h.commits;
    out.read = h.unique_blobs;
    out.skipped = h.skipped;
    out.clean = h.clean;
    Ok(out)
}

/// Records what `scan` found clean and its watermark, after its findings were published:
/// killed before this, the next run reads the repository again (and finds the same
/// findings already open, so nothing is alerted twice).
pub fn record(state: &crate::store::Location, target: &str, scan: &RepoScan) -> Result<()> {
    let _turn = store_turn();
    let mut store = Store::open(state)?;
    if !scan.unchanged {
        store.add_clean_blobs(&scan.source, scan.clean.iter().map(|id| id.as_bytes()))?;
    }
    store.set_fleet_watermark(
        &scan.source,
        target,
        &scan.repository,
        &scan.refs,
        &scan.rules,
        now_ms(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_dirs_are_safe_and_distinct() {
        let root = Path::new("/m");
        let a = mirror_dir(root, "acme/app");
        let b = mirror_dir(root, "acme_app");
        assert_ne!(a, b);
        assert_eq!(a.parent(), Some(root));
        let evil = mirror_dir(root, "../../etc/passwd");
        assert_eq!(evil.parent(), Some(root));
        assert!(evil.file_name().unwrap().to_str().unwrap().starts_with('_'));
    }
}
