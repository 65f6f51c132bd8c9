//! `keywarden report FILE`'s input, the one place JSON comes in: the output of
//! `keywarden audit --format json` (`{"version", "workspace": {id, name}, "keys": [{id,
//! name, environment, last_four, created_by, findings: [{kind, severity, message,
//! evidence}], recommendation: {actions, narrow_to, text}}]}`) or of `keywarden scan
//! --format json`, read into the views of [`super::build`]. Unknown fields are ignored, so
//! both can grow.

use super::build::{FindingView, KeyView, LeakView, build_audit, build_scan, finding_text};
use super::model::ReportModel;
use crate::audit::model::{Action, Kind};
use crate::error::{Error, Result};
use crate::finding::{Environment, Severity};
use serde::Deserialize;
use serde_json::Value;

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
    environment: Option<Environment>,
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
    kind: Kind,
    #[serde(default)]
    severity: Option<Severity>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    evidence: Value,
}

#[derive(Deserialize, Default)]
struct RecommendationIn {
    #[serde(default)]
    actions: Vec<Action>,
    #[serde(default)]
    narrow_to: Vec<String>,
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
    severity: Severity,
    context: String,
    path: String,
    line: u64,
    #[serde(default)]
    environment: Option<Environment>,
    redacted: String,
    fingerprint: String,
    #[serde(default)]
    fix: String,
    #[serde(default)]
    suppressed: Value,
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

impl ReportModel {
    /// Parses the JSON of `keywarden audit --format json` (has `keys`) or
    /// `keywarden scan --format json` (has `findings`). `origin` names the input in errors;
    /// `source` overrides the scan's source name (default: the file's name).
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
            let input: AuditIn = serde_json::from_value(v).map_err(err)?;
            let source = input
                .workspace
                .as_ref()
                .and_then(|w| w.name.clone().or_else(|| w.id.clone()))
                .unwrap_or_else(|| "workspace".into());
            let keys = input
                .keys
                .into_iter()
                .map(|k| {
                    let rec = k.recommendation.unwrap_or_default();
                    KeyView {
                        owner: owner(&k.created_by),
                        findings: k
                            .findings
                            .iter()
                            .map(|f| FindingView {
                                kind: f.kind,
                                severity: f.severity,
                                text: finding_text(f.message.as_deref(), &f.evidence),
                            })
                            .collect(),
                        id: k.id,
                        name: k.name,
                        environment: k.environment,
                        last_four: k.last_four,
                        actions: rec.actions,
                        narrow_to: rec.narrow_to,
                        text: rec.text,
                    }
                })
                .collect();
            Ok(build_audit(source, input.generated_at, keys))
        } else if v.get("findings").is_some() {
            // Without --source, the scan is named after its file: `Scan of scan.json`.
            let name = std::path::Path::new(origin)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .filter(|n| n != "-")
                .unwrap_or_else(|| "scan".into());
            let input: ScanIn = serde_json::from_value(v).map_err(err)?;
            let leaks = input
                .findings
                .into_iter()
                .filter(|f| f.suppressed.is_null())
                .map(|f| LeakView {
                    rule: f.rule,
                    severity: f.severity,
                    context: f.context,
                    path: f.path,
                    line: f.line,
                    environment: f.environment,
                    redacted: f.redacted,
                    fingerprint: f.fingerprint,
                    fix: f.fix,
                })
                .collect();
            Ok(build_scan(
                source.unwrap_or(&name),
                input.generated_at,
                leaks,
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
}
