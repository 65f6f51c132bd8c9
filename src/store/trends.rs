//! Trends across runs, from the tracked findings: per source (a scan target or
//! repository, a workspace's audit) how many findings were opened and resolved in a
//! window, how many are still open, and the median time to fix; the same per group (a
//! job: a fleet target summing its repositories, a workspace) and in total.

use super::Store;
use crate::error::Result;
use serde::Serialize;
use std::collections::BTreeMap;

/// The counts of one source (or of all of them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SourceTrend {
    /// `scan:<target>…`, `audit:<workspace>`, a group's job name, or `*` for the total.
    pub source: String,
    /// Findings first seen in the window.
    pub opened: u64,
    /// Findings resolved in the window.
    pub resolved: u64,
    /// Findings open now.
    pub open: u64,
    /// Median time from first seen to resolved of the findings resolved in the window
    /// (milliseconds), if any was.
    pub median_fix_ms: Option<i64>,
}

/// Trends since a time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Trends {
    /// The window's start (Unix ms); `None`: since the state began.
    pub since: Option<i64>,
    /// Over every source.
    pub total: SourceTrend,
    /// Per group asked for (a job: `scan:<target>` sums its repositories
    /// `scan:<target>/<repository>`; `audit:<workspace>`), in the order asked.
    pub groups: Vec<SourceTrend>,
    /// Per source, by name.
    pub sources: Vec<SourceTrend>,
}

impl Store {
    /// Findings opened and resolved since `since` (all time with `None`), open now, and
    /// the median time to fix, per source, per group of `groups` (job names: a source
    /// belongs to the longest that is it or its `/`-prefix) and in total. A finding that was
    /// resolved and came back counts from its return (the store keeps its latest episode).
    pub fn trends(&self, since: Option<i64>, groups: &[String]) -> Result<Trends> {
        let from = since.unwrap_or(i64::MIN);
        let (counts, fixes) = self.run("computing trends", |ex| {
            let counts: Vec<(String, i64, i64, i64)> = ex.query(
                "SELECT source, \
                 COUNT(*) FILTER (WHERE first_seen >= ?1), \
                 COUNT(*) FILTER (WHERE resolved_at IS NOT NULL AND resolved_at >= ?1), \
                 COUNT(*) FILTER (WHERE resolved_at IS NULL) \
                 FROM tracked_findings GROUP BY source ORDER BY source",
                &[&from],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )?;
            let fixes: Vec<(String, i64)> = ex.query(
                "SELECT source, resolved_at - first_seen FROM tracked_findings \
                 WHERE resolved_at IS NOT NULL AND resolved_at >= ?1",
                &[&from],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            Ok((counts, fixes))
        })?;
        let group_of = |source: &str| -> Option<String> {
            groups
                .iter()
                .filter(|g| {
                    source == g.as_str()
                        || source
                            .strip_prefix(g.as_str())
                            .is_some_and(|r| r.starts_with('/'))
                })
                .max_by_key(|g| g.len())
                .cloned()
        };
        let mut by_group = aggregate(&counts, &fixes, group_of);
        let groups = groups
            .iter()
            .map(|g| {
                by_group.remove(g).unwrap_or_else(|| SourceTrend {
                    source: g.clone(),
                    ..SourceTrend::default()
                })
            })
            .collect();
        let sources = aggregate(&counts, &fixes, |s| Some(s.to_string()));
        let total = aggregate(&counts, &fixes, |_| Some("*".to_string()))
            .remove("*")
            .unwrap_or_else(|| SourceTrend {
                source: "*".into(),
                ..SourceTrend::default()
            });
        Ok(Trends {
            since,
            total,
            groups,
            sources: sources.into_values().collect(),
        })
    }
}

/// Per-source counts and fix times summed by `key` (sources without a key are left out),
/// each with the median of its fix times.
fn aggregate(
    counts: &[(String, i64, i64, i64)],
    fixes: &[(String, i64)],
    key: impl Fn(&str) -> Option<String>,
) -> BTreeMap<String, SourceTrend> {
    let n = |v: i64| v.max(0) as u64;
    let mut out: BTreeMap<String, SourceTrend> = BTreeMap::new();
    for (source, opened, resolved, open) in counts {
        let Some(k) = key(source) else { continue };
        let t = out.entry(k.clone()).or_insert_with(|| SourceTrend {
            source: k,
            ..SourceTrend::default()
        });
        t.opened += n(*opened);
        t.resolved += n(*resolved);
        t.open += n(*open);
    }
    let mut times: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (source, ms) in fixes {
        if let Some(k) = key(source) {
            times.entry(k).or_default().push(*ms);
        }
    }
    for (k, mut v) in times {
        if let Some(t) = out.get_mut(&k) {
            t.median_fix_ms = median(&mut v);
        }
    }
    out
}

/// The median (the mean of the middle two for an even count).
fn median(v: &mut [i64]) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        v[mid - 1] + (v[mid] - v[mid - 1]) / 2
    })
}
