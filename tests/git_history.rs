//! `keywarden scan --history | --since | --range`: blobs from the object database.

use crate::util::git::{Repo, found, isolate};
use crate::util::*;
use std::io::Write;
use std::process::{Command, Stdio};

#[test]
fn a_key_added_then_deleted_is_found_in_history_not_in_the_tree() {
    let r = Repo::new();
    r.write("README.md", "hi\n");
    r.commit_all("init");
    r.write("config/prod.yml", format!("mask:\n  key: {LIVE}\n"));
    let added = r.commit_all("add the prod config");
    r.write("config/prod.yml", "mask:\n  key: ${MASK_KEY}\n");
    r.commit_all("use the environment");
    r.write("src/keep.py", format!("K = \"{LIVE2}\"\n"));
    let kept = r.commit_all("a key still in HEAD");

    let (code, v) = r.scan_json(&[]);
    assert_eq!(
        found(&v),
        vec![("src/keep.py".into(), 1, "mk_live_Zq8W…9Mh4".into())]
    );
    assert_eq!(code, 1);

    let (code, v) = r.scan_json(&["--history"]);
    assert_eq!(code, 1);
    let f: Vec<_> = v["findings"].as_array().unwrap().iter().collect();
    assert_eq!(f.len(), 2, "{v:#}");
    let prod = f.iter().find(|f| f["path"] == "config/prod.yml").unwrap();
    assert_eq!(prod["line"], 2);
    assert_eq!(prod["context"], "production-config");
    assert_eq!(prod["commit"]["commit"], added.as_str());
    assert_eq!(prod["commit"]["subject"], "add the prod config");
    assert_eq!(prod["commit"]["author"], "Ada Author");
    assert_eq!(prod["commit"]["in_head"], false);
    assert_eq!(
        prod["commit"]["status"],
        "in history only: still leaked, revoke it"
    );
    let keep = f.iter().find(|f| f["path"] == "src/keep.py").unwrap();
    assert_eq!(keep["commit"]["commit"], kept.as_str());
    assert_eq!(keep["commit"]["in_head"], true);
    assert_eq!(keep["commit"]["status"], "in HEAD");
    let git = &v["summary"]["git"];
    assert_eq!(git["commits"], 4);
    // README, prod.yml twice, keep.py.
    assert_eq!(git["unique_blobs"], 4);

    // Text and SARIF name the commit too, without the key.
    let out = r.kw().args(["scan", "--history"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("introduced in {}", &added[..12])),
        "{text}"
    );
    assert!(
        text.contains("in history only: still leaked, revoke it"),
        "{text}"
    );
    assert_no_secret("history text", &out.stdout);
    let out = r
        .kw()
        .args(["scan", "--history", "--format", "sarif"])
        .output()
        .unwrap();
    assert_no_secret("history sarif", &out.stdout);
    let sarif: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(
        results
            .iter()
            .any(|x| x["properties"]["commit"]["commit"] == added.as_str())
    );
    assert!(results.iter().any(|x| {
        x["message"]["text"]
            .as_str()
            .unwrap()
            .contains("history only")
    }));
}

/// A fast-import stream of `n` commits on main: each changes `counter.txt`; `config.env`
/// (with LIVE) never changes; `flip.env` alternates between a version with LIVE2 (odd
/// commits) and one without (even commits).
fn fast_import_stream(n: usize) -> Vec<u8> {
    let mut s = Vec::new();
    let blob = |s: &mut Vec<u8>, mark: u32, data: &str| {
        write!(s, "blob\nmark :{mark}\ndata {}\n{data}\n", data.len()).unwrap();
    };
    blob(&mut s, 1, &format!("MASK_KEY={LIVE}\n"));
    blob(&mut s, 2, &format!("FLIP={LIVE2}\n"));
    blob(&mut s, 3, "FLIP=off\n");
    for i in 1..=n {
        let msg = format!("commit {i}");
        let when = 1_700_000_000 + i as u64 * 60;
        write!(
            s,
            "commit refs/heads/main\nmark :{}\nauthor Ada Author <ada@example.invalid> {when} +0000\ncommitter Ada Author <ada@example.invalid> {when} +0000\ndata {}\n{msg}\n",
            100 + i,
            msg.len()
        )
        .unwrap();
        if i > 1 {
            writeln!(s, "from :{}", 99 + i).unwrap();
        }
        if i == 1 {
            writeln!(s, "M 100644 :1 config.env").unwrap();
        }
        writeln!(s, "M 100644 :{} flip.env", if i % 2 == 1 { 2 } else { 3 }).unwrap();
        let counter = format!("{i}\n");
        write!(
            s,
            "M 100644 inline counter.txt\ndata {}\n{counter}\n",
            counter.len()
        )
        .unwrap();
    }
    s
}

fn fast_import(r: &Repo, stream: &[u8]) {
    let mut c = Command::new("git");
    isolate(&mut c)
        .current_dir(r.path())
        .args(["fast-import", "--quiet"])
        .stdin(Stdio::piped());
    let mut child = c.spawn().unwrap();
    child.stdin.take().unwrap().write_all(stream).unwrap();
    assert!(child.wait().unwrap().success());
    r.git(&["reset", "-q", "--hard", "main"]);
}

#[test]
fn the_same_blob_in_1000_commits_is_scanned_once() {
    let r = Repo::new();
    fast_import(&r, &fast_import_stream(1000));
    assert_eq!(r.git(&["rev-list", "--count", "HEAD"]), "1000");
    let first = r.git(&["rev-list", "--max-parents=0", "HEAD"]);
    let (code, v) = r.scan_json(&["--history"]);
    assert_eq!(code, 1);
    let git = &v["summary"]["git"];
    assert_eq!(git["commits"], 1000);
    // 1000 counters + config.env + the two flip.env versions, each read once.
    assert_eq!(git["unique_blobs"], 1003);
    assert_eq!(v["summary"]["files"], 1003);
    // commit 1 brings 3 blobs; each later commit a counter and a flip.
    assert_eq!(git["introductions"], 2001);
    let rows: Vec<_> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap(),
                f["commit"]["commit"].as_str().unwrap(),
                f["commit"]["in_head"].as_bool().unwrap(),
            )
        })
        .collect();
    // One finding per key and path, naming the first commit (flip.env was re-added 500
    // times), and flip.env's key is not in HEAD (commit 1000 is even).
    assert_eq!(
        rows,
        vec![
            ("config.env", first.as_str(), true),
            ("flip.env", first.as_str(), false)
        ]
    );
    // The bytes read are the unique blobs' bytes, not the commits'.
    let bytes = v["summary"]["bytes"].as_u64().unwrap();
    assert!(bytes < 10_000, "{bytes}");
}

#[test]
fn since_and_range_limit_the_commits() {
    let r = Repo::new();
    r.write("a.txt", format!("{LIVE}\n"));
    let c1 = r.commit_all("one");
    r.write("b.txt", format!("{LIVE2}\n"));
    let c2 = r.commit_all("two");
    r.write("c.txt", "clean\n");
    r.commit_all("three");

    let (code, v) = r.scan_json(&["--range", &format!("{c1}..{c2}")]);
    assert_eq!(code, 1);
    assert_eq!(
        found(&v),
        vec![("b.txt".into(), 1, "mk_live_Zq8W…9Mh4".into())]
    );
    assert_eq!(v["summary"]["git"]["commits"], 1);
    assert_eq!(v["summary"]["git"]["selection"], format!("{c1}..{c2}"));

    let (code, v) = r.scan_json(&["--since", &c2]);
    assert_eq!((code, found(&v)), (0, vec![]));
    assert_eq!(v["summary"]["git"]["commits"], 1);
    assert_eq!(v["summary"]["git"]["unique_blobs"], 1);

    let (code, v) = r.scan_json(&["--since", "HEAD~2"]);
    assert_eq!(code, 1);
    assert_eq!(v["summary"]["git"]["commits"], 2);

    // An unresolvable base is an error that says what to fetch, never a clean result.
    for args in [
        vec!["scan", "--range", "origin/main..HEAD"],
        vec![
            "scan",
            "--since",
            "0123456789abcdef0123456789abcdef01234567",
        ],
    ] {
        let out = r.kw().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("cannot resolve") && err.contains("git fetch"),
            "{err}"
        );
    }
    let out = r.kw().args(["scan", "--range", "HEAD"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected A..B"));
}

#[test]
fn a_shallow_clone_is_an_error_that_says_what_to_fetch() {
    let r = Repo::new();
    for i in 0..3 {
        r.write("n.txt", format!("{i}\n"));
        r.commit_all(&format!("c{i}"));
    }
    let dest = tempfile::tempdir().unwrap();
    let url = format!("file://{}", r.path().display());
    let mut c = Command::new("git");
    isolate(&mut c)
        .args(["clone", "-q", "--depth", "1", &url])
        .arg(dest.path().join("shallow"));
    assert!(c.status().unwrap().success());
    let out = r
        .kw()
        .current_dir(dest.path().join("shallow"))
        .args(["scan", "--history"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("shallow clone") && err.contains("git fetch --unshallow"),
        "{err}"
    );
    // A range that reaches past the fetched commits is refused too.
    let out = r
        .kw()
        .current_dir(dest.path().join("shallow"))
        .args(["scan", "--since", "HEAD~1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_merge_does_not_claim_keys_its_branches_introduced() {
    let r = Repo::new();
    r.write("README.md", "hi\n");
    r.commit_all("init");
    r.git(&["checkout", "-q", "-b", "feature"]);
    r.write("feature.py", format!("K = \"{LIVE}\"\n"));
    let on_branch = r.commit_all("feature work");
    r.git(&["checkout", "-q", "main"]);
    r.write("main.py", "x = 1\n");
    r.commit_all("main work");
    r.git(&["merge", "-q", "--no-ff", "--no-edit", "feature"]);
    let (code, v) = r.scan_json(&["--history"]);
    assert_eq!(code, 1);
    assert_eq!(v["findings"].as_array().unwrap().len(), 1);
    assert_eq!(v["findings"][0]["commit"]["commit"], on_branch.as_str());
    assert_eq!(v["findings"][0]["commit"]["in_head"], true);
    assert_eq!(v["summary"]["git"]["commits"], 4);
}

/// `--history` reads the object database in one pass (packs, then loose objects): keys in
/// packed and in loose commits are both found with the commit that introduced them; a
/// dangling blob (reachable from no ref) is read but not reported; a partial clone (a
/// promisor pack) takes the per-commit path and finds the same.
#[test]
fn packed_loose_and_dangling_objects() {
    let r = Repo::new();
    r.write("README.md", "hi\n");
    r.commit_all("init");
    r.write("deploy/values-prod.yaml", format!("key: {LIVE}\n"));
    let packed = r.commit_all("packed key");
    r.git(&["gc", "-q", "--aggressive"]);
    r.write("src/app.py", format!("K = \"{LIVE2}\"\n"));
    let loose = r.commit_all("loose key");
    // A blob with a key that no commit holds.
    let dangling = r.path().join("dangling.txt");
    std::fs::write(&dangling, format!("T = \"{TEST}\"\n")).unwrap();
    r.git(&["hash-object", "-w", "dangling.txt"]);
    std::fs::remove_file(&dangling).unwrap();
    let packs = std::fs::read_dir(r.path().join(".git/objects/pack"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension() == Some("pack".as_ref()))
        .count();
    assert_eq!(packs, 1);

    let rows = |v: &serde_json::Value| {
        let mut rows: Vec<(String, String)> = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["path"].as_str().unwrap().to_string(),
                    f["commit"]["commit"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        rows.sort();
        rows
    };
    let expect = vec![
        ("deploy/values-prod.yaml".to_string(), packed.clone()),
        ("src/app.py".to_string(), loose.clone()),
    ];
    let (code, v) = r.scan_json(&["--history"]);
    assert_eq!(code, 1);
    assert_eq!(rows(&v), expect, "{v:#}");
    // Redacted and fingerprinted only, the dangling blob's key included.
    assert_no_secret("history json", v.to_string().as_bytes());
    let git = &v["summary"]["git"];
    assert_eq!(git["commits"], 3);
    // README, the prod values and app.py: the dangling blob is not in the history.
    assert_eq!(git["unique_blobs"], 3);
    let prod = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "deploy/values-prod.yaml")
        .unwrap();
    assert_eq!(prod["context"], "production-config");
    assert_eq!(prod["commit"]["subject"], "packed key");
    assert_eq!(prod["commit"]["author"], "Ada Author");

    // Garbage no ref reaches (a damaged loose object, as a crash may leave): git
    // tolerates it until gc, and so does the scan (by the per-commit path).
    let junk = r.path().join(".git/objects/ff");
    std::fs::create_dir_all(&junk).unwrap();
    std::fs::write(junk.join("f".repeat(38)), b"not zlib").unwrap();
    let (code, v1) = r.scan_json(&["--history"]);
    assert_eq!(code, 1, "{v1:#}");
    assert_eq!(rows(&v1), expect);
    std::fs::remove_dir_all(&junk).unwrap();

    // A partial clone: the same answer by the per-commit path.
    std::fs::write(r.path().join(".git/objects/pack/partial.promisor"), "").unwrap();
    let (code, v2) = r.scan_json(&["--history"]);
    assert_eq!(code, 1);
    assert_eq!(rows(&v2), expect);
    assert_eq!(v2["summary"]["git"]["unique_blobs"], 3);
}
