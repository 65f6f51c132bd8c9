//! `keywarden scan --staged | --history | --since REV | --range A..B`: the git sources,
//! through the same engine, outcome, renderers and exit codes as a tree scan.

use super::scan::{engine, exit_code, render};
use super::{Exit, emit};
use crate::baseline::Baseline;
use crate::cli::{Cli, ScanArgs};
use crate::config::{self, RepoConfig};
use crate::error::{Error, Result};
use crate::finding::Severity;
use crate::git::{self, history::Selection};
use crate::report::Format;
use crate::scan::{self, WalkResult};
use crate::settings::ScanSettings;
use std::io::Write;
use std::time::Instant;

/// What to tell someone whose commit was blocked.
pub const BLOCKED: &str = "\
commit blocked: it adds the MASK API key(s) listed above.
  fix: take the key out of the staged file(s) (load it from the environment or a
       secrets manager), `git add` them again and commit. If the key was ever pushed or
       shared, revoke it in MASK (Settings → API Keys).
  deliberate exception (a test fixture, an already revoked key): add a
       `keywarden:allow <reason>` comment on the key's line, or record the current
       findings with `keywarden baseline --output .keywarden-baseline.json` (the hook
       uses that file when it exists).
  bypass once, at your own risk: git commit --no-verify";

/// Runs a git scan.
pub fn run(args: &ScanArgs, cli: &Cli, out: &mut dyn Write) -> Result<Exit> {
    let mut settings = ScanSettings::resolve(args, cli.color, cli.quiet)?;
    let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
    let repo = git::open(&cwd)?;
    let root = git::workdir(&repo);
    if args.config.is_none() && !args.no_config {
        // The repository's config is at its top, wherever the command runs from.
        settings.repo = RepoConfig::load(&root.join(config::FILE_NAME), true)?;
        settings.fail_on = args
            .fail_on
            .or(settings.repo.scan.fail_on)
            .unwrap_or(Severity::Low);
    }
    let notify = args
        .notify
        .then(|| super::outbox::open(&args.service_config))
        .transpose()?;
    let started = Instant::now();
    let engine = engine(&settings)?;
    tracing::debug!("rules compiled in {:?}", started.elapsed());
    let (mut walked, stats): (WalkResult, serde_json::Value) = if args.staged {
        let s = scan::staged::scan(&engine, &repo, args.whole_files)?;
        let stats = serde_json::json!({
            "staged_files": s.result.files,
            "index_entries": s.entries,
            "renamed_unchanged": s.renamed,
            "first_commit": s.first_commit,
        });
        (s.result, stats)
    } else {
        let sel = match (&args.since, &args.range) {
            (_, Some(r)) => Selection::range(r)?,
            (Some(rev), None) => Selection::Since(rev.clone()),
            (None, None) => Selection::All,
        };
        let progress = git::progress::Progress::default();
        let h = super::history_progress::with_bar(settings.progress, &progress, || {
            scan::history::scan(
                &engine,
                &repo,
                &sel,
                args.threads.unwrap_or(0),
                scan::history::Incremental::default(),
                &progress,
            )
        })?;
        let stats = h.stats(&sel);
        (h.result, stats)
    };
    if let Some(path) = &args.baseline {
        Baseline::load(path)?.apply(&mut walked.findings);
    }
    let today = chrono::Local::now().date_naive();
    let mut report = scan::outcome::finish(
        &engine.db,
        walked,
        &settings.repo.allow,
        today,
        started.elapsed().as_millis() as u64,
    );
    report.summary.git = Some(stats);
    if args.verify {
        super::verify::verify(&mut report, args.api_url.as_deref())?;
    }
    render(&engine, &settings, &report, out)?;
    if let Some((cfg, mut store)) = notify {
        super::scan::notify_report(&cfg, &mut store, &settings, &report, &args.service_config)?;
    }
    let exit = exit_code(&report, &settings);
    if args.staged
        && exit == Exit::Findings
        && settings.format == Format::Text
        && settings.output.is_none()
    {
        emit(|| writeln!(out, "\n{BLOCKED}"))?;
    }
    Ok(exit)
}
