//! `keywarden audit` and `scan --verify` end to end: the example inventory, every format,
//! exceptions, leak correlation, the live API on loopback, key sources, exit codes, and no
//! full key in any output (the audit key's included).

use crate::mask_client::api_key;
use crate::util::{LIVE, LIVE2, TEST, Tree, assert_no_secret};
use serde_json::{Value, json};
use std::path::PathBuf;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const AS_OF: &str = "2026-11-27T12:00:00Z";

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/inventory.json")
}

/// `keywarden audit ARGS` in `t`, without the environment's MASK settings.
fn audit(t: &Tree, args: &[&str]) -> assert_cmd::Command {
    let mut c = t.cmd();
    c.arg("audit")
        .args(args)
        .env_remove("MASK_API_KEY")
        .env_remove("MASK_API_URL")
        .env_remove("CREDENTIALS_DIRECTORY");
    c
}

fn run_json(mut c: assert_cmd::Command) -> (i32, Value, String) {
    let out = c.args(["--format", "json"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_no_secret("audit stdout", &out.stdout);
    assert_no_secret("audit stderr", &out.stderr);
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "bad json ({e}): {}\n{stderr}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (out.status.code().unwrap(), v, stderr)
}

fn key<'a>(v: &'a Value, id: &str) -> &'a Value {
    v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id)
        .unwrap_or_else(|| panic!("{id} not listed"))
}

fn kinds(k: &Value) -> Vec<&str> {
    k["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect()
}

#[test]
fn example_inventory_json_is_the_documented_shape() {
    let t = Tree::new();
    let (code, v, _) = run_json(audit(
        &t,
        &["--inventory", example().to_str().unwrap(), "--as-of", AS_OF],
    ));
    assert_eq!(code, 1, "medium findings fail by default");
    assert_eq!(v["version"], 1);
    assert_eq!(
        v["workspace"],
        json!({"id": "ws_8Hq2LmXv", "name": "Acme Marketing"})
    );
    // every active key is listed, the revoked one is not
    let ids: std::collections::BTreeSet<&str> = v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 7);
    assert!(!ids.contains("key_6Ee0Rr2t"));
    let shortener = key(&v, "key_7Lx3Vb9q");
    assert_eq!(kinds(shortener), ["rotation-overdue", "over-scoped"]);
    assert_eq!(
        shortener["recommendation"]["actions"],
        json!(["rotate", "narrow"])
    );
    assert_eq!(
        shortener["recommendation"]["narrow_to"],
        json!(["links:read"])
    );
    assert_eq!(
        shortener["findings"][1]["evidence"]["unused_scopes"],
        json!(["domains:write", "links:write", "qr-codes:write"])
    );
    for f in shortener["findings"].as_array().unwrap() {
        assert!(
            f["severity"].is_string() && f["evidence"].is_object(),
            "{f}"
        );
    }
    let zapier = key(&v, "key_4Gh6Jk2m");
    assert_eq!(kinds(zapier), ["inactive", "rotation-overdue"]);
    assert_eq!(zapier["recommendation"]["actions"], json!(["revoke"]));
    assert_eq!(zapier["findings"][0]["evidence"]["days_unused"], 149);
    assert_eq!(kinds(key(&v, "key_9Pq1Rs5t")), ["insufficient-data"]);
    assert_eq!(
        key(&v, "key_9Pq1Rs5t")["findings"][0]["evidence"]["reason"],
        "young-key"
    );
    let ci = key(&v, "key_3Tu8Wy6z");
    assert_eq!(ci["findings"], json!([]));
    assert_eq!(ci["recommendation"]["actions"], json!([]));
    let s = &v["summary"];
    assert_eq!(
        (
            s["keys"].as_u64(),
            s["keys_with_findings"].as_u64(),
            s["findings"].as_u64()
        ),
        (Some(7), Some(6), Some(9))
    );
    assert_eq!(s["by_kind"]["rotation-overdue"], 3);
    assert_eq!(s["actions"], json!({"revoke": 2, "rotate": 3, "narrow": 1}));
    // the most severe key comes first, clean keys last
    assert_eq!(v["keys"][0]["findings"][0]["severity"], "medium");
    assert_eq!(v["keys"][6]["id"], "key_3Tu8Wy6z");
}

#[test]
fn include_revoked_lists_revoked_keys_without_findings() {
    let t = Tree::new();
    let (_, v, _) = run_json(audit(
        &t,
        &[
            "--inventory",
            example().to_str().unwrap(),
            "--as-of",
            AS_OF,
            "--include-revoked",
        ],
    ));
    let legacy = key(&v, "key_6Ee0Rr2t");
    assert_eq!(
        (
            legacy["status"].as_str(),
            legacy["findings"].as_array().unwrap().len()
        ),
        (Some("revoked"), 0)
    );
    assert_eq!(v["summary"]["revoked"], 1);
}

#[test]
fn text_markdown_html_and_exit_codes() {
    let t = Tree::new();
    let inv = example();
    let inv = inv.to_str().unwrap();
    let out = audit(&t, &["--inventory", inv, "--as-of", AS_OF])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Link shortener backend (key_7Lx3Vb9q, live …p7dc)"),
        "{text}"
    );
    assert!(
        text.contains("Issue the replacement with the narrowed scopes (links:read)"),
        "{text}"
    );
    assert!(text.contains("ok       Staging CI"), "{text}");
    let md = audit(
        &t,
        &["--inventory", inv, "--as-of", AS_OF, "-f", "markdown"],
    )
    .output()
    .unwrap();
    let md = String::from_utf8_lossy(&md.stdout);
    assert!(
        md.starts_with("# MASK key audit: Acme Marketing") && md.contains("| severity | key |"),
        "{md}"
    );
    let html = audit(
        &t,
        &[
            "--inventory",
            inv,
            "--as-of",
            AS_OF,
            "-f",
            "html",
            "-o",
            "r.html",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(html.stdout, b"");
    let html = std::fs::read_to_string(t.path().join("r.html")).unwrap();
    assert!(
        html.starts_with("<!DOCTYPE html>") && html.contains("Partner export (never deployed)"),
        "{html}"
    );
    audit(
        &t,
        &["--inventory", inv, "--as-of", AS_OF, "--fail-on", "high"],
    )
    .assert()
    .code(0);
    audit(
        &t,
        &["--inventory", inv, "--as-of", AS_OF, "--fail-on", "low"],
    )
    .assert()
    .code(1);
    // an early clock: nothing is old yet beyond low
    audit(&t, &["--inventory", inv, "--as-of", "2026-05-01"])
        .assert()
        .code(1);
    audit(&t, &["--inventory", inv, "--as-of", "yesterday"])
        .assert()
        .code(2);
}

#[test]
fn exceptions_hold_until_their_date_then_the_finding_returns() {
    let t = Tree::new();
    t.write(
        "kw.toml",
        "[audit]\n[[audit.exceptions]]\nkey = \"key_4Gh6Jk2m\"\npolicy = \"*\"\nreason = \"decommissioned with vendor in December\"\nuntil = 2026-12-15\n[[audit.exceptions]]\nkey = \"key_typo\"\npolicy = \"inactive\"\nreason = \"r\"\nuntil = 2027-01-01\n",
    );
    let inv = example();
    let args = |as_of: &'static str| {
        vec![
            "--inventory".to_string(),
            inv.to_str().unwrap().to_string(),
            "--config".into(),
            "kw.toml".into(),
            "--as-of".into(),
            as_of.into(),
        ]
    };
    let (_, v, _) = run_json({
        let mut c = audit(&t, &[]);
        c.args(args("2026-12-15T23:00:00Z"));
        c
    });
    let z = key(&v, "key_4Gh6Jk2m");
    assert_eq!(z["findings"], json!([]));
    assert_eq!(z["excepted"].as_array().unwrap().len(), 2);
    assert_eq!(
        z["excepted"][0]["exception"]["reason"],
        "decommissioned with vendor in December"
    );
    assert_eq!(v["summary"]["excepted"], 2);
    assert!(
        v["warnings"][0]
            .as_str()
            .unwrap()
            .contains("\"key_typo\" matches no key"),
        "{}",
        v["warnings"]
    );
    let (_, v, _) = run_json({
        let mut c = audit(&t, &[]);
        c.args(args("2026-12-16T00:00:00Z"));
        c
    });
    let z = key(&v, "key_4Gh6Jk2m");
    assert_eq!(kinds(z), ["inactive", "rotation-overdue"]);
    assert_eq!(z["findings"][0]["expired_exception"]["until"], "2026-12-15");
    assert_eq!(v["summary"]["expired_exceptions"], 2);
    // a typo in the config is an error with file:line
    t.write("bad.toml", "[audit]\ninactive_dayz = 3\n");
    let out = audit(
        &t,
        &["--inventory", inv.to_str().unwrap(), "--config", "bad.toml"],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("bad.toml:2:1"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn scan_findings_name_the_leaked_key() {
    let t = Tree::new();
    // LIVE ends in p7dc: the example's "Link shortener backend"
    t.write("web/app.js", format!("const key = \"{LIVE}\";\n"));
    let scan = t
        .cmd()
        .args(["scan", "web", "--format", "json", "-o", "scan.json"])
        .output()
        .unwrap();
    assert_eq!(scan.status.code(), Some(1));
    let (code, v, _) = run_json(audit(
        &t,
        &[
            "--inventory",
            example().to_str().unwrap(),
            "--as-of",
            AS_OF,
            "--findings",
            "scan.json",
        ],
    ));
    assert_eq!(code, 1);
    let k = key(&v, "key_7Lx3Vb9q");
    assert_eq!(k["findings"][0]["kind"], "leaked");
    assert_eq!(k["findings"][0]["severity"], "critical");
    assert_eq!(
        k["findings"][0]["evidence"]["locations"][0]["path"],
        "web/app.js"
    );
    assert_eq!(k["recommendation"]["actions"], json!(["rotate", "narrow"]));
    assert_eq!(v["keys"][0]["id"], "key_7Lx3Vb9q", "critical first");
    let bad = audit(
        &t,
        &[
            "--inventory",
            example().to_str().unwrap(),
            "--findings",
            "web/app.js",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert_no_secret("bad findings error", &bad.stderr);
}

#[test]
fn bad_inventory_names_the_field() {
    let t = Tree::new();
    t.write(
        "inv.json",
        r#"{"data": [{"id": "k", "name": "n", "environment": "prod"}]}"#,
    );
    let out = audit(&t, &["--inventory", "inv.json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("inv.json: field `data[0].environment`"), "{e}");
}

/// A fake MASK API on loopback with `keys`, each with usage; the audit key is LIVE2.
pub(crate) async fn fake_api(keys: Vec<Value>) -> MockServer {
    let server = MockServer::start().await;
    mount_fake_api(&server, keys).await;
    server
}

/// Mounts [`fake_api`]'s endpoints on `server` (e.g. after `reset`, to end an outage).
pub(crate) async fn mount_fake_api(server: &MockServer, keys: Vec<Value>) {
    Mock::given(method("GET"))
        .and(path("/v1/workspace"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": "ws_9", "name": "Fake Co"})),
        )
        .mount(server)
        .await;
    for k in &keys {
        let id = k["id"].as_str().unwrap();
        let scopes: Vec<Value> = k["scopes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| json!({"scope": s, "requests": 5}))
            .collect();
        Mock::given(method("GET"))
            .and(path(format!("/v1/api-keys/{id}/usage")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "key_id": id, "since": "2026-08-29T12:00:00Z", "until": AS_OF, "scopes": scopes})))
            .mount(server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/v1/api-keys"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": keys, "has_more": false, "next_cursor": null})),
        )
        .mount(server)
        .await;
}

#[tokio::test]
async fn live_api_audit_warns_about_a_broad_audit_key_and_never_prints_it() {
    let server = fake_api(vec![
        api_key(
            "key_me",
            "live",
            "9Mh4",
            &["workspace:read", "links:write"],
            "2026-10-01T00:00:00Z",
            Some(AS_OF),
        ),
        api_key(
            "key_old",
            "live",
            "zzzz",
            &["links:read"],
            "2025-01-01T00:00:00Z",
            Some("2025-02-01T00:00:00Z"),
        ),
    ])
    .await;
    let t = Tree::new();
    let base = format!("{}/v1", server.uri());
    let mut c = audit(&t, &["--as-of", AS_OF, "-vv"]);
    c.env("MASK_API_KEY", LIVE2).env("MASK_API_URL", &base);
    let (code, v, stderr) = run_json(c);
    assert_eq!(code, 1);
    assert_eq!(v["source"], "api");
    assert_eq!(v["workspace"]["name"], "Fake Co");
    assert_eq!(kinds(key(&v, "key_old")), ["inactive", "rotation-overdue"]);
    let w = v["warnings"][0].as_str().unwrap();
    assert!(
        w.contains("mk_live_Zq8W…9Mh4") && w.contains("links:write"),
        "{w}"
    );
    assert!(
        stderr.contains("holds more than workspace:read"),
        "{stderr}"
    );
    let reqs = crate::mask_client::requests(&server).await;
    assert!(reqs.iter().all(|r| r.0 == "GET"), "{reqs:?}");
    assert_eq!(reqs.len(), 4, "workspace, one page, two usages: {reqs:?}");
}

#[tokio::test]
async fn audit_key_from_key_file_or_systemd_credential_and_401() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("Request-Id", "req_x")
                .set_body_json(
                    json!({"error": {"type": "unauthorized", "message": "revoked key"}}),
                ),
        )
        .mount(&server)
        .await;
    let t = Tree::new();
    t.write("audit.key", format!("{LIVE2}\n"));
    t.write("creds/mask-api-key", TEST);
    let out = audit(&t, &["--api-url", &server.uri(), "--key-file", "audit.key"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains("401 Unauthorized") && e.contains("mk_live_Zq8W…9Mh4") && e.contains("req_x"),
        "{e}"
    );
    assert_no_secret("401 stderr", &out.stderr);
    assert_no_secret("401 stdout", &out.stdout);
    let out = audit(&t, &["--api-url", &server.uri()])
        .env("CREDENTIALS_DIRECTORY", t.path().join("creds"))
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains("mk_test_Hk3J…4Ab7"),
        "the credential's key was used: {e}"
    );
    assert_no_secret("credential stderr", &out.stderr);
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        2,
        "one refused call each"
    );
    // no key at all, and plain http off loopback
    let out = audit(&t, &[]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no audit key: MASK_API_KEY is not set"));
    let out = audit(&t, &["--api-url", "http://example.com/v1"])
        .env("MASK_API_KEY", LIVE2)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("plain http is refused"));
    assert_no_secret("http stderr", &out.stderr);
}

#[tokio::test]
async fn scan_verify_marks_keys_and_makes_an_active_live_key_critical() {
    let server = MockServer::start().await;
    for (key, status) in [(LIVE, 200), (LIVE2, 401), (TEST, 403)] {
        Mock::given(method("GET"))
            .and(path("/v1/workspace"))
            .and(wiremock::matchers::header(
                "authorization",
                format!("Bearer {key}").as_str(),
            ))
            .respond_with(ResponseTemplate::new(status))
            .mount(&server)
            .await;
    }
    let t = Tree::new();
    t.write(
        "src/a.py",
        format!("A = \"{LIVE}\"\nB = \"{LIVE2}\"\nC = \"{LIVE}\"\n"),
    );
    t.write("src/b.py", format!("T = \"{TEST}\"\n"));
    let base = format!("{}/v1", server.uri());
    let (code, v) = t.scan_json(&["src", "--verify", "--api-url", &base]);
    assert_eq!(code, 1);
    let f: Vec<(u64, &str, &str)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["line"].as_u64().unwrap(),
                f["verified"].as_str().unwrap(),
                f["severity"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        f,
        [
            (1, "active", "critical"),
            (2, "revoked", "high"),
            (3, "active", "critical"),
            (1, "active", "low")
        ]
    );
    assert_eq!(v["summary"]["by_severity"]["critical"], 2);
    let reqs = crate::mask_client::requests(&server).await;
    assert_eq!(reqs.len(), 3, "each distinct key once: {reqs:?}");
    assert!(reqs.iter().all(|r| r.0 == "GET" && r.1 == "/v1/workspace"));
    let text = t
        .cmd()
        .args(["scan", "src", "--verify", "--api-url", &base])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&text.stdout).contains("verified: revoked (MASK API)"));
    assert_no_secret("verify text", &text.stdout);
    assert_no_secret("verify stderr", &text.stderr);
    assert_eq!(crate::mask_client::requests(&server).await.len(), 6);
    // without --verify: no network, no `verified`
    let (_, v) = t.scan_json(&["src", "--api-url", &base]);
    assert!(v["findings"][0].get("verified").is_none());
    assert_eq!(crate::mask_client::requests(&server).await.len(), 6);
}
