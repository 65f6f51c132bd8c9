//! Outbox, report history and disabled channels: the SQL behind [`crate::notify`].

use super::db::{self, DbResult, Ex, Param, Row};
use super::{MAX_TEXT, Store, stored};
use crate::error::{Error, Result};
use serde::Serialize;

/// Where a message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Waiting for its first or next attempt.
    Pending,
    /// Accepted by the receiver.
    Delivered,
    /// Failed permanently (or too often); kept with the reason until retried or dropped.
    Dead,
}

impl Status {
    fn parse(s: &str) -> Status {
        match s {
            "delivered" => Status::Delivered,
            "dead" => Status::Dead,
            _ => Status::Pending,
        }
    }

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Delivered => "delivered",
            Status::Dead => "dead",
        }
    }
}

/// A message to enqueue.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// The configured channel's name.
    pub channel: String,
    /// `email` or `webhook`.
    pub transport: &'static str,
    /// Event type (`keywarden.report`, …).
    pub event: String,
    /// Stable id: the webhook's `webhook-id` or the email's `Message-ID`.
    pub message_id: String,
    /// The rendered message.
    pub payload: Vec<u8>,
}

/// A message in the outbox.
#[derive(Debug, Clone, Serialize)]
pub struct OutboxRow {
    /// Row id (what `keywarden outbox retry|drop` take).
    pub id: i64,
    /// Channel name.
    pub channel: String,
    /// `email` or `webhook`.
    pub transport: String,
    /// Event type.
    pub event: String,
    /// `webhook-id` or `Message-ID`.
    pub message_id: String,
    /// Status.
    pub status: Status,
    /// Attempts made so far.
    pub attempts: i64,
    /// Enqueued at (Unix ms).
    pub created_at: i64,
    /// Next attempt at (Unix ms), for pending messages.
    pub next_attempt_at: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// Delivered or dead-lettered at (Unix ms).
    pub finished_at: Option<i64>,
    /// The rendered message (not listed).
    #[serde(skip)]
    pub payload: Vec<u8>,
}

const COLUMNS: &str = "id, channel, transport, event, message_id, status, attempts, created_at, \
                       next_attempt_at, last_error, finished_at, payload";

fn row(r: &Row<'_, '_>) -> DbResult<OutboxRow> {
    Ok(OutboxRow {
        id: r.get(0)?,
        channel: r.get(1)?,
        transport: r.get(2)?,
        event: r.get(3)?,
        message_id: r.get(4)?,
        status: Status::parse(&r.get::<String>(5)?),
        attempts: r.get(6)?,
        created_at: r.get(7)?,
        next_attempt_at: r.get(8)?,
        last_error: r.get(9)?,
        finished_at: r.get(10)?,
        payload: r.get(11)?,
    })
}

/// ` AND channel NOT IN (?first, …)` for the `skip` channels (nothing when none).
fn not_in(skip: &[String], first: usize) -> String {
    if skip.is_empty() {
        return String::new();
    }
    format!(
        " AND channel NOT IN ({})",
        db::placeholders(first, skip.len())
    )
}

impl Store {
    /// The id and findings (JSON, as given to [`Store::enqueue`]) of the last delivered
    /// report of `source`, if any.
    pub fn last_delivered_report(&self, source: &str) -> Result<Option<(i64, String)>> {
        self.run("reading the last delivered report", |ex| {
            ex.query_opt(
                "SELECT id, findings FROM reports WHERE source = ?1 AND delivered_at IS NOT NULL \
                 ORDER BY delivered_at DESC, id DESC LIMIT 1",
                &[&source],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
        })
    }

    /// Records a report (its findings as JSON: ids and labels, no secrets) and its messages
    /// in one transaction; returns the messages' ids. A message whose id is already in the
    /// outbox (the same report enqueued again) is not added twice: a pending or delivered
    /// one stands for it, a dead-lettered one is made due again.
    pub fn enqueue(
        &mut self,
        source: &str,
        findings: &str,
        messages: &[NewMessage],
        now: i64,
    ) -> Result<Vec<i64>> {
        self.tx("enqueueing a report", |ex| {
            insert_report(ex, source, findings, messages, now)
        })
    }

    /// Claims the next pending message due by `due_by` (`only`: just that id; never one
    /// of the `skip` channels): its next attempt is pushed to `lease_until` (the claim's
    /// lease) and its attempt counted, so no other run (of this daemon or another one on
    /// the same database) sends it too, and a run killed mid-attempt leaves it due again
    /// once the lease expires. On PostgreSQL the row is taken `FOR UPDATE SKIP LOCKED`:
    /// concurrent claimers each get a different message without waiting on each other.
    pub fn claim_due(
        &mut self,
        due_by: i64,
        lease_until: i64,
        only: Option<i64>,
        skip: &[String],
    ) -> Result<Option<OutboxRow>> {
        self.tx("claiming a due message", |ex| {
            let lock = if ex.is_pg() { " FOR UPDATE SKIP LOCKED" } else { "" };
            let sql = format!(
                "SELECT {COLUMNS} FROM outbox WHERE status = 'pending' AND next_attempt_at <= ?1 \
                 AND (CAST(?2 AS BIGINT) IS NULL OR id = ?2){} ORDER BY next_attempt_at, id LIMIT 1{lock}",
                not_in(skip, 3)
            );
            let mut params: Vec<&dyn Param> = vec![&due_by, &only];
            params.extend(skip.iter().map(|s| s as &dyn Param));
            let Some(mut r) = ex.query_opt(&sql, &params, row)? else {
                return Ok(None);
            };
            ex.execute(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?2 WHERE id = ?1",
                &[&r.id, &lease_until],
            )?;
            r.attempts += 1;
            Ok(Some(r))
        })
    }

    /// The earliest next attempt among pending messages (`only`: just that id; not of
    /// the `skip` channels).
    pub fn next_pending_at(&self, only: Option<i64>, skip: &[String]) -> Result<Option<i64>> {
        let sql = format!(
            "SELECT MIN(next_attempt_at) FROM outbox WHERE status = 'pending' \
             AND (CAST(?1 AS BIGINT) IS NULL OR id = ?1){}",
            not_in(skip, 2)
        );
        let mut params: Vec<&dyn Param> = vec![&only];
        params.extend(skip.iter().map(|s| s as &dyn Param));
        self.run("reading the outbox", |ex| {
            ex.query_one(&sql, &params, |r| r.get(0))
        })
    }

    /// Marks a message delivered (and its report, if it is the first of it delivered).
    pub fn mark_delivered(&mut self, id: i64, now: i64) -> Result<()> {
        self.tx("recording a delivery", |ex| {
            ex.execute(
                "UPDATE outbox SET status = 'delivered', finished_at = ?2, last_error = NULL \
                 WHERE id = ?1",
                &[&id, &now],
            )?;
            ex.execute(
                "UPDATE reports SET delivered_at = ?2 WHERE delivered_at IS NULL \
                 AND id = (SELECT report_id FROM outbox WHERE id = ?1)",
                &[&id, &now],
            )?;
            Ok(())
        })
    }

    /// Schedules the next attempt of a message that failed transiently.
    pub fn mark_retry(&mut self, id: i64, next_at: i64, error: &str) -> Result<()> {
        let error = stored(error, MAX_TEXT);
        self.run("scheduling a retry", |ex| {
            ex.execute(
                "UPDATE outbox SET next_attempt_at = ?2, last_error = ?3 WHERE id = ?1",
                &[&id, &next_at, &error],
            )
            .map(drop)
        })
    }

    /// Dead-letters a message with the reason.
    pub fn mark_dead(&mut self, id: i64, now: i64, reason: &str) -> Result<()> {
        let reason = stored(reason, MAX_TEXT);
        self.run("dead-lettering a message", |ex| {
            ex.execute(
                "UPDATE outbox SET status = 'dead', finished_at = ?2, last_error = ?3 WHERE id = ?1",
                &[&id, &now, &reason],
            )
            .map(drop)
        })
    }

    /// Messages, oldest first: pending and dead ones, and delivered ones with `all`.
    pub fn list(&self, all: bool) -> Result<Vec<OutboxRow>> {
        self.run("listing the outbox", |ex| {
            ex.query(
                &format!(
                    "SELECT {COLUMNS} FROM outbox WHERE ?1 OR status != 'delivered' ORDER BY id"
                ),
                &[&all],
                row,
            )
        })
    }

    /// One message.
    pub fn get(&self, id: i64) -> Result<Option<OutboxRow>> {
        self.run("reading the outbox", |ex| {
            ex.query_opt(
                &format!("SELECT {COLUMNS} FROM outbox WHERE id = ?1"),
                &[&id],
                row,
            )
        })
    }

    /// Makes a pending or dead message due now with a fresh attempt count, and re-enables
    /// its channel if a `410 Gone` had disabled it.
    pub fn requeue(&mut self, id: i64, now: i64) -> Result<OutboxRow> {
        let r = self.get(id)?.ok_or_else(|| no_such_message(id))?;
        if r.status == Status::Delivered {
            return Err(Error::Usage(format!(
                "outbox message {id} was already delivered; nothing to retry"
            )));
        }
        self.run("requeueing a message", |ex| {
            ex.execute(
                "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ?2, \
                 finished_at = NULL WHERE id = ?1",
                &[&id, &now],
            )
        })?;
        self.enable_channel(&r.channel)?;
        self.get(id)?.ok_or_else(|| no_such_message(id))
    }

    /// Deletes a message.
    pub fn drop_message(&mut self, id: i64) -> Result<()> {
        let n = self.run("dropping a message", |ex| {
            ex.execute("DELETE FROM outbox WHERE id = ?1", &[&id])
        })?;
        if n == 0 {
            return Err(no_such_message(id));
        }
        Ok(())
    }

    /// Disables a channel (after `410 Gone`).
    pub fn disable_channel(&mut self, channel: &str, now: i64, reason: &str) -> Result<()> {
        self.run("disabling a channel", |ex| {
            ex.execute(
                "INSERT INTO disabled_channels (channel, disabled_at, reason) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (channel) DO UPDATE SET disabled_at = ?2, reason = ?3",
                &[&channel, &now, &reason],
            )
            .map(drop)
        })
    }

    /// Re-enables a channel.
    pub fn enable_channel(&mut self, channel: &str) -> Result<()> {
        self.run("enabling a channel", |ex| {
            ex.execute(
                "DELETE FROM disabled_channels WHERE channel = ?1",
                &[&channel],
            )
            .map(drop)
        })
    }

    /// Disabled channels: (name, disabled at, reason).
    pub fn disabled_channels(&self) -> Result<Vec<(String, i64, String)>> {
        self.run("reading disabled channels", |ex| {
            ex.query(
                "SELECT channel, disabled_at, reason FROM disabled_channels ORDER BY channel",
                &[],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
        })
    }
}

fn no_such_message(id: i64) -> Error {
    Error::Usage(format!(
        "no outbox message with id {id}\n  hint: `keywarden outbox list --all` shows every id"
    ))
}

/// Inserts a report and its messages (pending, due `now`) within the caller's
/// transaction; returns the messages' ids. A message id already in the outbox is the same
/// message ([`crate::notify`] derives ids from the report): kept once, and revived if it
/// was dead-lettered.
pub(super) fn insert_report(
    ex: &mut Ex<'_>,
    source: &str,
    findings: &str,
    messages: &[NewMessage],
    now: i64,
) -> DbResult<Vec<i64>> {
    let findings = stored(findings, usize::MAX);
    let report_id: i64 = ex.query_one(
        "INSERT INTO reports (source, created_at, findings) VALUES (?1, ?2, ?3) RETURNING id",
        &[&source, &now, &findings],
        |r| r.get(0),
    )?;
    let mut ids = Vec::with_capacity(messages.len());
    for m in messages {
        let payload = crate::redact::scrub_bytes(&m.payload).into_owned();
        ex.execute(
            "INSERT INTO outbox (report_id, channel, transport, event, message_id, payload, \
             status, created_at, next_attempt_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, ?7) \
             ON CONFLICT (message_id) DO UPDATE SET status = 'pending', attempts = 0, \
             next_attempt_at = ?7, finished_at = NULL WHERE outbox.status = 'dead'",
            &[
                &report_id,
                &m.channel,
                &m.transport,
                &m.event,
                &m.message_id,
                &payload,
                &now,
            ],
        )?;
        ids.push(ex.query_one(
            "SELECT id FROM outbox WHERE message_id = ?1",
            &[&m.message_id],
            |r| r.get(0),
        )?);
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::each_backend;

    fn msg(id: &str) -> NewMessage {
        NewMessage {
            channel: "hook".into(),
            transport: "webhook",
            event: "keywarden.report".into(),
            message_id: id.into(),
            payload: b"{}".to_vec(),
        }
    }

    #[test]
    fn claim_lease_retry_deliver_and_history() {
        each_backend("claim_lease_retry_deliver_and_history", claim_scenario);
    }

    fn claim_scenario(s: &mut Store) {
        let ids = s
            .enqueue("acme", "[\"a\"]", &[msg("m1"), msg("m2")], 1000)
            .unwrap();
        assert_eq!(ids.len(), 2);
        let skip = ["hook".to_string()];
        assert!(s.claim_due(1000, 1500, None, &skip).unwrap().is_none());
        assert_eq!(s.next_pending_at(None, &skip).unwrap(), None);
        let r = s.claim_due(1000, 1500, Some(ids[0]), &[]).unwrap().unwrap();
        assert_eq!((r.id, r.attempts), (ids[0], 1));
        // leased: not due again until the lease expires
        assert!(
            s.claim_due(1000, 1500, Some(ids[0]), &[])
                .unwrap()
                .is_none()
        );
        assert_eq!(s.next_pending_at(Some(ids[0]), &[]).unwrap(), Some(1500));
        s.mark_retry(r.id, 2000, "503").unwrap();
        assert!(
            s.claim_due(1999, 2499, Some(ids[0]), &[])
                .unwrap()
                .is_none()
        );
        let r = s.claim_due(2000, 2500, Some(ids[0]), &[]).unwrap().unwrap();
        assert_eq!(r.attempts, 2);
        assert_eq!(s.last_delivered_report("acme").unwrap(), None);
        s.mark_delivered(r.id, 2100).unwrap();
        assert_eq!(
            s.last_delivered_report("acme").unwrap().map(|(_, f)| f),
            Some("[\"a\"]".to_string())
        );
        s.mark_dead(ids[1], 2200, "400 Bad Request").unwrap();
        let listed: Vec<_> = s
            .list(false)
            .unwrap()
            .into_iter()
            .map(|r| r.status)
            .collect();
        assert_eq!(listed, vec![Status::Dead]);
        assert_eq!(s.list(true).unwrap().len(), 2);
        let r = s.requeue(ids[1], 3000).unwrap();
        assert_eq!((r.status, r.attempts), (Status::Pending, 0));
        assert!(s.requeue(ids[0], 3000).is_err());
        s.drop_message(ids[1]).unwrap();
        assert!(s.drop_message(ids[1]).is_err());
    }

    /// The same message id enqueued again is one message: pending or delivered, it is not
    /// added (nor sent) twice; dead-lettered, it is made due again.
    #[test]
    fn an_id_enqueued_again_is_one_message() {
        each_backend(
            "an_id_enqueued_again_is_one_message",
            enqueue_again_scenario,
        );
    }

    fn enqueue_again_scenario(s: &mut Store) {
        let a = s.enqueue("acme", "[]", &[msg("m1")], 1000).unwrap();
        let b = s
            .enqueue("acme", "[]", &[msg("m1"), msg("m2")], 2000)
            .unwrap();
        assert_eq!(b[0], a[0]);
        assert_eq!(s.list(true).unwrap().len(), 2);
        let r = s.claim_due(3000, 3500, Some(a[0]), &[]).unwrap().unwrap();
        s.mark_delivered(r.id, 3100).unwrap();
        s.enqueue("acme", "[]", &[msg("m1")], 4000).unwrap();
        assert_eq!(s.get(a[0]).unwrap().unwrap().status, Status::Delivered);
        s.mark_dead(b[1], 4100, "400").unwrap();
        s.enqueue("acme", "[]", &[msg("m2")], 5000).unwrap();
        let r = s.get(b[1]).unwrap().unwrap();
        assert_eq!(
            (r.status, r.attempts, r.next_attempt_at),
            (Status::Pending, 0, 5000)
        );
        assert_eq!(s.list(true).unwrap().len(), 2);
        assert_eq!(s.instance_id().unwrap().len(), 32);
    }

    #[test]
    fn two_connections_never_claim_the_same_message() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let mut a = Store::open(&path).unwrap();
        let mut b = Store::open(&path).unwrap();
        let msgs: Vec<NewMessage> = (0..10).map(|i| msg(&format!("m{i}"))).collect();
        a.enqueue("acme", "[]", &msgs, 0).unwrap();
        let mut claimed = Vec::new();
        for turn in 0..30 {
            let s = if turn % 2 == 0 { &mut a } else { &mut b };
            if let Some(r) = s.claim_due(0, 1_000, None, &[]).unwrap() {
                claimed.push(r.id);
            }
        }
        claimed.sort();
        let n = claimed.len();
        claimed.dedup();
        assert_eq!(
            (n, claimed.len()),
            (10, 10),
            "each message claimed exactly once"
        );
    }

    #[test]
    fn disabled_channels_round_trip() {
        each_backend("disabled_channels_round_trip", |s| {
            s.disable_channel("hook", 5, "410 Gone").unwrap();
            s.disable_channel("hook", 6, "410 Gone again").unwrap();
            assert_eq!(s.disabled_channels().unwrap()[0].2, "410 Gone again");
            s.enable_channel("hook").unwrap();
            assert!(s.disabled_channels().unwrap().is_empty());
        });
    }
}
