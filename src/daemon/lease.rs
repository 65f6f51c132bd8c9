//! Leases around a job's run. Daemons that share one PostgreSQL state run the same jobs on
//! the same schedule; the lease in the store lets exactly one of them run each tick (or,
//! for a fleet, each repository of a tick). The holder renews it while the run lasts; a
//! holder that dies (SIGKILL included) stops renewing, the lease expires
//! (`[daemon] lease_ttl_secs`), and another daemon takes the work at its next tick. With
//! SQLite (one daemon, the state file locked) the lease is always this daemon's.

use super::scheduler::Trigger;
use super::{Settings, config::Schedule, jobs};
use crate::error::Result;
use crate::store::{Store, holder_id, now_ms};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

/// How long `s`'s leases hold without renewal (`[daemon] lease_ttl_secs`), in ms.
pub fn ttl_ms(s: &Settings) -> i64 {
    let secs = match s.daemon.lease_ttl_secs {
        0 => 30,
        n => n,
    };
    i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)
}

/// How often the holder renews: a third of the lease's life.
fn renew_every(s: &Settings) -> Duration {
    Duration::from_millis((ttl_ms(s) / 3).max(1) as u64)
}

fn try_take(s: &Settings, key: &str, tick: i64) -> Result<bool> {
    Store::open(&s.state)?.try_lease(key, tick, holder_id(), ttl_ms(s), now_ms())
}

fn renew(s: &Settings, key: &str, tick: i64) {
    match Store::open(&s.state)
        .and_then(|mut st| st.renew_lease(key, tick, holder_id(), ttl_ms(s), now_ms()))
    {
        Ok(true) => {}
        Ok(false) => tracing::warn!(job = key, "lost the lease: another daemon took it over"),
        Err(e) => tracing::warn!(job = key, "cannot renew the lease: {e}"),
    }
}

fn release(s: &Settings, key: &str, tick: i64, done: bool) {
    let r = Store::open(&s.state)
        .and_then(|mut st| st.release_lease(key, tick, holder_id(), done, now_ms()));
    if let Err(e) = r {
        tracing::warn!(job = key, "cannot release the lease: {e}");
    }
}

/// The tick a run's leases are keyed by (Unix ms). A scheduled run: its tick. A run at
/// start or a catch-up on a state shared by several daemons (PostgreSQL): the schedule's
/// last tick at or before `now`, which every daemon computes alike however far apart they
/// started, so the leases split that run like a scheduled tick, and a daemon starting
/// after that tick was run leaves the work to the next one. Otherwise (a change in a
/// watched path, a job without schedule, one daemon on its SQLite file): `now`.
pub fn tick_key(
    s: &Settings,
    schedule: Option<&Schedule>,
    trigger: Trigger,
    tick: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> i64 {
    if let Some(t) = tick {
        return t.timestamp_millis();
    }
    let shared = s.state.is_shared();
    let at_start = matches!(trigger, Trigger::Start | Trigger::CatchUp);
    schedule
        .filter(|_| shared && at_start)
        .and_then(|sch| sch.last_at_or_before(now, &s.daemon.time_zone))
        .unwrap_or(now)
        .timestamp_millis()
}

/// A lease this daemon holds, renewed in the background until released.
pub struct Held {
    job: String,
    tick: i64,
    renew: tokio::task::JoinHandle<()>,
}

/// Takes `job`'s lease for `tick` (Unix ms of the scheduled tick; the run's start for a
/// run at start, on change or caught up). `None`: another daemon runs this tick, or it
/// is done. A store error is logged and counts as not taken (the next tick retries).
pub async fn take(s: &Arc<Settings>, job: &str, tick: i64) -> Option<Held> {
    let (s2, j) = (s.clone(), job.to_string());
    let taken = jobs::blocking(move || try_take(&s2, &j, tick))
        .await
        .inspect_err(|e| tracing::error!(job, "cannot take the job's lease: {e}"))
        .ok()?;
    if !taken {
        tracing::debug!(job, tick, "another daemon runs this tick");
        return None;
    }
    let (s2, j) = (s.clone(), job.to_string());
    let renew = tokio::spawn(async move {
        loop {
            tokio::time::sleep(renew_every(&s2)).await;
            let (s3, j3) = (s2.clone(), j.clone());
            let _ = jobs::blocking(move || {
                renew(&s3, &j3, tick);
                Ok(())
            })
            .await;
        }
    });
    Some(Held {
        job: job.to_string(),
        tick,
        renew,
    })
}

impl Held {
    /// Stops renewing and ends the lease: `done` marks the tick finished (no daemon runs
    /// it again); otherwise another daemon may take it at once.
    pub async fn release(self, s: &Arc<Settings>, done: bool) {
        self.renew.abort();
        let (s2, job, tick) = (s.clone(), self.job, self.tick);
        let _ = jobs::blocking(move || {
            release(&s2, &job, tick, done);
            Ok(())
        })
        .await;
    }
}

/// Runs `work` under the lease of `key` for `tick`, renewing it from a helper thread while
/// `work` runs (for blocking callers: a fleet's repository workers). `Ok(None)`: another
/// daemon holds it, or this tick of `key` is done.
pub fn run_leased<T>(
    s: &Settings,
    key: &str,
    tick: i64,
    work: impl FnOnce() -> Result<T>,
) -> Result<Option<T>> {
    if !try_take(s, key, tick)? {
        return Ok(None);
    }
    // The helper wakes when `work` ends (the sender dropped), not at its next step: a
    // repository's run is not stretched to the renewal period.
    let (done, wait) = std::sync::mpsc::channel::<()>();
    let r = std::thread::scope(|sc| {
        sc.spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = wait.recv_timeout(renew_every(s)) {
                renew(s, key, tick);
            }
        });
        let r = work();
        drop(done);
        r
    });
    release(s, key, tick, r.is_ok());
    r.map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(dir: &std::path::Path) -> Settings {
        Settings {
            path: dir.join("keywarden.toml"),
            daemon: super::super::DaemonConfig {
                lease_ttl_secs: 1,
                ..Default::default()
            },
            audit: Default::default(),
            notify: Default::default(),
            state: crate::store::Location::Sqlite(dir.join("state.db")),
        }
    }

    /// Work longer than the lease's life keeps it (renewed meanwhile): another holder is
    /// refused throughout; once done, the tick is finished for everyone.
    #[test]
    fn a_leased_run_is_renewed_while_it_lasts_and_finished_after() {
        let dir = tempfile::tempdir().unwrap();
        let s = settings(dir.path());
        let other = |s: &Settings| {
            Store::open(&s.state)
                .unwrap()
                .try_lease("scan:t/r", 7, "another", ttl_ms(s), now_ms())
                .unwrap()
        };
        let ran = run_leased(&s, "scan:t/r", 7, || {
            for _ in 0..5 {
                std::thread::sleep(Duration::from_millis(400));
                assert!(!other(&s), "taken while held");
            }
            Ok(42)
        })
        .unwrap();
        assert_eq!(ran, Some(42));
        assert!(!other(&s), "a finished tick is not run again");
        assert_eq!(run_leased(&s, "scan:t/r", 7, || Ok(1)).unwrap(), None);
        let lease = Store::open(&s.state)
            .unwrap()
            .lease("scan:t/r")
            .unwrap()
            .unwrap();
        assert!(lease.finished_at.is_some(), "{lease:?}");
    }
}
