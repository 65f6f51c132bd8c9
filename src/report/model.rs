//! The one report model behind every notification, built from an audit or a scan in
//! memory (`From<&AuditReport>`, `From<&ScanReport>`) or from their JSON
//! (`keywarden report FILE`). It holds only redacted keys, `last_four`, key ids and
//! fingerprints.
//!
//! Its JSON form (`keywarden.report` webhooks, `report.json`) is versioned:
//!
//! ```json
//! {"version": 1, "kind": "audit"|"scan", "source": "acme", "generated_at": "RFC 3339",
//!  "summary": {"keys", "findings", "leaked", "revoke", "rotate", "narrow", "inactive"},
//!  "actions": {"revoke": [Entry], "rotate": [Entry], "narrow": [Entry], "leaks": [Entry]},
//!  "changes": {"first": bool, "new": [Entry], "resolved": [{"id", "label"}], "still_open": n},
//!  "items": [Entry]}
//! ```
//!
//! with `Entry = {"id", "key", "kind", "severity", "evidence", "owner"?, "action",
//! "location"?, "narrow_to": [scopes]}`.

use crate::audit::model::Kind;
use crate::finding::Severity;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The report model's schema version.
pub const MODEL_VERSION: u32 = 1;

/// What produced the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportKind {
    /// `keywarden audit`.
    Audit,
    /// `keywarden scan`.
    Scan,
}

/// One line of the report: a finding, or a key with an action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Stable identity across runs (`audit:<key id>:<kind>`, `scan:<fingerprint>:<path>:<rule>`).
    pub id: String,
    /// The key as people know it: `name (mk_live_…f456)` or the redacted key.
    pub key: String,
    /// Finding kind(s): `leaked`, `inactive`, `rotation-overdue`, … (in JSON one string,
    /// `kind`, the names joined with `, `).
    #[serde(rename = "kind", with = "kinds_text")]
    pub kinds: Vec<Kind>,
    /// How bad; `None` is `info` (a key with an action and no finding).
    #[serde(with = "severity_or_info")]
    pub severity: Option<Severity>,
    /// Why: dates, counts, file and line.
    pub evidence: String,
    /// Who created the key (`created_by`), when known.
    pub owner: Option<String>,
    /// What to do.
    pub action: String,
    /// `path:line` of a leak.
    pub location: Option<String>,
    /// Scopes to narrow to.
    #[serde(default)]
    pub narrow_to: Vec<String>,
}

/// Counts for the subject line and summary.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    /// Keys in the audit (0 for a scan).
    pub keys: usize,
    /// Findings in the full list.
    pub findings: usize,
    /// Leaked keys (audit) or leak findings (scan).
    pub leaked: usize,
    /// Keys to revoke.
    pub revoke: usize,
    /// Keys to rotate.
    pub rotate: usize,
    /// Keys to narrow.
    pub narrow: usize,
    /// Inactive keys.
    pub inactive: usize,
}

/// What to do, first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Actions {
    /// Keys to revoke.
    pub revoke: Vec<Entry>,
    /// Keys to rotate (create new → deploy → revoke old).
    pub rotate: Vec<Entry>,
    /// Keys to narrow to the scopes they use.
    pub narrow: Vec<Entry>,
    /// Leaks found.
    pub leaks: Vec<Entry>,
}

/// A finding of the previous report that is gone now.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FindingRef {
    /// Its [`Entry::id`].
    pub id: String,
    /// A short description (no secret).
    pub label: String,
}

/// What changed since the last delivered report of the same source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Changes {
    /// No report of this source was delivered before: everything is new.
    pub first: bool,
    /// Findings that were not in the last delivered report.
    pub new: Vec<Entry>,
    /// Findings of the last delivered report that are gone.
    pub resolved: Vec<FindingRef>,
    /// Findings in both.
    pub still_open: usize,
}

/// The report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportModel {
    /// [`MODEL_VERSION`].
    pub version: u32,
    /// Audit or scan.
    pub kind: ReportKind,
    /// The workspace name (audit) or scan target: reports of one source are compared.
    pub source: String,
    /// RFC 3339.
    pub generated_at: String,
    /// Counts.
    pub summary: Counts,
    /// What to do.
    pub actions: Actions,
    /// What changed (filled in when the report is enqueued).
    pub changes: Changes,
    /// Every finding, most severe first.
    pub items: Vec<Entry>,
}

impl ReportModel {
    /// The findings as references (what the store keeps to compute the next report's
    /// changes).
    pub fn finding_refs(&self) -> Vec<FindingRef> {
        let mut refs: Vec<FindingRef> = self
            .items
            .iter()
            .map(|e| FindingRef {
                id: e.id.clone(),
                label: match &e.location {
                    Some(l) => format!("{} at {l}", e.key),
                    None => format!("{}: {}", e.key, e.kind_text()),
                },
            })
            .collect();
        refs.sort();
        refs.dedup_by(|a, b| a.id == b.id);
        refs
    }

    /// Fills [`ReportModel::changes`] against the previous delivered report's findings
    /// (`None`: there was none).
    pub fn diff_against(&mut self, previous: Option<&[FindingRef]>) {
        let Some(prev) = previous else {
            self.changes = Changes {
                first: true,
                new: self.items.clone(),
                resolved: Vec::new(),
                still_open: 0,
            };
            return;
        };
        let before: BTreeSet<&str> = prev.iter().map(|r| r.id.as_str()).collect();
        let now: BTreeSet<&str> = self.items.iter().map(|e| e.id.as_str()).collect();
        self.changes = Changes {
            first: false,
            new: self
                .items
                .iter()
                .filter(|e| !before.contains(e.id.as_str()))
                .cloned()
                .collect(),
            resolved: prev
                .iter()
                .filter(|r| !now.contains(r.id.as_str()))
                .cloned()
                .collect(),
            still_open: now.intersection(&before).count(),
        };
    }

    /// The subject line: `[Keywarden] acme: 2 leaked, 3 to rotate, 5 inactive`.
    pub fn subject(&self) -> String {
        let s = &self.summary;
        let parts: Vec<String> = [
            (s.leaked, "leaked"),
            (s.revoke, "to revoke"),
            (s.rotate, "to rotate"),
            (s.narrow, "to narrow"),
            (s.inactive, "inactive"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        let body = if parts.is_empty() {
            "nothing to do".to_string()
        } else {
            parts.join(", ")
        };
        // A mail header line holds at most 998 bytes: the source (a job or workspace name)
        // is cut so the subject always fits, whatever the name.
        let mut source: String = self
            .source
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_SUBJECT_SOURCE + 1)
            .collect();
        if source.chars().count() > MAX_SUBJECT_SOURCE {
            source = source.chars().take(MAX_SUBJECT_SOURCE).collect::<String>() + "…";
        }
        format!("[Keywarden] {source}: {body}")
    }
}

/// The most characters of the source a subject shows.
const MAX_SUBJECT_SOURCE: usize = 120;

impl Entry {
    /// The kinds as written in reports: `leaked, rotation-overdue`.
    pub fn kind_text(&self) -> String {
        let mut names: Vec<&str> = self.kinds.iter().map(|k| k.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        names.join(", ")
    }

    /// `critical` … `low`, or `info`.
    pub fn severity_text(&self) -> &'static str {
        self.severity.map_or("info", Severity::as_str)
    }
}

/// `kind` in JSON: the kinds' names joined with `, ` (sorted).
mod kinds_text {
    use crate::audit::model::Kind;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(kinds: &[Kind], s: S) -> Result<S::Ok, S::Error> {
        let mut names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        s.serialize_str(&names.join(", "))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Kind>, D::Error> {
        let text = String::deserialize(d)?;
        text.split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| {
                Kind::ALL
                    .into_iter()
                    .find(|k| k.as_str() == n)
                    .ok_or_else(|| D::Error::custom(format!("unknown finding kind {n:?}")))
            })
            .collect()
    }
}

/// `severity` in JSON: the severity's name, or `info` for none.
mod severity_or_info {
    use crate::finding::Severity;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(sev: &Option<Severity>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(sev.map_or("info", Severity::as_str))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Severity>, D::Error> {
        let text = String::deserialize(d)?;
        if text == "info" {
            return Ok(None);
        }
        text.parse::<Severity>().map(Some).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_long_source_is_cut_in_the_subject() {
        let mut m = super::ReportModel::from_json(AUDIT, "x", None).unwrap();
        m.source = "w".repeat(10_000);
        let s = m.subject();
        assert!(s.len() < 300, "{}", s.len());
        assert!(s.contains("w…:"), "{s}");
    }

    use super::*;

    pub(crate) const AUDIT: &str = r#"{
      "version": 1,
      "workspace": {"id": "ws_1", "name": "acme"},
      "keys": [
        {"id": "key_a", "name": "CI deploy", "environment": "live", "last_four": "p7dc",
         "created_by": {"id": "usr_1", "name": "Ana", "email": "ana@example.com"},
         "findings": [{"kind": "leaked", "severity": "critical", "evidence": {"path": ".env.production", "line": 1}},
                      {"kind": "rotation-overdue", "severity": "high", "evidence": "created 2026-01-02, 329 days ago"}],
         "recommendation": {"actions": ["revoke"], "narrow_to": []}},
        {"id": "key_b", "name": "Reporting", "environment": "live", "last_four": "f456",
         "created_by": null,
         "findings": [{"kind": "over-scoped", "severity": "medium", "evidence": {"unused": ["links:write"]}}],
         "recommendation": {"actions": ["rotate", "narrow"], "narrow_to": ["analytics:read"]}},
        {"id": "key_c", "name": "Old", "environment": "test", "last_four": "zz99",
         "findings": [{"kind": "inactive", "severity": "low", "evidence": "last used 2026-03-01"}],
         "recommendation": {"actions": ["revoke"]}},
        {"id": "key_d", "name": "Fine", "environment": "live", "last_four": "ok00", "findings": [],
         "recommendation": {"actions": []}}
      ],
      "summary": {}
    }"#;

    #[test]
    fn audit_json_to_model_and_subject() {
        let m = ReportModel::from_json(AUDIT, "audit.json", None).unwrap();
        assert_eq!(m.kind, ReportKind::Audit);
        assert_eq!(m.source, "acme");
        assert_eq!(m.summary.keys, 4);
        assert_eq!(m.actions.revoke.len(), 2);
        assert_eq!(m.actions.rotate.len(), 1);
        assert_eq!(m.actions.narrow[0].narrow_to, vec!["analytics:read"]);
        assert_eq!(
            m.actions.leaks[0].owner.as_deref(),
            Some("Ana <ana@example.com>")
        );
        assert_eq!(m.items[0].severity, Some(Severity::Critical));
        assert_eq!(
            m.subject(),
            "[Keywarden] acme: 1 leaked, 2 to revoke, 1 to rotate, 1 to narrow, 1 inactive"
        );
    }

    #[test]
    fn changes_since_last_delivered() {
        let mut m = ReportModel::from_json(AUDIT, "a", None).unwrap();
        m.diff_against(None);
        assert!(m.changes.first);
        assert_eq!(m.changes.new.len(), 4);
        let prev = vec![
            FindingRef {
                id: "audit:key_a:leaked".into(),
                label: "a".into(),
            },
            FindingRef {
                id: "audit:key_z:inactive".into(),
                label: "gone".into(),
            },
        ];
        m.diff_against(Some(&prev));
        assert!(!m.changes.first);
        assert_eq!(m.changes.new.len(), 3);
        assert_eq!(m.changes.still_open, 1);
        assert_eq!(m.changes.resolved[0].label, "gone");
    }

    #[test]
    fn bad_input_says_what() {
        let e = ReportModel::from_json("{\"x\":1}", "in.json", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("in.json") && e.contains("neither"), "{e}");
        let e = ReportModel::from_json("{", "in.json", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 1"), "{e}");
    }
}
