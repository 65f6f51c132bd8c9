use super::*;

fn report_only(rx: &Receiver) -> Setup {
    Setup::new(&format!(
        "{}{FAST_RETRY}",
        webhook_toml("siem", "KW_TEST_URL", "events = [\"keywarden.report\"]")
    ))
    .env("KW_TEST_URL", &rx.url)
}

#[test]
fn a_4xx_is_dead_lettered_then_retried_by_hand_with_the_same_id() {
    let rx = Receiver::start(&[400], 200);
    let s = report_only(&rx);
    let out = s.scan_notify();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("dead-lettered: HTTP 400"), "{stderr}");
    assert_eq!(rx.requests().len(), 1, "a permanent failure is not retried");
    let rows = s.outbox_rows();
    assert_eq!(rows[0]["status"], "dead");
    assert_eq!(rows[0]["last_error"], "HTTP 400 Bad Request");
    let id = rows[0]["id"].as_i64().unwrap().to_string();

    let list = s.outbox(&[]);
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(text.contains("dead") && text.contains("HTTP 400"), "{text}");

    let retry = s.outbox(&["retry", &id]);
    assert_eq!(
        retry.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&retry.stderr)
    );
    let reqs = rx.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[1].status, 200);
    assert_eq!(reqs[0].header("webhook-id"), reqs[1].header("webhook-id"));
    assert_eq!(s.outbox_rows()[0]["status"], "delivered");

    // Unknown ids and already delivered messages are errors that say so.
    let bad = s.outbox(&["retry", &id]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("already delivered"));
    let bad = s.outbox(&["drop", "999"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no outbox message with id 999"));
    let dropped = s.outbox(&["drop", &id]);
    assert_eq!(dropped.status.code(), Some(0));
    assert!(s.outbox_rows().is_empty());
}

#[test]
fn gone_disables_the_channel_loudly_until_retry() {
    let rx = Receiver::start(&[410], 200);
    let s = report_only(&rx);
    let out = s.scan_notify();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("CHANNEL siem DISABLED"), "{stderr}");
    // The next report to that channel is not sent.
    s.tree.write("app/more.txt", format!("{TEST}\n"));
    let out = s.scan_notify();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(rx.requests().len(), 1, "{stderr}");
    assert!(stderr.contains("channel siem is disabled"), "{stderr}");
    let list = s.outbox(&[]);
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(text.contains("channel siem DISABLED"), "{text}");
    let rows = s.outbox_rows();
    let id = rows[1]["id"].as_i64().unwrap().to_string();
    assert_eq!(s.outbox(&["retry", &id]).status.code(), Some(0));
    assert_eq!(rx.requests().len(), 2);
    assert_eq!(rx.requests()[1].status, 200);
}

#[test]
fn sigkill_mid_retry_loses_nothing_and_the_next_run_delivers_once() {
    let rx = Receiver::start(&[], 503);
    let s = Setup::new(&format!(
        "{}[notify.retry]\nbase_delay_ms = 50\nmax_delay_ms = 100\nmax_attempts = 1000\nrun_budget_ms = 600000\n",
        webhook_toml("siem", "KW_TEST_URL", "events = [\"keywarden.report\"]")
    ))
    .env("KW_TEST_URL", &rx.url);
    let config = s.config.display().to_string();
    let mut child = s
        .std_cmd(&["scan", "app", "--notify", "--service-config", &config])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    rx.wait_for(3);
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );

    let rows = s.outbox_rows();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0]["status"], "pending",
        "the message survived the kill"
    );
    let before = rx.requests().len();
    assert!(rx.requests().iter().all(|r| r.status == 503));

    rx.set_default(200);
    let out = s.outbox(&["deliver"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reqs = rx.requests();
    let accepted: Vec<&Request> = reqs.iter().filter(|r| r.status == 200).collect();
    assert_eq!(accepted.len(), 1, "delivered exactly once");
    assert!(reqs.len() > before);
    assert!(
        reqs.iter()
            .all(|r| r.header("webhook-id") == reqs[0].header("webhook-id")),
        "every attempt, before and after the kill, has the same webhook-id"
    );
    assert_eq!(s.outbox_rows()[0]["status"], "delivered");
    s.assert_store_has_no_secret();
}

#[test]
fn the_next_scan_run_delivers_what_a_killed_run_left() {
    let rx = Receiver::start(&[], 503);
    let s = Setup::new(&format!(
        "{}[notify.retry]\nbase_delay_ms = 50\nmax_delay_ms = 100\nmax_attempts = 1000\nrun_budget_ms = 600000\n",
        webhook_toml("siem", "KW_TEST_URL", "events = [\"keywarden.report\"]")
    ))
    .env("KW_TEST_URL", &rx.url);
    let config = s.config.display().to_string();
    let mut child = s
        .std_cmd(&["scan", "app", "--notify", "--service-config", &config])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    rx.wait_for(2);
    child.kill().unwrap();
    child.wait().unwrap();
    let first_id = rx.requests()[0].header("webhook-id").unwrap().to_string();
    rx.set_default(200);
    let out = s.scan_notify();
    assert_eq!(out.status.code(), Some(1));
    let accepted: Vec<String> = rx
        .requests()
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| r.header("webhook-id").unwrap().to_string())
        .collect();
    // This run renders the same report (same findings, nothing delivered since): the
    // same message, delivered once under the killed run's id.
    assert_eq!(accepted, [first_id], "one report, once: {accepted:?}");
    let rows = s.outbox_rows();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["status"], "delivered", "{rows:?}");
}

#[test]
fn config_errors_say_where_and_nothing_is_sent_without_notify() {
    let rx = Receiver::start(&[], 200);
    let s = report_only(&rx);
    // Without --notify nothing is sent and no store is created, even with the service
    // config in the environment.
    let out = s
        .cmd()
        .args(["scan", "app"])
        .env("KEYWARDEN_SERVICE_CONFIG", &s.config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(rx.requests().is_empty());
    assert!(!s.state_db().exists());
    // Unknown keys are errors with file:line.
    s.tree.write("etc/bad.toml", "[notify]\nchanels = []\n");
    let out = s
        .cmd()
        .args(["outbox", "--config", "etc/bad.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("bad.toml:2:1") && e.contains("chanels"), "{e}");
    // A missing secret names the key, not a value.
    let out = s
        .cmd()
        .env_remove("KW_TEST_URL")
        .args(["scan", "app", "--notify", "--service-config"])
        .arg(&s.config)
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains("notify.webhook[siem].url") && e.contains("KW_TEST_URL"),
        "{e}"
    );
    assert_eq!(s.outbox_rows()[0]["status"], "pending");
}

#[test]
fn report_renders_scan_json_in_every_format_without_sending() {
    let t = Tree::new();
    t.write(".env.production", format!("MASK_KEY={LIVE}\n"));
    let (_, scan) = t.scan_json(&[]);
    t.write("scan.json", scan.to_string());
    for (format, needle) in [
        ("text", "WHAT TO DO"),
        ("markdown", "## What to do"),
        ("html", "<table"),
        ("json", "\"version\": 1"),
    ] {
        let out = t
            .cmd()
            .args(["report", "scan.json", "--format", format])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{format}");
        let s = String::from_utf8_lossy(&out.stdout);
        assert!(s.contains(needle), "{format}: {s}");
        assert!(s.contains("mk_live_4eC3…p7dc"), "{format}: {s}");
        assert_no_secret(format, &out.stdout);
    }
    t.write("bad.json", "{\"nope\": 1}");
    let out = t.cmd().args(["report", "bad.json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.json: neither"));
}

#[test]
fn two_concurrent_runs_deliver_each_message_once() {
    let rx = Receiver::start(&[], 503);
    let s = Setup::new(&format!(
        "{}[notify.retry]\nbase_delay_ms = 1\nmax_delay_ms = 1\nmax_attempts = 100\nrun_budget_ms = 0\n",
        webhook_toml("siem", "KW_TEST_URL", "")
    ))
    .env("KW_TEST_URL", &rx.url);
    let out = s.scan_notify();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("still pending"), "{stderr}");
    assert_eq!(s.outbox_rows().len(), 5);
    rx.set_default(200);
    let config = s.config.display().to_string();
    let runs: Vec<Child> = (0..2)
        .map(|_| {
            s.std_cmd(&["outbox", "deliver", "--config", &config])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in runs {
        c.wait().unwrap();
    }
    // Whatever one run could not claim in time, a third run sends.
    s.outbox(&["deliver"]);
    let accepted: Vec<String> = rx
        .requests()
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| r.header("webhook-id").unwrap().to_string())
        .collect();
    let unique: std::collections::BTreeSet<&String> = accepted.iter().collect();
    assert_eq!(accepted.len(), 5, "{accepted:?}");
    assert_eq!(unique.len(), 5, "no message delivered twice: {accepted:?}");
    assert!(s.outbox_rows().iter().all(|r| r["status"] == "delivered"));
}

/// `tests/data/audit-report.json` is `keywarden audit --inventory examples/inventory.json
/// --format json` as issue 4's implementation writes it: the notifier reads it as is.
#[test]
fn report_reads_the_audit_json() {
    let t = Tree::new();
    let input = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/audit-report.json");
    let out = t
        .cmd()
        .arg("report")
        .arg(&input)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["kind"], "audit");
    assert_eq!(v["source"], "Acme Marketing");
    assert_eq!(v["summary"]["keys"], 7);
    assert_eq!(
        [
            &v["summary"]["revoke"],
            &v["summary"]["rotate"],
            &v["summary"]["narrow"],
            &v["summary"]["inactive"]
        ],
        [2, 3, 1, 2]
    );
    assert_eq!(
        v["actions"]["narrow"][0]["narrow_to"],
        serde_json::json!(["links:read"])
    );
    let html = t
        .cmd()
        .arg("report")
        .arg(&input)
        .args(["--format", "html"])
        .output()
        .unwrap();
    let html = String::from_utf8_lossy(&html.stdout);
    assert!(
        html.contains(
            "[Keywarden] Acme Marketing: 2 to revoke, 3 to rotate, 1 to narrow, 2 inactive"
        )
    );
    assert!(html.contains("Issue the replacement with the narrowed scopes (links:read)"));
    assert!(html.contains("Link shortener backend (mk_live_…p7dc)"));
}

#[test]
fn audit_notify_sends_the_audit_report_and_its_changes() {
    let rx = Receiver::start(&[], 200);
    let s = report_only(&rx);
    let inventory = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/inventory.json");
    let audit = || {
        s.cmd()
            .arg("audit")
            .arg("--inventory")
            .arg(&inventory)
            .args([
                "--as-of",
                "2026-11-27T12:00:00Z",
                "--format",
                "json",
                "--notify",
            ])
            .arg("--config")
            .arg(&s.config)
            .output()
            .unwrap()
    };
    // Without --config, --notify is a usage error.
    let out = s.cmd().args(["audit", "--notify"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let first = audit();
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(first.status.code() != Some(2), "{stderr}");
    let reqs = rx.requests();
    assert_eq!(reqs.len(), 1, "{stderr}");
    let data = &reqs[0].json()["data"];
    assert_eq!(data["kind"], "audit");
    assert_eq!(data["source"], "Acme Marketing");
    assert_eq!(data["changes"]["first"], true);
    assert!(data["summary"]["rotate"].as_u64().unwrap() > 0, "{data}");
    // The same inventory again: nothing new, nothing resolved, everything still open.
    audit();
    let reqs = rx.requests();
    assert_eq!(reqs.len(), 2);
    let changes = &reqs[1].json()["data"]["changes"];
    assert_eq!(changes["first"], false);
    assert_eq!(changes["new"], serde_json::json!([]));
    assert_eq!(changes["resolved"], serde_json::json!([]));
    assert_eq!(changes["still_open"], data["summary"]["findings"]);
}
