//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod archive;
pub mod git;
pub mod git_http;
pub mod postgres;

use assert_cmd::Command;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// Live keys used by the tests (random bodies; never real).
pub const LIVE: &str = "mk_live_4eC39HqLyjWDarjtT1zdp7dc";
pub const LIVE2: &str = "mk_live_Zq8Wb2Lr5Tn1Vc7Xs3Kp9Mh4";
pub const TEST: &str = "mk_test_Hk3Jm9Qp2Rs5Tv8Wx1Yz4Ab7";

/// The bodies of the keys, to assert that no output contains them.
pub fn secret_bodies() -> Vec<&'static str> {
    [LIVE, LIVE2, TEST].iter().map(|k| &k[8..]).collect()
}

/// A fresh temp dir with files.
pub struct Tree {
    pub dir: TempDir,
}

impl Tree {
    pub fn new() -> Tree {
        Tree {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        p
    }
    /// `keywarden` with the tree as working directory, colors off.
    pub fn cmd(&self) -> Command {
        let mut c = Command::cargo_bin("keywarden").unwrap();
        c.current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .env_remove("KEYWARDEN_FAIL_ON")
            .env_remove("KEYWARDEN_FORMAT")
            .env_remove("KEYWARDEN_SIMD");
        c
    }
    /// Runs `keywarden scan ARGS --format json` and parses stdout.
    pub fn scan_json(&self, args: &[&str]) -> (i32, serde_json::Value) {
        let out = self
            .cmd()
            .arg("scan")
            .args(args)
            .args(["--format", "json"])
            .output()
            .unwrap();
        let code = out.status.code().unwrap();
        let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "bad json ({e}): {}\nstderr: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (code, v)
    }
}

/// (path, line, rule, severity, context) of each finding, for compact assertions.
pub fn rows(v: &serde_json::Value) -> Vec<(String, u64, String, String, String)> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
                f["rule"].as_str().unwrap().to_string(),
                f["severity"].as_str().unwrap().to_string(),
                f["context"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Panics unless `sarif` validates against the official SARIF 2.1.0 schema.
pub fn assert_valid_sarif(sarif: &serde_json::Value) {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../data/sarif-schema-2.1.0.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(sarif)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

/// Panics if any test key's body appears in `text`.
/// Every file under `dir` (none when it does not exist), depth first.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

pub fn assert_no_secret(what: &str, text: &[u8]) {
    let s = String::from_utf8_lossy(text);
    for b in secret_bodies() {
        assert!(!s.contains(b), "{what} leaks a full key body {b}:\n{s}");
    }
}

/// Reports a test skipped because a tool is missing: on the real stderr, which the test
/// harness does not capture (so `cargo test` shows it), and a failure when `CI` is set.
pub fn skipped(what: &str, why: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "{what}: {why}, and CI is set: .ci/run must install it"
    );
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED {what}: {why}");
}
