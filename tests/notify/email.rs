use super::*;

fn email_toml(smtp: &Smtp, tls: &str) -> String {
    format!(
        "[[notify.email]]\nname = \"security\"\nhost = \"127.0.0.1\"\nport = {}\ntls = \"{tls}\"\nca_file = \"{}\"\nfrom = \"Keywarden <keywarden@example.com>\"\nto = [\"sec@example.com\", \"oncall@example.com\"]\nusername = \"{SMTP_USER}\"\npassword = {{ env = \"KW_TEST_SMTP_PASSWORD\" }}\ntimeout_secs = 10\n\n{FAST_RETRY}",
        smtp.port,
        smtp.ca.display()
    )
}

fn header<'a>(msg: &'a serde_json::Value, name: &str) -> Option<&'a str> {
    msg["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h[0].as_str().unwrap().eq_ignore_ascii_case(name))
        .map(|h| h[1].as_str().unwrap())
}

#[test]
fn starttls_auth_multipart_with_the_same_facts_in_both_parts() {
    if !aiosmtpd_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let smtp = Smtp::start(dir.path(), "starttls", 0, "");
    let s = Setup::new(&email_toml(&smtp, "starttls"));
    let out = s.scan_notify();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "scan exit code with findings: {stderr}"
    );
    let msgs = smtp.messages();
    assert_eq!(msgs.len(), 1, "exactly one email: {stderr}");
    let (m, raw) = &msgs[0];
    assert_eq!(m["tls"], true, "STARTTLS was used");
    assert_eq!(m["authenticated"], true, "AUTH was used");
    assert_eq!(m["mail_from"], "keywarden@example.com");
    assert_eq!(
        m["rcpt_tos"],
        serde_json::json!(["sec@example.com", "oncall@example.com"])
    );
    assert_eq!(m["content_type"], "multipart/alternative");
    let subject = header(m, "subject").unwrap();
    assert!(subject.starts_with("[Keywarden] /"), "{subject}");
    assert!(subject.ends_with(": 2 leaked"), "{subject}");
    assert!(header(m, "date").is_some());
    let mid = header(m, "message-id").unwrap();
    assert!(
        mid.starts_with("<keywarden.") && mid.ends_with("@example.com>"),
        "{mid}"
    );
    let parts = m["parts"].as_array().unwrap();
    let types: Vec<&str> = parts
        .iter()
        .map(|p| p["content_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["text/plain", "text/html"]);
    // Both parts carry the same facts: each key (redacted), where, severity, what to do.
    for p in parts {
        let c = p["content"].as_str().unwrap();
        for fact in [
            "mk_live_4eC3…p7dc",
            "mk_live_Zq8W…9Mh4",
            "app/.env.production:1",
            "app/public/app.js:1",
            "critical",
            "high",
            "First report",
            "Settings → API Keys",
        ] {
            assert!(
                c.contains(fact),
                "{} lacks {fact:?}:\n{c}",
                p["content_type"]
            );
        }
    }
    let html = parts[1]["content"].as_str().unwrap();
    assert!(html.contains("<table") && html.contains("style=\""));
    assert!(!html.contains("<img") && !html.contains("<link"));
    assert_no_secret("email", raw);
    assert_no_secret("stderr", &out.stderr);
    assert!(!String::from_utf8_lossy(raw).contains(SMTP_PASSWORD));
    s.assert_store_has_no_secret();
    let rows = s.outbox_rows();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["status"], "delivered");
    assert_eq!(rows[0]["message_id"], mid);
}

#[test]
fn implicit_tls_4xx_is_retried_and_delivered_exactly_once() {
    if !aiosmtpd_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let smtp = Smtp::start(dir.path(), "implicit", 2, "451 4.3.0 try again later");
    let s = Setup::new(&email_toml(&smtp, "implicit"));
    let out = s.scan_notify();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("451"),
        "the transient failure is logged: {stderr}"
    );
    let msgs = smtp.messages();
    assert_eq!(msgs.len(), 1, "accepted exactly once: {stderr}");
    assert_eq!(msgs[0].0["tls"], true);
    let rows = s.outbox_rows();
    assert_eq!(rows[0]["status"], "delivered");
    assert_eq!(rows[0]["attempts"], 3);
    // A later run sends nothing again for the delivered message.
    let again = s.outbox(&["deliver"]);
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(smtp.messages().len(), 1);
}

#[test]
fn smtp_5xx_is_dead_lettered_with_the_reason() {
    if !aiosmtpd_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let smtp = Smtp::start(dir.path(), "starttls", 100, "554 5.7.1 rejected by policy");
    let s = Setup::new(&email_toml(&smtp, "starttls"));
    let out = s.scan_notify();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("dead-lettered"), "{stderr}");
    let rows = s.outbox_rows();
    assert_eq!(rows[0]["status"], "dead");
    assert_eq!(rows[0]["attempts"], 1, "a permanent failure is not retried");
    assert!(
        rows[0]["last_error"].as_str().unwrap().contains("554"),
        "{rows:?}"
    );
    assert!(smtp.messages().is_empty());
}

#[test]
fn untrusted_certificate_is_retried_then_dead_lettered() {
    if !aiosmtpd_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let smtp = Smtp::start(dir.path(), "starttls", 0, "");
    // No ca_file: the self-signed certificate is not trusted; the message stays pending.
    let toml = email_toml(&smtp, "starttls")
        .replace(&format!("ca_file = \"{}\"\n", smtp.ca.display()), "")
        .replace("max_attempts = 6", "max_attempts = 2");
    let s = Setup::new(&toml);
    let out = s.scan_notify();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(smtp.messages().is_empty(), "{stderr}");
    let rows = s.outbox_rows();
    assert_eq!(rows[0]["status"], "dead", "{stderr}");
    assert!(
        rows[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("gave up after 2 attempts"),
        "{rows:?}"
    );
    assert!(!stderr.contains(SMTP_PASSWORD));
}
