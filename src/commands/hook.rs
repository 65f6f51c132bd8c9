//! `keywarden hook install|uninstall`.

use super::{Exit, emit};
use crate::cli::HookCommand;
use crate::error::{Error, Result};
use crate::git::{self, hooks};
use std::io::Write;

/// Runs `keywarden hook …` in the repository holding the current directory.
pub fn run(cmd: &HookCommand, out: &mut dyn Write) -> Result<Exit> {
    let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
    let repo = git::open(&cwd)?;
    match cmd {
        HookCommand::Install { force } => {
            let exe = std::env::current_exe().map_err(|e| Error::io("keywarden", e))?;
            let msg = match hooks::install(&repo, &exe, *force)? {
                hooks::Installed::New(p) => {
                    format!("installed the pre-commit hook: {}", p.display())
                }
                hooks::Installed::Updated(p) => {
                    format!("updated the pre-commit hook: {}", p.display())
                }
                hooks::Installed::Replaced(p, b) => format!(
                    "installed the pre-commit hook: {} (the previous hook is kept as {})",
                    p.display(),
                    b.display()
                ),
            };
            emit(|| {
                writeln!(
                    out,
                    "{msg}\ncommits that add a MASK API key are now blocked"
                )
            })?;
        }
        HookCommand::Uninstall => {
            let msg = match hooks::uninstall(&repo)? {
                Some(p) => format!("removed the pre-commit hook: {}", p.display()),
                None => "no pre-commit hook to remove".to_string(),
            };
            emit(|| writeln!(out, "{msg}"))?;
        }
    }
    Ok(Exit::Clean)
}
