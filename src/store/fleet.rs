//! Fleet watermarks: per repository, the refs and rules it was last scanned with.

use super::{Store, stored};
use crate::error::Result;

impl Store {
    /// The (refs, rules) digests `source` was last scanned with, if any.
    pub fn fleet_watermark(&self, source: &str) -> Result<Option<(String, String)>> {
        self.run("reading a fleet watermark", |ex| {
            ex.query_opt(
                "SELECT refs, rules FROM fleet_repos WHERE source = ?1",
                &[&source],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
        })
    }

    /// Records that `source` (repository `repository` of fleet target `target`) was
    /// scanned at refs `refs` with rules `rules`.
    pub fn set_fleet_watermark(
        &mut self,
        source: &str,
        target: &str,
        repository: &str,
        refs: &str,
        rules: &str,
        now: i64,
    ) -> Result<()> {
        let repository = stored(repository, 512);
        self.run("recording a fleet watermark", |ex| {
            ex.execute(
                "INSERT INTO fleet_repos (source, target, repository, refs, rules, scanned_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (source) DO UPDATE SET \
                 refs = ?4, rules = ?5, scanned_at = ?6, repository = ?3",
                &[&source, &target, &repository, &refs, &rules, &now],
            )
            .map(drop)
        })
    }

    /// The state sources of the repositories recorded for fleet target `target`.
    pub fn fleet_sources(&self, target: &str) -> Result<Vec<String>> {
        self.run("listing fleet repositories", |ex| {
            ex.query(
                "SELECT source FROM fleet_repos WHERE target = ?1 ORDER BY source",
                &[&target],
                |r| r.get(0),
            )
        })
    }

    /// Forgets a repository that left its fleet: its watermark and clean blobs (its
    /// findings are resolved by the caller, through [`Store::track`]).
    pub fn forget_fleet_repo(&mut self, source: &str) -> Result<()> {
        self.tx("forgetting a fleet repository", |ex| {
            for sql in [
                "DELETE FROM fleet_repos WHERE source = ?1",
                "DELETE FROM clean_blobs WHERE source = ?1",
                "DELETE FROM clean_blobs_rules WHERE source = ?1",
            ] {
                ex.execute(sql, &[&source])?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watermarks_per_repository() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("s.db")).unwrap();
        assert_eq!(s.fleet_watermark("scan:f/a").unwrap(), None);
        s.set_fleet_watermark("scan:f/a", "f", "a", "r1", "x", 1)
            .unwrap();
        s.set_fleet_watermark("scan:f/a", "f", "a", "r2", "x", 2)
            .unwrap();
        s.set_fleet_watermark("scan:g/b", "g", "b", "r1", "x", 2)
            .unwrap();
        assert_eq!(
            s.fleet_watermark("scan:f/a").unwrap(),
            Some(("r2".into(), "x".into()))
        );
        assert_eq!(s.fleet_sources("f").unwrap(), vec!["scan:f/a".to_string()]);
        s.forget_fleet_repo("scan:f/a").unwrap();
        assert!(s.fleet_sources("f").unwrap().is_empty());
    }
}
