//! `keywarden hook install|uninstall`, and the hook blocking a real `git commit`.

use crate::util::git::Repo;
use crate::util::*;

fn commit(r: &Repo, msg: &str) -> std::process::Output {
    // Hooks run with the repository's top as working directory; git finds `keywarden`
    // through the absolute path the hook was written with.
    r.git_output_in(r.path(), &["commit", "-q", "-m", msg])
}

#[test]
fn the_hook_blocks_a_real_commit_that_adds_a_key_and_lets_a_clean_one_through() {
    let r = Repo::new();
    r.write("README.md", "hello\n");
    r.commit_all("init");
    let out = r.kw().args(["hook", "install"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let hook = r.path().join(".git/hooks/pre-commit");
    let text = std::fs::read_to_string(&hook).unwrap();
    assert!(text.contains("keywarden-managed-hook") && text.contains("scan --staged"));

    r.write("src/pay.py", format!("KEY = \"{LIVE}\"\n"));
    r.git(&["add", "-A"]);
    let out = commit(&r, "add payments");
    assert!(!out.status.success(), "the commit went through");
    let all = [out.stdout.as_slice(), out.stderr.as_slice()].concat();
    let msg = String::from_utf8_lossy(&all);
    assert!(msg.contains("src/pay.py"), "{msg}");
    assert!(msg.contains("mk_live_4eC3…p7dc"), "{msg}");
    assert!(msg.contains("commit blocked"), "{msg}");
    assert!(msg.contains("keywarden:allow"), "{msg}");
    assert!(msg.contains("keywarden baseline"), "{msg}");
    assert_no_secret("hook output", &all);
    assert_eq!(r.git(&["rev-list", "--count", "HEAD"]), "1");

    // A deliberate exception goes through.
    r.write(
        "src/pay.py",
        format!("KEY = \"{LIVE}\"  # keywarden:allow revoked\n"),
    );
    r.git(&["add", "-A"]);
    assert!(commit(&r, "fixture").status.success());
    // So does a clean commit.
    r.write("src/other.py", "x = 1\n");
    r.git(&["add", "-A"]);
    assert!(commit(&r, "clean").status.success());
    assert_eq!(r.git(&["rev-list", "--count", "HEAD"]), "3");

    // The hook uses .keywarden-baseline.json when the repository has one.
    r.write("legacy.env", format!("MASK={LIVE2}\n"));
    let out = r.kw().args(["baseline"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    r.git(&["add", "-A"]);
    let out = commit(&r, "legacy key, baselined");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn install_honours_core_hooks_path_and_refuses_foreign_hooks() {
    let r = Repo::new();
    r.git(&["config", "core.hooksPath", "tools/hooks"]);
    let out = r.kw_in(".").args(["hook", "install"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let hook = r.path().join("tools/hooks/pre-commit");
    assert!(hook.exists());
    assert!(!r.path().join(".git/hooks/pre-commit").exists());
    // Installing again updates our own hook.
    let out = r.kw().args(["hook", "install"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("updated"));
    // Uninstall removes ours.
    let out = r.kw().args(["hook", "uninstall"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(!hook.exists());

    // A foreign hook: refused without --force, kept by uninstall.
    std::fs::write(&hook, "#!/bin/sh\nexec make lint\n").unwrap();
    let out = r.kw().args(["hook", "install"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("did not write") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&hook).unwrap(),
        "#!/bin/sh\nexec make lint\n"
    );
    let out = r.kw().args(["hook", "uninstall"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(hook.exists());
    // --force replaces it and keeps a backup.
    let out = r
        .kw()
        .args(["hook", "install", "--force"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        std::fs::read_to_string(&hook)
            .unwrap()
            .contains("keywarden-managed-hook")
    );
    let backup = r.path().join("tools/hooks/pre-commit.keywarden-backup");
    assert_eq!(
        std::fs::read_to_string(&backup).unwrap(),
        "#!/bin/sh\nexec make lint\n"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("`keywarden hook uninstall` puts it back")
    );
    // Uninstall puts the user's own hook back, and says so.
    let out = r.kw().args(["hook", "uninstall"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("your previous hook is back in place"),
        "{out:?}"
    );
    assert_eq!(
        std::fs::read_to_string(&hook).unwrap(),
        "#!/bin/sh\nexec make lint\n"
    );
    assert!(!backup.exists());
}

#[test]
fn install_in_a_bare_repository_is_refused() {
    let r = Repo::new();
    r.git(&["init", "-q", "--bare", "server.git"]);
    let out = r
        .kw_in("server.git")
        .args(["hook", "install"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bare repository") && err.contains("scan --range"),
        "{err}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("now blocked"));
    assert!(!r.path().join("server.git/hooks/pre-commit").exists());
}

#[test]
fn install_works_from_a_subdirectory() {
    let r = Repo::new();
    r.write("a/b/c.txt", "x\n");
    let out = r.kw_in("a/b").args(["hook", "install"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(r.path().join(".git/hooks/pre-commit").exists());
}

#[test]
fn the_hook_sees_the_temporary_index_of_commit_a_and_commit_with_paths() {
    // `git commit -a` and `git commit FILE` run hooks against a temporary index
    // (GIT_INDEX_FILE): the key is not staged in .git/index, yet it is what gets committed.
    let r = Repo::new();
    r.write("a.py", "x = 1\n");
    r.commit_all("init");
    r.kw().args(["hook", "install"]).assert().code(0);
    r.write("a.py", format!("x = 1\nK = \"{LIVE}\"\n"));
    let out = r.git_output_in(r.path(), &["commit", "-q", "-a", "-m", "all"]);
    assert!(!out.status.success(), "git commit -a went through");
    assert_no_secret("commit -a", &[out.stdout, out.stderr].concat());
    let out = r.git_output_in(r.path(), &["commit", "-q", "-m", "paths", "a.py"]);
    assert!(!out.status.success(), "git commit FILE went through");
    assert_eq!(r.git(&["rev-list", "--count", "HEAD"]), "1");
}
