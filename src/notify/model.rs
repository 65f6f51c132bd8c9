//! The one report model behind every notification, built from the JSON of
//! `keywarden audit --format json` or `keywarden scan --format json` (or a scan in
//! memory). It holds only redacted keys, `last_four`, key ids and fingerprints.
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

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
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
    /// Finding kind(s): `leaked`, `inactive`, `rotation-overdue`, …
    pub kind: String,
    /// `critical`, `high`, `medium`, `low` or `info`.
    pub severity: String,
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

// ---- inputs -------------------------------------------------------------------------

#[derive(Deserialize)]
struct AuditIn {
    #[serde(default)]
    workspace: Option<WorkspaceIn>,
    keys: Vec<KeyIn>,
}

#[derive(Deserialize)]
struct WorkspaceIn {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct KeyIn {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    environment: Option<String>,
    #[serde(default)]
    last_four: Option<String>,
    #[serde(default)]
    created_by: Value,
    #[serde(default)]
    findings: Vec<AuditFindingIn>,
    #[serde(default)]
    recommendation: Option<RecommendationIn>,
}

#[derive(Deserialize)]
struct AuditFindingIn {
    kind: String,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    evidence: Value,
}

#[derive(Deserialize, Default)]
struct RecommendationIn {
    #[serde(default)]
    actions: Vec<String>,
    #[serde(default)]
    narrow_to: Vec<String>,
}

#[derive(Deserialize)]
struct ScanIn {
    findings: Vec<ScanFindingIn>,
}

#[derive(Deserialize)]
struct ScanFindingIn {
    rule: String,
    severity: String,
    context: String,
    path: String,
    line: u64,
    #[serde(default)]
    environment: Option<String>,
    redacted: String,
    fingerprint: String,
    #[serde(default)]
    fix: String,
    #[serde(default)]
    suppressed: Value,
}

fn severity_rank(s: &str) -> u8 {
    match s {
        "critical" => 0,
        "high" => 1,
        "medium" => 2,
        "low" => 3,
        _ => 4,
    }
}

/// `created_by`: a member object (`name <email>`, or its email or id) or a string.
fn owner(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Object(m) => {
            let get = |k: &str| m.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
            match (get("name"), get("email"), get("id")) {
                (Some(n), Some(e), _) => Some(format!("{n} <{e}>")),
                (Some(n), None, _) => Some(n.to_string()),
                (None, Some(e), _) => Some(e.to_string()),
                (None, None, Some(id)) => Some(id.to_string()),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Evidence as one line: a string as is, an object as `key: value, …`.
fn evidence(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}: {s}"),
                Value::Array(a) => format!(
                    "{k}: {}",
                    a.iter()
                        .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                other => format!("{k}: {other}"),
            })
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

impl ReportModel {
    /// Parses the JSON of `keywarden audit --format json` (has `keys`) or
    /// `keywarden scan --format json` (has `findings`). `origin` names the input in errors;
    /// `source` overrides the scan's source name (default `scan`).
    pub fn from_json(text: &str, origin: &str, source: Option<&str>) -> Result<ReportModel> {
        let err = |e: serde_json::Error| Error::ReportInput {
            origin: origin.to_string(),
            message: format!("{e} (line {}, column {})", e.line(), e.column()),
        };
        let v: Value = serde_json::from_str(text).map_err(err)?;
        if v.get("keys").is_some() {
            Ok(Self::from_audit(serde_json::from_value(v).map_err(err)?))
        } else if v.get("findings").is_some() {
            Ok(Self::from_scan_in(
                serde_json::from_value(v).map_err(err)?,
                source.unwrap_or("scan"),
            ))
        } else {
            Err(Error::ReportInput {
                origin: origin.to_string(),
                message:
                    "neither an audit report (no \"keys\") nor a scan report (no \"findings\")"
                        .into(),
            })
        }
    }

    /// Builds the model of a scan run in this process.
    pub fn from_scan(report: &crate::scan::ScanReport, source: &str) -> ReportModel {
        let findings = serde_json::to_value(&report.findings)
            .and_then(serde_json::from_value::<Vec<ScanFindingIn>>)
            .unwrap_or_default();
        Self::from_scan_in(ScanIn { findings }, source)
    }

    fn from_scan_in(input: ScanIn, source: &str) -> ReportModel {
        let mut items: Vec<Entry> = input
            .findings
            .into_iter()
            .filter(|f| f.suppressed.is_null())
            .map(|f| {
                let env = f.environment.as_deref().unwrap_or("unknown");
                Entry {
                    id: format!("scan:{}:{}:{}", f.fingerprint, f.path, f.rule),
                    key: f.redacted,
                    kind: "leaked".into(),
                    evidence: format!("{env} key in {} ({}), rule {}", f.path, f.context, f.rule),
                    severity: f.severity,
                    owner: None,
                    action: f.fix,
                    location: Some(format!("{}:{}", f.path, f.line)),
                    narrow_to: Vec::new(),
                }
            })
            .collect();
        items.sort_by(|a, b| {
            (severity_rank(&a.severity), &a.location, &a.id).cmp(&(
                severity_rank(&b.severity),
                &b.location,
                &b.id,
            ))
        });
        let summary = Counts {
            keys: 0,
            findings: items.len(),
            leaked: items.len(),
            ..Counts::default()
        };
        ReportModel {
            version: MODEL_VERSION,
            kind: ReportKind::Scan,
            source: source.to_string(),
            generated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            summary,
            actions: Actions {
                leaks: items.clone(),
                ..Actions::default()
            },
            changes: Changes::default(),
            items,
        }
    }

    fn from_audit(input: AuditIn) -> ReportModel {
        let source = input
            .workspace
            .as_ref()
            .and_then(|w| w.name.clone().or_else(|| w.id.clone()))
            .unwrap_or_else(|| "workspace".into());
        let mut items = Vec::new();
        let mut actions = Actions::default();
        let mut summary = Counts {
            keys: input.keys.len(),
            ..Counts::default()
        };
        for k in &input.keys {
            let env = k.environment.as_deref().unwrap_or("");
            let prefix = match env {
                "live" => "mk_live_",
                "test" => "mk_test_",
                _ => "mk_",
            };
            let four = k.last_four.as_deref().unwrap_or("????");
            let key = match &k.name {
                Some(n) => format!("{n} ({prefix}…{four})"),
                None => format!("{} ({prefix}…{four})", k.id),
            };
            let owner = owner(&k.created_by);
            let rec = k.recommendation.as_ref();
            let rec_actions = rec.map(|r| r.actions.as_slice()).unwrap_or_default();
            let narrow_to = rec.map(|r| r.narrow_to.clone()).unwrap_or_default();
            let action = describe_actions(rec_actions, &narrow_to);
            let mut worst = "info".to_string();
            for f in &k.findings {
                let severity = f.severity.clone().unwrap_or_else(|| "info".into());
                if severity_rank(&severity) < severity_rank(&worst) {
                    worst = severity.clone();
                }
                let entry = Entry {
                    id: format!("audit:{}:{}", k.id, f.kind),
                    key: key.clone(),
                    kind: f.kind.clone(),
                    severity,
                    evidence: evidence(&f.evidence),
                    owner: owner.clone(),
                    action: action.clone(),
                    location: None,
                    narrow_to: narrow_to.clone(),
                };
                if f.kind == "leaked" {
                    actions.leaks.push(entry.clone());
                }
                items.push(entry);
            }
            let kinds: BTreeSet<&str> = k.findings.iter().map(|f| f.kind.as_str()).collect();
            summary.leaked += usize::from(kinds.contains("leaked"));
            summary.inactive += usize::from(kinds.contains("inactive"));
            let per_key = Entry {
                id: format!("audit:{}", k.id),
                key: key.clone(),
                kind: kinds.iter().copied().collect::<Vec<_>>().join(", "),
                severity: worst,
                evidence: k
                    .findings
                    .iter()
                    .map(|f| {
                        let e = evidence(&f.evidence);
                        if e.is_empty() {
                            f.kind.clone()
                        } else {
                            format!("{}: {e}", f.kind)
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
                owner: owner.clone(),
                action: action.clone(),
                location: None,
                narrow_to: narrow_to.clone(),
            };
            for a in rec_actions {
                match a.as_str() {
                    "revoke" => actions.revoke.push(per_key.clone()),
                    "rotate" => actions.rotate.push(per_key.clone()),
                    "narrow" => actions.narrow.push(per_key.clone()),
                    _ => {}
                }
            }
        }
        summary.revoke = actions.revoke.len();
        summary.rotate = actions.rotate.len();
        summary.narrow = actions.narrow.len();
        summary.findings = items.len();
        items.sort_by(|a, b| {
            (severity_rank(&a.severity), &a.key, &a.id).cmp(&(
                severity_rank(&b.severity),
                &b.key,
                &b.id,
            ))
        });
        ReportModel {
            version: MODEL_VERSION,
            kind: ReportKind::Audit,
            source,
            generated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            summary,
            actions,
            changes: Changes::default(),
            items,
        }
    }

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
                    None => format!("{}: {}", e.key, e.kind),
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
        let source: String = self.source.chars().filter(|c| !c.is_control()).collect();
        format!("[Keywarden] {source}: {body}")
    }
}

fn describe_actions(actions: &[String], narrow_to: &[String]) -> String {
    let has = |a: &str| actions.iter().any(|x| x == a);
    let scopes = narrow_to.join(", ");
    if has("revoke") {
        "revoke it in Settings → API Keys".into()
    } else if has("rotate") && has("narrow") {
        format!(
            "rotate: create the replacement with only [{scopes}], deploy it, then revoke this key"
        )
    } else if has("rotate") {
        "rotate: create a new key, deploy it, then revoke this one".into()
    } else if has("narrow") {
        format!("narrow to [{scopes}]: issue a key with only these scopes and revoke this one")
    } else {
        "no action".into()
    }
}

#[cfg(test)]
mod tests {
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
        assert_eq!(m.items[0].severity, "critical");
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
