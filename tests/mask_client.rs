//! The MASK API client against real HTTP servers on 127.0.0.1 (wiremock, and a raw TCP
//! server for dropped connections). Each test asserts the outcome and the exact requests.

use crate::util::{LIVE, LIVE2, TEST, assert_no_secret};
use keywarden::SecretKey;
use keywarden::mask::{Client, ClientBuilder, Verification};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// One key in the API's shape.
pub fn api_key(
    id: &str,
    env: &str,
    last_four: &str,
    scopes: &[&str],
    created: &str,
    last_used: Option<&str>,
) -> Value {
    json!({
        "id": id, "name": format!("key {id}"), "environment": env, "prefix": format!("mk_{env}_"),
        "last_four": last_four, "scopes": scopes, "created_at": created, "created_by": null,
        "last_used_at": last_used, "last_used_ip": null, "revoked_at": null, "expires_at": null
    })
}

/// A fast-retrying client for `server`.
pub fn client(base: &str, key: &str) -> Client {
    ClientBuilder::new()
        .base_url(base)
        .backoff(Duration::from_millis(5), Duration::from_millis(20))
        .max_retries(3)
        .build(SecretKey::new(key.as_bytes()))
        .unwrap()
}

/// (method, path, query) of every request the server saw, in order.
pub async fn requests(server: &MockServer) -> Vec<(String, String, String)> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r: &Request| {
            (
                r.method.to_string(),
                r.url.path().to_string(),
                r.url.query().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn page(keys: Vec<Value>, next: Option<&str>) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(json!({"data": keys, "has_more": next.is_some(), "next_cursor": next}))
}

fn get(p: &str, q: &str) -> (String, String, String) {
    ("GET".into(), p.into(), q.into())
}

#[tokio::test]
async fn walks_three_pages_by_cursor_and_stops() {
    let server = MockServer::start().await;
    let k = |i: u32| {
        api_key(
            &format!("key_{i}"),
            "live",
            "abcd",
            &["links:read"],
            "2026-01-01T00:00:00Z",
            None,
        )
    };
    Mock::given(method("GET"))
        .and(path("/v1/api-keys"))
        .and(query_param_is_missing("cursor"))
        .respond_with(page(vec![k(1), k(2)], Some("c2")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/api-keys"))
        .and(query_param("cursor", "c2"))
        .respond_with(page(vec![k(3), k(4)], Some("c3/+=")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/api-keys"))
        .and(query_param("cursor", "c3/+="))
        .respond_with(page(vec![k(5)], None))
        .mount(&server)
        .await;
    let keys = client(&format!("{}/v1", server.uri()), LIVE2)
        .list_keys(false)
        .await
        .unwrap();
    let ids: Vec<&str> = keys.iter().map(|k| k.id.as_str()).collect();
    assert_eq!(ids, ["key_1", "key_2", "key_3", "key_4", "key_5"]);
    assert_eq!(
        requests(&server).await,
        [
            get("/v1/api-keys", "limit=100"),
            get("/v1/api-keys", "limit=100&cursor=c2"),
            get("/v1/api-keys", "limit=100&cursor=c3%2F%2B%3D"),
        ]
    );
    let auth = &server.received_requests().await.unwrap()[0].headers["authorization"];
    assert_eq!(auth.to_str().unwrap(), format!("Bearer {LIVE2}"));
}

#[tokio::test]
async fn waits_out_a_429_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/workspace"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "1")
                .set_body_json(json!({"error": {"type": "rate_limited", "message": "slow down"}})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/workspace"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": "ws_1", "name": "Acme"})),
        )
        .mount(&server)
        .await;
    let ws = client(&server.uri(), LIVE2).workspace().await.unwrap();
    assert_eq!((ws.id.as_str(), ws.name.as_str()), ("ws_1", "Acme"));
    assert_eq!(
        requests(&server).await,
        [get("/workspace", ""), get("/workspace", "")]
    );
}

#[tokio::test]
async fn a_retry_after_beyond_the_limit_fails_at_once() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/workspace"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "3600")
                .insert_header("Request-Id", "req_429"),
        )
        .mount(&server)
        .await;
    let e = client(&server.uri(), LIVE2)
        .workspace()
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("HTTP 429") && e.contains("req_429"), "{e}");
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn retries_a_500_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/workspace"))
        .respond_with(ResponseTemplate::new(500).insert_header("Request-Id", "req_500"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/workspace"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": "ws_1", "name": "Acme"})),
        )
        .mount(&server)
        .await;
    client(&server.uri(), LIVE2).workspace().await.unwrap();
    assert_eq!(
        requests(&server).await,
        [get("/workspace", ""), get("/workspace", "")]
    );
}

#[tokio::test]
async fn persistent_5xx_gives_up_after_the_bounded_retries_quoting_request_id() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/workspace"))
        .respond_with(
            ResponseTemplate::new(503)
                .insert_header("Request-Id", "req_503")
                .set_body_json(json!({"error": {"type": "internal", "message": "maintenance"}})),
        )
        .mount(&server)
        .await;
    let e = client(&server.uri(), LIVE2)
        .workspace()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("HTTP 503: maintenance (Request-Id: req_503) (after 4 attempt(s))"),
        "{e}"
    );
    assert_eq!(requests(&server).await.len(), 4, "1 try + 3 retries");
}

#[tokio::test]
async fn malformed_body_names_field_and_endpoint_and_is_not_retried() {
    let server = MockServer::start().await;
    let mut bad = api_key(
        "key_1",
        "live",
        "abcd",
        &["links:read"],
        "2026-01-01T00:00:00Z",
        None,
    );
    bad["last_four"] = json!(1234);
    Mock::given(method("GET"))
        .and(path("/api-keys"))
        .respond_with(
            page(
                vec![
                    api_key("key_0", "live", "abcd", &[], "2026-01-01T00:00:00Z", None),
                    bad,
                ],
                None,
            )
            .insert_header("Request-Id", "req_bad"),
        )
        .mount(&server)
        .await;
    let e = client(&server.uri(), LIVE2)
        .list_keys(false)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("/api-keys?limit=100: malformed response: field `data[1].last_four`"),
        "{e}"
    );
    assert!(e.contains("req_bad"), "{e}");
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn unauthorized_names_the_redacted_audit_key_and_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/workspace"))
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("Request-Id", "req_401")
                .set_body_json(json!({"error": {"type": "unauthorized", "message": "revoked"}})),
        )
        .mount(&server)
        .await;
    let e = client(&server.uri(), LIVE2).workspace().await.unwrap_err();
    let text = format!("{e} {e:?}");
    assert!(
        text.contains("401 Unauthorized")
            && text.contains("mk_live_Zq8W…9Mh4")
            && text.contains("req_401"),
        "{text}"
    );
    assert_no_secret("401 error", text.as_bytes());
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn forbidden_names_the_missing_scope() {
    let server = MockServer::start().await;
    Mock::given(method("GET")).and(path("/api-keys"))
        .respond_with(ResponseTemplate::new(403).insert_header("Request-Id", "req_403")
            .set_body_json(json!({"error": {"type": "insufficient_scope", "message": "no", "required_scope": "workspace:read"}})))
        .mount(&server).await;
    let e = client(&server.uri(), TEST)
        .list_keys(true)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("lacks the scope `workspace:read`")
            && e.contains("req_403")
            && e.contains("mk_test_Hk3J…4Ab7"),
        "{e}"
    );
    assert_no_secret("403 error", e.as_bytes());
    assert_eq!(
        requests(&server).await,
        [get("/api-keys", "limit=100&include_revoked=true")]
    );
}

#[tokio::test]
async fn inventory_fetches_usage_of_active_keys_only() {
    let server = MockServer::start().await;
    let mut revoked = api_key(
        "key_r",
        "live",
        "rrrr",
        &["links:read"],
        "2025-01-01T00:00:00Z",
        None,
    );
    revoked["revoked_at"] = json!("2026-01-01T00:00:00Z");
    Mock::given(method("GET"))
        .and(path("/workspace"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": "ws_1", "name": "Acme"})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api-keys"))
        .respond_with(page(
            vec![
                api_key(
                    "key_a",
                    "live",
                    "aaaa",
                    &["links:read"],
                    "2025-01-01T00:00:00Z",
                    None,
                ),
                api_key(
                    "key_b",
                    "test",
                    "bbbb",
                    &["links:read"],
                    "2025-01-01T00:00:00Z",
                    None,
                ),
                revoked,
            ],
            None,
        ))
        .mount(&server)
        .await;
    for id in ["key_a", "key_b"] {
        Mock::given(method("GET"))
            .and(path(format!("/api-keys/{id}/usage")))
            .and(query_param("since", "2026-03-03T00:00:00Z"))
            .and(query_param("until", "2026-06-01T00:00:00Z"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "key_id": id, "since": "2026-03-03T00:00:00Z", "until": "2026-06-01T00:00:00Z",
                "scopes": [{"scope": "links:read", "requests": 3}]})))
            .expect(1)
            .mount(&server)
            .await;
    }
    let until = chrono::DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z")
        .unwrap()
        .to_utc();
    let inv = client(&server.uri(), LIVE2)
        .inventory(true, until - chrono::Duration::days(90), until)
        .await
        .unwrap();
    assert_eq!(
        (inv.workspace.id.as_str(), inv.data.len(), inv.usage.len()),
        ("ws_1", 3, 2)
    );
    let mut reqs = requests(&server).await;
    assert!(reqs.iter().all(|r| r.0 == "GET"));
    reqs[2..].sort();
    assert_eq!(
        reqs,
        [
            get("/workspace", ""),
            get("/api-keys", "limit=100&include_revoked=true"),
            get(
                "/api-keys/key_a/usage",
                "since=2026-03-03T00%3A00%3A00Z&until=2026-06-01T00%3A00%3A00Z"
            ),
            get(
                "/api-keys/key_b/usage",
                "since=2026-03-03T00%3A00%3A00Z&until=2026-06-01T00%3A00%3A00Z"
            ),
        ]
    );
}

#[tokio::test]
async fn verify_maps_200_403_to_active_401_to_revoked_errors_to_unknown() {
    let server = MockServer::start().await;
    for (key, status) in [(LIVE, 200), (TEST, 403), (LIVE2, 401)] {
        Mock::given(method("GET"))
            .and(path("/workspace"))
            .and(wiremock::matchers::header(
                "authorization",
                format!("Bearer {key}").as_str(),
            ))
            .respond_with(
                ResponseTemplate::new(status).set_body_json(json!({"id": "ws_1", "name": "Acme"})),
            )
            .mount(&server)
            .await;
    }
    let c = client(&server.uri(), LIVE);
    assert_eq!(
        c.verify(&SecretKey::new(LIVE.as_bytes())).await,
        Verification::Active
    );
    assert_eq!(
        c.verify(&SecretKey::new(TEST.as_bytes())).await,
        Verification::Active
    );
    assert_eq!(
        c.verify(&SecretKey::new(LIVE2.as_bytes())).await,
        Verification::Revoked
    );
    assert_eq!(requests(&server).await.len(), 3);
    let down = client("http://127.0.0.1:9", LIVE);
    assert_eq!(
        down.verify(&SecretKey::new(LIVE.as_bytes())).await,
        Verification::Unknown
    );
}

/// A raw HTTP server: drops the first connection after reading the request, then answers
/// `body` with 200. Returns its base URL and the request lines it read.
async fn dropping_server(
    body: &'static str,
) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        let mut n = 0;
        while let Ok((mut sock, _)) = listener.accept().await {
            n += 1;
            let mut buf = vec![0u8; 8192];
            let mut got = Vec::new();
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                match sock.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(k) => got.extend_from_slice(&buf[..k]),
                }
            }
            let line = String::from_utf8_lossy(&got)
                .lines()
                .next()
                .unwrap_or("")
                .to_string();
            log.lock().unwrap().push(line);
            if n == 1 {
                drop(sock); // connection dropped before any response
                continue;
            }
            let resp = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(resp.as_bytes()).await;
        }
    });
    (format!("http://{addr}"), seen)
}

#[tokio::test]
async fn a_dropped_connection_is_retried() {
    let (base, seen) = dropping_server(r#"{"id":"ws_1","name":"Acme"}"#).await;
    let ws = client(&base, LIVE2).workspace().await.unwrap();
    assert_eq!(ws.id, "ws_1");
    assert_eq!(
        *seen.lock().unwrap(),
        ["GET /workspace HTTP/1.1", "GET /workspace HTTP/1.1"]
    );
}

#[tokio::test]
async fn plain_http_off_loopback_is_refused_before_any_call() {
    let e = ClientBuilder::new()
        .base_url("http://api.mask.bz/v1")
        .build(SecretKey::new(LIVE.as_bytes()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("plain http is refused"), "{e}");
}

#[tokio::test]
async fn the_overall_deadline_stops_retries_early() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/workspace"))
        .respond_with(ResponseTemplate::new(502))
        .mount(&server)
        .await;
    // the first backoff (100–200 ms) would end past the 100 ms deadline: no second call
    let e = ClientBuilder::new()
        .base_url(server.uri())
        .backoff(Duration::from_millis(200), Duration::from_secs(1))
        .max_retries(10)
        .deadline(Duration::from_millis(100))
        .build(SecretKey::new(LIVE.as_bytes()))
        .unwrap()
        .workspace()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("HTTP 502") && e.contains("after 1 attempt(s)"),
        "{e}"
    );
    assert_eq!(requests(&server).await.len(), 1);
}

/// A raw keep-alive HTTP/1.1 fake of the API with `n` keys that holds each call for a
/// moment and records the most calls it saw in flight, and every request line.
async fn counting_server(n: usize) -> (String, std::sync::Arc<Counting>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = std::sync::Arc::new(Counting::default());
    let st = state.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let st = st.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let end = loop {
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(k) => buf.extend_from_slice(&chunk[..k]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                    buf.drain(..end);
                    let line = head.lines().next().unwrap_or("").to_string();
                    let target = line.split(' ').nth(1).unwrap_or("").to_string();
                    st.lines.lock().unwrap().push(line);
                    let now = st
                        .in_flight
                        .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
                        + 1;
                    st.max.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    st.in_flight
                        .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                    let (p, q) = target.split_once('?').unwrap_or((&target, ""));
                    let body = if p == "/workspace" {
                        json!({"id": "ws_1", "name": "Acme"})
                    } else if p == "/api-keys" {
                        let start: usize = q
                            .split('&')
                            .find_map(|kv| kv.strip_prefix("cursor="))
                            .and_then(|c| c.parse().ok())
                            .unwrap_or(0);
                        let end = (start + 10).min(n);
                        let keys: Vec<Value> = (start..end)
                            .map(|i| {
                                api_key(
                                    &format!("key_{i}"),
                                    "live",
                                    "abcd",
                                    &["links:read"],
                                    "2025-01-01T00:00:00Z",
                                    None,
                                )
                            })
                            .collect();
                        json!({"data": keys, "has_more": end < n, "next_cursor": (end < n).then(|| end.to_string())})
                    } else {
                        let id = p
                            .trim_start_matches("/api-keys/")
                            .trim_end_matches("/usage");
                        json!({"key_id": id, "since": "2026-03-03T00:00:00Z", "until": "2026-06-01T00:00:00Z", "scopes": []})
                    };
                    let body = body.to_string();
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if sock.write_all(resp.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (format!("http://{addr}"), state)
}

#[derive(Default)]
struct Counting {
    in_flight: std::sync::atomic::AtomicUsize,
    max: std::sync::atomic::AtomicUsize,
    lines: std::sync::Mutex<Vec<String>>,
}

#[tokio::test]
async fn inventory_never_exceeds_the_concurrency_limit() {
    let (base, state) = counting_server(25).await;
    let until = chrono::DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z")
        .unwrap()
        .to_utc();
    let inv = ClientBuilder::new()
        .base_url(base)
        .concurrency(3)
        .page_size(10)
        .build(SecretKey::new(LIVE2.as_bytes()))
        .unwrap()
        .inventory(false, until - chrono::Duration::days(90), until)
        .await
        .unwrap();
    assert_eq!((inv.data.len(), inv.usage.len()), (25, 25));
    let max = state.max.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        (1..=3).contains(&max),
        "{max} calls in flight with a limit of 3"
    );
    let mut lines = state.lines.lock().unwrap().clone();
    assert!(lines.iter().all(|l| l.starts_with("GET ")), "{lines:?}");
    assert_eq!(
        lines.len(),
        1 + 3 + 25,
        "workspace, 3 pages, 25 usages: nothing more"
    );
    lines.sort();
    lines.dedup();
    assert_eq!(lines.len(), 29, "no call repeated");
}

#[tokio::test]
async fn a_low_rate_limit_budget_slows_the_client_down() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/workspace"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("X-RateLimit-Remaining", "2")
                .set_body_json(json!({"id": "ws_1", "name": "Acme"})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/workspace"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("X-RateLimit-Remaining", "90")
                .set_body_json(json!({"id": "ws_1", "name": "Acme"})),
        )
        .mount(&server)
        .await;
    let c = ClientBuilder::new()
        .base_url(server.uri())
        .slow_down(5, Duration::from_millis(50))
        .build(SecretKey::new(LIVE.as_bytes()))
        .unwrap();
    assert_eq!(c.spacing(), Duration::ZERO);
    c.workspace().await.unwrap();
    assert_eq!(
        c.spacing(),
        Duration::from_millis(50),
        "2 left: calls are spaced"
    );
    c.workspace().await.unwrap();
    assert_eq!(c.spacing(), Duration::ZERO, "budget recovered");
}

/// A cursor that cycles A→B→A is an error after three pages, not an endless walk.
#[tokio::test]
async fn a_cursor_cycle_is_an_error_not_an_endless_walk() {
    let server = MockServer::start().await;
    let k = |id: &str| {
        api_key(
            id,
            "live",
            "abcd",
            &["links:read"],
            "2026-01-01T00:00:00Z",
            None,
        )
    };
    Mock::given(method("GET"))
        .and(path("/v1/api-keys"))
        .and(query_param_is_missing("cursor"))
        .respond_with(page(vec![k("key_1")], Some("A")))
        .mount(&server)
        .await;
    for (at, next) in [("A", "B"), ("B", "A")] {
        Mock::given(method("GET"))
            .and(path("/v1/api-keys"))
            .and(query_param("cursor", at))
            .respond_with(page(vec![k(&format!("key_{at}"))], Some(next)))
            .mount(&server)
            .await;
    }
    let c = client(&format!("{}/v1", server.uri()), LIVE);
    let r = tokio::time::timeout(Duration::from_secs(20), c.list_keys(false))
        .await
        .expect("the walk ends");
    let e = r.unwrap_err().to_string();
    assert!(e.contains("repeats an earlier cursor"), "{e}");
    assert_eq!(requests(&server).await.len(), 3);
}

/// The operation's deadline bounds every request, not only the retries: a server that
/// never answers fails the call when the deadline passes.
#[tokio::test]
async fn the_deadline_bounds_every_request() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
        .mount(&server)
        .await;
    let c = ClientBuilder::new()
        .base_url(format!("{}/v1", server.uri()))
        .timeout(Duration::from_secs(60))
        .deadline(Duration::from_secs(1))
        .build(SecretKey::new(LIVE.as_bytes()))
        .unwrap();
    let start = std::time::Instant::now();
    let e = tokio::time::timeout(Duration::from_secs(20), c.workspace())
        .await
        .expect("the call ends")
        .unwrap_err()
        .to_string();
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    assert!(e.contains("deadline"), "{e}");
}

/// A page holding more keys than the limit asked for is refused.
#[tokio::test]
async fn a_page_larger_than_the_limit_is_refused() {
    let server = MockServer::start().await;
    let keys: Vec<Value> = (0..5)
        .map(|i| {
            api_key(
                &format!("key_{i}"),
                "live",
                "abcd",
                &["links:read"],
                "2026-01-01T00:00:00Z",
                None,
            )
        })
        .collect();
    Mock::given(method("GET"))
        .and(path("/v1/api-keys"))
        .respond_with(page(keys, None))
        .mount(&server)
        .await;
    let c = ClientBuilder::new()
        .base_url(format!("{}/v1", server.uri()))
        .page_size(2)
        .build(SecretKey::new(LIVE.as_bytes()))
        .unwrap();
    let e = c.list_keys(false).await.unwrap_err().to_string();
    assert!(e.contains("more than the limit of 2"), "{e}");
}
