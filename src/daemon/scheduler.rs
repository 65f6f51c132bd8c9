//! One job's loop: wait for the next tick (or a watch trigger, or stop), run, repeat.
//!
//! The loop awaits each run before it computes the next tick, so a run still going when
//! its next tick comes is never started twice: ticks that pass during a run are skipped
//! (and logged). Time comes from a [`Clock`] and tokio's timer, so tests pause and advance
//! it.

use super::config::Schedule;
use chrono::{DateTime, Utc};
use std::future::Future;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// The wall clock, injectable.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Why a job runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// Its schedule's tick.
    Schedule,
    /// A tick missed while the daemon was down (`catch_up`).
    CatchUp,
    /// Daemon start (scan targets: the first baseline).
    Start,
    /// A change in a watched path.
    Watch,
}

impl Trigger {
    /// The name stored with the run.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::CatchUp => "catch-up",
            Trigger::Start => "start",
            Trigger::Watch => "watch",
        }
    }
}

/// What a job loop needs.
pub struct JobLoop {
    /// The job's name, for logs.
    pub name: String,
    /// Its schedule, if any.
    pub schedule: Option<Schedule>,
    /// The zone the schedule is read in.
    pub tz: super::config::Zone,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// What to run first (catch-up or start), decided by the caller.
    pub first: Option<Trigger>,
    /// Watch triggers (bursts are coalesced into one run).
    pub kicks: Option<mpsc::UnboundedReceiver<()>>,
    /// Becomes true when the loop must stop (reload or shutdown). A run in flight
    /// finishes first.
    pub stop: watch::Receiver<bool>,
}

impl JobLoop {
    /// Runs until stopped. `run` is called with the trigger and the tick it is for.
    pub async fn run<F, Fut>(mut self, mut run: F)
    where
        F: FnMut(Trigger, Option<DateTime<Utc>>) -> Fut,
        Fut: Future<Output = ()>,
    {
        if let Some(t) = self.first {
            run(t, None).await;
        }
        loop {
            if *self.stop.borrow() {
                return;
            }
            let now = self.clock.now();
            let next = self
                .schedule
                .as_ref()
                .and_then(|s| s.next_after(now, &self.tz));
            let wait = next
                .map(|n| (n - now).to_std().unwrap_or_default())
                .unwrap_or(std::time::Duration::from_secs(86_400 * 365));
            tracing::debug!(job = %self.name, "next run at {next:?}");
            let kicks = self.kicks.as_mut();
            tokio::select! {
                _ = self.stop.changed() => return,
                _ = tokio::time::sleep(wait), if next.is_some() => {
                    run(Trigger::Schedule, next).await;
                    let after = self.clock.now();
                    if let (Some(s), Some(n)) = (&self.schedule, next)
                        && s.next_after(n, &self.tz).is_some_and(|t| t < after)
                    {
                        tracing::warn!(job = %self.name, "the run outlasted its next tick; that tick is skipped, not run twice");
                    }
                }
                Some(()) = async move { match kicks { Some(k) => k.recv().await, None => std::future::pending().await } } => {
                    if let Some(k) = self.kicks.as_mut() {
                        while k.try_recv().is_ok() {}
                    }
                    run(Trigger::Watch, None).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Wall time that moves with tokio's (paused) clock.
    struct TokioClock {
        start: DateTime<Utc>,
        instant: tokio::time::Instant,
    }

    impl Clock for TokioClock {
        fn now(&self) -> DateTime<Utc> {
            self.start + chrono::Duration::from_std(self.instant.elapsed()).unwrap()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_run_is_not_started_twice_and_ticks_follow_the_schedule() {
        let clock = Arc::new(TokioClock {
            start: super::super::config::utc(2026, 1, 1, 0, 0, 0).unwrap()
                + chrono::Duration::milliseconds(500),
            instant: tokio::time::Instant::now(),
        });
        let (stop_tx, stop) = watch::channel(false);
        let running = Arc::new(AtomicUsize::new(0));
        let max = Arc::new(AtomicUsize::new(0));
        let ticks = Arc::new(Mutex::new(Vec::new()));
        let l = JobLoop {
            name: "t".into(),
            schedule: Some(Schedule::parse("* * * * * *").unwrap()),
            tz: Default::default(),
            clock: clock.clone(),
            first: Some(Trigger::CatchUp),
            kicks: None,
            stop,
        };
        let (r, m, t) = (running.clone(), max.clone(), ticks.clone());
        let task = tokio::spawn(l.run(move |trigger, tick| {
            let (r, m, t) = (r.clone(), m.clone(), t.clone());
            async move {
                let n = r.fetch_add(1, Ordering::SeqCst) + 1;
                m.fetch_max(n, Ordering::SeqCst);
                t.lock().unwrap().push((trigger, tick));
                // Every run takes 2.5 s: longer than the 1 s schedule.
                tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
                r.fetch_sub(1, Ordering::SeqCst);
            }
        }));
        tokio::time::sleep(std::time::Duration::from_secs(10)).await;
        stop_tx.send(true).unwrap();
        task.await.unwrap();
        assert_eq!(max.load(Ordering::SeqCst), 1, "two runs overlapped");
        let ticks = ticks.lock().unwrap().clone();
        assert_eq!(ticks[0], (Trigger::CatchUp, None));
        // Catch-up ends at 3.0 s; the next tick is 4 s (run to 6.5), then 7 s (to 9.5), then
        // 10 s (starts at 9.5 s elapsed, before the stop): ticks 5, 6, 8, 9 are skipped.
        let secs: Vec<i64> = ticks[1..]
            .iter()
            .map(|(tr, t)| {
                assert_eq!(*tr, Trigger::Schedule);
                t.unwrap().timestamp() - clock.start.timestamp()
            })
            .collect();
        assert_eq!(secs, vec![4, 7, 10], "{ticks:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn watch_kicks_are_coalesced() {
        let (stop_tx, stop) = watch::channel(false);
        let (kick_tx, kicks) = mpsc::unbounded_channel();
        let runs = Arc::new(Mutex::new(Vec::new()));
        let l = JobLoop {
            name: "w".into(),
            schedule: None,
            tz: Default::default(),
            clock: Arc::new(SystemClock),
            first: None,
            kicks: Some(kicks),
            stop,
        };
        for _ in 0..5 {
            kick_tx.send(()).unwrap();
        }
        let r = runs.clone();
        let task = tokio::spawn(l.run(move |trigger, _| {
            r.lock().unwrap().push(trigger);
            async {}
        }));
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        kick_tx.send(()).unwrap();
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        stop_tx.send(true).unwrap();
        task.await.unwrap();
        assert_eq!(*runs.lock().unwrap(), vec![Trigger::Watch, Trigger::Watch]);
    }
}
