//! The audit report's model: the versioned JSON (`"version": 1`) that `--format json`
//! prints, and that notifications reuse. Every key of the workspace is listed; a key with
//! no finding has an empty `findings` list.

use crate::finding::{Environment, Severity};
use crate::mask::Workspace;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The report format's version.
pub const REPORT_VERSION: u32 = 1;

/// What a policy found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Found in code by the scanner.
    Leaked,
    /// Unused for the inactivity threshold.
    Inactive,
    /// A live key older than the rotation threshold.
    RotationOverdue,
    /// Rotation falls due within the due-soon window.
    RotationDueSoon,
    /// Holds scopes its usage does not need.
    OverScoped,
    /// Observed for less than the window: no scope verdict.
    InsufficientData,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 6] = [
        Kind::Leaked,
        Kind::Inactive,
        Kind::RotationOverdue,
        Kind::RotationDueSoon,
        Kind::OverScoped,
        Kind::InsufficientData,
    ];

    /// The kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Leaked => "leaked",
            Kind::Inactive => "inactive",
            Kind::RotationOverdue => "rotation-overdue",
            Kind::RotationDueSoon => "rotation-due-soon",
            Kind::OverScoped => "over-scoped",
            Kind::InsufficientData => "insufficient-data",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What to do about a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Revoke it.
    Revoke,
    /// Create a new key, deploy it, then revoke the old one.
    Rotate,
    /// Reduce its scopes to `narrow_to`.
    Narrow,
}

/// One verdict on one key, with the facts behind it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditFinding {
    /// The policy.
    pub kind: Kind,
    /// How bad.
    pub severity: Severity,
    /// One sentence for people.
    pub message: String,
    /// Dates, counts, scopes: what the verdict rests on.
    pub evidence: serde_json::Value,
    /// Set when an exception covered this finding but has expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expired_exception: Option<ExceptionNote>,
}

/// An exception, as reported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExceptionNote {
    /// Why.
    pub reason: String,
    /// Last day it holds.
    pub until: NaiveDate,
}

/// A finding that an active exception covers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Excepted {
    /// The finding, as it would have been reported.
    pub finding: AuditFinding,
    /// The exception.
    pub exception: ExceptionNote,
}

/// The one recommendation for a key.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recommendation {
    /// Zero or more of `revoke`, `rotate`, `narrow` (revoke stands alone).
    pub actions: Vec<Action>,
    /// With `narrow`: the exact scopes the key used.
    pub narrow_to: Vec<String>,
    /// The recommendation in words (empty when there is nothing to do).
    pub text: String,
}

/// `active` or `revoked`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    /// Not revoked.
    Active,
    /// Revoked (listed only with `--include-revoked`).
    Revoked,
}

/// One key of the workspace, with its verdicts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyReport {
    /// `key_2Nf8sQ1c`.
    pub id: String,
    /// Human name.
    pub name: String,
    /// `live` or `test`.
    pub environment: Environment,
    /// Last four characters of the key.
    pub last_four: String,
    /// Active or revoked.
    pub status: KeyStatus,
    /// Scopes held.
    pub scopes: Vec<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last use.
    pub last_used_at: Option<DateTime<Utc>>,
    /// Findings, most severe first.
    pub findings: Vec<AuditFinding>,
    /// Findings that exceptions cover.
    pub excepted: Vec<Excepted>,
    /// What to do.
    pub recommendation: Recommendation,
}

impl KeyReport {
    /// The worst severity among the findings.
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

/// The thresholds the audit ran with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Inactivity threshold, days.
    pub inactive_days: u32,
    /// Rotation threshold, days.
    pub rotation_days: u32,
    /// Due-soon window, days.
    pub due_soon_days: u32,
    /// Usage observation window, days.
    pub observation_days: u32,
    /// Whether test keys get rotation verdicts.
    pub rotate_test_keys: bool,
}

/// Counts over the report.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Keys listed.
    pub keys: u64,
    /// Active keys.
    pub active: u64,
    /// Revoked keys listed.
    pub revoked: u64,
    /// Keys with at least one finding.
    pub keys_with_findings: u64,
    /// Findings (excepted ones not counted).
    pub findings: u64,
    /// Findings per kind (every kind present).
    pub by_kind: BTreeMap<Kind, u64>,
    /// Findings per severity (every severity present).
    pub by_severity: BTreeMap<Severity, u64>,
    /// Keys per recommended action.
    pub actions: BTreeMap<Action, u64>,
    /// Findings covered by an active exception.
    pub excepted: u64,
    /// Findings whose exception expired.
    pub expired_exceptions: u64,
}

/// The whole audit report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditReport {
    /// [`REPORT_VERSION`].
    pub version: u32,
    /// `"api"` or `"inventory"`.
    pub source: String,
    /// The clock the policies ran with.
    pub generated_at: DateTime<Utc>,
    /// The workspace.
    pub workspace: Workspace,
    /// The thresholds in effect.
    pub thresholds: Thresholds,
    /// Problems with the audit itself (the audit key's own scopes, unknown exception keys).
    pub warnings: Vec<String>,
    /// Every key, the most severe first.
    pub keys: Vec<KeyReport>,
    /// Counts.
    pub summary: Summary,
}

impl AuditReport {
    /// The worst severity of any finding.
    pub fn worst(&self) -> Option<Severity> {
        self.keys.iter().filter_map(KeyReport::worst).max()
    }
}
