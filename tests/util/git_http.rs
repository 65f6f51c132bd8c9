//! A loopback git smart-HTTP server: `git http-backend` run as a CGI program behind a
//! small hyper server (tests, and `benches/git_http_server.rs` for the fleet benchmark).
//! Serves every repository under a root directory (`GIT_HTTP_EXPORT_ALL`), fetches only
//! (pushes go to the bare repositories on disk). With `auth` set, a request without
//! exactly that `Authorization` header gets 401, as a Git host would answer.
#![allow(dead_code)]

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `GET /acme/app.git/info/refs?service=git-upload-pack`.
    pub line: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// The status answered.
    pub status: u16,
}

#[derive(Clone)]
struct Shared {
    root: PathBuf,
    auth: Option<String>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// A running server; stops when dropped.
pub struct GitHttp {
    /// Where it listens.
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl GitHttp {
    /// Serves the repositories under `root` on 127.0.0.1 (a free port, or `port`).
    pub fn start(root: &Path, auth: Option<String>, port: u16) -> GitHttp {
        let std_listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind");
        std_listener.set_nonblocking(true).expect("nonblocking");
        let addr = std_listener.local_addr().expect("addr");
        let shared = Shared {
            root: root.to_path_buf(),
            auth,
            seen: Arc::new(Mutex::new(Vec::new())),
        };
        let seen = shared.seen.clone();
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener).expect("listener");
                loop {
                    tokio::select! {
                        _ = &mut stopped => break,
                        Ok((stream, _)) = listener.accept() => {
                            let shared = shared.clone();
                            tokio::spawn(async move {
                                let io = hyper_util::rt::TokioIo::new(stream);
                                let svc = hyper::service::service_fn(move |req| {
                                    let shared = shared.clone();
                                    async move { Ok::<_, std::convert::Infallible>(handle(&shared, req).await) }
                                });
                                let _ = hyper::server::conn::http1::Builder::new()
                                    .serve_connection(io, svc)
                                    .await;
                            });
                        }
                    }
                }
            });
        });
        GitHttp {
            addr,
            seen,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The requests served so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Blocks until the process is killed (the benchmark's server).
    pub fn serve_forever(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for GitHttp {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn reply(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r
}

async fn handle(s: &Shared, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let line = format!("{} {}", req.method(), req.uri());
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let authorization = header("authorization");
    let resp = if s.auth.is_some() && authorization != s.auth {
        let mut r = reply(StatusCode::UNAUTHORIZED, "authentication required\n");
        r.headers_mut().insert(
            "www-authenticate",
            hyper::header::HeaderValue::from_static("Basic realm=\"git\""),
        );
        r
    } else {
        cgi(s, req).await
    };
    s.seen.lock().unwrap().push(Seen {
        line,
        authorization,
        status: resp.status().as_u16(),
    });
    resp
}

/// Runs `git http-backend` for `req` (RFC 3875 variables), returns its answer.
async fn cgi(s: &Shared, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
        return reply(StatusCode::BAD_REQUEST, "bad body\n");
    };
    let h = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let mut c = std::process::Command::new("git");
    c.arg("http-backend")
        .env("GIT_PROJECT_ROOT", &s.root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GATEWAY_INTERFACE", "CGI/1.1")
        .env("SERVER_PROTOCOL", "HTTP/1.1")
        .env("REQUEST_METHOD", parts.method.as_str())
        .env("PATH_INFO", parts.uri.path())
        .env("QUERY_STRING", parts.uri.query().unwrap_or(""))
        .env("CONTENT_TYPE", h("content-type"))
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("GIT_PROTOCOL", h("git-protocol"))
        .env("HTTP_CONTENT_ENCODING", h("content-encoding"))
        .env_remove("GIT_DIR")
        .env_remove("GIT_CONFIG_COUNT")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    // The CGI runs on the blocking pool: stdin written from its own thread while stdout
    // is read, so a large request and a large answer cannot deadlock.
    let out = tokio::task::spawn_blocking(move || {
        let mut child = c.spawn().ok()?;
        let mut stdin = child.stdin.take()?;
        let writer = std::thread::spawn(move || {
            use std::io::Write;
            let _ = stdin.write_all(&body);
        });
        let out = child.wait_with_output().ok();
        let _ = writer.join();
        out
    })
    .await
    .ok()
    .flatten();
    let Some(out) = out else {
        return reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            "git http-backend failed\n",
        );
    };
    parse_cgi(&out.stdout)
}

/// A CGI response: headers (with `Status:`) up to a blank line, then the body.
fn parse_cgi(out: &[u8]) -> Response<Full<Bytes>> {
    let (head, body) = match find(out, b"\r\n\r\n") {
        Some(i) => (&out[..i], &out[i + 4..]),
        None => match find(out, b"\n\n") {
            Some(i) => (&out[..i], &out[i + 2..]),
            None => return reply(StatusCode::BAD_GATEWAY, "bad CGI output\n"),
        },
    };
    let mut r = Response::new(Full::new(Bytes::copy_from_slice(body)));
    for line in String::from_utf8_lossy(head).lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        if k.eq_ignore_ascii_case("status") {
            let code = v.split_whitespace().next().and_then(|c| c.parse().ok());
            *r.status_mut() = code
                .and_then(|c| StatusCode::from_u16(c).ok())
                .unwrap_or(StatusCode::BAD_GATEWAY);
        } else if let (Ok(name), Ok(value)) = (
            hyper::header::HeaderName::from_bytes(k.as_bytes()),
            hyper::header::HeaderValue::from_str(v),
        ) {
            r.headers_mut().append(name, value);
        }
    }
    r
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
