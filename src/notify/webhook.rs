//! Webhooks: Standard Webhooks events (signed) and Slack Block Kit, posted with reqwest
//! (rustls + ring). Timeouts on every call, no redirects, plain `http://` only to
//! loopback.

use super::Outcome;
use super::config::{Secret, WebhookChannel, is_loopback_host};
use crate::report::model::ReportModel;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::time::Duration;

/// The events of a report, in order: the report, then each new finding, each resolved
/// finding, each new leak. Each is `(type, data)`.
pub fn events(report: &ReportModel) -> Vec<(&'static str, Value)> {
    let mut out = vec![(
        "keywarden.report",
        serde_json::to_value(report).unwrap_or(Value::Null),
    )];
    for e in &report.changes.new {
        out.push((
            "keywarden.finding.opened",
            json!({"source": report.source, "report_kind": report.kind, "finding": e}),
        ));
    }
    for r in &report.changes.resolved {
        out.push((
            "keywarden.finding.resolved",
            json!({"source": report.source, "report_kind": report.kind, "finding": r}),
        ));
    }
    for e in report
        .changes
        .new
        .iter()
        .filter(|e| e.kinds.contains(&crate::audit::model::Kind::Leaked))
    {
        out.push((
            "keywarden.leak.detected",
            json!({"source": report.source, "report_kind": report.kind, "finding": e}),
        ));
    }
    out
}

/// The Standard Webhooks body: `{"type", "timestamp", "data"}`.
pub fn body(event: &str, timestamp: &str, data: &Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"type": event, "timestamp": timestamp, "data": data}))
        .unwrap_or_default()
}

/// Escapes `&`, `<`, `>` for Slack's text fields, and keeps `*`, `~` and backticks in
/// names from formatting (mrkdwn has no escape character: a zero-width space after each
/// stops it from pairing up).
pub fn slack_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '*' | '~' | '`' => {
                out.push('\u{200B}');
                out.push(c);
                out.push('\u{200B}');
            }
            c => out.push(c),
        }
    }
    out
}

/// A Slack incoming-webhook payload: Block Kit with a `text` fallback.
pub fn slack_body(report: &ReportModel) -> Vec<u8> {
    let subject = slack_escape(&report.subject());
    let mut lines = Vec::new();
    let a = &report.actions;
    for (title, list) in [
        ("Leaks", &a.leaks),
        ("Revoke", &a.revoke),
        ("Rotate", &a.rotate),
        ("Narrow", &a.narrow),
    ] {
        for e in list.iter().take(10) {
            let owner = e.owner.as_deref().unwrap_or("unknown");
            lines.push(format!(
                "• *{title}* {} ({}){}: {}. Owner: {}. Do: {}",
                slack_escape(&e.key),
                slack_escape(e.severity_text()),
                e.location
                    .as_deref()
                    .map(|l| format!(" at {}", slack_escape(l)))
                    .unwrap_or_default(),
                slack_escape(&e.evidence),
                slack_escape(owner),
                slack_escape(&e.action),
            ));
        }
        if list.len() > 10 {
            lines.push(format!(
                "• … and {} more to {}",
                list.len() - 10,
                title.to_lowercase()
            ));
        }
    }
    if lines.is_empty() {
        lines.push("Nothing to do.".into());
    }
    let c = &report.changes;
    let changes = if c.first {
        "First report: every finding is new.".to_string()
    } else {
        format!(
            "Since the last report: {} new, {} resolved, {} still open.",
            c.new.len(),
            c.resolved.len(),
            c.still_open
        )
    };
    let mut actions = lines.join("\n");
    if actions.len() > 2900 {
        let mut cut = 2900;
        while !actions.is_char_boundary(cut) {
            cut -= 1;
        }
        actions.truncate(cut);
        actions.push('…');
    }
    let doc = json!({
        "text": subject,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": report.subject().chars().take(150).collect::<String>()}},
            {"type": "section", "text": {"type": "mrkdwn", "text": actions}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": slack_escape(&changes)}]},
        ]
    });
    serde_json::to_vec(&doc).unwrap_or_default()
}

/// Decodes `whsec_<base64>` signing secrets (space-separated during rotation).
pub fn signing_keys(secret: &Secret) -> Result<Vec<Vec<u8>>, String> {
    secret
        .expose()
        .split_whitespace()
        .map(|s| {
            let b64 = s.strip_prefix("whsec_").unwrap_or(s);
            B64.decode(b64)
                .map_err(|_| "a signing secret is not whsec_<base64>".to_string())
        })
        .collect()
}

/// The `webhook-signature` header: `v1,<base64 HMAC-SHA256(key, "{id}.{ts}.{body}")>` per
/// key, space-separated.
pub fn sign(keys: &[Vec<u8>], id: &str, timestamp: i64, body: &[u8]) -> String {
    keys.iter()
        // HMAC takes keys of any length: new_from_slice cannot fail.
        .filter_map(|k| <Hmac<Sha256> as Mac>::new_from_slice(k).ok())
        .map(|mut mac| {
            mac.update(id.as_bytes());
            mac.update(b".");
            mac.update(timestamp.to_string().as_bytes());
            mac.update(b".");
            mac.update(body);
            format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The HTTP client of a channel (build once per run: it loads the system's roots).
pub fn client(ch: &WebhookChannel) -> Result<reqwest::blocking::Client, String> {
    crate::tls::install_provider();
    let mut b = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(ch.timeout_secs.max(1)))
        .connect_timeout(Duration::from_secs(ch.timeout_secs.clamp(1, 10)))
        .user_agent(concat!("keywarden/", env!("CARGO_PKG_VERSION")));
    if let Some(ca) = &ch.ca_file {
        let pem = crate::bounded::read(ca).map_err(|e| format!("{}: {e}", ca.display()))?;
        let cert = reqwest::Certificate::from_pem(&pem)
            .map_err(|e| format!("{}: not a PEM certificate: {e}", ca.display()))?;
        b = b.add_root_certificate(cert);
    }
    b.build()
        .map_err(|e| format!("building the HTTP client: {}", e.without_url()))
}

/// Posts one message. The URL is a secret: it appears in no error.
pub fn send(
    client: &reqwest::blocking::Client,
    ch: &WebhookChannel,
    url: &Secret,
    keys: &[Vec<u8>],
    message_id: &str,
    payload: &[u8],
) -> Outcome {
    let parsed = match reqwest::Url::parse(url.expose()) {
        Ok(u) => u,
        Err(_) => return Outcome::Permanent("the webhook URL does not parse".into()),
    };
    match parsed.scheme() {
        "https" => {}
        "http" if parsed.host_str().is_some_and(is_loopback_host) => {}
        _ => {
            return Outcome::Permanent(
                "refusing a webhook URL that is not https (plain http only to loopback)".into(),
            );
        }
    }
    let mut req = client
        .post(parsed)
        .header("content-type", "application/json")
        .body(payload.to_vec());
    if !keys.is_empty() {
        let ts = chrono::Utc::now().timestamp();
        req = req
            .header("webhook-id", message_id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", sign(keys, message_id, ts, payload));
    }
    match req.send() {
        Ok(resp) => {
            let after = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(retry_after_ms);
            match (classify(resp.status()), after) {
                (Outcome::Transient(what), Some(ms)) => Outcome::RetryAfter(what, ms),
                (outcome, _) => outcome,
            }
        }
        Err(e) if e.is_timeout() => {
            Outcome::Transient(format!("timed out after {}s", ch.timeout_secs))
        }
        Err(e) => {
            let e = e.without_url();
            let mut msg = e.to_string();
            msg += &crate::error::causes(&msg, &e);
            Outcome::Transient(msg)
        }
    }
}

/// `Retry-After`: delay-seconds or an HTTP date, in ms from now.
pub fn retry_after_ms(value: &str) -> Option<u64> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(secs.saturating_mul(1000));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let ms = at.timestamp_millis() - chrono::Utc::now().timestamp_millis();
    Some(ms.max(0) as u64)
}

/// 2xx delivered; 410 disables the endpoint; 408, 429, 5xx retry; other statuses
/// (4xx, and 3xx since redirects are not followed) are permanent.
pub fn classify(status: reqwest::StatusCode) -> Outcome {
    let code = status.as_u16();
    let what = format!("HTTP {status}");
    match code {
        200..=299 => Outcome::Delivered,
        410 => Outcome::Gone(what),
        408 | 429 | 500..=599 => Outcome::Transient(what),
        300..=399 => Outcome::Permanent(format!(
            "{what}: redirects are not followed; configure the final URL"
        )),
        _ => Outcome::Permanent(what),
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn slack_escape_keeps_names_from_formatting() {
        let s = slack_escape("*bold* `code` ~x~ <a>&");
        assert!(
            !s.contains("*bold*") && !s.contains("`code`") && !s.contains("~x~"),
            "{s}"
        );
        assert!(s.contains("&lt;a&gt;&amp;"), "{s}");
    }

    use super::*;

    #[test]
    fn standard_webhooks_reference_signature() {
        // The example of the Standard Webhooks specification.
        let key = B64.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        let sig = sign(&[key], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn rotation_signs_with_both_and_slack_escapes() {
        let s = Secret::new("whsec_YWFh whsec_YmJi");
        let keys = signing_keys(&s).unwrap();
        assert_eq!(keys, vec![b"aaa".to_vec(), b"bbb".to_vec()]);
        assert_eq!(sign(&keys, "m", 1, b"x").split(' ').count(), 2);
        assert!(signing_keys(&Secret::new("whsec_!!")).is_err());
        assert_eq!(slack_escape("a & <b>"), "a &amp; &lt;b&gt;");
        assert_eq!(retry_after_ms("7"), Some(7000));
        assert_eq!(retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT"), Some(0));
        assert_eq!(retry_after_ms("soon"), None);
        assert!(matches!(
            classify(reqwest::StatusCode::GONE),
            Outcome::Gone(_)
        ));
        assert!(matches!(
            classify(reqwest::StatusCode::TOO_MANY_REQUESTS),
            Outcome::Transient(_)
        ));
        assert!(matches!(
            classify(reqwest::StatusCode::BAD_REQUEST),
            Outcome::Permanent(_)
        ));
        assert!(matches!(
            classify(reqwest::StatusCode::FOUND),
            Outcome::Permanent(_)
        ));
    }
}
