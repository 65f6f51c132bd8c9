//! One audit of one workspace: the key, the client (built here, once), the inventory
//! (the API or a file), the policies. `keywarden audit` and the daemon's workspace jobs
//! both come through [`audit`].

use crate::audit::{self, AuditInput, AuditReport, ScanHit};
use crate::error::{Error, Result};
use crate::finding::Environment;
use crate::mask::{self, AuditKeyOrigin, Client, ClientBuilder, Inventory};
use crate::secret::SecretKey;
use crate::settings::{AuditSettings, KeySource};

/// Loads the audit key from `source`.
pub fn load_key(source: &KeySource) -> Result<(SecretKey, AuditKeyOrigin)> {
    match source {
        KeySource::Configured { source, what } => {
            let secret = source.read(what)?;
            let origin = match (&source.env, &source.file, &source.credential) {
                (Some(v), _, _) => AuditKeyOrigin::Env(v.clone()),
                (_, Some(f), _) => AuditKeyOrigin::File(f.clone()),
                (_, _, Some(c)) => AuditKeyOrigin::Credential(c.into()),
                _ => AuditKeyOrigin::Env(what.clone()),
            };
            let key = mask::auth::parse_key(secret.expose().as_bytes(), &origin)?;
            Ok((key, origin))
        }
        KeySource::Lookup { file, env } => mask::load_audit_key(file.as_deref(), env),
    }
}

/// The API client for `s`: its base URL and concurrency, authenticated with `key`.
pub fn client(s: &AuditSettings, key: SecretKey) -> Result<Client> {
    ClientBuilder::new()
        .base_url(&s.api_url)
        .concurrency(s.concurrency)
        .build(key)
}

/// Fetches the inventory through the API; returns it with the warnings about the audit
/// key itself (its own scopes).
pub fn fetch_inventory(s: &AuditSettings) -> Result<(Inventory, Vec<String>)> {
    let (key, origin) = load_key(&s.key)?;
    tracing::info!("audit key {} from {origin}", key.redacted());
    let env = if key.prefix() == "mk_test_" {
        Environment::Test
    } else {
        Environment::Live
    };
    let (last_four, redacted) = (key.last_four(), key.redacted());
    let client = client(s, key)?;
    let window = chrono::Duration::days(s.config.observation_days.into());
    let since = audit::shift(s.now, -window);
    let inventory = mask::block_on(client.inventory(s.include_revoked, since, s.now))??;
    let warnings: Vec<String> =
        audit::auditor_key_warning(&inventory.data, env, &last_four, &redacted)
            .into_iter()
            .collect();
    for w in &warnings {
        tracing::warn!("{w}");
    }
    Ok((inventory, warnings))
}

/// Audits the workspace `s` names: its inventory from `s.inventory` or the API, the scan
/// findings of `s.findings` correlated, every policy applied. The report's warnings start
/// with those about the audit key.
pub fn audit(s: &AuditSettings) -> Result<AuditReport> {
    let (inventory, mut warnings, source) = match &s.inventory {
        Some(path) => (mask::load_inventory(path)?, Vec::new(), "inventory"),
        None => {
            let (inv, w) = fetch_inventory(s)?;
            (inv, w, "api")
        }
    };
    let leaks: Vec<ScanHit> = match &s.findings {
        Some(path) => {
            let text = crate::bounded::read_to_string(path).map_err(|e| Error::io(path, e))?;
            audit::leaked::parse_findings(path, &text)?
        }
        None => Vec::new(),
    };
    let mut report = audit::audit(AuditInput {
        inventory: &inventory,
        leaks: &leaks,
        now: s.now,
        config: &s.config,
        include_revoked: s.include_revoked,
        source,
    });
    warnings.append(&mut report.warnings);
    report.warnings = warnings;
    Ok(report)
}
