//! The MASK API client: the one module that knows the API's shape (`openapi.yaml`).
//!
//! - [`model`]: the API's JSON shapes (also the inventory file's).
//! - [`client`]: [`ClientBuilder`] and [`Client`]: pagination, usage with bounded
//!   concurrency, retries, rate limits, typed errors.
//! - [`pacing`]: the shared gate that spaces requests (429 `Retry-After`, low
//!   `X-RateLimit-Remaining`) and the backoff with jitter.
//! - [`auth`]: where the audit key comes from (file, environment, systemd credential).
//!
//! The client never logs or returns a full key: errors name the audit key redacted.

pub mod auth;
pub mod client;
pub mod model;
pub mod pacing;

pub use auth::{AuditKeyOrigin, load_audit_key};
pub use client::{Client, ClientBuilder, DEFAULT_BASE_URL, Verification};
pub use model::{ApiKey, ApiKeyList, Inventory, KeyUsage, ScopeUsage, Workspace};
