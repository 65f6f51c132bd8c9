//! Listing a fleet's repositories through the Git host's API: GitHub
//! (`GET {api}/orgs/{org}/repos?per_page=100`, `Link` pagination) and GitLab
//! (`GET {api}/groups/{id}/projects?include_subgroups=true`, `Link` pagination),
//! `Authorization: Bearer` when a token is given. Every page is bounded in size and the
//! pages in number; a next-page link to another origin is refused (the token would
//! follow it).

use super::Repo;
use super::source::Source;
use super::url::{Kind, check_url, url_name};
use crate::error::{Error, Result};
use crate::notify::config::Secret;
use serde::Deserialize;
use std::io::Read;
use std::time::Duration;

/// Limits of the listing calls.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Timeout of one page, body included. Default: 30 s.
    pub timeout: Duration,
    /// Pages followed at most (100 repositories each). Default: 1,000.
    pub max_pages: usize,
    /// Bytes of one page at most. Default: 16 MiB.
    pub max_page_bytes: u64,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            timeout: Duration::from_secs(30),
            max_pages: 1000,
            max_page_bytes: 16 << 20,
        }
    }
}

#[derive(Deserialize)]
struct GitHubRepo {
    full_name: String,
    clone_url: String,
    #[serde(default)]
    archived: bool,
    #[serde(default)]
    fork: bool,
}

#[derive(Deserialize)]
struct GitLabProject {
    path_with_namespace: String,
    http_url_to_repo: String,
    #[serde(default)]
    archived: bool,
    #[serde(default)]
    forked_from_project: Option<serde_json::Value>,
}

fn err(message: String, hint: &str) -> Error {
    Error::Fleet {
        message: crate::redact::clean(&message),
        hint: hint.to_string(),
    }
}

/// Lists every repository of `source` (filters not applied: see
/// [`super::Source::filter`]), in the host's order.
pub fn list(source: &Source, token: Option<&Secret>, opts: &HttpOptions) -> Result<Vec<Repo>> {
    match source.kind() {
        Kind::Urls => Ok(source
            .urls
            .iter()
            .flatten()
            .map(|u| Repo {
                name: url_name(u),
                clone_url: u.clone(),
                archived: false,
                fork: false,
            })
            .collect()),
        Kind::GitHub => {
            let org = source.github_org.as_deref().unwrap_or_default();
            let first = format!("{}/orgs/{org}/repos?per_page=100", source.api());
            let pages = pages(source, &first, token, opts)?;
            let mut out = Vec::new();
            for (url, body) in pages {
                let repos: Vec<GitHubRepo> = parse(&url, &body)?;
                out.extend(repos.into_iter().map(|r| Repo {
                    name: r.full_name,
                    clone_url: r.clone_url,
                    archived: r.archived,
                    fork: r.fork,
                }));
            }
            checked(out)
        }
        Kind::GitLab => {
            let group = source.gitlab_group.as_deref().unwrap_or_default();
            let id = url::form_urlencoded::byte_serialize(group.as_bytes()).collect::<String>();
            let first = format!(
                "{}/groups/{id}/projects?include_subgroups=true&with_shared=false&per_page=100&order_by=id&sort=asc",
                source.api()
            );
            let pages = pages(source, &first, token, opts)?;
            let mut out = Vec::new();
            for (url, body) in pages {
                let projects: Vec<GitLabProject> = parse(&url, &body)?;
                out.extend(projects.into_iter().map(|p| Repo {
                    name: p.path_with_namespace,
                    clone_url: p.http_url_to_repo,
                    archived: p.archived,
                    fork: p.forked_from_project.is_some_and(|v| !v.is_null()),
                }));
            }
            checked(out)
        }
    }
}

/// Drops (with a warning) what the host listed and git must not fetch: a clone URL that
/// is not https (or http to loopback), carries credentials, or a name with control
/// characters.
fn checked(repos: Vec<Repo>) -> Result<Vec<Repo>> {
    Ok(repos
        .into_iter()
        .filter(|r| {
            let ok_name = !r.name.is_empty()
                && r.name.len() <= 512
                && !r.name.chars().any(|c| c.is_control());
            match check_url(&r.clone_url) {
                Ok(()) if ok_name => true,
                Ok(()) => {
                    tracing::warn!("fleet: a repository with an unusable name is skipped");
                    false
                }
                Err(e) => {
                    tracing::warn!(
                        "fleet: {} is skipped: {e}",
                        crate::redact::clean_name(&r.name)
                    );
                    false
                }
            }
        })
        .collect())
}

fn parse<T: serde::de::DeserializeOwned>(url: &str, body: &[u8]) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| {
        err(
            format!("{url}: the response is not the expected JSON: {e}"),
            "check api_url: it must be the API root (https://api.github.com, https://gitlab.example.com/api/v4)",
        )
    })
}

/// Follows the pages from `first`; returns each page's URL and body.
fn pages(
    source: &Source,
    first: &str,
    token: Option<&Secret>,
    opts: &HttpOptions,
) -> Result<Vec<(String, Vec<u8>)>> {
    crate::tls::install_provider();
    let api = source.api();
    crate::mask::builder::check_base_url(&api)?;
    let api_origin = origin(&api);
    let client = reqwest::blocking::Client::builder()
        .timeout(opts.timeout)
        .connect_timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("keywarden/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| {
            err(
                format!("cannot build the HTTP client: {e}"),
                "this is a bug; please report it",
            )
        })?;
    let mut out = Vec::new();
    let mut next = Some(first.to_string());
    while let Some(url) = next.take() {
        if out.len() >= opts.max_pages {
            return Err(err(
                format!("{api}: more than {} pages of repositories", opts.max_pages),
                "narrow the source (a subgroup, include globs) or report the size of your fleet",
            ));
        }
        let mut req = client
            .get(&url)
            .header("accept", "application/vnd.github+json, application/json")
            .header("x-github-api-version", "2022-11-28");
        if let Some(t) = token {
            req = req.bearer_auth(t.expose());
        }
        let resp = req.send().map_err(|e| {
            err(
                format!("{url}: {}", e.without_url()),
                "check api_url and that the host is reachable from this machine",
            )
        })?;
        let status = resp.status();
        if !status.is_success() {
            let hint = match status.as_u16() {
                401 => "the token is missing, expired or wrong: check token = { … }",
                403 => {
                    "the token lacks access or the rate limit is exhausted: give it read access to the organisation's repositories (GitHub: Metadata and Contents read; GitLab: read_api)"
                }
                404 => "no such organisation or group at this api_url (or the token cannot see it)",
                _ => "the host failed: the next run retries",
            };
            return Err(err(format!("{url}: HTTP {status}"), hint));
        }
        next = next_link(resp.headers())
            .map(|n| {
                if origin(&n) == api_origin {
                    Ok(n)
                } else {
                    Err(err(
                        format!("{url}: the next page is on another origin"),
                        "api_url must be the origin the host's pagination links point to",
                    ))
                }
            })
            .transpose()?;
        let mut body = Vec::new();
        resp.take(opts.max_page_bytes + 1)
            .read_to_end(&mut body)
            .map_err(|e| {
                err(
                    format!("{url}: reading the response: {e}"),
                    "the next run retries",
                )
            })?;
        if body.len() as u64 > opts.max_page_bytes {
            return Err(err(
                format!("{url}: a page larger than {} bytes", opts.max_page_bytes),
                "check api_url: it must be the host's API",
            ));
        }
        out.push((url, body));
    }
    Ok(out)
}

/// `scheme://host:port` of a URL (empty when it does not parse).
fn origin(u: &str) -> String {
    url::Url::parse(u)
        .map(|p| p.origin().ascii_serialization())
        .unwrap_or_default()
}

/// The `rel="next"` target of the `Link` header (GitHub and GitLab both send it).
fn next_link(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers
        .get_all(reqwest::header::LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|part| {
            let mut it = part.split(';');
            let target = it.next()?.trim();
            let is_next = it.any(|p| {
                let p = p.trim().replace(' ', "");
                p == "rel=\"next\"" || p == "rel=next"
            });
            let target = target.strip_prefix('<')?.strip_suffix('>')?;
            is_next.then(|| target.to_string())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_link_and_names() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(
            reqwest::header::LINK,
            "<https://api.github.com/organizations/1/repos?page=1>; rel=\"prev\", <https://api.github.com/organizations/1/repos?page=3>; rel=\"next\""
                .parse()
                .unwrap(),
        );
        assert_eq!(
            next_link(&h).as_deref(),
            Some("https://api.github.com/organizations/1/repos?page=3")
        );
        assert_eq!(next_link(&reqwest::header::HeaderMap::new()), None);
        assert_eq!(url_name("https://git.example.com/acme/app.git"), "acme/app");
        assert_eq!(url_name("http://127.0.0.1:9/x/"), "x");
    }
}
