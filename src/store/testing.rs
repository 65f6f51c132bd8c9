//! Test support: the store's scenarios run on a fresh SQLite file and on a fresh
//! database of a real PostgreSQL server on loopback (`tests/util/postgres.rs`).

#[path = "../../tests/util/postgres.rs"]
pub(crate) mod pg_server;

use super::{Conn, Location, Store};
use crate::notify::config::Secret;

/// A fresh PostgreSQL database of its own, or `None` when PostgreSQL is not installed
/// (and `CI` is not set: then this fails).
pub(crate) fn pg_location(test: &str) -> Option<Location> {
    match pg_server::server() {
        Some(s) => Some(Location::postgres(Secret::new(s.fresh_db()))),
        None => {
            pg_server::skipped(test);
            None
        }
    }
}

/// Runs `f` on a fresh SQLite store, then on a fresh PostgreSQL one.
pub(crate) fn each_backend(test: &str, f: impl Fn(&mut Store)) {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let _ = writeln!(std::io::stderr(), "{test}: on SQLite");
    f(&mut Store::open(&dir.path().join("s.db")).unwrap());
    if let Some(at) = pg_location(test) {
        let _ = writeln!(std::io::stderr(), "{test}: on PostgreSQL");
        f(&mut Store::open(&at).unwrap());
    }
}

impl Store {
    /// Runs raw SQL (test setup: triggers, tampering).
    pub(crate) fn exec_raw(&self, sql: &str) {
        self.run("test SQL", |ex| ex.batch(sql)).unwrap();
    }

    /// Every row of every table as text, for grepping: what a dump of the state shows.
    pub(crate) fn dump(&self) -> String {
        let tables: Vec<String> = self
            .run("listing tables", |ex| {
                let sql = if ex.is_pg() {
                    "SELECT table_name::text FROM information_schema.tables \
                     WHERE table_schema = 'public' ORDER BY 1"
                } else {
                    "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1"
                };
                ex.query(sql, &[], |r| r.get(0))
            })
            .unwrap();
        let mut out = String::new();
        for t in tables {
            let rows: Vec<String> = match &mut *self.conn.borrow_mut() {
                Conn::Pg(c) => c
                    .query(&format!("SELECT t::text FROM {t} t"), &[])
                    .unwrap()
                    .iter()
                    .map(|r| r.get::<_, String>(0))
                    .collect(),
                Conn::Lite(c) => {
                    let mut st = c.prepare(&format!("SELECT * FROM {t}")).unwrap();
                    let n = st.column_count();
                    let mut rows = st.query([]).unwrap();
                    let mut v = Vec::new();
                    while let Some(r) = rows.next().unwrap() {
                        let cells: Vec<String> = (0..n)
                            .map(|i| match r.get_ref(i).unwrap() {
                                rusqlite::types::ValueRef::Text(b)
                                | rusqlite::types::ValueRef::Blob(b) => {
                                    String::from_utf8_lossy(b).into_owned()
                                }
                                other => format!("{other:?}"),
                            })
                            .collect();
                        v.push(cells.join("|"));
                    }
                    v
                }
            };
            out.push_str(&format!("== {t}\n{}\n", rows.join("\n")));
        }
        out
    }
}
