//! Trends across runs, from the tracked findings: per source (a scan target or
//! repository, a workspace's audit) how many findings were opened and resolved in a
//! window, how many are still open, and the median time to fix.

use super::Store;
use crate::error::Result;
use serde::Serialize;
use std::collections::BTreeMap;

/// The counts of one source (or of all of them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SourceTrend {
    /// `scan:<target>…`, `audit:<workspace>`, or `*` for the total.
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
    /// Per source, by name.
    pub sources: Vec<SourceTrend>,
}

impl Store {
    /// Findings opened and resolved since `since` (all time with `None`), open now, and
    /// the median time to fix, per source and in total. A finding that was resolved and
    /// came back counts from its return (the store keeps its latest episode).
    pub fn trends(&self, since: Option<i64>) -> Result<Trends> {
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
        let mut per: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
        for (source, ms) in &fixes {
            per.entry(source).or_default().push(*ms);
        }
        let n = |v: i64| v.max(0) as u64;
        let sources: Vec<SourceTrend> = counts
            .iter()
            .map(|(source, opened, resolved, open)| SourceTrend {
                source: source.clone(),
                opened: n(*opened),
                resolved: n(*resolved),
                open: n(*open),
                median_fix_ms: per.get_mut(source.as_str()).and_then(|v| median(v)),
            })
            .collect();
        let mut all: Vec<i64> = fixes.iter().map(|(_, ms)| *ms).collect();
        let total = SourceTrend {
            source: "*".into(),
            opened: sources.iter().map(|s| s.opened).sum(),
            resolved: sources.iter().map(|s| s.resolved).sum(),
            open: sources.iter().map(|s| s.open).sum(),
            median_fix_ms: median(&mut all),
        };
        Ok(Trends {
            since,
            total,
            sources,
        })
    }
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
