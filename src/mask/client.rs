//! [`ClientBuilder`] → [`Client`]: the calls the auditor makes, with retries, pacing and
//! errors a person can act on. Only `GET`s: the auditor never changes anything.

use super::model::{ApiKey, ApiKeyList, ErrorBody, Inventory, KeyUsage, Workspace};
use super::pacing::{Gate, backoff};
use crate::error::{Error, Result};
pub use crate::finding::Verification;
use crate::secret::SecretKey;
use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::{StreamExt, TryStreamExt, stream};
use reqwest::header::{HeaderMap, HeaderValue};
use serde::de::DeserializeOwned;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The production API base.
pub const DEFAULT_BASE_URL: &str = "https://api.mask.bz/v1";

/// Configures a [`Client`]. Every setter documents its default.
///
/// Retries, in order of precedence:
/// 1. `401`, `403`, other `4xx` and malformed bodies are never retried;
/// 2. `429` waits `Retry-After` (at most [`ClientBuilder::max_retry_after`]) and holds every
///    concurrent call for that long;
/// 3. `5xx`, timeouts and dropped connections back off exponentially with jitter;
/// 4. no call is retried more than [`ClientBuilder::max_retries`] times, and no wait
///    goes past the operation's [`ClientBuilder::deadline`].
#[derive(Clone, Debug)]
pub struct ClientBuilder {
    base_url: String,
    timeout: Duration,
    connect_timeout: Duration,
    max_retries: u32,
    deadline: Duration,
    backoff_base: Duration,
    backoff_max: Duration,
    max_retry_after: Duration,
    concurrency: usize,
    page_size: u32,
    low_water: u64,
    slow_down: Duration,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            base_url: DEFAULT_BASE_URL.to_string(),
            timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(5),
            max_retries: 4,
            deadline: Duration::from_secs(300),
            backoff_base: Duration::from_millis(250),
            backoff_max: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
            concurrency: 8,
            page_size: 100,
            low_water: 5,
            slow_down: Duration::from_millis(500),
        }
    }
}

impl ClientBuilder {
    /// A builder with the defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// The API base URL. `https://` anywhere; `http://` only to loopback (tests).
    /// Default: `https://api.mask.bz/v1`.
    pub fn base_url(&mut self, url: impl Into<String>) -> &mut Self {
        self.base_url = url.into();
        self
    }

    /// Timeout of one request, body included. Default: 15 s.
    pub fn timeout(&mut self, d: Duration) -> &mut Self {
        self.timeout = d;
        self
    }

    /// Retries per call after the first attempt. Default: 4.
    pub fn max_retries(&mut self, n: u32) -> &mut Self {
        self.max_retries = n;
        self
    }

    /// Overall deadline of one operation (a whole inventory fetch). Default: 300 s.
    pub fn deadline(&mut self, d: Duration) -> &mut Self {
        self.deadline = d;
        self
    }

    /// First backoff (doubled per retry, jittered, capped by `backoff_max`). Default: 250 ms.
    pub fn backoff(&mut self, base: Duration, max: Duration) -> &mut Self {
        self.backoff_base = base;
        self.backoff_max = max;
        self
    }

    /// Longest `Retry-After` honoured; a longer one fails the call. Default: 60 s.
    pub fn max_retry_after(&mut self, d: Duration) -> &mut Self {
        self.max_retry_after = d;
        self
    }

    /// Usage calls in flight at once. Default: 8.
    pub fn concurrency(&mut self, n: usize) -> &mut Self {
        self.concurrency = n.max(1);
        self
    }

    /// Keys per page of `/api-keys` (1–100). Default: 100.
    pub fn page_size(&mut self, n: u32) -> &mut Self {
        self.page_size = n.clamp(1, 100);
        self
    }

    /// Space calls by `slow_down` once `X-RateLimit-Remaining <= low_water`.
    /// Default: 5 and 500 ms.
    pub fn slow_down(&mut self, low_water: u64, slow_down: Duration) -> &mut Self {
        self.low_water = low_water;
        self.slow_down = slow_down;
        self
    }

    /// Builds a client that authenticates with `key`.
    pub fn build(&self, key: SecretKey) -> Result<Client> {
        let base = check_base_url(&self.base_url)?;
        crate::tls::install_provider();
        let http = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .user_agent(concat!("keywarden/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::ApiUrl {
                url: self.base_url.clone(),
                message: format!("cannot build the HTTP client: {e}"),
                hint: "this is a bug; please report it".into(),
            })?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base,
                settings: self.clone(),
                gate: Gate::new(self.low_water, self.slow_down),
            }),
            key,
        })
    }
}

/// Validates the base URL: https, or http to a loopback host. Returns it without a
/// trailing `/`.
pub fn check_base_url(url: &str) -> Result<String> {
    let bad = |message: String, hint: &str| Error::ApiUrl {
        url: url.to_string(),
        message,
        hint: hint.to_string(),
    };
    let parsed = reqwest::Url::parse(url).map_err(|e| {
        bad(
            e.to_string(),
            "give a full URL such as https://api.mask.bz/v1",
        )
    })?;
    if parsed.query().is_some() || parsed.fragment().is_some() || !parsed.username().is_empty() {
        return Err(bad(
            "a base URL has no query, fragment or credentials".into(),
            "give only scheme, host, port and path, e.g. https://api.mask.bz/v1",
        ));
    }
    match parsed.scheme() {
        "https" => {}
        "http" => {
            let loopback = match parsed.host() {
                Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
                Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
                Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                None => false,
            };
            if !loopback {
                return Err(bad(
                    "plain http is refused: keys would cross the network unencrypted".into(),
                    "use https://; http:// is allowed only to 127.0.0.1, ::1 or localhost (tests)",
                ));
            }
        }
        other => {
            return Err(bad(format!("unsupported scheme {other:?}"), "use https://"));
        }
    }
    Ok(url.trim_end_matches('/').to_string())
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    base: String,
    settings: ClientBuilder,
    gate: Gate,
}

/// A MASK API client bound to one key. Cheap to clone; clones share pacing.
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<Inner>,
    key: SecretKey,
}

enum Failure {
    /// Not worth retrying.
    Fatal(Error),
    /// Retry after a backoff; the error is reported when retries run out.
    Retry(Error, Option<Duration>),
}

impl Client {
    /// The base URL in use.
    pub fn base_url(&self) -> &str {
        &self.inner.base
    }

    /// The audit key, redacted.
    pub fn key_redacted(&self) -> String {
        self.key.redacted()
    }

    /// A client for the same base and pacing that authenticates with `key`.
    pub fn with_key(&self, key: SecretKey) -> Client {
        Client {
            inner: self.inner.clone(),
            key,
        }
    }

    fn deadline(&self) -> Instant {
        Instant::now() + self.inner.settings.deadline
    }

    /// `GET /workspace`.
    pub async fn workspace(&self) -> Result<Workspace> {
        self.get("/workspace", self.deadline()).await
    }

    /// Every key, walking `/api-keys` page by page.
    pub async fn list_keys(&self, include_revoked: bool) -> Result<Vec<ApiKey>> {
        self.list_keys_until(include_revoked, self.deadline()).await
    }

    async fn list_keys_until(
        &self,
        include_revoked: bool,
        deadline: Instant,
    ) -> Result<Vec<ApiKey>> {
        let mut keys = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/api-keys?limit={}", self.inner.settings.page_size);
            if include_revoked {
                path.push_str("&include_revoked=true");
            }
            if let Some(c) = &cursor {
                path.push_str("&cursor=");
                path.push_str(&encode(c));
            }
            let page: ApiKeyList = self.get(&path, deadline).await?;
            keys.extend(page.data);
            match (page.has_more, page.next_cursor) {
                (true, Some(next)) if cursor.as_deref() != Some(next.as_str()) => {
                    cursor = Some(next)
                }
                (true, _) => {
                    return Err(Error::ApiMalformed {
                        url: format!("{}{path}", self.inner.base),
                        field: "next_cursor".into(),
                        message: "has_more is true but next_cursor is missing or repeats the previous cursor".into(),
                        request_id: None,
                    });
                }
                (false, _) => return Ok(keys),
            }
        }
    }

    /// `GET /api-keys/{id}/usage?since=…&until=…`.
    pub async fn usage(
        &self,
        key_id: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<KeyUsage> {
        self.usage_until(key_id, since, until, self.deadline())
            .await
    }

    async fn usage_until(
        &self,
        key_id: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        deadline: Instant,
    ) -> Result<KeyUsage> {
        let path = format!(
            "/api-keys/{}/usage?since={}&until={}",
            encode(key_id),
            encode(&since.to_rfc3339_opts(SecondsFormat::Secs, true)),
            encode(&until.to_rfc3339_opts(SecondsFormat::Secs, true)),
        );
        self.get(&path, deadline).await
    }

    /// The workspace, its keys, and the usage of every active key over
    /// `[until - window, until]`, with at most `concurrency` usage calls in flight.
    pub async fn inventory(
        &self,
        include_revoked: bool,
        window: chrono::Duration,
        until: DateTime<Utc>,
    ) -> Result<Inventory> {
        let deadline = self.deadline();
        let workspace: Workspace = self.get("/workspace", deadline).await?;
        let data = self.list_keys_until(include_revoked, deadline).await?;
        let since = crate::audit::shift(until, -window);
        let usage = stream::iter(data.iter().filter(|k| k.is_active()))
            .map(|k| self.usage_until(&k.id, since, until, deadline))
            .buffer_unordered(self.inner.settings.concurrency)
            .try_collect::<Vec<_>>()
            .await?;
        Ok(Inventory {
            workspace,
            data,
            usage,
            usage_requested_since: Some(since),
        })
    }

    /// Asks `GET /workspace` whether `key` is live: 200 or 403 active, 401 revoked.
    pub async fn verify(&self, key: &SecretKey) -> Verification {
        let probe = self.with_key(key.clone());
        match probe
            .get::<serde_json::Value>("/workspace", self.deadline())
            .await
        {
            // Any 2xx (whatever its body) or a 403 means the key authenticated.
            Ok(_) | Err(Error::ApiForbidden { .. } | Error::ApiMalformed { .. }) => {
                Verification::Active
            }
            Err(Error::ApiUnauthorized { .. }) => Verification::Revoked,
            Err(e) => {
                tracing::warn!("verifying {}: {e}", key.redacted());
                Verification::Unknown
            }
        }
    }

    async fn get<T: DeserializeOwned>(&self, path: &str, deadline: Instant) -> Result<T> {
        let s = &self.inner.settings;
        let url = format!("{}{path}", self.inner.base);
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            self.inner.gate.wait().await;
            let err = match self.attempt(&url, attempt).await {
                Ok(v) => return Ok(v),
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Retry(e, retry_after)) => (e, retry_after),
            };
            let (err, retry_after) = err;
            let wait = match retry_after {
                Some(w) if w > s.max_retry_after => return Err(err),
                Some(w) => {
                    self.inner.gate.hold_for(w);
                    Duration::ZERO
                }
                None => backoff(attempt, s.backoff_base, s.backoff_max),
            };
            let resume = Instant::now() + wait.max(retry_after.unwrap_or_default());
            if attempt > s.max_retries || resume > deadline {
                return Err(err);
            }
            tracing::debug!(attempt, ?wait, "retrying {url}: {err}");
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt<T: DeserializeOwned>(&self, url: &str, attempt: u32) -> Result<T, Failure> {
        let mut auth =
            HeaderValue::from_bytes(&[b"Bearer ", self.key.expose()].concat()).map_err(|_| {
                Failure::Fatal(Error::AuditKey {
                    message: format!("the key {} cannot be sent in a header", self.key.redacted()),
                    hint: "check the key for stray characters".into(),
                })
            })?;
        auth.set_sensitive(true);
        let unreachable = |e: reqwest::Error| {
            Failure::Retry(
                Error::ApiUnreachable {
                    url: url.to_string(),
                    message: describe(&e),
                    attempts: attempt,
                },
                None,
            )
        };
        let resp = self
            .inner
            .http
            .get(url)
            .header(reqwest::header::AUTHORIZATION, auth)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(unreachable)?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let request_id = header_str(&headers, "request-id");
        if let Some(remaining) =
            header_str(&headers, "x-ratelimit-remaining").and_then(|v| v.parse().ok())
        {
            self.inner.gate.observe_remaining(remaining);
        }
        let body = resp.bytes().await.map_err(unreachable)?;
        if (200..300).contains(&status) {
            let de = &mut serde_json::Deserializer::from_slice(&body);
            return serde_path_to_error::deserialize(de).map_err(|e| {
                let field = e.path().to_string();
                Failure::Fatal(Error::ApiMalformed {
                    url: url.to_string(),
                    field,
                    message: e.inner().to_string(),
                    request_id,
                })
            });
        }
        let detail = serde_json::from_slice::<ErrorBody>(&body)
            .unwrap_or_default()
            .error;
        let message = if detail.message.is_empty() {
            reqwest::StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("error")
                .to_string()
        } else {
            detail.message.clone()
        };
        let status_error = |hint: &str| Error::ApiStatus {
            url: url.to_string(),
            status,
            message: message.clone(),
            request_id: request_id.clone(),
            attempts: attempt,
            hint: hint.to_string(),
        };
        Err(match status {
            401 => Failure::Fatal(Error::ApiUnauthorized {
                url: url.to_string(),
                key: self.key.redacted(),
                request_id,
            }),
            403 => Failure::Fatal(Error::ApiForbidden {
                url: url.to_string(),
                key: self.key.redacted(),
                scope: detail
                    .required_scope
                    .unwrap_or_else(|| "workspace:read".into()),
                request_id,
            }),
            429 => {
                let wait = header_str(&headers, "retry-after")
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                Failure::Retry(
                    status_error(
                        "the API kept rate-limiting; lower [audit] concurrency or run later",
                    ),
                    Some(wait.unwrap_or_else(|| {
                        backoff(
                            attempt,
                            self.inner.settings.backoff_base,
                            self.inner.settings.backoff_max,
                        )
                    })),
                )
            }
            500..=599 => Failure::Retry(
                status_error(
                    "the MASK API is failing; try again later and quote the Request-Id to MASK support",
                ),
                None,
            ),
            _ => Failure::Fatal(status_error(
                "this request was refused; quote the Request-Id to MASK support if it persists",
            )),
        })
    }
}

fn header_str(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// A transport error in words, with its causes (reqwest's top line is terse).
fn describe(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else if e.is_body() || e.is_decode() {
        "the connection dropped while reading the response"
    } else {
        "the request failed (connection dropped?)"
    };
    let mut causes = Vec::new();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        causes.push(s.to_string());
        src = s.source();
    }
    if causes.is_empty() {
        what.to_string()
    } else {
        format!("{what}: {}", causes.join(": "))
    }
}

/// Percent-encodes a query or path component.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_refuses_plain_http_off_loopback() {
        assert_eq!(
            check_base_url("https://api.mask.bz/v1/").unwrap(),
            "https://api.mask.bz/v1"
        );
        assert!(check_base_url("http://127.0.0.1:8080/v1").is_ok());
        assert!(check_base_url("http://[::1]:8080").is_ok());
        assert!(check_base_url("http://localhost:1").is_ok());
        let e = check_base_url("http://api.mask.bz/v1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("plain http is refused"), "{e}");
        assert!(check_base_url("ftp://x").is_err());
        assert!(check_base_url("https://u:p@api.mask.bz").is_err());
        assert!(check_base_url("not a url").is_err());
    }

    #[test]
    fn encode_escapes_reserved_characters() {
        assert_eq!(encode("2026-01-01T00:00:00Z"), "2026-01-01T00%3A00%3A00Z");
        assert_eq!(encode("a b/c"), "a%20b%2Fc");
    }
}
