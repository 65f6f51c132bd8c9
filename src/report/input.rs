//! Inputs of the report model: the JSON of `keywarden audit --format json` (issue 4's
//! documented shape: `{"version", "workspace": {id, name}, "keys": [{id, name,
//! environment, last_four, created_by, findings: [{kind, severity, evidence}],
//! recommendation: {actions, narrow_to}}], "summary"}`) and of `keywarden scan --format
//! json`. Unknown fields are ignored, so both can grow.

use super::model::{Actions, Changes, Counts, Entry, MODEL_VERSION, ReportKind, ReportModel};
use crate::error::{Error, Result};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeSet;

#[derive(Deserialize)]
struct AuditIn {
    #[serde(default)]
    generated_at: Option<String>,
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
    /// A sentence for people (preferred over the raw evidence when present).
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    evidence: Value,
}

impl AuditFindingIn {
    /// The audit's message, else the evidence as one line.
    fn text(&self) -> String {
        match &self.message {
            Some(m) if !m.is_empty() => m.clone(),
            _ => evidence(&self.evidence),
        }
    }
}

#[derive(Deserialize, Default)]
struct RecommendationIn {
    #[serde(default)]
    actions: Vec<String>,
    #[serde(default)]
    narrow_to: Vec<String>,
    /// The audit's own wording of what to do.
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize)]
struct ScanIn {
    findings: Vec<ScanFindingIn>,
    /// When the scan ran (scan JSON written since this field exists).
    #[serde(default)]
    generated_at: Option<String>,
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

pub(super) fn severity_rank(s: &str) -> u8 {
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
            message: format!(
                "{} (line {}, column {})",
                crate::error::scrub(&e.to_string()),
                e.line(),
                e.column()
            ),
        };
        let v: Value = serde_json::from_str(text).map_err(err)?;
        if v.get("keys").is_some() {
            Ok(Self::from_audit(serde_json::from_value(v).map_err(err)?))
        } else if v.get("findings").is_some() {
            // Without --source, the scan is named after its file: `Scan of scan.json`.
            let name = std::path::Path::new(origin)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .filter(|n| n != "-")
                .unwrap_or_else(|| "scan".into());
            Ok(Self::from_scan_in(
                serde_json::from_value(v).map_err(err)?,
                source.unwrap_or(&name),
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
    pub fn from_scan(report: &crate::scan::ScanReport, source: &str) -> Result<ReportModel> {
        let findings = serde_json::to_value(&report.findings)
            .and_then(serde_json::from_value::<Vec<ScanFindingIn>>)
            .map_err(|e| Error::ReportInput {
                origin: source.to_string(),
                message: crate::error::scrub(&e.to_string()),
            })?;
        Ok(Self::from_scan_in(
            ScanIn {
                findings,
                generated_at: None,
            },
            source,
        ))
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
            generated_at: input.generated_at.clone().unwrap_or_else(|| {
                chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            }),
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
        let generated_at = input.generated_at.clone();
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
            let action = rec
                .and_then(|r| r.text.clone())
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| describe_actions(rec_actions, &narrow_to));
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
                    evidence: f.text(),
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
                        let e = f.text();
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
            generated_at: generated_at.unwrap_or_else(|| {
                chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            }),
            summary,
            actions,
            changes: Changes::default(),
            items,
        }
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
