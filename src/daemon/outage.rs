//! Persistent outages: a job that failed `[daemon] outage_after_failures` runs in a row
//! (an audit whose API answers 503, a scan whose repository is gone), or a notification
//! channel whose deliveries have failed for `outage_after_secs`.
//!
//! [`check`] runs after every job run and every delivery pass. It compares what is
//! failing now with the outages already reported (the `outages` table) and, for each
//! change, writes the outage (or deletes it) and enqueues its notice in one transaction:
//! an outage is reported once when it starts persisting and once when it recovers, not at
//! every tick, across restarts and concurrent jobs. A channel's outage goes to the other
//! channels; every outage is also an error-level log line and is listed by `keywarden
//! status`. Nothing here stops a job: the failing job keeps retrying on its schedule.

use super::{Settings, jobs};
use crate::error::Result;
use crate::notify::outage::{self, OutageNotice, OutageState};
use crate::store::{Outage, Store, now_ms};
use std::collections::BTreeMap;

/// What is failing persistently now.
struct Failing {
    since: i64,
    failures: Option<u64>,
    detail: String,
    /// The channel itself, which must not carry its own outage notice.
    channel: Option<String>,
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

fn channel_configured(s: &Settings, name: &str) -> bool {
    s.notify.email.iter().any(|e| e.name == name) || s.notify.webhook.iter().any(|w| w.name == name)
}

/// The subjects failing persistently under `s`'s thresholds at `now`.
fn failing(s: &Settings, store: &Store, now: i64) -> Result<BTreeMap<String, Failing>> {
    let mut out = BTreeMap::new();
    let d = &s.daemon;
    if d.outage_after_failures > 0 {
        let jobs = d
            .workspace
            .iter()
            .map(jobs::audit_job)
            .chain(d.scan.iter().map(jobs::scan_job));
        for job in jobs {
            let streak = store.failure_streak(&job)?;
            if streak.failures >= d.outage_after_failures {
                out.insert(
                    job,
                    Failing {
                        since: streak.since.unwrap_or(now),
                        failures: Some(streak.failures),
                        detail: streak.last_error.unwrap_or_default(),
                        channel: None,
                    },
                );
            }
        }
    }
    if d.outage_after_secs > 0 {
        let after = i64::try_from(d.outage_after_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        for (channel, since, error) in store.failing_channels()? {
            if channel_configured(s, &channel) && now.saturating_sub(since) >= after {
                out.insert(
                    format!("channel:{channel}"),
                    Failing {
                        since,
                        failures: None,
                        detail: error,
                        channel: Some(channel),
                    },
                );
            }
        }
    }
    Ok(out)
}

/// Reports outages that started persisting and outages that recovered since the last
/// check, then delivers what that enqueued. Returns (started, recovered).
pub fn check(s: &Settings) -> Result<(usize, usize)> {
    // One check at a time in this process: a check working from an older snapshot must
    // not reopen an outage a newer one just closed. (The store's transactions already
    // keep each notice to one.)
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut store = Store::open(&s.state)?;
    let instance = store.instance_id()?;
    let now = now_ms();
    let mut now_failing = failing(s, &store, now)?;
    let reported = store.outages()?;
    let d = &s.daemon;
    let configured = |subject: &str| match subject.strip_prefix("channel:") {
        Some(c) => channel_configured(s, c),
        None => d
            .workspace
            .iter()
            .map(jobs::audit_job)
            .chain(d.scan.iter().map(jobs::scan_job))
            .any(|j| j == subject),
    };
    let (mut started, mut recovered) = (0, 0);
    for o in &reported {
        if now_failing.remove(&o.subject).is_some() {
            continue;
        }
        let channel = o.subject.strip_prefix("channel:");
        let enabled = match channel {
            Some(_) => d.outage_after_secs > 0,
            None => d.outage_after_failures > 0,
        };
        if !configured(&o.subject) || !enabled {
            // Removed from the config, or outage reports turned off, by a reload:
            // forgotten, not "recovered".
            if store.close_outage(&o.subject, &[], now)? {
                tracing::info!(subject = %o.subject, "outage forgotten: no longer watched");
            }
            continue;
        }
        // Below a raised threshold but still failing (a reload): not a recovery.
        let still_failing = match channel {
            Some(c) => store
                .failing_channels()?
                .iter()
                .any(|(name, _, _)| name == c),
            None => store.failure_streak(&o.subject)?.failures > 0,
        };
        if still_failing {
            continue;
        }
        let notice = OutageNotice {
            subject: o.subject.clone(),
            state: OutageState::Recovered,
            since: rfc3339(o.since),
            failures: None,
            detail: o.detail.clone(),
        };
        let messages = outage::messages(&s.notify, &notice, None, &instance);
        if store.close_outage(&o.subject, &messages, now)? {
            recovered += 1;
            tracing::warn!(subject = %o.subject, "{}", notice.headline());
        }
    }
    for (subject, f) in now_failing {
        let notice = OutageNotice {
            subject: subject.clone(),
            state: OutageState::Started,
            since: rfc3339(f.since),
            failures: f.failures,
            detail: f.detail.clone(),
        };
        let messages = outage::messages(&s.notify, &notice, f.channel.as_deref(), &instance);
        let row = Outage {
            subject: subject.clone(),
            since: f.since,
            reported_at: now,
            detail: f.detail,
        };
        if store.open_outage(&row, &messages)? {
            started += 1;
            tracing::error!(
                subject = %subject,
                "{}: {}; reported through {} message(s)",
                notice.headline(),
                row.detail,
                messages.len()
            );
        }
    }
    drop(guard);
    if started + recovered > 0 {
        jobs::deliver_with(s, &mut store)?;
    }
    Ok((started, recovered))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_channel_outage_goes_to_the_other_channels_once_and_so_does_its_recovery() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("k.toml");
        let hook = |name: &str| {
            format!(
                "[[notify.webhook]]\nname = \"{name}\"\nurl = {{ env = \"KW_UNIT_UNSET_URL\" }}\nsecret = {{ env = \"KW_UNIT_UNSET_SECRET\" }}\n"
            )
        };
        std::fs::write(
            &cfg,
            format!(
                "[state]\npath = \"s.db\"\n\n[daemon]\noutage_after_secs = 60\n\n{}\n{}",
                hook("a"),
                hook("b")
            ),
        )
        .unwrap();
        let s = Settings::load(&cfg).unwrap();
        let now = now_ms();
        let mut store = Store::open(&s.state).unwrap();
        store
            .channel_attempt("a", Some("refused"), now - 30_000)
            .unwrap();
        assert_eq!(check(&s).unwrap(), (0, 0), "failing, not for long enough");
        // Failing for two minutes (since the last delivery).
        store.channel_attempt("a", None, now - 130_000).unwrap();
        store
            .channel_attempt("a", Some("refused"), now - 120_000)
            .unwrap();
        store.channel_attempt("a", Some("timed out"), now).unwrap();
        assert_eq!(check(&s).unwrap(), (1, 0));
        assert_eq!(check(&s).unwrap(), (0, 0), "reported once");
        // A reload raises the threshold while the channel still fails: no "recovered".
        let mut raised = s.clone();
        raised.daemon.outage_after_secs = 3600;
        assert_eq!(
            check(&raised).unwrap(),
            (0, 0),
            "still failing: not recovered"
        );
        assert_eq!(store.outages().unwrap().len(), 1);
        let rows = store.list(true).unwrap();
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(
            (rows[0].channel.as_str(), rows[0].event.as_str()),
            ("b", "keywarden.outage")
        );
        assert_eq!(store.outages().unwrap()[0].subject, "channel:a");
        store.channel_attempt("a", None, now_ms()).unwrap();
        assert_eq!(check(&s).unwrap(), (0, 1));
        assert_eq!(check(&s).unwrap(), (0, 0), "recovery reported once");
        assert_eq!(
            store.list(true).unwrap().len(),
            3,
            "the recovery goes to both"
        );
        assert!(store.outages().unwrap().is_empty());
    }
}
