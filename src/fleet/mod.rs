//! The fleet: every repository of an organisation, kept mirrored and scanned
//! incrementally (`[[daemon.scan]] source = { github_org = … }`).
//!
//! Built on the engines that already do the work well: the Git host's API lists the
//! repositories, the `git` CLI mirrors them over git's own protocol (so the fleet needs
//! `git` installed), and the history scan reads each mirror, skipping what an earlier run
//! found clean.
//!
//! - `source`: the config (`github_org`, `gitlab_group`, `urls`, filters), checked.
//! - `list`: the host APIs, paginated, responses bounded.
//! - `mirror`: `git clone --mirror`, then `git fetch --prune`; the token goes to git in
//!   its environment only, and git's messages are sanitized.
//! - `scan`: [`scan_repository`]: mirror one repository and scan what is new in it, with
//!   a per-repository watermark ([`record`]) so an interrupted pass resumes.
//!
//! No token is put in a URL, a mirror's config, a log line, an error or the state.

mod list;
mod mirror;
mod scan;
mod source;
mod url;

pub use list::{HttpOptions, list};
pub use mirror::{GitAuth, Mirrored, mirror, sanitize};
pub use scan::{Fleet, RepoScan, record, remove_mirror, repo_source, scan_repository, store_turn};
pub use source::{Filter, GITHUB_API, GITLAB_API, Source};
pub use url::{Kind, check_url, url_name};

/// One repository of the fleet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    /// The full name (`acme/app`, `acme/platform/api`): names the repository in findings,
    /// logs and the state.
    pub name: String,
    /// Where git fetches it from (https, or http to loopback), without credentials.
    pub clone_url: String,
    /// Archived (read-only) on the host.
    pub archived: bool,
    /// A fork of another repository.
    pub fork: bool,
}
