//! The `[audit]` section of the service config: thresholds, exceptions, API settings.
//!
//! ```toml
//! [audit]
//! inactive_days = 90          # unused this long → inactive
//! rotation_days = 90          # live keys older than this → rotation-overdue
//! due_soon_days = 14          # … and this many days before → rotation-due-soon
//! observation_days = 90       # usage window for scope verdicts
//! rotate_test_keys = false    # test keys get rotation verdicts too
//! api_url = "https://api.mask.bz/v1"
//! key_env = "MASK_API_KEY"    # where the audit key is read from (never the key itself)
//! concurrency = 8             # usage calls in flight
//! fail_on = "medium"
//!
//! [[audit.exceptions]]
//! key = "key_2Nf8sQ1c"
//! policy = "rotation-overdue" # or "*" for every policy
//! reason = "vendor integration; rotation scheduled with vendor"
//! until = 2026-12-31
//! ```

use super::model::Kind;
use crate::finding::Severity;
use chrono::NaiveDate;
use serde::Deserialize;

/// `[audit]`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Last use (or creation, if never used) at least this many days ago → inactive.
    /// Default: 90.
    pub inactive_days: u32,
    /// Live keys created at least this many days ago → rotation-overdue. Default: 90.
    pub rotation_days: u32,
    /// Days before rotation is due that rotation-due-soon starts. Default: 14.
    pub due_soon_days: u32,
    /// The usage window over which unused scopes are judged. Default: 90.
    pub observation_days: u32,
    /// Judge test keys for rotation too. Default: false (the docs ask it of live keys).
    pub rotate_test_keys: bool,
    /// API base URL. Default: `https://api.mask.bz/v1`.
    pub api_url: Option<String>,
    /// Environment variable holding the audit key. Default: `MASK_API_KEY`. A value
    /// that looks like a key or a secret is refused.
    #[serde(deserialize_with = "crate::redact::de_env_name")]
    pub key_env: Option<String>,
    /// Usage calls in flight at once. Default: 8.
    pub concurrency: Option<usize>,
    /// Lowest severity that makes the exit code 1. Default: medium.
    pub fail_on: Option<Severity>,
    /// Keys excepted from a policy, with a reason and an end date.
    pub exceptions: Vec<Exception>,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            inactive_days: 90,
            rotation_days: 90,
            due_soon_days: 14,
            observation_days: 90,
            rotate_test_keys: false,
            api_url: None,
            key_env: None,
            concurrency: None,
            fail_on: None,
            exceptions: Vec::new(),
        }
    }
}

/// One exception: `key` is excepted from `policy` until `until` (inclusive), because
/// `reason`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Exception {
    /// The key's id (`key_2Nf8sQ1c`).
    pub key: String,
    /// A finding kind, or `*` for every kind.
    pub policy: PolicySelector,
    /// Why: shown in every report.
    pub reason: String,
    /// Last day the exception holds; after it the finding comes back.
    #[serde(deserialize_with = "de_date")]
    pub until: NaiveDate,
}

/// A TOML date (`2026-12-31`) or a string holding one.
fn de_date<'de, D: serde::Deserializer<'de>>(de: D) -> Result<NaiveDate, D::Error> {
    let v = toml::Value::deserialize(de)?;
    let text = match &v {
        toml::Value::Datetime(d) => d.to_string(),
        toml::Value::String(s) => s.clone(),
        other => {
            return Err(serde::de::Error::custom(format!(
                "expected a date like 2026-12-31, found {}",
                other.type_str()
            )));
        }
    };
    text.parse::<NaiveDate>().map_err(|_| {
        serde::de::Error::custom(format!(
            "expected a date like 2026-12-31 (no time), found {text}"
        ))
    })
}

/// A finding kind or `*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(untagged)]
pub enum PolicySelector {
    /// `*`: every kind.
    All(AllMarker),
    /// One kind.
    Kind(Kind),
}

/// The literal `*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, Deserialize)]
pub enum AllMarker {
    /// `*`.
    #[serde(rename = "*")]
    All,
}

impl PolicySelector {
    /// True when the selector covers `kind`.
    pub fn covers(self, kind: Kind) -> bool {
        match self {
            PolicySelector::All(_) => true,
            PolicySelector::Kind(k) => k == kind,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_with_defaults_and_rejects_unknown_keys() {
        let c: AuditConfig = toml::from_str(
            r#"
inactive_days = 30
[[exceptions]]
key = "key_1"
policy = "*"
reason = "r"
until = 2026-12-31
[[exceptions]]
key = "key_2"
policy = "over-scoped"
reason = "r"
until = "2026-01-01"
"#,
        )
        .unwrap();
        assert_eq!(c.inactive_days, 30);
        assert_eq!(c.rotation_days, 90);
        assert!(c.exceptions[0].policy.covers(Kind::Leaked));
        assert!(c.exceptions[1].policy.covers(Kind::OverScoped));
        assert!(!c.exceptions[1].policy.covers(Kind::Inactive));
        assert!(toml::from_str::<AuditConfig>("inactive_dayz = 3").is_err());
        assert!(
            toml::from_str::<AuditConfig>(
                "[[exceptions]]\nkey='k'\npolicy='nope'\nreason='r'\nuntil=2026-01-01"
            )
            .is_err()
        );
    }
}
