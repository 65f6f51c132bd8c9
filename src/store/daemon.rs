//! The daemon's tables: tracked findings (first seen, last seen, resolved) and job runs.

use super::db::{DbResult, Ex};
use super::{MAX_TEXT, Store, stored};
use crate::error::Result;

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
        self.tx("tracking findings", |ex| track_in(ex, source, seen, now))
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
        let (report_source, findings, messages) = report;
        self.tx("enqueueing a report and its findings", |ex| {
            let ids = super::outbox::insert_report(ex, report_source, findings, messages, now)?;
            Ok((ids, track_in(ex, source, seen, now)?))
        })
    }
}

/// [`Store::track`] inside the caller's transaction.
fn track_in(ex: &mut Ex<'_>, source: &str, seen: &[Seen], now: i64) -> DbResult<Tracked> {
    let mut out = Tracked::default();
    for s in seen {
        let open: Option<Option<i64>> = ex.query_opt(
            "SELECT resolved_at FROM tracked_findings WHERE source = ?1 AND id = ?2",
            &[&source, &s.id],
            |r| r.get(0),
        )?;
        match open {
            Some(None) => out.still_open += 1,
            _ => out.new.push(s.clone()),
        }
        let label = stored(&s.label, MAX_TEXT);
        ex.execute(
            "INSERT INTO tracked_findings (source, id, label, severity, first_seen, last_seen) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?5) \
             ON CONFLICT (source, id) DO UPDATE SET label = ?3, severity = ?4, last_seen = ?5, \
             resolved_at = NULL, first_seen = CASE WHEN tracked_findings.resolved_at IS NULL \
             THEN tracked_findings.first_seen ELSE ?5 END",
            &[&source, &s.id, &label, &s.severity, &now],
        )?;
    }
    out.resolved = ex.execute(
        "UPDATE tracked_findings SET resolved_at = ?2 \
         WHERE source = ?1 AND resolved_at IS NULL AND last_seen < ?2",
        &[&source, &now],
    )? as usize;
    Ok(out)
}

impl Store {
    /// The ids of `source`'s open findings.
    pub fn open_ids(&self, source: &str) -> Result<Vec<String>> {
        self.run("reading open findings", |ex| {
            ex.query(
                "SELECT id FROM tracked_findings WHERE source = ?1 AND resolved_at IS NULL",
                &[&source],
                |r| r.get(0),
            )
        })
    }

    /// Open findings per severity, over every source.
    pub fn open_findings_by_severity(&self) -> Result<Vec<(String, i64)>> {
        self.run("counting open findings", |ex| {
            ex.query(
                "SELECT severity, COUNT(*) FROM tracked_findings WHERE resolved_at IS NULL \
                 GROUP BY severity",
                &[],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
        })
    }

    /// Records the start of a run; returns its id.
    pub fn run_started(
        &mut self,
        job: &str,
        trigger: &str,
        scheduled_for: Option<i64>,
        now: i64,
    ) -> Result<i64> {
        self.run("recording a run", |ex| {
            ex.query_one(
                "INSERT INTO job_runs (job, trigger, scheduled_for, started_at) \
                 VALUES (?1, ?2, ?3, ?4) RETURNING id",
                &[&job, &trigger, &scheduled_for, &now],
                |r| r.get(0),
            )
        })
    }

    /// Records the end of run `id`.
    pub fn run_finished(&mut self, id: i64, ok: bool, detail: &str, now: i64) -> Result<()> {
        let detail = stored(detail, MAX_TEXT);
        let outcome = if ok { "ok" } else { "failed" };
        self.run("recording a run's end", |ex| {
            ex.execute(
                "UPDATE job_runs SET finished_at = ?2, outcome = ?3, detail = ?4 WHERE id = ?1",
                &[&id, &now, &outcome, &detail],
            )
            .map(drop)
        })
    }

    /// The last run of `job`, if any.
    pub fn last_run(&self, job: &str) -> Result<Option<JobRun>> {
        self.run("reading the last run", |ex| {
            ex.query_opt(
                "SELECT job, trigger, started_at, finished_at, outcome, detail FROM job_runs \
                 WHERE job = ?1 ORDER BY started_at DESC, id DESC LIMIT 1",
                &[&job],
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
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::each_backend;

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
        each_backend("enqueue_and_track", |s| {
            let msg = super::super::NewMessage {
                channel: "hook".into(),
                transport: "webhook",
                event: "keywarden.report".into(),
                message_id: "msg_1".into(),
                payload: b"{}".to_vec(),
            };
            let pg = s.location().is_shared();
            s.exec_raw(if pg {
                "CREATE FUNCTION fail() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'killed'; \
             END $$ LANGUAGE plpgsql; CREATE TRIGGER fail BEFORE INSERT ON tracked_findings \
             FOR EACH ROW EXECUTE FUNCTION fail();"
            } else {
                "CREATE TEMP TRIGGER fail BEFORE INSERT ON tracked_findings \
             BEGIN SELECT RAISE(ABORT, 'killed'); END;"
            });
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
            s.exec_raw(if pg {
                "DROP TRIGGER fail ON tracked_findings"
            } else {
                "DROP TRIGGER fail"
            });
            let (ids, t) = s
                .enqueue_tracked(("scan:x", "[]", &[msg]), "scan:x", &[seen("a", "high")], 2)
                .unwrap();
            assert_eq!((ids.len(), t.new.len()), (1, 1));
            assert_eq!(s.open_ids("scan:x").unwrap(), ["a"]);
        });
    }

    #[test]
    fn track_new_still_open_resolved_and_back() {
        each_backend("track", |s| {
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
        });
    }

    #[test]
    fn runs() {
        each_backend("runs", |s| {
            assert_eq!(s.last_run("audit:a").unwrap(), None);
            let id = s.run_started("audit:a", "schedule", Some(5), 6).unwrap();
            s.run_finished(id, false, "API down", 7).unwrap();
            let r = s.last_run("audit:a").unwrap().unwrap();
            assert_eq!(r.outcome.as_deref(), Some("failed"));
            assert_eq!(r.finished_at, Some(7));
        });
    }
}
