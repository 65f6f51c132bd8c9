//! Command-line types: inert clap definitions with the help text users read.
//! Validation and merging with the environment and config files is in [`crate::settings`].

use crate::finding::Severity;
use crate::report::Format;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

const EXIT_CODES: &str = "\
Exit codes:
  0  no finding at or above --fail-on (suppressed findings do not count)
  1  at least one finding at or above --fail-on
  2  an error: bad usage, bad config or rules, unreadable files, nothing scanned";

/// Keywarden keeps MASK API keys (mk_live_…, mk_test_…) out of code.
///
/// `keywarden scan` finds hardcoded keys in a tree and judges each by where it sits: a
/// live key in browser code is critical, a test key in a production config is high. It
/// needs no account and no config.
#[derive(Debug, Parser)]
#[command(name = "keywarden", version, after_help = EXIT_CODES, propagate_version = true)]
pub struct Cli {
    /// When to color output: auto (only on a terminal, never with NO_COLOR set), always,
    /// never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,

    /// More log output on stderr (-v: info, -vv: debug). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Only errors on stderr: no warnings, no progress bar.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// When to use colors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless NO_COLOR is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Find MASK keys in files and directories.
    #[command(after_help = SCAN_HELP)]
    Scan(ScanArgs),
    /// List or check detection rules.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Audit the workspace's keys: inactive, overdue for rotation, over-scoped, leaked.
    #[command(after_help = AUDIT_HELP)]
    Audit(AuditArgs),
}

const SCAN_HELP: &str = "\
Examples:
  keywarden scan                         scan the current directory
  keywarden scan src config --fail-on high
  keywarden scan . --format sarif -o keywarden.sarif
  cat build.log | keywarden scan - --stdin-path build.log

Every finding shows file:line:column, severity, rule, context, the redacted key
(mk_live_4eC3…p7dc) and its SHA-256 fingerprint; the full key is never printed.
Mark a deliberate exception with a `keywarden:allow` comment on the key's line
(`keywarden:allow-next-line` on the line before), or in .keywarden.toml.

Exit codes:
  0  no finding at or above --fail-on (suppressed findings do not count)
  1  at least one finding at or above --fail-on
  2  an error: bad usage, bad config or rules, unreadable files, nothing scanned";

/// `keywarden scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files or directories to scan; `-` reads stdin. Default: the current directory.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Output format.
    #[arg(long, short = 'f', value_enum, env = "KEYWARDEN_FORMAT")]
    pub format: Option<Format>,

    /// Write the report to FILE instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Lowest severity that makes the exit code 1 [default: low, or [scan] fail_on].
    #[arg(long, value_name = "SEVERITY", env = "KEYWARDEN_FAIL_ON", value_parser = parse_severity)]
    pub fail_on: Option<Severity>,

    /// Extra rules file (TOML, same schema as the built-ins); repeatable. Later files
    /// override earlier ones by id.
    #[arg(long, value_name = "FILE")]
    pub rules: Vec<PathBuf>,

    /// Repository config [default: .keywarden.toml in the first scanned directory, or
    /// the current directory].
    #[arg(long, value_name = "FILE", env = "KEYWARDEN_CONFIG")]
    pub config: Option<PathBuf>,

    /// Do not read .keywarden.toml.
    #[arg(long, conflicts_with = "config")]
    pub no_config: bool,

    /// Scan files that .gitignore, .ignore and git's excludes would skip.
    #[arg(long)]
    pub no_ignore: bool,

    /// Skip hidden files and directories (they are scanned by default: .env files are
    /// where keys hide).
    #[arg(long)]
    pub no_hidden: bool,

    /// Follow symbolic links.
    #[arg(long, short = 'L')]
    pub follow: bool,

    /// Worker threads [default: one per core].
    #[arg(long, short = 'j', value_name = "N")]
    pub threads: Option<usize>,

    /// Skip files larger than N bytes (they are listed in the summary).
    #[arg(long, value_name = "BYTES")]
    pub max_filesize: Option<u64>,

    /// Glob of paths not to scan (relative to each scanned directory); repeatable.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,

    /// Also list matches that were recognised as placeholders or doc examples.
    #[arg(long)]
    pub show_placeholders: bool,

    /// Also list suppressed findings in text output (JSON and SARIF always include them).
    #[arg(long)]
    pub show_suppressed: bool,

    /// Name under which stdin is reported and classified (e.g. `.env.production`).
    #[arg(long, value_name = "NAME")]
    pub stdin_path: Option<String>,

    /// Ask the MASK API whether each found key is live (`GET /workspace` with the key; only
    /// to the --api-url base). Findings gain `verified`; an active live key is critical.
    #[arg(long)]
    pub verify: bool,

    /// MASK API base URL for --verify [default: https://api.mask.bz/v1].
    #[arg(long, value_name = "URL", env = "MASK_API_URL")]
    pub api_url: Option<String>,
}

/// `keywarden rules …`.
#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Print the rules, contexts and placeholder filters in effect.
    List {
        /// Extra rules file; repeatable.
        #[arg(long, value_name = "FILE")]
        rules: Vec<PathBuf>,
        /// Output format (text or json).
        #[arg(long, short = 'f', value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Validate rules files: syntax, regexes, globs, and every example and negative
    /// example (with no FILE: the built-in rules). Exit 0 when all is well, 2 otherwise.
    Check {
        /// Rules files to check, merged over the built-ins.
        #[arg(value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Treat warnings (rules without examples) as errors.
        #[arg(long)]
        strict: bool,
    },
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    s.parse()
}

const AUDIT_HELP: &str = "\
Examples:
  keywarden audit --inventory examples/inventory.json     no account needed
  MASK_API_KEY=mk_live_… keywarden audit --format markdown
  keywarden scan . --format json -o scan.json && keywarden audit --findings scan.json

The audit key (only the workspace:read scope is needed) is read from --key-file, else
the MASK_API_KEY environment variable, else the systemd credential mask-api-key; never
from the command line or the config file.

Exit codes:
  0  no finding at or above --fail-on (excepted findings do not count)
  1  at least one finding at or above --fail-on
  2  an error: bad usage, bad config or input, API unreachable or refusing the key";

/// `keywarden audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Audit this inventory file (the API's `/api-keys` list shape, optionally with
    /// `workspace` and `usage`) instead of calling the API.
    #[arg(long, value_name = "FILE")]
    pub inventory: Option<PathBuf>,

    /// MASK API base URL [default: [audit] api_url, or https://api.mask.bz/v1]. Plain
    /// http:// only to loopback.
    #[arg(long, value_name = "URL", env = "MASK_API_URL")]
    pub api_url: Option<String>,

    /// Read the audit key from FILE (else MASK_API_KEY, else the systemd credential).
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,

    /// Service config with an [audit] section (thresholds, exceptions, API settings).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// The JSON report of `keywarden scan --format json`: keys found in code are matched to
    /// the workspace's keys (environment and last four).
    #[arg(long, value_name = "FILE")]
    pub findings: Option<PathBuf>,

    /// List revoked keys too.
    #[arg(long)]
    pub include_revoked: bool,

    /// Output format [default: text].
    #[arg(long, short = 'f', value_enum)]
    pub format: Option<crate::report::AuditFormat>,

    /// Write the report to FILE instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Lowest severity that makes the exit code 1 [default: [audit] fail_on, or medium].
    #[arg(long, value_name = "SEVERITY", value_parser = parse_severity)]
    pub fail_on: Option<Severity>,

    /// Judge as of this time (RFC 3339, or YYYY-MM-DD) instead of now: reproducible
    /// reports.
    #[arg(long, value_name = "TIME")]
    pub as_of: Option<String>,

    /// Usage calls in flight at once [default: [audit] concurrency, or 8].
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
}
