//! The recommendation model: one recommendation per key, from its findings.
//!
//! - revoke: inactive (whatever else is true: an unused key needs no replacement);
//! - rotate: leaked, rotation-overdue or rotation-due-soon (create the new key, deploy it,
//!   then revoke the old one);
//! - narrow: over-scoped, to the exact scopes used;
//! - rotate and narrow together: issue the replacement with the narrowed scopes.

use super::model::{Action, AuditFinding, Kind, Recommendation};
use super::scope;

/// The recommendation for a key with `findings`.
pub fn recommend(findings: &[AuditFinding]) -> Recommendation {
    let has = |k: Kind| findings.iter().any(|f| f.kind == k);
    if has(Kind::Inactive) {
        let text = if has(Kind::Leaked) {
            "Revoke it now: it is unused and found in code."
        } else {
            "Revoke it: it is unused."
        };
        return Recommendation {
            actions: vec![Action::Revoke],
            narrow_to: Vec::new(),
            text: text.into(),
        };
    }
    let rotate = has(Kind::Leaked) || has(Kind::RotationOverdue) || has(Kind::RotationDueSoon);
    let narrow_to = findings
        .iter()
        .find(|f| f.kind == Kind::OverScoped)
        .map(scope::narrow_to)
        .unwrap_or_default();
    let narrow = !narrow_to.is_empty();
    let scopes = narrow_to.join(", ");
    let (actions, text) = match (rotate, narrow) {
        (true, true) => (
            vec![Action::Rotate, Action::Narrow],
            format!(
                "Issue the replacement with the narrowed scopes ({scopes}): create the new key with only these scopes, deploy it, then revoke this one."
            ),
        ),
        (true, false) => (
            vec![Action::Rotate],
            if has(Kind::Leaked) {
                "Rotate it now: create a new key, deploy it, then revoke this one; remove the key from the code and its history.".to_string()
            } else {
                "Rotate it: create a new key, deploy it, then revoke this one.".to_string()
            },
        ),
        (false, true) => (
            vec![Action::Narrow],
            format!(
                "Narrow it to {scopes}: issue a key with only these scopes, deploy it, then revoke this one."
            ),
        ),
        (false, false) => (Vec::new(), String::new()),
    };
    Recommendation {
        actions,
        narrow_to: if narrow { narrow_to } else { Vec::new() },
        text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Severity;
    use serde_json::json;

    fn f(kind: Kind) -> AuditFinding {
        AuditFinding {
            kind,
            severity: Severity::Medium,
            message: String::new(),
            evidence: json!({"narrow_to": ["links:read"]}),
            expired_exception: None,
        }
    }

    #[test]
    fn the_model() {
        assert_eq!(recommend(&[]).actions, []);
        assert_eq!(recommend(&[f(Kind::InsufficientData)]).actions, []);
        let r = recommend(&[
            f(Kind::Inactive),
            f(Kind::OverScoped),
            f(Kind::RotationOverdue),
        ]);
        assert_eq!((r.actions, r.narrow_to.len()), (vec![Action::Revoke], 0));
        assert_eq!(
            recommend(&[f(Kind::RotationDueSoon)]).actions,
            [Action::Rotate]
        );
        assert_eq!(recommend(&[f(Kind::Leaked)]).actions, [Action::Rotate]);
        let r = recommend(&[f(Kind::OverScoped)]);
        assert_eq!(
            (r.actions, r.narrow_to),
            (vec![Action::Narrow], vec!["links:read".to_string()])
        );
        let r = recommend(&[f(Kind::RotationOverdue), f(Kind::OverScoped)]);
        assert_eq!(r.actions, [Action::Rotate, Action::Narrow]);
        assert!(
            r.text
                .starts_with("Issue the replacement with the narrowed scopes (links:read)"),
            "{}",
            r.text
        );
    }
}
