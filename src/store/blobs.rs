//! Clean blobs of the daemon's history targets: what an incremental history scan skips.

use super::Store;
use super::db::Param;
use crate::error::Result;

impl Store {
    /// The blobs `source` found clean with rules `rules` (a digest). Clean blobs recorded
    /// under other rules are forgotten first: they must be read again.
    pub fn clean_blobs(&mut self, source: &str, rules: &str) -> Result<Vec<Vec<u8>>> {
        self.tx("reading clean blobs", |ex| {
            let recorded: Option<String> = ex.query_opt(
                "SELECT rules FROM clean_blobs_rules WHERE source = ?1",
                &[&source],
                |r| r.get(0),
            )?;
            if recorded.as_deref() != Some(rules) {
                if recorded.is_some() {
                    tracing::info!("{source}: the rules changed: every blob is read again");
                }
                ex.execute("DELETE FROM clean_blobs WHERE source = ?1", &[&source])?;
                ex.execute(
                    "INSERT INTO clean_blobs_rules (source, rules) VALUES (?1, ?2) \
                     ON CONFLICT (source) DO UPDATE SET rules = ?2",
                    &[&source, &rules],
                )?;
            }
            ex.query(
                "SELECT blob FROM clean_blobs WHERE source = ?1",
                &[&source],
                |r| r.get(0),
            )
        })
    }

    /// Adds `blobs` to `source`'s clean blobs, [`CLEAN_BATCH`] per transaction, so that
    /// the first run over a big repository never holds the write lock for long (other
    /// jobs and the outbox write to the same database meanwhile). Each statement inserts
    /// [`CLEAN_ROWS`] rows: one round trip per few hundred blobs on PostgreSQL.
    pub fn add_clean_blobs<'a>(
        &mut self,
        source: &str,
        blobs: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<()> {
        let mut blobs = blobs.into_iter().peekable();
        while blobs.peek().is_some() {
            let batch: Vec<&[u8]> = blobs.by_ref().take(CLEAN_BATCH).collect();
            self.tx("recording clean blobs", |ex| {
                for rows in batch.chunks(CLEAN_ROWS) {
                    let values = (0..rows.len())
                        .map(|i| format!("(?1, ?{})", i + 2))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let mut params: Vec<&dyn Param> = vec![&source];
                    params.extend(rows.iter().map(|b| b as &dyn Param));
                    ex.execute(
                        &format!(
                            "INSERT INTO clean_blobs (source, blob) VALUES {values} \
                             ON CONFLICT DO NOTHING"
                        ),
                        &params,
                    )?;
                }
                Ok(())
            })?;
        }
        Ok(())
    }
}

/// Clean blobs recorded per write transaction.
const CLEAN_BATCH: usize = 10_000;
/// Clean blobs per `INSERT` (well under SQLite's 32,766 parameters).
const CLEAN_ROWS: usize = 500;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_blobs_per_source_forgotten_when_the_rules_change() {
        crate::store::testing::each_backend("clean_blobs", clean_blobs_scenario);
    }

    fn clean_blobs_scenario(s: &mut Store) {
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
        // More than one statement's and one transaction's worth, with duplicates.
        let many: Vec<[u8; 20]> = (0..CLEAN_BATCH as u32 + 700)
            .map(|i| {
                let mut b = [0u8; 20];
                b[..4].copy_from_slice(&(i % (CLEAN_BATCH as u32 + 600)).to_be_bytes());
                b
            })
            .collect();
        s.add_clean_blobs("scan:a", many.iter().map(|b| &b[..]))
            .unwrap();
        assert_eq!(
            s.clean_blobs("scan:a", "r1").unwrap().len(),
            CLEAN_BATCH + 600
        );
    }
}
