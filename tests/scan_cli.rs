use crate::util::*;

#[test]
fn finds_keys_with_context_severity_and_exit_1() {
    let t = Tree::new();
    t.write(".env.production", format!("MASK_KEY={LIVE}\n"));
    t.write("public/app.js", format!("const k = \"{LIVE2}\";\n"));
    t.write("config/production.yml", format!("mask:\n  key: {TEST}\n"));
    t.write("src/lib.rs", "fn main() {}\n");
    let (code, v) = t.scan_json(&[]);
    assert_eq!(code, 1);
    assert_eq!(
        rows(&v),
        vec![
            (
                ".env.production".into(),
                1,
                "mask.live-key".into(),
                "high".into(),
                "production-config".into()
            ),
            (
                "config/production.yml".into(),
                2,
                "mask.test-key".into(),
                "high".into(),
                "production-config".into()
            ),
            (
                "public/app.js".into(),
                1,
                "mask.live-key".into(),
                "critical".into(),
                "client-side".into()
            ),
        ]
    );
    let f = &v["findings"][0];
    assert_eq!(f["column"], 10);
    assert_eq!(f["redacted"], "mk_live_4eC3…p7dc");
    assert_eq!(f["environment"], "live");
    assert_eq!(f["suppressed"], serde_json::Value::Null);
    assert_eq!(f["fingerprint"].as_str().unwrap().len(), 64);
    assert!(f["fix"].as_str().unwrap().contains("Settings → API Keys"));
    assert!(
        v["findings"][1]["fix"]
            .as_str()
            .unwrap()
            .starts_with("this production config uses a test key")
    );
    assert_eq!(v["version"], 1);
    assert_eq!(v["summary"]["files"], 4);
    assert_eq!(v["summary"]["by_severity"]["critical"], 1);
}

#[test]
fn fail_on_and_exit_codes() {
    let t = Tree::new();
    t.write("notes.txt", format!("{TEST}\n"));
    assert_eq!(
        t.cmd().args(["scan"]).output().unwrap().status.code(),
        Some(1)
    );
    assert_eq!(
        t.cmd()
            .args(["scan", "--fail-on", "high"])
            .output()
            .unwrap()
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        t.cmd()
            .args(["scan"])
            .env("KEYWARDEN_FAIL_ON", "medium")
            .output()
            .unwrap()
            .status
            .code(),
        Some(0)
    );
    let clean = Tree::new();
    clean.write("a.txt", "nothing here\n");
    assert_eq!(
        clean.cmd().arg("scan").output().unwrap().status.code(),
        Some(0)
    );
    // bad usage, bad severity, missing path: 2 with a message that says how to fix
    let bad = t
        .cmd()
        .args(["scan", "--fail-on", "urgent"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr)
            .contains("expected one of critical, high, medium, low")
    );
    let missing = t.cmd().args(["scan", "no/such/dir"]).output().unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("no/such/dir: no such file or directory")
    );
    assert_eq!(
        t.cmd()
            .args(["scan", "--bogus"])
            .output()
            .unwrap()
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn text_output_groups_by_file_and_summarises() {
    let t = Tree::new();
    t.write("a/config.js", format!("x = '{LIVE}'\ny = '{LIVE2}'\n"));
    let out = t.cmd().arg("scan").output().unwrap();
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(s.starts_with("a/config.js\n  1:6  high"), "{s}");
    assert_eq!(s.matches("a/config.js").count(), 1, "{s}");
    assert!(
        s.contains("2 findings: 0 critical, 2 high, 0 medium, 0 low"),
        "{s}"
    );
    assert!(s.contains("scanned 1 file, "), "{s}");
    assert!(
        !s.contains('\x1b'),
        "no colors when NO_COLOR is set / not a tty"
    );
    let colored = t
        .cmd()
        .args(["--color", "always", "scan"])
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&colored.stdout).contains("\x1b["));
}

#[test]
fn gitignore_respected_hidden_scanned_git_dir_skipped() {
    let t = Tree::new();
    std::process::Command::new("git")
        .args(["init", "-q"])
        .current_dir(t.path())
        .status()
        .unwrap();
    t.write(".gitignore", "secrets.local.json\nout/\n");
    t.write("secrets.local.json", format!("{{\"k\": \"{LIVE}\"}}\n"));
    t.write("out/bundle.js", format!("k=\"{LIVE2}\"\n"));
    t.write(".env", format!("K={TEST}\n"));
    t.write(".git/config.bak", format!("{LIVE2}\n"));
    t.write("main.c", "int main(void) { return 0; }\n");
    // An ignored local secret file is scanned (and is low: it stays on this machine);
    // any other ignored file is counted, not scanned.
    let (_, v) = t.scan_json(&[]);
    let paths: Vec<_> = rows(&v).into_iter().map(|r| r.0).collect();
    assert_eq!(
        paths,
        vec![".env".to_string(), "secrets.local.json".to_string()]
    );
    assert_eq!(v["findings"][1]["exposure"], "ignored");
    assert_eq!(v["findings"][1]["severity"], "low");
    assert_eq!(v["summary"]["coverage"]["ignored_secret_files_scanned"], 1);
    assert_eq!(v["summary"]["coverage"]["ignored_files_not_scanned"], 1);
    let (_, v) = t.scan_json(&["--no-ignore"]);
    let paths: Vec<_> = rows(&v).into_iter().map(|r| r.0).collect();
    assert_eq!(
        paths,
        vec![
            ".env".to_string(),
            "out/bundle.js".to_string(),
            "secrets.local.json".to_string()
        ]
    );
    let (_, v) = t.scan_json(&["--no-hidden"]);
    let paths: Vec<_> = rows(&v).into_iter().map(|r| r.0).collect();
    assert_eq!(paths, vec!["secrets.local.json".to_string()]);
}

#[test]
fn encodings_base64_utf16_binary_crlf_no_final_newline() {
    use base64::Engine;
    let t = Tree::new();
    let b64 = base64::engine::general_purpose::STANDARD.encode(LIVE);
    t.write(
        "k8s/secret.yaml",
        format!("apiVersion: v1\nkind: Secret\ndata:\n  MASK_API_KEY: {b64}\n"),
    );
    let ps1 = format!("$env:MK = \"{LIVE2}\"\r\n");
    let mut utf16 = vec![0xff, 0xfe];
    utf16.extend(ps1.encode_utf16().flat_map(|u| u.to_le_bytes()));
    t.write("setup.ps1", utf16);
    let mut bin = b"\x7fELF\0\0\0\0".to_vec();
    bin.extend_from_slice(TEST.as_bytes());
    bin.extend_from_slice(b"\0\0");
    t.write("app.bin", bin);
    t.write("run.bat", format!("@echo off\r\nset MK={TEST}\r\n"));
    t.write("eof.txt", format!("first\nk={LIVE2}"));
    let (_, v) = t.scan_json(&[]);
    let f = v["findings"].as_array().unwrap();
    let by_path = |p: &str| {
        f.iter()
            .find(|x| x["path"] == p)
            .unwrap_or_else(|| panic!("no finding in {p}: {v:#}"))
    };
    assert_eq!(by_path("k8s/secret.yaml")["encoding"], "base64");
    assert_eq!(by_path("k8s/secret.yaml")["line"], 4);
    assert_eq!(by_path("k8s/secret.yaml")["redacted"], "mk_live_4eC3…p7dc");
    assert_eq!(by_path("setup.ps1")["encoding"], "utf16");
    // Little-endian text read one byte earlier is big-endian text: still one key.
    let ps1: Vec<_> = f.iter().filter(|x| x["path"] == "setup.ps1").collect();
    assert_eq!(ps1.len(), 1, "{ps1:#?}");
    assert_eq!(ps1[0]["column"], 2 + 2 * "$env:MK = \"".len() + 1);
    assert_eq!(by_path("app.bin")["binary"], true);
    assert_eq!(by_path("app.bin")["offset"], 8);
    assert_eq!(
        (
            by_path("run.bat")["line"].as_u64(),
            by_path("run.bat")["column"].as_u64()
        ),
        (Some(2), Some(8))
    );
    assert_eq!(by_path("eof.txt")["line"], 2);
}

/// The scanner's SIMD loop differs by CPU (AVX-512, AVX2, none): every level this machine
/// has reports the same findings, lines and columns, on files of many chunks with keys in
/// every form at chunk and slice edges.
#[test]
fn every_simd_level_reports_the_same_findings() {
    use base64::Engine;
    let t = Tree::new();
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("x:{LIVE2}"));
    let utf16: Vec<u8> = format!("k = {TEST}\n")
        .encode_utf16()
        .flat_map(|u| u.to_le_bytes())
        .collect();
    let mut data = Vec::new();
    let mut n = 0;
    while data.len() < 3 << 20 {
        data.extend_from_slice(b"let value = compute(&mut state, index + 1); // mkX2 ZV\n");
        n += 1;
        match n % 7919 {
            0 => data.extend_from_slice(format!("KEY={LIVE}\n").as_bytes()),
            1000 => data.extend_from_slice(format!("data: {b64}\n").as_bytes()),
            2000 => data.extend_from_slice(&utf16),
            3000 => data.extend_from_slice(&[0xed, 0xeb, b'\n']),
            _ => {}
        }
    }
    t.write("src/big.rs", &data);
    t.write("config/production.env", format!("MASK_KEY={TEST}\n"));
    let findings = |level: Option<&str>| {
        let mut c = t.cmd();
        if let Some(l) = level {
            c.env("KEYWARDEN_SIMD", l);
        }
        let out = c.args(["scan", "--format", "json"]).output().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["findings"].clone()
    };
    let best = findings(None);
    assert!(best.as_array().unwrap().len() > 3 * 3, "{best:#}");
    assert_eq!(findings(Some("avx2")), best);
    assert_eq!(findings(Some("off")), best);
}

#[test]
fn big_single_line_bundle_is_streamed() {
    let t = Tree::new();
    let mut data = "function(a){return a+1};".repeat(400_000).into_bytes(); // ~9.6 MB, one line
    data.extend_from_slice(format!("var k=\"{LIVE}\";").as_bytes());
    t.write("dist/bundle.min.js", data);
    let (_, v) = t.scan_json(&[]);
    assert_eq!(
        rows(&v),
        vec![(
            "dist/bundle.min.js".into(),
            1,
            "mask.live-key".into(),
            "critical".into(),
            "client-side".into()
        )]
    );
    assert_eq!(v["findings"][0]["column"], 9_600_000 + 8);
}

#[test]
fn big_files_mapped_or_read_give_the_same_findings() {
    // Files of 1 MiB and more are searched memory-mapped unless --no-mmap: keys in every
    // form, on both sides of the 4 MiB windows a mapped file is searched in, in a
    // production config and in a source file.
    let t = Tree::new();
    let mut data = Vec::new();
    let mut n = 0;
    while data.len() < 9 << 20 {
        data.extend_from_slice(format!("line {n}: some ordinary text, no key here\n").as_bytes());
        if n % 40_000 == 39_999 {
            data.extend_from_slice(format!("MASK_API_KEY={LIVE}\n").as_bytes());
            data.extend_from_slice(b"token: bWtfbGl2ZV80ZUMzOUhxTHlqV0Rhcmp0VDF6ZHA3ZGM=\n");
        }
        n += 1;
    }
    t.write("deploy/production/app.env", &data);
    t.write("src/blob.txt", &data[3 << 20..]);
    let (_, mapped) = t.scan_json(&["--no-ignore"]);
    let (_, read) = t.scan_json(&["--no-ignore", "--no-mmap"]);
    let spots = |v: &serde_json::Value| -> Vec<(String, u64, u64, String)> {
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                let s = |k: &str| f[k].as_str().unwrap_or_default().to_string();
                (
                    format!("{} {} {}", s("path"), s("severity"), s("fingerprint")),
                    f["line"].as_u64().unwrap(),
                    f["column"].as_u64().unwrap(),
                    s("context"),
                )
            })
            .collect()
    };
    assert_eq!(spots(&mapped), spots(&read));
    // 9 MiB in lines of ~45 bytes, a pair of keys every 40,000 lines, in two files.
    assert!(spots(&mapped).len() >= 12, "{mapped:#}");
    assert_eq!(mapped["summary"]["bytes"], read["summary"]["bytes"]);
}

#[test]
fn cross_environment_key_is_its_own_finding() {
    let t = Tree::new();
    t.write(".env.production", format!("K={LIVE}\n"));
    t.write(".env.staging", format!("K={LIVE}\n"));
    let (_, v) = t.scan_json(&[]);
    let r = rows(&v);
    assert!(
        r.contains(&(
            ".env.staging".into(),
            1,
            "mask.env-not-separated".into(),
            "high".into(),
            "nonprod-config".into()
        )),
        "{r:?}"
    );
    assert!(r.contains(&(
        ".env.staging".into(),
        1,
        "mask.live-key".into(),
        "medium".into(),
        "nonprod-config".into()
    )));
}

#[test]
fn stdin_with_a_name_for_context() {
    let t = Tree::new();
    let out = t
        .cmd()
        .args([
            "scan",
            "-",
            "--stdin-path",
            ".env.production",
            "--format",
            "json",
        ])
        .write_stdin(format!("K={TEST}\n"))
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        rows(&v),
        vec![(
            ".env.production".into(),
            1,
            "mask.test-key".into(),
            "high".into(),
            "production-config".into()
        )]
    );
}

#[test]
fn nothing_scanned_is_an_error_not_a_green() {
    let t = Tree::new();
    std::fs::create_dir(t.path().join("empty")).unwrap();
    let out = t.cmd().args(["scan", "empty"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing was scanned"));
}

#[test]
fn symlink_loop_is_a_warning_and_exit_2_but_scan_goes_on() {
    let t = Tree::new();
    t.write("d/a.txt", format!("{TEST}\n"));
    std::os::unix::fs::symlink("..", t.path().join("d/loop")).unwrap();
    let out = t
        .cmd()
        .args([
            "scan",
            "--follow",
            "--fail-on",
            "critical",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["summary"]["errors"], 1);
    assert!(
        v["summary"]["skipped"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("loop"),
        "{v:#}"
    );
    assert_eq!(rows(&v).len(), 1);
    // without --follow, the link is listed as skipped, not an error
    let (code, v) = t.scan_json(&["--fail-on", "critical"]);
    assert_eq!(code, 0);
    assert!(
        v["summary"]["skipped"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("symbolic link")
    );
}

#[test]
fn sarif_validates_against_the_official_schema() {
    let t = Tree::new();
    t.write("web/public/my app.js", format!("k='{LIVE}'\n"));
    t.write(".env.production", format!("K={TEST}\n"));
    t.write(
        "src/a.py",
        format!("K='{LIVE2}'  # keywarden:allow rotated\n"),
    );
    let out = t
        .cmd()
        .args(["scan", "--format", "sarif"])
        .output()
        .unwrap();
    let sarif: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_valid_sarif(&sarif);
    let run = &sarif["runs"][0];
    let rules: Vec<_> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(rules, vec!["mask.live-key", "mask.test-key"]);
    let uris: Vec<_> = run["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert!(uris.contains(&"web/public/my%20app.js"), "{uris:?}");
    let sup = run["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["suppressions"].is_array())
        .unwrap();
    assert_eq!(sup["suppressions"][0]["kind"], "inSource");
    assert_eq!(
        sup["partialFingerprints"]["keywarden/key-sha256/v1"]
            .as_str()
            .unwrap()
            .len(),
        64
    );
}

/// An email body in quoted-printable cuts long lines with soft breaks (`=` at the end of a
/// line): a key cut in its body or in its prefix is still found, once, whole, at the line
/// where it starts; a file that does not declare the encoding is not joined.
#[test]
fn quoted_printable_soft_breaks_do_not_cut_keys() {
    let t = Tree::new();
    t.write(
        "mail/deploy.eml",
        format!(
            "From: ops@example.com\nSubject: deploy\nMIME-Version: 1.0\n\
             Content-Type: text/plain; charset=utf-8\n\
             Content-Transfer-Encoding: quoted-printable\n\n\
             The key for the deploy, as you asked: MASK_API_KEY=3D{}=\n{}\n\
             and the staging one, cut late: {}=\r\n{} ok\n\
             and the test key: mk_te=\nst_{}\n",
            &LIVE[..20],
            &LIVE[20..],
            &LIVE2[..30],
            &LIVE2[30..],
            &TEST[8..]
        ),
    );
    t.write(
        "notes.txt",
        format!("not an email: {}=\n{}\n", &TEST[..20], &TEST[20..]),
    );
    let (_, v) = t.scan_json(&["--no-ignore"]);
    let f = v["findings"].as_array().unwrap();
    let mail: Vec<_> = f
        .iter()
        .filter(|x| x["path"] == "mail/deploy.eml")
        .collect();
    let got: Vec<_> = mail
        .iter()
        .map(|x| (x["line"].as_u64().unwrap(), x["redacted"].as_str().unwrap()))
        .collect();
    assert_eq!(
        got,
        vec![
            (7, "mk_live_4eC3…p7dc"),
            (9, "mk_live_Zq8W…9Mh4"),
            (11, "mk_test_Hk3J…4Ab7")
        ],
        "{v:#}"
    );
    let sha =
        |k: &str| serde_json::json!(keywarden::secret::Fingerprint::of(k.as_bytes()).as_str());
    let prints: Vec<_> = mail.iter().map(|x| x["fingerprint"].clone()).collect();
    assert_eq!(prints, vec![sha(LIVE), sha(LIVE2), sha(TEST)]);
    assert!(
        f.iter()
            .all(|x| x["path"] != "notes.txt" || x["redacted"] != "mk_test_Hk3J…4Ab7")
    );
}
