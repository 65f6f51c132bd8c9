//! The daemon's tables: tracked findings (first seen, last seen, resolved) and job runs.

use super::{MAX_TEXT, Store, db_error, stored};
use crate::error::Result;
use rusqlite::{OptionalExtension, TransactionBehavior, params};

/// A finding as a daemon run saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// Stable id (no key material).
    pub id: String,
    /// Redacted key and location.
    pub label: String,
    /// `critical`, `high`, `medium`, `low`, `info`.
    pub severity: String,
}

/// What changed in a source's tracked findings after a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tracked {
    /// Not open before this run (first seen, or back after being resolved).
    pub new: Vec<Seen>,
    /// Open before, not seen now: marked resolved.
    pub resolved: usize,
    /// Open before and now.
    pub still_open: usize,
}

/// The last run of a job.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct JobRun {
    /// Job name (`audit:acme`, `scan:configs`).
    pub job: String,
    /// `schedule`, `catch-up`, `start`, `watch`.
    pub trigger: String,
    /// Start, Unix ms.
    pub started_at: i64,
    /// End, Unix ms.
    pub finished_at: Option<i64>,
    /// `ok`, `failed`, or none while running (or killed).
    pub outcome: Option<String>,
    /// A one-line summary or the error.
    pub detail: Option<String>,
}

impl Store {
    /// Records `seen` as the complete set of open findings of `source` at `now`: new ones
    /// are inserted (or reopened), seen ones get `last_seen`, missing ones are resolved.
    pub fn track(&mut self, source: &str, seen: &[Seen], now: i64) -> Result<Tracked> {
        let path = self.path.clone();
        let e = |doing: &str, x| db_error(&path, doing, x);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|x| e("tracking findings", x))?;
        let out = track_in(&tx, &path, source, seen, now)?;
        tx.commit()
            .map_err(|x| e("committing tracked findings", x))?;
        Ok(out)
    }

    /// Records a report with its messages ([`Store::enqueue`]) and `seen` as the open
    /// findings of `source` ([`Store::track`]) in one transaction: a crash leaves both or
    /// neither, so a restart never sends the same report again under new ids.
    pub fn enqueue_tracked(
        &mut self,
        report: (&str, &str, &[super::NewMessage]),
        source: &str,
        seen: &[Seen],
        now: i64,
    ) -> Result<(Vec<i64>, Tracked)> {
        let path = self.path.clone();
        let e = |doing: &str, x| db_error(&path, doing, x);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|x| e("enqueueing", x))?;
        let (report_source, findings, messages) = report;
        let ids = super::outbox::insert_report(&tx, report_source, findings, messages, now)
            .map_err(|x| e("enqueueing a report", x))?;
        let tracked = track_in(&tx, &path, source, seen, now)?;
        tx.commit().map_err(|x| e("committing the outbox", x))?;
        Ok((ids, tracked))
    }
}

/// [`Store::track`] inside the caller's transaction.
fn track_in(
    tx: &rusqlite::Transaction<'_>,
    path: &std::path::Path,
    source: &str,
    seen: &[Seen],
    now: i64,
) -> Result<Tracked> {
    let e = |doing: &str, x| db_error(path, doing, x);
    {
        let mut out = Tracked::default();
        for s in seen {
            let open: Option<Option<i64>> = tx
                .query_row(
                    "SELECT resolved_at FROM tracked_findings WHERE source = ?1 AND id = ?2",
                    params![source, s.id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(|x| e("reading a tracked finding", x))?;
            match open {
                Some(None) => out.still_open += 1,
                _ => out.new.push(s.clone()),
            }
            tx.execute(
                "INSERT INTO tracked_findings (source, id, label, severity, first_seen, last_seen) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5) \
                 ON CONFLICT (source, id) DO UPDATE SET label = ?3, severity = ?4, last_seen = ?5, \
                 resolved_at = NULL, first_seen = CASE WHEN resolved_at IS NULL THEN first_seen ELSE ?5 END",
                params![source, s.id, stored(&s.label, MAX_TEXT), s.severity, now],
            )
            .map_err(|x| e("recording a finding", x))?;
        }
        out.resolved = tx
            .execute(
                "UPDATE tracked_findings SET resolved_at = ?2 \
                 WHERE source = ?1 AND resolved_at IS NULL AND last_seen < ?2",
                params![source, now],
            )
            .map_err(|x| e("resolving findings", x))?;
        Ok(out)
    }
}

impl Store {
    /// The ids of `source`'s open findings.
    pub fn open_ids(&self, source: &str) -> Result<Vec<String>> {
        let mut st = self
            .conn
            .prepare("SELECT id FROM tracked_findings WHERE source = ?1 AND resolved_at IS NULL")
            .map_err(|x| self.err("reading open findings", x))?;
        let rows = st
            .query_map(params![source], |r| r.get(0))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<String>>>())
            .map_err(|x| self.err("reading open findings", x))?;
        Ok(rows)
    }

    /// Open findings per severity, over every source.
    pub fn open_findings_by_severity(&self) -> Result<Vec<(String, i64)>> {
        let mut st = self
            .conn
            .prepare(
                "SELECT severity, COUNT(*) FROM tracked_findings WHERE resolved_at IS NULL \
                 GROUP BY severity",
            )
            .map_err(|x| self.err("counting open findings", x))?;
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|x| self.err("counting open findings", x))?;
        Ok(rows)
    }

    /// Records the start of a run; returns its id.
    pub fn run_started(
        &mut self,
        job: &str,
        trigger: &str,
        scheduled_for: Option<i64>,
        now: i64,
    ) -> Result<i64> {
        self.conn
            .execute(
                "INSERT INTO job_runs (job, trigger, scheduled_for, started_at) VALUES (?1, ?2, ?3, ?4)",
                params![job, trigger, scheduled_for, now],
            )
            .map_err(|x| self.err("recording a run", x))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Records the end of run `id`.
    pub fn run_finished(&mut self, id: i64, ok: bool, detail: &str, now: i64) -> Result<()> {
        self.conn
            .execute(
                "UPDATE job_runs SET finished_at = ?2, outcome = ?3, detail = ?4 WHERE id = ?1",
                params![
                    id,
                    now,
                    if ok { "ok" } else { "failed" },
                    stored(detail, MAX_TEXT)
                ],
            )
            .map_err(|x| self.err("recording a run's end", x))?;
        Ok(())
    }

    /// The last run of `job`, if any.
    pub fn last_run(&self, job: &str) -> Result<Option<JobRun>> {
        self.conn
            .query_row(
                "SELECT job, trigger, started_at, finished_at, outcome, detail FROM job_runs \
                 WHERE job = ?1 ORDER BY started_at DESC, id DESC LIMIT 1",
                params![job],
                |r| {
                    Ok(JobRun {
                        job: r.get(0)?,
                        trigger: r.get(1)?,
                        started_at: r.get(2)?,
                        finished_at: r.get(3)?,
                        outcome: r.get(4)?,
                        detail: r.get(5)?,
                    })
                },
            )
            .optional()
            .map_err(|x| self.err("reading the last run", x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(id: &str, sev: &str) -> Seen {
        Seen {
            id: id.into(),
            label: format!("label {id}"),
            severity: sev.into(),
        }
    }

    /// The report and its findings land together or not at all: when recording the
    /// findings fails (as a kill would stop it), the report's messages are not queued
    /// either, so the next run sends one report, not two under different ids.
    #[test]
    fn enqueue_and_track_are_one_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("s.db")).unwrap();
        let msg = super::super::NewMessage {
            channel: "hook".into(),
            transport: "webhook",
            event: "keywarden.report".into(),
            message_id: "msg_1".into(),
            payload: b"{}".to_vec(),
        };
        s.conn
            .execute_batch(
                "CREATE TEMP TRIGGER fail BEFORE INSERT ON tracked_findings \
                 BEGIN SELECT RAISE(ABORT, 'killed'); END;",
            )
            .unwrap();
        let r = s.enqueue_tracked(
            ("scan:x", "[]", std::slice::from_ref(&msg)),
            "scan:x",
            &[seen("a", "high")],
            1,
        );
        assert!(r.is_err());
        assert!(
            s.list(true).unwrap().is_empty(),
            "the report was queued without its findings"
        );
        s.conn.execute_batch("DROP TRIGGER fail;").unwrap();
        let (ids, t) = s
            .enqueue_tracked(("scan:x", "[]", &[msg]), "scan:x", &[seen("a", "high")], 2)
            .unwrap();
        assert_eq!((ids.len(), t.new.len()), (1, 1));
        assert_eq!(s.open_ids("scan:x").unwrap(), ["a"]);
    }

    #[test]
    fn track_new_still_open_resolved_and_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("s.db")).unwrap();
        let t = s
            .track("scan:x", &[seen("a", "high"), seen("b", "low")], 1)
            .unwrap();
        assert_eq!((t.new.len(), t.still_open, t.resolved), (2, 0, 0));
        let t = s.track("scan:x", &[seen("a", "high")], 2).unwrap();
        assert_eq!((t.new.len(), t.still_open, t.resolved), (0, 1, 1));
        let t = s
            .track("scan:x", &[seen("a", "high"), seen("b", "low")], 3)
            .unwrap();
        assert_eq!(t.new, vec![seen("b", "low")]);
        // Another source is independent.
        let t = s.track("scan:y", &[seen("a", "high")], 3).unwrap();
        assert_eq!(t.new.len(), 1);
        let mut open = s.open_findings_by_severity().unwrap();
        open.sort();
        assert_eq!(open, vec![("high".into(), 2), ("low".into(), 1)]);
    }

    #[test]
    fn runs() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("s.db")).unwrap();
        assert_eq!(s.last_run("audit:a").unwrap(), None);
        let id = s.run_started("audit:a", "schedule", Some(5), 6).unwrap();
        s.run_finished(id, false, "API down", 7).unwrap();
        let r = s.last_run("audit:a").unwrap().unwrap();
        assert_eq!(r.outcome.as_deref(), Some("failed"));
        assert_eq!(r.finished_at, Some(7));
    }
}
