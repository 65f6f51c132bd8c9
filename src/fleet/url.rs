//! What the listing, the mirrors and the config check share about a repository's place:
//! the host kind, which clone URLs git may use, and a repository's name from its URL.

use crate::notify::config::is_loopback_host;

/// Which host API lists the repositories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// GitHub or GitHub Enterprise.
    GitHub,
    /// GitLab.
    GitLab,
    /// A fixed list of URLs.
    Urls,
}

/// Refuses a clone URL git must not use: not https (plain http only to loopback), or
/// carrying credentials (they would be stored in the mirror's config). The message never
/// repeats the URL's credentials.
pub fn check_url(u: &str) -> std::result::Result<(), String> {
    let parsed = url::Url::parse(u).map_err(|e| format!("not a URL ({e})"))?;
    let host = parsed.host_str().unwrap_or("");
    let shown = format!("{}://{host}", parsed.scheme());
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!(
            "{shown}…: a repository URL must not carry credentials"
        ));
    }
    match parsed.scheme() {
        "https" if !host.is_empty() => Ok(()),
        "http" if is_loopback_host(host) => Ok(()),
        "http" => Err(format!(
            "{shown}…: plain http is refused off loopback (the token would cross the network unencrypted)"
        )),
        other => Err(format!(
            "{shown}…: scheme {other:?} is not supported (https only)"
        )),
    }
}

/// The name of a repository given by URL: its path without `.git` (`acme/app`).
pub fn url_name(u: &str) -> String {
    let path = url::Url::parse(u)
        .map(|p| p.path().to_string())
        .unwrap_or_default();
    let name = path.trim_matches('/').trim_end_matches(".git");
    if name.is_empty() {
        "repository".into()
    } else {
        name.to_string()
    }
}
