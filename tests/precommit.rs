//! The pre-commit framework: `.pre-commit-hooks.yaml` of this checkout, run for real with
//! `pre-commit try-repo` (the `keywarden-system` hook, with the built binary first on PATH).
//! The `language: rust` hook would make pre-commit build the crate in release mode, too
//! slow here: it is checked with `pre-commit validate-manifest` only.
//!
//! Skipped only when `pre-commit` is missing and `CI` is unset; in CI a missing
//! `pre-commit` fails the test (`.ci/run` installs it from PyPI).

use crate::util::git::{Repo, isolate};
use crate::util::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn pre_commit_available() -> bool {
    let found = Command::new("pre-commit")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "pre-commit is not on PATH but CI is set: .ci/run must install it (python3 -m pip install pre-commit)"
        );
        crate::util::skipped(
            "precommit",
            "pre-commit is not installed (python3 -m pip install pre-commit)",
        );
    }
    found
}

fn checkout() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn pre_commit(dir: &Path, home: &Path, args: &[&str]) -> Output {
    let bin = assert_cmd::cargo::cargo_bin("keywarden");
    let bin_dir = bin.parent().unwrap().to_path_buf();
    let path = std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .unwrap();
    let mut c = Command::new("pre-commit");
    isolate(&mut c)
        .current_dir(dir)
        .env("PATH", path)
        .env("PRE_COMMIT_HOME", home)
        .env("NO_COLOR", "1")
        .env_remove("KEYWARDEN_FAIL_ON")
        .env_remove("KEYWARDEN_FORMAT")
        .args(args);
    c.output().unwrap()
}

#[test]
fn the_hooks_manifest_is_valid() {
    if !pre_commit_available() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let out = pre_commit(
        &checkout(),
        home.path(),
        &["validate-manifest", ".pre-commit-hooks.yaml"],
    );
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(checkout().join(".pre-commit-hooks.yaml")).unwrap();
    for needle in [
        "id: keywarden\n",
        "language: rust",
        "id: keywarden-system",
        "language: system",
        "entry: keywarden scan --fail-on low",
        "pass_filenames: true",
    ] {
        assert!(text.contains(needle), "missing {needle:?}");
    }
}

#[test]
fn try_repo_rejects_a_commit_adding_a_live_key_and_passes_a_clean_one() {
    if !pre_commit_available() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let r = Repo::new();
    r.write("README.md", "hello\n");
    r.commit_all("init");
    let repo_arg = checkout().to_string_lossy().into_owned();

    r.write("src/settings.py", format!("MASK_KEY = \"{LIVE}\"\n"));
    r.write("unstaged.py", format!("K = \"{LIVE2}\"\n"));
    r.git(&["add", "src/settings.py"]);
    let out = pre_commit(
        r.path(),
        home.path(),
        &["try-repo", &repo_arg, "keywarden-system"],
    );
    let all = [out.stdout.as_slice(), out.stderr.as_slice()].concat();
    let text = String::from_utf8_lossy(&all);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("src/settings.py"), "{text}");
    assert!(text.contains("mk_live_4eC3…p7dc"), "{text}");
    assert!(
        !text.contains("unstaged.py"),
        "only staged files are passed: {text}"
    );
    assert_no_secret("pre-commit output", &all);

    r.git(&["reset", "-q"]);
    std::fs::remove_file(r.path().join("src/settings.py")).unwrap();
    r.write("src/clean.py", "MASK_KEY = os.environ[\"MASK_KEY\"]\n");
    r.git(&["add", "src/clean.py"]);
    let out = pre_commit(
        r.path(),
        home.path(),
        &["try-repo", &repo_arg, "keywarden-system"],
    );
    let text = String::from_utf8_lossy(&[out.stdout.as_slice(), out.stderr.as_slice()].concat())
        .into_owned();
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("Passed"), "{text}");
}
