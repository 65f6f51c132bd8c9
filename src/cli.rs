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
  2  an error: bad usage, bad config or rules, unreadable files or corrupt archives,
     nothing scanned";

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
    /// Install or remove the git pre-commit hook that runs `keywarden scan --staged`, or
    /// the coding-agent hooks (Claude Code, Cursor) that run `keywarden hook check`.
    #[command(subcommand, after_help = HOOK_HELP)]
    Hook(HookCommand),
    /// Record current findings in a baseline file, so that `scan --baseline` reports only
    /// new ones.
    #[command(after_help = BASELINE_HELP)]
    Baseline(BaselineArgs),
    /// Audit the workspace's keys: inactive, overdue for rotation, over-scoped, leaked.
    #[command(after_help = AUDIT_HELP)]
    Audit(AuditArgs),
    /// List, retry, drop or deliver notifications in the outbox (`[notify]`, `[state]`).
    #[command(after_help = OUTBOX_HELP)]
    Outbox(OutboxArgs),
    /// Render a scan or audit JSON report as the notifications show it (text, markdown,
    /// html, json), without sending anything: to preview templates.
    Report(ReportArgs),
    /// Run under systemd: scheduled audits and scans, watched paths, state, reports.
    #[command(after_help = DAEMON_HELP)]
    Daemon(DaemonArgs),
    /// Check a service config without starting anything.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Last and next runs, open findings by severity, and the outbox.
    Status(StatusArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish) to stdout.
    #[command(after_help = COMPLETIONS_HELP)]
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout: `keywarden man > keywarden.1`.
    Man,
}

const COMPLETIONS_HELP: &str = "\
Install:
  bash        keywarden completions bash > ~/.local/share/bash-completion/completions/keywarden
  zsh         keywarden completions zsh > ~/.zfunc/_keywarden   (with fpath+=~/.zfunc)
  fish        keywarden completions fish > ~/.config/fish/completions/keywarden.fish
  powershell  keywarden completions powershell >> $PROFILE";

const HOOK_HELP: &str = "\
The hook runs `keywarden scan --staged` (with --baseline .keywarden-baseline.json when
that file exists) and blocks a commit that adds a key. It is written to core.hooksPath
when set, else .git/hooks/pre-commit. A hook keywarden did not write is never replaced
without --force (it is then kept as pre-commit.keywarden-backup) and never uninstalled.
With the pre-commit framework, use .pre-commit-hooks.yaml instead (see README).

Coding agents: `keywarden hook install --agent claude-code` adds a PreToolUse and a
UserPromptSubmit hook to .claude/settings.local.json; `--agent cursor` adds hooks to
.cursor/hooks.json. Each runs `keywarden hook check --agent NAME`, which blocks a tool
call or prompt that holds a MASK key and tells the agent why (the key redacted).";

const BASELINE_HELP: &str = "\
Examples:
  keywarden baseline --output .keywarden-baseline.json
  keywarden scan --baseline .keywarden-baseline.json
  keywarden baseline --history -o .keywarden-baseline.json   (known keys in history)

Each entry is (path, rule, context, fingerprint): never the key, no line number. Moving
a key within its file keeps it known; copying it to another file is a new finding.
The file is sorted JSON without timestamps, so it diffs well in review.";

/// `keywarden hook …`.
#[derive(Debug, Subcommand)]
pub enum HookCommand {
    /// Write the repository's pre-commit hook.
    Install {
        /// Replace a pre-commit hook that keywarden did not write (kept as
        /// pre-commit.keywarden-backup).
        #[arg(long, conflicts_with = "agent")]
        force: bool,
        /// Install a coding agent's hooks instead of the git pre-commit hook.
        #[arg(long, value_enum, value_name = "AGENT")]
        agent: Option<crate::agent::Agent>,
    },
    /// Remove the pre-commit hook if keywarden wrote it (restoring the hook that
    /// `--force` replaced), or with --agent, keywarden's hooks of that agent.
    Uninstall {
        /// Remove a coding agent's hooks instead of the git pre-commit hook.
        #[arg(long, value_enum, value_name = "AGENT")]
        agent: Option<crate::agent::Agent>,
    },
    /// Run as a coding agent's hook: read the hook's JSON on stdin and block the tool call
    /// or prompt when it holds a MASK key.
    #[command(after_help = CHECK_HELP)]
    Check {
        /// Whose protocol to speak.
        #[arg(long, value_enum, value_name = "AGENT", default_value_t = crate::agent::Agent::Generic)]
        agent: crate::agent::Agent,
        /// Lowest severity that blocks.
        #[arg(long, value_name = "SEVERITY", default_value = "low", value_parser = parse_severity)]
        fail_on: Severity,
    },
}

const CHECK_HELP: &str = "\
What is scanned: Claude Code PreToolUse tool input (Write content, Edit new_string, Bash
command, MCP arguments; never the text an edit replaces) and UserPromptSubmit prompts;
Cursor beforeShellExecution, beforeMCPExecution, beforeReadFile, beforeSubmitPrompt and
afterFileEdit (which cannot block: it only warns); generic: every string in the JSON.
A `keywarden:allow` comment on the key's line lets it through.

Answers:
  claude-code, generic  exit 2 with the reason on stderr blocks; exit 0 allows
  cursor                JSON on stdout: {\"permission\": \"deny\", …} or {\"continue\": false, …}
A payload that cannot be read blocks (exit 2, or a deny for Cursor): a broken hook must
not let keys through.";

/// `keywarden baseline`.
#[derive(Debug, Args)]
pub struct BaselineArgs {
    /// Files or directories to scan. Default: the current directory.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Baseline file to write.
    #[arg(
        long,
        short = 'o',
        value_name = "FILE",
        default_value = ".keywarden-baseline.json"
    )]
    pub output: PathBuf,

    /// Record findings of the git history (all refs) instead of the files.
    #[arg(long, conflicts_with = "paths")]
    pub history: bool,

    /// Repository config [default: .keywarden.toml].
    #[arg(long, value_name = "FILE", env = "KEYWARDEN_CONFIG")]
    pub config: Option<PathBuf>,

    /// Do not read .keywarden.toml.
    #[arg(long, conflicts_with = "config")]
    pub no_config: bool,

    /// Extra rules file; repeatable.
    #[arg(long, value_name = "FILE")]
    pub rules: Vec<PathBuf>,

    /// Glob of paths not to scan; repeatable.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
}

/// `keywarden report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The JSON of `keywarden scan --format json` or `keywarden audit --format json`;
    /// `-` reads stdin.
    #[arg(value_name = "FILE")]
    pub input: PathBuf,

    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = ReportFormatArg::Text)]
    pub format: ReportFormatArg,

    /// A directory whose report.txt / report.md / report.html replace the built-in
    /// templates (as `[notify] templates`).
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
}

/// Formats of `keywarden report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormatArg {
    /// Plain text (the email's text part).
    Text,
    /// Markdown.
    Markdown,
    /// HTML (the email's HTML part).
    Html,
    /// The versioned report model.
    Json,
}

const SCAN_HELP: &str = "\
Examples:
  keywarden scan                         scan the current directory
  keywarden scan src config --fail-on high
  keywarden scan . --format sarif -o keywarden.sarif
  cat build.log | keywarden scan - --stdin-path build.log
  keywarden scan --staged                what the next commit adds (the pre-commit hook)
  keywarden scan --history               every blob in every commit of all refs
  keywarden scan --range \"$BEFORE..$AFTER\" --format sarif   a CI push's commits
  keywarden scan --baseline .keywarden-baseline.json   only findings not in the baseline

Every finding shows file:line:column, severity, rule, context, the redacted key
(mk_live_4eC3…p7dc) and its SHA-256 fingerprint; the full key is never printed.
Archives (zip, jar, war, tar, tar.gz, docker save, OCI layouts) are opened: a key in
one is reported at archive!entry (e.g. app.tar.gz!inner.zip!config/.env.production).
Mark a deliberate exception with a `keywarden:allow` comment on the key's line
(`keywarden:allow-next-line` on the line before), or in .keywarden.toml.

Exit codes:
  0  no finding at or above --fail-on (suppressed findings do not count)
  1  at least one finding at or above --fail-on
  2  an error: bad usage, bad config or rules, unreadable files or corrupt archives,
     nothing scanned";

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

    /// Worker threads, at most 1024 [default: one per core].
    #[arg(long, short = 'j', value_name = "N", value_parser = threads)]
    pub threads: Option<usize>,

    /// Skip files larger than N bytes (they are listed in the summary).
    #[arg(long, value_name = "BYTES")]
    pub max_filesize: Option<u64>,

    /// Glob of paths not to scan (relative to each scanned directory); repeatable.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,

    /// Scan archives (zip, jar, war, tar, tar.gz, …) and container images as plain
    /// bytes only, without opening their entries [default: entries are scanned, or
    /// [scan] archives].
    #[arg(long)]
    pub no_archives: bool,

    /// Read every file instead of memory-mapping the big ones (1 MiB and more), which
    /// is faster on most systems.
    #[arg(long)]
    pub no_mmap: bool,

    /// Also list matches that were recognised as placeholders or doc examples.
    #[arg(long)]
    pub show_placeholders: bool,

    /// Also list suppressed findings in text output (JSON and SARIF always include them).
    #[arg(long)]
    pub show_suppressed: bool,

    /// Name under which stdin is reported and classified (e.g. `.env.production`).
    #[arg(long, value_name = "NAME")]
    pub stdin_path: Option<String>,

    /// Scan what the next commit would contain: the staged (index) content of added and
    /// modified files, reporting keys on the lines the commit adds. A key already in HEAD
    /// does not block; renamed-unchanged files, symlinks and submodules are skipped. Run
    /// from anywhere in the repository; paths are relative to its top.
    #[arg(long, conflicts_with_all = ["paths", "history", "since", "range"])]
    pub staged: bool,

    /// With --staged: report every key in the staged files, not only on added lines.
    #[arg(long, requires = "staged")]
    pub whole_files: bool,

    /// Scan the git history: every blob reachable from all refs, each unique blob once.
    /// Each finding names the commit that introduced it and says whether it is still in
    /// HEAD. A shallow clone is an error (fetch the full history).
    #[arg(long, conflicts_with = "paths")]
    pub history: bool,

    /// History of the commits reachable from HEAD but not from REV (REV..HEAD), e.g.
    /// origin/main. An unresolvable REV is an error that says what to fetch.
    #[arg(long, value_name = "REV", conflicts_with_all = ["paths", "range"])]
    pub since: Option<String>,

    /// History of the commits in A..B (reachable from B, not from A): a push's range in CI.
    #[arg(long, value_name = "A..B", conflicts_with = "paths")]
    pub range: Option<String>,

    /// Report only findings not recorded in this baseline (see `keywarden baseline`);
    /// known ones are listed as suppressed (kind `baseline`).
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Ask the MASK API whether each found key is live (`GET /workspace` with the key; only
    /// to the --api-url base). Findings gain `verified`; an active live key is critical.
    #[arg(long)]
    pub verify: bool,

    /// MASK API base URL for --verify [default: https://api.mask.bz/v1].
    #[arg(long, value_name = "URL", env = "MASK_API_URL")]
    pub api_url: Option<String>,
    /// Send the report through the channels in [notify] of the service config (email,
    /// webhook), via the persistent outbox. Without it nothing is sent.
    #[arg(long)]
    pub notify: bool,

    /// The service config whose [notify] and [state] `--notify` uses (`--config` here is
    /// the repository's .keywarden.toml). Read only with --notify.
    #[arg(
        long,
        value_name = "FILE",
        env = "KEYWARDEN_SERVICE_CONFIG",
        default_value = "/etc/keywarden/keywarden.toml"
    )]
    pub service_config: PathBuf,
}

const OUTBOX_HELP: &str = "\
Every notification is written to the outbox (the [state] SQLite file) before it is
sent. Transient failures (connection refused, timeouts, SMTP 4xx, HTTP 5xx/408/429)
are retried with exponential backoff across runs; permanent ones (SMTP 5xx, HTTP 4xx)
are dead-lettered with the reason; HTTP 410 disables the channel until `retry`.

Examples:
  keywarden outbox --config /etc/keywarden/keywarden.toml          list pending and dead
  keywarden outbox list --all --format json --config keywarden.toml
  keywarden outbox retry 42 --config keywarden.toml
  keywarden outbox drop 42 --config keywarden.toml
  keywarden outbox deliver --config keywarden.toml                  send what is due

Exit codes:
  0  done (retry/deliver: everything attempted was delivered)
  1  retry/deliver: something is still pending or was dead-lettered
  2  an error: bad config, unreadable state store, unknown id";

/// `keywarden outbox …`.
#[derive(Debug, Args)]
pub struct OutboxArgs {
    /// The service config ([notify] channels and [state] path).
    #[arg(
        long,
        visible_alias = "service-config",
        value_name = "FILE",
        env = "KEYWARDEN_SERVICE_CONFIG",
        default_value = "/etc/keywarden/keywarden.toml",
        global = true
    )]
    pub config: PathBuf,

    /// What to do (default: list).
    #[command(subcommand)]
    pub action: Option<OutboxCommand>,
}

/// Outbox actions.
#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// List pending and dead-lettered messages (and disabled channels).
    List {
        /// Also list delivered messages.
        #[arg(long)]
        all: bool,
        /// Output format.
        #[arg(long, short = 'f', value_enum, default_value_t = OutboxFormat::Text)]
        format: OutboxFormat,
    },
    /// Make a pending or dead message due now (re-enabling its channel) and send it.
    Retry {
        /// The message id (from `list`).
        id: i64,
    },
    /// Delete a message from the outbox without sending it.
    Drop {
        /// The message id (from `list`).
        id: i64,
    },
    /// Send every due message now (what `scan --notify` does before it exits).
    Deliver,
}

/// Output of `keywarden outbox list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutboxFormat {
    /// A table.
    Text,
    /// `{"version": 1, "messages": […], "disabled_channels": […]}`.
    Json,
}

/// `keywarden rules …`.
#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Print the rules, contexts and placeholder filters in effect.
    List {
        /// Extra rules file; repeatable.
        #[arg(long, value_name = "FILE")]
        rules: Vec<PathBuf>,
        /// Output format.
        #[arg(long, short = 'f', value_enum, default_value_t = RulesFormat::Text)]
        format: RulesFormat,
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

/// Worker threads: 0 (one per core) to 1024; more only exhausts memory and the kernel's
/// thread limit.
fn threads(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n <= 1024 => Ok(n),
        Ok(_) => Err("at most 1024 threads".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// Output of `keywarden rules list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RulesFormat {
    /// Tables.
    Text,
    /// `{"rules": […], "contexts": […], "placeholders": […], "cross_environment": {…}}`.
    Json,
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

    /// Send the report through the channels in [notify] of the --config file (email,
    /// webhook), via the persistent outbox. Without it nothing is sent.
    #[arg(long, requires = "config")]
    pub notify: bool,
}

const DAEMON_HELP: &str = "\
Signals: SIGHUP reloads the config (a broken one is rejected and the running one kept);
SIGTERM and SIGINT stop after the runs in flight finish (exit 0).
systemd: Type=notify (READY=1, RELOADING=1, STOPPING=1, WATCHDOG=1 when WatchdogSec= is
set); logs go to journald when JOURNAL_STREAM is set. See systemd/keywarden.service.

Exit codes:
  0  stopped by SIGTERM or SIGINT
  2  the config is invalid or the state store cannot be opened";

/// `keywarden daemon`.
#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// The service config ([daemon], [audit], [notify], [state]).
    #[arg(
        long,
        value_name = "FILE",
        env = "KEYWARDEN_SERVICE_CONFIG",
        default_value = "/etc/keywarden/keywarden.toml"
    )]
    pub config: PathBuf,
}

/// `keywarden config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a service config: syntax, unknown keys (with the closest valid one),
    /// cron expressions, time zone, channels. Exit 0 when valid, 2 otherwise.
    Check {
        /// The service config.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

/// `keywarden status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The service config.
    #[arg(
        long,
        value_name = "FILE",
        env = "KEYWARDEN_SERVICE_CONFIG",
        default_value = "/etc/keywarden/keywarden.toml"
    )]
    pub config: PathBuf,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = OutboxFormat::Text)]
    pub format: OutboxFormat,
}
