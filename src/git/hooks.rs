//! The repository's pre-commit hook: where it lives (`core.hooksPath` or
//! `$GIT_COMMON_DIR/hooks`), writing ours, and removing only ours.

use super::{Repository, workdir};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// The line that marks a hook as written by keywarden.
pub const MARKER: &str = "# keywarden-managed-hook";

/// The hooks directory git runs hooks from.
pub fn hooks_dir(repo: &Repository) -> Result<PathBuf> {
    let configured = repo
        .config_snapshot()
        .trusted_path("core.hooksPath")
        .map_err(|e| {
            Error::git(
                format!("core.hooksPath is invalid: {e}"),
                "fix it with `git config core.hooksPath DIR`, or unset it",
            )
        })?;
    Ok(match configured {
        // A relative hooksPath is relative to where hooks run: the top of the work tree.
        Some(p) if p.is_relative() => workdir(repo).join(p),
        Some(p) => p,
        None => repo.common_dir().join("hooks"),
    })
}

/// Quotes `s` for a POSIX shell.
pub(crate) fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The hook script: runs `keywarden scan --staged` with the binary that installed it (or
/// `keywarden` from PATH if that one is gone), passing the baseline when the repository
/// has one.
pub fn script(exe: &Path) -> String {
    format!(
        "#!/bin/sh\n\
         {MARKER} v1: written by `keywarden hook install`; `keywarden hook uninstall` removes it.\n\
         # Blocks commits that add MASK API keys. Bypass once (not recommended): git commit --no-verify\n\
         KEYWARDEN={exe}\n\
         [ -x \"$KEYWARDEN\" ] || KEYWARDEN=keywarden\n\
         if [ -f .keywarden-baseline.json ]; then\n  \
           exec \"$KEYWARDEN\" scan --staged --baseline .keywarden-baseline.json\n\
         fi\n\
         exec \"$KEYWARDEN\" scan --staged\n",
        exe = sh_quote(&exe.to_string_lossy())
    )
}

/// What `install` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Installed {
    /// Wrote a new hook.
    New(PathBuf),
    /// Replaced an older keywarden hook.
    Updated(PathBuf),
    /// Replaced a foreign hook (with `--force`); the old one was kept at the second path.
    Replaced(PathBuf, PathBuf),
}

fn is_ours(text: &str) -> bool {
    text.lines().any(|l| l.starts_with(MARKER))
}

/// Writes the pre-commit hook. A hook that keywarden did not write is refused unless
/// `force`, and then kept as `pre-commit.keywarden-backup`.
pub fn install(repo: &Repository, exe: &Path, force: bool) -> Result<Installed> {
    let dir = hooks_dir(repo)?;
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let hook = dir.join("pre-commit");
    let mut result = Installed::New(hook.clone());
    match crate::bounded::read(&hook) {
        Ok(bytes) if is_ours(&String::from_utf8_lossy(&bytes)) => {
            result = Installed::Updated(hook.clone());
        }
        Ok(_) if !force => {
            return Err(Error::Hook {
                path: hook,
                message: "a pre-commit hook that keywarden did not write is already there".into(),
                hint: "run `keywarden hook install --force` to replace it (it is kept as pre-commit.keywarden-backup), or call `keywarden scan --staged` from your hook".into(),
            });
        }
        Ok(_) => {
            let backup = dir.join("pre-commit.keywarden-backup");
            std::fs::rename(&hook, &backup).map_err(|e| Error::io(&hook, e))?;
            result = Installed::Replaced(hook.clone(), backup);
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(&hook, e)),
    }
    std::fs::write(&hook, script(exe)).map_err(|e| Error::io(&hook, e))?;
    make_executable(&hook)?;
    Ok(result)
}

#[cfg(unix)]
fn make_executable(p: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).map_err(|e| Error::io(p, e))
}

#[cfg(not(unix))]
fn make_executable(_: &Path) -> Result<()> {
    Ok(())
}

/// What `uninstall` removed.
#[derive(Debug, PartialEq, Eq)]
pub struct Removed {
    /// The hook removed.
    pub hook: PathBuf,
    /// The hook `install --force` had set aside, now back in place.
    pub restored: Option<PathBuf>,
}

/// Removes the pre-commit hook if keywarden wrote it, and puts back the hook that
/// `install --force` kept as `pre-commit.keywarden-backup`. `None` when there was no hook.
pub fn uninstall(repo: &Repository) -> Result<Option<Removed>> {
    let dir = hooks_dir(repo)?;
    let hook = dir.join("pre-commit");
    match crate::bounded::read(&hook) {
        Ok(bytes) if is_ours(&String::from_utf8_lossy(&bytes)) => {
            std::fs::remove_file(&hook).map_err(|e| Error::io(&hook, e))?;
            let backup = dir.join("pre-commit.keywarden-backup");
            let restored = if backup.is_file() {
                std::fs::rename(&backup, &hook).map_err(|e| Error::io(&backup, e))?;
                Some(backup)
            } else {
                None
            };
            Ok(Some(Removed { hook, restored }))
        }
        Ok(_) => Err(Error::Hook {
            path: hook,
            message: "this pre-commit hook was not written by keywarden; leaving it in place"
                .into(),
            hint: "remove it yourself if you no longer want it".into(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(&hook, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_quotes_the_path_and_carries_the_marker() {
        let s = script(Path::new("/opt/it's here/keywarden"));
        assert!(
            s.contains(r"KEYWARDEN='/opt/it'\''s here/keywarden'"),
            "{s}"
        );
        assert!(is_ours(&s));
        assert!(!is_ours("#!/bin/sh\nexec lint\n"));
    }
}
