//! History scans at scale: promisor packs and partial clones take the one-pass path and
//! name the blobs they do not have; a missing blob is an error, never a clean result; the
//! memory a scan needs does not grow with the history.

use crate::util::git::{Repo, found, isolate};
use crate::util::*;
use std::io::Write;
use std::process::{Command, Stdio};

/// `keywarden -vv scan ARGS --format json`: exit code, parsed stdout, stderr.
pub(crate) fn scan_vv(
    r: &Repo,
    dir: &std::path::Path,
    args: &[&str],
) -> (i32, serde_json::Value, String) {
    let out = r
        .kw()
        .current_dir(dir)
        .args(["-vv", "scan"])
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert_no_secret("stdout", &out.stdout);
    assert_no_secret("stderr", &out.stderr);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("bad json ({e}); stderr: {err}"));
    (out.status.code().unwrap(), v, err)
}

/// The one-pass path ran (it logs reading the object database at -vv).
pub(crate) fn took_fast_path(stderr: &str) -> bool {
    stderr.contains("history: object database read")
}

/// (path, reason) of the summary's error entries.
pub(crate) fn errors(v: &serde_json::Value) -> Vec<(String, String)> {
    v["summary"]["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["error"] == true)
        .map(|s| {
            (
                s["path"].as_str().unwrap().to_string(),
                s["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_promisor_pack_takes_the_fast_path_and_finds_the_same() {
    let r = Repo::new();
    r.write("README.md", "hi\n");
    r.commit_all("init");
    r.write("deploy/values-prod.yaml", format!("key: {LIVE}\n"));
    let added = r.commit_all("add a key");
    r.write("deploy/values-prod.yaml", "key: ${MASK_KEY}\n");
    r.commit_all("take it out");
    r.git(&["gc", "-q"]);
    let (code, plain, err) = scan_vv(&r, r.path(), &["--history"]);
    assert_eq!(code, 1, "{err}");
    assert!(took_fast_path(&err), "{err}");
    // A repository-fetching tool's mirror: an empty .promisor file beside the pack.
    r.mark_pack_promisor();
    let (code, v, err) = scan_vv(&r, r.path(), &["--history"]);
    assert_eq!(code, 1, "{err}");
    assert!(took_fast_path(&err), "{err}");
    assert_eq!(found(&v), found(&plain));
    assert_eq!(v["findings"][0]["commit"]["commit"], added.as_str());
    assert_eq!(v["summary"]["git"]["missing_blobs"], 0);
    assert_eq!(v["summary"]["git"], plain["summary"]["git"]);
    assert!(errors(&v).is_empty(), "{v:#}");
    // No progress bar when stderr is not a terminal.
    let out = r.kw().args(["scan", "--history"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("reading objects") && !err.contains("comparing trees"),
        "{err}"
    );
}

/// A `--filter=blob:none` clone has the commits and trees but only the blobs it checked
/// out or fetched since: those are scanned (found by the fast path, over two promisor
/// packs), the others are named as missing with why, and a scan that found nothing but
/// missed something exits 2.
#[test]
fn a_blob_none_partial_clone_scans_what_it_has_and_names_what_is_missing() {
    let src = Repo::new();
    src.write("README.md", "hi\n");
    let c0 = src.commit_all("init");
    src.write("config/prod.env", format!("MASK_KEY={LIVE}\n"));
    let c1 = src.commit_all("prod key");
    src.write("config/dev.env", format!("MASK_KEY={TEST}\n"));
    src.commit_all("dev key");
    src.git(&["rm", "-q", "-r", "config"]);
    src.commit_all("keys out");
    src.git(&["config", "uploadpack.allowFilter", "true"]);
    src.git(&["config", "uploadpack.allowAnySHA1InWant", "true"]);
    let prod_blob = src.git(&["rev-parse", &format!("{c1}:config/prod.env")]);

    let dest = tempfile::tempdir().unwrap();
    let clone = dest.path().join("partial");
    let mut c = Command::new("git");
    isolate(&mut c)
        .args(["clone", "-q", "--filter=blob:none"])
        .arg(format!("file://{}", src.path().display()))
        .arg(&clone);
    let out = c.output().unwrap();
    assert!(out.status.success(), "{out:?}");
    // Fetch one old blob on demand, as `git show` would: it lands in a second pack.
    let mut c = Command::new("git");
    isolate(&mut c)
        .current_dir(&clone)
        .args(["cat-file", "-p", &prod_blob])
        .stdout(Stdio::null());
    assert!(c.status().unwrap().success());

    let (code, v, err) = scan_vv(&src, &clone, &["--history"]);
    assert!(took_fast_path(&err), "{err}");
    assert_eq!(code, 1, "{err}");
    // The fetched blob's key, with the commit that introduced it.
    assert_eq!(
        found(&v),
        vec![("config/prod.env".into(), 1, "mk_live_4eC3…p7dc".into())]
    );
    assert_eq!(v["findings"][0]["commit"]["commit"], c1.as_str());
    assert_eq!(v["findings"][0]["commit"]["in_head"], false);
    // The blob never fetched is named, with why and what to do.
    assert_eq!(v["summary"]["git"]["missing_blobs"], 1, "{v:#}");
    let errs = errors(&v);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].0, "config/dev.env");
    assert!(
        errs[0].1.contains("partial clone") && errs[0].1.contains("git fetch --refetch"),
        "{}",
        errs[0].1
    );
    assert_eq!(v["summary"]["errors"], 1);
    // README and the fetched prod.env were read.
    assert_eq!(v["summary"]["git"]["unique_blobs"], 2);
    let text = src
        .kw()
        .current_dir(&clone)
        .args(["scan", "--history"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("config/dev.env") && text.contains("partial clone"),
        "{text}"
    );

    // Nothing found but something missed: exit 2, never a clean result (per-commit path).
    let (code, v, err) = scan_vv(&src, &clone, &["--since", &c1]);
    assert_eq!(code, 2, "{err}");
    assert!(!took_fast_path(&err));
    assert_eq!(found(&v), vec![]);
    assert_eq!(v["summary"]["git"]["missing_blobs"], 1);
    assert_eq!(errors(&v)[0].0, "config/dev.env");
    // A range without missing blobs is clean.
    let (code, v, _) = scan_vv(&src, &clone, &["--range", &format!("{c0}..{c1}")]);
    assert_eq!(
        (code, v["summary"]["git"]["missing_blobs"].as_u64()),
        (1, Some(0))
    );
}

/// A blob deleted from a repository that is not a partial clone (damage, a bad prune):
/// the scan says so and exits 2 on both paths, where it used to report "no findings".
#[test]
fn a_missing_blob_in_a_damaged_repository_is_an_error_not_a_clean_scan() {
    let r = Repo::new();
    r.write("README.md", "hi\n");
    let c0 = r.commit_all("init");
    r.write("secret.env", format!("MASK_KEY={LIVE}\n"));
    r.commit_all("a key");
    r.git(&["rm", "-q", "secret.env"]);
    r.commit_all("gone");
    let blob = r.git(&["rev-parse", "HEAD~1:secret.env"]);
    let file = r
        .path()
        .join(".git/objects")
        .join(&blob[..2])
        .join(&blob[2..]);
    std::fs::remove_file(file).unwrap();
    for args in [vec!["--history"], vec!["--since", c0.as_str()]] {
        let (code, v, err) = scan_vv(&r, r.path(), &args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert_eq!(found(&v), vec![]);
        assert_eq!(v["summary"]["git"]["missing_blobs"], 1);
        let errs = errors(&v);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].0, "secret.env");
        assert!(
            errs[0].1.contains(&blob) && errs[0].1.contains("git fsck"),
            "{}",
            errs[0].1
        );
    }
}

/// A fast-import stream: `files` files in one directory, then `commits` commits that
/// each change one of them (so every commit has a new root tree of `files` entries).
fn wide_history(files: usize, commits: usize) -> Vec<u8> {
    let mut s = Vec::new();
    for i in 1..=commits {
        let when = 1_700_000_000 + i as u64 * 60;
        let msg = format!("commit {i}");
        write!(
            s,
            "commit refs/heads/main\nmark :{i}\nauthor Ada Author <ada@example.invalid> {when} +0000\ncommitter Ada Author <ada@example.invalid> {when} +0000\ndata {}\n{msg}\n",
            msg.len()
        )
        .unwrap();
        if i == 1 {
            for f in 0..files {
                let body = format!("file {f}\n");
                write!(
                    s,
                    "M 100644 inline f{f:05}.txt\ndata {}\n{body}\n",
                    body.len()
                )
                .unwrap();
            }
        } else {
            writeln!(s, "from :{}", i - 1).unwrap();
            let body = format!("version {i}\n");
            write!(
                s,
                "M 100644 inline f{:05}.txt\ndata {}\n{body}\n",
                i % files,
                body.len()
            )
            .unwrap();
        }
    }
    s
}

/// Peak RSS (KiB) of `keywarden -vv scan --history` on a repository of `commits` commits
/// whose root tree has 1,500 entries (60 KB): every commit's trees, kept decoded, would
/// take 60 KB × commits.
fn peak_rss_of_history(commits: usize) -> u64 {
    let r = Repo::new();
    let mut c = Command::new("git");
    isolate(&mut c)
        .current_dir(r.path())
        .args(["fast-import", "--quiet"])
        .stdin(Stdio::piped());
    let mut child = c.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&wide_history(1500, commits))
        .unwrap();
    assert!(child.wait().unwrap().success());
    let (code, v, err) = scan_vv(&r, r.path(), &["--history"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(v["summary"]["git"]["commits"], commits as u64);
    assert!(took_fast_path(&err), "{err}");
    let line = err
        .lines()
        .find(|l| l.contains("history: peak RSS"))
        .unwrap_or_else(|| panic!("no peak RSS line: {err}"));
    line.split("peak RSS ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"))
}

/// The memory bound does not depend on the history's size: 4× the commits (4 × 60 MB of
/// trees) costs at most a few MB more (per-commit ids), not 4× the trees.
#[test]
fn peak_memory_does_not_grow_with_the_history() {
    let small = peak_rss_of_history(1000);
    let big = peak_rss_of_history(4000);
    assert!(
        big < small + 32 * 1024,
        "peak RSS {small} KiB for 1,000 commits, {big} KiB for 4,000"
    );
}
