//! `keywarden baseline` and `scan --baseline`.

use crate::util::git::{Repo, found};
use crate::util::*;

#[test]
fn baseline_records_fingerprints_sorted_and_stable_and_scan_reports_only_new_findings() {
    let t = Tree::new();
    t.write("z/app.py", format!("K = \"{LIVE}\"\n"));
    t.write("a/.env.production", format!("MASK={LIVE2}\nT={TEST}\n"));
    let out = t
        .cmd()
        .args(["baseline", "--output", "kb.json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first = std::fs::read(t.path().join("kb.json")).unwrap();
    assert_no_secret("baseline file", &first);
    assert_no_secret("baseline stdout", &out.stdout);
    let doc: serde_json::Value = serde_json::from_slice(&first).unwrap();
    let entries = doc["entries"].as_array().unwrap();
    let keys: Vec<_> = entries
        .iter()
        .map(|e| (e["path"].as_str().unwrap(), e["rule"].as_str().unwrap()))
        .collect();
    assert_eq!(
        keys,
        vec![
            ("a/.env.production", "mask.live-key"),
            ("a/.env.production", "mask.test-key"),
            ("z/app.py", "mask.live-key"),
        ]
    );
    for e in entries {
        let mut fields: Vec<_> = e.as_object().unwrap().keys().cloned().collect();
        fields.sort();
        assert_eq!(fields, ["context", "fingerprint", "path", "rule"]);
        assert_eq!(e["fingerprint"].as_str().unwrap().len(), 64);
    }
    // Stable: the same bytes again.
    t.cmd().args(["baseline", "-o", "kb.json"]).assert().code(0);
    assert_eq!(std::fs::read(t.path().join("kb.json")).unwrap(), first);

    // Everything known: exit 0, findings listed as suppressed by the baseline.
    let (code, v) = t.scan_json(&["--baseline", "kb.json"]);
    assert_eq!(code, 0);
    assert_eq!(v["summary"]["suppressed"], 3);
    assert_eq!(v["findings"][0]["suppressed"]["kind"], "baseline");

    // Moving a key to another line keeps it known.
    t.write(
        "z/app.py",
        format!("import os\n\n# moved\nK = \"{LIVE}\"\n"),
    );
    assert_eq!(t.scan_json(&["--baseline", "kb.json"]).0, 0);
    // Copying it to another file is new.
    t.write("z/copy.py", format!("K = \"{LIVE}\"\n"));
    let (code, v) = t.scan_json(&["--baseline", "kb.json"]);
    assert_eq!(code, 1);
    let active: Vec<_> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["suppressed"].is_null())
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(active, ["z/copy.py"]);
}

#[test]
fn a_broken_baseline_is_an_error_with_its_location() {
    let t = Tree::new();
    t.write("a.py", format!("K = \"{LIVE}\"\n"));
    t.write(
        "kb.json",
        "{\"version\": 1, \"entries\": [\n  {\"path\": 3}\n]}\n",
    );
    let out = t
        .cmd()
        .args(["scan", "--baseline", "kb.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("kb.json:2:"), "{err}");
    assert!(err.contains("keywarden baseline"), "{err}");
}

#[test]
fn baselines_apply_to_staged_and_history_scans() {
    let r = Repo::new();
    r.write("old.env", format!("MASK={LIVE}\n"));
    r.commit_all("legacy");
    r.kw()
        .args(["baseline", "--history", "-o", "hist.json"])
        .assert()
        .code(0);
    let (code, v) = r.scan_json(&["--history", "--baseline", "hist.json"]);
    assert_eq!((code, found(&v)), (0, vec![]));
    // A new key in another file is still reported by the staged scan.
    r.write("new.env", format!("MASK={LIVE}\n"));
    r.git(&["add", "new.env"]);
    let (code, v) = r.scan_json(&["--staged", "--baseline", "hist.json"]);
    assert_eq!(code, 1);
    assert_eq!(
        found(&v),
        vec![("new.env".into(), 1, "mk_live_4eC3…p7dc".into())]
    );
}
