//! Typed errors of the library. Each says what failed, where, and how to fix it.

use std::path::PathBuf;

/// Everything the library can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A rules file is malformed or one of its rules is invalid.
    #[error(
        "{origin}:{line}:{column}: {message}\n  hint: run `keywarden rules check {origin}` to see every problem in the file"
    )]
    Rules {
        /// Where the rules came from (a path, or `builtin:<name>`).
        origin: String,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// A configuration file is malformed.
    #[error("{path}:{line}:{column}: {message}\n  hint: {hint}")]
    Config {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
        /// How to fix it.
        hint: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A path given on the command line does not exist.
    #[error(
        "{0}: no such file or directory\n  hint: check the path; `keywarden scan` with no path scans the current directory"
    )]
    NoSuchPath(PathBuf),
    /// The scan read nothing at all of what it was asked to scan.
    #[error(
        "nothing was scanned: {0}\n  hint: check the paths, and run with --no-ignore if .gitignore rules skip everything"
    )]
    NothingScanned(String),
    /// Bad usage that clap could not catch.
    #[error("{0}")]
    Usage(String),
    /// Writing the report failed.
    #[error("writing the report: {0}")]
    Output(#[source] std::io::Error),
    /// Reading the git repository failed, or it cannot answer what was asked (a shallow
    /// clone, a revision that is not there).
    #[error("git: {message}\n  hint: {hint}")]
    Git {
        /// What failed.
        message: String,
        /// How to fix it.
        hint: String,
    },
    /// The state store (SQLite) could not be opened, migrated, read or written.
    #[error("state store {path}: {message}\n  hint: {hint}")]
    Store {
        /// The SQLite file.
        path: PathBuf,
        /// What failed.
        message: String,
        /// How to fix it.
        hint: String,
    },
    /// `[state]` of the service config is invalid (both `path` and `url`, a bad URL).
    #[error("{path}: [state]: {message}\n  hint: {hint}")]
    StateConfig {
        /// The config file.
        path: PathBuf,
        /// What is wrong.
        message: String,
        /// How to fix it.
        hint: String,
    },
    /// The pre-commit hook could not be installed or removed.
    #[error("{path}: {message}\n  hint: {hint}")]
    Hook {
        /// The hook file.
        path: PathBuf,
        /// What is wrong.
        message: String,
        /// How to fix it.
        hint: String,
    },
    /// The MASK API rejected the audit key (401): wrong, revoked, or from another workspace.
    #[error(
        "{url}: 401 Unauthorized: the MASK API rejected the audit key {key} (wrong or revoked){}\n  hint: create a key with only the workspace:read scope and pass it in MASK_API_KEY, --key-file or the systemd credential `mask-api-key`",
        rid(.request_id)
    )]
    ApiUnauthorized {
        /// The URL called.
        url: String,
        /// The audit key, redacted.
        key: String,
        /// The response's `Request-Id`.
        request_id: Option<String>,
    },
    /// The audit key lacks a scope (403).
    #[error(
        "{url}: 403 Forbidden: the audit key {key} lacks the scope `{scope}`{}\n  hint: give the audit key the `{scope}` scope in Settings → API Keys (the auditor needs only workspace:read)",
        rid(.request_id)
    )]
    ApiForbidden {
        /// The URL called.
        url: String,
        /// The audit key, redacted.
        key: String,
        /// The missing scope (`error.required_scope`, or `workspace:read` when absent).
        scope: String,
        /// The response's `Request-Id`.
        request_id: Option<String>,
    },
    /// The MASK API answered with an error status (after retries, for 429 and 5xx).
    #[error("{url}: HTTP {status}: {message}{} (after {attempts} attempt(s))\n  hint: {hint}", rid(.request_id))]
    ApiStatus {
        /// The URL called.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The error message from the body, or the status text.
        message: String,
        /// The response's `Request-Id`.
        request_id: Option<String>,
        /// How many times the call was made.
        attempts: u32,
        /// How to fix it.
        hint: String,
    },
    /// The MASK API could not be reached (connect error, timeout, dropped connection), after retries.
    #[error(
        "{url}: {message} (after {attempts} attempt(s))\n  hint: check the network and --api-url / MASK_API_URL; the call is retried with backoff up to the configured deadline"
    )]
    ApiUnreachable {
        /// The URL called.
        url: String,
        /// What went wrong.
        message: String,
        /// How many times the call was made.
        attempts: u32,
    },
    /// The MASK API answered with a body that does not match the expected shape.
    #[error(
        "{url}: malformed response: field `{field}`: {message}{}\n  hint: the API's shape may have changed; report it with the Request-Id",
        rid(.request_id)
    )]
    ApiMalformed {
        /// The URL called.
        url: String,
        /// The JSON path of the bad field (`data[3].last_four`), or `.` for the whole body.
        field: String,
        /// What is wrong with it.
        message: String,
        /// The response's `Request-Id`.
        request_id: Option<String>,
    },
    /// The API base URL is invalid or not allowed.
    #[error("MASK API URL {url:?}: {message}\n  hint: {hint}")]
    ApiUrl {
        /// The URL as given.
        url: String,
        /// What is wrong.
        message: String,
        /// How to fix it.
        hint: String,
    },
    /// A notification setting is invalid (`key` is the config key, e.g.
    /// `notify.email[security].tls`).
    #[error("{path}: {key}: {message}\n  hint: {hint}")]
    NotifyConfig {
        /// The config file.
        path: PathBuf,
        /// The config key.
        key: String,
        /// What is wrong.
        message: String,
        /// How to fix it.
        hint: String,
    },
    /// No usable audit key was found, or it is malformed.
    #[error("audit key: {message}\n  hint: {hint}")]
    AuditKey {
        /// What is wrong.
        message: String,
        /// How to fix it.
        hint: String,
    },
    /// A secret (SMTP password, webhook URL or signing secret) could not be read. The
    /// message never contains the secret.
    #[error("{what}: {message}\n  hint: {hint}")]
    Secret {
        /// Which secret (config key).
        what: String,
        /// What failed.
        message: String,
        /// How to fix it.
        hint: String,
    },
    /// A report template failed to load or render.
    #[error(
        "template {name}: {message}\n  hint: fix the template, or remove it from [notify] templates to use the built-in one"
    )]
    Template {
        /// Template name or path.
        name: String,
        /// The engine's message, with line.
        message: String,
    },
    /// An input report (audit or scan JSON) could not be read.
    #[error(
        "{origin}: {message}\n  hint: pass the JSON of `keywarden scan --format json` or `keywarden audit --format json`"
    )]
    ReportInput {
        /// File or `stdin`.
        origin: String,
        /// What is wrong (with line and column).
        message: String,
    },
    /// `[daemon]` of the service config is invalid beyond its syntax.
    #[error("{path}: [daemon]: {message}\n  hint: {hint}")]
    DaemonConfig {
        /// The config file.
        path: PathBuf,
        /// What is wrong.
        message: String,
        /// How to fix it.
        hint: String,
    },
    /// The daemon could not start (signals, file watcher, runtime).
    #[error("daemon: {message}\n  hint: {hint}")]
    Daemon {
        /// What failed.
        message: String,
        /// How to fix it.
        hint: String,
    },
    /// A fleet (`[[daemon.scan]] source = …`) could not be listed, mirrored or scanned.
    #[error("fleet: {message}\n  hint: {hint}")]
    Fleet {
        /// What failed (sanitized: never a token).
        message: String,
        /// How to fix it.
        hint: String,
    },
    /// A JSON input file (inventory, scan findings) is malformed.
    #[error("{path}: {message}\n  hint: {hint}")]
    Input {
        /// The file.
        path: PathBuf,
        /// What is wrong (with the JSON path of the bad field).
        message: String,
        /// How to fix it.
        hint: String,
    },
}

fn rid(request_id: &Option<String>) -> String {
    match request_id {
        Some(id) => format!(" (Request-Id: {id})"),
        None => String::new(),
    }
}

impl Error {
    /// A git error: what failed and how to fix it.
    pub fn git(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::Git {
            message: message.into(),
            hint: hint.into(),
        }
    }

    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// 1-based line and column of a byte offset in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text.as_bytes()[..offset];
    let line = bytecount::count(before, b'\n') + 1;
    let line_start = memchr::memrchr(b'\n', before).map_or(0, |i| i + 1);
    let column = text[line_start..offset].chars().count() + 1;
    (line, column)
}

/// Removes values from a parser's message before it reaches a user: serde and toml quote
/// the offending value (`invalid type: string "hunter2"`, ``unknown variant `mk_live_…` ``),
/// and a value in the wrong place may be a password, a webhook URL or a key. Quoted
/// strings become `"…"`; backticked words are kept only when they look like identifiers
/// (field and variant names) and not like a key.
pub fn scrub(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut chars = message.chars();
    while let Some(c) = chars.next() {
        if c != '"' && c != '`' {
            out.push(c);
            continue;
        }
        let mut inner = String::new();
        let mut closed = false;
        for d in chars.by_ref() {
            if d == c {
                closed = true;
                break;
            }
            inner.push(d);
        }
        let identifier = inner.len() <= 40
            && inner
                .chars()
                .all(|x| x.is_ascii_alphanumeric() || "_-.:[]".contains(x))
            && !inner.contains("mk_live_")
            && !inner.contains("mk_test_");
        out.push(c);
        let keep = (c == '`' && identifier) || (c == '"' && looks_like_cron(&inner));
        out.push_str(if keep { &inner } else { "…" });
        if closed {
            out.push(c);
        }
    }
    out
}

/// A cron expression (5 or 6 fields, each with a digit, `*` or `?`, or an upper-case
/// day/month name): safe to echo, and the user needs to see which one is wrong.
fn looks_like_cron(s: &str) -> bool {
    let fields: Vec<&str> = s.split_whitespace().collect();
    (5..=6).contains(&fields.len())
        && fields.iter().all(|f| {
            f.chars()
                .all(|c| c.is_ascii_alphanumeric() || "*,/-?#".contains(c))
                && (f
                    .chars()
                    .any(|c| c.is_ascii_digit() || c == '*' || c == '?')
                    || f.chars()
                        .all(|c| c.is_ascii_uppercase() || c == '-' || c == ','))
        })
}

/// The messages of `e`'s sources, each `: `-prefixed, skipping one already contained in
/// `head` or in an earlier message (libraries often repeat their cause in their own text).
pub fn causes(head: &str, e: &dyn std::error::Error) -> String {
    let mut out = String::new();
    let mut src = e.source();
    while let Some(s) = src {
        let m = s.to_string();
        if !head.contains(&m) && !out.contains(&m) {
            out.push_str(": ");
            out.push_str(&m);
        }
        src = s.source();
    }
    out
}

#[cfg(test)]
mod scrub_tests {
    use super::scrub;

    #[test]
    fn values_are_removed_names_are_kept() {
        assert_eq!(
            scrub("invalid type: string \"hunter2\", expected struct SecretSource"),
            "invalid type: string \"…\", expected struct SecretSource"
        );
        assert_eq!(
            scrub(
                "unknown variant `mk_live_4eC39HqLyjWDarjtT1zdp7dc`, expected one of `low`, `high`"
            ),
            "unknown variant `…`, expected one of `low`, `high`"
        );
        assert_eq!(
            scrub("unknown field `fail_onn`"),
            "unknown field `fail_onn`"
        );
        assert_eq!(scrub("unterminated \"abc"), "unterminated \"…");
        assert_eq!(
            scrub("bad cron \"0 61 * * MON-FRI\""),
            "bad cron \"0 61 * * MON-FRI\""
        );
        assert_eq!(
            scrub("string \"correct horse battery staple now\""),
            "string \"…\""
        );
    }
}
