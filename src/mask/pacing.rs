//! Request pacing shared by every concurrent call of one [`super::Client`]:
//!
//! 1. a `429` with `Retry-After: N` holds *every* caller until N seconds from now;
//! 2. when `X-RateLimit-Remaining` falls to the low-water mark, calls are spaced by the
//!    slow-down interval until the budget recovers, so the limit is not hit at all;
//! 3. failed calls (5xx, timeouts, dropped connections) back off exponentially with
//!    jitter: attempt n waits a random time in `[d/2, d]`, `d = min(base·2ⁿ⁻¹, max)`.

use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// The shared gate.
#[derive(Debug)]
pub struct Gate {
    state: Mutex<State>,
    low_water: u64,
    slow_down: Duration,
}

#[derive(Debug)]
struct State {
    /// No call starts before this instant.
    not_before: Instant,
    /// Spacing between call starts while the budget is low (zero otherwise).
    spacing: Duration,
}

impl Gate {
    /// A gate that spaces calls by `slow_down` once `X-RateLimit-Remaining <= low_water`.
    pub fn new(low_water: u64, slow_down: Duration) -> Gate {
        Gate {
            state: Mutex::new(State {
                not_before: Instant::now(),
                spacing: Duration::ZERO,
            }),
            low_water,
            slow_down,
        }
    }

    /// Waits for this caller's turn.
    pub async fn wait(&self) {
        let at = {
            let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let at = s.not_before.max(now);
            if !s.spacing.is_zero() {
                s.not_before = at + s.spacing;
            }
            at
        };
        tokio::time::sleep_until(at).await;
    }

    /// Records the rate-limit budget a response announced.
    pub fn observe_remaining(&self, remaining: u64) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if remaining <= self.low_water {
            if s.spacing.is_zero() {
                tracing::info!(
                    remaining,
                    "rate-limit budget low: spacing requests by {:?}",
                    self.slow_down
                );
            }
            s.spacing = self.slow_down;
        } else {
            s.spacing = Duration::ZERO;
        }
    }

    /// Holds every caller for `wait` from now (a 429's `Retry-After`).
    pub fn hold_for(&self, wait: Duration) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.not_before = s.not_before.max(Instant::now() + wait);
    }

    /// Current spacing (for tests).
    pub fn spacing(&self) -> Duration {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).spacing
    }
}

/// The backoff before retry number `attempt` (1-based): random in `[d/2, d]`,
/// `d = min(base · 2^(attempt-1), max)`.
pub fn backoff(attempt: u32, base: Duration, max: Duration) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let d = exp.min(max);
    let half = d / 2;
    let jitter_ms = fastrand::u64(0..=half.as_millis() as u64);
    half + Duration::from_millis(jitter_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_bounded_and_jittered() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(2);
        for attempt in 1..=30 {
            let d = backoff(attempt, base, max);
            let cap = (base * 2u32.pow(attempt.min(20) - 1)).min(max);
            assert!(
                d >= cap / 2 && d <= cap,
                "attempt {attempt}: {d:?} not in [{:?}, {cap:?}]",
                cap / 2
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn low_budget_spaces_calls_and_retry_after_holds_everyone() {
        let gate = Gate::new(2, Duration::from_millis(500));
        let t0 = Instant::now();
        gate.wait().await;
        assert_eq!(Instant::now(), t0, "no wait with a healthy budget");
        gate.observe_remaining(1);
        gate.wait().await;
        gate.wait().await;
        assert_eq!(
            Instant::now() - t0,
            Duration::from_millis(500),
            "second call spaced"
        );
        gate.observe_remaining(50);
        assert_eq!(gate.spacing(), Duration::ZERO);
        gate.hold_for(Duration::from_secs(3));
        let t1 = Instant::now();
        gate.wait().await;
        assert!(
            Instant::now() - t1 >= Duration::from_secs(2),
            "held by Retry-After"
        );
    }
}
