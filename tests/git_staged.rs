//! `keywarden scan --staged`: what the next commit adds, read from the index.

use crate::util::git::{Repo, found};
use crate::util::*;

const R_LIVE: &str = "mk_live_4eC3…p7dc";
const R_LIVE2: &str = "mk_live_Zq8W…9Mh4";

fn lines(n: usize) -> String {
    (1..=n).map(|i| format!("line {i}\n")).collect()
}

#[test]
fn first_commit_counts_every_staged_line() {
    let r = Repo::new();
    r.write(
        "app/settings.py",
        format!("DEBUG = False\nKEY = \"{LIVE}\"\n"),
    );
    r.write("untracked.py", format!("KEY = \"{LIVE2}\"\n"));
    r.git(&["add", "app/settings.py"]);
    let (code, v) = r.scan_json(&["--staged"]);
    assert_eq!(code, 1);
    assert_eq!(
        found(&v),
        vec![("app/settings.py".into(), 2, R_LIVE.into())]
    );
    assert_eq!(v["summary"]["git"]["first_commit"], true);
    assert_eq!(v["summary"]["files"], 1);
}

#[test]
fn partial_staging_scans_only_the_staged_hunk_with_staged_line_numbers() {
    let r = Repo::new();
    r.write("src/config.py", lines(20));
    r.commit_all("base");
    // Working tree: a key at the top and one at the bottom. Stage only the bottom hunk,
    // as `git add -p` would, with `git apply --cached`.
    r.write(
        "src/config.py",
        format!("TOP = \"{LIVE}\"\n{}BOTTOM = \"{LIVE2}\"\n", lines(20)),
    );
    let diff = r.git(&["diff", "-U0", "src/config.py"]);
    let header: Vec<&str> = diff.lines().take_while(|l| !l.starts_with("@@")).collect();
    let hunks: Vec<&str> = diff.split("\n@@").skip(1).collect();
    assert_eq!(hunks.len(), 2, "{diff}");
    let patch = format!("{}\n@@{}\n", header.join("\n"), hunks[1]);
    let patch_file = r.path().join("bottom.patch");
    std::fs::write(&patch_file, patch).unwrap();
    r.git(&["apply", "--cached", "--unidiff-zero", "bottom.patch"]);
    std::fs::remove_file(patch_file).unwrap();
    let (code, v) = r.scan_json(&["--staged"]);
    assert_eq!(code, 1);
    // Line 21 in the staged version (the working tree has it on line 22).
    assert_eq!(
        found(&v),
        vec![("src/config.py".into(), 21, R_LIVE2.into())]
    );

    // Staging then editing: the index content counts, not the working tree.
    r.git(&["reset", "-q"]);
    r.write(
        "src/config.py",
        format!("{}BOTTOM = \"{LIVE2}\"\n", lines(20)),
    );
    r.git(&["add", "src/config.py"]);
    r.write("src/config.py", lines(20));
    let (code, v) = r.scan_json(&["--staged"]);
    assert_eq!(code, 1);
    assert_eq!(
        found(&v),
        vec![("src/config.py".into(), 21, R_LIVE2.into())]
    );
    // And the other way round: a key only in the working tree does not block.
    r.git(&["reset", "-q"]);
    r.write(
        "src/config.py",
        format!("{}BOTTOM = \"{LIVE2}\"\n", lines(20)),
    );
    let (code, v) = r.scan_json(&["--staged"]);
    assert_eq!((code, found(&v)), (0, vec![]));
}

#[test]
fn a_key_already_in_head_does_not_block_and_deleting_one_never_does() {
    let r = Repo::new();
    r.write("svc.py", format!("A = 1\nKEY = \"{LIVE}\"\nB = 2\n"));
    r.commit_all("old key");
    // Editing another line.
    r.write("svc.py", format!("A = 10\nKEY = \"{LIVE}\"\nB = 2\n"));
    r.git(&["add", "svc.py"]);
    let (code, v) = r.scan_json(&["--staged"]);
    assert_eq!((code, found(&v)), (0, vec![]));
    // --whole-files reports it.
    let (code, v) = r.scan_json(&["--staged", "--whole-files"]);
    assert_eq!(code, 1);
    assert_eq!(found(&v), vec![("svc.py".into(), 2, R_LIVE.into())]);
    // Editing the key's own line does not make the old key new.
    r.write(
        "svc.py",
        format!("A = 1\nKEY = \"{LIVE}\"  # prod\nB = 2\n"),
    );
    r.git(&["add", "svc.py"]);
    assert_eq!(r.scan_json(&["--staged"]).0, 0);
    // Adding a second key to the same file does block, on its line.
    r.write(
        "svc.py",
        format!("A = 1\nKEY = \"{LIVE}\"\nB = 2\nK2 = \"{LIVE2}\"\n"),
    );
    r.git(&["add", "svc.py"]);
    let (code, v) = r.scan_json(&["--staged"]);
    assert_eq!(code, 1);
    assert_eq!(found(&v), vec![("svc.py".into(), 4, R_LIVE2.into())]);
    // Deleting the key's line.
    r.write("svc.py", "A = 1\nB = 2\n");
    r.git(&["add", "svc.py"]);
    assert_eq!(r.scan_json(&["--staged"]).0, 0);
    // Deleting the file.
    r.git(&["rm", "-q", "-f", "svc.py"]);
    let (code, v) = r.scan_json(&["--staged"]);
    assert_eq!((code, v["summary"]["files"].as_u64()), (0, Some(0)));
}

#[test]
fn renames_binaries_and_submodules() {
    let r = Repo::new();
    r.write("old/keys.env", format!("MASK_KEY={LIVE}\n"));
    r.write("README.md", "hello\n");
    r.commit_all("base");
    // A pure rename adds nothing.
    std::fs::create_dir(r.path().join("new")).unwrap();
    r.git(&["mv", "old/keys.env", "new/keys.env"]);
    let (code, v) = r.scan_json(&["--staged"]);
    assert_eq!((code, found(&v)), (0, vec![]));
    assert_eq!(v["summary"]["git"]["renamed_unchanged"], 1);
    // A rename with an edit: the old key is not new; a key added in the edit is.
    r.write("new/keys.env", format!("MASK_KEY={LIVE}\nOTHER={LIVE2}\n"));
    r.git(&["add", "-A"]);
    let (code, v) = r.scan_json(&["--staged"]);
    assert_eq!(code, 1);
    assert_eq!(found(&v), vec![("new/keys.env".into(), 2, R_LIVE2.into())]);
    r.git(&["reset", "-q", "--hard"]);
    // A rename with an edit to another name (git shows `R`, by content): the old key is
    // not new either; an unrelated new file with the same key is (a copy).
    let body = "import os\n\ndef client():\n    return connect(KEY)\n\n\ndef close():\n    pass\n";
    r.write("svc/mask_client.py", format!("KEY = \"{LIVE}\"\n{body}"));
    r.commit_all("client");
    r.git(&["mv", "svc/mask_client.py", "svc/mask_gateway.py"]);
    let edited = format!("KEY = \"{LIVE}\"\n{body}x = 1\n");
    r.write("svc/mask_gateway.py", &edited);
    r.git(&["add", "-A"]);
    let status = r.git(&["status", "--porcelain"]);
    assert!(status.starts_with("R "), "{status}");
    let (code, v) = r.scan_json(&["--staged"]);
    assert_eq!((code, found(&v)), (0, vec![]), "{v:#}");
    r.write("tools/other.py", format!("TOKEN = \"{LIVE}\"\n"));
    r.git(&["add", "-A"]);
    let (code, v) = r.scan_json(&["--staged"]);
    assert_eq!(code, 1);
    assert_eq!(found(&v), vec![("tools/other.py".into(), 1, R_LIVE.into())]);
    r.git(&["reset", "-q", "--hard"]);
    // A binary file with a key is scanned (reported by offset).
    let mut bin = vec![0x7f, b'E', b'L', b'F', 0, 0, 0, 0];
    bin.extend_from_slice(LIVE2.as_bytes());
    bin.extend_from_slice(&[0, 1, 2]);
    r.write("bin/tool", &bin);
    // A submodule (a gitlink entry) is skipped and listed.
    let head = r.git(&["rev-parse", "HEAD"]);
    r.git(&[
        "update-index",
        "--add",
        "--cacheinfo",
        &format!("160000,{head},vendor/lib"),
    ]);
    r.git(&["add", "bin/tool"]);
    let (code, v) = r.scan_json(&["--staged"]);
    assert_eq!(code, 1);
    let f = &v["findings"][0];
    assert_eq!(
        (f["path"].as_str(), f["binary"].as_bool()),
        (Some("bin/tool"), Some(true))
    );
    assert_eq!(f["offset"], 8);
    let skipped = v["summary"]["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0]["path"], "vendor/lib");
    assert!(skipped[0]["reason"].as_str().unwrap().contains("submodule"));
}

#[test]
fn runs_from_a_subdirectory_with_the_repository_config_and_same_contexts() {
    let r = Repo::new();
    r.write(".keywarden.toml", "[scan]\nfail_on = \"critical\"\n");
    r.write("docs/readme.txt", "x\n");
    r.commit_all("base");
    r.write("web/public/app.js", format!("const k = \"{LIVE}\";\n"));
    r.write("deploy/.env.production", format!("MASK={LIVE2}\n"));
    r.git(&["add", "-A"]);
    let (code, v) = r.scan_json_in("docs", &["--staged"]);
    // Contexts and severities as in a tree scan; fail_on from the top's .keywarden.toml.
    assert_eq!(code, 1);
    assert_eq!(
        rows(&v),
        vec![
            (
                "deploy/.env.production".into(),
                1,
                "mask.live-key".into(),
                "high".into(),
                "production-config".into()
            ),
            (
                "web/public/app.js".into(),
                1,
                "mask.live-key".into(),
                "critical".into(),
                "client-side".into()
            ),
        ]
    );
    let (code, _) = r.scan_json_in("docs", &["--staged", "--fail-on", "critical"]);
    assert_eq!(code, 1);
    r.git(&["rm", "-q", "--cached", "web/public/app.js"]);
    let (code, _) = r.scan_json_in("docs", &["--staged"]);
    assert_eq!(
        code, 0,
        "only a high finding left, below fail_on = critical"
    );
}

#[test]
fn text_and_sarif_outputs_never_hold_a_full_key() {
    let r = Repo::new();
    r.write("a.py", format!("K = \"{LIVE}\"\n"));
    r.git(&["add", "a.py"]);
    for fmt in ["text", "json", "sarif"] {
        let out = r
            .kw()
            .args(["scan", "--staged", "--format", fmt])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{fmt}");
        assert_no_secret(fmt, &out.stdout);
        assert_no_secret(fmt, &out.stderr);
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(R_LIVE),
            "{fmt}"
        );
    }
}

#[test]
fn outside_a_repository_is_an_error_that_says_so() {
    let t = Tree::new();
    let out = t
        .cmd()
        .env("GIT_CEILING_DIRECTORIES", t.path().parent().unwrap())
        .args(["scan", "--staged"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not in a git repository"), "{err}");
}

#[test]
fn untouched_directories_are_skipped_by_the_cache_tree_but_changes_in_deep_ones_are_not() {
    let r = Repo::new();
    for d in ["a", "b/x", "b/y", "c", "c-d", "c0"] {
        for i in 0..3 {
            r.write(&format!("{d}/f{i}.py"), format!("x = {i}\n"));
        }
    }
    r.write("top.py", "x = 0\n");
    r.commit_all("base");
    // git's index now has a cache-tree; touch one deep file and add one to a sibling dir.
    r.write("b/y/f1.py", format!("x = 1\nK = \"{LIVE}\"\n"));
    r.write("c/new.py", format!("K = \"{LIVE2}\"\n"));
    r.write("top.py", format!("x = 0\nT = \"{TEST}\"\n"));
    r.git(&["add", "b/y/f1.py", "c/new.py", "top.py"]);
    let (code, v) = r.scan_json(&["--staged"]);
    assert_eq!(code, 1);
    assert_eq!(
        found(&v),
        vec![
            ("b/y/f1.py".into(), 2, R_LIVE.into()),
            ("c/new.py".into(), 1, R_LIVE2.into()),
            ("top.py".into(), 2, "mk_test_Hk3J…4Ab7".into()),
        ]
    );
    assert_eq!(v["summary"]["git"]["staged_files"], 3);
    // After the commit, nothing is staged: the whole index is one unchanged tree.
    r.commit_all("more");
    let (code, v) = r.scan_json(&["--staged"]);
    assert_eq!((code, v["summary"]["files"].as_u64()), (0, Some(0)));
}
