//! Benchmark: a full inventory fetch (workspace, every page of /api-keys, usage of every
//! key) against a local fake MASK API (a minimal HTTP/1.1 keep-alive server on
//! 127.0.0.1) that answers each call after a fixed latency. Reports wall time as a ratio
//! of the ideal, calls × latency ÷ concurrency, and the most calls it saw in flight.
//!
//! Run by hand (not in CI; tests make no timed assertions):
//!
//! ```text
//! cargo bench --bench audit_api                      # 5,000 keys, 5 ms, concurrency 8
//! KEYS=5000 LATENCY_MS=5 CONCURRENCY=32 cargo bench --bench audit_api
//! ```

use chrono::{DateTime, Utc};
use keywarden::SecretKey;
use keywarden::mask::ClientBuilder;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const PAGE: usize = 100;

struct Fake {
    keys: usize,
    latency: Duration,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    served: AtomicUsize,
    served_us: AtomicUsize,
}

impl Fake {
    fn body(&self, target: &str) -> Option<String> {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        if path == "/v1/workspace" {
            return Some(r#"{"id":"ws_bench","name":"Bench"}"#.into());
        }
        if path == "/v1/api-keys" {
            let start: usize = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("cursor="))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let end = (start + PAGE).min(self.keys);
            let data: Vec<String> = (start..end)
                .map(|i| {
                    format!(
                        r#"{{"id":"key_{i}","name":"key {i}","environment":"live","prefix":"mk_live_","last_four":"{:04}","scopes":["links:read","links:write"],"created_at":"2026-01-01T00:00:00Z","created_by":null,"last_used_at":"2026-05-30T00:00:00Z","last_used_ip":null,"revoked_at":null,"expires_at":null}}"#,
                        i % 10000
                    )
                })
                .collect();
            let more = end < self.keys;
            let next = if more {
                format!("\"{end}\"")
            } else {
                "null".into()
            };
            return Some(format!(
                r#"{{"data":[{}],"has_more":{more},"next_cursor":{next}}}"#,
                data.join(",")
            ));
        }
        let id = path.strip_prefix("/v1/api-keys/")?.strip_suffix("/usage")?;
        Some(format!(
            r#"{{"key_id":"{id}","since":"2026-03-03T00:00:00Z","until":"2026-06-01T00:00:00Z","scopes":[{{"scope":"links:read","requests":10}},{{"scope":"links:write","requests":0}}]}}"#
        ))
    }
}

async fn serve(listener: TcpListener, fake: Arc<Fake>) {
    while let Ok((mut sock, _)) = listener.accept().await {
        let _ = sock.set_nodelay(true);
        let fake = fake.clone();
        tokio::spawn(async move {
            let mut buf = Vec::with_capacity(4096);
            let mut chunk = [0u8; 4096];
            loop {
                let end = loop {
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                };
                let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                buf.drain(..end);
                let target = head.split(' ').nth(1).unwrap_or("/").to_string();
                let now = fake.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                fake.max_in_flight.fetch_max(now, Ordering::SeqCst);
                // A precise wait (tokio's timer rounds up to the next millisecond, which
                // would bill the fake's imprecision to the client).
                let latency = fake.latency;
                let t0 = Instant::now();
                let _ = tokio::task::spawn_blocking(move || std::thread::sleep(latency)).await;
                fake.served_us
                    .fetch_add(t0.elapsed().as_micros() as usize, Ordering::Relaxed);
                fake.served.fetch_add(1, Ordering::Relaxed);
                fake.in_flight.fetch_sub(1, Ordering::SeqCst);
                let resp = match fake.body(&target) {
                    Some(b) => format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-ratelimit-remaining: 1000\r\ncontent-length: {}\r\n\r\n{b}",
                        b.len()
                    ),
                    None => "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n".into(),
                };
                if sock.write_all(resp.as_bytes()).await.is_err() {
                    return;
                }
            }
        });
    }
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let keys = env_or("KEYS", 5000) as usize;
    let latency = Duration::from_millis(env_or("LATENCY_MS", 5));
    let concurrency = env_or("CONCURRENCY", 8) as usize;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let fake = Arc::new(Fake {
        keys,
        latency,
        in_flight: AtomicUsize::new(0),
        max_in_flight: AtomicUsize::new(0),
        served: AtomicUsize::new(0),
        served_us: AtomicUsize::new(0),
    });
    tokio::spawn(serve(listener, fake.clone()));
    let client = ClientBuilder::new()
        .base_url(format!("http://{addr}/v1"))
        .concurrency(concurrency)
        .build(SecretKey::new(b"mk_live_BenchBenchBenchBenchBenchBe"))
        .expect("client");
    let until: DateTime<Utc> = "2026-06-01T00:00:00Z".parse().expect("date");
    let started = Instant::now();
    let inv = client
        .inventory(false, until - chrono::Duration::days(90), until)
        .await
        .expect("inventory");
    let wall = started.elapsed();
    let calls = 1 + keys.div_ceil(PAGE).max(1) + inv.usage.len();
    let ideal = latency.as_secs_f64() * calls as f64 / concurrency as f64;
    println!(
        "keys={} calls={calls} latency={}ms concurrency={concurrency}: wall {:.3}s, ideal {:.3}s, ratio {:.2}x, max in flight {}, mean server wait {:.2}ms",
        inv.data.len(),
        latency.as_millis(),
        wall.as_secs_f64(),
        ideal,
        wall.as_secs_f64() / ideal,
        fake.max_in_flight.load(Ordering::SeqCst),
        fake.served_us.load(Ordering::Relaxed) as f64
            / fake.served.load(Ordering::Relaxed).max(1) as f64
            / 1000.0
    );
}
