//! Tiny builders for the policies' unit tests.

use crate::mask::{ApiKey, KeyUsage, ScopeUsage};
use chrono::{DateTime, Utc};

pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

pub fn key(env: &str, created: &str) -> ApiKey {
    ApiKey {
        id: "key_test".into(),
        name: "test key".into(),
        environment: if env == "live" {
            crate::finding::Environment::Live
        } else {
            crate::finding::Environment::Test
        },
        prefix: format!("mk_{env}_"),
        last_four: "ab12".into(),
        scopes: vec!["links:read".into()],
        created_at: at(created),
        created_by: None,
        last_used_at: None,
        last_used_ip: None,
        revoked_at: None,
        expires_at: None,
    }
}

pub fn usage(
    k: &ApiKey,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    scopes: &[(&str, u64)],
) -> KeyUsage {
    KeyUsage {
        key_id: k.id.clone(),
        since,
        until,
        scopes: scopes
            .iter()
            .map(|(s, n)| ScopeUsage {
                scope: s.to_string(),
                requests: *n,
                last_used_at: None,
            })
            .collect(),
    }
}
