//! Property tests of the policies over arbitrary keys, usage and clocks.

use super::config::AuditConfig;
use super::model::{Action, Kind};
use super::{AuditInput, audit, inactive, recommend, rotation, scope};
use crate::finding::Environment;
use crate::mask::{ApiKey, Inventory, KeyUsage, ScopeUsage};
use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;

const SCOPES: [&str; 6] = [
    "links:read",
    "links:write",
    "analytics:read",
    "qr-codes:read",
    "qr-codes:write",
    "workspace:read",
];

fn t(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap_or_default()
}

prop_compose! {
    fn arb_key()(
        live in any::<bool>(),
        created in -400i64 * 86400..400 * 86400,
        used in proptest::option::of(-400i64 * 86400..400 * 86400),
        held in proptest::sample::subsequence(SCOPES.to_vec(), 0..=SCOPES.len()),
        id in 0u32..5,
        last_four in "[a-z]{4}",
        revoked in any::<bool>(),
    ) -> ApiKey {
        ApiKey {
            id: format!("key_{id}"),
            name: "k".into(),
            environment: if live { Environment::Live } else { Environment::Test },
            prefix: String::new(),
            last_four,
            scopes: held.into_iter().map(str::to_string).collect(),
            created_at: t(created),
            created_by: None,
            last_used_at: used.map(t),
            last_used_ip: None,
            revoked_at: revoked.then(|| t(0)),
            expires_at: None,
        }
    }
}

fn arb_usage(k: &ApiKey) -> impl Strategy<Value = KeyUsage> + use<> {
    let id = k.id.clone();
    (
        -400i64 * 86400..400 * 86400,
        -400i64 * 86400..400 * 86400,
        proptest::collection::vec((proptest::sample::select(SCOPES.to_vec()), 0u64..3), 0..8),
    )
        .prop_map(move |(since, until, scopes)| KeyUsage {
            key_id: id.clone(),
            since: t(since),
            until: t(until),
            scopes: scopes
                .into_iter()
                .map(|(s, n)| ScopeUsage {
                    scope: s.into(),
                    requests: n,
                    last_used_at: None,
                })
                .collect(),
        })
}

proptest! {
    #[test]
    fn inactivity_only_grows_with_time(k in arb_key(), now in -400i64 * 86400..800 * 86400, later in 0i64..400 * 86400) {
        let cfg = AuditConfig::default();
        if inactive::check(&k, t(now), &cfg).is_some() {
            prop_assert!(inactive::check(&k, t(now + later), &cfg).is_some());
        }
    }

    #[test]
    fn rotation_verdict_matches_age(k in arb_key(), now in -400i64 * 86400..800 * 86400) {
        let cfg = AuditConfig::default();
        let age = t(now) - k.created_at;
        let kind = rotation::check(&k, t(now), &cfg).map(|f| f.kind);
        let expect = match k.environment {
            Environment::Test => None,
            Environment::Live if age >= Duration::days(90) => Some(Kind::RotationOverdue),
            Environment::Live if age >= Duration::days(76) => Some(Kind::RotationDueSoon),
            Environment::Live => None,
        };
        prop_assert_eq!(kind, expect);
    }

    #[test]
    fn scope_verdicts_need_a_full_window_and_narrow_to_used_scopes(
        (k, u) in arb_key().prop_flat_map(|k| { let u = arb_usage(&k); (Just(k), u) }),
        now in 0i64..800 * 86400,
    ) {
        let cfg = AuditConfig::default();
        let now = t(now);
        if let Some(f) = scope::check(&k, Some(&u), None, now, &cfg) {
            let start = u.since.max(k.created_at);
            let observed = u.until.min(now).max(start) - start;
            match f.kind {
                Kind::InsufficientData => prop_assert!(observed < Duration::days(90)),
                Kind::OverScoped => {
                    prop_assert!(observed >= Duration::days(90));
                    let narrow = scope::narrow_to(&f);
                    prop_assert!(!narrow.is_empty());
                    let used = |s: &str| u.scopes.iter().any(|x| x.scope == s && x.requests > 0);
                    for s in &narrow {
                        prop_assert!(used(s), "narrowed to unused {}", s);
                        let write = s.replace(":read", ":write");
                        prop_assert!(k.scopes.contains(s) || k.scopes.contains(&write));
                    }
                    prop_assert!(narrow.len() < k.scopes.len() || k.scopes.iter().any(|s| !narrow.contains(s)));
                }
                other => prop_assert!(false, "unexpected {other}"),
            }
        }
    }

    #[test]
    fn every_active_key_listed_once_and_recommendations_are_coherent(
        keys in proptest::collection::vec(arb_key(), 0..12),
        now in -400i64 * 86400..800 * 86400,
        include_revoked in any::<bool>(),
    ) {
        let inv = Inventory { data: keys.clone(), ..Inventory::default() };
        let cfg = AuditConfig::default();
        let r = audit(AuditInput { inventory: &inv, leaks: &[], now: t(now), config: &cfg, include_revoked, source: "inventory" });
        // A key listed twice is counted once (the first listing), with a warning.
        let mut ids = std::collections::HashSet::new();
        let unique: Vec<_> = keys.iter().filter(|k| ids.insert(k.id.clone())).collect();
        let expected = unique.iter().filter(|k| include_revoked || k.is_active()).count();
        prop_assert_eq!(unique.len() < keys.len(), r.warnings.iter().any(|w| w.contains("more than once (")));
        prop_assert_eq!(r.keys.len(), expected);
        prop_assert_eq!(r.summary.keys as usize, expected);
        for k in &r.keys {
            let rec = recommend::recommend(&k.findings);
            prop_assert_eq!(&rec, &k.recommendation);
            if rec.actions.contains(&Action::Revoke) {
                prop_assert_eq!(rec.actions.len(), 1);
            }
            prop_assert_eq!(rec.actions.contains(&Action::Narrow), !rec.narrow_to.is_empty());
            prop_assert!(k.findings.windows(2).all(|w| w[0].severity >= w[1].severity));
        }
        prop_assert!(r.keys.windows(2).all(|w| w[0].worst() >= w[1].worst()));
    }
}
