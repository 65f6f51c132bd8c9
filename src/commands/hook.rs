//! `keywarden hook install|uninstall|check`: the git pre-commit hook and the coding-agent
//! hooks.

use super::{Exit, emit};
use crate::agent::{self, Agent};
use crate::cli::HookCommand;
use crate::error::{Error, Result};
use crate::git::{self, hooks};
use std::io::Write;
use std::path::PathBuf;

/// Runs `keywarden hook …` in the repository holding the current directory.
pub fn run(cmd: &HookCommand, out: &mut dyn Write) -> Result<Exit> {
    match cmd {
        HookCommand::Check { agent, fail_on } => super::agent_hook::run(*agent, *fail_on, out),
        HookCommand::Install { agent: Some(a), .. } => install_agent(*a, out),
        HookCommand::Uninstall { agent: Some(a) } => uninstall_agent(*a, out),
        HookCommand::Install { force, agent: None } => install_git(*force, out),
        HookCommand::Uninstall { agent: None } => uninstall_git(out),
    }
}

fn install_git(force: bool, out: &mut dyn Write) -> Result<Exit> {
    let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
    let repo = git::open(&cwd)?;
    if repo.workdir().is_none() {
        return Err(Error::Hook {
            path: repo.git_dir().to_path_buf(),
            message: "this is a bare repository: nobody commits in it, so a pre-commit hook would never run".into(),
            hint: "install the hook in each clone (`keywarden hook install` there); to check pushes, run `keywarden scan --range` in CI or a pre-receive hook".into(),
        });
    }
    let exe = std::env::current_exe().map_err(|e| Error::io("keywarden", e))?;
    let msg = match hooks::install(&repo, &exe, force)? {
        hooks::Installed::New(p) => format!("installed the pre-commit hook: {}", p.display()),
        hooks::Installed::Updated(p) => format!("updated the pre-commit hook: {}", p.display()),
        hooks::Installed::Replaced(p, b) => format!(
            "installed the pre-commit hook: {} (the previous hook is kept as {}; `keywarden hook uninstall` puts it back)",
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
    Ok(Exit::Clean)
}

fn uninstall_git(out: &mut dyn Write) -> Result<Exit> {
    let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
    let repo = git::open(&cwd)?;
    let msg = match hooks::uninstall(&repo)? {
        Some(hooks::Removed {
            hook,
            restored: Some(backup),
        }) => format!(
            "removed the pre-commit hook: {} (your previous hook is back in place, from {})",
            hook.display(),
            backup.display()
        ),
        Some(r) => format!("removed the pre-commit hook: {}", r.hook.display()),
        None => "no pre-commit hook to remove".to_string(),
    };
    emit(|| writeln!(out, "{msg}"))?;
    Ok(Exit::Clean)
}

/// The project the agent works in: the top of the git work tree holding the current
/// directory, else the current directory.
fn project_dir() -> Result<PathBuf> {
    let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
    Ok(git::open(&cwd)
        .ok()
        .and_then(|r| r.workdir().map(std::path::Path::to_path_buf))
        .unwrap_or(cwd))
}

fn install_agent(a: Agent, out: &mut dyn Write) -> Result<Exit> {
    let top = project_dir()?;
    let exe = std::env::current_exe().map_err(|e| Error::io("keywarden", e))?;
    let (verb, path) = match agent::install::install(a, &top, &exe)? {
        agent::install::Installed::New(p) => ("installed", p),
        agent::install::Installed::Updated(p) => ("updated", p),
    };
    let what = match a {
        Agent::ClaudeCode => "Claude Code tool calls (Write, Edit, Bash, MCP, …) and prompts",
        Agent::Cursor => "Cursor shell commands, MCP calls, file reads and prompts",
        Agent::Generic => "",
    };
    emit(|| {
        writeln!(
            out,
            "{verb} the {} hooks: {}\n{what} that hold a MASK API key are now blocked",
            a.as_str(),
            path.display()
        )
    })?;
    Ok(Exit::Clean)
}

fn uninstall_agent(a: Agent, out: &mut dyn Write) -> Result<Exit> {
    let top = project_dir()?;
    let msg = match agent::install::uninstall(a, &top)? {
        Some(p) => format!("removed the {} hooks from {}", a.as_str(), p.display()),
        None => format!("no keywarden {} hooks to remove", a.as_str()),
    };
    emit(|| writeln!(out, "{msg}"))?;
    Ok(Exit::Clean)
}
