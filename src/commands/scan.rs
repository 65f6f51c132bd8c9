//! `keywarden scan` (a tree, `--staged`, `--history`, `--since REV`, `--range A..B`):
//! settings → [`run::scan`] → `--verify` → render → `--notify` → exit code.

use super::{Exit, emit, write_report};
use crate::cli::{Cli, ScanArgs};
use crate::error::{Error, Result};
use crate::git::progress::Progress as GitProgress;
use crate::report::{self, Format, TextOptions};
use crate::run::{self, scan::Source};
use crate::scan::{Engine, ScanReport};
use crate::settings::{GitSource, ScanSettings};
use std::io::Write;
use std::path::Path;
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

/// The spinner on stderr. It stays hidden for the first half second, so that a quick
/// scan prints nothing but its report.
struct Progress {
    pb: indicatif::ProgressBar,
    enabled: bool,
    shown: std::sync::atomic::AtomicBool,
    started: Instant,
}

impl Progress {
    fn new(enabled: bool) -> Progress {
        let pb = indicatif::ProgressBar::hidden();
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} scanning: {pos} files{msg} ({elapsed})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        Progress {
            pb,
            enabled,
            shown: std::sync::atomic::AtomicBool::new(false),
            started: Instant::now(),
        }
    }

    /// Counts a file of `total` bytes scanned so far.
    fn file(&self, total: u64) {
        use std::sync::atomic::Ordering;
        self.pb.inc(1);
        if self.pb.position().is_multiple_of(256) {
            self.pb
                .set_message(format!(", {}", report::human_bytes(total)));
        }
        if self.enabled
            && !self.shown.load(Ordering::Relaxed)
            && self.started.elapsed() > std::time::Duration::from_millis(500)
            && !self.shown.swap(true, Ordering::Relaxed)
        {
            self.pb
                .set_draw_target(indicatif::ProgressDrawTarget::stderr());
            self.pb
                .enable_steady_tick(std::time::Duration::from_millis(120));
        }
    }

    fn finish(&self) {
        self.pb.finish_and_clear();
    }
}

/// Renders `report` in `settings.format` to the output file or `out`.
pub fn render(
    engine: &Engine,
    settings: &ScanSettings,
    report: &ScanReport,
    out: &mut dyn Write,
) -> Result<()> {
    write_report(settings.output.as_deref(), out, |sink| {
        match settings.format {
            Format::Text => report::write_text(
                report,
                TextOptions {
                    color: settings.color,
                    placeholders: settings.show_placeholders,
                    suppressed: settings.show_suppressed,
                },
                sink,
            ),
            Format::Json => report::write_json(report, settings.show_placeholders, sink),
            Format::Sarif => report::write_sarif(&engine.db, report, sink),
            Format::Compact => report::write_compact(report, settings.show_suppressed, sink),
        }
    })?;
    // With -o the report goes to a file; say on stderr what it holds, so a terminal does
    // not stay silent.
    if let (Some(path), false) = (&settings.output, settings.quiet) {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(
            err,
            "{}; report written to {}",
            report::summary_line(report),
            path.display()
        );
    }
    Ok(())
}

/// The exit code for a finished scan.
pub fn exit_code(report: &ScanReport, settings: &ScanSettings) -> Exit {
    if report.worst().is_some_and(|w| w >= settings.fail_on) {
        Exit::Findings
    } else if report.summary.errors > 0 {
        Exit::Error
    } else {
        Exit::Clean
    }
}

/// Runs `keywarden scan`.
pub fn run(args: &ScanArgs, cli: &Cli, out: &mut dyn Write) -> Result<Exit> {
    let settings = ScanSettings::resolve(args, cli.color, cli.quiet)?;
    // Open the outbox first: a bad [notify] or [state] fails before the scan.
    let notify = args
        .notify
        .then(|| super::outbox::open(&args.service_config))
        .transpose()?;
    let (engine, mut report) = scan(&settings, args.baseline.as_deref())?;
    if args.verify {
        run::verify::verify(&mut report, args.api_url.as_deref())?;
    }
    render(&engine, &settings, &report, out)?;
    if let Some((cfg, mut store)) = notify {
        if cfg.is_empty() {
            return Err(Error::Usage(format!(
                "--notify: {} has no [[notify.email]] or [[notify.webhook]] channel\n  hint: add one, or drop --notify",
                args.service_config.display()
            )));
        }
        let model = crate::notify::ReportModel::from(&report).named(&source_name(&settings));
        run::publish::publish(&cfg, &mut store, model, run::publish::Mode::Once, None)?;
    }
    let exit = exit_code(&report, &settings);
    if matches!(settings.git, Some(GitSource::Staged { .. }))
        && exit == Exit::Findings
        && settings.format == Format::Text
        && settings.output.is_none()
    {
        emit(|| writeln!(out, "\n{BLOCKED}"))?;
    }
    Ok(exit)
}

/// The scan `settings` describe, through [`run::scan::scan`], with the progress shown on
/// a terminal; `baseline` suppresses the findings it records.
pub(crate) fn scan(
    settings: &ScanSettings,
    baseline: Option<&Path>,
) -> Result<(Engine, ScanReport)> {
    let started = Instant::now();
    let engine = run::scan::engine(&settings.repo, &settings.rules)?;
    tracing::debug!("rules compiled in {:?}", started.elapsed());
    let policy = run::scan::Policy {
        allow: &settings.repo.allow,
        baseline,
        today: None,
    };
    let mut report = match &settings.git {
        None => {
            let progress = Progress::new(settings.progress);
            let on_file = |bytes: u64| progress.file(bytes);
            let source = Source::Tree {
                options: &settings.options,
                on_file: &on_file,
            };
            let report = run::scan::scan(&engine, source, &policy);
            progress.finish();
            tree_scan_read_something(report?)?
        }
        Some(git) => {
            let repo = run::scan::current_repo()?;
            match git {
                GitSource::Staged { whole_files } => run::scan::scan(
                    &engine,
                    Source::Staged {
                        repo: &repo,
                        whole_files: *whole_files,
                    },
                    &policy,
                )?,
                GitSource::History(selection) => {
                    let progress = GitProgress::default();
                    super::history_progress::with_bar(settings.progress, &progress, || {
                        let source = Source::History {
                            repo: &repo,
                            selection,
                            threads: settings.threads,
                            progress: &progress,
                        };
                        run::scan::scan(&engine, source, &policy)
                    })?
                }
            }
        }
    };
    if settings.git.is_none() && !covers_config_dir(settings) {
        // `scan src` with the repository's config: entries about other directories
        // matched nothing because they were not scanned, not because they are stale.
        report.summary.stale_allowlist.retain(|s| !s.unused);
    }
    Ok((engine, report))
}

/// A tree scan that read no file is an error (a hook's `--staged` with nothing staged is
/// not: it has nothing to check).
fn tree_scan_read_something(report: ScanReport) -> Result<ScanReport> {
    if report.summary.files > 0 {
        return Ok(report);
    }
    let skipped = &report.summary.skipped;
    let why = match skipped.first() {
        None => "no files were found (ignore rules or --exclude may have skipped everything)"
            .to_string(),
        Some(first) => format!(
            "all {} files were skipped; the first: {}: {}",
            skipped.len(),
            first.path,
            first.reason
        ),
    };
    Err(Error::NothingScanned(why))
}

/// Did the scan cover the whole directory its repository config governs?
fn covers_config_dir(settings: &ScanSettings) -> bool {
    let Some(dir) = settings
        .repo
        .path
        .as_ref()
        .and_then(|p| p.parent())
        .map(|d| {
            if d.as_os_str().is_empty() {
                std::path::Path::new(".")
            } else {
                d
            }
        })
        .and_then(|d| std::fs::canonicalize(d).ok())
    else {
        return true;
    };
    settings
        .options
        .paths()
        .iter()
        .any(|p| std::fs::canonicalize(p).is_ok_and(|p| p == dir))
}

/// The name a `--notify` report goes by: the scanned paths, absolute.
fn source_name(settings: &ScanSettings) -> String {
    settings
        .options
        .paths()
        .iter()
        .map(|p| {
            std::fs::canonicalize(p)
                .unwrap_or_else(|_| p.clone())
                .display()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join(", ")
}
