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

#[test]
fn a_wrong_password_is_a_permanent_failure() {
    if !aiosmtpd_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let smtp = Smtp::start(dir.path(), "starttls", 0, "");
    let s = Setup::new(&email_toml(&smtp, "starttls")).env("KW_TEST_SMTP_PASSWORD", "wrong-pw");
    let out = s.scan_notify();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let rows = s.outbox_rows();
    assert_eq!(rows[0]["status"], "dead", "{stderr}");
    assert_eq!(rows[0]["attempts"], 1);
    assert!(
        rows[0]["last_error"].as_str().unwrap().contains("535"),
        "{rows:?}"
    );
    assert!(!stderr.contains("wrong-pw"));
    assert!(smtp.messages().is_empty());
}

/// The audit's JSON (issue 4's shape) through the library entry point, as
/// `keywarden audit --notify` will call it; with an overridden text template.
#[test]
fn audit_report_through_the_library_entry_point() {
    if !aiosmtpd_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let smtp = Smtp::start(dir.path(), "starttls", 0, "");
    let s = Setup::new(&format!(
        "[notify]\ntemplates = \"templates\"\n\n{}",
        email_toml(&smtp, "starttls")
    ));
    s.tree.write(
        "etc/templates/report.txt",
        "CUSTOM {{ subject }}\n{% for e in report.actions.rotate %}rotate {{ e.key }} owner {{ e.owner }}\n{% endfor %}",
    );
    let audit = serde_json::json!({
        "version": 1,
        "workspace": {"id": "ws_1", "name": "acme"},
        "keys": [
            {"id": "key_1", "name": "CI deploy", "environment": "live", "last_four": "p7dc",
             "created_by": {"id": "usr_1", "name": "Ana", "email": "ana@example.com"},
             "findings": [{"kind": "leaked", "severity": "critical",
                           "evidence": {"path": ".env.production", "line": 1}}],
             "recommendation": {"actions": ["revoke"], "narrow_to": []}},
            {"id": "key_2", "name": "Reporting", "environment": "live", "last_four": "f456",
             "created_by": {"id": "usr_2", "email": "bo@example.com"},
             "findings": [{"kind": "rotation-overdue", "severity": "high",
                           "evidence": {"created_at": "2026-01-02", "age_days": 329}},
                          {"kind": "over-scoped", "severity": "medium",
                           "evidence": {"unused": ["links:write"]}}],
             "recommendation": {"actions": ["rotate", "narrow"], "narrow_to": ["analytics:read"]}},
            {"id": "key_3", "name": "Old", "environment": "test", "last_four": "zz99",
             "created_by": null,
             "findings": [{"kind": "inactive", "severity": "low", "evidence": "never used"}],
             "recommendation": {"actions": ["revoke"]}}
        ],
        "summary": {}
    });
    let loaded = keywarden::service_config::LoadedConfig::load(&s.config).unwrap();
    let mut cfg = loaded.config.notify.clone();
    cfg.validate(&s.config).unwrap();
    let base = s.config.parent().unwrap();
    cfg.resolve_paths(base);
    let mut store = keywarden::store::Store::open(&loaded.config.state.resolve_path(base)).unwrap();
    let model =
        keywarden::notify::ReportModel::from_json(&audit.to_string(), "audit.json", None).unwrap();
    // In-process: read the password from a file (the environment is the test runner's).
    cfg.email[0].password = Some(keywarden::notify::SecretSource {
        file: Some(dir.path().join("pw")),
        ..Default::default()
    });
    std::fs::write(dir.path().join("pw"), format!("{SMTP_PASSWORD}\n")).unwrap();
    let stats = keywarden::notify::enqueue_and_deliver(&cfg, &mut store, model).unwrap();
    assert_eq!((stats.delivered, stats.dead, stats.pending), (1, 0, 0));
    let msgs = smtp.messages();
    let m = &msgs[0].0;
    assert_eq!(
        header(m, "subject").unwrap(),
        "[Keywarden] acme: 1 leaked, 2 to revoke, 1 to rotate, 1 to narrow, 1 inactive"
    );
    let text = m["parts"][0]["content"].as_str().unwrap();
    assert!(
        text.starts_with("CUSTOM [Keywarden] acme")
            && text.contains("rotate Reporting (mk_live_…f456) owner bo@example.com"),
        "{text}"
    );
    let html = m["parts"][1]["content"].as_str().unwrap();
    for fact in [
        "CI deploy (mk_live_…p7dc)",
        "Ana &lt;ana@example.com&gt;",
        "revoke it in Settings → API Keys",
        "analytics:read",
        "rotation-overdue",
        "age_days: 329",
    ] {
        assert!(html.contains(fact), "html lacks {fact:?}:\n{html}");
    }
}
