use crate::util::*;

fn fp(key: &str) -> String {
    keywarden::Fingerprint::of(key.as_bytes()).to_string()
}

#[test]
fn inline_directives_suppress_but_are_counted_and_kept_in_json() {
    let t = Tree::new();
    t.write("a.py", format!("K = '{LIVE}'  # keywarden:allow sandbox key, revoked\n# keywarden:allow-next-line\nJ = '{LIVE2}'\nL = '{TEST}'\n"));
    let (code, v) = t.scan_json(&["--fail-on", "high"]);
    assert_eq!(code, 0, "suppressed findings do not fail: {v:#}");
    let f = v["findings"].as_array().unwrap();
    assert_eq!(f.len(), 3);
    assert_eq!(f[0]["suppressed"]["kind"], "inline");
    assert_eq!(f[0]["suppressed"]["reason"], "sandbox key, revoked");
    assert_eq!(f[1]["suppressed"]["kind"], "inline");
    assert_eq!(f[2]["suppressed"], serde_json::Value::Null);
    assert_eq!(v["summary"]["suppressed"], 2);
    assert_eq!(v["summary"]["findings"], 1);
}

#[test]
fn allowlist_by_path_and_fingerprint_with_expiry_and_stale_entries() {
    let t = Tree::new();
    t.write("docs/examples/setup.sh", format!("export MK={LIVE}\n"));
    t.write("src/app.js", format!("k = '{LIVE2}'\n"));
    t.write("src/other.js", format!("k = '{TEST}'\n"));
    t.write(
        ".keywarden.toml",
        format!(
            r#"
[[allow]]
paths = ["docs/examples/**"]
reason = "published sandbox key, revoked"

[[allow]]
fingerprints = ["{}"]
reason = "until the migration lands"
until = 2001-01-01

[[allow]]
fingerprints = ["{}"]
reason = "a key that is not here any more"
"#,
            fp(LIVE2),
            fp("mk_live_NotInTheTreeAtAll0000")
        ),
    );
    let (code, v) = t.scan_json(&[]);
    assert_eq!(code, 1);
    let f = v["findings"].as_array().unwrap();
    let get = |p: &str| f.iter().find(|x| x["path"] == p).unwrap();
    assert_eq!(
        get("docs/examples/setup.sh")["suppressed"]["kind"],
        "allowlist"
    );
    assert_eq!(
        get("docs/examples/setup.sh")["suppressed"]["reason"],
        "published sandbox key, revoked"
    );
    // expired entry: the finding is back, and the entry is reported
    assert_eq!(get("src/app.js")["suppressed"], serde_json::Value::Null);
    let stale: Vec<String> = v["summary"]["stale_allowlist"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["reason"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(stale.len(), 2, "{stale:?}");
    assert!(stale[0].starts_with("expired on 2001-01-01"));
    assert!(stale[1].starts_with("matched no finding"));
    let text = t.cmd().arg("scan").output().unwrap();
    assert!(String::from_utf8_lossy(&text.stdout).contains("warning: allowlist entry"));
}

#[test]
fn suppression_follows_the_key_not_the_line() {
    // An allowlisted fingerprint on a line does not allow a different key on that line.
    let t = Tree::new();
    t.write("cfg.ini", format!("key={LIVE}\n"));
    t.write(
        ".keywarden.toml",
        format!(
            "[[allow]]\nfingerprints = [\"{}\"]\nreason = \"ok\"\n",
            fp(LIVE)
        ),
    );
    let (code, _) = t.scan_json(&[]);
    assert_eq!(code, 0);
    t.write("cfg.ini", format!("key={LIVE2}\n"));
    let (code, v) = t.scan_json(&[]);
    assert_eq!(code, 1);
    assert_eq!(v["findings"][0]["suppressed"], serde_json::Value::Null);
}

#[test]
fn config_errors_point_at_line_and_column() {
    let t = Tree::new();
    t.write("a.txt", "x\n");
    t.write(
        ".keywarden.toml",
        "[[allow]]\nfingerprints = [\"mk_live_notafingerprint123\"]\n",
    );
    let out = t.cmd().arg("scan").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(".keywarden.toml:2:17:"), "{err}");
    assert!(err.contains("never put the key itself here"), "{err}");
    assert!(!err.contains("notafingerprint123"), "{err}");
    t.write(".keywarden.toml", "[scan]\nfail_onn = \"high\"\n");
    let out = t.cmd().arg("scan").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains(".keywarden.toml:2:1: [scan]: unknown field `fail_onn`"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // [scan] fail_on applies when no flag says otherwise
    t.write(".keywarden.toml", "[scan]\nfail_on = \"critical\"\n");
    t.write("b.txt", format!("{LIVE}\n"));
    assert_eq!(t.cmd().arg("scan").output().unwrap().status.code(), Some(0));
    assert_eq!(
        t.cmd()
            .args(["scan", "--fail-on", "high"])
            .output()
            .unwrap()
            .status
            .code(),
        Some(1)
    );
}

#[test]
fn allowlist_and_baseline_match_repository_paths_from_any_directory() {
    let t = Tree::new();
    std::process::Command::new("git")
        .args(["init", "-q"])
        .current_dir(t.path())
        .status()
        .unwrap();
    t.write("docs/setup.md", format!("export MK={LIVE}\n"));
    t.write("src/app/main.py", format!("K = '{LIVE2}'\n"));
    t.write(
        ".keywarden.toml",
        "[[allow]]\npaths = [\"docs/**\"]\nreason = \"revoked sandbox key\"\n",
    );
    // scanning the tree by its absolute path: the allowlist still applies
    let abs = t.path().to_str().unwrap().to_string();
    let (_, v) = t.scan_json(&[&abs]);
    let f = v["findings"].as_array().unwrap();
    let docs = f
        .iter()
        .find(|x| x["path"].as_str().unwrap().ends_with("docs/setup.md"))
        .unwrap();
    assert_eq!(docs["suppressed"]["kind"], "allowlist", "{v:#}");
    // a baseline written at the top applies when scanning from a subdirectory
    let out = t
        .cmd()
        .args([
            "baseline",
            "--output",
            ".keywarden-baseline.json",
            "--no-config",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let base = t.path().join(".keywarden-baseline.json");
    let out = t
        .cmd()
        .current_dir(t.path().join("src"))
        .args(["scan", "--no-config", "--format", "json", "--baseline"])
        .arg(&base)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn the_fp_shown_in_text_output_is_enough_for_the_allowlist() {
    let t = Tree::new();
    t.write("src/app.js", format!("k = '{LIVE2}'\nj = '{TEST}'\n"));
    let out = t.cmd().arg("scan").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let row = text.lines().find(|l| l.contains("mk_live_")).unwrap();
    let short = row.rsplit("fp ").next().unwrap().trim();
    assert_eq!(short.len(), 12, "{row}");
    t.write(
        ".keywarden.toml",
        format!(
            "[[allow]]\nfingerprints = [\"{}\"]\nreason = \"sandbox key\"\n",
            short.to_uppercase()
        ),
    );
    let (code, v) = t.scan_json(&[]);
    assert_eq!(code, 1, "the test key still counts");
    let f = v["findings"].as_array().unwrap();
    assert_eq!(f[0]["suppressed"]["kind"], "allowlist");
    assert_eq!(f[1]["suppressed"], serde_json::Value::Null);
    // Longer prefixes work too; shorter than 12 digits is refused.
    t.write(
        ".keywarden.toml",
        format!(
            "[[allow]]\nfingerprints = [\"{}\"]\nreason = \"sandbox key\"\n",
            &fp(LIVE2)[..40]
        ),
    );
    assert_eq!(
        t.scan_json(&[]).1["findings"][0]["suppressed"]["kind"],
        "allowlist"
    );
    t.write(
        ".keywarden.toml",
        format!(
            "[[allow]]\nfingerprints = [\"{}\"]\nreason = \"sandbox key\"\n",
            &short[..11]
        ),
    );
    let out = t.cmd().arg("scan").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(".keywarden.toml:2:17:") && err.contains("at least 12 hex digits"),
        "{err}"
    );
}

#[test]
fn an_allow_entry_needs_a_reason() {
    let t = Tree::new();
    t.write("src/app.js", format!("k = '{LIVE2}'\n"));
    for reason in ["", "reason = \"  \"\n"] {
        t.write(
            ".keywarden.toml",
            format!("[[allow]]\npaths = [\"src/**\"]\n{reason}"),
        );
        let out = t.cmd().arg("scan").output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(".keywarden.toml:2:") && err.contains("has no `reason`"),
            "{err}"
        );
    }
}

#[test]
fn scanning_a_subdirectory_reads_the_config_at_the_top_of_the_repository() {
    let r = crate::util::git::Repo::new();
    r.write("src/app.js", format!("k = '{LIVE2}'\n"));
    r.write("docs/x.md", "nothing\n");
    r.write(
        ".keywarden.toml",
        "[[allow]]\npaths = [\"src/**\"]\nreason = \"made-up\"\n\n[[allow]]\npaths = [\"docs/**\"]\nreason = \"examples\"\n",
    );
    r.write("src/.keywarden.toml", "[scan]\nfail_on = \"critical\"\n");
    for (dir, arg) in [(".", "src"), ("src", "."), ("docs", "../src")] {
        let out = r
            .kw_in(dir)
            .args(["scan", arg, "--format", "json"])
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            v["findings"][0]["suppressed"]["kind"], "allowlist",
            "scan {arg} from {dir}: {v:#}"
        );
        // The docs entry matched nothing because docs/ was not scanned: not stale.
        assert_eq!(
            v["summary"]["stale_allowlist"],
            serde_json::json!([]),
            "{dir} {arg}"
        );
        assert_eq!(out.status.code(), Some(0));
    }
    // Scanning the whole repository does report the entry that matched nothing.
    let (_, v) = r.scan_json(&[]);
    let stale = v["summary"]["stale_allowlist"].as_array().unwrap();
    assert_eq!(stale.len(), 1, "{v:#}");
    assert!(
        stale[0]["location"]
            .as_str()
            .unwrap()
            .ends_with(".keywarden.toml:6")
    );
}
