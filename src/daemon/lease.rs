//! Leases around a job's run. Daemons that share one PostgreSQL state run the same jobs on
//! the same schedule; the lease in the store lets exactly one of them run each tick. The
//! holder renews it while the run lasts; a holder that dies (SIGKILL included) stops
//! renewing, the lease expires (`[daemon] lease_ttl_secs`), and another daemon takes the job at
//! its next tick. With
//! SQLite (one daemon, the state file locked) the lease is always this daemon's.

use super::{Settings, jobs};
use crate::store::{Store, holder_id, now_ms};
use std::sync::Arc;
use std::time::Duration;

/// How long `s`'s leases hold without renewal (`[daemon] lease_ttl_secs`), in ms.
pub fn ttl_ms(s: &Settings) -> i64 {
    let secs = match s.daemon.lease_ttl_secs {
        0 => 30,
        n => n,
    };
    i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)
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
    let taken = jobs::blocking(move || {
        Store::open(&s2.state)?.try_lease(&j, tick, holder_id(), ttl_ms(&s2), now_ms())
    })
    .await
    .inspect_err(|e| tracing::error!(job, "cannot take the job's lease: {e}"))
    .ok()?;
    if !taken {
        tracing::debug!(job, tick, "another daemon runs this tick");
        return None;
    }
    let (s2, j) = (s.clone(), job.to_string());
    let renew = tokio::spawn(async move {
        let every = Duration::from_millis((ttl_ms(&s2) / 3).max(1) as u64);
        loop {
            tokio::time::sleep(every).await;
            let (s3, j3) = (s2.clone(), j.clone());
            let kept = jobs::blocking(move || {
                Store::open(&s3.state)?.renew_lease(&j3, tick, holder_id(), ttl_ms(&s3), now_ms())
            })
            .await;
            match kept {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(job = j, "lost the job's lease: another daemon took it over");
                    return;
                }
                Err(e) => tracing::warn!(job = j, "cannot renew the job's lease: {e}"),
            }
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
        let (s2, job, tick) = (s.clone(), self.job.clone(), self.tick);
        let r = jobs::blocking(move || {
            Store::open(&s2.state)?.release_lease(&job, tick, holder_id(), done, now_ms())
        })
        .await;
        if let Err(e) = r {
            tracing::warn!(job = self.job, "cannot release the job's lease: {e}");
        }
    }
}
