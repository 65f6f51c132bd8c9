//! rotation-overdue: a live key created at least `rotation_days` ago; rotation-due-soon in
//! the `due_soon_days` before. Test keys only with `rotate_test_keys`.

use super::config::AuditConfig;
use super::model::{AuditFinding, Kind};
use crate::finding::{Environment, Severity};
use crate::mask::ApiKey;
use chrono::{DateTime, Duration, Utc};
use serde_json::json;

/// The rotation verdict for `key` at `now`, if any.
pub fn check(key: &ApiKey, now: DateTime<Utc>, cfg: &AuditConfig) -> Option<AuditFinding> {
    if key.environment == Environment::Test && !cfg.rotate_test_keys {
        return None;
    }
    let due = super::shift(key.created_at, Duration::days(cfg.rotation_days.into()));
    let soon = super::shift(due, -Duration::days(cfg.due_soon_days.into()));
    let age = (now - key.created_at).num_days();
    let evidence = |extra: serde_json::Value| {
        let mut v = json!({"created_at": key.created_at, "age_days": age, "rotation_due_at": due, "threshold_days": cfg.rotation_days});
        if let (Some(m), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            m.extend(e.clone());
        }
        v
    };
    if now >= due {
        Some(AuditFinding {
            kind: Kind::RotationOverdue,
            severity: Severity::Medium,
            message: format!(
                "created {age} days ago; rotation was due {} ({} days overdue)",
                due.date_naive(),
                (now - due).num_days()
            ),
            evidence: evidence(json!({"overdue_days": (now - due).num_days()})),
            expired_exception: None,
        })
    } else if now >= soon {
        let left = (due - now).num_days();
        Some(AuditFinding {
            kind: Kind::RotationDueSoon,
            severity: Severity::Low,
            message: format!("rotation falls due {} (in {left} days)", due.date_naive()),
            evidence: evidence(json!({"days_left": left, "due_soon_days": cfg.due_soon_days})),
            expired_exception: None,
        })
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{at, key};
    use super::*;

    fn kind_at(env: &str, age: Duration, cfg: &AuditConfig) -> Option<Kind> {
        let now = at("2026-06-01T12:00:00Z");
        let k = key(env, &(now - age).to_rfc3339());
        check(&k, now, cfg).map(|f| f.kind)
    }

    #[test]
    fn overdue_at_90_days_due_soon_from_76() {
        let cfg = AuditConfig::default();
        let d = Duration::days;
        assert_eq!(kind_at("live", d(91), &cfg), Some(Kind::RotationOverdue));
        assert_eq!(kind_at("live", d(90), &cfg), Some(Kind::RotationOverdue));
        assert_eq!(
            kind_at("live", d(90) - Duration::seconds(1), &cfg),
            Some(Kind::RotationDueSoon)
        );
        assert_eq!(kind_at("live", d(89), &cfg), Some(Kind::RotationDueSoon));
        assert_eq!(kind_at("live", d(76), &cfg), Some(Kind::RotationDueSoon));
        assert_eq!(kind_at("live", d(76) - Duration::seconds(1), &cfg), None);
        assert_eq!(kind_at("live", d(75), &cfg), None);
        assert_eq!(kind_at("live", d(0), &cfg), None);
    }

    #[test]
    fn test_keys_only_when_configured() {
        let mut cfg = AuditConfig::default();
        assert_eq!(kind_at("test", Duration::days(400), &cfg), None);
        cfg.rotate_test_keys = true;
        assert_eq!(
            kind_at("test", Duration::days(400), &cfg),
            Some(Kind::RotationOverdue)
        );
    }

    #[test]
    fn evidence_carries_dates_and_counts() {
        let now = at("2026-06-01T00:00:00Z");
        let k = key("live", "2026-01-01T00:00:00Z");
        let f = check(&k, now, &AuditConfig::default()).unwrap();
        assert_eq!(f.evidence["age_days"], 151);
        assert_eq!(f.evidence["overdue_days"], 61);
        assert_eq!(f.evidence["rotation_due_at"], "2026-04-01T00:00:00Z");
        let k = key("live", "2026-03-05T00:00:00Z");
        let f = check(&k, now, &AuditConfig::default()).unwrap();
        assert_eq!(f.kind, Kind::RotationDueSoon);
        assert_eq!(f.evidence["days_left"], 2);
    }
}
