//! The model a scan produces: severities, contexts, environments and findings.

use crate::secret::{Fingerprint, SecretKey};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How bad a finding is. Ordered: `Low < Medium < High < Critical`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A test key outside production configs.
    Low,
    /// A live key in a non-production config.
    Medium,
    /// A live key hardcoded; a test key in a production config.
    High,
    /// A live key in client-side code; a key verified active.
    Critical,
}

impl Severity {
    /// All severities, most severe first.
    pub const ALL: [Severity; 4] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
    ];

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "low" => Ok(Severity::Low),
            "medium" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            "critical" => Ok(Severity::Critical),
            other => Err(format!(
                "unknown severity {other:?}: expected one of critical, high, medium, low"
            )),
        }
    }
}

/// Where a key sits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Context {
    /// Configuration for production.
    ProductionConfig,
    /// Configuration for development, test, staging or local use.
    NonprodConfig,
    /// Code or resources shipped to browsers or mobile apps.
    ClientSide,
    /// Documentation.
    Docs,
    /// Test suites and fixtures.
    TestFixture,
    /// Anything else.
    Source,
}

impl Context {
    /// Every context.
    pub const ALL: [Context; 6] = [
        Context::ProductionConfig,
        Context::NonprodConfig,
        Context::ClientSide,
        Context::Docs,
        Context::TestFixture,
        Context::Source,
    ];

    /// The kebab-case name used in rules and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Context::ProductionConfig => "production-config",
            Context::NonprodConfig => "nonprod-config",
            Context::ClientSide => "client-side",
            Context::Docs => "docs",
            Context::TestFixture => "test-fixture",
            Context::Source => "source",
        }
    }
}

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Context {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Context::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown context {s:?}: expected one of production-config, nonprod-config, client-side, docs, test-fixture, source"
                )
            })
    }
}

/// Who can read the place a key sits: whether its file is shared through git.
///
/// Severity follows exposure first, then environment ([`crate::rules::Rule::judge`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Exposure {
    /// A file git tracks: committed, shared with everyone who can read the repository.
    Tracked,
    /// Added to the index: the next commit shares it.
    Staged,
    /// In a commit of the history: shared, even if a later commit removed it.
    History,
    /// In the work tree, not tracked and not ignored: `git add .` would share it.
    Untracked,
    /// Not tracked and hidden by ignore rules: a local file that stays on this machine.
    Ignored,
    /// Not in a git work tree (or stdin): nothing tells whether it is shared.
    OutsideGit,
}

impl Exposure {
    /// Every exposure.
    pub const ALL: [Exposure; 6] = [
        Exposure::Tracked,
        Exposure::Staged,
        Exposure::History,
        Exposure::Untracked,
        Exposure::Ignored,
        Exposure::OutsideGit,
    ];

    /// The kebab-case name used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            Exposure::Tracked => "tracked",
            Exposure::Staged => "staged",
            Exposure::History => "history",
            Exposure::Untracked => "untracked",
            Exposure::Ignored => "ignored",
            Exposure::OutsideGit => "outside-git",
        }
    }

    /// Shared through git now or by the next commit: tracked, staged or in history.
    pub fn is_shared(self) -> bool {
        matches!(
            self,
            Exposure::Tracked | Exposure::Staged | Exposure::History
        )
    }
}

impl fmt::Display for Exposure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which MASK environment a key belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// `mk_live_`: production.
    Live,
    /// `mk_test_`: test.
    Test,
}

impl Environment {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Live => "live",
            Environment::Test => "test",
        }
    }
}

/// How the key was written in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Encoding {
    /// As ASCII text.
    Plain,
    /// Base64-encoded (Kubernetes secrets, CI variables); the location is the encoded text.
    Base64,
    /// UTF-16 (little or big endian) text.
    Utf16,
    /// In the file's name, not its content (line and column are 0).
    Name,
}

/// Why a finding does not count.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppression {
    /// `inline` (a `keywarden:allow` directive), `allowlist` (`.keywarden.toml`) or
    /// `baseline`.
    pub kind: String,
    /// The reason given, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The commit that introduced a key found in git history (`scan --history`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Introduced {
    /// Full commit hash.
    pub commit: String,
    /// Author name.
    pub author: String,
    /// Author date, RFC 3339.
    pub date: String,
    /// First line of the commit message.
    pub subject: String,
    /// The key is still at this path in HEAD.
    pub in_head: bool,
    /// `in HEAD`, or `in history only: still leaked, revoke it`.
    pub status: String,
}

/// One key found in one place.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    /// The rule that found it (`mask.live-key`).
    pub rule: String,
    /// How bad it is.
    pub severity: Severity,
    /// Where it sits.
    pub context: Context,
    /// Who can read it: tracked, staged, history, untracked, ignored or outside-git.
    pub exposure: Exposure,
    /// Path as given on the command line (or relative to the scan root), `/`-separated.
    pub path: String,
    /// 1-based line.
    pub line: u64,
    /// 1-based byte column.
    pub column: u64,
    /// 0-based byte offset in the file.
    pub offset: u64,
    /// The file looked binary (report the offset, not the line).
    pub binary: bool,
    /// How the key was written.
    pub encoding: Encoding,
    /// `live` or `test`.
    pub environment: Environment,
    /// `mk_live_4eC3…p7dc`.
    pub redacted: String,
    /// The key's last four characters (MASK's `last_four`).
    pub last_four: String,
    /// SHA-256 of the full key.
    pub fingerprint: Fingerprint,
    /// What to do.
    pub fix: String,
    /// Set when a directive, allowlist or baseline suppresses it.
    pub suppressed: Option<Suppression>,
    /// For history scans: the commit that introduced the key at this path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<Introduced>,
    /// For fleet scans: the repository (`acme/app`) the key was found in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// The path relative to the repository (or scan root): what allowlists and baselines
    /// match, whatever directory the scan ran from.
    #[serde(skip)]
    pub repo_path: String,
    /// 1-based column in UTF-16 code units (for SARIF).
    #[serde(skip)]
    pub column_utf16: u64,
    /// The full key, in memory only (for `--verify`); never serialized or printed.
    #[serde(skip)]
    pub secret: Option<SecretKey>,
    /// What `scan --verify` learnt from the MASK API; absent without `--verify`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified: Option<Verification>,
}

/// Whether the MASK API accepts a found key (`scan --verify`: `GET /workspace` with it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verification {
    /// 200 or 403: the key works.
    Active,
    /// 401: revoked or unknown to MASK.
    Revoked,
    /// The API could not tell (errors, retries exhausted).
    Unknown,
}

impl Finding {
    /// True when it counts towards the exit code.
    pub fn is_active(&self) -> bool {
        self.suppressed.is_none()
    }
}
