//! The report model built from an audit or a scan: [`From<&AuditReport>`] and
//! [`From<&ScanReport>`] in process, and the views that `keywarden report FILE`'s JSON
//! input ([`super::input`]) fills, through the same two builders.

use super::model::{Actions, Changes, Counts, Entry, MODEL_VERSION, ReportKind, ReportModel};
use crate::audit::model::{Action, AuditReport, Kind};
use crate::finding::{Environment, Severity};
use crate::scan::ScanReport;
use serde_json::Value;
use std::collections::BTreeSet;

/// One key of an audit, as the model needs it.
pub(super) struct KeyView {
    pub(super) id: String,
    pub(super) name: Option<String>,
    pub(super) environment: Option<Environment>,
    pub(super) last_four: Option<String>,
    pub(super) owner: Option<String>,
    pub(super) findings: Vec<FindingView>,
    pub(super) actions: Vec<Action>,
    pub(super) narrow_to: Vec<String>,
    /// The audit's own wording of what to do.
    pub(super) text: Option<String>,
}

/// One audit verdict: its kind, severity (`None`: info) and a sentence.
pub(super) struct FindingView {
    pub(super) kind: Kind,
    pub(super) severity: Option<Severity>,
    pub(super) text: String,
}

/// One scan finding that counts (suppressed ones are left out before).
pub(super) struct LeakView {
    pub(super) rule: String,
    pub(super) severity: Severity,
    pub(super) context: String,
    pub(super) path: String,
    pub(super) line: u64,
    pub(super) environment: Option<Environment>,
    pub(super) redacted: String,
    pub(super) fingerprint: String,
    pub(super) fix: String,
}

/// The message when there is one, else the evidence as one line.
pub(super) fn finding_text(message: Option<&str>, evidence_value: &Value) -> String {
    match message {
        Some(m) if !m.is_empty() => m.to_string(),
        _ => evidence(evidence_value),
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
    /// The same report under the name `source` (reports of one source are compared).
    pub fn named(mut self, source: &str) -> ReportModel {
        self.source = source.to_string();
        self
    }
}

impl From<&AuditReport> for ReportModel {
    fn from(r: &AuditReport) -> ReportModel {
        let keys = r
            .keys
            .iter()
            .map(|k| KeyView {
                id: k.id.clone(),
                name: Some(k.name.clone()).filter(|n| !n.is_empty()),
                environment: Some(k.environment),
                last_four: Some(k.last_four.clone()),
                owner: None,
                findings: k
                    .findings
                    .iter()
                    .map(|f| FindingView {
                        kind: f.kind,
                        severity: Some(f.severity),
                        text: finding_text(Some(&f.message), &f.evidence),
                    })
                    .collect(),
                actions: k.recommendation.actions.clone(),
                narrow_to: k.recommendation.narrow_to.clone(),
                text: Some(k.recommendation.text.clone()),
            })
            .collect();
        let source = Some(r.workspace.name.clone())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| r.workspace.id.clone());
        build_audit(source, Some(rfc3339(r.generated_at)), keys)
    }
}

impl From<&ScanReport> for ReportModel {
    /// The model of a scan, named `scan` (see [`ReportModel::named`]).
    fn from(r: &ScanReport) -> ReportModel {
        let leaks = r
            .findings
            .iter()
            .filter(|f| f.suppressed.is_none())
            .map(|f| LeakView {
                rule: f.rule.clone(),
                severity: f.severity,
                context: f.context.as_str().to_string(),
                path: f.path.clone(),
                line: f.line,
                environment: Some(f.environment),
                redacted: f.redacted.clone(),
                fingerprint: f.fingerprint.to_string(),
                fix: f.fix.clone(),
            })
            .collect();
        build_scan("scan", None, leaks)
    }
}

fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Most severe first (`None`, info, last).
fn by_severity(a: &Entry, b: &Entry) -> std::cmp::Ordering {
    b.severity.cmp(&a.severity)
}

fn now_rfc3339() -> String {
    rfc3339(chrono::Utc::now())
}

pub(super) fn build_scan(
    source: &str,
    generated_at: Option<String>,
    leaks: Vec<LeakView>,
) -> ReportModel {
    let mut items: Vec<Entry> = leaks
        .into_iter()
        .map(|f| {
            let env = f.environment.map_or("unknown", Environment::as_str);
            Entry {
                id: format!("scan:{}:{}:{}", f.fingerprint, f.path, f.rule),
                key: f.redacted,
                kinds: vec![Kind::Leaked],
                evidence: format!("{env} key in {} ({}), rule {}", f.path, f.context, f.rule),
                severity: Some(f.severity),
                owner: None,
                action: f.fix,
                location: Some(format!("{}:{}", f.path, f.line)),
                narrow_to: Vec::new(),
            }
        })
        .collect();
    items.sort_by(|a, b| {
        by_severity(a, b).then_with(|| (&a.location, &a.id).cmp(&(&b.location, &b.id)))
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
        generated_at: generated_at.unwrap_or_else(now_rfc3339),
        summary,
        actions: Actions {
            leaks: items.clone(),
            ..Actions::default()
        },
        changes: Changes::default(),
        items,
    }
}

pub(super) fn build_audit(
    source: String,
    generated_at: Option<String>,
    keys: Vec<KeyView>,
) -> ReportModel {
    let mut items = Vec::new();
    let mut actions = Actions::default();
    let mut summary = Counts {
        keys: keys.len(),
        ..Counts::default()
    };
    for k in &keys {
        let prefix = match k.environment {
            Some(Environment::Live) => "mk_live_",
            Some(Environment::Test) => "mk_test_",
            None => "mk_",
        };
        let four = k.last_four.as_deref().unwrap_or("????");
        let key = format!("{} ({prefix}…{four})", k.name.as_deref().unwrap_or(&k.id));
        let action = k
            .text
            .clone()
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| describe_actions(&k.actions, &k.narrow_to));
        let entry =
            |kinds: Vec<Kind>, severity: Option<Severity>, evidence: String, id: String| Entry {
                id,
                key: key.clone(),
                kinds,
                severity,
                evidence,
                owner: k.owner.clone(),
                action: action.clone(),
                location: None,
                narrow_to: k.narrow_to.clone(),
            };
        for f in &k.findings {
            let e = entry(
                vec![f.kind],
                f.severity,
                f.text.clone(),
                format!("audit:{}:{}", k.id, f.kind),
            );
            if f.kind == Kind::Leaked {
                actions.leaks.push(e.clone());
            }
            items.push(e);
        }
        let kinds: BTreeSet<Kind> = k.findings.iter().map(|f| f.kind).collect();
        summary.leaked += usize::from(kinds.contains(&Kind::Leaked));
        summary.inactive += usize::from(kinds.contains(&Kind::Inactive));
        let worst = k.findings.iter().filter_map(|f| f.severity).max();
        let evidence = k
            .findings
            .iter()
            .map(|f| {
                if f.text.is_empty() {
                    f.kind.to_string()
                } else {
                    format!("{}: {}", f.kind, f.text)
                }
            })
            .collect::<Vec<_>>()
            .join("; ");
        let per_key = entry(
            kinds.into_iter().collect(),
            worst,
            evidence,
            format!("audit:{}", k.id),
        );
        for a in &k.actions {
            match a {
                Action::Revoke => actions.revoke.push(per_key.clone()),
                Action::Rotate => actions.rotate.push(per_key.clone()),
                Action::Narrow => actions.narrow.push(per_key.clone()),
            }
        }
    }
    summary.revoke = actions.revoke.len();
    summary.rotate = actions.rotate.len();
    summary.narrow = actions.narrow.len();
    summary.findings = items.len();
    items.sort_by(|a, b| by_severity(a, b).then_with(|| (&a.key, &a.id).cmp(&(&b.key, &b.id))));
    ReportModel {
        version: MODEL_VERSION,
        kind: ReportKind::Audit,
        source,
        generated_at: generated_at.unwrap_or_else(now_rfc3339),
        summary,
        actions,
        changes: Changes::default(),
        items,
    }
}

fn describe_actions(actions: &[Action], narrow_to: &[String]) -> String {
    let has = |a: Action| actions.contains(&a);
    let scopes = narrow_to.join(", ");
    if has(Action::Revoke) {
        "revoke it in Settings → API Keys".into()
    } else if has(Action::Rotate) && has(Action::Narrow) {
        format!(
            "rotate: create the replacement with only [{scopes}], deploy it, then revoke this key"
        )
    } else if has(Action::Rotate) {
        "rotate: create a new key, deploy it, then revoke this one".into()
    } else if has(Action::Narrow) {
        format!("narrow to [{scopes}]: issue a key with only these scopes and revoke this one")
    } else {
        "no action".into()
    }
}
