//! One module per subcommand: arguments → [`crate::settings`] → a use case of
//! [`crate::run`] → rendering. Each `run` returns an [`Exit`] and writes through the
//! writers it is given (the library never prints on its own).

pub mod agent_hook;
pub mod audit;
pub mod baseline;
pub mod completions;
pub mod config;
pub mod daemon;
pub mod history_progress;
pub mod hook;
pub mod outbox;
pub mod report;
pub mod rules;
pub mod scan;
pub mod status;

use crate::cli::{Cli, Command};
use crate::error::Result;
use std::io::Write;

/// The exit-code contract, mapped in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Nothing at or above the failing severity.
    Clean = 0,
    /// Findings at or above it.
    Findings = 1,
    /// An error (bad usage, config, rules, I/O, API unreachable).
    Error = 2,
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e as u8)
    }
}

/// Runs the parsed command line.
pub fn run(cli: &Cli, out: &mut dyn Write) -> Result<Exit> {
    match &cli.command {
        Command::Scan(args) => scan::run(args, cli, out),
        Command::Rules(cmd) => rules::run(cmd, out),
        Command::Hook(cmd) => hook::run(cmd, out),
        Command::Baseline(args) => baseline::run(args, cli, out),
        Command::Audit(args) => audit::run(args, cli, out),
        Command::Outbox(args) => outbox::run(args, out),
        Command::Report(args) => report::run(args, out),
        Command::Daemon(args) => daemon::run(args, cli),
        Command::Config(cmd) => config::run(cmd, out),
        Command::Status(args) => status::run(args, out),
        Command::Completions { shell } => completions::completions(*shell, out),
        Command::Man => completions::man(out),
    }
}

/// Writes through `f`; a closed pipe (`keywarden scan | head`) is not an error.
pub(crate) fn emit(f: impl FnOnce() -> std::io::Result<()>) -> Result<()> {
    match f() {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(crate::Error::Output(e)),
        Ok(()) => Ok(()),
    }
}

/// Writes a report through `write`: to `output` (created, keys scrubbed) when given, else
/// to `out`; flushed; a closed pipe is not an error.
pub(crate) fn write_report(
    output: Option<&std::path::Path>,
    out: &mut dyn Write,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let mut file;
    let sink: &mut dyn Write = match output {
        Some(path) => {
            file = crate::redact::ScrubWriter::new(std::io::BufWriter::new(
                std::fs::File::create(path).map_err(|e| crate::Error::io(path, e))?,
            ));
            &mut file
        }
        None => out,
    };
    emit(|| {
        write(&mut *sink)?;
        sink.flush()
    })
}
