//! The delivery loop: claim a due message, send it, classify the outcome, and record it:
//! delivered; retried later with exponential backoff and jitter (the schedule is in the
//! store, so it holds across restarts); or dead-lettered with the reason.

use super::config::{NotifyConfig, RetryPolicy, Secret};
use super::{Outcome, email, webhook};
use crate::error::Result;
use crate::store::{OutboxRow, Status, Store, now_ms};
use rand::Rng;
use serde::Serialize;
use std::collections::HashMap;

/// What a delivery run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryStats {
    /// Messages delivered in this run.
    pub delivered: usize,
    /// Messages dead-lettered in this run.
    pub dead: usize,
    /// Messages still pending when the run ended (the next run retries them).
    pub pending: usize,
}

/// The delay before attempt `attempts + 1`: `base · 2^(attempts-1)`, capped, with "equal
/// jitter" (a random half of it), so many failing senders do not retry in step.
pub fn backoff_ms(policy: &RetryPolicy, attempts: u32) -> u64 {
    let exp = attempts.saturating_sub(1).min(32);
    let full = policy
        .base_delay_ms
        .saturating_mul(1u64 << exp)
        .min(policy.max_delay_ms)
        .max(1);
    full / 2 + rand::rng().random_range(0..=full - full / 2)
}

/// Secrets of a channel, read once per run.
enum Resolved {
    Email(Option<Secret>),
    Webhook(Secret, Vec<Vec<u8>>, reqwest::blocking::Client),
}

fn resolve(cfg: &NotifyConfig, channel: &str) -> Option<std::result::Result<Resolved, String>> {
    if let Some(ch) = cfg.email.iter().find(|c| c.name == channel) {
        let pw = match &ch.password {
            Some(src) => match src.read(&format!("notify.email[{channel}].password")) {
                Ok(s) => Some(s),
                Err(e) => return Some(Err(e.to_string())),
            },
            None => None,
        };
        return Some(Ok(Resolved::Email(pw)));
    }
    let ch = cfg.webhook.iter().find(|c| c.name == channel)?;
    let url = match ch.url.read(&format!("notify.webhook[{channel}].url")) {
        Ok(u) => u,
        Err(e) => return Some(Err(e.to_string())),
    };
    let keys = match &ch.secret {
        Some(src) => match src.read(&format!("notify.webhook[{channel}].secret")) {
            Ok(s) => match webhook::signing_keys(&s) {
                Ok(k) => k,
                Err(e) => return Some(Err(format!("notify.webhook[{channel}].secret: {e}"))),
            },
            Err(e) => return Some(Err(e.to_string())),
        },
        None => Vec::new(),
    };
    let client = match webhook::client(ch) {
        Ok(c) => c,
        Err(e) => return Some(Err(format!("notify.webhook[{channel}]: {e}"))),
    };
    Some(Ok(Resolved::Webhook(url, keys, client)))
}

fn attempt(
    cfg: &NotifyConfig,
    store: &Store,
    row: &OutboxRow,
    resolved: &HashMap<String, Resolved>,
) -> Result<Outcome> {
    if let Some((_, at, reason)) = store
        .disabled_channels()?
        .into_iter()
        .find(|(c, _, _)| *c == row.channel)
    {
        let when = chrono::DateTime::from_timestamp_millis(at)
            .map(|t| t.to_rfc3339())
            .unwrap_or_default();
        return Ok(Outcome::Permanent(format!(
            "channel {} is disabled since {when} ({reason}); fix its URL, then run `keywarden outbox retry {}`",
            row.channel, row.id
        )));
    }
    let gone = || {
        Outcome::Permanent(format!(
            "channel {} is no longer in the config",
            row.channel
        ))
    };
    Ok(match resolved.get(&row.channel) {
        None => gone(),
        Some(Resolved::Email(pw)) => {
            let Some(ch) = cfg.email.iter().find(|c| c.name == row.channel) else {
                return Ok(gone());
            };
            match serde_json::from_slice::<email::EmailPayload>(&row.payload) {
                Ok(p) => email::send(ch, pw.as_ref(), &p, &row.message_id),
                Err(e) => Outcome::Permanent(format!("stored message does not parse: {e}")),
            }
        }
        Some(Resolved::Webhook(url, keys, client)) => {
            let Some(ch) = cfg.webhook.iter().find(|c| c.name == row.channel) else {
                return Ok(gone());
            };
            webhook::send(client, ch, url, keys, &row.message_id, &row.payload)
        }
    })
}

/// Reads every channel's secrets; a channel whose secrets cannot be read is skipped (its
/// messages wait, without spending attempts, until the secret is there).
fn resolve_all(cfg: &NotifyConfig) -> (HashMap<String, Resolved>, Vec<String>) {
    let mut ok = HashMap::new();
    let mut skip = Vec::new();
    let names = cfg
        .email
        .iter()
        .map(|c| &c.name)
        .chain(cfg.webhook.iter().map(|c| &c.name));
    for name in names {
        match resolve(cfg, name) {
            Some(Ok(r)) => {
                ok.insert(name.clone(), r);
            }
            Some(Err(e)) => {
                tracing::error!("channel {name} skipped: {e}");
                skip.push(name.clone());
            }
            None => {}
        }
    }
    (ok, skip)
}

/// Delivers every due pending message (`only`: just that one), retrying transient
/// failures within the run while their next attempt falls inside `[notify.retry]
/// run_budget_ms`; what is left stays pending for the next run.
///
/// It blocks (network calls, and sleeps until the next retry within the budget): an async
/// caller such as the daemon runs it on a blocking thread (`tokio::task::spawn_blocking`)
/// with a small `run_budget_ms` and calls it again on its own schedule.
pub fn deliver_due(
    cfg: &NotifyConfig,
    store: &mut Store,
    only: Option<i64>,
) -> Result<DeliveryStats> {
    // One pass at a time per process. The daemon's delivery loop and a job's own pass
    // after it enqueued would otherwise send side by side, and a crash between one
    // pass's send and its record would then also cut the other's delivery short.
    static ONE_PASS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _pass = ONE_PASS.lock().unwrap_or_else(|e| e.into_inner());
    let policy = &cfg.retry;
    let start = now_ms();
    let deadline = start.saturating_add(i64::try_from(policy.run_budget_ms).unwrap_or(i64::MAX));
    let longest_timeout = cfg
        .email
        .iter()
        .map(|c| c.timeout_secs)
        .chain(cfg.webhook.iter().map(|c| c.timeout_secs))
        .max()
        .unwrap_or(30);
    // A claimed message is hidden this long from other runs: longer than one attempt.
    let lease = i64::try_from(longest_timeout)
        .unwrap_or(i64::MAX)
        .saturating_mul(3_000)
        .saturating_add(5_000);
    let mut stats = DeliveryStats::default();
    let (resolved, skip) = resolve_all(cfg);
    loop {
        let now = now_ms();
        // Past the budget, only messages that were due when the run started get their
        // attempt; what this run rescheduled waits for the next run.
        let due_by = if now <= deadline { now } else { start };
        if let Some(row) = store.claim_due(due_by, now.saturating_add(lease), only, &skip)? {
            crate::failpoint::hit("before-send");
            let outcome = attempt(cfg, store, &row, &resolved)?;
            let outcome_after = match &outcome {
                Outcome::RetryAfter(_, ms) => Some(*ms),
                _ => None,
            };
            let what = format!(
                "outbox {} ({} {} to {}, attempt {})",
                row.id, row.transport, row.event, row.channel, row.attempts
            );
            let done = now_ms();
            // For outage reports: is the channel itself failing? A message it refused
            // for good (a 4xx for this payload) says the channel answered.
            let unreachable = match &outcome {
                Outcome::Delivered | Outcome::Permanent(_) => None,
                Outcome::Transient(e) | Outcome::RetryAfter(e, _) | Outcome::Gone(e) => {
                    Some(e.clone())
                }
            };
            match outcome {
                Outcome::Delivered => {
                    crate::failpoint::hit("after-send");
                    store.mark_delivered(row.id, done)?;
                    crate::failpoint::hit("after-delivered");
                    stats.delivered += 1;
                    tracing::info!("{what}: delivered");
                }
                Outcome::Transient(e) | Outcome::RetryAfter(e, _)
                    if row.attempts >= i64::from(policy.max_attempts) =>
                {
                    let reason = format!("gave up after {} attempts; last: {e}", row.attempts);
                    store.mark_dead(row.id, done, &reason)?;
                    stats.dead += 1;
                    tracing::error!("{what}: dead-lettered: {reason}");
                }
                Outcome::Transient(e) | Outcome::RetryAfter(e, _) => {
                    let asked = match &outcome_after {
                        Some(ms) => (*ms).min(policy.max_delay_ms),
                        None => 0,
                    };
                    let delay = backoff_ms(policy, row.attempts as u32).max(asked);
                    store.mark_retry(
                        row.id,
                        done.saturating_add(i64::try_from(delay).unwrap_or(i64::MAX)),
                        &e,
                    )?;
                    tracing::warn!("{what}: {e}; retrying in {:.1}s", delay as f64 / 1000.0);
                }
                Outcome::Permanent(e) => {
                    store.mark_dead(row.id, done, &e)?;
                    stats.dead += 1;
                    tracing::error!(
                        "{what}: dead-lettered: {e}\n  hint: fix the cause, then `keywarden outbox retry {}` (or `drop {}`)",
                        row.id,
                        row.id
                    );
                }
                Outcome::Gone(e) => {
                    let reason = format!("{e}: the receiver says this endpoint is gone");
                    store.disable_channel(&row.channel, done, &reason)?;
                    store.mark_dead(row.id, done, &reason)?;
                    stats.dead += 1;
                    tracing::error!(
                        "CHANNEL {} DISABLED: {what}: {reason}. Nothing more is sent to it until its URL is fixed and `keywarden outbox retry {}` re-enables it.",
                        row.channel,
                        row.id
                    );
                }
            }
            // After the message's own outcome is stored: failing to record the
            // channel's health must not leave a sent message to be sent again.
            if let Err(e) = store.channel_attempt(&row.channel, unreachable.as_deref(), done) {
                tracing::warn!("{what}: channel health not recorded: {e}");
            }
            continue;
        }
        match store.next_pending_at(only, &skip)? {
            Some(next) if next <= deadline => {
                let now = now_ms();
                if now >= deadline {
                    break;
                }
                let wait = next.saturating_sub(now).min(deadline - now).max(1);
                std::thread::sleep(std::time::Duration::from_millis(wait as u64));
            }
            _ => break,
        }
    }
    stats.pending = store
        .list(false)?
        .iter()
        .filter(|r| r.status == Status::Pending && only.is_none_or(|id| r.id == id))
        .count();
    if stats.pending > 0 {
        tracing::warn!(
            "{} notification(s) still pending in {}; the next run (or `keywarden outbox deliver`) retries them",
            stats.pending,
            store.path().display()
        );
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_jitters_within_half() {
        let p = RetryPolicy {
            base_delay_ms: 1000,
            max_delay_ms: 8000,
            max_attempts: 5,
            run_budget_ms: 0,
        };
        for _ in 0..100 {
            let d1 = backoff_ms(&p, 1);
            assert!((500..=1000).contains(&d1), "{d1}");
            let d3 = backoff_ms(&p, 3);
            assert!((2000..=4000).contains(&d3), "{d3}");
            let d9 = backoff_ms(&p, 40);
            assert!((4000..=8000).contains(&d9), "{d9}");
        }
    }
}
