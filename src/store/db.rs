//! The executor under every query: one SQL text for both backends (SQLite's `?N`
//! placeholders, rewritten to `$N` for PostgreSQL), parameters and columns that both
//! drivers convert, and transactions as plain `BEGIN`/`COMMIT` on either connection.

use super::pg::PgConn;
use std::fmt;

/// A query parameter both drivers can bind.
pub(super) trait Param {
    fn lite(&self) -> &dyn rusqlite::ToSql;
    fn pg(&self) -> &(dyn postgres::types::ToSql + Sync);
}

impl<T: rusqlite::ToSql + postgres::types::ToSql + Sync> Param for T {
    fn lite(&self) -> &dyn rusqlite::ToSql {
        self
    }
    fn pg(&self) -> &(dyn postgres::types::ToSql + Sync) {
        self
    }
}

/// A column type both drivers can read.
pub(super) trait Column: Sized {
    fn lite(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Self>;
    fn pg(row: &postgres::Row, i: usize) -> Result<Self, postgres::Error>;
}

impl<T: rusqlite::types::FromSql + for<'a> postgres::types::FromSql<'a>> Column for T {
    fn lite(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<T> {
        row.get(i)
    }
    fn pg(row: &postgres::Row, i: usize) -> Result<T, postgres::Error> {
        row.try_get(i)
    }
}

/// A result row of either backend.
pub(super) enum Row<'r, 's> {
    Lite(&'r rusqlite::Row<'s>),
    Pg(&'r postgres::Row),
}

impl Row<'_, '_> {
    /// Column `i`.
    pub(super) fn get<T: Column>(&self, i: usize) -> DbResult<T> {
        Ok(match self {
            Row::Lite(r) => T::lite(r, i)?,
            Row::Pg(r) => T::pg(r, i)?,
        })
    }
}

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

/// A connection (or the transaction open on it) of either backend.
pub(super) enum Ex<'c> {
    Lite(&'c rusqlite::Connection),
    Pg(&'c mut PgConn),
}

impl Ex<'_> {
    /// Runs a statement; returns the number of rows it changed.
    pub(super) fn execute(&mut self, sql: &str, params: &[&dyn Param]) -> DbResult<u64> {
        match self {
            Ex::Lite(c) => {
                let p: Vec<&dyn rusqlite::ToSql> = params.iter().map(|p| p.lite()).collect();
                Ok(c.prepare_cached(sql)?.execute(&p[..])? as u64)
            }
            Ex::Pg(c) => {
                let p: Vec<_> = params.iter().map(|p| p.pg()).collect();
                c.execute(sql, &p)
            }
        }
    }

    /// Runs a query and maps each row with `f`.
    pub(super) fn query<T>(
        &mut self,
        sql: &str,
        params: &[&dyn Param],
        mut f: impl FnMut(&Row<'_, '_>) -> DbResult<T>,
    ) -> DbResult<Vec<T>> {
        match self {
            Ex::Lite(c) => {
                let p: Vec<&dyn rusqlite::ToSql> = params.iter().map(|p| p.lite()).collect();
                let mut st = c.prepare_cached(sql)?;
                let mut rows = st.query(&p[..])?;
                let mut out = Vec::new();
                while let Some(r) = rows.next()? {
                    out.push(f(&Row::Lite(r))?);
                }
                Ok(out)
            }
            Ex::Pg(c) => {
                let p: Vec<_> = params.iter().map(|p| p.pg()).collect();
                c.query(sql, &p)?.iter().map(|r| f(&Row::Pg(r))).collect()
            }
        }
    }

    /// The first row of a query, if any.
    pub(super) fn query_opt<T>(
        &mut self,
        sql: &str,
        params: &[&dyn Param],
        f: impl FnMut(&Row<'_, '_>) -> DbResult<T>,
    ) -> DbResult<Option<T>> {
        Ok(self.query(sql, params, f)?.into_iter().next())
    }

    /// The one row of a query (an aggregate, a `RETURNING`).
    pub(super) fn query_one<T>(
        &mut self,
        sql: &str,
        params: &[&dyn Param],
        f: impl FnMut(&Row<'_, '_>) -> DbResult<T>,
    ) -> DbResult<T> {
        self.query_opt(sql, params, f)?
            .ok_or_else(|| DbError::Other(format!("no row returned by: {sql}")))
    }

    /// Runs statements without parameters (`BEGIN`, DDL).
    pub(super) fn batch(&mut self, sql: &str) -> DbResult<()> {
        match self {
            Ex::Lite(c) => Ok(c.execute_batch(sql)?),
            Ex::Pg(c) => c.batch(sql),
        }
    }

    /// Runs `f` in a transaction: committed when it returns `Ok`, rolled back otherwise.
    /// SQLite takes the write lock at `BEGIN IMMEDIATE`, so a read-then-write never fails
    /// on a busy upgrade; PostgreSQL runs it at READ COMMITTED with row locks.
    pub(super) fn transaction<T>(
        &mut self,
        f: impl FnOnce(&mut Ex<'_>) -> DbResult<T>,
    ) -> DbResult<T> {
        let begin = match self {
            Ex::Lite(_) => "BEGIN IMMEDIATE",
            Ex::Pg(_) => "BEGIN",
        };
        self.batch(begin)?;
        match f(self) {
            Ok(v) => match self.batch("COMMIT") {
                Ok(()) => Ok(v),
                Err(e) => {
                    let _ = self.batch("ROLLBACK");
                    Err(e)
                }
            },
            Err(e) => {
                if self.batch("ROLLBACK").is_err()
                    && let Ex::Pg(c) = self
                {
                    // A connection whose transaction state is unknown is not reused.
                    c.poison();
                }
                Err(e)
            }
        }
    }

    /// True on PostgreSQL (for the few statements that differ: locking clauses).
    pub(super) fn is_pg(&self) -> bool {
        matches!(self, Ex::Pg(_))
    }
}

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

/// `?a, ?b, …` for `n` parameters numbered from `first`: an `IN (…)` list or a
/// multi-row `VALUES` that both backends accept.
pub(super) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_rewritten_for_postgres() {
        assert_eq!(
            dollar("SELECT a FROM t WHERE x = ?1 AND y IN (?2, ?10) AND z = '?'"),
            "SELECT a FROM t WHERE x = $1 AND y IN ($2, $10) AND z = '?'"
        );
        assert_eq!(placeholders(3, 3), "?3, ?4, ?5");
    }
}
