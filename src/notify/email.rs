//! Email with lettre: STARTTLS or implicit TLS (rustls + ring), plain only to loopback,
//! AUTH, several recipients, `multipart/alternative` (text + HTML), Date and Message-ID.

use super::Outcome;
use super::config::{EmailChannel, Secret, TlsMode, is_loopback_host};
use lettre::Transport;
use lettre::message::{Mailbox, Message, MultiPart};
use lettre::transport::smtp::SmtpTransport;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What the outbox stores for an email: rendered once, sent as is on every attempt.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmailPayload {
    /// Subject line.
    pub subject: String,
    /// Plain-text part.
    pub text: String,
    /// HTML part.
    pub html: String,
}

/// A `Message-ID` for a message from `from`: `<random@from's domain>`.
pub fn message_id(from: &str, random: &str) -> String {
    let domain = from
        .rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('>').trim())
        .filter(|d| !d.is_empty() && !d.contains(['<', ' ']))
        .unwrap_or("keywarden.invalid");
    format!("<{random}@{domain}>")
}

fn build(ch: &EmailChannel, payload: &EmailPayload, message_id: &str) -> Result<Message, String> {
    let from: Mailbox = ch
        .from
        .parse()
        .map_err(|e| format!("notify.email[{}].from {:?}: {e}", ch.name, ch.from))?;
    let mut b = Message::builder()
        .from(from)
        .subject(payload.subject.clone())
        .date_now()
        .message_id(Some(message_id.to_string()));
    for to in &ch.to {
        let mb: Mailbox = to
            .parse()
            .map_err(|e| format!("notify.email[{}].to {to:?}: {e}", ch.name))?;
        b = b.to(mb);
    }
    b.multipart(MultiPart::alternative_plain_html(
        payload.text.clone(),
        payload.html.clone(),
    ))
    .map_err(|e| format!("building the message: {e}"))
}

fn transport(ch: &EmailChannel, password: Option<&Secret>) -> Result<SmtpTransport, String> {
    let tls = |host: &str| -> Result<TlsParameters, String> {
        let mut p = TlsParameters::builder(host.to_string());
        if let Some(ca) = &ch.ca_file {
            let pem = crate::bounded::read(ca).map_err(|e| format!("{}: {e}", ca.display()))?;
            let cert = Certificate::from_pem(&pem)
                .map_err(|e| format!("{}: not a PEM certificate: {e}", ca.display()))?;
            p = p.add_root_certificate(cert);
        }
        p.build_rustls().map_err(|e| format!("TLS setup: {e}"))
    };
    let (tls, port) = match ch.tls {
        TlsMode::Starttls => (Tls::Required(tls(&ch.host)?), 587),
        TlsMode::Implicit => (Tls::Wrapper(tls(&ch.host)?), 465),
        TlsMode::None if is_loopback_host(&ch.host) => (Tls::None, 25),
        TlsMode::None => return Err("plain SMTP is only allowed to loopback".into()),
    };
    let mut b = SmtpTransport::builder_dangerous(&ch.host)
        .port(ch.port.unwrap_or(port))
        .tls(tls)
        .timeout(Some(Duration::from_secs(ch.timeout_secs.max(1))));
    if let (Some(user), Some(pw)) = (&ch.username, password) {
        b = b.credentials(Credentials::new(user.clone(), pw.expose().to_string()));
    }
    Ok(b.build())
}

/// Sends one message to every recipient of the channel.
pub fn send(
    ch: &EmailChannel,
    password: Option<&Secret>,
    payload: &EmailPayload,
    message_id: &str,
) -> Outcome {
    let message = match build(ch, payload, message_id) {
        Ok(m) => m,
        Err(e) => return Outcome::Permanent(e),
    };
    let transport = match transport(ch, password) {
        Ok(t) => t,
        Err(e) => return Outcome::Transient(e),
    };
    match transport.send(&message) {
        Ok(_) => Outcome::Delivered,
        Err(e) => {
            let port = ch
                .port
                .map_or_else(|| "default port".to_string(), |p| p.to_string());
            let mut msg = format!("SMTP {}:{port}: {e}", ch.host);
            msg += &crate::error::causes(&msg, &e);
            if e.is_permanent() {
                Outcome::Permanent(msg)
            } else {
                // 4xx, connection refused, timeouts, TLS handshakes: try again later.
                Outcome::Transient(msg)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_id_uses_the_sender_domain() {
        assert_eq!(
            message_id("Keywarden <kw@example.com>", "abc"),
            "<abc@example.com>"
        );
        assert_eq!(message_id("nobody", "abc"), "<abc@keywarden.invalid>");
    }
}
