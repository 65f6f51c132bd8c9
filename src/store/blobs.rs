//! Clean blobs of the daemon's history targets: what an incremental history scan skips.

use super::{Store, db_error};
use crate::error::Result;
use rusqlite::{OptionalExtension, TransactionBehavior, params};

impl Store {
    /// The blobs `source` found clean with rules `rules` (a digest). Clean blobs recorded
    /// under other rules are forgotten first: they must be read again.
    pub fn clean_blobs(&mut self, source: &str, rules: &str) -> Result<Vec<Vec<u8>>> {
        let path = self.path.clone();
        let e = |doing: &str, x| db_error(&path, doing, x);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|x| e("reading clean blobs", x))?;
        let recorded: Option<String> = tx
            .query_row(
                "SELECT rules FROM clean_blobs_rules WHERE source = ?1",
                params![source],
                |r| r.get(0),
            )
            .optional()
            .map_err(|x| e("reading clean blobs", x))?;
        if recorded.as_deref() != Some(rules) {
            if recorded.is_some() {
                tracing::info!("{source}: the rules changed: every blob is read again");
            }
            tx.execute("DELETE FROM clean_blobs WHERE source = ?1", params![source])
                .map_err(|x| e("forgetting clean blobs", x))?;
            tx.execute(
                "INSERT INTO clean_blobs_rules (source, rules) VALUES (?1, ?2) \
                 ON CONFLICT (source) DO UPDATE SET rules = ?2",
                params![source, rules],
            )
            .map_err(|x| e("recording the rules digest", x))?;
        }
        let blobs = {
            let mut st = tx
                .prepare("SELECT blob FROM clean_blobs WHERE source = ?1")
                .map_err(|x| e("reading clean blobs", x))?;
            st.query_map(params![source], |r| r.get(0))
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<Vec<u8>>>>())
                .map_err(|x| e("reading clean blobs", x))?
        };
        tx.commit().map_err(|x| e("reading clean blobs", x))?;
        Ok(blobs)
    }

    /// Adds `blobs` to `source`'s clean blobs, [`CLEAN_BATCH`] per transaction, so that
    /// the first run over a big repository never holds the write lock for long (other
    /// jobs and the outbox write to the same database meanwhile).
    pub fn add_clean_blobs<'a>(
        &mut self,
        source: &str,
        blobs: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<()> {
        let path = self.path.clone();
        let e = |x| db_error(&path, "recording clean blobs", x);
        let mut blobs = blobs.into_iter().peekable();
        while blobs.peek().is_some() {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(e)?;
            {
                let mut st = tx
                    .prepare_cached(
                        "INSERT OR IGNORE INTO clean_blobs (source, blob) VALUES (?1, ?2)",
                    )
                    .map_err(e)?;
                for b in blobs.by_ref().take(CLEAN_BATCH) {
                    st.execute(params![source, b]).map_err(e)?;
                }
            }
            tx.commit().map_err(e)?;
        }
        Ok(())
    }
}

/// Clean blobs recorded per write transaction.
const CLEAN_BATCH: usize = 10_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_blobs_per_source_forgotten_when_the_rules_change() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("s.db")).unwrap();
        assert!(s.clean_blobs("scan:a", "r1").unwrap().is_empty());
        s.add_clean_blobs("scan:a", [&[1u8; 20][..], &[2u8; 20][..]])
            .unwrap();
        s.add_clean_blobs("scan:a", [&[1u8; 20][..]]).unwrap();
        assert!(s.clean_blobs("scan:b", "r1").unwrap().is_empty());
        let mut got = s.clean_blobs("scan:a", "r1").unwrap();
        got.sort();
        assert_eq!(got, vec![vec![1u8; 20], vec![2u8; 20]]);
        assert!(s.clean_blobs("scan:a", "r2").unwrap().is_empty());
        assert!(s.clean_blobs("scan:a", "r1").unwrap().is_empty());
    }
}
