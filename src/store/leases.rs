//! Leases: each job's tick is run by exactly one daemon of those sharing a database, and
//! a daemon that dies mid-run (SIGKILL included) is replaced once its lease expires.
//!
//! A lease names a job (`scan:acme-org`, `audit:acme`), the tick it runs (the scheduled
//! time, Unix ms), its holder ([`holder_id`]) and when it expires. The holder renews it
//! while it works ([`Store::renew_lease`], well within the TTL) and records where it got
//! to ([`Store::set_progress`]); when it stops renewing, another daemon's
//! [`Store::try_lease`] for the same tick succeeds once the lease expired, and it resumes
//! from [`Store::progress`]. [`Store::release_lease`] with `done` marks the tick finished
//! so no daemon runs it again. On SQLite (one daemon per file) the same calls simply
//! always succeed for that daemon.

use super::{MAX_TEXT, Store, stored};
use crate::error::Result;
use serde::Serialize;

/// Who holds a job's lease, for which tick, and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lease {
    /// The job.
    pub job: String,
    /// The tick being run (Unix ms of the scheduled time).
    pub tick: i64,
    /// The daemon holding it ([`holder_id`]).
    pub holder: String,
    /// Taken at (Unix ms).
    pub acquired_at: i64,
    /// Expires at unless renewed (Unix ms).
    pub expires_at: i64,
    /// When the tick's run finished, if it did.
    pub finished_at: Option<i64>,
}

/// This process's holder id: host, pid and a random part (a restarted daemon with a
/// reused pid is still another holder).
pub fn holder_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "host".into());
        format!(
            "{host}:{}:{:08x}",
            std::process::id(),
            rand::random::<u32>()
        )
    })
}

impl Store {
    /// Takes the lease of `job` for `tick` as `holder` until `now + ttl_ms`. True when
    /// this holder may run the tick: the job had no lease; or its lease is for an
    /// earlier tick that finished or expired; or for this tick, not finished, and held
    /// by `holder` already (a renewal) or expired (its holder died: take over and
    /// resume). False when another live holder runs it, when this tick is done, or when
    /// the lease is for a later tick.
    pub fn try_lease(
        &mut self,
        job: &str,
        tick: i64,
        holder: &str,
        ttl_ms: i64,
        now: i64,
    ) -> Result<bool> {
        let expires = now.saturating_add(ttl_ms);
        // One statement: the database arbitrates between daemons racing for it.
        let n = self.run("taking a job's lease", |ex| {
            ex.execute(
                "INSERT INTO leases (job, tick, holder, acquired_at, expires_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (job) DO UPDATE SET tick = ?2, holder = ?3, expires_at = ?5, \
                 finished_at = NULL, acquired_at = CASE WHEN leases.holder = ?3 \
                 AND leases.tick = ?2 THEN leases.acquired_at ELSE ?4 END \
                 WHERE (leases.tick < ?2 AND (leases.finished_at IS NOT NULL \
                 OR leases.expires_at <= ?4)) \
                 OR (leases.tick = ?2 AND leases.finished_at IS NULL \
                 AND (leases.holder = ?3 OR leases.expires_at <= ?4))",
                &[&job, &tick, &holder, &now, &expires],
            )
        })?;
        Ok(n == 1)
    }

    /// Expires every unfinished lease not held by `holder`. For a SQLite state, whose file
    /// this daemon holds locked, they are a killed predecessor's: they must not keep this
    /// daemon's first runs waiting (a start-only target would not run at all).
    pub fn expire_leases_of_others(&mut self, holder: &str) -> Result<u64> {
        self.run("expiring a dead daemon's leases", |ex| {
            ex.execute(
                "UPDATE leases SET expires_at = 0 WHERE holder != ?1 AND finished_at IS NULL",
                &[&holder],
            )
        })
    }

    /// Extends `holder`'s lease of `job` for `tick` to `now + ttl_ms`. False when the
    /// lease is no longer this holder's (it expired and another daemon took it): stop
    /// working on the tick, the other daemon finishes it.
    pub fn renew_lease(
        &mut self,
        job: &str,
        tick: i64,
        holder: &str,
        ttl_ms: i64,
        now: i64,
    ) -> Result<bool> {
        let expires = now.saturating_add(ttl_ms);
        let n = self.run("renewing a job's lease", |ex| {
            ex.execute(
                "UPDATE leases SET expires_at = ?4 WHERE job = ?1 AND tick = ?2 \
                 AND holder = ?3 AND finished_at IS NULL",
                &[&job, &tick, &holder, &expires],
            )
        })?;
        Ok(n == 1)
    }

    /// Ends `holder`'s lease of `job` for `tick`: with `done`, the tick is finished (its
    /// progress is cleared and no daemon runs it again); without, it is given up and
    /// another daemon may take it at once. False when it was not this holder's.
    pub fn release_lease(
        &mut self,
        job: &str,
        tick: i64,
        holder: &str,
        done: bool,
        now: i64,
    ) -> Result<bool> {
        self.tx("releasing a job's lease", |ex| {
            let sql = if done {
                "UPDATE leases SET finished_at = ?4, expires_at = ?4 WHERE job = ?1 \
                 AND tick = ?2 AND holder = ?3 AND finished_at IS NULL"
            } else {
                "UPDATE leases SET expires_at = ?4 WHERE job = ?1 \
                 AND tick = ?2 AND holder = ?3 AND finished_at IS NULL"
            };
            let n = ex.execute(sql, &[&job, &tick, &holder, &now])?;
            if n == 1 && done {
                ex.execute("DELETE FROM job_progress WHERE job = ?1", &[&job])?;
            }
            Ok(n == 1)
        })
    }

    /// The lease of `job`, if it ever had one.
    pub fn lease(&self, job: &str) -> Result<Option<Lease>> {
        self.run("reading a job's lease", |ex| {
            ex.query_opt(
                "SELECT job, tick, holder, acquired_at, expires_at, finished_at FROM leases \
                 WHERE job = ?1",
                &[&job],
                |r| {
                    Ok(Lease {
                        job: r.get(0)?,
                        tick: r.get(1)?,
                        holder: r.get(2)?,
                        acquired_at: r.get(3)?,
                        expires_at: r.get(4)?,
                        finished_at: r.get(5)?,
                    })
                },
            )
        })
    }

    /// Records where `job`'s run of `tick` got to (a watermark; redacted like all stored
    /// text), if `holder` still holds that lease: a daemon that lost it (paused past its
    /// TTL, then taken over) cannot overwrite the new holder's progress. False then.
    pub fn set_progress(
        &mut self,
        job: &str,
        tick: i64,
        holder: &str,
        value: &str,
        now: i64,
    ) -> Result<bool> {
        let value = stored(value, MAX_PROGRESS);
        let n = self.run("recording a job's progress", |ex| {
            ex.execute(
                "INSERT INTO job_progress (job, value, updated_at) SELECT ?1, ?4, ?5 \
                 WHERE EXISTS (SELECT 1 FROM leases WHERE job = ?1 AND tick = ?2 \
                 AND holder = ?3 AND finished_at IS NULL) \
                 ON CONFLICT (job) DO UPDATE SET value = ?4, updated_at = ?5",
                &[&job, &tick, &holder, &value, &now],
            )
        })?;
        Ok(n == 1)
    }

    /// Where `job`'s unfinished run got to, if recorded.
    pub fn progress(&self, job: &str) -> Result<Option<String>> {
        self.run("reading a job's progress", |ex| {
            ex.query_opt(
                "SELECT value FROM job_progress WHERE job = ?1",
                &[&job],
                |r| r.get(0),
            )
        })
    }
}

/// The longest progress value kept, in bytes (a watermark, not a log).
const MAX_PROGRESS: usize = 64 * MAX_TEXT;
