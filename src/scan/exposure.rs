//! Whether a file of a tree scan is shared through git. The index says which files are
//! tracked, and tracked files are scanned whatever ignore rules say; of the untracked
//! files that ignore rules hide, the local secret files (`.env*`, `*.tfvars`, …) are
//! scanned too, and every other one is counted: nothing is dropped silently.

use crate::finding::Exposure;
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use serde::Serialize;
use std::collections::HashSet;
use std::path::Path;

/// Files where keys live on a developer's machine: ignored copies of them are scanned. A
/// glob without `/` matches a file's name; one with `/` matches the path's last components
/// (`settings/local.py`). `[scan] local_secret_files` in `.keywarden.toml` replaces
/// the list.
pub const LOCAL_SECRET_FILES: &[&str] = &[
    ".env",
    ".env.*",
    "*.env",
    ".envrc",
    ".dev.vars",
    "*.tfvars",
    "*.tfvars.json",
    "*.tfstate",
    "*.tfstate.backup",
    "credentials",
    "credentials.*",
    "*.credentials",
    ".netrc",
    ".npmrc",
    ".pypirc",
    ".pgpass",
    "secrets.*",
    "*.secrets",
    ".secrets",
    "local_settings.py",
    "settings_local.py",
    // Django's per-machine settings module (`mysite/settings/local.py`), which projects
    // such as wagtail's bakerydemo ignore.
    "settings/local.py",
    "settings/local_*.py",
    "local.settings.json",
    "application-local*.properties",
    "application-local*.y*ml",
    "docker-compose.override.y*ml",
];

/// Directories of installed dependencies, caches and build tools: when ignore rules hide
/// one, the search for ignored local secret files does not go in (it is counted).
pub const DEPENDENCY_DIRS: &[&str] = &[
    "node_modules",
    "bower_components",
    "jspm_packages",
    ".venv",
    "venv",
    "__pycache__",
    ".tox",
    ".nox",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".gradle",
    ".m2",
    "target",
    ".next",
    ".nuxt",
    ".svelte-kit",
    ".turbo",
    ".parcel-cache",
    ".cache",
    ".terraform",
    ".terragrunt-cache",
    "vendor",
    "Pods",
    "DerivedData",
    ".angular",
    ".yarn",
    "coverage",
];

/// What ignore rules kept out of a tree scan, and what was scanned in spite of them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Coverage {
    /// Tracked files that ignore rules match, scanned anyway (tracked files always are).
    pub tracked_ignored_scanned: u64,
    /// Ignored local secret files (`.env*`, `*.tfvars`, …), scanned.
    pub ignored_secret_files_scanned: u64,
    /// Other ignored files: not scanned (`--no-ignore` scans them).
    pub ignored_files_not_scanned: u64,
    /// Ignored dependency and cache directories (`node_modules`, …): not entered.
    pub ignored_dirs_not_scanned: u64,
}

impl Coverage {
    /// Adds `other`'s counts.
    pub fn add(&mut self, other: &Coverage) {
        self.tracked_ignored_scanned += other.tracked_ignored_scanned;
        self.ignored_secret_files_scanned += other.ignored_secret_files_scanned;
        self.ignored_files_not_scanned += other.ignored_files_not_scanned;
        self.ignored_dirs_not_scanned += other.ignored_dirs_not_scanned;
    }

    /// One line per non-zero class, each with its reason (for the text summary).
    pub fn lines(&self) -> Vec<String> {
        let n = |c: u64, one: &str, many: &str| format!("{c} {}", if c == 1 { one } else { many });
        let mut out = Vec::new();
        if self.tracked_ignored_scanned > 0 {
            out.push(format!(
                "{} matched by ignore rules, scanned: tracked files always are",
                n(
                    self.tracked_ignored_scanned,
                    "tracked file",
                    "tracked files"
                )
            ));
        }
        if self.ignored_secret_files_scanned > 0 {
            out.push(format!(
                "{} (.env*, *.tfvars, …) scanned although ignored",
                n(
                    self.ignored_secret_files_scanned,
                    "local secret file",
                    "local secret files"
                )
            ));
        }
        if self.ignored_files_not_scanned > 0 {
            out.push(format!(
                "{} not scanned; --no-ignore scans them",
                n(
                    self.ignored_files_not_scanned,
                    "ignored file",
                    "ignored files"
                )
            ));
        }
        if self.ignored_dirs_not_scanned > 0 {
            out.push(format!(
                "{} (node_modules, target, …) not entered; --no-ignore scans them",
                n(
                    self.ignored_dirs_not_scanned,
                    "ignored dependency directory",
                    "ignored dependency directories"
                )
            ));
        }
        out
    }
}

/// The git side of a tree scan: which paths (relative to the work tree's top) are tracked.
#[derive(Debug)]
pub struct GitView {
    tracked: HashSet<Vec<u8>>,
}

impl GitView {
    /// The view of the work tree whose top is `top`; `None` outside a work tree. An
    /// unreadable index is a warning, and the scan goes on as outside git.
    pub fn open(top: &Path) -> Option<GitView> {
        if !top.join(".git").exists() {
            return None;
        }
        let tracked = crate::git::open(top).and_then(|r| crate::git::tracked_paths(&r));
        match tracked {
            Ok(tracked) => Some(GitView { tracked }),
            Err(e) => {
                tracing::warn!(
                    "{}: the git index cannot be read, so files are not told apart as tracked or not: {e}",
                    top.display()
                );
                None
            }
        }
    }

    /// Is `path` (relative to the top) tracked?
    pub fn is_tracked(&self, path: &str) -> bool {
        self.tracked.contains(path.as_bytes())
    }

    /// The exposure of a file the walk found at `path`: tracked, or untracked.
    pub fn exposure(&self, path: &str) -> Exposure {
        if self.is_tracked(path) {
            Exposure::Tracked
        } else {
            Exposure::Untracked
        }
    }

    /// Tracked paths under `dir` (relative to the top; empty for all), in no order.
    pub fn tracked_under<'a>(&'a self, dir: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.tracked.iter().map(Vec::as_slice).filter(move |p| {
            dir.is_empty()
                || (p.starts_with(dir.as_bytes())
                    && (p.len() == dir.len() || p.get(dir.len()) == Some(&b'/')))
        })
    }
}

/// Compiles the local secret file globs, matched against a file's path relative to the
/// scan root: each one may match from any directory down (`**/` is implied).
pub fn local_secret_globs(globs: &[String]) -> crate::Result<GlobSet> {
    let mut b = GlobSetBuilder::new();
    for g in globs {
        let anywhere = if g.starts_with("**/") || g.starts_with('/') {
            g.trim_start_matches('/').to_string()
        } else {
            format!("**/{g}")
        };
        let glob = GlobBuilder::new(&anywhere).literal_separator(true).build().map_err(|e| {
            crate::Error::Usage(format!(
                "[scan] local_secret_files: glob {g:?} is invalid: {e}\n  hint: globs match a file's name or its path's last components, e.g. \".env.*\" or \"*.tfvars\""
            ))
        })?;
        b.add(glob);
    }
    b.build()
        .map_err(|e| crate::Error::Usage(format!("[scan] local_secret_files: {e}")))
}

/// Is `name` one of the dependency directories?
pub fn is_dependency_dir(name: &std::ffi::OsStr) -> bool {
    name.to_str().is_some_and(|n| DEPENDENCY_DIRS.contains(&n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_secret_globs_match_names() {
        let list: Vec<String> = LOCAL_SECRET_FILES.iter().map(|s| s.to_string()).collect();
        let set = local_secret_globs(&list).unwrap();
        for yes in [
            ".env",
            ".env.local",
            ".env.production.local",
            "prod.tfvars",
            "staging.auto.tfvars",
            "terraform.tfstate",
            "credentials",
            "local_settings.py",
            "app/.env.local",
            "infra/envs/prod.tfvars",
            "bakerydemo/settings/local.py",
            "settings/local_alice.py",
        ] {
            assert!(set.is_match(yes), "{yes}");
        }
        for no in [
            "app.js",
            "env.py",
            "README.md",
            "tfvars.md",
            "environment.ts",
            "app/local.py",
            "settings/base.py",
            "app/xsettings/local.py",
        ] {
            assert!(!set.is_match(no), "{no}");
        }
    }

    #[test]
    fn tracked_under_respects_component_boundaries() {
        let view = GitView {
            tracked: [b"src/a".to_vec(), b"srcx/b".to_vec(), b"c".to_vec()]
                .into_iter()
                .collect(),
        };
        let mut under: Vec<&[u8]> = view.tracked_under("src").collect();
        under.sort();
        assert_eq!(under, vec![&b"src/a"[..]]);
        assert_eq!(view.tracked_under("").count(), 3);
    }

    #[test]
    fn coverage_lines_say_why() {
        let c = Coverage {
            tracked_ignored_scanned: 1,
            ignored_secret_files_scanned: 2,
            ignored_files_not_scanned: 812,
            ignored_dirs_not_scanned: 0,
        };
        let lines = c.lines();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("1 tracked file matched"));
        assert!(lines[2].contains("812 ignored files not scanned; --no-ignore scans them"));
    }
}
