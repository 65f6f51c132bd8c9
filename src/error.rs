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
