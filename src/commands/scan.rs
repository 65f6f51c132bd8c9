//! `keywarden scan`: settings → engine → walk → outcome → report → exit code.

use super::{Exit, emit};
use crate::cli::{Cli, ScanArgs};
use crate::error::{Error, Result};
use crate::report::{self, Format, TextOptions};
use crate::rules::{self, Source};
use crate::scan::{self, Engine, ScanReport};
use crate::settings::ScanSettings;
use std::io::Write;
use std::time::Instant;

/// Builds the rule engine: built-ins, then the repo config's rules, then `--rules` files.
pub fn engine(settings: &ScanSettings) -> Result<Engine> {
    let mut extra = Vec::new();
    if let Some(src) = &settings.repo.rules {
        extra.push(Source::parse(&src.origin, &src.text)?);
    }
    for path in &settings.rules {
        extra.push(Source::read(path)?);
    }
    Engine::new(rules::load(extra)?)
}

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
    let mut file;
    let sink: &mut dyn Write = match &settings.output {
        Some(path) => {
            file = crate::redact::ScrubWriter::new(std::io::BufWriter::new(
                std::fs::File::create(path).map_err(|e| Error::io(path, e))?,
            ));
            &mut file
        }
        None => out,
    };
    emit(|| {
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
        }?;
        sink.flush()
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
    if args.staged || args.history || args.since.is_some() || args.range.is_some() {
        return super::git_scan::run(args, cli, out);
    }
    let settings = ScanSettings::resolve(args, cli.color, cli.quiet)?;
    let engine = engine(&settings)?;
    let notify = args
        .notify
        .then(|| super::outbox::open(&args.service_config))
        .transpose()?;
    let started = Instant::now();
    let progress = Progress::new(settings.progress);
    let on_file = |bytes: u64| progress.file(bytes);
    let mut walked = scan::walk::scan(&engine, &settings.options, &on_file)?;
    progress.finish();
    if walked.files == 0 {
        let why = if walked.skipped.is_empty() {
            "no files were found (ignore rules or --exclude may have skipped everything)"
                .to_string()
        } else {
            format!(
                "all {} files were skipped; the first: {}: {}",
                walked.skipped.len(),
                walked.skipped[0].path,
                walked.skipped[0].reason
            )
        };
        return Err(Error::NothingScanned(why));
    }
    if let Some(path) = &args.baseline {
        crate::baseline::Baseline::load(path)?.apply(&mut walked.findings);
    }
    let today = chrono::Local::now().date_naive();
    let mut report = scan::outcome::finish(
        &engine.db,
        walked,
        &settings.repo.allow,
        today,
        started.elapsed().as_millis() as u64,
    );
    if !covers_config_dir(&settings) {
        // `scan src` with the repository's config: entries about other directories
        // matched nothing because they were not scanned, not because they are stale.
        report.summary.stale_allowlist.retain(|s| !s.unused);
    }
    if args.verify {
        super::verify::verify(&mut report, args.api_url.as_deref())?;
    }
    render(&engine, &settings, &report, out)?;
    if let Some((cfg, mut store)) = notify {
        notify_report(&cfg, &mut store, &settings, &report, &args.service_config)?;
    }
    Ok(exit_code(&report, &settings))
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

/// `--notify`: the scan's report through the outbox to the configured channels.
pub(crate) fn notify_report(
    cfg: &crate::notify::NotifyConfig,
    store: &mut crate::store::Store,
    settings: &ScanSettings,
    report: &ScanReport,
    config: &std::path::Path,
) -> Result<()> {
    if cfg.is_empty() {
        return Err(Error::Usage(format!(
            "--notify: {} has no [[notify.email]] or [[notify.webhook]] channel\n  hint: add one, or drop --notify",
            config.display()
        )));
    }
    let source = settings
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
        .join(", ");
    let model = crate::notify::ReportModel::from_scan(report, &source)?;
    crate::notify::enqueue_and_deliver(cfg, store, model)?;
    Ok(())
}
