//! The executor under every query: one SQL text for both backends (SQLite's `?N`
//! placeholders, rewritten to `$N` for PostgreSQL), parameters and columns that both
//! drivers convert, and transactions as plain `BEGIN`/`COMMIT` on either connection.

use super::pg::PgConn;
pub(super) use super::sql::{DbError, DbResult};

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
    use crate::store::sql::dollar;

    #[test]
    fn placeholders_are_rewritten_for_postgres() {
        assert_eq!(
            dollar("SELECT a FROM t WHERE x = ?1 AND y IN (?2, ?10) AND z = '?'"),
            "SELECT a FROM t WHERE x = $1 AND y IN ($2, $10) AND z = '?'"
        );
        assert_eq!(placeholders(3, 3), "?3, ?4, ?5");
    }
}
