//! Channel health and persistent outages: the SQL behind [`crate::daemon::outage`].

use super::db::Param;
use super::outbox::insert_report;
use super::{MAX_TEXT, NewMessage, Store, stored};
use crate::error::Result;
use serde::Serialize;

/// An outage reported as persistent and not recovered yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outage {
    /// `audit:<workspace>`, `scan:<target>` or `channel:<name>`.
    pub subject: String,
    /// When it started failing (Unix ms).
    pub since: i64,
    /// When it was reported (Unix ms).
    pub reported_at: i64,
    /// The last error, as logged.
    pub detail: String,
}

/// A job's current run of failures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FailureStreak {
    /// Finished runs that failed since the last one that succeeded.
    pub failures: u64,
    /// Start of the first of them (Unix ms).
    pub since: Option<i64>,
    /// The last one's error.
    pub last_error: Option<String>,
}

impl Store {
    /// Records the outcome of a delivery attempt to `channel`: `error` is `None` when it
    /// was delivered.
    pub fn channel_attempt(&mut self, channel: &str, error: Option<&str>, now: i64) -> Result<()> {
        let sql = match error {
            None => {
                "INSERT INTO channel_health (channel, failing_since, last_error, last_attempt_at) \
                 VALUES (?1, NULL, ?2, ?3) ON CONFLICT (channel) DO UPDATE SET \
                 failing_since = NULL, last_error = NULL, last_attempt_at = ?3"
            }
            Some(_) => {
                "INSERT INTO channel_health (channel, failing_since, last_error, last_attempt_at) \
                 VALUES (?1, ?3, ?2, ?3) ON CONFLICT (channel) DO UPDATE SET \
                 failing_since = COALESCE(channel_health.failing_since, ?3), last_error = ?2, \
                 last_attempt_at = ?3"
            }
        };
        let error = error.map(|e| stored(e, MAX_TEXT));
        self.run("recording a channel's health", |ex| {
            ex.execute(sql, &[&channel, &error, &now]).map(drop)
        })
    }

    /// Channels whose last delivery attempt failed: (channel, failing since, last error).
    pub fn failing_channels(&self) -> Result<Vec<(String, i64, String)>> {
        self.run("reading channel health", |ex| {
            ex.query(
                "SELECT channel, failing_since, COALESCE(last_error, '') FROM channel_health \
                 WHERE failing_since IS NOT NULL ORDER BY channel",
                &[],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
        })
    }

    /// The failed runs of `job` since its last successful one.
    pub fn failure_streak(&self, job: &str) -> Result<FailureStreak> {
        self.run("reading a job's failures", |ex| {
            let (failures, since): (i64, Option<i64>) = ex.query_one(
                "SELECT COUNT(*), MIN(started_at) FROM job_runs WHERE job = ?1 \
                 AND outcome = 'failed' AND started_at > COALESCE((SELECT MAX(started_at) \
                 FROM job_runs WHERE job = ?1 AND outcome = 'ok'), -1)",
                &[&job],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let last_error = if failures > 0 {
                ex.query_opt(
                    "SELECT detail FROM job_runs WHERE job = ?1 AND outcome = 'failed' \
                     ORDER BY started_at DESC, id DESC LIMIT 1",
                    &[&job],
                    |r| r.get::<Option<String>>(0),
                )?
                .flatten()
            } else {
                None
            };
            Ok(FailureStreak {
                failures: failures.max(0) as u64,
                since,
                last_error,
            })
        })
    }

    /// Outages reported and not recovered, oldest first.
    pub fn outages(&self) -> Result<Vec<Outage>> {
        self.run("reading outages", |ex| {
            ex.query(
                "SELECT subject, since, reported_at, detail FROM outages ORDER BY since, subject",
                &[],
                |r| {
                    Ok(Outage {
                        subject: r.get(0)?,
                        since: r.get(1)?,
                        reported_at: r.get(2)?,
                        detail: r.get(3)?,
                    })
                },
            )
        })
    }

    /// Records `outage` as reported and enqueues its notice (`messages`) in one
    /// transaction, unless it is already recorded. Returns whether it was recorded now.
    pub fn open_outage(&mut self, outage: &Outage, messages: &[NewMessage]) -> Result<bool> {
        let detail = stored(&outage.detail, MAX_TEXT);
        self.change_outage(
            "recording an outage",
            "INSERT INTO outages (subject, since, reported_at, detail) \
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
            &[&outage.subject, &outage.since, &outage.reported_at, &detail],
            &outage.subject,
            messages,
            outage.reported_at,
        )
    }

    /// Removes the outage of `subject` and enqueues its recovery notice (`messages`) in
    /// one transaction, if it is recorded. Returns whether it was.
    pub fn close_outage(
        &mut self,
        subject: &str,
        messages: &[NewMessage],
        now: i64,
    ) -> Result<bool> {
        self.change_outage(
            "recording a recovery",
            "DELETE FROM outages WHERE subject = ?1",
            &[&subject],
            subject,
            messages,
            now,
        )
    }

    /// Runs `sql` and, if it changed a row, enqueues `messages` as a report of source
    /// `outage:<subject>`, in one transaction.
    fn change_outage(
        &mut self,
        doing: &str,
        sql: &str,
        args: &[&dyn Param],
        subject: &str,
        messages: &[NewMessage],
        now: i64,
    ) -> Result<bool> {
        self.tx(doing, |ex| {
            if ex.execute(sql, args)? == 0 {
                return Ok(false);
            }
            if !messages.is_empty() {
                insert_report(ex, &format!("outage:{subject}"), "[]", messages, now)?;
            }
            Ok(true)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::each_backend;

    fn msg() -> NewMessage {
        NewMessage {
            channel: "hook".into(),
            transport: "webhook",
            event: "keywarden.outage".into(),
            message_id: format!("msg_{}", rand::random::<u64>()),
            payload: b"{}".to_vec(),
        }
    }

    #[test]
    fn channel_health_failing_since_the_first_failure_until_a_delivery() {
        each_backend("outages", |s| {
            s.channel_attempt("mail", Some("refused"), 10).unwrap();
            s.channel_attempt("mail", Some("timeout"), 20).unwrap();
            s.channel_attempt("hook", None, 20).unwrap();
            assert_eq!(
                s.failing_channels().unwrap(),
                vec![("mail".into(), 10, "timeout".into())]
            );
            s.channel_attempt("mail", None, 30).unwrap();
            assert!(s.failing_channels().unwrap().is_empty());
        });
    }

    #[test]
    fn failure_streak_counts_since_the_last_success() {
        each_backend("outages", |s| {
            assert_eq!(
                s.failure_streak("audit:a").unwrap(),
                FailureStreak::default()
            );
            for (t, ok) in [(1, false), (2, true), (3, false), (4, false)] {
                let id = s.run_started("audit:a", "schedule", None, t).unwrap();
                s.run_finished(id, ok, &format!("run {t}"), t).unwrap();
            }
            // A run still going (or killed) does not count.
            s.run_started("audit:a", "schedule", None, 5).unwrap();
            let f = s.failure_streak("audit:a").unwrap();
            assert_eq!((f.failures, f.since), (2, Some(3)));
            assert_eq!(f.last_error.as_deref(), Some("run 4"));
        });
    }

    #[test]
    fn an_outage_and_its_recovery_are_enqueued_once() {
        each_backend("outages", |s| {
            let o = Outage {
                subject: "audit:a".into(),
                since: 1,
                reported_at: 2,
                detail: "503".into(),
            };
            assert!(s.open_outage(&o, &[msg()]).unwrap());
            assert!(!s.open_outage(&o, &[msg()]).unwrap());
            assert_eq!(s.outages().unwrap(), vec![o]);
            assert_eq!(s.list(true).unwrap().len(), 1);
            assert!(s.close_outage("audit:a", &[msg()], 3).unwrap());
            assert!(!s.close_outage("audit:a", &[msg()], 4).unwrap());
            assert!(s.outages().unwrap().is_empty());
            assert_eq!(s.list(true).unwrap().len(), 2);
        });
    }
}
