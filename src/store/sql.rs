//! What the executor ([`super::db`]) and the PostgreSQL backend ([`super::pg`]) share:
//! the driver error and the placeholder rewrite.

use std::fmt;

/// A driver error.
#[derive(Debug)]
pub(super) enum DbError {
    Lite(rusqlite::Error),
    Pg(postgres::Error),
    /// A refusal of our own (a schema too new, a bad URL), already worded for the user.
    Other(String),
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        DbError::Lite(e)
    }
}

impl From<postgres::Error> for DbError {
    fn from(e: postgres::Error) -> Self {
        DbError::Pg(e)
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbError::Lite(e) => write!(f, "{e}"),
            // The server's own message (with its detail) says more than "db error".
            DbError::Pg(e) => match e.as_db_error() {
                Some(d) => match d.detail() {
                    Some(detail) => write!(f, "{}: {} ({detail})", d.code().code(), d.message()),
                    None => write!(f, "{}: {}", d.code().code(), d.message()),
                },
                None => match std::error::Error::source(e) {
                    Some(cause) => write!(f, "{e}: {cause}"),
                    None => write!(f, "{e}"),
                },
            },
            DbError::Other(s) => f.write_str(s),
        }
    }
}

pub(super) type DbResult<T> = std::result::Result<T, DbError>;

/// `?N` placeholders (SQLite) as `$N` (PostgreSQL). The store's SQL has no `?` in
/// string literals, so a plain rewrite is exact.
pub(super) fn dollar(sql: &str) -> String {
    let b = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    for (i, ch) in sql.char_indices() {
        if ch == '?' && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
            out.push('$');
        } else {
            out.push(ch);
        }
    }
    out
}
