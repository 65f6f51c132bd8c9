//! The MASK API client: the one module that knows the API's shape (`openapi.yaml`).
//!
//! - [`model`]: the API's JSON shapes (also the inventory file's).
//! - [`builder`]: [`ClientBuilder`], the settings with their defaults, and the base-URL check.
//! - [`client`]: [`Client`]: pagination, usage with bounded concurrency, retries, rate
//!   limits, typed errors.
//! - [`pacing`]: the shared gate that spaces requests (429 `Retry-After`, low
//!   `X-RateLimit-Remaining`) and the backoff with jitter.
//! - [`auth`]: where the audit key comes from (file, environment, systemd credential).
//!
//! The client never logs or returns a full key: errors name the audit key redacted.

pub mod auth;
pub mod builder;
pub mod client;
pub mod model;
pub mod pacing;

pub use auth::{AuditKeyOrigin, load_audit_key};
pub use builder::{ClientBuilder, DEFAULT_BASE_URL};
pub use client::{Client, Verification};
pub use model::{ApiKey, ApiKeyList, Inventory, KeyUsage, ScopeUsage, Workspace, load_inventory};

/// Runs one future of the async client to completion from blocking code: on the runtime
/// of the calling thread when there is one (a daemon job on tokio's blocking pool), else on
/// one current-thread runtime built once per process (the commands).
pub fn block_on<F: std::future::Future>(fut: F) -> crate::Result<F::Output> {
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        return Ok(handle.block_on(fut));
    }
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    if RUNTIME.get().is_none() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| crate::Error::Usage(format!("cannot start the async runtime: {e}\n  hint: check the process limits (threads, file descriptors)")))?;
        let _ = RUNTIME.set(rt);
    }
    match RUNTIME.get() {
        Some(rt) => Ok(rt.block_on(fut)),
        None => Err(crate::Error::Usage("cannot start the async runtime".into())),
    }
}
