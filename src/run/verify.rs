//! `scan --verify`: asks the MASK API whether each found key is live. Orchestrated here,
//! above the scanner (which never touches the network), only ever to the configured base.

use crate::error::Result;
use crate::finding::Verification;
use crate::mask::{self, ClientBuilder};
use crate::scan::ScanReport;
use crate::secret::Fingerprint;
use futures_util::{StreamExt, stream};
use std::collections::HashMap;

/// Verifies every distinct found key once (at most 4 calls in flight, paced by the API's
/// rate-limit headers), sets `verified` on each finding, and makes an active live key
/// critical (the summary follows).
pub fn verify(report: &mut ScanReport, api_url: Option<&str>) -> Result<()> {
    let mut distinct: HashMap<Fingerprint, crate::secret::SecretKey> = HashMap::new();
    for f in &report.findings {
        if let Some(k) = &f.secret {
            distinct
                .entry(f.fingerprint.clone())
                .or_insert_with(|| k.clone());
        }
    }
    let Some(first) = distinct.values().next().cloned() else {
        return Ok(());
    };
    let client = ClientBuilder::new()
        .base_url(api_url.unwrap_or(mask::DEFAULT_BASE_URL))
        .max_retries(2)
        .build(first)?;
    let answers: HashMap<Fingerprint, Verification> = mask::block_on(
        stream::iter(distinct)
            .map(|(fp, key)| {
                let client = client.clone();
                async move { (fp, client.verify(&key).await) }
            })
            .buffer_unordered(4)
            .collect(),
    )?;
    report.apply_verification(&answers);
    Ok(())
}
