//! Real git repositories in temp dirs, driven by the git CLI with a fixed identity and no
//! user or system config (so a fresh machine and a developer's machine behave the same).

use super::Tree;
use std::path::Path;
use std::process::{Command, Output};

/// Environment that isolates git (and gix, which reads the same files) from the machine.
pub fn isolate(c: &mut Command) -> &mut Command {
    c.env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Ada Author")
        .env("GIT_AUTHOR_EMAIL", "ada@example.invalid")
        .env("GIT_COMMITTER_NAME", "Ada Author")
        .env("GIT_COMMITTER_EMAIL", "ada@example.invalid")
        .env_remove("GIT_DIR")
        .env_remove("GIT_INDEX_FILE")
        .env_remove("GIT_WORK_TREE")
}

/// A temp dir with `git init` done (branch `main`).
pub struct Repo {
    pub tree: Tree,
}

impl Repo {
    pub fn new() -> Repo {
        let r = Repo { tree: Tree::new() };
        r.git(&["init", "-q", "-b", "main"]);
        r
    }

    pub fn path(&self) -> &Path {
        self.tree.path()
    }

    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) {
        self.tree.write(rel, content);
    }

    /// Runs git in `dir`; returns the output without checking it.
    pub fn git_output_in(&self, dir: &Path, args: &[&str]) -> Output {
        let mut c = Command::new("git");
        isolate(&mut c)
            .current_dir(dir)
            .args([
                "-c",
                "user.name=Ada Author",
                "-c",
                "user.email=ada@example.invalid",
            ])
            .args([
                "-c",
                "commit.gpgsign=false",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args);
        c.output().expect("git runs")
    }

    /// Runs git at the top of the repo, asserts success, returns trimmed stdout.
    pub fn git(&self, args: &[&str]) -> String {
        let out = self.git_output_in(self.path(), args);
        assert!(
            out.status.success(),
            "git {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// `git add -A && git commit -m msg`, skipping hooks; returns the commit id.
    /// Puts an empty `.promisor` file beside the repository's pack, as partial clones and
    /// repository-fetching tools' mirrors have.
    pub fn mark_pack_promisor(&self) {
        let pack = std::fs::read_dir(self.path().join(".git/objects/pack"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension() == Some("pack".as_ref()))
            .expect("a pack (run git gc first)");
        std::fs::write(pack.with_extension("promisor"), "").unwrap();
    }

    pub fn commit_all(&self, msg: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--no-verify", "-m", msg]);
        self.git(&["rev-parse", "HEAD"])
    }

    /// `keywarden` in `dir` (relative to the repo top), isolated like git.
    pub fn kw_in(&self, dir: &str) -> assert_cmd::Command {
        let mut c = self.tree.cmd();
        c.current_dir(self.path().join(dir))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env_remove("GIT_DIR")
            .env_remove("GIT_INDEX_FILE")
            .env_remove("KEYWARDEN_CONFIG");
        c
    }

    /// `keywarden` at the repo top.
    pub fn kw(&self) -> assert_cmd::Command {
        self.kw_in(".")
    }

    /// Runs `keywarden scan ARGS --format json` at the top; exit code and parsed stdout.
    pub fn scan_json(&self, args: &[&str]) -> (i32, serde_json::Value) {
        self.scan_json_in(".", args)
    }

    pub fn scan_json_in(&self, dir: &str, args: &[&str]) -> (i32, serde_json::Value) {
        let out = self
            .kw_in(dir)
            .arg("scan")
            .args(args)
            .args(["--format", "json"])
            .output()
            .unwrap();
        super::assert_no_secret("scan --format json stdout", &out.stdout);
        super::assert_no_secret("scan --format json stderr", &out.stderr);
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

/// (path, line, redacted) of each counting finding.
pub fn found(v: &serde_json::Value) -> Vec<(String, u64, String)> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["suppressed"].is_null())
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
                f["redacted"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}
