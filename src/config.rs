//! The repository's `.keywarden.toml`: scan settings, the allowlist, and extra rules.
//!
//! ```toml
//! [scan]
//! fail_on = "high"              # lowest severity that fails the run
//! exclude = ["vendor/**"]       # globs, relative to the scan root
//! max_filesize = 10485760       # bytes; larger files are skipped (and listed)
//! archives = false              # do not open archives and images (default true)
//!
//! [[allow]]                     # each entry needs `paths` or `fingerprints`, and a reason
//! paths = ["docs/examples/**"]
//! fingerprints = ["3f2a9c0b1d4e"] # SHA-256 of the key: the `fp` of text output (12 hex
//!                               # digits) or any longer prefix, up to all 64
//! reason = "published sandbox key, revoked"
//! until = 2027-01-31            # optional; after it the entry stops applying
//!
//! [[rule]]                      # same schema as rules/*.toml
//! ```

use crate::error::{Error, Result, line_col};
use crate::finding::{Finding, Severity};
use crate::rules::schema::{ContextSpec, CrossEnvSpec, PlaceholderSpec, RuleSpec, RulesFile};
use chrono::NaiveDate;
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// The file name looked for at the scan root.
pub const FILE_NAME: &str = ".keywarden.toml";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRepoConfig {
    version: Option<Spanned<u32>>,
    #[serde(default)]
    scan: ScanSection,
    #[serde(default)]
    allow: Vec<RawAllow>,
    #[serde(default)]
    rule: Vec<RuleSpec>,
    #[serde(default)]
    placeholder: Vec<PlaceholderSpec>,
    #[serde(default)]
    context: Vec<ContextSpec>,
    cross_environment: Option<CrossEnvSpec>,
}

/// `[scan]` settings.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanSection {
    /// Lowest severity that fails the run.
    pub fail_on: Option<Severity>,
    /// Globs of paths not to scan.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Skip files larger than this many bytes.
    pub max_filesize: Option<u64>,
    /// Globs on file names of local secret files scanned even when ignored; replaces the
    /// built-in list.
    pub local_secret_files: Option<Vec<String>>,
    /// Scan the entries of archives and container images (default true).
    pub archives: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAllow {
    #[serde(default)]
    paths: Vec<Spanned<String>>,
    #[serde(default)]
    fingerprints: Vec<Spanned<String>>,
    reason: Option<String>,
    until: Option<Spanned<toml::value::Datetime>>,
}

/// One allowlist entry.
#[derive(Debug)]
pub struct AllowEntry {
    /// Where it is written (`.keywarden.toml:12`).
    pub location: String,
    /// Path globs as written.
    pub paths: Vec<String>,
    globs: GlobSet,
    /// Fingerprints or prefixes of them (lowercase hex, 12 to 64 digits).
    pub fingerprints: Vec<String>,
    /// Why.
    pub reason: Option<String>,
    /// Last day it applies.
    pub until: Option<NaiveDate>,
}

impl AllowEntry {
    /// Does it cover this finding? Fingerprint prefixes in `ambiguous` are not used.
    pub fn covers(&self, f: &Finding, ambiguous: &[String]) -> bool {
        self.path_matches(f)
            && (self.fingerprints.is_empty()
                || self
                    .fingerprints
                    .iter()
                    .any(|p| !ambiguous.contains(p) && f.fingerprint.as_str().starts_with(p)))
    }

    /// Does the finding's path match (or has the entry no paths)?
    pub fn path_matches(&self, f: &Finding) -> bool {
        let path = if f.repo_path.is_empty() {
            &f.path
        } else {
            &f.repo_path
        };
        self.paths.is_empty() || self.globs.is_match(path)
    }

    /// Has its `until` date passed?
    pub fn expired(&self, today: NaiveDate) -> bool {
        self.until.is_some_and(|u| today > u)
    }
}

/// The shortest fingerprint prefix an allowlist accepts: 48 bits, what text output shows.
pub const MIN_FINGERPRINT_PREFIX: usize = 12;

/// `s` as a lowercase fingerprint prefix, when it is 12 to 64 hex digits.
fn fingerprint_prefix(s: &str) -> Option<String> {
    let s = s.trim().to_ascii_lowercase();
    let ok = (MIN_FINGERPRINT_PREFIX..=64).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_hexdigit());
    ok.then_some(s)
}

/// The parsed repository config.
#[derive(Debug, Default)]
pub struct RepoConfig {
    /// Where it was read from, if anywhere.
    pub path: Option<PathBuf>,
    /// `[scan]`.
    pub scan: ScanSection,
    /// `[[allow]]` entries.
    pub allow: Vec<AllowEntry>,
    /// Rules defined in the file, as a rules source.
    pub rules: Option<crate::rules::Source>,
}

impl RepoConfig {
    /// Reads `path`; a missing file is an empty config only when `optional`.
    pub fn load(path: &Path, optional: bool) -> Result<RepoConfig> {
        let text = match crate::bounded::read_to_string(path) {
            Ok(t) => t,
            Err(e) if optional && e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(RepoConfig::default());
            }
            // An unreadable scan root: the scan reports that directory; do not blame a
            // config file nobody can tell exists.
            Err(e)
                if optional
                    && e.kind() == std::io::ErrorKind::PermissionDenied
                    && std::fs::symlink_metadata(path).is_err() =>
            {
                return Ok(RepoConfig::default());
            }
            Err(e) => return Err(Error::io(path, e)),
        };
        Self::parse(path, &text)
    }

    /// Parses the text of a config file at `path`.
    pub fn parse(path: &Path, text: &str) -> Result<RepoConfig> {
        let err = |span: std::ops::Range<usize>, message: String, hint: &str| {
            let (line, column) = line_col(text, span.start);
            Error::Config {
                path: path.to_path_buf(),
                line,
                column,
                message,
                hint: hint.to_string(),
            }
        };
        let raw: RawRepoConfig = toml::from_str(text).map_err(|e| {
            crate::toml_error::config_error(
                path,
                text,
                &e,
                "see the configuration reference in the README (sections [scan], [[allow]], [[rule]], [[context]], [[placeholder]])",
            )
        })?;
        let mut allow = Vec::new();
        for a in raw.allow {
            let location = format!(
                "{}:{}",
                path.display(),
                a.paths
                    .first()
                    .or(a.fingerprints.first())
                    .map_or(1, |s| line_col(text, s.span().start).0)
            );
            if a.paths.is_empty() && a.fingerprints.is_empty() {
                return Err(err(
                    0..0,
                    "an [[allow]] entry has neither `paths` nor `fingerprints`".into(),
                    "add `paths = [\"glob\"]` or `fingerprints = [\"<sha256>\"]`; an entry that allows everything is not allowed",
                ));
            }
            let mut gb = GlobSetBuilder::new();
            for p in &a.paths {
                let g = GlobBuilder::new(p.get_ref())
                    .literal_separator(true)
                    .build()
                    .map_err(|e| {
                        err(
                            p.span(),
                            format!("invalid glob: {e}"),
                            "globs use `*`, `**`, `?`, `[ab]`, `{a,b}`",
                        )
                    })?;
                gb.add(g);
            }
            let globs = gb.build().map_err(|e| {
                err(
                    0..0,
                    format!("invalid globs: {e}"),
                    "check the `paths` of [[allow]]",
                )
            })?;
            let mut fingerprints = Vec::new();
            for f in &a.fingerprints {
                fingerprints.push(fingerprint_prefix(f.get_ref()).ok_or_else(|| {
                    err(f.span(), "this value is not a SHA-256 fingerprint or a prefix of one of at least 12 hex digits (it is not echoed here: it may be a key)".to_string(), "copy the `fp` of the finding from `keywarden scan` (12 hex digits) or its `fingerprint` from --format json; never put the key itself here")
                })?);
            }
            let reason = a.reason.filter(|r| !r.trim().is_empty()).ok_or_else(|| {
                err(
                    a.paths
                        .first()
                        .or(a.fingerprints.first())
                        .map_or(0..0, |s| s.span()),
                    "this [[allow]] entry has no `reason`".into(),
                    "say why the key may stay, e.g. reason = \"made-up key in a test fixture\"; the reason is shown with every finding it suppresses",
                )
            })?;
            let until = match &a.until {
                None => None,
                Some(d) => Some(
                    d.get_ref()
                        .date
                        .and_then(|d| {
                            NaiveDate::from_ymd_opt(
                                i32::from(d.year),
                                u32::from(d.month),
                                u32::from(d.day),
                            )
                        })
                        .ok_or_else(|| {
                            err(
                                d.span(),
                                "`until` must be a date".into(),
                                "write it as until = 2027-01-31",
                            )
                        })?,
                ),
            };
            allow.push(AllowEntry {
                location,
                paths: a.paths.iter().map(|p| p.get_ref().clone()).collect(),
                globs,
                fingerprints,
                reason: Some(reason),
                until,
            });
        }
        let has_rules = !raw.rule.is_empty()
            || !raw.context.is_empty()
            || !raw.placeholder.is_empty()
            || raw.cross_environment.is_some();
        let rules = has_rules.then(|| crate::rules::Source {
            origin: path.display().to_string(),
            text: text.to_string(),
            file: RulesFile {
                version: raw.version,
                rule: raw.rule,
                placeholder: raw.placeholder,
                context: raw.context,
                cross_environment: raw.cross_environment,
            },
        });
        Ok(RepoConfig {
            path: Some(path.to_path_buf()),
            scan: raw.scan,
            allow,
            rules,
        })
    }
}
