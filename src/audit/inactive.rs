//! inactive: last used at least `inactive_days` ago, or never used and created at least
//! that long ago.

use super::config::AuditConfig;
use super::model::{AuditFinding, Kind};
use crate::finding::{Environment, Severity};
use crate::mask::ApiKey;
use chrono::{DateTime, Duration, Utc};
use serde_json::json;

/// The inactive verdict for `key` at `now`, if any.
pub fn check(key: &ApiKey, now: DateTime<Utc>, cfg: &AuditConfig) -> Option<AuditFinding> {
    let threshold = Duration::days(cfg.inactive_days.into());
    let (since, message, evidence) = match key.last_used_at {
        Some(last) => (
            last,
            format!(
                "not used for {} days (last used {})",
                (now - last).num_days(),
                last.date_naive()
            ),
            json!({"last_used_at": last, "days_unused": (now - last).num_days(), "threshold_days": cfg.inactive_days}),
        ),
        None => (
            key.created_at,
            format!(
                "never used in the {} days since it was created ({})",
                (now - key.created_at).num_days(),
                key.created_at.date_naive()
            ),
            json!({"last_used_at": null, "created_at": key.created_at, "days_since_created": (now - key.created_at).num_days(), "threshold_days": cfg.inactive_days}),
        ),
    };
    (now - since >= threshold).then_some(AuditFinding {
        kind: Kind::Inactive,
        severity: match key.environment {
            Environment::Live => Severity::Medium,
            Environment::Test => Severity::Low,
        },
        message,
        evidence,
        expired_exception: None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{at, key};
    use super::*;

    #[test]
    fn last_used_89_90_91_days_ago() {
        let cfg = AuditConfig::default();
        let now = at("2026-06-01T12:00:00Z");
        for (days, expect) in [(89, false), (90, true), (91, true)] {
            let mut k = key("live", "2025-01-01T00:00:00Z");
            k.last_used_at = Some(now - Duration::days(days));
            assert_eq!(check(&k, now, &cfg).is_some(), expect, "{days} days");
        }
        // one second short of 90 days is still active
        let mut k = key("live", "2025-01-01T00:00:00Z");
        k.last_used_at = Some(now - Duration::days(90) + Duration::seconds(1));
        assert!(check(&k, now, &cfg).is_none());
    }

    #[test]
    fn never_used_counts_from_creation_and_young_keys_are_spared() {
        let cfg = AuditConfig::default();
        let now = at("2026-06-01T00:00:00Z");
        for (days, expect) in [(0, false), (89, false), (90, true), (91, true)] {
            let k = key("test", &(now - Duration::days(days)).to_rfc3339());
            let f = check(&k, now, &cfg);
            assert_eq!(f.is_some(), expect, "created {days} days ago");
            if let Some(f) = f {
                assert_eq!(f.severity, Severity::Low);
                assert_eq!(f.evidence["days_since_created"], days);
            }
        }
    }

    #[test]
    fn threshold_is_configurable() {
        let cfg = AuditConfig {
            inactive_days: 30,
            ..AuditConfig::default()
        };
        let now = at("2026-06-01T00:00:00Z");
        let mut k = key("live", "2025-01-01T00:00:00Z");
        k.last_used_at = Some(now - Duration::days(30));
        let f = check(&k, now, &cfg).unwrap();
        assert_eq!(f.severity, Severity::Medium);
        assert_eq!(f.evidence["days_unused"], 30);
    }
}
