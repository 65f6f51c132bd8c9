//! Checks the API's data before any policy judges it: what a broken or hostile server
//! could send that would otherwise pass silently and change a verdict. Each repair is a
//! warning in the report.
//!
//! - A key listed twice (the same id on two pages) is counted once.
//! - A `created_at` in the future (year 9999) would make the key younger than every
//!   threshold: its age is unknown, so it is judged as if created at the Unix epoch (it
//!   gets every age-based finding, and the warning says why).
//! - A scope listed twice on a key or in its usage is kept once, so comparing held and
//!   used scopes still works.

use crate::mask::Inventory;
use chrono::{DateTime, Utc};
use std::collections::HashSet;

/// How far in the future a timestamp may be before it is not clock skew.
const SKEW: chrono::Duration = chrono::Duration::days(1);

/// Repairs `inv` in place; returns one warning per repair.
pub fn check(inv: &mut Inventory, now: DateTime<Utc>) -> Vec<String> {
    let mut warnings = Vec::new();
    let mut ids = HashSet::new();
    let before = inv.data.len();
    let mut twice = Vec::new();
    inv.data.retain(|k| {
        let fresh = ids.insert(k.id.clone());
        if !fresh {
            twice.push(k.id.clone());
        }
        fresh
    });
    if inv.data.len() != before {
        twice.dedup();
        warnings.push(format!(
            "the API listed {} key(s) more than once ({}): each is counted once; the API's paging may be broken",
            before - inv.data.len(),
            twice.join(", ")
        ));
    }
    let limit = crate::audit::shift(now, SKEW);
    for k in &mut inv.data {
        if k.created_at > limit {
            warnings.push(format!(
                "key {} ({}): created_at {} is in the future; its age is unknown, so it is judged as if created at the Unix epoch",
                k.id,
                k.name,
                k.created_at.format("%Y-%m-%d")
            ));
            k.created_at = DateTime::<Utc>::UNIX_EPOCH;
        }
        if k.last_used_at.is_some_and(|t| t > limit) {
            warnings.push(format!(
                "key {} ({}): last_used_at is in the future; ignored",
                k.id, k.name
            ));
            k.last_used_at = None;
        }
        let n = k.scopes.len();
        let mut seen = HashSet::new();
        k.scopes.retain(|s| seen.insert(s.clone()));
        if k.scopes.len() != n {
            warnings.push(format!(
                "key {} ({}): the API listed a scope more than once; each is counted once",
                k.id, k.name
            ));
        }
    }
    for u in &mut inv.usage {
        let n = u.scopes.len();
        let mut seen = HashSet::new();
        u.scopes.retain(|s| seen.insert(s.scope.clone()));
        if u.scopes.len() != n {
            warnings.push(format!(
                "usage of key {}: a scope is listed more than once; the first is used",
                u.key_id
            ));
        }
    }
    warnings
}
