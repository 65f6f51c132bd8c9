//! The API's data shapes (`openapi.yaml`, `components/schemas`). The inventory file of
//! `keywarden audit --inventory` uses the same shapes. Every name and message the API
//! supplies is read through [`crate::redact::de_clean`]: keys redacted, control
//! characters escaped, length bounded, before anything prints, stores or sends it.

use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// `Workspace`: the workspace the calling key belongs to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workspace {
    /// `ws_8Hq2LmXv`.
    #[serde(deserialize_with = "crate::redact::de_clean")]
    pub id: String,
    /// `Acme Marketing`.
    #[serde(deserialize_with = "crate::redact::de_clean")]
    pub name: String,
}

/// `Member`: who created a key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// `usr_31Kd9`.
    pub id: String,
    /// Email, if known.
    #[serde(default, deserialize_with = "crate::redact::de_clean_opt")]
    pub email: Option<String>,
    /// Display name, if known.
    #[serde(default, deserialize_with = "crate::redact::de_clean_opt")]
    pub name: Option<String>,
}

/// `ApiKey`: one key of the workspace (never its secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    /// `key_2Nf8sQ1c`.
    #[serde(deserialize_with = "crate::redact::de_clean")]
    pub id: String,
    /// Human name.
    #[serde(deserialize_with = "crate::redact::de_clean")]
    pub name: String,
    /// `live` or `test`.
    pub environment: crate::finding::Environment,
    /// `mk_live_` or `mk_test_`.
    pub prefix: String,
    /// The last four characters of the full key.
    pub last_four: String,
    /// Scopes held.
    pub scopes: Vec<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Creator.
    #[serde(default)]
    pub created_by: Option<Member>,
    /// Last use; `None` when never used.
    #[serde(default)]
    pub last_used_at: Option<DateTime<Utc>>,
    /// IP of the last use.
    #[serde(default)]
    pub last_used_ip: Option<String>,
    /// Revocation time; `None` when active.
    #[serde(default)]
    pub revoked_at: Option<DateTime<Utc>>,
    /// Expiry, if any.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

impl ApiKey {
    /// True when the key has not been revoked.
    pub fn is_active(&self) -> bool {
        self.revoked_at.is_none()
    }
}

/// `ApiKeyList`: one page of `GET /api-keys`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ApiKeyList {
    /// The keys on this page.
    pub data: Vec<ApiKey>,
    /// More pages follow.
    pub has_more: bool,
    /// The cursor of the next page.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// `ScopeUsage`: requests made under one scope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeUsage {
    /// The scope.
    pub scope: String,
    /// Requests over the window.
    pub requests: u64,
    /// Last request under this scope.
    #[serde(default)]
    pub last_used_at: Option<DateTime<Utc>>,
}

/// `KeyUsage`: `GET /api-keys/{id}/usage`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyUsage {
    /// The key.
    pub key_id: String,
    /// Start actually covered (clamped to the API's retention).
    pub since: DateTime<Utc>,
    /// End of the window.
    pub until: DateTime<Utc>,
    /// Every scope the key holds, once.
    pub scopes: Vec<ScopeUsage>,
}

/// `Error`: the body of every error response.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// `Error.error`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ErrorDetail {
    /// `unauthorized`, `insufficient_scope`, …
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Human message.
    #[serde(default, deserialize_with = "crate::redact::de_clean")]
    pub message: String,
    /// For 403: the scope the call needs.
    #[serde(default)]
    pub required_scope: Option<String>,
}

/// What the auditor reads from the API: the workspace, its keys and their usage.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Inventory {
    /// The workspace.
    #[serde(default)]
    pub workspace: Workspace,
    /// Every key (revoked ones only when asked for).
    pub data: Vec<ApiKey>,
    /// Usage per key, for the keys it was fetched for.
    #[serde(default)]
    pub usage: Vec<KeyUsage>,
    /// When the usage window was requested to start (to detect clamping).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_requested_since: Option<DateTime<Utc>>,
}

/// Reads an inventory file: the `/api-keys` list shape (`{"data": [...]}`), optionally
/// with `workspace` and `usage`.
pub fn load_inventory(path: &Path) -> Result<Inventory> {
    let text = crate::bounded::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let de = &mut serde_json::Deserializer::from_str(&text);
    serde_path_to_error::deserialize(de).map_err(|e| Error::Input {
        path: path.to_path_buf(),
        message: format!("field `{}`: {}", e.path(), crate::error::scrub(&e.inner().to_string())),
        hint: "an inventory is the API's /api-keys list shape: {\"workspace\": {\"id\", \"name\"}, \"data\": [keys], \"usage\": [per-key usage]}; see examples/inventory.json".into(),
    })
}
