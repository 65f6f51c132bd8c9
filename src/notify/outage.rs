//! Outage notices: "this job or channel has been failing" and "it recovered", rendered
//! for every channel (email, Standard Webhooks event `keywarden.outage`, Slack text) as
//! outbox messages. The daemon decides when ([`crate::daemon::outage`]); this renders.

use super::config::{NotifyConfig, WebhookFormat};
use super::{MessageIds, email, webhook};
use crate::store::NewMessage;
use serde::Serialize;

/// The webhook event type of outage notices.
pub const EVENT: &str = "keywarden.outage";

/// Started or recovered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutageState {
    /// Failing persistently: reported once.
    Started,
    /// Working again: reported once.
    Recovered,
}

/// One notice (the `data` of a `keywarden.outage` event).
#[derive(Debug, Clone, Serialize)]
pub struct OutageNotice {
    /// `audit:<workspace>`, `scan:<target>` or `channel:<name>`.
    pub subject: String,
    /// Started or recovered.
    pub state: OutageState,
    /// When it started failing (RFC 3339).
    pub since: String,
    /// Failed runs in a row (jobs), when known.
    pub failures: Option<u64>,
    /// The last error (as in the log; never key material or secret URLs).
    pub detail: String,
}

impl OutageNotice {
    /// The one-line summary (email subject, Slack text, log).
    pub fn headline(&self) -> String {
        let subject: String = self.subject.chars().filter(|c| !c.is_control()).collect();
        match self.state {
            OutageState::Started => {
                let runs = self
                    .failures
                    .map(|n| format!(", {n} failed runs in a row"))
                    .unwrap_or_default();
                format!(
                    "[Keywarden] OUTAGE: {subject} failing since {}{runs}",
                    self.since
                )
            }
            OutageState::Recovered => {
                format!(
                    "[Keywarden] RECOVERED: {subject} works again (failing since {})",
                    self.since
                )
            }
        }
    }

    fn text(&self) -> String {
        let what = match self.state {
            OutageState::Started => {
                "Keywarden keeps retrying; it reports once more when this recovers.\nThe daemon and its other jobs keep running."
            }
            OutageState::Recovered => "No action needed.",
        };
        format!(
            "{}\n\nLast error: {}\n\n{what}\n",
            self.headline(),
            self.detail
        )
    }

    fn html(&self) -> String {
        let esc = |s: &str| {
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;")
        };
        format!(
            "<!doctype html><html><body><pre>{}</pre></body></html>",
            esc(&self.text())
        )
    }
}

/// The notice's messages for every configured channel except `except` (the channel that
/// is down), and except webhooks that do not take `keywarden.outage`. Their ids derive
/// from the store's `instance` id and the notice (subject, since, state).
pub fn messages(
    cfg: &NotifyConfig,
    notice: &OutageNotice,
    except: Option<&str>,
    instance: &str,
) -> Vec<NewMessage> {
    let state = serde_json::to_string(&notice.state).unwrap_or_default();
    let ids = MessageIds::new(instance, &[&notice.subject, &notice.since, &state]);
    let mut out = Vec::new();
    let skip = |name: &str| except == Some(name);
    let payload = email::EmailPayload {
        subject: notice.headline(),
        text: notice.text(),
        html: notice.html(),
    };
    let bytes = serde_json::to_vec(&payload).unwrap_or_default();
    for ch in cfg.email.iter().filter(|c| !skip(&c.name)) {
        out.push(NewMessage {
            channel: ch.name.clone(),
            transport: "email",
            event: EVENT.into(),
            message_id: ids.email(&ch.name, &ch.from, EVENT),
            payload: bytes.clone(),
        });
    }
    let timestamp = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let data = serde_json::to_value(notice).unwrap_or_default();
    for ch in cfg
        .webhook
        .iter()
        .filter(|c| !skip(&c.name) && c.wants(EVENT))
    {
        let payload = match ch.format {
            WebhookFormat::Slack => serde_json::to_vec(&serde_json::json!({
                "text": webhook::slack_escape(&notice.text()),
            }))
            .unwrap_or_default(),
            WebhookFormat::Standard => webhook::body(EVENT, &timestamp, &data),
        };
        out.push(NewMessage {
            channel: ch.name.clone(),
            transport: "webhook",
            event: EVENT.into(),
            message_id: ids.webhook(&ch.name, EVENT, 0),
            payload,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headlines() {
        let mut n = OutageNotice {
            subject: "audit:acme".into(),
            state: OutageState::Started,
            since: "2026-01-01T00:00:00Z".into(),
            failures: Some(3),
            detail: "HTTP 503".into(),
        };
        assert_eq!(
            n.headline(),
            "[Keywarden] OUTAGE: audit:acme failing since 2026-01-01T00:00:00Z, 3 failed runs in a row"
        );
        assert!(n.text().contains("Last error: HTTP 503"));
        n.state = OutageState::Recovered;
        assert!(
            n.headline()
                .starts_with("[Keywarden] RECOVERED: audit:acme")
        );
        assert!(messages(&NotifyConfig::default(), &n, None, "i").is_empty());
    }
}
