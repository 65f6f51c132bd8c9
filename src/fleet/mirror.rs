//! Mirroring one repository with the `git` CLI: `git clone --mirror` the first time (into
//! a temporary directory renamed into place, so a killed clone leaves no half mirror),
//! then `git fetch --prune` of every ref.
//!
//! The token reaches git only through the child's environment (`GIT_CONFIG_COUNT`:
//! `http.<origin>/.extraHeader`, scoped to the repository's origin), never through its
//! command line (readable by every user), the URL or the mirror's config. Git's messages
//! are sanitized before they reach an error or a log: the token (raw and base64), URL
//! credentials and `Authorization` values are replaced by `***`.

use super::url::{Kind, check_url};
use crate::error::{Error, Result};
use crate::notify::config::Secret;
use base64::Engine as _;
use regex::Regex;
use std::path::Path;
use std::process::Command;
use std::sync::LazyLock;

/// How git authenticates to the host: HTTP Basic with the token as password (what GitHub
/// and GitLab accept for git over HTTPS).
#[derive(Debug, Clone)]
pub struct GitAuth {
    token: Secret,
    header: Secret,
}

impl GitAuth {
    /// The authentication for a source of `kind` with `token` (GitHub: user
    /// `x-access-token`; GitLab: user `oauth2`).
    pub fn new(kind: Kind, token: &Secret) -> GitAuth {
        let user = match kind {
            Kind::GitLab => "oauth2",
            _ => "x-access-token",
        };
        let basic =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{}", token.expose()));
        GitAuth {
            token: token.clone(),
            header: Secret::new(format!("Authorization: Basic {basic}")),
        }
    }

    /// What must never be shown: the token, and the header value that encodes it.
    fn secrets(&self) -> Vec<&str> {
        let basic = self
            .header
            .expose()
            .trim_start_matches("Authorization: Basic ");
        vec![self.token.expose(), basic]
    }
}

/// What [`mirror`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mirrored {
    /// A new mirror was cloned.
    Cloned,
    /// An existing mirror was fetched (and pruned).
    Fetched,
}

/// Brings the mirror at `dir` up to date with `url`: clones it when missing, else fetches
/// every ref and prunes the deleted ones.
pub fn mirror(name: &str, url: &str, dir: &Path, auth: Option<&GitAuth>) -> Result<Mirrored> {
    check_url(url).map_err(|e| fail(name, "cannot mirror", &e, auth))?;
    if dir.join("HEAD").is_file() && dir.join("objects").is_dir() {
        let mut c = git(url, auth);
        c.arg("-C").arg(dir).args([
            "fetch",
            "--prune",
            "--quiet",
            "--no-write-fetch-head",
            "--",
            url,
            "+refs/*:refs/*",
        ]);
        run(name, "git fetch", c, auth)?;
        return Ok(Mirrored::Fetched);
    }
    let parent = dir.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let mut tmp = dir.as_os_str().to_owned();
    tmp.push(".partial");
    let tmp = std::path::PathBuf::from(tmp);
    for d in [&tmp, &dir.to_path_buf()] {
        if d.exists() {
            std::fs::remove_dir_all(d).map_err(|e| Error::io(d, e))?;
        }
    }
    let mut c = git(url, auth);
    c.args(["clone", "--mirror", "--quiet", "--", url])
        .arg(&tmp);
    run(name, "git clone --mirror", c, auth)?;
    std::fs::rename(&tmp, dir).map_err(|e| Error::io(dir, e))?;
    Ok(Mirrored::Cloned)
}

/// A `git` command that never prompts, uses no credential helper, aborts a stalled
/// transfer, speaks only https (http for loopback URLs), and authenticates with `auth`
/// through its environment.
fn git(url: &str, auth: Option<&GitAuth>) -> Command {
    let mut c = Command::new("git");
    let loopback_http = url.starts_with("http://");
    let mut config: Vec<(String, &str)> = vec![
        ("credential.helper".into(), ""),
        ("http.lowSpeedLimit".into(), "1000"),
        ("http.lowSpeedTime".into(), "120"),
        ("core.askPass".into(), ""),
    ];
    if let Some(a) = auth {
        let origin = url::Url::parse(url)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default();
        config.push((format!("http.{origin}/.extraHeader"), a.header.expose()));
    }
    c.env("GIT_CONFIG_COUNT", config.len().to_string());
    for (i, (k, v)) in config.iter().enumerate() {
        c.env(format!("GIT_CONFIG_KEY_{i}"), k)
            .env(format!("GIT_CONFIG_VALUE_{i}"), v);
    }
    c.env("GIT_TERMINAL_PROMPT", "0")
        .env("GCM_INTERACTIVE", "never")
        .env(
            "GIT_ALLOW_PROTOCOL",
            if loopback_http { "http:https" } else { "https" },
        )
        .env_remove("GIT_CONFIG_PARAMETERS")
        .env_remove("GIT_ASKPASS")
        .env_remove("SSH_ASKPASS")
        .env_remove("GIT_DIR")
        .stdin(std::process::Stdio::null());
    c
}

fn run(name: &str, what: &str, mut c: Command, auth: Option<&GitAuth>) -> Result<()> {
    let out = c.output().map_err(|e| {
        Error::Fleet {
            message: format!("{}: cannot run git: {e}", crate::redact::clean_name(name)),
            hint: "the fleet mirrors with the git CLI: install git (apt-get install git) and make it reachable in PATH".into(),
        }
    })?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    Err(fail(
        name,
        &format!("{what} failed ({})", out.status),
        &stderr,
        auth,
    ))
}

fn fail(name: &str, what: &str, detail: &str, auth: Option<&GitAuth>) -> Error {
    let secrets = auth.map(|a| a.secrets()).unwrap_or_default();
    Error::Fleet {
        message: format!(
            "{}: {what}: {}",
            crate::redact::clean_name(name),
            sanitize(detail, &secrets)
        ),
        hint: "check that the repository exists, that the token can read it, and that the host is reachable; the next run retries".into(),
    }
}

static USERINFO: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]+@").expect("valid regex"));
static AUTH_VALUE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)(authorization:\s*[a-z]+\s+)\S+").expect("valid regex"));

/// Text from git (or a server) made safe to log, store and show: each of `secrets`
/// replaced by `***`, URL credentials and `Authorization` values too, keys redacted,
/// control characters escaped, lines joined, at most 1,000 characters.
pub fn sanitize(text: &str, secrets: &[&str]) -> String {
    let mut s = text.trim().to_string();
    for secret in secrets.iter().filter(|x| x.len() >= 4) {
        s = s.replace(secret, "***");
    }
    let s = USERINFO.replace_all(&s, "${1}***@");
    let s = AUTH_VALUE.replace_all(&s, "${1}***");
    let joined = s
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    let short: String = joined.chars().take(1000).collect();
    crate::redact::clean(&short)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_removes_tokens_credentials_and_headers() {
        let token = "ghp_s3cretT0kenValue";
        let a = GitAuth::new(Kind::GitHub, &Secret::new(token));
        let basic = a.secrets()[1].to_string();
        let raw = format!(
            "fatal: unable to access 'https://x-access-token:{token}@github.com/a/b.git/': 401\nAuthorization: Basic {basic}\n{token}"
        );
        let s = sanitize(&raw, &a.secrets());
        assert!(!s.contains(token), "{s}");
        assert!(!s.contains(&basic), "{s}");
        assert!(s.contains("https://***@github.com/a/b.git"), "{s}");
        assert!(!s.contains('\n'), "{s}");
    }

    #[test]
    fn urls_https_or_loopback_and_never_credentials() {
        assert!(check_url("https://github.com/a/b.git").is_ok());
        assert!(check_url("http://127.0.0.1:8080/a.git").is_ok());
        assert!(check_url("http://localhost/a.git").is_ok());
        assert!(check_url("http://github.com/a.git").is_err());
        assert!(check_url("file:///etc").is_err());
        assert!(check_url("ext::sh -c touch% /tmp/x").is_err());
        let e = check_url("https://u:hunter2@github.com/a.git").unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
    }
}
