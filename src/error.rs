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
}

impl Error {
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
