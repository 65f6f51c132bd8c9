//! leaked: a scan finding (`keywarden scan --format json`) whose environment and last four
//! characters match an active key names that key.

use super::model::{AuditFinding, Kind};
use crate::error::{Error, Result};
use crate::finding::{Environment, Severity};
use crate::mask::{ApiKey, Verification};
use serde::Deserialize;
use serde_json::json;
use std::path::Path;

/// The part of a scan finding the audit uses (never a full key: the scanner's JSON has none).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct ScanHit {
    /// File.
    pub path: String,
    /// 1-based line.
    pub line: u64,
    /// `live` or `test`.
    pub environment: Environment,
    /// Last four characters of the found key.
    pub last_four: String,
    /// Redacted form.
    pub redacted: String,
    /// SHA-256 of the found key.
    pub fingerprint: String,
    /// Set when suppressed (such findings do not count).
    #[serde(default)]
    pub suppressed: Option<serde_json::Value>,
    /// `scan --verify`'s answer, when it ran.
    #[serde(default)]
    pub verified: Option<Verification>,
}

#[derive(Deserialize)]
struct ScanJson {
    findings: Vec<ScanHit>,
}

/// Parses the scanner's JSON report (`{"version": 1, "findings": [...]}`).
pub fn parse_findings(path: &Path, text: &str) -> Result<Vec<ScanHit>> {
    let de = &mut serde_json::Deserializer::from_str(text);
    let doc: ScanJson = serde_path_to_error::deserialize(de).map_err(|e| Error::Input {
        path: path.to_path_buf(),
        message: format!(
            "field `{}`: {}",
            e.path(),
            crate::error::scrub(&e.inner().to_string())
        ),
        hint: "pass the JSON report of `keywarden scan --format json`".into(),
    })?;
    Ok(doc.findings)
}

/// The leaked verdict for `key`: unsuppressed hits with its environment and last four,
/// not verified revoked. `same_suffix` is how many active keys share that environment and
/// last four (more than one makes the match ambiguous; each candidate is named).
pub fn check(key: &ApiKey, hits: &[ScanHit], same_suffix: usize) -> Option<AuditFinding> {
    let matching: Vec<&ScanHit> = hits
        .iter()
        .filter(|h| {
            h.suppressed.is_none()
                && h.verified != Some(Verification::Revoked)
                && h.environment == key.environment
                && h.last_four == key.last_four
        })
        .collect();
    let first = matching.first()?;
    let locations: Vec<_> = matching
        .iter()
        .map(|h| json!({"path": h.path, "line": h.line, "redacted": h.redacted, "fingerprint": h.fingerprint}))
        .collect();
    let mut message = format!(
        "found in code: {}:{} ({}){}",
        first.path,
        first.line,
        first.redacted,
        match matching.len() {
            1 => String::new(),
            n => format!(" and {} more place(s)", n - 1),
        }
    );
    if same_suffix > 1 {
        message.push_str(&format!(
            "; {same_suffix} active keys end in …{}, so the match is ambiguous",
            key.last_four
        ));
    }
    Some(AuditFinding {
        kind: Kind::Leaked,
        severity: match key.environment {
            Environment::Live => Severity::Critical,
            Environment::Test => Severity::High,
        },
        message,
        evidence: json!({"locations": locations, "ambiguous": same_suffix > 1, "candidates": same_suffix}),
        expired_exception: None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::testkit::key;
    use super::*;

    fn hit(env: Environment, last_four: &str) -> ScanHit {
        ScanHit {
            path: "src/app.js".into(),
            line: 3,
            environment: env,
            last_four: last_four.into(),
            redacted: format!("mk_live_abcd…{last_four}"),
            fingerprint: "00".repeat(32),
            suppressed: None,
            verified: None,
        }
    }

    #[test]
    fn matches_environment_and_last_four() {
        let mut k = key("live", "2026-01-01T00:00:00Z");
        k.last_four = "p7dc".into();
        let f = check(&k, &[hit(Environment::Live, "p7dc")], 1).unwrap();
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(f.evidence["locations"][0]["path"], "src/app.js");
        assert!(check(&k, &[hit(Environment::Test, "p7dc")], 1).is_none());
        assert!(check(&k, &[hit(Environment::Live, "p7dd")], 1).is_none());
        let mut revoked = hit(Environment::Live, "p7dc");
        revoked.verified = Some(Verification::Revoked);
        assert!(check(&k, &[revoked], 1).is_none());
        let mut sup = hit(Environment::Live, "p7dc");
        sup.suppressed = Some(json!({"kind": "baseline"}));
        assert!(check(&k, &[sup], 1).is_none());
        let f = check(&k, &[hit(Environment::Live, "p7dc")], 2).unwrap();
        assert_eq!(f.evidence["ambiguous"], true);
    }

    #[test]
    fn parse_errors_name_the_field() {
        let e = parse_findings(
            Path::new("scan.json"),
            r#"{"findings":[{"path":"a","line":"x"}]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("scan.json") && e.contains("findings[0].line"),
            "{e}"
        );
    }
}
