//! `keywarden baseline [PATH…] --output FILE`: scan, then record the findings that count.

use super::{Exit, emit};
use crate::baseline::Baseline;
use crate::cli::{BaselineArgs, Cli, ScanArgs};
use crate::error::{Error, Result};
use crate::settings::ScanSettings;
use clap::{Args, FromArgMatches};
use std::io::Write;

/// The `scan` arguments that produce the findings to record.
fn scan_args(args: &BaselineArgs) -> Result<ScanArgs> {
    let mut argv: Vec<std::ffi::OsString> = vec!["scan".into(), "--format".into(), "json".into()];
    if args.history {
        argv.push("--history".into());
    }
    if let Some(c) = &args.config {
        argv.push("--config".into());
        argv.push(c.into());
    }
    if args.no_config {
        argv.push("--no-config".into());
    }
    for r in &args.rules {
        argv.push("--rules".into());
        argv.push(r.into());
    }
    for g in &args.exclude {
        argv.push(format!("--exclude={g}").into());
    }
    if !args.paths.is_empty() {
        argv.push("--".into());
        argv.extend(args.paths.iter().map(|p| p.into()));
    }
    let cmd = ScanArgs::augment_args(clap::Command::new("scan").no_binary_name(false));
    let matches = cmd
        .try_get_matches_from(argv)
        .map_err(|e| Error::Usage(e.to_string()))?;
    ScanArgs::from_arg_matches(&matches).map_err(|e| Error::Usage(e.to_string()))
}

/// Runs `keywarden baseline`.
pub fn run(args: &BaselineArgs, cli: &Cli, out: &mut dyn Write) -> Result<Exit> {
    let settings = ScanSettings::resolve(&scan_args(args)?, cli.color, cli.quiet)?;
    // The same scan as `keywarden scan`; a scan that could not read everything and found
    // nothing to fail on records nothing.
    let (_, report) = super::scan::scan(&settings, None)?;
    let exit = super::scan::exit_code(&report, &settings);
    if exit == Exit::Error {
        return Ok(exit);
    }
    let baseline = Baseline::from_rows(
        report
            .findings
            .iter()
            .filter(|f| f.suppressed.is_none())
            .map(|f| {
                (
                    f.path.clone(),
                    f.rule.clone(),
                    f.context,
                    f.fingerprint.clone(),
                )
            }),
    );
    baseline.save(&args.output)?;
    emit(|| {
        writeln!(
            out,
            "wrote {} ({} known finding{}); use it with `keywarden scan {}--baseline {}`",
            args.output.display(),
            baseline.len(),
            if baseline.len() == 1 { "" } else { "s" },
            if args.history { "--history " } else { "" },
            args.output.display()
        )
    })?;
    Ok(Exit::Clean)
}
