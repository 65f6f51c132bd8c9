//! `keywarden config check FILE`: the daemon's full validation, without starting anything.

use super::{Exit, emit};
use crate::cli::ConfigCommand;
use crate::daemon::Settings;
use crate::error::Result;
use std::io::Write;

/// Runs `keywarden config …`. An invalid config is an error (exit 2) with file:line:column.
pub fn run(cmd: &ConfigCommand, out: &mut dyn Write) -> Result<Exit> {
    match cmd {
        ConfigCommand::Check { file } => {
            let s = Settings::load(file)?;
            emit(|| {
                writeln!(
                    out,
                    "{}: ok: {} workspace(s), {} scan target(s) ({} watched, {} git history), {} email and {} webhook channel(s), state {}",
                    file.display(),
                    s.daemon.workspace.len(),
                    s.daemon.scan.len(),
                    s.daemon.scan.iter().filter(|t| t.watch).count(),
                    s.daemon.scan.iter().filter(|t| t.history).count(),
                    s.notify.email.len(),
                    s.notify.webhook.len(),
                    s.state.display()
                )
            })?;
            Ok(Exit::Clean)
        }
    }
}
