use crate::util::*;
use base64::Engine;

/// Plants every test key in every way the scanner reads, runs every format and option
/// that prints something, and checks stdout, stderr and written files for a full key.
#[test]
fn no_full_key_in_any_output() {
    let t = Tree::new();
    t.write(".env.production", format!("A={LIVE}\nB={TEST}\n"));
    t.write(".env", format!("A={LIVE}\n"));
    t.write(
        "public/index.html",
        format!("<script>k='{LIVE2}'</script>\n"),
    );
    t.write(
        "k8s/prod/secret.yaml",
        format!(
            "data:\n  K: {}\n",
            base64::engine::general_purpose::STANDARD.encode(LIVE2)
        ),
    );
    t.write("a.py", format!("K='{TEST}'  # keywarden:allow\n"));
    t.write(
        "README.md",
        "use mk_live_abc123def456 and mk_test_xxxxxxxxxxxxxxxx\n",
    );
    let out_dir = tempfile::tempdir().unwrap();
    for format in ["text", "json", "sarif"] {
        for extra in [
            &[][..],
            &["--show-placeholders", "--show-suppressed", "-vv"][..],
        ] {
            let out = t
                .cmd()
                .args(["scan", "--format", format])
                .args(extra)
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(1));
            assert!(!out.stdout.is_empty());
            assert_no_secret(&format!("stdout of {format} {extra:?}"), &out.stdout);
            assert_no_secret(&format!("stderr of {format} {extra:?}"), &out.stderr);
            let file = out_dir.path().join(format!("report.{format}"));
            let out = t
                .cmd()
                .args(["scan", "--format", format, "-o"])
                .arg(&file)
                .args(extra)
                .output()
                .unwrap();
            assert!(out.stdout.is_empty());
            assert_no_secret("report file", &std::fs::read(&file).unwrap());
        }
    }
    // A key in a broken config value must not be echoed back in the error.
    t.write(
        ".keywarden.toml",
        format!("[[allow]]\nfingerprints = [\"{LIVE}\"]\n"),
    );
    let out = t.cmd().arg("scan").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_no_secret("config error", &out.stderr);
}

/// A commit whose subject holds the key: `--history` names the commit, and the subject
/// it prints is redacted in every format.
#[test]
fn no_full_key_in_commit_subjects_of_history_scans() {
    let r = crate::util::git::Repo::new();
    r.write("config.js", format!("k = '{LIVE}'\n"));
    r.commit_all(&format!("add key {LIVE} for now"));
    for format in ["text", "json", "sarif"] {
        let out = r
            .kw()
            .args(["scan", "--history", "--format", format])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let s = String::from_utf8_lossy(&out.stdout);
        assert!(
            s.contains("add key mk_live_4eC3…p7dc for now"),
            "{format}: {s}"
        );
        assert_no_secret(&format!("history {format}"), &out.stdout);
        assert_no_secret(&format!("history {format} stderr"), &out.stderr);
    }
}
