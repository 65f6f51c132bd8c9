//! `source` of a `[[daemon.scan]]`: where a fleet's repositories come from (a GitHub
//! organisation, a GitLab group with its subgroups, or a list of URLs), and which of them
//! are kept. Checked when the config is read; nothing here touches the network.

use super::url::Kind;
use crate::notify::SecretSource;
use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::Deserialize;
use std::path::Path;

/// The GitHub API when `api_url` is not set.
pub const GITHUB_API: &str = "https://api.github.com";
/// The GitLab API when `api_url` is not set.
pub const GITLAB_API: &str = "https://gitlab.com/api/v4";

/// `source = { github_org = "acme", api_url = "…", token = { env = "GITHUB_TOKEN" } }`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// A GitHub (or GitHub Enterprise) organisation: `GET {api_url}/orgs/{org}/repos`.
    pub github_org: Option<String>,
    /// A GitLab group (path such as `acme/platform`, or numeric id), subgroups included:
    /// `GET {api_url}/groups/{id}/projects?include_subgroups=true`.
    pub gitlab_group: Option<String>,
    /// Repository URLs (`https://…`, or `http://` to loopback only).
    pub urls: Option<Vec<String>>,
    /// The API root. Default: `https://api.github.com`, or `https://gitlab.com/api/v4`.
    pub api_url: Option<String>,
    /// The token for the API and for git (`{ env = … }`, `{ file = … }`,
    /// `{ credential = … }`). Optional: without it only public repositories are seen.
    pub token: Option<SecretSource>,
    /// Mirror and scan archived repositories too. Default: false.
    #[serde(default)]
    pub include_archived: bool,
    /// Mirror and scan forks too. Default: false.
    #[serde(default)]
    pub include_forks: bool,
    /// Only repositories whose name (`acme/app`) matches one of these globs. Default: all.
    #[serde(default)]
    pub include: Vec<String>,
    /// Repositories whose name matches one of these globs are left out.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Repositories mirrored and scanned at once. Default: 4.
    pub concurrency: Option<usize>,
}

impl Source {
    /// Which kind of source this is (the first set; [`Source::check`] makes it unique).
    pub fn kind(&self) -> Kind {
        if self.github_org.is_some() {
            Kind::GitHub
        } else if self.gitlab_group.is_some() {
            Kind::GitLab
        } else {
            Kind::Urls
        }
    }

    /// The API root without a trailing `/` (GitHub or GitLab sources).
    pub fn api(&self) -> String {
        let default = match self.kind() {
            Kind::GitLab => GITLAB_API,
            _ => GITHUB_API,
        };
        self.api_url
            .as_deref()
            .unwrap_or(default)
            .trim_end_matches('/')
            .to_string()
    }

    /// Repositories mirrored and scanned at once.
    pub fn concurrency(&self) -> usize {
        self.concurrency.unwrap_or(4).clamp(1, 64)
    }

    /// What the types cannot check: one kind, names, URLs, globs, token source. Returns
    /// (message, hint) for the config error.
    pub fn check(&self) -> Result<(), (String, String)> {
        let bad = |m: &str, h: &str| Err((m.to_string(), h.to_string()));
        let kinds = [
            self.github_org.is_some(),
            self.gitlab_group.is_some(),
            self.urls.is_some(),
        ];
        if kinds.iter().filter(|k| **k).count() != 1 {
            return bad(
                "source must set exactly one of github_org, gitlab_group, urls",
                "e.g. source = { github_org = \"acme\", token = { env = \"GITHUB_TOKEN\" } }",
            );
        }
        let name = self.github_org.as_deref().or(self.gitlab_group.as_deref());
        if let Some(n) = name
            && (n.is_empty()
                || n.len() > 255
                || !n
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
                || n.split('/').any(|p| p.is_empty() || p == "." || p == ".."))
        {
            return bad(
                "the organisation or group name is not a valid name",
                "use the name as in its URL, e.g. github_org = \"acme\" or gitlab_group = \"acme/platform\"",
            );
        }
        if self.kind() == Kind::Urls {
            if self.api_url.is_some() {
                return bad(
                    "api_url is for github_org and gitlab_group, not urls",
                    "remove api_url",
                );
            }
            let urls = self.urls.as_deref().unwrap_or_default();
            if urls.is_empty() {
                return bad("urls is empty", "list the repositories' https:// URLs");
            }
            let mut names = std::collections::BTreeSet::new();
            for u in urls {
                super::url::check_url(u).map_err(|e| (e, url_hint()))?;
                if !names.insert(super::url::url_name(u)) {
                    return bad(
                        "two urls have the same repository name (their path without .git)",
                        "names key the state: list each repository once",
                    );
                }
            }
        }
        if let Some(t) = &self.token
            && [t.env.is_some(), t.file.is_some(), t.credential.is_some()]
                .iter()
                .filter(|b| **b)
                .count()
                != 1
        {
            return bad(
                "token must set exactly one of env, file, credential",
                "e.g. token = { env = \"GITHUB_TOKEN\" }",
            );
        }
        for g in self.include.iter().chain(&self.exclude) {
            if let Err(e) = Glob::new(g) {
                return Err((
                    format!("include/exclude glob {:?} is invalid: {}", g, e.kind()),
                    "globs match repository names such as acme/app: acme/*, *-sandbox".into(),
                ));
            }
        }
        Ok(())
    }

    /// Makes a relative token file relative to `base` (the config's directory).
    pub fn resolve_paths(&mut self, base: &Path) {
        if let Some(f) = self.token.as_mut().and_then(|t| t.file.as_mut())
            && f.is_relative()
        {
            *f = base.join(&*f);
        }
    }

    /// The name filter: include/exclude globs, archived and forks.
    pub fn filter(&self) -> Filter {
        Filter {
            include: set(&self.include),
            exclude: set(&self.exclude),
            archived: self.include_archived,
            forks: self.include_forks,
        }
    }
}

fn url_hint() -> String {
    "give https:// URLs without credentials (http:// only to 127.0.0.1, ::1 or localhost); the token goes in token = { … }".into()
}

fn set(globs: &[String]) -> Option<GlobSet> {
    if globs.is_empty() {
        return None;
    }
    let mut b = GlobSetBuilder::new();
    for g in globs {
        // Checked by `Source::check`; an invalid one here matches nothing.
        if let Ok(g) = Glob::new(g) {
            b.add(g);
        }
    }
    b.build().ok()
}

/// Which listed repositories are mirrored: by name, archived state and fork state.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    include: Option<GlobSet>,
    exclude: Option<GlobSet>,
    archived: bool,
    forks: bool,
}

impl Filter {
    /// Whether `repo` is kept.
    pub fn keeps(&self, repo: &super::Repo) -> bool {
        (self.archived || !repo.archived)
            && (self.forks || !repo.fork)
            && self.include.as_ref().is_none_or(|s| s.is_match(&repo.name))
            && !self
                .exclude
                .as_ref()
                .is_some_and(|s| s.is_match(&repo.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(t: &str) -> Source {
        toml::from_str(t).unwrap()
    }

    #[test]
    fn exactly_one_kind_and_valid_urls() {
        assert!(parse("github_org = \"acme\"").check().is_ok());
        assert!(parse("gitlab_group = \"acme/platform\"").check().is_ok());
        let both = parse("github_org = \"a\"\ngitlab_group = \"b\"").check();
        assert!(both.unwrap_err().0.contains("exactly one"));
        assert!(parse("").check().is_err());
        assert!(parse("github_org = \"../x\"").check().is_err());
        assert!(
            parse("urls = [\"https://git.example.com/a.git\"]")
                .check()
                .is_ok()
        );
        for u in [
            "http://git.example.com/a.git",
            "https://u:hunter2@git.example.com/a.git",
            "ssh://git@example.com/a.git",
        ] {
            let e = parse(&format!("urls = [\"{u}\"]")).check().unwrap_err();
            assert!(!e.0.contains("hunter2"), "{e:?}");
        }
        assert!(
            parse("urls = [\"http://127.0.0.1:9/a.git\"]")
                .check()
                .is_ok()
        );
        assert!(
            parse("github_org = \"a\"\ninclude = [\"a/[\"]")
                .check()
                .is_err()
        );
    }

    #[test]
    fn filter_skips_archived_and_forks_by_default() {
        let repo = |name: &str, archived, fork| super::super::Repo {
            name: name.into(),
            clone_url: String::new(),
            archived,
            fork,
        };
        let f = parse("github_org = \"a\"\nexclude = [\"a/*-sandbox\"]").filter();
        assert!(f.keeps(&repo("a/app", false, false)));
        assert!(!f.keeps(&repo("a/old", true, false)));
        assert!(!f.keeps(&repo("a/fork", false, true)));
        assert!(!f.keeps(&repo("a/x-sandbox", false, false)));
        let f = parse("github_org = \"a\"\ninclude_archived = true\ninclude_forks = true\ninclude = [\"a/o*\"]").filter();
        assert!(f.keeps(&repo("a/old", true, true)));
        assert!(!f.keeps(&repo("a/app", false, false)));
    }
}
