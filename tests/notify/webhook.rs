use super::*;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Verifies a Standard Webhooks signature header with `key`.
fn verifies(req: &Request, key: &[u8]) -> bool {
    let id = req.header("webhook-id").unwrap();
    let ts = req.header("webhook-timestamp").unwrap();
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(&req.body);
    let expected = format!("v1,{}", B64.encode(mac.finalize().into_bytes()));
    req.header("webhook-signature")
        .unwrap()
        .split(' ')
        .any(|s| s == expected)
}

#[test]
fn signed_events_verify_with_either_secret_and_not_with_another() {
    let rx = Receiver::start(&[], 200);
    let s = Setup::new(&format!(
        "{}{FAST_RETRY}",
        webhook_toml("siem", "KW_TEST_URL", "")
    ))
    .env("KW_TEST_URL", &rx.url);
    let out = s.scan_notify();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let reqs = rx.requests();
    let types: Vec<String> = reqs
        .iter()
        .map(|r| r.json()["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        types,
        [
            "keywarden.report",
            "keywarden.finding.opened",
            "keywarden.finding.opened",
            "keywarden.leak.detected",
            "keywarden.leak.detected"
        ],
        "{stderr}"
    );
    for r in &reqs {
        assert_eq!(r.path, "/hooks/keywarden");
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert!(r.header("webhook-id").unwrap().starts_with("msg_"));
        assert_eq!(r.header("webhook-signature").unwrap().split(' ').count(), 2);
        assert!(verifies(r, WEBHOOK_KEY_OLD), "old secret verifies");
        assert!(verifies(r, WEBHOOK_KEY_NEW), "new secret verifies");
        assert!(
            !verifies(r, b"some-other-key-0123456789abcdef!"),
            "another fails"
        );
        let mut tampered = r.clone();
        tampered.body.push(b' ');
        assert!(
            !verifies(&tampered, WEBHOOK_KEY_NEW),
            "a changed body fails"
        );
        let v = r.json();
        assert!(v["timestamp"].as_str().unwrap().ends_with('Z'));
        assert_no_secret("webhook body", &r.body);
        for (k, v) in &r.headers {
            assert_no_secret(k, v.as_bytes());
        }
    }
    let ids: std::collections::BTreeSet<_> = reqs
        .iter()
        .map(|r| r.header("webhook-id").unwrap())
        .collect();
    assert_eq!(ids.len(), reqs.len(), "one id per message");
    let report = &reqs[0].json()["data"];
    assert_eq!(report["version"], 1);
    assert_eq!(report["kind"], "scan");
    assert_eq!(report["summary"]["leaked"], 2);
    assert_eq!(report["actions"]["leaks"][0]["key"], "mk_live_Zq8W…9Mh4");
    assert_eq!(report["changes"]["first"], true);
    s.assert_store_has_no_secret();
}

#[test]
fn refused_then_accepted_exactly_once_with_the_same_webhook_id() {
    let rx = Receiver::start(&[503, 429, 500], 200);
    let s = Setup::new(&format!(
        "{}{FAST_RETRY}",
        webhook_toml("siem", "KW_TEST_URL", "events = [\"keywarden.report\"]")
    ))
    .env("KW_TEST_URL", &rx.url);
    let out = s.scan_notify();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let reqs = rx.requests();
    let statuses: Vec<u16> = reqs.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [503, 429, 500, 200], "{stderr}");
    let ids: Vec<&str> = reqs
        .iter()
        .map(|r| r.header("webhook-id").unwrap())
        .collect();
    assert!(
        ids.iter().all(|i| *i == ids[0]),
        "a retry keeps its webhook-id: {ids:?}"
    );
    assert!(reqs.iter().all(|r| r.body == reqs[0].body), "and its body");
    let rows = s.outbox_rows();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["status"], "delivered");
    assert_eq!(rows[0]["attempts"], 4);
    // Nothing is sent twice.
    assert_eq!(s.outbox(&["deliver"]).status.code(), Some(0));
    assert_eq!(rx.requests().len(), 4);
}

#[test]
fn connection_refused_is_retried_in_a_later_run() {
    // A port with nothing listening.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let s = Setup::new(&format!(
        "{}[notify.retry]\nbase_delay_ms = 60000\nrun_budget_ms = 100\n",
        webhook_toml("siem", "KW_TEST_URL", "events = [\"keywarden.report\"]")
    ))
    .env("KW_TEST_URL", &format!("http://127.0.0.1:{port}/hook"));
    let out = s.scan_notify();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("still pending"), "{stderr}");
    let rows = s.outbox_rows();
    assert_eq!(rows[0]["status"], "pending");
    assert_eq!(rows[0]["attempts"], 1);
    assert!(
        rows[0]["last_error"].as_str().unwrap().contains("connect"),
        "{rows:?}"
    );
    assert!(
        !rows[0]["last_error"]
            .as_str()
            .unwrap()
            .contains(&port.to_string()),
        "no URL"
    );
}

#[test]
fn slack_gets_block_kit_with_escaped_text() {
    let rx = Receiver::start(&[], 200);
    let s = Setup::new(&format!(
        "[[notify.webhook]]\nname = \"chat\"\nformat = \"slack\"\nurl = {{ env = \"KW_TEST_URL\" }}\n\n{FAST_RETRY}"
    ))
    .env("KW_TEST_URL", &rx.url);
    s.tree
        .write("app/config/<prod>&co.env.production", format!("K={TEST}\n"));
    let out = s.scan_notify();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let reqs = rx.requests();
    assert_eq!(reqs.len(), 1, "Slack gets the report only: {stderr}");
    let v = reqs[0].json();
    assert!(v["text"].as_str().unwrap().starts_with("[Keywarden] /"));
    assert_eq!(v["blocks"][0]["type"], "header");
    let section = v["blocks"][1]["text"]["text"].as_str().unwrap();
    assert!(section.contains("&lt;prod&gt;&amp;co"), "{section}");
    assert!(!section.contains("<prod>"), "{section}");
    assert!(reqs[0].header("webhook-signature").is_none());
    assert_no_secret("slack body", &reqs[0].body);
}

#[test]
fn changes_since_the_last_delivered_report() {
    let rx = Receiver::start(&[], 200);
    let s = Setup::new(&format!(
        "{}{FAST_RETRY}",
        webhook_toml("siem", "KW_TEST_URL", "")
    ))
    .env("KW_TEST_URL", &rx.url);
    assert_eq!(s.scan_notify().status.code(), Some(1));
    let first = rx.requests().len();
    // One leak fixed, one new.
    std::fs::remove_file(s.tree.path().join("app/public/app.js")).unwrap();
    s.tree.write("app/deploy.sh", format!("export K={TEST}\n"));
    assert_eq!(s.scan_notify().status.code(), Some(1));
    let second: Vec<Request> = rx.requests().split_off(first);
    let types: Vec<String> = second
        .iter()
        .map(|r| r.json()["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        types,
        [
            "keywarden.report",
            "keywarden.finding.opened",
            "keywarden.finding.resolved",
            "keywarden.leak.detected"
        ]
    );
    let changes = &second[0].json()["data"]["changes"];
    assert_eq!(changes["first"], false);
    assert_eq!(changes["still_open"], 1);
    assert_eq!(changes["new"][0]["key"], "mk_test_Hk3J…4Ab7");
    let resolved = changes["resolved"][0]["label"].as_str().unwrap();
    assert!(
        resolved.contains("mk_live_Zq8W…9Mh4") && resolved.contains("app.js"),
        "{resolved}"
    );
}

#[test]
fn timeouts_retry_and_redirects_are_not_followed() {
    // First a request that never gets an answer (timeout: retried), then a redirect.
    let rx = Receiver::start(&[0, 302], 200);
    let s = Setup::new(&format!(
        "{}{FAST_RETRY}",
        webhook_toml("siem", "KW_TEST_URL", "events = [\"keywarden.report\"]")
            .replace("timeout_secs = 2", "timeout_secs = 1")
    ))
    .env("KW_TEST_URL", &rx.url);
    let out = s.scan_notify();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("timed out after 1s"), "{stderr}");
    let reqs = rx.requests();
    assert_eq!(reqs.len(), 2, "the redirect is not followed: {stderr}");
    assert!(reqs.iter().all(|r| r.path == "/hooks/keywarden"));
    let rows = s.outbox_rows();
    assert_eq!(rows[0]["status"], "dead");
    assert!(
        rows[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("redirects are not followed"),
        "{rows:?}"
    );
}

#[test]
fn url_and_secret_from_systemd_credentials() {
    let rx = Receiver::start(&[], 200);
    let s = Setup::new(&format!(
        "[[notify.webhook]]\nname = \"siem\"\nurl = {{ credential = \"siem-url\" }}\nsecret = {{ credential = \"siem-secret\" }}\nevents = [\"keywarden.report\"]\n\n{FAST_RETRY}"
    ));
    let creds = s.tree.path().join("credentials");
    std::fs::create_dir_all(&creds).unwrap();
    std::fs::write(creds.join("siem-url"), format!("{}\n", rx.url)).unwrap();
    let key_only = WEBHOOK_SECRETS.split(' ').nth(1).unwrap();
    std::fs::write(creds.join("siem-secret"), format!("{key_only}\n")).unwrap();
    let s = s.env("CREDENTIALS_DIRECTORY", creds.to_str().unwrap());
    let out = s.scan_notify();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let reqs = rx.requests();
    assert_eq!(reqs.len(), 1, "{stderr}");
    assert!(verifies(&reqs[0], WEBHOOK_KEY_NEW));
    assert!(
        !verifies(&reqs[0], WEBHOOK_KEY_OLD),
        "only the configured secret signs"
    );
    assert_eq!(
        reqs[0]
            .header("webhook-signature")
            .unwrap()
            .split(' ')
            .count(),
        1
    );
}

#[test]
fn https_with_a_private_ca_and_refused_without_it() {
    let (rx, pem) = Receiver::start_tls(&[], 200);
    let toml = |extra: &str| {
        format!(
            "[state]\npath = \"state/keywarden.db\"\n\n{}[notify.retry]\nbase_delay_ms = 60000\nrun_budget_ms = 0\n",
            webhook_toml(
                "siem",
                "KW_TEST_URL",
                &format!("events = [\"keywarden.report\"]\n{extra}")
            )
        )
    };
    let s = Setup::new("").env("KW_TEST_URL", &rx.url);
    std::fs::write(&s.config, toml("")).unwrap();
    // The certificate is not trusted: the handshake fails, nothing reaches the receiver.
    let out = s.scan_notify();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(rx.requests().is_empty(), "{stderr}");
    let rows = s.outbox_rows();
    assert_eq!(rows[0]["status"], "pending", "{stderr}");
    assert_eq!(rows[0]["attempts"], 1);
    let err = rows[0]["last_error"].as_str().unwrap();
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    let id = rows[0]["id"].as_i64().unwrap().to_string();
    // Trusting the private CA (path relative to the config file), the retry goes through.
    s.tree.write("etc/ca.pem", &pem);
    std::fs::write(&s.config, toml("ca_file = \"ca.pem\"")).unwrap();
    let out = s.outbox(&["retry", &id]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reqs = rx.requests();
    assert_eq!(reqs.len(), 1);
    assert!(verifies(&reqs[0], WEBHOOK_KEY_NEW));
}

#[test]
fn retry_after_is_honoured_across_runs() {
    let rx = Receiver::start(&[429], 200);
    let s = Setup::new(&format!(
        "{}[notify.retry]\nbase_delay_ms = 40\nmax_delay_ms = 3600000\nrun_budget_ms = 0\n",
        webhook_toml("siem", "KW_TEST_URL", "events = [\"keywarden.report\"]")
    ))
    .env("KW_TEST_URL", &rx.url);
    let out = s.scan_notify();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let rows = s.outbox_rows();
    assert_eq!(rows[0]["status"], "pending", "{stderr}");
    let wait =
        rows[0]["next_attempt_at"].as_i64().unwrap() - rows[0]["created_at"].as_i64().unwrap();
    // Backoff alone would be at most 40 ms; the receiver asked for 30 s.
    assert!(
        wait >= 30_000,
        "next attempt only {wait} ms after: {stderr}"
    );
    assert_eq!(rx.requests().len(), 1);
}
