//! `scan --history` compares trees only when that can change its findings: when a blob
//! holds a key (to name the commit that introduced it, and whether it is still in HEAD)
//! or when a blob or tree the history names may be missing (to name it). Otherwise the
//! summary says the introductions were not computed.

use crate::git_history_scale::{errors, scan_vv, took_fast_path};
use crate::util::git::{Repo, found, isolate};
use crate::util::*;
use std::process::Command;

/// The -vv line of a scan that skipped the comparisons.
fn skipped_comparisons(stderr: &str) -> bool {
    stderr.contains("tree comparisons skipped")
}

/// A few commits without keys: files added, changed, moved into a directory, deleted.
fn clean_history() -> Repo {
    let r = Repo::new();
    r.write("README.md", "hi\n");
    r.write("src/main.rs", "fn main() {}\n");
    r.commit_all("init");
    r.write("src/main.rs", "fn main() { println!(\"hi\"); }\n");
    r.write("docs/a.md", "a\n");
    r.commit_all("two");
    r.git(&["mv", "docs", "guide"]);
    r.git(&["rm", "-q", "README.md"]);
    r.commit_all("three");
    r
}

#[test]
fn no_key_and_nothing_missing_skips_the_comparisons_and_says_so() {
    let r = clean_history();
    r.git(&["gc", "-q"]);
    // A blob no commit holds: read (it may become reachable), counted among the blobs.
    r.write("dangling.txt", "nobody's\n");
    r.git(&["hash-object", "-w", "dangling.txt"]);
    std::fs::remove_file(r.path().join("dangling.txt")).unwrap();
    let (code, v, err) = scan_vv(&r, r.path(), &["--history"]);
    assert_eq!(code, 0, "{err}");
    assert!(took_fast_path(&err) && skipped_comparisons(&err), "{err}");
    let git = &v["summary"]["git"];
    assert_eq!(git["commits"], 3);
    assert_eq!(git["missing_blobs"], 0);
    // README, main.rs twice, a.md, and the dangling blob: every blob of the database.
    assert_eq!(git["unique_blobs"], 5, "{git:#}");
    assert!(git["introductions"].is_null(), "{git:#}");
    assert!(
        git["introductions_not_computed"]
            .as_str()
            .is_some_and(|s| s.contains("no key found")),
        "{git:#}"
    );
    let text = r.kw().args(["scan", "--history"]).output().unwrap();
    assert_eq!(text.status.code(), Some(0));
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("introducing commits not computed"), "{text}");

    // The same with a .promisor file beside the pack: nothing is missing, so the same.
    r.mark_pack_promisor();
    let (code, v2, err) = scan_vv(&r, r.path(), &["--history"]);
    assert_eq!(code, 0, "{err}");
    assert!(skipped_comparisons(&err), "{err}");
    assert_eq!(v2["summary"]["git"], v["summary"]["git"]);

    // A range still counts its introductions (it compares its own commits).
    let (code, v, err) = scan_vv(&r, r.path(), &["--since", "HEAD~2"]);
    assert_eq!(code, 0, "{err}");
    assert!(!skipped_comparisons(&err), "{err}");
    // main.rs and a.md in "two", guide/a.md in "three".
    assert_eq!(v["summary"]["git"]["introductions"], 3, "{v:#}");
}

/// A key anywhere in the database brings the comparisons back: the key's commit and
/// whether it is still in HEAD come out as before; a key only in a blob no commit holds
/// is read, compared, and not reported.
#[test]
fn a_key_brings_the_comparisons_back() {
    let r = clean_history();
    r.write("config/prod.env", format!("MASK_KEY={LIVE}\n"));
    let added = r.commit_all("a key");
    r.write("config/prod.env", "MASK_KEY=${MASK_KEY}\n");
    r.commit_all("key out");
    r.write("app.py", format!("K = \"{LIVE2}\"\n"));
    let kept = r.commit_all("a key that stays");
    let (code, v, err) = scan_vv(&r, r.path(), &["--history"]);
    assert_eq!(code, 1, "{err}");
    assert!(!skipped_comparisons(&err), "{err}");
    let mut rows: Vec<(String, String, bool)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["commit"]["commit"].as_str().unwrap().to_string(),
                f["commit"]["in_head"].as_bool().unwrap(),
            )
        })
        .collect();
    rows.sort();
    assert_eq!(
        rows,
        vec![
            ("app.py".to_string(), kept, true),
            ("config/prod.env".to_string(), added, false)
        ]
    );
    assert!(v["summary"]["git"]["introductions"].as_u64().unwrap() > 0);
    assert!(
        v["summary"]["git"]
            .get("introductions_not_computed")
            .is_none()
    );

    let r = clean_history();
    r.write("dangling.txt", format!("T = \"{TEST}\"\n"));
    r.git(&["hash-object", "-w", "dangling.txt"]);
    std::fs::remove_file(r.path().join("dangling.txt")).unwrap();
    let (code, v, err) = scan_vv(&r, r.path(), &["--history"]);
    assert_eq!(code, 0, "{err}");
    assert!(!skipped_comparisons(&err), "{err}");
    assert_eq!(found(&v), vec![]);
    // Reachable blobs only, as the comparisons counted them.
    assert_eq!(v["summary"]["git"]["unique_blobs"], 4, "{v:#}");
}

/// A partial clone whose only key is in a blob it never fetched: no blob it holds has a
/// key, but the comparisons still run (its trees name blobs it lacks) and name the
/// missing blob, so the scan exits 2, never a clean result. A clone without old trees
/// (`--filter=tree:0`): its commits' root trees are missing, so the comparisons run and
/// fail on the first one (an error, exit 2), as before.
#[test]
fn a_partial_clone_without_keys_still_names_what_is_missing() {
    let src = Repo::new();
    src.write("README.md", "hi\n");
    src.commit_all("init");
    src.write("config/prod.env", format!("MASK_KEY={LIVE}\n"));
    src.commit_all("prod key");
    src.git(&["rm", "-q", "-r", "config"]);
    src.commit_all("key out");
    src.git(&["config", "uploadpack.allowFilter", "true"]);
    src.git(&["config", "uploadpack.allowAnySHA1InWant", "true"]);
    let dest = tempfile::tempdir().unwrap();
    for filter in ["blob:none", "tree:0"] {
        let clone = dest.path().join(filter.replace(':', "-"));
        let mut c = Command::new("git");
        isolate(&mut c)
            .args(["clone", "-q", &format!("--filter={filter}")])
            .arg(format!("file://{}", src.path().display()))
            .arg(&clone);
        let out = c.output().unwrap();
        assert!(out.status.success(), "{out:?}");
        if filter == "tree:0" {
            let out = src
                .kw()
                .current_dir(&clone)
                .args(["-vv", "scan", "--history"])
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{err}");
            assert!(err.contains("reading tree"), "{err}");
            assert!(!skipped_comparisons(&err), "{err}");
            continue;
        }
        let (code, v, err) = scan_vv(&src, &clone, &["--history"]);
        assert_eq!(code, 2, "{filter}: {err}");
        assert!(took_fast_path(&err) && !skipped_comparisons(&err), "{err}");
        assert_eq!(found(&v), vec![], "{filter}");
        assert_eq!(v["summary"]["git"]["missing_blobs"], 1, "{v:#}");
        let errs = errors(&v);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].0, "config/prod.env");
    }
}
