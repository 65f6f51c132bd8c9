//! Output for people and tools: `--format compact`, aligned text columns with the fix
//! once per rule, the summary on stderr with `-o`, `rules list --format`.

use crate::util::*;

fn planted() -> Tree {
    let t = Tree::new();
    t.write(".env.production", format!("MASK_KEY={LIVE}\n"));
    t.write(
        "public/app.js",
        format!("const k = \"{LIVE2}\";\nconst t = \"{TEST}\";\n"),
    );
    t.write("config/production.yml", format!("mask:\n  key: {TEST}\n"));
    t.write("docs/setup.md", format!("export MASK_KEY={LIVE2}\n"));
    t
}

#[test]
fn compact_is_one_line_per_finding_matching_json() {
    let t = planted();
    let (json_code, v) = t.scan_json(&[]);
    let out = t
        .cmd()
        .args(["scan", "--format", "compact"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(json_code));
    assert_no_secret("compact", &out.stdout);
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let findings = v["findings"].as_array().unwrap();
    assert_eq!(lines.len(), findings.len(), "{text}");
    for (line, f) in lines.iter().zip(findings) {
        let fp = f["fingerprint"].as_str().unwrap();
        let want = format!(
            "{}:{}:{}: {} {} {} {} {} fp={}",
            f["path"].as_str().unwrap(),
            f["line"],
            f["column"],
            f["severity"].as_str().unwrap(),
            f["rule"].as_str().unwrap(),
            f["context"].as_str().unwrap(),
            f["exposure"].as_str().unwrap(),
            f["redacted"].as_str().unwrap(),
            &fp[..12]
        );
        assert_eq!(*line, want);
    }
    assert!(text.contains(
        "public/app.js:1:12: critical mask.live-key client-side outside-git mk_live_Zq8W…9Mh4 fp="
    ));
}

#[test]
fn compact_marks_suppressed_findings_only_when_asked() {
    let t = Tree::new();
    t.write(
        "src/a.py",
        format!("K = \"{LIVE}\"  # keywarden:allow rotated\nJ = \"{LIVE2}\"\n"),
    );
    let plain = t.cmd().args(["scan", "-f", "compact"]).output().unwrap();
    let plain = String::from_utf8(plain.stdout).unwrap();
    assert_eq!(plain.lines().count(), 1, "{plain}");
    assert!(plain.starts_with("src/a.py:2:"));
    let all = t
        .cmd()
        .args(["scan", "-f", "compact", "--show-suppressed"])
        .output()
        .unwrap();
    let all = String::from_utf8(all.stdout).unwrap();
    assert_eq!(all.lines().count(), 2, "{all}");
    assert!(
        all.lines().next().unwrap().ends_with(" suppressed=inline"),
        "{all}"
    );
}

#[test]
fn text_columns_line_up_and_each_fix_is_printed_once() {
    let t = planted();
    // A second live key in client-side code: same rule, same fix.
    t.write("public/more.js", format!("a = \"{LIVE}\";\n"));
    let out = t.cmd().args(["scan"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<&str> = text.lines().filter(|l| l.contains(" fp ")).collect();
    assert_eq!(rows.len(), 6, "{text}");
    // Every column starts at the same offset on every row.
    for col in ["mask.", "outside-git", "mk_", " fp "] {
        let at: Vec<usize> = rows.iter().map(|r| r.find(col).unwrap()).collect();
        assert!(
            at.windows(2).all(|w| w[0] == w[1]),
            "{col} not aligned:\n{text}"
        );
    }
    let fixes: Vec<&str> = text.lines().filter(|l| l.starts_with("fix (")).collect();
    // live key: client-side, production-config and docs each have their own fix text.
    let client = fixes
        .iter()
        .filter(|l| l.starts_with("fix (mask.live-key in client-side"))
        .count();
    assert_eq!(client, 1, "{text}");
    let mut distinct = fixes.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), fixes.len(), "a fix printed twice:\n{text}");
    assert!(fixes.len() < rows.len(), "{text}");
}

#[test]
fn output_file_leaves_the_summary_on_stderr() {
    let t = planted();
    let out = t
        .cmd()
        .args(["scan", "-f", "sarif", "-o", "out.sarif"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("5 findings: 1 critical, ") && err.contains("report written to out.sarif"),
        "{err}"
    );
    let quiet = t
        .cmd()
        .args(["scan", "-q", "-f", "sarif", "-o", "out.sarif"])
        .output()
        .unwrap();
    assert!(quiet.stderr.is_empty());
}

#[test]
fn plurals_in_the_summary() {
    let t = Tree::new();
    t.write("a.txt", format!("{TEST}\n"));
    let out = t.cmd().args(["scan"]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("1 finding: 0 critical"), "{text}");
    assert!(text.contains("scanned 1 file, "), "{text}");
    assert!(
        !text.contains("1 files") && !text.contains("1 findings"),
        "{text}"
    );
}

#[test]
fn rules_list_refuses_a_format_it_cannot_write() {
    let t = Tree::new();
    let out = t
        .cmd()
        .args(["rules", "list", "--format", "sarif"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("possible values: text, json"));
    let out = t
        .cmd()
        .args(["rules", "list", "--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["rules"].as_array().unwrap().len() >= 2);
}

fn stderr_of(t: &Tree, args: &[&str]) -> (i32, String) {
    let out = t.cmd().args(args).output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn messages_name_the_value_the_field_and_each_cause_once() {
    let t = Tree::new();
    t.write("svc.toml", "[daemon]\ntime_zone = \"Europe/Berln\"\n");
    let (code, err) = stderr_of(&t, &["config", "check", "svc.toml"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("unknown time zone 'Europe/Berln': did you mean 'Europe/Berlin'?"),
        "{err}"
    );
    assert!(!err.contains("top-level sections"), "unrelated hint: {err}");
    t.write(
        "svc.toml",
        "[[daemon.scan]]\nname = \"x\"\npaths = [\"/srv\"]\nschedule = \"0 61 * * * *\"\n",
    );
    let (_, err) = stderr_of(&t, &["config", "check", "svc.toml"]);
    assert!(
        err.contains("field 2 (minute) is 61, out of its range 0-59"),
        "{err}"
    );
    t.write("svc.toml", "[deamon]\n");
    let (_, err) = stderr_of(&t, &["config", "check", "svc.toml"]);
    assert!(
        err.contains("did you mean `daemon`?") && err.contains("top-level sections"),
        "{err}"
    );

    t.write("a.txt", "x\n");
    for args in [
        &["scan", "--config", "nope.toml"][..],
        &["scan", "--baseline", "nope.json"],
        &["report", "nope.json"],
    ] {
        let (code, err) = stderr_of(&t, args);
        assert_eq!(code, 2);
        assert_eq!(err.matches("os error 2").count(), 1, "{args:?}: {err}");
    }
}

#[test]
fn git_hints_are_commands_that_work() {
    let r = crate::util::git::Repo::new();
    r.write("a.txt", "x\n");
    r.commit_all("first");
    r.git(&["remote", "add", "origin", "https://example.invalid/app.git"]);
    let out = r
        .kw()
        .args(["scan", "--since", "origin/main"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`git fetch origin main`"), "{err}");
    let out = r
        .kw()
        .args(["baseline", "--history", "-o", "known.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("`keywarden scan --history --baseline known.json`")
    );
    let out = r.kw().args(["scan", "--history"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("1 commit,") || text.contains("1 commit\n"),
        "{text}"
    );
}

#[test]
fn sarif_columns_in_utf16_files_count_code_units() {
    let t = Tree::new();
    let le: Vec<u8> = format!("\u{feff}line one\nключ = \"{LIVE}\" 😀\n")
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let be: Vec<u8> = format!("\u{feff}ключ 😀 = {LIVE2}\n")
        .encode_utf16()
        .flat_map(u16::to_be_bytes)
        .collect();
    t.write("le.txt", le);
    t.write("be.txt", be);
    let out = t.cmd().args(["scan", "-f", "sarif"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["runs"][0]["columnKind"], "utf16CodeUnits");
    let mut got: Vec<(String, u64, u64)> = v["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let l = &r["locations"][0]["physicalLocation"];
            (
                l["artifactLocation"]["uri"].as_str().unwrap().to_string(),
                l["region"]["startLine"].as_u64().unwrap(),
                l["region"]["startColumn"].as_u64().unwrap(),
            )
        })
        .collect();
    got.sort();
    // "ключ = \"" is 8 code units; the BOM is not a column; 😀 is a surrogate pair.
    assert_eq!(got, vec![("be.txt".into(), 1, 11), ("le.txt".into(), 2, 9)]);
}

#[test]
fn report_of_a_scan_file_is_named_after_it_and_dated_by_the_scan() {
    let t = planted();
    let out = t
        .cmd()
        .args(["scan", "-f", "json", "-o", "scan.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(t.path().join("scan.json")).unwrap()).unwrap();
    let at = v["generated_at"].as_str().unwrap().to_string();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let out = t
        .cmd()
        .args(["report", "scan.json", "-f", "json"])
        .output()
        .unwrap();
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(m["source"], "scan.json");
    assert_eq!(m["generated_at"], at.as_str());
    let text = t.cmd().args(["report", "scan.json"]).output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("Scan of scan.json") && !text.contains("Scan of scan:"),
        "{text}"
    );
}
