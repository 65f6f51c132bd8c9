//! [`ClientBuilder`] → [`Client`]: the calls the auditor makes, with retries, pacing and
//! errors a person can act on. Only `GET`s: the auditor never changes anything.

use super::builder::ClientBuilder;
use super::model::{ApiKey, ApiKeyList, ErrorBody, Inventory, KeyUsage, Workspace};
use super::pacing::{Gate, backoff};
use crate::error::{Error, Result};
pub use crate::finding::Verification;
use crate::secret::SecretKey;
use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::{StreamExt, TryStreamExt, stream};
use reqwest::header::{HeaderMap, HeaderValue};
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::Instant;

#[derive(Debug)]
pub(super) struct Inner {
    pub(super) http: reqwest::Client,
    pub(super) base: String,
    pub(super) settings: ClientBuilder,
    pub(super) gate: Gate,
}

/// A MASK API client bound to one key. Cheap to clone; clones share pacing.
#[derive(Clone, Debug)]
pub struct Client {
    pub(super) inner: Arc<Inner>,
    pub(super) key: SecretKey,
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

    /// The spacing currently imposed between calls: non-zero while the API's
    /// `X-RateLimit-Remaining` is at or below the low-water mark.
    pub fn spacing(&self) -> Duration {
        self.inner.gate.spacing()
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
        self.list_keys_until(include_revoked, self.deadline(), None, |_| {})
            .await
    }

    /// Walks the pages; each call holds a permit of `permits` (when given); `on_page`
    /// sees each page as it arrives.
    async fn list_keys_until(
        &self,
        include_revoked: bool,
        deadline: Instant,
        permits: Option<&Semaphore>,
        mut on_page: impl FnMut(&[ApiKey]),
    ) -> Result<Vec<ApiKey>> {
        let mut keys = Vec::new();
        let mut cursor: Option<String> = None;
        // Every cursor followed so far: a server that cycles (A→B→A) is caught at once.
        let mut seen = std::collections::HashSet::new();
        loop {
            let mut path = format!("/api-keys?limit={}", self.inner.settings.page_size);
            if include_revoked {
                path.push_str("&include_revoked=true");
            }
            if let Some(c) = &cursor {
                path.push_str("&cursor=");
                path.push_str(&encode(c));
            }
            let page: ApiKeyList = {
                let _permit = match permits {
                    Some(s) => s.acquire().await.ok(),
                    None => None,
                };
                self.get(&path, deadline).await?
            };
            let malformed = |field: &str, message: String| Error::ApiMalformed {
                url: format!("{}{path}", self.inner.base),
                field: field.into(),
                message,
                request_id: None,
            };
            let limit = self.inner.settings.page_size as usize;
            if page.data.len() > limit {
                return Err(malformed(
                    "data",
                    format!(
                        "the page lists {} keys, more than the limit of {limit} asked for",
                        page.data.len()
                    ),
                ));
            }
            on_page(&page.data);
            keys.extend(page.data);
            match (page.has_more, page.next_cursor) {
                (true, Some(next)) if seen.insert(next.clone()) => cursor = Some(next),
                (true, _) => {
                    return Err(malformed(
                        "next_cursor",
                        "has_more is true but next_cursor is missing or repeats an earlier cursor (the pages would cycle)".into(),
                    ));
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

    /// The workspace, its keys, and the usage of every active key over `[since, until]`. Usage calls start as soon as a page lists their key
    /// (the page walk and the usage calls share the concurrency limit: never more than
    /// `concurrency` calls in flight).
    pub async fn inventory(
        &self,
        include_revoked: bool,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Inventory> {
        let deadline = self.deadline();
        // One call first: a wrong key or scope fails here, before any other call.
        let workspace: Workspace = self.get("/workspace", deadline).await?;
        let concurrency = self.inner.settings.concurrency;
        let permits = Semaphore::new(concurrency);
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        let walk = self.list_keys_until(include_revoked, deadline, Some(&permits), move |page| {
            for k in page.iter().filter(|k| k.is_active()) {
                let _ = tx.send(k.id.clone());
            }
        });
        let usage = stream::unfold(
            rx,
            |mut rx| async move { rx.recv().await.map(|id| (id, rx)) },
        )
        .map(|id| {
            let permits = &permits;
            async move {
                let _permit = permits.acquire().await.ok();
                self.usage_until(&id, since, until, deadline).await
            }
        })
        .buffer_unordered(concurrency)
        .try_collect::<Vec<_>>();
        let (data, usage) = tokio::try_join!(walk, usage)?;
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
        let past_deadline = |attempt: u32| Error::ApiUnreachable {
            url: url.clone(),
            message: format!(
                "the operation's deadline ({} s) passed",
                s.deadline.as_secs()
            ),
            attempts: attempt,
        };
        loop {
            attempt += 1;
            // The deadline holds for every request, not only for retries.
            if Instant::now() >= deadline {
                return Err(past_deadline(attempt - 1));
            }
            let call = async {
                self.inner.gate.wait().await;
                self.attempt(&url, attempt).await
            };
            let Ok(result) = tokio::time::timeout_at(deadline, call).await else {
                return Err(past_deadline(attempt));
            };
            let err = match result {
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
        let body = read_body(resp, MAX_BODY).await.map_err(|e| match e {
            Some(e) => unreachable(e),
            None => Failure::Fatal(Error::ApiMalformed {
                url: url.to_string(),
                field: String::new(),
                message: format!("the response is larger than {MAX_BODY} bytes"),
                request_id: request_id.clone(),
            }),
        })?;
        if (200..300).contains(&status) {
            let de = &mut serde_json::Deserializer::from_slice(&body);
            return serde_path_to_error::deserialize(de).map_err(|e| {
                let field = e.path().to_string();
                Failure::Fatal(Error::ApiMalformed {
                    url: url.to_string(),
                    field,
                    message: crate::error::scrub(&e.inner().to_string()),
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
                let wait = header_str(&headers, "retry-after").and_then(|v| retry_after(&v));
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

/// The most a response body may hold: 64 MiB (a page of 100 keys is a few tens of KiB).
const MAX_BODY: usize = 64 << 20;

/// Reads a body of at most `max` bytes; `Err(None)` when it is larger.
async fn read_body(
    mut resp: reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, Option<reqwest::Error>> {
    if resp.content_length().is_some_and(|n| n > max as u64) {
        return Err(None);
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(Some)? {
        if body.len() + chunk.len() > max {
            return Err(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// `Retry-After` in seconds or as an HTTP date (RFC 9110 allows both).
pub fn retry_after(value: &str) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(v).ok()?;
    let ms = (at.with_timezone(&Utc) - Utc::now())
        .num_milliseconds()
        .max(0);
    Some(Duration::from_millis(ms as u64))
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
    format!("{what}{}", crate::error::causes(what, e))
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
    fn retry_after_takes_seconds_and_http_dates() {
        assert_eq!(retry_after(" 7 "), Some(Duration::from_secs(7)));
        let soon = (Utc::now() + chrono::Duration::seconds(30)).to_rfc2822();
        let soon = soon.replace("+0000", "GMT");
        let d = retry_after(&soon).unwrap();
        assert!(
            d > Duration::from_secs(25) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon"), None);
    }

    #[test]
    fn encode_escapes_reserved_characters() {
        assert_eq!(encode("2026-01-01T00:00:00Z"), "2026-01-01T00%3A00%3A00Z");
        assert_eq!(encode("a b/c"), "a%20b%2Fc");
    }
}
