//! Exceptions that explain themselves and expire: a finding on an excepted key moves to the
//! key's `excepted` list while `today <= until`; after that it is a finding again, with the
//! expired exception attached.

use super::config::Exception;
use super::model::{AuditFinding, Excepted, ExceptionNote};
use chrono::NaiveDate;

/// Splits `findings` of key `key_id` into (still findings, excepted).
pub fn apply(
    key_id: &str,
    findings: Vec<AuditFinding>,
    exceptions: &[Exception],
    today: NaiveDate,
) -> (Vec<AuditFinding>, Vec<Excepted>) {
    let mut kept = Vec::new();
    let mut excepted = Vec::new();
    for mut f in findings {
        let matching = exceptions
            .iter()
            .filter(|e| e.key == key_id && e.policy.covers(f.kind));
        // The exception that lasts longest decides.
        match matching.max_by_key(|e| e.until) {
            Some(e) if today <= e.until => excepted.push(Excepted {
                finding: f,
                exception: ExceptionNote {
                    reason: e.reason.clone(),
                    until: e.until,
                },
            }),
            Some(e) => {
                f.expired_exception = Some(ExceptionNote {
                    reason: e.reason.clone(),
                    until: e.until,
                });
                kept.push(f);
            }
            None => kept.push(f),
        }
    }
    (kept, excepted)
}

#[cfg(test)]
mod tests {
    use super::super::config::{AllMarker, PolicySelector};
    use super::super::model::Kind;
    use super::*;
    use crate::finding::Severity;

    fn finding(kind: Kind) -> AuditFinding {
        AuditFinding {
            kind,
            severity: Severity::Medium,
            message: String::new(),
            evidence: serde_json::json!({}),
            expired_exception: None,
        }
    }

    fn exc(key: &str, policy: PolicySelector, until: &str) -> Exception {
        Exception {
            key: key.into(),
            policy,
            reason: "vendor".into(),
            until: until.parse().unwrap(),
        }
    }

    #[test]
    fn active_exception_excepts_expired_one_reports_again() {
        let ex = [
            exc("k1", PolicySelector::Kind(Kind::Inactive), "2026-06-01"),
            exc("k2", PolicySelector::All(AllMarker::All), "2026-05-31"),
        ];
        let day = |s: &str| s.parse::<NaiveDate>().unwrap();
        // the last day still holds
        let (kept, exc) = apply(
            "k1",
            vec![finding(Kind::Inactive), finding(Kind::RotationOverdue)],
            &ex,
            day("2026-06-01"),
        );
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].kind, Kind::RotationOverdue);
        assert_eq!(exc.len(), 1);
        assert_eq!(exc[0].exception.reason, "vendor");
        // the day after, it is a finding again, listed with the expired exception
        let (kept, exc) = apply("k1", vec![finding(Kind::Inactive)], &ex, day("2026-06-02"));
        assert!(exc.is_empty());
        assert_eq!(
            kept[0].expired_exception.as_ref().unwrap().until,
            day("2026-06-01")
        );
        // `*` covers every kind; another key is untouched
        let (kept, exc) = apply(
            "k2",
            vec![finding(Kind::Leaked), finding(Kind::OverScoped)],
            &ex,
            day("2026-05-01"),
        );
        assert!(kept.is_empty());
        assert_eq!(exc.len(), 2);
        let (kept, _) = apply("k3", vec![finding(Kind::Leaked)], &ex, day("2026-05-01"));
        assert_eq!(kept.len(), 1);
    }
}
