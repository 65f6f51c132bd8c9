//! [`ClientBuilder`]: the client's settings, each with its documented default, and the
//! base-URL check (https, or plain http only to loopback).

use super::client::{Client, Inner};
use super::pacing::Gate;
use crate::error::{Error, Result};
use crate::secret::SecretKey;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

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
    pub(super) base_url: String,
    pub(super) timeout: Duration,
    pub(super) connect_timeout: Duration,
    pub(super) max_retries: u32,
    pub(super) deadline: Duration,
    pub(super) backoff_base: Duration,
    pub(super) backoff_max: Duration,
    pub(super) max_retry_after: Duration,
    pub(super) concurrency: usize,
    pub(super) page_size: u32,
    pub(super) low_water: u64,
    pub(super) slow_down: Duration,
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
    // The URL as shown in errors: without credentials or query (they may hold a secret).
    let shown = match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        }
        Err(_) => crate::error::scrub(&format!("\"{url}\"")),
    };
    let bad = |message: String, hint: &str| Error::ApiUrl {
        url: shown.clone(),
        message,
        hint: hint.to_string(),
    };
    let parsed = reqwest::Url::parse(url).map_err(|e| {
        bad(
            e.to_string(),
            "give a full URL such as https://api.mask.bz/v1",
        )
    })?;
    if parsed.query().is_some()
        || parsed.fragment().is_some()
        || !parsed.username().is_empty()
        || parsed.password().is_some()
    {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_the_base_url_are_refused_and_never_echoed() {
        for url in [
            "https://:hunter2@api.mask.bz/v1",
            "https://u:hunter2@api.mask.bz/v1",
            "https://api.mask.bz/v1?key=hunter2",
        ] {
            let e = check_base_url(url).unwrap_err().to_string();
            assert!(!e.contains("hunter2"), "{e}");
            assert!(e.contains("api.mask.bz"), "{e}");
        }
    }

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
}
