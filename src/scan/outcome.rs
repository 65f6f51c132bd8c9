//! From raw findings to a report: allowlist, cross-environment findings, order, summary.

use super::WalkResult;
use super::exposure::Coverage;
use crate::config::AllowEntry;
use crate::finding::{Context, Environment, Finding, Severity, Suppression, Verification};
use crate::rules::RuleDb;
use crate::secret::Fingerprint;
use chrono::NaiveDate;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// A file or directory that was not scanned.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    /// Its path.
    pub path: String,
    /// Why.
    pub reason: String,
    /// True when it is an error (unreadable, loop), not a choice (symlink, size limit).
    pub error: bool,
}

/// A match that a placeholder filter recognised (not a finding).
#[derive(Debug, Clone, Serialize)]
pub struct PlaceholderHit {
    /// File.
    pub path: String,
    /// 1-based line.
    pub line: u64,
    /// 1-based column.
    pub column: u64,
    /// Redacted form (placeholders are redacted too: a filter can be wrong).
    pub redacted: String,
    /// The placeholder filter's id.
    pub placeholder: String,
    /// The rule that matched.
    pub rule: String,
}

/// An allowlist entry that no longer does anything.
#[derive(Debug, Clone, Serialize)]
pub struct StaleEntry {
    /// `file:line` of the entry.
    pub location: String,
    /// Why it is stale.
    pub reason: String,
    /// It matched nothing (rather than expired or ambiguous): meaningful only when the
    /// scan covered everything the config governs.
    #[serde(skip)]
    pub unused: bool,
}

/// Counts and coverage of a scan: never a silent green.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Files scanned.
    pub files: u64,
    /// Bytes scanned.
    pub bytes: u64,
    /// Wall time, milliseconds.
    pub elapsed_ms: u64,
    /// Findings that count (not suppressed).
    pub findings: u64,
    /// Counting findings per severity (every severity present).
    pub by_severity: BTreeMap<Severity, u64>,
    /// Suppressed findings (inline, allowlist, baseline).
    pub suppressed: u64,
    /// Placeholder matches ignored.
    pub placeholders: u64,
    /// Files not scanned, with why.
    pub skipped: Vec<Skipped>,
    /// Errors among the skipped (unreadable files, loops).
    pub errors: u64,
    /// Allowlist entries that matched nothing, or expired.
    pub stale_allowlist: Vec<StaleEntry>,
    /// What ignore rules kept out of a tree scan, and what was scanned in spite of them.
    pub coverage: Coverage,
    /// Git history statistics, for history scans.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub git: Option<serde_json::Value>,
}

/// Everything a scan reports.
#[derive(Debug, Default)]
pub struct ScanReport {
    /// Findings, sorted by path, line, column.
    pub findings: Vec<Finding>,
    /// Placeholder matches (listed with `--show-placeholders`).
    pub placeholders: Vec<PlaceholderHit>,
    /// The summary.
    pub summary: Summary,
}

impl ScanReport {
    /// Records what the MASK API said of each key (by fingerprint; a key it was not asked
    /// about is `unknown`): a live key verified active becomes critical, and the summary's
    /// counts follow.
    pub fn apply_verification(&mut self, answers: &HashMap<Fingerprint, Verification>) {
        for f in &mut self.findings {
            let v = answers
                .get(&f.fingerprint)
                .copied()
                .unwrap_or(Verification::Unknown);
            f.verified = Some(v);
            if v == Verification::Active
                && f.environment == Environment::Live
                && f.severity != Severity::Critical
            {
                if f.is_active() {
                    if let Some(n) = self.summary.by_severity.get_mut(&f.severity) {
                        *n = n.saturating_sub(1);
                    }
                    *self
                        .summary
                        .by_severity
                        .entry(Severity::Critical)
                        .or_default() += 1;
                }
                f.severity = Severity::Critical;
            }
        }
    }

    /// The highest severity among findings that count.
    pub fn worst(&self) -> Option<Severity> {
        self.findings
            .iter()
            .filter(|f| f.is_active())
            .map(|f| f.severity)
            .max()
    }
}

/// Applies the allowlist (entries past their `until` date are not applied), adds
/// cross-environment findings, sorts, and counts.
pub fn finish(
    db: &RuleDb,
    walk: WalkResult,
    allow: &[AllowEntry],
    today: NaiveDate,
    elapsed_ms: u64,
) -> ScanReport {
    let WalkResult {
        mut findings,
        mut placeholders,
        files,
        bytes,
        mut skipped,
        coverage,
    } = walk;
    let ambiguous = ambiguous_prefixes(allow, &findings);
    let mut used = vec![0u64; allow.len()];
    for f in findings.iter_mut().filter(|f| f.suppressed.is_none()) {
        if let Some((i, a)) = allow
            .iter()
            .enumerate()
            .find(|(i, a)| !a.expired(today) && a.covers(f, &ambiguous[*i]))
        {
            used[i] += 1;
            f.suppressed = Some(Suppression {
                kind: "allowlist".into(),
                reason: a.reason.clone(),
            });
        }
    }
    let mut stale = Vec::new();
    for (a, amb) in allow.iter().zip(&ambiguous) {
        for p in amb {
            stale.push(StaleEntry {
                location: a.location.clone(),
                reason: format!(
                    "fingerprint prefix {p} matches more than one key, so it is not applied: write more of the fingerprint (see --format json)"
                ),
                unused: false,
            });
        }
    }
    for (a, n) in allow.iter().zip(&used) {
        if a.expired(today) {
            stale.push(StaleEntry {
                location: a.location.clone(),
                reason: format!(
                    "expired on {}: no longer applied; remove it or extend `until`",
                    a.until.map(|d| d.to_string()).unwrap_or_default()
                ),
                unused: false,
            });
        } else if *n == 0 {
            stale.push(StaleEntry {
                location: a.location.clone(),
                reason: "matched no finding: remove it".into(),
                unused: true,
            });
        }
    }
    findings.extend(cross_environment(db, &findings));
    findings.sort_by(|a, b| {
        (&a.path, a.line, a.column, &a.rule).cmp(&(&b.path, b.line, b.column, &b.rule))
    });
    placeholders.sort_by(|a, b| (&a.path, a.line, a.column).cmp(&(&b.path, b.line, b.column)));
    for s in &mut skipped {
        s.path = crate::redact::clean(&s.path);
    }
    skipped.sort_by(|a, b| a.path.cmp(&b.path));
    let mut by_severity: BTreeMap<Severity, u64> = Severity::ALL.iter().map(|s| (*s, 0)).collect();
    for f in findings.iter().filter(|f| f.is_active()) {
        *by_severity.entry(f.severity).or_default() += 1;
    }
    let summary = Summary {
        files,
        bytes,
        elapsed_ms,
        findings: findings.iter().filter(|f| f.is_active()).count() as u64,
        by_severity,
        suppressed: findings.iter().filter(|f| !f.is_active()).count() as u64,
        placeholders: placeholders.len() as u64,
        errors: skipped.iter().filter(|s| s.error).count() as u64,
        skipped,
        stale_allowlist: stale,
        coverage,
        git: None,
    };
    ScanReport {
        findings,
        placeholders,
        summary,
    }
}

/// For each allowlist entry, its fingerprint prefixes that match the fingerprints of
/// more than one distinct key among `findings` (at paths the entry covers).
fn ambiguous_prefixes(allow: &[AllowEntry], findings: &[Finding]) -> Vec<Vec<String>> {
    allow
        .iter()
        .map(|a| {
            a.fingerprints
                .iter()
                .filter(|p| p.len() < 64)
                .filter(|p| {
                    let mut keys = findings
                        .iter()
                        .filter(|f| a.path_matches(f) && f.fingerprint.as_str().starts_with(*p))
                        .map(|f| f.fingerprint.as_str());
                    keys.next()
                        .is_some_and(|first| keys.any(|other| other != first))
                })
                .cloned()
                .collect()
        })
        .collect()
}

/// One key in a production config and in a non-production config: a finding at each
/// non-production place, naming the production one.
fn cross_environment(db: &RuleDb, findings: &[Finding]) -> Vec<Finding> {
    let mut prod: HashMap<&str, &Finding> = HashMap::new();
    for f in findings
        .iter()
        .filter(|f| f.is_active() && f.context == Context::ProductionConfig)
    {
        prod.entry(f.fingerprint.as_str()).or_insert(f);
    }
    let ce = &db.cross_env;
    findings
        .iter()
        .filter(|f| f.is_active() && f.context == Context::NonprodConfig)
        .filter_map(|f| {
            let p = prod.get(f.fingerprint.as_str())?;
            let mut x = f.clone();
            x.rule = ce.id.clone();
            x.severity = ce.severity;
            x.fix = format!("{} (the same key is in {}:{})", ce.fix, p.path, p.line);
            Some(x)
        })
        .collect()
}
