//! Key-hygiene audit: pure policies of (inventory, usage, scan findings, clock, config).
//!
//! - [`inactive`], [`rotation`], [`scope`] (over-scoped, insufficient-data), [`leaked`]:
//!   one file per policy, each a function of one key and the clock.
//! - [`exceptions`]: excepting a key from a policy with a reason and an end date.
//! - [`recommend`]: the recommendation model (revoke, rotate, narrow).
//! - [`model`]: the versioned report (`"version": 1`), reused by notifications.
//! - [`config`]: the `[audit]` section of the service config.
//!
//! Nothing here does I/O or reads the wall clock: [`audit`] takes `now`.

pub mod config;
pub mod exceptions;
pub mod inactive;
pub mod leaked;
pub mod model;
#[cfg(test)]
mod props;
pub mod recommend;
pub mod rotation;
pub mod sanity;
pub mod scope;
#[cfg(test)]
mod testkit;

pub use config::{AuditConfig, Exception};
pub use leaked::ScanHit;
pub use model::{Action, AuditFinding, AuditReport, KeyReport, Kind, Recommendation, Summary};

use crate::finding::{Environment, Severity};
use crate::mask::{ApiKey, Inventory};
use chrono::{DateTime, Utc};
use model::{KeyStatus, REPORT_VERSION, Thresholds};
use std::collections::HashMap;

/// `t + d`, saturating at chrono's range instead of panicking.
pub fn shift(t: DateTime<Utc>, d: chrono::Duration) -> DateTime<Utc> {
    t.checked_add_signed(d)
        .unwrap_or(if d < chrono::Duration::zero() {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
}

/// Everything one audit looks at.
#[derive(Clone, Copy, Debug)]
pub struct AuditInput<'a> {
    /// The workspace, its keys and their usage.
    pub inventory: &'a Inventory,
    /// Scan findings to correlate (`--findings`).
    pub leaks: &'a [ScanHit],
    /// The clock.
    pub now: DateTime<Utc>,
    /// Thresholds and exceptions.
    pub config: &'a AuditConfig,
    /// List revoked keys too (they get no findings).
    pub include_revoked: bool,
    /// `"api"` or `"inventory"`.
    pub source: &'a str,
}

/// Runs every policy on every key and builds the report.
pub fn audit(input: AuditInput<'_>) -> AuditReport {
    let AuditInput {
        inventory,
        leaks,
        now,
        config,
        include_revoked,
        source,
    } = input;
    let mut repaired = inventory.clone();
    let sanity_warnings = sanity::check(&mut repaired, now);
    let inventory = &repaired;
    let today = now.date_naive();
    let usage: HashMap<&str, &crate::mask::KeyUsage> = inventory
        .usage
        .iter()
        .map(|u| (u.key_id.as_str(), u))
        .collect();
    let mut suffixes: HashMap<(Environment, &str), usize> = HashMap::new();
    for k in inventory.data.iter().filter(|k| k.is_active()) {
        *suffixes
            .entry((k.environment, k.last_four.as_str()))
            .or_default() += 1;
    }
    let mut warnings = sanity_warnings;
    for e in &config.exceptions {
        if !inventory.data.iter().any(|k| k.id == e.key) {
            warnings.push(format!(
                "[audit] exception for key {:?} matches no key in the workspace (revoked or mistyped?)",
                e.key
            ));
        }
    }
    let mut keys: Vec<KeyReport> = inventory
        .data
        .iter()
        .filter(|k| include_revoked || k.is_active())
        .map(|k| {
            if !k.is_active() {
                return key_report(k, KeyStatus::Revoked, Vec::new(), Vec::new());
            }
            let same = suffixes
                .get(&(k.environment, k.last_four.as_str()))
                .copied()
                .unwrap_or(1);
            let mut findings: Vec<AuditFinding> = [
                leaked::check(k, leaks, same),
                inactive::check(k, now, config),
                rotation::check(k, now, config),
                scope::check(
                    k,
                    usage.get(k.id.as_str()).copied(),
                    inventory.usage_requested_since,
                    now,
                    config,
                ),
            ]
            .into_iter()
            .flatten()
            .collect();
            findings.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.kind.cmp(&b.kind)));
            let (kept, excepted) = exceptions::apply(&k.id, findings, &config.exceptions, today);
            key_report(k, KeyStatus::Active, kept, excepted)
        })
        .collect();
    keys.sort_by(|a, b| {
        b.worst()
            .cmp(&a.worst())
            .then(b.findings.len().cmp(&a.findings.len()))
            .then(a.name.cmp(&b.name))
            .then(a.id.cmp(&b.id))
    });
    let summary = summarize(&keys);
    AuditReport {
        version: REPORT_VERSION,
        source: source.to_string(),
        generated_at: now,
        workspace: inventory.workspace.clone(),
        thresholds: Thresholds {
            inactive_days: config.inactive_days,
            rotation_days: config.rotation_days,
            due_soon_days: config.due_soon_days,
            observation_days: config.observation_days,
            rotate_test_keys: config.rotate_test_keys,
        },
        warnings,
        keys,
        summary,
    }
}

fn key_report(
    k: &ApiKey,
    status: KeyStatus,
    findings: Vec<AuditFinding>,
    excepted: Vec<model::Excepted>,
) -> KeyReport {
    KeyReport {
        id: k.id.clone(),
        name: k.name.clone(),
        environment: k.environment,
        last_four: k.last_four.clone(),
        status,
        scopes: k.scopes.clone(),
        created_at: k.created_at,
        last_used_at: k.last_used_at,
        recommendation: recommend::recommend(&findings),
        findings,
        excepted,
    }
}

fn summarize(keys: &[KeyReport]) -> Summary {
    let mut s = Summary {
        by_kind: Kind::ALL.iter().map(|k| (*k, 0)).collect(),
        by_severity: Severity::ALL.iter().map(|k| (*k, 0)).collect(),
        actions: [Action::Revoke, Action::Rotate, Action::Narrow]
            .iter()
            .map(|a| (*a, 0))
            .collect(),
        ..Summary::default()
    };
    for k in keys {
        s.keys += 1;
        match k.status {
            KeyStatus::Active => s.active += 1,
            KeyStatus::Revoked => s.revoked += 1,
        }
        if !k.findings.is_empty() {
            s.keys_with_findings += 1;
        }
        for f in &k.findings {
            s.findings += 1;
            *s.by_kind.entry(f.kind).or_default() += 1;
            *s.by_severity.entry(f.severity).or_default() += 1;
            if f.expired_exception.is_some() {
                s.expired_exceptions += 1;
            }
        }
        s.excepted += k.excepted.len() as u64;
        for a in &k.recommendation.actions {
            *s.actions.entry(*a).or_default() += 1;
        }
    }
    s
}

/// The auditor practises least privilege: a warning when its own key (found in the
/// inventory by environment and last four) holds more than `workspace:read`.
pub fn auditor_key_warning(
    keys: &[ApiKey],
    environment: Environment,
    last_four: &str,
    redacted: &str,
) -> Option<String> {
    let mine: Vec<&ApiKey> = keys
        .iter()
        .filter(|k| k.is_active() && k.environment == environment && k.last_four == last_four)
        .collect();
    let [me] = mine.as_slice() else {
        return None; // not listed, or ambiguous: nothing certain to say
    };
    let extra: Vec<&str> = me
        .scopes
        .iter()
        .map(String::as_str)
        .filter(|s| *s != "workspace:read")
        .collect();
    (!extra.is_empty()).then(|| {
        format!(
            "the audit key {redacted} ({}, {}) holds more than workspace:read: {}; the auditor needs only workspace:read, so issue it a key with just that scope",
            me.name,
            me.id,
            extra.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::testkit::{at, key, usage};
    use super::*;
    use chrono::Duration;

    #[test]
    fn every_key_is_listed_revoked_only_on_request() {
        let now = at("2026-06-01T00:00:00Z");
        let fresh = {
            let mut k = key("live", &(now - Duration::days(10)).to_rfc3339());
            k.id = "key_fresh".into();
            k.last_used_at = Some(now);
            k
        };
        let mut revoked = key("live", "2024-01-01T00:00:00Z");
        revoked.id = "key_rev".into();
        revoked.revoked_at = Some(now - Duration::days(1));
        let inv = Inventory {
            usage: vec![usage(
                &fresh,
                now - Duration::days(90),
                now,
                &[("links:read", 1)],
            )],
            data: vec![fresh, revoked],
            ..Inventory::default()
        };
        let cfg = AuditConfig::default();
        let input = AuditInput {
            inventory: &inv,
            leaks: &[],
            now,
            config: &cfg,
            include_revoked: false,
            source: "inventory",
        };
        let r = audit(input);
        assert_eq!(r.keys.len(), 1);
        assert_eq!(r.keys[0].findings.len(), 1, "{:?}", r.keys[0].findings);
        assert_eq!(r.keys[0].findings[0].kind, Kind::InsufficientData);
        let r = audit(AuditInput {
            include_revoked: true,
            ..input
        });
        assert_eq!(r.keys.len(), 2);
        assert_eq!(r.summary.revoked, 1);
        let rev = r.keys.iter().find(|k| k.id == "key_rev").unwrap();
        assert!(rev.findings.is_empty());
    }

    #[test]
    fn auditor_warns_about_its_own_broad_key() {
        let mut k = key("live", "2026-01-01T00:00:00Z");
        k.last_four = "p7dc".into();
        k.scopes = vec!["workspace:read".into(), "links:write".into()];
        let w = auditor_key_warning(&[k.clone()], Environment::Live, "p7dc", "mk_live_4eC3…p7dc")
            .unwrap();
        assert!(
            w.contains("links:write") && w.contains("mk_live_4eC3…p7dc"),
            "{w}"
        );
        k.scopes = vec!["workspace:read".into()];
        assert!(auditor_key_warning(&[k], Environment::Live, "p7dc", "x").is_none());
    }
}
