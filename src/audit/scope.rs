//! over-scoped and insufficient-data: least privilege from usage.
//!
//! A key observed for a full window (`observation_days`) that holds a scope with zero
//! requests is over-scoped; the recommendation narrows it to exactly the scopes it used.
//! A `:write` scope held where only the matching `:read` was exercised becomes "narrow to
//! :read". A key observed for less than the window (young, or usage clamped by the
//! API's retention) gets insufficient-data instead: never a scope verdict.

use super::config::AuditConfig;
use super::model::{AuditFinding, Kind};
use crate::finding::{Environment, Severity};
use crate::mask::{ApiKey, KeyUsage};
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

/// The scope verdict for `key`, given its usage (`None`: not fetched or not in the
/// inventory) and the start of the window that was asked for (to tell clamping).
pub fn check(
    key: &ApiKey,
    usage: Option<&KeyUsage>,
    requested_since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    cfg: &AuditConfig,
) -> Option<AuditFinding> {
    let window = Duration::days(cfg.observation_days.into());
    let Some(usage) = usage else {
        return Some(insufficient(
            "no usage data for this key: no scope verdict".into(),
            json!({"reason": "no-usage-data", "window_days": cfg.observation_days}),
        ));
    };
    let start = usage.since.max(key.created_at);
    let until = usage.until.min(now).max(start);
    let observed = until - start;
    if observed < window {
        // Clamped: the API covered less than was asked, and the key's age does not explain it.
        let wanted = requested_since.unwrap_or(super::shift(until, -window));
        let clamped = usage.since > super::shift(wanted.max(key.created_at), Duration::minutes(1));
        let reason = if start == key.created_at && !clamped {
            "young-key"
        } else {
            "usage-clamped"
        };
        return Some(insufficient(
            format!(
                "observed for {} of the {} days needed for a scope verdict ({})",
                observed.num_days(),
                cfg.observation_days,
                if reason == "young-key" {
                    "the key is younger than the window"
                } else {
                    "the API returned less usage history than the window"
                }
            ),
            json!({
                "reason": reason,
                "observed_since": start,
                "until": until,
                "observed_days": observed.num_days(),
                "window_days": cfg.observation_days,
                "usage_since": usage.since,
                "created_at": key.created_at,
            }),
        ));
    }
    let requests: BTreeMap<&str, u64> = usage
        .scopes
        .iter()
        .map(|s| (s.scope.as_str(), s.requests))
        .collect();
    let used = |s: &str| requests.get(s).copied().unwrap_or(0) > 0;
    if !key.scopes.iter().any(|s| used(s)) {
        return None; // no request at all: inactivity's verdict, not least privilege's
    }
    let held: BTreeSet<&str> = key.scopes.iter().map(String::as_str).collect();
    let unused: Vec<&str> = held.iter().copied().filter(|s| !used(s)).collect();
    if unused.is_empty() {
        return None;
    }
    let mut narrow_to: BTreeSet<String> = held
        .iter()
        .copied()
        .filter(|s| used(s))
        .map(str::to_string)
        .collect();
    let mut write_to_read = Vec::new();
    for s in &unused {
        if let Some(resource) = s.strip_suffix(":write") {
            let read = format!("{resource}:read");
            if used(&read) {
                write_to_read.push(json!({"held": s, "narrow_to": read}));
                narrow_to.insert(read);
            }
        }
    }
    let narrow_to: Vec<String> = narrow_to.into_iter().collect();
    let mut message = format!(
        "{} unused over {} days; it used only {}",
        unused.join(", "),
        cfg.observation_days,
        narrow_to.join(", ")
    );
    if !write_to_read.is_empty() {
        message.push_str(" (write held where only read was exercised: narrow to :read)");
    }
    Some(AuditFinding {
        kind: Kind::OverScoped,
        severity: match key.environment {
            Environment::Live => Severity::Medium,
            Environment::Test => Severity::Low,
        },
        message,
        evidence: json!({
            "window_days": cfg.observation_days,
            "observed_since": start,
            "until": until,
            "requests": requests,
            "unused_scopes": unused,
            "write_to_read": write_to_read,
            "narrow_to": narrow_to,
        }),
        expired_exception: None,
    })
}

fn insufficient(message: String, evidence: serde_json::Value) -> AuditFinding {
    AuditFinding {
        kind: Kind::InsufficientData,
        severity: Severity::Low,
        message,
        evidence,
        expired_exception: None,
    }
}

/// The scopes an over-scoped finding narrows to (from its evidence).
pub fn narrow_to(f: &AuditFinding) -> Vec<String> {
    f.evidence["narrow_to"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{at, key, usage};
    use super::*;

    fn cfg() -> AuditConfig {
        AuditConfig::default()
    }

    #[test]
    fn unused_scope_over_a_full_window_is_over_scoped() {
        let now = at("2026-06-01T00:00:00Z");
        let mut k = key("live", "2025-01-01T00:00:00Z");
        k.scopes = vec![
            "links:read".into(),
            "links:write".into(),
            "analytics:read".into(),
            "domains:write".into(),
        ];
        let u = usage(
            &k,
            now - Duration::days(90),
            now,
            &[
                ("links:read", 120),
                ("links:write", 0),
                ("analytics:read", 3),
                ("domains:write", 0),
            ],
        );
        let f = check(&k, Some(&u), Some(now - Duration::days(90)), now, &cfg()).unwrap();
        assert_eq!(f.kind, Kind::OverScoped);
        assert_eq!(narrow_to(&f), ["analytics:read", "links:read"]);
        assert_eq!(
            f.evidence["unused_scopes"],
            json!(["domains:write", "links:write"])
        );
        assert_eq!(f.evidence["write_to_read"][0]["held"], "links:write");
        assert!(f.message.contains("narrow to :read"), "{}", f.message);
    }

    #[test]
    fn write_held_read_exercised_without_holding_read() {
        let now = at("2026-06-01T00:00:00Z");
        let mut k = key("live", "2025-01-01T00:00:00Z");
        k.scopes = vec!["qr-codes:write".into(), "links:read".into()];
        let u = usage(
            &k,
            now - Duration::days(90),
            now,
            &[
                ("qr-codes:write", 0),
                ("qr-codes:read", 7),
                ("links:read", 1),
            ],
        );
        let f = check(&k, Some(&u), None, now, &cfg()).unwrap();
        assert_eq!(narrow_to(&f), ["links:read", "qr-codes:read"]);
    }

    #[test]
    fn every_scope_used_or_none_used_is_no_scope_verdict() {
        let now = at("2026-06-01T00:00:00Z");
        let mut k = key("live", "2025-01-01T00:00:00Z");
        k.scopes = vec!["links:read".into()];
        let u = usage(&k, now - Duration::days(90), now, &[("links:read", 5)]);
        assert!(check(&k, Some(&u), None, now, &cfg()).is_none());
        let u = usage(&k, now - Duration::days(90), now, &[("links:read", 0)]);
        assert!(check(&k, Some(&u), None, now, &cfg()).is_none());
    }

    #[test]
    fn young_key_gets_insufficient_data_at_89_days_and_a_verdict_at_90() {
        let now = at("2026-06-01T00:00:00Z");
        for (age, kind) in [
            (89, Kind::InsufficientData),
            (90, Kind::OverScoped),
            (91, Kind::OverScoped),
        ] {
            let mut k = key("live", &(now - Duration::days(age)).to_rfc3339());
            k.scopes = vec!["links:read".into(), "links:write".into()];
            let u = usage(
                &k,
                now - Duration::days(90),
                now,
                &[("links:read", 1), ("links:write", 0)],
            );
            let f = check(&k, Some(&u), Some(now - Duration::days(90)), now, &cfg()).unwrap();
            assert_eq!(f.kind, kind, "age {age}");
            if kind == Kind::InsufficientData {
                assert_eq!(f.evidence["reason"], "young-key");
                assert_eq!(f.evidence["observed_days"], 89);
            }
        }
    }

    #[test]
    fn clamped_usage_window_is_insufficient_data() {
        let now = at("2026-06-01T00:00:00Z");
        let cfg = AuditConfig {
            observation_days: 365,
            ..cfg()
        };
        let mut k = key("live", "2024-01-01T00:00:00Z");
        k.scopes = vec!["links:read".into(), "links:write".into()];
        // asked for 365 days, the API retains 180
        let u = usage(
            &k,
            now - Duration::days(180),
            now,
            &[("links:read", 9), ("links:write", 0)],
        );
        let f = check(&k, Some(&u), Some(now - Duration::days(365)), now, &cfg).unwrap();
        assert_eq!(f.kind, Kind::InsufficientData);
        assert_eq!(f.evidence["reason"], "usage-clamped");
        assert_eq!(f.evidence["observed_days"], 180);
    }

    #[test]
    fn missing_usage_is_insufficient_data() {
        let now = at("2026-06-01T00:00:00Z");
        let k = key("live", "2024-01-01T00:00:00Z");
        let f = check(&k, None, None, now, &cfg()).unwrap();
        assert_eq!(f.kind, Kind::InsufficientData);
        assert_eq!(f.evidence["reason"], "no-usage-data");
    }
}
